"""Professional-fee golden set: load it, run the coder over it and score the service lines.

The golden file (``data/profee_golden.jsonl``, shipped with the package) holds synthetic notes written for
this project, one JSON object per line::

    {"id", "text", "setting", "date_of_service", "patient": {"age", "sex"}, "billed_em"?: "99215",
     "split"?: "dev" | "holdout" (default dev),
     "expected": {"em": {"code", "modifiers": [...], "method"?: "MDM"|"time"} | null,
                  "procedures": [{"code", "system", "modifiers": [...], "units": n, "dx": ["M17.11", ...]}],
                  "diagnoses": ["M17.11", ...]}}

``dx`` lists the diagnoses a line must point to, the most relevant first. The coder's output
(``CodingResult.to_dict()``) gives ``em`` and ``procedures`` with 1-based ``dx_pointers`` into its own
``diagnoses``; a pointer is resolved to the code it names before it is compared.

Scores (see :data:`DEFINITIONS`): E/M exact accuracy, within one level of the same family, method and
modifiers; service lines as micro precision/recall/F1 on the code, on code + modifiers (a set) and on
code + modifiers + units (lines are a multiset per note); diagnosis-pointer linkage on the lines matched by
code; diagnoses as micro precision/recall/F1 on the set of codes; and the misses of every note.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chartcode.assign.api import CoderLike, CodingOptions
from chartcode.errors import ChartcodeError, InputError
from chartcode.eval import metrics

GOLDEN_NAME = "profee_golden.jsonl"

DEFINITIONS = {
    "em.exact": "share of notes with an expected E/M whose predicted E/M code is the same code "
    "(no predicted E/M counts as wrong)",
    "em.within_one": "same family (office new, office established, hospital initial, subsequent, "
    "discharge, emergency department, consultations) and at most one level apart",
    "em.method": "share of notes with an expected method (MDM or time) whose predicted E/M used it",
    "em.modifiers": "share of notes with an expected E/M whose predicted E/M has the same code and the same "
    "set of modifiers",
    "em.spurious": "notes without an expected E/M (procedure only, preventive only) that got one",
    "lines": "procedure lines (CPT/HCPCS, E/M excluded) compared as a multiset per note; micro counts "
    "summed over notes. code = code only; code+modifiers = code and the set of modifiers; "
    "code+modifiers+units = also the units",
    "linkage": "lines matched by code (same modifiers preferred) whose expected dx is not empty; "
    "first_pointer = the line's first pointer resolves to one of the line's expected dx; "
    "covers_first_dx = the resolved pointers include the line's first expected dx. Pointers are 1-based "
    "into the output's diagnoses; a pointer outside the list resolves to nothing",
    "diagnoses": "ICD-10-CM codes as a set per note (dot ignored); micro counts; first_listed = share of "
    "notes whose first predicted diagnosis is the expected first one",
    "top_errors": "the most frequent missed and spurious lines (code-modifiers xunits), diagnoses and "
    "E/M pairs (expected->predicted) over notes",
    "splits": 'the same scores for each split of the golden set (a note\'s "split", default dev; holdout = '
    "notes written after the engine was built, added for the final measurement)",
    "zero_division": "a ratio with a zero denominator is 0.0",
}

# family -> code -> level within the family
EM_FAMILIES: dict[str, dict[str, int]] = {
    "office-new": {f"9920{n}": n for n in range(2, 6)},
    "office-established": {f"9921{n}": n for n in range(1, 6)},
    "hospital-initial": {"99221": 1, "99222": 2, "99223": 3},
    "hospital-subsequent": {"99231": 1, "99232": 2, "99233": 3},
    "hospital-discharge": {"99238": 1, "99239": 2},
    "emergency": {f"9928{n}": n for n in range(1, 6)},
    "consult-office": {f"9924{n}": n for n in range(2, 6)},
    "consult-inpatient": {f"9925{n}": n for n in range(2, 6)},
}
_EM_LEVEL = {code: (family, level) for family, codes in EM_FAMILIES.items() for code, level in codes.items()}


# --- errors -------------------------------------------------------------------------------------


class GoldenFileError(InputError):
    """The golden file is missing, not JSON Lines, or a line breaks the golden-set contract."""

    code = "CC420"


# --- the golden file ----------------------------------------------------------------------------

_CODE = r"^[0-9A-Z]{5}$"
_MODIFIER = r"^[0-9A-Z]{2}$"
_ICD = r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedEm(_Strict):
    code: str = Field(pattern=_CODE)
    modifiers: tuple[str, ...] = ()
    method: Literal["MDM", "time"] | None = None

    @field_validator("modifiers")
    @classmethod
    def _mods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_modifiers(value)


class ExpectedLine(_Strict):
    code: str = Field(pattern=_CODE)
    system: Literal["CPT", "HCPCS"]
    modifiers: tuple[str, ...] = ()
    units: int = Field(default=1, ge=1)
    dx: tuple[str, ...] = ()

    @field_validator("modifiers")
    @classmethod
    def _mods(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_modifiers(value)

    @field_validator("dx")
    @classmethod
    def _dx(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_icd(value)


class Expected(_Strict):
    em: ExpectedEm | None
    procedures: tuple[ExpectedLine, ...] = ()
    diagnoses: tuple[str, ...]

    @field_validator("diagnoses")
    @classmethod
    def _dx(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_icd(value)


class Patient(_Strict):
    age: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["F", "M"] | None = None


class GoldenNote(_Strict):
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    setting: Literal["outpatient", "inpatient"] = "outpatient"
    date_of_service: date
    patient: Patient | None = None
    billed_em: str | None = Field(default=None, pattern=_CODE)
    split: str = Field(
        default="dev", pattern=r"^[a-z][a-z0-9_-]*$"
    )  # e.g. "holdout": written after the engine
    expected: Expected


def _check_modifiers(value: tuple[str, ...]) -> tuple[str, ...]:
    bad = [m for m in value if not re.match(_MODIFIER, m)]
    if bad:
        raise ValueError(f"modifiers must be 2 upper-case letters or digits, e.g. 25 or RT (got {bad})")
    return value


def _check_icd(value: tuple[str, ...]) -> tuple[str, ...]:
    bad = [c for c in value if not re.match(_ICD, c)]
    if bad:
        raise ValueError(f"ICD-10-CM codes must be dotted and upper case, e.g. M17.11 (got {bad})")
    return value


def default_golden_path() -> Path:
    """The golden file shipped with the package."""
    return Path(str(resources.files("chartcode.eval").joinpath("data", GOLDEN_NAME)))


_FIX = (
    'each line must be {"id", "text", "setting", "date_of_service", "patient": {"age", "sex"}, '
    '"expected": {"em": {"code", "modifiers"} | null, "procedures": [{"code", "system", "modifiers", '
    '"units", "dx"}], "diagnoses": [...]}} (see chartcode.eval.profee).'
)


def load_golden(path: Path | None = None) -> list[GoldenNote]:
    """Read and validate a golden file; a bad line is an error naming the file, the line and the field."""
    path = path if path is not None else default_golden_path()
    if not path.is_file():
        raise GoldenFileError(
            f"no professional-fee golden file at {path}.",
            "pass --data PATH.jsonl, or omit --data to use the golden set shipped with chartcode.",
        )
    notes: list[GoldenNote] = []
    seen: dict[str, int] = {}
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            where = f"{path.name} line {n}"
            if not raw.strip():
                raise GoldenFileError(f"{where} is empty.", "remove blank lines; " + _FIX)
            try:
                obj = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise GoldenFileError(f"{where} is not valid JSON.", _FIX) from None
            if not isinstance(obj, dict):
                raise GoldenFileError(f"{where} is not a JSON object.", _FIX)
            try:
                note = GoldenNote.model_validate(obj)
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first["loc"]) or "(line)"
                more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
                raise GoldenFileError(f'{where}: field "{loc}": {first["msg"]}{more}.', _FIX) from None
            if note.id in seen:
                raise GoldenFileError(
                    f'{where}: id "{note.id}" is already used on line {seen[note.id]}.',
                    "give every note its own id.",
                )
            seen[note.id] = n
            notes.append(note)
    if not notes:
        raise GoldenFileError(f"{path.name} holds no notes.", _FIX)
    return notes


# --- predictions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictedLine:
    code: str
    modifiers: tuple[str, ...] = ()
    units: int = 1
    dx_pointers: tuple[int, ...] = ()


@dataclass(frozen=True)
class PredictedEm:
    code: str
    method: str | None = None
    modifiers: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # flag ids


@dataclass(frozen=True)
class Prediction:
    diagnoses: tuple[str, ...] = ()
    em: PredictedEm | None = None
    procedures: tuple[PredictedLine, ...] = ()
    error: str | None = None  # error code when the coder failed on the note
    missing_fields: tuple[str, ...] = field(default=())  # output fields the coder does not produce yet


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(str(v).strip().upper() for v in value) if isinstance(value, list | tuple) else ()


def _ints(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(v for v in value if isinstance(v, int) and not isinstance(v, bool))


def prediction_from_output(out: dict[str, Any]) -> Prediction:
    """Read a ``CodingResult.to_dict()`` (or a ``chartcode code --format json`` object)."""
    missing = tuple(name for name in ("em", "procedures") if name not in out)
    diagnoses = tuple(str(d.get("code", "")) for d in out.get("diagnoses") or () if isinstance(d, dict))
    em_raw = out.get("em")
    em = None
    if isinstance(em_raw, dict) and em_raw.get("code"):
        flags = tuple(str(f.get("id", "")) for f in em_raw.get("flags") or () if isinstance(f, dict))
        method = em_raw.get("method")
        em = PredictedEm(
            str(em_raw["code"]).strip(),
            str(method) if method is not None else None,
            _strs(em_raw.get("modifiers")),
            flags,
        )
    lines = []
    for p in out.get("procedures") or ():
        if not isinstance(p, dict) or not p.get("code"):
            continue
        units = p.get("units", 1)
        lines.append(
            PredictedLine(
                str(p["code"]).strip().upper(),
                _strs(p.get("modifiers")),
                units if isinstance(units, int) and not isinstance(units, bool) else 1,
                _ints(p.get("dx_pointers")),
            )
        )
    return Prediction(diagnoses, em, tuple(lines), None, missing)


def options_for(note: GoldenNote, base: CodingOptions | None = None) -> CodingOptions:
    """Coding options of a note: billing policy, its setting, date and patient, and its billed E/M."""
    options = replace(
        base or CodingOptions(),
        policy="billing",
        setting=note.setting,
        date_of_service=note.date_of_service,
        patient_age=note.patient.age if note.patient else None,
        patient_sex=note.patient.sex if note.patient else None,
    )
    return replace(options, billed_em=note.billed_em) if note.billed_em else options


def run(notes: Sequence[GoldenNote], coder: CoderLike) -> tuple[list[Prediction], list[float]]:
    """Code every note (billing policy); a note the coder fails on becomes an error prediction."""
    predictions: list[Prediction] = []
    seconds: list[float] = []
    for note in notes:
        started = time.perf_counter()
        try:
            out = coder.code(note.text, options_for(note)).to_dict()
        except ChartcodeError as exc:
            predictions.append(Prediction(error=exc.code))
            continue
        except Exception as exc:  # a bug in the coder: score the note as empty, keep going
            predictions.append(Prediction(error=type(exc).__name__))
            continue
        seconds.append(time.perf_counter() - started)
        predictions.append(prediction_from_output(out))
    return predictions, seconds


# --- scoring (pure) -----------------------------------------------------------------------------

LineLevel = Literal["code", "code+modifiers", "code+modifiers+units"]
LINE_LEVELS: tuple[LineLevel, ...] = ("code", "code+modifiers", "code+modifiers+units")


def _norm_code(code: str) -> str:
    return code.strip().upper()


def _line_key(code: str, modifiers: Iterable[str], units: int, level: LineLevel) -> tuple[Any, ...]:
    if level == "code":
        return (_norm_code(code),)
    mods = frozenset(m.strip().upper() for m in modifiers)
    if level == "code+modifiers":
        return (_norm_code(code), mods)
    return (_norm_code(code), mods, units)


def _expected_keys(note: GoldenNote, level: LineLevel) -> Counter[tuple[Any, ...]]:
    return Counter(_line_key(p.code, p.modifiers, p.units, level) for p in note.expected.procedures)


def _predicted_keys(pred: Prediction, level: LineLevel) -> Counter[tuple[Any, ...]]:
    return Counter(_line_key(p.code, p.modifiers, p.units, level) for p in pred.procedures)


def _counts_dict(c: metrics.Counts) -> dict[str, Any]:
    return {"tp": c.tp, "fp": c.fp, "fn": c.fn, "precision": c.precision, "recall": c.recall, "f1": c.f1}


def score_lines(notes: Sequence[GoldenNote], preds: Sequence[Prediction], level: LineLevel) -> metrics.Counts:
    tp = fp = fn = 0
    for note, pred in zip(notes, preds, strict=True):
        gold, got = _expected_keys(note, level), _predicted_keys(pred, level)
        hit = sum((gold & got).values())
        tp += hit
        fp += sum(got.values()) - hit
        fn += sum(gold.values()) - hit
    return metrics.Counts(tp, fp, fn)


def em_family_level(code: str) -> tuple[str, int] | None:
    return _EM_LEVEL.get(code.strip())


def score_em(notes: Sequence[GoldenNote], preds: Sequence[Prediction]) -> dict[str, Any]:
    expected = exact = within = mods_ok = method_n = method_ok = missed = spurious = 0
    for note, pred in zip(notes, preds, strict=True):
        exp = note.expected.em
        if exp is None:
            spurious += pred.em is not None
            continue
        expected += 1
        if exp.method is not None:
            method_n += 1
            method_ok += pred.em is not None and (pred.em.method or "").lower() == exp.method.lower()
        if pred.em is None:
            missed += 1
            continue
        if pred.em.code == exp.code:
            exact += 1
            mods_ok += frozenset(pred.em.modifiers) == frozenset(m.upper() for m in exp.modifiers)
        a, b = em_family_level(pred.em.code), em_family_level(exp.code)
        if pred.em.code == exp.code or (a and b and a[0] == b[0] and abs(a[1] - b[1]) <= 1):
            within += 1
    return {
        "notes": expected,
        "exact": metrics.ratio(exact, expected),
        "within_one": metrics.ratio(within, expected),
        "modifiers": metrics.ratio(mods_ok, expected),
        "method": metrics.ratio(method_ok, method_n),
        "method_notes": method_n,
        "missed": missed,
        "spurious": spurious,
        "notes_without_em": sum(1 for n in notes if n.expected.em is None),
    }


def _undot(code: str) -> str:
    return metrics.undotted(code)


def _match_lines(note: GoldenNote, pred: Prediction) -> list[tuple[ExpectedLine, PredictedLine]]:
    """Pairs of expected and predicted lines with the same code; the same modifiers are preferred."""
    free = list(pred.procedures)
    pairs: list[tuple[ExpectedLine, PredictedLine]] = []
    for exp in note.expected.procedures:
        same = [p for p in free if _norm_code(p.code) == _norm_code(exp.code)]
        if not same:
            continue
        want = frozenset(m.upper() for m in exp.modifiers)
        best = next((p for p in same if frozenset(p.modifiers) == want), same[0])
        free.remove(best)
        pairs.append((exp, best))
    return pairs


def resolve_pointers(pred: Prediction, line: PredictedLine) -> list[str | None]:
    """The diagnosis codes a line's pointers name (None for a pointer outside the list)."""
    return [pred.diagnoses[i - 1] if 1 <= i <= len(pred.diagnoses) else None for i in line.dx_pointers]


