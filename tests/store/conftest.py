from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from chartcode.store.db import session_factory
from tests.store.backends import BACKENDS, Database, fast_password_hashing, fresh_database


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    engine = database.engine()
    with session_factory(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _fast_passwords() -> Iterator[None]:
    with fast_password_hashing():
        yield
