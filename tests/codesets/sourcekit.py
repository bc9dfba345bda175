"""Build small code-set sources (directories, zips, manifests) from the tiny official-format fixtures,
and load single files the way the installer does."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import zipfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from chartcode.codesets.common import DatasetSpec, LoadResult, Release

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# the read-only ../shared/data mirror beside the repository (tests skip when it is absent)
MIRROR = Path(__file__).resolve().parents[3] / "shared" / "data"

# ICD-10-CM codes valid on each fiscal year's first day, as given in ../shared/data/README.md.
OFFICIAL_VALID_COUNTS = {
    date(2019, 7, 1): 71_932,
    date(2019, 10, 1): 72_184,
    date(2020, 10, 1): 72_616,
    date(2021, 10, 1): 72_748,
    date(2022, 4, 1): 72_750,
    date(2022, 10, 1): 73_639,
    date(2023, 4, 1): 73_674,
    date(2023, 10, 1): 74_044,
    date(2024, 10, 1): 74_260,
    date(2025, 10, 1): 74_719,
    date(2026, 4, 1): 74_719,
}

# fixture file -> official file name
OFFICIAL_NAMES = {
    "icd10cm_tabular_2026.xml": "icd10cm_tabular_2026.xml",
    "icd10cm_codes_2026.txt": "icd10cm_codes_2026.txt",
    "icd10cm_valid_by_fy.csv": "icd10cm_valid_by_fy.csv",
    "mce_v41.1_age_edits.csv": "mce_v41.1_age_edits.csv",
    "mce_v41.1_sex_edits.csv": "mce_v41.1_sex_edits.csv",
    "mce_v41.1_manifestation_edits.csv": "mce_v41.1_manifestation_edits.csv",
    "index_icd10cm_index_2025.xml": "icd10cm_index_2025.xml",
    "index_icd10cm_eindex_2025.xml": "icd10cm_eindex_2025.xml",
    "index_icd10cm_drug_2025.xml": "icd10cm_drug_2025.xml",
    "index_icd10cm_neoplasm_2025.xml": "icd10cm_neoplasm_2025.xml",
    "hcpcs_anweb.csv": "HCPC2024_JUL_ANWEB.csv",
    "hcpcs_validity.csv": "hcpcs_cpt_validity.csv",
    "ncci_ptp_mirror.txt": "ncci_ptp_practitioner_2024q3.txt",
    "ncci_mue_practitioner.csv": "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv",
    "ncci_aoc.csv": "ncci_aoc_edits_2024q3.csv",
    "pfs_PPRRVU24_JUL.csv": "PPRRVU24_JUL.csv",
    "pfs_GPCI2024.csv": "GPCI2024.csv",
    "pfs_24LOCCO.csv": "24LOCCO.csv",
    "pfs_ANES2024.csv": "ANES2024.csv",
    "pos_place_of_service.csv": "place_of_service.csv",
    "mod_modifiers.csv": "modifiers.csv",
}


def make_source_dir(root: Path, *, manifest: bool = True, only: set[str] | None = None) -> Path:
    """A mirror-like folder of official file names, with a MANIFEST.sha256 unless told otherwise."""
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for fixture, official in OFFICIAL_NAMES.items():
        if only is not None and official not in only:
            continue
        target = root / official
        shutil.copyfile(FIXTURES / fixture, target)
        lines.append(f"{sha256(target.read_bytes())}  {official}")
    if manifest:
        (root / "MANIFEST.sha256").write_text("\n".join(lines) + "\n")
    return root


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


# --- loading one file as the installer does -------------------------------------------------


def spec_for(specs: Sequence[DatasetSpec], name: str) -> DatasetSpec:
    """The one spec of `specs` whose pattern matches the file name `name`."""
    matches = [s for s in specs if s.pattern.fullmatch(name)]
    assert len(matches) == 1, f"{name} matched {len(matches)} specs"
    return matches[0]


def release_for(spec: DatasetSpec, name: str) -> Release:
    """The release the installer builds for a file called `name` that `spec` matches."""
    match = spec.pattern.fullmatch(name)
    assert match is not None, f"{name} does not match {spec.dataset}"
    version, start, end = spec.period(match)
    return Release(f"{spec.dataset}:{version}", spec.dataset, spec.system, version, start, end)


def release_named(specs: Sequence[DatasetSpec], name: str) -> Release:
    """The release of a file called `name`, from the one spec of `specs` that matches it."""
    return release_for(spec_for(specs, name), name)


def create_tables(conn: sqlite3.Connection, ddl: str) -> None:
    """Run a spec's DDL statement by statement, as the installer does."""
    for statement in (s.strip() for s in ddl.split(";")):
        if statement:
            conn.execute(statement)


def load_with_specs(
    conn: sqlite3.Connection, path: Path, specs: Sequence[DatasetSpec]
) -> tuple[Release, LoadResult]:
    """What the installer does for one file: pick its spec by name, create the tables, load it."""
    spec = spec_for(specs, path.name)
    release = release_for(spec, path.name)
    create_tables(conn, spec.ddl)
    return release, spec.load(conn, path, release)


def stage(tmp_path: Path, fixture: str, name: str) -> Path:
    """Copy a fixture into `tmp_path` under the file name a loader expects."""
    target = tmp_path / name
    shutil.copyfile(FIXTURES / fixture, target)
    return target


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write `text` exactly (UTF-8, no newline translation) to `tmp_path / name`."""
    target = tmp_path / name
    target.write_text(text, encoding="utf-8", newline="")
    return target
