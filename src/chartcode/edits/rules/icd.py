"""ICD-10-CM conventions among a claim's diagnoses: Excludes1, "code first", "use additional code".

Notes come from the tabular in force on the date of service, else the nearest installed one (the
conventions change little between years); a finding names the tabular it used.
"""

from __future__ import annotations

from collections.abc import Iterator

from chartcode.edits.model import Claim
from chartcode.edits.registry import EditContext, Finding, Rule, rule
from chartcode.edits.rules._support import (
    Diagnosis,
    Excludes1,
    IcdInfo,
    NoteGroup,
    claim_view,
    covers_any,
)

EXCLUDES1_CITATION = "ICD-10-CM Official Guidelines I.A.12.a (Excludes1)"
SEQUENCE_CITATION = (
    'ICD-10-CM Official Guidelines I.A.13 (etiology/manifestation convention: "code first", "use '
    'additional code") and I.B.7 (multiple coding for a single condition)'
)


def _not_in_tabular(r: Rule, absent: list[Diagnosis]) -> Finding:
    codes = [d.code for d in absent]
    return r.finding(
        sorted({n for d in absent for n in d.lines}),
        codes,
        f"{r.title} could not be checked for {', '.join(codes)}: not in the installed ICD-10-CM tabular "
        "(the codes were deleted or renamed before it).",
        "install the ICD-10-CM tabular of the date of service and check again",
        severity="info",
        rule_id=f"{r.id}-NOT-RUN",
    )


def _scope_name(source: str) -> str:
    """``"chapter:4"`` -> ``"chapter 4"``, ``"E08-E13"`` -> ``"block E08-E13"``; codes as they are."""
    if source.startswith("chapter:"):
        return f"chapter {source.split(':', 1)[1]}"
    return f"block {source}" if "-" in source else source


def _tabular_name(info: IcdInfo) -> str:
    return (info.tabular or "").replace("icd10cm-tabular:", "ICD-10-CM ")


def _excluded(owner: IcdInfo, other: IcdInfo) -> Excludes1 | None:
    """An Excludes1 note of ``owner`` (or its ancestors, section, chapter) covering ``other``."""
    memo = owner.excluded
    if other.plain in memo:
        return memo[other.plain]
    found: Excludes1 | None = None
    for note in owner.excludes1:
        if covers_any(note.plain, other.plain):
            found = note
            break
    if len(memo) < 4096:
        memo[other.plain] = found
    return found


