"""``chartcode remit``: the report in text and JSON, --output, several files, and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chartcode.cli.main import app
from chartcode.codesets.kb import KnowledgeBase

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = str(REPO / "examples" / "remit.835")
CLAIMS = str(REPO / "examples" / "remit_claims.jsonl")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "240"}).invoke(app, ["remit", *args])
    return result.exit_code, result.output


def run_stdout(*args: str) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "240"}).invoke(app, ["remit", *args])
    return result.exit_code, result.stdout


def test_text_report() -> None:
    code, out = run(EXAMPLE, "--claims", CLAIMS)
    assert code == 0, out
    assert "payment 866.50 by automated clearing house (EFT) on 2026-02-06, trace TRC2001" in out
    assert "TEST HEALTH PLAN (99999) → TEST FAMILY CLINIC (NPI 1234567893)" in out
    assert "RC1003 line 2 20610: CO-97 150.00 — bundling / NCCI edit (coding)" in out
    assert "RC1006 (claim): CO-29 120.00 — timely filing (not coding)" in out
    assert "RC1010 20611-59-RT (line 1): payer reordered the modifiers (RT-59 sent, 59-RT returned)" in out
    assert "RC1011: sent but on none of these remittances" in out
    for measure in ("40.0% (4)", "10.0% (1)", "35.3% (6)", "23.5% (4)", "1,390.00", "20.0% (2 of 10)"):
        assert measure in out
    assert "29.2 / 29.5 (6 claims)" in out
    assert "TESTB" not in out and "M000002" not in out


def test_json_report() -> None:
    code, out = run_stdout(EXAMPLE, "--claims", CLAIMS, "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    s = data["summary"]
    assert (s["claims_adjudicated"], s["claims_denied"], s["lines_denied"], s["denied_dollars"]) == (
        10,
        4,
        6,
        1390.0,
    )
    assert s["days_to_pay"] == {"claims": 6, "mean": 29.2, "median": 29.5, "min": 28, "max": 30}
    assert data["remittances"][0]["payment_amount"] == 866.5
    assert "TESTB" not in out


def test_several_files_without_claims() -> None:
    code, out = run_stdout(str(FIXTURES / "paid.835"), str(FIXTURES / "denials.835"), "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert len(data["remittances"]) == 2
    s = data["summary"]
    # paid.835: 2 claims, none denied; denials.835: 6 claims, RC1004/6/7/8 denied
    assert (s["claims_adjudicated"], s["claims_denied"], s["claims_coding_denied"]) == (8, 4, 1)
    assert s["days_to_pay"]["claims"] == 0
    assert data["unmatched_claims"] is None


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out = run(EXAMPLE, "--format", "json", "--output", str(target))
    assert code == 0 and "report written to" in out
    assert json.loads(target.read_text())["summary"]["reversals"] == 1
    text_target = tmp_path / "report.txt"
    code, _ = run(EXAMPLE, "--output", str(text_target))
    assert code == 0 and "Denials to rework" in text_target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "report.txt"]  # no temporary left


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_malformed_835_exits_1_and_writes_nothing(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "report"
    code, out = run(
        EXAMPLE, str(FIXTURES / "bad_segment_count.835"), "--format", fmt, "--output", str(target)
    )
    assert code == 1
    assert "SE count of 38" in out and "CC521" in out
    assert not target.exists() and list(tmp_path.iterdir()) == []
    if fmt == "json":
        _, stdout = run_stdout(str(FIXTURES / "bad_segment_count.835"), "--format", "json")
        assert json.loads(stdout)["error"]["code"] == "CC521"


def test_bad_claims_file_and_bad_output_folder(tmp_path: Path) -> None:
    code, out = run(EXAMPLE, "--claims", str(tmp_path / "none.jsonl"))
    assert code == 1 and "CC522" in out and "does not exist" in out
    code, out = run(EXAMPLE, "--output", str(tmp_path / "no" / "such" / "dir.txt"))
    assert code == 1 and "CC523" in out


@pytest.mark.integration
def test_kb_labels_hcpcs_but_never_cpt(full_kb: KnowledgeBase) -> None:
    code, out = run(EXAMPLE, "--kb", str(full_kb.path))
    assert code == 0, out
    row = next(line for line in out.splitlines() if "J3301" in line and "RC1003" in line)
    assert "triamcinolone" in row.lower()
    row = next(line for line in out.splitlines() if "│ 99214-25" in line)
    assert "99214-25" in [cell.strip() for cell in row.split("│")]  # no descriptor text for a CPT code
