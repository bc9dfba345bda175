"""``chartcode check``: claim edits for a JSON claim, a JSONL batch or an X12 837P file, plus payer packs."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from chartcode.cli.codesets import KbOption, kb_path
from chartcode.cli.output import StreamFormat, console, emit_json, handle_errors

if TYPE_CHECKING:
    from chartcode.edits.api import CheckResult


class FailOn(StrEnum):
    error = "error"
    warning = "warning"


class EditSetting(StrEnum):
    practitioner = "practitioner"
    outpatient_hospital = "outpatient_hospital"


SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def register(app: typer.Typer) -> None:
    """Add ``check`` to the main command."""
    app.command("check")(check)


def check(
    file: Annotated[
        str,
        typer.Argument(
            help="CLAIM.json (one claim), CLAIMS.jsonl (one claim per line), FILE.837 (X12 5010 837P), "
            "or - for standard input (the kind is read from the content)."
        ),
    ],
    fmt: Annotated[
        StreamFormat,
        typer.Option(
            "--format",
            help="text (a table per claim), json (one document) or jsonl (one {claim_id, findings} line "
            "per claim).",
        ),
    ] = StreamFormat.text,
    rules: Annotated[
        list[Path] | None,
        typer.Option(
            "--rules", metavar="PACK.yaml", help="A payer rule pack (YAML); repeat for several packs."
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            "--fail-on",
            help="Exit with code 1 when a finding is at or above this severity (error or warning).",
        ),
    ] = None,
    setting: Annotated[
        EditSetting,
        typer.Option("--setting", help="NCCI setting: practitioner or outpatient_hospital."),
    ] = EditSetting.practitioner,
    kb: KbOption = None,
) -> None:
    """Check claims against the claim edits (NCCI, MUE, MCE …) and payer rule packs.

    Prints per claim each finding's rule, severity, lines, codes, message and fix.

    A claim that cannot be read is reported as not checked, and the others are still checked.

    Exit code 1 when a claim could not be read or a finding is at or above --fail-on; 0 otherwise.
    """
    from chartcode.codesets.kb import open_kb
    from chartcode.edits.api import check_many
    from chartcode.edits.io import claims_from_text, detect_format, read_text
    from chartcode.edits.packs import load_packs

    results: list[CheckResult] = []
    single = False
    with handle_errors("json" if fmt == StreamFormat.json else "text"):
        packs = load_packs(rules or [])
        text = read_text(file)
        name = "standard input" if file == "-" else file
        kind = detect_format(name, text)
        single = kind == "json"
        base = open_kb(kb_path(kb))
        stream = check_many(
            claims_from_text(text, name, kind),
            base,
            packs=packs,
            setting=setting.value,
            fail_on=fail_on.value if fail_on is not None else None,
        )
        for result in stream:
            results.append(result)
            if fmt == StreamFormat.jsonl:
                sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False, default=str) + "\n")
                sys.stdout.flush()
            elif fmt == StreamFormat.text:
                _print_claim(result)
    if fmt == StreamFormat.json:
        docs = [r.to_dict() for r in results]
        emit_json(docs[0] if single and len(docs) == 1 else docs)
    elif fmt == StreamFormat.text:
        _print_summary(results, fail_on)
    if any(r.failed for r in results):
        raise typer.Exit(1)


def _header(result: CheckResult) -> Text:
    label = f"claim {result.claim_id}" if result.claim_id else "claim (no id)"
    where = f" ({result.where} {result.position})" if result.position is not None else ""
    return Text.assemble((label, "bold"), where, ": ")


def _print_claim(result: CheckResult) -> None:
    header = _header(result)
    if result.error is not None:
        console.print(Text.assemble(header, ("not checked ", "bold red"), str(result.error)))
        return
    if not result.findings:
        console.print(Text.assemble(header, ("no findings", "green")))
        return
    console.print(Text.assemble(header, f"{len(result.findings)} finding(s)"))
    table = Table()
    for col in ("rule", "severity", "lines", "codes", "message", "fix"):
        table.add_column(col, overflow="fold")
    for f in result.findings:
        table.add_row(
            Text(f.rule),
            Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
            Text(", ".join(str(n) for n in f.lines) or "claim"),
            Text(", ".join(f.codes)),
            Text(f.message),
            Text(f.fix),
        )
    console.print(table)


def _print_summary(results: list[CheckResult], fail_on: FailOn | None) -> None:
    unreadable = sum(1 for r in results if r.error is not None)
    counts = {"error": 0, "warning": 0, "info": 0}
    for r in results:
        for f in r.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
    with_findings = sum(1 for r in results if r.findings)
    line = (
        f"{len(results)} claim(s): {with_findings} with findings "
        f"({counts['error']} error, {counts['warning']} warning, {counts['info']} info)"
    )
    if unreadable:
        line += f", {unreadable} not checked"
    if fail_on is not None:
        failed = sum(1 for r in results if r.failed and r.error is None)
        line += f"; {failed} at or above --fail-on {fail_on.value}"
    console.print(line)
