"""Edits on how the claim is put together: pointers, laterality, modifier 25, repeated lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from chartcode.edits.model import Claim
from chartcode.edits.registry import EditContext, Finding, Rule, rule
from chartcode.edits.rules._support import (
    ClaimView,
    claim_view,
    global_days,
    icd_info,
    tabular_release,
)

LEFT = frozenset({"LT", "E1", "E2", "FA", "F1", "F2", "F3", "F4", "TA", "T1", "T2", "T3", "T4"})
RIGHT = frozenset({"RT", "E3", "E4", "F5", "F6", "F7", "F8", "F9", "T5", "T6", "T7", "T8", "T9"})
SIDE_NAME = {"R": "right", "L": "left"}
GLOBAL_TEXT = {
    "000": "a 0-day global surgery period (endoscopy or minor procedure)",
    "010": "a 10-day global surgery period (minor procedure)",
    "090": "a 90-day global surgery period (major surgery)",
    "YYY": "a global period the Medicare contractor sets (YYY)",
}
MAX_POINTERS = 4

LATERALITY_CITATION = (
    "ICD-10-CM Official Guidelines I.B.13 (laterality); NCCI Policy Manual for Medicare Services, Ch. I, "
    "§E (anatomic modifiers RT/LT, E1-E4, FA-F9, TA-T9) and CPT modifier 50"
)
POINTER_CITATION = (
    "CMS Internet-Only Manual Pub. 100-04, Ch. 26, §10.2 (item 24E, diagnosis pointer); ASC X12 837P "
    "005010X222A1, SV107 (at most 4 diagnosis code pointers)"
)
DX_DUPLICATE_CITATION = (
    "ICD-10-CM Official Guidelines I.B.12 (reporting the same diagnosis code more than once)"
)
EM25_CITATION = (
    "CMS Internet-Only Manual Pub. 100-04, Ch. 12, §30.6.6 (modifier 25) and §40.1-40.2 (global surgery, "
    "modifier 57)"
)
DUPLICATE_CITATION = (
    "CMS Internet-Only Manual Pub. 100-04, Ch. 1, §120 (detection of duplicate claims); CPT modifiers 76, "
    "77 and 91"
)


def line_sides(modifiers: tuple[str, ...]) -> frozenset[str]:
    """Sides a line's modifiers name: R, L, or both (50, or RT with LT)."""
    sides: set[str] = set()
    for mod in modifiers:
        if mod in RIGHT:
            sides.add("R")
        elif mod in LEFT:
            sides.add("L")
        elif mod == "50":
            sides.update("RL")
    return frozenset(sides)


def _side_words(sides: frozenset[str]) -> str:
    if sides == {"R", "L"}:
        return "both sides"
    return "the " + " and ".join(SIDE_NAME[s] for s in sorted(sides, reverse=True)) + " side"


