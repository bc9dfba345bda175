"""``chartcode codesets ...``: install, list and verify code sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from chartcode.cli.output import Format, console, err_console, handle_errors, render
from chartcode.codesets import install as installer

app = typer.Typer(help="Install, list and verify the official code sets.", no_args_is_help=True)

KbOption = Annotated[
    Path | None,
    typer.Option("--kb", help="Knowledge base file (default: $CHARTCODE_KB or the user data folder)."),
]
FormatOption = Annotated[Format, typer.Option("--format", help="Output format.")]


def kb_path(kb: Path | None) -> Path:
    return kb if kb is not None else installer.default_kb_path()


@app.command()
def install(
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="A local folder (e.g. ../shared/data) or an http(s) mirror URL. Default: the official "
            "CMS/NCHS download locations.",
        ),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option("--catalog", help="A catalogue of official archives replacing the built-in one."),
    ] = None,
    add: Annotated[
        bool, typer.Option("--add", help="Keep the installed releases and add (or replace) those in SOURCE.")
    ] = False,
    kb: KbOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Download or read the code-set files, verify them and compile the knowledge base (atomically)."""
    with handle_errors(fmt):
        quiet = fmt == Format.json or not console.is_terminal

        def progress(message: str) -> None:
            if not quiet:
                err_console.print(f"  {message}")

        report = installer.install(source, kb_path(kb), catalog=catalog, add=add, progress=progress)

    def text() -> None:
        table = Table(title=f"Installed into {report.kb_path} in {report.seconds:.1f} s")
        for col in ("release", "effective", "rows", "files"):
            table.add_column(col)
        for rep in report.releases:
            table.add_row(rep.release.id, rep.release.period_text(), f"{rep.rows:,}", ", ".join(rep.files))
        console.print(table)
        for note in report.notes:
            console.print(f"note: {note}")
        if report.ignored:
            console.print(
                f"{len(report.ignored)} file(s) not recognised as code sets and not installed: "
                + ", ".join(Path(p).name for p in report.ignored)
            )

    render(fmt, report.to_dict(), text)


@app.command("install-cpt")
def install_cpt(
    file: Annotated[
        Path, typer.Argument(help="Your licensed AMA CPT data file (tab/CSV with code and descriptor).")
    ],
    year: Annotated[
        int, typer.Option("--year", help="The CPT edition year (CPT is released by calendar year).")
    ],
    kb: KbOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Add CPT descriptors from a licensed CPT file (chartcode ships none: they are AMA copyright)."""
    with handle_errors(fmt):
        rep = installer.install_cpt(kb_path(kb), file, year)
    render(
        fmt,
        {"release": rep.release.id, "rows": rep.rows, "file": file.name},
        lambda: console.print(f"Installed {rep.rows:,} CPT descriptors as {rep.release.id}."),
    )


@app.command("list")
def list_(kb: KbOption = None, fmt: FormatOption = Format.text) -> None:
    """What is installed: each release's version, effective period, rows and checksums."""
    from chartcode.codesets.kb import open_kb

    with handle_errors(fmt):
        base = open_kb(kb_path(kb))
        rows = base.release_rows()

    def text() -> None:
        table = Table(title=f"Code sets in {base.path}")
        for col in ("release", "system", "version", "effective", "rows", "files (sha256)"):
            table.add_column(col)
        for r in rows:
            end = r["effective_to"] or "open"
            files = json.loads(r["sha256"])
            shown = ", ".join(f"{n} ({h[:12]})" for n, h in files.items())
            table.add_row(
                r["id"], r["system"], r["version"], f"{r['effective_from']}–{end}", f"{r['rows']:,}", shown
            )
        console.print(table)

    data = [
        {
            **r,
            "files": json.loads(r["files"]),
            "sha256": json.loads(r["sha256"]),
            "notes": json.loads(r["notes"]),
        }
        for r in rows
    ]
    render(fmt, data, text)


@app.command()
def verify(
    source: Annotated[
        Path | None,
        typer.Option("--source", help="Also check these files against the checksums recorded at install."),
    ] = None,
    kb: KbOption = None,
    fmt: FormatOption = Format.text,
) -> None:
    """Check the installed knowledge base (integrity, row counts, optionally source checksums)."""
    from chartcode.codesets.kb import open_kb

    with handle_errors(fmt):
        base = open_kb(kb_path(kb))
        base.close()
        report = installer.verify(base.path, source)

    def text() -> None:
        for line in report.checked:
            console.print(f"checked: {line}")
        for problem in report.problems:
            console.print(f"[red]problem[/]: {problem}")
        console.print("[green]OK[/]" if report.ok else "[red]FAILED[/]")

    render(fmt, {"ok": report.ok, "problems": report.problems, "checked": report.checked}, text)
    if not report.ok:
        raise typer.Exit(1)
