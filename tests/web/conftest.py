"""Fixtures for the workbench's end-to-end tests: the real app under uvicorn and a headless Chromium.

The app runs in a background thread on a free port with a fresh SQLite database, the fixture knowledge base
(tests/codesets/fixtures, for code search and lookup) and a deterministic fake coder. Users and encounters
are seeded through the store's own workflow functions before the server starts.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from chartcode.codesets.install import install
from tests.codesets.sourcekit import make_source_dir
from tests.web.fake_coder import WebFakeCoder, web_fake_factory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What no console message, URL or request line may ever contain (the synthetic notes carry them).
PHI_MARKERS = ("Quarrington", "PHI-7731", "metformin")
USERS = {
    "coder": "coder",
    "coder2": "coder",
    "auditor": "auditor",
    "manager": "manager",
    "admin": "admin",
}
DOS = date(2026, 3, 2)

NOTES = {
    # external id -> (specialty, text); created in this order, so ENC-A is the oldest
    "ENC-A": (
        "endocrinology",
        "Synthetic progress note. Patient: Zelda Quarrington (marker PHI-7731).\n"
        "Mood \U0001f642 good today.\n"
        "Assessment: type 2 diabetes, controlled on metformin.\n"
        "Labs confirm chronic kidney disease stage 3a.\n"
        "Plan: recheck A1c in three months.",
    ),
    "ENC-B": (
        "ophthalmology",
        "Synthetic consult. Legal blindness in both eyes after remote trauma.\n"
        "History list includes type 2 diabetes.",
    ),
    "ENC-C": ("endocrinology", "Synthetic note. Type 2 diabetes follow-up; no complications documented."),
}


def password(username: str) -> str:
    return f"{username}-pass-1234"


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CHARTCODE_REQUIRE_BROWSER") == "1":
            pytest.fail(
                f"{CHROMIUM} is missing and CHARTCODE_REQUIRE_BROWSER=1: install Debian's chromium package"
            )
        pytest.skip(f"{CHROMIUM} is not installed (set CHARTCODE_REQUIRE_BROWSER=1 to fail instead)")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def web_kb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web_kb")
    path = root / "kb.sqlite"
    install(str(make_source_dir(root / "mirror")), path)
    return path


@dataclass
class Workbench:
    """The running app: its URL, the seeded encounters' ids and an HTTP client for arranging and checking."""

    url: str
    ids: dict[str, int]
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = httpx.post(
                f"{self.url}/api/auth/login", json={"username": username, "password": password(username)}
            )
            r.raise_for_status()
            self.tokens[username] = r.json()["token"]
        return self.tokens[username]

    def call(self, method: str, path: str, user: str, json: Any = None, **params: Any) -> Any:
        r = httpx.request(
            method,
            f"{self.url}{path}",
            json=json,
            params=params or None,
            headers={"Authorization": f"Bearer {self.token(user)}"},
            timeout=180,  # the first coding request builds the real coder
        )
        assert r.status_code < 400, f"{method} {path} -> {r.status_code}: {r.text}"
        return r.json()

    def encounter(self, key: str, user: str = "coder") -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", f"/api/encounters/{self.ids[key]}", user)
        return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _seed(db_url: str, notes: dict[str, tuple[str, str]] = NOTES) -> dict[str, int]:
    from chartcode.review import accounts, workflow
    from chartcode.store import db as store_db

    engine = store_db.make_engine(db_url)
    store_db.upgrade(engine)
    sessions = store_db.session_factory(engine)
    ids: dict[str, int] = {}
    with sessions() as session:
        for name, role in USERS.items():
            accounts.create_user(session, None, name, password(name), role)
        coder = WebFakeCoder()
        for external_id, (specialty, text) in notes.items():
            item = workflow.EncounterInput(
                documents=(workflow.DocumentInput(text),),
                external_id=external_id,
                specialty=specialty,
                date_of_service=DOS,
                patient_age=58,
                patient_sex="F",
            )
            enc, _ = workflow.intake(session, None, item, coder)
            ids[external_id] = enc.id
    engine.dispose()
    return ids


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a background thread on a free port; yields its base URL."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="workbench-uvicorn", daemon=True)
    thread.start()
    for _ in range(800):  # wait for the socket (not a timing assertion: fails only if it never starts)
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.025)
    assert server.started, "uvicorn did not start"
    url = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(f"{url}/api/health").status_code == 200
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def workbench(tmp_path: Path, web_kb_path: Path) -> Iterator[Workbench]:
    """A fresh app per test: new database, the three seeded encounters, five users."""
    from chartcode.api.app import Settings, create_app

    db_url = f"sqlite:///{tmp_path / 'workbench.db'}"
    ids = _seed(db_url)
    app = create_app(Settings(db_url=db_url, kb_path=web_kb_path, coder_factory=web_fake_factory))
    with serving(app) as url:
        yield Workbench(url, ids)


@dataclass
class Watch:
    """Everything the page leaked to places PHI must never go: console, page errors, request URLs."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def assert_no_phi(self, extra: tuple[str, ...] = ()) -> None:
        for marker in (*PHI_MARKERS, *extra):
            for where, lines in (("console", self.console), ("page error", self.errors), ("URL", self.urls)):
                leaked = [line for line in lines if marker.lower() in line.lower()]
                assert not leaked, f"{marker!r} appeared in a {where}: {leaked}"


@contextmanager
def open_page(browser: Any) -> Iterator[Any]:
    """A 1280×800 page that records its console, page errors and URLs, checked when it closes: the app
    writes nothing to the console (Chromium's own network lines for 4xx answers, e.g. the 409 of a
    conflict, are not the app's), raises no uncaught error, and no PHI reaches a console line or a URL."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    watch = Watch()
    pg.on("console", lambda msg: watch.console.append(f"{msg.type}: {msg.text}"))
    pg.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    pg.on("request", lambda req: watch.urls.append(req.url))
    pg.on("framenavigated", lambda frame: watch.urls.append(frame.url))
    pg.watch = watch
    try:
        yield pg
    finally:
        context.close()
    assert not watch.errors, watch.errors
    app_lines = [
        line for line in watch.console if "Failed to load resource: the server responded" not in line
    ]
    assert not app_lines, app_lines
    watch.assert_no_phi()


@pytest.fixture
def page(browser: Any, workbench: Workbench) -> Iterator[Any]:
    """A page for the `workbench` app (requested after it, so it closes before the server stops)."""
    with open_page(browser) as pg:
        yield pg


def login(page: Any, workbench: Workbench, username: str) -> None:
    page.goto(f"{workbench.url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password(username))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def sign_out(page: Any) -> str | None:
    """Sign out through the UI; returns the session token the page held (now revoked by the server)."""
    token: str | None = page.evaluate("sessionStorage.getItem('chartcode.token')")
    with page.expect_response(lambda r: r.url.endswith("/api/auth/logout")) as answer:
        page.get_by_role("button", name="Sign out").click()
    assert answer.value.status == 200
    page.get_by_label("Username").wait_for()
    assert page.evaluate("sessionStorage.getItem('chartcode.token')") is None
    return token
