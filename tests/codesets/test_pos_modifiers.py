"""Place of Service and modifier readers and queries."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import procedures as q
from chartcode.codesets.common import DatasetSpec, LoadResult, Release
from chartcode.codesets.formats import pos_modifiers
from chartcode.errors import CodesetFormatError, InvalidCodeFormatError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MIRROR = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def install(conn: sqlite3.Connection, path: Path) -> tuple[Release, LoadResult]:
    specs: list[DatasetSpec] = [s for s in pos_modifiers.SPECS if s.pattern.fullmatch(path.name)]
    assert len(specs) == 1
    spec = specs[0]
    match = spec.pattern.fullmatch(path.name)
    assert match is not None
    version, start, end = spec.period(match)
    release = Release(f"{spec.dataset}:{version}", spec.dataset, spec.system, version, start, end)
    for statement in spec.ddl.split(";"):
        if statement.strip():
            conn.execute(statement)
    return release, spec.load(conn, path, release)


def stage(tmp_path: Path, fixture: str, name: str) -> Path:
    shutil.copyfile(FIXTURES / fixture, tmp_path / name)
    return tmp_path / name


@pytest.fixture()
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    yield connection
    connection.close()


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


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("1,Pharmacy,X", "place of service code '1' is not two digits (e.g. 02, 11)"),
        ("12,,X", "place of service 12 has no name"),
        ("11,Office,X", "place of service 11 is listed twice"),
        ("12,Home", "2 fields, expected 3 (truncated or malformed row)"),
    ],
)
def test_pos_malformed(conn: sqlite3.Connection, tmp_path: Path, row: str, problem: str) -> None:
    path = tmp_path / "place_of_service.csv"
    path.write_text(f"pos_code,pos_name,pos_description\n11,Office,X\n{row}\n", encoding="utf-8")
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == f"{path}, line 3: {problem}"


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
    ("row", "problem"),
    [
        ("5,CPT,", "modifier '5' is not 2 letters/digits"),
        ("XE,HCPCS,Separate encounter", "modifier type 'HCPCS' is not one of ['HCPCS Level II', 'CPT']"),
        ("a1,HCPCS Level II,Dressing", "modifier A1 is listed twice"),
    ],
)
def test_modifiers_malformed(conn: sqlite3.Connection, tmp_path: Path, row: str, problem: str) -> None:
    path = tmp_path / "modifiers.csv"
    path.write_text(f"modifier,type,description\nA1,HCPCS Level II,Dressing\n{row}\n", encoding="utf-8")
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == f"{path}, line 3: {problem}"
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
