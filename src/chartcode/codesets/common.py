"""Shared pieces for code-set readers: releases, dataset specs, dates and strict CSV reading.

Contract for a reader module in ``chartcode.codesets.formats``:

* it exposes ``SPECS: list[DatasetSpec]``: which file names it recognises (the official name and
  the mirror's name), how the release version and effective period follow from the name, the
  SQL DDL of its tables and a ``load`` function;
* ``load(conn, path, release)`` inserts every row of the file into its tables, tagging each row
  with ``release.id``; it returns a :class:`LoadResult`; on any malformed or truncated input it
  raises :class:`~chartcode.errors.CodesetFormatError` naming the file and line. It never skips a
  bad row silently.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from chartcode.errors import CodesetFormatError

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Release:
    """One installed release of one dataset, e.g. ICD-10-CM tabular FY2026."""

    id: str  # "<dataset>:<version>", e.g. "icd10cm-tabular:FY2026"
    dataset: str  # e.g. "icd10cm-tabular", "ncci-ptp-practitioner"
    system: str  # icd10cm | hcpcs | cpt | ncci | mce | pfs | pos | modifiers
    version: str  # "FY2026", "2024Q3", "v41.1", ...
    effective_from: date
    effective_to: date | None  # None: open-ended (valid until replaced)

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def period_text(self) -> str:
        end = self.effective_to.isoformat() if self.effective_to else "open"
        return f"{self.effective_from.isoformat()}–{end}"


@dataclass(frozen=True)
class LoadResult:
    rows: int
    # A loader may narrow or widen the period from the data itself (e.g. a history file).
    effective_from: date | None = None
    effective_to: date | None = None
    open_ended: bool = False  # with effective_to None: the data says "still valid"
    notes: tuple[str, ...] = ()


Period = tuple[str, date, date | None]  # version, effective_from, effective_to


@dataclass(frozen=True)
class DatasetSpec:
    dataset: str
    system: str
    pattern: re.Pattern[str]  # matched (fullmatch, case-insensitive) against the file's base name
    period: Callable[[re.Match[str]], Period]
    load: Callable[[sqlite3.Connection, Path, Release], LoadResult]
    ddl: str
    order: int = 50  # load order; lower first
    description: str = ""
    official_name: str = ""  # how the official distribution names the file (for messages)


# --- periods -------------------------------------------------------------------------------

MONTHS = {"JAN": 1, "APR": 4, "JUL": 7, "OCT": 10}


def fiscal_year_period(fy: int) -> Period:
    """ICD-10-CM fiscal year: Oct 1 of the year before through Sep 30."""
    return f"FY{fy}", date(fy - 1, 10, 1), date(fy, 9, 30)


def quarter_period(year: int, quarter: int) -> Period:
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter {quarter} is not 1-4")
    start = date(year, 3 * (quarter - 1) + 1, 1)
    end = (date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)) - timedelta(days=1)
    return f"{year}Q{quarter}", start, end


def month_quarter_period(year: int, month_abbr: str) -> Period:
    month = MONTHS[month_abbr.upper()]
    return quarter_period(year, (month - 1) // 3 + 1)


def calendar_year_period(year: int) -> Period:
    return f"CY{year}", date(year, 1, 1), date(year, 12, 31)


def fiscal_year_of(day: date) -> int:
    return day.year + 1 if day.month >= 10 else day.year


# --- parsing helpers -------------------------------------------------------------------------


def parse_iso_date(text: str, path: Path | str, line: int | None) -> date:
    if not ISO_DATE.match(text):
        raise CodesetFormatError(path, line, f"date {text!r} is not YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CodesetFormatError(path, line, f"date {text!r} is not a real date ({exc})") from None


def parse_yyyymmdd(text: str, path: Path | str, line: int | None) -> date:
    if not re.fullmatch(r"\d{8}", text):
        raise CodesetFormatError(path, line, f"date {text!r} is not YYYYMMDD")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise CodesetFormatError(path, line, f"date {text!r} is not a real date ({exc})") from None


def open_text(path: Path, encoding: str = "utf-8") -> IO[str]:
    """Open a text file, transparently gunzipping ``*.gz``. Newlines are kept as in the file."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")


def read_delimited(
    path: Path,
    expected_header: Sequence[str] | None = None,
    *,
    delimiter: str = ",",
    required: Sequence[str] = (),
    encoding: str = "utf-8",
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` for every data row of a delimited file with one header row.

    Checks the header (exact match when ``expected_header`` is given, or that it contains every
    ``required`` column), that each row has exactly as many fields as the header, and that the
    file is complete (an unterminated quote, a truncated gzip stream or a non-UTF-8 byte raise a
    :class:`CodesetFormatError` naming the line). Blank lines are errors, not skipped.
    """
    try:
        with open_text(path, encoding) as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            try:
                header = next(reader)
            except StopIteration:
                raise CodesetFormatError(path, 1, "the file is empty (no header row)") from None
            header = [h.strip().lstrip("\ufeff") for h in header]
            if expected_header is not None and header != list(expected_header):
                raise CodesetFormatError(
                    path, 1, f"unexpected header {header!r}; expected {list(expected_header)!r}"
                )
            missing = [c for c in required if c not in header]
            if missing:
                raise CodesetFormatError(path, 1, f"header lacks column(s) {missing!r}; found {header!r}")
            width = len(header)
            for fields in reader:
                line = reader.line_num
                if len(fields) != width:
                    what = "a blank line" if not fields else f"{len(fields)} fields, expected {width}"
                    raise CodesetFormatError(path, line, f"{what} (truncated or malformed row)")
                yield line, dict(zip(header, fields, strict=True))
    except csv.Error as exc:
        raise CodesetFormatError(path, None, f"malformed CSV ({exc}); the file may be truncated") from None
    except UnicodeDecodeError as exc:
        raise CodesetFormatError(path, None, f"not valid {encoding} text ({exc.reason})") from None
    except (EOFError, gzip.BadGzipFile, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CodesetFormatError(path, None, f"cannot read the file: {exc}; it may be truncated") from None


def icd_dotted(code: str) -> str:
    """``E1122`` -> ``E11.22``; codes of 3 characters or already dotted are returned unchanged."""
    code = code.strip().upper()
    if "." in code or len(code) <= 3:
        return code
    return f"{code[:3]}.{code[3:]}"


def icd_undotted(code: str) -> str:
    return code.replace(".", "").strip().upper()
