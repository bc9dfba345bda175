"""Compile code-set files into the local knowledge base, atomically.

The new knowledge base is built in a temporary file beside the installed one and moved into
place (``os.replace``) only after every file loaded and the result passed its checks. Any error
leaves the previously installed knowledge base untouched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import httpx

from chartcode import __version__
from chartcode.codesets import sources
from chartcode.codesets.common import DatasetSpec, LoadResult, Release, calendar_year_period, quarter_period
from chartcode.codesets.download import sha256_file
from chartcode.codesets.formats import all_specs, finalizers
from chartcode.errors import ChartcodeError, CodesetSourceError

SCHEMA_VERSION = "1"

CORE_DDL = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS table_counts(release TEXT NOT NULL, tbl TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY(release, tbl));
CREATE TABLE IF NOT EXISTS releases(
  id TEXT PRIMARY KEY, dataset TEXT NOT NULL, system TEXT NOT NULL, version TEXT NOT NULL,
  effective_from TEXT NOT NULL, effective_to TEXT, open_ended INTEGER NOT NULL DEFAULT 0,
  source TEXT NOT NULL, files TEXT NOT NULL, sha256 TEXT NOT NULL, rows INTEGER NOT NULL,
  notes TEXT NOT NULL, installed_at TEXT NOT NULL);
"""


@dataclass
class ReleaseReport:
    release: Release
    rows: int = 0
    files: list[str] = field(default_factory=list)
    sha256: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    open_ended: bool = False


@dataclass
class InstallReport:
    kb_path: Path
    source: str
    releases: list[ReleaseReport]
    ignored: list[str]
    notes: list[str]
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "knowledge_base": str(self.kb_path),
            "source": self.source,
            "seconds": round(self.seconds, 2),
            "releases": [
                {
                    "id": r.release.id,
                    "dataset": r.release.dataset,
                    "version": r.release.version,
                    "effective_from": r.release.effective_from.isoformat(),
                    "effective_to": r.release.effective_to.isoformat() if r.release.effective_to else None,
                    "rows": r.rows,
                    "files": r.files,
                }
                for r in self.releases
            ],
            "ignored_files": self.ignored,
            "notes": self.notes,
        }


def match_files(
    files: list[Path], specs: list[DatasetSpec]
) -> tuple[list[tuple[DatasetSpec, Path]], list[Path]]:
    """Pair each file with the one reader spec that recognises its name; the rest are returned as ignored."""
    matched: list[tuple[DatasetSpec, Path]] = []
    ignored: list[Path] = []
    for path in files:
        hits = [s for s in specs if s.pattern.fullmatch(path.name)]
        if len(hits) > 1:
            names = ", ".join(s.dataset for s in hits)
            raise CodesetSourceError(f"{path.name} matches several readers ({names}).", "rename the file.")
        if hits:
            matched.append((hits[0], path))
        else:
            ignored.append(path)
    matched.sort(key=lambda sp: (sp[0].order, sp[0].dataset, str(sp[1])))
    return matched, ignored


def _release_for(spec: DatasetSpec, path: Path) -> Release:
    match = spec.pattern.fullmatch(path.name)
    assert match is not None
    try:
        version, start, end = spec.period(match)
    except (ValueError, KeyError) as exc:
        raise CodesetSourceError(
            f"{path}: cannot tell the release period from the file name ({exc}).",
            f"use the official file name ({spec.official_name or spec.pattern.pattern}).",
        ) from None
    return Release(f"{spec.dataset}:{version}", spec.dataset, spec.system, version, start, end)


