"""``chartcode.edits.api`` and ``chartcode check``, with a stand-in rule engine (tests/edits/conftest.py)
and the tiny fixture knowledge base; one integration test runs the real engine on the full mirror."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from chartcode.cli import check as check_cli
from chartcode.codesets.kb import KnowledgeBase
from chartcode.edits.api import CheckResult, check, check_many
from chartcode.edits.io import ClaimInputError, read_claims
from chartcode.edits.packs import load_pack
from chartcode.edits.registry import Finding
from chartcode.errors import ChartcodeError, InputError
from tests.edits.conftest import FIXTURES, StubEngine

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "payer_pack.yaml"
runner = CliRunner(env={"COLUMNS": "250"})

CLAIM: dict[str, Any] = {
    "id": "C1",
    "payer": {"id": "ACME01", "type": "commercial"},
    "date_of_service": "2024-08-01",
    "place_of_service": "02",
    "diagnoses": ["E11.22"],
    "lines": [{"code": "99214", "dx_pointers": [1]}, {"code": "82947", "units": 2}],
}


def app() -> typer.Typer:
    """The ``check`` command on its own app (main.py registers it the same way)."""
    cli = typer.Typer()
    check_cli.register(cli)

    @cli.callback()
    def main() -> None:
        """test app"""

    return cli


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app(), ["check", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


# --- API ------------------------------------------------------------------------------------


def test_check_runs_the_engine_then_the_packs(stub_engine: StubEngine, tiny_kb: KnowledgeBase) -> None:
    result = check(CLAIM, tiny_kb, packs=[EXAMPLE], setting="outpatient_hospital")
    assert stub_engine.calls == [("C1", "outpatient_hospital", tiny_kb)]
    assert [(f.rule, f.severity, f.lines) for f in result.findings] == [
        ("STUB-PAIR", "error", (1, 2)),
        ("STUB-UNITS", "warning", (2,)),
        ("PAYER-TELEHEALTH-MODIFIER", "error", (1,)),
    ]
    data = result.to_dict()
    assert list(data) == ["claim_id", "findings"]
    assert data["claim_id"] == "C1"
    assert data["findings"][0] == {
        "rule": "STUB-PAIR",
        "severity": "error",
        "lines": [1, 2],
        "codes": ["99214", "82947"],
        "message": "pair [not markup]",
        "fix": "split",
        "citation": "stub §1",
    }
    assert result.worst == "error"
    assert result.failed is False  # no fail_on


@pytest.mark.parametrize(
    ("lines", "fail_on", "failed"),
    [
        ([{"code": "99214"}, {"code": "82947"}], "error", True),
        ([{"code": "99213", "units": 2}], "error", False),
        ([{"code": "99213", "units": 2}], "warning", True),
        ([{"code": "99213"}], "info", False),
        ([{"code": "99214"}, {"code": "82947"}], None, False),
    ],
)
def test_fail_on(
    stub_engine: StubEngine,
    tiny_kb: KnowledgeBase,
    lines: list[dict[str, Any]],
    fail_on: str | None,
    failed: bool,
) -> None:
    claim = CLAIM | {"place_of_service": "11", "lines": lines}
    assert check(claim, tiny_kb, fail_on=fail_on).failed is failed


def test_check_accepts_a_kb_path_and_loaded_packs(stub_engine: StubEngine, tiny_kb_path: Path) -> None:
    result = check(CLAIM | {"lines": [{"code": "99213"}]}, tiny_kb_path, packs=[load_pack(EXAMPLE)])
    assert [f.rule for f in result.findings] == ["PAYER-TELEHEALTH-MODIFIER"]
    assert isinstance(stub_engine.calls[0][2], KnowledgeBase)


def test_check_rejects_bad_input(stub_engine: StubEngine, tiny_kb: KnowledgeBase) -> None:
    with pytest.raises(ClaimInputError) as err:
        check(CLAIM | {"lines": []}, tiny_kb)
    assert err.value.message == "claim C1: lines: needs at least 1 item(s)."
    with pytest.raises(InputError) as err2:
        check(CLAIM, tiny_kb, setting="inpatient")
    assert err2.value.message == "setting 'inpatient' is not known."
    with pytest.raises(InputError) as err2:
        check(CLAIM, tiny_kb, fail_on="fatal")
    assert err2.value.message == "fail_on 'fatal' is not a severity."
    assert stub_engine.calls == []


def test_check_many_goes_on_past_bad_claims(stub_engine: StubEngine, tiny_kb: KnowledgeBase) -> None:
    records = list(read_claims(FIXTURES / "claims_two_subscribers.837"))
    items: list[Any] = [*records, CLAIM | {"id": "C9", "payer": {}}, CLAIM | {"id": "C10"}]
    results = list(check_many(items, tiny_kb, packs=[EXAMPLE], fail_on="error"))
    assert [(r.claim_id, r.position, r.where, r.error is None) for r in results] == [
        ("C2001", 25, "segment", True),
        ("C2002", 39, "segment", True),
        ("C2003", 47, "segment", True),
        ("C9", None, "line", False),
        ("C10", None, "line", True),
    ]
    assert [f.rule for f in results[0].findings] == ["PAYER-TELEHEALTH-MODIFIER"]
    assert [f.rule for f in results[1].findings] == ["STUB-UNITS"]  # J3301 x4, Medicaid: the pack is ACME's
    assert results[3].to_dict() == {
        "claim_id": "C9",
        "line": None,
        "error": {
            "code": "CC151",
            "message": "claim C9: payer.id: Field required.",
            "fix": results[3].error.fix if results[3].error else None,
        },
    }
    assert [r.failed for r in results] == [True, False, False, True, True]
    assert [c[0] for c in stub_engine.calls] == ["C2001", "C2002", "C2003", "C10"]


def test_missing_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tiny_kb: KnowledgeBase) -> None:
    monkeypatch.setitem(sys.modules, "chartcode.edits.engine", None)
    with pytest.raises(ChartcodeError) as err:
        check(CLAIM, tiny_kb)
    assert (
        err.value.message
        == "the claim edit engine (chartcode.edits.engine) is not part of this installation."
    )


def test_result_without_findings() -> None:
    result = CheckResult("C1", fail_on="warning")
    assert (result.worst, result.failed, result.to_dict()) == (
        None,
        False,
        {"claim_id": "C1", "findings": []},
    )
    info = CheckResult("C2", (Finding("R", "info", (), (), "m", "f", "c"),), fail_on="warning")
    assert (info.worst, info.failed) == ("info", False)


# --- CLI ------------------------------------------------------------------------------------


def test_cli_text_for_an_837(stub_engine: StubEngine, tiny_kb_path: Path) -> None:
    code, out, err = run(
        str(FIXTURES / "claims_two_subscribers.837"), "--kb", str(tiny_kb_path), "--rules", str(EXAMPLE)
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "claim C2001 (segment 25): 1 finding(s)"
    row = next(line for line in lines if "PAYER-TELEHEALTH-MODIFIER" in line)
    for cell in (
        "error",
        " 1 ",
        "99213",
        "Telehealth line 1 (99213, place of service 02) has none of the",
        "Add modifier 95",
    ):
        assert cell in row
    assert "claim C2002 (segment 39): 1 finding(s)" in lines
    assert "claim C2003 (segment 47): no findings" in lines
    assert lines[-1] == "3 claim(s): 2 with findings (1 error, 1 warning, 0 info)"


def test_cli_text_does_not_read_markup(stub_engine: StubEngine, tiny_kb_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CLAIM | {"place_of_service": "11"}))
    code, out, _ = run(str(path), "--kb", str(tiny_kb_path))
    assert code == 0
    assert "pair [not markup]" in out
    assert "claim C1: 2 finding(s)" in out


def test_cli_json_one_claim_is_an_object(stub_engine: StubEngine, tiny_kb_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CLAIM))
    code, out, _ = run(
        str(path),
        "--kb",
        str(tiny_kb_path),
        "--format",
        "json",
        "--rules",
        str(EXAMPLE),
        "--fail-on",
        "error",
    )
    assert code == 1
    data = json.loads(out)
    assert data["claim_id"] == "C1"
    assert [f["rule"] for f in data["findings"]] == ["STUB-PAIR", "STUB-UNITS", "PAYER-TELEHEALTH-MODIFIER"]


def test_cli_jsonl_batch_with_a_bad_line(stub_engine: StubEngine, tiny_kb_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "claims.jsonl"
    good = CLAIM | {"place_of_service": "11", "lines": [{"code": "99213"}]}
    path.write_text(
        "\n".join([json.dumps(good), "{oops", json.dumps(CLAIM | {"id": "C3", "place_of_service": "11"})])
        + "\n"
    )
    code, out, _ = run(str(path), "--kb", str(tiny_kb_path), "--format", "jsonl")
    assert code == 1  # a claim could not be read
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0] == {"claim_id": "C1", "findings": []}
    assert rows[1]["claim_id"] is None and rows[1]["line"] == 2
    assert (
        rows[1]["error"]["message"]
        == "line 2: not valid JSON at column 2: Expecting property name enclosed in double quotes."
    )
    assert rows[2]["claim_id"] == "C3" and [f["rule"] for f in rows[2]["findings"]] == [
        "STUB-PAIR",
        "STUB-UNITS",
    ]
    code, out, _ = run(str(path), "--kb", str(tiny_kb_path), "--format", "json")
    assert code == 1 and [r.get("claim_id") for r in json.loads(out)] == ["C1", None, "C3"]
    code, out, _ = run(str(path), "--kb", str(tiny_kb_path))
    assert "claim (no id) (line 2): not checked [CC151] line 2: not valid JSON" in out
    assert out.splitlines()[-1] == "3 claim(s): 1 with findings (1 error, 1 warning, 0 info), 1 not checked"


@pytest.mark.parametrize(
    ("fail_on", "exit_code", "summary"),
    [
        (None, 0, "1 claim(s): 1 with findings (0 error, 1 warning, 0 info)"),
        (
            "error",
            0,
            "1 claim(s): 1 with findings (0 error, 1 warning, 0 info); 0 at or above --fail-on error",
        ),
        (
            "warning",
            1,
            "1 claim(s): 1 with findings (0 error, 1 warning, 0 info); 1 at or above --fail-on warning",
        ),
    ],
)
def test_cli_exit_codes(
    stub_engine: StubEngine,
    tiny_kb_path: Path,
    tmp_path: Path,
    fail_on: str | None,
    exit_code: int,
    summary: str,
) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(CLAIM | {"place_of_service": "11", "lines": [{"code": "J3301", "units": 2}]}))
    args = [str(path), "--kb", str(tiny_kb_path)] + (["--fail-on", fail_on] if fail_on else [])
    code, out, _ = run(*args)
    assert code == exit_code
    assert out.splitlines()[-1] == summary


def test_cli_standard_input_and_setting(stub_engine: StubEngine, tiny_kb_path: Path) -> None:
    code, out, _ = run(
        "-",
        "--kb",
        str(tiny_kb_path),
        "--format",
        "jsonl",
        "--setting",
        "outpatient_hospital",
        stdin=json.dumps(CLAIM) + "\n" + json.dumps(CLAIM | {"id": "C2"}) + "\n",
    )
    assert code == 0
    assert [json.loads(line)["claim_id"] for line in out.splitlines()] == ["C1", "C2"]
    assert {c[1] for c in stub_engine.calls} == {"outpatient_hospital"}


def test_cli_errors_are_one_line(stub_engine: StubEngine, tiny_kb_path: Path, tmp_path: Path) -> None:
    code, out, err = run(str(FIXTURES / "claim_bad_se_count.837"), "--kb", str(tiny_kb_path))
    assert code == 1 and out == ""
    assert err == (
        f"error [CC152] {FIXTURES / 'claim_bad_se_count.837'} fails 837P validation (1 error(s)): segment 33 "
        "(ST/SE): SE count of 29 for SE02=0001 is wrong. I count 31. Fix: set SE01 to the number of segments "
        "from ST to SE inclusive, then send the file again.\n"
    )
    bad_pack = tmp_path / "pack.yaml"
    bad_pack.write_text("pack: p\nrules:\n  - id: A\n    kind: prior_auth\n    message: m\n    citation: c\n")
    code, out, err = run(
        str(FIXTURES / "claim_medicare.837"), "--kb", str(tiny_kb_path), "--rules", str(bad_pack)
    )
    assert code == 1
    assert err.startswith(f"error [CC153] {bad_pack}, line 3, column 5: rules[0].when: required key missing.")
    assert err.count("\n") == 1
    code, out, err = run(str(tmp_path / "none.json"), "--kb", str(tiny_kb_path), "--format", "json")
    assert code == 1
    assert json.loads(out)["error"]["message"] == f"file {tmp_path / 'none.json'} does not exist."
    code, _, err = run(str(FIXTURES / "claim_medicare.837"), "--kb", str(tmp_path / "no-kb.sqlite"))
    assert code == 1 and err.startswith("error [CC110] no code-set knowledge base at")
    assert stub_engine.calls == []


# --- the real engine on the full mirror ------------------------------------------------------


@pytest.mark.integration
def test_real_engine_on_the_837_fixtures(request: pytest.FixtureRequest) -> None:
    pytest.importorskip("chartcode.edits.engine")
    full_kb: KnowledgeBase = request.getfixturevalue("full_kb")
    records = [
        r
        for path in ("claim_medicare.837", "claims_two_subscribers.837")
        for r in read_claims(FIXTURES / path)
    ]
    results = list(check_many(records, full_kb, packs=[EXAMPLE]))
    assert [r.claim_id for r in results] == ["C1001", "C2001", "C2002", "C2003"]
    for r in results:
        assert r.error is None
        for f in r.findings:
            assert isinstance(f, Finding) and f.severity in ("error", "warning", "info")
            assert all(1 <= n <= 3 for n in f.lines) and f.message and f.fix and f.citation
    assert "PAYER-TELEHEALTH-MODIFIER" in [f.rule for f in results[1].findings]
