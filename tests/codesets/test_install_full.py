"""Integration: install the full ../shared/data mirror and check it end to end."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import icd10cm
from chartcode.codesets.install import verify
from chartcode.codesets.kb import KnowledgeBase
from chartcode.errors import CodeNotValidOnDateError, NoReleaseForDateError, UnknownCodeError
from tests.codesets.sourcekit import OFFICIAL_VALID_COUNTS  # codes valid on each fiscal year start

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("day", "expected"), sorted(OFFICIAL_VALID_COUNTS.items()))
def test_valid_code_counts_per_fiscal_year_match_official_totals(
    full_kb: KnowledgeBase, day: date, expected: int
) -> None:
    assert icd10cm.count_valid_on(full_kb.conn, day) == expected


def test_release_periods_follow_the_official_calendars(full_kb: KnowledgeBase) -> None:
    periods = {r.id: (r.effective_from, r.effective_to) for r in full_kb.releases}
    assert periods["icd10cm-tabular:FY2026"] == (date(2025, 10, 1), date(2026, 9, 30))
    assert periods["icd10cm-index:FY2025"] == (date(2024, 10, 1), date(2025, 9, 30))
    assert periods["ncci-ptp-practitioner:2024Q3"] == (date(2024, 7, 1), date(2024, 9, 30))
    assert periods["hcpcs-level2:2024Q3"] == (date(2024, 7, 1), date(2024, 9, 30))
    assert periods["mce-age:v41.1"] == (date(2024, 4, 1), date(2024, 9, 30))
    # The history is open-ended in the data; it covers up to the quarter of its newest change.
    assert periods["icd10cm-history:IOCE"] == (date(2019, 7, 1), date(2026, 6, 30))


def test_lookup_of_a_billable_code_with_conventions(full_kb: KnowledgeBase) -> None:
    r = full_kb.lookup("e1122", date(2026, 3, 2))
    assert r.code == "E11.22"
    assert r.description == "Type 2 diabetes mellitus with diabetic chronic kidney disease"
    assert r.billable and r.valid_on_date
    assert r.description_release == "icd10cm-tabular:FY2026"
    use_additional = [n["text"] for n in r.conventions["use_additional"]]
    assert any("N18.1-N18.6" in t for t in use_additional)
    assert [h["code"] for h in r.hierarchy] == ["E11", "E11.2"]


def test_lookup_of_a_seventh_character_code(full_kb: KnowledgeBase) -> None:
    r = full_kb.lookup("S72.001A", date(2026, 3, 2))
    assert r.billable
    assert r.description is not None and r.description.endswith("initial encounter for closed fracture")
    seventh = r.conventions["seventh"]
    assert seventh["defined_at"] == "S72" and not seventh["placeholder_x"]
    assert {"A", "D", "S"} <= {s["char"] for s in seventh["characters"]}


def test_header_code_is_not_billable_and_lists_children(full_kb: KnowledgeBase) -> None:
    r = full_kb.lookup("E11", date(2026, 3, 2))
    assert not r.billable
    assert "E11.9" in {c["code"] for c in r.conventions["children"]}
    v = full_kb.validity("E11", date(2026, 3, 2))
    assert not v.valid and "category header, not billable" in v.message


def test_code_not_valid_on_date_gives_its_span(full_kb: KnowledgeBase) -> None:
    v = full_kb.validity("U07.1", date(2019, 12, 1))
    assert not v.valid
    assert v.message == "U07.1 is not valid on 2019-12-01; valid 2020-04-01–present"
    with pytest.raises(CodeNotValidOnDateError) as err:
        full_kb.lookup("U07.1", date(2019, 12, 1))
    assert "U07.1 is not valid on 2019-12-01; valid 2020-04-01–present" in str(err.value)


def test_code_that_never_existed(full_kb: KnowledgeBase) -> None:
    with pytest.raises(UnknownCodeError) as err:
        full_kb.lookup("E11.99", date(2026, 3, 2))
    assert "E11.99 never existed in ICD-10-CM" in str(err.value)


def test_date_outside_every_release_lists_installed_releases(full_kb: KnowledgeBase) -> None:
    with pytest.raises(NoReleaseForDateError) as err:
        full_kb.lookup("E11.22", date(2010, 1, 1))
    message = str(err.value)
    assert "no installed ICD-10-CM release covers 2010-01-01" in message
    assert "icd10cm-tabular:FY2026 (2025-10-01–2026-09-30)" in message


def test_hcpcs_lookup_with_mue_and_fee_schedule(full_kb: KnowledgeBase) -> None:
    r = full_kb.lookup("J3301", date(2024, 8, 15))
    assert r.system == "hcpcs"
    assert r.description is not None and "triamcinolone acetonide" in r.description.lower()
    assert "practitioner" in r.edits["mue"]


def test_cpt_lookup_works_from_numbers_without_descriptors(full_kb: KnowledgeBase) -> None:
    r = full_kb.lookup("99213", date(2024, 8, 15))
    assert r.system == "cpt" and r.description is None and r.valid_on_date
    assert any("AMA copyright" in n for n in r.notes)
    assert r.edits["pfs"]["work_rvu"] > 0


def test_search_returns_codes_with_index_paths(full_kb: KnowledgeBase) -> None:
    hits = full_kb.search("type 2 diabetes with chronic kidney disease", top=5)
    assert "E11.22" in [h.code for h in hits]
    hit = next(h for h in hits if h.code == "E11.22")
    assert hit.path
    hits = full_kb.search("aspiration pneumonia", system="icd10cm", top=5)
    assert "J69.0" in [h.code for h in hits]


def test_verify_passes_on_a_fresh_install(full_kb: KnowledgeBase, shared_data: Path) -> None:
    report = verify(full_kb.path, shared_data)
    assert report.ok, report.problems
