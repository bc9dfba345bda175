"""A tiny stand-in for the real coder: one code per keyword found in the note.

Module-level so that spawned worker processes can import it (``kb_path -> coder`` factory).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from chartcode.assign.api import CodedDiagnosis, CodingOptions, CodingResult, Evidence
from chartcode.errors import NoReleaseForDateError

# keyword -> (code, description); E11 is a category header and S01.01XA is unknown to the fixture KB
KEYWORDS = {
    "diabetes": ("E11.9", "Type 2 diabetes mellitus without complications"),
    "kidney": ("E11.22", "Type 2 diabetes mellitus with diabetic chronic kidney disease"),
    "blindness": ("H54.8", "Legal blindness, as defined in USA"),
    "header": ("E11", "Type 2 diabetes mellitus"),
    "scalp": ("S01.01XA", "Laceration without foreign body of scalp, initial encounter"),
}
FIRST_DAY = date(2015, 10, 1)
BUILDS = 0  # coders built in this process


class FakeCoder:
    def __init__(self, build: int) -> None:
        self.build = build

    def code(self, text: str | bytes, options: CodingOptions) -> CodingResult:
        note = text.decode("utf-8") if isinstance(text, bytes) else text
        if "BOOM" in note:
            raise RuntimeError(f"crashed on {note!r}")  # quotes the note: must never reach the output
        if options.date_of_service is not None and options.date_of_service < FIRST_DAY:
            raise NoReleaseForDateError(
                f"no installed ICD-10-CM release covers {options.date_of_service.isoformat()}.",
                "use a date of service inside an installed release.",
            )
        lower = note.lower()
        found = []
        for word, (code, description) in KEYWORDS.items():
            start = lower.find(word)
            if start >= 0:
                evidence = (Evidence(start, start + len(word), note[start : start + len(word)]),)
                found.append((start, CodedDiagnosis(code, description, evidence, f"keyword '{word}'", 0.9)))
        return CodingResult(
            diagnoses=tuple(d for _, d in sorted(found, key=lambda sd: sd[0])),
            release="icd10cm-tabular:FY2026",
            date_of_service=options.date_of_service.isoformat() if options.date_of_service else None,
            policy=options.policy,
            setting=options.setting,
            warnings=(f"pid {os.getpid()} build {self.build}",),
        )


def fake_factory(kb_path: Path | None = None) -> FakeCoder:
    global BUILDS
    BUILDS += 1
    return FakeCoder(BUILDS)


def broken_factory(kb_path: Path | None = None) -> FakeCoder:
    from chartcode.errors import KnowledgeBaseMissingError

    raise KnowledgeBaseMissingError(
        f"no code-set knowledge base at {kb_path}.", "run `chartcode codesets install`."
    )
