"""Reader for the ICD-10-CM "codes file" (``icd10cm_codes_<year>.txt``): the valid (billable) codes.

Fixed layout, one code per line: the code without a dot, left-justified in 7 columns, one space,
the long description. Loads ``icd_billable`` (dotted codes). :func:`verify_codes_against_tabular`
(run by ``FINALIZE``) checks that the billable codes of the tabular of the same fiscal year are
exactly the codes of this file.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from chartcode.codesets.common import DatasetSpec, LoadResult, Period, Release, fiscal_year_period, icd_dotted
from chartcode.codesets.formats.icd10cm_tabular import PLAIN_CODE
from chartcode.errors import CodesetFormatError, CodesetSourceError

PATTERN = re.compile(r"icd10cm[-_]codes[-_](\d{4})\.txt", re.IGNORECASE)

DDL = """
CREATE TABLE IF NOT EXISTS icd_billable (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (release, code)
) WITHOUT ROWID;
"""

CODE_WIDTH = 7


def _parse_line(path: Path, number: int, line: str) -> tuple[str, str]:
    """``"A000    Cholera due to ..."`` -> ``("A00.0", "Cholera due to ...")``."""
    if not line.strip():
        raise CodesetFormatError(path, number, "a blank line (truncated or malformed file)")
    if "\r" in line or "\t" in line:
        raise CodesetFormatError(path, number, "stray carriage return or tab in the line")
    field = line[:CODE_WIDTH]
    code = field.rstrip(" ")
    if not PLAIN_CODE.fullmatch(code) or (len(line) >= CODE_WIDTH and field != code.ljust(CODE_WIDTH)):
        raise CodesetFormatError(
            path,
            number,
            f"columns 1-7 hold {field!r}, expected an ICD-10-CM code without a dot, left-justified"
            " and padded with spaces to 7 columns",
        )
    dotted = icd_dotted(code)
    if len(line) > CODE_WIDTH and line[CODE_WIDTH] != " ":
        raise CodesetFormatError(path, number, f"column 8 after code {dotted} must be a space")
    description = line[CODE_WIDTH + 1 :]
    if not description.strip():
        raise CodesetFormatError(path, number, f"code {dotted} has no description after column 8")
    if description != description.strip():
        raise CodesetFormatError(
            path, number, f"the description of {dotted} does not start at column 9 or has trailing spaces"
        )
    return dotted, description


def read_codes(path: Path) -> Iterator[tuple[int, str, str]]:
    """Yield ``(line_number, dotted_code, description)``; raise on the first malformed line.

    Lines end in CRLF (official) or LF; a last line without a line ending means a truncated file.
    """
    seen: dict[str, int] = {}
    data = path.read_bytes()
    if not data:
        raise CodesetFormatError(path, None, "the file is empty")
    lines = data.split(b"\n")
    if lines[-1]:
        raise CodesetFormatError(
            path, len(lines), "the last line has no line ending: the file may be truncated"
        )
    for number, raw in enumerate(lines[:-1], start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodesetFormatError(path, number, f"not valid UTF-8 text ({exc.reason})") from None
        if line.endswith("\r"):
            line = line[:-1]
        code, description = _parse_line(path, number, line)
        if code in seen:
            raise CodesetFormatError(path, number, f"duplicate code {code} (first at line {seen[code]})")
        seen[code] = number
        yield number, code, description


def load(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    rows = [(release.id, code, description) for _, code, description in read_codes(path)]
    conn.executemany("INSERT INTO icd_billable VALUES (?, ?, ?)", rows)
    return LoadResult(rows=len(rows))


def verify_codes_against_tabular(
    conn: sqlite3.Connection, codes_release_id: str, tabular_release_id: str
) -> list[str]:
    """Differences between the codes file and the billable codes of the tabular (empty: they agree)."""
    only_codes = conn.execute(
        "SELECT code FROM icd_billable WHERE release = ? EXCEPT"
        " SELECT code FROM icd_codes WHERE release = ? AND billable = 1 ORDER BY code",
        (codes_release_id, tabular_release_id),
    ).fetchall()
    only_tabular = conn.execute(
        "SELECT code FROM icd_codes WHERE release = ? AND billable = 1 EXCEPT"
        " SELECT code FROM icd_billable WHERE release = ? ORDER BY code",
        (tabular_release_id, codes_release_id),
    ).fetchall()
    differences = [
        f"{code}: in {codes_release_id} but not billable in {tabular_release_id}" for (code,) in only_codes
    ]
    differences += [
        f"{code}: billable in {tabular_release_id} but not in {codes_release_id}" for (code,) in only_tabular
    ]
    return differences


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def finalize(conn: sqlite3.Connection) -> None:
    """For every installed codes file with a tabular of the same version, check that both agree."""
    if not {"icd_billable", "icd_codes"} <= _tables(conn):
        return
    tabular = {rid for (rid,) in conn.execute("SELECT DISTINCT release FROM icd_codes")}
    for (codes_id,) in conn.execute("SELECT DISTINCT release FROM icd_billable").fetchall():
        tabular_id = "icd10cm-tabular:" + codes_id.split(":", 1)[1]
        if tabular_id not in tabular:
            continue
        differences = verify_codes_against_tabular(conn, codes_id, tabular_id)
        if differences:
            shown = "; ".join(differences[:10])
            more = f" (and {len(differences) - 10} more)" if len(differences) > 10 else ""
            raise CodesetSourceError(
                f"the codes file {codes_id} and the tabular {tabular_id} disagree on"
                f" {len(differences)} billable code(s): {shown}{more}",
                "install the codes file and the tabular XML of the same release (both October or both"
                " April update of the fiscal year).",
            )


FINALIZE = finalize


def _period(match: re.Match[str]) -> Period:
    return fiscal_year_period(int(match.group(1)))


SPECS: list[DatasetSpec] = [
    DatasetSpec(
        dataset="icd10cm-codes",
        system="icd10cm",
        pattern=PATTERN,
        period=_period,
        load=load,
        ddl=DDL,
        order=11,
        description="ICD-10-CM valid (billable) codes with long descriptions",
        official_name="icd10cm_codes_<year>.txt",
    )
]
