"""Readers for the CMS Medicare NCCI edit files: PTP (procedure-to-procedure), MUE and add-on codes.

* PTP: the CMS tab-delimited TXT files ``ccipra-vXYZr#-f#.txt`` (practitioner) and
  ``ccioph-vXYZr#-f#.txt`` (outpatient hospital), which begin with an AMA copyright preamble and a
  header wrapped over several lines, and the mirror's one-file-per-setting
  ``ncci_ptp_<setting>_<year>q<quarter>.txt[.gz]`` with a one-line header. NCCI version ``vXY.Z``
  is quarter ``Z + 1`` of year ``1994 + XY`` (v30.2 -> 2024Q3). CMS splits each quarter's table into
  several files (f1..f4) that together make ONE release; each part is recorded in
  ``ncci_ptp_parts`` so loading the same part twice does not duplicate rows.
* MUE: ``MCR_MUE_<Setting>Services_Eff_MM-DD-YYYY.csv`` (with or without the CMS preamble rows).
* Add-on code edits: the mirror's ``ncci_aoc_edits_<year>q<quarter>.csv``.

Tables (every row tagged with the release id):

* ``ncci_ptp(release, column1, column2, seq, effective, deletion, modifier_indicator,
  rationale_id, prior_1996)``: one row per edit version; ``seq`` numbers the rows of a release
  in file order (CMS lists several versions of some pairs); ``effective``/``deletion`` ISO dates
  or NULL (CMS ``*`` = no deletion); ``rationale_id`` points into
  ``ncci_rationales(release, id, text)``; ``prior_1996`` is 1 when CMS flags the edit "in
  existence prior to 1996", else NULL. The table is clustered (``WITHOUT ROWID``) on its primary
  key ``(release, column1, column2, seq)``: pair lookups need no second index, the files' sorted
  rows append cheaply, and each row is stored once (about 70 bytes; 4.3 million rows ~ 300 MB).
* ``ncci_mue(release, code, mue, mai, rationale)``.
* ``ncci_aoc(release, addon, primary_code, edit_type)``; primary ``CCCCC`` = contractor-defined.
"""

from __future__ import annotations

import csv
import gzip
import re
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

from chartcode.codesets.common import (
    DatasetSpec,
    LoadResult,
    Period,
    Release,
    open_text,
    quarter_period,
    read_delimited,
)
from chartcode.errors import CodesetFormatError, CodesetSourceError

PROCEDURE_CODE = re.compile(r"[0-9]{4}[0-9A-Z]|[A-Z][0-9]{4}")
_BATCH = 50_000

# --- shared low-level reading ------------------------------------------------------------------


