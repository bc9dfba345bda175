"""Shared fixtures for the claim-edit input, pack, API and CLI tests: a tiny knowledge base and a
stand-in rule engine (so these tests do not depend on the built-in rules)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from chartcode.codesets.install import install
from chartcode.codesets.kb import KnowledgeBase, open_kb
from chartcode.edits.model import Claim
from chartcode.edits.registry import Finding
from tests.codesets.sourcekit import make_source_dir

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def tiny_kb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("edits_kb")
    path = root / "kb.sqlite"
    install(str(make_source_dir(root / "mirror")), path)
    return path


@pytest.fixture(scope="session")
def tiny_kb(tiny_kb_path: Path) -> KnowledgeBase:
    return open_kb(tiny_kb_path)


class StubEngine:
    """``check_claim`` stand-in: an error when 99214 and 82947 are billed together, a warning per line
    with more than one unit. Records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []

    def check_claim(
        self, claim: Claim, kb: KnowledgeBase, *, setting: str = "practitioner", rules: Any = None
    ) -> list[Finding]:
        self.calls.append((claim.id, setting, kb))
        out: list[Finding] = []
        codes = [line.code for line in claim.lines]
        if "99214" in codes and "82947" in codes:
            lines = (codes.index("99214") + 1, codes.index("82947") + 1)
            out.append(
                Finding(
                    "STUB-PAIR", "error", lines, ("99214", "82947"), "pair [not markup]", "split", "stub §1"
                )
            )
        for n, line in enumerate(claim.lines, start=1):
            if line.units > 1:
                out.append(
                    Finding("STUB-UNITS", "warning", (n,), (line.code,), "many units", "check", "stub §2")
                )
        return out


@pytest.fixture
def stub_engine(monkeypatch: pytest.MonkeyPatch) -> StubEngine:
    engine = StubEngine()
    module = types.ModuleType("chartcode.edits.engine")
    module.check_claim = engine.check_claim  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chartcode.edits.engine", module)
    return engine
