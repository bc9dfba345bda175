"""Rules are data: the packaged files load, custom files work, bad files fail with exact messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chartcode.errors import InputError
from chartcode.text import (
    AbbreviationTable,
    AttributeLexicon,
    ContextRules,
    SectionRules,
    build_document,
    find_mentions,
    load_document,
)
from chartcode.text.context import default_context_rules
from chartcode.text.sections import default_section_rules

FIX = "Fix: correct the rules file so it follows the schema of the files in chartcode/text/data/."


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_packaged_rules_load() -> None:
    assert default_context_rules().size > 400
    assert len(default_section_rules().variants) > 200
    assert AbbreviationTable().size > 400
    assert AttributeLexicon().index.size > 500


def test_custom_context_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ctx.json",
        {
            "format": "chartcode-context-rules",
            "version": 1,
            "rules": [
                {"literal": "nope", "category": "NEGATED_EXISTENCE", "direction": "FORWARD"},
                {"literal": "nope nope", "category": "NEGATED_EXISTENCE", "direction": "PSEUDO"},
                {
                    "literal": "yet",
                    "category": "TERMINATE",
                    "direction": "TERMINATE",
                    "comment": "end scopes",
                },
            ],
        },
    )
    rules = ContextRules(path)
    doc = load_document("Nope fever yet cough. Nope nope chills. Denies pain.")
    found = {m.text: m.negated for m in find_mentions(doc, context_rules=rules)}
    assert found == {"fever": True, "cough": False, "chills": False, "pain": False}


def test_custom_abbreviations_and_sections(tmp_path: Path) -> None:
    abbr = write(
        tmp_path,
        "abbr.json",
        {
            "format": "chartcode-abbreviations",
            "version": 1,
            "entries": [{"abbr": ["ZZ"], "expansion": "pneumonia", "case": "exact"}],
        },
    )
    sections = write(
        tmp_path,
        "sections.json",
        {
            "format": "chartcode-sections",
            "version": 1,
            "sections": [
                {"name": "impressions", "variants": ["my impressions"], "implies": "POSSIBLE_EXISTENCE"}
            ],
        },
    )
    section_rules = SectionRules(sections)
    doc = build_document(
        "My impressions: ZZ, zz", abbreviations=AbbreviationTable(abbr), section_rules=section_rules
    )
    assert [s.name for s in doc.sections] == ["impressions"]
    found = find_mentions(doc, section_rules=section_rules)
    assert [(m.text, m.expanded, m.section, m.uncertain) for m in found] == [
        ("ZZ", "pneumonia", "impressions", True)
    ]


CTX = {"format": "chartcode-context-rules", "version": 1}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            "{not json",
            "is not valid JSON (Expecting property name enclosed in double quotes at line 1, column 2).",
        ),
        ([], "top level: must be a JSON object."),
        ({"version": 1, "rules": []}, "top level: missing key 'format'."),
        ({"format": "other", "version": 1, "rules": []}, "format: must be 'chartcode-context-rules'."),
        ({**CTX, "version": 2, "rules": []}, "version: must be 1."),
        ({**CTX, "rules": []}, "rules: must be a non-empty list."),
        ({**CTX, "rules": ["no"]}, "rules[0]: must be a JSON object."),
        (
            {**CTX, "rules": [{"literal": "no", "category": "NEGATED_EXISTENCE"}]},
            "rules[0]: missing key 'direction'.",
        ),
        (
            {
                **CTX,
                "rules": [{"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "FORWARD", "x": 1}],
            },
            "rules[0]: unknown key 'x' (allowed: category, comment, direction, literal, max_scope).",
        ),
        (
            {**CTX, "rules": [{"literal": " ", "category": "NEGATED_EXISTENCE", "direction": "FORWARD"}]},
            "rules[0].literal: must be a non-empty string.",
        ),
        (
            {**CTX, "rules": [{"literal": "no", "category": "NEGATED", "direction": "FORWARD"}]},
            "rules[0].category: must be one of NEGATED_EXISTENCE, POSSIBLE_EXISTENCE, HISTORICAL, FAMILY, "
            "HYPOTHETICAL.",
        ),
        (
            {**CTX, "rules": [{"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "SIDEWAYS"}]},
            "rules[0].direction: must be one of FORWARD, BACKWARD, BIDIRECTIONAL, TERMINATE, PSEUDO.",
        ),
        (
            {
                **CTX,
                "rules": [
                    {"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "FORWARD", "max_scope": 0}
                ],
            },
            "rules[0].max_scope: must be an integer >= 1.",
        ),
        (
            {
                "format": "chartcode-context-rules",
                "version": 1,
                "rules": [
                    {"literal": "but", "category": "TERMINATE", "direction": "TERMINATE", "max_scope": 2}
                ],
            },
            "rules[0].max_scope: is only allowed with a FORWARD, BACKWARD or BIDIRECTIONAL rule.",
        ),
        (
            {
                **CTX,
                "rules": [
                    {"literal": "No", "category": "NEGATED_EXISTENCE", "direction": "FORWARD"},
                    {"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "FORWARD"},
                ],
            },
            "rules[1]: duplicates rules[0] ('no', NEGATED_EXISTENCE, FORWARD).",
        ),
    ],
)
def test_bad_context_rules(tmp_path: Path, data: Any, problem: str) -> None:
    path = write(tmp_path, "ctx.json", data)
    with pytest.raises(InputError) as info:
        ContextRules(path)
    sep = " " if problem.startswith("is not") else ": "
    assert str(info.value) == f"[CC150] Rules file ctx.json{sep}{problem} {FIX}"


@pytest.mark.parametrize(
    ("cls", "data", "problem"),
    [
        (
            AbbreviationTable,
            {"format": "chartcode-abbreviations", "version": 1, "entries": [{"abbr": [], "expansion": "x"}]},
            "entries[0].abbr: must be a non-empty list of strings.",
        ),
        (
            AbbreviationTable,
            {
                "format": "chartcode-abbreviations",
                "version": 1,
                "entries": [{"abbr": ["HTN"], "expansion": "a"}, {"abbr": ["htn"], "expansion": "b"}],
            },
            "entries[1].abbr[0]: 'htn' is already defined by entries[0].",
        ),
        (
            AbbreviationTable,
            {
                "format": "chartcode-abbreviations",
                "version": 1,
                "entries": [{"abbr": ["PE"], "expansion": "a", "case": "upper"}],
            },
            "entries[0].case: must be one of any, exact.",
        ),
        (
            SectionRules,
            {
                "format": "chartcode-sections",
                "version": 1,
                "sections": [{"name": "a", "variants": ["plan"]}, {"name": "b", "variants": ["PLAN:"]}],
            },
            "sections[1].variants[0]: 'PLAN:' already belongs to 'a'.",
        ),
        (
            SectionRules,
            {
                "format": "chartcode-sections",
                "version": 1,
                "sections": [{"name": "a", "variants": ["x"], "loinc": ["1"]}],
            },
            "sections[0].loinc[0]: must be a LOINC code like 10164-2.",
        ),
        (
            SectionRules,
            {
                "format": "chartcode-sections",
                "version": 1,
                "sections": [{"name": "Bad Name", "variants": ["x"]}],
            },
            "sections[0].name: must be lower_snake_case and not 'other'.",
        ),
        (
            AttributeLexicon,
            {
                "format": "chartcode-attributes",
                "version": 1,
                "sites": {"knee": ["knee"], "leg": ["knees"]},
                "organisms": {"x": ["x"]},
                "drugs": ["d"],
                "drug_suffixes": ["pril"],
                "substances": ["s"],
                "devices": ["v"],
                "external_causes": {"fall": ["fall"]},
            },
            "sites.leg[0]: 'knees' already belongs to 'knee'.",
        ),
        (
            AttributeLexicon,
            {"format": "chartcode-attributes", "version": 1, "sites": {}},
            "top level: missing key 'organisms'.",
        ),
    ],
)
def test_bad_other_rules(tmp_path: Path, cls: Any, data: Any, problem: str) -> None:
    path = write(tmp_path, "rules.json", data)
    with pytest.raises(InputError) as info:
        cls(path)
    assert str(info.value) == f"[CC150] Rules file rules.json: {problem} {FIX}"


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        ContextRules(tmp_path / "absent.json")
    assert str(info.value) == (
        "[CC150] Rules file absent.json cannot be read (FileNotFoundError). "
        "Fix: check the path and that the file is UTF-8 JSON."
    )
