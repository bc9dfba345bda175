"""``chartcode remit``: read 835 remittances, match them to the claims sent and report denials and KPIs."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from chartcode.cli.output import Format, console, handle_errors
from chartcode.errors import InputError

if TYPE_CHECKING:
    from datetime import date

    from chartcode.claims.denials import AdjustmentResult, Analysis


class RemitOutputError(InputError):
    """The report cannot be written where --output asks."""

    code = "CC523"


def register(app: typer.Typer) -> None:
    """Add ``remit`` to the main command."""
    app.command("remit")(remit)


def remit(
    files: Annotated[list[Path], typer.Argument(help="One or more X12 5010 835 remittance files.")],
    claims: Annotated[
        list[Path] | None,
        typer.Option(
            "--claims",
            metavar="CLAIMS",
            help="The claims that were sent (.json, .jsonl or an 837P file), to match payments to claim "
            "lines and measure days to pay; repeat for several files.",
        ),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="text (tables) or json (one document).")
    ] = Format.text,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the report to this file instead of the screen.")
    ] = None,
    kb: Annotated[
        Path | None,
        typer.Option("--kb", help="Knowledge base: label HCPCS Level II lines with their CMS description."),
    ] = None,
) -> None:
    """Report what the payer paid, adjusted and denied, the rework action for each denial, and the KPIs.

    Each adjustment is coding-related (code, bundling, modifier, medical necessity, units, age/sex) or not.

    The summary: denial and coding-denial rates, denied dollars by category, first-pass resolution,
    days to pay and the top reason codes.

    Exit code 1 (and nothing written) when a file is not a valid 835 or a claims file cannot be read.
    """
    from chartcode.claims.denials import analyse
    from chartcode.claims.match import load_claims
    from chartcode.claims.remit import read_835

    with handle_errors(fmt):
        remits = [r for f in files for r in read_835(f)]
        sent = load_claims(claims) if claims else None
        analysis = analyse(remits, sent)
        labels = _hcpcs_labels(analysis, kb)
        report: str | None = None  # text on the screen is printed from the analysis directly
        if fmt == Format.json:
            report = json.dumps(analysis.to_dict(), indent=2, ensure_ascii=False) + "\n"
        elif output is not None:
            report = _text_report(analysis, labels)
        if output is not None and report is not None:
            _write(output, report)
    if output is not None:
        console.print(f"report written to {output}", markup=False)
    elif report is not None:
        typer.echo(report, nl=False)
    else:
        _print_text(analysis, labels, console)


def _write(path: Path, text: str) -> None:
    """Write atomically (:func:`chartcode.claims.x837.atomic_write`) into an existing folder."""
    from chartcode.claims.x837 import atomic_write

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise RemitOutputError(
            f"--output {path}: the folder {folder} does not exist.", "create it or pick another."
        )
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise RemitOutputError(
            f"--output {path}: cannot write ({exc.strerror}).", "pick a writable path."
        ) from None


def _hcpcs_labels(analysis: Analysis, kb: Path | None) -> dict[str, str]:
    """CMS HCPCS Level II descriptions (public) for the letter codes on the remittances (with --kb)."""
    if kb is None:
        return {}
    from chartcode.codesets.kb import open_kb
    from chartcode.errors import ChartcodeError

    base = open_kb(kb)
    labels: dict[str, str] = {}
    tried: set[tuple[str, date | None]] = set()  # one KB lookup per code and date of service
    for c in analysis.claims:
        for line in c.lines:
            code, day = line.service.procedure.code, line.service.service_date
            if code in labels or not code[:1].isalpha() or (code, day) in tried:
                continue  # CPT descriptors are AMA copyright: never shown
            tried.add((code, day))
            try:
                found = base.lookup(code, day, "hcpcs")
            except ChartcodeError:
                continue
            if found.description:
                labels[code] = found.description
    return labels


def _text_report(analysis: Analysis, labels: dict[str, str]) -> str:
    buffer = io.StringIO()
    _print_text(analysis, labels, Console(file=buffer, width=200, no_color=True, highlight=False))
    return buffer.getvalue()


def _amount(value: Decimal | float) -> str:
    return f"{Decimal(str(value)):,.2f}"


def _adjustments_text(items: tuple[AdjustmentResult, ...]) -> str:
    return "; ".join(f"{a.adjustment.key} {_amount(a.adjustment.amount)}" for a in items)


def _print_text(analysis: Analysis, labels: dict[str, str], out: Console) -> None:
    for r in analysis.remittances:
        payer_id = r.payer.additional_id or r.payer.id
        payer = r.payer.name + (f" ({payer_id})" if payer_id else "")
        payee = r.payee.name + (f" (NPI {r.payee.id})" if r.payee.id_qualifier == "XX" else "")
        out.print(Text.assemble((f"{r.source}", "bold"), f" (ST {r.control_number}): {payer} → {payee}"))
        out.print(
            f"  payment {_amount(r.payment_amount)} by {r.payment_method_label} on "
            f"{r.payment_date or '-'}, trace {r.trace_number or '-'}",
            markup=False,
        )
        for p in r.provider_adjustments:
            out.print(
                f"  provider adjustment {p.reason} {p.reference or ''} {_amount(p.amount)} "
                f"(segment {p.position})",
                markup=False,
            )
    if analysis.claims:
        out.print(_claims_table(analysis))
        out.print(_lines_table(analysis, labels))
    rework = _rework(analysis)
    if rework:
        out.print(Text("Denials to rework", style="bold"))
        for line in rework:
            out.print(line)
    notes = _match_notes(analysis)
    if notes:
        out.print(Text("Matching", style="bold"))
        for note in notes:
            out.print(f"  {note}", markup=False)
    for f in analysis.findings:
        out.print(Text.assemble(("warning ", "yellow"), f"{f.rule}: {f.message} ({f.citation})"))
    _print_summary(analysis, out)


def _claims_table(analysis: Analysis) -> Table:
    table = Table(title="Claims")
    for col in ("claim", "status", "charge", "paid", "patient", "denied", "claim adjustments"):
        table.add_column(col, justify="right" if col in ("charge", "paid", "patient") else "left")
    for c in analysis.claims:
        p = c.payment
        denied = "coding" if c.coding_denial else ("yes" if c.denied else "")
        table.add_row(
            p.claim_id,
            f"{p.status} {p.status_label}",
            _amount(p.charge),
            _amount(p.paid),
            _amount(p.patient_responsibility),
            Text(denied, style="bold red" if c.denied else ""),
            _adjustments_text(c.adjustments),
        )
    return table


def _lines_table(analysis: Analysis, labels: dict[str, str]) -> Table:
    table = Table(title="Service lines")
    columns = ["claim", "line", "service", "date", "charge", "allowed", "paid", "adjustments", "category"]
    if not analysis.with_claims:
        columns.remove("line")  # only matching against the claims sent gives line numbers
    for col in columns:
        money = col in ("charge", "allowed", "paid")
        table.add_column(
            col, justify="right" if money else "left", no_wrap=money or col == "date", overflow="fold"
        )
    for c in analysis.claims:
        for line in c.lines:
            s = line.service
            label = str(s.procedure) + (f" {labels[s.procedure.code]}" if s.procedure.code in labels else "")
            if s.original is not None:
                label += f" (billed {s.original})"
            denials = [a for a in line.adjustments if a.classification.denial]
            category = ", ".join(dict.fromkeys(a.classification.label for a in denials))
            remarks = f" [{', '.join(s.remarks)}]" if s.remarks else ""
            cells: list[str | Text] = [c.payment.claim_id]
            if analysis.with_claims:
                cells.append(str(line.match.line_number) if line.match and line.match.line_number else "-")
            cells += [
                label,
                str(s.service_date or ""),
                _amount(s.charge),
                _amount(s.allowed) if s.allowed is not None else "",
                _amount(s.paid),
                _adjustments_text(line.adjustments) + remarks,
                Text(category, style="bold red" if line.denied else ""),
            ]
            table.add_row(*cells)
    return table


def _rework(analysis: Analysis) -> list[Text]:
    out: list[Text] = []
    for c in analysis.claims:
        if c.payment.is_reversal:
            continue
        where: list[tuple[str, tuple[AdjustmentResult, ...]]] = [
            (f"{c.payment.claim_id} (claim)", c.adjustments)
        ]
        for line in c.lines:
            number = line.match.line_number if line.match and line.match.line_number else None
            at = f"line {number}" if number else f"segment {line.service.position}"
            where.append((f"{c.payment.claim_id} {at} {line.service.procedure}", line.adjustments))
        for label, items in where:
            for a in items:
                k = a.classification
                if not k.denial:
                    continue
                tag = ("coding", "bold red") if k.coding else ("not coding", "yellow")
                out.append(
                    Text.assemble(
                        f"  {label}: {a.adjustment.key} {_amount(a.adjustment.amount)} — {k.label} (",
                        tag,
                        f"). {k.reason}. Action: {k.action} [{k.citation}]",
                    )
                )
    return out


def _match_notes(analysis: Analysis) -> list[str]:
    notes: list[str] = []
    for c in analysis.claims:
        m = c.match
        if m is None:
            continue
        if analysis.with_claims and m.claim is None:
            notes.append(f"{c.payment.claim_id}: no submitted claim with this id")
        notes.extend(f"{c.payment.claim_id}: {n}" for n in m.notes)
        for line in m.lines:
            where = f"line {line.line_number}" if line.line_number else "unmatched"
            notes.extend(f"{c.payment.claim_id} {line.service.procedure} ({where}): {n}" for n in line.notes)
    if analysis.with_claims:
        notes.extend(
            f"{c.id}: sent but on none of these remittances" for c in analysis.matching.unmatched_claims
        )
    return notes


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _print_summary(analysis: Analysis, out: Console) -> None:
    s = analysis.summary
    table = Table(title="Summary")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("claims adjudicated (reversals excluded)", str(s.claims_adjudicated)),
        ("claim denial rate", f"{_pct(s.claim_denial_rate)} ({s.claims_denied})"),
        ("claim coding-denial rate", f"{_pct(s.claim_coding_denial_rate)} ({s.claims_coding_denied})"),
        ("service lines adjudicated", str(s.lines_adjudicated)),
        ("line denial rate", f"{_pct(s.line_denial_rate)} ({s.lines_denied})"),
        ("line coding-denial rate", f"{_pct(s.line_coding_denial_rate)} ({s.lines_coding_denied})"),
        ("reversals", str(s.reversals)),
        ("charged", _amount(s.charged)),
        ("paid (claims)", _amount(s.paid)),
        ("provider-level adjustments", _amount(s.provider_adjustments)),
        ("patient responsibility", _amount(s.patient_responsibility)),
        ("denied dollars", _amount(s.denied_dollars)),
        ("coding-related denied dollars", _amount(s.coding_denied_dollars)),
        (
            "first-pass resolution",
            f"{_pct(s.first_pass_resolution_rate)} ({s.first_pass_resolved} of {s.claim_ids})",
        ),
        ("resubmitted or reversed claims", str(s.resubmitted)),
    ]
    if analysis.with_claims:
        mean, median = s.days_to_pay_mean, s.days_to_pay_median
        rows.append(
            (
                "days to pay (mean / median)",
                f"{mean if mean is not None else '-'} / {median if median is not None else '-'} "
                f"({len(s.days_to_pay)} claims)",
            )
        )
        rows.append(("claims sent but not on a remittance", str(s.unmatched_claims)))
        rows.append(("payments for claims not sent", str(s.unmatched_payments)))
        rows.append(("lines not matched", str(s.unmatched_lines)))
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    summary = s.to_dict()
    if s.denied_by_category:
        cats = Table(title="Denied dollars by category")
        for col in ("category", "coding", "adjustments", "dollars"):
            cats.add_column(col, justify="right" if col in ("adjustments", "dollars") else "left")
        for row in summary["denied_by_category"]:
            cats.add_row(
                row["label"],
                "yes" if row["coding_related"] else "no",
                str(row["adjustments"]),
                _amount(row["dollars"]),
            )
        out.print(cats)
    if s.top_carcs:
        top = Table(title="Top denial reason codes")
        for col in ("code", "reason", "count", "dollars"):
            top.add_column(col, justify="right" if col in ("count", "dollars") else "left")
        for row in summary["top_carcs"]:
            top.add_row(row["code"], row["reason"], str(row["count"]), _amount(row["dollars"]))
        out.print(top)
