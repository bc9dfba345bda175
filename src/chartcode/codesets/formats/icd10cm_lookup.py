"""A compact lookup record per ICD-10-CM code (and per section and chapter), built at install time.

``chartcode lookup`` must answer in tens of microseconds. From the normalised tables that takes
five queries (the code's row, its ancestors, their notes, validity history, MCE edits). This step
stores, once per scope, its own row, its own notes and 7th characters, and (for codes) their
validity spans and MCE edits as one small JSON record in ``icd_lookup``. A lookup then reads the
code's record and its ancestors' (which :class:`LookupRecords` keeps in memory: a few thousand
categories and subcategories are shared by all codes) and merges inherited notes nearest first,
as :func:`chartcode.codesets.icd10cm.conventions` does. Rebuilt on every install.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from chartcode.codesets import icd10cm
from chartcode.codesets.common import DatasetSpec

SPECS: list[DatasetSpec] = []

DDL = """
DROP TABLE IF EXISTS icd_lookup;
CREATE TABLE icd_lookup(release TEXT NOT NULL, code TEXT NOT NULL, record TEXT NOT NULL,
  PRIMARY KEY(release, code)) WITHOUT ROWID;
"""
FIELDS = icd10cm.NOTE_FIELDS  # icd_notes.kind -> Conventions field


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def FINALIZE(conn: sqlite3.Connection) -> None:
    tables = _tables(conn)
    if "icd_codes" not in tables:
        return
    for statement in DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("BEGIN")
    for (release,) in conn.execute("SELECT DISTINCT release FROM icd_codes").fetchall():
        conn.executemany("INSERT INTO icd_lookup VALUES (?, ?, ?)", _records(conn, release, tables))
    conn.execute("COMMIT")


def _records(conn: sqlite3.Connection, release: str, tables: set[str]) -> list[tuple[str, str, str]]:
    notes: dict[str, dict[str, list[list[Any]]]] = defaultdict(lambda: defaultdict(list))
    for code, kind, _seq, text, targets in conn.execute(
        "SELECT code, kind, seq, text, targets FROM icd_notes WHERE release = ? ORDER BY code, seq",
        (release,),
    ):
        field = FIELDS.get(kind)
        if field:
            notes[code][field].append([text, json.loads(targets) if targets else []])
    seventh: dict[str, list[list[str]]] = defaultdict(list)
    for code, char, meaning in conn.execute(
        "SELECT code, char, meaning FROM icd_seventh WHERE release = ? ORDER BY code, char", (release,)
    ):
        seventh[code].append([char, meaning])
    children: dict[str, list[list[str]]] = defaultdict(list)
    rows = conn.execute(
        "SELECT code, description, billable, parent, chapter, section FROM icd_codes"
        " WHERE release = ? ORDER BY code",
        (release,),
    ).fetchall()
    for code, desc, _b, parent, *_ in rows:
        if parent:
            children[parent].append([code, desc])
    validity: dict[str, list[list[Any]]] = defaultdict(list)
    if "icd_validity" in tables:
        for code, *span in conn.execute(
            "SELECT code, release, effective_from, effective_to, age_low, age_high, manifestation,"
            " unacceptable_principal_dx FROM icd_validity ORDER BY code, effective_from, release"
        ):
            validity[code].append(span)
    mce: dict[str, list[list[Any]]] = defaultdict(list)
    if "mce_edits" in tables:
        for code, *edit in conn.execute(
            "SELECT code, release, edit, age_edit, age_low, age_high, sex, list_name FROM mce_edits"
            " ORDER BY code, edit"
        ):
            mce[code].append(edit)
    out: list[tuple[str, str, str]] = []
    scopes_seen: set[str] = set()
    for code, desc, billable, parent, chapter, section in rows:
        rec: dict[str, Any] = {"d": desc, "b": int(billable), "p": parent, "ch": chapter, "s": section}
        if code in notes:
            rec["n"] = notes[code]
        if code in seventh:
            rec["7"] = seventh[code]
        if not billable:
            rec["k"] = children.get(code, [])
        if code in validity:
            rec["v"] = validity[code]
        if code in mce:
            rec["m"] = mce[code]
        out.append((release, code, json.dumps(rec, separators=(",", ":"), ensure_ascii=False)))
        scopes_seen.update(s for s in (section, f"chapter:{chapter}" if chapter else None) if s)
    codes = {row[0] for row in rows}
    for scope in sorted(scopes_seen - codes):  # a section named like its only category shares its notes
        rec = {"n": notes.get(scope, {})}
        out.append((release, scope, json.dumps(rec, separators=(",", ":"), ensure_ascii=False)))
    return out


class LookupRecords:
    """Reads records, keeping every non-billable scope (categories, sections, chapters) and the
    merged notes they pass down in memory."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.cache: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.inherited: dict[tuple[str, str | None, str | None, str | None], _Inherited] = {}
        self.last: tuple[tuple[str, str], dict[str, Any] | None] | None = None
        self.available = "icd_lookup" in _tables(conn)

    def get(self, release: str, code: str) -> dict[str, Any] | None:
        key = (release, code)
        if key in self.cache:
            return self.cache[key]
        if self.last is not None and self.last[0] == key:
            return self.last[1]
        row = self.conn.execute(
            "SELECT record FROM icd_lookup WHERE release = ? AND code = ?", (release, code)
        ).fetchone()
        rec: dict[str, Any] | None = json.loads(row[0]) if row else None
        if rec is None or not rec.get("b", 0):
            self.cache[key] = rec
        else:
            self.last = (key, rec)
        return rec

    def _inherit(
        self, release: str, parent: str | None, section: str | None, chapter: str | None
    ) -> _Inherited:
        """What a code below ``parent`` inherits: ancestors and their notes, section and chapter notes."""
        key = (release, parent, section, chapter)
        found = self.inherited.get(key)
        if found is not None:
            return found
        if parent is None:
            result = _Inherited([], {f: [] for f in FIELDS.values()}, None, [])
            for scope in (section, f"chapter:{chapter}" if chapter else None):
                rec = self.get(release, scope) if scope else None
                if rec is not None:
                    _add_notes(result, scope or "", rec)
        else:
            rec = self.get(release, parent)
            if rec is None:
                result = _Inherited([], {f: [] for f in FIELDS.values()}, None, [])
            else:
                up = self._inherit(release, rec.get("p"), rec.get("s"), rec.get("ch"))
                result = _Inherited([(parent, rec), *up.chain], {f: [] for f in FIELDS.values()}, None, [])
                _add_notes(result, parent, rec)
                for f, items in up.notes.items():
                    result.notes[f].extend(items)
                if result.seventh_at is None and up.seventh_at is not None:
                    result.seventh_at, result.seventh = up.seventh_at, up.seventh
        self.inherited[key] = result
        return result

    def lookup(self, release: str, code: str) -> dict[str, Any] | None:
        """Description, billable, hierarchy, merged conventions, validity rows and MCE edits."""
        own = self.get(release, code)
        if own is None or "d" not in own:
            return None
        up = self._inherit(release, own.get("p"), own.get("s"), own.get("ch"))
        mine = _Inherited([], {f: [] for f in FIELDS.values()}, None, [])
        _add_notes(mine, code, own)
        conventions: dict[str, Any] = {
            f: mine.notes[f] + up.notes[f] for f in FIELDS.values() if f != "seventh_notes"
        }
        seventh_at, seventh = (
            (mine.seventh_at, mine.seventh) if mine.seventh_at else (up.seventh_at, up.seventh)
        )
        if seventh:
            base = own.get("p") if len(code.replace(".", "")) == 7 and own.get("p") else code
            conventions["seventh"] = {
                "defined_at": seventh_at,
                "placeholder_x": len((base or code).replace(".", "")) < 6,
                "characters": seventh,
                "notes": [n["text"] for n in mine.notes["seventh_notes"] + up.notes["seventh_notes"]],
            }
        if not own["b"]:
            conventions["children"] = [{"code": c, "description": d} for c, d in own.get("k", [])]
        return {
            "description": own["d"],
            "billable": bool(own["b"]),
            "hierarchy": [{"code": c, "description": r["d"]} for c, r in reversed(up.chain)],
            "conventions": conventions,
            "validity": own.get("v", []),
            "mce": own.get("m", []),
        }


@dataclass
class _Inherited:
    chain: list[tuple[str, dict[str, Any]]]
    notes: dict[str, list[dict[str, Any]]]
    seventh_at: str | None
    seventh: list[dict[str, str]]


def _add_notes(into: _Inherited, scope: str, rec: dict[str, Any]) -> None:
    for field, items in rec.get("n", {}).items():
        into.notes[field].extend({"text": t, "targets": tg, "source_code": scope} for t, tg in items)
    if "7" in rec and into.seventh_at is None:
        into.seventh_at = scope
        into.seventh = [{"char": c, "meaning": m} for c, m in rec["7"]]
