"""Pure scoring functions for code assignment (no I/O, no knowledge base).

Each document has a gold collection and a predicted collection of ICD-10-CM codes. Codes are compared
as *keys* at one of three levels, after upper-casing, trimming and removing the dot:

- ``full``: the whole code (``S02.0XXA`` -> ``S020XXA``).
- ``no7th``: the 7th character ignored. A key of 7 characters loses its last one, then trailing
  placeholder ``X`` characters after the category (positions 4-6) are removed, so ``S02.0XXA``,
  ``S02.0XXD``, ``S02.0XX`` and ``S02.0`` all become ``S020``; ``S06.1X0A`` becomes ``S061X0``;
  codes of 6 characters or fewer are otherwise unchanged (``E11.22`` stays ``E1122``).
- ``category``: the first 3 characters (``E11.22`` -> ``E11``).

Within a document the keys form a set: duplicates (in the input, or created by a coarser level) count
once. Micro precision, recall and F1 sum true positives, false positives and false negatives over all
documents. Macro-F1 is the mean, over the distinct gold keys of the level (every key occurring in at
least one document's gold), of each key's F1 computed over documents; keys only ever predicted are not in
the average (their F1 is 0 and they already lower micro precision). A ratio whose denominator is 0 is
0.0 (e.g. precision with no predictions), as is F1 when precision + recall is 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Level = Literal["full", "no7th", "category"]
LEVELS: tuple[Level, ...] = ("full", "no7th", "category")


def undotted(code: str) -> str:
    return code.strip().upper().replace(".", "")


def key_full(code: str) -> str:
    return undotted(code)


def key_no7th(code: str) -> str:
    key = undotted(code)
    if len(key) == 7:
        key = key[:6]
    return key[:3] + key[3:].rstrip("X")


def key_category(code: str) -> str:
    return undotted(code)[:3]


KEYS: dict[Level, Callable[[str], str]] = {"full": key_full, "no7th": key_no7th, "category": key_category}


def dotted(key: str) -> str:
    """A key shown as a code: the dot after the 3rd character."""
    return key if len(key) <= 3 else f"{key[:3]}.{key[3:]}"


def doc_keys(codes: Iterable[str], level: Level) -> frozenset[str]:
    key = KEYS[level]
    return frozenset(key(c) for c in codes if c.strip())


def ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def f1_of(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass(frozen=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return f1_of(self.precision, self.recall)


@dataclass(frozen=True)
class LevelScore:
    level: Level
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    macro_f1: float
    macro_codes: int  # distinct gold keys averaged in macro_f1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _pairs(
    gold: Sequence[Collection[str]], predicted: Sequence[Collection[str]], level: Level
) -> Iterable[tuple[frozenset[str], frozenset[str]]]:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold documents but {len(predicted)} predicted ones")
    for g, p in zip(gold, predicted, strict=True):
        yield doc_keys(g, level), doc_keys(p, level)


def micro(gold: Sequence[Collection[str]], predicted: Sequence[Collection[str]], level: Level) -> Counts:
    tp = fp = fn = 0
    for g, p in _pairs(gold, predicted, level):
        tp += len(g & p)
        fp += len(p - g)
        fn += len(g - p)
    return Counts(tp, fp, fn)


def per_code(
    gold: Sequence[Collection[str]], predicted: Sequence[Collection[str]], level: Level
) -> dict[str, Counts]:
    """Counts for every key seen in gold or predictions, over documents."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for g, p in _pairs(gold, predicted, level):
        tp.update(g & p)
        fp.update(p - g)
        fn.update(g - p)
    return {k: Counts(tp[k], fp[k], fn[k]) for k in sorted(set(tp) | set(fp) | set(fn))}


def macro_f1(
    gold: Sequence[Collection[str]], predicted: Sequence[Collection[str]], level: Level
) -> tuple[float, int]:
    """``(mean F1 over the distinct gold keys, how many keys)``; ``(0.0, 0)`` without gold."""
    counts = per_code(gold, predicted, level)
    gold_keys = [k for k, c in counts.items() if c.tp + c.fn > 0]
    if not gold_keys:
        return 0.0, 0
    return sum(counts[k].f1 for k in gold_keys) / len(gold_keys), len(gold_keys)


def score(gold: Sequence[Collection[str]], predicted: Sequence[Collection[str]], level: Level) -> LevelScore:
    c = micro(gold, predicted, level)
    macro, n = macro_f1(gold, predicted, level)
    return LevelScore(level, c.tp, c.fp, c.fn, c.precision, c.recall, c.f1, macro, n)


def score_all(
    gold: Sequence[Collection[str]], predicted: Sequence[Collection[str]]
) -> dict[Level, LevelScore]:
    return {level: score(gold, predicted, level) for level in LEVELS}


def top_errors(
    gold: Sequence[Collection[str]], predicted: Sequence[Collection[str]], level: Level = "full", n: int = 10
) -> dict[str, list[tuple[str, int]]]:
    """The most frequently missed (false negative) and spurious (false positive) codes."""
    counts = per_code(gold, predicted, level)

    def top(attr: str) -> list[tuple[str, int]]:
        items = [(dotted(k), getattr(c, attr)) for k, c in counts.items() if getattr(c, attr)]
        return sorted(items, key=lambda kv: (-kv[1], kv[0]))[:n]

    return {"missed": top("fn"), "spurious": top("fp")}


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """Mean, median, 95th percentile (nearest rank) and maximum, in milliseconds; zeros when empty."""
    if not seconds:
        return {"mean_ms": 0.0, "median_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}
    ordered = sorted(seconds)
    n = len(ordered)
    median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    p95 = ordered[max(0, math.ceil(0.95 * n) - 1)]
    return {
        "mean_ms": 1000 * sum(ordered) / n,
        "median_ms": 1000 * median,
        "p95_ms": 1000 * p95,
        "max_ms": 1000 * ordered[-1],
    }
