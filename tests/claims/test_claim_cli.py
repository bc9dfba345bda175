"""``chartcode claim``: formats, output files, scrubber gate, fee schedule, errors, --from-note."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.claim import Claim as FhirClaim
from typer.testing import CliRunner

from chartcode.assign.api import CodingOptions
from chartcode.claims.model import parse_encounter
from chartcode.claims.x837 import parse_837p, read_837p
from chartcode.cli.main import app
from chartcode.codesets.kb import KnowledgeBase

runner = CliRunner(env={"COLUMNS": "200"})


def run(kb: KnowledgeBase, *args: str) -> Any:
    return runner.invoke(app, ["claim", *args, "--kb", str(kb.path)])


def write(tmp_path: Path, data: dict[str, Any], name: str = "enc.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_837p_to_stdout_reads_back(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path
) -> None:
    result = run(full_kb, str(write(tmp_path, encounter_dict)), "--format", "837p", "--control-number", "42")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ISA*") and "*000000042*" in result.stdout
    assert parse_837p(result.stdout) == [parse_encounter(encounter_dict)]
    assert "nothing to correct" in result.stderr


def test_fhir_to_file(encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path) -> None:
    out = tmp_path / "claim.fhir.json"
    result = run(full_kb, str(write(tmp_path, encounter_dict)), "--format", "fhir", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    data = json.loads(out.read_text(encoding="utf-8"))
    FhirClaim.model_validate(data)
    assert [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in data["diagnosis"]] == encounter_dict[
        "diagnoses"
    ]


def test_json_has_claim_pricing_and_findings(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path
) -> None:
    result = run(full_kb, str(write(tmp_path, encounter_dict)), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["findings"] == []
    assert parse_encounter(data["claim"]) == parse_encounter(encounter_dict)
    assert data["pricing"]["locality"]["name"] == "IOWA"
    assert data["pricing"]["total_allowed"] == pytest.approx(
        sum(line["allowed"] or 0 for line in data["pricing"]["lines"])
    )


def test_html_form(encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path) -> None:
    encounter_dict["billing_provider"]["organization"] = "Maple & <Sons> Clinic"
    result = run(full_kb, str(write(tmp_path, encounter_dict)), "--format", "html")
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert page.startswith("<!doctype html>")
    assert "Maple &amp; &lt;Sons&gt; Clinic" in page and "<Sons>" not in page
    for box in ("1a ", "21 ", "24D CPT/HCPCS", "24E Diagnosis pointer", "25 ", "33a "):
        assert box in page
    assert "A. E11.22" in page and "<td>99214</td>" in page and "<td>AB</td>" in page


def test_scrubber_errors_refuse_to_write(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path
) -> None:
    encounter_dict["lines"][0]["modifiers"] = []  # E/M with a procedure the same day and no modifier 25
    source = write(tmp_path, encounter_dict)
    out = tmp_path / "claim.837"
    refused = run(full_kb, str(source), "--output", str(out))
    assert refused.exit_code == 1
    assert "CC504" in refused.stderr and "nothing was written" in refused.stderr
    assert "error" in refused.stderr  # the findings table
    assert not out.exists()
    forced = run(full_kb, str(source), "--output", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert read_837p(out)[0].lines[0].modifiers == ()


def test_fee_schedule_sets_charges(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path
) -> None:
    fees = tmp_path / "fees.csv"
    fees.write_text("code,modifier,charge\n99214,,199.99\n20610,RT,150\n", encoding="utf-8")
    result = run(full_kb, str(write(tmp_path, encounter_dict)), "--fees", str(fees), "--control-number", "5")
    assert result.exit_code == 0, result.output
    [claim] = parse_837p(result.stdout)
    assert [float(line.charge or 0) for line in claim.lines] == [199.99, 150.0, 24.0]
    assert "CLM*ENC-2024-0815-001*373.99*" in result.stdout


def test_missing_charges_priced_from_pfs_with_locality(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path
) -> None:
    encounter_dict["lines"][0].pop("charge")
    plain = json.loads(run(full_kb, str(write(tmp_path, encounter_dict)), "--format", "json").stdout)
    portland = json.loads(
        run(
            full_kb, str(write(tmp_path, encounter_dict)), "--format", "json", "--locality", "02302-01"
        ).stdout
    )
    assert plain["claim"]["lines"][0]["charge"] == plain["pricing"]["lines"][0]["fee_schedule_amount"]
    assert portland["claim"]["lines"][0]["charge"] == portland["pricing"]["lines"][0]["fee_schedule_amount"]
    assert portland["claim"]["lines"][0]["charge"] != plain["claim"]["lines"][0]["charge"]


def test_malformed_input_is_a_field_level_error(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path
) -> None:
    encounter_dict["subscriber"]["birth_date"] = "1952-13-01"
    encounter_dict["lines"][1]["modifiers"] = ["RTX"]
    result = run(full_kb, str(write(tmp_path, encounter_dict)))
    assert result.exit_code == 1
    assert (
        "CC500" in result.stderr
        and "subscriber.birth_date" in result.stderr
        and "lines.2.modifiers" in result.stderr
    )
    as_json = run(full_kb, str(write(tmp_path, encounter_dict)), "--format", "json")
    assert json.loads(as_json.stdout)["error"]["code"] == "CC500"
    (tmp_path / "broken.json").write_text('{"id": ', encoding="utf-8")
    broken = run(full_kb, str(tmp_path / "broken.json"))
    assert broken.exit_code == 1 and "not valid JSON at line 1" in broken.stderr


def test_argument_errors(full_kb: KnowledgeBase, tmp_path: Path) -> None:
    assert "no encounter given" in run(full_kb).stderr
    assert "--from-note needs --header" in run(full_kb, "--from-note", str(tmp_path / "n.txt")).stderr
    assert "does not exist" in run(full_kb, str(tmp_path / "missing.json")).stderr


class NoteCoder:
    """Stand-in for the coder with E/M and procedures (the real coder's services are another module)."""

    def code(self, text: str | bytes, options: CodingOptions) -> Any:
        note = text.decode() if isinstance(text, bytes) else text
        assert (
            options.date_of_service is not None and options.patient_sex == "M" and options.patient_age == 72
        )
        diagnoses = [{"code": "E11.22"}, {"code": "N18.31"}] + (
            [{"code": "M17.11"}] if "knee" in note else []
        )
        procedures = (
            [{"code": "20610", "modifiers": ["RT"], "units": 1, "dx_pointers": [3]}] if "knee" in note else []
        )
        data = {
            "diagnoses": diagnoses,
            "em": {"code": "99214", "modifiers": ["25"], "dx_pointers": [1, 2]},
            "procedures": procedures,
            "date_of_service": options.date_of_service.isoformat(),
        }
        return type("Coded", (), {"to_dict": lambda self: data})()


def note_coder_factory(kb_path: Path | None) -> NoteCoder:
    return NoteCoder()


def test_from_note(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARTCODE_CODER_FACTORY", f"{__name__}:note_coder_factory")
    header = {k: v for k, v in encounter_dict.items() if k not in ("diagnoses", "lines")}
    (tmp_path / "header.json").write_text(json.dumps(header), encoding="utf-8")
    (tmp_path / "note.txt").write_text(
        "Synthetic note: right knee injection; diabetes with CKD 3a.", encoding="utf-8"
    )
    fees = tmp_path / "fees.csv"
    fees.write_text("99214,,185\n20610,,140\n", encoding="utf-8")
    result = run(
        full_kb,
        "--from-note",
        str(tmp_path / "note.txt"),
        "--header",
        str(tmp_path / "header.json"),
        "--fees",
        str(fees),
    )
    assert result.exit_code == 0, result.output
    [claim] = parse_837p(result.stdout)
    assert claim.diagnoses == ("E11.22", "N18.31", "M17.11")
    assert [(line.code, line.modifiers, line.dx_pointers) for line in claim.lines] == [
        ("99214", ("25",), (1, 2)),
        ("20610", ("RT",), (3,)),
    ]
    both = run(full_kb, str(tmp_path / "header.json"), "--from-note", str(tmp_path / "note.txt"))
    assert both.exit_code == 1 and "not both" in both.stderr


def test_unwritable_output_is_a_clear_error(
    encounter_dict: dict[str, Any], full_kb: KnowledgeBase, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    result = run(full_kb, str(write(tmp_path, encounter_dict)), "--output", str(blocker / "claim.837"))
    assert result.exit_code == 1 and not isinstance(result.exception, OSError)  # no traceback
    assert "CC505" in result.stderr and f"--output {blocker / 'claim.837'}" in result.stderr
    assert "writable path" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "enc.json"]


@pytest.mark.parametrize(
    ("header", "note", "message"),
    [
        ('{"id": ', "Synthetic note.", "header.json: not valid JSON at line 1"),
        ("[1, 2]", "Synthetic note.", "header.json is not a JSON object"),
        ("{}", None, "note.txt does not exist"),
        ("{}", "   \n", "note.txt is empty"),
    ],
)
def test_from_note_bad_header_or_note(
    full_kb: KnowledgeBase, tmp_path: Path, header: str, note: str | None, message: str
) -> None:
    (tmp_path / "header.json").write_text(header, encoding="utf-8")
    if note is not None:
        (tmp_path / "note.txt").write_text(note, encoding="utf-8")
    result = run(
        full_kb, "--from-note", str(tmp_path / "note.txt"), "--header", str(tmp_path / "header.json")
    )
    assert result.exit_code == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.output
