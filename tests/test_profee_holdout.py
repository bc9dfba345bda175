"""The held-out professional-fee set (``profee_holdout.jsonl``): it loads under the golden-set contract and
every code it expects is valid on its note's date of service in the full knowledge base."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartcode.codesets.kb import KnowledgeBase
from chartcode.eval import profee
from chartcode.eval.profee import GoldenNote

HOLDOUT = Path(profee.__file__).parent / "data" / "profee_holdout.jsonl"


@pytest.fixture(scope="module")
def holdout() -> list[GoldenNote]:
    return profee.load_golden(HOLDOUT)


def test_holdout_loads_and_is_a_separate_split(holdout: list[GoldenNote]) -> None:
    assert len(holdout) == 16
    assert len({n.id for n in holdout}) == len(holdout)
    assert {n.split for n in holdout} == {"holdout"}
    for note in holdout:
        # inside the installed quarter of HCPCS, NCCI and the fee schedule (2024Q3)
        assert "2024-07-01" <= note.date_of_service.isoformat() <= "2024-09-30", note.id
        assert note.patient is not None and note.patient.age is not None and note.patient.sex, note.id
        assert note.expected.diagnoses, note.id
        for line in note.expected.procedures:
            assert line.dx, (note.id, line.code)
            assert set(line.dx) <= set(note.expected.diagnoses), (note.id, line.code)  # pointers resolve


def test_holdout_covers_what_it_was_written_for(holdout: list[GoldenNote]) -> None:
    by_id = {n.id: n for n in holdout}
    em = {n.expected.em.code for n in holdout if n.expected.em}
    assert {"99203", "99205", "99212", "99213", "99214", "99215", "99284", "99232"} <= em
    assert {n.expected.em.method for n in holdout if n.expected.em} == {"MDM", "time"}
    assert any(n.setting == "inpatient" for n in holdout)
    lines = {(line.code, line.modifiers, line.units) for n in holdout for line in n.expected.procedures}
    assert ("J1010", (), 80) in lines  # methylprednisolone acetate 80 mg, per 1 mg
    assert ("J1885", (), 4) in lines  # ketorolac 60 mg, per 15 mg
    assert ("20610", ("LT",), 1) in lines and ("73110", ("LT",), 1) in lines
    assert ("90461", (), 6) in lines  # additional vaccine components, counselled child
    assert {"12002", "11402", "11642", "12052", "93000", "94010", "85025", "36415", "96372"} <= {
        c for c, _, _ in lines
    }
    procedure_only = [n for n in holdout if n.expected.em is None and n.expected.procedures]
    assert any(all(p.code[:3] != "993" for p in n.expected.procedures) for n in procedure_only)
    billed = [n for n in holdout if n.billed_em]
    assert [n.id for n in billed] == ["hx16-billed-too-high-hypothyroid"]
    too_high = by_id["hx16-billed-too-high-hypothyroid"]
    assert too_high.billed_em == "99215"
    assert too_high.expected.em is not None and too_high.expected.em.code == "99213"


def test_every_holdout_code_is_valid_on_its_date(holdout: list[GoldenNote], full_kb: KnowledgeBase) -> None:
    """ICD-10-CM and HCPCS codes valid and billable on the date of service (HCPCS with a CMS description),
    CPT numbers valid, and units within the practitioner MUE where CMS publishes one."""
    problems: list[str] = []
    checked = 0
    for note in holdout:
        day = note.date_of_service
        for code, system in profee.expected_codes(note):
            checked += 1
            v = full_kb.validity(code, day, system)
            if not v.valid:
                problems.append(f"{note.id}: {v.message}")
                continue
            found = full_kb.lookup(code, day, system)
            if system in ("icd10cm", "hcpcs") and not (found.billable and found.description):
                problems.append(f"{note.id}: {code} is not billable or has no description on {day}")
        for line in note.expected.procedures:
            mue = full_kb.lookup(line.code, day).edits.get("mue", {}).get("practitioner")
            if mue and mue["mue"] and line.units > mue["mue"]:
                problems.append(f"{note.id}: {line.code} x{line.units} is above its MUE {mue['mue']}")
    assert problems == []
    assert checked > 60
    assert profee.invalid_expected_codes(holdout, lambda c, d, s: full_kb.validity(c, d, s).valid) == []


def test_the_validity_check_catches_a_code_retired_before_the_date(
    holdout: list[GoldenNote], full_kb: KnowledgeBase
) -> None:
    """The same check fails when a note expects methylprednisolone acetate 80 mg as J1040, retired
    2024-03-31 (J1010, per 1 mg, replaced it), so the test above can fail."""
    note = next(n for n in holdout if n.id == "hx08-knee-injection-methylpred")
    lines = tuple(
        line.model_copy(update={"code": "J1040", "units": 1}) if line.code == "J1010" else line
        for line in note.expected.procedures
    )
    bad = note.model_copy(update={"expected": note.expected.model_copy(update={"procedures": lines})})
    assert profee.invalid_expected_codes([bad], lambda c, d, s: full_kb.validity(c, d, s).valid) == [
        "hx08-knee-injection-methylpred: J1040 (hcpcs)"
    ]
