"""NCCI readers (PTP, MUE, add-on codes) and their queries."""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import procedures as q
from chartcode.codesets.common import LoadResult, Release
from chartcode.codesets.formats import ncci
from chartcode.errors import CodesetFormatError, CodesetSourceError
from tests.codesets.sourcekit import FIXTURES, MIRROR, load_with_specs, release_named, stage, write

NCCI_DIR = MIRROR / "ncci" / "2024q3"


def install(conn: sqlite3.Connection, path: Path) -> tuple[Release, LoadResult]:
    return load_with_specs(conn, path, ncci.SPECS)


# --- names and periods -------------------------------------------------------------------------


def test_ncci_version_to_quarter() -> None:
    assert ncci.ncci_version_quarter("30", "2") == (2024, 3)
    assert ncci.ncci_version_quarter("32", "0") == (2026, 1)
    assert ncci.ncci_version_quarter("31", "3") == (2025, 4)
    with pytest.raises(ValueError, match="minor version must be 0-3"):
        ncci.ncci_version_quarter("30", "4")


@pytest.mark.parametrize(
    ("name", "release_id", "start", "end"),
    [
        ("ccipra-v302r0-f1.txt", "ncci-ptp-practitioner:2024Q3", date(2024, 7, 1), date(2024, 9, 30)),
        ("ccipra-v320r1-f4.TXT", "ncci-ptp-practitioner:2026Q1", date(2026, 1, 1), date(2026, 3, 31)),
        (
            "ccioph-v313r0-f2.txt",
            "ncci-ptp-outpatient_hospital:2025Q4",
            date(2025, 10, 1),
            date(2025, 12, 31),
        ),
        (
            "ncci_ptp_practitioner_2024q3.txt.gz",
            "ncci-ptp-practitioner:2024Q3",
            date(2024, 7, 1),
            date(2024, 9, 30),
        ),
        (
            "ncci_ptp_outpatient_hospital_2024q3.txt.gz",
            "ncci-ptp-outpatient_hospital:2024Q3",
            date(2024, 7, 1),
            None,
        ),
        (
            "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv",
            "ncci-mue-practitioner:2024Q3",
            date(2024, 7, 1),
            None,
        ),
        (
            "MCR_MUE_OutpatientHospitalServices_Eff_04-01-2025.csv",
            "ncci-mue-outpatient_hospital:2025Q2",
            None,
            None,
        ),
        ("MCR_MUE_DMESupplierServices_Eff_10-01-2024.csv", "ncci-mue-dme:2024Q4", date(2024, 10, 1), None),
        ("ncci_aoc_edits_2024q3.csv", "ncci-aoc:2024Q3", date(2024, 7, 1), date(2024, 9, 30)),
    ],
)
def test_file_names_map_to_one_release(
    name: str, release_id: str, start: date | None, end: date | None
) -> None:
    release = release_named(ncci.SPECS, name)
    assert release.id == release_id
    assert release.system == "ncci"
    if start is not None:
        assert release.effective_from == start
    if end is not None:
        assert release.effective_to == end


def test_impossible_versions_in_file_names() -> None:
    with pytest.raises(CodesetFormatError) as info:
        release_named(ncci.SPECS, "ccipra-v304r0-f1.txt")
    assert (
        info.value.message == "ccipra-v304r0-f1.txt: file name: NCCI version v30.4: minor version must be 0-3"
    )
    with pytest.raises(CodesetFormatError, match="file name date 13-01-2024 is not a real date"):
        release_named(ncci.SPECS, "MCR_MUE_PractitionerServices_Eff_13-01-2024.csv")


def test_official_parts_share_one_release() -> None:
    ids = {release_named(ncci.SPECS, f"ccipra-v302r0-f{n}.txt").id for n in range(1, 5)}
    assert (
        ids
        == {"ncci-ptp-practitioner:2024Q3"}
        == {release_named(ncci.SPECS, "ncci_ptp_practitioner_2024q3.txt.gz").id}
    )


# --- PTP ---------------------------------------------------------------------------------------


