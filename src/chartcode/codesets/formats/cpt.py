"""Reader for a user's own licensed CPT descriptor file (AMA data files).

CPT descriptors are AMA copyright, so no CPT file is part of the code-set mirror and none is
matched by directory scanning (``SPECS`` is empty). A user who holds an AMA licence imports their
file explicitly with :func:`load_cpt_file`. Accepted layouts:

* delimited (tab or comma) with a header row naming a code column (``Code``, ``CPT Code``,
  ``HCPCS``, ...) and a descriptor column (``Long Descriptor``, ``Description``, ``Descriptor``,
  ``LONG_DESCRIPTION``, ...); other columns are ignored;
* the AMA plain-text layout (``LONGULT.txt`` and similar): no header, one code per line, the
  5-character code, a space or tab, then the descriptor.

Rows go to ``cpt_descriptors`` under release ``cpt:<year>`` (system ``cpt``, calendar year);
loading the same year again replaces that year's rows.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from pathlib import Path

from chartcode.codesets.common import DatasetSpec, LoadResult, Release, calendar_year_period
from chartcode.errors import CodesetFormatError

SPECS: list[DatasetSpec] = []

CPT_DDL = """
CREATE TABLE IF NOT EXISTS cpt_descriptors (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (release, code)
) WITHOUT ROWID;
"""

CPT_CODE = re.compile(r"[0-9]{4}[0-9A-Z]")
_PLAIN_LINE = re.compile(r"([0-9A-Za-z]{5})[ \t]+(\S.*?)\s*")
_CODE_COLUMNS = ("cpt code", "code", "hcpcs", "hcpcs code", "cpt", "cpt/hcpcs code", "hcpcs/cpt code")
_DESCRIPTOR_COLUMNS = ("long descriptor", "long description", "descriptor", "description", "full descriptor")


def cpt_release(year: int) -> Release:
    """The release a CPT file for ``year`` is loaded under (the installer records it)."""
    version, start, end = calendar_year_period(year)
    return Release(
        id=f"cpt:{year}", dataset="cpt", system="cpt", version=version, effective_from=start, effective_to=end
    )


def _decode(path: Path, data: bytes, notes: list[str]) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise CodesetFormatError(path, None, f"neither UTF-8 nor Windows-1252 text ({exc.reason})") from None
    notes.append("read as Windows-1252 text (not UTF-8)")
    return text


def _normalise(name: str) -> str:
    return " ".join(name.replace("_", " ").strip().lower().split())


def _pick(header: list[str], wanted: tuple[str, ...]) -> int | None:
    names = [_normalise(h) for h in header]
    for name in wanted:
        if name in names:
            return names.index(name)
    return None


def _check_code(text: str, path: Path, line: int) -> str:
    code = text.strip().upper()
    if not CPT_CODE.fullmatch(code):
        raise CodesetFormatError(
            path, line, f"code {text.strip()!r} is not a CPT code (4 digits + digit or letter)"
        )
    return code


def _plain_rows(path: Path, lines: list[str]) -> list[tuple[int, str, str]]:
    rows: list[tuple[int, str, str]] = []
    for number, text in enumerate(lines, start=1):
        match = _PLAIN_LINE.fullmatch(text)
        if not match:
            what = "a blank line" if not text.strip() else "not '<5-character code> <descriptor>'"
            raise CodesetFormatError(path, number, what)
        rows.append((number, _check_code(match.group(1), path, number), match.group(2)))
    return rows


def _delimited_rows(path: Path, lines: list[str]) -> list[tuple[int, str, str]]:
    delimiter = "\t" if "\t" in lines[0] else ","
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter, strict=True)
    rows: list[tuple[int, str, str]] = []
    try:
        header = [h.strip() for h in next(reader)]
        code_at = _pick(header, _CODE_COLUMNS)
        text_at = _pick(header, _DESCRIPTOR_COLUMNS)
        if code_at is None or text_at is None:
            raise CodesetFormatError(
                path,
                1,
                f"header {header!r} lacks a code column (e.g. 'CPT Code') and/or a descriptor column "
                "(e.g. 'Long Descriptor'); or the file is not the AMA '<code> <descriptor>' text layout",
            )
        for fields in reader:
            number = reader.line_num
            if len(fields) != len(header):
                what = "a blank line" if not fields else f"{len(fields)} fields, expected {len(header)}"
                raise CodesetFormatError(path, number, f"{what} (truncated or malformed row)")
            code = _check_code(fields[code_at], path, number)
            description = fields[text_at].strip()
            if not description:
                raise CodesetFormatError(path, number, f"code {code} has an empty descriptor")
            rows.append((number, code, description))
    except csv.Error as exc:
        kind = "tab-delimited" if delimiter == "\t" else "CSV"
        raise CodesetFormatError(path, reader.line_num + 1, f"malformed {kind} text ({exc})") from None
    return rows


def load_cpt_file(conn: sqlite3.Connection, path: Path, year: int) -> LoadResult:
    """Load a licensed CPT descriptor file for ``year`` into ``cpt_descriptors`` (release ``cpt:<year>``).

    Creates the table if needed and replaces earlier rows of the same year. Raises
    :class:`CodesetFormatError` naming the line for any malformed row, duplicate or bad code.
    """
    path = Path(path)
    notes: list[str] = []
    text = _decode(path, path.read_bytes(), notes)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    trailing = 0
    while lines and not lines[-1].strip():
        lines.pop()
        trailing += 1
    if not lines:
        raise CodesetFormatError(path, 1, "the file is empty")
    if trailing > 1:
        notes.append(f"{trailing - 1} empty line(s) at the end of the file ignored")
    if _PLAIN_LINE.fullmatch(lines[0]) and CPT_CODE.fullmatch(lines[0][:5].upper()):
        rows = _plain_rows(path, lines)
    else:
        rows = _delimited_rows(path, lines)
    if not rows:
        raise CodesetFormatError(path, 2, "the file has a header but no rows")
    seen: dict[str, int] = {}
    for number, code, _ in rows:
        if code in seen:
            raise CodesetFormatError(
                path, number, f"code {code} is listed twice (first on line {seen[code]})"
            )
        seen[code] = number
    release = cpt_release(year)
    for statement in CPT_DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("DELETE FROM cpt_descriptors WHERE release = ?", (release.id,))
    conn.executemany(
        "INSERT INTO cpt_descriptors VALUES (?, ?, ?)", ((release.id, code, text) for _, code, text in rows)
    )
    return LoadResult(
        rows=len(rows),
        effective_from=release.effective_from,
        effective_to=release.effective_to,
        notes=tuple(notes),
    )
