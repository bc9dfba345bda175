"""The coder workbench end to end: the real app under uvicorn, driven in headless Chromium by Playwright.

Each test gets a fresh database with three synthetic encounters (coded by tests/web/fake_coder.py) and five
users. After each test the `page` fixture also checks that nothing reached the browser console and that no
note text (the PHI markers of the synthetic notes) appeared in a URL.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.web.conftest import Workbench, login, sign_out


def open_encounter(page: Any, workbench: Workbench, key: str) -> dict[str, Any]:
    """Open an encounter from the work queue (as a coder would) and return its detail from the API."""
    page.locator("table.queue tbody tr", has_text=key).get_by_role("link").click()
    page.wait_for_url(f"**/#/encounter/{workbench.ids[key]}")
    page.locator("li.sug").first.wait_for()
    return workbench.encounter(key)


def suggestion(detail: dict[str, Any], code: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [s for s in detail["suggestions"] if s["code"] == code]
    assert len(found) == 1, f"{code} is not suggested once: {detail['suggestions']}"
    return found[0]


def item(page: Any, sug: dict[str, Any]) -> Any:
    return page.locator(f'li.sug[data-suggestion-id="{sug["id"]}"]')


def test_login_highlight_accept_modify_then_both_in_the_audit_log(page: Any, workbench: Workbench) -> None:
    login(page, workbench, "coder")
    # A coder lands on the work queue; the nav offers no manager or auditor pages.
    assert page.locator("#nav a").all_inner_texts() == ["Work queue", "Queries", "Denials"]
    detail = open_encounter(page, workbench, "ENC-A")

    # Every evidence span is a <mark> for its suggestion whose text is the evidence text (the note has an
    # emoji before the evidence, so code-point offsets must be honoured).
    assert [s["code"] for s in detail["suggestions"]] == ["E11.9", "E11.22"]
    for sug in detail["suggestions"]:
        marks = page.locator(f'mark[data-suggestion-id="{sug["id"]}"]')
        assert marks.all_inner_texts() == [ev["text"] for ev in sug["evidence"]]
    assert page.locator("mark").all_inner_texts() == ["type 2 diabetes", "chronic kidney disease"]
    # The note itself is shown in full around the marks.
    assert page.locator(".doc-text").inner_text() == detail["documents"][0]["text"]

    # Hovering a code outlines its evidence; selecting it marks it as the selected one.
    e11_22 = suggestion(detail, "E11.22")
    item(page, e11_22).hover()
    assert page.locator(f'mark.hl[data-suggestion-id="{e11_22["id"]}"]').count() == 1
    item(page, e11_22).locator(".desc").click()
    assert item(page, e11_22).get_attribute("aria-current") == "true"
    assert page.locator("mark.sel").all_inner_texts() == ["chronic kidney disease"]

    # Accept E11.9.
    e11_9 = suggestion(detail, "E11.9")
    page.get_by_role("button", name="Accept E11.9").click()
    item(page, e11_9).locator(".badge", has_text="accepted").wait_for()

    # Modify E11.22: inline search, pick a result, lookup shown, reason required.
    page.get_by_role("button", name="Modify E11.22").click()
    dialog = page.locator("#decision-dialog")
    code_box = dialog.get_by_role("combobox", name="Replacement code")
    code_box.fill("type 1 diabetes")
    option = dialog.locator('[role="option"][data-code="E10.9"]')
    option.wait_for()
    option.click()
    assert code_box.input_value() == "E10.9"
    dialog.locator(".lookup", has_text="billable").wait_for()
    assert "Type 1 diabetes mellitus without complications" in dialog.locator(".lookup").inner_text()
    dialog.get_by_role("button", name="Save change").click()
    # Without a reason the dialog stays open and says so.
    assert dialog.get_by_role("alert").inner_text() == "A reason is required."
    assert dialog.is_visible()
    dialog.get_by_label("Reason (required)").fill("Provider documents type 1 diabetes elsewhere in the note")
    dialog.get_by_role("button", name="Save change").click()
    item(page, e11_22).locator(".badge", has_text="modified").wait_for()
    assert not dialog.is_visible()
    assert item(page, e11_22).locator(".final").inner_text() == "→ E10.9"

    # The server has both decisions.
    after = workbench.encounter("ENC-A")
    assert [(s["code"], s["status"], s["final_code"]) for s in after["suggestions"]] == [
        ("E11.9", "accepted", "E11.9"),
        ("E11.22", "modified", "E10.9"),
    ]
    assert suggestion(after, "E11.22")["reason"] == "Provider documents type 1 diabetes elsewhere in the note"

    # An auditor finds both actions in the audit log, filtered to this encounter.
    token = sign_out(page)
    # The server ended that session too.
    assert (
        httpx.get(f"{workbench.url}/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    login(page, workbench, "auditor")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Encounter id").fill(str(workbench.ids["ENC-A"]))
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(rf"#/audit\?encounter_id={workbench.ids['ENC-A']}$"))
    page.locator(".pager span", has_text="1–3 of 3").wait_for()  # the filtered answer has arrived
    rows = page.locator("table.audit tbody tr")
    actions = [rows.nth(i).locator("td.action").inner_text() for i in range(rows.count())]
    assert actions == ["suggestion.modify", "suggestion.accept", "encounter.create"]
    accept = rows.filter(has_text="suggestion.accept")
    modify = rows.filter(has_text="suggestion.modify")
    assert accept.locator("td").nth(1).inner_text() == "coder"
    assert modify.locator("td").nth(1).inner_text() == "coder"
    modify.locator("summary").click()
    assert '"final_code": "E10.9"' in modify.locator("pre").nth(1).inner_text()
    # Filtering by another user hides the coder's rows.
    page.get_by_label("User").fill("coder2")
    page.get_by_role("button", name="Filter").click()
    page.locator("table.audit tbody", has_text="No entries match.").wait_for()


def test_conflict_shows_a_banner_and_reload_recovers(page: Any, workbench: Workbench) -> None:
    login(page, workbench, "coder")
    detail = open_encounter(page, workbench, "ENC-A")
    e11_9, e11_22 = suggestion(detail, "E11.9"), suggestion(detail, "E11.22")
    # Another coder rejects E11.22 while this page still shows the old version.
    workbench.call(
        "POST",
        f"/api/encounters/{detail['id']}/decisions",
        "coder2",
        {
            "suggestion_id": e11_22["id"],
            "action": "reject",
            "reason": "not supported",
            "version": detail["version"],
        },
    )
    page.get_by_role("button", name="Accept E11.9").click()
    banner = page.locator("#banner")
    banner.wait_for()
    assert banner.get_attribute("role") == "alert"
    text = banner.inner_text()
    assert "changed by coder2" in text and "reload" in text.lower()
    # Nothing was applied on the server: E11.9 is still undecided.
    assert suggestion(workbench.encounter("ENC-A"), "E11.9")["status"] == "suggested"
    # Reload shows the other coder's change; applying ours again now works.
    banner.get_by_role("button", name="Reload encounter").click()
    banner.wait_for(state="hidden")
    item(page, e11_22).locator(".badge", has_text="rejected").wait_for()
    page.get_by_role("button", name="Accept E11.9").click()
    item(page, e11_9).locator(".badge", has_text="accepted").wait_for()
    final = workbench.encounter("ENC-A")
    assert [(s["code"], s["status"]) for s in final["suggestions"]] == [
        ("E11.9", "accepted"),
        ("E11.22", "rejected"),
    ]


def test_keyboard_shortcuts_drive_the_review_loop(page: Any, workbench: Workbench) -> None:
    login(page, workbench, "coder")
    # From the work queue, n opens its first encounter (oldest first: ENC-A).
    page.locator("table.queue tbody tr", has_text="ENC-A").wait_for()
    page.keyboard.press("n")
    page.wait_for_url(f"**/#/encounter/{workbench.ids['ENC-A']}")
    page.locator("li.sug").first.wait_for()
    detail = workbench.encounter("ENC-A")
    first, second = detail["suggestions"]
    page.locator("body").click(position={"x": 5, "y": 300})

    def selected() -> str | None:
        value: str | None = page.locator('li.sug[aria-current="true"]').get_attribute("data-suggestion-id")
        return value

    assert selected() == str(first["id"])
    page.keyboard.press("j")
    assert selected() == str(second["id"])
    assert page.locator("mark.sel").all_inner_texts() == [second["evidence"][0]["text"]]
    page.keyboard.press("k")
    assert selected() == str(first["id"])

    # a accepts the selected code.
    page.keyboard.press("a")
    item(page, first).locator(".badge", has_text="accepted").wait_for()

    # r rejects: a reason is required, Escape cancels, then it goes through.
    page.keyboard.press("j")
    page.keyboard.press("r")
    dialog = page.locator("#decision-dialog")
    dialog.get_by_label("Reason (required)").wait_for()
    assert dialog.get_by_label("Reason (required)").evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    assert dialog.get_by_role("alert").inner_text() == "A reason is required."
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert suggestion(workbench.encounter("ENC-A"), second["code"])["status"] == "suggested"
    page.keyboard.press("r")
    page.keyboard.type("Condition negated or ruled out")
    page.keyboard.press("Enter")
    item(page, second).locator(".badge", has_text="rejected").wait_for()

    # m opens modify with the code field focused.
    page.keyboard.press("m")
    assert dialog.get_by_role("combobox", name="Replacement code").evaluate(
        "el => el === document.activeElement"
    )
    page.keyboard.press("Escape")

    # / focuses code search, where typing does not trigger shortcuts.
    page.keyboard.press("/")
    search = page.get_by_role("combobox", name="Code search")
    assert search.evaluate("el => el === document.activeElement")
    page.keyboard.type("legal blindness")
    page.locator('#code-search-list [role="option"][data-code="H54.8"]').wait_for()
    assert page.locator('li.sug[aria-current="true"]').get_attribute("data-suggestion-id") == str(
        second["id"]
    )
    page.keyboard.press("Escape")
    page.locator("#main").focus()

    # ? shows the help; Escape closes it.
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    help_dialog.wait_for()
    assert "Next encounter in the queue" in help_dialog.inner_text()
    page.keyboard.press("Escape")
    help_dialog.wait_for(state="hidden")

    # n opens the next encounter of the queue (oldest first: ENC-A, ENC-B, ENC-C).
    page.keyboard.press("n")
    page.wait_for_url(f"**/#/encounter/{workbench.ids['ENC-B']}")
    page.locator("h1", has_text="ENC-B").wait_for()
    page.keyboard.press("n")
    page.wait_for_url(f"**/#/encounter/{workbench.ids['ENC-C']}")

    final = workbench.encounter("ENC-A")
    assert [(s["status"], s["reason"]) for s in final["suggestions"]] == [
        ("accepted", None),
        ("rejected", "Condition negated or ruled out"),
    ]


def test_queue_filters_sorting_and_paging(page: Any, workbench: Workbench) -> None:
    # 24 more encounters so the queue has two pages (25 per page).
    batch = [
        {
            "external_id": f"ENC-P{i:02d}",
            "specialty": "nephrology",
            "date_of_service": "2026-03-02",
            "documents": [{"text": f"Synthetic note {i}. Chronic kidney disease, stable."}],
        }
        for i in range(24)
    ]
    results = workbench.call("POST", "/api/encounters/batch", "coder", {"encounters": batch})["results"]
    assert all(r.get("id") for r in results)
    login(page, workbench, "coder")
    rows = page.locator("table.queue tbody tr")
    rows.first.wait_for()
    assert rows.count() == 25
    assert page.locator(".pager span").inner_text() == "1–25 of 27"
    # Oldest first by default: the seeded encounters lead.
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(3)] == ["ENC-A", "ENC-B", "ENC-C"]
    page.get_by_role("button", name="Next →").click()
    page.locator(".pager span", has_text="26–27 of 27").wait_for()
    assert rows.count() == 2
    page.get_by_role("button", name="← Previous").click()
    page.locator(".pager span", has_text="1–25 of 27").wait_for()

    # Lowest confidence first: ENC-B has the 0.41 suggestion.
    page.get_by_role("button", name=re.compile("Lowest confidence")).click()
    page.wait_for_url(re.compile(r"sort=confidence"))
    page.locator("table.queue tbody tr >> nth=0", has_text="ENC-B").wait_for()
    assert rows.first.locator("td").nth(6).inner_text() == "41%"

    # Filters: specialty and max confidence narrow the list to what the API returns for them.
    page.get_by_label("Specialty").fill("endocrinology")
    page.get_by_label("Maximum confidence").fill("0.7")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"specialty=endocrinology"))
    page.locator(".pager span", has_text="1–1 of 1").wait_for()
    assert rows.first.locator("td").first.inner_text() == "ENC-A"
    expected = workbench.call(
        "GET", "/api/encounters", "coder", specialty="endocrinology", max_confidence=0.7, sort="confidence"
    )
    assert [e["external_id"] for e in expected["items"]] == ["ENC-A"]

    # Status filter (a select applies at once).
    page.get_by_label("Specialty").fill("")
    page.get_by_label("Maximum confidence").fill("")
    page.get_by_label("Status").select_option("coded")
    page.locator("table.queue tbody", has_text="No encounters match these filters.").wait_for()


def test_query_drafting_and_tracking(page: Any, workbench: Workbench) -> None:
    login(page, workbench, "coder")
    detail = open_encounter(page, workbench, "ENC-B")
    blind = suggestion(detail, "H54.8")
    page.get_by_role("button", name="Draft a provider query about H54.8").click()
    box = page.get_by_label("New query to the provider")
    draft = box.input_value()
    assert "H54.8" in draft and '"Legal blindness"' in draft and "clarify" in draft
    page.get_by_role("button", name="Send query").click()
    query_item = page.locator("li.query")
    query_item.wait_for()
    assert query_item.locator(".badge").text_content() == "open"
    page.locator("h1 .badge", has_text="query").wait_for()
    queries = workbench.call("GET", "/api/queries", "coder", status="open")
    assert [(q["encounter_id"], q["suggestion_id"], q["question"]) for q in queries] == [
        (detail["id"], blind["id"], draft.strip())
    ]
    # Record the provider's answer.
    query_item.get_by_label("Answer from the provider").fill("Legal blindness confirmed, both eyes.")
    query_item.get_by_role("button", name="Mark answered").click()
    page.locator("li.query .badge", has_text="answered").wait_for()
    page.locator("h1 .badge", has_text="in review").wait_for()
    # The queries page lists it under answered.
    page.get_by_role("link", name="Queries").click()
    page.get_by_label("Query status").select_option("answered")
    page.locator("table tbody tr", has_text="Legal blindness confirmed").wait_for()


def _code_and_complete(workbench: Workbench, key: str, user: str = "coder") -> None:
    """Decide every suggestion of an encounter (accept all) and complete it, through the API."""
    detail = workbench.encounter(key, user)
    for sug in detail["suggestions"]:
        detail = workbench.call(
            "POST",
            f"/api/encounters/{detail['id']}/decisions",
            user,
            {"suggestion_id": sug["id"], "action": "accept", "version": detail["version"]},
        )
    workbench.call("POST", f"/api/encounters/{detail['id']}/complete", user, {"version": detail["version"]})


def test_auditor_samples_and_records_a_verdict(page: Any, workbench: Workbench) -> None:
    for key in ("ENC-A", "ENC-B", "ENC-C"):
        _code_and_complete(workbench, key)
    login(page, workbench, "auditor")
    nav = page.locator("#nav a").all_inner_texts()
    assert nav == ["Work queue", "Queries", "Denials", "Second review", "Audit log", "Dashboard"]
    page.get_by_role("heading", name="Second review", exact=True).wait_for()
    # 0% random share + threshold 0.5: only ENC-B (a 0.41 suggestion) is selected.
    page.get_by_label("Random share (%)").fill("0")
    page.get_by_label("Low-confidence threshold (0–1)").fill("0.5")
    page.get_by_role("button", name="Draw sample").click()
    page.get_by_text("1 encounter(s) sent to second review").wait_for()
    waiting = page.locator(
        "section", has=page.get_by_role("heading", name=re.compile("Waiting for a verdict"))
    )
    waiting.locator("tbody tr", has_text="ENC-B").wait_for()
    assert waiting.locator("tbody tr").count() == 1
    waiting.get_by_role("link", name="ENC-B").click()
    form = page.locator("form.audit-form")
    form.get_by_role("radio", name="Disagree").check()
    # Disagreeing starts from the coder's final codes.
    finals = workbench.encounter("ENC-B", "auditor")["final_codes"]
    assert form.get_by_label(re.compile("Corrected codes")).input_value() == ", ".join(finals)
    form.get_by_label(re.compile("Corrected codes")).fill("H54.8, E11.9, E11.22")
    form.get_by_label("Note").fill("CKD documented in the problem list")
    form.get_by_role("button", name="Record verdict").click()
    page.locator("h1 .badge", has_text="audited").wait_for()
    assert form.count() == 0
    audit = workbench.call("GET", "/api/audit", "auditor", encounter_id=workbench.ids["ENC-B"])
    verdict = [a for a in audit["items"] if a["action"] == "encounter.audit"]
    assert len(verdict) == 1 and verdict[0]["user"] == "auditor"
    assert verdict[0]["after"]["agree"] is False
    assert verdict[0]["after"]["corrected_codes"] == ["H54.8", "E11.9", "E11.22"]


def test_dashboard_tiles_and_charts(page: Any, workbench: Workbench) -> None:
    _code_and_complete(workbench, "ENC-A")
    _code_and_complete(workbench, "ENC-C")
    sample = workbench.call("POST", "/api/review/sample", "auditor", {"rate": 1, "low_confidence_below": 0})
    assert sorted(sample["selected"]) == sorted([workbench.ids["ENC-A"], workbench.ids["ENC-C"]])
    workbench.call("POST", f"/api/encounters/{workbench.ids['ENC-A']}/audit", "auditor", {"agree": True})
    workbench.call(
        "POST",
        f"/api/encounters/{workbench.ids['ENC-C']}/audit",
        "auditor",
        {"agree": False, "corrected_codes": ["E10.9"]},
    )
    kpis = workbench.call("GET", "/api/kpis", "manager")
    assert kpis["accuracy"] == 0.5 and kpis["coded"] == 2

    login(page, workbench, "manager")
    page.get_by_role("heading", name="Dashboard").wait_for()
    tiles = page.locator(".tiles")
    tiles.wait_for()
    assert tiles.get_by_role("group", name="Accuracy").locator(".tile-value").inner_text() == "50.0%"
    accuracy_tile = tiles.get_by_role("group", name="Accuracy")
    assert accuracy_tile.get_attribute("class") == "tile bad"  # below the 95% bar
    assert tiles.get_by_role("group", name="Coded").locator(".tile-value").inner_text() == "2"
    assert tiles.get_by_role("group", name="Accepted").locator(".tile-value").inner_text() == "100.0%"
    assert tiles.get_by_role("group", name="Denial rate").locator(".tile-value").inner_text() == "—"

    charts = page.locator("figure.chart")
    assert charts.count() == 6
    captions = charts.locator("figcaption").all_inner_texts()
    assert captions == [
        "Encounters coded per day",
        "Decisions per day",
        "Accuracy against audits (95% bar)",
        "Suggestion decisions",
        "Turnaround and throughput",
        "Claim edits and denials",
    ]
    # Coded per day: one bar per day with coded encounters, its height in proportion to the count.
    coded_days = [d for d in kpis["by_day"] if d["coded"]]
    coded_chart = charts.nth(0)
    assert coded_chart.locator("rect.bar").count() == len(coded_days) == 1
    assert (coded_chart.locator("rect.bar title").text_content() or "").endswith(
        f"coded: {coded_days[0]['coded']}"
    )
    # Decisions per day: 3 accepted on the day, as a stacked bar.
    decided = [d for d in kpis["by_day"] if d["accepted"]]
    assert sum(d["accepted"] for d in decided) == 3
    assert page.locator("figure.chart >> nth=1 >> rect.b-ok").count() == len(decided)
    # Accuracy bar against the 95% target line, and the aria-label states the numbers.
    accuracy_svg = charts.nth(2).locator("svg")
    assert accuracy_svg.locator("line.target").count() == 2
    assert "Encounters agreed 50.0% (target 95%)" in (accuracy_svg.get_attribute("aria-label") or "")
    bar = accuracy_svg.locator("rect.bar").first
    width = float(bar.get_attribute("width") or 0)
    left = float(bar.get_attribute("x") or 0)
    target_x = float(accuracy_svg.locator("line.target").first.get_attribute("x1") or 0)
    assert abs((width / (target_x - left)) - 0.5 / 0.95) < 1e-6
    # By-coder table.
    page.locator("table caption", has_text="By coder").wait_for()
    assert page.locator("table tbody tr", has_text="coder").count() == 1

    # A manager reads encounters but does not decide codes: no decision controls, and the keys say why.
    page.goto(f"{workbench.url}/#/encounter/{workbench.ids['ENC-B']}")
    page.locator("li.sug").first.wait_for()
    assert page.get_by_role("button", name=re.compile("^(Accept|Modify|Reject) ")).count() == 0
    assert page.get_by_role("button", name="Run claim check").count() == 0
    page.keyboard.press("a")
    page.get_by_role("status").filter(has_text="Your role (manager) cannot decide codes.").wait_for()
    assert workbench.encounter("ENC-B")["suggestions"][0]["status"] == "suggested"

    # A coder cannot open the dashboard.
    sign_out(page)
    login(page, workbench, "coder")
    page.goto(f"{workbench.url}/#/dashboard")
    page.get_by_role("alert").filter(has_text="Your role (coder) cannot open this page").wait_for()


def test_highlight_segments_handle_overlaps_and_astral_characters(page: Any, workbench: Workbench) -> None:
    """The pure highlighting logic (static/highlight.js), run as an ES module in the browser."""
    page.goto(f"{workbench.url}/")
    page.get_by_label("Username").wait_for()
    result = page.evaluate(
        """async () => {
          const m = await import('/highlight.js');
          const text = 'A \\u{1F642} chronic kidney disease';
          const cps = Array.from(text);
          return {
            // code points: the emoji counts 1 (Python), UTF-16 would count 2
            exact: m.locate(cps, {start: 4, end: 26, text: 'chronic kidney disease'}),
            utf16: m.locate(cps, {start: 5, end: 27, text: 'chronic kidney disease'}),
            nearest: m.locate(Array.from('kidney x kidney'), {start: 8, end: 99, text: 'kidney'}),
            missing: m.locate(cps, {start: 0, end: 3, text: 'liver'}),
            segs: m.segments(text, [{start: 4, end: 26, id: 'a'}, {start: 12, end: 18, id: 'b'}]),
            // a phrase and a word inside it (one suggestion), a crossing span, a span inside that one
            nested: m.nest([
              {start: 0, end: 10, id: 'a'}, {start: 2, end: 4, id: 'a'},
              {start: 5, end: 15, id: 'b'}, {start: 6, end: 8, id: 'c'},
            ]),
            spans: m.spansFor({id: 7, text}, false, [
              {id: 1, evidence: [{document_id: 7, start: 4, end: 11, text: 'chronic'}]},
              {id: 2, evidence: [{document_id: 8, start: 4, end: 11, text: 'chronic'}]},
              {id: 3, evidence: [{start: 4, end: 11, text: 'chronic'}]},
            ]),
          };
        }"""
    )
    assert result["exact"] == {"start": 4, "end": 26}
    assert result["utf16"] == {"start": 4, "end": 26}
    assert result["nearest"] == {"start": 9, "end": 15}
    assert result["missing"] is None
    assert [(s["text"], s["ids"]) for s in result["segs"]] == [
        ("A \U0001f642 ", []),
        ("chronic ", ["a"]),
        ("kidney", ["a", "b"]),
        (" disease", ["a"]),
    ]
    leaf = {"start": 6, "end": 8, "id": "c", "children": []}
    assert result["nested"] == [
        {
            "start": 0,
            "end": 10,
            "id": "a",
            "children": [{"start": 5, "end": 10, "id": "b", "children": [leaf]}],
        },
        {"start": 10, "end": 15, "id": "b", "children": []},
    ]
    # Evidence of another document, and document-less evidence in a non-first document, are not drawn.
    assert result["spans"] == [{"start": 4, "end": 11, "id": "1"}]


def test_admin_creates_a_user_who_can_then_sign_in(page: Any, workbench: Workbench) -> None:
    login(page, workbench, "admin")
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill("coder3")
    page.locator("#new-password").fill("coder3-pass-1234")
    page.get_by_label("Role").select_option("coder")
    page.get_by_role("button", name="Create").click()
    page.locator("table tbody tr", has_text="coder3").wait_for()
    # A too-short password is refused with the API's field message, shown in the page.
    page.get_by_label("Username").fill("coder4")
    page.locator("#new-password").fill("short")
    page.get_by_role("button", name="Create").click()
    assert "password" in page.get_by_role("alert").inner_text()
    sign_out(page)
    login(page, workbench, "coder3")
    assert page.locator("#whoami .who").inner_text().split() == ["coder3", "coder"]


def test_add_a_code_check_the_claim_and_complete(page: Any, workbench: Workbench) -> None:
    login(page, workbench, "coder")
    detail = open_encounter(page, workbench, "ENC-C")
    complete = page.get_by_role("button", name="Complete coding")
    assert complete.is_disabled()  # E11.9 is not decided yet
    page.get_by_role("button", name="Accept E11.9").click()
    page.locator("li.sug .badge", has_text="accepted").wait_for()
    assert complete.is_enabled()

    # Add a code the coder found: typed, looked up, with the (required) reason.
    page.get_by_role("button", name="Add a code").click()
    dialog = page.locator("#decision-dialog")
    dialog.get_by_role("combobox", name="Code").fill("H54.8")
    dialog.get_by_role("combobox", name="Code").press("Tab")
    dialog.locator(".lookup", has_text="Legal blindness, as defined in USA").wait_for()
    dialog.get_by_label("Reason (required)").fill("Documented in the eye exam section")
    dialog.get_by_role("button", name="Add code").click()
    added = page.locator("li.sug", has_text="H54.8")
    added.locator(".badge", has_text="added").wait_for()
    assert added.get_by_role("button", name="Accept H54.8").count() == 0  # an added code is not decided again

    # The claim check lists its findings with their fix and citation, as the API returned them.
    page.get_by_role("button", name="Run claim check").click()
    findings = page.locator("li.finding")
    findings.first.wait_for()
    stored = workbench.encounter("ENC-C")["findings"]
    assert findings.count() == len(stored) >= 1
    first = findings.first.inner_text()
    assert stored[0]["rule"] in first and stored[0]["message"] in first
    assert f"Fix: {stored[0]['fix']}" in first and f"Citation: {stored[0]['citation']}" in first

    complete.click()
    page.locator("h1 .badge", has_text="coded").wait_for()
    final = workbench.encounter("ENC-C")
    assert final["status"] == "coded" and final["final_codes"] == ["E11.9", "H54.8"]
    assert final["version"] > detail["version"]
    # Once coded, the decision controls are gone.
    assert page.get_by_role("button", name="Accept E11.9").count() == 0
    assert page.get_by_role("button", name="Add a code").count() == 0


UNNAMED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea, button, [role=combobox]')]
  .filter((el) => el.offsetParent !== null)
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
    && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map((el) => el.outerHTML)"""


@pytest.mark.parametrize(
    "route", ["#/queue", "#/queries", "#/review", "#/audit", "#/dashboard", "#/users", "#/encounter/{A}"]
)
def test_every_control_has_an_accessible_name(page: Any, workbench: Workbench, route: str) -> None:
    login(page, workbench, "admin")
    page.goto(f"{workbench.url}/{route.format(A=workbench.ids['ENC-A'])}")
    page.locator("main h1").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert page.evaluate(UNNAMED_CONTROLS) == []
    assert page.locator("main h1").count() == 1  # one page heading per page
