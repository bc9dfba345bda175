"""ICD-10-CM codes file reader and its cross-check against the tabular."""

from __future__ import annotations

import sqlite3
import unicodedata
from pathlib import Path

import pytest

from chartcode.codesets.formats import icd10cm_codes as codes
from chartcode.codesets.formats import icd10cm_tabular as tab
from chartcode.errors import CodesetFormatError, CodesetSourceError
from tests.codesets.sourcekit import FIXTURES, MIRROR, load_with_specs, release_for

FIXTURE = FIXTURES / "icd10cm_codes_2026.txt"
FY2026 = MIRROR / "icd10cm" / "fy2026"


def load_codes(conn: sqlite3.Connection, path: Path) -> None:
    load_with_specs(conn, path, codes.SPECS)


def load_tabular(conn: sqlite3.Connection, path: Path) -> None:
    load_with_specs(conn, path, tab.SPECS)


def test_spec() -> None:
    spec = codes.SPECS[0]
    assert (spec.dataset, spec.system, spec.order) == ("icd10cm-codes", "icd10cm", 11)
    assert spec.pattern.fullmatch("icd10cm-codes-2026.txt") and spec.pattern.fullmatch(
        "icd10cm_codes_2026.txt"
    )
    assert not spec.pattern.fullmatch("icd10cm_codes_addenda_2026.txt")
    assert release_for(spec, "icd10cm_codes_2026.txt").id == "icd10cm-codes:FY2026"


def test_load_fixture() -> None:
    conn = sqlite3.connect(":memory:")
    load_codes(conn, FIXTURE)
    rows = dict(conn.execute("SELECT code, description FROM icd_billable"))
    assert len(rows) == 14
    assert rows["E11.22"] == "Type 2 diabetes mellitus with diabetic chronic kidney disease"
    assert rows["S01.01XA"] == "Laceration without foreign body of scalp, initial encounter"
    assert rows["H54.8"] == "Legal blindness, as defined in USA"
    assert conn.execute("SELECT DISTINCT release FROM icd_billable").fetchall() == [("icd10cm-codes:FY2026",)]


def test_read_codes_accepts_lf_too(tmp_path: Path) -> None:
    path = tmp_path / "icd10cm_codes_2026.txt"
    path.write_bytes(
        b"A000    Cholera due to Vibrio cholerae 01, biovar cholerae\nA33     Tetanus neonatorum\n"
    )
    assert list(codes.read_codes(path)) == [
        (1, "A00.0", "Cholera due to Vibrio cholerae 01, biovar cholerae"),
        (2, "A33", "Tetanus neonatorum"),
    ]


GOOD = b"A000    Cholera due to Vibrio cholerae 01, biovar cholerae\r\n"


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        (
            GOOD + b"A00.1   Cholera due to Vibrio cholerae 01, biovar eltor\r\n",
            2,
            "columns 1-7 hold 'A00.1  ', expected an ICD-10-CM code without a dot, left-justified and padded"
            " with spaces to 7 columns",
        ),
        (
            GOOD + b" A001   Cholera due to Vibrio cholerae 01, biovar eltor\r\n",
            2,
            "columns 1-7 hold ' A001  ', expected an ICD-10-CM code without a dot, left-justified and padded"
            " with spaces to 7 columns",
        ),
        (GOOD + b"A001\r\n", 2, "code A00.1 has no description after column 8"),
        (GOOD + b"A001    \r\n", 2, "code A00.1 has no description after column 8"),
        (
            GOOD + b"A001     Cholera\r\n",
            2,
            "the description of A00.1 does not start at column 9 or has trailing spaces",
        ),
        (GOOD + b"A001   Cholera\r\n", 2, "column 8 after code A00.1 must be a space"),
        (GOOD + b"A001    Cholera\r\r\n", 2, "stray carriage return or tab in the line"),
        (GOOD + b"\r\n" + GOOD, 2, "a blank line (truncated or malformed file)"),
        (GOOD + GOOD, 2, "duplicate code A00.0 (first at line 1)"),
        (
            GOOD + b"1234    Not a code\r\n",
            2,
            "columns 1-7 hold '1234   ', expected an ICD-10-CM code without a dot, left-justified and padded"
            " with spaces to 7 columns",
        ),
        (
            GOOD + b"A001    Cholera due to Vibrio chol",
            2,
            "the last line has no line ending: the file may be truncated",
        ),
        (GOOD + b"A001    Chol\xe9ra\r\n", 2, "not valid UTF-8 text (invalid continuation byte)"),
        (GOOD + b"A001\tCholera\r\n", 2, "stray carriage return or tab in the line"),
    ],
)
def test_malformed(tmp_path: Path, content: bytes, line: int, problem: str) -> None:
    path = tmp_path / "icd10cm_codes_2026.txt"
    path.write_bytes(content)
    conn = sqlite3.connect(":memory:")
    with pytest.raises(CodesetFormatError) as info:
        load_codes(conn, path)
    assert info.value.message == f"{path}, line {line}: {problem}"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "icd10cm_codes_2026.txt"
    path.write_bytes(b"")
    with pytest.raises(CodesetFormatError) as info:
        load_codes(sqlite3.connect(":memory:"), path)
    assert info.value.message == f"{path}: the file is empty"


