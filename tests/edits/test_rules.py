"""The built-in claim edits on the real CMS/NCHS tables of ../shared/data (full knowledge base).

Every example is drawn from the installed tables: the NCCI 2024Q3 PTP/MUE/AOC files, MCE v41.1,
the ICD-10-CM validity history and the FY2026 tabular. Dates of service are in 2024Q3 unless a
test is about dates outside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chartcode.codesets import icd10cm
from chartcode.codesets.kb import KnowledgeBase
from chartcode.edits.engine import check_claim
from chartcode.edits.model import Claim
from chartcode.edits.registry import REGISTRY, EditContext, Finding
from chartcode.edits.rules import BUILTIN_RULE_IDS, _support

pytestmark = pytest.mark.integration

DAY = "2024-08-15"
MEDICARE = {"id": "MEDICARE", "type": "medicare"}
MALE_72 = {"sex": "M", "birth_date": "1952-03-01"}

ISSUE_EXAMPLE: dict[str, Any] = {
    "id": "C1",
    "patient": {"sex": "M", "birth_date": "1952-03-01"},
    "payer": {"id": "MEDICARE", "type": "medicare"},
    "place_of_service": "11",
    "date_of_service": "2024-08-15",
    "diagnoses": ["E11.22", "N18.31", "M17.11"],
    "lines": [
        {"code": "99214", "modifiers": ["25"], "units": 1, "dx_pointers": [1, 2], "charge": 150.00},
        {
            "code": "20610",
            "modifiers": ["RT"],
            "units": 1,
            "dx_pointers": [3],
            "date_of_service": "2024-08-15",
            "charge": 120.00,
        },
    ],
}


def line(
    code: str, *mods: str, ptr: Sequence[int] = (1,), units: int = 1, day: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "modifiers": list(mods), "units": units, "dx_pointers": list(ptr)}
    if day:
        out["date_of_service"] = day
    return out


def claim(
    dx: Sequence[str], lines: Sequence[dict[str, Any]], *, day: str | None = DAY, patient: Any = MALE_72
) -> Claim:
    data: dict[str, Any] = {
        "id": "T",
        "patient": patient,
        "payer": MEDICARE,
        "diagnoses": list(dx),
        "lines": lines,
    }
    if day:
        data["date_of_service"] = day
    return Claim.model_validate(data)


def run(kb: KnowledgeBase, dx: Sequence[str], lines: Sequence[dict[str, Any]], **kw: Any) -> list[Finding]:
    setting = kw.pop("setting", "practitioner")
    return check_claim(claim(dx, lines, **kw), kb, setting=setting)


def only(findings: list[Finding], rule_id: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule_id]


def rules_of(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


# --- clean claims ---------------------------------------------------------------------------------


def test_issue_example_claim_is_clean(full_kb: KnowledgeBase) -> None:
    """E11.22 + N18.31 (valid since 2020-10-01) + M17.11; 99214-25 with 20610-RT: the PTP edit
    20610/99214 (indicator 1) is bypassed by 25 on the E/M, RT matches "right knee", E11.22 is listed
    before N18.31 as N18's "code first" note asks and N18.31 satisfies E11.22's "use additional"."""
    assert check_claim(Claim.model_validate(ISSUE_EXAMPLE), full_kb) == []


@pytest.mark.parametrize(
    ("dx", "lines"),
    [
        (["I10"], [line("99213")]),  # an office visit for hypertension
        (["M17.11", "I10"], [line("99213", "25", ptr=[2]), line("20610", "RT")]),  # injection + E/M
        (["L89.614"], [line("11042"), line("11045", units=2)]),  # debridement with its add-on
        (["M17.11"], [line("99214", "57"), line("27447", "RT")]),  # decision for major surgery
        (["M17.0"], [line("20610", "50")]),  # bilateral injection, bilateral osteoarthritis
        (["M20.12"], [line("28296", "TA")]),  # left great toe, left hallux valgus
        (["R51.9"], [line("99213"), line("93000")]),  # ECG (global XXX): no modifier 25 needed
        (["I50.1"], [line("99214")]),  # "left ventricular" is not a side; conditional code-first notes
        (["L97.511"], [line("11042", "RT"), line("11720", "XS")]),  # PTP indicator 1 bypassed by XS
        (["M25.511"], [line("29125", "RT"), line("64418", "RT")]),  # PTP edit deleted 2018-12-31
    ],
)
def test_clean_claims_have_no_findings(
    full_kb: KnowledgeBase, dx: list[str], lines: list[dict[str, Any]]
) -> None:
    assert run(full_kb, dx, lines) == []


# --- code validity --------------------------------------------------------------------------------


def test_deleted_procedure_code(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["I10"], [line("99201")]), "CODE-INVALID")
    assert len(found) == 1
    assert found[0].lines == (1,) and found[0].codes == ("99201",) and found[0].severity == "error"
    assert "valid through 2020-12-31, not on 2024-08-15" in found[0].message


def test_never_existing_and_malformed_codes(full_kb: KnowledgeBase) -> None:
    findings = run(full_kb, ["E11.99", "E11."], [line("99999", ptr=[1]), line("9921", ptr=[1])])
    invalid = only(findings, "CODE-INVALID")
    by_code = {f.codes[0]: f for f in invalid}
    assert set(by_code) == {"99999", "9921", "E11.99", "E11."}
    assert "99999 is not a CPT code: no installed release lists it" in by_code["99999"].message
    assert "expected 5 characters" in by_code["9921"].message
    assert "E11.99 is not an ICD-10-CM code" in by_code["E11.99"].message
    assert "a dot must be followed by 1-4 characters" in by_code["E11."].message
    assert by_code["E11."].lines == ()  # no line points to diagnosis 2


def test_diagnosis_not_yet_valid_and_deleted(full_kb: KnowledgeBase) -> None:
    # C81.0A took effect 2024-10-01; E88.81 was deleted after 2023-09-30 (subdivided since).
    findings = only(run(full_kb, ["C81.0A", "E88.81"], [line("99213", ptr=[1, 2])]), "CODE-INVALID")
    by_code = {f.codes[0]: f for f in findings}
    assert "took effect 2024-10-01" in by_code["C81.0A"].message
    assert "valid through 2023-09-30, not on 2024-08-15" in by_code["E88.81"].message
    assert "subdivided: use one of E88.810" in by_code["E88.81"].fix
    assert full_kb.validity("E88.81", None, "icd10cm").spans[-1][1] is not None


def test_category_header(full_kb: KnowledgeBase) -> None:
    findings = run(full_kb, ["E11"], [line("99213")])
    assert rules_of(findings) == ["CODE-HEADER"]
    assert "E11 (Type 2 diabetes mellitus) is a category header" in findings[0].message
    assert "E11.0, E11.1" in findings[0].fix


# --- NCCI PTP ---------------------------------------------------------------------------------------


def test_ptp_modifier_indicator_0(full_kb: KnowledgeBase) -> None:
    # 29881/29877: indicator 0 (an older version deleted 2002-01-01 with indicator 9 does not apply).
    findings = only(run(full_kb, ["M23.221"], [line("29881", "RT"), line("29877", "RT", "59")]), "NCCI-PTP")
    assert len(findings) == 1
    f = findings[0]
    assert f.codes == ("29881", "29877") and f.lines == (1, 2) and f.severity == "error"
    assert "Modifier indicator 0" in f.message and "column 2" in f.message
    assert f.fix.startswith("remove 29877 (line 2)")
    assert f.citation.startswith("NCCI Policy Manual for Medicare Services, Ch. I, §E")


@pytest.mark.parametrize(
    ("mods1", "mods2", "fires"),
    [
        ((), (), True),
        ((), ("XS",), False),
        ((), ("59",), False),
        (("59",), (), False),  # on either line
        (("RT",), ("LT",), False),  # different sites
        (("RT",), ("RT",), True),  # the same site
        (("RT",), (), True),  # one side only says nothing about a different site
        (("25",), (), True),  # 25 only counts on an E/M line
    ],
)
def test_ptp_modifier_indicator_1(
    full_kb: KnowledgeBase, mods1: tuple[str, ...], mods2: tuple[str, ...], fires: bool
) -> None:
    findings = only(run(full_kb, ["L97.511"], [line("11042", *mods1), line("11720", *mods2)]), "NCCI-PTP")
    assert len(findings) == (1 if fires else 0)
    if fires:
        assert findings[0].codes == ("11042", "11720")
        assert "Modifier indicator 1" in findings[0].message
        assert "XS (separate structure or organ)" in findings[0].fix and "line 2 (11720)" in findings[0].fix


def test_ptp_em_fix_names_modifier_25_and_setting_table(full_kb: KnowledgeBase) -> None:
    lines = [line("99214"), line("20610", "RT")]
    practitioner = only(run(full_kb, ["M17.11"], lines), "NCCI-PTP")
    assert len(practitioner) == 1
    assert "append 25 to line 1 (99214)" in practitioner[0].fix
    # The outpatient hospital table has no 20610/99214 edit (hospitals report G0463).
    assert only(run(full_kb, ["M17.11"], lines, setting="outpatient_hospital"), "NCCI-PTP") == []


def test_ptp_only_pairs_on_the_same_date(full_kb: KnowledgeBase) -> None:
    lines = [line("29881", "RT", day="2024-08-15"), line("29877", "RT", day="2024-08-16")]
    assert only(run(full_kb, ["M23.221"], lines, day=None), "NCCI-PTP") == []


def test_ptp_two_em_services_fix(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["I10"], [line("99214"), line("99213")]), "NCCI-PTP")
    assert len(found) == 1 and found[0].codes == ("99214", "99213")
    assert found[0].fix.startswith("report one E/M service for the date")


def test_ptp_pair_cache_starting_over_keeps_results(
    full_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_support, "PTP_CACHE_LIMIT", 0)  # every lookup clears the caches first
    for _ in range(2):
        found = only(
            run(full_kb, ["M23.221"], [line("29881", "RT"), line("29877", "RT"), line("11720")]), "NCCI-PTP"
        )
        assert {f.codes for f in found} >= {("29881", "29877")}
        found = only(
            run(full_kb, ["L97.511"], [line("11042"), line("11720"), line("29881", "RT")]), "NCCI-PTP"
        )
        assert ("11042", "11720") in {f.codes for f in found}


def test_ptp_pair_cache_refetches_every_pair_after_starting_over(
    full_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = EditContext(full_kb)  # a private cache
    release = "ncci-ptp-practitioner:2024Q3"
    pair = ("11042", "11720")
    ctx.cache[("ptp", release)] = {pair: (), ("11720", "29881"): (), ("x", "y"): ()}  # (11042, 11720) stale
    monkeypatch.setattr(_support, "PTP_CACHE_LIMIT", 2)
    edits = _support.ptp_edits(ctx, release, ["11042", "11720", "29881"])  # (11042, 29881) is missing
    assert {(e.column1, e.column2) for e in edits} >= {pair}  # fetched again, not taken as "no edit"


# --- NCCI MUE ---------------------------------------------------------------------------------------


def test_mue_line_edit_mai_1(full_kb: KnowledgeBase) -> None:
    # A6460: MUE 1, MAI 1 (per line). Two lines of 1 unit pass; 2 units on one line do not.
    assert only(run(full_kb, ["L89.614", "I10"], [line("A6460"), line("A6460", ptr=[2])]), "NCCI-MUE") == []
    over = only(run(full_kb, ["L89.614"], [line("A6460", units=2)]), "NCCI-MUE")
    assert len(over) == 1 and over[0].lines == (1,)
    assert "reports 2 units of A6460" in over[0].message and "is 1 per line (MAI 1" in over[0].message


def test_mue_date_of_service_edit_mai_2(full_kb: KnowledgeBase) -> None:
    # 11042: MUE 1, MAI 2: the units of all lines of the date add up.
    assert only(run(full_kb, ["L89.614"], [line("11042")]), "NCCI-MUE") == []
    split = only(run(full_kb, ["L89.614", "L97.511"], [line("11042"), line("11042", ptr=[2])]), "NCCI-MUE")
    assert len(split) == 1 and split[0].lines == (1, 2)
    assert "11042 is reported with 2 units on 2024-08-15" in split[0].message
    assert "MAI 2" in split[0].message and "absolute limit" in split[0].fix


def test_mue_date_of_service_edit_mai_3(full_kb: KnowledgeBase) -> None:
    # 20610: MUE 2, MAI 3. At the limit passes; 3 units over two lines fail.
    at_limit = [line("20610", "RT"), line("20610", "LT", ptr=[2])]
    assert only(run(full_kb, ["M17.11", "M17.12"], at_limit), "NCCI-MUE") == []
    over = [line("20610", "RT", units=2), line("20610", "LT", ptr=[2])]
    found = only(run(full_kb, ["M17.11", "M17.12"], over), "NCCI-MUE")
    assert len(found) == 1 and "3 units" in found[0].message and "MAI 3" in found[0].message
    assert "appeal" in found[0].fix


# --- NCCI add-on codes ------------------------------------------------------------------------------


def test_addon_without_primary(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["L89.614"], [line("11045")]), "NCCI-ADDON")
    assert len(found) == 1 and found[0].severity == "error" and found[0].codes == ("11045",)
    assert "(11042)" in found[0].message
    assert only(run(full_kb, ["L89.614"], [line("11042"), line("11045")]), "NCCI-ADDON") == []


def test_addon_contractor_defined_primaries_warn(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["I10"], [line("0054T")]), "NCCI-ADDON")  # type 2: primary "CCCCC"
    assert len(found) == 1 and found[0].severity == "warning"
    assert "defined by the Medicare contractor" in found[0].message
    type3 = only(run(full_kb, ["L89.614"], [line("20701")]), "NCCI-ADDON")  # type 3
    assert len(type3) == 1 and type3[0].severity == "warning" and "edit type 3" in type3[0].message


def test_addon_primary_must_be_on_the_same_date(full_kb: KnowledgeBase) -> None:
    lines = [line("11042", day="2024-08-15"), line("11045", day="2024-08-16")]
    found = only(run(full_kb, ["L89.614"], lines, day=None), "NCCI-ADDON")
    assert len(found) == 1 and found[0].lines == (2,)


# --- MCE --------------------------------------------------------------------------------------------


def test_mce_age_sex_and_manifestation(full_kb: KnowledgeBase) -> None:
    findings = run(full_kb, ["I43", "Z00.121", "O80"], [line("99213", ptr=[1, 2, 3])])
    age = only(findings, "MCE-AGE")
    assert {f.codes for f in age} == {("Z00.121",), ("O80",)}
    assert any("pediatric (ages 0-17) list, but the patient is 72 on 2024-08-15" in f.message for f in age)
    sex = only(findings, "MCE-SEX")
    assert [f.codes for f in sex] == [("O80",)] and "female-only" in sex[0].message
    manifestation = only(findings, "MCE-MANIFESTATION")
    assert [f.codes for f in manifestation] == [("I43",)]
    assert "may not be the principal or first-listed diagnosis" in manifestation[0].message
    assert manifestation[0].citation.startswith("CMS Definitions of Medicare Code Edits")


def test_mce_in_range_patient_passes(full_kb: KnowledgeBase) -> None:
    child = {"sex": "F", "birth_date": "2020-01-01"}
    findings = run(full_kb, ["Z00.121"], [line("99392")], patient=child)
    assert only(findings, "MCE-AGE") == [] and only(findings, "MCE-SEX") == []


def test_mce_missing_patient_data(full_kb: KnowledgeBase) -> None:
    findings = run(full_kb, ["Z34.00"], [line("99213")], patient={})
    assert sorted(rules_of(findings)) == ["MCE-AGE-NOT-RUN", "MCE-SEX-NOT-RUN"]
    assert all(f.severity == "warning" for f in findings)
    assert "birth date" in only(findings, "MCE-AGE-NOT-RUN")[0].fix
    # Without any age or sex edit on the claim, a missing age or sex is not worth a word.
    assert run(full_kb, ["I10"], [line("99213")], patient={}) == []
    # A stated age works like a birth date.
    assert only(run(full_kb, ["Z34.00"], [line("99213")], patient={"sex": "F", "age": 30}), "MCE-AGE") == []


def test_manifestation_not_first_is_fine(full_kb: KnowledgeBase) -> None:
    findings = run(full_kb, ["E85.4", "I43"], [line("99213", ptr=[1, 2])])
    assert only(findings, "MCE-MANIFESTATION") == [] and only(findings, "ICD-CODE-FIRST") == []


# --- ICD-10-CM conventions ------------------------------------------------------------------------


def test_excludes1(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["E11.9", "E10.9"], [line("99213", ptr=[1, 2])]), "ICD-EXCLUDES1")
    assert len(found) == 1 and found[0].codes == ("E11.9", "E10.9")
    assert 'Excludes1 note "type 1 diabetes mellitus (E10.-)"' in found[0].message
    assert "ICD-10-CM FY2026" in found[0].message
    assert found[0].citation == "ICD-10-CM Official Guidelines I.A.12.a (Excludes1)"


@pytest.mark.parametrize(
    ("a", "b"),
    [("E11.9", "E10.9"), ("Z34.00", "O80"), ("I10", "I27.0"), ("E11.22", "N18.31"), ("J06.9", "I10")],
)
def test_excludes1_agrees_with_the_kb_query(full_kb: KnowledgeBase, a: str, b: str) -> None:
    tabular = full_kb.release_for("icd10cm-tabular", None)
    assert tabular is not None
    expected = icd10cm.excludes1_conflict(full_kb.conn, tabular.id, a, b) is not None
    found = only(run(full_kb, [a, b], [line("99213", ptr=[1, 2])]), "ICD-EXCLUDES1")
    assert bool(found) == expected


def test_code_first_sequencing(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["N18.31", "E11.22"], [line("99213", ptr=[1, 2])]), "ICD-CODE-FIRST")
    assert len(found) == 1 and found[0].codes == ("N18.31", "E11.22")
    assert "E11.22 is listed after it" in found[0].message
    assert found[0].fix.startswith("list E11.22 before N18.31")
    # "Code first any associated …" applies only when present: N18.31 alone is fine.
    assert only(run(full_kb, ["N18.31"], [line("99213")]), "ICD-CODE-FIRST") == []


def test_code_first_manifestation_without_etiology(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["I43"], [line("99213")]), "ICD-CODE-FIRST")
    assert len(found) == 1 and found[0].severity == "warning"
    assert "manifestation code" in found[0].message and "E85" in found[0].fix


def test_use_additional(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["E11.22"], [line("99213")]), "ICD-USE-ADDITIONAL")
    assert len(found) == 1 and found[0].severity == "info"
    assert "stage of chronic kidney disease (N18.1-N18.6)" in found[0].message
    # Lists of options ("code to identify control using: insulin …") are not reported.
    assert run(full_kb, ["E11.22", "N18.31"], [line("99213", ptr=[1, 2])]) == []


# --- claim form -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dx", "mods", "fires"),
    [
        ("M17.12", ("RT",), True),  # "left knee" with RT
        ("M17.12", ("LT",), False),
        ("M17.11", ("50",), True),  # bilateral procedure, right knee only
        ("M17.0", ("RT",), False),  # bilateral condition, one side treated
        ("M20.11", ("TA",), True),  # right hallux valgus, left great toe modifier
        ("M17.9", ("RT",), False),  # unspecified side: nothing to contradict
    ],
)
def test_laterality(full_kb: KnowledgeBase, dx: str, mods: tuple[str, ...], fires: bool) -> None:
    code = "28296" if dx.startswith("M20") else "20610"
    found = only(run(full_kb, [dx], [line(code, *mods)]), "LATERALITY")
    assert len(found) == (1 if fires else 0)
    if fires:
        assert found[0].codes == (code, dx) and found[0].lines == (1,)


def test_laterality_message(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["M17.12"], [line("20610", "RT")]), "LATERALITY")
    assert found[0].message == (
        "Line 1 (20610-RT) is on the right side, but the diagnoses it points to name the left side only: "
        "diagnosis 1 M17.12 (Unilateral primary osteoarthritis, left knee)."
    )


def test_dx_pointers(full_kb: KnowledgeBase) -> None:
    lines = [line("99213", ptr=[]), line("93000", ptr=[3]), line("36415", ptr=[1, 2, 1, 2, 1])]
    found = only(run(full_kb, ["I10", "R51.9"], lines), "DX-POINTER")
    messages = [(f.lines, f.severity, f.message) for f in found]
    assert messages[0][:2] == ((1,), "error") and "has no diagnosis pointer" in messages[0][2]
    assert messages[1][:2] == ((2,), "error") and "points to diagnosis 3" in messages[1][2]
    assert [m[:2] for m in messages[2:]] == [((3,), "error"), ((3,), "warning")]
    assert "5 diagnosis pointers" in messages[2][2] and "pointer 1, 2 more than once" in messages[3][2]
    no_dx = only(run(full_kb, [], [line("99213")]), "DX-POINTER")
    assert len(no_dx) == 1 and no_dx[0].lines == () and "no diagnosis codes" in no_dx[0].message


def test_em_modifier_25(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["M17.11"], [line("99214"), line("20610", "RT")]), "EM-MODIFIER-25")
    assert len(found) == 1 and found[0].lines == (1, 2) and found[0].severity == "error"
    assert "0-day global surgery period" in found[0].message
    assert found[0].fix.startswith("append 25 to line 1 (99214)")
    major = only(run(full_kb, ["M17.11"], [line("99214"), line("27447", "RT")]), "EM-MODIFIER-25")
    assert len(major) == 1 and "append 57 to line 1" in major[0].fix
    # A 57 does not do for a minor procedure.
    assert only(run(full_kb, ["M17.11"], [line("99214", "57"), line("20610", "RT")]), "EM-MODIFIER-25")


def test_duplicate_lines(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["I10"], [line("93000"), line("99213"), line("93000")]), "DUPLICATE-LINE")
    assert len(found) == 1 and found[0].lines == (1, 3) and found[0].severity == "warning"
    assert only(run(full_kb, ["I10"], [line("93000"), line("93000", "76")]), "DUPLICATE-LINE") == []


def test_duplicate_diagnosis(full_kb: KnowledgeBase) -> None:
    found = only(run(full_kb, ["I10", "I10"], [line("99213", ptr=[1, 2])]), "DX-DUPLICATE")
    assert len(found) == 1 and "listed twice (diagnoses 1 and 2)" in found[0].message


def test_modifier_conflicts_and_unknown_modifiers(full_kb: KnowledgeBase) -> None:
    findings = run(
        full_kb, ["R51.9"], [line("93000", "59", "XS"), line("71046", "26", "TC"), line("36415", "ZZ")]
    )
    conflict = only(findings, "MODIFIER-CONFLICT")
    assert [(f.lines, f.severity) for f in conflict] == [((1,), "warning"), ((2,), "error")]
    assert "keep XS" in conflict[0].fix and "global service" in conflict[1].message
    unknown = only(findings, "MODIFIER-INVALID")
    assert len(unknown) == 1 and unknown[0].codes == ("36415", "ZZ")


def test_place_of_service(full_kb: KnowledgeBase) -> None:
    def pos_findings(claim_pos: str | None, line_pos: str | None) -> list[Finding]:
        data = claim(["I10"], [line("99213")]).model_dump()
        data["place_of_service"] = claim_pos
        data["lines"][0]["place_of_service"] = line_pos
        return only(check_claim(Claim.model_validate(data), full_kb), "POS-INVALID")

    assert pos_findings("11", None) == [] and pos_findings("02", "11") == []
    bad = pos_findings("00", None)
    assert len(bad) == 1 and bad[0].lines == () and "'00' is not a place of service code" in bad[0].message
    assert "place of service 28 is unassigned" in pos_findings("28", None)[0].message
    line_level = pos_findings("11", "1A")
    assert len(line_level) == 1 and line_level[0].lines == (1,)


# --- dates outside the installed releases -----------------------------------------------------------


def test_date_outside_2024q3_reports_not_run(full_kb: KnowledgeBase) -> None:
    findings = check_claim(
        Claim.model_validate(
            {
                **ISSUE_EXAMPLE,
                "date_of_service": "2025-03-01",
                "lines": [
                    {**ISSUE_EXAMPLE["lines"][0]},
                    {**ISSUE_EXAMPLE["lines"][1], "date_of_service": "2025-03-01"},
                ],
            }
        ),
        full_kb,
    )
    assert sorted(rules_of(findings)) == [
        "MCE-AGE-NOT-RUN",
        "MCE-MANIFESTATION-NOT-RUN",
        "MCE-SEX-NOT-RUN",
        "NCCI-ADDON-NOT-RUN",
        "NCCI-MUE-NOT-RUN",
        "NCCI-PTP-NOT-RUN",
    ]
    ptp = only(findings, "NCCI-PTP-NOT-RUN")[0]
    assert ptp.severity == "warning" and ptp.lines == (1, 2)
    assert "no installed NCCI PTP (practitioner) release covers 2025-03-01" in ptp.message


def test_each_line_uses_the_release_of_its_own_date(full_kb: KnowledgeBase) -> None:
    lines = [line("11042", day="2024-08-15"), line("11042", units=2, day="2025-03-01")]
    findings = run(full_kb, ["L89.614"], lines, day=None)
    assert only(findings, "NCCI-MUE") == []  # line 1 alone is at its limit in 2024Q3
    not_run = only(findings, "NCCI-MUE-NOT-RUN")
    assert len(not_run) == 1 and not_run[0].lines == (2,)


def test_code_validity_outside_coverage(full_kb: KnowledgeBase) -> None:
    findings = run(full_kb, ["I10"], [line("99213")], day="2019-01-02")
    not_run = only(findings, "CODE-INVALID-NOT-RUN")
    assert {f.codes for f in not_run} == {("99213",), ("I10",)}


# --- engine ---------------------------------------------------------------------------------------


def test_rule_registry_and_order(full_kb: KnowledgeBase) -> None:
    assert set(BUILTIN_RULE_IDS) == {
        "CODE-INVALID",
        "CODE-HEADER",
        "NCCI-PTP",
        "NCCI-MUE",
        "NCCI-ADDON",
        "MCE-AGE",
        "MCE-SEX",
        "MCE-MANIFESTATION",
        "ICD-EXCLUDES1",
        "ICD-CODE-FIRST",
        "ICD-USE-ADDITIONAL",
        "LATERALITY",
        "DX-POINTER",
        "DX-DUPLICATE",
        "EM-MODIFIER-25",
        "DUPLICATE-LINE",
        "MODIFIER-INVALID",
        "MODIFIER-CONFLICT",
        "POS-INVALID",
    }
    for rule_id in BUILTIN_RULE_IDS:
        r = REGISTRY[rule_id]
        assert r.title and r.citation and r.severity in ("error", "warning", "info")
    c = claim(["E11", "E10.9", "I43"], [line("99214"), line("20610", "RT", ptr=[9]), line("99214")])
    first = check_claim(c, full_kb)
    assert first == check_claim(c, full_kb)  # deterministic
    keys = [(f.lines[0] if f.lines else 0, f.rule) for f in first]
    assert keys == sorted(keys)
    picked = check_claim(c, full_kb, rules=["DX-POINTER", REGISTRY["CODE-HEADER"]])
    assert {f.rule for f in picked} == {"DX-POINTER", "CODE-HEADER"}
    with pytest.raises(KeyError, match="NO-SUCH-RULE"):
        check_claim(c, full_kb, rules=["NO-SUCH-RULE"])
    assert all(isinstance(f.to_dict(), dict) for f in first)


_DX_POOL = ["I10", "E11.22", "N18.31", "M17.11", "M17.12", "I43", "O80", "Z00.121", "E11", "E88.81", "C81.0A"]
_DX_POOL += ["E10.9", "N39.0", "J06.9", "E11.", "X", "ZZZ.9"]
_CODE_POOL = ["99213", "99214", "20610", "11042", "11045", "29881", "29877", "0054T", "A6460", "99201"]
_CODE_POOL += ["J3301", "9921", "ABCDE", "27447", "93000"]
_MODS = ["25", "57", "59", "XS", "RT", "LT", "50", "TA", "F5", "76", "GA"]


@settings(max_examples=150, deadline=None)
@given(
    dx=st.lists(st.sampled_from(_DX_POOL), max_size=5),
    lines=st.lists(
        st.tuples(
            st.sampled_from(_CODE_POOL),
            st.lists(st.sampled_from(_MODS), max_size=3),
            st.integers(1, 40),
            st.lists(st.integers(0, 7), max_size=6),
            st.sampled_from(["2024-08-15", "2024-09-30", "2025-03-01", "2019-01-01"]),
        ),
        min_size=1,
        max_size=5,
    ),
    patient=st.sampled_from([{}, MALE_72, {"sex": "F", "age": 3}, {"sex": "U", "birth_date": "2030-01-01"}]),
    setting=st.sampled_from(["practitioner", "outpatient_hospital"]),
)
def test_any_claim_gives_findings_not_exceptions(
    full_kb: KnowledgeBase,
    dx: list[str],
    lines: list[tuple[str, list[str], int, list[int], str]],
    patient: dict[str, Any],
    setting: str,
) -> None:
    c = claim(
        dx,
        [line(code, *mods, ptr=ptr, units=units, day=day) for code, mods, units, ptr, day in lines],
        day=None,
        patient=patient,
    )
    findings = check_claim(c, full_kb, setting=setting)  # type: ignore[arg-type]
    keys = [(f.lines[0] if f.lines else 0, f.rule) for f in findings]
    assert keys == sorted(keys)
    for f in findings:
        assert f.rule.removesuffix("-NOT-RUN") in BUILTIN_RULE_IDS
        assert f.message and f.fix and f.citation
        assert all(1 <= n <= len(lines) for n in f.lines)
