"""``chartcode code`` (one note or a JSONL batch) and ``chartcode eval`` (CodiEsp scores).

The coder is built by :data:`CODER_FACTORY` (``kb_path -> CoderLike``), or by the ``module:function`` named
in ``$CHARTCODE_CODER_FACTORY``; tests and other coders plug in there. The factory must be a module-level
function so that worker processes can import it.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from chartcode.assign.api import CoderLike, CodingOptions, CodingResult
from chartcode.assign.batch import default_coder_factory, default_jobs, factory_for, run_batch_file
from chartcode.cli.codesets import KbOption, kb_path
from chartcode.cli.output import (
    DateOption,
    Format,
    StreamFormat,
    console,
    emit_json,
    err_console,
    handle_errors,
    render,
)
from chartcode.errors import InputError

CoderBuilder = Callable[[Path | None], CoderLike]
CODER_FACTORY: CoderBuilder = default_coder_factory
FACTORY_ENV = "CHARTCODE_CODER_FACTORY"


class PolicyChoice(StrEnum):
    billing = "billing"
    all_mentions = "all-mentions"


class SettingChoice(StrEnum):
    outpatient = "outpatient"
    inpatient = "inpatient"


class Sex(StrEnum):
    F = "F"
    M = "M"


JobsOption = Annotated[
    int | None, typer.Option("--jobs", min=1, help="Worker processes (default: all cores).")
]
SettingOption = Annotated[
    SettingChoice, typer.Option("--setting", help="Outpatient or inpatient coding rules.")
]


def coder_builder() -> CoderBuilder:
    """The coder factory: ``$CHARTCODE_CODER_FACTORY`` (``module:function``) or :data:`CODER_FACTORY`."""
    spec = os.environ.get(FACTORY_ENV)
    if not spec:
        return CODER_FACTORY
    module_name, _, name = spec.partition(":")
    try:
        builder = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        raise InputError(
            f"${FACTORY_ENV}={spec!r} does not name a function.",
            f"set ${FACTORY_ENV} to module:function (a function kb_path -> coder), or unset it.",
        ) from None
    if not callable(builder):
        raise InputError(f"${FACTORY_ENV}={spec!r} is not callable.", "name a function kb_path -> coder.")
    result: CoderBuilder = builder
    return result


def register(app: typer.Typer) -> None:
    """Add ``code`` and ``eval`` to the main command."""
    app.command("code")(code)
    app.command("eval")(evaluate)


# --- code -------------------------------------------------------------------------------------


def code(
    file: Annotated[
        str,
        typer.Argument(
            help="A note (plain text, FHIR JSON or C-CDA XML), a .jsonl batch (one "
            '{"id", "text", "setting"?, "date_of_service"?, "patient"?} per line), or - for standard input.'
        ),
    ],
    policy: Annotated[
        PolicyChoice,
        typer.Option(
            "--policy", help="billing (reportable codes) or all-mentions (every condition mentioned)."
        ),
    ] = PolicyChoice.billing,
    setting: SettingOption = SettingChoice.outpatient,
    date: DateOption = None,
    age: Annotated[int | None, typer.Option("--age", min=0, max=130, help="Patient age in years.")] = None,
    sex: Annotated[
        Sex | None, typer.Option("--sex", case_sensitive=False, help="Patient sex, F or M.")
    ] = None,
    billed_em: Annotated[
        str | None,
        typer.Option("--billed-em", help="The E/M code billed for the visit: flags up/downcoding risk."),
    ] = None,
    fmt: Annotated[
        StreamFormat,
        typer.Option(
            "--format",
            help="text or json for one note; jsonl reads FILE (or standard input) as a JSONL batch.",
        ),
    ] = StreamFormat.text,
    kb: KbOption = None,
    jobs: JobsOption = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Write here instead of standard output. For a batch, an existing file is resumed: its "
            "finished lines are kept and the rest appended.",
        ),
    ] = None,
) -> None:
    """Assign ICD-10-CM codes to a clinical note, with evidence, rationale and confidence.

    Without a date of service, the newest installed release is used and the output names it.
    A batch gives exactly one output line per input line, in order; bad lines become error lines.
    """
    from chartcode.codesets.kb import parse_date

    batch = fmt == StreamFormat.jsonl or (file != "-" and file.lower().endswith(".jsonl"))
    with handle_errors(fmt):
        defaults = CodingOptions(
            policy="all-mentions" if policy == PolicyChoice.all_mentions else "billing",
            setting="inpatient" if setting == SettingChoice.inpatient else "outpatient",
            date_of_service=parse_date(date),
            patient_age=age,
            patient_sex=None if sex is None else ("F" if sex == Sex.F else "M"),
            billed_em=billed_em,
        )
        builder = coder_builder()
        if batch:
            summary = run_batch_file(
                None if file == "-" else Path(file),
                output,
                coder_factory=factory_for(kb_path(kb), builder),
                defaults=defaults,
                jobs=jobs or default_jobs(),
                show_progress=err_console.is_terminal,
            )
        else:
            raw = _read_document(file)
            result = builder(kb_path(kb)).code(raw, defaults)
    if batch:
        if output is not None:
            data = summary.to_dict()
            render(
                Format.json if fmt == StreamFormat.json else Format.text,
                data,
                lambda: console.print(
                    f"{summary.lines} line(s) in {output}: {summary.coded} coded now "
                    f"({summary.errors} error line(s)), {summary.resumed} kept from before."
                ),
            )
        return
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)  # as for a batch and an eval report
        with output.open("w", encoding="utf-8") as fh:
            if fmt == StreamFormat.json:
                fh.write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
            else:
                _print_result(Console(file=fh, width=200, highlight=False, soft_wrap=True), result)
        return
    if fmt == StreamFormat.json:
        emit_json(result.to_dict())
    else:
        _print_result(console, result)


def _read_document(file: str) -> bytes:
    if file == "-":
        raw = sys.stdin.buffer.read()
    else:
        path = Path(file)
        if not path.is_file():
            raise InputError(
                f"file {file} does not exist.", "give the path of a note, or - for standard input."
            )
        raw = path.read_bytes()
    if not raw.strip():
        raise InputError(
            f"the note in {'standard input' if file == '-' else file} is empty.", "give a note to code."
        )
    return raw


def _snippet(result_evidence: tuple[Any, ...], width: int = 60) -> str:
    text = " … ".join(" ".join(e.text.split()) for e in result_evidence)
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_result(out: Console, result: CodingResult) -> None:
    when = (
        f"date of service {result.date_of_service}"
        if result.date_of_service
        else "no date of service: the newest installed release was used"
    )
    out.print(
        f"[bold]ICD-10-CM release {result.release}[/] ({when}); policy {result.policy}, {result.setting}"
    )
    if not result.diagnoses:
        out.print("no codes assigned")
    else:
        table = Table()
        for col in ("#", "code", "description", "evidence", "rationale", "confidence"):
            table.add_column(col)
        for i, d in enumerate(result.diagnoses, 1):
            status = "" if d.status == "present" else f" ({d.status})"
            table.add_row(
                str(i),
                d.code + status,
                d.description,
                _snippet(d.evidence),
                d.rationale + (f" [guideline {d.guideline}]" if d.guideline else ""),
                f"{d.confidence:.2f}",
            )
        out.print(table)
    _print_services(out, result)
    for warning in result.warnings:
        out.print(f"warning: {warning}")


def _print_services(out: Console, result: CodingResult) -> None:
    """The E/M level with its MDM grid, then the procedure, drug and supply lines (issue 4)."""
    em = result.em
    if em is not None:
        mods = f"-{'-'.join(em.modifiers)}" if em.modifiers else ""
        minutes = f", {em.minutes} min" if em.minutes is not None else ""
        pointers = ",".join(str(p) for p in em.dx_pointers) or "-"
        out.print(
            f"[bold]E/M {em.code}{mods}[/] ({em.family}, level {em.level}) by {em.method}: MDM {em.mdm}"
            f"{minutes}; dx pointers {pointers}"
        )
        grid = Table()
        for col in ("element", "level", "reasons", "evidence"):
            grid.add_column(col)
        for element in em.grid:
            grid.add_row(element.name, element.level, "; ".join(element.reasons), _snippet(element.evidence))
        out.print(grid)
        for flag in em.flags:
            out.print(f"{flag.severity}: [{flag.id}] {flag.message} Fix: {flag.fix} ({flag.citation})")
    if result.procedures:
        table = Table()
        for col in ("code", "modifiers", "units", "dx", "label", "evidence", "rationale"):
            table.add_column(col)
        for p in result.procedures:
            table.add_row(
                p.code,
                "-".join(p.modifiers),
                str(p.units),
                ",".join(str(i) for i in p.dx_pointers),
                p.label,
                _snippet(p.evidence),
                re.sub(r"\[([A-Z0-9-]+): [^\]]*\]", r"(\1)", p.rationale),  # rule ids; JSON has the citations
            )
        out.print(table)


# --- eval -------------------------------------------------------------------------------------


def evaluate(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="A CodiEsp JSONL file (default: ../shared/eval/codiesp/SPLIT.jsonl); with --suite profee, "
            "a professional-fee golden file (default: the one shipped with chartcode).",
        ),
    ] = None,
    suite: Annotated[
        str,
        typer.Option(
            "--suite",
            help="codiesp (ICD-10-CM on CodiEsp) or profee (professional-fee golden set: E/M, service lines, "
            "modifiers, units, dx pointers, diagnoses; billing policy, dates and settings from the notes).",
        ),
    ] = "codiesp",
    split: Annotated[str, typer.Option("--split", help="dev or train (when --data is not given).")] = "dev",
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="Score N documents chosen with --seed.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --sample choice.")] = 0,
    setting: SettingOption = SettingChoice.outpatient,
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Date of service to code on, YYYY-MM-DD, or 'newest' (default: 2019-07-01, the edition the "
            "CodiEsp gold codes fit; see docs/EVALUATION.md).",
        ),
    ] = None,
    kb: KbOption = None,
    jobs: JobsOption = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.text,
    output: Annotated[Path | None, typer.Option("--output", help="Also write the JSON report here.")] = None,
) -> None:
    """Score the coder (all-mentions policy) on CodiEsp ICD-10-CM gold codes.

    Micro precision/recall/F1 on full codes, with the 7th character ignored and on categories; macro-F1.
    The share of emitted codes not valid on the date used must be 0 (exit code 1 otherwise).
    Also counts and the latency per document. With --suite profee: the professional-fee golden set.
    """
    from chartcode.codesets.kb import open_kb, parse_date
    from chartcode.eval import codiesp

    if suite != "codiesp":
        _evaluate_profee(suite, data, kb, fmt, output)
        return
    with handle_errors(fmt):
        day = codiesp.CORPUS_DATE if date is None else None if date == "newest" else parse_date(date)
        path = codiesp.data_path(data, split)
        cases = codiesp.sample_cases(codiesp.load_cases(path), sample, seed)
        resolved_kb = kb_path(kb)
        base = open_kb(resolved_kb)
        try:
            body = codiesp.evaluate(
                cases,
                coder_factory=factory_for(resolved_kb, coder_builder()),
                kb=base,
                jobs=jobs or default_jobs(),
                setting="inpatient" if setting == SettingChoice.inpatient else "outpatient",
                date_of_service=day,
            )
        finally:
            base.close()
    report = {"data": str(path), "sample": sample, "seed": seed if sample is not None else None, **body}
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    render(fmt, report, lambda: _print_report(report))
    invalid = report["invalid_emitted"]["count"]
    if invalid:
        err_console.print(
            f"[bold red]error[/] {invalid} emitted code(s) are not valid on the date used: "
            + ", ".join(report["invalid_emitted"]["codes"])
        )
        raise typer.Exit(1)


def _print_report(report: dict[str, Any]) -> None:
    counts = report["counts"]
    releases = ", ".join(report["releases"]) or "-"
    console.print(
        f"[bold]{Path(report['data']).name}[/]: {counts['documents']} document(s), "
        f"policy {report['policy']}, release {releases}, "
        f"date of service {report.get('date_of_service') or 'none (newest release)'}"
    )
    table = Table()
    for col in ("level", "precision", "recall", "F1", "macro-F1", "codes", "TP", "FP", "FN"):
        table.add_column(col, justify="left" if col == "level" else "right")
    for level, s in report["scores"].items():
        table.add_row(
            level,
            f"{s['precision']:.3f}",
            f"{s['recall']:.3f}",
            f"{s['f1']:.3f}",
            f"{s['macro_f1']:.3f}",
            str(s["macro_codes"]),
            str(s["tp"]),
            str(s["fp"]),
            str(s["fn"]),
        )
    console.print(table)
    gold_bad = report["gold_not_valid"]
    why = ", ".join(f"{n} {reason}" for reason, n in gold_bad["why"].items())
    on = gold_bad.get("date") or gold_bad["release"]
    console.print(
        f"gold codes: {counts['gold_codes']} ({gold_bad['count']} not valid on {on}"
        f"{': ' + why if why else ''}; kept); documents without gold: {counts['documents_without_gold']}"
    )
    inv = report["invalid_emitted"]
    console.print(
        f"predicted codes: {counts['predicted_codes']}; invalid on the date used: {inv['count']} "
        f"({inv['share']:.1%}); documents with errors: {counts['errors']}"
    )
    lat = report["latency"]
    console.print(
        f"latency per document: mean {lat['mean_ms']:.1f} ms, median {lat['median_ms']:.1f} ms, "
        f"p95 {lat['p95_ms']:.1f} ms, max {lat['max_ms']:.1f} ms; total {lat['total_seconds']:.1f} s "
        f"with {report['jobs']} job(s)"
    )
    console.print(
        "levels: full = exact code; no7th = 7th character and trailing placeholder X's ignored; "
        "category = first 3 characters; macro-F1 over distinct gold codes."
    )


def _evaluate_profee(
    suite: str, data: Path | None, kb: Path | None, fmt: Format, output: Path | None
) -> None:
    """``chartcode eval --suite profee``: the professional-fee golden set (chartcode.eval.profee)."""
    from chartcode.eval import profee

    with handle_errors(fmt):
        if suite != "profee":
            raise InputError(f"--suite {suite!r} is not known.", "use --suite codiesp or --suite profee.")
        notes = profee.load_golden(data)
        report = profee.evaluate(notes, coder_builder()(kb_path(kb)), data=data)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    render(fmt, report, lambda: profee.print_report(report, console))
