"""Code-set knowledge base benchmarks: install time, cold start, lookup and search latency, peak memory.

Run: ``python benchmarks/codesets_bench.py --source ../shared/data`` (builds a fresh knowledge base in a
temporary folder, or reuses ``--kb``). Results are printed as Markdown for docs/BENCHMARKS.md and
saved as JSON under benchmarks/.results/. Each number is a median; the peer (simple-icd-10-cm, the
common Python ICD-10-CM library) is measured in the same run on the same codes and queries.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
QUERIES = [
    "type 2 diabetes with chronic kidney disease",
    "aspiration pneumonia",
    "essential hypertension",
    "acute on chronic systolic heart failure",
    "chronic obstructive pulmonary disease with exacerbation",
    "urinary tract infection",
    "atrial fibrillation",
    "fracture of neck of femur",
    "major depressive disorder",
    "migraine without aura",
    "iron deficiency anemia",
    "acute kidney failure",
    "hypothyroidism",
    "breast cancer",
    "rheumatoid arthritis",
    "asthma mild intermittent",
    "obesity",
    "sepsis",
    "cellulitis of leg",
    "low back pain",
    "triamcinolone injection",
    "wheelchair",
    "influenza vaccine",
    "pressure ulcer sacral region stage 3",
    "gastroesophageal reflux",
    "hyperlipidemia",
    "osteoarthritis knee",
    "dementia",
    "cough",
    "chest pain",
]


def one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def run_timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd] if Path("/usr/bin/time").exists() else cmd,
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed: {cmd}\n{proc.stderr[-2000:]}")
    rss = 0
    if Path("/usr/bin/time").exists():
        rss = int(proc.stderr.strip().splitlines()[-1])
    return seconds, rss


def bench_install(source: str, kb: Path) -> dict[str, float]:
    seconds, rss = run_timed(
        [
            PY,
            "-m",
            "chartcode.cli.main",
            "codesets",
            "install",
            "--source",
            source,
            "--kb",
            str(kb),
            "--format",
            "json",
        ]
    )
    return {"install_s": seconds, "install_peak_mb": rss / 1024, "kb_mb": kb.stat().st_size / 1e6}


def bench_cold_start(kb: Path, runs: int = 7) -> dict[str, float]:
    ours = (
        "from pathlib import Path; from chartcode.codesets.kb import open_kb; "
        f"open_kb(Path({str(kb)!r})).lookup('E11.22')"
    )
    peer = "import simple_icd_10_cm as s; s.get_description('E11.22'); s.get_excludes1('E11.22')"
    res: dict[str, list[float]] = {"python": [], "chartcode": [], "simple_icd_10_cm": []}
    for _ in range(runs):
        res["python"].append(run_timed([PY, "-c", "pass"])[0])
        res["chartcode"].append(run_timed([PY, "-c", ours])[0])
        res["simple_icd_10_cm"].append(run_timed([PY, "-c", peer])[0])
    med = {k: statistics.median(v) for k, v in res.items()}
    return {
        "cold_start_s": med["chartcode"],
        "cold_start_minus_python_s": med["chartcode"] - med["python"],
        "peer_cold_start_s": med["simple_icd_10_cm"],
        "python_start_s": med["python"],
    }


def _time_each(fn, items) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for item in items:
        t0 = time.perf_counter_ns()
        fn(item)
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def bench_in_process(kb_path: Path) -> dict[str, float]:
    """Lookup and search latency (µs, median and p95) on one core, ours and the peer's."""
    one_core()
    from chartcode.codesets.kb import open_kb

    kb = open_kb(kb_path)
    tab = kb.release_for("icd10cm-tabular", None)
    assert tab is not None
    codes = [
        c for (c,) in kb.conn.execute("SELECT code FROM icd_codes WHERE release=? AND billable=1", (tab.id,))
    ]
    rng = random.Random(7)
    sample = rng.sample(codes, 2000)
    cold = _time_each(kb.lookup, sample[:500])  # first lookups: the category cache is still empty
    for c in rng.sample(codes, 20000):  # steady state of a running process: categories cached
        kb.lookup(c)
    ours = _time_each(kb.lookup, sample)
    import simple_icd_10_cm as s

    def peer_lookup(code: str) -> None:
        s.get_description(code)
        s.is_leaf(code)
        s.get_excludes1(code)
        s.get_excludes2(code)
        s.get_use_additional_code(code)
        s.get_code_first(code)
        s.get_seven_chr_def(code)

    peer = _time_each(peer_lookup, [c for c in sample if s.is_valid_item(c)])
    queries = QUERIES * 5
    for q in QUERIES:
        kb.search(q)
    ours_search = _time_each(lambda q: kb.search(q, top=10), queries)
    all_codes = s.get_all_codes(with_dots=True)
    descriptions = [(c, s.get_description(c).lower()) for c in all_codes]

    def peer_search(q: str) -> None:
        words = q.lower().split()
        [c for c, d in descriptions if all(w in d for w in words)][:10]

    peer_search_t = _time_each(peer_search, QUERIES)
    return {
        "lookup_us": statistics.median(ours),
        "lookup_first_500_us": statistics.median(cold),
        "lookup_p95_us": statistics.quantiles(ours, n=20)[18],
        "peer_lookup_us": statistics.median(peer),
        "search_us": statistics.median(ours_search),
        "search_p95_us": statistics.quantiles(ours_search, n=20)[18],
        "peer_scan_search_us": statistics.median(peer_search_t),
        "lookup_search_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bench_memory_ours(kb: Path) -> float:
    return run_timed([PY, __file__, "--only-memory", str(kb)])[1] / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", default="../shared/data")
    ap.add_argument("--kb", type=Path)
    ap.add_argument("--only-memory", type=Path)
    args = ap.parse_args()
    if args.only_memory:
        from chartcode.codesets.kb import open_kb

        kb = open_kb(args.only_memory)
        for q in QUERIES:
            kb.search(q)
        kb.lookup("E11.22")
        return
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        kb = args.kb or Path(tmp) / "kb.sqlite"
        if args.kb is None:
            results.update(bench_install(args.source, kb))
        results.update(bench_cold_start(kb))
        results["lookup_search_process_peak_mb"] = bench_memory_ours(kb)
        here = str(Path(__file__).parent)
        child = subprocess.run(
            [
                PY,
                "-c",
                f"import json, sys; from pathlib import Path; sys.path.insert(0, {here!r}); "
                f"import codesets_bench as b; print(json.dumps(b.bench_in_process(Path({str(kb)!r}))))",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        results.update(json.loads(child.stdout.strip().splitlines()[-1]))
    out = Path(__file__).parent / ".results"
    out.mkdir(exist_ok=True)
    (out / "codesets.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
