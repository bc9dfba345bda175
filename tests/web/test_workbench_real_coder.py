"""The workbench over the real coder and the full knowledge base: the engine's evidence (a phrase and the
words inside it, spans of several codes overlapping) is highlighted exactly, in headless Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chartcode.codesets.kb import KnowledgeBase
from tests.web.conftest import Workbench, _seed, login, open_page, serving

pytestmark = pytest.mark.integration

NOTE = (
    "Synthetic follow-up visit.\n"
    "Type 2 diabetes mellitus with diabetic chronic kidney disease, CKD stage 3a.\n"
    "Essential hypertension, controlled on lisinopril. Congestive heart failure, stable.\n"
    "Denies chest pain."
)


def merged_text(text: str, spans: list[tuple[int, int]]) -> str:
    """The text under the union of the spans, in order (what the marks of one suggestion must show)."""
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return "".join(text[a:b] for a, b in out)


def test_real_coder_evidence_is_highlighted(browser: Any, full_kb: KnowledgeBase, tmp_path: Path) -> None:
    from chartcode.api.app import Settings, create_app

    db_url = f"sqlite:///{tmp_path / 'real.db'}"
    _seed(db_url, notes={})
    app = create_app(Settings(db_url=db_url, kb_path=Path(full_kb.path)))  # the real coder, built lazily
    with serving(app) as url:
        wb = Workbench(url, {})
        detail = wb.call(
            "POST",
            "/api/encounters",
            "coder",
            {
                "external_id": "REAL-1",
                "specialty": "family_medicine",
                "date_of_service": "2026-03-02",
                "documents": [{"text": NOTE}],
            },
        )
        with_evidence = [s for s in detail["suggestions"] if s["evidence"]]
        assert len(with_evidence) >= 2, detail["suggestions"]
        with open_page(browser) as page:
            login(page, wb, "coder")
            page.goto(f"{url}/#/encounter/{detail['id']}")
            page.locator("li.sug").first.wait_for()
            assert page.locator(".doc-text").inner_text() == NOTE
            exact = 0
            for sug in with_evidence:
                marks = page.locator(f'mark[data-suggestion-id="{sug["id"]}"]').all_inner_texts()
                spans = [(e["start"], e["end"]) for e in sug["evidence"]]
                assert "".join(marks) == merged_text(NOTE, spans), sug["code"]
                exact += any(m in {e["text"] for e in sug["evidence"]} for m in marks)
            # Most suggestions have a mark equal to one of their evidence texts (unless crossed by another).
            assert exact >= len(with_evidence) - 1
            # Selecting a code with j marks its evidence as selected.
            page.locator("#main").focus()
            page.keyboard.press("j")
            second = detail["suggestions"][1]
            assert page.locator('li.sug[aria-current="true"]').get_attribute("data-suggestion-id") == str(
                second["id"]
            )
            if second["evidence"]:
                assert page.locator("mark.sel").count() >= 1
