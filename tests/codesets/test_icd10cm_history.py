"""ICD-10-CM validity history reader, span derivation and the history queries."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import icd10cm as q
from chartcode.codesets.common import LoadResult
from chartcode.codesets.formats import icd10cm_history as hist
from chartcode.errors import CodesetFormatError
from tests.codesets.sourcekit import FIXTURES, MIRROR, OFFICIAL_VALID_COUNTS, load_with_specs, release_for

FIXTURE = FIXTURES / "icd10cm_valid_by_fy.csv"
HISTORY = MIRROR / "icd10cm" / "history" / "icd10cm_valid_by_fy.csv"
HEADER = "code,effective_from,effective_to,age_low,age_high,manifestation,unacceptable_principal_dx\n"


def load(conn: sqlite3.Connection, path: Path) -> LoadResult:
    return load_with_specs(conn, path, hist.SPECS)[1]


def test_spec_and_period() -> None:
    spec = hist.SPECS[0]
    assert (spec.dataset, spec.system) == ("icd10cm-history", "icd10cm")
    assert spec.pattern.fullmatch("icd10cm-valid-by-fy.csv") and spec.pattern.fullmatch(
        "ICD10CM_VALID_BY_FY.CSV"
    )
    rel = release_for(spec, "icd10cm_valid_by_fy.csv")
    assert (rel.id, rel.version, rel.effective_from, rel.effective_to) == (
        "icd10cm-history:IOCE",
        "IOCE",
        date(2019, 7, 1),
        None,
    )


def test_load_fixture_and_query() -> None:
    conn = sqlite3.connect(":memory:")
    result = load(conn, FIXTURE)
    assert result.rows == 10
    assert (result.effective_from, result.effective_to, result.open_ended) == (date(2019, 7, 1), None, True)
    rows = conn.execute("SELECT * FROM icd_validity WHERE code = 'O09.00' ORDER BY effective_from").fetchall()
    assert rows == [
        ("icd10cm-history:IOCE", "O09.00", "2019-07-01", "2019-09-30", 12, 55, 0, 0),
        ("icd10cm-history:IOCE", "O09.00", "2019-10-01", None, 9, 64, 0, 0),
    ]
    spans = q.validity_spans(conn, "o0900")
    assert [(s.effective_from, s.effective_to, s.age_low, s.age_high) for s in spans] == [
        (date(2019, 7, 1), date(2019, 9, 30), 12, 55),
        (date(2019, 10, 1), None, 9, 64),
    ]
    assert spans[1].covers(date(2030, 1, 1)) and not spans[0].covers(date(2019, 10, 1))
    (d631,) = q.validity_spans(conn, "D63.1")
    assert d631.manifestation is True and d631.unacceptable_principal_dx is False
    (z3800,) = q.validity_spans(conn, "Z38.00")
    assert z3800.unacceptable_principal_dx is True and z3800.effective_to == date(2023, 9, 30)
    assert q.validity_spans(conn, "E11.65") == []

    assert q.count_valid_on(conn, date(2019, 7, 1)) == 8  # all but U07.1 (2020-04-01)
    assert q.count_valid_on(conn, date(2020, 4, 1)) == 9
    assert q.count_valid_on(conn, date(2020, 10, 1)) == 8  # E08.00 ended 2020-09-30
    assert q.count_valid_on(conn, date(2023, 10, 1)) == 7  # Z38.00 ended 2023-09-30
    assert q.count_valid_on(conn, date(2019, 6, 30)) == 0


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("E11.9,2019-07-01,,0,124,0,0", "code 'E11.9' is not an ICD-10-CM code without a dot"),
        ("E119,2019-7-01,,0,124,0,0", "date '2019-7-01' is not YYYY-MM-DD"),
        (
            "E119,2019-02-30,,0,124,0,0",
            "date '2019-02-30' is not a real date (day is out of range for month)",
        ),
        (
            "E119,2020-10-01,2020-09-30,0,124,0,0",
            "E119: effective_to 2020-09-30 is before effective_from 2020-10-01",
        ),
        ("E119,2019-07-01,,0,125,0,0", "age_high '125' is not a whole number from 0 to 124"),
        ("E119,2019-07-01,,x,124,0,0", "age_low 'x' is not a whole number from 0 to 124"),
        ("E119,2019-07-01,,0,,0,0", "E119: age_low and age_high must both be given or both empty"),
        ("E119,2019-07-01,,64,9,0,0", "E119: age_low 64 is above age_high 9"),
        ("E119,2019-07-01,,0,124,2,0", "manifestation '2' is not a whole number from 0 to 1"),
        ("E119,2019-07-01,,0,124,0,yes", "unacceptable_principal_dx 'yes' is not a whole number from 0 to 1"),
        ("E119,2019-07-01,,0,124,0", "6 fields, expected 7 (truncated or malformed row)"),
        ("", "a blank line (truncated or malformed row)"),
    ],
)
def test_malformed_row(tmp_path: Path, row: str, problem: str) -> None:
    path = tmp_path / "icd10cm_valid_by_fy.csv"
    path.write_text(HEADER + "A000,2019-07-01,,0,124,0,0\n" + row + "\nA001,2019-07-01,,0,124,0,0\n")
    with pytest.raises(CodesetFormatError) as info:
        load(sqlite3.connect(":memory:"), path)
    assert info.value.message == f"{path}, line 3: {problem}"


def test_overlapping_spans(tmp_path: Path) -> None:
    path = tmp_path / "icd10cm_valid_by_fy.csv"
    path.write_text(
        HEADER + "E119,2019-07-01,,0,124,0,0\nA000,2019-07-01,,0,124,0,0\nE119,2020-10-01,,0,124,0,0\n"
    )
    with pytest.raises(CodesetFormatError) as info:
        load(sqlite3.connect(":memory:"), path)
    assert info.value.message == (
        f"{path}, line 4: E119: span from 2020-10-01 overlaps or precedes the span at line 2"
        " (spans of a code must be in date order without overlap)"
    )


def test_header_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "icd10cm_valid_by_fy.csv"
    path.write_text("code,from,to\nA000,2019-07-01,\n")
    with pytest.raises(CodesetFormatError) as info:
        load(sqlite3.connect(":memory:"), path)
    assert info.value.line == 1 and "unexpected header ['code', 'from', 'to']" in info.value.message

    path.write_text(HEADER + 'A000,2019-07-01,,0,124,0,"0\n')  # cut inside a quoted field
    with pytest.raises(CodesetFormatError) as info:
        load(sqlite3.connect(":memory:"), path)
    assert "malformed CSV" in info.value.message and "truncated" in info.value.message

    path.write_text(HEADER)
    with pytest.raises(CodesetFormatError) as info:
        load(sqlite3.connect(":memory:"), path)
    assert info.value.message == f"{path}, line 2: the file has a header but no rows"


# --- derive_validity_spans -------------------------------------------------------------------


def test_derive_validity_spans() -> None:
    spans = hist.derive_validity_spans(
        {
            2024: {"A00.0", "E11.9", "U07.1"},
            2022: {"A00.0", "E11.9", "Z99.9"},
            2023: {"A00.0", "U07.1"},  # E11.9 dropped for a year, Z99.9 deleted
        }
    )
    assert spans == [
        ("A00.0", date(2021, 10, 1), None),
        ("E11.9", date(2021, 10, 1), date(2022, 9, 30)),
        ("E11.9", date(2023, 10, 1), None),
        ("U07.1", date(2022, 10, 1), None),
        ("Z99.9", date(2021, 10, 1), date(2022, 9, 30)),
    ]


def test_derive_validity_spans_closed_at_newest_year_when_dropped() -> None:
    spans = hist.derive_validity_spans({2025: {"A00.0", "B00.0"}, 2026: {"A00.0"}})
    assert spans == [("A00.0", date(2024, 10, 1), None), ("B00.0", date(2024, 10, 1), date(2025, 9, 30))]
    assert hist.derive_validity_spans({}) == []


def test_derive_validity_spans_needs_consecutive_years() -> None:
    with pytest.raises(ValueError, match=r"fiscal year\(s\) \[2023\] missing between FY2022 and FY2024"):
        hist.derive_validity_spans({2022: {"A00.0"}, 2024: {"A00.0"}})


# --- full mirror -----------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.skipif(not HISTORY.exists(), reason="../shared/data mirror not present")
def test_full_mirror_counts_per_fiscal_year() -> None:
    conn = sqlite3.connect(":memory:")
    result = load(conn, HISTORY)
    assert result.rows == 79_933
    assert conn.execute("SELECT COUNT(DISTINCT code) FROM icd_validity").fetchone() == (75_215,)
    expected = OFFICIAL_VALID_COUNTS
    assert {day: q.count_valid_on(conn, day) for day in expected} == expected
    # spans rebuilt from per-fiscal-year code sets give the same counts on each FY start
    by_fy = {
        fy: {
            c
            for (c,) in conn.execute(
                "SELECT DISTINCT code FROM icd_validity"
                " WHERE effective_from <= ? AND (effective_to IS NULL OR effective_to >= ?)",
                (f"{fy - 1}-10-01", f"{fy - 1}-10-01"),
            )
        }
        for fy in range(2020, 2027)
    }
    spans = hist.derive_validity_spans(by_fy)
    for fy in range(2020, 2027):
        day = date(fy - 1, 10, 1)
        assert (
            sum(1 for _, start, end in spans if start <= day and (end is None or day <= end)) == expected[day]
        )
