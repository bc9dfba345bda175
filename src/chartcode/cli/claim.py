"""``chartcode claim``: an encounter (or a coded note plus a header) as an 837P, FHIR Claim, JSON or HTML."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from chartcode.cli.check import SEVERITY_STYLE
from chartcode.cli.codesets import KbOption, kb_path
from chartcode.cli.output import err_console, handle_errors
from chartcode.errors import ChartcodeError, InputError

if TYPE_CHECKING:
    from chartcode.claims.model import EncounterClaim
    from chartcode.codesets.kb import KnowledgeBase
    from chartcode.edits.registry import Finding


class ClaimFormat(StrEnum):
    x837p = "837p"
    fhir = "fhir"
    json = "json"
    html = "html"


class ClaimRefusedError(ChartcodeError):
    """The scrubber found errors on the claim; nothing was written (``--force`` overrides)."""

    code = "CC504"


class ClaimOutputError(InputError):
    """The claim cannot be written where --output asks."""

    code = "CC505"


def register(app: typer.Typer) -> None:
    """Add ``claim`` to the main command."""
    app.command("claim")(claim)


def claim(
    file: Annotated[
        str | None,
        typer.Argument(help="ENCOUNTER.json: the claim with providers, payer, subscriber and patient."),
    ] = None,
    fmt: Annotated[
        ClaimFormat,
        typer.Option(
            "--format",
            help="837p (X12 5010 005010X222A1, validated), fhir (FHIR R4 Claim JSON), json (the claim, "
            "its pricing and the scrubber's findings) or html (a CMS-1500-style form).",
        ),
    ] = ClaimFormat.x837p,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write here (atomically) instead of standard output."),
    ] = None,
    fees: Annotated[
        Path | None,
        typer.Option(
            "--fees", metavar="CSV", help="Practice fee schedule (code,modifier,charge): sets charges."
        ),
    ] = None,
    locality: Annotated[
        str | None,
        typer.Option(
            "--locality",
            metavar="MAC-LOCALITY",
            help="Medicare payment locality for PFS pricing, e.g. 10112-00 (default: the billing "
            "provider's state when it has one locality).",
        ),
    ] = None,
    from_note: Annotated[
        Path | None,
        typer.Option("--from-note", metavar="NOTE", help="Code this note and build the claim from it."),
    ] = None,
    header: Annotated[
        Path | None,
        typer.Option(
            "--header",
            metavar="HEADER.json",
            help="With --from-note: the encounter's providers, payer, subscriber, patient and dates.",
        ),
    ] = None,
    rules: Annotated[
        list[Path] | None,
        typer.Option("--rules", metavar="PACK.yaml", help="Payer rule pack(s) for the scrubber."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write the claim even when the scrubber finds errors.")
    ] = False,
    control_number: Annotated[
        int | None,
        typer.Option(
            "--control-number",
            min=1,
            max=999_999_999,
            help="837P interchange control number (ISA13; default: from the clock).",
        ),
    ] = None,
    kb: KbOption = None,
) -> None:
    """Build a claim from an encounter, check it with the scrubber, and write it out.

    Charges come from --fees where it lists the code, else the encounter, else the PFS amount.

    The scrubber runs first: with error findings nothing is written unless --force (findings go to stderr).

    The 837P is validated with pyx12 before it is written; exit code 1 on any error.
    """
    from chartcode.claims.pricing import fill_charges, read_fee_schedule
    from chartcode.codesets.kb import open_kb
    from chartcode.edits.api import check

    with handle_errors("json" if fmt == ClaimFormat.json else "text"):
        schedule = read_fee_schedule(fees) if fees is not None else None
        base = open_kb(kb_path(kb))
        encounter = _load(file, from_note, header, base, kb_path(kb))
        encounter = fill_charges(encounter, base, fees=schedule, locality=locality)
        result = check(encounter, base, packs=list(rules or []))
        findings = list(result.findings)
        _print_findings(encounter.id, findings)
        errors = [f for f in findings if f.severity == "error"]
        if errors and not force:
            raise ClaimRefusedError(
                f"claim {encounter.id}: the scrubber found {len(errors)} error(s) "
                f"({', '.join(sorted({f.rule for f in errors}))}); nothing was written.",
                "correct the claim as each finding's fix says and run again, or write it anyway with "
                "--force.",
            )
        text = _render(fmt, encounter, base, findings, locality, schedule, control_number)
        if output is not None:
            from chartcode.claims.x837 import atomic_write

            try:
                atomic_write(output, text)
            except OSError as exc:
                raise ClaimOutputError(
                    f"--output {output}: cannot write ({exc.strerror or exc}); nothing was written.",
                    "pick a writable path (a file in a folder you can write to).",
                ) from None
            err_console.print(f"claim {encounter.id}: {fmt.value} written to {output}", markup=False)
        else:
            typer.echo(text, nl=False)


def _load(
    file: str | None, note: Path | None, header: Path | None, kb: KnowledgeBase, kb_file: Path
) -> EncounterClaim:
    from chartcode.claims.model import encounter_from_json
    from chartcode.edits.io import read_text

    if note is None:
        if header is not None:
            raise InputError("--header goes with --from-note.", "give --from-note NOTE --header HEADER.json.")
        if file is None:
            raise InputError(
                "no encounter given.", "give ENCOUNTER.json, or --from-note NOTE --header HEADER.json."
            )
        return encounter_from_json(read_text(file), file)
    if file is not None:
        raise InputError(
            "give either ENCOUNTER.json or --from-note, not both.",
            "use --from-note NOTE --header HEADER.json to code a note into a claim.",
        )
    if header is None:
        raise InputError("--from-note needs --header HEADER.json.", "give the encounter header as JSON.")
    return _from_note(note, header, kb, kb_file)


def _from_note(note: Path, header_file: Path, kb: KnowledgeBase, kb_file: Path) -> EncounterClaim:
    from chartcode.assign.api import CodingOptions
    from chartcode.claims.build import claim_from_coding
    from chartcode.claims.model import EncounterClaimError
    from chartcode.cli.coding import coder_builder
    from chartcode.codesets.kb import parse_date
    from chartcode.edits.io import read_text

    try:
        header = json.loads(read_text(header_file))
    except json.JSONDecodeError as exc:
        raise EncounterClaimError(
            f"{header_file}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
            "give the header as one JSON object.",
        ) from None
    if not isinstance(header, dict):
        raise EncounterClaimError(
            f"{header_file} is not a JSON object.", "give the header as one JSON object."
        )
    if not note.is_file():
        raise InputError(f"file {note} does not exist.", "give the path of the note to code.")
    raw = note.read_bytes()
    if not raw.strip():
        raise InputError(f"the note in {note} is empty.", "give a note to code.")
    patient: dict[str, Any] = header["patient"] if isinstance(header.get("patient"), dict) else {}
    subscriber: dict[str, Any] = header["subscriber"] if isinstance(header.get("subscriber"), dict) else {}
    sex = patient.get("sex") or subscriber.get("sex")
    day = parse_date(header.get("date_of_service"))
    born = parse_date(patient.get("birth_date") or subscriber.get("birth_date"), "birth date")
    age = None
    if day is not None and born is not None:
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    options = CodingOptions(
        date_of_service=day,
        patient_age=age,
        patient_sex=sex if sex in ("F", "M") else None,
    )
    result = coder_builder()(kb_file).code(raw, options)
    return claim_from_coding(result, header)


def _print_findings(claim_id: str, findings: list[Finding]) -> None:
    if not findings:
        err_console.print(f"claim {claim_id}: the scrubber found nothing to correct", markup=False)
        return
    table = Table(title=f"claim {claim_id}: {len(findings)} scrubber finding(s)")
    for col in ("rule", "severity", "lines", "message", "fix"):
        table.add_column(col, overflow="fold")
    for f in findings:
        table.add_row(
            Text(f.rule),
            Text(f.severity, style=SEVERITY_STYLE.get(f.severity, "")),
            Text(", ".join(str(n) for n in f.lines) or "claim"),
            Text(f.message),
            Text(f.fix),
        )
    err_console.print(table)


def _render(
    fmt: ClaimFormat,
    encounter: EncounterClaim,
    kb: KnowledgeBase,
    findings: list[Finding],
    locality: str | None,
    fees: Any,
    control_number: int | None,
) -> str:
    if fmt == ClaimFormat.x837p:
        from chartcode.claims.x837 import EnvelopeOptions, to_837p

        now = datetime.now()
        ctl = control_number or int(now.timestamp()) % 1_000_000_000 or 1
        return to_837p(encounter, EnvelopeOptions(control_number=ctl, created=now))
    if fmt == ClaimFormat.fhir:
        from chartcode.claims.fhir import to_fhir

        return json.dumps(to_fhir(encounter), indent=2, ensure_ascii=False) + "\n"
    pricing, pricing_error = _pricing(encounter, kb, locality, fees)
    if fmt == ClaimFormat.html:
        from chartcode.claims.render import to_html

        return to_html(encounter, pricing=pricing, findings=findings)
    data = {
        "claim": encounter.to_json(),
        "pricing": None if pricing is None else pricing.to_dict(),
        "findings": [f.to_dict() for f in findings],
    }
    if pricing_error is not None:
        data["pricing_error"] = pricing_error.to_dict()
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _pricing(
    encounter: EncounterClaim, kb: KnowledgeBase, locality: str | None, fees: Any
) -> tuple[Any, ChartcodeError | None]:
    from chartcode.claims.pricing import price_claim

    try:
        return price_claim(encounter, kb, locality=locality, fees=fees), None
    except ChartcodeError as exc:
        return None, exc