def release_tables(conn: sqlite3.Connection) -> list[str]:
    """Every table that carries a ``release`` column."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    out = []
    for name in names:
        cols = [c[1] for c in conn.execute(f'PRAGMA table_info("{name}")')]
        if "release" in cols:
            out.append(name)
    return out


def count_tables(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """Rows per (release, table) over every release-tagged table."""
    counts: dict[tuple[str, str], int] = {}
    for table in release_tables(conn):
        if table == "table_counts":
            continue
        for release, n in conn.execute(f'SELECT release, count(*) FROM "{table}" GROUP BY release'):
            counts[(release, table)] = n
    return counts


def record_table_counts(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM table_counts")
    conn.executemany(
        "INSERT INTO table_counts VALUES (?, ?, ?)", [(r, t, n) for (r, t), n in count_tables(conn).items()]
    )


def delete_release(conn: sqlite3.Connection, release_id: str) -> None:
    for table in release_tables(conn):
        if table != "table_counts":
            conn.execute(f'DELETE FROM "{table}" WHERE release = ?', (release_id,))
    conn.execute("DELETE FROM releases WHERE id = ?", (release_id,))


def _open_build_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA cache_size=-262144")
    conn.executescript(CORE_DDL)
    return conn


def _write_release(conn: sqlite3.Connection, rep: ReleaseReport, origin: str, now: str) -> None:
    r = rep.release
    conn.execute(
        "INSERT OR REPLACE INTO releases VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            r.id,
            r.dataset,
            r.system,
            r.version,
            r.effective_from.isoformat(),
            r.effective_to.isoformat() if r.effective_to else None,
            int(rep.open_ended),
            origin,
            json.dumps(rep.files),
            json.dumps(rep.sha256, sort_keys=True),
            rep.rows,
            json.dumps(rep.notes),
            now,
        ),
    )


def _apply_result(rep: ReleaseReport, result: LoadResult) -> None:
    rep.rows += result.rows
    rep.notes.extend(result.notes)
    r = rep.release
    start = result.effective_from or r.effective_from
    end = result.effective_to if (result.effective_to or result.open_ended) else r.effective_to
    if result.open_ended:
        end = None
        rep.open_ended = True
    rep.release = Release(r.id, r.dataset, r.system, r.version, start, end)


def fetch_source(
    source: str | None, workdir: Path, catalog: Path | None, client: httpx.Client | None
) -> sources.FetchedFiles:
    if source is None:
        return sources.from_catalog(workdir, catalog, client)
    if re.match(r"^https?://", source, re.IGNORECASE):
        return sources.from_http_mirror(source, workdir, client)
    return sources.from_directory(Path(source).expanduser())


def install(
    source: str | None,
    kb_path: Path,
    *,
    catalog: Path | None = None,
    add: bool = False,
    client: httpx.Client | None = None,
    progress: Callable[[str], None] | None = None,
) -> InstallReport:
    """Install code sets from ``source``: a directory, an http(s) mirror URL, or None (official downloads)."""
    started = datetime.now(UTC)
    kb_path = kb_path.expanduser().resolve()
    kb_path.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".chartcode-install-", dir=kb_path.parent))
    building = kb_path.with_name(f".{kb_path.name}.building-{os.getpid()}")
    try:
        fetched = fetch_source(source, workdir, catalog, client)
        matched, ignored = match_files(fetched.files, all_specs())
        if not matched:
            raise CodesetSourceError(
                f"no code-set file was recognised in {fetched.origin}.",
                "point --source at a folder holding official files (e.g. icd10cm_tabular_2026.xml, "
                "HCPC2024_JUL_ANWEB.xlsx, PPRRVU24_JUL.csv); see `chartcode codesets install --help`.",
            )
        if add and kb_path.exists():
            shutil.copyfile(kb_path, building)
        elif building.exists():
            building.unlink()
        conn = _open_build_db(building)
        try:
            reports = _load_all(conn, matched, progress)
            notes = list(fetched.notes)
            notes.extend(_derive_history(conn, reports))
            for finalize in finalizers():
                if progress:
                    progress(f"finalising {finalize.__module__.rsplit('.', 1)[-1]}")
                finalize(conn)
            notes.extend(_cross_checks(reports))
            _close_open_ended(conn, reports)
            now = started.isoformat(timespec="seconds")
            for rep in reports.values():
                rep.sha256 = {Path(f).name: fetched.checksums.get(Path(f), "") for f in rep.files}
                rep.files = [Path(f).name for f in rep.files]
                _write_release(conn, rep, fetched.origin, now)
            record_table_counts(conn)
            conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [
                    ("schema_version", SCHEMA_VERSION),
                    ("chartcode_version", __version__),
                    ("installed_at", now),
                ],
            )
            conn.execute("ANALYZE")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise ChartcodeError(f"the new knowledge base failed its integrity check ({check}).")
        finally:
            conn.close()
        os.replace(building, kb_path)
        seconds = (datetime.now(UTC) - started).total_seconds()
        return InstallReport(
            kb_path, fetched.origin, list(reports.values()), [str(p) for p in ignored], notes, seconds
        )
    finally:
        building.unlink(missing_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


def _load_all(
    conn: sqlite3.Connection,
    matched: list[tuple[DatasetSpec, Path]],
    progress: Callable[[str], None] | None,
) -> dict[str, ReleaseReport]:
    reports: dict[str, ReleaseReport] = {}
    conn.execute("BEGIN")
    for spec, path in matched:
        release = _release_for(spec, path)
        if progress:
            progress(f"loading {path.name} ({release.id})")
        _exec_ddl(conn, spec.ddl)
        if release.id not in reports:
            delete_release(conn, release.id)
            reports[release.id] = ReleaseReport(release)
        rep = reports[release.id]
        _apply_result(rep, spec.load(conn, path, release))
        rep.files.append(str(path))
    conn.execute("COMMIT")
    return reports


def _exec_ddl(conn: sqlite3.Connection, ddl: str) -> None:
    for statement in (s.strip() for s in ddl.split(";")):
        if statement:
            conn.execute(statement)


def _derive_history(conn: sqlite3.Connection, reports: dict[str, ReleaseReport]) -> list[str]:
    """Without a history file, derive ICD-10-CM validity spans from the per-year codes files."""
    if any(r.release.dataset == "icd10cm-history" for r in reports.values()):
        return []
    code_releases = sorted(
        (r for r in reports.values() if r.release.dataset == "icd10cm-codes"),
        key=lambda r: r.release.effective_from,
    )
    if not code_releases:
        return []
    from chartcode.codesets.formats import icd10cm_history

    by_fy: dict[int, set[str]] = {}
    for rep in code_releases:
        fy = (
            rep.release.effective_to.year if rep.release.effective_to else rep.release.effective_from.year + 1
        )
        by_fy[fy] = {
            c for (c,) in conn.execute("SELECT code FROM icd_billable WHERE release = ?", (rep.release.id,))
        }
    spans = icd10cm_history.derive_validity_spans(by_fy)
    release = Release(
        "icd10cm-history:derived",
        "icd10cm-history",
        "icd10cm",
        "derived",
        min(s[1] for s in spans),
        None,
    )
    conn.execute("BEGIN")
    _exec_ddl(conn, icd10cm_history.DDL)
    conn.executemany(
        "INSERT INTO icd_validity(release, code, effective_from, effective_to) VALUES (?,?,?,?)",
        (
            (release.id, code, start.isoformat(), end.isoformat() if end else None)
            for code, start, end in spans
        ),
    )
    conn.execute("COMMIT")
    rep = ReleaseReport(release, rows=len(spans), open_ended=True)
    rep.files = [f for r in code_releases for f in r.files]
    rep.notes.append(f"derived from the codes files of FY{min(by_fy)}–FY{max(by_fy)}")
    reports[release.id] = rep
    return [f"ICD-10-CM validity history derived from {len(by_fy)} fiscal-year codes file(s)."]


# Validity tables whose open-ended rows mean "still valid in the newest data": the release covers
# dates up to the end of the quarter of the newest change the table records.
_VALIDITY_TABLES = {"icd10cm-history": "icd_validity", "hcpcs-validity": "hcpcs_validity"}


def _close_open_ended(conn: sqlite3.Connection, reports: dict[str, ReleaseReport]) -> None:
    for rep in reports.values():
        table = _VALIDITY_TABLES.get(rep.release.dataset)
        if table is None or rep.release.effective_to is not None:
            continue
        row = conn.execute(
            f"SELECT max(effective_from), max(date(effective_to, '+1 day')) FROM {table} WHERE release = ?",
            (rep.release.id,),
        ).fetchone()
        newest = max(d for d in row if d is not None)
        as_of = date.fromisoformat(newest)
        quarter_end = quarter_period(as_of.year, (as_of.month - 1) // 3 + 1)[2]
        assert quarter_end is not None
        r = rep.release
        rep.release = Release(r.id, r.dataset, r.system, r.version, r.effective_from, quarter_end)
        rep.open_ended = True
        rep.notes.append(
            f"codes without an end date were still valid in the newest data ({as_of.isoformat()}); "
            f"coverage runs to {quarter_end.isoformat()}"
        )


def _cross_checks(reports: dict[str, ReleaseReport]) -> list[str]:
    """Report the cross-file check the codes reader's finaliser made (it raises on any difference):
    a codes file lists exactly the billable codes of the tabular of the same fiscal year."""
    tabular = {r.release.version for r in reports.values() if r.release.dataset == "icd10cm-tabular"}
    return [
        f"{rep.release.id}: billable codes equal the tabular's ({rep.rows:,})."
        for rep in reports.values()
        if rep.release.dataset == "icd10cm-codes" and rep.release.version in tabular
    ]


def default_kb_path() -> Path:
    env = os.environ.get("CHARTCODE_KB")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("chartcode")) / "kb.sqlite"


def install_cpt(kb_path: Path, cpt_file: Path, year: int) -> ReleaseReport:
    """Add a user's licensed CPT file to the installed knowledge base (atomically)."""
    from chartcode.codesets.formats import cpt

    kb_path = kb_path.expanduser().resolve()
    if not kb_path.exists():
        raise CodesetSourceError(
            f"no knowledge base at {kb_path} to add CPT descriptors to.",
            "install the code sets first: `chartcode codesets install --source DIR`.",
        )
    if not cpt_file.is_file():
        raise CodesetSourceError(
            f"CPT file {cpt_file} does not exist.", "pass the path of your licensed CPT file."
        )
    building = kb_path.with_name(f".{kb_path.name}.building-{os.getpid()}")
    try:
        shutil.copyfile(kb_path, building)
        conn = _open_build_db(building)
        try:
            release = Release(f"cpt:{year}", "cpt", "cpt", str(year), *calendar_year_period(year)[1:])
            conn.execute("BEGIN")
            _exec_ddl(conn, cpt.CPT_DDL)
            delete_release(conn, release.id)
            rep = ReleaseReport(release)
            _apply_result(rep, cpt.load_cpt_file(conn, cpt_file, year))
            rep.files = [cpt_file.name]
            rep.sha256 = {cpt_file.name: sha256_file(cpt_file)}
            _write_release(conn, rep, str(cpt_file.parent), datetime.now(UTC).isoformat(timespec="seconds"))
            conn.execute("COMMIT")
            record_table_counts(conn)
        finally:
            conn.close()
        os.replace(building, kb_path)
        return rep
    finally:
        building.unlink(missing_ok=True)


