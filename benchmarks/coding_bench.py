"""Diagnosis coding throughput against a medspaCy ConText pipeline, in the same run.

Run: ``python benchmarks/coding_bench.py --kb KB.sqlite`` with ``pip install -e '.[bench]'`` (medspaCy).
Both pipelines read the 250 CodiEsp dev notes on one core. chartcode produces ICD-10-CM codes
(sections, sentences, abbreviations, ConText, index walk, tabular checks); the peer is medspaCy's
default pipeline (PyRuSH sentences, TargetMatcher, ConText) given the same Alphabetic Index main
terms as target rules, so it finds and contextualises mentions but assigns no code. Reported:
notes per second per core (median of 3 passes), per-note median latency, cold start (new process
to first result) and peak RSS, each measured in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEV = HERE.parent.parent / "shared" / "eval" / "codiesp" / "dev.jsonl"


def one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def notes() -> list[str]:
    return [json.loads(line)["text"] for line in DEV.read_text(encoding="utf-8").splitlines()]


def build_chartcode(kb: Path):  # type: ignore[no-untyped-def]
    from chartcode.assign.api import CodingOptions
    from chartcode.assign.coder import Coder
    from chartcode.codesets.kb import open_kb

    coder = Coder(open_kb(kb))
    options = CodingOptions(policy="all-mentions")
    return lambda text: coder.code(text, options)


def main_terms(kb: Path) -> list[str]:
    from chartcode.assign.coder import Coder
    from chartcode.codesets.kb import open_kb

    lex, _, _ = Coder(open_kb(kb), warm=False).lexicon_for(None)
    assert lex.index is not None
    return sorted(lex.index.main_by_key)


def build_medspacy(kb: Path):  # type: ignore[no-untyped-def]
    import medspacy
    from medspacy.ner import TargetRule

    nlp = medspacy.load()
    matcher = nlp.get_pipe("medspacy_target_matcher")
    matcher.add([TargetRule(term, "PROBLEM") for term in main_terms(kb)])
    return nlp


def throughput(fn, texts: list[str]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    fn(texts[0])
    passes, per_note = [], []
    for _ in range(3):
        started = time.perf_counter()
        for text in texts:
            t0 = time.perf_counter()
            fn(text)
            per_note.append(time.perf_counter() - t0)
        passes.append(len(texts) / (time.perf_counter() - started))
    return {"notes_per_s": statistics.median(passes), "median_ms": statistics.median(per_note) * 1000}


def child(which: str, kb: Path, mode: str) -> dict[str, float]:
    """Run one measurement in a fresh process; returns its JSON plus peak RSS."""
    cmd = [sys.executable, __file__, "--kb", str(kb), "--child", which, "--mode", mode]
    timed = ["/usr/bin/time", "-f", "%M", *cmd] if Path("/usr/bin/time").exists() else cmd
    proc = subprocess.run(timed, capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if timed is not cmd:
        out["peak_mb"] = int(proc.stderr.strip().splitlines()[-1]) / 1024
    return out


def run_child(which: str, kb: Path, mode: str) -> None:
    one_core()
    started = time.perf_counter()
    fn = build_chartcode(kb) if which == "chartcode" else build_medspacy(kb)
    texts = notes()
    fn(texts[0])
    result: dict[str, float] = {"cold_start_s": time.perf_counter() - started}
    if mode == "throughput":
        result.update(throughput(fn, texts))
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb", type=Path, required=True)
    ap.add_argument("--child")
    ap.add_argument("--mode", default="throughput")
    args = ap.parse_args()
    if args.child:
        run_child(args.child, args.kb, args.mode)
        return
    results = {}
    for which in ("chartcode", "medspacy"):
        cold = [child(which, args.kb, "cold")["cold_start_s"] for _ in range(3)]
        run = child(which, args.kb, "throughput")
        run["cold_start_s"] = statistics.median(cold)
        results[which] = run
    results["ratio_notes_per_s"] = results["chartcode"]["notes_per_s"] / results["medspacy"]["notes_per_s"]
    out = HERE / ".results"
    out.mkdir(exist_ok=True)
    (out / "coding.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
