"""The shared strict reader of JSON rules files: its options, and the exact errors of both users."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import chartcode.text.sections
from chartcode.assign.em import EmRules, EmRulesError
from chartcode.errors import InputError
from chartcode.rulefile import RuleFile

EM_FIX = "Fix: correct the file so it follows the schema of chartcode/assign/data/em_rules.json."
HEAD = {"format": "test-rules", "version": 1}


def write(tmp_path: Path, data: Any, name: str = "rules.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def reader(tmp_path: Path, **extra: Any) -> RuleFile:
    return RuleFile(write(tmp_path, {**HEAD, **extra}), "rules.json", "test-rules")


def problem(rf: RuleFile, call: Any) -> str:
    with pytest.raises(InputError) as info:
        call(rf)
    return info.value.message


def test_text_layer_import_is_the_same_class() -> None:
    assert chartcode.text.sections.RuleFile is RuleFile


class PlanRulesError(InputError):
    """A user's own error class: the reader raises it instead of InputError."""


def test_options_shape_every_error(tmp_path: Path) -> None:
    def plan_reader(source: Path | None, optional: tuple[str, ...] | None = ("note",)) -> RuleFile:
        return RuleFile(
            source,
            "em_rules.json",  # a packaged file of another package, read as a stand-in
            "chartcode-em-rules",
            error=PlanRulesError,
            package="chartcode.assign",
            required=("levels",),
            optional=optional,
            label="Plan rules",
            packaged_fix="reinstall.",
            file_fix="fix the file.",
        )

    packaged = plan_reader(None, None)  # the packaged file has many more top-level keys
    assert packaged.name == "chartcode/assign/data/em_rules.json" and packaged.fix == "reinstall."
    assert packaged.data["levels"] == ["straightforward", "low", "moderate", "high"]
    cases = [
        (
            "{ not json",
            "is not valid JSON (Expecting property name enclosed in double quotes at line 1, column 3)",
        ),
        ({"format": "chartcode-em-rules", "version": 1}, ": top level: missing key 'levels'"),
        (
            {"format": "chartcode-em-rules", "version": 1, "levels": [], "x": 1},
            ": top level: unknown key 'x' (allowed: format, levels, note, version)",
        ),
        ({"format": "chartcode-em-rules", "version": True, "levels": []}, ": version: must be 1"),
    ]
    for data, text in cases:
        with pytest.raises(PlanRulesError) as info:
            plan_reader(write(tmp_path, data, "plan.json"))
        sep = " " if text.startswith("is") else ""
        assert str(info.value) == f"[CC150] Plan rules plan.json{sep}{text}. Fix: fix the file."
    with pytest.raises(PlanRulesError) as info:
        plan_reader(tmp_path / "absent.json")
    assert str(info.value) == (
        "[CC150] Plan rules absent.json cannot be read (FileNotFoundError). "
        "Fix: check the path and that the file is UTF-8 JSON."
    )


def test_default_file_fix_names_the_package_data(tmp_path: Path) -> None:
    path = write(tmp_path, {"format": "f", "version": 2})
    with pytest.raises(InputError) as info:
        RuleFile(path, "x.json", "f", package="chartcode.assign")
    assert type(info.value) is InputError
    assert str(info.value) == (
        "[CC150] Rules file rules.json: version: must be 1. "
        "Fix: correct the rules file so it follows the schema of the files in chartcode/assign/data/."
    )


def test_top_level_keys_any_by_default_exact_when_given(tmp_path: Path) -> None:
    assert reader(tmp_path, anything=1).data["anything"] == 1
    path = write(tmp_path, {**HEAD, "a": 1, "b": 2})
    with pytest.raises(InputError, match=r"top level: unknown key 'b' \(allowed: a, format, version\)"):
        RuleFile(path, "rules.json", "test-rules", required=("a", "format"), optional=())


def test_obj_positional_and_keyword(tmp_path: Path) -> None:
    rf = reader(tmp_path)
    assert rf.obj({"a": 1, "b": 2}, "x", ("a",), ("b",)) == {"a": 1, "b": 2}
    assert rf.obj({"a": 1, "z": 2}, "x", required=("a",), optional=None) == {"a": 1, "z": 2}
    assert problem(rf, lambda r: r.obj({"a": 1, "z": 2}, "x", ("a",))) == (
        "Rules file rules.json: x: unknown key 'z' (allowed: a)."
    )
    assert problem(rf, lambda r: r.obj([], "x", ("a",))) == "Rules file rules.json: x: must be a JSON object."


