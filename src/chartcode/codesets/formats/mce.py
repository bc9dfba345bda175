"""Reader for Medicare Code Editor (MCE) diagnosis lists: age, sex and manifestation edits.

Files ``mce_v<NN>.<M>_<kind>_edits.csv`` (kind = age | sex | manifestation). The MCE version follows
the MS-DRG version: ``vNN`` belongs to fiscal year 2000 + NN - 17 (v41 -> FY2024); ``.0`` is the
October release (Oct 1 - Mar 31), ``.1`` the April update (Apr 1 - Sep 30). Loads ``mce_edits``
(dotted codes), one row per code and list.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from chartcode.codesets.common import DatasetSpec, LoadResult, Period, Release, icd_dotted, read_delimited
from chartcode.codesets.formats.icd10cm_tabular import DOTTED_CODE, PLAIN_CODE
from chartcode.errors import CodesetFormatError

KINDS = ("age", "sex", "manifestation")

DDL = """
CREATE TABLE IF NOT EXISTS mce_edits (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    edit TEXT NOT NULL,
    age_edit TEXT,
    age_low INTEGER,
    age_high INTEGER,
    sex TEXT,
    list_name TEXT
);
CREATE INDEX IF NOT EXISTS mce_edits_code ON mce_edits (code);
"""

HEADERS: dict[str, tuple[str, ...]] = {
    "age": ("code", "code_dotted", "description", "age_edit", "age_low_years", "age_high_years", "mce_list"),
    "sex": ("code", "code_dotted", "description", "sex_allowed", "mce_list"),
    "manifestation": ("code", "code_dotted", "description", "mce_list"),
}

# The MCE age categories and their age ranges in years (inclusive).
AGE_EDITS: dict[str, tuple[int, int]] = {
    "NEWBORN": (0, 0),
    "PEDIATRIC": (0, 17),
    "MATERNITY": (9, 64),
    "ADULT": (15, 124),
}

MceRow = tuple[str, str, str, str | None, int | None, int | None, str | None, str]


def mce_period(major: int, minor: int) -> Period:
    """``(41, 1)`` -> ``("v41.1", 2024-04-01, 2024-09-30)``."""
    fy = 2000 + major - 17
    if minor == 0:
        return f"v{major}.{minor}", date(fy - 1, 10, 1), date(fy, 3, 31)
    if minor == 1:
        return f"v{major}.{minor}", date(fy, 4, 1), date(fy, 9, 30)
    raise ValueError(f"MCE version v{major}.{minor}: the minor version must be 0 (October) or 1 (April)")


def read_mce(path: Path, kind: str, release_id: str) -> Iterator[MceRow]:
    """Yield ``mce_edits`` rows, checking every field; a code listed twice is an error."""
    seen: dict[str, int] = {}
    for line, row in read_delimited(path, HEADERS[kind]):
        plain, dotted = row["code"], row["code_dotted"]
        if not PLAIN_CODE.fullmatch(plain):
            raise CodesetFormatError(path, line, f"code {plain!r} is not an ICD-10-CM code without a dot")
        if not DOTTED_CODE.fullmatch(dotted) or icd_dotted(plain) != dotted:
            raise CodesetFormatError(path, line, f"code_dotted {dotted!r} does not match code {plain!r}")
        if dotted in seen:
            raise CodesetFormatError(path, line, f"{dotted} is listed twice (first at line {seen[dotted]})")
        seen[dotted] = line
        list_name = row["mce_list"].strip()
        if not list_name:
            raise CodesetFormatError(path, line, f"{dotted}: mce_list is empty")
        if not row["description"].strip():
            raise CodesetFormatError(path, line, f"{dotted}: description is empty")
        age_edit: str | None = None
        age_low: int | None = None
        age_high: int | None = None
        sex: str | None = None
        if kind == "age":
            age_edit = row["age_edit"]
            expected = AGE_EDITS.get(age_edit)
            if expected is None:
                raise CodesetFormatError(
                    path, line, f"{dotted}: age_edit {age_edit!r} is not one of {', '.join(AGE_EDITS)}"
                )
            ages = (row["age_low_years"], row["age_high_years"])
            if ages != (str(expected[0]), str(expected[1])):
                raise CodesetFormatError(
                    path,
                    line,
                    f"{dotted}: ages {ages[0]!r}-{ages[1]!r} do not match the {age_edit} range"
                    f" {expected[0]}-{expected[1]}",
                )
            age_low, age_high = expected
        elif kind == "sex":
            sex = row["sex_allowed"]
            if sex not in ("F", "M"):
                raise CodesetFormatError(path, line, f"{dotted}: sex_allowed {sex!r} is not F or M")
        yield release_id, dotted, kind, age_edit, age_low, age_high, sex, list_name


def _loader(kind: str) -> DatasetSpec:
    pattern = re.compile(rf"mce[-_]v(\d+)\.(\d+)[-_]({kind})[-_]edits\.csv", re.IGNORECASE)

    def period(match: re.Match[str]) -> Period:
        try:
            return mce_period(int(match.group(1)), int(match.group(2)))
        except ValueError as exc:
            raise CodesetFormatError(match.string, None, f"unexpected file name: {exc}") from None

    def load(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
        rows = list(read_mce(path, kind, release.id))
        if not rows:
            raise CodesetFormatError(path, 2, "the file has a header but no rows")
        conn.executemany("INSERT INTO mce_edits VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return LoadResult(rows=len(rows))

    return DatasetSpec(
        dataset=f"mce-{kind}",
        system="mce",
        pattern=pattern,
        period=period,
        load=load,
        ddl=DDL,
        order=13,
        description=f"Medicare Code Editor {kind} edit list",
        official_name=f"mce_v<NN>.<M>_{kind}_edits.csv (from the CMS Definitions of Medicare Code Edits)",
    )


SPECS: list[DatasetSpec] = [_loader(kind) for kind in KINDS]
