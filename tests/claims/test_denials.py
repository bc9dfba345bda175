"""Denial classification and the remittance KPIs, with numbers worked out by hand from the fixtures."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chartcode.claims.denials import CarcDataError, analyse, classify, code_tables, parse_tables
from chartcode.claims.match import load_claims
from chartcode.claims.remit import Adjustment, read_835

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = REPO / "examples" / "remit.835"
CLAIMS = REPO / "examples" / "remit_claims.jsonl"

REQUIRED_CARCS = [
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "11",
    "16",
    "18",
    "22",
    "23",
    "24",
    "27",
    "29",
    "45",
    "50",
    "59",
    "96",
    "97",
    "109",
    "119",
    "146",
    "151",
    "167",
    "170",
    "181",
    "182",
    "185",
    "197",
    "198",
    "199",
    "204",
    "222",
    "234",
    "236",
    "242",
    "252",
    "253",
    "A1",
]
REQUIRED_RARCS = ["M15", "M51", "M76", "M80", "MA04", "MA130", "N20", "N115", "N362", "N657"]


def adj(group: str, reason: str, amount: str = "10") -> Adjustment:
    return Adjustment(group, reason, Decimal(amount))


def test_the_table_covers_the_common_codes() -> None:
    tables = code_tables()
    assert set(REQUIRED_CARCS) <= set(tables.carc)
    assert set(REQUIRED_RARCS) <= set(tables.rarc)
    for info in tables.carc.values():
        assert info.label and info.category in tables.categories
    for category in tables.categories.values():
        assert category.label and category.action


@pytest.mark.parametrize(
    ("group", "carc", "remarks", "category", "coding", "denial"),
    [
        ("CO", "97", (), "bundling", True, True),
        ("CO", "16", ("M51",), "invalid_code", True, True),
        ("CO", "16", (), "missing_information", False, True),
        ("CO", "16", ("MA130",), "missing_information", False, True),
        ("CO", "4", (), "modifier", True, True),
        ("CO", "11", ("M76",), "medical_necessity", True, True),
        ("CO", "50", (), "medical_necessity", True, True),
        ("CO", "151", ("N362",), "units", True, True),
        ("CO", "7", (), "demographic", True, True),
        ("CO", "9", (), "demographic", True, True),
        ("CO", "181", (), "invalid_code", True, True),
        ("CO", "236", (), "bundling", True, True),
        ("CO", "29", (), "timely_filing", False, True),
        ("CO", "197", (), "authorization", False, True),
        ("CO", "18", (), "duplicate", False, True),
        ("CO", "22", ("MA04",), "coordination_of_benefits", False, True),
        ("CO", "27", (), "eligibility", False, True),
        ("CO", "185", (), "provider_eligibility", False, True),
        ("PR", "204", (), "non_covered", False, True),
        ("CO", "A1", ("N20",), "bundling", True, True),
        ("CO", "A1", (), "unclassified", False, True),
        ("CO", "45", (), "contractual", False, False),
        ("CO", "253", (), "contractual", False, False),
        ("OA", "23", (), "contractual", False, False),
        ("PR", "1", (), "patient_responsibility", False, False),
        ("PR", "2", (), "patient_responsibility", False, False),
        ("PR", "3", (), "patient_responsibility", False, False),
        ("CO", "ZZ9", (), "unclassified", False, True),
    ],
)
def test_classify(
    group: str, carc: str, remarks: tuple[str, ...], category: str, coding: bool, denial: bool
) -> None:
    c = classify(adj(group, carc), remarks)
    assert (c.category, c.coding, c.denial) == (category, coding, denial)
    assert c.action and c.label
    assert f"CARC) {carc}" in c.citation


def test_the_remark_that_decides_is_cited() -> None:
    c = classify(adj("CO", "16"), ("M51",))
    assert c.remark == "M51"
    assert c.citation == (
        "X12 Claim Adjustment Reason Code (CARC) 16; X12 Remittance Advice Remark Code (RARC) M51"
    )
    assert "procedure code" in c.action
    bundled = classify(adj("CO", "97"), ("M15",))
    assert bundled.remark is None and bundled.citation.endswith("(RARC) M15")
    assert "NCCI" in bundled.action


def test_a_broken_table_is_an_error() -> None:
    good: dict[str, Any] = json.loads(
        (REPO / "src" / "chartcode" / "claims" / "data" / "carc.json").read_text(encoding="utf-8")
    )
    good["carc"]["97"]["category"] = "nonsense"
    with pytest.raises(CarcDataError, match="carc 97 has the unknown category 'nonsense'"):
        parse_tables(good, "carc.json")
    with pytest.raises(CarcDataError, match="missing or malformed"):
        parse_tables({"categories": {}}, "carc.json")


# --- the example: every scenario in one payment --------------------------------------------------------


@pytest.fixture(scope="module")
def example() -> Any:
    return analyse(read_835(EXAMPLE), load_claims([CLAIMS]))


def test_example_denial_rates(example: Any) -> None:
    s = example.summary
    # 11 CLPs, one of them the reversal of RC1009
    assert (s.claims_adjudicated, s.reversals) == (10, 1)
    # RC1004 (CO-4, CO-11: coding), RC1006 (CO-29), RC1007 (CO-197), RC1008 (CO-18)
    assert (s.claims_denied, s.claims_coding_denied) == (4, 1)
    assert (s.claim_denial_rate, s.claim_coding_denial_rate) == (0.4, 0.1)
    # 17 SVCs outside the reversal; denied: 20610 CO-97, J3301 CO-16/M51, 99213-95 CO-4, 80053 CO-11,
    # 72148 CO-197, 99213 CO-18 (coding: the first four)
    assert (s.lines_adjudicated, s.lines_denied, s.lines_coding_denied) == (17, 6, 4)
    assert (s.line_denial_rate, s.line_coding_denial_rate) == (round(6 / 17, 4), round(4 / 17, 4))


def test_example_dollars(example: Any) -> None:
    s = example.summary
    assert s.charged == Decimal(2875)
    assert s.paid == Decimal(869)  # 135+74+120+0+130+0+0+0-90+100+400
    assert s.provider_adjustments == Decimal("2.5")  # WO 5.00 less L6 interest 2.50
    assert s.patient_responsibility == Decimal(58)
    # 150 CO-97 + 60 CO-16 + 120 CO-4 + 40 CO-11 + 80 CO-151 + 120 CO-29 + 600 CO-197 + 120 CO-18 + 100 CO-150
    assert s.denied_dollars == Decimal(1390)
    assert s.coding_denied_dollars == Decimal(550)
    assert [(c, d) for c, d, _ in s.denied_by_category] == [
        ("authorization", Decimal(600)),
        ("bundling", Decimal(150)),
        ("duplicate", Decimal(120)),
        ("modifier", Decimal(120)),
        ("timely_filing", Decimal(120)),
        ("level_of_service", Decimal(100)),
        ("units", Decimal(80)),
        ("invalid_code", Decimal(60)),
        ("medical_necessity", Decimal(40)),
    ]
    assert [k for k, _, _ in s.top_carcs][:3] == ["CO-197", "CO-97", "CO-18"]


def test_example_first_pass_and_days_to_pay(example: Any) -> None:
    s = example.summary
    # 10 claim ids; only RC1001 and RC1002 paid without any denial; RC1009 was reversed and corrected
    assert (s.claim_ids, s.first_pass_resolved, s.resubmitted) == (10, 2, 1)
    assert s.first_pass_resolution_rate == 0.2
    # paid 2026-02-06: RC1001/RC1002/RC1003 sent 01-07 (30 days), RC1005 01-08 (29),
    # RC1009 and RC1010 01-09 (28)
    assert sorted(s.days_to_pay) == [28, 28, 29, 30, 30, 30]
    assert (s.days_to_pay_mean, s.days_to_pay_median) == (29.2, 29.5)
    assert (s.unmatched_claims, s.unmatched_payments, s.unmatched_lines) == (1, 0, 0)


def test_example_claim_results(example: Any) -> None:
    by_id = {(c.payment.claim_id, c.payment.status): c for c in example.claims}
    rc1003 = by_id[("RC1003", "1")]
    assert not rc1003.denied
    assert [(line.denied, line.coding_denial) for line in rc1003.lines] == [
        (False, False),
        (True, True),
        (True, True),
    ]
    rc1006 = by_id[("RC1006", "4")]
    assert rc1006.denied and not rc1006.coding_denial
    assert rc1006.adjustments[0].classification.category == "timely_filing"
    assert rc1006.days_to_pay is None  # nothing paid
    reversal = by_id[("RC1009", "22")]
    assert not reversal.denied and reversal.days_to_pay is None
    # a partially paid line with a units denial is not a denied line, but its dollars count
    rc1005 = by_id[("RC1005", "1")]
    assert not rc1005.lines[0].denied and rc1005.lines[0].adjustments[0].classification.category == "units"


def test_example_to_dict(example: Any) -> None:
    data = example.to_dict()
    assert data["summary"]["claim_denial_rate"] == 0.4
    assert data["summary"]["denied_by_category"][0] == {
        "category": "authorization",
        "label": "authorization / referral",
        "coding_related": False,
        "dollars": 600.0,
        "adjustments": 1,
    }
    assert data["unmatched_claims"] == ["RC1011"]
    line = data["claims"][2]["lines"][1]
    assert (line["code"], line["line_number"], line["match"], line["denied"]) == (
        "20610",
        2,
        "modifiers_dropped",
        True,
    )
    assert line["adjustments"][0]["category"] == "bundling"
    text = json.dumps(data)
    assert "TESTB" not in text and "M000002" not in text  # the patient (NM1*QC) never leaves the parser


# --- other files ----------------------------------------------------------------------------------------


def test_paid_file_without_claims() -> None:
    a = analyse(read_835(FIXTURES / "paid.835"))
    s = a.summary
    assert (s.claims_adjudicated, s.claims_denied, s.lines_denied) == (2, 0, 0)
    assert (s.first_pass_resolved, s.claim_ids, s.first_pass_resolution_rate) == (2, 2, 1.0)
    assert s.denied_dollars == 0 and s.denied_by_category == ()
    assert s.days_to_pay == ()  # no submission dates without claims
    assert a.to_dict()["unmatched_claims"] is None


def test_reversal_and_correction_is_not_first_pass() -> None:
    a = analyse(read_835(FIXTURES / "reversal.835"), load_claims([CLAIMS]))
    s = a.summary
    assert (s.claims_adjudicated, s.reversals, s.claim_ids, s.resubmitted, s.first_pass_resolved) == (
        1,
        1,
        1,
        1,
        0,
    )
    assert s.days_to_pay == (28,)
    assert s.paid == Decimal(10)


def test_payments_across_files_and_a_medicare_837() -> None:
    claims = load_claims([REPO / "tests" / "edits" / "fixtures" / "claim_medicare.837"])
    a = analyse(read_835(FIXTURES / "medicare.835"), claims)
    s = a.summary
    assert s.days_to_pay == (25,)  # BHT 2024-08-05 to payment 2024-08-30
    assert (s.lines_adjudicated, s.lines_denied, s.lines_coding_denied) == (3, 1, 1)
    [claim] = a.claims
    bundled = claim.lines[1].adjustments[0].classification
    assert bundled.category == "bundling" and bundled.citation.endswith("(RARC) M80")


def test_single_remittance_accepted() -> None:
    [remit] = read_835(FIXTURES / "paid.835")
    assert analyse(remit).summary.claims_adjudicated == 2


def test_days_to_pay_uses_the_payment_date() -> None:
    claims = load_claims([CLAIMS])
    a = analyse(read_835(FIXTURES / "modifiers.835"), claims)
    assert a.claims[0].remittance.payment_date == date(2026, 2, 6)
    assert a.claims[0].days_to_pay == 28


def test_a_denied_claim_paid_later_is_resubmitted_not_first_pass(tmp_path: Path) -> None:
    later = tmp_path / "later.835"
    text = (FIXTURES / "paid.835").read_text()
    later.write_text(
        text.replace("RC1001", "RC1008").replace("PCN1001", "PCN1008B").replace("20260206", "20260301")
    )
    remits = [*read_835(later), *read_835(FIXTURES / "denials.835")]  # the later payment listed first
    s = analyse(remits, load_claims([CLAIMS])).summary
    # claim ids: RC1008 (denied CO-18, then paid), RC1002 (paid), RC1003-RC1007 (from denials.835)
    assert (s.claim_ids, s.resubmitted) == (7, 1)
    assert s.first_pass_resolved == 1  # only RC1002
    # paid 2026-03-01: RC1008 (sent 01-08) 52 days, RC1002 (sent 01-07) 53; paid 02-06: RC1003 30, RC1005 29
    assert s.days_to_pay == (52, 53, 30, 29)
