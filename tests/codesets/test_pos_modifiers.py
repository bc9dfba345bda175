"""Place of Service and modifier readers and queries."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import procedures as q
from chartcode.codesets.common import LoadResult, Release
from chartcode.codesets.formats import pos_modifiers
from chartcode.errors import CodesetFormatError, InvalidCodeFormatError
from tests.codesets.sourcekit import MIRROR, load_with_specs, stage

POS_HEAD = "pos_code,pos_name,pos_description\n11,Office,X\n"
MODIFIERS_HEAD = "modifier,type,description\nA1,HCPCS Level II,Dressing\n"


def install(conn: sqlite3.Connection, path: Path) -> tuple[Release, LoadResult]:
    return load_with_specs(conn, path, pos_modifiers.SPECS)


def test_pos(conn: sqlite3.Connection, tmp_path: Path) -> None:
    release, result = install(conn, stage(tmp_path, "pos_place_of_service.csv", "place_of_service.csv"))
    assert release == Release("pos:current", "pos", "pos", "current", date(2000, 1, 1), None)
    assert result == LoadResult(rows=4)
    office = q.pos(conn, release.id, "11")
    assert office is not None and office.name == "Office"
    telehealth = q.pos(conn, release.id, "2")  # "2" means "02"
    assert (
        telehealth is not None and telehealth.name == "Telehealth Provided Other than in Patient\u2019s Home"
    )
    assert q.pos(conn, release.id, "12") is None
    with pytest.raises(InvalidCodeFormatError, match="is not a valid place of service code"):
        q.pos(conn, release.id, "1a")


def test_modifiers(conn: sqlite3.Connection, tmp_path: Path) -> None:
    release, result = install(conn, stage(tmp_path, "mod_modifiers.csv", "modifiers.csv"))
    assert release.id == "modifiers:current" and release.system == "modifiers"
    assert result == LoadResult(rows=5)
    assert q.modifier(conn, release.id, "xs") == q.Modifier(
        "XS",
        "HCPCS Level II",
        "Separate structure, a service that is distinct because it was performed on a separate"
        " organ/structure",
    )
    assert q.modifier(conn, release.id, "25") == q.Modifier("25", "CPT", None)
    assert q.modifier(conn, release.id, "XU") is None
    with pytest.raises(InvalidCodeFormatError, match="is not a valid modifier"):
        q.modifier(conn, release.id, "-25")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        (
            "place_of_service.csv",
            POS_HEAD + "1,Pharmacy,X\n",
            "place of service code '1' is not two digits (e.g. 02, 11)",
        ),
        ("place_of_service.csv", POS_HEAD + "12,,X\n", "place of service 12 has no name"),
        ("place_of_service.csv", POS_HEAD + "11,Office,X\n", "place of service 11 is listed twice"),
        ("place_of_service.csv", POS_HEAD + "12,Home\n", "2 fields, expected 3 (truncated or malformed row)"),
        ("modifiers.csv", MODIFIERS_HEAD + "5,CPT,\n", "modifier '5' is not 2 letters/digits"),
        (
            "modifiers.csv",
            MODIFIERS_HEAD + "XE,HCPCS,Separate encounter\n",
            "modifier type 'HCPCS' is not one of ['HCPCS Level II', 'CPT']",
        ),
        ("modifiers.csv", MODIFIERS_HEAD + "a1,HCPCS Level II,Dressing\n", "modifier A1 is listed twice"),
    ],
)
def test_malformed_third_line(
    conn: sqlite3.Connection, tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == f"{path}, line 3: {problem}"


def test_modifiers_wrong_header(conn: sqlite3.Connection, tmp_path: Path) -> None:
    wrong_header = tmp_path / "MODIFIERS.csv"
    wrong_header.write_text("mod,type,description\n", encoding="utf-8")
    with pytest.raises(CodesetFormatError, match="line 1: unexpected header"):
        install(conn, wrong_header)


def test_full_mirror_pos_and_modifiers() -> None:
    pos_file = MIRROR / "pos" / "place_of_service.csv"
    modifiers_file = MIRROR / "modifiers" / "modifiers.csv"
    if not pos_file.is_file() or not modifiers_file.is_file():
        pytest.skip("the ../shared/data mirror is not available")
    conn = sqlite3.connect(":memory:")
    pos_release, pos_result = install(conn, pos_file)
    mod_release, mod_result = install(conn, modifiers_file)
    assert (pos_result.rows, mod_result.rows) == (99, 426)
    assert conn.execute("SELECT COUNT(*) FROM pos_codes WHERE name = 'Unassigned'").fetchone() == (47,)
    office = q.pos(conn, pos_release.id, "11")
    assert office is not None and office.name == "Office"
    assert conn.execute("SELECT type, COUNT(*) FROM modifiers GROUP BY type ORDER BY type").fetchall() == [
        ("CPT", 43),
        ("HCPCS Level II", 383),
    ]
    kx = q.modifier(conn, mod_release.id, "KX")
    assert kx is not None and kx.type == "HCPCS Level II" and kx.description
    assert q.modifier(conn, mod_release.id, "59") == q.Modifier("59", "CPT", None)
    conn.close()
