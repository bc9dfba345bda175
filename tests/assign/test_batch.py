"""Batch coding: one output line per input line, in order, error lines, workers and resume."""

from __future__ import annotations

import io
import json
import os
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from chartcode.assign.api import CodingOptions
from chartcode.assign.batch import (
    BatchOutputMismatchError,
    _LineError,
    code_batch,
    count_lines,
    default_chunksize,
    parse_line,
    run_batch_file,
)
from chartcode.errors import ChartcodeError
from tests.assign.fake_coder import broken_factory, fake_factory

DEFAULTS = CodingOptions()
SECRET = "Jane Roe 1957-03-04"  # stands for PHI: must never appear in an error


def errors_of(lines: list[str | bytes]) -> list[dict[str, Any]]:
    return [r for r in code_batch(lines, coder_factory=fake_factory, defaults=DEFAULTS) if "error" in r]


def without_warnings(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "warnings"}


@pytest.mark.parametrize(
    ("line", "line_id", "code", "message", "fix"),
    [
        ("", None, "CC150", "line 7 is empty.", 'e.g. {"id": "1", "text": "..."}. Remove blank lines.'),
        (b"\xff\xfe{}", None, "CC150", "line 7 is not valid UTF-8.", "save the file as UTF-8."),
        (
            '{"id": 1, "text": "' + SECRET,
            None,
            "CC150",
            "line 7 is not valid JSON (Unterminated string starting at at column 19).",
            'write one JSON object per line, e.g. {"id": "1", "text": "..."}.',
        ),
        ('["' + SECRET + '"]', None, "CC150", "line 7 is an array, not a JSON object.", "write one JSON"),
        ('"' + SECRET + '"', None, "CC150", "line 7 is a string, not a JSON object.", "write one JSON"),
        (
            json.dumps({"text": SECRET}),
            None,
            "CC150",
            'line 7: field "id" is missing.',
            'give every line an "id" (a string or an integer).',
        ),
        (
            json.dumps({"id": [1], "text": SECRET}),
            None,
            "CC150",
            'line 7: field "id" must be a string or an integer.',
            'give every line an "id"',
        ),
        (
            json.dumps({"id": "a"}),
            "a",
            "CC150",
            'line 7: field "text" is missing.',
            'put the note in "text".',
        ),
        (
            json.dumps({"id": "a", "text": " \n "}),
            "a",
            "CC150",
            'line 7: field "text" is empty.',
            'put the note in "text", or remove the line.',
        ),
        (
            json.dumps({"id": "a", "text": 42}),
            "a",
            "CC150",
            'line 7: field "text" must be a string (or a FHIR resource object).',
            'put the note in "text" as a JSON string.',
        ),
        (
            json.dumps({"id": 3, "text": SECRET, "date_of_service": "1957-02-30"}),
            3,
            "CC140",
            'line 7: field "date_of_service" is not a valid date.',
            "write it as YYYY-MM-DD, e.g. 2024-08-15.",
        ),
        (
            json.dumps({"id": 3, "text": SECRET, "date_of_service": 20240815}),
            3,
            "CC140",
            'line 7: field "date_of_service" is not a valid date.',
            "YYYY-MM-DD",
        ),
        (
            json.dumps({"id": 3, "text": SECRET, "setting": "ER " + SECRET}),
            3,
            "CC150",
            'line 7: field "setting" must be "outpatient" or "inpatient".',
            'use "outpatient" or "inpatient".',
        ),
        (
            json.dumps({"id": 3, "text": SECRET, "policy": "some"}),
            3,
            "CC150",
            'line 7: field "policy" must be "billing" or "all-mentions".',
            'use "billing" or "all-mentions".',
        ),
        (
            json.dumps({"id": 3, "text": SECRET, "patient": SECRET}),
            3,
            "CC150",
            'line 7: field "patient" must be an object.',
            'write it like {"age": 67, "sex": "F"}.',
        ),
        (
            json.dumps({"id": 3, "text": SECRET, "patient": {"age": 131}}),
            3,
            "CC150",
            'line 7: field "patient.age" must be a whole number from 0 to 130.',
            "give the age in years",
        ),
        (
            json.dumps({"id": 3, "text": SECRET, "patient": {"age": True}}),
            3,
            "CC150",
            'line 7: field "patient.age" must be a whole number from 0 to 130.',
            "give the age in years",
        ),
        (
            json.dumps({"id": 3, "text": SECRET, "patient": {"sex": "X"}}),
            3,
            "CC150",
            'line 7: field "patient.sex" must be "F" or "M".',
            'use "F" or "M", or leave it out.',
        ),
    ],
)
def test_bad_line_gives_exact_error_without_phi(
    line: str | bytes, line_id: str | int | None, code: str, message: str, fix: str
) -> None:
    records = list(code_batch([line], coder_factory=fake_factory, defaults=DEFAULTS, first_line=7))
    assert len(records) == 1
    record = records[0]
    assert set(record) == {"id", "line", "error"}
    assert record["id"] == line_id and record["line"] == 7
    assert record["error"]["code"] == code
    assert record["error"]["message"] == message
    assert fix in record["error"]["fix"]
    assert "Jane" not in json.dumps(record) and "1957" not in json.dumps(record)