def score_linkage(notes: Sequence[GoldenNote], preds: Sequence[Prediction]) -> dict[str, Any]:
    n = first_ok = covers_ok = 0
    for note, pred in zip(notes, preds, strict=True):
        for exp, got in _match_lines(note, pred):
            if not exp.dx:
                continue
            n += 1
            expected_dx = {_undot(c) for c in exp.dx}
            resolved = resolve_pointers(pred, got)
            pointed = [_undot(c) for c in resolved if c]
            first = resolved[0] if resolved else None
            first_ok += first is not None and _undot(first) in expected_dx
            covers_ok += _undot(exp.dx[0]) in pointed
    return {
        "lines": n,
        "first_pointer": metrics.ratio(first_ok, n),
        "covers_first_dx": metrics.ratio(covers_ok, n),
    }


def score_diagnoses(notes: Sequence[GoldenNote], preds: Sequence[Prediction]) -> dict[str, Any]:
    gold = [list(n.expected.diagnoses) for n in notes]
    got = [list(p.diagnoses) for p in preds]
    counts = metrics.micro(gold, got, "full")
    first = sum(
        1
        for n, p in zip(notes, preds, strict=True)
        if n.expected.diagnoses and p.diagnoses and _undot(n.expected.diagnoses[0]) == _undot(p.diagnoses[0])
    )
    return {**_counts_dict(counts), "first_listed": metrics.ratio(first, len(notes))}