def test_integer_minimum_and_nullable(tmp_path: Path) -> None:
    rf = reader(tmp_path)
    assert rf.integer(3, "n") == 3
    assert rf.integer(0, "n", minimum=0) == 0
    assert rf.integer(None, "n", nullable=True) is None
    assert rf.integer(7, "n", nullable=True) == 7
    assert problem(rf, lambda r: r.integer(None, "n")) == "Rules file rules.json: n: must be an integer >= 1."
    assert problem(rf, lambda r: r.integer(True, "n", nullable=True)) == (
        "Rules file rules.json: n: must be an integer >= 1 or null."
    )
    assert problem(rf, lambda r: r.integer(4, "n", minimum=5)).endswith("n: must be an integer >= 5.")


def test_choice_nullable(tmp_path: Path) -> None:
    rf = reader(tmp_path)
    assert rf.choice("b", "c", ("a", "b")) == "b"
    assert rf.choice(None, "c", ("a", "b"), nullable=True) is None
    assert (
        problem(rf, lambda r: r.choice(None, "c", ("a", "b")))
        == "Rules file rules.json: c: must be one of a, b."
    )
    assert problem(rf, lambda r: r.choice("z", "c", ("a", "b"), nullable=True)) == (
        "Rules file rules.json: c: must be one of a, b or null."
    )


def test_regex_flags_and_named_group(tmp_path: Path) -> None:
    rf = reader(tmp_path)
    assert rf.regex("total time", "p").search("TOTAL TIME 30") is not None  # case-insensitive by default
    assert rf.regex("total time", "p", flags=0).search("TOTAL TIME 30") is None
    found = rf.regex(r"(?P<minutes>\d+) min", "p", "minutes").search("spent 42 min")
    assert found is not None and found.group("minutes") == "42"
    assert problem(rf, lambda r: r.regex(r"\d+ min", "p", "minutes")) == (
        "Rules file rules.json: p: must have a named group (?P<minutes>...)."
    )
    assert problem(rf, lambda r: r.regex("(open", "p")).startswith(
        "Rules file rules.json: p: is not a valid regular expression (missing ), unterminated subpattern"
    )
    assert (
        problem(rf, lambda r: r.regex("  ", "p")) == "Rules file rules.json: p: must be a non-empty string."
    )


def test_items_strings_boolean(tmp_path: Path) -> None:
    rf = reader(tmp_path, rules=[1], empty=[])
    assert rf.items("rules") == [1]
    assert (
        problem(rf, lambda r: r.items("empty")) == "Rules file rules.json: empty: must be a non-empty list."
    )
    assert rf.strings([], "s", allow_empty=True) == []
    assert problem(rf, lambda r: r.strings(["a", 1], "s")) == (
        "Rules file rules.json: s[1]: must be a non-empty string."
    )
    assert rf.boolean(False, "b") is False
    assert problem(rf, lambda r: r.boolean(0, "b")) == "Rules file rules.json: b: must be true or false."


def _em_rules_with(tmp_path: Path, change: Any) -> Path:
    from importlib import resources

    data = json.loads((resources.files("chartcode.assign") / "data" / "em_rules.json").read_text("utf-8"))
    change(data)
    return write(tmp_path, data, "em_rules.json")


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (lambda d: d.update(format="x"), "format: must be 'chartcode-em-rules'"),
        (lambda d: d.update(families=[]), "families: must be a non-empty list"),
        (lambda d: d["families"][0]["codes"][0].update(minutes="5"), "must be an integer >= 1 or null"),
        (lambda d: d["families"][0]["codes"][0].update(level=None), "must be an integer >= 1"),
        (
            lambda d: d["problem_kinds"][0].update(two_or_more="x"),
            "must be one of straightforward, low, moderate, high or null",
        ),
        (lambda d: d.update(dose_pattern="[a-"), "dose_pattern: is not a valid regular expression"),
    ],
)
def test_em_rules_errors_read_as_before(tmp_path: Path, change: Any, text: str) -> None:
    with pytest.raises(EmRulesError) as info:
        EmRules(_em_rules_with(tmp_path, change))
    message = str(info.value)
    assert message.startswith("[CC400] E/M rules file em_rules.json: ") and message.endswith(f". {EM_FIX}")
    assert text in message


def test_em_rules_case_insensitive_patterns() -> None:
    rules = EmRules()
    assert all(p.flags & re.IGNORECASE for p in (rules.dose, rules.in_office, *rules.time_patterns))
