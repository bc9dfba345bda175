"""Matching 835 claim and service payments back to the claims and lines that were sent."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from chartcode.claims.match import (
    RemitClaimsError,
    SubmittedClaim,
    load_claims,
    match,
)
from chartcode.claims.remit import read_835
from chartcode.edits.io import parse_claim

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CLAIMS = REPO / "examples" / "remit_claims.jsonl"


@pytest.fixture(scope="module")
def sent() -> list[SubmittedClaim]:
    return load_claims([CLAIMS])


def lines_of(result: object) -> list[tuple[str, int | None, str, tuple[str, ...]]]:
    return [(m.service.procedure.code, m.line_number, m.how, m.notes) for m in result.lines]  # type: ignore[attr-defined]


def test_load_claims_keeps_submission_date_and_control_numbers(sent: list[SubmittedClaim]) -> None:
    assert [c.id for c in sent] == [f"RC10{n:02d}" for n in range(1, 12)]
    rc1010 = next(c for c in sent if c.id == "RC1010")
    assert rc1010.submitted == date(2026, 1, 9)
    assert rc1010.control_numbers == (None, "RC1010-2", None)
    assert rc1010.control_number(1) == "RC1010-2" and rc1010.control_number(0) is None
    assert rc1010.claim.lines[0].modifiers == ("RT", "59")


def test_exact_match_by_code_date_units_and_charge(sent: list[SubmittedClaim]) -> None:
    result = match(read_835(FIXTURES / "paid.835"), sent)
    first, second = result.claims
    assert first.claim is not None and first.claim.id == "RC1001"
    assert lines_of(first) == [("99213", 1, "exact", ()), ("36415", 2, "exact", ())]
    assert lines_of(second) == [("99214", 1, "exact", ()), ("81002", 2, "exact", ())]
    assert first.unreported_lines == () and first.notes == ()


def test_reordered_modifiers_ref_6r_and_changed_code(sent: list[SubmittedClaim]) -> None:
    [claim] = match(read_835(FIXTURES / "modifiers.835"), sent).claims
    assert lines_of(claim) == [
        ("20611", 1, "modifiers_reordered", ("payer reordered the modifiers (RT-59 sent, 59-RT returned)",)),
        ("99213", 2, "control_number", ("payer dropped modifier(s) 25",)),
        ("99214", 3, "exact", ("payer changed the code from 99215 to 99214",)),
    ]


def test_dropped_modifiers_match_with_a_note(sent: list[SubmittedClaim]) -> None:
    result = match(read_835(FIXTURES / "denials.835"), sent)
    by_id = {m.payment.claim_id: m for m in result.claims}
    assert lines_of(by_id["RC1003"])[1] == (
        "20610",
        2,
        "modifiers_dropped",
        ("payer dropped modifier(s) RT",),
    )
    # units reduced by the payer: SVC07 carries the 4 units sent, SVC05 the 2 paid
    assert lines_of(by_id["RC1005"]) == [
        ("97110", 1, "modifiers_dropped", ("payer dropped modifier(s) GP", "payer allowed 2 of 4 unit(s)")),
        ("99213", 2, "modifiers_dropped", ("payer dropped modifier(s) 25",)),
    ]
    assert by_id["RC1006"].lines == ()
    assert by_id["RC1006"].notes == (
        "the payer adjudicated the claim as a whole (no service lines on the remittance)",
    )


def test_exact_modifiers_win_over_a_dropped_modifier_candidate() -> None:
    claim = parse_claim(
        {
            "id": "RC1010",
            "payer": {"id": "99999"},
            "date_of_service": "2026-01-05",
            "lines": [
                {"code": "20611", "modifiers": ["RT", "59", "XS"], "charge": "300"},
                {"code": "20611", "modifiers": ["59", "RT"], "charge": "300"},
                {"code": "99213", "modifiers": ["25"], "charge": "120"},
                {"code": "99215", "charge": "250"},
            ],
        }
    )
    [result] = match(read_835(FIXTURES / "modifiers.835"), [claim]).claims
    assert [(m.line_number, m.how) for m in result.lines] == [
        (2, "exact"),
        (3, "modifiers_dropped"),  # REF*6R RC1010-2 is on no line here: matched by attributes
        (4, "exact"),
    ]
    assert result.unreported_lines == (1,)
    assert result.notes == ("line 1 (20611-RT-59-XS) is not on the remittance",)


def test_numeric_ref_6r_is_read_as_the_line_number(tmp_path: Path) -> None:
    text = (FIXTURES / "modifiers.835").read_text().replace("REF*6R*RC1010-2", "REF*6R*2")
    path = tmp_path / "r.835"
    path.write_text(text)
    claim = parse_claim(
        {
            "id": "RC1010",
            "payer": {"id": "99999"},
            "date_of_service": "2026-01-05",
            "lines": [
                {"code": "20611", "modifiers": ["RT", "59"], "charge": "300"},
                {"code": "99213", "modifiers": ["25"], "charge": "999"},  # charge differs: 6R decides
                {"code": "99215", "charge": "250"},
            ],
        }
    )
    [result] = match(read_835(path), [claim]).claims
    second = result.lines[1]
    assert (second.line_number, second.how) == (2, "control_number")
    assert second.notes == (
        "REF*6R 2 read as the line number",
        "payer dropped modifier(s) 25",
        "charge differs (999 sent, 120 returned)",
    )


def test_same_code_and_date_with_other_units_is_a_partial_match() -> None:
    claim = parse_claim(
        {
            "id": "RC1003",
            "payer": {"id": "99999"},
            "date_of_service": "2026-01-05",
            "lines": [
                {"code": "99214", "modifiers": ["25"], "charge": "200"},
                {"code": "20610", "modifiers": ["RT"], "charge": "150"},
                {"code": "J3301", "units": 3, "charge": "90"},
            ],
        }
    )
    remit = read_835(FIXTURES / "denials.835")
    result = next(m for m in match(remit, [claim]).claims if m.payment.claim_id == "RC1003")
    assert (result.lines[2].line_number, result.lines[2].how) == (3, "partial")
    assert result.lines[2].notes == (
        "units differ (3 sent, 2 returned as submitted)",
        "charge differs (90 sent, 60 returned)",
    )


def test_lines_on_another_date_or_with_extra_modifiers_do_not_match() -> None:
    claim = parse_claim(
        {
            "id": "RC1001",
            "payer": {"id": "99999"},
            "lines": [
                {"code": "99213", "date_of_service": "2026-01-06", "charge": "120"},
                {"code": "36415", "modifiers": ["90"], "date_of_service": "2026-01-05", "charge": "15"},
            ],
        }
    )
    [first, _] = match(read_835(FIXTURES / "paid.835"), [claim]).claims
    assert [(m.line_number, m.how) for m in first.lines] == [(None, "unmatched"), (2, "modifiers_dropped")]
    assert first.lines[0].notes == ("no submitted line has 99213 on 2026-01-05 with these modifiers",)
    assert first.unreported_lines == (1,)


def test_reversal_matches_the_original_line(sent: list[SubmittedClaim]) -> None:
    reversal, corrected = match(read_835(FIXTURES / "reversal.835"), sent).claims
    assert lines_of(reversal) == [("99213", 1, "exact", ())]
    assert lines_of(corrected) == [("99214", 1, "exact", ("payer changed the code from 99213 to 99214",))]


def test_unmatched_claims_and_payments(sent: list[SubmittedClaim]) -> None:
    result = match(read_835(REPO / "examples" / "remit.835"), sent)
    assert [c.id for c in result.unmatched_claims] == ["RC1011"]
    assert all(m.claim is not None for m in result.claims)
    only_one = [c for c in sent if c.id == "RC1001"]
    result = match(read_835(FIXTURES / "paid.835"), only_one)
    orphan = result.claims[1]
    assert orphan.claim is None and orphan.notes == ("no submitted claim has the id RC1002 (CLP01)",)
    assert [m.how for m in orphan.lines] == ["unmatched", "unmatched"]
    assert result.to_dict()["unmatched_claims"] == []


def test_without_claims_nothing_is_matched_or_reported() -> None:
    result = match(read_835(FIXTURES / "paid.835"))
    assert all(m.claim is None and m.notes == () for m in result.claims)
    assert result.unmatched_claims == ()


def test_837_claims_are_dated_by_bht() -> None:
    [c] = load_claims([REPO / "tests" / "edits" / "fixtures" / "claim_medicare.837"])
    assert (c.id, c.submitted, c.control_numbers) == ("C1001", date(2024, 8, 5), (None, None, None))
    [result] = match(read_835(FIXTURES / "medicare.835"), [c]).claims
    assert lines_of(result) == [
        ("99214", 1, "modifiers_dropped", ("payer dropped modifier(s) 25",)),
        ("82947", 2, "exact", ()),
        ("J3301", 3, "exact", ()),
    ]


def test_encounter_claims_match_by_their_line_control_numbers() -> None:
    [c] = load_claims([REPO / "examples" / "encounter.json"])
    assert type(c.claim).__name__ == "EncounterClaim"
    assert [c.control_number(i) for i in range(3)] == ["L1", "L2", "L3"]
    [result] = match(read_835(FIXTURES / "encounter.835"), [c]).claims
    # the payer listed the lines in another order: REF*6R puts each back on its own line
    assert [(m.service.procedure.code, m.line_number, m.how) for m in result.lines] == [
        ("J3301", 3, "control_number"),
        ("99214", 1, "control_number"),
        ("20610", 2, "control_number"),
    ]
    assert result.lines[2].notes == ("payer dropped modifier(s) RT",)


def test_json_array_and_single_object(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in CLAIMS.read_text().splitlines()]
    array = tmp_path / "claims.json"
    array.write_text(json.dumps(rows[:2]))
    single = tmp_path / "claim.json"
    single.write_text(json.dumps(rows[2]))
    loaded = load_claims([array, single])
    assert [c.id for c in loaded] == ["RC1001", "RC1002", "RC1003"]
    assert loaded[2].claim.lines[2].charge == Decimal(60)


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ('{"id": "X", "payer": {"id": "P"}, "lines": []}', "c.json", "lines: needs at least 1 item"),
        (
            '{"id": "X", "submitted": "soon", "payer": {"id": "P"}}',
            "c.json",
            "submitted 'soon' is not a date",
        ),
        ('{"id": "X"\n', "c.jsonl", "line 1: not valid JSON"),
        ("[1]", "c.json", "claim 1 is not a JSON object"),
        ('{"id": ', "c.json", "c.json: not valid JSON at line 1"),
        (
            '{"id": "E1", "billing_provider": {"npi": "1234567890"}, "payer": {"id": "P"}}',
            "c.json",
            "billing_provider.npi: NPI 1234567890 fails its check digit",
        ),
    ],
)
def test_bad_claims_files(tmp_path: Path, content: str, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(RemitClaimsError) as info:
        load_claims([path])
    assert message in info.value.message and info.value.code == "CC522"


def test_missing_claims_file(tmp_path: Path) -> None:
    with pytest.raises(RemitClaimsError, match="does not exist"):
        load_claims([tmp_path / "nope.jsonl"])


def test_an_837p_written_by_chartcode_claim_matches_by_ref_6r(tmp_path: Path) -> None:
    """Claims out and back: the example encounter as chartcode's 837P, then the payer's 835 for it."""
    from datetime import datetime

    from chartcode.claims.denials import analyse
    from chartcode.claims.model import encounter_from_json
    from chartcode.claims.x837 import EnvelopeOptions, to_837p

    encounter = encounter_from_json((REPO / "examples" / "encounter.json").read_text(encoding="utf-8"))
    sent = tmp_path / "sent.837"
    sent.write_text(to_837p(encounter, EnvelopeOptions(created=datetime(2024, 8, 20, 9, 30))))
    [claim] = load_claims([sent])
    assert (claim.id, claim.submitted, claim.control_numbers) == (
        "ENC-2024-0815-001",
        date(2024, 8, 20),
        ("L1", "L2", "L3"),
    )
    analysis = analyse(read_835(FIXTURES / "encounter.835"), [claim])
    [result] = analysis.claims
    assert [
        (line.service.procedure.code, line.match and line.match.line_number) for line in result.lines
    ] == [
        ("J3301", 3),
        ("99214", 1),
        ("20610", 2),
    ]
    assert result.days_to_pay == 21  # BHT 2024-08-20 to the payment on 2024-09-10
    assert analysis.summary.first_pass_resolved == 1
