"""Sentence splitting edge cases of clinical formatting (synthetic text)."""

from __future__ import annotations

import pytest

from chartcode.text import build_document, split_sentences


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in build_document(text).sentences]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seen by Dr. Smith today. Plan discussed.", ["Seen by Dr. Smith today.", "Plan discussed."]),
        ("Metformin 7.5 mg daily. Continue.", ["Metformin 7.5 mg daily.", "Continue."]),
        ("Metformin 500 mg b.i.d. with meals. Recheck.", ["Metformin 500 mg b.i.d. with meals.", "Recheck."]),
        ("Dx: E11.22. Also HTN.", ["Dx:", "E11.22.", "Also HTN."]),
        ("1. HTN\n2. DM2\n3. CAD", ["1. HTN", "2. DM2", "3. CAD"]),
        ("- HTN\n- DM2\n* CAD\n• GERD", ["- HTN", "- DM2", "* CAD", "• GERD"]),
        ("1. HTN 2. DM2 3. CAD", ["1. HTN", "2. DM2", "3. CAD"]),
        ("Hypertension\nhyperlipidemia\ndiabetes", ["Hypertension", "hyperlipidemia", "diabetes"]),
        (
            "Patient has a history of\nhypertension and diabetes.",
            ["Patient has a history of\nhypertension and diabetes."],
        ),
        (
            "E. coli UTI. Treated, e.g. with cipro. Stable vs. improving.",
            ["E. coli UTI.", "Treated, e.g. with cipro.", "Stable vs. improving."],
        ),
        ("First para.\n\nSecond para", ["First para.", "Second para"]),
        ("Fever? Yes. Chills? No.", ["Fever?", "Yes.", "Chills?", "No."]),
        ("Concern for ? pneumonia here.", ["Concern for ? pneumonia here."]),
        ("Pain (see note). Next.", ["Pain (see note).", "Next."]),
        ('He said "no." Then left.', ['He said "no."', "Then left."]),
        (
            "ASSESSMENT AND PLAN:\n1. Pneumonia. Start abx.\n2. HTN - continue.",
            ["ASSESSMENT AND PLAN:", "1. Pneumonia.", "Start abx.", "2. HTN - continue."],
        ),
        ("HPI - 45 yo with cough.", ["HPI -", "45 yo with cough."]),
        ("   \n\n  ", []),
        ("", []),
    ],
)
def test_split(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_header_flag_and_indices() -> None:
    doc = build_document("PLAN:\nRest. Fluids.")
    assert [(s.index, s.is_header, s.section) for s in doc.sentences] == [
        (0, True, "plan"),
        (1, False, "plan"),
        (2, False, "plan"),
    ]
    assert doc.sentence_at(doc.text.index("Fluids")) == doc.sentences[2]
    assert doc.sentence_at(doc.text.index(" Fluids")) is None


def test_low_level_splitter_with_header_spans() -> None:
    text = "Dx: ab. Cd."
    assert split_sentences(text, [(0, 3)]) == [(0, 3, True), (4, 7, False), (8, 11, False)]
    assert split_sentences(text) == [(0, 7, False), (8, 11, False)]
    assert split_sentences("J. Smith. Ok.") == [
        (0, 9, False),
        (10, 13, False),
    ]  # initial, then a sentence end


def test_phrase_index_longest_match_norms_and_raw() -> None:
    """``scan`` skips punctuation and stops at a phrase breaker; ``scan_raw`` matches tokens exactly."""
    from chartcode.text.sentences import PhraseIndex, norm_word, phrase_key, raw_key, token_spans

    text = "chronic kidney. disease, kidney disease h / o"
    lows = [text[a:b].lower() for a, b in token_spans(text)]
    norms = [norm_word(t) for t in lows]
    index = PhraseIndex([(phrase_key(p), p) for p in ("kidney", "kidney disease", "chronic kidney disease")])
    # "." is skipped inside a match, "," ends it: the 3-word phrase wins, then "kidney disease".
    assert [(a, b, p) for a, b, p in index.scan(norms, 0, len(norms))] == [
        (0, 4, "chronic kidney disease"),
        (5, 7, "kidney disease"),
    ]
    raw = PhraseIndex([(raw_key(p), p) for p in ("h / o", "kidney")])
    # Raw tokens: "." is a token, so "kidney ." is no phrase; "h / o" matches with its slash.
    assert raw.scan_raw(lows, 0, len(lows)) == [(1, 2, "kidney"), (5, 6, "kidney"), (7, 10, "h / o")]
    assert index.scan(norms, 5, 6) == [(5, 6, "kidney")]  # bounded by i1
