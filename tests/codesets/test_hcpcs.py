"""HCPCS Level II alpha-numeric file, HCPCS/CPT validity spans, and their queries."""

from __future__ import annotations

import csv
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook

from chartcode.codesets import procedures as q
from chartcode.codesets.common import LoadResult, Release
from chartcode.codesets.formats import hcpcs
from chartcode.errors import CodesetFormatError, InvalidCodeFormatError
from tests.codesets.sourcekit import FIXTURES, MIRROR, load_with_specs, spec_for, stage

ANWEB_NAME = "HCPC2024_JUL_ANWEB_LEVEL2.csv"


def install(conn: sqlite3.Connection, path: Path) -> tuple[Release, LoadResult]:
    return load_with_specs(conn, path, hcpcs.SPECS)


def fixture_rows() -> list[list[str]]:
    with open(FIXTURES / "hcpcs_anweb.csv", encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    return path


def test_anweb_names_and_period() -> None:
    for name in (ANWEB_NAME, "HCPC2024_JUL_ANWEB_06112024.xlsx", "hcpc2025_jan_anweb.CSV"):
        assert spec_for(hcpcs.SPECS, name).dataset == "hcpcs-level2"
    match = hcpcs.ANWEB_PATTERN.fullmatch("HCPC2024_OCT_ANWEB_v2.xlsx")
    assert match is not None
    assert spec_for(hcpcs.SPECS, "HCPC2024_OCT_ANWEB_v2.xlsx").period(match) == (
        "2024Q4",
        date(2024, 10, 1),
        date(2024, 12, 31),
    )
    assert hcpcs.ANWEB_PATTERN.fullmatch("HCPC2024_JUL_ANWEB.txt") is None
    assert len(hcpcs.ANWEB_COLUMNS) == 45


def test_anweb_csv_fixture(conn: sqlite3.Connection, tmp_path: Path) -> None:
    release, result = install(conn, stage(tmp_path, "hcpcs_anweb.csv", ANWEB_NAME))
    assert release.id == "hcpcs-level2:2024Q3"
    assert result.rows == 4
    assert result.notes == (
        "1 long-description continuation records (RECID 4) appended",
        "2 modifier records (RECID 7/8) not loaded here (modifiers are loaded from modifiers.csv)",
    )
    j3301 = q.hcpcs_row(conn, release.id, "j3301")
    assert j3301 == q.HcpcsCode(
        code="J3301",
        seqnum="00100",
        long_description="Injection, triamcinolone acetonide, not otherwise specified, 10 mg",
        short_description="Triamcinolone acet inj nos",
        add_date=date(1991, 1, 1),
        action_eff_date=date(2009, 1, 1),
        term_date=None,
        action_code="N",
        coverage="D",
        betos="O1E",
        pricing=("51",),
        mult_pi="A",
        tos=("1", "P"),
        xref=(),
    )
    a4397 = q.hcpcs_row(conn, release.id, "A4397")
    assert a4397 is not None and a4397.term_date == date(2021, 12, 31)
    a0021 = q.hcpcs_row(conn, release.id, "A0021")
    assert a0021 is not None and a0021.xref == ("A0030",) and a0021.tos == ("D",)
    e0100 = q.hcpcs_row(conn, release.id, "E0100")
    assert e0100 is not None and e0100.tos == ("A", "P", "R") and e0100.pricing == ("32",)
    assert q.hcpcs_row(conn, release.id, "A9999") is None
    assert conn.execute("SELECT COUNT(*) FROM hcpcs_codes WHERE code = 'KX'").fetchone() == (0,)


def test_anweb_xlsx(conn: sqlite3.Connection, tmp_path: Path) -> None:
    rows = fixture_rows()
    workbook = Workbook()
    sheet = workbook.active
    for index, row in enumerate(rows):
        cells: list[object] = [value or None for value in row]
        if index == 4:  # J3301: numbers and a date cell as a spreadsheet may hold them
            cells[1] = 100  # SEQNUM
            cells[5] = 51  # PRICE1
            cells[41] = date(1991, 1, 1)  # ADD DT
            cells[42] = 20090101  # ACT EFF DT
        sheet.append(cells)
    sheet.append([None] * 45)  # trailing empty rows are common in workbooks
    path = tmp_path / "HCPC2024_JUL_ANWEB_07012024.xlsx"
    workbook.save(path)
    release, result = install(conn, path)
    assert result.rows == 4
    j3301 = q.hcpcs_row(conn, release.id, "J3301")
    assert j3301 is not None
    assert (j3301.seqnum, j3301.pricing, j3301.add_date, j3301.action_eff_date) == (
        "00100",
        ("51",),
        date(1991, 1, 1),
        date(2009, 1, 1),
    )
    assert j3301.long_description.endswith("not otherwise specified, 10 mg")


def test_anweb_accepts_opps_columns(conn: sqlite3.Connection, tmp_path: Path) -> None:
    rows = [[*row[:33], "", "", "", *row[33:]] for row in fixture_rows()]
    rows[0][33:36] = ["OPPS", "OPPS_PI", "OPPS_DT"]
    _, result = install(conn, write_csv(tmp_path / ANWEB_NAME, rows))
    assert result.rows == 4


@pytest.mark.parametrize(
    ("change", "line", "problem"),
    [
        (lambda rows: rows[1].__setitem__(0, "A002"), 2, "HCPC 'A002' is not a Level II code (A1234)"),
        (lambda rows: rows[2].__setitem__(2, "5"), 3, "RECID '5' is not 3, 4, 7 or 8"),
        (lambda rows: rows[3].__setitem__(41, "19861301"), 4, "ADD DT '19861301' is not a real date"),
        (
            lambda rows: rows[4].__setitem__(43, "2021-12-31"),
            5,
            "TERM DT '2021-12-31' is not a YYYYMMDD date",
        ),
        (
            lambda rows: rows[5].__setitem__(0, "J3300"),
            6,
            "continuation record (RECID 4) of 'J3300' does not follow that code's RECID 3",
        ),
        (lambda rows: rows.insert(3, list(rows[1])), 4, "code A0021 has a second first record (RECID 3)"),
        (lambda rows: rows[2].pop(), 3, "44 fields, expected 45 (truncated or malformed row)"),
    ],
)
def test_anweb_malformed(
    conn: sqlite3.Connection, tmp_path: Path, change: object, line: int, problem: str
) -> None:
    rows = fixture_rows()
    change(rows)  # type: ignore[operator]
    path = write_csv(tmp_path / ANWEB_NAME, rows)
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == f"{path}, line {line}: {problem}"


def test_anweb_bad_header_and_truncation(conn: sqlite3.Connection, tmp_path: Path) -> None:
    rows = fixture_rows()
    rows[0][3] = "LONG_DESCRIPTION"
    path = write_csv(tmp_path / ANWEB_NAME, rows)
    with pytest.raises(
        CodesetFormatError, match=r"line 1: unexpected header .*expected the 45 ANWEB columns"
    ):
        install(conn, path)
    text = (FIXTURES / "hcpcs_anweb.csv").read_text(encoding="utf-8")
    cut = text[: text.index("Cane, includes") + 10]  # ends inside a quoted field
    truncated = tmp_path / "HCPC2024_APR_ANWEB.csv"
    truncated.write_text(cut, encoding="utf-8")
    with pytest.raises(CodesetFormatError) as info:
        install(conn, truncated)
    assert info.value.message == (
        f"{truncated}, line 4: malformed CSV (unexpected end of data); the file may be truncated"
    )
    broken = tmp_path / "HCPC2024_OCT_ANWEB.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(CodesetFormatError, match=r"not a readable \.xlsx workbook"):
        install(conn, broken)


# --- validity ----------------------------------------------------------------------------------


def test_validity_fixture(conn: sqlite3.Connection, tmp_path: Path) -> None:
    release, result = install(conn, stage(tmp_path, "hcpcs_validity.csv", "hcpcs_cpt_validity.csv"))
    assert release.id == "hcpcs-validity:IOCE" and release.effective_to is None
    assert result == LoadResult(rows=8, effective_from=date(2019, 7, 1), effective_to=None, open_ended=True)
    assert q.procedure_validity_spans(conn, "J0570") == [
        (date(2019, 7, 1), date(2024, 12, 31)),
        (date(2025, 10, 1), None),
    ]
    assert q.procedure_validity_spans(conn, "0001a") == [(date(2020, 10, 1), date(2023, 12, 31))]
    assert q.procedure_validity_spans(conn, "99215") == []
    plan = " ".join(
        str(r[-1])
        for r in conn.execute("EXPLAIN QUERY PLAN SELECT * FROM hcpcs_validity WHERE code = ?", ("J0570",))
    )
    assert "hcpcs_validity_code" in plan


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("9921,2019-07-01,", "code '9921' is not a CPT/HCPCS code"),
        ("0001B,2019-07-01,", "code '0001B' is not a CPT/HCPCS code"),
        ("99213,2019-7-01,", "date '2019-7-01' is not YYYY-MM-DD"),
        ("99213,2020-01-01,2019-12-31", "effective_to 2019-12-31 is before effective_from 2020-01-01"),
        ("99213,2020-01-01", "2 fields, expected 3 (truncated or malformed row)"),
    ],
)
def test_validity_malformed(conn: sqlite3.Connection, tmp_path: Path, row: str, problem: str) -> None:
    path = tmp_path / "hcpcs_cpt_validity.csv"
    path.write_text(f"code,effective_from,effective_to\n0001U,2019-07-01,\n{row}\n", encoding="utf-8")
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == f"{path}, line 3: {problem}"


