"""The migrations build the schema the ORM expects, on SQLite and PostgreSQL; the audit log is append-only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from chartcode.cli.main import app
from chartcode.review.audit import record
from chartcode.store.db import current_revision, make_engine, upgrade
from chartcode.store.errors import AuditLogImmutableError, StoreError
from chartcode.store.models import AuditLog, Base
from tests.store.backends import Database, fresh_database


def test_migrated_schema_matches_the_models(database: Database) -> None:
    engine = database.engine()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == []
    assert current_revision(engine) == "0002"
    assert set(inspect(engine).get_table_names()) >= {t for t in Base.metadata.tables}
    upgrade(engine)  # a second upgrade is a no-op
    assert current_revision(engine) == "0002"
    engine.dispose()


def test_the_roles_table_lists_the_four_roles(session: Session) -> None:
    assert sorted(session.scalars(text("SELECT name FROM roles"))) == ["admin", "auditor", "coder", "manager"]


def test_an_empty_database_gets_the_schema(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path, migrate=False) as db:
        engine = db.engine()
        assert current_revision(engine) is None
        upgrade(engine)
        assert inspect(engine).has_table("audit_log")
        engine.dispose()


def test_the_orm_refuses_to_change_or_delete_audit_rows(session: Session) -> None:
    record(session, None, "test.write", "encounter", 1, None, {"status": "new"})
    session.commit()
    row = session.scalars(select(AuditLog)).one()
    row.action = "tampered"
    with pytest.raises(AuditLogImmutableError):
        session.commit()
    session.rollback()
    session.delete(session.scalars(select(AuditLog)).one())
    with pytest.raises(AuditLogImmutableError):
        session.commit()
    session.rollback()
    assert session.scalars(select(AuditLog.action)).all() == ["test.write"]


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET action = 'tampered'", "DELETE FROM audit_log"])
def test_the_database_trigger_refuses_raw_updates_and_deletes(session: Session, statement: str) -> None:
    """PostgreSQL (and SQLite) reject UPDATE/DELETE on audit_log even outside the ORM."""
    record(session, None, "test.write", "encounter", 7, None, {"at": datetime.now(UTC)})
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text(statement))
        session.commit()
    session.rollback()
    assert session.scalars(select(AuditLog.action)).all() == ["test.write"]


def test_db_upgrade_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", url, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"revision": "0002"' in result.output
    assert inspect(make_engine(url)).has_table("encounters")


def test_a_bad_database_url_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", "mysql://x@y/z"])
    assert result.exit_code == 1
    assert "CC600" in result.output and "not supported" in result.output
    with pytest.raises(StoreError, match="not a URL"):
        make_engine("no url here")


def test_an_unreachable_database_is_a_clear_error_without_the_password() -> None:
    engine = make_engine("postgresql+psycopg://clinic:s3cret-pw@127.0.0.1:1/chartcode")
    with pytest.raises(StoreError) as caught:
        upgrade(engine)
    message = str(caught.value)
    assert "cannot open or migrate the database at postgresql+psycopg://clinic:***@127.0.0.1:1" in message
    assert "s3cret-pw" not in message + caught.value.fix
    assert "server is running" in caught.value.fix
