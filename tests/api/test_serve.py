"""``chartcode serve``: wiring, the demo's users and synthetic encounters, and the missing-KB error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from chartcode.cli.main import app
from chartcode.codesets.kb import KnowledgeBase
from chartcode.review import demo
from chartcode.store.db import make_engine, session_factory
from chartcode.store.models import Encounter, User
from tests.api.conftest import TestClient


def test_demo_without_a_knowledge_base_names_the_install_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--demo", "--kb", str(tmp_path / "missing.sqlite")])
    assert result.exit_code == 1
    assert "CC608" in result.output and "chartcode codesets install" in result.output


def test_the_demo_encounters_are_synthetic_and_complete() -> None:
    data = demo.demo_encounters()
    assert len(data) == 8 and len({e["external_id"] for e in data}) == 8
    assert all(e["documents"][0]["text"] and e["date_of_service"] for e in data)


def test_serve_demo_creates_users_and_codes_the_sample_encounters(
    tmp_path: Path, full_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda application, **kw: started.update(app=application, **kw))
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    args = ["serve", "--demo", "--db", url, "--kb", str(full_kb.path), "--port", "8123"]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (started["host"], started["port"], started["access_log"]) == ("127.0.0.1", 8123, False)
    printed = dict(
        line.split()[1::2] for line in result.output.splitlines() if line.strip().startswith("user ")
    )
    assert sorted(printed) == ["admin", "auditor", "coder", "manager"]
    assert "8 synthetic encounters loaded, 0 failed" in result.output
    engine = make_engine(url)
    with session_factory(engine)() as db:
        roles = {u.username: u.role for u in db.scalars(select(User))}
        assert roles == {"admin": "admin", "coder": "coder", "auditor": "auditor", "manager": "manager"}
        encounters = list(db.scalars(select(Encounter)))
        assert len(encounters) == 8
        for enc in encounters:
            text = enc.documents[0].text
            assert enc.suggestions, enc.external_id
            for s in enc.suggestions:
                for e in s.evidence:
                    assert text[e["start"] : e["end"]] == e["text"]
    # the printed password signs in
    with TestClient(started["app"]) as client:
        r = client.post("/api/auth/login", json={"username": "coder", "password": printed["coder"]})
        assert r.status_code == 200 and r.json()["user"]["role"] == "coder"
    # a second start on the same database keeps users and does not duplicate encounters
    again = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert again.exit_code == 0 and "password unchanged" in again.output
    with session_factory(engine)() as db:
        assert len(list(db.scalars(select(Encounter)))) == 8
    engine.dispose()
