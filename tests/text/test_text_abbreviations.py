"""Abbreviation expansion and its offset map (synthetic text)."""

from __future__ import annotations

import pytest

from chartcode.text import build_document, default_abbreviations


def expansions(text: str) -> list[tuple[str, str]]:
    return [(e.abbreviation, e.expansion) for e in build_document(text).expanded.expansions]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HTN and DM2.", [("HTN", "hypertension"), ("DM2", "type 2 diabetes mellitus")]),
        (
            "htn, t2dm, DMII",
            [
                ("htn", "hypertension"),
                ("t2dm", "type 2 diabetes mellitus"),
                ("DMII", "type 2 diabetes mellitus"),
            ],
        ),
        ("CKD 3a stable.", [("CKD 3a", "chronic kidney disease stage 3a")]),
        ("CKD stage IIIb.", [("CKD stage IIIb", "chronic kidney disease stage 3b")]),
        (
            "HFrEF and HFpEF",
            [
                ("HFrEF", "heart failure with reduced ejection fraction"),
                ("HFpEF", "heart failure with preserved ejection fraction"),
            ],
        ),
        ("a-fib, AFib", [("a-fib", "atrial fibrillation"), ("AFib", "atrial fibrillation")]),
        ("s/p CABG", [("s/p", "status post"), ("CABG", "coronary artery bypass graft")]),
        ("h/o c/o r/o", [("h/o", "history of"), ("c/o", "complains of"), ("r/o", "rule out")]),
        ("w/o pain w/ cough", [("w/o", "without"), ("w/", "with")]),
        ("N/V", [("N/V", "nausea and vomiting")]),
        (
            "SOB, UTI, COPD",
            [
                ("SOB", "shortness of breath"),
                ("UTI", "urinary tract infection"),
                ("COPD", "chronic obstructive pulmonary disease"),
            ],
        ),
        # case-aware and conservative
        ("Hx of PE.", [("Hx of", "history of"), ("PE", "pulmonary embolism")]),
        ("pe", []),
        ("PE: normal heart sounds", []),  # the exam header
        ("The PE is unremarkable", []),
        ("SpO2 98% on RA", []),  # room air, not rheumatoid arthritis
        ("RA flare", [("RA", "rheumatoid arthritis")]),
        ("ms", []),  # ambiguous: never expanded
        ("MS", []),
        ("s / p", []),  # tokens of a glued key must touch
    ],
)
def test_expansions(text: str, expected: list[tuple[str, str]]) -> None:
    assert expansions(text) == expected


def test_offsets_map_back_to_the_original() -> None:
    text = "Pt w/ HTN, DM2 and CKD 3a; no N/V.\nPE: normal.\nh/o MI."
    doc = build_document(text)
    exp = doc.expanded
    assert exp.text == (
        "patient with hypertension, type 2 diabetes mellitus and chronic kidney disease stage 3a; "
        "no nausea and vomiting.\nPE: normal.\nhistory of myocardial infarction."
    )
    for e in exp.expansions:
        assert text[e.start : e.end] == e.abbreviation
        assert exp.text[e.expanded_start : e.expanded_end] == e.expansion
        assert exp.to_original(e.expanded_start, e.expanded_end) == (e.start, e.end)
        assert exp.to_expanded(e.start, e.end) == (e.expanded_start, e.expanded_end)
    # a part of an expansion maps to the whole abbreviation
    where = exp.text.index("diabetes")
    assert exp.to_original(where, where + len("diabetes mellitus")) == (
        text.index("DM2"),
        text.index("DM2") + 3,
    )
    # unchanged text maps one to one, also after expansions
    where = exp.text.index("normal")
    start, end = exp.to_original(where, where + 6)
    assert text[start:end] == "normal"
    assert exp.to_expanded(start, end) == (where, where + 6)
    assert exp.to_original(5, 5) == exp.to_original(5, 5)
    # every token of the stream points into the original text
    ts = exp.tokens
    for k in range(len(ts.low)):
        assert 0 <= ts.ostart[k] < ts.oend[k] <= len(text)
        assert exp.text[ts.estart[k] : ts.eend[k]].lower() == ts.low[k]


def test_no_expansion_inside_headers() -> None:
    doc = build_document("HPI: cough\nPMH: HTN")
    assert [(e.abbreviation, e.expansion) for e in doc.expanded.expansions] == [("HTN", "hypertension")]


def test_table_size() -> None:
    table = default_abbreviations()
    assert table.size >= 400  # abbreviation spellings
