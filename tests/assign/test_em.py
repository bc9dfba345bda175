"""E/M leveling on short synthetic notes: every MDM element at every level, the 2-of-3 rule, time
at and one minute below each threshold, the ED and hospital families, context, no-E/M notes and
the billed-code flags. Pure text: no knowledge base."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from chartcode.assign.api import CodingOptions
from chartcode.assign.em import (
    EmBilledCodeError,
    EmResult,
    EmRules,
    EmRulesError,
    default_em_rules,
    level_em,
)
from chartcode.errors import InputError
from chartcode.text import load_document

OUT = CodingOptions()
IN = CodingOptions(setting="inpatient")


def em(text: str, options: CodingOptions = OUT, billed: str | None = None) -> EmResult:
    result = level_em(load_document(text), options, billed=billed)
    assert result is not None, "expected an E/M visit"
    for e in [*result.evidence, *(x for el in result.grid for x in el.evidence)]:
        assert text[e.start : e.end] == e.text  # offsets into doc.text
    return result


def grid(result: EmResult) -> dict[str, str]:
    return {e.name: e.level for e in result.grid}


def visit(assessment: str, extra: str = "") -> str:
    """An established office follow-up with the given assessment/plan body."""
    return f"Follow-up visit.\nHPI: Here for follow-up.\nAssessment and Plan:\n{assessment}\n{extra}"


# --- problems ------------------------------------------------------------------------------------

PROBLEMS = [
    ("1. Insect bite, self-limited.", "straightforward"),
    ("1. Acute sinusitis.", "low"),
    ("1. Insect bite.\n2. Common cold.", "low"),  # two minor problems
    ("1. Hypertension - stable.", "low"),
    ("1. Hypertension - stable.\n2. Hyperlipidemia - well controlled.", "moderate"),  # two stable chronic
    ("1. Type 2 diabetes mellitus, uncontrolled.", "moderate"),
    ("1. Breast lump, uncertain prognosis.", "moderate"),
    ("1. Pyelonephritis.", "moderate"),
    ("1. Displaced fracture of the distal radius.", "moderate"),
    ("1. COPD with severe exacerbation.", "high"),
    ("1. Sepsis.", "high"),
]


@pytest.mark.parametrize(("assessment", "level"), PROBLEMS)
def test_problems_each_level(assessment: str, level: str) -> None:
    assert grid(em(visit(assessment)))["problems"] == level


def test_problems_are_counted_per_problem_not_per_sentence() -> None:
    note = visit(
        "1. Hypertension - stable. Continue current plan. "
        "Home readings stable. Blood pressure is stable today."
    )
    result = em(note)
    problems = result.grid[0]
    assert problems.level == "low"
    assert [r for r in problems.reasons if r.startswith("problem ")] == [
        "problem 1: stable chronic illness (Hypertension, stable)"
    ]


def test_same_problem_in_assessment_and_plan_counts_once() -> None:
    note = (
        "Follow-up visit.\nAssessment: Hypertension, stable.\n"
        "Plan: Hypertension, stable; recheck in 6 months."
    )
    # only the assessment is read for problems, and a repeat of the same problem is merged
    assert grid(em(note))["problems"] == "low"


def test_unlisted_problems_one_per_sentence() -> None:
    note = "Follow-up visit.\nAssessment: Hypertension, stable. Hyperlipidemia, stable."
    assert grid(em(note))["problems"] == "moderate"


def test_negated_exacerbation_does_not_count() -> None:
    assert grid(em(visit("1. Asthma, no exacerbation, well controlled.")))["problems"] == "low"
    assert grid(em(visit("1. Asthma, exacerbation.")))["problems"] == "moderate"


def test_historical_problem_does_not_count() -> None:
    assert grid(em(visit("1. History of stroke.\n2. Acute sinusitis.")))["problems"] == "low"


def test_problem_without_known_words_counts_as_one_unspecified_problem() -> None:
    problems = em("Office visit.\nAssessment: Knee discomfort after gardening.").grid[0]
    assert problems.level == "low"
    assert "status not documented" in problems.reasons[0]


# --- data ----------------------------------------------------------------------------------------

DATA = [
    ("Plan: Reassurance.", "straightforward"),
    ("Plan: CBC ordered.", "straightforward"),  # one test is not enough for limited
    ("Plan: CBC and BMP ordered.", "low"),
    ("Plan: History obtained from mother, who is the independent historian.", "low"),
    ("Plan: Ordered CBC, BMP and TSH.", "moderate"),
    ("Plan: Ordered CBC and BMP. History obtained from daughter.", "moderate"),  # 2 tests + historian
    ("Plan: Chest x-ray: my independent interpretation shows no infiltrate.", "moderate"),
    ("Plan: Discussed management with Dr. Lee, cardiology.", "moderate"),
    (
        "Plan: Reviewed outside records from the cardiology clinic. Lipid panel and A1c reviewed today.",
        "moderate",
    ),
    ("Plan: Ordered CBC, BMP and TSH. Discussed with Dr. Lee, cardiology.", "high"),
    ("Plan: ECG independently interpreted: sinus rhythm. Discussed with the on-call cardiologist.", "high"),
]


@pytest.mark.parametrize(("plan", "level"), DATA)
def test_data_each_level(plan: str, level: str) -> None:
    assert grid(em(visit("1. Acute sinusitis.", plan)))["data"] == level


def test_data_negated_or_conditional_tests_do_not_count() -> None:
    assert (
        grid(em(visit("1. Acute sinusitis.", "Plan: CBC and BMP not ordered.")))["data"] == "straightforward"
    )
    assert grid(em(visit("1. Acute sinusitis.", "Plan: No CBC or x-ray today.")))["data"] == "straightforward"
    note = visit("1. Acute sinusitis.", "Plan: If no improvement, will obtain CBC and sinus x-ray.")
    assert grid(em(note))["data"] == "straightforward"


def test_negative_test_result_still_counts_as_a_test() -> None:
    data = em(visit("1. Pharyngitis.", "Plan: Rapid strep negative. Urinalysis reviewed.")).grid[1]
    assert data.level == "low"
    assert any("rapid strep test" in r for r in data.reasons)


def test_discussion_with_patient_is_not_external() -> None:
    note = visit("1. Acute sinusitis.", "Plan: Discussed with patient and her husband at length.")
    assert grid(em(note))["data"] == "straightforward"


def test_same_test_ordered_and_reviewed_counts_once() -> None:
    note = visit("1. Acute sinusitis.", "Plan: CBC ordered. CBC reviewed, normal.")
    assert grid(em(note))["data"] == "straightforward"


# --- risk ----------------------------------------------------------------------------------------

RISK = [
    ("Plan: Rest and fluids.", "straightforward"),
    ("Plan: Ibuprofen over the counter as needed.", "low"),
    ("Plan: Start amoxicillin 875 mg twice daily for 10 days.", "moderate"),
    ("Plan: Continue lisinopril.", "moderate"),
    ("Plan: She is unable to afford her inhaler; samples given.", "moderate"),
    ("Plan: Decision for elective major surgery; scheduled for surgery next month.", "moderate"),
    ("Plan: Admit to the hospital for IV antibiotics.", "high"),
    ("Plan: Patient and family chose DNR and comfort care.", "high"),
    ("Plan: Lithium level today to monitor for toxicity; intensive monitoring for toxicity.", "high"),
]


@pytest.mark.parametrize(("plan", "level"), RISK)
def test_risk_each_level(plan: str, level: str) -> None:
    assert grid(em(visit("1. Acute sinusitis.", plan)))["risk"] == level


def test_risk_negated_and_conditional_management_does_not_count() -> None:
    assert grid(em(visit("1. Viral syndrome.", "Plan: No prescription given.")))["risk"] == "straightforward"
    assert (
        grid(em(visit("1. Viral syndrome.", "Plan: Do not start antibiotics.")))["risk"] == "straightforward"
    )
    note = visit("1. Viral syndrome.", "Plan: If symptoms worsen, start amoxicillin 500 mg.")
    assert grid(em(note))["risk"] == "straightforward"
    note = visit("1. Viral syndrome.", "Plan: Return to the ED if short of breath; would then admit.")
    assert grid(em(note))["risk"] == "straightforward"


def test_planned_prescription_counts() -> None:
    assert (
        grid(em(visit("1. Type 2 diabetes, uncontrolled.", "Will start metformin 500 mg BID.")))["risk"]
        == "moderate"
    )


def test_medication_list_is_not_management() -> None:
    note = (
        "Follow-up visit.\nMedications: lisinopril 10 mg daily, metformin 500 mg BID.\n"
        "Assessment: Common cold."
    )
    assert grid(em(note))["risk"] == "straightforward"


# --- the 2-of-3 rule and the code by MDM ---------------------------------------------------------

SINUSITIS_RX = "Plan: Start amoxicillin 875 mg twice daily."


@pytest.mark.parametrize(
    ("assessment", "plan", "mdm", "code"),
    [
        ("1. Insect bite, self-limited.", "Plan: Reassurance.", "straightforward", "99212"),
        ("1. Acute sinusitis.", "Plan: Ibuprofen over the counter.", "low", "99213"),
        (
            "1. Type 2 diabetes mellitus, uncontrolled.",
            "Plan: Increase metformin to 1000 mg BID.",
            "moderate",
            "99214",
        ),
        ("1. Sepsis.", "Plan: Admit to the hospital.", "high", "99215"),
        # 2 of 3: problems high, data minimal, risk low -> low
        ("1. Sepsis.", "Plan: Acetaminophen over the counter.", "low", "99213"),
        # problems moderate, data minimal, risk moderate -> moderate
        ("1. Pyelonephritis.", "Plan: Start ciprofloxacin 500 mg twice daily.", "moderate", "99214"),
        # problems low, data extensive, risk high -> high (data and risk carry it)
        (
            "1. Acute sinusitis.",
            "Plan: Ordered CBC, BMP and TSH. Discussed with Dr. Lee, ENT. Admit to the hospital.",
            "high",
            "99215",
        ),
        # problems high, data extensive, risk minimal -> high
        (
            "1. Sepsis.",
            "Plan: Ordered CBC, BMP and lactate. Discussed with Dr. Lee, infectious disease.",
            "high",
            "99215",
        ),
    ],
)
def test_office_established_mdm_two_of_three(assessment: str, plan: str, mdm: str, code: str) -> None:
    result = em(visit(assessment, plan))
    assert (result.mdm, result.code, result.method, result.family) == (mdm, code, "MDM", "office_established")
    assert result.level == int(code[-1])


@pytest.mark.parametrize(
    ("assessment", "plan", "code"),
    [
        ("Insect bite, self-limited.", "Reassurance.", "99202"),
        ("Acute sinusitis.", "Ibuprofen over the counter.", "99203"),
        ("Type 2 diabetes mellitus, uncontrolled.", "Increase metformin to 1000 mg BID.", "99204"),
        ("Sepsis.", "Admit to the hospital.", "99205"),
    ],
)
def test_office_new_mdm_levels(assessment: str, plan: str, code: str) -> None:
    note = (
        f"New patient visit.\nHPI: New patient here to establish care.\n"
        f"Assessment: {assessment}\nPlan: {plan}"
    )
    result = em(note)
    assert (result.family, result.code, result.method) == ("office_new", code, "MDM")


# --- time ----------------------------------------------------------------------------------------

MINIMAL = "Assessment: Insect bite, self-limited.\nPlan: Reassurance."


@pytest.mark.parametrize(
    ("minutes", "code", "method"),
    [
        (9, "99212", "MDM"),
        (10, "99212", "MDM"),  # time equals MDM: reported by MDM
        (19, "99212", "MDM"),
        (20, "99213", "time"),
        (29, "99213", "time"),
        (30, "99214", "time"),
        (39, "99214", "time"),
        (40, "99215", "time"),
    ],
)
def test_office_established_time_thresholds(minutes: int, code: str, method: str) -> None:
    result = em(f"Follow-up visit.\n{MINIMAL}\nTotal time {minutes} minutes.")
    assert (result.code, result.method, result.minutes) == (code, method, minutes)


@pytest.mark.parametrize(
    ("minutes", "code", "method"),
    [
        (14, "99202", "MDM"),
        (15, "99202", "MDM"),
        (29, "99202", "MDM"),
        (30, "99203", "time"),
        (44, "99203", "time"),
        (45, "99204", "time"),
        (59, "99204", "time"),
        (60, "99205", "time"),
    ],
)
def test_office_new_time_thresholds(minutes: int, code: str, method: str) -> None:
    result = em(
        f"New patient visit.\n{MINIMAL}\nI spent {minutes} min with the patient on the date of service."
    )
    assert (result.code, result.method, result.minutes) == (code, method, minutes)


def test_time_below_lowest_threshold_is_explained() -> None:
    result = em(f"New patient visit.\n{MINIMAL}\nTotal time 14 minutes.")
    assert "below the 15 minutes" in result.rationale


@pytest.mark.parametrize(
    "sentence",
    [
        "Total time 35 minutes.",
        "Total time: 35 minutes.",
        "I spent 35 min on this visit.",
        "35 minutes face-to-face and non-face-to-face on the date of the encounter.",
        "Total time spent on the date of the encounter was 35 minutes.",
    ],
)
def test_time_phrasings(sentence: str) -> None:
    result = em(f"Follow-up visit.\n{MINIMAL}\n{sentence}")
    assert (result.minutes, result.code, result.method) == (35, "99214", "time")
    assert any(e.text.lower().startswith(("total", "i spent", "35", "spent")) for e in result.evidence)


def test_duration_of_a_symptom_is_not_visit_time() -> None:
    result = em(f"Follow-up visit.\nHPI: Chest tightness lasting 45 minutes yesterday.\n{MINIMAL}")
    assert result.minutes is None


def test_higher_mdm_wins_over_lower_time() -> None:
    note = visit("1. Sepsis.", "Plan: Admit to the hospital.\nTotal time 25 minutes.")
    result = em(note)
    assert (result.code, result.method, result.minutes) == ("99215", "MDM", 25)


def test_prolonged_service_flag_from_time() -> None:
    result = em(f"Follow-up visit.\n{MINIMAL}\nTotal time 55 minutes.")
    assert result.code == "99215"
    [flag] = [f for f in result.flags if f.id == "EM-PROLONGED"]
    assert "99417 x 1" in flag.message and "G2212" in flag.message and flag.severity == "info"
    result = em(f"Follow-up visit.\n{MINIMAL}\nTotal time 54 minutes.")
    assert not [f for f in result.flags if f.id == "EM-PROLONGED"]
    result = em(f"Follow-up visit.\n{MINIMAL}\nTotal time 70 minutes.")
    [flag] = [f for f in result.flags if f.id == "EM-PROLONGED"]
    assert "99417 x 2" in flag.message and "G2212 x 1" in flag.message


# --- emergency department ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assessment", "plan", "code"),
    [
        ("Insect bite, self-limited.", "Reassurance.", "99282"),
        ("Ankle sprain.", "Ibuprofen over the counter. Ice and rest.", "99283"),
        ("Pyelonephritis.", "Start cephalexin 500 mg four times daily.", "99284"),
        ("NSTEMI.", "Heparin drip. Admit to cardiology.", "99285"),
    ],
)
def test_ed_levels_by_mdm(assessment: str, plan: str, code: str) -> None:
    note = (
        f"EMERGENCY DEPARTMENT NOTE\nHPI: Presents to the ED today.\nAssessment: {assessment}\nPlan: {plan}"
    )
    result = em(note)
    assert (result.family, result.code, result.method) == ("ed", code, "MDM")


def test_ed_ignores_time() -> None:
    note = f"ED provider note\nHPI: Presents to the emergency department.\n{MINIMAL}\nTotal time 75 minutes."
    result = em(note)
    assert (result.family, result.code, result.method, result.minutes) == ("ed", "99282", "MDM", 75)
    assert "MDM only" in result.rationale


def test_ed_course_section_marks_the_family() -> None:
    note = "HPI: Fell on ice.\nED Course: Wrist x-ray ordered and reviewed.\nAssessment: Wrist sprain."
    assert em(note).family == "ed"


def test_office_note_mentioning_ed_return_stays_office() -> None:
    note = visit("1. Acute sinusitis.", "Return to the emergency department if worse.")
    assert em(note).family == "office_established"


# --- hospital, consultation, discharge -----------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "code"),
    [(39, "99221"), (40, "99221"), (54, "99221"), (55, "99222"), (74, "99222"), (75, "99223")],
)
def test_hospital_initial_time(minutes: int, code: str) -> None:
    note = (
        f"Admission History and Physical\n"
        f"HPI: Admitted for observation.\n{MINIMAL}\nTotal time {minutes} minutes."
    )
    result = em(note, IN)
    assert (result.family, result.code) == ("hospital_initial", code)


@pytest.mark.parametrize(
    ("minutes", "code"), [(24, "99231"), (34, "99231"), (35, "99232"), (49, "99232"), (50, "99233")]
)
def test_hospital_subsequent_time(minutes: int, code: str) -> None:
    note = (
        f"Progress note, hospital day 3.\n"
        f"Subjective: No complaints.\n{MINIMAL}\nTotal time {minutes} minutes."
    )
    result = em(note, IN)
    assert (result.family, result.code) == ("hospital_subsequent", code)


@pytest.mark.parametrize(
    ("assessment", "plan", "code"),
    [
        ("Cellulitis of the leg, improving.", "Wound care.", "99231"),  # low MDM is level 1 too
        ("Community acquired pneumonia, improving.", "Continue ceftriaxone 1 g IV daily.", "99232"),
        ("Septic shock.", "Transfer to the ICU. Vancomycin trough levels.", "99233"),
    ],
)
def test_hospital_subsequent_mdm(assessment: str, plan: str, code: str) -> None:
    note = f"Hospital day 2.\nSubjective: Feels better.\nAssessment: {assessment}\nPlan: {plan}"
    assert em(note, IN).code == code


def test_subsequent_day_admission_words_are_not_a_hospitalization_decision() -> None:
    note = (
        "Progress note. Hospital day 4.\n"
        "Assessment: Pneumonia, improving.\nPlan: Remains admitted to medicine."
    )
    assert grid(em(note, IN))["risk"] == "straightforward"


def test_inpatient_setting_without_cues_is_subsequent_care() -> None:
    result = em(f"Subjective: Slept well.\n{MINIMAL}", IN)
    assert result.family == "hospital_subsequent"
    assert "subsequent" in result.rationale


@pytest.mark.parametrize(("minutes", "code"), [(None, "99238"), (30, "99238"), (31, "99239"), (45, "99239")])
def test_discharge_day_by_time(minutes: int | None, code: str) -> None:
    time = f"\nDischarge day management time: {minutes} minutes." if minutes else ""
    note = (
        f"Discharge Summary\nHospital course: Pneumonia treated, improved.\n"
        f"Assessment: Pneumonia, resolved.{time}"
    )
    result = em(note, IN)
    assert (result.family, result.code, result.method, result.minutes) == (
        "hospital_discharge",
        code,
        "time",
        minutes,
    )


@pytest.mark.parametrize(
    ("minutes", "code"),
    [(19, "99242"), (20, "99242"), (30, "99243"), (40, "99244"), (54, "99244"), (55, "99245")],
)
def test_office_consultation_time(minutes: int, code: str) -> None:
    note = f"Consultation\nReason for consultation: rash.\n{MINIMAL}\nTotal time {minutes} minutes."
    result = em(note)
    assert (result.family, result.code) == ("office_consult", code)


@pytest.mark.parametrize(("minutes", "code"), [(34, "99252"), (35, "99252"), (79, "99254"), (80, "99255")])
def test_inpatient_consultation_time(minutes: int, code: str) -> None:
    note = (
        f"Inpatient consult note\nAsked to see the patient by Dr. Hill.\n"
        f"{MINIMAL}\nTotal time {minutes} minutes."
    )
    result = em(note, IN)
    assert (result.family, result.code) == ("inpatient_consult", code)


def test_consultation_by_mdm() -> None:
    note = (
        "Consult note\nReason for consultation: diabetes.\nAssessment: Type 2 diabetes, uncontrolled.\n"
        "Plan: Increase insulin glargine to 30 units nightly."
    )
    assert em(note).code == "99244"


def test_plan_to_consult_someone_is_not_a_consultation() -> None:
    note = visit("1. Atrial fibrillation, stable.", "Plan: Consult cardiology next month.")
    assert em(note).family == "office_established"


# --- patient status, nurse visits, no E/M --------------------------------------------------------


def test_new_versus_established_default() -> None:
    assert em(f"Office visit.\n{MINIMAL}").family == "office_established"
    result = em(f"Office visit.\n{MINIMAL}")
    assert "established was chosen" in result.rationale
    assert em(f"New patient visit.\n{MINIMAL}").family == "office_new"
    assert em(f"Patient is not a new patient.\n{MINIMAL}").family == "office_established"


def test_nurse_visit_is_99211() -> None:
    note = (
        "Nurse visit for blood pressure check.\n"
        "BP 128/78, reviewed with the patient.\nPlan: Continue home log."
    )
    result = em(note)
    assert (result.code, result.level, result.family) == ("99211", 1, "office_established")
    assert "nurse" in result.rationale


def test_physician_visit_is_not_99211() -> None:
    assert em(visit("1. Insect bite, self-limited.", "Plan: Reassurance.")).code == "99212"


@pytest.mark.parametrize(
    "note",
    [
        "PROCEDURE NOTE\nIndication: right knee osteoarthritis.\n"
        "Procedure: Right knee injection, triamcinolone 40 mg.",
        "Nurse visit: here for her monthly B12 injection. Given in the left deltoid. Tolerated well.",
        "Lab draw only. Venipuncture from the right antecubital vein, 2 tubes.",
        "Injection visit\nChief complaint: here for flu vaccine.\nVaccine given left deltoid.",
        "Tolerated well.",
    ],
)
def test_no_em_visit_returns_none(note: str) -> None:
    assert level_em(load_document(note), OUT) is None


def test_procedure_day_with_separate_visit_is_em() -> None:
    note = (
        "Procedure note\nHPI: Knee pain worse for 2 months; also here for diabetes follow-up.\n"
        "Assessment: 1. Type 2 diabetes, uncontrolled. 2. Osteoarthritis of knee.\n"
        "Plan: Increase metformin to 1000 mg BID. Knee injection performed."
    )
    assert em(note).code == "99214"


# --- flags ---------------------------------------------------------------------------------------

MODERATE = visit("1. Type 2 diabetes mellitus, uncontrolled.", "Plan: Increase metformin to 1000 mg BID.")


def test_upcode_flag() -> None:
    result = em(MODERATE, billed="99215")
    [flag] = result.flags
    assert (flag.id, flag.severity) == ("EM-UPCODE-RISK", "error")
    assert "99215" in flag.message and "99214" in flag.message
    assert "99214" in flag.fix and "40 minutes" in flag.fix
    assert "Chapter 12" in flag.citation and "30.6" in flag.citation and "AMA CPT" in flag.citation


def test_downcode_flag() -> None:
    [flag] = em(MODERATE, billed="99213").flags
    assert (flag.id, flag.severity) == ("EM-DOWNCODE-RISK", "warning")
    assert "99214" in flag.fix


def test_no_flag_when_billed_matches() -> None:
    assert em(MODERATE, billed="99214").flags == ()
    assert em(MODERATE, billed=" 99214 ").flags == ()


@pytest.mark.parametrize("billed", ["99204", "99284", "99232", "20610"])
def test_family_mismatch_flag(billed: str) -> None:
    [flag] = em(MODERATE, billed=billed).flags
    assert flag.id == "EM-FAMILY-MISMATCH"
    assert "99211-99215" in flag.fix


def test_no_flags_without_billed() -> None:
    assert em(MODERATE).flags == ()


@pytest.mark.parametrize("billed", ["9921", "99214-25", "", "abc"])
def test_malformed_billed_code_is_an_error(billed: str) -> None:
    with pytest.raises(EmBilledCodeError) as info:
        level_em(load_document(MODERATE), OUT, billed=billed)
    assert info.value.code == "CC401" and isinstance(info.value, InputError)
    assert f"{billed!r} (--billed-em / billed_em)" in str(info.value) and info.value.fix


# --- output shape --------------------------------------------------------------------------------


def test_result_shape_and_serialisation() -> None:
    result = em(MODERATE, billed="99215")
    data = asdict(result)
    assert set(data) == {
        "code",
        "level",
        "family",
        "method",
        "mdm",
        "minutes",
        "grid",
        "evidence",
        "flags",
        "rationale",
        "modifiers",
        "dx_pointers",
    }
    assert [g["name"] for g in data["grid"]] == ["problems", "data", "risk"]
    assert all(g["reasons"] for g in data["grid"])
    assert data["modifiers"] == () and data["dx_pointers"] == ()  # filled by the services layer
    json.dumps(data)
    texts = {e.text for e in result.evidence}
    assert {"Type 2 diabetes mellitus", "uncontrolled", "Increase"} <= texts
    assert "99214" in result.rationale and "2 of the 3" in result.rationale


def test_works_on_fhir_input() -> None:
    import base64

    note = base64.b64encode(MODERATE.encode()).decode()
    resource = {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [{"attachment": {"contentType": "text/plain", "data": note}}],
    }
    result = level_em(load_document(json.dumps(resource)), OUT)
    assert result is not None and result.code == "99214"


# --- rules file ----------------------------------------------------------------------------------


def _rules_with(tmp_path: Path, change: object) -> Path:
    from importlib import resources

    data = json.loads((resources.files("chartcode.assign") / "data" / "em_rules.json").read_text("utf-8"))
    assert callable(change)
    change(data)
    path = tmp_path / "em_rules.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_packaged_rules_load() -> None:
    rules = default_em_rules()
    assert rules.code_index["99215"][1].minutes == 40
    assert rules.code_index["99223"][1].minutes == 75
    assert rules.families["ed"].time is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("families"), "missing key 'families'"),
        (lambda d: d.update(extra=1), "unknown key 'extra'"),
        (lambda d: d["cues"][0]["phrases"].append("stable"), "'stable' is already a phrase of PROB-THREAT"),
        (lambda d: d["time_patterns"].append(r"\d+ minutes"), "time_patterns[6]: must have a named group"),
        (
            lambda d: d["families"][0]["codes"][0].update(mdm="medium"),
            "families[0].codes[0].mdm: must be one of",
        ),
        (lambda d: d["cues"][-1].update(level="high"), "is only allowed on risk cues"),
        (lambda d: d["family_patterns"][0].update(pattern="(unclosed"), "not a valid regular expression"),
    ],
)
def test_rules_file_is_validated_strictly(tmp_path: Path, change: object, message: str) -> None:
    path = _rules_with(tmp_path, change)
    with pytest.raises(EmRulesError) as info:
        EmRules(path)
    assert info.value.code == "CC400"
    assert "em_rules.json" in info.value.message and message in info.value.message


def test_rules_file_not_json(tmp_path: Path) -> None:
    path = tmp_path / "em_rules.json"
    path.write_text("{ not json", encoding="utf-8")
    with pytest.raises(EmRulesError, match="line 1, column 3"):
        EmRules(path)
    with pytest.raises(EmRulesError, match="cannot be read"):
        EmRules(tmp_path / "missing.json")


def test_custom_rules_are_used(tmp_path: Path) -> None:
    def lower_threshold(d: dict[str, list[dict[str, object]]]) -> None:
        codes = d["families"][1]["codes"]
        assert isinstance(codes, list)
        codes[4]["minutes"] = 35

    rules = EmRules(_rules_with(tmp_path, lower_threshold))
    result = level_em(load_document(f"Follow-up visit.\n{MINIMAL}\nTotal time 36 minutes."), OUT, rules=rules)
    assert result is not None and result.code == "99215"


# --- note layouts --------------------------------------------------------------------------------


def test_soap_headers_are_read_as_sections() -> None:
    note = (
        "S: Established patient with 2 days of burning on urination. No fever.\n"
        "O: Afebrile. Mild suprapubic tenderness.\n"
        "A: Acute cystitis.\n"
        "P: Nitrofurantoin 100 mg twice daily for 5 days."
    )
    result = em(note)
    assert (result.code, grid(result)) == (
        "99213",
        {"problems": "low", "data": "straightforward", "risk": "moderate"},
    )


def test_mdm_header_is_an_assessment() -> None:
    note = (
        "ED PROVIDER NOTE\nHPI: Chest pressure at rest.\n"
        "MDM: acute coronary syndrome. Heparin drip started.\nDisposition: admitted to cardiology."
    )
    result = em(note)
    assert (result.family, result.code) == ("ed", "99285")
    assert grid(result)["problems"] == "high"


def test_hash_problem_list_counts_every_problem() -> None:
    note = (
        "Follow-up visit\nAssessment/Plan:\n"
        "# Hypertension, not at goal - increase amlodipine to 10 mg daily.\n"
        "# Hyperlipidemia - stable on atorvastatin 40 mg.\n"
        "# Hypothyroidism - stable."
    )
    result = em(note)
    problems = [r for r in result.grid[0].reasons if r.startswith("problem ")]
    assert len(problems) == 3
    assert result.code == "99214"
    assert any(e.text.startswith("Hyperlipidemia") for e in result.grid[0].evidence)


def test_inline_numbered_problems() -> None:
    note = "Follow-up visit.\nAssessment: 1. Type 2 diabetes, well controlled. 2. Hypothyroidism, stable."
    assert grid(em(note))["problems"] == "moderate"


def test_semicolon_diagnosis_list_is_one_problem_each() -> None:
    note = "Follow-up visit.\nDiagnoses: essential hypertension, stable; hyperlipidemia, stable."
    assert grid(em(note))["problems"] == "moderate"


def test_prescription_written_without_a_verb() -> None:
    note = visit(
        "1. Acute maxillary sinusitis.", "Plan: amoxicillin-clavulanate 875 mg twice daily for 7 days."
    )
    assert grid(em(note))["risk"] == "moderate"
    note = visit("1. Allergic rhinitis.", "Plan: over-the-counter loratadine 10 mg daily.")
    assert grid(em(note))["risk"] == "low"


def test_test_performed_and_billed_at_the_visit_is_not_data() -> None:
    note = visit(
        "1. Palpitations, cause not yet determined.",
        "ECG performed in the office and interpreted by me: sinus rhythm. TSH and CBC ordered.",
    )
    data = em(note).grid[1]
    assert data.level == "low"  # TSH + CBC; the in-office ECG and its interpretation do not count
    assert any("not counted" in r and "electrocardiogram" in r for r in data.reasons)


def test_past_hospitalization_in_history_keeps_the_office_family() -> None:
    note = visit("1. Hypertension, stable.", "HPI addendum: was hospitalized in March for pneumonia.")
    assert em(note).family == "office_established"


def test_office_history_and_physical_is_not_an_admission() -> None:
    note = "HISTORY AND PHYSICAL - new patient\nAssessment: Hypertension, stable."
    assert em(note).family == "office_new"
    assert em(note, IN).family == "hospital_initial"


def test_title_about_an_earlier_consultation_is_not_a_consultation() -> None:
    note = "Follow-up after cardiology consult\nAssessment: Atrial fibrillation, rate controlled."
    assert em(note).family == "office_established"


@pytest.mark.parametrize(
    "note",
    [
        "WELL CHILD VISIT - 2 MONTHS\nExam: normal.\nAssessment: well infant, normal growth and development.",
        "Annual physical, established patient.\n"
        "Assessment: routine adult health examination, no abnormal findings.",
        "RADIOLOGY REPORT\nEXAMINATION: XR knee, 3 views.\nIMPRESSION: Osteoarthritis of the right knee.",
        "Urgent care - laceration repair.\nWound: right forearm, 3 cm, simple closure.\n"
        "Diagnosis: laceration of the right forearm.",
    ],
)
def test_preventive_only_and_procedure_only_notes_are_not_em(note: str) -> None:
    assert level_em(load_document(note), OUT) is None


def test_preventive_visit_with_a_problem_addressed_levels_the_problem() -> None:
    note = (
        "ANNUAL PREVENTIVE EXAM, ESTABLISHED PATIENT\nExam normal.\n"
        "Assessment: gastroesophageal reflux disease. Start omeprazole 20 mg daily."
    )
    result = em(note)
    # GERD without a stated status counts as a stable chronic illness (low);
    # prescription drug management is moderate
    assert (result.code, result.family, result.mdm) == ("99213", "office_established", "low")
    assert "preventive" in result.rationale
