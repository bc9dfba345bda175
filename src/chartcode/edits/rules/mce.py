"""Medicare Code Editor edits: age and sex conflicts, manifestation codes listed first."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from chartcode.codesets.common import Release
from chartcode.edits.model import Claim
from chartcode.edits.registry import EditContext, Finding, Rule, rule
from chartcode.edits.rules._support import (
    ClaimView,
    IcdInfo,
    MceEntry,
    claim_view,
    days_text,
)

AGE_TEXT = {
    "NEWBORN": "newborn (age 0)",
    "PEDIATRIC": "pediatric (ages 0-17)",
    "MATERNITY": "maternity (ages 9-64)",
    "ADULT": "adult (ages 15-124)",
}
SEX_TEXT = {"F": "female", "M": "male"}
_NONE: Any = object()
MCE_CITATION = "CMS Definitions of Medicare Code Edits (MCE v41.1 and later), {}"


class _Pending:
    """What a check could not do: dates without an MCE release, codes without patient data."""

    __slots__ = ("codes", "days", "lines")

    def __init__(self) -> None:
        self.lines: set[int] = set()
        self.codes: list[str] = []
        self.days: set[date] = set()

    def add(self, lines: list[int], code: str, day: date) -> None:
        self.lines.update(lines)
        if code not in self.codes:
            self.codes.append(code)
        self.days.add(day)


Hit = tuple[int, date, IcdInfo, MceEntry, str]  # position, date, code info, entry, "MCE v41.1"


def _scan(
    ctx: EditContext, view: ClaimView, dataset: str, edit: str, positions: range
) -> tuple[list[Hit], _Pending | None]:
    """The diagnoses on an MCE ``edit`` list in the release in force on each of their dates, and
    what no release covers."""
    releases: dict[date, Release | None] = {}
    hits: list[Hit] = []
    uncovered: _Pending | None = None
    for position in positions:
        info = view.info(ctx, position)
        if info is None:
            continue
        for day in view.dx_days[position]:
            release = releases.get(day, _NONE)
            if release is _NONE:
                release = releases[day] = ctx.release(dataset, day)
            if release is None:
                if uncovered is None:
                    uncovered = _Pending()
                uncovered.add(view.dx_lines[position], info.code, day)
            elif info.mce:
                entry = info.mce.get((release.id, edit))
                if entry is not None:
                    hits.append((position, day, info, entry, f"MCE {release.version}"))
    return hits, uncovered


def _age_range(entry: MceEntry) -> str:
    return AGE_TEXT.get(entry.age_edit or "", f"ages {entry.age_low}-{entry.age_high}")


def _no_release(pending: _Pending) -> str:
    return f"no installed Medicare Code Editor release covers {days_text(pending.days)}"


@rule("MCE-AGE", "error", "MCE age conflict edit", MCE_CITATION.format("Age conflict"))
def check_age(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    hits, uncovered = _scan(ctx, view, "mce-age", "age", range(len(view.dx)))
    missing = _Pending()
    edits: list[str] = []
    done: set[int] = set()
    for position, day, info, entry, version in hits:
        if position in done:
            continue
        lines = view.dx_lines[position]
        age = claim.patient.age_on(day)
        if age is None or age < 0:
            missing.add(lines, info.code, day)
            edits.append(f"{info.code}: {_age_range(entry)}")
            done.add(position)
            continue
        low, high = entry.age_low or 0, entry.age_high if entry.age_high is not None else 124
        if low <= age <= high:
            continue
        done.add(position)
        yield r.finding(
            lines,
            (info.code,),
            f"Diagnosis {position + 1} {info.label()} is on the {version} {_age_range(entry)} list, but "
            f"the patient is {age} on {day.isoformat()}.",
            f"check the patient's birth date and the diagnosis: {info.code} is reported only for "
            f"{_age_range(entry)} patients; use the code that fits the patient's age",
        )
    if missing.codes:
        why = (
            "the patient's birth date is after the date of service"
            if claim.patient.birth_date
            else "the claim gives no birth date or age for the patient"
        )
        yield r.finding(
            sorted(missing.lines),
            missing.codes,
            f"The MCE age edits of {'; '.join(edits)} could not be checked: {why}.",
            "add the patient's birth date (or age) and check again",
            severity="warning",
            rule_id=f"{r.id}-NOT-RUN",
        )
    if uncovered is not None:
        yield r.not_run(sorted(uncovered.lines), uncovered.codes, _no_release(uncovered))


@rule("MCE-SEX", "error", "MCE sex conflict edit", MCE_CITATION.format("Sex conflict"))
def check_sex(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    hits, uncovered = _scan(ctx, view, "mce-sex", "sex", range(len(view.dx)))
    missing = _Pending()
    sex = claim.patient.sex
    done: set[int] = set()
    for position, day, info, entry, version in hits:
        allowed = entry.sex
        if position in done or allowed is None:
            continue
        done.add(position)
        lines = view.dx_lines[position]
        if sex not in ("F", "M"):
            missing.add(lines, info.code, day)
            continue
        if sex == allowed:
            continue
        yield r.finding(
            lines,
            (info.code,),
            f"Diagnosis {position + 1} {info.label()} is on the {version} {SEX_TEXT[allowed]}-only list, "
            f"but the patient's sex is {sex}.",
            f"check the patient's sex on the claim and the diagnosis; {info.code} is reported only for "
            f"{SEX_TEXT[allowed]} patients",
        )
    if missing.codes:
        given = "unknown (U)" if sex == "U" else "not given"
        yield r.finding(
            sorted(missing.lines),
            missing.codes,
            f"The MCE sex edits of {', '.join(missing.codes)} could not be checked: the patient's sex "
            f"is {given}.",
            "give the patient's sex (F or M) and check again",
            severity="warning",
            rule_id=f"{r.id}-NOT-RUN",
        )
    if uncovered is not None:
        yield r.not_run(sorted(uncovered.lines), uncovered.codes, _no_release(uncovered))


@rule(
    "MCE-MANIFESTATION",
    "error",
    "MCE manifestation-code-as-principal edit",
    MCE_CITATION.format("Manifestation code as principal diagnosis")
    + "; ICD-10-CM Official Guidelines I.A.13 (etiology/manifestation convention)",
)
def check_manifestation(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    view = claim_view(claim, ctx)
    if not view.dx:
        return
    hits, uncovered = _scan(ctx, view, "mce-manifestation", "manifestation", range(1))
    if hits:
        _position, _day, info, _entry, version = hits[0]
        yield r.finding(
            view.dx_lines[0],
            (info.code,),
            f"Diagnosis 1 {info.label()} is a manifestation code ({version}): it describes a manifestation "
            "of an underlying disease and may not be the principal or first-listed diagnosis.",
            f"list the underlying condition first and {info.code} after it (see the 'code first' note of "
            f"{info.code})",
        )
    if uncovered is not None:
        yield r.not_run(sorted(uncovered.lines), uncovered.codes, _no_release(uncovered))
