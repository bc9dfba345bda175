"""Fixtures for the claim-generation tests: the example encounter and variants of it (synthetic people,
NPIs with valid check digits, made-up addresses)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ENCOUNTER = REPO / "examples" / "encounter.json"


@pytest.fixture
def encounter_dict() -> dict[str, Any]:
    """The example encounter (examples/encounter.json) as a fresh dictionary."""
    data: dict[str, Any] = json.loads(ENCOUNTER.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def dependent_dict(encounter_dict: dict[str, Any]) -> dict[str, Any]:
    """The example encounter for the subscriber's child: 2000C/2010CA, a group number, onset date, a
    replacement claim and a line with its own place of service."""
    data = copy.deepcopy(encounter_dict)
    data["id"] = "ENC-CHILD-7"
    data["payer"] = {"id": "60054", "type": "commercial", "name": "Prairie Mutual Health"}
    data["subscriber"]["group_number"] = "GRP-88120"
    data["subscriber"]["birth_date"] = "1980-06-02"
    data["patient"] = {
        "relationship": "19",
        "last_name": "Lindqvist",
        "first_name": "Elsa",
        "birth_date": "2012-09-30",
        "sex": "F",
        "address": {
            "line1": "48 Birch Lane",
            "line2": "Unit 2",
            "city": "Ankeny",
            "state": "IA",
            "postal_code": "50023",
        },
    }
    data["frequency_code"] = "7"
    data["original_claim_number"] = "PAYERICN000123"
    data["onset_date"] = "2024-08-10"
    data["diagnoses"] = ["J02.9", "R50.9"]
    data["lines"] = [
        {"code": "99213", "units": 1, "dx_pointers": [1, 2], "charge": 120.00},
        {
            "code": "87880",
            "modifiers": ["QW"],
            "units": 1,
            "dx_pointers": [1],
            "charge": 35.50,
            "place_of_service": "20",
            "control_number": "LC-2",
        },
    ]
    data.pop("prior_authorization")
    data["rendering_provider"] = None
    return data
