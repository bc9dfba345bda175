"""Fixtures shared by the code-set tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest


@pytest.fixture()
def conn() -> Iterator[sqlite3.Connection]:
    """An empty in-memory database (modules may override it with a preloaded one)."""
    connection = sqlite3.connect(":memory:")
    yield connection
    connection.close()
