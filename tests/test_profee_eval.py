"""Professional-fee golden set and scorer (issue 4): loader errors, scores on hand-made predictions, the
shipped golden file's codes against the full knowledge base, and ``chartcode eval --suite profee``."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chartcode.assign.api import CodedDiagnosis, CodingOptions, CodingResult
from chartcode.cli import coding
from chartcode.cli.main import app
from chartcode.codesets.kb import KnowledgeBase
from chartcode.errors import ChartcodeError
from chartcode.eval import profee
from chartcode.eval.profee import (
    GoldenFileError,
    GoldenNote,
    PredictedEm,
    PredictedLine,
    Prediction,
    load_golden,
    prediction_from_output,
    score,
)

runner = CliRunner(env={"COLUMNS": "250"})
FACTORY = "tests.test_profee_eval:fake_profee_factory"


def gold(
    ident: str, em: dict[str, Any] | None, lines: list[dict[str, Any]], dx: list[str], **kw: Any
) -> GoldenNote:
    obj: dict[str, Any] = {
        "id": ident,
        "text": f"synthetic note {ident}",
        "date_of_service": "2024-08-15",
        "expected": {"em": em, "procedures": lines, "diagnoses": dx},
        **kw,
    }
    return GoldenNote.model_validate(obj)


def line(
    code: str, mods: list[str] | None = None, units: int = 1, dx: list[str] | None = None
) -> dict[str, Any]:
    return {
        "code": code,
        "system": "HCPCS" if code[0].isalpha() else "CPT",
        "modifiers": mods or [],
        "units": units,
        "dx": dx or [],
    }


# --- scoring on hand-made predictions ------------------------------------------------------------


@pytest.fixture
def notes() -> list[GoldenNote]:
    return [
        # E/M + injection with drug
        gold(
            "a",
            {"code": "99214", "modifiers": ["25"], "method": "MDM"},
            [line("20610", ["RT"], 1, ["M17.11"]), line("J3301", [], 4, ["M17.11"])],
            ["M17.11", "I10"],
        ),
        # procedure only
        gold(
            "b",
            None,
            [line("12002", [], 1, ["S51.812A"]), line("90471", [], 1, ["Z23"])],
            ["S51.812A", "Z23"],
        ),
        # time-based visit, billed too high
        gold("c", {"code": "99203", "modifiers": [], "method": "time"}, [], ["J01.00"], billed_em="99205"),
    ]


@pytest.fixture
def preds() -> list[Prediction]:
    return [
        Prediction(
            diagnoses=("M17.11", "I10"),
            em=PredictedEm("99213", "MDM", ("25",)),  # one level low
            procedures=(
                PredictedLine("20610", ("RT",), 1, (1,)),  # right
                PredictedLine("J3301", (), 3, (2,)),  # wrong units, points to I10 only
            ),
        ),
        Prediction(
            diagnoses=("Z23", "S51.812A"),
            em=PredictedEm("99212", "MDM"),  # spurious E/M
            procedures=(
                PredictedLine("12002", ("LT",), 1, (2, 1)),  # extra modifier, pointers right
                PredictedLine("90471", (), 1, (1,)),
                PredictedLine("96372", (), 1, (1,)),  # spurious line
            ),
        ),
        Prediction(
            diagnoses=("J01.90",),
            em=PredictedEm("99203", "MDM", (), ("EM-UPCODE",)),  # right code, wrong method
        ),
    ]


def test_scores_on_hand_made_predictions(notes: list[GoldenNote], preds: list[Prediction]) -> None:
    report = score(notes, preds)
    em = report["em"]
    # a: 99213 for 99214 (within one, not exact); c: exact
    assert (em["notes"], em["exact"], em["within_one"]) == (2, 0.5, 1.0)
    assert em["modifiers"] == 0.5  # c: same code, no modifiers; a: wrong code
    assert (em["method"], em["method_notes"]) == (0.5, 2)  # a MDM right, c time expected
    assert (em["missed"], em["spurious"], em["notes_without_em"]) == (0, 1, 1)

    lines = report["lines"]
    # code: tp 20610 J3301 12002 90471 = 4, fp 96372, fn 0
    assert {k: lines["code"][k] for k in ("tp", "fp", "fn")} == {"tp": 4, "fp": 1, "fn": 0}
    assert lines["code"]["precision"] == pytest.approx(0.8) and lines["code"]["recall"] == 1.0
    # code+modifiers: 12002-LT does not match 12002
    assert {k: lines["code+modifiers"][k] for k in ("tp", "fp", "fn")} == {"tp": 3, "fp": 2, "fn": 1}
    # code+modifiers+units: J3301 x3 does not match x4 either
    full = lines["code+modifiers+units"]
    assert (full["tp"], full["fp"], full["fn"]) == (2, 3, 2)
    assert full["precision"] == pytest.approx(0.4) and full["recall"] == pytest.approx(0.5)
    assert full["f1"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)

    link = report["linkage"]
    # matched lines with dx: 20610 (first -> M17.11 ok), J3301 (first -> I10 wrong, M17.11 not covered),
    # 12002 (first -> S51.812A ok), 90471 (first -> Z23 ok)
    assert link["lines"] == 4
    assert link["first_pointer"] == pytest.approx(0.75)
    assert link["covers_first_dx"] == pytest.approx(0.75)

    dx = report["diagnoses"]
    # tp M17.11 I10 Z23 S51.812A; fp J01.90; fn J01.00
    assert (dx["tp"], dx["fp"], dx["fn"]) == (4, 1, 1)
    assert dx["precision"] == pytest.approx(0.8) and dx["recall"] == pytest.approx(0.8)
    assert dx["first_listed"] == pytest.approx(1 / 3)  # b lists Z23 first

    assert report["billed_em"] == [
        {"id": "c", "billed": "99205", "expected": "99203", "predicted": "99203", "flags": ["EM-UPCODE"]}
    ]
    misses = {m["id"]: m for m in report["misses"]}
    assert misses["a"]["em"] == {"expected": "99214-25", "predicted": "99213-25"}
    assert misses["a"]["missed_lines"] == ["J3301 x4"] and misses["a"]["spurious_lines"] == ["J3301 x3"]
    assert misses["a"]["linkage"] == [{"line": "J3301", "expected_dx": ["M17.11"], "pointed_dx": ["I10"]}]
    assert misses["b"]["em"] == {"expected": None, "predicted": "99212"}
    assert misses["b"]["spurious_lines"] == ["12002-LT x1", "96372 x1"]
    assert misses["c"]["missed_dx"] == ["J01.00"] and misses["c"]["spurious_dx"] == ["J01.90"]
    assert report["top_errors"] == {
        "missed_lines": [("12002 x1", 1), ("J3301 x4", 1)],
        "spurious_lines": [("12002-LT x1", 1), ("96372 x1", 1), ("J3301 x3", 1)],
        "missed_dx": [("J01.00", 1)],
        "spurious_dx": [("J01.90", 1)],
        "em": [("99214-25->99213-25", 1), ("none->99212", 1)],
    }
    assert report["counts"] == {
        "notes": 3,
        "notes_with_em": 2,
        "expected_lines": 4,
        "predicted_lines": 5,
        "expected_diagnoses": 5,
        "predicted_diagnoses": 5,
        "errors": 0,
    }


def test_a_perfect_prediction_scores_one_and_lists_no_misses(notes: list[GoldenNote]) -> None:
    perfect = []
    for n in notes:
        dx = list(n.expected.diagnoses)
        em = n.expected.em
        perfect.append(
            Prediction(
                diagnoses=tuple(dx),
                em=PredictedEm(em.code, em.method, em.modifiers) if em else None,
                procedures=tuple(
                    PredictedLine(p.code, p.modifiers, p.units, tuple(dx.index(d) + 1 for d in p.dx))
                    for p in n.expected.procedures
                ),
            )
        )
    report = score(notes, perfect)
    assert report["misses"] == []
    values = [report["em"][k] for k in ("exact", "within_one", "modifiers", "method")]
    values += [s["f1"] for s in report["lines"].values()]
    values += [
        report["linkage"]["first_pointer"],
        report["linkage"]["covers_first_dx"],
        report["diagnoses"]["f1"],
    ]
    assert values == [1.0] * len(values)


def test_missing_em_duplicated_lines_and_bad_pointers() -> None:
    notes = [gold("x", {"code": "99285", "modifiers": []}, [line("90460", [], 1, ["Z23"])] * 2, ["Z23"])]
    preds = [
        Prediction(
            diagnoses=("Z23",),
            procedures=(PredictedLine("90460", (), 1, (7,)),),  # pointer outside the list
        )
    ]
    report = score(notes, preds)
    assert report["em"]["missed"] == 1 and report["em"]["exact"] == 0.0 and report["em"]["method_notes"] == 0
    # lines are a multiset: one of the two expected 90460 lines is matched
    assert {k: report["lines"]["code"][k] for k in ("tp", "fp", "fn")} == {"tp": 1, "fp": 0, "fn": 1}
    assert report["linkage"] == {"lines": 1, "first_pointer": 0.0, "covers_first_dx": 0.0}
    assert report["misses"][0]["linkage"] == [{"line": "90460", "expected_dx": ["Z23"], "pointed_dx": []}]
    with pytest.raises(ValueError, match="1 notes but 0 predictions"):
        score(notes, [])


def test_scores_by_split(notes: list[GoldenNote], preds: list[Prediction]) -> None:
    held = [n.model_copy(update={"split": "holdout"}) if n.id == "c" else n for n in notes]
    splits = score(held, preds)["splits"]
    assert list(splits) == ["dev", "holdout"]
    assert splits["holdout"] == {
        "notes": 1,
        "em_exact": 1.0,
        "em_within_one": 1.0,
        "lines_f1": {"code": 0.0, "code+modifiers": 0.0, "code+modifiers+units": 0.0},
        "linkage_first_pointer": 0.0,
        "diagnoses_f1": 0.0,
    }
    dev = splits["dev"]
    assert (dev["notes"], dev["em_exact"], dev["em_within_one"]) == (2, 0.0, 1.0)
    assert dev["lines_f1"]["code"] == pytest.approx(2 * 0.8 * 1.0 / 1.8)
    assert dev["diagnoses_f1"] == 1.0 and dev["linkage_first_pointer"] == pytest.approx(0.75)
    assert list(score(notes, preds)["splits"]) == ["dev"]


def test_em_family_levels() -> None:
    assert profee.em_family_level("99214") == ("office-established", 4)
    assert profee.em_family_level("99204") == ("office-new", 4)
    assert profee.em_family_level("99285") == ("emergency", 5)
    notes = [gold("n", {"code": "99204", "modifiers": []}, [], ["I10"])]
    # 99214 is level 4 too, but of another family: not within one level
    report = score(notes, [Prediction(diagnoses=("I10",), em=PredictedEm("99214"))])
    assert report["em"]["within_one"] == 0.0
    report = score(notes, [Prediction(diagnoses=("I10",), em=PredictedEm("99205"))])
    assert report["em"]["within_one"] == 1.0 and report["em"]["exact"] == 0.0


def test_prediction_from_coder_output() -> None:
    out = {
        "diagnoses": [{"code": "M17.11"}, {"code": "I10"}],
        "em": {"code": "99214", "method": "MDM", "modifiers": ["25"], "flags": [{"id": "EM-DOWNCODE"}]},
        "procedures": [
            {"code": "20610", "system": "CPT", "modifiers": ["rt"], "units": 1, "dx_pointers": [1]},
            {"code": "J3301", "system": "HCPCS", "modifiers": [], "units": 4, "dx_pointers": [1, 2]},
        ],
    }
    pred = prediction_from_output(out)
    assert pred.diagnoses == ("M17.11", "I10")
    assert pred.em == PredictedEm("99214", "MDM", ("25",), ("EM-DOWNCODE",))
    assert pred.procedures == (
        PredictedLine("20610", ("RT",), 1, (1,)),
        PredictedLine("J3301", (), 4, (1, 2)),
    )
    assert pred.missing_fields == ()
    old = prediction_from_output({"diagnoses": [{"code": "I10"}]})  # a coder without services yet
    assert (old.em, old.procedures, old.missing_fields) == (None, (), ("em", "procedures"))
    assert prediction_from_output({"diagnoses": [], "em": None, "procedures": []}).missing_fields == ()


def test_options_for_a_note() -> None:
    note = gold(
        "o", None, [], ["I10"], setting="inpatient", patient={"age": 4, "sex": "F"}, billed_em="99215"
    )
    options = profee.options_for(note)
    assert options.policy == "billing" and options.setting == "inpatient"
    assert options.date_of_service == date(2024, 8, 15)
    assert (options.patient_age, options.patient_sex) == (4, "F")


# --- loading --------------------------------------------------------------------------------------

GOOD = {
    "id": "g1",
    "text": "note",
    "setting": "outpatient",
    "date_of_service": "2024-08-15",
    "patient": {"age": 40, "sex": "F"},
    "expected": {"em": None, "procedures": [line("99386", [], 1, ["Z00.00"])], "diagnoses": ["Z00.00"]},
}


def _with(**changes: Any) -> str:
    obj = json.loads(json.dumps(GOOD))
    obj["id"] = "g2"
    for key, value in changes.items():
        target = obj
        *path, last = key.split("__")
        for part in path:
            target = target[part]
        target[last] = value
    return json.dumps(obj)


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ("{oops", "golden.jsonl line 2 is not valid JSON."),
        ("[1, 2]", "golden.jsonl line 2 is not a JSON object."),
        ("", "golden.jsonl line 2 is empty."),
        (_with(text=""), 'golden.jsonl line 2: field "text": String should have at least 1 character'),
        (_with(date_of_service="15/08/2024"), 'line 2: field "date_of_service"'),
        (_with(setting="office"), "line 2: field \"setting\": Input should be 'outpatient' or 'inpatient'"),
        (_with(expected__diagnoses=["m1711"]), 'line 2: field "expected.diagnoses": Value error, ICD-10-CM'),
        (
            _with(expected__procedures=[{**line("20610"), "modifiers": ["right"]}]),
            'field "expected.procedures.0.modifiers"',
        ),
        (_with(expected__procedures=[{**line("20610"), "units": 0}]), 'field "expected.procedures.0.units"'),
        (
            _with(expected__procedures=[{**line("20610"), "system": "ICD"}]),
            'field "expected.procedures.0.system"',
        ),
        (_with(expected__em={"code": "99214", "level": 4}), 'field "expected.em.level": Extra inputs'),
        (_with(billed_em="level 5"), 'field "billed_em"'),
        (_with(split="Hold Out"), 'field "split"'),
        (json.dumps({k: v for k, v in GOOD.items() if k != "expected"}), 'field "expected": Field required'),
        (json.dumps(GOOD), 'golden.jsonl line 2: id "g1" is already used on line 1.'),
    ],
)
def test_load_golden_errors_name_the_line_and_field(tmp_path: Path, second: str, message: str) -> None:
    path = tmp_path / "golden.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + second + "\n", encoding="utf-8")
    with pytest.raises(GoldenFileError) as info:
        load_golden(path)
    assert info.value.code == "CC420"
    assert message in info.value.message
    assert "note" not in info.value.message.replace("notes", "")  # never the note text


def test_load_golden_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(GoldenFileError, match=r"no professional-fee golden file at .*nope\.jsonl"):
        load_golden(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(GoldenFileError, match=r"empty\.jsonl holds no notes"):
        load_golden(tmp_path / "empty.jsonl")
    (tmp_path / "one.jsonl").write_text(json.dumps(GOOD) + "\n")
    [note] = load_golden(tmp_path / "one.jsonl")
    assert note.expected.procedures[0].code == "99386" and note.patient is not None and note.patient.age == 40


# --- the shipped golden set -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def golden() -> list[GoldenNote]:
    return load_golden()


def test_shipped_golden_set_covers_the_issue(golden: list[GoldenNote]) -> None:
    assert len(golden) >= 24
    codes = Counter(p.code for n in golden for p in n.expected.procedures)
    em = Counter(n.expected.em.code for n in golden if n.expected.em)
    methods = Counter(n.expected.em.method for n in golden if n.expected.em)
    mods = {m for n in golden for p in n.expected.procedures for m in p.modifiers}
    assert methods["MDM"] >= 5 and methods["time"] >= 2
    assert {"99212", "99213", "99214", "99215"} <= set(em) and {"99203", "99204"} <= set(em)
    assert {"99283", "99285"} <= set(em) and {"99232", "99239"} <= set(em)  # ED and hospital days
    assert any(n.expected.em and "25" in n.expected.em.modifiers for n in golden)
    assert codes["20610"] >= 2 and any(
        p.code.startswith("J") and p.units > 1 for n in golden for p in n.expected.procedures
    )
    assert {"73562", "73610", "73110"} <= set(codes) and {"RT", "LT", "50", "26", "59"} <= mods
    assert {"12001", "12002", "12032", "12051"} <= set(codes) and {"11402", "11642"} <= set(codes)
    assert {"99391", "99392", "99394", "99396", "99386"} <= set(codes) and {"90460", "90461", "90471"} <= set(
        codes
    )
    assert {"93000", "94060", "81002", "36415"} <= set(codes)
    assert sum(1 for n in golden if n.expected.em is None) >= 3  # procedure-only notes
    assert any(n.billed_em for n in golden)
    assert {n.setting for n in golden} == {"outpatient", "inpatient"}
    for n in golden:
        assert n.date_of_service.year == 2024, n.id  # inside the installed HCPCS/NCCI quarter
        for p in n.expected.procedures:
            assert set(p.dx) <= set(n.expected.diagnoses), n.id  # pointers resolve through the diagnoses


def test_every_expected_code_is_valid_on_the_date_of_service(
    golden: list[GoldenNote], full_kb: KnowledgeBase
) -> None:
    """Keeps the golden set honest: ICD-10-CM and HCPCS codes valid and billable, CPT numbers valid, and
    units within the practitioner MUE where CMS publishes one."""
    problems: list[str] = []
    for note in golden:
        day = note.date_of_service
        for code, system in profee.expected_codes(note):
            v = full_kb.validity(code, day, system)
            if not v.valid:
                problems.append(f"{note.id}: {v.message}")
            elif system == "hcpcs" and not full_kb.lookup(code, day, system).description:
                problems.append(f"{note.id}: {code} has no HCPCS Level II description on {day}")
        for p in note.expected.procedures:
            mue = full_kb.lookup(p.code, day).edits.get("mue", {}).get("practitioner")
            if mue and mue["mue"] and p.units > mue["mue"]:
                problems.append(f"{note.id}: {p.code} x{p.units} is above its MUE {mue['mue']}")
    assert problems == []
    assert profee.invalid_expected_codes(golden, lambda c, d, s: full_kb.validity(c, d, s).valid) == []
    # the check does catch a code deleted before the date (methylprednisolone acetate 80 mg, to 2024-03-31)
    bad = gold("bad", None, [line("J1040", [], 1, ["M75.42"])], ["M75.42"])
    assert profee.invalid_expected_codes([bad], lambda c, d, s: full_kb.validity(c, d, s).valid) == [
        "bad: J1040 (hcpcs)"
    ]


# --- the command ----------------------------------------------------------------------------------


class FakeProfeeCoder:
    """Codes the first diagnosis it finds and bills 99213 plus 36415 on every note (synthetic)."""

    def code(self, text: str | bytes, options: CodingOptions) -> _Result:
        note = text.decode() if isinstance(text, bytes) else text
        if "BOOM" in note:
            raise RuntimeError("coder bug")
        result = CodingResult(
            diagnoses=(CodedDiagnosis("I10", "Essential (primary) hypertension", (), "fake", 1.0),),
            release="fake",
            date_of_service=options.date_of_service.isoformat() if options.date_of_service else None,
            policy=options.policy,
            setting=options.setting,
        )
        out = result.to_dict()
        out["em"] = {"code": "99213", "method": "MDM", "modifiers": [], "flags": []}
        out["procedures"] = [{"code": "36415", "modifiers": [], "units": 1, "dx_pointers": [1]}]
        return _Result(out)


class _Result:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return self.data


def fake_profee_factory(kb_path: Path | None = None) -> FakeProfeeCoder:
    return FakeProfeeCoder()


def test_cli_profee_with_a_custom_golden_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(coding.FACTORY_ENV, FACTORY)
    data = tmp_path / "mine.jsonl"
    one = dict(
        GOOD,
        expected={
            "em": {"code": "99213", "modifiers": []},
            "procedures": [line("36415", [], 1, ["I10"])],
            "diagnoses": ["I10"],
        },
    )
    two = dict(GOOD, id="g2", text="BOOM", expected={"em": None, "procedures": [], "diagnoses": ["Z00.00"]})
    data.write_text(json.dumps(one) + "\n" + json.dumps(two) + "\n")
    out_file = tmp_path / "report.json"
    result = runner.invoke(
        app, ["eval", "--suite", "profee", "--data", str(data), "--format", "json", "--output", str(out_file)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads(out_file.read_text())
    assert report["suite"] == "profee" and report["data"] == str(data)
    assert report["em"]["exact"] == 1.0 and report["em"]["notes"] == 1
    assert report["lines"]["code+modifiers+units"]["f1"] == 1.0
    assert report["linkage"] == {"lines": 1, "first_pointer": 1.0, "covers_first_dx": 1.0}
    assert report["errors"] == {"RuntimeError": 1} and report["counts"]["errors"] == 1
    assert [m["id"] for m in report["misses"]] == ["g2"]

    text = runner.invoke(app, ["eval", "--suite", "profee", "--data", str(data)])
    assert text.exit_code == 0, text.output
    assert "mine.jsonl: 2 note(s), 1 with an E/M" in text.stdout
    assert "E/M: exact 1.000" in text.stdout and "g2: error RuntimeError" in text.stdout


def test_cli_unknown_suite_and_bad_golden_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--suite", "mimic"])
    assert result.exit_code == 1
    assert "[CC150] --suite 'mimic' is not known." in result.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n")
    result = runner.invoke(app, ["eval", "--suite", "profee", "--data", str(bad), "--format", "json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "CC420" and error["message"].startswith('bad.jsonl line 1: field "id"')


def test_cli_profee_on_the_full_kb(full_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real coder over the shipped golden set: the report's shape and every score in [0, 1]."""
    monkeypatch.delenv(coding.FACTORY_ENV, raising=False)
    result = runner.invoke(app, ["eval", "--suite", "profee", "--kb", str(full_kb.path), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {
        "suite",
        "data",
        "policy",
        "counts",
        "em",
        "lines",
        "linkage",
        "diagnoses",
        "billed_em",
        "misses",
        "errors",
        "missing_output_fields",
        "latency",
        "definitions",
    } <= set(report)
    assert report["counts"]["notes"] >= 24 and report["counts"]["errors"] == 0
    assert list(report["lines"]) == ["code", "code+modifiers", "code+modifiers+units"]
    scores = [report["em"][k] for k in ("exact", "within_one", "modifiers", "method")]
    scores += [
        s[k] for s in [*report["lines"].values(), report["diagnoses"]] for k in ("precision", "recall", "f1")
    ]
    scores += [report["linkage"]["first_pointer"], report["linkage"]["covers_first_dx"]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert report["diagnoses"]["tp"] > 0  # the diagnosis coder finds some of the expected codes
    # within one level is never below exact; code+modifiers never above code
    assert report["em"]["within_one"] >= report["em"]["exact"]
    assert report["lines"]["code+modifiers"]["tp"] <= report["lines"]["code"]["tp"]
    assert [b["billed"] for b in report["billed_em"]] == ["99215"]


def test_errors_are_chartcode_errors() -> None:
    assert issubclass(GoldenFileError, ChartcodeError)
