"""Property: any valid encounter claim written as 837P (validated by pyx12) reads back equal; and an 837P
written by someone else reads into encounter claims."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chartcode.claims.model import parse_encounter
from chartcode.claims.x837 import EnvelopeOptions, parse_837p, read_837p, to_837p

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "examples" / "encounter.json"
WHEN = EnvelopeOptions(control_number=123456789, created=datetime(2024, 9, 1, 23, 59))

name = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz '-", min_size=1, max_size=20
).filter(lambda s: s.strip() == s and s.strip() != "")
code = st.sampled_from(["99213", "99214", "20610", "11042", "17000", "J3301", "71046", "93000", "G0439"])
modifier = st.sampled_from(["25", "59", "RT", "LT", "26", "TC", "XS", "QW"])
money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
units = st.sampled_from([Decimal(1), Decimal(2), Decimal(4), Decimal("1.5")])
dx_pool = [
    "E11.22",
    "N18.31",
    "M17.11",
    "I10",
    "R05.1",
    "Z79.4",
    "J02.9",
    "K21.9",
    "E78.5",
    "F41.1",
    "G47.33",
    "M54.50",
]


@st.composite
def encounters(draw: st.DrawFn) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads(BASE.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    n_dx = draw(st.integers(1, 12))
    data["diagnoses"] = dx_pool[:n_dx]
    day = date(2024, 7, 1) + timedelta(days=draw(st.integers(0, 90)))
    data["date_of_service"] = day.isoformat()
    lines = []
    for i in range(draw(st.integers(1, 6))):
        pointers = draw(st.lists(st.integers(1, n_dx), min_size=1, max_size=4, unique=True))
        line: dict[str, Any] = {
            "code": draw(code),
            "modifiers": draw(st.lists(modifier, max_size=4, unique=True)),
            "units": str(draw(units)),
            "dx_pointers": pointers,
            "charge": str(draw(money)),
        }
        if draw(st.booleans()):
            line["date_of_service"] = (day + timedelta(days=draw(st.integers(0, 3)))).isoformat()
        if draw(st.booleans()):
            line["place_of_service"] = draw(st.sampled_from(["11", "22", "02", "10"]))
        if draw(st.booleans()):
            line["control_number"] = f"LN{i}-{draw(st.integers(0, 9999))}"
        lines.append(line)
    data["lines"] = lines
    data["subscriber"]["last_name"] = draw(name)
    if draw(st.booleans()):
        data["patient"] = {
            "relationship": draw(st.sampled_from(["01", "19", "G8"])),
            "last_name": draw(name),
            "first_name": draw(name),
            "birth_date": "2010-01-31",
            "sex": draw(st.sampled_from(["F", "M", "U"])),
            "address": {"line1": "9 Oak Court", "city": "Ames", "state": "IA", "postal_code": "50010"},
        }
    if draw(st.booleans()):
        data.pop("rendering_provider")
    if draw(st.booleans()):
        data.pop("prior_authorization")
    data["payer"]["type"] = draw(
        st.sampled_from(["medicare", "medicaid", "commercial", "tricare", "workers_comp", "other"])
    )
    return data


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encounters())
def test_any_claim_round_trips(data: dict[str, Any]) -> None:
    claim = parse_encounter(data)
    [back] = parse_837p(to_837p(claim, WHEN))
    assert back.model_dump() == claim.model_dump()  # a readable diff on failure
    assert back == claim


def test_reads_an_837p_written_elsewhere() -> None:
    """The scrubber's hand-written fixture (a subscriber with a dependent) reads into encounter claims."""
    claims = read_837p(REPO / "tests" / "edits" / "fixtures" / "claims_two_subscribers.837")
    assert [c.id for c in claims] == ["C2001", "C2002", "C2003"]
    child = claims[0]
    assert child.patient.relationship == "19" and child.patient.last_name != child.subscriber.first_name
    assert child.patient.birth_date is not None and child.subscriber.member_id
    assert all(c.billing_provider.npi and c.billing_provider.tax_id for c in claims)
    assert claims[1].diagnoses == ("M17.0", "M17.11", "E66.01")
