"""Readers for HCPCS Level II (CMS alpha-numeric file) and the HCPCS/CPT code-validity spans.

* ``HCPC<year>_<JAN|APR|JUL|OCT>_ANWEB*.csv|xlsx``: the CMS quarterly alpha-numeric HCPCS file
  with the 45 ANWEB column headings in its first row (CMS's newer files add ``OPPS``,
  ``OPPS_PI`` and ``OPPS_DT`` after ``ASC_DT``; those are accepted and ignored). Record ids:
  ``RECID`` 3 starts a procedure, 4 continues its long description (appended), 7/8 are modifier
  records (counted in the load notes, not stored here: modifiers come from ``modifiers.csv``).
  Table ``hcpcs_codes``; ``pricing``, ``tos`` and ``xref`` are JSON lists of the non-empty
  ``PRICE1..4``, ``TOS1..5`` and ``XREF1..5`` values; dates are ISO or NULL.
* ``hcpcs_cpt_validity.csv`` (``code,effective_from,effective_to``): I/OCE validity spans of every
  HCPCS code number (CPT and Level II); table ``hcpcs_validity``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import warnings
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from chartcode.codesets.common import (
    DatasetSpec,
    LoadResult,
    Period,
    Release,
    month_quarter_period,
    parse_iso_date,
    read_delimited,
)
from chartcode.codesets.formats.ncci import iter_raw_rows
from chartcode.errors import CodesetFormatError

ANWEB_PATTERN = re.compile(r"HCPC(\d{4})_(JAN|APR|JUL|OCT)_ANWEB.*\.(csv|xlsx)", re.IGNORECASE)
VALIDITY_PATTERN = re.compile(r"hcpcs_cpt_validity\.csv", re.IGNORECASE)

ANWEB_COLUMNS: tuple[str, ...] = (
    "HCPC", "SEQNUM", "RECID", "LONG DESCRIPTION", "SHORT DESCRIPTION",
    "PRICE1", "PRICE2", "PRICE3", "PRICE4", "MULT_PI", "CIM1", "CIM2", "CIM3", "MCM1", "MCM2", "MCM3",
    "STATUTE", "LABCERT1", "LABCERT2", "LABCERT3", "LABCERT4", "LABCERT5", "LABCERT6", "LABCERT7",
    "LABCERT8", "XREF1", "XREF2", "XREF3", "XREF4", "XREF5", "COV", "ASC_GRP", "ASC_DT", "PROCNOTE",
    "BETOS", "TOS1", "TOS2", "TOS3", "TOS4", "TOS5", "ANEST_BU", "ADD DT", "ACT EFF DT", "TERM DT",
    "ACTION CD",
)  # fmt: skip
_OPPS = ("OPPS", "OPPS_PI", "OPPS_DT")
ANWEB_COLUMNS_OPPS: tuple[str, ...] = (*ANWEB_COLUMNS[:33], *_OPPS, *ANWEB_COLUMNS[33:])

HCPCS_DDL = """
CREATE TABLE IF NOT EXISTS hcpcs_codes (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    seqnum TEXT,
    long_description TEXT NOT NULL,
    short_description TEXT,
    add_date TEXT,
    action_eff_date TEXT,
    term_date TEXT,
    action_code TEXT,
    coverage TEXT,
    betos TEXT,
    pricing TEXT NOT NULL,
    mult_pi TEXT,
    tos TEXT NOT NULL,
    xref TEXT NOT NULL,
    PRIMARY KEY (release, code)
) WITHOUT ROWID;
"""

VALIDITY_DDL = """
CREATE TABLE IF NOT EXISTS hcpcs_validity (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    effective_to TEXT
);
CREATE INDEX IF NOT EXISTS hcpcs_validity_code ON hcpcs_validity (code);
"""

LEVEL2_CODE = re.compile(r"[A-Z][0-9]{4}")
# CPT (5 digits), Category II (####F), Category III (####T), PLA (####U), MAAA (####M),
# vaccine (####A) and Level II (letter + 4 digits).
ANY_HCPCS_CODE = re.compile(r"[0-9]{4}[0-9AFMTU]|[A-Z][0-9]{4}")
# Zero padding for cells that a spreadsheet stored as numbers.
_XLSX_PAD = {"SEQNUM": 5, "PRICE1": 2, "PRICE2": 2, "PRICE3": 2, "PRICE4": 2, "PROCNOTE": 4, "RECID": 1}
_DATE_COLUMNS = ("ADD DT", "ACT EFF DT", "TERM DT", "ASC_DT", "OPPS_DT")


def _anweb_period(match: re.Match[str]) -> Period:
    return month_quarter_period(int(match.group(1)), match.group(2))


def _iso_or_none(text: str, path: Path, line: int, column: str) -> str | None:
    if not text:
        return None
    if len(text) != 8 or not text.isdigit():
        raise CodesetFormatError(path, line, f"{column} {text!r} is not a YYYYMMDD date")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
    except ValueError:
        raise CodesetFormatError(path, line, f"{column} {text!r} is not a real date") from None


def _cell_text(value: object, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.strftime("%Y%m%d")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).zfill(_XLSX_PAD.get(column, 0))
    return str(value).strip()


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """Rows of the first worksheet as text (header included); trailing empty rows are dropped."""
    try:
        from openpyxl import load_workbook
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise CodesetFormatError(path, None, f"reading .xlsx needs openpyxl ({exc})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CodesetFormatError(
            path, None, f"not a readable .xlsx workbook ({exc}); it may be truncated"
        ) from None
    try:
        sheet = workbook.worksheets[0]
        header: list[str] = []
        pending_blank: list[int] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if line == 1:
                    header = [_cell_text(v, "") for v in values]
                    while header and header[-1] == "":
                        header.pop()
                    yield line, header
                    continue
                cells = list(values)
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                    pending_blank.append(line)
                    continue
                if pending_blank:
                    raise CodesetFormatError(path, pending_blank[0], "an empty row inside the table")
                extra = cells[len(header) :]
                if any(v not in (None, "") for v in extra):
                    raise CodesetFormatError(path, line, f"{len(cells)} cells, expected {len(header)}")
                cells = cells[: len(header)] + [None] * (len(header) - len(cells))
                yield line, [_cell_text(v, col) for v, col in zip(cells, header, strict=True)]
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
        raise CodesetFormatError(
            path, None, f"cannot read the workbook ({exc}); it may be truncated"
        ) from None
    finally:
        workbook.close()


def _anweb_records(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    rows = _xlsx_rows(path) if path.suffix.lower() == ".xlsx" else iter_raw_rows(path)
    header: list[str] | None = None
    for line, fields in rows:
        if header is None:
            header = [h.strip().lstrip("\ufeff") for h in fields]
            if tuple(header) not in (ANWEB_COLUMNS, ANWEB_COLUMNS_OPPS):
                raise CodesetFormatError(
                    path,
                    line,
                    f"unexpected header {header!r}; expected the 45 ANWEB columns HCPC .. ACTION CD",
                )
            continue
        if len(fields) != len(header):
            what = "a blank line" if not fields else f"{len(fields)} fields, expected {len(header)}"
            raise CodesetFormatError(path, line, f"{what} (truncated or malformed row)")
        yield line, dict(zip(header, fields, strict=True))
    if header is None:
        raise CodesetFormatError(path, 1, "the file is empty (no header row)")


def _json_list(row: dict[str, str], prefix: str, count: int) -> str:
    return json.dumps([v for i in range(1, count + 1) if (v := row[f"{prefix}{i}"].strip())])


def load_anweb(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    """Load the CMS alpha-numeric HCPCS file into ``hcpcs_codes``."""
    pending: list[object] | None = None
    seen: set[str] = set()
    counts = {"continuation": 0, "modifier": 0}

    def records() -> Iterator[list[object]]:
        nonlocal pending
        for line, row in _anweb_records(path):
            code = row["HCPC"].strip().upper()
            recid = row["RECID"].strip()
            if recid == "3":
                if not LEVEL2_CODE.fullmatch(code):
                    raise CodesetFormatError(
                        path, line, f"HCPC {row['HCPC']!r} is not a Level II code (A1234)"
                    )
                if code in seen:
                    raise CodesetFormatError(path, line, f"code {code} has a second first record (RECID 3)")
                seen.add(code)
                if pending is not None:
                    yield pending
                long_description = row["LONG DESCRIPTION"].strip()
                if not long_description:
                    raise CodesetFormatError(path, line, f"code {code} has no LONG DESCRIPTION")
                pending = [
                    release.id,
                    code,
                    row["SEQNUM"].strip() or None,
                    long_description,
                    row["SHORT DESCRIPTION"].strip() or None,
                    _iso_or_none(row["ADD DT"].strip(), path, line, "ADD DT"),
                    _iso_or_none(row["ACT EFF DT"].strip(), path, line, "ACT EFF DT"),
                    _iso_or_none(row["TERM DT"].strip(), path, line, "TERM DT"),
                    row["ACTION CD"].strip() or None,
                    row["COV"].strip() or None,
                    row["BETOS"].strip() or None,
                    _json_list(row, "PRICE", 4),
                    row["MULT_PI"].strip() or None,
                    _json_list(row, "TOS", 5),
                    _json_list(row, "XREF", 5),
                ]
            elif recid == "4":
                if pending is None or pending[1] != code:
                    raise CodesetFormatError(
                        path,
                        line,
                        f"continuation record (RECID 4) of {code!r} does not follow that code's RECID 3",
                    )
                more = row["LONG DESCRIPTION"].strip()
                if more:
                    pending[3] = f"{pending[3]} {more}"
                counts["continuation"] += 1
            elif recid in ("7", "8"):
                counts["modifier"] += 1
            else:
                raise CodesetFormatError(path, line, f"RECID {recid!r} is not 3, 4, 7 or 8")
        if pending is not None:
            yield pending

    conn.executemany(f"INSERT INTO hcpcs_codes VALUES ({', '.join('?' * 15)})", records())
    notes: list[str] = []
    if counts["continuation"]:
        notes.append(f"{counts['continuation']} long-description continuation records (RECID 4) appended")
    if counts["modifier"]:
        notes.append(
            f"{counts['modifier']} modifier records (RECID 7/8) not loaded here "
            "(modifiers are loaded from modifiers.csv)"
        )
    return LoadResult(rows=len(seen), notes=tuple(notes))


def load_validity(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    """Load ``hcpcs_cpt_validity.csv`` (one row per validity span of a code) into ``hcpcs_validity``."""
    earliest: date | None = None
    latest_end: date | None = None
    open_spans = 0
    rows = 0

    def spans() -> Iterator[tuple[str, str, str, str | None]]:
        nonlocal earliest, latest_end, open_spans, rows
        for line, row in read_delimited(path, ("code", "effective_from", "effective_to")):
            code = row["code"]
            if not ANY_HCPCS_CODE.fullmatch(code):
                raise CodesetFormatError(path, line, f"code {code!r} is not a CPT/HCPCS code")
            start = parse_iso_date(row["effective_from"], path, line)
            end_text = row["effective_to"]
            end = parse_iso_date(end_text, path, line) if end_text else None
            if end is not None and end < start:
                raise CodesetFormatError(path, line, f"effective_to {end} is before effective_from {start}")
            if earliest is None or start < earliest:
                earliest = start
            if end is None:
                open_spans += 1
            elif latest_end is None or end > latest_end:
                latest_end = end
            rows += 1
            yield release.id, code, start.isoformat(), end.isoformat() if end else None

    conn.executemany("INSERT INTO hcpcs_validity VALUES (?, ?, ?, ?)", spans())
    if rows == 0:
        raise CodesetFormatError(path, None, "the file has a header but no rows")
    return LoadResult(
        rows=rows,
        effective_from=earliest,
        effective_to=None if open_spans else latest_end,
        open_ended=open_spans > 0,
    )


def _validity_period(match: re.Match[str]) -> Period:
    return "IOCE", date(2019, 7, 1), None


SPECS: list[DatasetSpec] = [
    DatasetSpec(
        dataset="hcpcs-level2",
        system="hcpcs",
        pattern=ANWEB_PATTERN,
        period=_anweb_period,
        load=load_anweb,
        ddl=HCPCS_DDL,
        order=30,
        description="HCPCS Level II codes (CMS alpha-numeric file)",
        official_name="HCPC<year>_<MON>_ANWEB_<date>.xlsx",
    ),
    DatasetSpec(
        dataset="hcpcs-validity",
        system="hcpcs",
        pattern=VALIDITY_PATTERN,
        period=_validity_period,
        load=load_validity,
        ddl=VALIDITY_DDL,
        order=30,
        description="HCPCS/CPT code validity spans (from the CMS I/OCE tables)",
        official_name="hcpcs_cpt_validity.csv",
    ),
]