def test_official_ptp_parts_load_into_one_release(conn: sqlite3.Connection, tmp_path: Path) -> None:
    f1 = stage(tmp_path, "ncci_ptp_ccipra_f1.txt", "ccipra-v302r0-f1.txt")
    f2 = stage(tmp_path, "ncci_ptp_ccipra_f2.txt", "ccipra-v302r0-f2.txt")
    release, first = install(conn, f1)
    _, second = install(conn, f2)
    assert (first.rows, second.rows) == (6, 2)
    rid = release.id
    assert conn.execute("SELECT COUNT(*) FROM ncci_ptp WHERE release = ?", (rid,)).fetchone() == (8,)
    # rationale texts are stored once per release, with ids that do not collide across parts
    texts = [
        t for (t,) in conn.execute("SELECT text FROM ncci_rationales WHERE release = ? ORDER BY id", (rid,))
    ]
    assert texts == [
        "CPT Manual or CMS manual coding instruction",
        "Misuse of Column Two code with Column One code",
        "Standard preparation/monitoring services for anesthesia",
    ]
    edits = q.ptp_edits(conn, rid, "29881", "29877")
    assert edits == [
        q.PtpEdit(
            "29881",
            "29877",
            date(1996, 1, 1),
            None,
            0,
            "Misuse of Column Two code with Column One code",
            True,
        ),
        q.PtpEdit(
            "29881",
            "29877",
            date(1996, 1, 1),
            date(2002, 1, 1),
            9,
            "Misuse of Column Two code with Column One code",
            False,
        ),
    ]
    assert edits[0].in_effect_on(date(2024, 8, 1)) and not edits[1].in_effect_on(date(1999, 1, 1))
    deleted = q.ptp_edits(conn, rid, "99213", "99211")[0]
    assert deleted.deletion == date(2019, 12, 31)
    assert deleted.in_effect_on(date(2019, 12, 30)) and not deleted.in_effect_on(date(2019, 12, 31))
    assert q.ptp_edits(conn, rid, "29877", "29881") == []  # direction matters
    anesthesia = q.ptp_edits(conn, rid, "g0463", "36591")
    assert [(e.modifier_indicator, e.rationale) for e in anesthesia] == [
        (1, "Standard preparation/monitoring services for anesthesia")
    ]

    # the same part again (e.g. a second copy in another folder) adds nothing
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    again = stage(copy_dir, "ncci_ptp_ccipra_f1.txt", f1.name)
    _, repeat = install(conn, again)
    assert repeat.rows == 0
    assert repeat.notes == (
        f"ccipra-v302r0-f1.txt: part f1 of {rid} is already loaded from ccipra-v302r0-f1.txt; skipped",
    )
    assert conn.execute("SELECT COUNT(*) FROM ncci_ptp WHERE release = ?", (rid,)).fetchone() == (8,)

    # a combined (mirror) file for the same release would duplicate the parts: refused
    mirror = stage(tmp_path, "ncci_ptp_mirror.txt", "ncci_ptp_practitioner_2024q3.txt")
    with pytest.raises(CodesetSourceError, match="keep either the single combined file or the CMS parts"):
        install(conn, mirror)


def test_mirror_ptp_gz_and_both_directions(conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "ncci_ptp_practitioner_2024q3.txt.gz"
    path.write_bytes(gzip.compress((FIXTURES / "ncci_ptp_mirror.txt").read_bytes()))
    release, result = install(conn, path)
    assert result == LoadResult(rows=6)
    versions = q.ptp_edits(conn, release.id, "20610", "99211")
    assert [(v.effective, v.deletion, v.modifier_indicator, v.prior_1996) for v in versions] == [
        (None, None, 1, False),
        (None, date(2019, 12, 31), 1, False),
    ]
    found = q.ptp_for_codes(conn, release.id, ["76942", "20610", "29881", "99213", "20610"])
    assert [(e.column1, e.column2, e.rationale) for e in found] == [
        ("20610", "76942", "CPT Manual or CMS manual coding instruction"),
        ("76942", "20610", "More extensive procedure"),
    ]
    assert q.ptp_for_codes(conn, release.id, ["20610"]) == []
    assert len(q.ptp_for_codes(conn, release.id, ["29881", "29877", "20610", "99211"])) == 4
    # the lookup is an index search, not a table scan
    plan = " ".join(
        str(r[-1])
        for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM ncci_ptp"
            " WHERE release = ? AND column1 IN (?, ?) AND column2 IN (?, ?)",
            (release.id, "a", "b", "c", "d"),
        )
    )
    assert "USING PRIMARY KEY" in plan and "SCAN" not in plan


