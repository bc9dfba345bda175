"""ICD-10-CM queries on an installed knowledge base: codes, hierarchy, conventions, validity, MCE.

Pure functions of an open :class:`sqlite3.Connection` and, for the tabular, a release id such as
``"icd10cm-tabular:FY2026"``. Each call runs one to three indexed queries. Codes may be given with
or without the dot and in any case; they are normalised with :func:`normalize_icd`.

Range convention for note targets: a target ``(low, high)`` covers a code when the code lies between
the bounds in code order, each bound including all its children: ``("E10", "E13")`` covers
``E11.22`` and ``E13.9``; ``("A04.0", "A04.4")`` covers ``A04.4`` and ``A04.41`` (if it existed).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from operator import itemgetter
from typing import Any

from chartcode.codesets.formats.icd10cm_tabular import CATEGORY
from chartcode.errors import InvalidCodeFormatError, KnowledgeBaseMissingError, UnknownCodeError

_DOTTED = re.compile(rf"{CATEGORY}(?:\.[0-9A-Z]{{1,4}})?")
_PLAIN = re.compile(rf"({CATEGORY})([0-9A-Z]{{0,4}})")


# --- normalisation ---------------------------------------------------------------------------


def _format_error(code: str, reason: str) -> InvalidCodeFormatError:
    return InvalidCodeFormatError(f"{code!r} is not a valid ICD-10-CM code format: {reason}")


def normalize_icd(code: str) -> str:
    """``"e1122"``, ``"E11.22"``, ``" E11.22 "`` -> ``"E11.22"``; malformed input raises
    :class:`InvalidCodeFormatError` saying what is wrong (``"E11."``: a dot must be followed by 1-4
    characters, e.g. E11.9)."""
    text = code.strip().upper()
    if _DOTTED.fullmatch(text):
        return text
    plain = _PLAIN.fullmatch(text)
    if plain:
        head, tail = plain.groups()
        return f"{head}.{tail}" if tail else head
    if not text:
        raise _format_error(code, "the code is empty")
    if not re.fullmatch(r"[A-Z0-9.]+", text):
        raise _format_error(code, "only letters, digits and one dot are allowed, e.g. E11.9")
    if text.count(".") > 1:
        raise _format_error(code, "only one dot is allowed, e.g. S72.001A")
    if not text[0].isalpha():
        raise _format_error(code, "it must start with a letter, e.g. E11.9")
    head, dot, tail = text.partition(".")
    if dot:
        if len(head) != 3:
            raise _format_error(code, "the dot must follow the 3-character category, e.g. E11.9")
        if not 1 <= len(tail) <= 4:
            raise _format_error(code, "a dot must be followed by 1-4 characters, e.g. E11.9")
    else:
        if len(text) < 3:
            raise _format_error(code, "a code has at least 3 characters, e.g. E11")
        if len(text) > 7:
            raise _format_error(code, "a code has at most 7 characters, e.g. S72.001A")
    # Every other shape matched above, so the category itself is wrong (e.g. "EEE9").
    raise _format_error(
        code, "the first 3 characters must be a letter, a digit and a letter or digit, e.g. E11 or C7A"
    )


def _plain(code: str) -> str:
    return code.replace(".", "")


def _dotted(plain: str) -> str:
    return f"{plain[:3]}.{plain[3:]}" if len(plain) > 3 else plain


def _prefixes(code: str) -> list[str]:
    """``"E11.22"`` -> ``["E11.22", "E11.2", "E11"]`` (the code and every possible ancestor)."""
    plain = _plain(code)
    return [_dotted(plain[:n]) for n in range(len(plain), 2, -1)]


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IcdCode:
    code: str
    description: str
    billable: bool
    parent: str | None
    chapter: str | None
    section: str | None
    depth: int


@dataclass(frozen=True)
class Note:
    text: str
    targets: tuple[tuple[str, str], ...]  # dotted (low, high) code ranges the text refers to
    source_code: str  # where the note is written: a code, a section id ("E08-E13") or "chapter:4"
    kind: str = ""  # icd_notes.kind: excludes1, code_first, ...


@dataclass(frozen=True)
class Conventions:
    """Instructional notes that apply to a code: its own and those of its ancestors, section and
    chapter (nearest first). ``seventh`` lists the 7th characters that apply, defined at
    ``seventh_source``; ``placeholder_x`` says whether X placeholders fill the code (or, for a
    7-character code, its base) up to 6 characters before the 7th."""

    excludes1: tuple[Note, ...] = ()
    excludes2: tuple[Note, ...] = ()
    includes: tuple[Note, ...] = ()
    inclusion_terms: tuple[Note, ...] = ()
    code_first: tuple[Note, ...] = ()
    use_additional: tuple[Note, ...] = ()
    code_also: tuple[Note, ...] = ()
    notes: tuple[Note, ...] = ()
    seventh_notes: tuple[Note, ...] = ()
    seventh: tuple[tuple[str, str], ...] = ()
    seventh_source: str | None = None
    placeholder_x: bool = False


@dataclass(frozen=True)
class CodeDetails:
    code: IcdCode
    ancestors: tuple[IcdCode, ...]  # parent first, category last
    conventions: Conventions


@dataclass(frozen=True)
class ValiditySpan:
    release: str
    effective_from: date
    effective_to: date | None  # None: still valid
    age_low: int | None
    age_high: int | None
    manifestation: bool | None
    unacceptable_principal_dx: bool | None

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


@dataclass(frozen=True)
class MceEdit:
    release: str
    edit: str  # age | sex | manifestation
    age_edit: str | None  # NEWBORN | PEDIATRIC | MATERNITY | ADULT
    age_low: int | None
    age_high: int | None
    sex: str | None  # the sex the code is allowed for: F | M
    list_name: str | None


# kind in icd_notes -> Conventions field
NOTE_FIELDS = {
    "excludes1": "excludes1",
    "excludes2": "excludes2",
    "includes": "includes",
    "inclusion_term": "inclusion_terms",
    "code_first": "code_first",
    "use_additional": "use_additional",
    "code_also": "code_also",
    "note": "notes",
    "seventh_note": "seventh_notes",
}

_SEQ = itemgetter(2)
_CODE_COLUMNS = "code, description, billable, parent, chapter, section, depth"


def _query(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Any]:
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            raise KnowledgeBaseMissingError(
                f"the knowledge base lacks a table ({exc})",
                "install the ICD-10-CM code sets (tabular, history, MCE lists) first.",
            ) from None
        raise


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _icd(row: Sequence[Any]) -> IcdCode:
    return IcdCode(row[0], row[1], bool(row[2]), row[3], row[4], row[5], row[6])


def _rows_with_prefixes(conn: sqlite3.Connection, release: str, codes: Iterable[str]) -> dict[str, IcdCode]:
    candidates = list(dict.fromkeys(p for code in codes for p in _prefixes(code)))
    rows = _query(
        conn,
        f"SELECT {_CODE_COLUMNS} FROM icd_codes WHERE release = ? AND code IN ({_marks(len(candidates))})",
        [release, *candidates],
    )
    return {row[0]: _icd(row) for row in rows}


def _chain(code: str, rows: dict[str, IcdCode]) -> list[IcdCode]:
    """The code's row then its ancestors' (parent first); empty when the code is not in ``rows``."""
    chain: list[IcdCode] = []
    current = rows.get(code)
    while current is not None:
        chain.append(current)
        current = rows.get(current.parent) if current.parent else None
    return chain


def _scopes(chain: list[IcdCode]) -> list[str]:
    """Where notes that apply to the first code of ``chain`` can be written, nearest first."""
    scopes = [row.code for row in chain]
    if chain:
        top = chain[-1]
        if top.section and top.section not in scopes:
            scopes.append(top.section)
        if top.chapter:
            scopes.append(f"chapter:{top.chapter}")
    return scopes


# --- queries ---------------------------------------------------------------------------------


def code_row(conn: sqlite3.Connection, release: str, code: str) -> IcdCode | None:
    """The code's row in the tabular release, or ``None`` when the release has no such code."""
    rows = _query(
        conn,
        f"SELECT {_CODE_COLUMNS} FROM icd_codes WHERE release = ? AND code = ?",
        (release, normalize_icd(code)),
    )
    return _icd(rows[0]) if rows else None


