"""The chartcode command line on a knowledge base built from the tiny fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chartcode.cli.main import app
from tests.codesets.sourcekit import FIXTURES, make_source_dir

runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    source = make_source_dir(root / "mirror")
    path = root / "kb.sqlite"
    result = runner.invoke(
        app, ["codesets", "install", "--source", str(source), "--kb", str(path), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["knowledge_base"] == str(path.resolve())
    assert len(data["releases"]) == 21
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_json(kb: Path) -> None:
    code, out, _ = run("codesets", "list", "--kb", str(kb), "--format", "json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["icd10cm-tabular:FY2026"]["effective_to"] == "2026-09-30"
    assert list(rows["pos:current"]["sha256"]) == ["place_of_service.csv"]


def test_list_text_shows_releases(kb: Path) -> None:
    code, out, _ = run("codesets", "list", "--kb", str(kb))
    assert code == 0 and "icd10cm-tabular:FY2026" in out and "2025-10-01–2026-09-30" in out


def test_verify(kb: Path) -> None:
    code, out, _ = run("codesets", "verify", "--kb", str(kb), "--format", "json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_lookup_json_and_text(kb: Path) -> None:
    code, out, _ = run("lookup", "E11.22", "--date", "2026-03-02", "--kb", str(kb), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["code"] == "E11.22" and data["billable"] is True and data["valid_on_date"] is True
    assert data["validity"] == [{"from": "2019-07-01", "to": None}]
    code, out, _ = run("lookup", "E11.22", "--kb", str(kb))
    assert code == 0 and out.startswith("E11.22  ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lookup", "E11."], "[CC130] 'E11.' is not a valid ICD-10-CM code format"),
        (
            ["lookup", "U07.1", "--date", "2019-12-01"],
            "[CC132] U07.1 is not valid on 2019-12-01; valid 2020-04-01–present",
        ),
        (["lookup", "E11.99"], "[CC131] E11.99 never existed in ICD-10-CM"),
        (
            ["lookup", "E11.22", "--date", "2010-01-01"],
            "[CC120] no installed ICD-10-CM release covers 2010-01-01.",
        ),
        (
            ["lookup", "E11.22", "--date", "2024-02-30"],
            "[CC140] date of service '2024-02-30' is not a valid date",
        ),
        (["search", "diabetes", "--system", "loinc"], "[CC150] --system 'loinc' is not known."),
    ],
)
def test_errors_are_one_clear_line_and_exit_1(kb: Path, args: list[str], message: str) -> None:
    code, out, err = run(*args, "--kb", str(kb))
    assert code == 1
    assert message in err
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1


def test_error_in_json_format_is_an_object(kb: Path) -> None:
    code, out, _ = run("lookup", "E11.", "--kb", str(kb), "--format", "json")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "CC130"


def test_missing_kb(tmp_path: Path) -> None:
    code, _, err = run("lookup", "E11.22", "--kb", str(tmp_path / "none.sqlite"))
    assert code == 1 and "[CC110] no code-set knowledge base at" in err


def test_search_json(kb: Path) -> None:
    code, out, _ = run("search", "diabetes", "--kb", str(kb), "--format", "json", "--top", "3")
    assert code == 0
    hits = json.loads(out)
    assert 1 <= len(hits) <= 3
    assert all({"code", "path", "kind", "release"} <= set(h) for h in hits)


def test_install_cpt_cli(kb: Path, tmp_path: Path) -> None:
    copy = tmp_path / "kb.sqlite"
    copy.write_bytes(kb.read_bytes())
    code, out, _ = run(
        "codesets",
        "install-cpt",
        str(FIXTURES / "cpt_descriptors.csv"),
        "--year",
        "2024",
        "--kb",
        str(copy),
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["release"] == "cpt:2024"


def test_install_bad_source_cli(tmp_path: Path) -> None:
    code, _, err = run(
        "codesets", "install", "--source", str(tmp_path / "nope"), "--kb", str(tmp_path / "k.sqlite")
    )
    assert code == 1 and "does not exist or is not a directory" in err


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("chartcode ")


def test_index_browsing(kb: Path) -> None:
    code, out, _ = run("index", "diabetes", "--kb", str(kb), "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["path"][0]["title"].startswith("Diabetes")
    assert data["subterms"]
    code, _, err = run("index", "nosuchterm", "--kb", str(kb))
    assert code == 1 and "[CC150] no path 'nosuchterm'" in err
    code, _, err = run("index", "x", "--tree", "loinc", "--kb", str(kb))
    assert code == 1 and "--tree 'loinc' is not known" in err
