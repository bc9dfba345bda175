from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
FIXTURES = REPO / "tests" / "codesets" / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "MANIFEST.sha256").exists():
        pytest.skip("../shared/data (the code-set mirror) is not beside the repository")
    return SHARED_DATA
