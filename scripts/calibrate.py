"""Learn which (mention, code) pairs the coder should not emit, from the CodiEsp TRAIN split only.

For every code the coder proposes on a training case we record the mention key that produced it
and whether the annotators coded it. Pairs seen at least MIN_COUNT times whose precision is below
MAX_PRECISION are written to src/chartcode/assign/data/calibration.json and blocked at coding time.
The dev split is never read here: dev scores in docs/EVALUATION.md stay honest.

Run: python scripts/calibrate.py --kb KB.sqlite [--train ../shared/eval/codiesp/train.jsonl]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from chartcode.assign.api import CodingOptions
from chartcode.assign.coder import Coder
from chartcode.codesets.kb import open_kb
from chartcode.eval.codiesp import CORPUS_DATE

MIN_COUNT = 2  # chosen by 2-fold cross-validation on the train split (docs/EVALUATION.md)
MAX_PRECISION = 0.2
OUT = Path(__file__).resolve().parents[1] / "src" / "chartcode" / "assign" / "data" / "calibration.json"


def matches_gold(code: str, gold: set[str]) -> bool:
    """Right when the annotators gave the code, or the same code in an older or less specific form
    (CodiEsp used the 2018 code set: R05 where FY2026 has R05.9, T14.8 without its 7th character)."""
    plain = code.replace(".", "")
    return any(plain.startswith(g.replace(".", "")) for g in gold)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb", type=Path, required=True)
    ap.add_argument("--train", type=Path, default=Path("../shared/eval/codiesp/train.jsonl"))
    args = ap.parse_args()
    coder = Coder(open_kb(args.kb), blocked=frozenset())  # learn from the unfiltered coder
    seen: Counter[tuple[str, str]] = Counter()
    right: Counter[tuple[str, str]] = Counter()
    with open(args.train, encoding="utf-8") as handle:
        for line in handle:
            case = json.loads(line)
            gold = set(case["icd10cm"])
            options = CodingOptions(policy="all-mentions", date_of_service=CORPUS_DATE)
            trace = coder.trace(case["text"], options)
            for key, code in set(trace):
                seen[(key, code)] += 1
                right[(key, code)] += matches_gold(code, gold)
    blocked = sorted(
        [k, c, n, round(right[(k, c)] / n, 3)]
        for (k, c), n in seen.items()
        if n >= MIN_COUNT and right[(k, c)] / n < MAX_PRECISION
    )
    OUT.write_text(
        json.dumps(
            {
                "about": "Learned from the CodiEsp train split by scripts/calibrate.py: "
                "(mention key, code, times "
                "proposed, precision) pairs the coder does not emit.",
                "min_count": MIN_COUNT,
                "max_precision": MAX_PRECISION,
                "blocked": blocked,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"{len(blocked)} pairs blocked of {len(seen)} seen; written to {OUT}")


if __name__ == "__main__":
    main()