def test_coder_errors_become_error_lines_without_note_text() -> None:
    lines = [
        json.dumps({"id": "boom", "text": f"BOOM {SECRET}"}),
        json.dumps({"id": "old", "text": "diabetes", "date_of_service": "2010-05-01"}),
    ]
    boom, old = code_batch(lines, coder_factory=fake_factory, defaults=DEFAULTS)
    assert boom == {
        "id": "boom",
        "line": 1,
        "error": {
            "code": "CC300",
            "message": "line 1: the coder failed (RuntimeError in fake_coder.py:34).",
            "fix": "report it as a bug with the line number; the other lines are not affected.",
        },
    }
    assert old["id"] == "old" and old["error"]["code"] == "CC120"
    assert old["error"]["message"] == "no installed ICD-10-CM release covers 2010-05-01."


def test_line_fields_override_defaults() -> None:
    defaults = CodingOptions(policy="all-mentions", setting="inpatient", date_of_service=date(2026, 1, 5))
    ident, text, options = parse_line(
        json.dumps(
            {
                "id": 9,
                "text": "diabetes",
                "setting": "outpatient",
                "date_of_service": "2025-11-30",
                "patient": {"age": 67, "sex": "f"},
                "billed_em": "99214",
                "extra": "ignored",
            }
        ),
        1,
        defaults,
    )
    assert (ident, text) == (9, "diabetes")
    assert options == CodingOptions(
        policy="all-mentions",
        setting="outpatient",
        date_of_service=date(2025, 11, 30),
        patient_age=67,
        patient_sex="F",
        billed_em="99214",
    )
    with pytest.raises(_LineError) as bad:
        parse_line(json.dumps({"id": 1, "text": "x", "billed_em": "level 4"}), 3, defaults)
    assert "billed_em" in str(bad.value.error)
    # null and absent fields keep the defaults; a FHIR resource object is passed on as JSON text
    _, text, options = parse_line(
        b'{"id": "x", "text": {"resourceType": "Bundle"}, "setting": null}\r\n', 2, defaults
    )
    assert options == defaults and json.loads(text) == {"resourceType": "Bundle"}


def test_one_record_per_line_in_order_with_bad_lines_interleaved() -> None:
    lines: list[str | bytes] = [
        json.dumps({"id": "a", "text": "diabetes with kidney disease", "date_of_service": "2026-02-01"}),
        "{oops",
        json.dumps({"id": "b", "text": "no findings", "setting": "inpatient"}),
        "",
        json.dumps({"id": "c", "text": "legal blindness", "patient": {"age": 80, "sex": "M"}}),
        json.dumps({"id": "d"}),
    ]
    records = list(code_batch(lines, coder_factory=fake_factory, defaults=DEFAULTS))
    assert [r["id"] for r in records] == ["a", None, "b", None, "c", "d"]
    assert [r.get("line") for r in records] == [None, 2, None, 4, None, 6]
    a = records[0]
    assert [d["code"] for d in a["diagnoses"]] == ["E11.9", "E11.22"]
    assert a["diagnoses"][0]["evidence"] == [{"start": 0, "end": 8, "text": "diabetes"}]
    assert a["release"] == "icd10cm-tabular:FY2026" and a["date_of_service"] == "2026-02-01"
    assert (a["policy"], a["setting"]) == ("billing", "outpatient")
    assert list(a)[:6] == ["id", "diagnoses", "release", "date_of_service", "policy", "setting"]
    assert records[2]["diagnoses"] == [] and records[2]["setting"] == "inpatient"
    assert records[4]["date_of_service"] is None


