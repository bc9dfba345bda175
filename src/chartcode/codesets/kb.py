"""The installed knowledge base: releases chosen by date of service, lookup and search.

Open it with :func:`open_kb` (read-only, opens in milliseconds). Every question takes an optional
date of service; the release in force on that date answers. Dates outside every installed
release raise :class:`~chartcode.errors.NoReleaseForDateError` listing what is installed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from chartcode.codesets import icd10cm, procedures
from chartcode.codesets import index as index_api
from chartcode.codesets.common import Release
from chartcode.codesets.formats import icd10cm_lookup
from chartcode.codesets.install import SCHEMA_VERSION, default_kb_path
from chartcode.errors import (
    BadDateError,
    CodeNotValidOnDateError,
    InvalidCodeFormatError,
    KnowledgeBaseCorruptError,
    KnowledgeBaseMissingError,
    NoReleaseForDateError,
    UnknownCodeError,
)

SYSTEMS = ("icd10cm", "hcpcs", "cpt")
_ICD_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_PROC_SHAPE = re.compile(r"^([0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})$")


def parse_date(text: str | None, what: str = "date of service") -> date | None:
    """Parse YYYY-MM-DD; a clear error for anything else."""
    if text is None or text == "":
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError("not in YYYY-MM-DD form")
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadDateError(
            f"{what} {text!r} is not a valid date ({exc}).", "write it as YYYY-MM-DD, e.g. 2024-08-15."
        ) from None


@dataclass(frozen=True)
class Validity:
    code: str
    system: str
    valid: bool
    day: date | None
    spans: tuple[tuple[date, date | None], ...]
    message: str
    raw_icd: tuple[icd10cm.ValiditySpan, ...] = ()  # the history rows behind ``spans`` (ICD-10-CM)
    header: str | None = None  # for a non-billable ICD-10-CM category: which subdivisions to use instead

    def spans_text(self) -> str:
        return ", ".join(_span_text(a, b) for a, b in self.spans) or "never"


def _span_text(start: date, end: date | None) -> str:
    return f"{start.isoformat()}–{end.isoformat() if end else 'present'}"


@dataclass
class LookupResult:
    code: str
    system: str
    description: str | None
    description_release: str | None
    billable: bool
    validity: list[dict[str, str | None]]
    valid_on_date: bool | None
    date: str | None
    conventions: dict[str, Any] = field(default_factory=dict)
    edits: dict[str, Any] = field(default_factory=dict)
    hierarchy: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KnowledgeBase:
    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            raise KnowledgeBaseMissingError(
                f"no code-set knowledge base at {path}.",
                "install one: `chartcode codesets install --source DIR` (a local mirror) or "
                "`chartcode codesets install` (official downloads); or set CHARTCODE_KB.",
            )
        try:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise KnowledgeBaseCorruptError(
                f"{path} is not a chartcode knowledge base ({exc}).", "install the code sets again."
            ) from None
        if row is None or row[0] != SCHEMA_VERSION:
            raise KnowledgeBaseCorruptError(
                f"{path} has schema version {row[0] if row else 'none'}; "
                f"this chartcode needs {SCHEMA_VERSION}.",
                "install the code sets again with this version of chartcode.",
            )

        self._release_cache: dict[tuple[str, date | None, bool], Release | None] = {}
        self.records = icd10cm_lookup.LookupRecords(self.conn)

    def close(self) -> None:
        self.conn.close()

    # --- releases -------------------------------------------------------------------------

    @cached_property
    def releases(self) -> list[Release]:
        rows = self.conn.execute(
            "SELECT id, dataset, system, version, effective_from, effective_to FROM releases "
            "ORDER BY system, dataset, effective_from"
        )
        return [
            Release(i, d, s, v, date.fromisoformat(f), date.fromisoformat(t) if t else None)
            for i, d, s, v, f, t in rows
        ]

    def release_rows(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM releases ORDER BY system, dataset, effective_from")
        names = [c[0] for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def dataset_releases(self, dataset: str) -> list[Release]:
        return [r for r in self.releases if r.dataset == dataset]

    def has(self, dataset: str) -> bool:
        return any(r.dataset == dataset for r in self.releases)

    def release_for(self, dataset: str, day: date | None, *, nearest: bool = False) -> Release | None:
        key = (dataset, day, nearest)
        try:
            return self._release_cache[key]
        except KeyError:
            found = self._release_for(dataset, day, nearest=nearest)
            self._release_cache[key] = found
            return found

    def _release_for(self, dataset: str, day: date | None, *, nearest: bool = False) -> Release | None:
        """The release of ``dataset`` in force on ``day`` (newest when ``day`` is None).

        With ``nearest``, a date outside every release of the dataset falls back to the newest
        release that started on or before it (else the oldest): used for descriptive data such as the
        index, where the closest edition is the best available answer. Returns None when the
        dataset is not installed at all.
        """
        candidates = self.dataset_releases(dataset)
        if not candidates:
            return None
        if day is None:
            return max(candidates, key=lambda r: r.effective_from)
        covering = [r for r in candidates if r.covers(day)]
        if covering:
            return max(covering, key=lambda r: r.effective_from)
        if not nearest:
            return None
        earlier = [r for r in candidates if r.effective_from <= day]
        return (
            max(earlier, key=lambda r: r.effective_from)
            if earlier
            else min(candidates, key=lambda r: r.effective_from)
        )

    def require_release(self, dataset: str, day: date | None, *, nearest: bool = False) -> Release:
        release = self.release_for(dataset, day, nearest=nearest)
        if release is None:
            raise self._no_release(f"dataset {dataset}", [dataset], day)
        return release

    def coverage(self, system: str) -> tuple[date, date | None] | None:
        mine = [r for r in self.releases if r.dataset in _COVERAGE_DATASETS[system]]
        if not mine:
            return None
        start = min(r.effective_from for r in mine)
        ends = [r.effective_to for r in mine]
        return start, (None if any(e is None for e in ends) else max(e for e in ends if e is not None))

    def check_covered(self, system: str, day: date) -> None:
        span = self.coverage(system)
        if span is None or not (span[0] <= day and (span[1] is None or day <= span[1])):
            raise self._no_release(_SYSTEM_NAMES[system], list(_COVERAGE_DATASETS[system]), day)

    def _no_release(self, what: str, datasets: Iterable[str], day: date | None) -> NoReleaseForDateError:
        wanted = set(datasets)
        installed = [r for r in self.releases if r.dataset in wanted] or self.releases
        listing = "; ".join(f"{r.id} ({r.period_text()})" for r in installed) or "none"
        when = day.isoformat() if day else "any date"
        return NoReleaseForDateError(
            f"no installed {what} release covers {when}. Installed: {listing}.",
            "use a date of service inside an installed release, or install the release for that date.",
        )

    # --- validity -------------------------------------------------------------------------

    def system_of(self, code: str, system: str | None = None) -> tuple[str, str]:
        """Decide the code system and return ``(system, normalized_code)``."""
        raw = code.strip().upper()
        if system == "icd10cm" or (system is None and "." in raw):
            return "icd10cm", icd10cm.normalize_icd(raw)
        if system in ("hcpcs", "cpt"):
            norm = procedures.normalize_procedure_code(raw)
            return ("cpt" if norm[0].isdigit() else "hcpcs"), norm
        if _PROC_SHAPE.match(raw):
            if raw[0].isdigit():
                return "cpt", raw
            # Letter + 4 digits is also an undotted ICD-10-CM shape: prefer the system that knows it.
            if procedures.procedure_validity_spans(self.conn, raw) or not self._icd_known(raw):
                return "hcpcs", raw
        try:
            return "icd10cm", icd10cm.normalize_icd(raw)
        except InvalidCodeFormatError:
            raise InvalidCodeFormatError(
                f"{code.strip()!r} is neither an ICD-10-CM code (e.g. E11.22) nor a CPT/HCPCS code "
                "(5 characters, e.g. 99213 or J3301).",
                "check the code for typos; ICD-10-CM codes have a dot after the third character.",
            ) from None

    def _icd_known(self, code: str) -> bool:
        try:
            norm = icd10cm.normalize_icd(code)
        except InvalidCodeFormatError:
            return False
        return bool(icd10cm.validity_spans(self.conn, norm))

    def validity(self, code: str, day: date | None = None, system: str | None = None) -> Validity:
        """Is ``code`` valid on ``day``? Never raises for a well-formed code; see ``message``."""
        system, norm = self.system_of(code, system)
        raw = self._icd_validity_rows(norm) if system == "icd10cm" else ()
        spans = self._spans(system, norm, raw)
        if day is not None:
            self.check_covered(system, day)
        if not spans:
            header = system == "icd10cm" and self._icd_header(norm, day)
            if header:
                return Validity(
                    norm,
                    system,
                    False,
                    day,
                    (),
                    f"{norm} is a category header, not billable: {header}",
                    header=header,
                )
            return Validity(
                norm,
                system,
                False,
                day,
                (),
                f"{norm} never existed in {_SYSTEM_NAMES[system]} (no installed release lists it).",
            )
        if day is None:
            newest_end = spans[-1][1]
            ok = newest_end is None
            text = (
                f"{norm} is valid {_spans_text(spans)}"
                if ok
                else f"{norm} is no longer valid; valid {_spans_text(spans)}"
            )
            return Validity(norm, system, ok, None, tuple(spans), text, raw)
        ok = any(a <= day and (b is None or day <= b) for a, b in spans)
        if ok:
            return Validity(
                norm, system, True, day, tuple(spans), f"{norm} is valid on {day.isoformat()}", raw
            )
        return Validity(
            norm,
            system,
            False,
            day,
            tuple(spans),
            f"{norm} is not valid on {day.isoformat()}; valid {_spans_text(spans)}",
            raw,
        )

    def _icd_validity_rows(self, code: str) -> tuple[icd10cm.ValiditySpan, ...]:
        newest = self.release_for("icd10cm-tabular", None) if self.records.available else None
        rec = self.records.get(newest.id, code) if newest is not None else None
        if rec is None or "d" not in rec:
            return tuple(icd10cm.validity_spans(self.conn, code))
        return tuple(
            icd10cm.ValiditySpan(
                rel,
                date.fromisoformat(a),
                date.fromisoformat(b) if b else None,
                lo,
                hi,
                None if man is None else bool(man),
                None if una is None else bool(una),
            )
            for rel, a, b, lo, hi, man, una in rec.get("v", [])
        )

    def _spans(
        self, system: str, code: str, icd_rows: tuple[icd10cm.ValiditySpan, ...] = ()
    ) -> list[tuple[date, date | None]]:
        if system == "icd10cm":
            raw = [(s.effective_from, s.effective_to) for s in icd_rows]
        else:
            raw = list(procedures.procedure_validity_spans(self.conn, code))
            if not raw:
                raw = self._file_spans(system, code)
        return _merge_spans(raw)

    def _file_spans(self, system: str, code: str) -> list[tuple[date, date | None]]:
        """Without a validity history, a HCPCS quarter file or a CPT year file vouches for its own period."""
        out: list[tuple[date, date | None]] = []
        if system == "cpt":
            for rel in self.dataset_releases("cpt"):
                if procedures.cpt_description(self.conn, rel.id, code) is not None:
                    out.append((rel.effective_from, rel.effective_to))
            return out
        for rel in self.dataset_releases("hcpcs-level2"):
            row = procedures.hcpcs_row(self.conn, rel.id, code)
            if row is None:
                continue
            start = max(rel.effective_from, row.add_date or rel.effective_from)
            end = rel.effective_to
            if row.term_date is not None:
                end = row.term_date if end is None else min(end, row.term_date)
            if end is None or start <= end:
                out.append((start, end))
        return out

    def _icd_header(self, code: str, day: date | None) -> str | None:
        release = self.release_for("icd10cm-tabular", day, nearest=True)
        if release is None:
            return None
        row = icd10cm.code_row(self.conn, release.id, code)
        if row is None or row.billable:
            return None
        kids = icd10cm.children(self.conn, release.id, code)
        sample = ", ".join(k.code for k in kids[:6])
        return f"use one of its {len(kids)} subdivision(s) ({sample}{', …' if len(kids) > 6 else ''})"

    def require_valid(self, code: str, day: date, system: str | None = None) -> Validity:
        v = self.validity(code, day, system)
        if v.valid:
            return v
        if not v.spans and v.header is None:
            raise UnknownCodeError(v.message, "check the code; `chartcode search TEXT` finds codes by words.")
        raise CodeNotValidOnDateError(
            v.message, "use a code valid on the date of service (see `chartcode lookup`)."
        )

    # --- lookup ---------------------------------------------------------------------------

    def lookup(self, code: str, day: date | None = None, system: str | None = None) -> LookupResult:
        validity = self.validity(code, day, system)
        system, norm = validity.system, validity.code
        if system == "icd10cm":
            result = self._lookup_icd(norm, day, validity)
        else:
            result = self._lookup_procedure(norm, system, day, validity)
        if result.description is None and not validity.spans and not result.hierarchy:
            raise UnknownCodeError(
                validity.message, "check the code; `chartcode search TEXT` finds codes by words."
            )
        if day is not None and not validity.valid:
            if validity.spans:
                raise CodeNotValidOnDateError(validity.message, "use a code valid on the date of service.")
            if result.description is None:
                raise UnknownCodeError(validity.message, "check the code.")
        return result

    def _lookup_icd(self, code: str, day: date | None, validity: Validity) -> LookupResult:
        release = self.release_for("icd10cm-tabular", day, nearest=True)
        notes: list[str] = []
        rec = (
            self.records.lookup(release.id, code) if release is not None and self.records.available else None
        )
        result = LookupResult(
            code=code,
            system="icd10cm",
            description=rec["description"] if rec else None,
            description_release=release.id if rec and release else None,
            billable=bool(rec["billable"]) if rec else bool(validity.spans),
            validity=[{"from": a.isoformat(), "to": b.isoformat() if b else None} for a, b in validity.spans],
            valid_on_date=validity.valid if day else None,
            date=day.isoformat() if day else None,
        )
        if release is not None and day is not None and not release.covers(day):
            notes.append(
                f"description and conventions from {release.id} ({release.period_text()}), "
                f"the nearest installed tabular to {day.isoformat()}"
            )
        if rec is None:
            if validity.spans:
                notes.append(
                    f"{code} is not in the installed tabular ({release.id if release else 'none'}); "
                    "description unavailable"
                )
            mce = [_plain(e) for e in icd10cm.mce_edits_for(self.conn, code)]
        else:
            result.hierarchy = rec["hierarchy"]
            result.conventions = rec["conventions"]
            mce = [
                {
                    "release": r,
                    "edit": e,
                    "age_edit": ae,
                    "age_low": lo,
                    "age_high": hi,
                    "sex": sx,
                    "list_name": ln,
                }
                for r, e, ae, lo, hi, sx, ln in rec["mce"]
            ]
            if not rec["billable"]:
                notes.append("not billable: a header; code to a subdivision")
        ioce = [
            _plain(s)
            for s in validity.raw_icd
            if (s.age_low, s.age_high) not in ((0, 124), (None, None))
            or s.manifestation
            or s.unacceptable_principal_dx
        ]
        result.edits = {"mce": mce, "ioce": ioce}
        result.notes = notes
        return result

    def _lookup_procedure(self, code: str, system: str, day: date | None, validity: Validity) -> LookupResult:
        notes: list[str] = []
        description: str | None = None
        desc_release: str | None = None
        if system == "hcpcs":
            rel = self.release_for("hcpcs-level2", day, nearest=True)
            row = procedures.hcpcs_row(self.conn, rel.id, code) if rel else None
            if row is not None and rel is not None:
                description, desc_release = row.long_description, rel.id
                if day is not None and not rel.covers(day):
                    notes.append(
                        f"description from {rel.id} ({rel.period_text()}), the nearest installed HCPCS file"
                    )
        else:
            rel = self.release_for("cpt", day, nearest=True)
            text = procedures.cpt_description(self.conn, rel.id, code) if rel else None
            if text is not None and rel is not None:
                description, desc_release = text, rel.id
            else:
                notes.append(
                    "CPT descriptors are AMA copyright and not shipped; install your licensed CPT file "
                    "with `chartcode codesets install-cpt FILE` to see them"
                )
        edits: dict[str, Any] = {}
        for setting in ("practitioner", "outpatient_hospital", "dme"):
            mue_rel = self.release_for(f"ncci-mue-{setting}", day)
            if mue_rel is not None:
                m = procedures.mue(self.conn, mue_rel.id, code)
                if m is not None:
                    edits.setdefault("mue", {})[setting] = {**_plain(m), "release": mue_rel.id}
            elif self.has(f"ncci-mue-{setting}") and day is not None:
                edits.setdefault("not_checked", []).append(
                    f"MUE ({setting}): no installed release covers {day}"
                )
        aoc_rel = self.release_for("ncci-aoc", day, nearest=day is None)
        if aoc_rel is not None:
            prim = procedures.addon_primaries(self.conn, aoc_rel.id, code)
            if prim:
                edits["addon"] = {
                    "primary_codes": [p[0] for p in prim][:50],
                    "count": len(prim),
                    "release": aoc_rel.id,
                }
        ptp_rel = self.release_for("ncci-ptp-practitioner", day)
        if ptp_rel is not None:
            (count,) = self.conn.execute(
                "SELECT count(*) FROM ncci_ptp WHERE release = ? AND column1 = ?", (ptp_rel.id, code)
            ).fetchone()
            edits["ptp_pairs_as_column1"] = {"count": count, "release": ptp_rel.id}
        rvu_rel = self.release_for("pfs-rvu", day, nearest=True)
        if rvu_rel is not None:
            r = procedures.rvu(self.conn, rvu_rel.id, code)
            if r is not None:
                edits["pfs"] = {**_plain(r), "release": rvu_rel.id}
        return LookupResult(
            code=code,
            system=system,
            description=description,
            description_release=desc_release,
            billable=bool(validity.spans),
            validity=[{"from": a.isoformat(), "to": b.isoformat() if b else None} for a, b in validity.spans],
            valid_on_date=validity.valid if day else None,
            date=day.isoformat() if day else None,
            edits=edits,
            notes=notes,
        )

    # --- search ---------------------------------------------------------------------------

    def search(
        self, text: str, day: date | None = None, system: str | None = None, top: int = 10
    ) -> list[index_api.SearchHit]:
        if day is not None:
            for s in ("icd10cm", "hcpcs") if system is None else (system,):
                if self.coverage(s) is not None:
                    self.check_covered(s, day)
        releases = []
        for dataset in (
            "icd10cm-index",
            "icd10cm-eindex",
            "icd10cm-drug",
            "icd10cm-neoplasm",
            "icd10cm-tabular",
            "hcpcs-level2",
        ):
            rel = self.release_for(dataset, day, nearest=True)
            if rel is not None:
                releases.append(rel.id)
        return index_api.search(self.conn, text, system=system, releases=releases, top=top)


_COVERAGE_DATASETS = {
    "icd10cm": ("icd10cm-history", "icd10cm-tabular", "icd10cm-codes"),
    "hcpcs": ("hcpcs-validity", "hcpcs-level2"),
    "cpt": ("hcpcs-validity", "cpt"),
}
_SYSTEM_NAMES = {"icd10cm": "ICD-10-CM", "hcpcs": "HCPCS Level II", "cpt": "CPT"}


def _merge_spans(spans: list[tuple[date, date | None]]) -> list[tuple[date, date | None]]:
    """Join spans that touch or overlap (history rows split on attribute changes)."""
    out: list[tuple[date, date | None]] = []
    for start, end in sorted(spans):
        if out:
            p_start, p_end = out[-1]
            if p_end is None:
                continue
            if (start - p_end).days <= 1:
                out[-1] = (p_start, None if end is None else max(p_end, end))
                continue
        out.append((start, end))
    return out


def _spans_text(spans: list[tuple[date, date | None]]) -> str:
    return ", ".join(_span_text(a, b) for a, b in spans)


def _plain(obj: Any) -> Any:
    """Dataclasses (and nested ones) to JSON-ready dicts; dates to ISO strings."""
    if hasattr(obj, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in asdict(obj).items()}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, date):
        return obj.isoformat()
    return obj


def open_kb(path: Path | None = None) -> KnowledgeBase:
    return KnowledgeBase(path or default_kb_path())