PTP_HEADER = (
    "Column 1\tColumn 2\t* = In existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
    "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale\n"
)


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("20610\t76942\t\t\t*\t2\tX\n", 2, "modifier indicator '2' is not 0, 1 or 9"),
        (
            "20610\t76942\t\t\t*\t1\tX\n2061\t76942\t\t\t*\t1\tX\n",
            3,
            "Column 1 code '2061' is not a CPT/HCPCS code",
        ),
        ("20610\t7694x\t\t\t*\t1\tX\n", 2, "Column 2 code '7694x' is not a CPT/HCPCS code"),
        ("20610\t76942\t\t2015011\t*\t1\tX\n", 2, "effective date '2015011' is not YYYYMMDD"),
        ("20610\t76942\t\t\t20150231\t1\tX\n", 2, "deletion date '20150231' is not a real date"),
        ("20610\t76942\tY\t\t*\t1\tX\n", 2, "pre-1996 flag 'Y' is not '*' or empty"),
        (
            "20610\t76942\t\t\t*\t1\tX\n\n20610\t99211\t\t\t*\t1\tX\n",
            3,
            "a blank line (truncated or malformed row)",
        ),
        (
            "20610\t76942\t\t\t*\t1\tX\n20610\t99211\t\t",
            3,
            "4 fields, expected 7 (truncated or malformed row)",
        ),
    ],
)
def test_ptp_malformed_rows(
    conn: sqlite3.Connection, tmp_path: Path, body: str, line: int, problem: str
) -> None:
    path = write(tmp_path, "ncci_ptp_practitioner_2024q3.txt", PTP_HEADER + body)
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == f"{path}, line {line}: {problem}"


def test_ptp_header_problems(conn: sqlite3.Connection, tmp_path: Path) -> None:
    no_header = write(tmp_path, "ccipra-v302r0-f1.txt", "CPT only copyright.\t\t\t\t\t\t\n\n")
    with pytest.raises(CodesetFormatError) as info:
        install(conn, no_header)
    assert info.value.message == f"{no_header}: no 'Column 1<TAB>Column 2...' header line found"

    data_first = write(tmp_path, "ccipra-v302r0-f2.txt", "20610\t76942\t\t\t*\t1\tX\n" + PTP_HEADER)
    with pytest.raises(CodesetFormatError) as info:
        install(conn, data_first)
    assert (
        info.value.message
        == f"{data_first}, line 1: data row before the 'Column 1' header line (no header found)"
    )

    wrong = write(tmp_path, "ccipra-v302r0-f3.txt", "Column 1\tColumn 2\tModifier\n")
    with pytest.raises(CodesetFormatError, match=r"line 1: unexpected PTP header"):
        install(conn, wrong)


def test_ptp_truncated_gzip(conn: sqlite3.Connection, tmp_path: Path) -> None:
    data = gzip.compress((FIXTURES / "ncci_ptp_mirror.txt").read_bytes())
    path = tmp_path / "ncci_ptp_outpatient_hospital_2024q3.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == (
        f"{path}, line 1: cannot read the file: Compressed file ended before the end-of-stream marker "
        "was reached; it is truncated or corrupt"
    )


# --- MUE ---------------------------------------------------------------------------------------


