"""Run the coder over CodiEsp cases and score its ICD-10-CM codes (see :mod:`chartcode.eval.metrics`).

Data: one JSON object per line, ``{"id", "text", "icd10cm": [...], "icd10pcs": [...]}``; only
``icd10cm`` is scored. The coder runs with the all-mentions policy (the annotators coded every mention).
Cases are coded on :data:`CORPUS_DATE` by default (the date the gold codes fit best, see there). Gold
codes that are not valid on that date stay in the gold and are counted.
Every emitted code is checked with ``kb.validity(code, day)`` on the date the coder used (no date: the
newest release); the share of invalid emitted codes must be 0.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from chartcode.assign.api import CodingOptions, Setting
from chartcode.assign.batch import CoderFactory, code_batch
from chartcode.codesets.kb import KnowledgeBase
from chartcode.errors import ChartcodeError, InputError
from chartcode.eval import metrics

SPLITS = ("dev", "train")

# CodiEsp (CLEF eHealth 2020) was annotated in 2019 with the ICD-10 edition then in force: its gold codes
# include codes deleted since (cough R05, headache R51, split in FY2021/FY2022). Measured on the train
# gold with the installed validity history: 316 of 5,639 codes are not valid on 2019-07-01 (the earliest
# date the history covers), 321 on 2019-10-01 and 452 on FY2026 dates. The evaluation therefore codes
# on this date of service unless told otherwise (``--date``); the coder then emits the codes in force
# on that date, as it must for any date of service.
CORPUS_DATE = date(2019, 7, 1)
DATA_ENV = "CHARTCODE_CODIESP"

DEFINITIONS = {
    "full": "exact ICD-10-CM code (upper case, dot ignored)",
    "no7th": "7th character ignored: a 7-character code loses it, then trailing placeholder X's after the "
    "category are dropped (S02.0XXA = S02.0XX = S02.0)",
    "category": "first 3 characters",
    "micro": "true/false positives and false negatives summed over documents; codes are a set per document",
    "macro_f1": "mean over the distinct gold codes of the level of each code's F1 over documents",
    "zero_division": "a ratio with a zero denominator is 0.0",
    "invalid_emitted": "emitted codes (distinct per document) not valid on the date the coder used "
    "(kb.validity; no date = newest installed release)",
    "gold_not_valid": "gold codes (distinct per document) not valid on the evaluation's date of service "
    "(why: header = category that is not billable, not valid on the date = deleted or not yet "
    "added, never existed, malformed); they stay in the gold",
    "latency": "coder time per document (errors excluded), in the worker process",
}


@dataclass(frozen=True)
class Case:
    id: str
    text: str
    icd10cm: tuple[str, ...]


def default_data_dir() -> Path:
    """``$CHARTCODE_CODIESP``, else ``../shared/eval/codiesp`` from the working directory or the checkout."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    candidates = [
        Path.cwd() / ".." / "shared" / "eval" / "codiesp",
        Path(__file__).resolve().parents[4] / "shared" / "eval" / "codiesp",
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    return candidates[0]


def data_path(data: Path | None, split: str) -> Path:
    if split not in SPLITS:
        raise InputError(f"--split {split!r} is not known.", "use --split dev or --split train.")
    path = data if data is not None else default_data_dir() / f"{split}.jsonl"
    if not path.is_file():
        raise InputError(
            f"no CodiEsp data at {path}.",
            f"pass --data PATH/{split}.jsonl, or set ${DATA_ENV} to the folder holding {split}.jsonl.",
        )
    return path


def load_cases(path: Path) -> list[Case]:
    """Read a CodiEsp JSONL file; a malformed line is an error naming the file, the line and the field."""
    cases: list[Case] = []
    fix = 'each line must be {"id": "...", "text": "...", "icd10cm": ["..."], "icd10pcs": [...]}.'
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            where = f"{path.name} line {n}"
            try:
                obj = json.loads(raw)
            except ValueError:
                raise InputError(f"{where} is not valid JSON.", fix) from None
            if not isinstance(obj, dict):
                raise InputError(f"{where} is not a JSON object.", fix)
            ident, text, codes = obj.get("id"), obj.get("text"), obj.get("icd10cm")
            if not isinstance(ident, str | int) or isinstance(ident, bool):
                raise InputError(f'{where}: field "id" is missing or not a string.', fix)
            if not isinstance(text, str):
                raise InputError(f'{where}: field "text" is missing or not a string.', fix)
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise InputError(f'{where}: field "icd10cm" is missing or not a list of strings.', fix)
            cases.append(Case(str(ident), text, tuple(codes)))
    return cases