def ancestors(conn: sqlite3.Connection, release: str, code: str) -> list[str]:
    """The parent chain of the code, parent first, up to the category (``[]`` for a category)."""
    code = normalize_icd(code)
    return [row.code for row in _chain(code, _rows_with_prefixes(conn, release, [code]))[1:]]


def children(conn: sqlite3.Connection, release: str, code: str) -> list[IcdCode]:
    """The direct children of the code (subcategories, codes or 7th-character codes), in code order."""
    rows = _query(
        conn,
        f"SELECT {_CODE_COLUMNS} FROM icd_codes WHERE release = ? AND parent = ? ORDER BY code",
        (release, normalize_icd(code)),
    )
    return [_icd(row) for row in rows]


def _conventions(conn: sqlite3.Connection, release: str, chain: list[IcdCode]) -> Conventions:
    scopes = _scopes(chain)
    codes = [row.code for row in chain]
    rows = _query(
        conn,
        "SELECT code, kind, seq, text, targets FROM icd_notes"
        f" WHERE release = ? AND code IN ({_marks(len(scopes))})"
        f" UNION ALL SELECT code, 'seventh', 0, char, meaning FROM icd_seventh"
        f" WHERE release = ? AND code IN ({_marks(len(codes))})",
        [release, *scopes, release, *codes],
    )
    by_scope: dict[str, list[tuple[str, str, int, str, str]]] = {}
    for row in rows:
        by_scope.setdefault(row[0], []).append(row)
    grouped: dict[str, list[Note]] = {name: [] for name in NOTE_FIELDS.values()}
    seventh: list[tuple[str, str]] = []
    seventh_source: str | None = None
    for scope in scopes:  # nearest first
        bucket = by_scope.get(scope)
        if not bucket:
            continue
        if len(bucket) > 1:
            bucket.sort(key=_SEQ)
        for source, kind, _seq, text, targets in bucket:
            if kind == "seventh":
                if seventh_source is None or seventh_source == source:  # the nearest definition applies
                    seventh_source = source
                    seventh.append((text, targets))
                continue
            field_name = NOTE_FIELDS.get(kind)
            if field_name is not None:
                grouped[field_name].append(_note(text, targets, source, kind))
    placeholder = False
    if seventh and chain:
        own = chain[0]
        base = own.parent if len(_plain(own.code)) == 7 and own.parent else own.code
        placeholder = len(_plain(base)) < 6
    return Conventions(
        **{name: tuple(notes) for name, notes in grouped.items()},
        seventh=tuple(seventh),
        seventh_source=seventh_source,
        placeholder_x=placeholder,
    )


