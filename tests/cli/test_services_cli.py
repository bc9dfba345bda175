"""``chartcode code`` shows the E/M level with its grid and the procedure lines (issue 4), real coder."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chartcode.assign.batch import default_coder_factory
from chartcode.cli import coding
from chartcode.cli.main import app
from chartcode.codesets.kb import KnowledgeBase

pytestmark = pytest.mark.integration

runner = CliRunner(env={"COLUMNS": "250"})

NOTE = (
    "Chief complaint: right knee pain.\n"
    "HPI: 66-year-old with right knee pain for 2 years, worse over 3 months.\n"
    "Exam: right knee effusion and crepitus.\n"
    "Imaging: right knee x-rays, three views (AP, lateral and sunrise), taken in the office today and "
    "read by me: medial joint space narrowing.\n"
    "Assessment: primary osteoarthritis of the right knee, progressing.\n"
    "Plan: start meloxicam 15 mg daily. After consent the right knee was injected with triamcinolone "
    "acetonide 40 mg and 4 mL of 1% lidocaine.\n"
)


@pytest.fixture(autouse=True)
def real_coder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coding, "CODER_FACTORY", default_coder_factory)
    monkeypatch.delenv(coding.FACTORY_ENV, raising=False)


def test_json_carries_procedures_and_em(full_kb: KnowledgeBase) -> None:
    args = ["code", "-", "--kb", str(full_kb.path), "--date", "2024-08-15", "--age", "66", "--format", "json"]
    result = runner.invoke(app, args, input=NOTE)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    got = [(p["code"], p["modifiers"], p["units"]) for p in data["procedures"]]
    assert got == [("73562", ["RT"], 1), ("20610", ["RT"], 1), ("J3301", [], 4)]
    knee = [d["code"] for d in data["diagnoses"]].index("M17.11") + 1
    assert all(p["dx_pointers"][0] == knee for p in data["procedures"])
    assert data["em"]["modifiers"] == ["25"] and data["em"]["method"] in ("MDM", "time")
    assert [g["name"] for g in data["em"]["grid"]] == ["problems", "data", "risk"]


def test_text_output_prints_the_em_grid_and_the_lines(full_kb: KnowledgeBase) -> None:
    args = ["code", "-", "--kb", str(full_kb.path), "--date", "2024-08-15", "--age", "66"]
    result = runner.invoke(app, args, input=NOTE)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    em_line = next(line for line in out.splitlines() if line.startswith("E/M "))
    assert "-25" in em_line and ("by MDM" in em_line or "by time" in em_line)
    for word in ("problems", "risk", "73562", "20610", "J3301", "MOD-RT-LT", "SVC-DRUG-UNITS"):
        assert word in out, word


def test_jsonl_batch_lines_carry_procedures(full_kb: KnowledgeBase) -> None:
    batch = json.dumps(
        {
            "id": "n1",
            "text": "Procedure: ketorolac 60 mg given IM in the right gluteus today.",
            "date_of_service": "2024-08-15",
            "patient": {"age": 41, "sex": "M"},
        }
    )
    args = ["code", "-", "--kb", str(full_kb.path), "--format", "jsonl", "--jobs", "1"]
    result = runner.invoke(app, args, input=batch + "\n")
    assert result.exit_code == 0, result.stderr
    line = json.loads(result.stdout.splitlines()[0])
    assert [(p["code"], p["units"]) for p in line["procedures"]] == [("J1885", 4), ("96372", 1)]


def test_billed_em_above_the_documentation_is_flagged(full_kb: KnowledgeBase) -> None:
    note = (
        "Chief complaint: blood pressure follow-up.\n"
        "HPI: 49-year-old man with essential hypertension on amlodipine 5 mg daily, home readings normal.\n"
        "Exam: BP 124/78.\n"
        "Assessment and plan: essential hypertension, well controlled. Refill amlodipine 5 mg daily.\n"
    )
    args = ["code", "-", "--kb", str(full_kb.path), "--date", "2024-08-15", "--billed-em", "99215"]
    result = runner.invoke(app, [*args, "--format", "json"], input=note)
    assert result.exit_code == 0, result.stderr
    em = json.loads(result.stdout)["em"]
    assert em["code"] != "99215" and "EM-UPCODE-RISK" in [f["id"] for f in em["flags"]]
    bad = runner.invoke(app, [*args[:-1], "99215-25"], input=note)
    assert bad.exit_code != 0 and "Traceback" not in bad.output
    assert "CC401" in bad.output and "'99215-25' (--billed-em / billed_em)" in bad.output
    assert "e.g. 99214 (no modifiers or spaces)" in bad.output
