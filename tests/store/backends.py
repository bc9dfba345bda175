"""Fresh databases for the store and API tests: SQLite files, and PostgreSQL schemas when configured.

PostgreSQL comes from ``CHARTCODE_TEST_PG_URL`` (e.g. postgresql+psycopg://chartcode:chartcode@localhost:5432/
chartcode_test); each database is a new schema, dropped afterwards. Without the variable the PostgreSQL
variants skip, unless ``CHARTCODE_REQUIRE_PG=1`` (CI), which makes them fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from chartcode.store.db import make_engine, upgrade

BACKENDS = ["sqlite", "postgresql"]


@dataclass(frozen=True)
class Database:
    kind: str
    url: str
    schema: str | None

    def engine(self) -> Engine:
        return make_engine(self.url, schema=self.schema)


def pg_url() -> str:
    url = os.environ.get("CHARTCODE_TEST_PG_URL")
    if not url:
        if os.environ.get("CHARTCODE_REQUIRE_PG") == "1":
            pytest.fail("CHARTCODE_REQUIRE_PG=1 but CHARTCODE_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL not configured (set CHARTCODE_TEST_PG_URL)")
    return url


@contextmanager
def fresh_database(kind: str, folder: Path, *, migrate: bool = True) -> Iterator[Database]:
    if kind == "sqlite":
        db = Database(kind, f"sqlite:///{folder / f'chartcode-{uuid.uuid4().hex[:8]}.db'}", None)
        if migrate:
            engine = db.engine()
            upgrade(engine)
            engine.dispose()
        yield db
        return
    url = pg_url()
    schema = f"cc_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        if os.environ.get("CHARTCODE_REQUIRE_PG") == "1":
            raise
        pytest.skip(f"PostgreSQL at CHARTCODE_TEST_PG_URL is not reachable ({type(exc).__name__})")
    db = Database(kind, url, schema)
    try:
        if migrate:
            engine = db.engine()
            upgrade(engine)
            engine.dispose()
        yield db
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def fast_password_hashing() -> Iterator[None]:
    """Cheap argon2 parameters for tests (the defaults cost ~0.4 s a hash on a busy machine)."""
    from argon2 import PasswordHasher

    from chartcode.review import accounts

    saved = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        accounts._hasher = saved
