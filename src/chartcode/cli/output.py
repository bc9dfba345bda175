"""Printing results and errors the same way in every command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class Format(StrEnum):
    text = "text"
    json = "json"


class StreamFormat(StrEnum):
    """Commands that can also write one JSON line per item (batches)."""

    text = "text"
    json = "json"
    jsonl = "jsonl"


DateOption = Annotated[
    str | None,
    typer.Option("--date", help="Date of service, YYYY-MM-DD (default: the newest installed release)."),
]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@contextmanager
def handle_errors(fmt: Format | str = Format.text) -> Iterator[None]:
    """Turn a ChartcodeError into one line on stderr (or a JSON error object) and exit code 1."""
    from chartcode.errors import ChartcodeError

    try:
        yield
    except ChartcodeError as exc:
        if str(getattr(fmt, "value", fmt)) == "json":
            emit_json({"error": exc.to_dict()})
        err_console.print(f"[bold red]error[/] {exc}", markup=True)
        raise typer.Exit(1) from None


def render(fmt: Format, data: Any, text: Callable[[], None]) -> None:
    if fmt == Format.json:
        emit_json(data)
    else:
        text()
