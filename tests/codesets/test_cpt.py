"""The user's licensed CPT descriptor file (fixtures use fake descriptor text only)."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import procedures as q
from chartcode.codesets.formats import cpt
from chartcode.errors import CodesetFormatError
from tests.codesets.sourcekit import FIXTURES

TXT_ROW = "99213 Test one\n"  # a good first row of a plain-text file
CSV_HEAD = "Code,Description\n99213,Test one\n"  # a header and a good first row
NOT_CPT = "is not a CPT code (4 digits + digit or letter)"


def test_not_part_of_directory_scanning() -> None:
    assert cpt.SPECS == []
    release = cpt.cpt_release(2025)
    assert (release.id, release.system, release.version) == ("cpt:2025", "cpt", "CY2025")
    assert (release.effective_from, release.effective_to) == (date(2025, 1, 1), date(2025, 12, 31))


def test_plain_text_layout(conn: sqlite3.Connection) -> None:
    result = cpt.load_cpt_file(conn, FIXTURES / "cpt_longult.txt", 2025)
    assert result.rows == 4
    assert (result.effective_from, result.effective_to) == (date(2025, 1, 1), date(2025, 12, 31))
    assert q.cpt_description(conn, "cpt:2025", "99213") == "Test descriptor two, established patient"
    assert q.cpt_description(conn, "cpt:2025", "99214") == "Test descriptor three"  # tab separator
    assert q.cpt_description(conn, "cpt:2025", "0001u") == "Test descriptor one"
    assert q.cpt_description(conn, "cpt:2025", "99215") is None
    assert q.cpt_description(conn, "cpt:2024", "99213") is None


def test_tab_layout_with_header_prefers_long_descriptor(conn: sqlite3.Connection) -> None:
    result = cpt.load_cpt_file(conn, FIXTURES / "cpt_descriptors_tab.txt", 2024)
    assert result.rows == 2
    assert q.cpt_description(conn, "cpt:2024", "99213") == "Test descriptor one"
    assert q.cpt_description(conn, "cpt:2024", "0001U") == "Test descriptor two"


def test_csv_layout_and_reload_replaces(conn: sqlite3.Connection, tmp_path: Path) -> None:
    cpt.load_cpt_file(conn, FIXTURES / "cpt_longult.txt", 2026)
    result = cpt.load_cpt_file(conn, FIXTURES / "cpt_descriptors.csv", 2026)
    assert result.rows == 2
    assert q.cpt_description(conn, "cpt:2026", "99213") == "Test descriptor one, with comma"
    assert q.cpt_description(conn, "cpt:2026", "0001U") is None  # from the replaced file
    assert conn.execute("SELECT COUNT(*) FROM cpt_descriptors").fetchone() == (2,)
    # Windows-1252 text (AMA files are not always UTF-8)
    legacy = tmp_path / "LONGULT.txt"
    legacy.write_bytes("99213 Test descriptor caf\u00e9\r\n".encode("cp1252"))
    loaded = cpt.load_cpt_file(conn, legacy, 2023)
    assert loaded.notes == ("read as Windows-1252 text (not UTF-8)",)
    assert q.cpt_description(conn, "cpt:2023", "99213") == "Test descriptor caf\u00e9"


@pytest.mark.parametrize(
    ("name", "text", "line", "problem"),
    [
        ("a.txt", TXT_ROW + "9921 Test two\n", 2, "not '<5-character code> <descriptor>'"),
        ("b.txt", TXT_ROW + "J3301 Test two\n", 2, f"code 'J3301' {NOT_CPT}"),
        ("c.txt", TXT_ROW + "\n99214 Test two\n", 2, "a blank line"),
        (
            "d.txt",
            TXT_ROW + "99214 Test two\n99213 Test three\n",
            3,
            "code 99213 is listed twice (first on line 1)",
        ),
        ("e.csv", CSV_HEAD + "99214,\n", 3, "code 99214 has an empty descriptor"),
        ("f.csv", CSV_HEAD + "99214\n", 3, "1 fields, expected 2 (truncated or malformed row)"),
        ("g.csv", 'Code,Description\n99213,"Test one\n', 3, "malformed CSV text (unexpected end of data)"),
        ("h.tsv", "CPT Code\tLong Descriptor\n9921X3\tTest one\n", 2, f"code '9921X3' {NOT_CPT}"),
        ("i.csv", "Code,Short Name\n99213,Test one\n", 1, ""),
        ("j.csv", "Code,Description\n", 2, "the file has a header but no rows"),
    ],
)
def test_malformed(
    conn: sqlite3.Connection, tmp_path: Path, name: str, text: str, line: int, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CodesetFormatError) as info:
        cpt.load_cpt_file(conn, path, 2025)
    if problem:
        assert info.value.message == f"{path}, line {line}: {problem}"
    else:
        assert info.value.message.startswith(
            f"{path}, line 1: header ['Code', 'Short Name'] lacks a code column"
        )
    # nothing was written for a rejected file
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "cpt_descriptors" not in tables


def test_empty_file(conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(CodesetFormatError) as info:
        cpt.load_cpt_file(conn, path, 2025)
    assert info.value.message == f"{path}, line 1: the file is empty"
