"""The encounter claim as a FHIR R4 Claim (fhir.resources, R4B models: FHIR 4.3, R4-compatible).

The Claim carries its Patient, billing Organization (or Practitioner), rendering Practitioner, payer
Organization and Coverage as contained resources, so the JSON stands alone. Diagnoses keep the claim
order (sequence 1 is the principal diagnosis); each item points to them with ``diagnosisSequence``
(the 837P pointers), carries the CPT/HCPCS code with its modifiers, the quantity, the unit price and
net charge, the date of service and the place of service as ``locationCodeableConcept``. The model
validates the resource on construction; :func:`to_fhir` returns the JSON dictionary.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

from chartcode.claims.model import Address, EncounterClaim, Provider
from chartcode.errors import ChartcodeError

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
TIN_SYSTEM = "urn:oid:2.16.840.1.113883.4.4"
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
HCPCS_SYSTEM = "https://bluebutton.cms.gov/resources/codesystem/hcpcs"
POS_SYSTEM = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
TAXONOMY_SYSTEM = "http://nucc.org/provider-taxonomy"
PAYER_ID_SYSTEM = "urn:chartcode:payer-id"
MEMBER_ID_SYSTEM = "urn:chartcode:member-id"
CLAIM_ID_SYSTEM = "urn:chartcode:claim-id"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
CARE_TEAM_ROLE = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
DX_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
GENDER = {"F": "female", "M": "male", "U": "unknown"}
# X12 individual relationship code -> FHIR subscriber-relationship code.
FHIR_RELATIONSHIP = {"18": "self", "01": "spouse", "19": "child", "53": "common"}


class FhirClaimError(ChartcodeError):
    """The FHIR Claim built from an encounter does not validate."""

    code = "CC503"


def _address(a: Address | None) -> list[dict[str, Any]] | None:
    if a is None:
        return None
    zip_code = a.postal_code if len(a.postal_code) == 5 else f"{a.postal_code[:5]}-{a.postal_code[5:]}"
    return [
        {
            "line": [x for x in (a.line1, a.line2) if x],
            "city": a.city,
            "state": a.state,
            "postalCode": zip_code,
            "country": "US",
        }
    ]


def _human_name(last: str | None, first: str | None) -> list[dict[str, Any]]:
    return [{"family": last, **({"given": [first]} if first else {})}]


def _provider_resource(p: Provider, rid: str) -> dict[str, Any]:
    identifiers: list[dict[str, Any]] = [{"system": NPI_SYSTEM, "value": p.npi}]
    if p.tax_id:
        identifiers.append(
            {"system": TIN_SYSTEM if p.tax_id_type == "EIN" else SSN_SYSTEM, "value": p.tax_id}
        )
    if p.is_person:
        out: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": rid,
            "identifier": identifiers,
            "name": _human_name(p.last_name, p.first_name),
        }
        if p.taxonomy:
            out["qualification"] = [{"code": {"coding": [{"system": TAXONOMY_SYSTEM, "code": p.taxonomy}]}}]
    else:
        out = {"resourceType": "Organization", "id": rid, "identifier": identifiers, "name": p.organization}
        if p.taxonomy:
            out["type"] = [{"coding": [{"system": TAXONOMY_SYSTEM, "code": p.taxonomy}]}]
    address = _address(p.address)
    if address:
        out["address"] = address
    return out


def _money(value: Decimal) -> dict[str, Any]:
    return {"value": float(value), "currency": "USD"}


def _code_system(code: str) -> str:
    return CPT_SYSTEM if code[:1].isdigit() else HCPCS_SYSTEM


def _fhir_id(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9\-.]", "-", text)[:64]
    return cleaned or "claim"


def claim_resource(claim: EncounterClaim, *, created: date | None = None) -> Any:
    """The validated ``fhir.resources.R4B.claim.Claim`` model of ``claim``."""
    from fhir.resources.R4B.claim import Claim as FhirClaim
    from pydantic import ValidationError

    pt, sub = claim.patient, claim.subscriber
    contained: list[dict[str, Any]] = [
        {
            "resourceType": "Patient",
            "id": "patient",
            "name": _human_name(pt.last_name, pt.first_name),
            "gender": GENDER[pt.sex or "U"],
            **({"birthDate": pt.birth_date.isoformat()} if pt.birth_date else {}),
            **({"address": _address(pt.address)} if pt.address else {}),
        },
        _provider_resource(claim.billing_provider, "billing"),
        {
            "resourceType": "Organization",
            "id": "payer",
            "identifier": [{"system": PAYER_ID_SYSTEM, "value": claim.payer.id}],
            "name": claim.payer.name,
            **({"address": _address(claim.payer.address)} if claim.payer.address else {}),
        },
    ]
    if claim.rendering_provider is not None:
        contained.append(_provider_resource(claim.rendering_provider, "rendering"))
    subscriber_ref = "#patient"
    if not claim.patient_is_subscriber:
        subscriber_ref = "#subscriber"
        contained.append(
            {
                "resourceType": "RelatedPerson",
                "id": "subscriber",
                "patient": {"reference": "#patient"},
                "name": _human_name(sub.last_name, sub.first_name),
                **({"gender": GENDER[sub.sex]} if sub.sex else {}),
                **({"birthDate": sub.birth_date.isoformat()} if sub.birth_date else {}),
                **({"address": _address(sub.address)} if sub.address else {}),
            }
        )
    relationship = FHIR_RELATIONSHIP.get(pt.relationship, "other")
    coverage: dict[str, Any] = {
        "resourceType": "Coverage",
        "id": "coverage",
        "status": "active",
        "identifier": [{"system": MEMBER_ID_SYSTEM, "value": sub.member_id}],
        "subscriber": {"reference": subscriber_ref},
        "subscriberId": sub.member_id,
        "beneficiary": {"reference": "#patient"},
        "relationship": {"coding": [{"system": RELATIONSHIP, "code": relationship}]},
        "payor": [{"reference": "#payer"}],
    }
    if sub.group_number:
        coverage["class"] = [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "group"}
                    ]
                },
                "value": sub.group_number,
            }
        ]
    contained.append(coverage)

    days = [claim.line_date(i) for i in range(len(claim.lines))]
    items = []
    for i, line in enumerate(claim.lines):
        assert line.charge is not None  # checked by to_fhir
        item: dict[str, Any] = {
            "sequence": i + 1,
            "diagnosisSequence": list(line.dx_pointers),
            "productOrService": {"coding": [{"system": _code_system(line.code), "code": line.code}]},
            "servicedDate": days[i].isoformat(),
            "quantity": {"value": float(line.units)},
            "unitPrice": _money((line.charge / line.units).quantize(Decimal("0.01"))),
            "net": _money(line.charge),
        }
        if claim.rendering_provider is not None:
            item["careTeamSequence"] = [1]
        if line.modifiers:
            item["modifier"] = [
                {"coding": [{"system": CPT_SYSTEM if m.isdigit() else HCPCS_SYSTEM, "code": m}]}
                for m in line.modifiers
            ]
        pos = claim.line_pos(i)
        if pos:
            item["locationCodeableConcept"] = {"coding": [{"system": POS_SYSTEM, "code": pos}]}
        if line.control_number:
            item["extension"] = [
                {"url": "urn:chartcode:line-control-number", "valueString": line.control_number}
            ]
        items.append(item)
    total = sum((line.charge or Decimal(0) for line in claim.lines), Decimal(0))
    data: dict[str, Any] = {
        "resourceType": "Claim",
        "id": _fhir_id(claim.id),
        "contained": contained,
        "identifier": [{"system": CLAIM_ID_SYSTEM, "value": claim.id}],
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
        "use": "claim",
        "patient": {"reference": "#patient"},
        "billablePeriod": {"start": min(days).isoformat(), "end": max(days).isoformat()},
        "created": (created or date.today()).isoformat(),
        "insurer": {"reference": "#payer", "display": claim.payer.name},
        "provider": {"reference": "#billing"},
        "priority": {"coding": [{"system": PRIORITY, "code": "normal"}]},
        "diagnosis": [
            {
                "sequence": n,
                "diagnosisCodeableConcept": {"coding": [{"system": ICD10CM_SYSTEM, "code": code}]},
                **({"type": [{"coding": [{"system": DX_TYPE, "code": "principal"}]}]} if n == 1 else {}),
            }
            for n, code in enumerate(claim.diagnoses, start=1)
        ],
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {"reference": "#coverage"},
                **({"preAuthRef": [claim.prior_authorization]} if claim.prior_authorization else {}),
            }
        ],
        "item": items,
        "total": _money(total),
    }
    if claim.rendering_provider is not None:
        data["careTeam"] = [
            {
                "sequence": 1,
                "provider": {"reference": "#rendering"},
                "role": {"coding": [{"system": CARE_TEAM_ROLE, "code": "primary"}]},
                **(
                    {
                        "qualification": {
                            "coding": [{"system": TAXONOMY_SYSTEM, "code": claim.rendering_provider.taxonomy}]
                        }
                    }
                    if claim.rendering_provider.taxonomy
                    else {}
                ),
            }
        ]
    if claim.frequency_code != "1" and claim.original_claim_number:
        data["related"] = [
            {
                "reference": {"value": claim.original_claim_number},
                "relationship": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/ex-relatedclaimrelationship",
                            "code": "prior",
                        }
                    ]
                },
            }
        ]
    try:
        return FhirClaim.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise FhirClaimError(
            f"claim {claim.id}: the FHIR Claim does not validate at {where}: {first['msg']}.",
            "correct the claim field behind it and try again.",
        ) from None


def to_fhir(claim: EncounterClaim, *, created: date | None = None) -> dict[str, Any]:
    """The FHIR R4 Claim JSON (a dictionary) of ``claim``, validated by fhir.resources."""
    for number, line in enumerate(claim.lines, start=1):
        if line.charge is None:
            raise FhirClaimError(
                f"claim {claim.id}: lines.{number}.charge is missing; a Claim item needs its net charge.",
                "give each line a charge, or price the claim with a practice fee schedule (--fees CSV).",
            )
    resource = claim_resource(claim, created=created)
    out: dict[str, Any] = json.loads(resource.model_dump_json(exclude_none=True))
    return out


__all__ = ["FhirClaimError", "claim_resource", "to_fhir"]
