"""ConText cues, section context and the mention finder (all text synthetic)."""

from __future__ import annotations

import pytest

from chartcode.text import (
    DEMO_LEXICON,
    Mention,
    TermMatcher,
    build_document,
    find_mentions,
    load_document,
)


def mentions(text: str) -> dict[str, Mention]:
    found = find_mentions(load_document(text))
    return {m.text.lower(): m for m in found}


def flags(m: Mention) -> str:
    """N(egated) U(ncertain) H(istorical) F(amily) Y (hypothetical)."""
    on = (m.negated, m.uncertain, m.historical, m.family, m.hypothetical)
    return "".join(letter for letter, set_ in zip("NUHFY", on, strict=True) if set_)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Patient denies chest pain.", {"chest pain": "N"}),
        ("No evidence of pneumonia.", {"pneumonia": "N"}),
        ("Negative for fever, chills.", {"fever": "N", "chills": "N"}),
        ("Free of seizure activity.", {"seizure": "N"}),
        ("Absence of edema.", {"edema": "N"}),
        ("Pneumonia ruled out.", {"pneumonia": "N"}),
        ("Influenza A negative.", {"influenza": "N"}),
        ("Pain free.", {"pain": "N"}),
        ("Cough, rule out pneumonia.", {"cough": "", "pneumonia": "U"}),
        ("Possible pneumonia.", {"pneumonia": "U"}),
        ("Suspected sepsis.", {"sepsis": "U"}),
        ("Cannot exclude pulmonary embolism.", {"pulmonary embolism": "U"}),
        ("Pneumonia vs bronchitis.", {"pneumonia": "U", "bronchitis": "U"}),
        ("? pneumonia", {"pneumonia": "U"}),
        ("Pneumonia?", {"pneumonia": "U"}),
        ("r/o PE", {"pe": "U"}),
        ("History of MI.", {"mi": "H"}),
        ("s/p MI", {"mi": "H"}),
        ("h/o CVA", {"cva": "H"}),
        ("Pneumonia, resolved.", {"pneumonia": "H"}),
        ("Asthma in remission.", {"asthma": "H"}),
        ("Hx of DVT, now with leg pain.", {"dvt": "H", "pain": ""}),
        ("Mother has breast cancer.", {"breast cancer": "F"}),
        ("Breast cancer in her mother.", {"breast cancer": "F"}),
        ("Family history of diabetes.", {"diabetes": "F"}),
        ("No family history of colon cancer.", {"colon cancer": "NF"}),
        ("Return if fever develops.", {"fever": "Y"}),
        ("Should she develop fever, call the clinic.", {"fever": "Y"}),
        ("Will start metformin for diabetes.", {"diabetes": "Y"}),
        # scope terminators
        ("No fever but has cough.", {"fever": "N", "cough": ""}),
        ("Denies chest pain, reports fatigue.", {"chest pain": "N", "fatigue": ""}),
        ("ROS: negative for fever, chills. Positive for cough.", {"fever": "N", "chills": "N", "cough": ""}),
        # pseudo-triggers
        ("No increase in pain.", {"pain": ""}),
        ("Not only cough but also fever.", {"cough": "", "fever": ""}),
        ("Gram negative rods in urine; urinary tract infection.", {"urinary tract infection": ""}),
        ("65 yo with HTN.", {"htn": ""}),
        ("Denies fever or cough", {"fever": "N", "cough": "N"}),
    ],
)
def test_context_cues(text: str, expected: dict[str, str]) -> None:
    found = mentions(text)
    assert {k: flags(m) for k, m in found.items()} == expected


def test_cue_records_the_trigger_with_offsets() -> None:
    text = "She denies chest pain."
    (m,) = find_mentions(load_document(text))
    (cue,) = m.context.cues
    assert (cue.category, cue.source, text[cue.start : cue.end], cue.text) == (
        "negated",
        "trigger",
        "denies",
        "denies",
    )
    assert not m.context.affirmed


def test_expanded_trigger_reports_the_abbreviation() -> None:
    text = "Pt has h/o CVA."
    (m,) = find_mentions(load_document(text))
    assert m.historical
    assert [c.text for c in m.context.cues] == ["h/o"]


def test_section_context_family_and_past_medical_history() -> None:
    text = "FAMILY HISTORY:\nColon cancer.\n\nPAST MEDICAL HISTORY:\nAsthma.\n\nASSESSMENT:\nPneumonia.\n"
    found = mentions(text)
    assert flags(found["colon cancer"]) == "F"
    assert found["colon cancer"].section == "family_history"
    (cue,) = found["colon cancer"].context.cues
    assert (cue.source, cue.text, text[cue.start : cue.end]) == (
        "section",
        "FAMILY HISTORY",
        "FAMILY HISTORY:",
    )
    assert flags(found["asthma"]) == "H"
    assert found["asthma"].section == "past_medical_history"
    assert flags(found["pneumonia"]) == ""
    assert found["pneumonia"].section == "assessment"
    assert found["pneumonia"].context.affirmed