def _show_line(code: str, modifiers: Iterable[str], units: int) -> str:
    mods = "".join(f"-{m}" for m in modifiers)
    return f"{code}{mods} x{units}"


def _show_em(code: str | None, modifiers: Iterable[str]) -> str | None:
    return None if code is None else code + "".join(f"-{m}" for m in modifiers)


def note_misses(note: GoldenNote, pred: Prediction) -> dict[str, Any]:
    """What the coder got wrong on one note (empty lists when nothing)."""
    exp = note.expected
    out: dict[str, Any] = {"id": note.id}
    if pred.error:
        out["error"] = pred.error
    em_exp = exp.em.code if exp.em else None
    em_got = pred.em.code if pred.em else None
    em_mods_exp = sorted(m.upper() for m in exp.em.modifiers) if exp.em else []
    em_mods_got = sorted(pred.em.modifiers) if pred.em else []
    if em_exp != em_got or em_mods_exp != em_mods_got:
        out["em"] = {
            "expected": _show_em(em_exp, em_mods_exp),
            "predicted": _show_em(em_got, em_mods_got),
        }
    level: LineLevel = "code+modifiers+units"
    gold, got = _expected_keys(note, level), _predicted_keys(pred, level)
    out["missed_lines"] = [
        _show_line(k[0], sorted(k[1]), k[2]) for k in sorted((gold - got).elements(), key=str)
    ]
    out["spurious_lines"] = [
        _show_line(k[0], sorted(k[1]), k[2]) for k in sorted((got - gold).elements(), key=str)
    ]
    gold_dx = {_undot(c): c for c in exp.diagnoses}
    got_dx = {_undot(c): c for c in pred.diagnoses}
    out["missed_dx"] = [c for k, c in gold_dx.items() if k not in got_dx]
    out["spurious_dx"] = [c for k, c in got_dx.items() if k not in gold_dx]
    linkage = []
    for e, g in _match_lines(note, pred):
        pointed = [c for c in resolve_pointers(pred, g) if c]
        if e.dx and (not pointed or _undot(pointed[0]) not in {_undot(c) for c in e.dx}):
            linkage.append({"line": e.code, "expected_dx": list(e.dx), "pointed_dx": pointed})
    out["linkage"] = linkage
    return out


