"""Medicare Code Editor age / sex / manifestation list readers and mce_edits_for."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import icd10cm as q
from chartcode.codesets.formats import mce
from chartcode.errors import CodesetFormatError
from tests.codesets.sourcekit import FIXTURES, MIRROR, load_with_specs, release_named

MCE_DIR = MIRROR / "icd10cm" / "mce"


def load(conn: sqlite3.Connection, path: Path) -> int:
    return load_with_specs(conn, path, mce.SPECS)[1].rows


def test_specs_and_periods() -> None:
    assert [s.dataset for s in mce.SPECS] == ["mce-age", "mce-sex", "mce-manifestation"]
    assert {s.system for s in mce.SPECS} == {"mce"}
    rel = release_named(mce.SPECS, "mce_v41.1_age_edits.csv")
    assert (rel.id, rel.version, rel.effective_from, rel.effective_to) == (
        "mce-age:v41.1",
        "v41.1",
        date(2024, 4, 1),
        date(2024, 9, 30),
    )
    rel = release_named(mce.SPECS, "MCE-v42.0-sex-edits.csv")
    assert (rel.id, rel.effective_from, rel.effective_to) == (
        "mce-sex:v42.0",
        date(2024, 10, 1),
        date(2025, 3, 31),
    )
    rel = release_named(mce.SPECS, "mce_v43.1_manifestation_edits.csv")
    assert (rel.effective_from, rel.effective_to) == (date(2026, 4, 1), date(2026, 9, 30))
    assert mce.mce_period(41, 0) == ("v41.0", date(2023, 10, 1), date(2024, 3, 31))
    spec = mce.SPECS[0]
    match = spec.pattern.fullmatch("mce_v41.2_age_edits.csv")
    assert match is not None
    with pytest.raises(CodesetFormatError, match=r"the minor version must be 0 \(October\) or 1 \(April\)"):
        spec.period(match)


def test_load_fixtures_and_query() -> None:
    conn = sqlite3.connect(":memory:")
    assert load(conn, FIXTURES / "mce_v41.1_age_edits.csv") == 4
    assert load(conn, FIXTURES / "mce_v41.1_sex_edits.csv") == 2
    assert load(conn, FIXTURES / "mce_v41.1_manifestation_edits.csv") == 2
    edits = q.mce_edits_for(conn, "n521")
    assert edits == [
        q.MceEdit("mce-age:v41.1", "age", "ADULT", 15, 124, None, "Adult (Ages 15-124)"),
        q.MceEdit(
            "mce-manifestation:v41.1",
            "manifestation",
            None,
            None,
            None,
            None,
            "Manifestation (Not Allowed as Principal Diagnosis)",
        ),
        q.MceEdit("mce-sex:v41.1", "sex", None, None, None, "M", "Male Only"),
    ]
    assert q.mce_edits_for(conn, "A33") == [
        q.MceEdit("mce-age:v41.1", "age", "NEWBORN", 0, 0, None, "Perinatal/Newborn (Age 0 Only)")
    ]
    assert [e.sex for e in q.mce_edits_for(conn, "A18.16")] == ["F"]
    assert q.mce_edits_for(conn, "E11.9") == []
    assert conn.execute("SELECT code FROM mce_edits WHERE edit = 'age' ORDER BY code").fetchall() == [
        ("A33",),
        ("E84.11",),
        ("N52.1",),
        ("O09.00",),
    ]


AGE_HEADER = "code,code_dotted,description,age_edit,age_low_years,age_high_years,mce_list\n"
SEX_HEADER = "code,code_dotted,description,sex_allowed,mce_list\n"
GOOD_AGE = "A33,A33,Tetanus neonatorum,NEWBORN,0,0,Perinatal/Newborn (Age 0 Only)\n"


@pytest.mark.parametrize(
    ("name", "content", "line", "problem"),
    [
        (
            "mce_v41.1_age_edits.csv",
            AGE_HEADER + GOOD_AGE + "A3.3,A3.3,x,NEWBORN,0,0,l\n",
            3,
            "code 'A3.3' is not an ICD-10-CM code without a dot",
        ),
        (
            "mce_v41.1_age_edits.csv",
            AGE_HEADER + GOOD_AGE + "E8411,E84.1,x,NEWBORN,0,0,l\n",
            3,
            "code_dotted 'E84.1' does not match code 'E8411'",
        ),
        (
            "mce_v41.1_age_edits.csv",
            AGE_HEADER + GOOD_AGE + "E8411,E84.11,x,INFANT,0,0,l\n",
            3,
            "E84.11: age_edit 'INFANT' is not one of NEWBORN, PEDIATRIC, MATERNITY, ADULT",
        ),
        (
            "mce_v41.1_age_edits.csv",
            AGE_HEADER + GOOD_AGE + "E8411,E84.11,x,NEWBORN,0,1,l\n",
            3,
            "E84.11: ages '0'-'1' do not match the NEWBORN range 0-0",
        ),
        (
            "mce_v41.1_age_edits.csv",
            AGE_HEADER + GOOD_AGE + "E8411,E84.11,x,NEWBORN,0,0,\n",
            3,
            "E84.11: mce_list is empty",
        ),
        (
            "mce_v41.1_age_edits.csv",
            AGE_HEADER + GOOD_AGE + "E8411,E84.11,,NEWBORN,0,0,l\n",
            3,
            "E84.11: description is empty",
        ),
        (
            "mce_v41.1_age_edits.csv",
            AGE_HEADER + GOOD_AGE + GOOD_AGE,
            3,
            "A33 is listed twice (first at line 2)",
        ),
        (
            "mce_v41.1_age_edits.csv",
            AGE_HEADER + GOOD_AGE + "E8411,E84.11,x,NEWBORN,0\n",
            3,
            "5 fields, expected 7 (truncated or malformed row)",
        ),
        (
            "mce_v41.1_sex_edits.csv",
            SEX_HEADER + "A1816,A18.16,x,F,Female Only\nN521,N52.1,x,U,Male Only\n",
            3,
            "N52.1: sex_allowed 'U' is not F or M",
        ),
        ("mce_v41.1_sex_edits.csv", SEX_HEADER, 2, "the file has a header but no rows"),
        (
            "mce_v41.1_sex_edits.csv",
            AGE_HEADER + GOOD_AGE,
            1,
            "unexpected header ['code', 'code_dotted', 'description', 'age_edit', 'age_low_years',"
            " 'age_high_years', 'mce_list']; expected ['code', 'code_dotted', 'description', 'sex_allowed',"
            " 'mce_list']",
        ),
    ],
)
def test_malformed(tmp_path: Path, name: str, content: str, line: int, problem: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CodesetFormatError) as info:
        load(sqlite3.connect(":memory:"), path)
    assert info.value.message == f"{path}, line {line}: {problem}"


def test_truncated_quote(tmp_path: Path) -> None:
    path = tmp_path / "mce_v41.1_age_edits.csv"
    path.write_text(AGE_HEADER + GOOD_AGE + 'O0900,O09.00,"Supervision of pregnancy with')
    with pytest.raises(CodesetFormatError) as info:
        load(sqlite3.connect(":memory:"), path)
    assert "malformed CSV" in info.value.message and "may be truncated" in info.value.message


@pytest.mark.integration
@pytest.mark.skipif(not MCE_DIR.exists(), reason="../shared/data mirror not present")
def test_full_mirror_counts() -> None:
    conn = sqlite3.connect(":memory:")
    counts = {kind: load(conn, MCE_DIR / f"mce_v41.1_{kind}_edits.csv") for kind in mce.KINDS}
    assert counts == {"age": 3_564, "sex": 3_960, "manifestation": 422}
    assert conn.execute("SELECT COUNT(DISTINCT code) FROM mce_edits").fetchone() == (5_343,)
    assert [e.edit for e in q.mce_edits_for(conn, "N52.1")] == ["age", "manifestation", "sex"]
    by_edit = dict(
        conn.execute("SELECT age_edit, COUNT(*) FROM mce_edits WHERE edit = 'age' GROUP BY age_edit")
    )
    assert by_edit == {"MATERNITY": 2_543, "ADULT": 854, "PEDIATRIC": 125, "NEWBORN": 42}
