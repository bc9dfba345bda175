"""Reading claims: JSON, JSONL and X12 5010 837P (tiny hand-written fixtures, valid per pyx12, and broken
variants written to tmp_path)."""

from __future__ import annotations

import io
import json
import logging
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chartcode.edits.io import (
    ClaimInputError,
    ClaimRecord,
    X12InputError,
    claim_from_json,
    detect_format,
    iter_jsonl,
    parse_claim,
    read_claims,
    read_x12,
)
from chartcode.edits.model import Claim, Line, Patient, Payer
from chartcode.errors import InputError
from tests.edits.conftest import FIXTURES

MEDICARE = FIXTURES / "claim_medicare.837"
TWO = FIXTURES / "claims_two_subscribers.837"


def medicare_text() -> str:
    return MEDICARE.read_text()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- the fixtures are valid 837P per pyx12 itself ----------------------------------------------------


@pytest.mark.parametrize("name", ["claim_medicare.837", "claims_two_subscribers.837"])
def test_fixtures_pass_pyx12_validation(name: str) -> None:
    import pyx12.params  # type: ignore[import-untyped]
    import pyx12.x12n_document  # type: ignore[import-untyped]

    logging.getLogger("pyx12").addHandler(logging.NullHandler())
    report = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        pyx12.params.ParamsBase(), str(FIXTURES / name), None, None, None, report
    )
    assert ok is True
    assert '"errors": [{' not in report.getvalue()


# --- 837P mapping ------------------------------------------------------------------------------


def test_837_maps_every_field_of_a_medicare_claim() -> None:
    records = list(read_claims(MEDICARE))
    assert [(r.claim_id, r.position, r.where, r.error) for r in records] == [("C1001", 20, "segment", None)]
    day = date(2024, 8, 1)
    assert records[0].claim == Claim(
        id="C1001",
        patient=Patient(sex="F", birth_date=date(1950, 3, 15)),
        payer=Payer(id="12202", type="medicare", name="MEDICARE PART B"),
        place_of_service="11",
        rendering_specialty="207Q00000X",
        diagnoses=("E11.22", "N18.31", "I10"),
        lines=(
            Line(
                code="99214",
                modifiers=("25",),
                units=Decimal(1),
                dx_pointers=(1, 2),
                date_of_service=day,
                charge=Decimal(150),
            ),
            Line(code="82947", units=Decimal(1), dx_pointers=(1,), date_of_service=day, charge=Decimal(25)),
            Line(
                code="J3301", units=Decimal(2), dx_pointers=(1, 2, 3), date_of_service=day, charge=Decimal(75)
            ),
        ),
    )


def test_837_patient_loop_payers_and_several_claims() -> None:
    records = read_x12(TWO.read_text(), "two.837")
    assert [(r.claim_id, r.position) for r in records] == [("C2001", 25), ("C2002", 39), ("C2003", 47)]
    c1, c2, c3 = (r.claim for r in records)
    assert c1 is not None and c2 is not None and c3 is not None
    # 2000C patient (a child), not the 2010BA subscriber; commercial payer (SBR09 CI); telehealth POS 02
    assert c1.patient == Patient(sex="M", birth_date=date(2015, 6, 1))
    assert c1.payer == Payer(id="ACME01", type="commercial", name="ACME HEALTH PLAN")
    assert (c1.place_of_service, c1.rendering_specialty, c1.diagnoses) == (
        "02",
        "208000000X",
        ("J06.9", "R50.9"),
    )
    # second subscriber: Medicaid (SBR09 MC), subscriber is the patient (2010BA DMG)
    assert c2.payer == Payer(id="IL-MCD", type="medicaid", name="STATE MEDICAID")
    assert c2.patient == Patient(sex="M", birth_date=date(1980, 2, 20))
    assert c2.rendering_specialty is None
    assert c2.diagnoses == ("M17.0", "M17.11", "E66.01")
    first = c2.lines[0]
    # four modifiers, SV105 line place of service, RD8 range -> its first date
    assert (first.code, first.modifiers, first.place_of_service, first.date_of_service) == (
        "20610",
        ("RT", "LT", "59", "XS"),
        "22",
        date(2024, 9, 4),
    )
    assert (c2.lines[1].code, c2.lines[1].units, c2.line_pos(1)) == ("J3301", Decimal(4), "11")
    # third claim under the same subscriber keeps patient and payer
    assert (c3.payer.id, c3.patient.birth_date, c3.diagnoses) == ("IL-MCD", date(1980, 2, 20), ("Z00.00",))


