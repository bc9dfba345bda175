"""Scoring: pure metrics on hand-computed examples, CodiEsp loading, sampling and the evaluation run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chartcode.codesets import install as installer
from chartcode.codesets.kb import KnowledgeBase, open_kb
from chartcode.errors import InputError
from chartcode.eval import codiesp
from chartcode.eval.metrics import (
    Counts,
    dotted,
    key_category,
    key_full,
    key_no7th,
    latency_summary,
    macro_f1,
    micro,
    per_code,
    score,
    score_all,
    top_errors,
)
from tests.assign.fake_coder import fake_factory
from tests.codesets.sourcekit import make_source_dir
from tests.conftest import REPO

# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "full", "no7th", "category"),
    [
        ("S02.0XXA", "S020XXA", "S020", "S02"),
        ("S02.0XXD", "S020XXD", "S020", "S02"),
        ("s02.0xx ", "S020XX", "S020", "S02"),
        ("S02.0", "S020", "S020", "S02"),
        ("S06.1X0A", "S061X0A", "S061X0", "S06"),
        ("T07.XXXA", "T07XXXA", "T07", "T07"),
        ("E11.22", "E1122", "E1122", "E11"),
        ("O36.5930", "O365930", "O36593", "O36"),
        ("I10", "I10", "I10", "I10"),
    ],
)
def test_keys(code: str, full: str, no7th: str, category: str) -> None:
    assert (key_full(code), key_no7th(code), key_category(code)) == (full, no7th, category)


def test_dotted() -> None:
    assert [dotted(k) for k in ("I10", "E1122", "S020XXA")] == ["I10", "E11.22", "S02.0XXA"]


# --- micro, macro -----------------------------------------------------------------------------


def test_micro_with_duplicates_empty_predictions_and_a_document_without_gold() -> None:
    gold = [["A01.1", "B02.2"], ["C03.3"], []]
    pred = [["A01.1", "D04.4", "A01.1", "a01.1"], [], ["E05.5"]]
    c = micro(gold, pred, "full")
    # doc 1: A tp, D fp, B fn; doc 2: C fn; doc 3: E fp
    assert c == Counts(tp=1, fp=2, fn=2)
    assert (c.precision, c.recall, c.f1) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    # per gold code: A F1 1, B 0, C 0 -> 1/3 over 3 gold codes; D, E are not averaged
    assert macro_f1(gold, pred, "full") == pytest.approx((1 / 3, 3))


def test_macro_over_documents() -> None:
    gold = [["A00.0"], ["A00.0", "B00.0"]]
    pred = [["A00.0"], ["B00.0", "C00.0"]]
    codes = per_code(gold, pred, "full")
    assert codes == {"A000": Counts(1, 0, 1), "B000": Counts(1, 0, 0), "C000": Counts(0, 1, 0)}
    assert codes["A000"].f1 == pytest.approx(2 / 3)
    assert macro_f1(gold, pred, "full") == pytest.approx(((2 / 3 + 1) / 2, 2))
    s = score(gold, pred, "full")
    assert (s.tp, s.fp, s.fn) == (2, 1, 1)
    assert (s.precision, s.recall) == pytest.approx((2 / 3, 2 / 3))


def test_levels() -> None:
    gold = [["S02.0XXA", "E11.22"]]
    pred = [["S02.0XXD", "E11.9"]]
    scores = score_all(gold, pred)
    assert [(s.tp, s.fp, s.fn) for s in scores.values()] == [(0, 2, 2), (1, 1, 1), (2, 0, 0)]
    assert list(scores) == ["full", "no7th", "category"]
    assert scores["category"].f1 == 1.0 and scores["category"].macro_codes == 2
    # codes collapsing at a coarser level count once per document
    s = score([["E11.22", "E11.9"]], [["E11.65"]], "category")
    assert (s.tp, s.fp, s.fn, s.macro_codes) == (1, 0, 0, 1)
    # a gold code written without its 7th character matches the full code when it is ignored
    assert micro([["S02.0XX"]], [["S02.0XXA"]], "no7th") == Counts(1, 0, 0)
    assert micro([["S02.0XX"]], [["S02.0XXA"]], "full") == Counts(0, 1, 1)


def test_nothing_to_score_is_zero_not_an_error() -> None:
    s = score([[], []], [[], []], "full")
    assert (s.precision, s.recall, s.f1, s.macro_f1, s.macro_codes) == (0.0, 0.0, 0.0, 0.0, 0)
    s = score([["I10"]], [[]], "full")
    assert (s.precision, s.recall, s.f1, s.macro_f1) == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="2 gold documents but 1 predicted ones"):
        micro([[], []], [[]], "full")


def test_top_errors() -> None:
    gold = [["I10", "E11.9"], ["I10"]]
    pred = [["J45.909"], ["J45.909", "E11.9"]]
    assert top_errors(gold, pred) == {
        "missed": [("I10", 2), ("E11.9", 1)],
        "spurious": [("J45.909", 2), ("E11.9", 1)],
    }


def test_latency_summary() -> None:
    assert latency_summary([0.001, 0.003, 0.002, 0.010]) == {
        "mean_ms": pytest.approx(4.0),
        "median_ms": pytest.approx(2.5),
        "p95_ms": pytest.approx(10.0),
        "max_ms": pytest.approx(10.0),
    }
    assert latency_summary([0.004])["median_ms"] == pytest.approx(4.0)
    assert latency_summary([]) == {"mean_ms": 0.0, "median_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0}


# --- CodiEsp data -----------------------------------------------------------------------------


def write_cases(path: Path, cases: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{oops", "cases.jsonl line 2 is not valid JSON."),
        ("[1]", "cases.jsonl line 2 is not a JSON object."),
        ('{"text": "x", "icd10cm": []}', 'cases.jsonl line 2: field "id" is missing or not a string.'),
        ('{"id": "b", "icd10cm": []}', 'cases.jsonl line 2: field "text" is missing or not a string.'),
        (
            '{"id": "b", "text": "x", "icd10cm": "I10"}',
            'field "icd10cm" is missing or not a list of strings.',
        ),
    ],
)
def test_load_cases_errors(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "a", "text": "x", "icd10cm": ["I10"], "icd10pcs": []}\n' + line + "\n")
    with pytest.raises(InputError) as info:
        codiesp.load_cases(path)
    assert message in info.value.message


def test_sample_is_seeded_and_keeps_file_order() -> None:
    cases = [codiesp.Case(str(i), "t", ()) for i in range(30)]
    one = [c.id for c in codiesp.sample_cases(cases, 5, seed=1)]
    assert one == [c.id for c in codiesp.sample_cases(cases, 5, seed=1)]
    assert one == sorted(one, key=int) and len(set(one)) == 5
    assert one != [c.id for c in codiesp.sample_cases(cases, 5, seed=2)]
    assert len(codiesp.sample_cases(cases, 99, seed=1)) == 30
    assert len(codiesp.sample_cases(cases, None, seed=1)) == 30


def test_data_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(codiesp.DATA_ENV, str(tmp_path))
    with pytest.raises(
        InputError, match=r"no CodiEsp data at .*dev\.jsonl\. Fix: pass --data PATH/dev\.jsonl"
    ):
        codiesp.data_path(None, "dev")
    (tmp_path / "train.jsonl").write_text("")
    assert codiesp.data_path(None, "train") == tmp_path / "train.jsonl"
    with pytest.raises(InputError, match=r"--split 'test' is not known"):
        codiesp.data_path(None, "test")


def test_real_codiesp_dev_loads() -> None:
    path = (REPO / ".." / "shared" / "eval" / "codiesp" / "dev.jsonl").resolve()
    if not path.exists():
        pytest.skip("../shared/eval/codiesp is not beside the repository")
    cases = codiesp.load_cases(path)
    assert len(cases) == 250
    assert all(c.text for c in cases) and sum(len(c.icd10cm) for c in cases) > 1000


# --- the evaluation run ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    root = tmp_path_factory.mktemp("evalkb")
    installer.install(str(make_source_dir(root / "mirror")), root / "kb.sqlite")
    base = open_kb(root / "kb.sqlite")
    yield base
    base.close()


def test_evaluate_with_fake_coder(kb: KnowledgeBase) -> None:
    cases = [
        codiesp.Case("1", "diabetes with kidney disease", ("E11.22", "E11.9", "S02.0XX")),
        codiesp.Case("2", "legal blindness; header", ("H54.8",)),
        codiesp.Case("3", "scalp wound", ()),
        codiesp.Case("4", "BOOM", ("E11.9",)),
    ]
    report = codiesp.evaluate(cases, coder_factory=fake_factory, kb=kb)
    assert report["counts"] == {
        "documents": 4,
        "documents_without_gold": 1,
        "gold_codes": 5,
        "predicted_codes": 5,  # E11.9 E11.22 | H54.8 E11 | S01.01XA
        "errors": 1,
    }
    full = report["scores"]["full"]
    # tp: E11.22 E11.9 H54.8; fp: E11 S01.01XA; fn: S02.0XX and E11.9 of the failed document
    assert (full["tp"], full["fp"], full["fn"]) == (3, 2, 2)
    assert full["precision"] == pytest.approx(0.6) and full["recall"] == pytest.approx(0.6)
    # gold codes E11.22 (1), E11.9 (1 of 2 documents: F1 2/3), S02.0XX (0), H54.8 (1)
    assert full["macro_f1"] == pytest.approx((1 + 2 / 3 + 0 + 1) / 4) and full["macro_codes"] == 4
    cat = report["scores"]["category"]
    # categories: {E11, S02} vs {E11} | {H54} vs {H54, E11} | {} vs {S01} | {E11} vs {}
    assert (cat["tp"], cat["fp"], cat["fn"]) == (2, 2, 2)
    assert report["invalid_emitted"] == {
        "count": 2,
        "share": pytest.approx(0.4),
        "codes": {"E11": 1, "S01.01XA": 1},
    }
    assert report["gold_not_valid"] == {
        "count": 1,
        "distinct": 1,
        "release": "icd10cm-tabular:FY2026",
        "date": "2019-07-01",
        "why": {"never existed": 1},
    }
    assert report["errors"] == {"CC300": 1}
    # CodiEsp is coded on the date its gold codes fit (codiesp.CORPUS_DATE) unless told otherwise
    assert report["date_of_service"] == "2019-07-01"
    newest = codiesp.evaluate(cases, coder_factory=fake_factory, kb=kb, date_of_service=None)
    assert newest["date_of_service"] is None and newest["gold_not_valid"]["date"] is None
    assert report["releases"] == ["icd10cm-tabular:FY2026"]
    assert report["policy"] == "all-mentions"
    assert set(report["latency"]) == {"mean_ms", "median_ms", "p95_ms", "max_ms", "total_seconds"}
    assert report["top_errors"]["spurious"] == [("E11", 1), ("S01.01XA", 1)]
