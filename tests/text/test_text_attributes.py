"""Attributes read around mentions (synthetic text)."""

from __future__ import annotations

import pytest

from chartcode.text import Attributes, Cause, TermMatcher, extract_attributes, find_mentions, load_document

LEXICON = TermMatcher(
    [
        "knee pain",
        "pain",
        "osteoarthritis",
        "heart failure",
        "congestive heart failure",
        "asthma",
        "chronic kidney disease",
        "pressure ulcer",
        "fracture",
        "diabetes mellitus",
        "type 2 diabetes mellitus",
        "hyperglycemia",
        "urinary tract infection",
        "pneumonia",
        "acute kidney injury",
        "dehydration",
        "laceration",
        "cellulitis",
        "hypertension",
    ]
)


def attrs(text: str, term: str) -> Attributes:
    found = [m for m in find_mentions(load_document(text), LEXICON) if m.term == term]
    assert len(found) == 1, [m.term for m in find_mentions(load_document(text), LEXICON)]
    return found[0].attributes


@pytest.mark.parametrize(
    ("text", "term", "field", "value"),
    [
        ("Right knee pain.", "knee pain", "laterality", "right"),
        ("Pain in L knee.", "pain", "laterality", "left"),
        ("R knee pain.", "knee pain", "laterality", "right"),
        ("Bilateral knee osteoarthritis.", "osteoarthritis", "laterality", "bilateral"),
        ("Knee OA b/l.", "osteoarthritis", "laterality", "bilateral"),
        ("Acute on chronic systolic CHF.", "congestive heart failure", "acuity", "acute_on_chronic"),
        ("Acute on chronic systolic CHF.", "congestive heart failure", "heart_failure_type", "systolic"),
        (
            "Chronic combined systolic and diastolic heart failure.",
            "heart failure",
            "heart_failure_type",
            "combined",
        ),
        ("HFpEF.", "heart failure", "heart_failure_type", "diastolic"),
        ("HFrEF.", "heart failure", "heart_failure_type", "systolic"),
        ("Subacute pain.", "pain", "acuity", "subacute"),
        ("Chronic pain.", "pain", "acuity", "chronic"),
        ("CKD 3a.", "chronic kidney disease", "stage", "3a"),
        ("CKD stage IV.", "chronic kidney disease", "stage", "4"),
        ("Chronic kidney disease, stage 3b.", "chronic kidney disease", "stage", "3b"),
        ("CKD with ESRD on dialysis.", "chronic kidney disease", "stage", "esrd"),
        ("Stage 2 pressure ulcer of sacrum.", "pressure ulcer", "stage", "2"),
        ("Unstageable pressure ulcer.", "pressure ulcer", "stage", "unstageable"),
        ("Pressure ulcer, deep tissue injury.", "pressure ulcer", "stage", "deep_tissue"),
        ("Mild intermittent asthma.", "asthma", "severity", "mild intermittent"),
        ("Moderate persistent asthma with exacerbation.", "asthma", "severity", "moderate persistent"),
        ("Moderate persistent asthma with exacerbation.", "asthma", "exacerbation", True),
        ("Severe persistent asthma with status asthmaticus.", "asthma", "status_asthmaticus", True),
        ("Severe pneumonia.", "pneumonia", "severity", "severe"),
        ("Fracture of left femur, initial encounter.", "fracture", "episode", "initial"),
        ("Fracture, subsequent encounter.", "fracture", "episode", "subsequent"),
        ("Fracture with delayed healing.", "fracture", "healing", "delayed"),
        ("Fracture with delayed healing.", "fracture", "episode", "subsequent"),
        ("Fracture nonunion.", "fracture", "healing", "nonunion"),
        ("Sequela of fracture.", "fracture", "episode", "sequela"),
        ("DM2 uncontrolled.", "type 2 diabetes mellitus", "diabetes_type", "type 2"),
        ("Diabetes mellitus type 1.", "diabetes mellitus", "diabetes_type", "type 1"),
        ("Steroid-induced diabetes mellitus.", "diabetes mellitus", "diabetes_type", "drug_induced"),
        ("Gestational diabetes mellitus.", "diabetes mellitus", "diabetes_type", "gestational"),
        ("Pregnant at 22 weeks with UTI.", "urinary tract infection", "pregnant", True),
        ("Pregnant at 22 weeks with UTI.", "urinary tract infection", "gestational_weeks", 22),
        ("Pregnant at 22 weeks with UTI.", "urinary tract infection", "trimester", 2),
        ("UTI at 33w2d gestation.", "urinary tract infection", "trimester", 3),
        ("UTI in pregnancy, first trimester.", "urinary tract infection", "trimester", 1),
        ("UTI. Pregnancy test negative.", "urinary tract infection", "pregnant", False),
        ("Postpartum cellulitis.", "cellulitis", "postpartum", True),
        ("UTI due to E. coli.", "urinary tract infection", "organisms", ("Escherichia coli",)),
        ("MRSA pneumonia.", "pneumonia", "organisms", ("MRSA",)),
        ("Pneumonia due to COVID-19.", "pneumonia", "organisms", ("SARS-CoV-2",)),
        ("Influenza A pneumonia.", "pneumonia", "organisms", ("Influenza A",)),
        ("H. pylori positive.", None, None, None),
        ("Laceration of right forearm.", "laceration", "sites", ("forearm",)),
        ("Sacral pressure ulcer.", "pressure ulcer", "sites", ("sacrum",)),
        ("Steroid-induced hyperglycemia.", "hyperglycemia", "causes", (Cause("drug", "steroid"),)),
        ("Hyperglycemia due to prednisone.", "hyperglycemia", "causes", (Cause("drug", "prednisone"),)),
        ("AKI 2/2 dehydration.", "acute kidney injury", "causes", (Cause("condition", "dehydration"),)),
        ("Hip fracture after a fall.", "fracture", "causes", (Cause("external", "fall"),)),
        ("Laceration from MVC.", "laceration", "causes", (Cause("external", "motor vehicle"),)),
        (
            "UTI due to Foley catheter.",
            "urinary tract infection",
            "causes",
            (Cause("device", "foley catheter"),),
        ),
        ("Pain due to lisinopril.", "pain", "causes", (Cause("drug", "lisinopril"),)),
    ],
)
def test_attribute(text: str, term: str | None, field: str | None, value: object) -> None:
    if term is None:
        assert find_mentions(load_document(text), LEXICON) == ()
        assert extract_attributes(text).organisms == ("Helicobacter pylori",)
        return
    assert field is not None
    assert getattr(attrs(text, term), field) == value


def test_attributes_stay_with_their_mention() -> None:
    text = "Left knee pain, CKD 3a, hypertension."
    found = {m.term: m.attributes for m in find_mentions(load_document(text), LEXICON)}
    assert found["knee pain"].laterality == "left"
    assert found["knee pain"].stage is None
    assert found["chronic kidney disease"].stage == "3a"
    assert found["chronic kidney disease"].laterality is None
    assert found["hypertension"] == Attributes()


def test_extract_attributes_whole_text() -> None:
    a = extract_attributes(
        "Type 2 diabetes with stage 3b CKD, pregnant 30 weeks, right leg cellulitis from MVA"
    )
    assert (a.diabetes_type, a.stage, a.pregnant, a.gestational_weeks, a.trimester, a.laterality) == (
        "type 2",
        "3b",
        True,
        30,
        3,
        "right",
    )
    assert a.sites == ("kidney", "leg")  # "CKD" reads "chronic kidney disease"
    assert a.causes == (Cause("external", "motor vehicle"),)
    assert extract_attributes("") == Attributes()
