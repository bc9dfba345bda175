"""Section header detection (synthetic notes)."""

from __future__ import annotations

import pytest

from chartcode.text import (
    TermMatcher,
    build_document,
    detect_sections,
    find_mentions,
    load_document,
    normalize_title,
)
from chartcode.text.sections import DeclaredHeader, default_section_rules


def names(text: str) -> list[tuple[str, str]]:
    return [(s.name, text[s.start : s.header_end]) for s in detect_sections(text)]


@pytest.mark.parametrize(
    ("line", "name", "header"),
    [
        ("ASSESSMENT AND PLAN:", "assessment_and_plan", "ASSESSMENT AND PLAN:"),
        ("Assessment & Plan: stable", "assessment_and_plan", "Assessment & Plan:"),
        ("A/P: HTN", "assessment_and_plan", "A/P:"),
        ("A&P:", "assessment_and_plan", "A&P:"),
        ("Dx: pneumonia", "diagnoses", "Dx:"),
        ("Discharge Diagnoses:", "diagnoses", "Discharge Diagnoses:"),
        ("IMPRESSION: pneumonia", "diagnoses", "IMPRESSION:"),
        ("PMH: HTN", "past_medical_history", "PMH:"),
        ("Past Medical History:", "past_medical_history", "Past Medical History:"),
        ("PSH: appendectomy", "past_surgical_history", "PSH:"),
        ("FH: mother with CAD", "family_history", "FH:"),
        ("Social History: no tobacco", "social_history", "Social History:"),
        ("HPI - 45 yo with cough", "history_of_present_illness", "HPI -"),
        ("ROS: negative for fever", "review_of_systems", "ROS:"),
        ("PE: well appearing", "physical_exam", "PE:"),
        ("PHYSICAL EXAMINATION", "physical_exam", "PHYSICAL EXAMINATION"),
        ("## Plan", "plan", "## Plan"),
        ("**Assessment:** improving", "assessment", "**Assessment:**"),
        ("Plan", "plan", "Plan"),
        ("CC: chest pain", "chief_complaint", "CC:"),
        ("Medications: aspirin", "medications", "Medications:"),
        ("Allergies: NKDA", "allergies", "Allergies:"),
        ("Labs: BMP normal", "labs_results", "Labs:"),
        ("Procedures: none", "procedures", "Procedures:"),
        ("  Hospital Course:", "hospital_course", "Hospital Course:"),
        ("## Something Else", "other", "## Something Else"),
        ("DISCHARGE CONDITION STATEMENT:", "other", "DISCHARGE CONDITION STATEMENT:"),
    ],
)
def test_header_variants(line: str, name: str, header: str) -> None:
    assert names(line) == [(name, header)]


@pytest.mark.parametrize(
    "line",
    [
        "HTN - continue lisinopril",  # not a header variant
        "Patient: seen today",
        "1. Plan: continue",  # a numbered list item
        "- PE: negative",  # a bulleted item
        "HTN",  # an all-caps line that is a list item, not a header
        "CAD S/P CABG",
        "Time 10:30 seen",
        "The plan is to continue the current medications and follow up in two weeks with labs.",
    ],
)
def test_not_headers(line: str) -> None:
    assert names(line) == []


def test_sections_cover_from_header_to_next_header() -> None:
    text = "Intro line.\nHPI: cough.\nMore cough.\nASSESSMENT AND PLAN:\n1. Bronchitis.\nDx: bronchitis"
    sections = detect_sections(text)
    assert [(s.name, s.title) for s in sections] == [
        ("history_of_present_illness", "HPI"),
        ("assessment_and_plan", "ASSESSMENT AND PLAN"),
        ("diagnoses", "Dx"),
    ]
    assert sections[0].start == text.index("HPI")
    assert sections[0].end == sections[1].start == text.index("ASSESSMENT")
    assert sections[-1].end == len(text)
    assert text[slice(*sections[0].body)] == " cough.\nMore cough.\n"
    doc = build_document(text)
    assert doc.section_at(0) is None
    assert doc.section_at(text.index("More")) == sections[0]
    assert doc.sentences[0].section is None


def test_midline_header_after_sentence_end() -> None:
    text = "Seen today, doing well. Plan: continue metformin."
    assert names(text) == [("plan", "Plan:")]


def test_declared_headers_win_and_use_loinc() -> None:
    text = "Problems\nHTN\n\nMy Own Title\nnarrative"
    declared = [DeclaredHeader(0, 8, "Problems", "11450-4"), DeclaredHeader(14, 26, "My Own Title", None)]
    sections = detect_sections(text, declared=declared)
    assert [(s.name, s.title, s.declared, s.code) for s in sections] == [
        ("problem_list", "Problems", True, "11450-4"),
        ("other", "My Own Title", True, None),
    ]


def test_normalize_title() -> None:
    assert normalize_title("  **A & P**: ") == "a&p"
    assert normalize_title("Assessment  /  Plan") == "assessment/plan"
    rules = default_section_rules()
    assert rules.lookup("Diagnoses") == "diagnoses"
    assert rules.lookup("MEDICATION") == "medications"
    assert rules.lookup("Problems") == "problem_list"
    assert rules.implied["family_history"] == "FAMILY"
    assert rules.loinc["10164-2"] == "history_of_present_illness"


def test_problem_oriented_hash_items_are_not_headings() -> None:
    text = (
        "Assessment and plan:\n"
        "# Type 2 diabetes with hyperglycemia - increase metformin\n"
        "# Hypertension - continue lisinopril\n"
        "#3 Hyperlipidemia\n"
        "## Plan\n"
        "Recheck in 3 months.\n"
    )
    sections = detect_sections(text)
    assert [s.name for s in sections] == ["assessment_and_plan", "plan"]
    assert text[sections[0].start : sections[0].end].count("#") == 3  # the items stay in the section
    doc = load_document(text)
    assert [doc.text[m.start : m.end] for m in find_mentions(doc, TermMatcher({"hypertension": ["x"]}))] == [
        "Hypertension"
    ]
