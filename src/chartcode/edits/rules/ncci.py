"""NCCI edits: procedure-to-procedure pairs, medically unlikely edits and add-on codes.

Each date of service is checked against the NCCI release in force on that date: the practitioner
or the outpatient-hospital table by ``ctx.setting``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from chartcode.codesets.procedures import PtpEdit
from chartcode.edits.model import Claim
from chartcode.edits.registry import EditContext, Finding, Rule, rule
from chartcode.edits.rules._support import (
    ClaimView,
    addon_primaries,
    claim_view,
    edit_in_force,
    mue,
    ptp_groups,
    sample,
    units_text,
)

# NCCI-associated modifiers (NCCI Policy Manual for Medicare Services, Ch. I, §E).
ANATOMIC = frozenset(
    {"E1", "E2", "E3", "E4", "FA", "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9"}
    | {"TA", "T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9", "LT", "RT", "LC", "LD", "LM", "RC", "RI"}
)
EM_BYPASS = frozenset({"24", "25", "57"})  # global surgery modifiers that belong on the E/M line
OTHER_BYPASS = frozenset({"58", "78", "79", "27", "59", "91", "XE", "XS", "XP", "XU"})
NCCI_MODIFIERS = ANATOMIC | EM_BYPASS | OTHER_BYPASS

SETTING_TEXT = {"practitioner": "practitioner", "outpatient_hospital": "outpatient hospital"}
PTP_CITATION = "NCCI Policy Manual for Medicare Services, Ch. I, §E (modifiers and modifier indicators)"
MUE_CITATION = (
    "NCCI Policy Manual for Medicare Services, Ch. I (Medically Unlikely Edits); CMS Medicare NCCI MUE "
    "tables (MUE adjudication indicators 1-3)"
)
AOC_CITATION = (
    "NCCI Policy Manual for Medicare Services, Ch. I (add-on codes); CMS Medicare NCCI add-on code edits "
    "(edit types 1-3)"
)


def _lines_text(numbers: list[int]) -> str:
    return ("line " if len(numbers) == 1 else "lines ") + ", ".join(str(n) for n in numbers)


def bypassed(mods_a: tuple[str, ...], mods_b: tuple[str, ...], em_a: bool, em_b: bool) -> bool:
    """Whether NCCI-associated modifiers on a pair of lines bypass an edit with modifier indicator 1.

    59, X{EPSU}, 27, 58, 78, 79 and 91 count on either line; 24, 25 and 57 on the E/M line of the
    pair; anatomic modifiers when both lines carry them and they name different sites.
    """
    a, b = set(mods_a), set(mods_b)
    if (a | b) & OTHER_BYPASS:
        return True
    if (em_a and a & EM_BYPASS) or (em_b and b & EM_BYPASS):
        return True
    site_a, site_b = a & ANATOMIC, b & ANATOMIC
    return bool(site_a and site_b and site_a != site_b)


@rule("NCCI-PTP", "error", "NCCI procedure-to-procedure edits", PTP_CITATION)
def check_ptp(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    dataset = f"ncci-ptp-{ctx.setting}"
    procs = view.procs
    for day, indices in view.good_by_day().items():
        if len(indices) < 2:
            continue
        by_code: dict[str, list[int]] = {}
        for i in indices:
            code = procs[i].code or ""
            if code in by_code:
                by_code[code].append(i)
            else:
                by_code[code] = [i]
        if len(by_code) < 2:
            continue
        release = ctx.release(dataset, day)
        if release is None:
            yield r.not_run(
                [i + 1 for i in indices],
                list(by_code),
                f"no installed NCCI PTP ({SETTING_TEXT[ctx.setting]}) release covers {day.isoformat()}",
            )
            continue
        for col1, col2, found in ptp_groups(ctx, release.id, tuple(sorted(by_code))):
            edit = edit_in_force(found, day)
            if edit is None:
                continue
            for i1 in by_code[col1]:
                for i2 in by_code[col2]:
                    yield from _ptp_finding(r, view, edit, i1, i2, day, release.version, ctx.setting)


def _ptp_finding(
    r: Rule, view: ClaimView, edit: PtpEdit, i1: int, i2: int, day: date, version: str, setting: str
) -> Iterator[Finding]:
    line1, line2 = view.claim.lines[i1], view.claim.lines[i2]
    em1, em2 = view.procs[i1].em, view.procs[i2].em
    if edit.modifier_indicator == 1 and bypassed(line1.modifiers, line2.modifiers, em1, em2):
        return
    col1, col2 = edit.column1, edit.column2
    why = f" (CMS rationale: {edit.rationale})" if edit.rationale else ""
    head = (
        f"{col2} (line {i2 + 1}) is column 2 of NCCI PTP edit {col1}/{col2} ({SETTING_TEXT[setting]}, "
        f"{version}): it is bundled into column 1 code {col1} (line {i1 + 1}) when both are reported on "
        f"the same date ({day.isoformat()}){why}."
    )
    if edit.modifier_indicator == 0:
        yield r.finding(
            sorted((i1 + 1, i2 + 1)),
            (col1, col2),
            f"{head} Modifier indicator 0: the pair is never paid together and no modifier bypasses it.",
            f"remove {col2} (line {i2 + 1}), or {col1} if {col2} is the service actually performed; "
            "a modifier does not help for this pair",
        )
        return
    same_site = sorted(set(line1.modifiers) & set(line2.modifiers) & ANATOMIC)
    note = f" Both lines carry {'/'.join(same_site)}, i.e. the same site." if same_site else ""
    if em1 and em2:
        fix = (
            f"report one E/M service for the date, at the level that covers all of it, and remove {col2} "
            f"(line {i2 + 1})"
        )
    elif em2 or em1:
        em_line, em_code = (i2, col2) if em2 else (i1, col1)
        fix = (
            f"if the documentation supports a significant, separately identifiable E/M service, append 25 to "
            f"line {em_line + 1} ({em_code}) (57 if the E/M was the decision for a major surgery); "
            f"otherwise remove {em_code}"
        )
    else:
        fix = (
            f"if the documentation shows {col2} was a distinct service, append the modifier that says why "
            f"to line {i2 + 1} ({col2}): XS (separate structure or organ), XE (separate encounter), XP "
            "(separate practitioner), XU (unusual non-overlapping service), 59 only when none of these "
            "fits, or anatomic modifiers (RT/LT, F1-F9, T1-T9, …) on both lines when the sites differ; "
            f"otherwise remove {col2}"
        )
    yield r.finding(
        sorted((i1 + 1, i2 + 1)),
        (col1, col2),
        f"{head} Modifier indicator 1: both may be paid only when the services were distinct and an "
        f"NCCI-associated modifier says so, and neither line carries one that does.{note}",
        fix,
    )


@rule("NCCI-MUE", "error", "NCCI medically unlikely edits (units of service)", MUE_CITATION)
def check_mue(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    dataset = f"ncci-mue-{ctx.setting}"
    lines = claim.lines
    for day, indices in view.good_by_day().items():
        release = ctx.release(dataset, day)
        if release is None:
            yield r.not_run(
                [i + 1 for i in indices],
                list(dict.fromkeys(view.procs[i].code or "" for i in indices)),
                f"no installed NCCI MUE ({SETTING_TEXT[ctx.setting]}) release covers {day.isoformat()}",
            )
            continue
        by_code: dict[str, list[int]] = {}
        for i in indices:
            code = view.procs[i].code or ""
            if code in by_code:
                by_code[code].append(i)
            else:
                by_code[code] = [i]
        for code, found in by_code.items():
            edit = mue(ctx, release.id, view.procs[found[0]])
            if edit is None:
                continue
            limit = edit.mue
            if edit.mai == 1:
                for i in found:
                    if lines[i].units > limit:
                        where = f"NCCI MUE for {code} ({SETTING_TEXT[ctx.setting]}, {release.version})"
                        why = f"; rationale: {edit.rationale}" if edit.rationale else ""
                        yield r.finding(
                            (i + 1,),
                            (code,),
                            f"{view.line_label(i, start=True)} reports {units_text(lines[i].units)} units "
                            f"of {code}; the {where} is {edit.mue} per line (MAI 1: line edit{why}).",
                            f"report at most {edit.mue} per line; units for separate sites or sessions go on "
                            "separate lines with the modifier that shows why (RT/LT, XS, 59, 76, 91 …)",
                        )
                continue
            total = (
                lines[found[0]].units if len(found) == 1 else sum((lines[i].units for i in found), Decimal(0))
            )
            if total <= limit:
                continue
            where = f"NCCI MUE for {code} ({SETTING_TEXT[ctx.setting]}, {release.version})"
            why = f"; rationale: {edit.rationale}" if edit.rationale else ""
            numbers = [i + 1 for i in found]
            kind = "policy" if edit.mai == 2 else "clinical"
            if edit.mai == 2:
                fix = (
                    f"reduce {code} to {edit.mue} units on {day.isoformat()}: MAI 2 is an absolute limit set "
                    "by policy, and units above it are not paid even on appeal"
                )
            else:
                fix = (
                    f"reduce {code} to {edit.mue} units on {day.isoformat()}, or keep the units only if the "
                    "record documents their medical necessity: with MAI 3 (clinical) the excess units are "
                    "payable only on appeal with that documentation"
                )
            yield r.finding(
                numbers,
                (code,),
                f"{code} is reported with {units_text(total)} units on {day.isoformat()} "
                f"({_lines_text(numbers)}); the {where} is {edit.mue} per date of service "
                f"(MAI {edit.mai}: date-of-service edit, {kind}{why}).",
                fix,
            )


@rule("NCCI-ADDON", "error", "NCCI add-on code edits", AOC_CITATION)
def check_addon(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    for day, indices in view.good_by_day().items():
        release = ctx.release("ncci-aoc", day)
        if release is None:
            yield r.not_run(
                [i + 1 for i in indices],
                list(dict.fromkeys(view.procs[i].code or "" for i in indices)),
                f"no installed NCCI add-on code edit release covers {day.isoformat()}",
            )
            continue
        codes = {view.procs[i].code or "" for i in indices}
        done: set[str] = set()
        for i in indices:
            code = view.procs[i].code or ""
            if code in done:
                continue
            done.add(code)
            primaries = addon_primaries(ctx, release.id, view.procs[i])
            if not primaries:
                continue
            named = [p for p, _ in primaries if p != "CCCCC"]
            if codes & set(named):
                continue
            types = {t for _, t in primaries}
            numbers = [j + 1 for j in indices if view.procs[j].code == code]
            if types == {2}:
                yield r.finding(
                    numbers,
                    (code,),
                    f"{code} ({_lines_text(numbers)}) is an add-on code whose primary procedures are defined "
                    f"by the Medicare contractor (NCCI add-on code edit type 2, {release.version}); make "
                    f"sure its primary procedure is reported on {day.isoformat()}.",
                    "check your MAC's list of acceptable primary codes and report the primary procedure with "
                    f"{code}, or remove {code}",
                    severity="warning",
                )
                continue
            lenient = 3 in types or 2 in types
            extra = " The contractor may accept other primary codes (edit type 3)." if lenient else ""
            yield r.finding(
                numbers,
                (code,),
                f"{code} ({_lines_text(numbers)}) is an add-on code: it is paid only with one of its primary "
                f"procedures on the same date, and none of them ({sample(named, 8)}) is on the claim for "
                f"{day.isoformat()} (NCCI add-on code edits, {release.version}).{extra}",
                f"report the primary procedure performed with {code} on the same date, or remove {code}",
                severity="warning" if lenient else None,
            )
