"""``chartcode code`` and ``chartcode eval`` with a fake coder on the tiny fixture knowledge base."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chartcode.assign.api import CodingOptions, CodingResult
from chartcode.cli import coding
from chartcode.cli.main import app
from tests.assign.fake_coder import FakeCoder, fake_factory
from tests.codesets.sourcekit import make_source_dir

runner = CliRunner(env={"COLUMNS": "250"})
FAKE = "tests.assign.fake_coder:fake_factory"


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("codingcli")
    path = root / "kb.sqlite"
    result = runner.invoke(
        app, ["codesets", "install", "--source", str(make_source_dir(root / "mirror")), "--kb", str(path)]
    )
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(autouse=True)
def fake_coder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coding, "CODER_FACTORY", fake_factory)
    monkeypatch.delenv(coding.FACTORY_ENV, raising=False)


def run(
    *args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin, env=env)
    return result.exit_code, result.stdout, result.stderr


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


# --- one note ---------------------------------------------------------------------------------


def test_one_note_text_names_the_release(kb: Path, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("Assessment: type 2 diabetes, stable.\n")
    code, out, err = run("code", str(note), "--kb", str(kb))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == (
        "ICD-10-CM release icd10cm-tabular:FY2026 (no date of service: the newest installed release was "
        "used); policy billing, outpatient"
    )
    row = next(line for line in lines if "E11.9" in line)
    for cell in ("Type 2 diabetes mellitus without complications", "diabetes", "keyword 'diabetes'", "0.90"):
        assert cell in row
    assert "warning: pid" in out


def test_one_note_json_with_options(kb: Path, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("legal blindness")
    code, out, _ = run(
        "code",
        str(note),
        "--kb",
        str(kb),
        "--format",
        "json",
        "--date",
        "2026-03-02",
        "--policy",
        "all-mentions",
        "--setting",
        "inpatient",
    )
    assert code == 0
    data = json.loads(out)
    assert data["date_of_service"] == "2026-03-02"
    assert (data["policy"], data["setting"], data["release"]) == (
        "all-mentions",
        "inpatient",
        "icd10cm-tabular:FY2026",
    )
    assert data["diagnoses"][0]["code"] == "H54.8"
    assert data["diagnoses"][0]["evidence"] == [{"start": 6, "end": 15, "text": "blindness"}]


def test_raw_bytes_and_patient_options_reach_the_coder(
    kb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str | bytes, CodingOptions, Path | None]] = []

    class Spy(FakeCoder):
        def code(self, text: str | bytes, options: CodingOptions) -> CodingResult:
            seen.append((text, options, path))
            return super().code(text, options)

    path: Path | None = None

    def spy_factory(kb_path: Path | None) -> Spy:
        nonlocal path
        path = kb_path
        return Spy(1)

    monkeypatch.setattr(coding, "CODER_FACTORY", spy_factory)
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(b'{"resourceType": "Bundle", "entry": []}')
    code, out, _ = run("code", str(bundle), "--kb", str(kb), "--age", "67", "--sex", "f", "--format", "json")
    assert code == 0 and json.loads(out)["diagnoses"] == []
    assert seen == [
        (bundle.read_bytes(), CodingOptions(patient_age=67, patient_sex="F"), kb),
    ]
    code, _, _ = run("code", "-", "--kb", str(kb), stdin=b"<ClinicalDocument/>")
    assert code == 0 and seen[-1][0] == b"<ClinicalDocument/>"


def test_one_note_to_output_file(kb: Path, tmp_path: Path) -> None:
    note, report = tmp_path / "note.txt", tmp_path / "new folder" / "res.json"  # the folder is created
    note.write_text("diabetes")
    code, out, _ = run("code", str(note), "--kb", str(kb), "--format", "json", "--output", str(report))
    assert code == 0 and out == ""
    assert json.loads(report.read_text())["diagnoses"][0]["code"] == "E11.9"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["code", "MISSING.txt"], None, "[CC150] file MISSING.txt does not exist."),
        (["code", "-"], "  \n", "[CC150] the note in standard input is empty. Fix: give a note to code."),
        (
            ["code", "-", "--date", "2024-02-30"],
            "diabetes",
            "[CC140] date of service '2024-02-30' is not a valid",
        ),
        (
            ["code", "-", "--date", "2010-01-01"],
            "diabetes",
            "[CC120] no installed ICD-10-CM release covers 2010-01-01.",
        ),
    ],
)
def test_one_note_errors(kb: Path, args: list[str], stdin: str | None, message: str) -> None:
    code, out, err = run(*args, "--kb", str(kb), stdin=stdin)
    assert code == 1
    assert message in err and "Traceback" not in out + err
    assert len(err.strip().splitlines()) == 1


def test_error_in_json_format_is_an_object(kb: Path) -> None:
    code, out, _ = run(
        "code", "-", "--kb", str(kb), "--format", "json", "--date", "2010-01-01", stdin="diabetes"
    )
    assert code == 1 and json.loads(out)["error"]["code"] == "CC120"


def test_coder_factory_from_environment(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coding, "CODER_FACTORY", None)  # would fail if used
    code, out, _ = run(
        "code", "-", "--kb", str(kb), "--format", "json", stdin="diabetes", env={coding.FACTORY_ENV: FAKE}
    )
    assert code == 0 and json.loads(out)["diagnoses"][0]["code"] == "E11.9"
    code, _, err = run("code", "-", "--kb", str(kb), stdin="x", env={coding.FACTORY_ENV: "tests.nope:f"})
    assert code == 1
    assert "[CC150] $CHARTCODE_CODER_FACTORY='tests.nope:f' does not name a function." in err


# --- batches -----------------------------------------------------------------------------------

BATCH = [
    {"id": "a", "text": "diabetes with kidney disease"},
    "{not json",
    {"id": "b", "text": "legal blindness", "setting": "outpatient", "date_of_service": "2026-01-15"},
    {"id": "c", "text": ""},
    {"id": "d", "text": "BOOM Jane Roe"},
    {"id": "e", "text": "nothing", "date_of_service": "2026-13-01"},
]


def write_batch(path: Path) -> Path:
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in BATCH),
        encoding="utf-8",
    )
    return path


def test_batch_file_one_line_per_input_line(kb: Path, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "notes.jsonl")
    code, out, err = run(
        "code", str(batch), "--kb", str(kb), "--jobs", "1", "--setting", "inpatient", "--date", "2026-02-01"
    )
    assert code == 0, err
    records = jsonl(out)
    assert [r["id"] for r in records] == ["a", None, "b", "c", "d", "e"]
    a, bad, b, c, d, e = records
    assert [x["code"] for x in a["diagnoses"]] == ["E11.9", "E11.22"]
    assert (a["setting"], a["date_of_service"], a["policy"]) == ("inpatient", "2026-02-01", "billing")
    assert (b["setting"], b["date_of_service"]) == ("outpatient", "2026-01-15")  # the line overrides
    assert bad == {
        "id": None,
        "line": 2,
        "error": {
            "code": "CC150",
            "message": "line 2 is not valid JSON "
            "(Expecting property name enclosed in double quotes at column 2).",
            "fix": 'write one JSON object per line, e.g. {"id": "1", "text": "..."}.',
        },
    }
    assert c["error"]["message"] == 'line 4: field "text" is empty.'
    assert d["error"] == {
        "code": "CC300",
        "message": "line 5: the coder failed (RuntimeError in fake_coder.py:34).",
        "fix": "report it as a bug with the line number; the other lines are not affected.",
    }
    assert e["error"]["code"] == "CC140"
    assert e["error"]["message"] == 'line 6: field "date_of_service" is not a valid date.'
    assert "Jane" not in out and "2026-13-01" not in out


def test_batch_on_standard_input(kb: Path) -> None:
    stdin = '{"id": 1, "text": "diabetes"}\n{"id": 2, "text": "kidney"}\n'
    code, out, _ = run("code", "-", "--format", "jsonl", "--kb", str(kb), "--jobs", "1", stdin=stdin)
    assert code == 0
    assert [(r["id"], r["diagnoses"][0]["code"]) for r in jsonl(out)] == [(1, "E11.9"), (2, "E11.22")]


def test_batch_resume_after_interruption(kb: Path, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "notes.jsonl")
    full = tmp_path / "full.jsonl"
    code, out, _ = run("code", str(batch), "--kb", str(kb), "--jobs", "1", "--output", str(full))
    assert code == 0
    assert out.strip() == f"6 line(s) in {full}: 6 coded now (4 error line(s)), 0 kept from before."
    lines = full.read_bytes().split(b"\n")
    partial = tmp_path / "partial.jsonl"
    partial.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:10])  # a torn 4th line
    code, out, _ = run(
        "code", str(batch), "--kb", str(kb), "--jobs", "1", "--output", str(partial), "--format", "json"
    )
    assert code == 0
    summary = json.loads(out)
    assert (summary["lines"], summary["resumed"], summary["coded"], summary["errors"]) == (6, 3, 3, 3)

    def strip(path: Path) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "warnings"} for r in jsonl(path.read_text())]

    assert strip(partial) == strip(full)


def test_batch_output_for_another_input_is_refused(kb: Path, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "notes.jsonl")
    other = tmp_path / "other.jsonl"
    other.write_text('{"id": "zz", "diagnoses": []}\n')
    code, out, err = run("code", str(batch), "--kb", str(kb), "--jobs", "1", "--output", str(other))
    assert code == 1 and out == ""
    assert err.strip() == (
        "error [CC150] other.jsonl line 1 does not belong to line 1 of notes.jsonl (the ids differ); it was "
        "written for another input and was left untouched. Fix: write to another --output path, or delete "
        "other.jsonl to start over."
    )
    assert other.read_text() == '{"id": "zz", "diagnoses": []}\n'


# --- eval --------------------------------------------------------------------------------------


def write_cases(path: Path, *, invalid: bool = False) -> Path:
    cases = [
        {"id": "c1", "text": "diabetes with kidney disease", "icd10cm": ["E11.22", "E11.9"], "icd10pcs": []},
        {"id": "c2", "text": "legal blindness", "icd10cm": ["H54.8", "S02.0XX"], "icd10pcs": ["0DB6"]},
        {"id": "c3", "text": "nothing to code", "icd10cm": ["I10"], "icd10pcs": []},
        {"id": "c4", "text": "scalp" if invalid else "diabetes", "icd10cm": [], "icd10pcs": []},
    ]
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def test_eval_json_and_report_file(kb: Path, tmp_path: Path) -> None:
    data = write_cases(tmp_path / "dev.jsonl")
    report_path = tmp_path / "out" / "report.json"
    code, out, err = run(
        "eval",
        "--data",
        str(data),
        "--kb",
        str(kb),
        "--jobs",
        "1",
        "--format",
        "json",
        "--output",
        str(report_path),
    )
    assert code == 0, err
    report = json.loads(out)
    assert json.loads(report_path.read_text()) == report
    assert report["data"] == str(data) and report["sample"] is None and report["policy"] == "all-mentions"
    assert report["counts"] == {
        "documents": 4,
        "documents_without_gold": 1,
        "gold_codes": 5,
        "predicted_codes": 4,
        "errors": 0,
    }
    full = report["scores"]["full"]
    assert (full["tp"], full["fp"], full["fn"]) == (3, 1, 2)
    assert report["scores"]["no7th"]["fn"] == 2
    assert report["invalid_emitted"] == {"count": 0, "share": 0.0, "codes": {}}
    assert report["gold_not_valid"]["count"] == 2  # S02.0XX (no 7th character) and I10 (not in the fixture)


def test_eval_text_sample_and_invalid_codes_fail(kb: Path, tmp_path: Path) -> None:
    data = write_cases(tmp_path / "dev.jsonl", invalid=True)
    code, out, err = run(
        "eval", "--data", str(data), "--kb", str(kb), "--jobs", "1", "--sample", "4", "--seed", "3"
    )
    assert code == 1
    assert "dev.jsonl: 4 document(s), policy all-mentions, release icd10cm-tabular:FY2026" in out
    assert "no7th" in out and "category" in out
    assert "invalid on the date used: 1 (25.0%)" in out
    assert err.strip() == "error 1 emitted code(s) are not valid on the date used: S01.01XA"
    code, out, _ = run(
        "eval",
        "--data",
        str(data),
        "--kb",
        str(kb),
        "--jobs",
        "1",
        "--sample",
        "2",
        "--seed",
        "3",
        "--format",
        "json",
    )
    assert json.loads(out)["counts"]["documents"] == 2 and json.loads(out)["seed"] == 3


def test_eval_missing_data(kb: Path, tmp_path: Path) -> None:
    code, _, err = run("eval", "--data", str(tmp_path / "none.jsonl"), "--kb", str(kb))
    assert code == 1 and f"[CC150] no CodiEsp data at {tmp_path / 'none.jsonl'}." in err


def test_eval_date_option(kb: Path, tmp_path: Path) -> None:
    data = write_cases(tmp_path / "dev.jsonl")
    base = ("eval", "--data", str(data), "--kb", str(kb), "--jobs", "1", "--format", "json")
    code, out, err = run(*base)
    assert code == 0, err
    assert json.loads(out)["date_of_service"] == "2019-07-01"  # the corpus date (codiesp.CORPUS_DATE)
    code, out, err = run(*base, "--date", "newest")
    assert code == 0, err
    assert json.loads(out)["date_of_service"] is None
    code, out, err = run(*base, "--date", "2025-13-01")
    assert code == 1 and "[CC140]" in err and "2025-13-01" in err


def test_real_coder_is_wired(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default factory builds the real coder on the knowledge base given with --kb."""
    pytest.importorskip("chartcode.assign.coder")
    from chartcode.assign.batch import default_coder_factory

    monkeypatch.setattr(coding, "CODER_FACTORY", default_coder_factory)
    note = "Type 2 diabetes mellitus with diabetic chronic kidney disease."
    code, out, err = run("code", "-", "--kb", str(kb), "--format", "json", stdin=note)
    assert code == 0, err
    data = json.loads(out)
    assert data["release"] == "icd10cm-tabular:FY2026" and "E11.22" in [d["code"] for d in data["diagnoses"]]
