"""Readers for the Place of Service code set and the modifier list.

* ``place_of_service.csv`` (``pos_code,pos_name,pos_description``; two-digit codes) -> ``pos_codes``.
* ``modifiers.csv`` (``modifier,type,description``; type ``HCPCS Level II`` or ``CPT``, CPT
  modifier descriptions are empty because they are AMA text) -> ``modifiers``.

Neither list is versioned by CMS: both load as version ``current``, valid from 2000-01-01 on.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from chartcode.codesets.common import DatasetSpec, LoadResult, Period, Release, read_delimited
from chartcode.errors import CodesetFormatError

POS_PATTERN = re.compile(r"place_of_service\.csv", re.IGNORECASE)
MODIFIERS_PATTERN = re.compile(r"modifiers\.csv", re.IGNORECASE)

POS_DDL = """
CREATE TABLE IF NOT EXISTS pos_codes (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (release, code)
) WITHOUT ROWID;
"""
MODIFIERS_DDL = """
CREATE TABLE IF NOT EXISTS modifiers (
    release TEXT NOT NULL,
    modifier TEXT NOT NULL,
    type TEXT NOT NULL,
    description TEXT,
    PRIMARY KEY (release, modifier)
) WITHOUT ROWID;
"""

MODIFIER_TYPES = ("HCPCS Level II", "CPT")
_POS_CODE = re.compile(r"[0-9]{2}")
_MODIFIER = re.compile(r"[0-9A-Z]{2}")


def _current_period(match: re.Match[str]) -> Period:
    return "current", date(2000, 1, 1), None


def load_pos(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    """Load ``place_of_service.csv`` into ``pos_codes``."""
    seen: set[str] = set()

    def records() -> Iterator[tuple[str, str, str, str | None]]:
        for line, row in read_delimited(path, ("pos_code", "pos_name", "pos_description")):
            code = row["pos_code"].strip()
            if not _POS_CODE.fullmatch(code):
                raise CodesetFormatError(
                    path, line, f"place of service code {code!r} is not two digits (e.g. 02, 11)"
                )
            if code in seen:
                raise CodesetFormatError(path, line, f"place of service {code} is listed twice")
            seen.add(code)
            name = row["pos_name"].strip()
            if not name:
                raise CodesetFormatError(path, line, f"place of service {code} has no name")
            yield release.id, code, name, row["pos_description"].strip() or None

    conn.executemany("INSERT INTO pos_codes VALUES (?, ?, ?, ?)", records())
    return LoadResult(rows=len(seen))


def load_modifiers(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    """Load ``modifiers.csv`` into ``modifiers``."""
    seen: set[str] = set()

    def records() -> Iterator[tuple[str, str, str, str | None]]:
        for line, row in read_delimited(path, ("modifier", "type", "description")):
            modifier = row["modifier"].strip().upper()
            if not _MODIFIER.fullmatch(modifier):
                raise CodesetFormatError(path, line, f"modifier {row['modifier']!r} is not 2 letters/digits")
            if modifier in seen:
                raise CodesetFormatError(path, line, f"modifier {modifier} is listed twice")
            seen.add(modifier)
            kind = row["type"].strip()
            if kind not in MODIFIER_TYPES:
                raise CodesetFormatError(
                    path, line, f"modifier type {kind!r} is not one of {list(MODIFIER_TYPES)}"
                )
            yield release.id, modifier, kind, row["description"].strip() or None

    conn.executemany("INSERT INTO modifiers VALUES (?, ?, ?, ?)", records())
    return LoadResult(rows=len(seen))


SPECS: list[DatasetSpec] = [
    DatasetSpec(
        dataset="pos",
        system="pos",
        pattern=POS_PATTERN,
        period=_current_period,
        load=load_pos,
        ddl=POS_DDL,
        order=40,
        description="CMS Place of Service codes",
        official_name="place_of_service.csv",
    ),
    DatasetSpec(
        dataset="modifiers",
        system="modifiers",
        pattern=MODIFIERS_PATTERN,
        period=_current_period,
        load=load_modifiers,
        ddl=MODIFIERS_DDL,
        order=40,
        description="HCPCS Level II and CPT modifiers",
        official_name="modifiers.csv",
    ),
]
