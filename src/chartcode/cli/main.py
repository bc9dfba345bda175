"""Entry point: ``chartcode``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from chartcode import __version__
from chartcode.cli import check, claim, codesets, coding, remit, serve
from chartcode.cli.output import DateOption, Format, console, handle_errors, render

app = typer.Typer(
    help="chartcode: medical coding from the chart to the claim (ICD-10-CM, CPT/HCPCS, claim edits).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(codesets.app, name="codesets")
coding.register(app)
check.register(app)
claim.register(app)
serve.register(app)
remit.register(app)


def _version(value: bool) -> None:
    if value:
        console.print(f"chartcode {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """chartcode command line."""


@app.command()
def lookup(
    code: Annotated[str, typer.Argument(help="An ICD-10-CM (E11.22), CPT (99213) or HCPCS (J3301) code.")],
    date: DateOption = None,
    system: Annotated[
        str | None, typer.Option("--system", help="icd10cm, hcpcs or cpt (default: from the code's shape).")
    ] = None,
    kb: codesets.KbOption = None,
    fmt: codesets.FormatOption = Format.text,
) -> None:
    """Description, billable, conventions, validity span and the edits that apply to a code."""
    from chartcode.codesets.kb import open_kb, parse_date

    with handle_errors(fmt):
        day = parse_date(date)
        base = open_kb(codesets.kb_path(kb))
        result = base.lookup(code, day, system)
    data = result.to_dict()

    def text() -> None:
        kind = "billable" if result.billable else "not billable (header)"
        console.print(f"[bold]{result.code}[/]  {result.description or '(no description installed)'}")
        console.print(f"system: {result.system}   {kind}   from: {result.description_release or '-'}")
        spans = ", ".join(f"{s['from']}–{s['to'] or 'present'}" for s in result.validity) or "-"
        status = (
            ""
            if result.valid_on_date is None
            else f"   valid on {result.date}: {'yes' if result.valid_on_date else 'no'}"
        )
        console.print(f"valid: {spans}{status}")
        for h in result.hierarchy:
            console.print(f"  in {h['code']} {h['description']}")
        for kind_name, notes in result.conventions.items():
            if not notes:
                continue
            console.print(f"[bold]{kind_name.replace('_', ' ')}[/]:")
            if kind_name == "seventh":
                x = " (use placeholder X to fill empty positions)" if notes["placeholder_x"] else ""
                console.print(f"  defined at {notes['defined_at']}{x}")
                for c in notes["characters"]:
                    console.print(f"  {c['char']}: {c['meaning']}")
                continue
            for n in notes:
                console.print(f"  - {_note_text(n)}")
        for edit, value in result.edits.items():
            if value:
                console.print(f"[bold]edit {edit}[/]: {value}")
        for note in result.notes:
            console.print(f"note: {note}")

    render(fmt, data, text)


def _note_text(note: dict[str, Any]) -> str:
    if "text" in note:
        own = note.get("source_code")
        return f"{note['text']}" + (f"  (from {own})" if own else "")
    return f"{note.get('code', '')} {note.get('description', '')}".strip()


@app.command()
def search(
    text: Annotated[
        str, typer.Argument(help="Free text, e.g. 'type 2 diabetes with chronic kidney disease'.")
    ],
    date: DateOption = None,
    system: Annotated[str | None, typer.Option("--system", help="icd10cm or hcpcs (default: both).")] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=200, help="How many codes to return.")] = 10,
    kb: codesets.KbOption = None,
    fmt: codesets.FormatOption = Format.text,
) -> None:
    """Ranked codes for free text, from index terms, inclusion terms and descriptions, with the index path."""
    from chartcode.codesets.kb import open_kb, parse_date
    from chartcode.errors import InputError

    with handle_errors(fmt):
        if system not in (None, "icd10cm", "hcpcs"):
            raise InputError(f"--system {system!r} is not known.", "use --system icd10cm or --system hcpcs.")
        day = parse_date(date)
        base = open_kb(codesets.kb_path(kb))
        hits = base.search(text, day, system, top)
    from dataclasses import asdict

    def show() -> None:
        table = Table()
        for col in ("#", "code", "description", "via"):
            table.add_column(col)
        for i, h in enumerate(hits, 1):
            table.add_row(str(i), h.code, h.description_or_title, f"{h.kind}: {h.path}")
        console.print(table)

    render(fmt, [asdict(h) for h in hits], show)


def run() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    app()


@app.command("index")
def index_cmd(
    steps: Annotated[
        list[str], typer.Argument(help="Main term, then subterms, e.g. Diabetes 'type 2' with.")
    ],
    tree: Annotated[
        str, typer.Option("--tree", help="index, eindex (external causes), drug or neoplasm.")
    ] = "index",
    date: DateOption = None,
    kb: codesets.KbOption = None,
    fmt: codesets.FormatOption = Format.text,
) -> None:
    """Browse the Alphabetic Index (or the External Cause index, Drug or Neoplasm Table) as a coder does."""
    from chartcode.codesets import index as index_api
    from chartcode.codesets.kb import open_kb, parse_date
    from chartcode.errors import InputError

    with handle_errors(fmt):
        if tree not in ("index", "eindex", "drug", "neoplasm"):
            raise InputError(f"--tree {tree!r} is not known.", "use index, eindex, drug or neoplasm.")
        base = open_kb(codesets.kb_path(kb))
        release = base.require_release(f"icd10cm-{tree}", parse_date(date), nearest=True)
        found = index_api.walk(base.conn, release.id, tree, steps)
        if not found:
            raise InputError(
                f"no path {' › '.join(steps)!r} in {release.id}.",
                "start with a main term (e.g. `chartcode index Diabetes`); "
                "subterms are matched by their words.",
            )
        kids = index_api.children(base.conn, release.id, found[-1].id)

    def entry(t: index_api.IndexTerm) -> dict[str, object]:
        return {"title": t.display, "code": t.code, "see": t.see, "see_also": t.see_also, "cells": t.cells}

    data = {"release": release.id, "path": [entry(t) for t in found], "subterms": [entry(t) for t in kids]}

    def text() -> None:
        console.print(f"{index_api.format_path(found)}   ({release.id})", markup=False)
        last = found[-1]
        for label, value in (("code", last.code), ("see", last.see), ("see also", last.see_also)):
            if value:
                console.print(f"  {label}: {value}")
        for heading, code in last.cells.items():
            console.print(f"  {heading}: {code}")
        for t in kids:
            extra = t.code or (f"see {t.see}" if t.see else "")
            console.print(f"    › {t.display}  {extra}", markup=False)

    render(fmt, data, text)
