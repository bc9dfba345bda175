"""What the rules share: a per-claim view and knowledge-base lookups cached in ``ctx.cache``.

Every lookup here is cached under a key that names the release it came from, so one cache can
serve many claims (see :func:`chartcode.edits.engine.context`): a code is looked up once per
release, and the NCCI pairs among a date's codes come from one query for the pairs not seen yet.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from chartcode.codesets import icd10cm, procedures
from chartcode.codesets.common import Release
from chartcode.codesets.procedures import Mue, PtpEdit
from chartcode.edits.model import Claim
from chartcode.edits.registry import EditContext
from chartcode.errors import InvalidCodeFormatError

SYSTEM_NAMES = {"icd10cm": "ICD-10-CM", "cpt": "CPT", "hcpcs": "HCPCS Level II"}
PTP_CACHE_LIMIT = 400_000  # code pairs kept per PTP release before the pair cache starts over


# --- small helpers ---------------------------------------------------------------------------------


def units_text(units: Decimal | int) -> str:
    """``Decimal("3.0")`` -> ``"3"``; ``Decimal("1.5")`` -> ``"1.5"``."""
    text = f"{Decimal(units).normalize():f}"
    return text


def days_text(days: Iterable[date]) -> str:
    return ", ".join(sorted({d.isoformat() for d in days}))


def span_text(spans: Sequence[tuple[date, date | None]]) -> str:
    return ", ".join(f"{a.isoformat()} to {b.isoformat() if b else 'present'}" for a, b in spans) or "never"


def valid_on(spans: Sequence[tuple[date, date | None]], day: date) -> bool:
    return any(a <= day and (b is None or day <= b) for a, b in spans)


def sample(codes: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(codes[:limit])
    return shown + (f" … ({len(codes)} in all)" if len(codes) > limit else "")


def is_em(code: str) -> bool:
    """Evaluation and management codes 99202-99499."""
    return len(code) == 5 and code.isdigit() and "99202" <= code <= "99499"


# --- procedure codes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcCode:
    """A line's code: normalised, or the reason it is malformed."""

    code: str | None
    error: str | None
    system: str  # cpt | hcpcs (by shape)
    em: bool


def proc_code(ctx: EditContext, raw: str) -> ProcCode:
    key = ("pcode", raw)
    found: ProcCode | None = ctx.cache.get(key)
    if found is None:
        try:
            norm = procedures.normalize_procedure_code(raw)
        except InvalidCodeFormatError as exc:
            found = ProcCode(None, exc.message, "cpt", False)
        else:
            found = ProcCode(norm, None, "cpt" if norm[0].isdigit() else "hcpcs", is_em(norm))
        ctx.cache[key] = found
    return found


def proc_spans(ctx: EditContext, code: str) -> tuple[tuple[date, date | None], ...]:
    """Validity spans of a normalised CPT/HCPCS code across installed releases (date independent)."""
    key = ("pspans", code)
    found: tuple[tuple[date, date | None], ...] | None = ctx.cache.get(key)
    if found is None:
        found = ctx.kb.validity(code, None, "hcpcs").spans
        ctx.cache[key] = found
    return found


def covered(ctx: EditContext, system: str, day: date) -> bool:
    """Whether installed releases of ``system`` (icd10cm, cpt, hcpcs) cover ``day``."""
    key = ("coverage", system)
    if key not in ctx.cache:
        ctx.cache[key] = ctx.kb.coverage(system)
    span: tuple[date, date | None] | None = ctx.cache[key]
    return span is not None and span[0] <= day and (span[1] is None or day <= span[1])


# --- ICD-10-CM codes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DxCode:
    code: str | None
    error: str | None


def dx_code(ctx: EditContext, raw: str) -> DxCode:
    key = ("dcode", raw)
    found: DxCode | None = ctx.cache.get(key)
    if found is None:
        try:
            found = DxCode(icd10cm.normalize_icd(raw), None)
        except InvalidCodeFormatError as exc:
            found = DxCode(None, exc.message)
        ctx.cache[key] = found
    return found


@dataclass(frozen=True, slots=True)
class NoteGroup:
    """One instructional note: a lead ("code first any associated:") with its items, or a single note."""

    lead: str | None
    items: tuple[str, ...]
    targets: tuple[tuple[str, str], ...]
    source: str

    @property
    def text(self) -> str:
        body = "; ".join(self.items)
        if self.lead:
            return f"{self.lead} {body}".strip()
        return body

    def short_text(self, limit: int = 220) -> str:
        text = self.text
        return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Excludes1:
    text: str
    targets: tuple[tuple[str, str], ...]
    source: str


