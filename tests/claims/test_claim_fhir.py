"""The FHIR R4 Claim: validates with fhir.resources and carries the same codes as the claim."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.claim import Claim as FhirClaim

from chartcode.claims.fhir import (
    CPT_SYSTEM,
    HCPCS_SYSTEM,
    ICD10CM_SYSTEM,
    NPI_SYSTEM,
    FhirClaimError,
    to_fhir,
)
from chartcode.claims.model import parse_encounter


def test_fhir_claim_validates_and_matches(encounter_dict: dict[str, Any]) -> None:
    claim = parse_encounter(encounter_dict)
    data = to_fhir(claim, created=date(2024, 8, 16))
    model = FhirClaim.model_validate(data)  # validates again from the JSON
    assert model.id == claim.id and data["created"] == "2024-08-16"
    assert [d["diagnosisCodeableConcept"]["coding"][0] for d in data["diagnosis"]] == [
        {"system": ICD10CM_SYSTEM, "code": code} for code in claim.diagnoses
    ]
    assert [d["sequence"] for d in data["diagnosis"]] == [1, 2, 3]
    assert data["diagnosis"][0]["type"][0]["coding"][0]["code"] == "principal"
    items = data["item"]
    assert [i["productOrService"]["coding"][0]["code"] for i in items] == [line.code for line in claim.lines]
    assert items[0]["productOrService"]["coding"][0]["system"] == CPT_SYSTEM
    assert items[2]["productOrService"]["coding"][0]["system"] == HCPCS_SYSTEM
    assert [i["diagnosisSequence"] for i in items] == [list(line.dx_pointers) for line in claim.lines]
    assert [[m["coding"][0]["code"] for m in i.get("modifier", [])] for i in items] == [["25"], ["RT"], []]
    assert [i["quantity"]["value"] for i in items] == [1, 1, 4]
    assert [i["net"]["value"] for i in items] == [185.0, 140.0, 24.0]
    assert items[2]["unitPrice"] == {"value": 6.0, "currency": "USD"}
    assert {i["locationCodeableConcept"]["coding"][0]["code"] for i in items} == {"11"}
    assert [i["servicedDate"] for i in items] == ["2024-08-15"] * 3
    assert data["total"] == {"value": 349.0, "currency": "USD"}
    assert data["insurance"][0]["preAuthRef"] == ["PA24081501"]
    contained = {r["id"]: r for r in data["contained"]}
    assert {r["resourceType"] for r in contained.values()} == {
        "Patient",
        "Organization",
        "Practitioner",
        "Coverage",
    }
    assert {"system": NPI_SYSTEM, "value": "1987654328"} in contained["billing"]["identifier"]
    assert contained["rendering"]["identifier"][0] == {"system": NPI_SYSTEM, "value": "1555555550"}
    assert contained["patient"]["birthDate"] == "1952-03-01" and contained["patient"]["gender"] == "male"
    assert contained["coverage"]["subscriberId"] == "7TK4WQ2RM53"
    assert contained["coverage"]["relationship"]["coding"][0]["code"] == "self"
    assert data["provider"] == {"reference": "#billing"} and data["patient"] == {"reference": "#patient"}


def test_dependent_has_related_person_subscriber(dependent_dict: dict[str, Any]) -> None:
    claim = parse_encounter(dependent_dict)
    data = to_fhir(claim, created=date(2024, 8, 16))
    FhirClaim.model_validate(data)
    contained = {r["id"]: r for r in data["contained"]}
    assert contained["subscriber"]["resourceType"] == "RelatedPerson"
    assert contained["coverage"]["subscriber"] == {"reference": "#subscriber"}
    assert contained["coverage"]["relationship"]["coding"][0]["code"] == "child"
    assert contained["coverage"]["class"][0]["value"] == "GRP-88120"
    assert "careTeam" not in data and "rendering" not in contained
    assert data["item"][1]["locationCodeableConcept"]["coding"][0]["code"] == "20"
    assert data["related"][0]["reference"]["value"] == "PAYERICN000123"


def test_missing_charge_is_an_error(encounter_dict: dict[str, Any]) -> None:
    encounter_dict["lines"][0].pop("charge")
    with pytest.raises(FhirClaimError, match=r"lines\.1\.charge"):
        to_fhir(parse_encounter(encounter_dict))
