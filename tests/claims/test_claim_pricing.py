"""Expected Medicare payment from the PFS in the full KB, checked against amounts computed here from the
KB's own RVU and GPCI rows; the practice fee schedule CSV."""

from __future__ import annotations

import copy
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from chartcode.claims.model import EncounterClaim, parse_encounter
from chartcode.claims.pricing import (
    FeeScheduleError,
    LocalityError,
    fill_charges,
    parse_fee_schedule,
    price_claim,
    read_fee_schedule,
)
from chartcode.codesets.kb import KnowledgeBase

RVU_RELEASE = "pfs-rvu:2024Q3"
GPCI_RELEASE = "pfs-gpci:CY2024"


def rvu_row(kb: KnowledgeBase, code: str, modifier: str = "") -> dict[str, Any]:
    cur = kb.conn.execute(
        "SELECT work_rvu, nf_pe_rvu, f_pe_rvu, mp_rvu, conv_factor FROM pfs_rvu"
        " WHERE release = ? AND code = ? AND modifier = ?",
        (RVU_RELEASE, code, modifier),
    )
    row = cur.fetchone()
    assert row is not None, (code, modifier)
    return dict(zip(("work", "nf_pe", "f_pe", "mp", "cf"), row, strict=True))


def gpci_row(kb: KnowledgeBase, mac: str, locality: str) -> tuple[float, float, float]:
    row = kb.conn.execute(
        "SELECT pw, pe, mp FROM pfs_gpci WHERE release = ? AND mac = ? AND locality = ?",
        (GPCI_RELEASE, mac, locality),
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def d(x: float) -> Decimal:
    return Decimal(str(x))


def half(x: float) -> float:
    return float((d(x) * Decimal("0.5")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def expected(
    kb: KnowledgeBase, code: str, *, facility: bool, mac: str = "05102", loc: str = "00", modifier: str = ""
) -> float:
    r = rvu_row(kb, code, modifier)
    pw, pe, mp = gpci_row(kb, mac, loc)
    pe_rvu = r["f_pe"] if facility else r["nf_pe"]
    amount = (d(r["work"]) * d(pw) + d(pe_rvu) * d(pe) + d(r["mp"]) * d(mp)) * d(r["cf"])
    return float(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def with_lines(base: dict[str, Any], lines: list[dict[str, Any]], pos: str = "11") -> EncounterClaim:
    data = copy.deepcopy(base)
    data["place_of_service"] = pos
    data["diagnoses"] = ["M17.11"]
    data["lines"] = [{"dx_pointers": [1], "charge": 100, **line} for line in lines]
    return parse_encounter(data)


def test_example_lines_non_facility_iowa(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    price = price_claim(parse_encounter(encounter_dict), full_kb)
    assert (price.locality["mac"], price.locality["locality"]) == ("05102", "00")
    assert price.lines[0].allowed == expected(full_kb, "99214", facility=False)
    assert price.lines[1].allowed == expected(full_kb, "20610", facility=False)
    assert price.lines[2].allowed is None  # J3301: status E, not paid under the PFS
    assert [a.rule for a in price.lines[2].adjustments] == ["PFS-STATUS"]
    assert price.total_allowed == round(price.lines[0].allowed + price.lines[1].allowed, 2)
    assert price.total_billed == 349.0
    assert all(a.citation for line in price.lines for a in line.adjustments)


def test_facility_versus_non_facility(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    office = price_claim(with_lines(encounter_dict, [{"code": "99214"}], pos="11"), full_kb).lines[0]
    hospital = price_claim(with_lines(encounter_dict, [{"code": "99214"}], pos="22"), full_kb).lines[0]
    assert office.setting == "non_facility" and hospital.setting == "facility"
    assert office.allowed == expected(full_kb, "99214", facility=False)
    assert hospital.allowed == expected(full_kb, "99214", facility=True)
    assert hospital.allowed is not None and office.allowed is not None and hospital.allowed < office.allowed


def test_gpci_of_the_locality(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    claim = with_lines(encounter_dict, [{"code": "99213"}])
    iowa = price_claim(claim, full_kb).lines[0].allowed
    portland = price_claim(claim, full_kb, locality="02302-01")
    assert portland.locality["name"] == "PORTLAND"
    assert portland.lines[0].allowed == expected(full_kb, "99213", facility=False, mac="02302", loc="01")
    assert portland.lines[0].allowed != iowa


def test_locality_errors(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    encounter_dict["billing_provider"]["address"]["state"] = "OR"
    claim = parse_encounter(encounter_dict)
    with pytest.raises(LocalityError, match=r"state OR has 2 payment localities .*02302-01 PORTLAND"):
        price_claim(claim, full_kb)
    with pytest.raises(LocalityError, match="not MAC-LOCALITY"):
        price_claim(claim, full_kb, locality="portland")
    with pytest.raises(LocalityError, match="not in pfs-gpci"):
        price_claim(claim, full_kb, locality="99999-01")


def test_professional_and_technical_components(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase
) -> None:
    claim = with_lines(
        encounter_dict,
        [
            {"code": "71046", "modifiers": ["26"]},
            {"code": "71046", "modifiers": ["TC"]},
            {"code": "71046"},
            {"code": "99213", "modifiers": ["26"]},
        ],
    )
    pc, tc, glob, em = price_claim(claim, full_kb).lines
    assert pc.allowed == expected(full_kb, "71046", facility=False, modifier="26")
    assert tc.allowed == expected(full_kb, "71046", facility=False, modifier="TC")
    assert glob.allowed == expected(full_kb, "71046", facility=False)
    assert pc.allowed is not None and tc.allowed is not None and pc.allowed < glob.allowed
    assert "PFS-PCTC" in [a.rule for a in pc.adjustments]
    # 99213 has no component rows: a warning, priced as the whole service
    warn = [a for a in em.adjustments if a.rule == "PFS-PCTC"]
    assert warn and warn[0].severity == "warning"
    assert em.allowed == expected(full_kb, "99213", facility=False)


def test_bilateral_indicator(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    one = price_claim(with_lines(encounter_dict, [{"code": "20610", "modifiers": ["50"]}]), full_kb).lines[0]
    assert one.allowed == round(expected(full_kb, "20610", facility=False) * 1.5, 2)  # indicator 1: 150 %
    three = price_claim(with_lines(encounter_dict, [{"code": "73030", "modifiers": ["50"]}]), full_kb).lines[
        0
    ]
    assert three.allowed == round(expected(full_kb, "73030", facility=False) * 2, 2)  # indicator 3: 200 %
    zero = price_claim(with_lines(encounter_dict, [{"code": "11042", "modifiers": ["50"]}]), full_kb).lines[0]
    assert zero.allowed == expected(full_kb, "11042", facility=False)  # indicator 0: no bilateral payment
    assert [a.severity for a in zero.adjustments if a.rule == "PFS-BILATERAL"] == ["warning"]


def test_multiple_procedure_reduction(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    claim = with_lines(
        encounter_dict,
        [
            {"code": "20610", "modifiers": ["LT"]},
            {"code": "11042"},
            {"code": "17000", "units": 2},
            {"code": "99213", "modifiers": ["25"]},
        ],
    )
    inj, debr, destr, visit = price_claim(claim, full_kb).lines
    fees = {c: expected(full_kb, c, facility=False) for c in ("20610", "11042", "17000", "99213")}
    assert fees["11042"] > fees["17000"] > fees["20610"]
    assert debr.allowed == fees["11042"]  # highest fee: 100 %
    assert inj.allowed == half(fees["20610"])
    assert destr.allowed == round(2 * half(fees["17000"]), 2)  # both units are further procedures: 50 % each
    assert visit.allowed == fees["99213"]  # MULT PROC 0: no reduction
    assert [a.factor for a in inj.adjustments if a.rule == "PFS-MULTIPLE"] == [0.5]
    assert "§40.6" in next(a.citation for a in debr.adjustments if a.rule == "PFS-MULTIPLE")


def test_therapy_practice_expense_reduction(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    claim = with_lines(encounter_dict, [{"code": "97140"}, {"code": "97110", "units": 3}])
    manual, exercise = price_claim(claim, full_kb).lines
    pw, pe, mp = gpci_row(full_kb, "05102", "00")

    def unit(code: str, pe_share: str) -> Decimal:
        r = rvu_row(full_kb, code)
        amount = (d(r["work"]) * d(pw) + d(r["nf_pe"]) * d(pe) * Decimal(pe_share) + d(r["mp"]) * d(mp)) * d(
            r["cf"]
        )
        return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    # 97110 has the higher PE: its first unit is paid in full, every other therapy unit with half its PE
    assert rvu_row(full_kb, "97110")["nf_pe"] > rvu_row(full_kb, "97140")["nf_pe"]
    assert exercise.allowed == float(unit("97110", "1") + 2 * unit("97110", "0.5"))
    assert manual.allowed == float(unit("97140", "0.5"))
    assert [a.rule for a in manual.adjustments].count("PFS-THERAPY-MPPR") == 1
    assert [a.rule for a in exercise.adjustments].count("PFS-THERAPY-MPPR") == 2
    assert "ch. 5 §10.7" in manual.adjustments[-1].citation


def test_status_not_payable(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    line = price_claim(with_lines(encounter_dict, [{"code": "0537T"}]), full_kb).lines[0]
    assert line.status == "B" and line.allowed is None
    assert "bundled" in line.adjustments[0].message


def test_na_in_the_setting(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    # 71046 (global) carries NA for the facility setting: a warning to bill the professional component
    line = price_claim(with_lines(encounter_dict, [{"code": "71046"}], pos="22"), full_kb).lines[0]
    na = [a for a in line.adjustments if a.rule == "PFS-NA"]
    assert na and na[0].severity == "warning" and "modifier 26" in na[0].message
    office = price_claim(with_lines(encounter_dict, [{"code": "71046"}], pos="11"), full_kb).lines[0]
    assert "PFS-NA" not in [a.rule for a in office.adjustments]


def test_fee_schedule_overrides_charges(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path
) -> None:
    csv = tmp_path / "fees.csv"
    csv.write_text(
        "code,modifier,charge\n99214,,210.00\n20610,RT,160\n20610,,150\nJ3301,,$7.25\n", encoding="utf-8"
    )
    fees = read_fee_schedule(csv)
    price = price_claim(parse_encounter(encounter_dict), full_kb, fees=fees)
    assert [line.billed for line in price.lines] == [210.0, 160.0, 29.0]  # J3301: 4 units × 7.25
    assert price.total_billed == 399.0
    assert all("FEE-OVERRIDE" in [a.rule for a in line.adjustments] for line in price.lines)
    # allowed amounts do not depend on the billed charge
    assert price.lines[0].allowed == expected(full_kb, "99214", facility=False)


def test_fill_charges_from_pfs(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    for line in encounter_dict["lines"]:
        line.pop("charge")
    claim = fill_charges(parse_encounter(encounter_dict), full_kb, fees={("J3301", ""): Decimal("6.00")})
    charges = [line.charge for line in claim.lines]
    assert charges[0] == Decimal(str(expected(full_kb, "99214", facility=False)))
    assert charges[1] == Decimal(str(expected(full_kb, "20610", facility=False)))
    assert charges[2] == Decimal("24.00")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("99214,,abc\n", "line 1: charge 'abc' is not an amount"),
        ("code,modifier,charge\n99214,185\n", "line 2: 2 column(s)"),
        ("9921,,10\n", "code '9921'"),
        ("99214,2,10\n", "modifier '2'"),
        ("99214,,10\n99214,,12\n", "line 2: 99214 (no modifier) is listed twice"),
        ("99214,,-5\n", "is not an amount"),
    ],
)
def test_fee_schedule_errors(text: str, problem: str) -> None:
    with pytest.raises(FeeScheduleError) as err:
        parse_fee_schedule(text, "fees.csv")
    assert err.value.code == "CC510"
    assert (
        f"fees.csv, {problem}" in err.value.message
        if problem.startswith("line")
        else problem in err.value.message
    )
