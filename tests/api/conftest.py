"""An app per test (or per module) on a fresh SQLite or PostgreSQL database, with the fake keyword coder."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from chartcode.api.app import Settings, create_app
from chartcode.review import accounts, workflow
from chartcode.review.workflow import DocumentInput, EncounterInput
from chartcode.store.models import Encounter, User
from tests.assign.fake_coder import FakeCoder, fake_factory
from tests.store.backends import BACKENDS, Database, fast_password_hashing, fresh_database

with warnings.catch_warnings():
    # starlette 1.10 prefers the httpx2 fork for its test client and warns once on import with httpx
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`", UserWarning)
    from fastapi.testclient import TestClient

PASSWORD = "correct-horse-1"
ROLES = ("coder", "auditor", "manager", "admin")


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    database: Database
    users: dict[str, User] = field(default_factory=dict)

    def session(self) -> Session:
        return self.app.state.services.sessions()  # type: ignore[no-any-return]

    def user(self, name: str, role: str) -> User:
        if name not in self.users:
            with self.session() as db:
                self.users[name] = accounts.create_user(db, None, name, PASSWORD, role)
        return self.users[name]

    def headers(self, role: str, name: str | None = None) -> dict[str, str]:
        """A fresh session token for a user with ``role`` (created on first use)."""
        name = name or role
        self.user(name, role)
        r = self.client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def encounter(self, text: str = "diabetes and kidney", external_id: str | None = None) -> Encounter:
        with self.session() as db:
            enc, _ = workflow.intake(
                db,
                None,
                EncounterInput(documents=(DocumentInput(text),), external_id=external_id),
                FakeCoder(0),
            )
            return enc

    def coded(self, text: str = "diabetes") -> Encounter:
        coder = self.user("coder", "coder")
        with self.session() as db:
            enc, _ = workflow.intake(
                db, coder, EncounterInput(documents=(DocumentInput(text),)), FakeCoder(0)
            )
            for g in enc.suggestions:
                enc = workflow.decide(db, coder, enc.id, g.id, "accept", enc.version)
            return workflow.complete(db, coder, enc.id, enc.version)

    def detail(self, encounter_id: int) -> dict[str, Any]:
        r = self.client.get(f"/api/encounters/{encounter_id}", headers=self.headers("admin"))
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


@contextmanager
def open_api(kind: str, folder: Path, kb_path: Path | None = None) -> Iterator[Api]:
    with fresh_database(kind, folder, migrate=False) as database:
        settings = Settings(
            db_url=database.url,
            db_schema=database.schema,
            coder_factory=fake_factory,
            kb_path=kb_path or folder / "no-kb.sqlite",
            static_dir=None,
        )
        app = create_app(settings)
        with TestClient(app) as client:
            yield Api(app, client, database)
        app.state.services.engine.dispose()


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with open_api(request.param, tmp_path) as a:
        yield a


@pytest.fixture(params=BACKENDS, scope="module")
def shared_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with open_api(request.param, tmp_path_factory.mktemp("api")) as a:
        yield a


@pytest.fixture(scope="session", autouse=True)
def _fast_passwords() -> Iterator[None]:
    with fast_password_hashing():
        yield
