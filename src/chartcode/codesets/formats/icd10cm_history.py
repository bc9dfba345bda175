"""Reader for ICD-10-CM code validity history (``icd10cm_valid_by_fy.csv``), plus span derivation.

The file (decoded from the CMS I/OCE quarterly data tables) has one row per validity span of a
code: ``code,effective_from,effective_to,age_low,age_high,manifestation,unacceptable_principal_dx``
with the code without a dot and an empty ``effective_to`` meaning "still valid". Loads
``icd_validity`` (dotted codes).

:func:`derive_validity_spans` builds the same kind of spans from per-fiscal-year sets of valid
codes, for sources that only offer one codes file per year.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Mapping, Set
from datetime import date
from pathlib import Path

from chartcode.codesets.common import (
    DatasetSpec,
    LoadResult,
    Period,
    Release,
    icd_dotted,
    parse_iso_date,
    read_delimited,
)
from chartcode.codesets.formats.icd10cm_tabular import PLAIN_CODE
from chartcode.errors import CodesetFormatError

PATTERN = re.compile(r"icd10cm[-_]valid[-_]by[-_]fy\.csv", re.IGNORECASE)

HEADER = (
    "code",
    "effective_from",
    "effective_to",
    "age_low",
    "age_high",
    "manifestation",
    "unacceptable_principal_dx",
)

DDL = """
CREATE TABLE IF NOT EXISTS icd_validity (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    effective_from TEXT NOT NULL,
    effective_to TEXT,
    age_low INTEGER,
    age_high INTEGER,
    manifestation INTEGER,
    unacceptable_principal_dx INTEGER
);
CREATE INDEX IF NOT EXISTS icd_validity_code ON icd_validity (code);
"""

COVERAGE_START = date(2019, 7, 1)  # I/OCE v20.2, the first version in the source
MAX_AGE = 124

ValidityRow = tuple[str, str, str, str | None, int | None, int | None, int | None, int | None]


def _int(path: Path, line: int, name: str, text: str, low: int, high: int) -> int | None:
    if text == "":
        return None
    if not re.fullmatch(r"\d{1,3}", text) or not low <= int(text) <= high:
        raise CodesetFormatError(path, line, f"{name} {text!r} is not a whole number from {low} to {high}")
    return int(text)


def read_history(path: Path, release_id: str) -> Iterator[tuple[ValidityRow, date]]:
    """Yield ``(row, effective_from)`` per span, checking every field and that spans do not overlap."""
    last: dict[str, tuple[date, date | None, int]] = {}  # code -> (from, to, line) of its latest span
    for line, row in read_delimited(path, HEADER):
        plain = row["code"]
        if not PLAIN_CODE.fullmatch(plain):
            raise CodesetFormatError(path, line, f"code {plain!r} is not an ICD-10-CM code without a dot")
        start = parse_iso_date(row["effective_from"], path, line)
        end = parse_iso_date(row["effective_to"], path, line) if row["effective_to"] else None
        if end is not None and end < start:
            raise CodesetFormatError(
                path, line, f"{plain}: effective_to {end} is before effective_from {start}"
            )
        age_low = _int(path, line, "age_low", row["age_low"], 0, MAX_AGE)
        age_high = _int(path, line, "age_high", row["age_high"], 0, MAX_AGE)
        if (age_low is None) != (age_high is None):
            raise CodesetFormatError(
                path, line, f"{plain}: age_low and age_high must both be given or both empty"
            )
        if age_low is not None and age_high is not None and age_low > age_high:
            raise CodesetFormatError(path, line, f"{plain}: age_low {age_low} is above age_high {age_high}")
        manifestation = _int(path, line, "manifestation", row["manifestation"], 0, 1)
        unacceptable = _int(path, line, "unacceptable_principal_dx", row["unacceptable_principal_dx"], 0, 1)
        previous = last.get(plain)
        if previous is not None:
            prev_from, prev_to, prev_line = previous
            if start <= prev_from or prev_to is None or start <= prev_to:
                raise CodesetFormatError(
                    path,
                    line,
                    f"{plain}: span from {start} overlaps or precedes the span at line {prev_line}"
                    " (spans of a code must be in date order without overlap)",
                )
        last[plain] = (start, end, line)
        yield (
            (
                release_id,
                icd_dotted(plain),
                start.isoformat(),
                end.isoformat() if end else None,
                age_low,
                age_high,
                manifestation,
                unacceptable,
            ),
            start,
        )


def load(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    rows: list[ValidityRow] = []
    earliest: date | None = None
    for row, start in read_history(path, release.id):
        rows.append(row)
        if earliest is None or start < earliest:
            earliest = start
    if not rows:
        raise CodesetFormatError(path, 2, "the file has a header but no rows")
    conn.executemany("INSERT INTO icd_validity VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    codes = len({row[1] for row in rows})
    return LoadResult(
        rows=len(rows),
        effective_from=earliest,
        effective_to=None,
        open_ended=True,
        notes=(f"{len(rows)} validity spans of {codes} codes",),
    )


def fiscal_year_bounds(fy: int) -> tuple[date, date]:
    """FY ``fy`` runs from Oct 1 of ``fy - 1`` through Sep 30 of ``fy``."""
    return date(fy - 1, 10, 1), date(fy, 9, 30)


def derive_validity_spans(code_sets_by_fy: Mapping[int, Set[str]]) -> list[tuple[str, date, date | None]]:
    """Merge per-fiscal-year sets of valid codes into ``(code, from, to)`` spans.

    A code valid in consecutive fiscal years gets one span; a code that disappears and comes back
    gets two. Spans of codes valid in the newest fiscal year are open-ended (``to`` is ``None``).
    The fiscal years must be consecutive: a missing year would make its codes look deleted.
    Result is sorted by code, then start.
    """
    if not code_sets_by_fy:
        return []
    years = sorted(code_sets_by_fy)
    missing = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    if missing:
        raise ValueError(f"fiscal year(s) {missing} missing between FY{years[0]} and FY{years[-1]}")
    spans: list[tuple[str, date, date | None]] = []
    open_from: dict[str, date] = {}
    previous: Set[str] = set()
    for fy in years:
        start, _ = fiscal_year_bounds(fy)
        current = code_sets_by_fy[fy]
        for code in previous - current:
            spans.append((code, open_from.pop(code), fiscal_year_bounds(fy - 1)[1]))
        for code in current - previous:
            open_from[code] = start
        previous = current
    spans.extend((code, start, None) for code, start in open_from.items())
    spans.sort(key=lambda span: (span[0], span[1]))
    return spans


def _period(match: re.Match[str]) -> Period:
    return "IOCE", COVERAGE_START, None


SPECS: list[DatasetSpec] = [
    DatasetSpec(
        dataset="icd10cm-history",
        system="icd10cm",
        pattern=PATTERN,
        period=_period,
        load=load,
        ddl=DDL,
        order=12,
        description="ICD-10-CM code validity spans with I/OCE age and principal-diagnosis attributes",
        official_name="icd10cm_valid_by_fy.csv (from the CMS I/OCE data tables)",
    )
]
