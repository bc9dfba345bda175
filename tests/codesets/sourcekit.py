"""Build small code-set sources (directories, zips, manifests) from the tiny official-format fixtures."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"

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
