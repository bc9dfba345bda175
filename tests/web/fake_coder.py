"""A deterministic stand-in for the coder for the workbench tests: one code per phrase found in a note.

Offsets are Python str indices (code points), exactly as the real coder reports them, so a note with an
emoji before the evidence exercises the browser's code-point handling.
"""

from __future__ import annotations

from pathlib import Path

from chartcode.assign.api import CodedDiagnosis, CodingOptions, CodingResult, Evidence

# phrase -> (code, description, confidence, index path); the codes exist in the fixture knowledge base
PHRASES = {
    "type 2 diabetes": ("E11.9", "Type 2 diabetes mellitus without complications", 0.93, "Diabetes › type 2"),
    "chronic kidney disease": (
        "E11.22",
        "Type 2 diabetes mellitus with diabetic chronic kidney disease",
        0.62,
        "Diabetes › type 2 › with › chronic kidney disease",
    ),
    "legal blindness": ("H54.8", "Legal blindness, as defined in USA", 0.41, "Blindness › legal"),
}


class WebFakeCoder:
    def code(self, text: str | bytes, options: CodingOptions) -> CodingResult:
        note = text.decode("utf-8") if isinstance(text, bytes) else text
        lower = note.lower()
        found = []
        for phrase, (code, description, confidence, path) in PHRASES.items():
            start = lower.find(phrase)
            if start < 0:
                continue
            evidence = (Evidence(start, start + len(phrase), note[start : start + len(phrase)]),)
            found.append(
                (
                    start,
                    CodedDiagnosis(code, description, evidence, f"phrase '{phrase}'", confidence, path=path),
                )
            )
        return CodingResult(
            diagnoses=tuple(d for _, d in sorted(found, key=lambda sd: sd[0])),
            release="icd10cm-tabular:FY2026",
            date_of_service=options.date_of_service.isoformat() if options.date_of_service else None,
            policy=options.policy,
            setting=options.setting,
        )


def web_fake_factory(kb_path: Path | None = None) -> WebFakeCoder:
    return WebFakeCoder()
