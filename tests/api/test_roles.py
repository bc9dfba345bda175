"""Every endpoint × every role: allowed roles get their answer, the others 403 naming the role needed,
and no token (or a bad one) gets 401."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from chartcode.codesets.kb import KnowledgeBase
from tests.api.conftest import ROLES, Api
from tests.api.remit835 import build_835, denial_payment

H = dict[str, str]


@dataclass(frozen=True)
class Endpoint:
    allowed: tuple[str, ...]
    call: Callable[[Api, H], httpx.Response]
    ok: int = 200
    needs_kb: bool = False


def _decide(a: Api, h: H) -> httpx.Response:
    enc = a.encounter()
    body = {"suggestion_id": enc.suggestions[0].id, "action": "accept", "version": enc.version}
    return a.client.post(f"/api/encounters/{enc.id}/decisions", json=body, headers=h)


def _complete(a: Api, h: H) -> httpx.Response:
    enc = a.encounter("nothing to code here")
    return a.client.post(f"/api/encounters/{enc.id}/complete", json={"version": enc.version}, headers=h)


def _patch_query(a: Api, h: H) -> httpx.Response:
    enc = a.encounter()
    r = a.client.post(
        f"/api/encounters/{enc.id}/queries", json={"question": "Type?"}, headers=a.headers("coder")
    )
    return a.client.patch(f"/api/queries/{r.json()['id']}", json={"status": "closed"}, headers=h)


def _post_remit(a: Api, h: H) -> httpx.Response:
    enc = a.coded()
    claim = {"id": f"ENC-{enc.id}", "date_of_service": "2026-01-05", "lines": [{"code": "99213"}]}
    text = build_835(denial_payment(claim, trace=f"TRC{uuid.uuid4().hex[:10]}"))
    return a.client.post("/api/remits", files={"file": ("era.835", text.encode())}, headers=h)


ANY = ROLES
WORK = ("coder", "admin")
ENDPOINTS: dict[str, Endpoint] = {
    "logout": Endpoint(ANY, lambda a, h: a.client.post("/api/auth/logout", headers=h)),
    "me": Endpoint(ANY, lambda a, h: a.client.get("/api/me", headers=h)),
    "tokens": Endpoint(ANY, lambda a, h: a.client.post("/api/tokens", json={"name": "t"}, headers=h), 201),
    "users list": Endpoint(("admin",), lambda a, h: a.client.get("/api/users", headers=h)),
    "users create": Endpoint(
        ("admin",),
        lambda a, h: a.client.post(
            "/api/users",
            json={"username": f"u{id(h)}", "password": "long-enough", "role": "coder"},
            headers=h,
        ),
        201,
    ),
    "encounters list": Endpoint(ANY, lambda a, h: a.client.get("/api/encounters", headers=h)),
    "encounters create": Endpoint(
        WORK,
        lambda a, h: a.client.post("/api/encounters", json={"documents": [{"text": "diabetes"}]}, headers=h),
        201,
    ),
    "encounters batch": Endpoint(
        WORK,
        lambda a, h: a.client.post(
            "/api/encounters/batch", json={"encounters": [{"documents": [{"text": "kidney"}]}]}, headers=h
        ),
    ),
    "encounter get": Endpoint(
        ANY, lambda a, h: a.client.get(f"/api/encounters/{a.encounter().id}", headers=h)
    ),
    "decisions": Endpoint(WORK, _decide),
    "codes add": Endpoint(
        WORK,
        lambda a, h: a.client.post(
            f"/api/encounters/{a.encounter().id}/codes",
            json={"code": "I10", "reason": "r", "version": 1},
            headers=h,
        ),
    ),
    "complete": Endpoint(WORK, _complete),
    "check": Endpoint(
        ("coder", "auditor", "admin"),
        lambda a, h: a.client.post(f"/api/encounters/{a.encounter().id}/check", headers=h),
        needs_kb=True,
    ),
    "claim export": Endpoint(
        ANY, lambda a, h: a.client.get(f"/api/encounters/{a.coded().id}/claim", headers=h)
    ),
    "queries create": Endpoint(
        WORK,
        lambda a, h: a.client.post(
            f"/api/encounters/{a.encounter().id}/queries", json={"question": "?"}, headers=h
        ),
        201,
    ),
    "queries list": Endpoint(ANY, lambda a, h: a.client.get("/api/queries?status=open", headers=h)),
    "queries patch": Endpoint(WORK, _patch_query),
    "review sample": Endpoint(
        ("auditor", "manager", "admin"),
        lambda a, h: a.client.post("/api/review/sample", json={"rate": 0.5, "seed": 1}, headers=h),
    ),
    "audit verdict": Endpoint(
        ("auditor", "admin"),
        lambda a, h: a.client.post(f"/api/encounters/{a.coded().id}/audit", json={"agree": True}, headers=h),
    ),
    "audit log": Endpoint(
        ("auditor", "manager", "admin"), lambda a, h: a.client.get("/api/audit", headers=h)
    ),
    "kpis": Endpoint(
        ("auditor", "manager", "admin"), lambda a, h: a.client.get("/api/kpis?from=2026-01-01", headers=h)
    ),
    "remits post": Endpoint(("auditor", "manager", "admin"), _post_remit, 201),
    "remits list": Endpoint(ANY, lambda a, h: a.client.get("/api/remits?coding_related=true", headers=h)),
    "codes search": Endpoint(
        ANY, lambda a, h: a.client.get("/api/codes/search?q=diabetes&limit=3", headers=h), needs_kb=True
    ),
    "code lookup": Endpoint(
        ANY, lambda a, h: a.client.get("/api/codes/E11.22?date=2026-03-02", headers=h), needs_kb=True
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_endpoint_role(shared_api: Api, name: str, role: str, request: pytest.FixtureRequest) -> None:
    endpoint = ENDPOINTS[name]
    if endpoint.needs_kb and role in endpoint.allowed:
        kb: KnowledgeBase = request.getfixturevalue("full_kb")
        shared_api.app.state.services.settings.kb_path = kb.path
    response = endpoint.call(shared_api, shared_api.headers(role))
    if role in endpoint.allowed:
        assert response.status_code == endpoint.ok, (name, role, response.text)
    else:
        assert response.status_code == 403, (name, role, response.text)
        detail = response.json()["detail"]
        assert f"you are signed in as {role}" in detail
        assert all(r in detail for r in endpoint.allowed)


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_endpoint_without_or_with_a_bad_token_is_401(shared_api: Api, name: str) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"}):
        response = ENDPOINTS[name].call(shared_api, headers)
        assert response.status_code == 401, (name, headers, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


def test_health_needs_no_token(shared_api: Api) -> None:
    r = shared_api.client.get("/api/health")
    assert r.status_code == 200 and r.json()["db"] == "ok"


def test_an_api_token_may_submit_encounters_whatever_its_users_role(shared_api: Api) -> None:
    """Other systems send documents with an API token; the same user's session may not."""
    h = shared_api.headers("manager", "feeder")
    token = shared_api.client.post("/api/tokens", json={"name": "ehr feed"}, headers=h).json()["token"]
    api_h = {"Authorization": f"Bearer {token}"}
    body = {"external_id": "feed-1", "documents": [{"text": "blindness"}]}
    assert shared_api.client.post("/api/encounters", json=body, headers=h).status_code == 403
    created = shared_api.client.post("/api/encounters", json=body, headers=api_h)
    assert created.status_code == 201 and created.json()["suggestions"][0]["code"] == "H54.8"
    assert shared_api.client.get("/api/users", headers=api_h).status_code == 403  # still the user's role
    assert shared_api.client.get("/api/me", headers=api_h).json()["username"] == "feeder"



PUBLIC = {("get", "/api/health"), ("post", "/api/auth/login")}


def test_every_route_but_health_and_login_needs_a_token_and_is_in_the_role_table(shared_api: Api) -> None:
    """A route added without the bearer dependency, or left out of ENDPOINTS (whose role behaviour the
    tests above check), fails here. Read from the OpenAPI document: it lists what each route depends on."""
    paths = shared_api.client.get("/openapi.json").json()["paths"]
    secured = set()
    for path, operations in paths.items():
        for method, operation in operations.items():
            key = (method, path)
            needs_token = {"HTTPBearer": []} in operation.get("security", [])
            assert needs_token != (key in PUBLIC), f"{method.upper()} {path}: token required is {needs_token}"
            if needs_token:
                assert "403" in operation["responses"], f"{method.upper()} {path} documents no 403"
                secured.add(key)
    assert len(secured) == len(ENDPOINTS), "add the new route to ENDPOINTS with the roles it admits"
