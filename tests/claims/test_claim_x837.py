"""837P writer and reader: every segment family written and read back, envelopes, validation."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from chartcode.claims.model import parse_encounter
from chartcode.claims.x837 import (
    EnvelopeOptions,
    X12ReadError,
    X12WriteError,
    parse_837p,
    read_837p,
    to_837p,
    write_837p,
)
from chartcode.edits.io import read_x12

WHEN = EnvelopeOptions(control_number=4711, created=datetime(2024, 8, 16, 9, 30), usage="T")


def segments(text: str) -> list[list[str]]:
    return [s.strip().split("*") for s in text.split("~") if s.strip()]


def ids(text: str) -> list[str]:
    return [s[0] for s in segments(text)]


def find(text: str, seg: str, first: str | None = None) -> list[list[str]]:
    return [s for s in segments(text) if s[0] == seg and (first is None or s[1] == first)]


def test_round_trip_self_equal(encounter_dict: dict[str, Any]) -> None:
    claim = parse_encounter(encounter_dict)
    text = to_837p(claim, WHEN)
    [back] = parse_837p(text)
    assert back == claim
    assert back.lines[2].code == "J3301" and back.lines[2].units == 4
    assert back.patient.last_name == "Lindqvist" and back.patient.birth_date is not None


def test_round_trip_dependent_equal(dependent_dict: dict[str, Any]) -> None:
    claim = parse_encounter(dependent_dict)
    text = to_837p(claim, WHEN)
    [back] = parse_837p(text)
    assert back == claim
    assert back.patient.relationship == "19" and back.subscriber.first_name == "Harold"
    assert back.lines[1].place_of_service == "20" and back.lines[0].place_of_service is None
    assert back.frequency_code == "7" and back.original_claim_number == "PAYERICN000123"


def test_every_segment_family_written(encounter_dict: dict[str, Any], dependent_dict: dict[str, Any]) -> None:
    text = to_837p([parse_encounter(encounter_dict), parse_encounter(dependent_dict)], WHEN)
    written = set(ids(text))
    assert {
        "ISA",
        "GS",
        "ST",
        "BHT",
        "NM1",
        "PER",
        "HL",
        "PRV",
        "N3",
        "N4",
        "REF",
        "SBR",
        "DMG",
        "PAT",
        "CLM",
        "DTP",
        "HI",
        "LX",
        "SV1",
        "SE",
        "GE",
        "IEA",
    } <= written
    nm1 = {s[1] for s in find(text, "NM1")}
    assert {"41", "40", "85", "IL", "PR", "QC", "82"} <= nm1
    assert [s[3] for s in find(text, "HL")] == ["20", "22", "20", "22", "23"]
    # HL parents: the subscriber under its billing provider, the patient under its subscriber
    hls = find(text, "HL")
    assert hls[1][2] == hls[0][1] and hls[4][2] == hls[3][1] and hls[3][4] == "1" and hls[1][4] == "0"
    assert find(text, "PRV", "BI")[0][2:] == ["PXC", "207Q00000X"]
    assert find(text, "PRV", "PE")[0][2:] == ["PXC", "207Q00000X"]
    assert find(text, "REF", "EI")[0][2] == "421234567"
    assert find(text, "REF", "G1")[0][2] == "PA24081501"
    assert find(text, "REF", "F8")[0][2] == "PAYERICN000123"
    assert [s[2] for s in find(text, "REF", "6R")] == ["L1", "L2", "L3", "LC-2"]
    assert find(text, "DTP", "431")[0][3] == "20240810"
    assert len(find(text, "DTP", "472")) == 5
    assert find(text, "PAT")[0][1] == "19"
    assert find(text, "SBR")[0][2] == "18" and find(text, "SBR")[1][2] == ""
    assert find(text, "SBR")[0][9] == "MB" and find(text, "SBR")[1][9] == "CI"
    clm = find(text, "CLM")
    assert clm[0][1:3] == ["ENC-2024-0815-001", "349"] and clm[0][5] == "11:B:1"
    assert clm[1][5] == "11:B:7" and clm[1][2] == "155.5"
    assert find(text, "HI")[0][1:] == ["ABK:E1122", "ABF:N1831", "ABF:M1711"]
    sv1 = find(text, "SV1")
    assert sv1[0][1:] == ["HC:99214:25", "185", "UN", "1", "", "", "1:2"]
    assert sv1[2][1:5] == ["HC:J3301", "24", "UN", "4"]
    assert sv1[4][1:] == ["HC:87880:QW", "35.5", "UN", "1", "20", "", "1"]
    assert find(text, "DMG")[0][1:] == ["D8", "19520301", "M"]
    # the dependent claim: DMG only for the patient (2010CA), not for the subscriber (2010BA)
    assert [s[2] for s in find(text, "DMG")] == ["19520301", "20120930"]


def test_multiple_claims_round_trip(encounter_dict: dict[str, Any], dependent_dict: dict[str, Any]) -> None:
    claims = [parse_encounter(encounter_dict), parse_encounter(dependent_dict)]
    assert parse_837p(to_837p(claims, WHEN)) == claims


def test_envelope_counts_and_control_numbers(encounter_dict: dict[str, Any]) -> None:
    text = to_837p(parse_encounter(encounter_dict), WHEN)
    raw = text.split("\n")
    isa = raw[0]
    assert len(isa) == 106 and isa.endswith("~")
    fields = isa[:-1].split("*")
    widths = [3, 2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1]
    assert [len(f) for f in fields] == widths
    assert fields[6] == "MAPLECLINIC01  " and fields[8] == "CMSIAPARTB     " and fields[15] == "T"
    assert fields[9:11] == ["240816", "0930"]
    segs = segments(text)
    gs, st = segs[1], segs[2]
    se, ge, iea = segs[-3], segs[-2], segs[-1]
    assert fields[13] == "000004711" == iea[2] and iea[1] == "1"
    assert gs[6] == ge[2] == "4711" and ge[1] == "1" and gs[8] == "005010X222A1"
    assert st[2] == se[2] and st[3] == "005010X222A1"
    first_st = next(i for i, s in enumerate(segs) if s[0] == "ST")
    last_se = next(i for i, s in enumerate(segs) if s[0] == "SE")
    assert int(se[1]) == last_se - first_st + 1  # ST … SE inclusive
    assert [s[1] for s in find(text, "LX")] == ["1", "2", "3"]


def test_scrubber_reader_reads_the_output(encounter_dict: dict[str, Any]) -> None:
    claim = parse_encounter(encounter_dict)
    [record] = read_x12(to_837p(claim, WHEN))
    assert record.claim is not None
    assert record.claim.diagnoses == claim.diagnoses
    assert [(line.code, line.modifiers, line.dx_pointers) for line in record.claim.lines] == [
        (line.code, line.modifiers, line.dx_pointers) for line in claim.lines
    ]


def test_pyx12_failure_names_segment_and_writes_nothing(
    encounter_dict: dict[str, Any], tmp_path: Path
) -> None:
    bad = copy.deepcopy(encounter_dict)
    bad["id"] = "X" * 45  # CLM01 is at most 38 characters in the 837P
    claim = parse_encounter(bad)
    target = tmp_path / "out" / "claim.837"
    with pytest.raises(X12WriteError) as err:
        write_837p(claim, target, WHEN)
    assert err.value.code == "CC501"
    assert "(CLM)" in err.value.message and "segment" in err.value.message
    assert "Nothing was written" in err.value.message
    assert "XXXXXXXX" not in str(err.value)  # pyx12 quotes the value; the patient control number is left out
    assert not target.exists()
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_write_then_read_file(encounter_dict: dict[str, Any], tmp_path: Path) -> None:
    claim = parse_encounter(encounter_dict)
    path = write_837p(claim, tmp_path / "claim.837", WHEN)
    assert read_837p(path) == [claim]
    assert [p.name for p in tmp_path.iterdir()] == ["claim.837"]


def test_missing_charge_is_a_clear_error(encounter_dict: dict[str, Any]) -> None:
    encounter_dict["lines"][1].pop("charge")
    with pytest.raises(X12WriteError, match=r"lines\.2\.charge"):
        to_837p(parse_encounter(encounter_dict), WHEN)


def test_malformed_837_read_names_segment(encounter_dict: dict[str, Any]) -> None:
    text = to_837p(parse_encounter(encounter_dict), WHEN)
    se = next(s for s in text.split("\n") if s.startswith("SE*"))
    broken = text.replace(se, "SE*99*0001~")
    with pytest.raises(X12ReadError) as err:
        parse_837p(broken, "broken.837")
    assert "broken.837" in err.value.message and "segment" in err.value.message
    truncated = text.split("IEA")[0]
    with pytest.raises(X12ReadError):
        parse_837p(truncated, "cut.837")


def test_envelope_options_reject_bad_control_number() -> None:
    with pytest.raises(X12WriteError):
        EnvelopeOptions(control_number=0)


def test_one_interchange_one_receiver(encounter_dict: dict[str, Any]) -> None:
    other = copy.deepcopy(encounter_dict)
    other["id"] = "ENC-OTHER"
    other["receiver"] = {"id": "OTHERPAYER", "name": "Another Receiver"}
    with pytest.raises(X12WriteError, match="one sender and one receiver"):
        to_837p([parse_encounter(encounter_dict), parse_encounter(other)], WHEN)


def test_self_pay_is_not_an_837p(encounter_dict: dict[str, Any]) -> None:
    encounter_dict["payer"]["type"] = "self_pay"
    claim = parse_encounter(encounter_dict)
    assert claim.payer.filing_indicator is None
    with pytest.raises(X12WriteError, match=r"self_pay has no 837P claim filing indicator \(SBR09\)"):
        to_837p(claim, WHEN)


def test_rendering_same_as_billing_is_not_sent(encounter_dict: dict[str, Any]) -> None:
    encounter_dict["rendering_provider"]["npi"] = encounter_dict["billing_provider"]["npi"]
    claim = parse_encounter(encounter_dict)
    assert claim.rendering_provider is None
    text = to_837p(claim, WHEN)
    assert not find(text, "NM1", "82") and not find(text, "PRV", "PE")
    assert parse_837p(text) == [claim]
