"""Readers for the CMS Medicare Physician Fee Schedule (PFS) files of an RVU release.

* ``PPRRVU<yy>_<MON>.csv``: relative value units per code and modifier -> ``pfs_rvu``. Both the
  mirror's one-line header (the 31 CMS column names) and CMS's own layout (title/copyright rows,
  then a header split over several rows whose last row starts ``HCPCS,MOD,DESCRIPTION``) are
  read; columns are taken by position. The ``DESCRIPTION`` column (AMA CPT text) is never stored.
* ``GPCI<year>.csv``: geographic practice cost indices -> ``pfs_gpci``.
* ``<yy>LOCCO.csv``: locality/county crosswalk -> ``pfs_locality``.
* ``ANES<year>.csv``: anesthesia conversion factors -> ``pfs_anes``.

CMS title rows above the header are skipped; footnote rows (first cell starting with ``*`` or
``Note``), empty rows and a DOS end-of-file mark after the last data row are counted in the load
notes. Anything else that does not parse raises :class:`CodesetFormatError` with its line.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from chartcode.codesets.common import (
    DatasetSpec,
    LoadResult,
    Period,
    Release,
    calendar_year_period,
    month_quarter_period,
)
from chartcode.codesets.formats.ncci import PROCEDURE_CODE, iter_raw_rows
from chartcode.errors import CodesetFormatError

RVU_PATTERN = re.compile(r"PPRRVU(\d\d)_(JAN|APR|JUL|OCT)\.csv", re.IGNORECASE)
GPCI_PATTERN = re.compile(r"GPCI(\d{4})\.csv", re.IGNORECASE)
LOCCO_PATTERN = re.compile(r"(\d\d)LOCCO\.csv", re.IGNORECASE)
ANES_PATTERN = re.compile(r"ANES(\d{4})\.csv", re.IGNORECASE)

DDL_RVU = """
CREATE TABLE IF NOT EXISTS pfs_rvu (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    modifier TEXT NOT NULL,
    status TEXT,
    work_rvu REAL,
    nf_pe_rvu REAL,
    nf_na TEXT,
    f_pe_rvu REAL,
    f_na TEXT,
    mp_rvu REAL,
    nf_total REAL,
    f_total REAL,
    pctc TEXT,
    global_days TEXT,
    mult_proc TEXT,
    bilat_surg TEXT,
    asst_surg TEXT,
    co_surg TEXT,
    team_surg TEXT,
    endo_base TEXT,
    conv_factor REAL,
    phys_supervision TEXT,
    diag_imaging_family TEXT,
    PRIMARY KEY (release, code, modifier)
) WITHOUT ROWID;
"""
DDL_GPCI = """
CREATE TABLE IF NOT EXISTS pfs_gpci (
    release TEXT NOT NULL,
    mac TEXT NOT NULL,
    state TEXT,
    locality TEXT NOT NULL,
    locality_name TEXT,
    pw REAL NOT NULL,
    pe REAL NOT NULL,
    mp REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pfs_gpci_locality ON pfs_gpci (release, mac, locality);
"""
DDL_LOCALITY = """
CREATE TABLE IF NOT EXISTS pfs_locality (
    release TEXT NOT NULL,
    mac TEXT NOT NULL,
    locality TEXT NOT NULL,
    state TEXT,
    area TEXT,
    counties TEXT
);
CREATE INDEX IF NOT EXISTS pfs_locality_locality ON pfs_locality (release, mac, locality);
"""
DDL_ANES = """
CREATE TABLE IF NOT EXISTS pfs_anes (
    release TEXT NOT NULL,
    mac TEXT NOT NULL,
    locality TEXT NOT NULL,
    locality_name TEXT,
    cf REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pfs_anes_locality ON pfs_anes (release, mac, locality);
"""

# The mirror's header: the 31 CMS column names, in CMS order.
RVU_COLUMNS: tuple[str, ...] = (
    "HCPCS", "MOD", "DESCRIPTION", "STATUS CODE", "NOT USED FOR MEDICARE PAYMENT", "WORK RVU",
    "NON-FAC PE RVU", "NON-FAC NA INDICATOR", "FACILITY PE RVU", "FACILITY NA INDICATOR", "MP RVU",
    "NON-FACILITY TOTAL", "FACILITY TOTAL", "PCTC IND", "GLOB DAYS", "PRE OP", "INTRA OP", "POST OP",
    "MULT PROC", "BILAT SURG", "ASST SURG", "CO SURG", "TEAM SURG", "ENDO BASE", "CONV FACTOR",
    "PHYSICIAN SUPERVISION OF DIAGNOSTIC PROCEDURES", "CALCULATION FLAG",
    "DIAGNOSTIC IMAGING FAMILY INDICATOR", "NON-FACILITY PE USED FOR OPPS PAYMENT AMOUNT",
    "FACILITY PE USED FOR OPPS PAYMENT AMOUNT", "MP USED FOR OPPS PAYMENT AMOUNT",
)  # fmt: skip
# The last row of CMS's split header (the rows above it hold the first words of each name).
RVU_CMS_LAST_HEADER_ROW: tuple[str, ...] = (
    "HCPCS", "MOD", "DESCRIPTION", "CODE", "PAYMENT", "RVU", "PE RVU", "INDICATOR", "PE RVU",
    "INDICATOR", "RVU", "TOTAL", "TOTAL", "IND", "DAYS", "OP", "OP", "OP", "PROC", "SURG", "SURG",
    "SURG", "SURG", "BASE", "FACTOR", "PROCEDURES", "FLAG", "INDICATOR", "AMOUNT", "AMOUNT", "AMOUNT",
)  # fmt: skip
# (column index, kind) stored in pfs_rvu after code and modifier; kind: "t" text, "f" number.
_RVU_STORED: tuple[tuple[int, str], ...] = (
    (3, "t"), (5, "f"), (6, "f"), (7, "t"), (8, "f"), (9, "t"), (10, "f"), (11, "f"), (12, "f"),
    (13, "t"), (14, "t"), (18, "t"), (19, "t"), (20, "t"), (21, "t"), (22, "t"), (23, "t"),
    (24, "f"), (25, "t"), (27, "t"),
)  # fmt: skip
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
_MODIFIER = re.compile(r"[0-9A-Z]{2}")
_MAX_PREAMBLE = 30


def _number(text: str, path: Path, line: int, column: str) -> float:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise CodesetFormatError(path, line, f"{column} {text!r} is not a number")
    return float(text)


def _optional_number(text: str, path: Path, line: int, column: str) -> float | None:
    return None if not text.strip() else _number(text, path, line, column)


def _header_and_rows(
    path: Path, is_header: Callable[[list[str]], bool], what: str
) -> tuple[int, list[str], Iterator[tuple[int, list[str]]]]:
    """Skip CMS title rows; return the header line, the header and an iterator over the rest."""
    rows = iter_raw_rows(path)
    for line, fields in rows:
        if is_header(fields):
            return line, [f.strip() for f in fields], rows
        if line > _MAX_PREAMBLE or (fields and PROCEDURE_CODE.fullmatch(fields[0].strip())):
            break
    raise CodesetFormatError(path, None, f"no {what} header row found near the top of the file")


def _is_trailer(fields: list[str]) -> bool:
    first = fields[0].strip() if fields else ""
    rest_empty = all(not f.strip() for f in fields[1:])
    if not first:
        return rest_empty
    return first == "\x1a" or (
        rest_empty and (first.startswith("*") or first.lower().startswith(("note", "source")))
    )


def _data_rows(
    path: Path, rows: Iterator[tuple[int, list[str]]], width: int, notes: list[str]
) -> Iterator[tuple[int, list[str]]]:
    """Data rows with exactly ``width`` fields; trailing footnotes/empty rows are counted in ``notes``."""
    trailer: tuple[int, int] | None = None  # (first line, count)
    for line, fields in rows:
        if _is_trailer(fields):
            trailer = (trailer[0], trailer[1] + 1) if trailer else (line, 1)
            continue
        if trailer is not None:
            raise CodesetFormatError(path, trailer[0], "an empty or footnote row inside the table")
        if len(fields) != width:
            raise CodesetFormatError(
                path, line, f"{len(fields)} fields, expected {width} (truncated or malformed row)"
            )
        yield line, fields
    if trailer is not None:
        notes.append(
            f"{trailer[1]} footnote/empty row(s) after the table (from line {trailer[0]}) not loaded"
        )


def _check_keywords(
    path: Path, line: int, header: Sequence[str], expected: Sequence[tuple[str, ...]], what: str
) -> None:
    lowered = [h.lower() for h in header]
    if len(lowered) != len(expected) or not all(
        any(word in col for word in words) for words, col in zip(expected, lowered, strict=True)
    ):
        names = ", ".join("/".join(words) for words in expected)
        raise CodesetFormatError(
            path, line, f"unexpected {what} header {list(header)!r}; expected columns like: {names}"
        )


def _mac(text: str, path: Path, line: int) -> str:
    mac = text.strip()
    if not mac.isdigit() or len(mac) > 5:
        raise CodesetFormatError(path, line, f"contractor (MAC) {text!r} is not a number of up to 5 digits")
    return mac.zfill(5)


def _locality(text: str, path: Path, line: int) -> str:
    locality = text.strip()
    if not locality.isdigit() or len(locality) > 2:
        raise CodesetFormatError(path, line, f"locality {text!r} is not a number of up to 2 digits")
    return locality.zfill(2)


# --- RVU ---------------------------------------------------------------------------------------


def _is_rvu_header(fields: list[str]) -> bool:
    return len(fields) >= 2 and fields[0].strip().upper() == "HCPCS" and fields[1].strip().upper() == "MOD"


def load_rvu(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    """Load ``PPRRVU<yy>_<MON>.csv`` into ``pfs_rvu`` (never its DESCRIPTION column)."""
    header_line, header, rows = _header_and_rows(path, _is_rvu_header, "'HCPCS,MOD,DESCRIPTION,...'")
    upper = tuple(h.upper() for h in header)
    if upper not in (RVU_COLUMNS, RVU_CMS_LAST_HEADER_ROW):
        raise CodesetFormatError(
            path,
            header_line,
            f"unexpected RVU header ({len(header)} columns, starting {list(header[:6])!r}); "
            f"expected the {len(RVU_COLUMNS)} PPRRVU columns HCPCS, MOD, DESCRIPTION, STATUS CODE, ...",
        )
    notes: list[str] = []
    seen: set[tuple[str, str]] = set()

    def records() -> Iterator[list[object]]:
        for line, fields in _data_rows(path, rows, len(RVU_COLUMNS), notes):
            code = fields[0].strip().upper()
            if not PROCEDURE_CODE.fullmatch(code):
                raise CodesetFormatError(path, line, f"HCPCS {fields[0]!r} is not a CPT/HCPCS code")
            modifier = fields[1].strip().upper()
            if modifier and not _MODIFIER.fullmatch(modifier):
                raise CodesetFormatError(path, line, f"MOD {fields[1]!r} is not a 2-character modifier")
            if (code, modifier) in seen:
                raise CodesetFormatError(path, line, f"{code} {modifier or '(no modifier)'} is listed twice")
            seen.add((code, modifier))
            record: list[object] = [release.id, code, modifier]
            for index, kind in _RVU_STORED:
                value = fields[index].strip()
                if kind == "f":
                    record.append(_optional_number(value, path, line, RVU_COLUMNS[index]))
                else:
                    record.append(value or None)
            yield record

    conn.executemany(f"INSERT INTO pfs_rvu VALUES ({', '.join('?' * 23)})", records())
    return LoadResult(rows=len(seen), notes=tuple(notes))


# --- GPCI --------------------------------------------------------------------------------------

_GPCI_WORDS = (
    ("contractor", "mac"), ("state",), ("locality",), ("name",), ("pw", "work"), ("pe", "practice"),
    ("mp", "malpractice"),
)  # fmt: skip


def _is_locality_header(fields: list[str]) -> bool:
    first = fields[0].strip().lower() if fields else ""
    return "contractor" in first or first in ("mac", "carrier")


def load_gpci(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    """Load ``GPCI<year>.csv`` (MAC, state, locality, name, PW, PE, MP GPCI) into ``pfs_gpci``."""
    line0, header, rows = _header_and_rows(
        path, _is_locality_header, "'Medicare Administrative Contractor ...'"
    )
    _check_keywords(path, line0, header, _GPCI_WORDS, "GPCI")
    year = release.effective_from.year
    for heading in header[4:]:
        stated = re.findall(r"\b(?:19|20)\d\d\b", heading)
        if stated and int(stated[0]) != year:
            raise CodesetFormatError(
                path, line0, f"column {heading!r} is for {stated[0]}, but the file is for {year}"
            )
    notes: list[str] = []
    count = 0

    def records() -> Iterator[tuple[object, ...]]:
        nonlocal count
        for line, f in _data_rows(path, rows, 7, notes):
            count += 1
            yield (
                release.id,
                _mac(f[0], path, line),
                f[1].strip() or None,
                _locality(f[2], path, line),
                f[3].strip() or None,
                _number(f[4], path, line, "PW GPCI"),
                _number(f[5], path, line, "PE GPCI"),
                _number(f[6], path, line, "MP GPCI"),
            )

    conn.executemany("INSERT INTO pfs_gpci VALUES (?, ?, ?, ?, ?, ?, ?, ?)", records())
    return LoadResult(rows=count, notes=tuple(notes))


# --- locality crosswalk ------------------------------------------------------------------------

_LOCCO_WORDS = (("contractor", "mac"), ("locality",), ("state",), ("area",), ("count",))


def load_locality(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    """Load ``<yy>LOCCO.csv`` into ``pfs_locality``; a blank state repeats the previous row's state."""
    line0, header, rows = _header_and_rows(
        path, _is_locality_header, "'Medicare Administrative Contractor ...'"
    )
    _check_keywords(path, line0, header, _LOCCO_WORDS, "locality crosswalk")
    notes: list[str] = []
    count = 0
    filled = 0

    def records() -> Iterator[tuple[object, ...]]:
        nonlocal count, filled
        state: str | None = None
        for line, f in _data_rows(path, rows, 5, notes):
            count += 1
            if f[2].strip():
                state = f[2].strip()
            elif state is None:
                raise CodesetFormatError(path, line, "the first row has no state")
            else:
                filled += 1
            yield (
                release.id,
                _mac(f[0], path, line),
                _locality(f[1], path, line),
                state,
                f[3].strip() or None,
                f[4].strip() or None,
            )

    conn.executemany("INSERT INTO pfs_locality VALUES (?, ?, ?, ?, ?, ?)", records())
    if filled:
        notes.append(f"{filled} row(s) without a state took the state of the row above (CMS layout)")
    return LoadResult(rows=count, notes=tuple(notes))


# --- anesthesia conversion factors -------------------------------------------------------------

_ANES_WORDS_4 = (("contractor", "mac", "carrier"), ("locality",), ("name",), ("conversion", "factor", "cf"))
_ANES_WORDS_3 = (("contractor", "mac", "carrier"), ("locality",), ("conversion", "factor", "cf"))


def load_anes(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    """Load ``ANES<year>.csv`` (contractor, locality, [locality name], CF) into ``pfs_anes``."""
    line0, header, rows = _header_and_rows(path, _is_locality_header, "'Contractor,Locality,...'")
    _check_keywords(path, line0, header, _ANES_WORDS_4 if len(header) == 4 else _ANES_WORDS_3, "anesthesia")
    named = len(header) == 4
    notes: list[str] = []
    count = 0

    def records() -> Iterator[tuple[object, ...]]:
        nonlocal count
        for line, f in _data_rows(path, rows, len(header), notes):
            count += 1
            yield (
                release.id,
                _mac(f[0], path, line),
                _locality(f[1], path, line),
                (f[2].strip() or None) if named else None,
                _number(f[-1], path, line, "anesthesia conversion factor"),
            )

    conn.executemany("INSERT INTO pfs_anes VALUES (?, ?, ?, ?, ?)", records())
    return LoadResult(rows=count, notes=tuple(notes))


# --- specs -------------------------------------------------------------------------------------


def _rvu_period(match: re.Match[str]) -> Period:
    return month_quarter_period(2000 + int(match.group(1)), match.group(2))


def _year4_period(match: re.Match[str]) -> Period:
    return calendar_year_period(int(match.group(1)))


def _year2_period(match: re.Match[str]) -> Period:
    return calendar_year_period(2000 + int(match.group(1)))


SPECS: list[DatasetSpec] = [
    DatasetSpec(
        dataset="pfs-rvu",
        system="pfs",
        pattern=RVU_PATTERN,
        period=_rvu_period,
        load=load_rvu,
        ddl=DDL_RVU,
        order=70,
        description="Physician Fee Schedule relative value units",
        official_name="PPRRVU<yy>_<MON>.csv",
    ),
    DatasetSpec(
        dataset="pfs-gpci",
        system="pfs",
        pattern=GPCI_PATTERN,
        period=_year4_period,
        load=load_gpci,
        ddl=DDL_GPCI,
        order=70,
        description="Physician Fee Schedule geographic practice cost indices",
        official_name="GPCI<year>.csv",
    ),
    DatasetSpec(
        dataset="pfs-locality",
        system="pfs",
        pattern=LOCCO_PATTERN,
        period=_year2_period,
        load=load_locality,
        ddl=DDL_LOCALITY,
        order=70,
        description="Physician Fee Schedule locality/county crosswalk",
        official_name="<yy>LOCCO.csv",
    ),
    DatasetSpec(
        dataset="pfs-anes",
        system="pfs",
        pattern=ANES_PATTERN,
        period=_year4_period,
        load=load_anes,
        ddl=DDL_ANES,
        order=70,
        description="Physician Fee Schedule anesthesia conversion factors",
        official_name="ANES<year>.csv",
    ),
]