@dataclass
class VerifyReport:
    ok: bool
    problems: list[str]
    checked: list[str]


def verify(kb_path: Path, source: Path | None = None) -> VerifyReport:
    """Check the installed knowledge base: integrity, row counts per release, and (optionally)
    that the files in ``source`` still have the checksums recorded at install."""
    problems: list[str] = []
    checked: list[str] = []
    conn = sqlite3.connect(f"file:{kb_path}?mode=ro", uri=True)
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
        checked.append(f"SQLite integrity: {result}")
        if result != "ok":
            problems.append(f"SQLite integrity check failed: {result}")
        recorded = {(r, t): n for r, t, n in conn.execute("SELECT release, tbl, n FROM table_counts")}
        actual = count_tables(conn)
        for key in sorted(set(recorded) | set(actual)):
            if recorded.get(key) != actual.get(key):
                problems.append(
                    f"{key[1]} holds {actual.get(key, 0):,} rows of {key[0]}, "
                    f"{recorded.get(key, 0):,} were installed"
                )
        checked.append(f"row counts of {len(recorded)} release tables")
        if source is not None:
            by_name = {p.name: p for p in source.rglob("*") if p.is_file()}
            for release_id, sha_json in conn.execute("SELECT id, sha256 FROM releases"):
                for name, expected in json.loads(sha_json).items():
                    path = by_name.get(name)
                    if path is None:
                        problems.append(f"{release_id}: {name} is not in {source}")
                    elif expected and sha256_file(path) != expected:
                        problems.append(f"{release_id}: {path} differs from the installed file (sha256)")
            checked.append(f"file checksums against {source}")
    finally:
        conn.close()
    return VerifyReport(not problems, problems, checked)
