"""End to end: a manager posts an 835 built for a seeded encounter's exported claim; the encounter view
shows the remittance and the Denials page lists the coding denial with a link back to the encounter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.api.remit835 import build_835, denial_payment
from tests.web.conftest import Workbench, login


def _billed(workbench: Workbench, key: str) -> dict[str, Any]:
    """Accept the seeded encounter's suggestions and add two procedure codes; return its exported claim."""
    eid = workbench.ids[key]
    e = workbench.encounter(key)
    for s in e["suggestions"]:
        body = {"suggestion_id": s["id"], "action": "accept", "version": e["version"]}
        e = workbench.call("POST", f"/api/encounters/{eid}/decisions", "coder", json=body)
    for code in ("99213", "20610"):
        body = {"code": code, "reason": "documented in the note", "version": e["version"]}
        e = workbench.call("POST", f"/api/encounters/{eid}/codes", "coder", json=body)
    claim: dict[str, Any] = workbench.call("GET", f"/api/encounters/{eid}/claim", "coder")["claim"]
    return claim


def test_an_uploaded_835_shows_in_the_encounter_and_on_the_denials_page(
    workbench: Workbench, page: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    eid = workbench.ids["ENC-C"]
    claim = _billed(workbench, "ENC-C")
    assert claim["id"] == f"ENC-{eid}" and [line["code"] for line in claim["lines"]] == ["99213", "20610"]
    era = tmp_path / "era.835"
    era.write_text(build_835(denial_payment(claim)), encoding="ascii")

    login(page, workbench, "manager")
    page.get_by_role("link", name="Denials").click()
    expect(page.locator("#denials-table caption")).to_have_text("0 denial(s)")
    page.set_input_files("#remit-file", str(era))
    page.get_by_role("button", name="Post 835").click()
    expect(page.locator("#remit-result")).to_contain_text("1 claim(s) matched, 0 unmatched")
    expect(page.locator("#remit-result")).to_contain_text("1 coding denial(s)")
    rows = page.locator("#denials-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("20610")
    expect(rows.first).to_contain_text("bundling")
    expect(rows.first).to_contain_text("CO-97")
    expect(rows.first).to_contain_text("M15")

    # posting the same file again changes nothing
    page.set_input_files("#remit-file", str(era))
    page.get_by_role("button", name="Post 835").click()
    expect(page.locator("#remit-result")).to_contain_text("Already posted")
    expect(rows).to_have_count(1)

    rows.first.get_by_role("link", name=f"#{eid}").click()
    page.wait_for_url(f"**/#/encounter/{eid}")
    panel = page.locator("section[aria-labelledby=remit-title]")
    expect(panel.get_by_role("heading")).to_have_text("Remittance (1)")
    expect(panel).to_contain_text("partial")
    expect(panel).to_contain_text("Paid $80.00 of $270.00")
    lines = panel.locator("tbody tr")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("CO-45")
    expect(lines.nth(0)).to_contain_text("contractual adjustment")
    expect(lines.nth(1)).to_contain_text("20610")
    expect(lines.nth(1)).to_contain_text("denied")
    expect(lines.nth(1)).to_contain_text("NCCI")  # the rework action, in plain words
    expect(lines.nth(1)).to_contain_text("M15")

    # the dashboard's denial tiles use the stored remittance
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("group", name="Denial rate", exact=True)).to_contain_text("100.0%")
    expect(page.get_by_role("group", name="Coding denials")).to_contain_text("100.0%")
    expect(page.get_by_role("group", name="First-pass resolution")).to_contain_text("0.0%")


def test_a_coder_sees_the_denials_but_cannot_post_an_835(workbench: Workbench, page: Any) -> None:
    from playwright.sync_api import expect

    login(page, workbench, "coder")
    page.get_by_role("link", name="Denials").click()
    expect(page.locator("#denials-table caption")).to_have_text("0 denial(s)")
    expect(page.locator("#remit-file")).to_have_count(0)