@dataclass(frozen=True, slots=True)
class MceEntry:
    edit: str  # age | sex | manifestation
    age_edit: str | None
    age_low: int | None
    age_high: int | None
    sex: str | None
    list_name: str | None


@dataclass(frozen=True, slots=True)
class IcdInfo:
    """What the rules need to know about one ICD-10-CM code (from one tabular release)."""

    code: str
    spans: tuple[tuple[date, date | None], ...]
    header: str | None  # "use one of its N subdivision(s) (…)" when a non-billable header
    tabular: str | None  # the tabular release the description and notes come from
    description: str | None
    billable: bool | None
    children: tuple[str, ...]
    excludes1: tuple[Excludes1, ...]
    code_first: tuple[NoteGroup, ...]
    use_additional: tuple[NoteGroup, ...]
    mce: dict[str, tuple[MceEntry, ...]]  # MCE release id -> entries
    side: frozenset[str]  # R, L (bilateral gives both) from the description

    def label(self) -> str:
        return f"{self.code} ({self.description})" if self.description else self.code


def tabular_release(ctx: EditContext, day: date) -> Release | None:
    """The ICD-10-CM tabular for ``day``: the one in force, else the nearest installed one."""
    key = ("tabular", day)
    if key not in ctx.cache:
        ctx.cache[key] = ctx.kb.release_for("icd10cm-tabular", day, nearest=True)
    release: Release | None = ctx.cache[key]
    return release


def icd_info(ctx: EditContext, code: str, tabular: Release | None) -> IcdInfo:
    key = ("icd", tabular.id if tabular else None, code)
    found: IcdInfo | None = ctx.cache.get(key)
    if found is None:
        found = _icd_info(ctx, code, tabular)
        ctx.cache[key] = found
    return found


def _icd_info(ctx: EditContext, code: str, tabular: Release | None) -> IcdInfo:
    kb = ctx.kb
    validity = kb.validity(code, None, "icd10cm")
    header = None
    if not validity.spans and "category header" in validity.message:
        header = validity.message.split("not billable: ", 1)[-1]
    description: str | None = None
    billable: bool | None = None
    children: tuple[str, ...] = ()
    conv: dict[str, list[tuple[str, tuple[tuple[str, str], ...], str]]] = {}
    mce_rows: list[Sequence[Any]] = []
    rec = None
    if tabular is not None and kb.records.available:
        rec = kb.records.lookup(tabular.id, code)
    if rec is not None:
        description, billable = rec["description"], bool(rec["billable"])
        for name in ("excludes1", "code_first", "use_additional"):
            conv[name] = [
                (n["text"], tuple((lo, hi) for lo, hi in n["targets"]), n["source_code"])
                for n in rec["conventions"].get(name, [])
            ]
        children = tuple(c["code"] for c in rec["conventions"].get("children", []))
        mce_rows = rec["mce"]
    else:
        details = icd10cm.code_details(kb.conn, tabular.id, code) if tabular is not None else None
        if details is not None:
            description, billable = details.code.description, details.code.billable
            c = details.conventions
            for name, notes in (
                ("excludes1", c.excludes1),
                ("code_first", c.code_first),
                ("use_additional", c.use_additional),
            ):
                conv[name] = [(n.text, n.targets, n.source_code) for n in notes]
            if not billable and tabular is not None:
                children = tuple(k.code for k in icd10cm.children(kb.conn, tabular.id, code))
        mce_rows = [
            (e.release, e.edit, e.age_edit, e.age_low, e.age_high, e.sex, e.list_name)
            for e in icd10cm.mce_edits_for(kb.conn, code)
        ]
    mce: dict[str, list[MceEntry]] = defaultdict(list)
    for release, edit, age_edit, low, high, sex, list_name in mce_rows:
        mce[release].append(MceEntry(edit, age_edit, low, high, sex, list_name))
    return IcdInfo(
        code=code,
        spans=validity.spans,
        header=header,
        tabular=tabular.id if tabular is not None and (rec is not None or description is not None) else None,
        description=description,
        billable=billable,
        children=children,
        excludes1=tuple(Excludes1(t, tg, s) for t, tg, s in conv.get("excludes1", []) if tg),
        code_first=group_notes(conv.get("code_first", [])),
        use_additional=group_notes(conv.get("use_additional", [])),
        mce={k: tuple(v) for k, v in mce.items()},
        side=description_side(description),
    )


