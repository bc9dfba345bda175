"""Reading X12 5010 835 remittances: every segment family, balancing warnings and malformed files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chartcode.claims.remit import (
    Remit835Error,
    RemitFileError,
    Remittance,
    parse_835,
    read_835,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "remit.835"


def one(name: str) -> Remittance:
    [remit] = read_835(FIXTURES / name)
    return remit


def build_835(
    lines: list[tuple[str, Decimal, list[tuple[str, str, Decimal]]]], bpr: Decimal | None = None
) -> str:
    """A minimal valid 835 with one claim whose services are ``(code, charge, [(group, carc, amount)])``,
    each paid charge minus its adjustments."""
    body = ["ST*835*0001"]
    paid_total = sum(
        (charge - sum((a for _, _, a in adj), Decimal(0)) for _, charge, adj in lines), Decimal(0)
    )
    charge_total = sum((charge for _, charge, _ in lines), Decimal(0))
    body += [
        f"BPR*I*{bpr if bpr is not None else paid_total}*C*CHK************20260301",
        "TRN*1*CHK555*1512345678",
        "N1*PR*TEST PAYER",
        "N3*PO BOX 1",
        "N4*ANYTOWN*PA*17432",
        "PER*BL*EDI*TE*5555550100",
        "N1*PE*TEST CLINIC*XX*1234567893",
        "N3*1 MAIN ST",
        "N4*ANYTOWN*PA*17432",
        "LX*1",
        f"CLP*P1*1*{charge_total}*{paid_total}**12*PCN1",
        "NM1*QC*1*PATIENT*TEST****MI*M1",
    ]
    for code, charge, adj in lines:
        paid = charge - sum((a for _, _, a in adj), Decimal(0))
        body.append(f"SVC*HC:{code}*{charge}*{paid}")
        body.append("DTM*472*20260210")
        for group, carc, amount in adj:
            body.append(f"CAS*{group}*{carc}*{amount}")
    body.append(f"SE*{len(body) + 1}*0001")
    isa = (
        "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         "
        "*260301*1200*^*00501*000000001*0*T*:"
    )
    return (
        "~".join(
            [isa, "GS*HP*PAYER*CLINIC*20260301*1200*1*X*005010X221A1", *body, "GE*1*1", "IEA*1*000000001"]
        )
        + "~"
    )


# --- segment families ------------------------------------------------------------------------------


def test_header_bpr_trn_dtm_payer_and_payee() -> None:
    r = one("denials.835")
    assert r.control_number == "0001" and r.position == 3
    assert (r.handling, r.payment_amount, r.payment_method) == ("I", Decimal("250"), "ACH")
    assert r.payment_date == date(2026, 2, 6) and r.production_date == date(2026, 2, 6)
    assert (r.trace_number, r.originator_id) == ("TRC1002", "1512345678")
    assert (r.payer.name, r.payer.additional_id) == ("TEST HEALTH PLAN", "99999")
    assert (r.payee.name, r.payee.id_qualifier, r.payee.id, r.payee.additional_id) == (
        "TEST FAMILY CLINIC",
        "XX",
        "1234567893",
        "123456789",
    )
    assert r.findings == ()


def test_check_payment_method() -> None:
    r = one("paid.835")
    assert (r.payment_method, r.payment_method_label, r.payment_amount) == ("CHK", "check", Decimal("209"))


def test_clp_and_svc_paid_in_full_and_partial() -> None:
    r = one("paid.835")
    c1, c2 = r.claims
    assert (c1.claim_id, c1.status, c1.charge, c1.paid, c1.payer_control_number) == (
        "RC1001",
        "1",
        Decimal("135"),
        Decimal("135"),
        "PCN1001",
    )
    assert (c1.filing_indicator, c1.facility_code, c1.frequency) == ("12", "11", "1")
    assert c1.header_number == "1"
    assert [(s.procedure.code, s.charge, s.paid, s.allowed) for s in c1.services] == [
        ("99213", Decimal("120"), Decimal("120"), Decimal("120")),
        ("36415", Decimal("15"), Decimal("15"), Decimal("15")),
    ]
    assert c2.patient_responsibility == Decimal("58")
    line = c2.services[0]
    assert [(a.group, a.reason, a.amount) for a in line.adjustments] == [
        ("CO", "45", Decimal("80")),
        ("PR", "1", Decimal("40")),
        ("PR", "2", Decimal("16")),
    ]
    assert line.service_date == date(2026, 2, 6).replace(month=1, day=5)
    assert [a.key for a in c2.services[1].adjustments] == ["CO-45", "PR-3"]


def test_cas_triplets_quantity_lq_remarks_and_units() -> None:
    rc1005 = one("denials.835").claims[2]
    svc = rc1005.services[0]
    assert svc.units == Decimal(2) and svc.original_units == Decimal(4) and svc.submitted_units == Decimal(4)
    units_denial = svc.adjustments[0]
    assert (units_denial.key, units_denial.amount, units_denial.quantity) == (
        "CO-151",
        Decimal(80),
        Decimal(2),
    )
    assert svc.remarks == ("N362",)
    rc1003 = one("denials.835").claims[0]
    assert [s.remarks for s in rc1003.services] == [(), ("M15",), ("M51",)]
    assert rc1003.services[0].procedure.modifiers == ("25",)
    assert rc1003.services[2].units == Decimal(2)


def test_claim_level_cas_without_service_lines() -> None:
    rc1006 = one("denials.835").claims[3]
    assert rc1006.status == "4" and rc1006.status_label == "denied"
    assert rc1006.services == ()
    assert [(a.key, a.amount, a.position) for a in rc1006.adjustments] == [("CO-29", Decimal(120), 53)]


def test_svc06_original_procedure_ref_6r_and_reordered_modifiers() -> None:
    [claim] = one("modifiers.835").claims
    first, second, third = claim.services
    assert first.procedure.modifiers == ("59", "RT")
    assert second.control_number == "RC1010-2"
    assert (third.procedure.code, third.original is not None and third.original.code) == ("99214", "99215")
    assert third.submitted.code == "99215"
    assert third.remarks == ("N657",)


def test_reversal_and_plb() -> None:
    r = one("reversal.835")
    reversal, corrected = r.claims
    assert reversal.is_reversal and reversal.status_label == "reversal of a previous payment"
    assert (reversal.charge, reversal.paid, reversal.payer_control_number) == (
        Decimal(-150),
        Decimal(-90),
        "PCN9001",
    )
    assert reversal.services[0].adjustments[0].amount == Decimal(-60)
    assert (corrected.is_reversal, corrected.frequency, corrected.payer_control_number) == (
        False,
        "7",
        "PCN9002",
    )
    # two PLB segments (pyx12 miscounts a repeated PLB as a second footer loop; chartcode accepts it)
    assert [
        (p.reason, p.reference, p.amount, p.provider_id, p.fiscal_period_end) for p in r.provider_adjustments
    ] == [
        ("WO", "PCN0777", Decimal(5), "1234567893", date(2026, 12, 31)),
        ("L6", "INT2026", Decimal("-2.5"), "1234567893", date(2026, 12, 31)),
    ]
    assert r.payment_amount == Decimal("7.5") and r.findings == ()


def test_patient_is_read_but_never_shown() -> None:
    r = one("paid.835")
    patient = r.claims[1].patient
    assert patient is not None and patient.first_name == "TESTB" and patient.member_id == "M000002"
    shown = repr(r) + str(r.to_dict())
    assert "TESTB" not in shown and "M000002" not in shown


def test_the_example_reads_and_balances() -> None:
    [r] = read_835(EXAMPLE)
    assert len(r.claims) == 11 and r.findings == ()
    assert r.payment_amount == Decimal("866.5")
    assert r.to_dict()["claims"][0]["services"][0]["code"] == "99213"


# --- balancing -----------------------------------------------------------------------------------------


def test_balanced_file_has_no_findings() -> None:
    [r] = parse_835(build_835([("99213", Decimal(100), [("CO", "45", Decimal(30))])]))
    assert r.findings == () and r.claims[0].paid == Decimal(70)


def test_unbalanced_line_claim_and_total_are_warnings(tmp_path: Path) -> None:
    text = (FIXTURES / "paid.835").read_text().replace("SVC*HC:99213*120*120", "SVC*HC:99213*120*110")
    path = tmp_path / "off.835"
    path.write_text(text)
    [r] = read_835(path)
    rules = [(f.rule, f.severity, f.position) for f in r.findings]
    assert rules == [("REMIT-BAL-LINE", "warning", 19)]
    assert "charge 120 minus adjustments 0 is 120, but the payment is 110" in r.findings[0].message
    assert "1.10.2.1" in r.findings[0].citation
    text = text.replace("CLP*RC1001*1*135*135", "CLP*RC1001*1*135*125")
    path.write_text(text)
    [r] = read_835(path)
    assert [f.rule for f in r.findings] == ["REMIT-BAL-LINE", "REMIT-BAL-CLAIM", "REMIT-BAL-TOTAL"]
    assert "come to 199, but BPR02 pays 209" in r.findings[-1].message


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["99213", "J3301", "36415"]),
            st.integers(min_value=1, max_value=99999),
            st.lists(
                st.tuples(
                    st.sampled_from(["CO", "PR", "OA", "PI"]),
                    st.sampled_from(["45", "1", "97"]),
                    st.integers(0, 500),
                ),
                max_size=3,
            ),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_amounts_round_trip_and_balance(raw: list[tuple[str, int, list[tuple[str, str, int]]]]) -> None:
    lines = [
        (code, Decimal(cents) / 100, [(g, c, Decimal(a) / 100) for g, c, a in adj])
        for code, cents, adj in raw
    ]
    [r] = parse_835(build_835(lines))
    assert r.findings == ()
    services = r.claims[0].services
    assert [(s.procedure.code, s.charge) for s in services] == [(code, charge) for code, charge, _ in lines]
    assert [[(a.group, a.reason, a.amount) for a in s.adjustments] for s in services] == [
        adj for _, _, adj in lines
    ]


# --- malformed files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad_missing_se.835", ["segment 37", "not closed by its SE trailer", "Transaction Set Trailer"]),
        ("bad_segment_count.835", ["segment 37 (ST/SE)", "SE count of 38", "I count 35"]),
        ("bad_amount.835", ["segment 22 (SVC)", "SVC03", "invalid character(1O)"]),
        ("truncated.835", ["ends at segment 21 (AMT)", "truncated"]),
    ],
)
def test_malformed_files_name_the_segment(name: str, expected: list[str]) -> None:
    with pytest.raises(Remit835Error) as info:
        read_835(FIXTURES / name)
    assert info.value.code == "CC521"
    for text in expected:
        assert text in info.value.message
    assert info.value.fix
    assert "TESTB" not in str(info.value) and "M00000" not in str(info.value)


def test_fixes_fit_the_problem() -> None:
    fixes = {}
    for name in ("bad_missing_se.835", "bad_segment_count.835", "bad_amount.835", "truncated.835"):
        with pytest.raises(Remit835Error) as info:
            read_835(FIXTURES / name)
        fixes[name] = info.value.fix or ""
    assert "SE trailer" in fixes["bad_missing_se.835"]
    assert "SE01 must be the number of segments" in fixes["bad_segment_count.835"]
    assert "must be numbers" in fixes["bad_amount.835"]
    assert "complete file" in fixes["truncated.835"]


def test_an_837_is_not_a_remittance() -> None:
    claim_file = Path(__file__).resolve().parents[1] / "edits" / "fixtures" / "claim_medicare.837"
    with pytest.raises(Remit835Error, match=r"segment 2 \(GS\): GS08 '005010X222A1' is not the 5010 835"):
        parse_835(claim_file.read_text(), "claim.837")


def test_files_that_are_not_x12(tmp_path: Path) -> None:
    with pytest.raises(RemitFileError, match="does not exist"):
        read_835(tmp_path / "missing.835")
    empty = tmp_path / "empty.835"
    empty.write_text("  \n")
    with pytest.raises(RemitFileError, match="is empty"):
        read_835(empty)
    text = tmp_path / "note.835"
    text.write_text("Dear provider, your claim was paid.")
    with pytest.raises(RemitFileError, match="segment 1 must be the ISA"):
        read_835(text)
    short = tmp_path / "short.835"
    short.write_text("ISA*00*x~GS*HP~")
    with pytest.raises(Remit835Error, match="106-character"):
        read_835(short)
    binary = tmp_path / "bin.835"
    binary.write_bytes(b"ISA\xff\xfe")
    with pytest.raises(RemitFileError, match="not UTF-8"):
        read_835(binary)


def test_version_4010_is_refused() -> None:
    text = (FIXTURES / "paid.835").read_text().replace("*00501*", "*00401*", 1)
    with pytest.raises(Remit835Error, match="ISA12 version '00401' is not 00501"):
        parse_835(text)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "NM1*QC*1*PATIENT*TESTB",
            "NM1*QC*1*" + "TESTBSURNAME" * 6 + "*TESTB",
            "segment 26 (NM1): element NM103 is too long (value withheld: it may identify a person)",
        ),
        (
            "NM1*QC*1*PATIENT*TESTB",
            "NM1*QC*9*PATIENT*TESTB",
            "segment 26 (NM1): element NM102 is invalid (value withheld: it may identify a person)",
        ),
        (
            "CLP*RC1002*1*230*74*58*12*PCN1002*11*1~\nNM1*QC*1*PATIENT*TESTB****MI*M000002",
            "NM1*QC*1*PATIENT*TESTB****MI*M000002~\nCLP*RC1002*1*230*74*58*12*PCN1002*11*1",
            "segment 25 (NM1): segment NM1*QC is not allowed here",
        ),
    ],
)
def test_errors_in_patient_segments_withhold_the_values(old: str, new: str, expected: str) -> None:
    text = (FIXTURES / "paid.835").read_text()
    assert old in text
    with pytest.raises(Remit835Error) as info:
        parse_835(text.replace(old, new))
    assert expected in info.value.message
    assert "TESTB" not in str(info.value) and "M000002" not in str(info.value)


def test_several_transactions_in_one_interchange() -> None:
    paid = (FIXTURES / "paid.835").read_text().replace("\n", "").split("~")
    first = paid[2 : 2 + next(i for i, s in enumerate(paid[2:]) if s.startswith("SE*")) + 1]
    denials = (FIXTURES / "denials.835").read_text().replace("\n", "").split("~")
    second = denials[2 : 2 + next(i for i, s in enumerate(denials[2:]) if s.startswith("SE*")) + 1]
    second = [s.replace("*0001", "*0002") if s.startswith(("ST*", "SE*")) else s for s in second]
    text = "~".join([paid[0], paid[1], *first, *second, "GE*2*911", "IEA*1*000000911"]) + "~"
    remits = parse_835(text, "two.835")
    assert [(r.control_number, r.position, len(r.claims), r.trace_number) for r in remits] == [
        ("0001", 3, 2, "TRC1001"),
        ("0002", 38, 6, "TRC1002"),
    ]
    assert all(r.source == "two.835" and r.findings == () for r in remits)
