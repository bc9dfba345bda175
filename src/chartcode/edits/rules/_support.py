"""What the rules share: a per-claim view and knowledge-base lookups cached in ``ctx.cache``.

Every lookup here is cached under a key that names the release it came from, so one cache can
serve many claims (see :func:`chartcode.edits.engine.context`): a code is looked up once per
release, and the NCCI pairs among a date's codes come from one query for the pairs not seen yet.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
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
CODE_CACHE_LIMIT = 200_000  # distinct code strings (as given on claims) kept before starting over


# --- small helpers ---------------------------------------------------------------------------------


def units_text(units: Decimal | int) -> str:
    """``Decimal("3.0")`` -> ``"3"``; ``Decimal("1.5")`` -> ``"1.5"``."""
    return f"{Decimal(units).normalize():f}"


def days_text(days: Iterable[date]) -> str:
    return ", ".join(sorted({d.isoformat() for d in days}))


def span_text(spans: Sequence[tuple[date, date | None]]) -> str:
    return ", ".join(f"{a.isoformat()} to {b.isoformat() if b else 'present'}" for a, b in spans) or "never"


def valid_on(spans: Sequence[tuple[date, date | None]], day: date) -> bool:
    for a, b in spans:  # noqa: SIM110 (a loop is faster than any() here)
        if a <= day and (b is None or day <= b):
            return True
    return False


def sample(codes: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(codes[:limit])
    return shown + (f" … ({len(codes)} in all)" if len(codes) > limit else "")


def is_em(code: str) -> bool:
    """Evaluation and management codes 99202-99499."""
    return len(code) == 5 and code.isdigit() and "99202" <= code <= "99499"


# --- procedure codes ----------------------------------------------------------------------------------


_MISSING: Any = object()


class ProcCode:
    """A line's code: normalised, or the reason it is malformed; ``on`` memoises validity by date."""

    __slots__ = ("aoc_by", "code", "em", "error", "global_by", "mue_by", "on", "system")

    def __init__(self, code: str | None, error: str | None, system: str, em: bool) -> None:
        self.code = code
        self.error = error
        self.system = system  # cpt | hcpcs (by shape)
        self.em = em
        self.on: dict[date, bool | None] = {}
        # per-release lookups, keyed by release id
        self.mue_by: dict[str, Mue | None] = {}
        self.aoc_by: dict[str, tuple[tuple[str, int], ...]] = {}
        self.global_by: dict[str, str | None] = {}


_PROC_CODES = "proc-codes"  # ctx.cache key of {line code as given: ProcCode}
_DX_CODES = "dx-codes"  # ctx.cache key of {diagnosis as given: DxCode}


def proc_code(ctx: EditContext, raw: str) -> ProcCode:
    codes: dict[str, ProcCode] = ctx.cache.setdefault(_PROC_CODES, {})
    found = codes.get(raw)
    if found is None:
        try:
            norm = procedures.normalize_procedure_code(raw)
        except InvalidCodeFormatError as exc:
            found = ProcCode(None, exc.message, "cpt", False)
        else:
            found = ProcCode(norm, None, "cpt" if norm[0].isdigit() else "hcpcs", is_em(norm))
        if len(codes) >= CODE_CACHE_LIMIT:  # input can hold any number of distinct strings
            codes.clear()
        codes[raw] = found
    return found


def proc_spans(ctx: EditContext, code: str) -> tuple[tuple[date, date | None], ...]:
    """Validity spans of a normalised CPT/HCPCS code across installed releases (date independent)."""
    key = ("pspans", code)
    found: tuple[tuple[date, date | None], ...] | None = ctx.cache.get(key)
    if found is None:
        found = ctx.kb.validity(code, None, "hcpcs").spans
        ctx.cache[key] = found
    return found


def proc_valid_on(ctx: EditContext, proc: ProcCode, day: date) -> bool | None:
    """Whether a well-formed line code is valid on ``day``; None when no release covers ``day``."""
    found: bool | None = proc.on.get(day, _MISSING)
    if found is _MISSING:
        assert proc.code is not None
        found = valid_on(proc_spans(ctx, proc.code), day) if covered(ctx, proc.system, day) else None
        if len(proc.on) < 1024:
            proc.on[day] = found
    return found


