"""Endpoints: auth, field-level 422s, 409 conflicts, batches, audit rows, logs without PHI."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from chartcode.api.app import Settings, create_app
from chartcode.codesets.kb import KnowledgeBase
from chartcode.store.models import ApiToken, Session, User
from tests.api.conftest import PASSWORD, Api, TestClient
from tests.assign.fake_coder import fake_factory

MARKER = "ZEBRA-7731-PHI"


def test_login_me_logout(api: Api) -> None:
    api.user("ann", "coder")
    bad = api.client.post("/api/auth/login", json={"username": "ann", "password": "wrong"})
    assert bad.status_code == 401 and "wrong username or password" in bad.json()["detail"]
    nobody = api.client.post("/api/auth/login", json={"username": "nobody", "password": "x"})
    assert nobody.status_code == 401
    r = api.client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["user"] == {"id": api.users["ann"].id, "username": "ann", "role": "coder"}
    h = {"Authorization": f"Bearer {body['token']}"}
    assert api.client.get("/api/me", headers=h).json()["username"] == "ann"
    assert api.client.post("/api/auth/logout", headers=h).json() == {"ok": True}
    assert api.client.get("/api/me", headers=h).status_code == 401
    with api.session() as db:
        user = db.scalars(select(User).where(User.username == "ann")).one()
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        hashes = list(db.scalars(select(Session.token_hash)))
        assert body["token"] not in hashes and len(hashes[0]) == 64


def test_api_tokens_are_shown_once_and_stored_hashed(api: Api) -> None:
    h = api.headers("admin")
    r = api.client.post("/api/tokens", json={"name": "lab feed"}, headers=h)
    assert r.status_code == 201
    token = r.json()["token"]
    with api.session() as db:
        stored = db.scalars(select(ApiToken)).one()
        assert stored.name == "lab feed" and stored.token_hash != token and token not in stored.token_hash
    assert (
        api.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["username"] == "admin"
    )


def test_users_are_created_by_admins_with_unique_names(api: Api) -> None:
    h = api.headers("admin")
    r = api.client.post(
        "/api/users", json={"username": "cora", "password": "long-enough", "role": "auditor"}, headers=h
    )
    assert r.status_code == 201 and r.json()["role"] == "auditor"
    again = api.client.post(
        "/api/users", json={"username": "CORA", "password": "long-enough", "role": "coder"}, headers=h
    )
    assert again.status_code == 409 and "taken" in again.json()["detail"]
    assert [u["username"] for u in api.client.get("/api/users", headers=h).json()] == ["admin", "cora"]


def _loc(response: httpx.Response) -> list[tuple[Any, ...]]:
    assert response.status_code == 422, response.text
    return [tuple(e["loc"]) for e in response.json()["detail"]]


def test_field_level_422s(api: Api) -> None:
    h = api.headers("admin")
    post = api.client.post
    assert _loc(post("/api/encounters", json={}, headers=h)) == [("body", "documents")]
    assert ("body", "setting") in _loc(
        post("/api/encounters", json={"setting": "ward", "documents": [{"text": "x"}]}, headers=h)
    )
    assert _loc(
        post("/api/encounters", json={"patient": {"age": 200}, "documents": [{"text": "x"}]}, headers=h)
    ) == [("body", "patient", "age")]
    assert _loc(post("/api/encounters", json={"documents": [{"text": ""}]}, headers=h)) == [
        ("body", "documents", 0, "text")
    ]
    assert _loc(post("/api/encounters", json={"documents": [{"text": "a"}], "colour": 1}, headers=h)) == [
        ("body", "colour")
    ]
    assert _loc(post("/api/encounters/batch", json={"encounters": [{"documents": []}]}, headers=h)) == [
        ("body", "encounters", 0, "documents")
    ]
    enc = api.encounter()
    sid = enc.suggestions[0].id
    url = f"/api/encounters/{enc.id}/decisions"
    assert _loc(
        post(url, json={"suggestion_id": sid, "action": "modify", "reason": "r", "version": 1}, headers=h)
    ) == [("body", "code")]
    assert _loc(post(url, json={"suggestion_id": sid, "action": "reject", "version": 1}, headers=h)) == [
        ("body", "reason")
    ]
    assert _loc(post(url, json={"suggestion_id": sid, "action": "maybe", "version": 1}, headers=h)) == [
        ("body", "action")
    ]
    assert _loc(post("/api/review/sample", json={"rate": 2}, headers=h)) == [("body", "rate")]
    assert _loc(
        post("/api/users", json={"username": "x y", "password": "short", "role": "boss"}, headers=h)
    ) == [
        ("body", "username"),
        ("body", "password"),
        ("body", "role"),
    ]
    assert _loc(api.client.get("/api/encounters?limit=0&sort=size", headers=h)) == [
        ("query", "sort"),
        ("query", "limit"),
    ]
    assert _loc(api.client.get("/api/encounters/0", headers=h)) == [("path", "encounter_id")]
    assert _loc(api.client.patch("/api/queries/1", json={"status": "answered"}, headers=h)) == [
        ("body", "answer")
    ]
    assert _loc(api.client.get("/api/kpis?from=2026-02-30", headers=h)) == [("query", "from")]


def test_field_errors_do_not_echo_the_rejected_values(api: Api) -> None:
    """FastAPI echoes the rejected input by default; it can be note text, a name or a password."""
    h = api.headers("admin")
    bad = {
        "setting": MARKER,
        "patient": {"sex": MARKER, "age": MARKER},
        "documents": [{"text": MARKER, "kind": 7}],
    }
    r = api.client.post("/api/encounters", json=bad, headers=h)
    assert r.status_code == 422 and MARKER not in r.text
    assert {e["loc"][1] for e in r.json()["detail"]} >= {"setting", "patient"}
    assert all(set(e) == {"loc", "msg", "type"} for e in r.json()["detail"])
    r = api.client.post("/api/auth/login", json={"username": [MARKER], "password": {MARKER: 1}})
    assert r.status_code == 422 and MARKER not in r.text


def test_workflow_errors_are_422_in_the_same_shape_with_the_fix(api: Api) -> None:
    h = api.headers("coder")
    enc = api.encounter()
    r = api.client.post(f"/api/encounters/{enc.id}/complete", json={"version": enc.version}, headers=h)
    [error] = r.json()["detail"]
    assert (
        r.status_code == 422 and error["code"] == "CC603" and "not decided yet: E11.9, E11.22" in error["msg"]
    )
    assert error["fix"].startswith("accept, modify or reject")
    bad = api.client.post(
        f"/api/encounters/{enc.id}/codes", json={"code": "hello", "reason": "r", "version": 1}, headers=h
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["code"] == "CC607"
    assert api.client.get("/api/encounters/999999", headers=h).status_code == 404
    assert (
        api.client.post(
            f"/api/encounters/{enc.id}/decisions",
            json={"suggestion_id": 99999, "action": "accept", "version": 1},
            headers=h,
        ).status_code
        == 404
    )
    assert (
        api.client.get("/api/kpis?from=2026-03-02&to=2026-03-01", headers=api.headers("manager")).status_code
        == 422
    )


def test_two_coders_editing_one_encounter_get_a_409_and_lose_nothing(api: Api) -> None:
    ann, bob = api.headers("coder", "ann"), api.headers("coder", "bob")
    enc = api.encounter()
    seen_by_ann = api.client.get(f"/api/encounters/{enc.id}", headers=ann).json()
    seen_by_bob = api.client.get(f"/api/encounters/{enc.id}", headers=bob).json()
    first, second = (g["id"] for g in seen_by_ann["suggestions"])
    url = f"/api/encounters/{enc.id}/decisions"
    r = api.client.post(
        url, json={"suggestion_id": first, "action": "accept", "version": seen_by_ann["version"]}, headers=ann
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    late = {
        "suggestion_id": second,
        "action": "reject",
        "reason": "no support",
        "version": seen_by_bob["version"],
    }
    conflict = api.client.post(url, json=late, headers=bob)
    assert conflict.status_code == 409
    detail = conflict.json()["detail"]
    assert detail.startswith("This encounter was changed by ann at ")
    assert detail.endswith("after you opened it; reload to see their change and apply yours again.")
    reloaded = api.client.get(f"/api/encounters/{enc.id}", headers=bob).json()
    assert [g["status"] for g in reloaded["suggestions"]] == ["accepted", "suggested"]
    ok = api.client.post(url, json=late | {"version": reloaded["version"]}, headers=bob)
    assert ok.status_code == 200
    assert [g["status"] for g in ok.json()["suggestions"]] == ["accepted", "rejected"]


def test_simultaneous_writes_with_one_version_let_exactly_one_through(api: Api) -> None:
    heads = [api.headers("coder", "ann"), api.headers("coder", "bob")]
    enc = api.encounter()
    ids = [g.id for g in enc.suggestions]
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def write(k: int) -> None:
        barrier.wait()
        body = {"suggestion_id": ids[k], "action": "accept", "version": enc.version}
        codes.append(
            api.client.post(f"/api/encounters/{enc.id}/decisions", json=body, headers=heads[k]).status_code
        )

    threads = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409]
    final = api.detail(enc.id)
    assert final["version"] == 2 and sorted(g["status"] for g in final["suggestions"]) == [
        "accepted",
        "suggested",
    ]


def test_resubmitting_an_external_id_returns_the_stored_encounter(api: Api) -> None:
    h = api.headers("coder")
    body = {
        "external_id": "ext-9",
        "specialty": "cardiology",
        "setting": "inpatient",
        "date_of_service": "2026-03-02",
        "patient": {"age": 70, "sex": "F"},
        "documents": [{"text": "blindness", "kind": "discharge_summary"}],
    }
    first = api.client.post("/api/encounters", json=body, headers=h)
    assert first.status_code == 201
    data = first.json()
    assert (data["setting"], data["patient"], data["documents"][0]["kind"]) == (
        "inpatient",
        {"age": 70, "sex": "F"},
        "discharge_summary",
    )
    again = api.client.post("/api/encounters", json=body | {"documents": [{"text": "diabetes"}]}, headers=h)
    assert again.status_code == 200 and again.json()["id"] == data["id"]
    assert again.json()["suggestions"] == data["suggestions"]


def test_a_batch_reports_a_failing_item_and_resending_resumes(api: Api) -> None:
    h = api.headers("coder")
    items = [
        {"external_id": f"b{k}", "documents": [{"text": t}]}
        for k, t in enumerate(["diabetes", f"BOOM {MARKER}", "kidney"])
    ]
    r = api.client.post("/api/encounters/batch", json={"encounters": items}, headers=h)
    results = r.json()["results"]
    assert r.status_code == 200 and [x["index"] for x in results] == [0, 1, 2]
    assert results[0]["created"] and results[2]["created"] and results[1]["id"] is None
    assert results[1]["error"]["code"] == "CC610" and MARKER not in r.text
    items[1]["documents"] = [{"text": "blindness"}]
    again = api.client.post("/api/encounters/batch", json={"encounters": items}, headers=h).json()["results"]
    assert [x["id"] for x in again][::2] == [results[0]["id"], results[2]["id"]]
    assert [x["created"] for x in again] == [False, True, False]
    assert api.client.get("/api/encounters", headers=h).json()["total"] == 3


def test_the_queue_filters_sorts_and_pages(api: Api) -> None:
    h = api.headers("coder")
    a = api.encounter("diabetes")
    b = api.encounter("kidney and blindness")
    c = api.encounter("nothing")
    with api.session() as db:
        from chartcode.store.models import Encounter, Suggestion

        db.get(Suggestion, b.suggestions[1].id).confidence = 0.4  # type: ignore[union-attr]
        db.get(Encounter, a.id).specialty = "endocrinology"  # type: ignore[union-attr]
        db.commit()
    q = api.client.get
    assert [i["id"] for i in q("/api/encounters", headers=h).json()["items"]] == [a.id, b.id, c.id]
    assert [i["id"] for i in q("/api/encounters?sort=-age", headers=h).json()["items"]] == [c.id, b.id, a.id]
    assert [i["id"] for i in q("/api/encounters?sort=confidence", headers=h).json()["items"]] == [
        b.id,
        a.id,
        c.id,
    ]
    low = q("/api/encounters?max_confidence=0.5", headers=h).json()
    assert (
        low["total"] == 1
        and low["items"][0]["min_confidence"] == 0.4
        and low["items"][0]["n_suggestions"] == 2
    )
    assert [i["id"] for i in q("/api/encounters?specialty=endocrinology", headers=h).json()["items"]] == [
        a.id
    ]
    page = q("/api/encounters?limit=1&offset=1", headers=h).json()
    assert page["total"] == 3 and [i["id"] for i in page["items"]] == [b.id]
    assert q("/api/encounters?status=coded", headers=h).json() == {"items": [], "total": 0}


def test_every_write_adds_an_audit_row(api: Api) -> None:
    admin = api.headers("admin")
    coder = api.headers("coder")
    auditor = api.headers("auditor")

    def total() -> int:
        return int(api.client.get("/api/audit?limit=1", headers=admin).json()["total"])

    enc = api.client.post(
        "/api/encounters", json={"documents": [{"text": "diabetes, kidney, blindness"}]}, headers=coder
    ).json()
    dm, ckd, blind = (g["id"] for g in enc["suggestions"])
    eid = enc["id"]
    state = {"version": enc["version"], "query": 0}

    def decision(body: dict[str, Any]) -> httpx.Response:
        r = api.client.post(
            f"/api/encounters/{eid}/decisions", json=body | {"version": state["version"]}, headers=coder
        )
        state["version"] = r.json()["version"]
        return r

    def versioned(path: str, body: dict[str, Any]) -> httpx.Response:
        r = api.client.post(path, json=body | {"version": state["version"]}, headers=coder)
        state["version"] = r.json()["version"]
        return r

    def query() -> httpx.Response:
        r = api.client.post(
            f"/api/encounters/{eid}/queries",
            json={"question": "Which type?", "suggestion_id": dm},
            headers=coder,
        )
        state["query"] = r.json()["id"]
        return r

    def answer() -> httpx.Response:
        r = api.client.patch(
            f"/api/queries/{state['query']}", json={"status": "answered", "answer": "type 2"}, headers=coder
        )
        state["version"] = api.detail(eid)["version"]
        return r

    writes: list[tuple[str, Callable[[], httpx.Response]]] = [
        (
            "encounter.create",
            lambda: api.client.post("/api/encounters", json={"documents": [{"text": "x"}]}, headers=coder),
        ),
        ("query.create", query),
        ("query.update", answer),
        ("suggestion.accept", lambda: decision({"suggestion_id": dm, "action": "accept"})),
        (
            "suggestion.modify",
            lambda: decision(
                {"suggestion_id": ckd, "action": "modify", "code": "E11.21", "reason": "nephropathy"}
            ),
        ),
        ("suggestion.reject", lambda: decision({"suggestion_id": blind, "action": "reject", "reason": "no"})),
        (
            "suggestion.add",
            lambda: versioned(f"/api/encounters/{eid}/codes", {"code": "I10", "reason": "BP"}),
        ),
        ("encounter.complete", lambda: versioned(f"/api/encounters/{eid}/complete", {})),
        (
            "encounter.sample",
            lambda: api.client.post("/api/review/sample", json={"rate": 1}, headers=auditor),
        ),
        (
            "encounter.audit",
            lambda: api.client.post(
                f"/api/encounters/{eid}/audit",
                json={"agree": False, "corrected_codes": ["E11.22", "I10"]},
                headers=auditor,
            ),
        ),
        (
            "user.create",
            lambda: api.client.post(
                "/api/users",
                json={"username": "zed", "password": "long-enough", "role": "coder"},
                headers=admin,
            ),
        ),
        ("token.create", lambda: api.client.post("/api/tokens", json={"name": "n"}, headers=coder)),
        (
            "session.login",
            lambda: api.client.post("/api/auth/login", json={"username": "zed", "password": "long-enough"}),
        ),
        ("session.logout", lambda: api.client.post("/api/auth/logout", headers=api.headers("manager"))),
    ]
    for action, call in writes:
        before = total()
        response = call()
        assert response.status_code < 300, (action, response.text)
        rows = api.client.get("/api/audit?limit=5", headers=admin).json()["items"]
        assert total() > before and action in [r["action"] for r in rows], action
    trail = api.client.get(f"/api/audit?encounter_id={eid}&limit=100", headers=admin).json()
    mine = [r["action"] for r in reversed(trail["items"])]
    assert mine[:2] == ["encounter.create", "query.create"] and mine[-1] == "encounter.audit"
    modify = next(r for r in trail["items"] if r["action"] == "suggestion.modify")
    assert modify["user"] == "coder" and modify["before"]["status"] == "suggested"
    assert modify["after"]["final_code"] == "E11.21" and modify["entity"] == "suggestion"
    by_auditor = api.client.get("/api/audit?user=auditor", headers=admin).json()
    assert {r["action"] for r in by_auditor["items"]} == {
        "session.login",
        "encounter.sample",
        "encounter.audit",
    }
    kpi = api.client.get("/api/kpis", headers=api.headers("manager")).json()
    # coder: E11.9, E11.21, I10; auditor: E11.22, I10 -> 1 shared code of 4
    assert (kpi["audited"], kpi["accuracy"], kpi["code_accuracy"]) == (1, 0.0, 0.25)
    assert kpi["acceptance_rate"] == round(1 / 3, 4) and kpi["denial_rate"] is None


def test_logs_carry_no_note_text_and_no_patient_fields(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    h = api.headers("coder")
    caplog.set_level(logging.DEBUG)
    note = f"Patient {MARKER} has diabetes."
    r = api.client.post(
        "/api/encounters",
        json={"external_id": "phi-1", "patient": {"age": 93, "sex": "F"}, "documents": [{"text": note}]},
        headers=h,
    )
    assert r.status_code == 201 and MARKER in r.text  # returned to the signed-in user
    assert api.client.get(f"/api/encounters/{r.json()['id']}?x={MARKER}", headers=h).status_code == 200
    boom = api.client.post("/api/encounters", json={"documents": [{"text": f"BOOM {MARKER}"}]}, headers=h)
    assert boom.status_code == 500 and MARKER not in boom.text and boom.json()["code"] == "CC610"
    api.client.post(
        "/api/encounters/batch", json={"encounters": [{"documents": [{"text": f"BOOM {MARKER}"}]}]}, headers=h
    )
    ours = [rec for rec in caplog.records if rec.name.startswith("chartcode")]
    assert any("POST /api/encounters 201" in rec.getMessage() for rec in ours)
    for rec in caplog.records:
        if rec.name.startswith("httpx"):
            continue  # the test client's own request log (it prints the URL this test chose)
        text = rec.getMessage() + str(rec.exc_text or "")
        assert MARKER not in text and "93" not in text.split("ms")[0], text


def test_check_runs_the_scrubber_on_the_decided_codes(api: Api, full_kb: KnowledgeBase) -> None:
    api.app.state.services.settings.kb_path = full_kb.path
    h = api.headers("coder")
    enc = api.client.post(
        "/api/encounters",
        json={"date_of_service": "2026-03-02", "documents": [{"text": "diabetes"}]},
        headers=h,
    ).json()
    r = api.client.post(f"/api/encounters/{enc['id']}/check", headers=h)
    assert r.status_code == 200 and [f["rule"] for f in r.json()["findings"]] == ["CLAIM-NO-LINES"]
    version = api.client.post(
        f"/api/encounters/{enc['id']}/decisions",
        headers=h,
        json={"suggestion_id": enc["suggestions"][0]["id"], "action": "accept", "version": enc["version"]},
    ).json()["version"]
    api.client.post(
        f"/api/encounters/{enc['id']}/codes",
        json={"code": "99213", "reason": "visit", "version": version},
        headers=h,
    )
    findings = api.client.post(f"/api/encounters/{enc['id']}/check", headers=h).json()["findings"]
    assert "CLAIM-NO-LINES" not in {f["rule"] for f in findings}
    assert all(f["fix"] and f["citation"] for f in findings)
    stored = api.detail(enc["id"])["findings"]
    assert [f["rule"] for f in stored] == [f["rule"] for f in findings]
    exported = api.client.get(f"/api/encounters/{enc['id']}/claim", headers=h).json()
    assert exported["claim"]["diagnoses"] == ["E11.9"] and exported["checked_at"] is not None
    assert exported["claim"]["lines"] == [{"code": "99213", "modifiers": [], "units": 1, "dx_pointers": [1]}]
    assert [f["rule"] for f in exported["findings"]] == [f["rule"] for f in findings]


def test_code_lookup_and_search(api: Api, full_kb: KnowledgeBase) -> None:
    api.app.state.services.settings.kb_path = full_kb.path
    h = api.headers("coder")
    found = api.client.get("/api/codes/E11.22?date=2026-03-02", headers=h)
    assert found.status_code == 200 and found.json()["code"] == "E11.22" and found.json()["billable"] is True
    assert api.client.get("/api/codes/Q99.99", headers=h).status_code in (404, 422)
    hits = api.client.get("/api/codes/search?q=type 2 diabetes&limit=5", headers=h).json()
    assert 0 < len(hits) <= 5 and all(set(x) >= {"code", "description", "path"} for x in hits)
    assert any(x["code"].startswith("E11") for x in hits)


def test_without_a_knowledge_base_code_endpoints_answer_503(api: Api) -> None:
    h = api.headers("coder")
    r = api.client.get("/api/codes/search?q=diabetes", headers=h)
    assert r.status_code == 503 and r.json()["code"] == "CC110"
    assert api.client.get("/api/health").json()["status"] == "degraded"


def test_the_workbench_is_served_at_the_root(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>workbench</title>", encoding="utf-8")
    app = create_app(
        Settings(db_url=f"sqlite:///{tmp_path / 'w.db'}", coder_factory=fake_factory, static_dir=static)
    )
    with TestClient(app) as client:
        assert "workbench" in client.get("/").text
        assert client.get("/api/health").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "chartcode"
    app.state.services.engine.dispose()


def _exploding_factory(kb_path: Path | None = None) -> Any:
    raise RuntimeError(f"could not build the coder for {MARKER}")


def test_an_unexpected_error_is_a_plain_500_logged_by_type_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(
        Settings(db_url=f"sqlite:///{tmp_path / 'e.db'}", coder_factory=_exploding_factory, static_dir=None)
    )
    from chartcode.review import accounts

    with app.state.services.sessions() as db:
        accounts.create_user(db, None, "ann", PASSWORD, "coder")
    caplog.set_level(logging.DEBUG)
    with TestClient(app) as client:
        token = client.post("/api/auth/login", json={"username": "ann", "password": PASSWORD}).json()["token"]
        r = client.post(
            "/api/encounters/batch",
            json={"encounters": [{"documents": [{"text": "diabetes"}]}]},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 500 and r.json() == {"detail": "internal error", "code": "CC611", "fix": None}
    assert "unhandled RuntimeError on POST /api/encounters/batch" in caplog.text
    assert MARKER not in caplog.text
    app.state.services.engine.dispose()


def test_kpis_accept_the_widest_dates(api: Api) -> None:
    r = api.client.get("/api/kpis?from=0001-01-01&to=9999-12-31", headers=api.headers("manager"))
    assert r.status_code == 200 and r.json()["from"] == "0001-01-01" and r.json()["coded"] == 0