def _has_miss(m: dict[str, Any]) -> bool:
    return any(
        m.get(k)
        for k in ("error", "em", "missed_lines", "spurious_lines", "missed_dx", "spurious_dx", "linkage")
    )


def top_errors(misses: Sequence[dict[str, Any]], n: int = 10) -> dict[str, list[tuple[str, int]]]:
    """The most frequent misses over notes: lines (code with modifiers and units), E/M codes expected but
    not coded (``expected->predicted``) and diagnoses."""
    out: dict[str, list[tuple[str, int]]] = {}
    for key in ("missed_lines", "spurious_lines", "missed_dx", "spurious_dx"):
        counter = Counter(item for m in misses for item in m.get(key, ()))
        out[key] = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    em = Counter(
        f"{m['em']['expected'] or 'none'}->{m['em']['predicted'] or 'none'}" for m in misses if m.get("em")
    )
    out["em"] = sorted(em.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return out


def score_splits(notes: Sequence[GoldenNote], preds: Sequence[Prediction]) -> dict[str, dict[str, Any]]:
    """The headline scores of each split of the golden set (``dev`` unless a note says otherwise)."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted({n.split for n in notes}):
        pairs = [(n, p) for n, p in zip(notes, preds, strict=True) if n.split == name]
        sub_notes, sub_preds = [n for n, _ in pairs], [p for _, p in pairs]
        em = score_em(sub_notes, sub_preds)
        out[name] = {
            "notes": len(sub_notes),
            "em_exact": em["exact"],
            "em_within_one": em["within_one"],
            "lines_f1": {level: score_lines(sub_notes, sub_preds, level).f1 for level in LINE_LEVELS},
            "linkage_first_pointer": score_linkage(sub_notes, sub_preds)["first_pointer"],
            "diagnoses_f1": score_diagnoses(sub_notes, sub_preds)["f1"],
        }
    return out


def score(notes: Sequence[GoldenNote], preds: Sequence[Prediction]) -> dict[str, Any]:
    """The report body for predictions already made (pure: no coder, no knowledge base)."""
    if len(notes) != len(preds):
        raise ValueError(f"{len(notes)} notes but {len(preds)} predictions")
    misses = [note_misses(n, p) for n, p in zip(notes, preds, strict=True)]
    missing = sorted({f for p in preds if p.error is None for f in p.missing_fields})
    billed = []
    for n, p in zip(notes, preds, strict=True):
        if n.billed_em:
            billed.append(
                {
                    "id": n.id,
                    "billed": n.billed_em,
                    "expected": n.expected.em.code if n.expected.em else None,
                    "predicted": p.em.code if p.em else None,
                    "flags": list(p.em.flags) if p.em else [],
                }
            )
    errors = Counter(p.error for p in preds if p.error)
    return {
        "counts": {
            "notes": len(notes),
            "notes_with_em": sum(1 for n in notes if n.expected.em is not None),
            "expected_lines": sum(len(n.expected.procedures) for n in notes),
            "predicted_lines": sum(len(p.procedures) for p in preds),
            "expected_diagnoses": sum(len(set(n.expected.diagnoses)) for n in notes),
            "predicted_diagnoses": sum(len(set(p.diagnoses)) for p in preds),
            "errors": sum(errors.values()),
        },
        "em": score_em(notes, preds),
        "lines": {level: _counts_dict(score_lines(notes, preds, level)) for level in LINE_LEVELS},
        "linkage": score_linkage(notes, preds),
        "diagnoses": score_diagnoses(notes, preds),
        "billed_em": billed,
        "errors": dict(sorted(errors.items())),
        "missing_output_fields": missing,
        "splits": score_splits(notes, preds),
        "top_errors": top_errors(misses),
        "misses": [m for m in misses if _has_miss(m)],
        "definitions": DEFINITIONS,
    }


def evaluate(notes: Sequence[GoldenNote], coder: CoderLike, *, data: Path | None = None) -> dict[str, Any]:
    """Run the coder over the notes and score it: the JSON-ready report."""
    started = time.perf_counter()
    preds, seconds = run(notes, coder)
    wall = time.perf_counter() - started
    return {
        "suite": "profee",
        "data": str(data if data is not None else default_golden_path()),
        "policy": "billing",
        **score(notes, preds),
        "latency": {**metrics.latency_summary(seconds), "total_seconds": wall},
    }


# --- validity of the golden set -----------------------------------------------------------------


def expected_codes(note: GoldenNote) -> list[tuple[str, str]]:
    """``(code, system)`` of every code a note expects: ICD-10-CM (``icd10cm``), HCPCS Level II
    (``hcpcs``) and CPT numbers (``cpt``), each once."""
    exp = note.expected
    out: list[tuple[str, str]] = [(c, "icd10cm") for c in exp.diagnoses]
    for line in exp.procedures:
        out.extend((c, "icd10cm") for c in line.dx)
        out.append((line.code, "hcpcs" if line.system == "HCPCS" else "cpt"))
    if exp.em is not None:
        out.append((exp.em.code, "cpt"))
    return list(dict.fromkeys(out))


def invalid_expected_codes(
    notes: Sequence[GoldenNote], validity: Callable[[str, date, str], bool]
) -> list[str]:
    """Every expected code not valid on its note's date: ``"note-id: CODE (system)"``."""
    return [
        f"{note.id}: {code} ({system})"
        for note in notes
        for code, system in expected_codes(note)
        if not validity(code, note.date_of_service, system)
    ]


# --- text output --------------------------------------------------------------------------------


def print_report(report: dict[str, Any], out: Any) -> None:
    """The report as text on a Rich console."""
    from rich.table import Table

    c = report["counts"]
    out.print(
        f"[bold]{Path(report['data']).name}[/]: {c['notes']} note(s), {c['notes_with_em']} with an E/M, "
        f"{c['expected_lines']} expected line(s), policy {report['policy']}; errors: {c['errors']}"
    )
    if report["missing_output_fields"]:
        out.print(
            "warning: the coder's output has no "
            + ", ".join(report["missing_output_fields"])
            + " field(s) yet; they are scored as empty."
        )
    em = report["em"]
    out.print(
        f"E/M: exact {em['exact']:.3f}, within one level {em['within_one']:.3f}, method {em['method']:.3f}, "
        f"modifiers {em['modifiers']:.3f} over {em['notes']} note(s); missed {em['missed']}, "
        f"spurious {em['spurious']} (of {em['notes_without_em']} without E/M)"
    )
    table = Table()
    for col in ("scored on", "precision", "recall", "F1", "TP", "FP", "FN"):
        table.add_column(col, justify="left" if col == "scored on" else "right")
    for level, s in report["lines"].items():
        table.add_row(f"lines: {level}", *_prf(s))
    table.add_row("diagnoses", *_prf(report["diagnoses"]))
    out.print(table)
    link = report["linkage"]
    out.print(
        f"dx linkage over {link['lines']} matched line(s): first pointer right {link['first_pointer']:.3f}, "
        f"covers the first expected dx {link['covers_first_dx']:.3f}; first-listed diagnosis right "
        f"{report['diagnoses']['first_listed']:.3f}"
    )
    if len(report["splits"]) > 1:
        for name, sp in report["splits"].items():
            lines = sp["lines_f1"]
            out.print(
                f"split {name} ({sp['notes']} notes): E/M exact {sp['em_exact']:.3f}, within one "
                f"{sp['em_within_one']:.3f}; lines F1 {lines['code']:.3f} / {lines['code+modifiers']:.3f} / "
                f"{lines['code+modifiers+units']:.3f}; dx linkage {sp['linkage_first_pointer']:.3f}; "
                f"diagnoses F1 {sp['diagnoses_f1']:.3f}"
            )
    for b in report["billed_em"]:
        flags = ", ".join(b["flags"]) or "no flag"
        out.print(
            f"billed {b['billed']} on {b['id']}: expected {b['expected']}, coded {b['predicted']} ({flags})"
        )
    for m in report["misses"]:
        parts = []
        if m.get("error"):
            parts.append(f"error {m['error']}")
        if m.get("em"):
            parts.append(f"E/M {m['em']['predicted']} (expected {m['em']['expected']})")
        if m["missed_lines"]:
            parts.append("missed " + ", ".join(m["missed_lines"]))
        if m["spurious_lines"]:
            parts.append("extra " + ", ".join(m["spurious_lines"]))
        if m["missed_dx"]:
            parts.append("missed dx " + ", ".join(m["missed_dx"]))
        if m["spurious_dx"]:
            parts.append("extra dx " + ", ".join(m["spurious_dx"]))
        for link_miss in m["linkage"]:
            parts.append(
                f"{link_miss['line']} points to {', '.join(link_miss['pointed_dx']) or 'nothing'} "
                f"(expected {', '.join(link_miss['expected_dx'])})"
            )
        out.print(f"  {m['id']}: " + "; ".join(parts))
    lat = report["latency"]
    out.print(f"latency per note: mean {lat['mean_ms']:.0f} ms; total {lat['total_seconds']:.1f} s")


def _prf(s: dict[str, Any]) -> list[str]:
    return [
        f"{s['precision']:.3f}",
        f"{s['recall']:.3f}",
        f"{s['f1']:.3f}",
        str(s["tp"]),
        str(s["fp"]),
        str(s["fn"]),
    ]
