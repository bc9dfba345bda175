"""The encounter claim model: field-level errors, NPI check digits, canonical form, scrubber compatibility."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from chartcode.claims.model import (
    EncounterClaim,
    EncounterClaimError,
    encounter_from_json,
    npi_check_digit_ok,
    parse_encounter,
)
from chartcode.codesets.kb import KnowledgeBase
from chartcode.edits.api import check
from chartcode.edits.model import Claim


@pytest.mark.parametrize(
    ("npi", "ok"),
    [
        ("1234567893", True),
        ("1234567890", False),
        ("1987654328", True),
        ("1987654329", False),
        ("123456789", False),
    ],
)
def test_npi_check_digit(npi: str, ok: bool) -> None:
    assert npi_check_digit_ok(npi) is ok


def test_example_encounter_is_a_scrubber_claim(encounter_dict: dict[str, Any]) -> None:
    claim = parse_encounter(encounter_dict)
    assert isinstance(claim, Claim)
    assert claim.payer.filing_indicator == "MB"
    assert claim.rendering_specialty == "207Q00000X"
    assert claim.billing_provider.tax_id == "421234567"
    assert (
        claim.billing_provider.address is not None
        and claim.billing_provider.address.postal_code == "503091234"
    )
    assert claim.submitter.contact_phone == "5155550100"


def test_patient_who_is_subscriber_takes_subscriber_demographics(encounter_dict: dict[str, Any]) -> None:
    claim = parse_encounter(encounter_dict)
    assert claim.patient_is_subscriber
    assert (claim.patient.last_name, claim.patient.sex) == ("Lindqvist", "M")
    assert claim.patient.birth_date == claim.subscriber.birth_date
    assert claim.patient.address == claim.subscriber.address
    assert all(line.date_of_service == claim.date_of_service for line in claim.lines)


def test_claim_date_is_the_first_line_date(encounter_dict: dict[str, Any]) -> None:
    encounter_dict["lines"][0]["date_of_service"] = "2024-08-17"
    encounter_dict["lines"][1]["date_of_service"] = "2024-08-16"
    encounter_dict["lines"][2]["date_of_service"] = "2024-08-18"
    claim = parse_encounter(encounter_dict)
    assert str(claim.date_of_service) == "2024-08-16"
    encounter_dict.pop("date_of_service")
    assert parse_encounter(encounter_dict) == claim


def test_field_level_errors(encounter_dict: dict[str, Any]) -> None:
    bad = copy.deepcopy(encounter_dict)
    bad["billing_provider"]["npi"] = "1987654321"
    bad["subscriber"].pop("member_id")
    bad["lines"][1]["units"] = 0
    bad["payer"]["name"] = "Bad*Name"
    with pytest.raises(EncounterClaimError) as err:
        parse_encounter(bad)
    message = err.value.message
    assert err.value.code == "CC500"
    assert "billing_provider.npi: NPI 1987654321 fails its check digit" in message
    assert "subscriber.member_id: Field required" in message
    assert "lines.2.units" in message
    assert "payer.name: may not contain the X12 delimiters" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["lines"][0].update(dx_pointers=[4]), "lines.1.dx_pointers: pointer 4 has no diagnosis"),
        (lambda d: d["lines"][0].update(dx_pointers=[]), "lines.1.dx_pointers: each line points"),
        (lambda d: d.update(frequency_code="7"), "original_claim_number"),
        (lambda d: d["billing_provider"]["address"].update(postal_code="50309"), "9 digits"),
        (lambda d: d["billing_provider"].pop("tax_id"), "billing_provider.tax_id"),
        (lambda d: d["billing_provider"].update(last_name="Smith"), "either organization"),
        (lambda d: d["billing_provider"].update(taxonomy="207Q0000"), "billing_provider.taxonomy"),
        (lambda d: d.update(diagnoses=[]), "at least one diagnosis"),
        (lambda d: d["submitter"].pop("contact_phone"), "submitter.contact_phone"),
        (lambda d: d["patient"].update(relationship="19"), "patient"),
        (lambda d: d.update(surprise=1), "surprise: unknown field"),
    ],
)
def test_one_bad_field(encounter_dict: dict[str, Any], change: Any, expected: str) -> None:
    change(encounter_dict)
    with pytest.raises(EncounterClaimError, match=expected.replace(".", r"\.").replace("(", r"\(")):
        parse_encounter(encounter_dict)


def test_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(EncounterClaimError, match=r"enc\.json: not valid JSON at line 2, column"):
        encounter_from_json('{"id": "A",\n "lines": [}', "enc.json")
    with pytest.raises(EncounterClaimError, match="not a JSON object"):
        encounter_from_json("[1, 2]", "enc.json")


def test_dotless_diagnoses_are_dotted(encounter_dict: dict[str, Any]) -> None:
    encounter_dict["diagnoses"] = ["E1122", "N1831", "M1711"]
    assert parse_encounter(encounter_dict).diagnoses == ("E11.22", "N18.31", "M17.11")


def test_to_json_round_trips(encounter_dict: dict[str, Any]) -> None:
    claim = parse_encounter(encounter_dict)
    assert EncounterClaim.model_validate(claim.to_json()) == claim


def test_scrubber_runs_unchanged(encounter_dict: dict[str, Any], full_kb: KnowledgeBase) -> None:
    claim = parse_encounter(encounter_dict)
    assert check(claim, full_kb).findings == ()
    encounter_dict["lines"][0]["modifiers"] = []  # 99214 with 20610 the same day needs modifier 25
    findings = check(parse_encounter(encounter_dict), full_kb).findings
    assert any(f.severity == "error" for f in findings)
