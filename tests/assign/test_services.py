"""Professional services (issue 4): procedures, drugs and units, supplies, modifiers, MUE and diagnosis
pointers, on short synthetic notes with the full code sets (dates in 2024 Q3, where HCPCS, NCCI and the
fee schedule are installed)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from chartcode.assign.api import CodingOptions, CodingResult
from chartcode.assign.coder import Coder
from chartcode.assign.services import (
    CatalogueError,
    CodedService,
    DrugCode,
    catalogue,
    choose_drug_codes,
    drug_units,
    load_catalogue,
    parse_drug_descriptor,
)
from chartcode.codesets.kb import KnowledgeBase
from chartcode.errors import InputError

DAY = date(2024, 8, 15)

VISIT = (
    "Chief complaint: {cc}.\n"
    "HPI: {age}-year-old established patient. {hpi}\n"
    "Exam: {exam}\n"
    "Assessment: {assessment}\n"
    "Plan: {plan}\n"
)


# --- pure functions: CMS descriptors, units -------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "name", "amount", "measure", "qualifiers"),
    [
        ("Injection, ketorolac tromethamine, per 15 mg", "ketorolac tromethamine", 15.0, "mass", ()),
        ("Injection, ceftriaxone sodium, per 250 mg", "ceftriaxone sodium", 250.0, "mass", ()),
        (
            "Injection, vitamin b-12 cyanocobalamin, up to 1000 mcg",
            "vitamin b-12 cyanocobalamin",
            1.0,
            "mass",
            (),
        ),
        (
            "Injection, penicillin g benzathine, 100,000 units",
            "penicillin g benzathine",
            100000.0,
            "units",
            (),
        ),
        ("Injection, testosterone enanthate and estradiol valerate, up to 1 cc", None, 0.0, "", ()),
        (
            "Injection, triamcinolone acetonide, preservative free, 1 mg",
            "triamcinolone acetonide",
            1.0,
            "mass",
            ("preservative free",),
        ),
        (
            "Injection, betamethasone acetate 3 mg and betamethasone sodium phosphate 3 mg",
            "betamethasone acetate 3 mg and betamethasone sodium phosphate 3 mg",
            6.0,
            "mass",
            (),
        ),
        ("Unclassified drugs", None, 0.0, "", ()),
        ("Infusion, normal saline solution, 250 cc", "normal saline solution", 250.0, "volume", ()),
    ],
)
def test_descriptor_parsing(
    description: str, name: str | None, amount: float, measure: str, qualifiers: tuple[str, ...]
) -> None:
    parsed = parse_drug_descriptor("J0000", description)
    if name is None:
        assert parsed is None
        return
    assert parsed is not None
    assert (parsed.name, parsed.amount, parsed.measure, parsed.qualifiers) == (
        name,
        amount,
        measure,
        qualifiers,
    )


def _code(code: str, amount: float, *quals: str, nos: bool = False) -> DrugCode:
    return DrugCode(code, "drug", quals, nos, amount, "mass", f"Injection, drug, {amount:g} mg")


@pytest.mark.parametrize(
    ("dose", "units"),
    [(60.0, 4), (45.0, 3), (50.0, 4), (15.0, 1), (1.0, 1), (15.0001, 2)],
)
def test_units_round_up_per_descriptor_amount(dose: float, units: int) -> None:
    assert drug_units([_code("J1885", 15.0)], dose) == [(_code("J1885", 15.0), units)]


def test_fixed_amount_codes_exact_then_largest_that_fits() -> None:
    codes = [_code("J1020", 20.0), _code("J1030", 40.0), _code("J1040", 80.0)]
    assert [(c.code, n) for c, n in drug_units(codes, 80.0)] == [("J1040", 1)]
    assert [(c.code, n) for c, n in drug_units(codes, 120.0)] == [("J1030", 1), ("J1040", 1)]
    assert [(c.code, n) for c, n in drug_units(codes, 30.0)] == [("J1020", 2)]
    assert drug_units(codes, 0.0) == []


def test_qualified_codes_need_their_qualifier_written() -> None:
    nos = _code("J3301", 10.0, nos=True)
    pf = _code("J3300", 1.0, "preservative free")
    assert choose_drug_codes([nos, pf], "kenalog 40 mg injected") == [nos]
    assert choose_drug_codes([nos, pf], "preservative free triamcinolone 40 mg") == [pf]


def test_catalogue_has_no_descriptor_text_and_every_cpt_is_a_code_number() -> None:
    raw = catalogue().raw
    text = json.dumps(raw)
    assert "AMA" not in text or "No AMA descriptor text" in raw["about"]
    for entry in raw["services"] + raw["vaccines"]:
        assert entry["code"].isdigit() and len(entry["code"]) == 5


_SYNONYMS = {
    "format": "chartcode-drug-synonyms",
    "version": 1,
    "synonyms": {"kenalog": "triamcinolone"},
    "not_separately_billed": ["lidocaine"],
}


def _damaged(tmp_path: Path, name: str, edit: str) -> Path:
    """A copy of the packaged services data file ``name`` with one defect."""
    data = json.loads(json.dumps(catalogue().raw if name == "catalogue" else _SYNONYMS))
    if edit == "format":
        data["format"] = "something-else"
    elif edit == "missing":
        del data["imaging" if name == "catalogue" else "synonyms"]
    elif edit == "nested":
        del data["imaging"]["cues"]
    elif edit == "dx":
        data["repair"]["dx"] = "S0"
    path = tmp_path / f"{name}.json"
    path.write_text("{" if edit == "json" else json.dumps(data), encoding="utf-8")
    return path


def test_load_catalogue_reads_the_files_given(tmp_path: Path) -> None:
    synonyms = tmp_path / "synonyms.json"
    synonyms.write_text(json.dumps(_SYNONYMS), encoding="utf-8")
    cat = load_catalogue(None, synonyms)
    assert cat.synonyms == {"kenalog": "triamcinolone"} and cat.no_bill == frozenset({"lidocaine"})
    assert cat.raw == catalogue().raw


@pytest.mark.parametrize(
    ("name", "edit", "expected"),
    [
        ("catalogue", "json", "catalogue.json is not valid JSON (Expecting property name"),
        ("catalogue", "format", "catalogue.json: format: must be 'chartcode-procedure-catalogue'"),
        ("catalogue", "missing", "catalogue.json: top level: missing key 'imaging'"),
        ("catalogue", "nested", "a field is missing or malformed (KeyError: 'cues')"),
        ("catalogue", "dx", "(TypeError: repair.dx must be a list of ICD-10-CM code prefixes)"),
        ("synonyms", "missing", "synonyms.json: top level: missing key 'synonyms'"),
    ],
)
def test_a_damaged_services_data_file_names_the_file_and_field(
    tmp_path: Path, name: str, edit: str, expected: str
) -> None:
    path = _damaged(tmp_path, name, edit)
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path, None) if name == "catalogue" else load_catalogue(None, path)
    assert info.value.code == "CC405" and isinstance(info.value, InputError)
    assert expected in str(info.value) and info.value.fix == "reinstall chartcode or restore the file."


# --- the coder end to end -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coder(full_kb: KnowledgeBase) -> Coder:
    return Coder(full_kb)


def code(coder: Coder, text: str, **options: object) -> CodingResult:
    opts = {"date_of_service": DAY, "patient_age": 50, **options}
    return coder.code(text, CodingOptions(**opts))  # type: ignore[arg-type]


def lines(result: CodingResult) -> list[tuple[str, tuple[str, ...], int]]:
    return [(p.code, p.modifiers, p.units) for p in result.procedures]


def line(result: CodingResult, code_: str) -> CodedService:
    return next(p for p in result.procedures if p.code == code_)


def dx_of(result: CodingResult, service: CodedService) -> list[str]:
    return [result.diagnoses[i - 1].code for i in service.dx_pointers]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sentence", "code_", "units"),
    [
        ("Ketorolac 60 mg given IM in the right gluteus today.", "J1885", 4),
        ("Ketorolac 20 mg given IM in the left deltoid today.", "J1885", 2),  # 20/15 rounds up
        ("Ceftriaxone 1 g given intramuscularly in the right gluteus today.", "J0696", 4),
        ("Dexamethasone 10 mg given IM in the left deltoid today.", "J1100", 10),
        ("Vitamin B12 1000 mcg injected IM in the left deltoid today.", "J3420", 1),
        ("Toradol 30 mg x 2 given IM today.", "J1885", 4),  # a multiplier sums the vials
        ("Two vials of ceftriaxone 500 mg given IM today.", "J0696", 4),
    ],
)
def test_drug_dose_to_billing_units(coder: Coder, sentence: str, code_: str, units: int) -> None:
    result = code(coder, f"Procedure: {sentence}")
    assert (code_, (), units) in lines(result)
    assert line(result, "96372").units == 1
    assert "SVC-DRUG-UNITS" in line(result, code_).rationale


@pytest.mark.integration
def test_oral_home_medication_is_no_drug_line(coder: Coder) -> None:
    result = code(
        coder, "Medications: dexamethasone 4 mg PO daily.\nPlan: continue dexamethasone 4 mg by mouth daily."
    )
    assert result.procedures == ()


@pytest.mark.integration
def test_joint_injection_with_triamcinolone_has_no_separate_administration(coder: Coder) -> None:
    result = code(
        coder,
        "Procedure: after consent the right knee was injected with triamcinolone acetonide 40 mg and 3 mL of "
        "1% lidocaine. No ultrasound guidance.\nAssessment: primary osteoarthritis of the right knee.",
    )
    assert lines(result) == [("20610", ("RT",), 1), ("J3301", (), 4)]
    assert dx_of(result, line(result, "20610"))[0] == "M17.11"


@pytest.mark.integration
def test_methylprednisolone_code_follows_the_date_of_service(coder: Coder) -> None:
    note = (
        "Procedure: the left shoulder subacromial bursa was injected with methylprednisolone acetate 80 mg."
    )
    assert ("J1010", (), 80) in lines(code(coder, note))  # 1 mg code from 2024-04-01
    earlier = code(coder, note, date_of_service=date(2023, 6, 1))
    assert ("J1040", (), 1) in lines(earlier)  # the 80 mg code before
    assert any(w.startswith("NCCI-MUE-NOT-RUN") for w in earlier.warnings)


@pytest.mark.integration
def test_bilateral_injections_sum_the_doses_and_take_modifier_50(coder: Coder) -> None:
    result = code(
        coder,
        "Procedure: Right knee: triamcinolone acetonide 40 mg injected intra-articularly.\n"
        "Left knee: same technique, triamcinolone acetonide 40 mg.\n"
        "Indication: bilateral primary osteoarthritis of the knees.",
    )
    assert lines(result) == [("20610", ("50",), 1), ("J3301", (), 8)]
    assert "PFS bilateral indicator 1" in line(result, "20610").rationale


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Right knee x-rays, 2 views, obtained in the office today.", ("73560", ("RT",), 1)),
        ("Right knee x-rays, three views (AP, lateral, sunrise), taken today.", ("73562", ("RT",), 1)),
        ("Left knee x-rays, 4 views, done in clinic today.", ("73564", ("LT",), 1)),
        ("Chest x-ray PA and lateral performed today.", ("71046", (), 1)),
        ("Chest x-ray, single view, obtained today.", ("71045", (), 1)),
        ("Left shoulder x-rays AP and axillary views taken today.", ("73030", ("LT",), 1)),
        ("Right ankle x-rays, 3 views, done here today.", ("73610", ("RT",), 1)),
        ("Left great toe x-rays, 2 views, obtained today.", ("73660", ("TA",), 1)),
    ],
)
def test_imaging_by_site_views_and_side(
    coder: Coder, text: str, expected: tuple[str, tuple[str, ...], int]
) -> None:
    assert lines(code(coder, text)) == [expected]


@pytest.mark.integration
def test_imaging_both_sides_is_one_line_per_side(coder: Coder) -> None:
    result = code(coder, "Bilateral knee x-rays, 3 views each, obtained in the office today.")
    assert lines(result) == [("73562", ("RT",), 1), ("73562", ("LT",), 1)]  # PFS bilateral indicator 3


@pytest.mark.integration
def test_imaging_not_done_today_is_not_coded(coder: Coder) -> None:
    for text in (
        "Knee x-rays from last year reviewed: mild arthritis.",
        "Will obtain right knee x-rays at the next visit.",
        "No x-ray needed today.",
        "Results reviewed: chest x-ray no acute process.",
    ):
        assert code(coder, text).procedures == (), text


@pytest.mark.integration
def test_26_in_a_facility_and_tc_when_read_by_radiology(coder: Coder) -> None:
    facility = code(coder, "Right knee x-ray, 3 views, interpreted.", setting="inpatient")
    assert lines(facility) == [("73562", ("26", "RT"), 1)]
    assert "MOD-26-TC" in line(facility, "73562").rationale
    office = code(coder, "Right knee x-ray, 3 views, taken in the office today and read by radiology.")
    assert lines(office) == [("73562", ("TC", "RT"), 1)]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Laceration repair of the left forearm, 2.5 cm, simple closure.", [("12001", (), 1)]),
        ("Laceration repair of the left forearm, 2.6 cm, simple closure.", [("12002", (), 1)]),
        ("Laceration of the chin repaired, 3.0 cm, simple interrupted sutures.", [("12013", (), 1)]),
        ("Laceration of the right hand repaired with layered closure, 3.0 cm.", [("12042", (), 1)]),
        ("Laceration of the scalp repaired, intermediate layered closure, 12.0 cm.", [("12034", (), 1)]),
        (
            "Laceration of the back repaired: complex repair with undermining, 9.0 cm.",
            [("13101", (), 1), ("13102", (), 1)],
        ),
        (
            "Two lacerations of the left arm repaired with simple sutures: 2.0 cm and 1.5 cm.",
            [("12002", (), 1)],
        ),
    ],
)
def test_laceration_repair_by_summed_length_site_group_and_complexity(
    coder: Coder, text: str, expected: list[tuple[str, tuple[str, ...], int]]
) -> None:
    assert lines(code(coder, f"Procedure: {text}")) == expected


@pytest.mark.integration
def test_repairs_of_different_classification_take_59_on_the_simpler(coder: Coder) -> None:
    result = code(
        coder,
        "Wound 1: right forearm, 3.0 cm, layered closure - intermediate repair.\n"
        "Wound 2: right hand, 2.0 cm, simple single-layer closure.",
    )
    assert lines(result) == [("12032", (), 1), ("12001", ("59",), 1)]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Excision of a benign nevus of the back, 0.8 cm, excised with 2 mm margins.", "11402"),
        ("Excision of a benign cyst of the left cheek, 0.4 cm, no margins.", "11440"),
        ("Excision of a lesion of the neck, excised diameter 2.5 cm; pathology benign.", "11423"),
        ("Excision of basal cell carcinoma of the nose, 0.4 cm, 1 mm margins.", "11641"),
        ("Excision of squamous cell carcinoma of the right forearm, 3.2 cm, 5 mm margins.", "11606"),
    ],
)
def test_lesion_excision_by_excised_diameter_site_group_and_behaviour(
    coder: Coder, text: str, expected: str
) -> None:
    assert [p.code for p in code(coder, f"Procedure: {text}").procedures] == [expected]


@pytest.mark.integration
def test_layered_closure_of_an_excision_is_added(coder: Coder) -> None:
    result = code(
        coder,
        "Procedure: excision of a benign lesion of the upper back with intermediate (layered) closure.\n"
        "Lesion 1.0 cm; excised with 2 mm margins (excised diameter 1.4 cm).\n"
        "Closure: deep layer and skin; final repair length 2.4 cm.",
    )
    assert lines(result) == [("11402", (), 1), ("12031", (), 1)]


@pytest.mark.integration
def test_debridement_area_add_on_and_a_bundled_pair_dropped(coder: Coder) -> None:
    result = code(
        coder,
        "Procedure: excisional debridement of subcutaneous tissue of the right heel ulcer, 5 x 6 cm, "
        "performed.\n"
        "Selective debridement of slough of the right heel ulcer, 5 x 6 cm, performed.",
    )
    assert lines(result) == [("11042", (), 1), ("11045", (), 1)]
    assert any(w.startswith("NCCI-PTP: 97597 is bundled into 11042") for w in result.warnings)


@pytest.mark.integration
def test_ecg_spirometry_labs_and_venipuncture(coder: Coder) -> None:
    result = code(
        coder,
        "ECG (12-lead) performed and interpreted in office: sinus rhythm.\n"
        "Spirometry before and after bronchodilator performed in the office today.\n"
        "Rapid strep test in office: positive.\n"
        "Blood drawn by venipuncture for CBC and lipid panel, sent to the reference lab.",
    )
    assert [p.code for p in result.procedures] == ["93000", "94060", "36415", "87880"]


@pytest.mark.integration
def test_ecg_in_a_facility_is_interpretation_only_and_repeats_take_76_or_77(coder: Coder) -> None:
    assert [
        p.code for p in code(coder, "ECG interpreted by me: sinus rhythm.", setting="inpatient").procedures
    ] == ["93010"]
    same = code(
        coder, "ECG performed today: sinus tachycardia.\nRepeat ECG performed after fluids: sinus rhythm."
    )
    assert lines(same) == [("93000", (), 1), ("93000", ("76",), 1)]
    other = code(
        coder,
        "ECG performed today: sinus tachycardia.\nECG repeated by another physician later: sinus rhythm.",
    )
    assert lines(other) == [("93000", (), 1), ("93000", ("77",), 1)]
    assert "MOD-76-77" in other.procedures[1].rationale


@pytest.mark.integration
def test_injection_and_im_drug_at_separate_sites_take_59(coder: Coder) -> None:
    result = code(
        coder,
        "Procedure: the right knee was injected with triamcinolone acetonide 40 mg.\n"
        "Ketorolac 60 mg given IM in the left deltoid today.",
    )
    assert ("96372", ("59",), 1) in lines(result)
    assert "NCCI pair 20610/96372" in line(result, "96372").rationale


@pytest.mark.integration
def test_separate_session_takes_xe(coder: Coder) -> None:
    result = code(
        coder,
        "Procedure: the right knee was injected with triamcinolone acetonide 40 mg.\n"
        "Patient returned later that day with a migraine: ketorolac 60 mg given IM.",
    )
    assert ("96372", ("XE",), 1) in lines(result)


@pytest.mark.integration
def test_digit_modifiers_for_a_finger_joint(coder: Coder) -> None:
    result = code(
        coder, "Procedure: the right thumb CMC joint was injected with triamcinolone acetonide 10 mg."
    )
    assert ("20600", ("F5",), 1) in lines(result)
    left = code(coder, "Procedure: the left ring finger PIP joint was aspirated.")
    assert lines(left) == [("20600", ("F3",), 1)]


@pytest.mark.integration
def test_25_on_the_em_with_a_minor_procedure(coder: Coder) -> None:
    result = code(
        coder,
        VISIT.format(
            cc="right knee pain",
            age=66,
            hpi="Right knee pain for 2 years, worse for 3 months; also here for blood pressure follow-up.",
            exam="Right knee effusion, crepitus. BP 150/92.",
            assessment="1. Primary osteoarthritis of the right knee, worsening. 2. Essential hypertension, "
            "not at goal.",
            plan="Increase lisinopril to 20 mg daily. After consent the right knee was injected with "
            "triamcinolone acetonide 40 mg.",
        ),
    )
    assert result.em is not None
    assert result.em.modifiers == ("25",)
    assert "MOD-25" in result.em.rationale and "20610 (000-day global)" in result.em.rationale
    assert result.em.dx_pointers and all(1 <= p <= len(result.diagnoses) for p in result.em.dx_pointers)


@pytest.mark.integration
def test_no_25_with_an_in_office_test_that_needs_none(coder: Coder) -> None:
    result = code(
        coder,
        VISIT.format(
            cc="palpitations",
            age=44,
            hpi="Three weeks of racing heartbeat.",
            exam="Pulse 84, regular.",
            assessment="Palpitations.",
            plan="ECG performed and interpreted in the office today: sinus rhythm. Reduce caffeine.",
        ),
    )
    assert result.em is not None and result.em.modifiers == ()
    assert [p.code for p in result.procedures] == ["93000"]


@pytest.mark.integration
def test_mue_above_the_limit_is_flagged_without_note_text(coder: Coder) -> None:
    result = code(coder, "Procedure: the left knee was injected with Kenalog 200 mg today.")
    assert ("J3301", (), 20) in lines(result)
    warning = next(w for w in result.warnings if w.startswith("NCCI-MUE: J3301"))
    assert "20 units exceed the MUE of 16" in warning and "kenalog" not in warning.lower()


@pytest.mark.integration
def test_mue_policy_limit_caps_the_units_and_drops_an_empty_line(full_kb: KnowledgeBase) -> None:
    from chartcode.assign.services import _Line, _mue

    lines = [
        _Line("12001", "CPT", "repair", "repair", [], []),
        _Line("12001", "CPT", "repair", "repair", [], []),
    ]
    warnings: list[str] = []
    kept = _mue(lines, full_kb, DAY, warnings)
    assert [(x.code, x.units) for x in kept] == [("12001", 1)]
    assert warnings == ["NCCI-MUE: 12001 2 units exceed the MUE of 1 (per day, policy); capped"]
    crutches = [_Line("E0114", "HCPCS", "crutches", "supply", [], [], units=2)]
    assert [(x.code, x.units) for x in _mue(crutches, full_kb, DAY, warnings)] == [("E0114", 1)]  # DME table


@pytest.mark.integration
def test_vaccines_adult_administration_and_z23(coder: Coder) -> None:
    result = code(
        coder,
        "Immunizations given today: influenza vaccine 0.5 mL IM right deltoid; Prevnar 20 IM left deltoid.",
        patient_age=67,
    )
    assert sorted(lines(result)) == [("90471", (), 1), ("90472", (), 1), ("90677", (), 1), ("90686", (), 1)]
    assert all(dx_of(result, p) == ["Z23"] for p in result.procedures)


@pytest.mark.integration
def test_vaccines_under_19_with_counseling_count_components(coder: Coder) -> None:
    text = (
        "Vaccines given today after the physician counseled the parent on each one:\n"
        "- DTaP-IPV IM, left thigh\n- MMR subcutaneous, right arm\n- Varicella subcutaneous, left arm\n"
    )
    counseled = code(coder, text, patient_age=4)
    assert ("90460", (), 3) in lines(counseled) and ("90461", (), 5) in lines(counseled)
    adult_rules = code(
        coder, text.replace(" after the physician counseled the parent on each one", ""), patient_age=4
    )
    assert ("90471", (), 1) in lines(adult_rules) and ("90472", (), 2) in lines(adult_rules)


@pytest.mark.integration
def test_intranasal_vaccine_alone_is_90473(coder: Coder) -> None:
    result = code(coder, "FluMist intranasal vaccine given today.", patient_age=30)
    assert sorted(lines(result)) == [("90473", (), 1), ("90672", (), 1)]


@pytest.mark.integration
def test_vaccine_history_is_not_coded(coder: Coder) -> None:
    result = code(coder, "Tetanus up to date (Tdap given in 2021). Flu vaccine due next month.")
    assert result.procedures == ()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("text", "age", "expected", "dx"),
    [
        ("New patient - preventive medicine visit. No abnormal findings.", 45, "99386", "Z00.00"),
        ("Annual physical, established patient. Normal exam.", 70, "99397", "Z00.00"),
        ("Well child visit, established. No abnormal findings.", 4, "99392", "Z00.129"),
    ],
)
def test_preventive_visit_by_age_and_new_or_established(
    coder: Coder, text: str, age: int, expected: str, dx: str
) -> None:
    result = code(coder, text, patient_age=age)
    assert [p.code for p in result.procedures] == [expected]
    assert result.em is None
    assert result.diagnoses[0].code == dx and dx_of(result, result.procedures[0]) == [dx]


@pytest.mark.integration
def test_preventive_visit_needs_the_age(coder: Coder) -> None:
    result = code(coder, "Annual physical, established patient.", patient_age=None)
    assert result.procedures == ()
    assert any(w.startswith("SVC-PREVENTIVE") for w in result.warnings)


@pytest.mark.integration
def test_preventive_with_vaccine_takes_25_by_the_ncci_pair(coder: Coder) -> None:
    result = code(coder, "Annual physical, established patient. Normal exam.\nTdap 0.5 mL IM given today.")
    assert ("99396", ("25",), 1) in lines(result)


@pytest.mark.integration
def test_supplies_when_dispensed(coder: Coder) -> None:
    result = code(
        coder, "Left ankle sprain. Crutches dispensed and a pneumatic walking boot fitted on the left."
    )
    assert sorted(lines(result)) == [("E0114", (), 1), ("L4361", ("LT",), 1)]
    assert line(result, "E0114").label.startswith("Crutches")  # the CMS description
    assert code(coder, "Crutches as needed; walking boot from home.").procedures == ()


@pytest.mark.integration
def test_drugs_in_a_facility_are_not_on_the_physician_claim(coder: Coder) -> None:
    result = code(coder, "ED provider note. Ketorolac 30 mg IV push given for pain.")
    assert result.procedures == ()


@pytest.mark.integration
def test_pointers_order_by_site_and_side(coder: Coder) -> None:
    result = code(
        coder,
        "Assessment: essential hypertension; primary osteoarthritis of the left knee; impingement "
        "syndrome of the right shoulder.\nProcedure: the right shoulder subacromial bursa was injected "
        "with triamcinolone acetonide 40 mg.",
    )
    injection = line(result, "20610")
    assert result.diagnoses[injection.dx_pointers[0] - 1].code == "M75.41"
    assert all(result.diagnoses[p - 1].code != "M17.12" for p in injection.dx_pointers)
    assert len(injection.dx_pointers) <= 4


@pytest.mark.integration
def test_output_shape(coder: Coder) -> None:
    result = code(
        coder,
        VISIT.format(
            cc="low back pain",
            age=41,
            hpi="Lifted a box yesterday, low back pain 8/10.",
            exam="Lumbar paraspinal spasm.",
            assessment="Strain of muscle of the lower back, initial encounter.",
            plan="Ketorolac 60 mg given intramuscularly in the right gluteus today. Cyclobenzaprine 5 mg "
            "at bedtime prescribed.",
        ),
    )
    data = json.loads(json.dumps(result.to_dict()))
    assert data["em"]["code"].startswith("992") and data["em"]["modifiers"] == ["25"]
    assert {"code", "level", "method", "family", "mdm", "minutes", "grid", "evidence", "flags"} <= set(
        data["em"]
    )
    for proc in data["procedures"]:
        assert set(proc) == {
            "code",
            "system",
            "modifiers",
            "units",
            "dx_pointers",
            "evidence",
            "rationale",
            "label",
            "confidence",
        }
        assert proc["system"] in ("CPT", "HCPCS") and proc["units"] >= 1
        assert all(1 <= p <= len(data["diagnoses"]) for p in proc["dx_pointers"])
        assert proc["evidence"] and {"start", "end", "text"} == set(proc["evidence"][0])


@pytest.mark.integration
def test_evidence_offsets_point_into_the_note(coder: Coder) -> None:
    text = "Procedure: Ketorolac 60 mg given IM in the right gluteus today."
    result = code(coder, text)
    for p in result.procedures:
        for ev in p.evidence:
            assert text[ev.start : ev.end] == ev.text


@pytest.mark.integration
def test_a_note_without_services_adds_no_lines(coder: Coder) -> None:
    result = code(coder, "Assessment: type 2 diabetes, stable. Continue metformin 500 mg twice daily.")
    assert result.procedures == ()
    assert not any(d.code in ("Z23", "Z00.00", "Z00.01") for d in result.diagnoses)
    assert result.em is None or result.em.dx_pointers[0] == 1


def test_a_licensed_cpt_file_supplies_the_display_label(tmp_path: Path) -> None:
    from chartcode.assign.services import _labels, _Line
    from chartcode.codesets.install import install, install_cpt
    from chartcode.codesets.kb import open_kb
    from tests.codesets.sourcekit import FIXTURES, make_source_dir

    path = tmp_path / "kb.sqlite"
    install(str(make_source_dir(tmp_path / "mirror")), path)
    own = [_Line("99213", "CPT", "own label", "em", [], []), _Line("33010", "CPT", "own label", "x", [], [])]
    _labels(own, open_kb(path), None)
    assert [x.label for x in own] == ["own label", "own label"]  # no licensed file: chartcode's own words
    install_cpt(path, FIXTURES / "cpt_descriptors.csv", 2024)
    _labels(own, open_kb(path), None)
    assert [x.label for x in own] == ["Test descriptor one, with comma", "Test descriptor two"]
