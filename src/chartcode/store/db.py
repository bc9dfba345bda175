"""Engines, sessions and migrations.

``sqlite:///<user data dir>/chartcode.db`` by default; ``postgresql+psycopg://user:pw@host/db`` for
PostgreSQL. :func:`upgrade` applies the Alembic migrations shipped in this package (no alembic.ini).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from chartcode.store.errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def default_url() -> str:
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("chartcode"))
    return f"sqlite:///{folder / 'chartcode.db'}"


def make_engine(url: str | None = None, *, schema: str | None = None) -> Engine:
    """An engine for ``url`` (default: the SQLite file in the user data folder).

    ``schema`` (PostgreSQL only) puts every table in that schema via the search path (tests use a fresh one).
    """
    url = url or default_url()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"database URL {url.split('@')[-1]!r} is not a URL.",
            "use sqlite:///path/to/chartcode.db or postgresql+psycopg://user:password@host/dbname.",
        ) from None
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif parsed.get_backend_name() == "postgresql":
        if schema:
            kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
        kwargs["pool_pre_ping"] = True
    else:
        raise StoreError(
            f"database backend {parsed.get_backend_name()!r} is not supported.",
            "use sqlite:///… or postgresql+psycopg://….",
        )
    try:
        engine = create_engine(parsed, **kwargs)
    except ModuleNotFoundError as exc:
        raise StoreError(
            f"the database driver {exc.name!r} is not installed.",
            "pip install 'chartcode[postgres]' for PostgreSQL.",
        ) from None
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the packaged migrations up to ``revision`` (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except OperationalError as exc:
        raise StoreError(
            f"cannot open or migrate the database at {display_url(engine)} ({type(exc.orig).__name__}).",
            "check that the server is running and the URL, user and password are right.",
        ) from None


def current_revision(engine: Engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def has_schema(engine: Engine) -> bool:
    return inspect(engine).has_table("encounters")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def display_url(engine: Engine) -> str:
    """The URL without its password, for messages."""
    return engine.url.render_as_string(hide_password=True)