def sample_cases(cases: Sequence[Case], n: int | None, seed: int) -> list[Case]:
    """``n`` cases chosen with ``random.Random(seed)``, kept in file order; all of them when ``n`` is None
    or not smaller than the number of cases."""
    if n is None or n >= len(cases):
        return list(cases)
    if n < 0:
        raise InputError(f"--sample {n} is negative.", "give a number of documents, e.g. --sample 50.")
    chosen = sorted(random.Random(seed).sample(range(len(cases)), n))
    return [cases[i] for i in chosen]


class _ValidityCache:
    """``kb.validity`` per (code, day), as None (valid) or why not: ``header`` (a category that is not
    billable), ``not valid on the date`` (existed at another time), ``never existed`` or ``malformed``."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.seen: dict[tuple[str, date | None], str | None] = {}

    def problem(self, code: str, day: date | None) -> str | None:
        key = (code, day)
        if key not in self.seen:
            try:
                v = self.kb.validity(code, day, "icd10cm")
            except ChartcodeError:
                self.seen[key] = "malformed"
            else:
                if v.valid:
                    self.seen[key] = None
                elif v.spans:
                    self.seen[key] = "not valid on the date"
                else:
                    self.seen[key] = "header" if v.header else "never existed"
        return self.seen[key]

    def valid(self, code: str, day: date | None) -> bool:
        return self.problem(code, day) is None


def evaluate(
    cases: Sequence[Case],
    *,
    coder_factory: CoderFactory,
    kb: KnowledgeBase,
    jobs: int = 1,
    setting: Setting = "outpatient",
    date_of_service: date | None = CORPUS_DATE,
) -> dict[str, Any]:
    """Code every case with the all-mentions policy on ``date_of_service`` (None: the newest installed
    release) and return the JSON-ready report."""
    started = time.perf_counter()
    defaults = CodingOptions(policy="all-mentions", setting=setting, date_of_service=date_of_service)
    lines = (json.dumps({"id": c.id, "text": c.text}) for c in cases)
    records = list(
        code_batch(
            lines, coder_factory=coder_factory, defaults=defaults, jobs=jobs, total=len(cases), timing=True
        )
    )
    wall = time.perf_counter() - started

    gold = [sorted({c.strip().upper() for c in case.icd10cm if c.strip()}) for case in cases]
    predicted: list[list[str]] = []
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    releases: set[str] = set()
    check = _ValidityCache(kb)
    invalid: Counter[str] = Counter()
    for record in records:
        if "error" in record:
            errors[record["error"]["code"]] += 1
            predicted.append([])
            continue
        latencies.append(float(record.get("seconds", 0.0)))
        releases.add(str(record.get("release")))
        day = date.fromisoformat(record["date_of_service"]) if record.get("date_of_service") else None
        codes = sorted({d["code"] for d in record["diagnoses"]})
        predicted.append(codes)
        invalid.update(code for code in codes if not check.valid(code, day))

    gold_bad = [
        (code, why) for doc in gold for code in doc if (why := check.problem(code, date_of_service))
    ]
    newest = kb.release_for("icd10cm-tabular", None)
    emitted = sum(len(p) for p in predicted)
    scores = metrics.score_all(gold, predicted)
    return {
        "policy": defaults.policy,
        "setting": defaults.setting,
        "date_of_service": date_of_service.isoformat() if date_of_service else None,
        "releases": sorted(releases),
        "jobs": jobs,
        "counts": {
            "documents": len(cases),
            "documents_without_gold": sum(1 for g in gold if not g),
            "gold_codes": sum(len(g) for g in gold),
            "predicted_codes": emitted,
            "errors": sum(errors.values()),
        },
        "scores": {level: s.to_dict() for level, s in scores.items()},
        "invalid_emitted": {
            "count": sum(invalid.values()),
            "share": metrics.ratio(sum(invalid.values()), emitted),
            "codes": dict(sorted(invalid.items())),
        },
        "gold_not_valid": {
            "count": len(gold_bad),
            "distinct": len({code for code, _ in gold_bad}),
            "release": newest.id if newest else None,
            "date": date_of_service.isoformat() if date_of_service else None,
            "why": dict(sorted(Counter(why for _, why in gold_bad).items())),
        },
        "errors": dict(sorted(errors.items())),
        "latency": {**metrics.latency_summary(latencies), "total_seconds": wall},
        "top_errors": metrics.top_errors(gold, predicted, "full"),
        "definitions": DEFINITIONS,
    }
