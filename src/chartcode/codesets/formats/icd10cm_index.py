"""Readers for the ICD-10-CM index XML files (CDC/NCHS) and the cross-code-set search index.

Four trees share one layout (``<ICD10CM.index>`` › ``<letter>`` › ``<mainTerm>`` › ``<term level="N">``):

* ``icd10cm_index_YYYY.xml``    Index to Diseases and Injuries      (tree ``index``)
* ``icd10cm_eindex_YYYY.xml``   External Cause of Injuries Index    (tree ``eindex``)
* ``icd10cm_drug_YYYY.xml``     Table of Drugs and Chemicals        (tree ``drug``, ``<cell col=N>``)
* ``icd10cm_neoplasm_YYYY.xml`` Neoplasm Table                      (tree ``neoplasm``, ``<cell col=N>``)

Every term becomes one row of ``index_terms`` (main terms have level 0 and no parent). Term ids
follow document order and are unique within a release *and* across trees (each tree has its own id
range), so children sort by id. ``FINALIZE`` builds the FTS5 search index (``search_docs`` +
``search_fts``) over the index trees, the ICD-10-CM tabular (``icd_codes``/``icd_notes``) and
HCPCS Level II (``hcpcs_codes``), whichever of them are installed.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from chartcode.codesets.common import DatasetSpec, LoadResult, Period, Release, fiscal_year_period
from chartcode.codesets.index import key_variants, normalize_key, search_tokens
from chartcode.errors import CodesetFormatError

TREES = ("index", "eindex", "drug", "neoplasm")
# Each tree numbers its terms from its own base, so ids never collide between trees.
ID_BASE = {"index": 0, "eindex": 10_000_000, "drug": 20_000_000, "neoplasm": 30_000_000}

DDL = """
CREATE TABLE IF NOT EXISTS index_terms(
  release TEXT NOT NULL,
  tree TEXT NOT NULL,          -- index | eindex | drug | neoplasm
  id INTEGER NOT NULL,         -- document order, unique across trees
  parent INTEGER,              -- NULL for a main term
  level INTEGER NOT NULL,      -- 0 = main term
  title TEXT NOT NULL,         -- without nonessential modifiers
  nemod TEXT,                  -- nonessential modifiers joined, e.g. "(mellitus) (sugar)"
  code TEXT,                   -- several codes (rare) are joined with a space
  manif TEXT,                  -- bracketed manifestation code, e.g. "I43"
  see TEXT,
  see_also TEXT,
  cells TEXT,                  -- JSON {heading: code} for drug/neoplasm, "--"/"-" cells omitted
  key TEXT NOT NULL,           -- normalized lower-case title
  PRIMARY KEY(release, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS index_terms_parent ON index_terms(release, parent);
CREATE TABLE IF NOT EXISTS index_keys(
  release TEXT NOT NULL,
  tree TEXT NOT NULL,
  key TEXT NOT NULL,           -- normalized main-term title, or one comma-separated part of it
  variant INTEGER NOT NULL,    -- 0 = the whole title, 1 = its first part, 2 = a later part
  id INTEGER NOT NULL,
  PRIMARY KEY(release, tree, key, variant, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_headings(
  release TEXT NOT NULL,
  tree TEXT NOT NULL,
  col INTEGER NOT NULL,
  heading TEXT NOT NULL,
  PRIMARY KEY(release, tree, col)
) WITHOUT ROWID;
"""

_CODE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{0,4}-?|-)?")
_EMPTY_CELLS = {"-", "--"}
_TERM_CHILDREN = {"title", "see", "seeAlso", "code", "seecat", "subcat", "manif", "warning", "cell", "term"}
_ROOT_CHILDREN = {"version", "title", "indexHeading", "letter"}
_ROOT = "ICD10CM.index"


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


@dataclass
class ParsedIndex:
    """Rows of one index file, ready for ``executemany``."""

    rows: list[tuple[object, ...]] = field(default_factory=list)
    keys: list[tuple[str, str, str, int, int]] = field(default_factory=list)
    headings: dict[int, str] = field(default_factory=dict)
    warnings: int = 0


class _Reader:
    """Walks one parsed index document and produces the table rows (strictly)."""

    def __init__(self, path: Path, tree: str, release: Release, year: int | None) -> None:
        self.path = path
        self.tree = tree
        self.release = release
        self.year = year
        self.next_id = ID_BASE[tree]
        self.out = ParsedIndex()

    def fail(self, element: etree._Element | None, problem: str) -> CodesetFormatError:
        line = element.sourceline if element is not None else None
        line = line if isinstance(line, int) else None
        return CodesetFormatError(self.path, line, problem)

    @staticmethod
    def elements(parent: etree._Element) -> Iterator[etree._Element]:
        """Child elements, skipping comments and processing instructions."""
        for child in parent:
            if isinstance(child.tag, str):
                yield child

    def text_only(self, element: etree._Element) -> str:
        for child in self.elements(element):
            raise self.fail(child, f"unexpected element <{child.tag}> inside <{element.tag}>")
        return _clean(element.text)

    def read(self, root: etree._Element) -> ParsedIndex:
        if root.tag != _ROOT:
            raise self.fail(root, f"root element is <{root.tag}>, expected <{_ROOT}>")
        letters = 0
        for child in self.elements(root):
            if child.tag not in _ROOT_CHILDREN:
                raise self.fail(child, f"unexpected element <{child.tag}> inside <{_ROOT}>")
            if child.tag == "version":
                version = self.text_only(child)
                if self.year is not None and re.fullmatch(r"\d{4}", version) and int(version) != self.year:
                    raise self.fail(
                        child, f"<version> is {version} but the file name says {self.year}; file renamed?"
                    )
            elif child.tag == "indexHeading":
                self.read_headings(child)
            elif child.tag == "letter":
                letters += 1
                self.read_letter(child)
        if letters == 0:
            raise self.fail(root, "no <letter> element: the file is empty or not an index")
        return self.out

    def read_headings(self, element: etree._Element) -> None:
        for head in self.elements(element):
            if head.tag != "head":
                raise self.fail(head, f"unexpected element <{head.tag}> inside <indexHeading>")
            col = self.column(head)
            if col in self.out.headings:
                raise self.fail(head, f"column {col} has two headings")
            text = self.text_only(head)
            if not text:
                raise self.fail(head, f"column {col} has an empty heading")
            self.out.headings[col] = text

    def column(self, element: etree._Element) -> int:
        value = element.get("col")
        if value is None or not value.strip().isdigit() or int(value) < 1:
            raise self.fail(element, f"<{element.tag}> has col={value!r}, expected a positive integer")
        return int(value)

    def read_letter(self, letter: etree._Element) -> None:
        titled = False
        for child in self.elements(letter):
            if child.tag == "title":
                self.text_only(child)
                titled = True
            elif child.tag == "mainTerm":
                self.read_term(child, None, 0)
            else:
                raise self.fail(child, f"unexpected element <{child.tag}> inside <letter>")
        if not titled:
            raise self.fail(letter, "<letter> has no <title>")

    def read_title(self, element: etree._Element) -> tuple[str, str | None]:
        parts = [element.text or ""]
        nemods: list[str] = []
        for child in self.elements(element):
            if child.tag != "nemod":
                raise self.fail(child, f"unexpected element <{child.tag}> inside <title>")
            nemod = self.text_only(child)
            if nemod:
                nemods.append(nemod)
            parts.append(child.tail or "")
        title = _clean(" ".join(parts))
        nemod_text = " ".join(nemods) or None
        if not title and not nemod_text:
            raise self.fail(element, "empty <title>")
        return title, nemod_text

    def read_see(self, element: etree._Element) -> str:
        """Text of <see>/<seeAlso>, with any <seecat>/<subcat> inside rendered as words."""
        parts = [element.text or ""]
        for child in self.elements(element):
            if child.tag not in ("seecat", "subcat"):
                raise self.fail(child, f"unexpected element <{child.tag}> inside <{element.tag}>")
            parts.append(_category_text(child.tag, self.text_only(child)))
            parts.append(child.tail or "")
        return _clean(" ".join(parts))

    def check_code(self, element: etree._Element, code: str) -> str:
        if not _CODE.fullmatch(code):
            raise self.fail(element, f"<{element.tag}> {code!r} is not an ICD-10-CM code")
        return code

    def read_term(self, element: etree._Element, parent: int | None, level: int) -> None:
        """Read one mainTerm/term and, iteratively, all of its descendants."""
        stack: list[tuple[etree._Element, int | None, int]] = [(element, parent, level)]
        while stack:
            node, parent_id, depth = stack.pop()
            term_id, children = self.read_one(node, parent_id, depth)
            for child in reversed(children):
                stack.append((child, term_id, depth + 1))

    def read_one(
        self, node: etree._Element, parent: int | None, level: int
    ) -> tuple[int, list[etree._Element]]:
        if level > 0:
            value = node.get("level")
            if value is None or not value.strip().isdigit():
                raise self.fail(node, f"<term> has level={value!r}, expected an integer")
            if int(value) != level:
                raise self.fail(node, f"<term level={value!r}> is nested at level {level}")
        self.next_id += 1
        term_id = self.next_id
        title: tuple[str, str | None] | None = None
        codes: list[str] = []
        manifs: list[str] = []
        sees: list[str] = []
        see_alsos: list[str] = []
        cells: dict[int, str] = {}
        children: list[etree._Element] = []
        for child in self.elements(node):
            tag = child.tag
            if tag not in _TERM_CHILDREN:
                raise self.fail(child, f"unexpected element <{tag}> inside <{node.tag}>")
            if tag == "title":
                if title is not None:
                    raise self.fail(child, f"<{node.tag}> has two <title> elements")
                title = self.read_title(child)
            elif tag == "term":
                children.append(child)
            elif tag == "code":
                codes.append(self.check_code(child, self.text_only(child)))
            elif tag == "manif":
                manifs.append(self.text_only(child))
            elif tag == "see":
                sees.append(self.read_see(child))
            elif tag == "seeAlso":
                see_alsos.append(self.read_see(child))
            elif tag in ("seecat", "subcat"):
                sees.append(_category_text(tag, self.text_only(child)))
            elif tag == "warning":
                self.text_only(child)
                self.out.warnings += 1
            else:  # cell
                col = self.column(child)
                if col in cells:
                    raise self.fail(child, f"<{node.tag}> has two cells in column {col}")
                value = self.text_only(child)
                if not value:
                    raise self.fail(child, f"empty <cell col={col}>")
                if col not in self.out.headings:
                    raise self.fail(child, f"<cell col={col}> has no heading in <indexHeading>")
                if value not in _EMPTY_CELLS:
                    cells[col] = self.check_code(child, value)
        if title is None:
            raise self.fail(node, f"<{node.tag}> has no <title>")
        text, nemod = title
        cells_json = (
            json.dumps({self.out.headings[c]: cells[c] for c in sorted(cells)}, ensure_ascii=False)
            if cells
            else None
        )
        key = normalize_key(text)
        self.out.rows.append(
            (
                self.release.id,
                self.tree,
                term_id,
                parent,
                level,
                text,
                nemod,
                " ".join(codes) or None,
                " ".join(m for m in manifs if m) or None,
                "; ".join(s for s in sees if s) or None,
                "; ".join(s for s in see_alsos if s) or None,
                cells_json,
                key,
            )
        )
        if level == 0:
            rid = self.release.id
            if key:
                self.out.keys.append((rid, self.tree, key, 0, term_id))
            for n, variant in enumerate(key_variants(text)):
                if variant != key:
                    self.out.keys.append((rid, self.tree, variant, 1 if n == 0 else 2, term_id))
        return term_id, children


def _category_text(tag: str, value: str) -> str:
    return f"{'category' if tag == 'seecat' else 'subcategory'} {value}"


def _parse(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        return etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise CodesetFormatError(
            path, line, f"malformed XML ({exc.msg}); the file may be truncated"
        ) from None
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise CodesetFormatError(path, None, f"cannot read the file: {exc}") from None


def parse_file(path: Path, tree: str, release: Release, year: int | None) -> ParsedIndex:
    """Parse one index XML file strictly into rows (no database access)."""
    return _Reader(path, tree, release, year).read(_parse(path))


def _loader(tree: str, pattern: re.Pattern[str]) -> Callable[[sqlite3.Connection, Path, Release], LoadResult]:
    def load(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
        match = pattern.fullmatch(path.name)
        digits = match.group(1) if match else release.version.removeprefix("FY")
        year = int(digits) if digits.isdigit() else None  # checked against <version>
        parsed = parse_file(path, tree, release, year)
        conn.executemany(
            "INSERT INTO index_terms(release, tree, id, parent, level, title, nemod, code, manif, see,"
            " see_also, cells, key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            parsed.rows,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO index_keys(release, tree, key, variant, id) VALUES (?,?,?,?,?)",
            parsed.keys,
        )
        conn.executemany(
            "INSERT INTO index_headings(release, tree, col, heading) VALUES (?,?,?,?)",
            [(release.id, tree, col, heading) for col, heading in sorted(parsed.headings.items())],
        )
        notes: tuple[str, ...] = ()
        if parsed.warnings:
            notes = (f"{parsed.warnings} <warning> element(s) were read but are not stored",)
        return LoadResult(rows=len(parsed.rows), notes=notes)

    return load


def _period(match: re.Match[str]) -> Period:
    return fiscal_year_period(int(match.group(1)))


def _pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"icd[-_]?10[-_]?cm[-_]{word}[-_](\d{{4}})\.xml", re.IGNORECASE)


_DESCRIPTIONS = {
    "index": ("ICD-10-CM Index to Diseases and Injuries", "icd10cm-index-{year}.xml"),
    "eindex": ("ICD-10-CM External Cause of Injuries Index", "icd10cm-eindex-{year}.xml"),
    "drug": ("ICD-10-CM Table of Drugs and Chemicals", "icd-10-cm-drug-{year}.xml"),
    "neoplasm": ("ICD-10-CM Neoplasm Table", "icd-10-cm-neoplasm-{year}.xml"),
}


def _spec(tree: str) -> DatasetSpec:
    pattern = _pattern(tree)
    description, official = _DESCRIPTIONS[tree]
    return DatasetSpec(
        dataset=f"icd10cm-{tree}",
        system="icd10cm",
        pattern=pattern,
        period=_period,
        load=_loader(tree, pattern),
        ddl=DDL,
        order=20,
        description=description,
        official_name=official,
    )


SPECS: list[DatasetSpec] = [_spec(tree) for tree in TREES]


# --- search index ----------------------------------------------------------------------------

SEARCH_DDL = """
CREATE TABLE search_sources(
  id INTEGER PRIMARY KEY,
  release TEXT NOT NULL,       -- release the documents come from
  system TEXT NOT NULL,        -- icd10cm | hcpcs
  kind TEXT NOT NULL,          -- index | drug | neoplasm | description | inclusion_term
  UNIQUE(release, system, kind)
);
CREATE TABLE search_docs(
  id INTEGER PRIMARY KEY,      -- = rowid in search_fts or search_fts_ext
  source INTEGER NOT NULL,     -- search_sources.id
  code TEXT NOT NULL,
  path TEXT NOT NULL,          -- index path ("A (nemod) › b › c"), or the description/inclusion text
  incomplete INTEGER NOT NULL, -- 1: the index code ends with "-" (more characters needed)
  billable INTEGER,            -- 1/0 from icd_codes when known, else NULL
  term_id INTEGER              -- index_terms.id for index/drug/neoplasm documents
);
CREATE INDEX search_docs_code ON search_docs(code);
-- Contentless FTS5 over the searched text: `text` = index path titles / description / inclusion
-- term, `extra` = the nonessential modifiers of an index path. 7-character ICD-10-CM codes
-- (7th-character extensions, about half of all codes) live in search_fts_ext so broad words stay fast.
CREATE VIRTUAL TABLE search_fts USING fts5(
  text, extra, content='', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE search_fts_ext USING fts5(
  text, extra, content='', tokenize='porter unicode61 remove_diacritics 2'
);
-- Document frequency of each lower-case word in search_fts (orders query relaxation).
CREATE TABLE search_terms(term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
"""

_ICD_CODE = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
_SEP = " › "

# release, system, kind, code, path, searched text, searched modifiers, incomplete, billable, term id
Doc = tuple[str, str, str, str, str, str, str, int, int | None, int | None]


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
    return row is not None


def _columns(conn: sqlite3.Connection, name: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f'PRAGMA table_info("{name}")')}


def _truthy(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return 1 if value else 0
    return 1 if str(value).strip().upper() in ("1", "Y", "YES", "TRUE", "T") else 0


def _display(title: str, nemod: str | None) -> str:
    if nemod and title:
        return f"{title} {nemod}"
    return nemod or title


def _billable(conn: sqlite3.Connection) -> dict[str, int | None]:
    """code -> billable flag from icd_codes (the last release by id wins)."""
    if not _has_table(conn, "icd_codes") or "billable" not in _columns(conn, "icd_codes"):
        return {}
    return {
        str(code): _truthy(flag)
        for code, flag in conn.execute("SELECT code, billable FROM icd_codes ORDER BY release, code")
    }


def _index_docs(conn: sqlite3.Connection, billable: dict[str, int | None]) -> Iterator[Doc]:
    if not _has_table(conn, "index_terms"):
        return
    paths: dict[int, tuple[str, str, str]] = {}  # id -> (display path, titles, nonessential modifiers)
    cursor = conn.execute(
        "SELECT release, tree, id, parent, title, nemod, code, manif, cells"
        " FROM index_terms ORDER BY release, id"
    )
    current_release = None
    for release, tree, term_id, parent, title, nemod, code, manif, cells in cursor:
        if release != current_release:
            paths = {}
            current_release = release
        shown = _display(title, nemod)
        if parent is None:
            path, text, extra = shown, title, nemod or ""
        else:
            parent_path, parent_text, parent_extra = paths[parent]
            path = parent_path + _SEP + shown
            text = f"{parent_text} {title}"
            extra = f"{parent_extra} {nemod}" if nemod else parent_extra
        paths[term_id] = (path, text, extra)
        found: list[tuple[str, str, str, str]] = []  # kind, code, path, text
        found.extend(("index", one, path, text) for one in (code or "").split())
        found.extend(
            ("index", one, f"{path} [{one}]", text) for one in (manif or "").split() if _CODE.fullmatch(one)
        )
        if cells:
            kind = tree if tree in ("drug", "neoplasm") else "index"
            for heading, one in json.loads(cells).items():
                found.append((kind, one, f"{path}{_SEP}{heading}", f"{text} {heading}"))
        for kind, one, doc_path, doc_text in found:
            incomplete = one.endswith("-")
            flag = None if incomplete else billable.get(one)
            yield (release, "icd10cm", kind, one, doc_path, doc_text, extra, int(incomplete), flag, term_id)


def _tabular_docs(conn: sqlite3.Connection, billable: dict[str, int | None]) -> Iterator[Doc]:
    if _has_table(conn, "icd_codes"):
        has_flag = "billable" in _columns(conn, "icd_codes")
        rows = conn.execute(
            f"SELECT release, code, description, {'billable' if has_flag else 'NULL'} FROM icd_codes"
            " ORDER BY release, code"
        )
        for release, code, description, flag in rows:
            text = _clean(description)
            if text and _ICD_CODE.fullmatch(str(code)):  # chapter/section rows are not search targets
                yield (release, "icd10cm", "description", code, text, text, "", 0, _truthy(flag), None)
    if _has_table(conn, "icd_notes"):
        rows = conn.execute(
            "SELECT release, code, text FROM icd_notes WHERE kind = 'inclusion_term'"
            " ORDER BY release, code, seq"
        )
        for release, code, note in rows:
            text = _clean(note)
            if text and _ICD_CODE.fullmatch(str(code)):
                yield (
                    release,
                    "icd10cm",
                    "inclusion_term",
                    code,
                    text,
                    text,
                    "",
                    0,
                    billable.get(code),
                    None,
                )


def _hcpcs_docs(conn: sqlite3.Connection) -> Iterator[Doc]:
    if not _has_table(conn, "hcpcs_codes"):
        return
    columns = _columns(conn, "hcpcs_codes")
    long_col = "long_description" if "long_description" in columns else "NULL"
    short_col = "short_description" if "short_description" in columns else "NULL"
    for release, code, long_text, short_text in conn.execute(
        f"SELECT release, code, {long_col}, {short_col} FROM hcpcs_codes ORDER BY release, code"
    ):
        text = _clean(long_text) or _clean(short_text)
        if text:
            yield (release, "hcpcs", "description", code, text, text, "", 0, None, None)


def _all_docs(conn: sqlite3.Connection) -> Iterator[Doc]:
    billable = _billable(conn)
    yield from _index_docs(conn, billable)
    yield from _tabular_docs(conn, billable)
    yield from _hcpcs_docs(conn)


def _is_extension(system: str, code: str) -> bool:
    """A 7-character ICD-10-CM code (its 7th character is an extension such as A/D/S)."""
    return system == "icd10cm" and len(code.replace(".", "")) == 7


_KIND_ORDER = {"index": 0, "description": 1, "inclusion_term": 2, "drug": 3, "neoplasm": 4}


def build_search_index(conn: sqlite3.Connection) -> int:
    """(Re)build the search tables (``search_sources``, ``search_docs``, ``search_fts``,
    ``search_fts_ext``, ``search_terms``) from whichever source tables exist.

    Document ids are assigned shortest searched text first (then index entries before descriptions,
    then source order), so an FTS5 query read in rowid order yields the most specific matches first
    and can stop early. Idempotent: drops and recreates the tables. Returns the number of documents.
    """
    for table in ("search_fts", "search_fts_ext", "search_terms", "search_docs", "search_sources"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in SEARCH_DDL.split(";"):
        if statement.strip():
            conn.execute(statement)
    docs = list(_all_docs(conn))  # materialized first: the generators read the same connection
    order = sorted(
        range(len(docs)), key=lambda i: (len(search_tokens(docs[i][5])), _KIND_ORDER.get(docs[i][2], 9), i)
    )
    docs = [docs[i] for i in order]
    sources: dict[tuple[str, str, str], int] = {}
    for doc in docs:
        sources.setdefault((doc[0], doc[1], doc[2]), len(sources) + 1)
    conn.executemany(
        "INSERT INTO search_sources(id, release, system, kind) VALUES (?,?,?,?)",
        [(sid, *key) for key, sid in sources.items()],
    )
    conn.executemany(
        "INSERT INTO search_docs(id, source, code, path, incomplete, billable, term_id)"
        " VALUES (?,?,?,?,?,?,?)",
        ((n, sources[(d[0], d[1], d[2])], d[3], d[4], d[7], d[8], d[9]) for n, d in enumerate(docs, 1)),
    )
    main: list[tuple[int, str, str]] = []
    ext: list[tuple[int, str, str]] = []
    df: Counter[str] = Counter()
    for n, d in enumerate(docs, 1):
        if _is_extension(d[1], d[3]):
            ext.append((n, d[5], d[6]))
        else:
            main.append((n, d[5], d[6]))
            df.update(set(search_tokens(f"{d[5]} {d[6]}")))
    conn.executemany("INSERT INTO search_fts(rowid, text, extra) VALUES (?,?,?)", main)
    conn.executemany("INSERT INTO search_fts_ext(rowid, text, extra) VALUES (?,?,?)", ext)
    conn.executemany("INSERT INTO search_terms(term, df) VALUES (?,?)", sorted(df.items()))
    for table in ("search_fts", "search_fts_ext"):
        conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    return len(docs)


def FINALIZE(conn: sqlite3.Connection) -> None:
    """Build the cross-code-set free-text search index after every file has loaded."""
    build_search_index(conn)
