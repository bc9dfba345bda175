"""Readers for the official code-set file formats, one module per format family.

Each module exposes ``SPECS: list[DatasetSpec]`` (see :mod:`chartcode.codesets.common`) and may
expose ``FINALIZE: Callable[[sqlite3.Connection], None]`` run once after every file has loaded
(e.g. to build a search index across tables). :func:`all_specs` gathers them in load order.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Callable

from chartcode.codesets.common import DatasetSpec

MODULES = (
    "icd10cm_tabular",
    "icd10cm_codes",
    "icd10cm_history",
    "mce",
    "icd10cm_index",
    "hcpcs",
    "ncci",
    "pfs",
    "pos_modifiers",
    "cpt",
    "icd10cm_lookup",
)


def _modules() -> list[object]:
    return [importlib.import_module(f"chartcode.codesets.formats.{name}") for name in MODULES]


def all_specs() -> list[DatasetSpec]:
    specs: list[DatasetSpec] = []
    for module in _modules():
        specs.extend(getattr(module, "SPECS", []))
    return sorted(specs, key=lambda s: (s.order, s.dataset))


def finalizers() -> list[Callable[[sqlite3.Connection], None]]:
    return [f for module in _modules() if (f := getattr(module, "FINALIZE", None)) is not None]
