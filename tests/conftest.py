from __future__ import annotations

import os
from pathlib import Path

import pytest

from chartcode.codesets.install import install
from chartcode.codesets.kb import KnowledgeBase, open_kb

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
FIXTURES = REPO / "tests" / "codesets" / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "MANIFEST.sha256").exists():
        pytest.skip("../shared/data (the code-set mirror) is not beside the repository")
    return SHARED_DATA


@pytest.fixture(scope="session")
def full_kb(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The full ../shared/data mirror installed once per test session.

    Set ``CHARTCODE_TEST_FULL_KB`` to a KB already installed from the same mirror to reuse it (a local
    shortcut for quick runs; CI always installs afresh and checks what the installer reports).
    """
    reuse = os.environ.get("CHARTCODE_TEST_FULL_KB")
    if reuse and Path(reuse).exists():
        return open_kb(Path(reuse))
    path = tmp_path_factory.mktemp("kb") / "kb.sqlite"
    report = install(str(shared_data), path)
    datasets = {r.release.dataset for r in report.releases}
    assert {
        "icd10cm-tabular",
        "icd10cm-codes",
        "icd10cm-history",
        "icd10cm-index",
        "icd10cm-eindex",
        "icd10cm-drug",
        "icd10cm-neoplasm",
        "mce-age",
        "mce-sex",
        "mce-manifestation",
        "hcpcs-level2",
        "hcpcs-validity",
        "ncci-ptp-practitioner",
        "ncci-ptp-outpatient_hospital",
        "ncci-mue-practitioner",
        "ncci-mue-outpatient_hospital",
        "ncci-mue-dme",
        "ncci-aoc",
        "pfs-rvu",
        "pfs-gpci",
        "pfs-locality",
        "pfs-anes",
        "pos",
        "modifiers",
    } <= datasets
    # Only the README, the XSD schemas and the guidelines text are not code-set tables.
    assert sorted(Path(p).name for p in report.ignored) == [
        "README.md",
        "icd10cm_drug_neoplasm_2025.xsd",
        "icd10cm_index_2025.xsd",
        "icd10cm_official_guidelines_fy2022.txt",
    ]
    assert any("billable codes equal the tabular's (74,719)" in n for n in report.notes)
    return open_kb(path)