@pytest.mark.parametrize(
    ("sbr09", "payer_type"),
    [
        ("MB", "medicare"),
        ("MA", "medicare"),
        ("MC", "medicaid"),
        ("CI", "commercial"),
        ("BL", "commercial"),
        ("HM", "commercial"),
        ("CH", "tricare"),
        ("WC", "workers_comp"),
        ("VA", "other"),
    ],
)
def test_837_claim_filing_indicator_gives_the_payer_type(sbr09: str, payer_type: str) -> None:
    text = medicare_text().replace("SBR*P*18*******MB~", f"SBR*P*18*******{sbr09}~")
    (record,) = read_x12(text)
    assert record.claim is not None and record.claim.payer.type == payer_type


def test_837_a_claim_the_model_rejects_is_an_error_record_and_the_others_are_read() -> None:
    text = TWO.read_text().replace("SV1*HC:J3301*100*UN*4***1~", "SV1*HC:J3301*100*UN*0***1~")
    records = read_x12(text, "two.837")
    assert [r.claim_id for r in records] == ["C2001", "C2002", "C2003"]
    assert records[0].claim is not None and records[2].claim is not None
    bad = records[1]
    assert bad.claim is None and isinstance(bad.error, ClaimInputError)
    assert bad.error.message == "claim C2002 (segment 39): lines.2.units: Input should be greater than 0."
    assert bad.error_dict() == {"claim_id": "C2002", "segment": 39, "error": bad.error.to_dict()}
    assert bad.error_dict()["error"]["code"] == "CC151"


def test_837_icd9_qualifier_is_an_error_record() -> None:
    (record,) = read_x12(medicare_text().replace("HI*ABK:E1122", "HI*BK:E1122"), "m.837")
    assert isinstance(record.error, X12InputError)
    assert record.error.message == (
        "m.837: claim C1001 (segment 20): segment 21 (HI01): qualifier BK is ICD-9-CM; 5010 claims for dates "
        "after 2015-10-01 use ICD-10-CM (ABK principal, ABF other)."
    )


# --- malformed 837 -------------------------------------------------------------------------------

SE_FIX = "set SE01 to the number of segments from ST to SE inclusive, then send the file again."
IG_FIX = (
    "correct the segment(s) named following the 5010 837P implementation guide (005010X222A1) and send the "
    "file again."
)