def test_mue_mirror_layout(conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = stage(tmp_path, "ncci_mue_practitioner.csv", "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv")
    release, result = install(conn, path)
    assert result.rows == 5 and release.id == "ncci-mue-practitioner:2024Q3"
    assert q.mue(conn, release.id, "99213") == q.Mue("99213", 2, 3, "Clinical: Data")
    assert q.mue(conn, release.id, "g0008") == q.Mue("G0008", 1, 1, "Code Descriptor / CPT Instruction")
    assert q.mue(conn, release.id, "J3301") == q.Mue("J3301", 16, 2, "Prescribing Information")
    assert q.mue(conn, release.id, "99214") is None


def test_mue_cms_layout_with_preamble_and_bare_mai(conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = stage(tmp_path, "ncci_mue_official_dme.csv", "MCR_MUE_DMESupplierServices_Eff_07-01-2024.csv")
    release, result = install(conn, path)
    assert result.rows == 3
    assert q.mue(conn, release.id, "E0100") == q.Mue("E0100", 1, 1, "Nature of Equipment")
    assert q.mue(conn, release.id, "A4206") == q.Mue("A4206", 0, 3, "CMS Policy")
    assert q.mue(conn, release.id, "J3301") == q.Mue("J3301", 0, 2, None)


MUE_HEADER = "HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale\n"


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            MUE_HEADER + "99213,2,4 Other,X\n",
            2,
            "MUE adjudication indicator '4 Other' is not 1, 2 or 3 (e.g. '1 Line Edit')",
        ),
        (MUE_HEADER + "99213,two,1,X\n", 2, "MUE value 'two' is not a whole number"),
        (MUE_HEADER + "99213,2,1,X\n99213,3,1,X\n", 3, "code 99213 is listed twice"),
        (MUE_HEADER + "99213,2,1\n", 2, "3 fields, expected 4 (truncated or malformed row)"),
        (
            MUE_HEADER + '99213,2,1,"X\n',
            2,
            "malformed CSV (unexpected end of data); the file may be truncated",
        ),
        ("99213,2,1,X\n" + MUE_HEADER, 1, "data row before the 'HCPCS/CPT Code' header row"),
    ],
)
def test_mue_malformed(conn: sqlite3.Connection, tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = write(tmp_path, "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv", text)
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == f"{path}, line {line}: {problem}"


def test_mue_header_of_another_setting(conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = write(tmp_path, "MCR_MUE_DMESupplierServices_Eff_07-01-2024.csv", MUE_HEADER + "A4206,0,3,X\n")
    with pytest.raises(
        CodesetFormatError, match=r"line 1: unexpected MUE header .*<dme services> MUE Values"
    ):
        install(conn, path)


# --- add-on codes ------------------------------------------------------------------------------


def test_aoc(conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = stage(tmp_path, "ncci_aoc.csv", "ncci_aoc_edits_2024q3.csv")
    release, result = install(conn, path)
    assert result.rows == 5
    assert q.addon_primaries(conn, release.id, "22614") == [("22600", 1), ("22610", 1)]
    assert q.addon_primaries(conn, release.id, "0054T") == [("CCCCC", 2)]
    assert q.is_addon(conn, release.id, "99292") and not q.is_addon(conn, release.id, "99291")


def test_aoc_malformed(conn: sqlite3.Connection, tmp_path: Path) -> None:
    path = write(
        tmp_path, "ncci_aoc_edits_2024q3.csv", "Add-on Code,Primary Code,AOC Edit Type\n99292,99291,4\n"
    )
    with pytest.raises(CodesetFormatError) as info:
        install(conn, path)
    assert info.value.message == f"{path}, line 2: AOC edit type '4' is not 1, 2 or 3"
    bad = write(
        tmp_path, "ncci_aoc_edits_2024q4.csv", "Add-on Code,Primary Code,AOC Edit Type\n99292,9929,1\n"
    )
    with pytest.raises(CodesetFormatError) as info:
        install(conn, bad)
    assert info.value.message == f"{bad}, line 2: primary code '9929' is not a CPT/HCPCS code (5 characters)"


# --- full mirror -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_ptp(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[sqlite3.Connection, dict[str, int]]]:
    """Both full PTP files loaded once (about 4.3 million rows)."""
    if not NCCI_DIR.is_dir():
        pytest.skip("the ../shared/data mirror is not available")
    connection = sqlite3.connect(tmp_path_factory.mktemp("ptp") / "kb.sqlite")
    rows: dict[str, int] = {}
    for setting in ("practitioner", "outpatient_hospital"):
        release, result = install(connection, NCCI_DIR / f"ncci_ptp_{setting}_2024q3.txt.gz")
        rows[release.id] = result.rows
    connection.commit()
    yield connection, rows
    connection.close()


def test_full_ptp_counts_and_facts(full_ptp: tuple[sqlite3.Connection, dict[str, int]]) -> None:
    conn, rows = full_ptp
    practitioner, hospital = "ncci-ptp-practitioner:2024Q3", "ncci-ptp-outpatient_hospital:2024Q3"
    assert rows == {practitioner: 2_546_017, hospital: 1_775_818}
    for rid, count in rows.items():
        assert conn.execute("SELECT COUNT(*) FROM ncci_ptp WHERE release = ?", (rid,)).fetchone() == (count,)
    assert conn.execute(
        "SELECT COUNT(*) FROM ncci_rationales WHERE release = ?", (practitioner,)
    ).fetchone() == (12,)
    # modifier indicator 0: knee arthroscopy 29881 bundles 29877 (plus a version deleted retroactively, 9)
    knee = q.ptp_edits(conn, practitioner, "29881", "29877")
    assert [(e.deletion, e.modifier_indicator, e.rationale) for e in knee] == [
        (None, 0, "Misuse of Column Two code with Column One code"),
        (date(2002, 1, 1), 9, "Misuse of Column Two code with Column One code"),
    ]
    assert knee[0].in_effect_on(date(2024, 7, 15)) and not knee[1].in_effect_on(date(2024, 7, 15))
    # modifier indicator 1
    [injection] = q.ptp_edits(conn, practitioner, "20610", "76942")
    assert (injection.modifier_indicator, injection.rationale) == (
        1,
        "CPT Manual or CMS manual coding instruction",
    )
    assert len(q.ptp_edits(conn, hospital, "29881", "29877")) == 2
    among = q.ptp_for_codes(conn, practitioner, ["29881", "29877", "20610", "76942", "99213"])
    assert {(e.column1, e.column2) for e in among} >= {("29881", "29877"), ("20610", "76942")}


def test_full_mue_and_aoc() -> None:
    if not NCCI_DIR.is_dir():
        pytest.skip("the ../shared/data mirror is not available")
    conn = sqlite3.connect(":memory:")
    counts = {}
    for name in (
        "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv",
        "MCR_MUE_OutpatientHospitalServices_Eff_07-01-2024.csv",
        "MCR_MUE_DMESupplierServices_Eff_07-01-2024.csv",
        "ncci_aoc_edits_2024q3.csv",
    ):
        release, result = install(conn, NCCI_DIR / name)
        counts[release.id] = result.rows
    assert counts == {
        "ncci-mue-practitioner:2024Q3": 14_677,
        "ncci-mue-outpatient_hospital:2024Q3": 14_628,
        "ncci-mue-dme:2024Q3": 2_928,
        "ncci-aoc:2024Q3": 7_465,
    }
    assert q.mue(conn, "ncci-mue-practitioner:2024Q3", "99213") == q.Mue("99213", 2, 3, "Clinical: Data")
    assert q.mue(conn, "ncci-mue-outpatient_hospital:2024Q3", "J3301") == q.Mue(
        "J3301", 16, 3, "Prescribing Information"
    )
    assert q.mue(conn, "ncci-mue-dme:2024Q3", "E0100") == q.Mue("E0100", 1, 3, "Nature of Equipment")
    assert q.addon_primaries(conn, "ncci-aoc:2024Q3", "99292") == [("99291", 1)]
    assert conn.execute("SELECT COUNT(DISTINCT addon) FROM ncci_aoc").fetchone() == (668,)
    conn.close()
