"""Every README example runs (installs are exercised by the install tests and the full-KB fixture)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chartcode.cli.main import app
from chartcode.codesets.kb import KnowledgeBase

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands() -> list[str]:
    out = []
    for block in blocks("bash"):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("chartcode ") and " install" not in line:
                out.append(line)
    return out


def test_readme_has_the_two_fresh_machine_commands() -> None:
    first = blocks("bash")[0]
    assert [line.split("#")[0].strip() for line in first.strip().splitlines()] == ["make demo", "make test"]


@pytest.mark.parametrize("command", commands())
def test_readme_command_runs(command: str, full_kb: KnowledgeBase, tmp_path: Path) -> None:
    args = shlex.split(command)[1:]
    args = [str(tmp_path / "coded.jsonl") if a == "coded.jsonl" else a for a in args]
    old = os.getcwd()
    os.chdir(REPO)
    try:
        result = CliRunner(env={"COLUMNS": "200"}).invoke(app, [*args, "--kb", str(full_kb.path)])
    finally:
        os.chdir(old)
    expected = 1 if "--fail-on" in args else 0  # the example shows the failing exit code on purpose
    assert result.exit_code == expected, (command, result.output)


def test_readme_python_example(full_kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARTCODE_KB", str(full_kb.path))
    [block] = blocks("python")
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    result = namespace["result"]
    assert [d.code for d in result.diagnoses] == ["E11.22", "N18.31"]  # type: ignore[attr-defined]
    kb = namespace["kb"]
    assert kb.validity("U07.1", __import__("datetime").date(2019, 12, 1)).message == (  # type: ignore[attr-defined]
        "U07.1 is not valid on 2019-12-01; valid 2020-04-01–present"
    )