@pytest.mark.parametrize(
    ("old", "new", "message", "fix"),
    [
        (
            "SE*31*0001~",
            "SE*29*0001~",
            "bad.837 fails 837P validation (1 error(s)): segment 33 (ST/SE): SE count of 29 for SE02=0001 is "
            "wrong. I count 31.",
            SE_FIX,
        ),
        (
            "SV1*HC:82947*25*",
            "SV1*HC:82947*ABC*",
            'bad.837 fails 837P validation (1 error(s)): segment 28 (SV1): Data element "Line Item Charge '
            'Amount" (SV102) is type R, contains an invalid character(ABC).',
            IG_FIX,
        ),
        (
            "IEA*1*000000101~\n",
            "",
            'bad.837 fails 837P validation (1 error(s)): segment 1 (ISA/IEA): Mandatory segment "Interchange '
            'Control Trailer" (IEA=000000101) missing.',
            "end the interchange with IEA*<number of GS groups>*<ISA13>~ and send the file again.",
        ),
        (
            "LX*2~",
            "LX*5~",
            "bad.837 fails 837P validation (1 error(s)): segment 27 (LX): Your 2400/LX01 Service Line "
            "Number 5 "
            "does not match my count of 2.",
            "number the 2400 LX segments 1, 2, 3 … within each claim.",
        ),
        (
            "GE*1*101~",
            "GE*2*101~",
            "bad.837 fails 837P validation (1 error(s)): segment 34 (GS/GE): GE count of 2 for GE02=101 is "
            "wrong. "
            "I count 1.",
            "make GE01 the number of ST transactions in the group and GE02 equal GS06.",
        ),
        (
            "DMG*D8*19500315*F~",
            "DMG*D8*19500315*X~",
            # DMG carries the birth date: its values are withheld like names and ids
            "bad.837 fails 837P validation (1 error(s)): segment 18 (DMG): element DMG03 is invalid "
            "(value withheld: it may identify a person).",
            IG_FIX,
        ),
        (
            "*00501*",
            "*00401*",
            "bad.837: segment 1 (ISA): ISA12 version '00401' is not 00501; chartcode reads 5010 837P files.",
            "send the claims as a 5010 837P (ISA12 00501, GS08 005010X222A1).",
        ),
        (
            "*X*005010X222A1~",
            "*X*005010X223A2~",
            "bad.837: segment 2 (GS): GS08 '005010X223A2' (an 837I, institutional) is not the 5010 837P "
            "(005010X222A1); chartcode checks professional claims.",
            "send the professional claims as a 5010 837P (GS01 HC, GS08 005010X222A1).",
        ),
        (
            "GS*HC*",
            "GS*HP*",
            "bad.837: segment 2: pyx12 cannot read the file: no implementation guide for icvn=00501, fic=HP, "
            "vriic=005010X222A1.",
            "send a 5010 837P (GS01 HC, GS08 and ST03 005010X222A1).",
        ),
    ],
    ids=[
        "se-count",
        "bad-element",
        "no-iea",
        "lx-number",
        "ge-count",
        "bad-code",
        "version-4010",
        "837i",
        "gs01",
    ],
)
def test_malformed_837_names_the_segment_and_the_fix(
    tmp_path: Path, old: str, new: str, message: str, fix: str
) -> None:
    text = medicare_text()
    assert old in text
    path = write(tmp_path, "bad.837", text.replace(old, new, 1))
    with pytest.raises(X12InputError) as err:
        list(read_claims(path))
    assert err.value.message == message.replace("bad.837", str(path))
    assert err.value.fix == fix
    assert err.value.code == "CC152" and isinstance(err.value, InputError)


def test_stored_broken_fixtures() -> None:
    with pytest.raises(X12InputError) as err:
        list(read_claims(FIXTURES / "claim_bad_se_count.837"))
    assert "segment 33 (ST/SE): SE count of 29 for SE02=0001 is wrong. I count 31." in err.value.message
    with pytest.raises(X12InputError) as err:
        list(read_claims(FIXTURES / "claim_missing_dtp.837"))
    assert err.value.message.endswith(
        'fails 837P validation (1 error(s)): segment 29 (DTP): Mandatory segment "Date - Service Date" (DTP) '
        "missing."
    )


def test_missing_clm_reports_every_misplaced_segment_in_order() -> None:
    text = medicare_text().replace("CLM*C1001*250***11:B:1*Y*A*Y*Y~\n", "")
    with pytest.raises(X12InputError) as err:
        read_x12(text, "x.837")
    msg = err.value.message
    assert msg.startswith(
        "x.837 fails 837P validation (13 error(s)): segment 20 (HI): segment HI*ABK:E1122 is not allowed "
        "here "
        "(after 2010BB/NM1): a required segment before it is missing or it is out of order; segment 21 "
        "(NM1): "
    )
    assert msg.endswith("(and 8 more).")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "hello world\n",
            "x.837: segment 1 must be the ISA interchange header; the file starts with 'hello world\\n'.",
        ),
        (
            "ISA*00*          *00*          *ZZ*SHORT*ZZ*R~GS*HC~",
            "x.837: segment 1 (ISA) is 45 characters with 8 separators; an ISA is exactly 106 characters "
            "with 16 "
            "elements of fixed width and ends with the segment terminator.",
        ),
    ],
)
def test_not_an_interchange(text: str, message: str) -> None:
    with pytest.raises(X12InputError) as err:
        read_x12(text, "x.837")
    assert err.value.message == message