def group_notes(notes: Sequence[tuple[str, tuple[tuple[str, str], ...], str]]) -> tuple[NoteGroup, ...]:
    """Join a lead note ending in ":" with the items that follow it from the same source."""
    groups: list[NoteGroup] = []
    lead: str | None = None
    lead_source: str | None = None
    items: list[str] = []
    targets: list[tuple[str, str]] = []

    def close() -> None:
        nonlocal lead, items, targets
        if lead is not None:
            groups.append(NoteGroup(lead, tuple(items), tuple(targets), lead_source or ""))
        lead, items, targets = None, [], []

    for text, note_targets, source in notes:
        if not note_targets and text.rstrip().endswith(":"):
            close()
            lead, lead_source = text.strip(), source
            continue
        if lead is not None and source == lead_source:
            items.append(text.strip())
            targets.extend(note_targets)
            continue
        close()
        groups.append(NoteGroup(None, (text.strip(),), tuple(note_targets), source))
    close()
    return tuple(groups)


_CONDITIONAL = re.compile(r"\b(any|if applicable|if known|if present|if desired|may be used)\b", re.I)
_EXAMPLES = re.compile(r"\bsuch as\b", re.I)


def _head(group: NoteGroup) -> str:
    return f"{group.lead or ''} {group.items[0] if group.items else ''}"


def conditional(group: NoteGroup) -> bool:
    """Whether a note only applies when something is present ("any associated", "if applicable")."""
    return bool(_CONDITIONAL.search(_head(group)))


def examples_only(group: NoteGroup) -> bool:
    """Whether the codes a note names are examples ("underlying disease, such as: …")."""
    return bool(_EXAMPLES.search(_head(group)))


def covers_any(targets: Iterable[tuple[str, str]], code: str) -> bool:
    return any(icd10cm.covers(t, code) for t in targets)


# Side words that name a side of the body; "left ventricular", "right bundle-branch" and the like don't.
_SIDE_WORD = re.compile(r"\b(right|left|bilateral)\b", re.I)
_NOT_A_SIDE = re.compile(
    r"\b(?:right|left)[\s-]+(?:sided\s+heart|ventric\w*|atri\w*|bundle|heart|coronary|main\b|anterior\s+"
    r"descending|circumflex|posterior\s+fascicular|anterior\s+fascicular)",
    re.I,
)


def description_side(description: str | None) -> frozenset[str]:
    """Sides named in an ICD-10-CM title: {"R"}, {"L"}, {"R", "L"} (bilateral) or none."""
    if not description:
        return frozenset()
    text = _NOT_A_SIDE.sub(" ", description)
    sides: set[str] = set()
    for match in _SIDE_WORD.finditer(text):
        word = match.group(1).lower()
        if word == "bilateral":
            sides.update("RL")
        else:
            sides.add(word[0].upper())
    return frozenset(sides)


# --- NCCI and fee schedule ------------------------------------------------------------------------


def ptp_edits(ctx: EditContext, release: str, codes: Sequence[str]) -> list[PtpEdit]:
    """Every PTP edit version between two of ``codes`` (sorted, distinct), one query for unseen pairs."""
    pair_cache: dict[tuple[str, str], tuple[PtpEdit, ...]] = ctx.cache.setdefault(("ptp", release), {})
    pairs = [(a, b) for i, a in enumerate(codes) for b in codes[i + 1 :]]
    missing = [p for p in pairs if p not in pair_cache]
    if missing:
        need = sorted({c for p in missing for c in p})
        if len(pair_cache) > PTP_CACHE_LIMIT:
            pair_cache.clear()
        found: dict[tuple[str, str], list[PtpEdit]] = defaultdict(list)
        for edit in procedures.ptp_for_codes(ctx.kb.conn, release, need):
            a, b = edit.column1, edit.column2
            found[(a, b) if a < b else (b, a)].append(edit)
        for i, a in enumerate(need):
            for b in need[i + 1 :]:
                pair_cache[(a, b)] = tuple(found.get((a, b), ()))
        for p in pairs:  # pairs of codes outside ``need`` were cached before
            if p not in pair_cache:
                pair_cache[p] = tuple(found.get(p, ()))
    return [edit for p in pairs for edit in pair_cache[p]]


