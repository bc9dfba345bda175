"""Coded note → claim: diagnoses in order (at most 12), E/M first, procedures, charges; then the round
trip claim → 837P (validated) → parsed back equal."""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from chartcode.assign.api import CodingOptions
from chartcode.assign.coder import Coder
from chartcode.claims.build import HEADER_FIELDS, claim_from_coding
from chartcode.claims.model import EncounterClaimError, parse_encounter
from chartcode.claims.x837 import EnvelopeOptions, parse_837p, to_837p
from chartcode.codesets.kb import KnowledgeBase
from chartcode.edits.api import check

EXAMPLE_FEES = {("99214", ""): Decimal("185"), ("20610", ""): Decimal("140"), ("J3301", ""): Decimal("6")}
NOTE = (
    "OFFICE VISIT\nSynthetic note, no real patient.\n"
    "ASSESSMENT AND PLAN:\n"
    "1. Type 2 diabetes mellitus with diabetic chronic kidney disease stage 3a.\n"
    "2. Primary osteoarthritis of the right knee.\n"
)


def header_of(encounter: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in encounter.items() if k in HEADER_FIELDS}


def coding_dict() -> dict[str, Any]:
    return {
        "diagnoses": [{"code": "E11.22"}, {"code": "N18.31"}, {"code": "M17.11"}],
        "date_of_service": "2024-08-15",
        "em": {"code": "99214", "modifiers": ["25"], "dx_pointers": [1, 2], "level": 4},
        "procedures": [
            {"code": "20610", "system": "CPT", "modifiers": ["RT"], "units": 1, "dx_pointers": [3]},
            {"code": "J3301", "system": "HCPCS", "modifiers": [], "units": 4, "dx_pointers": [3]},
        ],
    }


def test_coded_encounter_is_the_example_claim(encounter_dict: dict[str, Any]) -> None:
    claim = claim_from_coding(coding_dict(), header_of(encounter_dict), fees=EXAMPLE_FEES)
    for line in encounter_dict["lines"]:
        line.pop("control_number")
    assert claim == parse_encounter(encounter_dict)


class _Result:
    """Anything with ``to_dict()`` (a CodingResult) is accepted."""

    def to_dict(self) -> dict[str, Any]:
        return coding_dict()


def test_em_first_then_procedures_and_pfs_charges(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase
) -> None:
    data = coding_dict()
    data["procedures"].reverse()
    data["em"]["dx_pointers"] = []
    claim = claim_from_coding(data, header_of(encounter_dict), kb=full_kb)
    assert [line.code for line in claim.lines] == ["99214", "J3301", "20610"]
    assert claim.lines[0].dx_pointers == (1,)  # no pointers: the first-listed diagnosis
    assert claim.lines[0].modifiers == ("25",)
    # PFS amounts (Iowa, non-facility) × units; J3301 is not priced by the PFS and keeps no charge
    assert claim.lines[0].charge is not None and claim.lines[0].charge > 0
    assert claim.lines[1].charge is None
    assert claim_from_coding(_Result(), header_of(encounter_dict), fees=EXAMPLE_FEES).lines[
        2
    ].charge == Decimal(24)


def test_more_than_twelve_diagnoses(encounter_dict: dict[str, Any]) -> None:
    codes = [
        "E11.22",
        "N18.31",
        "I10",
        "E78.5",
        "Z79.4",
        "Z79.84",
        "R05.1",
        "M17.11",
        "K21.9",
        "J45.909",
        "G47.33",
        "F41.1",
        "M17.12",
        "E66.9",
    ]
    data = coding_dict()
    data["diagnoses"] = [{"code": c} for c in codes]
    data["em"]["dx_pointers"] = [1, 2]
    data["procedures"] = [
        {"code": "20610", "modifiers": ["LT"], "units": 1, "dx_pointers": [13]},
        {"code": "20610", "modifiers": ["RT"], "units": 1, "dx_pointers": [8]},
    ]
    claim = claim_from_coding(data, header_of(encounter_dict), fees=EXAMPLE_FEES)
    assert len(claim.diagnoses) == 12
    assert claim.diagnoses[0] == "E11.22"
    assert "M17.12" in claim.diagnoses and "M17.11" in claim.diagnoses
    assert claim.diagnoses[claim.lines[1].dx_pointers[0] - 1] == "M17.12"
    assert claim.diagnoses[claim.lines[2].dx_pointers[0] - 1] == "M17.11"
    assert codes[:12] != list(claim.diagnoses)  # something unpointed made room for M17.12


def test_duplicate_diagnoses_are_merged(encounter_dict: dict[str, Any]) -> None:
    data = coding_dict()
    data["diagnoses"] = ["E11.22", "M17.11", "E11.22", "N18.31"]
    data["em"]["dx_pointers"] = [3, 4]
    data["procedures"] = [{"code": "20610", "modifiers": ["RT"], "dx_pointers": [2]}]
    claim = claim_from_coding(data, header_of(encounter_dict), fees=EXAMPLE_FEES)
    assert claim.diagnoses == ("E11.22", "M17.11", "N18.31")
    assert claim.lines[0].dx_pointers == (1, 3) and claim.lines[1].dx_pointers == (2,)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c, h: h.update(lines=[]), "header: unknown field"),
        (lambda c, h: c.update(diagnoses=[]), "no diagnoses"),
        (lambda c, h: c.update(em=None, procedures=[]), "nothing to bill"),
        (lambda c, h: c["procedures"][0].pop("code"), "procedure 1 has no code"),
        (lambda c, h: h["billing_provider"].update(npi="1111111111"), "billing_provider.npi"),
    ],
)
def test_build_errors(encounter_dict: dict[str, Any], change: Any, message: str) -> None:
    coding, header = coding_dict(), copy.deepcopy(header_of(encounter_dict))
    change(coding, header)
    with pytest.raises(EncounterClaimError, match=message):
        claim_from_coding(coding, header, fees=EXAMPLE_FEES)


def test_coded_note_to_837p_and_back(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    """The real coder codes a synthetic note; its E/M and procedures become the lines (an office visit is
    added only when the coder gives no service at all), and the claim survives the 837P round trip."""
    result = Coder(full_kb).code(
        NOTE, CodingOptions(date_of_service=date(2024, 8, 15), patient_age=72, patient_sex="M")
    )
    coded = result.to_dict()
    assert coded["diagnoses"], "the coder found no diagnosis"
    codes = [d["code"] for d in coded["diagnoses"]]
    assert "E11.22" in codes and "M17.11" in codes
    if not coded.get("em") and not coded.get("procedures"):
        coded["em"] = {"code": "99214", "modifiers": [], "dx_pointers": [codes.index("E11.22") + 1]}
    services = ([coded["em"]] if coded.get("em") else []) + list(coded.get("procedures") or [])
    claim = claim_from_coding(coded, header_of(encounter_dict), kb=full_kb)
    assert list(claim.diagnoses) == list(dict.fromkeys(codes))[:12]
    assert [line.code for line in claim.lines] == [s["code"] for s in services]
    assert [line.modifiers for line in claim.lines] == [tuple(s.get("modifiers") or ()) for s in services]
    assert check(claim, full_kb).claim_id == claim.id  # the scrubber runs on the built claim
    text = to_837p(claim, EnvelopeOptions(control_number=9, created=datetime(2024, 8, 16, 8, 0)))
    assert parse_837p(text) == [claim]