@lru_cache(maxsize=1 << 16)
def _note(text: str, targets: str | None, source: str, kind: str) -> Note:
    """Notes are immutable and shared by many codes: build each once."""
    parsed = tuple((low, high) for low, high in json.loads(targets)) if targets else ()
    return Note(text, parsed, source, kind)


def conventions(conn: sqlite3.Connection, release: str, code: str) -> Conventions:
    """All instructional notes that apply to the code, inherited ones included (nearest first)."""
    code = normalize_icd(code)
    chain = _chain(code, _rows_with_prefixes(conn, release, [code]))
    if not chain:
        raise UnknownCodeError(f"{code} is not a code of {release}")
    return _conventions(conn, release, chain)


def code_details(conn: sqlite3.Connection, release: str, code: str) -> CodeDetails | None:
    """Row, ancestors and conventions of a code in two queries; ``None`` for an unknown code."""
    code = normalize_icd(code)
    chain = _chain(code, _rows_with_prefixes(conn, release, [code]))
    if not chain:
        return None
    return CodeDetails(chain[0], tuple(chain[1:]), _conventions(conn, release, chain))


def covers(target: tuple[str, str], code: str) -> bool:
    """Whether a note target ``(low, high)`` covers ``code`` (bounds include their children)."""
    plain = _plain(code)
    low, high = _plain(target[0]), _plain(target[1])
    return plain >= low and (plain <= high or plain.startswith(high))