@rule("ICD-EXCLUDES1", "error", "ICD-10-CM Excludes1 notes", EXCLUDES1_CITATION)
def check_excludes1(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    dxs = claim_view(claim, ctx).diagnoses(ctx)
    if not dxs.has_tabular:
        yield r.not_run([], [], "no ICD-10-CM tabular is installed")
        return
    found = dxs.found
    for a_index, a in enumerate(found):
        for b in found[a_index + 1 :]:
            if a.code == b.code:
                continue
            owner, other = a, b
            note = _excluded(a.info, b.info)
            if note is None:
                owner, other = b, a
                note = _excluded(b.info, a.info)
            if note is None:
                continue
            where = (
                owner.code
                if note.source == owner.code
                else f"{_scope_name(note.source)} (which includes {owner.code})"
            )
            yield r.finding(
                sorted(set(a.lines) | set(b.lines)),
                (a.code, b.code),
                f"Diagnoses {a.position + 1} {a.info.label()} and {b.position + 1} {b.info.label()} are "
                f'mutually exclusive: {where} has the Excludes1 note "{note.text}", which covers '
                f"{other.code} ({_tabular_name(owner.info)}). An Excludes1 note means the two conditions are "
                "not coded together.",
                "keep the code the documentation supports and remove the other; only if the two conditions "
                "are unrelated may both be reported (the Excludes1 exception): then document that",
            )
    if dxs.absent:
        yield _not_in_tabular(r, dxs.absent)


def _present(group: NoteGroup, found: list[Diagnosis], me: Diagnosis) -> list[Diagnosis]:
    return [d for d in found if d.code != me.code and covers_any(group.plain, d.info.plain)]


@rule("ICD-CODE-FIRST", "warning", 'ICD-10-CM "code first" notes', SEQUENCE_CITATION)
def check_code_first(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    """A condition a "code first" note names, on the claim but listed after the code, is a sequencing
    error. A missing underlying condition is reported only for manifestation codes, which cannot
    stand alone ("in diseases classified elsewhere"); other "code first" notes apply when present."""
    dxs = claim_view(claim, ctx).diagnoses(ctx)
    if not dxs.has_tabular:
        yield r.not_run([], [], "no ICD-10-CM tabular is installed")
        return
    found = dxs.found
    for me in found:
        for group in me.info.code_first:
            note = f'"Code first {group.short_text()}"'
            present = _present(group, found, me) if group.targets else []
            head = f"Diagnosis {me.position + 1} {me.info.label()} has the note {note}"
            if present:
                if any(d.position < me.position for d in present):
                    continue
                first = present[0]
                yield r.finding(
                    sorted(set(me.lines) | set(first.lines)),
                    (me.code, first.code),
                    f"{head} ({_tabular_name(me.info)}), but {first.code} is listed after it (diagnosis "
                    f"{first.position + 1}).",
                    f"list {first.code} before {me.code} in the claim's diagnoses (and as the first pointer "
                    "of the lines they support)",
                )
                continue
            if group.conditional or not me.info.manifestation:
                continue
            names = f" ({', '.join(_target_text(group))})" if group.targets else ""
            if me.position == 0:
                yield r.finding(
                    me.lines,
                    (me.code,),
                    f"{head} ({_tabular_name(me.info)}). It is a manifestation code, so the underlying "
                    "condition must be coded and listed before it, but it is the first-listed diagnosis and "
                    "no condition the note names is on the claim.",
                    f"code the underlying condition{names} as documented and list it before {me.code}",
                )
            elif group.targets:
                yield r.finding(
                    me.lines,
                    (me.code,),
                    f"{head} ({_tabular_name(me.info)}); none of the codes it names is on the claim"
                    + (" (they are examples)." if group.examples else "."),
                    f"make sure the underlying condition{names} is coded and listed before {me.code}",
                    severity="info" if group.examples else None,
                )
    if dxs.absent:
        yield _not_in_tabular(r, dxs.absent)


def _target_text(group: NoteGroup, limit: int = 6) -> list[str]:
    out = [lo if lo == hi else f"{lo}-{hi}" for lo, hi in group.targets[:limit]]
    if len(group.targets) > limit:
        out.append("…")
    return out


def _external_causes_only(group: NoteGroup) -> bool:
    return all(lo[0] in "VWXY" and hi[0] in "VWXY" for lo, hi in group.targets)


@rule("ICD-USE-ADDITIONAL", "info", 'ICD-10-CM "use additional code" notes', SEQUENCE_CITATION)
def check_use_additional(r: Rule, claim: Claim, ctx: EditContext) -> Iterator[Finding]:
    """Only self-contained notes that name their codes; lists of options ("to identify: …"), notes
    saying "if applicable", "any", "such as", and external-cause notes are optional and not reported."""
    found = claim_view(claim, ctx).diagnoses(ctx).found
    for me in found:
        for group in me.info.use_additional:
            if group.lead is not None or not group.targets or group.conditional or group.examples:
                continue
            if _external_causes_only(group) or _present(group, found, me):
                continue
            yield r.finding(
                me.lines,
                (me.code,),
                f'Diagnosis {me.position + 1} {me.info.label()} has the note "Use additional '
                f'{group.short_text()}" ({_tabular_name(me.info)}), and no such code is on the claim.',
                f"if documented, add the code ({', '.join(_target_text(group))}) after {me.code}",
            )