def edit_in_force(versions: Sequence[PtpEdit], day: date) -> PtpEdit | None:
    """The version of one column 1/column 2 edit that applies on ``day``.

    The mirror has no effective dates, so versions are told apart by deletion date: of those not
    deleted on ``day``, the one deleted soonest (a later version replaced it then)."""
    best: PtpEdit | None = None
    for edit in versions:
        if not edit.in_effect_on(day):
            continue
        if best is None or (edit.deletion is not None and (best.deletion is None or edit.deletion < best.deletion)):
            best = edit
    return best


def mue(ctx: EditContext, release: str, code: str) -> Mue | None:
    key = ("mue", release, code)
    if key not in ctx.cache:
        ctx.cache[key] = procedures.mue(ctx.kb.conn, release, code)
    found: Mue | None = ctx.cache[key]
    return found


def addon_primaries(ctx: EditContext, release: str, code: str) -> tuple[tuple[str, int], ...]:
    key = ("aoc", release, code)
    found: tuple[tuple[str, int], ...] | None = ctx.cache.get(key)
    if found is None:
        found = tuple(procedures.addon_primaries(ctx.kb.conn, release, code))
        ctx.cache[key] = found
    return found


def global_days(ctx: EditContext, day: date, code: str) -> tuple[str | None, str | None]:
    """``(global period, PFS release id)`` of ``code`` from the PFS release nearest ``day``."""
    rkey = ("pfs", day)
    if rkey not in ctx.cache:
        ctx.cache[rkey] = ctx.kb.release_for("pfs-rvu", day, nearest=True)
    release: Release | None = ctx.cache[rkey]
    if release is None:
        return None, None
    key = ("global", release.id, code)
    if key not in ctx.cache:
        row = procedures.rvu(ctx.kb.conn, release.id, code)
        ctx.cache[key] = row.global_days if row is not None else None
    found: str | None = ctx.cache[key]
    return found, release.id


# --- the claim as the rules see it ------------------------------------------------------------------


class ClaimView:
    """Dates, normalised codes and pointer maps of one claim, computed once for all rules."""

    __slots__ = ("by_day", "claim", "days", "dx", "dx_days", "dx_lines", "procs")

    def __init__(self, claim: Claim, ctx: EditContext) -> None:
        self.claim = claim
        lines = claim.lines
        claim_day = claim.date_of_service
        days: list[date] = []
        for line in lines:
            day = line.date_of_service or claim_day
            assert day is not None  # the claim model guarantees a date per line
            days.append(day)
        self.days = days
        self.procs: list[ProcCode] = [proc_code(ctx, line.code) for line in lines]
        self.dx: list[DxCode] = [dx_code(ctx, d) for d in claim.diagnoses]
        n = len(self.dx)
        self.dx_lines: list[list[int]] = [[] for _ in range(n)]
        by_day: dict[date, list[int]] = {}
        for index, line in enumerate(lines):
            by_day.setdefault(self.days[index], []).append(index)
            seen: set[int] = set()
            for pointer in line.dx_pointers:
                if 1 <= pointer <= n and pointer not in seen:
                    seen.add(pointer)
                    self.dx_lines[pointer - 1].append(index + 1)
        self.by_day = by_day
        default_day = claim_day or min(self.days)
        self.dx_days: list[tuple[date, ...]] = [
            tuple(sorted({self.days[i - 1] for i in pointed})) if pointed else (default_day,)
            for pointed in self.dx_lines
        ]

    def line_label(self, index: int) -> str:
        """``"line 2 (20610-RT)"`` for 0-based ``index``."""
        line = self.claim.lines[index]
        mods = "-".join(line.modifiers)
        return f"line {index + 1} ({line.code}{'-' + mods if mods else ''})"


_VIEW_KEY = ("claim-view",)


def claim_view(claim: Claim, ctx: EditContext) -> ClaimView:
    """The view of ``claim``, shared by every rule that checks it."""
    slot = ctx.cache.get(_VIEW_KEY)
    if slot is not None and slot[0] is claim:
        view: ClaimView = slot[1]
        return view
    view = ClaimView(claim, ctx)
    ctx.cache[_VIEW_KEY] = (claim, view)
    return view