def excludes1_conflict(conn: sqlite3.Connection, release: str, code_a: str, code_b: str) -> Note | None:
    """An Excludes1 note, at either code or at an ancestor, section or chapter of it, whose targets
    cover the other code; ``None`` when the two codes may be reported together."""
    code_a, code_b = normalize_icd(code_a), normalize_icd(code_b)
    rows = _rows_with_prefixes(conn, release, [code_a, code_b])
    chain_a, chain_b = _chain(code_a, rows), _chain(code_b, rows)
    scopes_a, scopes_b = _scopes(chain_a), _scopes(chain_b)
    scopes = list(dict.fromkeys(scopes_a + scopes_b))
    if not scopes:
        return None
    notes = _query(
        conn,
        f"SELECT code, seq, text, targets FROM icd_notes WHERE release = ? AND kind = 'excludes1'"
        f" AND targets IS NOT NULL AND code IN ({_marks(len(scopes))})",
        [release, *scopes],
    )
    by_scope: dict[str, list[Note]] = {}
    for source, _seq, text, targets in sorted(notes, key=lambda r: r[1]):
        by_scope.setdefault(source, []).append(_note(text, targets, source, "excludes1"))
    for own_scopes, other in ((scopes_a, code_b), (scopes_b, code_a)):
        for scope in own_scopes:
            for note in by_scope.get(scope, ()):
                if any(covers(target, other) for target in note.targets):
                    return note
    return None


def validity_spans(conn: sqlite3.Connection, code: str) -> list[ValiditySpan]:
    """Validity spans of the code across every installed history release, oldest first."""
    rows = _query(
        conn,
        "SELECT release, effective_from, effective_to, age_low, age_high, manifestation,"
        " unacceptable_principal_dx FROM icd_validity WHERE code = ? ORDER BY effective_from, release",
        (normalize_icd(code),),
    )
    return [
        ValiditySpan(
            release,
            date.fromisoformat(start),
            date.fromisoformat(end) if end else None,
            age_low,
            age_high,
            None if manifestation is None else bool(manifestation),
            None if unacceptable is None else bool(unacceptable),
        )
        for release, start, end, age_low, age_high, manifestation, unacceptable in rows
    ]


def mce_edits_for(conn: sqlite3.Connection, code: str) -> list[MceEdit]:
    """The MCE age, sex and manifestation lists the code is on, across installed MCE releases."""
    rows = _query(
        conn,
        "SELECT release, edit, age_edit, age_low, age_high, sex, list_name FROM mce_edits WHERE code = ?"
        " ORDER BY release, edit",
        (normalize_icd(code),),
    )
    return [MceEdit(*row) for row in rows]


def count_valid_on(conn: sqlite3.Connection, day: date) -> int:
    """How many codes the installed history says were valid on ``day``."""
    rows = _query(
        conn,
        "SELECT COUNT(DISTINCT code) FROM icd_validity"
        " WHERE effective_from <= ? AND (effective_to IS NULL OR effective_to >= ?)",
        (day.isoformat(), day.isoformat()),
    )
    return int(rows[0][0])
