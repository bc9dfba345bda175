"""Physician Fee Schedule readers (RVU, GPCI, locality crosswalk, anesthesia CF) and queries."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import procedures as q
from chartcode.codesets.common import LoadResult, Release
from chartcode.codesets.formats import pfs
from chartcode.errors import CodesetFormatError, InvalidCodeFormatError
from tests.codesets.sourcekit import FIXTURES, MIRROR, load_with_specs, spec_for, stage, write

PFS_DIR = MIRROR / "pfs" / "2024c"


def install(conn: sqlite3.Connection, path: Path) -> tuple[Release, LoadResult]:
    return load_with_specs(conn, path, pfs.SPECS)


def test_names_and_periods() -> None:
    cases = {
        "PPRRVU24_JUL.csv": ("pfs-rvu", "2024Q3", date(2024, 7, 1), date(2024, 9, 30)),
        "pprrvu25_jan.CSV": ("pfs-rvu", "2025Q1", date(2025, 1, 1), date(2025, 3, 31)),
        "GPCI2024.csv": ("pfs-gpci", "CY2024", date(2024, 1, 1), date(2024, 12, 31)),
        "24LOCCO.csv": ("pfs-locality", "CY2024", date(2024, 1, 1), date(2024, 12, 31)),
        "ANES2024.csv": ("pfs-anes", "CY2024", date(2024, 1, 1), date(2024, 12, 31)),
    }
    for name, (dataset, version, start, end) in cases.items():
        spec = spec_for(pfs.SPECS, name)
        match = spec.pattern.fullmatch(name)
        assert match is not None
        assert (spec.dataset, *spec.period(match)) == (dataset, version, start, end)


def test_rvu_mirror_layout(conn: sqlite3.Connection, tmp_path: Path) -> None:
    release, result = install(conn, stage(tmp_path, "pfs_PPRRVU24_JUL.csv", "PPRRVU24_JUL.csv"))
    assert release.id == "pfs-rvu:2024Q3" and result == LoadResult(rows=5)
    office = q.rvu(conn, release.id, "99213")
    assert office is not None
    assert (office.work_rvu, office.nf_pe_rvu, office.f_pe_rvu, office.mp_rvu) == (1.30, 1.33, 0.56, 0.10)
    assert (office.nf_total, office.f_total, office.conv_factor) == (2.73, 1.96, 33.2875)
    assert (office.status, office.pctc, office.global_days, office.nf_na) == ("A", "0", "XXX", None)
    tc = q.rvu(conn, release.id, "71046", "tc")
    assert tc is not None and (tc.modifier, tc.work_rvu, tc.f_na, tc.phys_supervision) == (
        "TC",
        0.0,
        "NA",
        "01",
    )
    assert q.rvu(conn, release.id, "71046", "26") is not None
    assert q.rvu(conn, release.id, "71046", "53") is None
    assert q.rvu(conn, release.id, "A0021") is not None
    with pytest.raises(InvalidCodeFormatError, match="is not a valid modifier"):
        q.rvu(conn, release.id, "71046", "TCX")


def test_rvu_cms_layout_never_stores_description(conn: sqlite3.Connection, tmp_path: Path) -> None:
    release, result = install(conn, stage(tmp_path, "pfs_PPRRVU24_JUL_cms.csv", "PPRRVU24_JUL.csv"))
    assert result.rows == 2
    egd = q.rvu(conn, release.id, "43239")
    assert egd is not None and (egd.global_days, egd.endo_base, egd.mult_proc) == ("000", "43235", "2")
    dump = "\n".join(str(row) for row in conn.execute("SELECT * FROM pfs_rvu"))
    assert "Test descriptor" not in dump
    columns = [row[1] for row in conn.execute("PRAGMA table_info(pfs_rvu)")]
    assert "description" not in columns


RVU_HEADER = (FIXTURES / "pfs_PPRRVU24_JUL.csv").read_text(encoding="utf-8").splitlines()[0]
GOOD_ROW = (
    "99213,,,A,,1.30,1.33,,0.56,,0.10,2.73,1.96,0,XXX,0.00,0.00,0.00,0,0,0,0,0,,33.2875,09,,99,0.00,0.00,0.00"
)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (GOOD_ROW.replace("99213", "99214").replace("1.30", "1.3O"), "WORK RVU '1.3O' is not a number"),
        (GOOD_ROW.replace("99213", "99214").replace("33.2875", "nan"), "CONV FACTOR 'nan' is not a number"),
        (GOOD_ROW.replace("99213", "9921"), "HCPCS '9921' is not a CPT/HCPCS code"),
        (GOOD_ROW.replace("99213,,", "99213,2,"), "MOD '2' is not a 2-character modifier"),
        (GOOD_ROW.rsplit(",", 1)[0], "30 fields, expected 31 (truncated or malformed row)"),
        (GOOD_ROW, "99213 (no modifier) is listed twice"),
    ],
)
def test_rvu_malformed(conn: sqlite3.Connection, tmp_path: Path, row: str, problem: str) -> None:
    path = write(tmp_path, "PPRRVU24_JUL.csv", f"{RVU_HEADER}\n{GOOD_ROW}\n{row}\n")
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == f"{path}, line 3: {problem}"


def test_rvu_header_and_middle_blank(conn: sqlite3.Connection, tmp_path: Path) -> None:
    wrong = write(tmp_path, "PPRRVU24_JUL.csv", RVU_HEADER.replace("WORK RVU,", "") + "\n")
    with pytest.raises(CodesetFormatError) as info:
        install(conn, wrong)
    assert info.value.message.startswith(f"{wrong}, line 1: unexpected RVU header (30 columns")
    missing = write(tmp_path, "PPRRVU24_OCT.csv", f"{GOOD_ROW}\n")
    with pytest.raises(CodesetFormatError) as info:
        install(conn, missing)
    assert (
        info.value.message
        == f"{missing}: no 'HCPCS,MOD,DESCRIPTION,...' header row found near the top of the file"
    )
    gap = write(
        tmp_path, "PPRRVU24_APR.csv", f"{RVU_HEADER}\n{GOOD_ROW}\n\n{GOOD_ROW.replace('99213', '99214')}\n"
    )
    with pytest.raises(CodesetFormatError) as info:
        install(conn, gap)
    assert info.value.message == f"{gap}, line 3: an empty or footnote row inside the table"


def test_gpci(conn: sqlite3.Connection, tmp_path: Path) -> None:
    release, result = install(conn, stage(tmp_path, "pfs_GPCI2024.csv", "GPCI2024.csv"))
    assert result == LoadResult(rows=3)
    assert q.gpci(conn, release.id, "13202", "01") == q.Gpci(
        "13202", "NY", "01", "MANHATTAN", 1.065, 1.166, 1.656
    )
    assert q.gpci(conn, release.id, "10112", "0") == q.Gpci("10112", "AL", "00", "ALABAMA", 1.0, 0.869, 0.575)
    assert q.gpci(conn, release.id, "10112", "01") is None


def test_gpci_problems(conn: sqlite3.Connection, tmp_path: Path) -> None:
    text = (FIXTURES / "pfs_GPCI2024.csv").read_text(encoding="utf-8")
    wrong_year = write(tmp_path, "GPCI2025.csv", text)
    with pytest.raises(CodesetFormatError) as info:
        install(conn, wrong_year)
    assert info.value.message == (
        f"{wrong_year}, line 1: column '2024 PW GPCI (with 1.0 Floor)' is for 2024, but the file is for 2025"
    )
    bad = write(tmp_path, "GPCI2024.csv", text.replace("0.869", "0,869", 1))
    with pytest.raises(CodesetFormatError) as info:
        install(conn, bad)
    assert info.value.message == f"{bad}, line 2: 8 fields, expected 7 (truncated or malformed row)"
    bad_number = write(tmp_path, "GPCI2023.csv", text.replace("2024", "2023").replace("1.081", "1.08.1"))
    with pytest.raises(CodesetFormatError) as info:
        install(conn, bad_number)
    assert info.value.message == f"{bad_number}, line 3: PE GPCI '1.08.1' is not a number"
    swapped = write(tmp_path, "GPCI2022.csv", "State,MAC,Locality,Name,PW,PE,MP\n")
    with pytest.raises(
        CodesetFormatError, match=r"no 'Medicare Administrative Contractor \.\.\.' header row"
    ):
        install(conn, swapped)


def test_locality_crosswalk_cms_layout(conn: sqlite3.Connection, tmp_path: Path) -> None:
    release, result = install(conn, stage(tmp_path, "pfs_24LOCCO.csv", "24LOCCO.csv"))
    assert result.rows == 4
    assert result.notes == (
        "2 footnote/empty row(s) after the table (from line 8) not loaded",
        "2 row(s) without a state took the state of the row above (CMS layout)",
    )
    rest = q.localities(conn, release.id, "05302", "99")
    assert rest == [q.Locality("05302", "99", "MISSOURI", "REST OF STATE", "ALL OTHER COUNTIES")] * 2
    [alabama] = q.localities(conn, release.id, "10112", "00")
    assert alabama.counties == "ALL COUNTIES"
    kc = q.localities(conn, release.id, "5302", "1")
    assert kc[0].counties == "CLAY, JACKSON AND PLATTE"


def test_anes_with_dos_end_of_file_mark(conn: sqlite3.Connection, tmp_path: Path) -> None:
    release, result = install(conn, stage(tmp_path, "pfs_ANES2024.csv", "ANES2024.csv"))
    assert result.rows == 3
    assert result.notes == ("1 footnote/empty row(s) after the table (from line 5) not loaded",)
    assert q.anesthesia_cf(conn, release.id, "13202", "01") == 23.25
    assert q.anesthesia_cf(conn, release.id, "99999", "01") is None
    three_columns = write(
        tmp_path, "ANES2023.csv", "Contractor,Locality,2023 Anesthesia CF\n10112,00,19.31\n"
    )
    release3, result3 = install(conn, three_columns)
    assert result3.rows == 1 and q.anesthesia_cf(conn, release3.id, "10112", "00") == 19.31
    bad = write(
        tmp_path,
        "ANES2022.csv",
        "Contractor,Locality,Locality Name,Anesthesia Conversion Factor\n1011A,00,X,1\n",
    )
    with pytest.raises(CodesetFormatError) as info:
        install(conn, bad)
    assert info.value.message == f"{bad}, line 2: contractor (MAC) '1011A' is not a number of up to 5 digits"


def test_full_mirror_pfs() -> None:
    if not PFS_DIR.is_dir():
        pytest.skip("the ../shared/data mirror is not available")
    conn = sqlite3.connect(":memory:")
    counts = {}
    for name in ("PPRRVU24_JUL.csv", "GPCI2024.csv", "24LOCCO.csv", "ANES2024.csv"):
        release, result = install(conn, PFS_DIR / name)
        assert result.notes == ()
        counts[release.id] = result.rows
    assert counts == {
        "pfs-rvu:2024Q3": 18_664,
        "pfs-gpci:CY2024": 109,
        "pfs-locality:CY2024": 110,
        "pfs-anes:CY2024": 109,
    }
    office = q.rvu(conn, "pfs-rvu:2024Q3", "99213")
    assert office is not None and (office.work_rvu, office.nf_total, office.f_total) == (1.30, 2.73, 1.96)
    assert q.gpci(conn, "pfs-gpci:CY2024", "13202", "01") == q.Gpci(
        "13202", "NY", "01", "MANHATTAN", 1.065, 1.166, 1.656
    )
    assert q.anesthesia_cf(conn, "pfs-anes:CY2024", "10112", "00") == 19.77
    assert len(q.localities(conn, "pfs-locality:CY2024", "05302", "99")) == 2
    # non-facility total = work + PE + MP on every row (the mirror's own check)
    assert conn.execute(
        "SELECT COUNT(*) FROM pfs_rvu WHERE ABS(nf_total - (work_rvu + nf_pe_rvu + mp_rvu)) > 0.011"
    ).fetchone() == (0,)
    conn.close()