def covered(ctx: EditContext, system: str, day: date) -> bool:
    """Whether installed releases of ``system`` (icd10cm, cpt, hcpcs) cover ``day``."""
    key = ("coverage", system)
    if key not in ctx.cache:
        ctx.cache[key] = ctx.kb.coverage(system)
    span: tuple[date, date | None] | None = ctx.cache[key]
    return span is not None and span[0] <= day and (span[1] is None or day <= span[1])


# --- ICD-10-CM codes --------------------------------------------------------------------------------


class DxCode:
    """A claim diagnosis: normalised, or the reason it is malformed; ``on`` memoises validity by date."""

    __slots__ = ("code", "error", "on")

    def __init__(self, code: str | None, error: str | None) -> None:
        self.code = code
        self.error = error
        self.on: dict[date, bool | None] = {}


def dx_spans(ctx: EditContext, code: str) -> tuple[tuple[tuple[date, date | None], ...], str | None]:
    """Validity spans of a normalised ICD-10-CM code and, for a non-billable header, the
    "use one of its subdivisions" text."""
    key = ("dspans", code)
    found: tuple[tuple[tuple[date, date | None], ...], str | None] | None = ctx.cache.get(key)
    if found is None:
        validity = ctx.kb.validity(code, None, "icd10cm")
        found = (validity.spans, validity.header)
        ctx.cache[key] = found
    return found


def dx_valid_on(ctx: EditContext, dx: DxCode, day: date) -> bool | None:
    """Whether a well-formed diagnosis is valid on ``day``; None when no release covers ``day``."""
    found: bool | None = dx.on.get(day, _MISSING)
    if found is _MISSING:
        assert dx.code is not None
        found = valid_on(dx_spans(ctx, dx.code)[0], day) if covered(ctx, "icd10cm", day) else None
        if len(dx.on) < 1024:
            dx.on[day] = found
    return found


def dx_code(ctx: EditContext, raw: str) -> DxCode:
    codes: dict[str, DxCode] = ctx.cache.setdefault(_DX_CODES, {})
    found = codes.get(raw)
    if found is None:
        try:
            found = DxCode(icd10cm.normalize_icd(raw), None)
        except InvalidCodeFormatError as exc:
            found = DxCode(None, exc.message)
        if len(codes) >= CODE_CACHE_LIMIT:
            codes.clear()
        codes[raw] = found
    return found