def test_two_workers_keep_order_and_build_the_coder_once_each() -> None:
    lines = [
        json.dumps({"id": i, "text": ("diabetes " if i % 2 else "blindness ") + str(i)}) if i % 7 else "bad"
        for i in range(60)
    ]
    serial = list(code_batch(lines, coder_factory=fake_factory, defaults=DEFAULTS))
    parallel = list(
        code_batch(lines, coder_factory=fake_factory, defaults=DEFAULTS, jobs=2, total=60, chunksize=3)
    )
    assert len(parallel) == 60
    assert [without_warnings(r) for r in parallel] == [without_warnings(r) for r in serial]
    warnings = {w for r in parallel for w in r.get("warnings", [])}
    pids = {w.split()[1] for w in warnings}
    assert str(os.getpid()) not in pids and 1 <= len(pids) <= 2
    assert all(w.endswith("build 1") for w in warnings)  # one coder per worker process


def test_worker_that_cannot_build_the_coder_is_a_clear_error() -> None:
    lines = [json.dumps({"id": i, "text": "diabetes"}) for i in range(300)]
    factory = partial(broken_factory, Path("/nowhere/kb.sqlite"))
    with pytest.raises(ChartcodeError) as info:
        list(code_batch(lines, coder_factory=factory, defaults=DEFAULTS, jobs=2, chunksize=2))
    assert str(info.value) == (
        "[CC110] no code-set knowledge base at /nowhere/kb.sqlite. Fix: run `chartcode codesets install`."
    )
    with pytest.raises(ChartcodeError, match=r"^\[CC110\]"):
        list(code_batch(lines, coder_factory=factory, defaults=DEFAULTS, jobs=1))
    assert list(code_batch([], coder_factory=factory, defaults=DEFAULTS)) == []  # no coder built


def test_chunksize_and_line_count(tmp_path: Path) -> None:
    assert default_chunksize(4, None) == 4
    assert default_chunksize(4, 10) == 1 and default_chunksize(2, 1000) == 32
    path = tmp_path / "in.jsonl"
    for data, n in [(b"", 0), (b"a\n", 1), (b"a\nb", 2), (b"a\n\nb\n", 3)]:
        path.write_bytes(data)
        assert count_lines(path) == n


# --- files and resume ------------------------------------------------------------------------