# --- code normalisation ------------------------------------------------------------------------


def test_normalize_procedure_code() -> None:
    assert q.normalize_procedure_code(" j3301 ") == "J3301"
    for code in ("99213", "0001U", "1234F", "0591T", "0001A", "G0008"):
        assert q.normalize_procedure_code(code) == code
    with pytest.raises(InvalidCodeFormatError) as info:
        q.normalize_procedure_code("9921")
    assert (
        info.value.message
        == "'9921' is not a valid CPT/HCPCS code: expected 5 characters such as 99213 or J3301"
    )
    assert info.value.code == "CC130"
    for bad in ("99213-25", "JJ301", "J33O1", ""):
        with pytest.raises(InvalidCodeFormatError, match="is not a valid CPT/HCPCS code"):
            q.normalize_procedure_code(bad)


# --- full mirror -------------------------------------------------------------------------------


def test_full_mirror_hcpcs_and_validity() -> None:
    anweb = MIRROR / "hcpcs" / "2024-07" / ANWEB_NAME
    validity = MIRROR / "hcpcs" / "hcpcs_cpt_validity.csv"
    if not anweb.is_file() or not validity.is_file():
        pytest.skip("the ../shared/data mirror is not available")
    conn = sqlite3.connect(":memory:")
    release, result = install(conn, anweb)
    assert result.rows == 8_033 and result.notes == ()
    j3301 = q.hcpcs_row(conn, release.id, "J3301")
    assert j3301 is not None and j3301.long_description.startswith("Injection, triamcinolone acetonide")
    assert conn.execute("SELECT COUNT(*) FROM hcpcs_codes WHERE term_date IS NOT NULL").fetchone() == (1_058,)
    vrelease, vresult = install(conn, validity)
    assert vresult.rows == 21_151 and vresult.effective_from == date(2019, 7, 1) and vresult.open_ended
    assert conn.execute("SELECT COUNT(DISTINCT code) FROM hcpcs_validity").fetchone() == (21_149,)
    assert q.procedure_validity_spans(conn, "99213") == [(date(2019, 7, 1), None)]
    assert q.procedure_validity_spans(conn, "0001A") == [(date(2020, 10, 1), date(2023, 12, 31))]
    assert vrelease.id == "hcpcs-validity:IOCE"
    conn.close()