def plain_targets(targets: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Note targets without dots, ready for :func:`covers_any`."""
    return tuple((lo.replace(".", ""), hi.replace(".", "")) for lo, hi in targets)


def covers_any(plain: tuple[tuple[str, str], ...], code_plain: str) -> bool:
    """:func:`chartcode.codesets.icd10cm.covers` over undotted targets and an undotted code."""
    for lo, hi in plain:  # noqa: SIM110 (a loop is faster than any() here)
        if code_plain >= lo and (code_plain <= hi or code_plain.startswith(hi)):
            return True
    return False


@dataclass(frozen=True, slots=True)
class NoteGroup:
    """One instructional note: a lead ("code first any associated:") with its items, or a single note."""

    lead: str | None
    items: tuple[str, ...]
    targets: tuple[tuple[str, str], ...]
    source: str
    plain: tuple[tuple[str, str], ...] = ()
    conditional: bool = False  # "any associated", "if applicable": applies only when present
    examples: bool = False  # "such as": the codes named are examples

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
    plain: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class MceEntry:
    edit: str  # age | sex | manifestation
    age_edit: str | None
    age_low: int | None
    age_high: int | None
    sex: str | None
    list_name: str | None


@dataclass(frozen=True, slots=True, eq=False)
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
    mce: dict[tuple[str, str], MceEntry]  # (MCE release id, edit) -> the entry
    side: frozenset[str]  # R, L (bilateral gives both) from the description
    plain: str  # the code without its dot
    manifestation: bool  # a manifestation code: MCE/IOCE list, or "… in diseases classified elsewhere"
    excluded: dict[str, Excludes1 | None] = field(default_factory=dict)  # memo: other code -> note

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


@dataclass(frozen=True, slots=True)
class ScopeNotes:
    """The notes written at one scope (a code, a section, a chapter), ready for the rules."""

    excludes1: tuple[Excludes1, ...] = ()
    code_first: tuple[NoteGroup, ...] = ()
    use_additional: tuple[NoteGroup, ...] = ()


_NO_NOTES = ScopeNotes()
NoteRows = list[tuple[str, tuple[tuple[str, str], ...], str]]


def _notes_of(rec: dict[str, Any] | None, scope: str) -> ScopeNotes:
    notes = rec.get("n") if rec else None
    if not notes:
        return _NO_NOTES

    def rows(kind: str) -> NoteRows:
        return [(text, tuple((lo, hi) for lo, hi in targets), scope) for text, targets in notes.get(kind, ())]

    return ScopeNotes(
        tuple(Excludes1(t, tg, scope, plain_targets(tg)) for t, tg, _ in rows("excludes1") if tg),
        group_notes(rows("code_first")),
        group_notes(rows("use_additional")),
    )


def _shared_notes(ctx: EditContext, release: str, scope: str) -> tuple[ScopeNotes, dict[str, Any] | None]:
    """Notes of an ancestor, section or chapter (shared by many codes, so cached) and its record."""
    key = ("scope-notes", release, scope)
    found: tuple[ScopeNotes, dict[str, Any] | None] | None = ctx.cache.get(key)
    if found is None:
        rec = ctx.kb.records.get(release, scope)
        found = (_notes_of(rec, scope), rec)
        ctx.cache[key] = found
    return found


def _icd_info(ctx: EditContext, code: str, tabular: Release | None) -> IcdInfo:
    """Build from the install-time lookup records (one query for the code; ancestors, sections and
    chapters are shared and cached), falling back to the normalised tables."""
    kb = ctx.kb
    spans, header = dx_spans(ctx, code)
    own = kb.records.get(tabular.id, code) if tabular is not None and kb.records.available else None
    if tabular is None or own is None or "d" not in own:
        return _icd_info_from_tables(ctx, code, tabular, spans, header)
    scopes = [_notes_of(own, code)]
    chain = [code]
    top = own
    parent = own.get("p")
    while parent:
        notes, rec = _shared_notes(ctx, tabular.id, parent)
        if rec is None:
            break
        scopes.append(notes)
        chain.append(parent)
        top, parent = rec, rec.get("p")
    section, chapter = top.get("s"), top.get("ch")
    if section and section not in chain:
        scopes.append(_shared_notes(ctx, tabular.id, section)[0])
    if chapter:
        scopes.append(_shared_notes(ctx, tabular.id, f"chapter:{chapter}")[0])
    plain = code.replace(".", "")
    mce: dict[tuple[str, str], MceEntry] = {}
    for release, edit, age_edit, low, high, sex, list_name in own.get("m", ()):
        mce.setdefault((release, edit), MceEntry(edit, age_edit, low, high, sex, list_name))
    description = own["d"]
    return IcdInfo(
        code=code,
        spans=spans,
        header=header,
        tabular=tabular.id,
        description=description,
        billable=bool(own["b"]),
        children=tuple(child for child, _ in own.get("k", ())),
        excludes1=tuple(n for sc in scopes for n in sc.excludes1 if not covers_any(n.plain, plain)),
        code_first=tuple(g for sc in scopes for g in sc.code_first),
        use_additional=tuple(g for sc in scopes for g in sc.use_additional),
        mce=mce,
        side=description_side(description),
        plain=plain,
        manifestation=_manifestation(description, mce, any(row[5] for row in own.get("v", ()))),
    )


def _icd_info_from_tables(
    ctx: EditContext,
    code: str,
    tabular: Release | None,
    spans: tuple[tuple[date, date | None], ...],
    header: str | None,
) -> IcdInfo:
    """The same from the normalised tables: codes the tabular lacks, or a KB without lookup records."""
    kb = ctx.kb
    description: str | None = None
    billable: bool | None = None
    children: tuple[str, ...] = ()
    conv: dict[str, NoteRows] = {}
    details = icd10cm.code_details(kb.conn, tabular.id, code) if tabular is not None else None
    if details is not None and tabular is not None:
        description, billable = details.code.description, details.code.billable
        c = details.conventions
        for name, notes in (
            ("excludes1", c.excludes1),
            ("code_first", c.code_first),
            ("use_additional", c.use_additional),
        ):
            conv[name] = [(n.text, n.targets, n.source_code) for n in notes]
        if not billable:
            children = tuple(k.code for k in icd10cm.children(kb.conn, tabular.id, code))
    mce: dict[tuple[str, str], MceEntry] = {}
    for e in icd10cm.mce_edits_for(kb.conn, code):
        mce.setdefault(
            (e.release, e.edit), MceEntry(e.edit, e.age_edit, e.age_low, e.age_high, e.sex, e.list_name)
        )
    plain = code.replace(".", "")
    return IcdInfo(
        code=code,
        spans=spans,
        header=header,
        tabular=tabular.id if tabular is not None and details is not None else None,
        description=description,
        billable=billable,
        children=children,
        excludes1=tuple(
            Excludes1(t, tg, s, plain_targets(tg))
            for t, tg, s in conv.get("excludes1", [])
            if tg and not covers_any(plain_targets(tg), plain)
        ),
        code_first=group_notes(conv.get("code_first", [])),
        use_additional=group_notes(conv.get("use_additional", [])),
        mce=mce,
        side=description_side(description),
        plain=plain,
        manifestation=_manifestation(description, mce, False),
    )


def _manifestation(description: str | None, mce: dict[tuple[str, str], MceEntry], ioce: bool) -> bool:
    if ioce or any(edit == "manifestation" for _, edit in mce):
        return True
    return bool(description and "classified elsewhere" in description.lower())


def group_notes(notes: Sequence[tuple[str, tuple[tuple[str, str], ...], str]]) -> tuple[NoteGroup, ...]:
    """One group per instruction: the notes written together at one source (the tabular's
    ``<codeFirst>``/``<useAdditionalCode>`` element lists alternatives), split where a lead note
    ending in ":" ("code first any associated:") starts a new list."""
    groups: list[NoteGroup] = []
    current: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    source: str | None = None

    def close() -> None:
        if current:
            first = current[0][0]
            lead = first if first.endswith(":") else None
            items = tuple(text for text, _ in (current[1:] if lead else current))
            targets = tuple(t for _, note_targets in current for t in note_targets)
            groups.append(_group(lead, items, targets, source or ""))
        current.clear()

    for text, note_targets, note_source in notes:
        text = text.strip()
        if note_source != source or (current and text.endswith(":")):
            close()
            source = note_source
        current.append((text, note_targets))
    close()
    return tuple(groups)


def _group(
    lead: str | None, items: tuple[str, ...], targets: tuple[tuple[str, str], ...], source: str
) -> NoteGroup:
    head = f"{lead or ''} {items[0] if items else ''}"
    return NoteGroup(
        lead,
        items,
        targets,
        source,
        plain_targets(targets),
        bool(_CONDITIONAL.search(head)),
        bool(_EXAMPLES.search(head)),
    )


_CONDITIONAL = re.compile(
    r"\b(any|if applicable|where applicable|if known|if present|if desired|may be used)\b", re.I
)
_EXAMPLES = re.compile(r"\bsuch as\b", re.I)


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
        if len(pair_cache) > PTP_CACHE_LIMIT:
            pair_cache.clear()
            missing = pairs
        need = sorted({c for p in missing for c in p})
        found: dict[tuple[str, str], list[PtpEdit]] = defaultdict(list)
        for edit in procedures.ptp_for_codes(ctx.kb.conn, release, need):
            a, b = edit.column1, edit.column2
            found[(a, b) if a < b else (b, a)].append(edit)
        for i, a in enumerate(need):  # every pair among ``need``, edits or not
            for b in need[i + 1 :]:
                pair_cache[(a, b)] = tuple(found.get((a, b), ()))
    return [edit for p in pairs for edit in pair_cache[p]]


def ptp_groups(
    ctx: EditContext, release: str, codes: tuple[str, ...]
) -> tuple[tuple[str, str, tuple[PtpEdit, ...]], ...]:
    """``(column 1, column 2, versions)`` of every PTP edit among ``codes`` (sorted, distinct), in
    column order; cached per set of codes, built from the pair cache of :func:`ptp_edits`."""
    sets: dict[tuple[str, ...], tuple[tuple[str, str, tuple[PtpEdit, ...]], ...]] = ctx.cache.setdefault(
        ("ptp-sets", release), {}
    )
    found = sets.get(codes)
    if found is None:
        versions: dict[tuple[str, str], list[PtpEdit]] = defaultdict(list)
        for edit in ptp_edits(ctx, release, codes):
            versions[(edit.column1, edit.column2)].append(edit)
        found = tuple((a, b, tuple(v)) for (a, b), v in sorted(versions.items()))
        if len(sets) > PTP_CACHE_LIMIT // 4:
            sets.clear()
        sets[codes] = found
    return found


def edit_in_force(versions: Sequence[PtpEdit], day: date) -> PtpEdit | None:
    """The version of one column 1/column 2 edit that applies on ``day``.

    The mirror has no effective dates, so versions are told apart by deletion date: of those not
    deleted on ``day``, the one deleted soonest (a later version replaced it then)."""
    best: PtpEdit | None = None
    for edit in versions:
        if not edit.in_effect_on(day):
            continue
        if best is None or (
            edit.deletion is not None and (best.deletion is None or edit.deletion < best.deletion)
        ):
            best = edit
    return best


def mue(ctx: EditContext, release: str, proc: ProcCode) -> Mue | None:
    """The MUE of a well-formed line code in an ``ncci-mue-*`` release (memoised on the code)."""
    found: Mue | None = proc.mue_by.get(release, _MISSING)
    if found is _MISSING:
        assert proc.code is not None
        found = proc.mue_by[release] = procedures.mue(ctx.kb.conn, release, proc.code)
    return found


def addon_primaries(ctx: EditContext, release: str, proc: ProcCode) -> tuple[tuple[str, int], ...]:
    """``(primary, edit type)`` of an add-on code in an ``ncci-aoc`` release; empty for other codes."""
    found = proc.aoc_by.get(release)
    if found is None:
        assert proc.code is not None
        found = proc.aoc_by[release] = tuple(procedures.addon_primaries(ctx.kb.conn, release, proc.code))
    return found


def global_days(ctx: EditContext, day: date, proc: ProcCode) -> tuple[str | None, str | None]:
    """``(global period, PFS release id)`` of a line code from the PFS release nearest ``day``."""
    rkey = ("pfs", day)
    if rkey not in ctx.cache:
        ctx.cache[rkey] = ctx.kb.release_for("pfs-rvu", day, nearest=True)
    release: Release | None = ctx.cache[rkey]
    if release is None:
        return None, None
    found: str | None = proc.global_by.get(release.id, _MISSING)
    if found is _MISSING:
        assert proc.code is not None
        row = procedures.rvu(ctx.kb.conn, release.id, proc.code)
        found = proc.global_by[release.id] = row.global_days if row is not None else None
    return found, release.id


# --- the claim as the rules see it ------------------------------------------------------------------


class Diagnosis:
    """A well-formed claim diagnosis with what the tabular of its (first) date of service says."""

    __slots__ = ("code", "info", "lines", "position")

    def __init__(self, position: int, code: str, info: IcdInfo, lines: list[int]) -> None:
        self.position = position  # 0-based
        self.code = code
        self.info = info
        self.lines = lines


class Diagnoses:
    __slots__ = ("absent", "found", "has_tabular")

    def __init__(self, found: list[Diagnosis], absent: list[Diagnosis], has_tabular: bool) -> None:
        self.found = found  # in the tabular used
        self.absent = absent  # not in it (deleted or renamed before it)
        self.has_tabular = (
            has_tabular  # False when no ICD-10-CM tabular is installed (and there are diagnoses)
        )


class ClaimView:
    """Dates, normalised codes and pointer maps of one claim, computed once for all rules."""

    __slots__ = (
        "_diagnoses",
        "_good_by_day",
        "_infos",
        "by_day",
        "claim",
        "days",
        "dx",
        "dx_days",
        "dx_lines",
        "procs",
    )

    def __init__(self, claim: Claim, ctx: EditContext) -> None:
        self.claim = claim
        lines = claim.lines
        claim_day = claim.date_of_service
        pcodes: dict[str, ProcCode] | None = ctx.cache.get(_PROC_CODES)
        if pcodes is None:
            pcodes = ctx.cache[_PROC_CODES] = {}
        days: list[date] = []
        procs: list[ProcCode] = []
        by_day: dict[date, list[int]] = {}
        diagnoses = claim.diagnoses
        n = len(diagnoses)
        dx_lines: list[list[int]] = [[] for _ in range(n)]
        for index, line in enumerate(lines):
            day = line.date_of_service or claim_day
            assert day is not None  # the claim model guarantees a date per line
            days.append(day)
            proc = pcodes.get(line.code)
            procs.append(proc if proc is not None else proc_code(ctx, line.code))
            if day in by_day:
                by_day[day].append(index)
            else:
                by_day[day] = [index]
            number = index + 1
            for pointer in line.dx_pointers:
                if 0 < pointer <= n:
                    pointed = dx_lines[pointer - 1]
                    if not pointed or pointed[-1] != number:
                        pointed.append(number)
        self.days = days
        self.procs = procs
        self.by_day = by_day
        self.dx_lines = dx_lines
        dcodes: dict[str, DxCode] | None = ctx.cache.get(_DX_CODES)
        if dcodes is None:
            dcodes = ctx.cache[_DX_CODES] = {}
        dx: list[DxCode] = []
        for raw in diagnoses:
            found = dcodes.get(raw)
            dx.append(found if found is not None else dx_code(ctx, raw))
        self.dx = dx
        if len(by_day) == 1:
            self.dx_days: list[tuple[date, ...]] = [(days[0],)] * n
        else:
            default_day = claim_day or min(days)
            self.dx_days = [
                tuple(sorted({days[i - 1] for i in pointed})) if pointed else (default_day,)
                for pointed in dx_lines
            ]
        self._diagnoses: Diagnoses | None = None
        self._good_by_day: dict[date, list[int]] | None = None
        self._infos: list[IcdInfo | None] | None = None

    def info(self, ctx: EditContext, position: int) -> IcdInfo | None:
        """The :class:`IcdInfo` of diagnosis ``position`` (0-based) from the tabular of its first date
        (validity spans and MCE lists do not depend on the tabular); None for a malformed code."""
        if self._infos is None:
            infos: list[IcdInfo | None] = []
            for index, dx in enumerate(self.dx):
                code = dx.code
                infos.append(
                    None
                    if code is None
                    else icd_info(ctx, code, tabular_release(ctx, self.dx_days[index][0]))
                )
            self._infos = infos
        return self._infos[position]

    def diagnoses(self, ctx: EditContext) -> Diagnoses:
        """The well-formed diagnoses with tabular data (from the tabular of their first date)."""
        if self._diagnoses is None:
            found: list[Diagnosis] = []
            absent: list[Diagnosis] = []
            any_tabular = False
            for position, dx in enumerate(self.dx):
                info = self.info(ctx, position)
                if dx.code is None or info is None:
                    continue
                if tabular_release(ctx, self.dx_days[position][0]) is None:
                    continue
                any_tabular = True
                item = Diagnosis(position, dx.code, info, self.dx_lines[position])
                (found if info.tabular is not None else absent).append(item)
            self._diagnoses = Diagnoses(found, absent, any_tabular or not self.dx)
        return self._diagnoses

    def good_by_day(self) -> dict[date, list[int]]:
        """0-based indices of the lines with a well-formed code, per date of service."""
        if self._good_by_day is None:
            out: dict[date, list[int]] = {}
            procs = self.procs
            for day, indices in self.by_day.items():
                good = [i for i in indices if procs[i].code is not None]
                if good:
                    out[day] = good
            self._good_by_day = out
        return self._good_by_day

    def line_label(self, index: int, start: bool = False) -> str:
        """``"line 2 (20610-RT)"`` for 0-based ``index`` (``"Line 2 …"`` to start a sentence)."""
        line = self.claim.lines[index]
        mods = "-".join(line.modifiers)
        return f"{'Line' if start else 'line'} {index + 1} ({line.code}{'-' + mods if mods else ''})"


_VIEW_KEY = "claim-view"  # a str key: its hash is cached


def claim_view(claim: Claim, ctx: EditContext) -> ClaimView:
    """The view of ``claim``, shared by every rule that checks it."""
    slot = ctx.cache.get(_VIEW_KEY)
    if slot is not None and slot[0] is claim:
        view: ClaimView = slot[1]
        return view
    view = ClaimView(claim, ctx)
    ctx.cache[_VIEW_KEY] = (claim, view)
    return view