def test_verify_against_tabular_fixture(tmp_path: Path) -> None:
    conn = sqlite3.connect(":memory:")
    load_tabular(conn, FIXTURES / "icd10cm_tabular_2026.xml")
    load_codes(conn, FIXTURE)
    assert codes.verify_codes_against_tabular(conn, "icd10cm-codes:FY2026", "icd10cm-tabular:FY2026") == []
    codes.FINALIZE(conn)  # agrees: no error

    conn.execute("DELETE FROM icd_billable WHERE code = 'E11.9'")
    conn.execute("INSERT INTO icd_billable VALUES ('icd10cm-codes:FY2026', 'S06.1X7D', 'x')")
    assert codes.verify_codes_against_tabular(conn, "icd10cm-codes:FY2026", "icd10cm-tabular:FY2026") == [
        "S06.1X7D: in icd10cm-codes:FY2026 but not billable in icd10cm-tabular:FY2026",
        "E11.9: billable in icd10cm-tabular:FY2026 but not in icd10cm-codes:FY2026",
    ]
    with pytest.raises(CodesetSourceError) as info:
        codes.FINALIZE(conn)
    assert info.value.message.startswith(
        "the codes file icd10cm-codes:FY2026 and the tabular icd10cm-tabular:FY2026"
        " disagree on 2 billable code(s):"
    )


def test_finalize_without_tabular_is_a_no_op() -> None:
    conn = sqlite3.connect(":memory:")
    codes.FINALIZE(conn)  # no tables at all
    load_codes(conn, FIXTURE)
    codes.FINALIZE(conn)  # codes file alone
    conn.executescript(tab.DDL)
    codes.FINALIZE(conn)  # tabular table present but no FY2026 release


@pytest.mark.integration
@pytest.mark.skipif(
    not (FY2026 / "icd10cm_codes_2026.txt").exists(), reason="../shared/data mirror not present"
)
def test_full_mirror_codes_equal_tabular_billable() -> None:
    conn = sqlite3.connect(":memory:")
    load_codes(conn, FY2026 / "icd10cm_codes_2026.txt")
    assert conn.execute("SELECT COUNT(*) FROM icd_billable").fetchone() == (74_719,)
    load_tabular(conn, FY2026 / "icd10cm_tabular_2026.xml")
    assert conn.execute("SELECT COUNT(*) FROM icd_codes WHERE billable = 1").fetchone() == (74_719,)
    assert codes.verify_codes_against_tabular(conn, "icd10cm-codes:FY2026", "icd10cm-tabular:FY2026") == []
    codes.FINALIZE(conn)
    # descriptions agree too, up to the codes file's ASCII folding of accented letters (Sjögren ...)
    pairs = conn.execute(
        "SELECT b.description, c.description FROM icd_billable b"
        " JOIN icd_codes c ON c.code = b.code AND c.release = 'icd10cm-tabular:FY2026'"
    ).fetchall()
    assert len(pairs) == 74_719
    accented = [ours for theirs, ours in pairs if theirs != ours]
    assert 0 < len(accented) <= 119
    fold = [unicodedata.normalize("NFKD", t).encode("ascii", "ignore").decode() for t in accented]
    assert sorted(fold) == sorted(theirs for theirs, ours in pairs if theirs != ours)