def test_differential_section_is_uncertain() -> None:
    found = mentions("Differential diagnosis:\n1. pneumonia\n2. bronchitis")
    assert {k: flags(m) for k, m in found.items()} == {"pneumonia": "U", "bronchitis": "U"}


def test_scope_does_not_cross_sentences() -> None:
    found = mentions("No fever. Cough present.")
    assert flags(found["fever"]) == "N"
    assert flags(found["cough"]) == ""


def test_max_scope_limits_backward_trigger() -> None:
    found = mentions(
        "Headache since yesterday with nausea and a long story of many words, strep test negative."
    )
    assert not found["headache"].negated


def test_mention_offsets_fields_and_expansion() -> None:
    text = "Assessment: DM2 with N/V."
    doc = load_document(text)
    found = find_mentions(doc)
    assert [(m.text, m.term, m.normalized, m.expanded) for m in found] == [
        ("DM2", "type 2 diabetes mellitus", "type 2 diabete mellitus", "type 2 diabetes mellitus"),
        ("N/V", "nausea", "nausea", "nausea"),
        ("N/V", "vomiting", "vomiting", "vomiting"),
    ]
    for m in found:
        assert text[m.start : m.end] == m.text
        assert m.section == "assessment"
        assert doc.sentences[m.sentence].start <= m.start < m.end <= doc.sentences[m.sentence].end


def test_headers_are_not_matched() -> None:
    # "complaint" is a lexicon term here; the header "CHIEF COMPLAINT:" must not produce a mention
    found = find_mentions(
        load_document("CHIEF COMPLAINT: chest pain"), frozenset({"chest pain", "complaint"})
    )
    assert [m.text for m in found] == ["chest pain"]


def test_longest_match_plural_and_possessive() -> None:
    matcher = TermMatcher(["crohn's disease", "disease", "kidney stone", "stone"])
    found = find_mentions(load_document("Crohns disease. Kidney stones noted; stone."), matcher)
    assert [(m.text, m.term) for m in found] == [
        ("Crohns disease", "crohn's disease"),
        ("Kidney stones", "kidney stone"),
        ("stone", "stone"),
    ]
    found = find_mentions(load_document("Crohn's disease."), matcher)
    assert [(m.text, m.term, m.normalized) for m in found] == [
        ("Crohn's disease", "crohn's disease", "crohn disease")
    ]


def test_matches_do_not_cross_commas() -> None:
    found = find_mentions(load_document("chest, pain"), frozenset({"chest pain", "pain"}))
    assert [m.text for m in found] == ["pain"]


def test_lexicon_kinds_agree() -> None:
    text = "Denies chest pain. History of myocardial infarction."
    doc = load_document(text)
    terms = ["chest pain", "myocardial infarction"]
    by_matcher = find_mentions(doc, TermMatcher(terms))
    by_iterable = find_mentions(doc, terms)
    by_frozenset = find_mentions(doc, frozenset(terms))
    keys = {"chest pain", "myocardial infarction"}
    by_callable = find_mentions(doc, lambda key: key in keys)
    assert by_matcher == by_iterable == by_frozenset == by_callable
    assert [(m.text, m.negated, m.historical) for m in by_matcher] == [
        ("chest pain", True, False),
        ("myocardial infarction", False, True),
    ]


def test_callable_answer_becomes_term() -> None:
    found = find_mentions(load_document("Has asthma."), lambda key: "J45.909" if key == "asthma" else None)
    assert [(m.text, m.term) for m in found] == [("asthma", "J45.909")]


def test_demo_lexicon_is_small_and_lower_case() -> None:
    assert 50 < len(DEMO_LEXICON) < 500
    assert all(t == t.lower().strip() and t for t in DEMO_LEXICON)


def test_build_document_matches_load_for_plain_text() -> None:
    text = "Dx: pneumonia."
    assert find_mentions(build_document(text)) == find_mentions(load_document(text))


def test_disease_a_vaccine_is_for_is_not_present() -> None:
    doc = load_document("Hepatitis B vaccine given. Influenza vaccination today. Known hepatitis C.")
    matcher = TermMatcher({"hepatitis": ["x"], "influenza": ["x"]})
    found = {m.text.lower(): m for m in find_mentions(doc, matcher)}
    assert found["influenza"].hypothetical
    flagged = [m.hypothetical for m in find_mentions(doc, TermMatcher({"hepatitis": ["x"]}))]
    assert flagged == [True, False]  # the vaccine's disease, then the patient's hepatitis C