def make_input(path: Path, n: int = 6) -> list[str]:
    lines = [
        json.dumps({"id": f"n{i}", "text": "diabetes" if i != 2 else ""}) if i != 4 else "not json"
        for i in range(n)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def run_file(inp: Path, out: Path | None, **kw: Any) -> Any:
    return run_batch_file(inp, out, coder_factory=fake_factory, defaults=DEFAULTS, **kw)


def read_records(path: Path) -> list[dict[str, Any]]:
    return [without_warnings(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]


def test_run_batch_file_writes_one_line_per_input_line(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "sub" / "out.jsonl"
    make_input(inp)
    summary = run_file(inp, out)
    assert (summary.lines, summary.resumed, summary.coded, summary.errors) == (6, 0, 6, 2)
    records = read_records(out)
    assert [r["id"] for r in records] == ["n0", "n1", "n2", "n3", None, "n5"]
    assert records[2]["error"]["message"] == 'line 3: field "text" is empty.'
    assert records[4]["line"] == 5
    assert out.read_bytes().endswith(b"}\n")


def test_resume_skips_finished_lines_and_redoes_a_torn_one(tmp_path: Path) -> None:
    inp = tmp_path / "in.jsonl"
    make_input(inp)
    full = tmp_path / "full.jsonl"
    run_file(inp, full)
    expected = read_records(full)
    done = full.read_bytes().split(b"\n")
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"\n".join(done[:3]) + b"\n" + done[3][:25])  # killed while writing line 4
    summary = run_file(inp, out)
    assert (summary.lines, summary.resumed, summary.coded, summary.errors) == (6, 3, 3, 1)
    assert read_records(out) == expected
    # the kept lines are the old bytes, not recomputed ones
    assert out.read_bytes().split(b"\n")[:3] == done[:3]
    # a torn last line that still got its newline is redone too
    out.write_bytes(b"\n".join(done[:5]) + b"\n" + b'{"id": "n5", "diag\n')
    summary = run_file(inp, out)
    assert (summary.resumed, summary.coded) == (5, 1)
    assert read_records(out) == expected
    # nothing left to do
    summary = run_file(inp, out)
    assert (summary.resumed, summary.coded) == (6, 0) and read_records(out) == expected


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        (
            b'{"id": "n0", "diagnoses": []}\n{"id": "zz", "diagnoses": []}\n',
            "out.jsonl line 2 does not belong to line 2 of in.jsonl (the ids differ); it was written for "
            "another input and was left untouched.",
        ),
        (
            b'{"id": "n0"}\n{"id": "n1"}\n{"id": "n2", "line": 3, "error": {}}\n{"id": "n3"}\n'
            b'{"id": null, "line": 4, "error": {}}\n',  # right id (none), wrong line number
            "out.jsonl line 5 does not belong to line 5 of in.jsonl (the ids differ)",
        ),
        (
            b'{"id": "n0"}\nnot json\n{"id": "n2"}\n',
            "out.jsonl line 2 is not an output record of `chartcode code`; the file is not a batch output "
            "and was left untouched.",
        ),
        (
            b"".join(b'{"id": "n%d"}\n' % i for i in (0, 1, 2, 3))
            + b'{"id": null, "line": 5, "error": {}}\n{"id": "n5"}\n{"id": "n6"}\n',
            "out.jsonl has more lines than the input in.jsonl; it was written for another input and was "
            "left untouched.",
        ),
    ],
)
def test_mismatched_output_is_an_error_and_is_not_clobbered(
    tmp_path: Path, existing: bytes, message: str
) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    make_input(inp)
    out.write_bytes(existing)
    with pytest.raises(BatchOutputMismatchError) as info:
        run_file(inp, out)
    assert info.value.code == "CC150"
    assert message in info.value.message
    assert info.value.fix == "write to another --output path, or delete out.jsonl to start over."
    assert out.read_bytes() == existing


def test_error_lines_without_id_resume_by_line_number(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    make_input(inp)
    full = tmp_path / "full.jsonl"
    run_file(inp, full)
    out.write_bytes(b"\n".join(full.read_bytes().split(b"\n")[:5]) + b"\n")  # up to the invalid line 5
    summary = run_file(inp, out)
    assert (summary.resumed, summary.coded) == (5, 1)
    assert read_records(out) == read_records(full)


def test_standard_input_and_output() -> None:
    stdin = io.BytesIO(b'{"id": 1, "text": "diabetes"}\n{"id": 2, "text": "kidney"}')
    stdout = io.StringIO()
    summary = run_batch_file(
        None, None, coder_factory=fake_factory, defaults=DEFAULTS, stdin=stdin, stdout=stdout
    )
    assert summary.input == "-" and summary.output is None and summary.coded == 2
    records = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [r["diagnoses"][0]["code"] for r in records] == ["E11.9", "E11.22"]


def test_missing_input_file_and_output_over_input(tmp_path: Path) -> None:
    with pytest.raises(ChartcodeError, match=r"^\[CC150\] input file .*none.jsonl does not exist\."):
        run_file(tmp_path / "none.jsonl", None)
    inp = tmp_path / "in.jsonl"
    make_input(inp)
    before = inp.read_bytes()
    with pytest.raises(ChartcodeError, match=r"^\[CC150\] --output .*in.jsonl is the input file\."):
        run_file(inp, tmp_path / "." / "in.jsonl")
    assert inp.read_bytes() == before


def test_output_being_written_by_another_run_is_refused(tmp_path: Path) -> None:
    fcntl = pytest.importorskip("fcntl")
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    make_input(inp)
    out.write_bytes(b'{"id": "n0"}\n')
    with out.open("rb") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(ChartcodeError) as info:
            run_file(inp, out)
    assert str(info.value) == (
        "[CC150] out.jsonl is being written by another `chartcode code` run. Fix: wait for it to finish "
        "(or stop it), then run again to resume."
    )
    assert out.read_bytes() == b'{"id": "n0"}\n'