def test_truncated_837_is_rejected() -> None:
    text = medicare_text()
    cut = text[: text.index("LX*2~")]
    with pytest.raises(X12InputError) as err:
        read_x12(cut, "cut.837")
    assert err.value.message.startswith("cut.837 fails 837P validation")
    assert '(ISA/IEA): Mandatory segment "Interchange Control Trailer"' in err.value.message


# --- JSON -------------------------------------------------------------------------------------


GOOD = {
    "id": "C1",
    "payer": {"id": "12202", "type": "medicare"},
    "patient": {"sex": "F", "birth_date": "1950-03-15"},
    "date_of_service": "2024-08-01",
    "diagnoses": ["E1122", "I10"],
    "lines": [{"code": "99214", "modifiers": ["25"], "dx_pointers": [1, 2]}, {"code": "j3301", "units": 2}],
}


def test_json_claim_is_validated_and_dx_dotted(tmp_path: Path) -> None:
    path = write(tmp_path, "claim.json", json.dumps(GOOD))
    (record,) = list(read_claims(path))
    claim = record.claim
    assert claim is not None and (record.claim_id, record.position) == ("C1", None)
    assert claim.diagnoses == ("E11.22", "I10")
    assert [(ln.code, ln.units) for ln in claim.lines] == [("99214", Decimal(1)), ("J3301", Decimal(2))]
    assert claim.line_date(1) == date(2024, 8, 1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"lines": [{"code": "99214", "units": 0}]},
            "claim C1: lines.1.units: Input should be greater than 0.",
        ),
        (
            {"payer": None, "lines": [{"code": "99214"}, {"code": "X", "modifiers": ["ABC"]}]},
            "claim C1: payer: Input should be a valid dictionary or instance of Payer; lines.2.modifiers: "
            "modifier 'ABC' is not two letters or digits.",
        ),
        ({"date_of_service": None}, "claim C1: line 1 has no date_of_service and the claim has none either."),
        ({"colour": "blue"}, "claim C1: colour: unknown field."),
        ({"patient": {"sex": "X"}}, "claim C1: patient.sex: Input should be 'F', 'M' or 'U'."),
        (
            {"id": 7, "lines": []},
            "claim 7: id: Input should be a valid string; lines: needs at least 1 item(s).",
        ),
    ],
)
def test_json_field_errors(change: dict[str, object], message: str) -> None:
    with pytest.raises(ClaimInputError) as err:
        parse_claim(GOOD | change)
    assert err.value.message == message
    assert err.value.code == "CC151"


def test_json_document_errors() -> None:
    with pytest.raises(ClaimInputError) as err:
        claim_from_json('{"id": "C1",', "c.json")
    assert (
        err.value.message
        == "c.json: not valid JSON at line 1, column 13: Expecting property name enclosed in double quotes."
    )
    with pytest.raises(ClaimInputError) as err:
        claim_from_json(json.dumps([GOOD]), "c.json")
    assert err.value.message == "c.json holds a JSON array, not one claim object."
    with pytest.raises(ClaimInputError) as err:
        parse_claim("C1")
    assert err.value.message == "the claim is a JSON string, not an object."


# --- JSONL ------------------------------------------------------------------------------------


def test_jsonl_bad_lines_become_error_records_and_the_batch_goes_on() -> None:
    lines = [
        json.dumps(GOOD),
        "",
        '{"id": "C2", "payer": {"id": "P"}',
        json.dumps(GOOD | {"id": "C3", "lines": [{"code": "99213", "units": -1}]}),
        "[1, 2]",
        json.dumps(GOOD | {"id": "C5"}),
        json.dumps({"payer": {"id": "P"}, "lines": [{"code": "99213"}], "date_of_service": "2024-13-01"}),
    ]
    records = list(iter_jsonl(lines))
    assert [(r.claim_id, r.position, r.claim is not None) for r in records] == [
        ("C1", 1, True),
        (None, 3, False),
        ("C3", 4, False),
        (None, 5, False),
        ("C5", 6, True),
        (None, 7, False),
    ]
    assert [r.error_dict() for r in records if r.error is not None] == [
        {
            "claim_id": None,
            "line": 3,
            "error": {
                "code": "CC151",
                "message": "line 3: not valid JSON at column 34: Expecting ',' delimiter.",
                "fix": "write one complete claim object per line (no line breaks inside a claim).",
            },
        },
        {
            "claim_id": "C3",
            "line": 4,
            "error": {
                "code": "CC151",
                "message": "claim C3 (line 4): lines.1.units: Input should be greater than 0.",
                "fix": records[2].error.fix if records[2].error else None,
            },
        },
        {
            "claim_id": None,
            "line": 5,
            "error": {
                "code": "CC151",
                "message": "the claim at line 5 is a JSON array, not an object.",
                "fix": 'give each claim as one JSON object: {"id": ..., "payer": {...}, "lines": [...]}.',
            },
        },
        {
            "claim_id": None,
            "line": 7,
            "error": {
                "code": "CC151",
                "message": "the claim at line 7: id: Field required; date_of_service: Input should be a "
                "valid "
                "date or datetime, month value is outside expected range of 1-12.",
                "fix": records[5].error.fix if records[5].error else None,
            },
        },
    ]


