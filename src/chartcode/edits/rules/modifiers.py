"""Line modifiers and places of service: known codes, combinations that contradict each other."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from chartcode.codesets import procedures
from chartcode.codesets.common import Release
from chartcode.edits.model import Claim
from chartcode.edits.registry import EditContext, Finding, Rule, rule
from chartcode.errors import InvalidCodeFormatError

X_MODIFIERS = frozenset({"XE", "XS", "XP", "XU"})

MODIFIER_CITATION = (
    "HCPCS Level II modifier list (CMS alpha-numeric HCPCS file) and CPT Appendix A modifiers; "
    "45 CFR §162.1002 (HCPCS/CPT code sets)"
)
CONFLICT_CITATION = (
    "CMS MLN1783722, Proper Use of Modifiers 59 and -X{EPSU} (CR 8863); CMS Internet-Only Manual Pub. "
    "100-04, Ch. 13, §20 (professional and technical components, modifiers 26 and TC)"
)
POS_CITATION = "CMS Place of Service Code Set; CMS Internet-Only Manual Pub. 100-04, Ch. 26, §10.5 (item 24B)"

_MISSING: Any = object()


def _release(ctx: EditContext, dataset: str, day: date, memo: dict[date, Release | None]) -> Release | None:
    found = memo.get(day, _MISSING)
    if found is _MISSING:
        found = memo[day] = ctx.release(dataset, day)
    release: Release | None = found
    return release


def _known_modifier(ctx: EditContext, release: str, mod: str) -> bool:
    key = ("modifier", release, mod)
    found: bool | None = ctx.cache.get(key)
    if found is None:
        found = ctx.cache[key] = procedures.modifier(ctx.kb.conn, release, mod) is not None
    return found


@rule("MODIFIER-INVALID", "warning", "Modifiers in the installed modifier list", MODIFIER_CITATION)
def check_modifier_invalid(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    memo: dict[date, Release | None] = {}
    uncovered: list[int] = []
    for index, line in enumerate(claim.lines):
        if not line.modifiers:
            continue
        release = _release(ctx, "modifiers", claim.line_date(index), memo)
        if release is None:
            uncovered.append(index + 1)
            continue
        unknown = [m for m in line.modifiers if not _known_modifier(ctx, release.id, m)]
        if unknown:
            yield r.finding(
                (index + 1,),
                (line.code, *unknown),
                f"Line {index + 1} ({line.code}) has modifier {', '.join(unknown)}, which is not in the "
                f"installed HCPCS Level II/CPT modifier list ({release.id}).",
                "check the modifier for typos; if it is new, install a current modifier list",
            )
    if uncovered:
        yield r.not_run(uncovered, (), "no modifier list is installed")


@rule("MODIFIER-CONFLICT", "error", "Modifiers that contradict each other on one line", CONFLICT_CITATION)
def check_modifier_conflict(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    for index, line in enumerate(claim.lines):
        mods = line.modifiers
        if len(mods) < 2:
            continue
        number = index + 1
        if "59" in mods:
            x = [m for m in mods if m in X_MODIFIERS]
            if x:
                yield r.finding(
                    (number,),
                    (line.code,),
                    f"Line {number} ({line.code}) has both 59 and {', '.join(x)}: the X modifiers are the "
                    "more specific forms of 59, and the two are not reported on the same line.",
                    f"keep {x[0]} (it says why the service is distinct) and remove 59",
                    severity="warning",
                )
        if "26" in mods and "TC" in mods:
            yield r.finding(
                (number,),
                (line.code,),
                f"Line {number} ({line.code}) has both 26 (professional component) and TC (technical "
                "component): together they are the global service.",
                "report the global service without 26 or TC if you furnished both components, or keep only "
                "the component you furnished",
            )


def _pos_problem(ctx: EditContext, release: str, code: str) -> str | None:
    key = ("pos", release, code)
    found = ctx.cache.get(key, _MISSING)
    if found is _MISSING:
        try:
            row = procedures.pos(ctx.kb.conn, release, code)
        except InvalidCodeFormatError as exc:
            found = exc.message
        else:
            if row is None:
                found = f"{code!r} is not a place of service code"
            elif row.name.lower().startswith("unassigned"):
                found = f"place of service {row.code} is unassigned"
            else:
                found = None
        ctx.cache[key] = found
    problem: str | None = found
    return problem


@rule("POS-INVALID", "error", "Place of service code", POS_CITATION)
def check_pos(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    memo: dict[date, Release | None] = {}
    claim_pos = claim.place_of_service
    if claim_pos is not None:
        day = claim.date_of_service or min(claim.line_date(i) for i in range(len(claim.lines)))
        release = _release(ctx, "pos", day, memo)
        if release is None:
            yield r.not_run((), (claim_pos,), "no place of service code set is installed")
            return
        problem = _pos_problem(ctx, release.id, claim_pos)
        if problem:
            yield r.finding(
                (),
                (claim_pos,),
                f"The claim's {problem} (CMS Place of Service Code Set).",
                "use the two-digit place of service where the service was furnished, e.g. 11 (office), "
                "22 (on campus outpatient hospital), 02/10 (telehealth)",
            )
    for index, line in enumerate(claim.lines):
        pos = line.place_of_service
        if pos is None or pos == claim_pos:
            continue
        release = _release(ctx, "pos", claim.line_date(index), memo)
        if release is None:
            yield r.not_run((index + 1,), (pos,), "no place of service code set is installed")
            continue
        problem = _pos_problem(ctx, release.id, pos)
        if problem:
            yield r.finding(
                (index + 1,),
                (pos,),
                f"Line {index + 1} ({line.code}): {problem} (CMS Place of Service Code Set).",
                "use the two-digit place of service where the service was furnished, e.g. 11 (office)",
            )