def iter_raw_rows(
    path: Path, *, delimiter: str = ",", encoding: str = "utf-8"
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` for every record of a delimited file, header included.

    Like :func:`chartcode.codesets.common.read_delimited` but without header handling, for CMS
    files that carry preamble rows above their header. Malformed quoting, bad encoding and
    truncated gzip streams raise :class:`CodesetFormatError`.
    """
    line = 0
    try:
        with open_text(path, encoding) as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            for fields in reader:
                line = reader.line_num
                yield line, fields
    except csv.Error as exc:
        raise CodesetFormatError(
            path, line + 1, f"malformed CSV ({exc}); the file may be truncated"
        ) from None
    except UnicodeDecodeError as exc:
        raise CodesetFormatError(path, None, f"not valid {encoding} text ({exc.reason})") from None
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CodesetFormatError(path, None, f"cannot read the file: {exc}; it may be truncated") from None


def _code(text: str, path: Path, line: int, what: str) -> str:
    code = text.strip().upper()
    if not PROCEDURE_CODE.fullmatch(code):
        raise CodesetFormatError(path, line, f"{what} {text!r} is not a CPT/HCPCS code (5 characters)")
    return code


def _yyyymmdd_iso(text: str, path: Path, line: int, what: str) -> str:
    if len(text) != 8 or not text.isdigit():
        raise CodesetFormatError(path, line, f"{what} {text!r} is not YYYYMMDD")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:])).isoformat()
    except ValueError:
        raise CodesetFormatError(path, line, f"{what} {text!r} is not a real date") from None


# --- PTP ---------------------------------------------------------------------------------------


def _ptp_pattern(mirror_setting: str, cms_prefix: str) -> re.Pattern[str]:
    """Mirror name ``ncci_ptp_<setting>_<year>q<n>`` or CMS name ``<prefix>-v<XY><Z>r<n>-f<part>``."""
    return re.compile(
        rf"(?:ncci_ptp_{mirror_setting}_(?P<year>\d{{4}})q(?P<quarter>[1-4])"
        rf"|{cms_prefix}-v(?P<major>\d\d)(?P<minor>\d)r\d+-f(?P<part>\d))\.txt(?:\.gz)?",
        re.IGNORECASE,
    )


PTP_PRACTITIONER = _ptp_pattern("practitioner", "ccipra")
PTP_HOSPITAL = _ptp_pattern("outpatient_hospital", "ccioph")

PTP_DDL = """
CREATE TABLE IF NOT EXISTS ncci_ptp (
    release TEXT NOT NULL,
    column1 TEXT NOT NULL,
    column2 TEXT NOT NULL,
    seq INTEGER NOT NULL,
    effective TEXT,
    deletion TEXT,
    modifier_indicator INTEGER NOT NULL,
    rationale_id INTEGER,
    prior_1996 INTEGER,
    PRIMARY KEY (release, column1, column2, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ncci_rationales (
    release TEXT NOT NULL,
    id INTEGER NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (release, id),
    UNIQUE (release, text)
);
CREATE TABLE IF NOT EXISTS ncci_ptp_parts (
    release TEXT NOT NULL,
    part TEXT NOT NULL,
    source TEXT NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (release, part)
);
"""

# Official header wording, first line (CMS wraps the rest over the following lines).
_PTP_HEADER_WORDS = (
    ("column 1",), ("column 2",), ("existence", "1996"), ("effective",), ("deletion",), ("modifier",),
    ("rationale",),
)  # fmt: skip
_MODIFIER_INDICATORS = {"0": 0, "1": 1, "9": 9}


def ncci_version_quarter(major: str, minor: str) -> tuple[int, int]:
    """NCCI version ``vXY.Z`` -> ``(1994 + XY, Z + 1)``, e.g. ``("30", "2")`` -> ``(2024, 3)``."""
    quarter = int(minor) + 1
    if not 1 <= quarter <= 4:
        raise ValueError(f"NCCI version v{major}.{minor}: minor version must be 0-3")
    return 1994 + int(major), quarter


def ptp_period(match: re.Match[str]) -> Period:
    """Quarter of a PTP file name: ``..._2024q3`` or NCCI version ``v302`` (both 2024Q3)."""
    if match.group("year"):
        return quarter_period(int(match.group("year")), int(match.group("quarter")))
    try:
        year, quarter = ncci_version_quarter(match.group("major"), match.group("minor"))
    except ValueError as exc:
        raise CodesetFormatError(match.string, None, f"file name: {exc}") from None
    return quarter_period(year, quarter)


def _ptp_part(path: Path) -> str:
    for pattern in (PTP_PRACTITIONER, PTP_HOSPITAL):
        match = pattern.fullmatch(path.name)
        if match and match.group("part"):
            return f"f{match.group('part')}"
    return "all"


def _is_ptp_header(fields: list[str]) -> bool:
    return (
        len(fields) >= 2
        and fields[0].strip().lower() == "column 1"
        and fields[1].strip().lower() == "column 2"
    )


def _rationale_ids(conn: sqlite3.Connection, release: str) -> dict[str, int]:
    rows = conn.execute("SELECT text, id FROM ncci_rationales WHERE release = ?", (release,))
    return {text: rid for text, rid in rows}


def _ptp_rows(path: Path, release: str, rationales: dict[str, int], seq: int) -> Iterator[tuple[object, ...]]:
    """Parse a PTP file; new rationale texts are added to ``rationales`` as they are met.

    ``seq`` numbers the rows of the release (continuing after earlier parts), keeping the primary
    key unique when CMS lists several versions of one pair.
    """
    codes: set[str] = set()
    dates: dict[str, str | None] = {"": None, "*": None}
    raw_ids: dict[str, int | None] = {}
    header_seen = False
    in_header = False
    line = 0
    try:
        with open_text(path, "utf-8") as handle:
            for line, raw in enumerate(handle, start=1):
                fields = raw.rstrip("\r\n").split("\t")
                if not header_seen:
                    if _is_ptp_header(fields):
                        _check_ptp_header(fields, path, line)
                        header_seen = in_header = True
                    elif PROCEDURE_CODE.fullmatch(fields[0].strip()):
                        raise CodesetFormatError(
                            path, line, "data row before the 'Column 1' header line (no header found)"
                        )
                    continue
                if in_header:
                    # CMS wraps the header: continuation lines have empty code columns.
                    if len(fields) >= 2 and not fields[0].strip() and not fields[1].strip() and any(fields):
                        continue
                    in_header = False
                if len(fields) != 7:
                    what = "a blank line" if fields == [""] else f"{len(fields)} fields, expected 7"
                    raise CodesetFormatError(path, line, f"{what} (truncated or malformed row)")
                c1, c2, pre, eff, dele, mod, text = fields
                if c1 not in codes:
                    if not PROCEDURE_CODE.fullmatch(c1):
                        raise CodesetFormatError(path, line, f"Column 1 code {c1!r} is not a CPT/HCPCS code")
                    codes.add(c1)
                if c2 not in codes:
                    if not PROCEDURE_CODE.fullmatch(c2):
                        raise CodesetFormatError(path, line, f"Column 2 code {c2!r} is not a CPT/HCPCS code")
                    codes.add(c2)
                if eff in dates:
                    eff_iso = dates[eff]
                else:
                    eff_iso = dates[eff] = _yyyymmdd_iso(eff, path, line, "effective date")
                if dele in dates:
                    del_iso = dates[dele]
                else:
                    del_iso = dates[dele] = _yyyymmdd_iso(dele, path, line, "deletion date")
                indicator = _MODIFIER_INDICATORS.get(mod)
                if indicator is None:
                    raise CodesetFormatError(path, line, f"modifier indicator {mod!r} is not 0, 1 or 9")
                if pre == "":
                    prior = None
                elif pre == "*":
                    prior = 1
                else:
                    raise CodesetFormatError(path, line, f"pre-1996 flag {pre!r} is not '*' or empty")
                if text in raw_ids:
                    rid = raw_ids[text]
                else:
                    clean = text.strip()
                    if not clean:
                        rid = None
                    elif clean in rationales:
                        rid = rationales[clean]
                    else:
                        rid = rationales[clean] = len(rationales) + 1
                    raw_ids[text] = rid
                seq += 1
                yield (release, c1, c2, seq, eff_iso, del_iso, indicator, rid, prior)
    except UnicodeDecodeError as exc:
        raise CodesetFormatError(path, line + 1, f"not valid UTF-8 text ({exc.reason})") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise CodesetFormatError(
            path, line + 1, f"cannot read the file: {exc}; it is truncated or corrupt"
        ) from None
    if not header_seen:
        raise CodesetFormatError(path, None, "no 'Column 1<TAB>Column 2...' header line found")


def _check_ptp_header(fields: list[str], path: Path, line: int) -> None:
    lowered = [f.strip().lower() for f in fields]
    if len(lowered) != 7 or any(
        not any(word in col for word in words) for words, col in zip(_PTP_HEADER_WORDS, lowered, strict=True)
    ):
        raise CodesetFormatError(
            path,
            line,
            f"unexpected PTP header {fields!r}; expected the 7 CMS columns Column 1 .. PTP Edit Rationale",
        )


def load_ptp(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    """Load one PTP file (a whole setting, or one part f1..f4 of it) into ``ncci_ptp``."""
    part = _ptp_part(path)
    parts = dict(conn.execute("SELECT part, source FROM ncci_ptp_parts WHERE release = ?", (release.id,)))
    if (
        parts
        and not conn.execute("SELECT 1 FROM ncci_ptp WHERE release = ? LIMIT 1", (release.id,)).fetchone()
    ):
        # Stale bookkeeping (the rows of this release were removed): start afresh.
        conn.execute("DELETE FROM ncci_ptp_parts WHERE release = ?", (release.id,))
        conn.execute("DELETE FROM ncci_rationales WHERE release = ?", (release.id,))
        parts = {}
    if part in parts:
        return LoadResult(
            rows=0,
            notes=(
                f"{path.name}: part {part} of {release.id} is already loaded from {parts[part]}; skipped",
            ),
        )
    if parts and (part == "all" or "all" in parts):
        raise CodesetSourceError(
            f"{path.name} and {', '.join(sorted(parts.values()))} both hold PTP edits of {release.id}: "
            "keep either the single combined file or the CMS parts f1..f4, not both.",
            fix="remove one of them from the source directory and install again.",
        )
    rationales = _rationale_ids(conn, release.id)
    known = set(rationales)
    (seq,) = conn.execute(
        "SELECT COALESCE(SUM(rows), 0) FROM ncci_ptp_parts WHERE release = ?", (release.id,)
    ).fetchone()
    rows = 0
    insert = "INSERT INTO ncci_ptp VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    batch: list[tuple[object, ...]] = []
    for row in _ptp_rows(path, release.id, rationales, seq):
        batch.append(row)
        if len(batch) >= _BATCH:
            conn.executemany(insert, batch)
            rows += len(batch)
            batch.clear()
    conn.executemany(insert, batch)
    rows += len(batch)
    conn.executemany(
        "INSERT INTO ncci_rationales (release, id, text) VALUES (?, ?, ?)",
        ((release.id, rid, text) for text, rid in rationales.items() if text not in known),
    )
    conn.execute(
        "INSERT INTO ncci_ptp_parts (release, part, source, rows) VALUES (?, ?, ?, ?)",
        (release.id, part, path.name, rows),
    )
    return LoadResult(rows=rows)


# --- MUE ---------------------------------------------------------------------------------------

_MUE_HEADER_WORD = {
    "practitioner": "practitioner",
    "outpatient_hospital": "outpatient hospital",
    "dme": "dme",
}

MUE_DDL = """
CREATE TABLE IF NOT EXISTS ncci_mue (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    mue INTEGER NOT NULL,
    mai INTEGER NOT NULL,
    rationale TEXT,
    PRIMARY KEY (release, code)
) WITHOUT ROWID;
"""
_MAI = re.compile(r"([123])(?:\s+\S.*)?")


def mue_period(match: re.Match[str]) -> Period:
    """Quarter of the MUE file's effective date (groups: month, day, year)."""
    month, day, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    try:
        date(year, month, day)
    except ValueError as exc:
        raise CodesetFormatError(
            match.string, None, f"file name date {month:02d}-{day:02d}-{year} is not a real date ({exc})"
        ) from None
    return quarter_period(year, (month - 1) // 3 + 1)


def _mue_rows(path: Path, release: str, setting: str) -> Iterator[tuple[object, ...]]:
    rows = iter_raw_rows(path)
    header_line = 0
    for line, fields in rows:
        if fields and fields[0].strip().lower().startswith("hcpcs"):
            header_line = line
            lowered = [f.strip().lower() for f in fields]
            expected = (_MUE_HEADER_WORD[setting], "adjudication", "rationale")
            if len(lowered) != 4 or not all(w in c for w, c in zip(expected, lowered[1:], strict=True)):
                raise CodesetFormatError(
                    path,
                    line,
                    f"unexpected MUE header {fields!r}; expected HCPCS/CPT Code, "
                    f"<{_MUE_HEADER_WORD[setting]} services> MUE Values, "
                    "MUE Adjudication Indicator, MUE Rationale",
                )
            break
        if fields and PROCEDURE_CODE.fullmatch(fields[0].strip()):
            raise CodesetFormatError(path, line, "data row before the 'HCPCS/CPT Code' header row")
    if not header_line:
        raise CodesetFormatError(path, None, "no 'HCPCS/CPT Code' header row found")
    seen: set[str] = set()
    for line, fields in rows:
        if len(fields) != 4:
            what = "a blank line" if not fields else f"{len(fields)} fields, expected 4"
            raise CodesetFormatError(path, line, f"{what} (truncated or malformed row)")
        code = _code(fields[0], path, line, "code")
        if code in seen:
            raise CodesetFormatError(path, line, f"code {code} is listed twice")
        seen.add(code)
        value = fields[1].strip()
        if not value.isdigit():
            raise CodesetFormatError(path, line, f"MUE value {fields[1]!r} is not a whole number")
        mai = _MAI.fullmatch(fields[2].strip())
        if not mai:
            raise CodesetFormatError(
                path, line, f"MUE adjudication indicator {fields[2]!r} is not 1, 2 or 3 (e.g. '1 Line Edit')"
            )
        yield (release, code, int(value), int(mai.group(1)), fields[3].strip() or None)


def load_mue(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    setting = release.dataset.removeprefix("ncci-mue-")
    if setting not in _MUE_HEADER_WORD:
        raise ValueError(f"release {release.id} is not an MUE release (dataset ncci-mue-<setting>)")
    rows = 0

    def counted() -> Iterator[tuple[object, ...]]:
        nonlocal rows
        for row in _mue_rows(path, release.id, setting):
            rows += 1
            yield row

    conn.executemany("INSERT INTO ncci_mue VALUES (?, ?, ?, ?, ?)", counted())
    return LoadResult(rows=rows)


# --- add-on codes ------------------------------------------------------------------------------

AOC_PATTERN = re.compile(r"ncci_aoc_edits_(\d{4})q([1-4])\.csv", re.I)
AOC_HEADER = ("Add-on Code", "Primary Code", "AOC Edit Type")
AOC_DDL = """
CREATE TABLE IF NOT EXISTS ncci_aoc (
    release TEXT NOT NULL,
    addon TEXT NOT NULL,
    primary_code TEXT NOT NULL,
    edit_type INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ncci_aoc_addon ON ncci_aoc (release, addon);
CREATE INDEX IF NOT EXISTS ncci_aoc_primary ON ncci_aoc (release, primary_code);
"""
CONTRACTOR_DEFINED = "CCCCC"


def _aoc_rows(path: Path, release: str) -> Iterator[tuple[object, ...]]:
    for line, row in read_delimited(path, AOC_HEADER):
        addon = _code(row["Add-on Code"], path, line, "add-on code")
        primary = row["Primary Code"].strip().upper()
        if primary != CONTRACTOR_DEFINED:
            primary = _code(primary, path, line, "primary code")
        kind = row["AOC Edit Type"].strip()
        if kind not in ("1", "2", "3"):
            raise CodesetFormatError(path, line, f"AOC edit type {kind!r} is not 1, 2 or 3")
        yield (release, addon, primary, int(kind))


def load_aoc(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    rows = _insert(conn, "INSERT INTO ncci_aoc VALUES (?, ?, ?, ?)", _aoc_rows(path, release.id))
    return LoadResult(rows=rows)


def _insert(conn: sqlite3.Connection, sql: str, rows: Iterable[tuple[object, ...]]) -> int:
    count = 0

    def counted() -> Iterator[tuple[object, ...]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    conn.executemany(sql, counted())
    return count


# --- specs -------------------------------------------------------------------------------------


def _aoc_period(match: re.Match[str]) -> Period:
    return quarter_period(int(match.group(1)), int(match.group(2)))


def _ptp_spec(setting: str, pattern: re.Pattern[str], official: str) -> DatasetSpec:
    return DatasetSpec(
        dataset=f"ncci-ptp-{setting}",
        system="ncci",
        pattern=pattern,
        period=ptp_period,
        load=load_ptp,
        ddl=PTP_DDL,
        order=60,
        description=f"NCCI procedure-to-procedure edits, {setting.replace('_', ' ')}",
        official_name=official,
    )


def _mue_spec(setting: str, camel: str) -> DatasetSpec:
    return DatasetSpec(
        dataset=f"ncci-mue-{setting}",
        system="ncci",
        pattern=re.compile(rf"MCR_MUE_{camel}Services_Eff_(\d\d)-(\d\d)-(\d{{4}})\.csv", re.I),
        period=mue_period,
        load=load_mue,
        ddl=MUE_DDL,
        order=60,
        description=f"NCCI medically unlikely edits, {setting.replace('_', ' ')}",
        official_name=f"MCR_MUE_{camel}Services_Eff_MM-DD-YYYY.csv",
    )


SPECS: list[DatasetSpec] = [
    _ptp_spec("practitioner", PTP_PRACTITIONER, "ccipra-vXYZr0-f1..f4.txt"),
    _ptp_spec("outpatient_hospital", PTP_HOSPITAL, "ccioph-vXYZr0-f1..f4.txt"),
    _mue_spec("practitioner", "Practitioner"),
    _mue_spec("outpatient_hospital", "OutpatientHospital"),
    _mue_spec("dme", "DMESupplier"),
    DatasetSpec(
        dataset="ncci-aoc",
        system="ncci",
        pattern=AOC_PATTERN,
        period=_aoc_period,
        load=load_aoc,
        ddl=AOC_DDL,
        order=60,
        description="NCCI add-on code edits",
        official_name="ncci_aoc_edits_<year>q<quarter>.csv (mirror layout of the CMS add-on code edits)",
    ),
]
