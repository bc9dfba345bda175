"""Installer: atomic installs, verification, HTTP mirrors and the official-archive path, on tiny fixtures."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets.download import sha256_file
from chartcode.codesets.install import install, install_cpt, verify
from chartcode.codesets.kb import KnowledgeBase, open_kb, parse_date
from chartcode.errors import (
    BadDateError,
    ChecksumMismatchError,
    CodeNotValidOnDateError,
    CodesetFormatError,
    CodesetSourceError,
    DownloadError,
    InvalidCodeFormatError,
    KnowledgeBaseCorruptError,
    KnowledgeBaseMissingError,
    NoReleaseForDateError,
    UnknownCodeError,
)
from tests.codesets.sourcekit import FIXTURES, make_source_dir, sha256, zip_bytes
from tests.httpserver import Site, serve


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return make_source_dir(tmp_path / "mirror")


@pytest.fixture
def kb(source: Path, tmp_path: Path) -> KnowledgeBase:
    install(str(source), tmp_path / "kb" / "kb.sqlite")
    return open_kb(tmp_path / "kb" / "kb.sqlite")


def test_install_from_directory_records_releases_and_checksums(kb: KnowledgeBase, source: Path) -> None:
    rows = {r["id"]: r for r in kb.release_rows()}
    assert len(rows) == 21
    tab = rows["icd10cm-tabular:FY2026"]
    assert (tab["effective_from"], tab["effective_to"]) == ("2025-10-01", "2026-09-30")
    assert json.loads(tab["sha256"]) == {
        "icd10cm_tabular_2026.xml": sha256_file(source / "icd10cm_tabular_2026.xml")
    }
    assert rows["ncci-ptp-practitioner:2024Q3"]["rows"] == 6
    assert verify(kb.path, source).ok


def test_lookup_errors_are_exact(kb: KnowledgeBase) -> None:
    with pytest.raises(InvalidCodeFormatError) as err:
        kb.lookup("E11.")
    assert str(err.value) == (
        "[CC130] 'E11.' is not a valid ICD-10-CM code format: "
        "a dot must be followed by 1-4 characters, e.g. E11.9"
    )
    with pytest.raises(UnknownCodeError) as err2:
        kb.lookup("E11.99", date(2026, 3, 2))
    assert err2.value.message == "E11.99 never existed in ICD-10-CM (no installed release lists it)."
    with pytest.raises(CodeNotValidOnDateError) as err3:
        kb.lookup("U07.1", date(2019, 12, 1))
    assert err3.value.message == "U07.1 is not valid on 2019-12-01; valid 2020-04-01–present"
    # deleted code: valid span closed
    v = kb.validity("E08.00", date(2021, 1, 1))
    assert v.message == "E08.00 is not valid on 2021-01-01; valid 2019-07-01–2020-09-30"
    with pytest.raises(NoReleaseForDateError) as err4:
        kb.lookup("E11.22", date(2010, 1, 1))
    assert err4.value.message == (
        "no installed ICD-10-CM release covers 2010-01-01. Installed: icd10cm-codes:FY2026 "
        "(2025-10-01–2026-09-30); icd10cm-history:IOCE (2019-07-01–2023-12-31); "
        "icd10cm-tabular:FY2026 (2025-10-01–2026-09-30)."
    )
    with pytest.raises(InvalidCodeFormatError) as err5:
        kb.lookup("99")
    assert "'99' is neither an ICD-10-CM code" in str(err5.value)


def test_bad_dates_are_exact() -> None:
    with pytest.raises(BadDateError) as err:
        parse_date("2024-13-01")
    assert err.value.message == "date of service '2024-13-01' is not a valid date (month must be in 1..12)."
    with pytest.raises(BadDateError) as err2:
        parse_date("08/15/2024")
    assert err2.value.message == "date of service '08/15/2024' is not a valid date (not in YYYY-MM-DD form)."
    assert err2.value.fix == "write it as YYYY-MM-DD, e.g. 2024-08-15."


def test_lookup_answers_for_valid_codes(kb: KnowledgeBase) -> None:
    r = kb.lookup("E11.22", date(2026, 3, 2))
    assert r.description_release == "icd10cm-tabular:FY2026" and r.billable and r.valid_on_date
    j = kb.lookup("J3301", date(2024, 8, 15))
    assert j.system == "hcpcs" and j.edits["mue"]["practitioner"]["release"] == "ncci-mue-practitioner:2024Q3"
    # MUE/PTP releases only cover 2024Q3: outside it the lookup says the edit could not be checked.
    later = kb.lookup("99213", date(2025, 3, 1))
    assert "MUE (practitioner): no installed release covers 2025-03-01" in later.edits["not_checked"]
    # J3301 has no history row in this fixture: the 2024Q3 HCPCS file vouches for its own quarter only.
    assert kb.validity("J3301", date(2025, 3, 1)).message == (
        "J3301 is not valid on 2025-03-01; valid 2024-07-01–2024-09-30"
    )


def test_malformed_file_stops_install_and_keeps_previous_kb(source: Path, tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite"
    install(str(source), path)
    before = sha256_file(path)
    broken = make_source_dir(tmp_path / "broken", manifest=False)
    text = (broken / "icd10cm_tabular_2026.xml").read_text(encoding="utf-8")
    (broken / "icd10cm_tabular_2026.xml").write_text(text[: len(text) // 2], encoding="utf-8")
    with pytest.raises(CodesetFormatError) as err:
        install(str(broken), path)
    assert "icd10cm_tabular_2026.xml, line " in str(err.value)
    assert sha256_file(path) == before
    assert open_kb(path).lookup("E11.22").description is not None
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_truncated_csv_row_names_file_and_line(source: Path, tmp_path: Path) -> None:
    history = source / "icd10cm_valid_by_fy.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join([*lines[:4], lines[4][:9]]) + "\n")
    (source / "MANIFEST.sha256").unlink()
    with pytest.raises(CodesetFormatError) as err:
        install(str(source), tmp_path / "kb.sqlite")
    assert "icd10cm_valid_by_fy.csv, line 5" in str(err.value)
    assert not (tmp_path / "kb.sqlite").exists()


def test_manifest_mismatch_is_refused(source: Path, tmp_path: Path) -> None:
    with open(source / "place_of_service.csv", "a", encoding="utf-8") as handle:
        handle.write("98,Extra,Added after the manifest\n")
    with pytest.raises(ChecksumMismatchError) as err:
        install(str(source), tmp_path / "kb.sqlite")
    assert "place_of_service.csv: sha256 is" in str(err.value) and "but MANIFEST.sha256 says" in str(
        err.value
    )
    (source / "place_of_service.csv").unlink()
    with pytest.raises(CodesetSourceError) as err2:
        install(str(source), tmp_path / "kb.sqlite")
    assert "place_of_service.csv is listed in" in str(err2.value) and "but missing" in str(err2.value)


def test_source_without_code_sets_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    with pytest.raises(CodesetSourceError) as err:
        install(str(tmp_path / "empty"), tmp_path / "kb.sqlite")
    assert "no code-set file was recognised in" in str(err.value)
    with pytest.raises(CodesetSourceError) as err2:
        install(str(tmp_path / "nope"), tmp_path / "kb.sqlite")
    assert "does not exist or is not a directory" in str(err2.value)


def test_add_keeps_other_releases(kb: KnowledgeBase, tmp_path: Path) -> None:
    extra = make_source_dir(tmp_path / "pos-only", only={"place_of_service.csv"})
    install(str(extra), kb.path, add=True)
    after = open_kb(kb.path)
    assert len(after.releases) == 21
    install(str(extra), tmp_path / "fresh.sqlite")
    assert [r.id for r in open_kb(tmp_path / "fresh.sqlite").releases] == ["pos:current"]


def test_install_cpt_adds_descriptors(kb: KnowledgeBase) -> None:
    rep = install_cpt(kb.path, FIXTURES / "cpt_descriptors.csv", 2024)
    assert rep.release.id == "cpt:2024" and rep.rows > 0
    fresh = open_kb(kb.path)
    code = fresh.conn.execute("SELECT code, description FROM cpt_descriptors LIMIT 1").fetchone()
    assert fresh.lookup(code[0], date(2024, 8, 15)).description == code[1]
    assert verify(fresh.path).ok


def test_verify_detects_tampering(kb: KnowledgeBase) -> None:
    conn = sqlite3.connect(kb.path)
    conn.execute("DELETE FROM pos_codes WHERE code = (SELECT min(code) FROM pos_codes)")
    conn.commit()
    conn.close()
    report = verify(kb.path)
    assert not report.ok
    assert report.problems == ["pos_codes holds 3 rows of pos:current, 4 were installed"]


def test_missing_and_corrupt_knowledge_base(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseMissingError) as err:
        open_kb(tmp_path / "none.sqlite")
    assert "no code-set knowledge base at" in str(err.value)
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(KnowledgeBaseCorruptError) as err2:
        open_kb(bad)
    assert "is not a chartcode knowledge base" in str(err2.value)


# --- over HTTP -------------------------------------------------------------------------------


def _site_for(folder: Path) -> Site:
    return Site(files={p.name: p.read_bytes() for p in folder.iterdir()})


def test_install_from_http_mirror_resumes_an_interrupted_download(source: Path, tmp_path: Path) -> None:
    site = _site_for(source)
    site.cut_off["icd10cm_tabular_2026.xml"] = 1
    with serve(site) as base:
        report = install(base, tmp_path / "kb.sqlite")
    assert {r.release.id for r in report.releases} >= {"icd10cm-tabular:FY2026", "pos:current"}
    # the first request was cut off half-way; the install fetched the file again (resuming where the
    # client had kept bytes: see test_download) and verified it against the manifest.
    assert [p for p, _ in site.requests].count("icd10cm_tabular_2026.xml") == 2


def test_http_mirror_checksum_mismatch_keeps_previous_kb(source: Path, tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite"
    install(str(source), path)
    before = sha256_file(path)
    site = _site_for(source)
    site.files["place_of_service.csv"] += b"99,Tampered,in transit\n"
    with serve(site) as base, pytest.raises(ChecksumMismatchError) as err:
        install(base, path)
    assert f"{base}place_of_service.csv: sha256 is" in str(err.value)
    assert sha256_file(path) == before


def _official_site(tmp_path: Path) -> tuple[Site, Path]:
    """Official layout: zip archives with the NCHS/CMS member names, and a catalogue naming them."""
    tab = (FIXTURES / "icd10cm_tabular_2026.xml").read_bytes()
    tables = zip_bytes(
        {
            "Table and Index/icd10cm_tabular_2026.xml": tab,
            "Table and Index/icd10cm_index_2025.xml": (
                FIXTURES / "index_icd10cm_index_2025.xml"
            ).read_bytes(),
            "Table and Index/icd10cm-tabular-2026.pdf": b"%PDF-1.4 not extracted",
        }
    )
    codes = zip_bytes({"icd10cm_codes_2026.txt": (FIXTURES / "icd10cm_codes_2026.txt").read_bytes()})
    rvu = zip_bytes(
        {
            "PPRRVU24_JUL.csv": (FIXTURES / "pfs_PPRRVU24_JUL.csv").read_bytes(),
            "GPCI2024.csv": (FIXTURES / "pfs_GPCI2024.csv").read_bytes(),
            "RVU24C.pdf": b"%PDF",
        }
    )
    site = Site(files={"nchs/tables.zip": tables, "cms/codes.zip": codes, "cms/rvu24c.zip": rvu})
    return site, tmp_path / "catalog.json"


def _write_catalog(path: Path, base: str, pins: dict[str, str] | None = None) -> None:
    pins = pins or {}
    archives = [
        {
            "name": "tables",
            "url": base + "nchs/tables.zip",
            "members": [r"icd10cm_(tabular|index)_\d{4}\.xml"],
        },
        {"name": "codes", "url": base + "cms/codes.zip", "members": [r"icd10cm_codes_\d{4}\.txt"]},
        {
            "name": "rvu",
            "url": base + "cms/rvu24c.zip",
            "members": [r"PPRRVU\d\d_JUL\.csv", r"GPCI\d{4}\.csv"],
        },
    ]
    for a in archives:
        if a["name"] in pins:
            a["sha256"] = pins[a["name"]]
    path.write_text(json.dumps({"archives": archives, "not_downloadable": {"pos": "a web page"}}))


def test_install_from_official_archives(tmp_path: Path) -> None:
    site, catalog = _official_site(tmp_path)
    site.cut_off["cms/rvu24c.zip"] = 1
    with serve(site) as base:
        _write_catalog(catalog, base, {"codes": sha256(site.files["cms/codes.zip"])})
        report = install(None, tmp_path / "kb.sqlite", catalog=catalog)
    ids = {r.release.id for r in report.releases}
    assert ids == {
        "icd10cm-tabular:FY2026",
        "icd10cm-index:FY2025",
        "icd10cm-codes:FY2026",
        "icd10cm-history:derived",
        "pfs-rvu:2024Q3",
        "pfs-gpci:CY2024",
    }
    assert "pos: a web page" in report.notes
    kb = open_kb(tmp_path / "kb.sqlite")
    # validity derived from the codes file: valid in FY2026, open-ended
    assert kb.validity("E11.22", date(2026, 3, 2)).valid
    assert [p for p, _ in site.requests].count("cms/rvu24c.zip") == 2  # cut off once, fetched again


def test_official_archive_checksum_mismatch(tmp_path: Path) -> None:
    site, catalog = _official_site(tmp_path)
    with serve(site) as base:
        _write_catalog(catalog, base, {"codes": "f" * 64})
        with pytest.raises(ChecksumMismatchError) as err:
            install(None, tmp_path / "kb.sqlite", catalog=catalog)
    assert (
        f"{base}cms/codes.zip: sha256 is {sha256(site.files['cms/codes.zip'])}, expected {'f' * 64}"
        in str(err.value)
    )
    assert not (tmp_path / "kb.sqlite").exists()


def test_official_archive_corrupt_zip_and_missing_file(tmp_path: Path) -> None:
    site, catalog = _official_site(tmp_path)
    data = bytearray(site.files["nchs/tables.zip"])
    data[60:80] = b"\0" * 20  # damage the compressed member
    site.files["nchs/tables.zip"] = bytes(data)
    with serve(site) as base:
        _write_catalog(catalog, base)
        with pytest.raises(CodesetSourceError) as err:
            install(None, tmp_path / "kb.sqlite", catalog=catalog)
        assert "nchs/tables.zip" in str(err.value)
        del site.files["nchs/tables.zip"]
        with pytest.raises(DownloadError) as err2:
            install(None, tmp_path / "kb.sqlite", catalog=catalog)
        assert f"{base}nchs/tables.zip answered HTTP 404." in str(err2.value)


def test_bad_catalogue_is_reported(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text('{"archives": [{"url": "http://127.0.0.1:9/x.zip"}]}')
    with pytest.raises(CodesetSourceError) as err:
        install(None, tmp_path / "kb.sqlite", catalog=catalog)
    assert f"{catalog} is not a valid catalogue" in str(err.value)


def test_shared_mirror_layout_is_recognised_completely(shared_data: Path) -> None:
    """Every code-set file of the mirror is matched by exactly one reader (no full install here)."""
    from chartcode.codesets.formats import all_specs
    from chartcode.codesets.install import match_files

    files = [p for p in shared_data.rglob("*") if p.is_file() and p.name != "MANIFEST.sha256"]
    matched, ignored = match_files(files, all_specs())
    assert len(matched) == 24
    assert sorted(p.suffix for p in ignored) == [".md", ".txt", ".xsd", ".xsd"]