@rule("LATERALITY", "error", "Laterality of line modifiers and diagnoses", LATERALITY_CITATION)
def check_laterality(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    unknown: dict[str, list[int]] = {}  # pointed codes the tabular lacks -> lines
    for index, line in enumerate(claim.lines):
        if not line.modifiers:
            continue
        sides = line_sides(line.modifiers)
        if not sides:
            continue
        day = view.days[index]
        tabular = tabular_release(ctx, day)
        if tabular is None:
            yield r.not_run((index + 1,), (line.code,), "no ICD-10-CM tabular is installed")
            continue
        sided = []
        for pointer in dict.fromkeys(line.dx_pointers):
            if not 1 <= pointer <= len(view.dx):
                continue
            code = view.dx[pointer - 1].code
            if code is None:
                continue
            info = icd_info(ctx, code, tabular)
            if info.side:
                sided.append((pointer, info))
            elif info.tabular is None:
                unknown.setdefault(code, []).append(index + 1)
        if not sided:
            continue
        covered = frozenset(s for _, info in sided for s in info.side)
        if sides <= covered:
            continue
        what = "bilateral (modifier 50)" if "50" in line.modifiers else f"on {_side_words(sides)}"
        named = "; ".join(f"diagnosis {p} {info.label()}" for p, info in sided)
        missing = sorted(sides - covered, reverse=True)
        yield r.finding(
            (index + 1,),
            (line.code, *(info.code for _, info in sided)),
            f"{view.line_label(index, start=True)} is {what}, but the diagnoses it points to name "
            f"{_side_words(covered)} only: {named}.",
            "check the documentation, then correct the line's modifier or the diagnosis (use the "
            f"{'/'.join(SIDE_NAME[s] for s in missing)}-side code if that side was treated)",
        )
    if unknown:
        yield r.finding(
            sorted({n for numbers in unknown.values() for n in numbers}),
            list(unknown),
            f"{r.title} could not be checked for {', '.join(unknown)}: not in the installed ICD-10-CM "
            "tabular, so its description (and side) is unknown.",
            "install the ICD-10-CM tabular of the date of service and check again",
            severity="info",
            rule_id=f"{r.id}-NOT-RUN",
        )


@rule("DX-POINTER", "error", "Diagnosis pointers", POINTER_CITATION)
def check_pointers(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    count = len(claim.diagnoses)
    if count == 0:
        yield r.finding(
            (),
            (),
            "The claim has no diagnosis codes, so no line can point to the diagnosis it treats.",
            "add the diagnosis codes (item 21 / HI segment) and point each line to them",
        )
        return
    for index, line in enumerate(claim.lines):
        number = index + 1
        pointers = line.dx_pointers
        if len(pointers) == 1 and 0 < pointers[0] <= count:
            continue  # the usual case
        if not pointers:
            yield r.finding(
                (number,),
                (line.code,),
                f"Line {number} ({line.code}) has no diagnosis pointer: every service line must point to the "
                "diagnosis that supports it.",
                f"point line {number} to the diagnosis it treats (1-{count}), the primary one first",
            )
            continue
        bad = [p for p in pointers if not 1 <= p <= count]
        if bad:
            yield r.finding(
                (number,),
                (line.code,),
                f"Line {number} ({line.code}) points to diagnosis {', '.join(map(str, bad))}, but the claim "
                f"has {count} diagnosis code{'s' if count != 1 else ''}.",
                f"use pointers between 1 and {count}",
            )
        if len(pointers) > MAX_POINTERS:
            yield r.finding(
                (number,),
                (line.code,),
                f"Line {number} ({line.code}) has {len(pointers)} diagnosis pointers; a claim line takes at "
                f"most {MAX_POINTERS}.",
                f"keep the {MAX_POINTERS} diagnoses most relevant to the service, the primary one first",
            )
        repeated = sorted({p for p in pointers if pointers.count(p) > 1})
        if repeated:
            yield r.finding(
                (number,),
                (line.code,),
                f"Line {number} ({line.code}) lists diagnosis pointer {', '.join(map(str, repeated))} more "
                "than once.",
                "list each pointer once",
                severity="warning",
            )


@rule("DX-DUPLICATE", "warning", "Each diagnosis code reported once", DX_DUPLICATE_CITATION)
def check_dx_duplicate(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    if len(claim.diagnoses) < 2:
        return
    view = claim_view(claim, ctx)
    seen: dict[str, int] = {}
    for position, dx in enumerate(view.dx):
        if dx.code is None:
            continue
        if dx.code in seen:
            first = seen[dx.code]
            yield r.finding(
                sorted(set(view.dx_lines[first]) | set(view.dx_lines[position])),
                (dx.code,),
                f"{dx.code} is listed twice (diagnoses {first + 1} and {position + 1}); each ICD-10-CM code "
                "is reported once per claim.",
                f"remove diagnosis {position + 1} and point its lines to diagnosis {first + 1}",
            )
        else:
            seen[dx.code] = position


def _is_surgery(code: str) -> bool:
    """CPT surgery section (10004-69990), used when the fee schedule does not say."""
    return code.isdigit() and "10004" <= code <= "69990"


def _global_procedures(
    ctx: EditContext, view: ClaimView, day: date, indices: list[int]
) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for i in indices:
        proc = view.procs[i]
        if proc.code is None or proc.em:
            continue
        period, _release = global_days(ctx, day, proc)
        if period in GLOBAL_TEXT:
            out.append((i, period))
        elif period is None and _is_surgery(proc.code):
            out.append((i, "?"))
    return out


@rule("EM-MODIFIER-25", "error", "Modifier 25 on a same-day E/M service", EM25_CITATION)
def check_em_modifier_25(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    for day, indices in view.by_day.items():
        ems = [i for i in indices if view.procs[i].em]
        if not ems:
            continue
        procs = _global_procedures(ctx, view, day, indices)
        if not procs:
            continue
        major = any(period == "090" for _, period in procs)
        certain = any(period in ("000", "010", "090") for _, period in procs)
        names = "; ".join(
            f"{view.line_label(i)} with "
            + GLOBAL_TEXT.get(p, "no fee-schedule global period on file (CPT surgery)")
            for i, p in procs
        )
        for e in ems:
            mods = set(claim.lines[e].modifiers)
            if "25" in mods or ("57" in mods and major):
                continue
            em_code = view.procs[e].code or ""
            if major:
                fix = (
                    f"if the visit was the decision for the major surgery, append 57 to line {e + 1} "
                    f"({em_code}); "
                    f"if it was a significant, separately identifiable E/M beyond the usual pre- and "
                    f"post-procedure care, append 25; otherwise remove {em_code}"
                )
            else:
                fix = (
                    f"append 25 to line {e + 1} ({em_code}) if the documentation supports a significant, "
                    "separately identifiable E/M service beyond the usual pre- and post-procedure care; "
                    f"otherwise remove {em_code}"
                )
            yield r.finding(
                sorted({e + 1, *(i + 1 for i, _ in procs)}),
                (em_code, *dict.fromkeys(view.procs[i].code or "" for i, _ in procs)),
                f"{view.line_label(e, start=True)} is an E/M service on {day.isoformat()}, the same date as "
                f"{names}. The procedure's payment includes the usual evaluation, so the E/M is paid "
                "separately only when it was significant and separately identifiable, shown by modifier 25"
                + (
                    " (or 57 for the decision for major surgery), and the E/M line has neither."
                    if major
                    else ", and the E/M line does not have it."
                ),
                fix,
                severity=None if certain else "warning",
            )


@rule("DUPLICATE-LINE", "warning", "Duplicate service lines", DUPLICATE_CITATION)
def check_duplicate_line(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    lines = claim.lines
    if len(lines) < 2 or len({line.code for line in lines}) == len(lines):
        return  # no code repeats
    groups: dict[tuple[str, tuple[str, ...], date, tuple[int, ...]], list[int]] = {}
    for index, line in enumerate(claim.lines):
        key = (
            line.code,
            tuple(sorted(line.modifiers)),
            view.days[index],
            tuple(sorted(set(line.dx_pointers))),
        )
        groups.setdefault(key, []).append(index + 1)
    for (code, mods, day, pointers), numbers in groups.items():
        if len(numbers) < 2:
            continue
        yield r.finding(
            numbers,
            (code,),
            f"Lines {', '.join(map(str, numbers))} report the same service: {code}"
            f"{' with modifiers ' + ', '.join(mods) if mods else ', no modifiers'}, on {day.isoformat()}, "
            f"diagnosis pointers {', '.join(map(str, pointers)) or 'none'}. Payers deny the repeat as a "
            "duplicate.",
            "remove the repeated line; if the service was performed more than once, report the units on one "
            "line or mark the repeat with the modifier that explains it (76/77 repeat procedure, 91 repeat "
            "laboratory test, XE/59 separate encounter)",
        )