# --- formats and files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("a.json", "{}", "json"),
        ("a.JSONL", "{}", "jsonl"),
        ("a.ndjson", "{}", "jsonl"),
        ("a.837", "x", "x12"),
        ("a.edi", "x", "x12"),
        ("a.txt", "  ISA*00*", "x12"),
        ("-", '{"id": "C1"}\n', "json"),
        ("-", '{"id": "C1"}\n{"id": "C2"}\n', "jsonl"),
    ],
)
def test_detect_format(name: str, text: str, kind: str) -> None:
    assert detect_format(name, text) == kind


def test_unknown_format_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        detect_format("claims.csv", "id,code\n")
    assert err.value.message == "claims.csv: cannot tell what kind of claim file this is."
    with pytest.raises(InputError) as err:
        list(read_claims(tmp_path / "nope.json"))
    assert err.value.message == f"file {tmp_path / 'nope.json'} does not exist."
    empty = write(tmp_path, "e.jsonl", "\n\n")
    with pytest.raises(InputError) as err:
        list(read_claims(empty))
    assert err.value.message == f"{empty} is empty."
    latin = tmp_path / "l.json"
    latin.write_bytes(b'{"id": "caf\xe9"}')
    with pytest.raises(InputError) as err:
        list(read_claims(latin))
    assert err.value.message == f"{latin}: byte 12 is not UTF-8 text."


def test_records_are_plain_values() -> None:
    record = ClaimRecord(None, "C9", 4, "line", ClaimInputError("bad", "fix"))
    assert record.error_dict() == {
        "claim_id": "C9",
        "line": 4,
        "error": {"code": "CC151", "message": "bad", "fix": "fix"},
    }


def test_837_on_one_line_with_other_separators() -> None:
    """Segment terminators without line breaks, and | as the element separator (taken from the ISA)."""
    text = medicare_text().replace("~\n", "~").replace("*", "|")
    (record,) = read_x12(text, "one-line.837")
    assert record.claim is not None and record.position == 20
    assert [ln.code for ln in record.claim.lines] == ["99214", "82947", "J3301"]
    with pytest.raises(X12InputError) as err:
        read_x12(text.replace("SE|31|", "SE|30|"), "one-line.837")
    assert "segment 33 (ST/SE): SE count of 30 for SE02=0001 is wrong. I count 31." in err.value.message


@pytest.mark.parametrize(
    "old,new",
    [
        ("NM1*IL*1*DOE*JANE", "NM1*IL*1*" + "DOE" * 30 + "*JANE"),  # NM103 too long
        ("NM1*IL*1*DOE*JANE****MI*1EG4TE5MK72", "NM1*IL*1*DOE*JANE****MI*" + "1EG4TE5MK72" * 9),
    ],
    ids=["name", "member-id"],
)
def test_837_errors_withhold_identifying_values(tmp_path: Path, old: str, new: str) -> None:
    path = write(tmp_path, "phi.837", medicare_text().replace(old, new, 1))
    with pytest.raises(X12InputError) as err:
        list(read_claims(path))
    said = f"{err.value.message} {err.value.fix}"
    assert "DOEDOE" not in said and "1EG4TE5MK721EG4" not in said and "JANE" not in said
    assert "(NM1)" in said and "value withheld" in said
