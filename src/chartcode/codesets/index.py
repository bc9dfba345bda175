"""Navigate the ICD-10-CM index trees and search all installed code sets by free text.

Navigation works on the ``index_terms`` table written by
:mod:`chartcode.codesets.formats.icd10cm_index`; every function takes an open connection and the
release id of one tree (e.g. ``"icd10cm-index:FY2025"``) and returns frozen dataclasses.

:func:`search` queries the FTS5 index built by that module's ``FINALIZE`` (``search_docs`` +
``search_fts``) and returns ranked, de-duplicated codes, each with the index path that reached it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from chartcode.errors import InputError

PATH_SEPARATOR = " › "

_TERM_COLUMNS = "id, tree, level, title, nemod, code, manif, see, see_also, cells, parent"
# Without statistics SQLite would scan the primary key (release, id) to satisfy ORDER BY id.
_CHILDREN_OF = "FROM index_terms INDEXED BY index_terms_parent WHERE release = ? AND parent = ?"


@dataclass(frozen=True)
class IndexTerm:
    """One main term (level 0) or subterm of an index tree."""

    id: int
    tree: str
    level: int
    title: str  # without nonessential modifiers
    nemod: str | None  # e.g. "(mellitus) (sugar)"
    code: str | None
    manif: str | None
    see: str | None
    see_also: str | None
    cells: dict[str, str] = field(hash=False)  # drug/neoplasm: {heading: code}
    parent: int | None

    @property
    def display(self) -> str:
        """Title with its nonessential modifiers, as printed in the index."""
        if self.nemod and self.title:
            return f"{self.title} {self.nemod}"
        return self.nemod or self.title


def normalize_key(text: str) -> str:
    """Lower-case, accent-free, single-spaced form of a title, used for look-ups."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.casefold().split())


def key_variants(title: str) -> list[str]:
    """Normalized comma-separated parts of a title ("Diabetes, diabetic" -> diabetes, diabetic;
    "2,4-D" stays whole: a part separator is a comma followed by a space)."""
    parts = (normalize_key(p) for p in re.split(r",\s+", title))
    return [p for p in dict.fromkeys(parts) if p]


def _strip_parentheses(text: str) -> str:
    return " ".join(re.sub(r"\([^()]*\)", " ", text).split())


def _term(row: Sequence[object]) -> IndexTerm:
    cells = row[9]
    return IndexTerm(
        id=int(str(row[0])),
        tree=str(row[1]),
        level=int(str(row[2])),
        title=str(row[3]),
        nemod=None if row[4] is None else str(row[4]),
        code=None if row[5] is None else str(row[5]),
        manif=None if row[6] is None else str(row[6]),
        see=None if row[7] is None else str(row[7]),
        see_also=None if row[8] is None else str(row[8]),
        cells=json.loads(str(cells)) if cells else {},
        parent=None if row[10] is None else int(str(row[10])),
    )


def format_path(terms: Iterable[IndexTerm]) -> str:
    """``Diabetes, diabetic (mellitus) (sugar) › type 2 › with › chronic kidney disease``."""
    return PATH_SEPARATOR.join(t.display for t in terms)


def term(conn: sqlite3.Connection, release: str, term_id: int) -> IndexTerm | None:
    row = conn.execute(
        f"SELECT {_TERM_COLUMNS} FROM index_terms WHERE release = ? AND id = ?", (release, term_id)
    ).fetchone()
    return _term(row) if row else None


def children(conn: sqlite3.Connection, release: str, term_id: int) -> list[IndexTerm]:
    """Direct subterms of a term, in index order."""
    rows = conn.execute(
        f"SELECT {_TERM_COLUMNS} {_CHILDREN_OF} ORDER BY id",
        (release, term_id),
    )
    return [_term(r) for r in rows]


def path(conn: sqlite3.Connection, release: str, term_id: int) -> list[IndexTerm]:
    """Main term → … → the term itself; empty if the id is unknown."""
    out: list[IndexTerm] = []
    current: int | None = term_id
    while current is not None:
        found = term(conn, release, current)
        if found is None:
            return []
        out.append(found)
        current = found.parent
    out.reverse()
    return out


def main_terms(
    conn: sqlite3.Connection, release: str, tree: str, prefix: str = "", limit: int = 50
) -> list[IndexTerm]:
    """Main terms whose title (or one comma-separated part of it) starts with ``prefix``."""
    key = normalize_key(prefix)
    rows = conn.execute(
        f"SELECT {_TERM_COLUMNS} FROM index_terms WHERE release = ? AND id IN ("
        " SELECT id FROM index_keys WHERE release = ? AND tree = ? AND key >= ? AND key < ?"
        ") ORDER BY id LIMIT ?",
        (release, release, tree, key, key + "\U0010ffff", limit),
    )
    return [_term(r) for r in rows]


def find_main_term(conn: sqlite3.Connection, release: str, tree: str, text: str) -> IndexTerm | None:
    """The main term titled ``text`` (case-insensitive); else one whose title starts with ``text``
    as its first comma-separated part ("Disease" finds "Disease, diseased"); else one with ``text``
    as a later part ("diabetic" finds "Diabetes, diabetic"). Nonessential modifiers written in
    ``text`` ("Pain(s)") are ignored when nothing matches otherwise."""
    for candidate in dict.fromkeys((normalize_key(text), normalize_key(_strip_parentheses(text)))):
        if not candidate:
            continue
        row = conn.execute(
            "SELECT id FROM index_keys WHERE release = ? AND tree = ? AND key = ?"
            " ORDER BY variant, id LIMIT 1",
            (release, tree, candidate),
        ).fetchone()
        if row:
            return term(conn, release, int(row[0]))
    return None


def _child(conn: sqlite3.Connection, release: str, parent: int, step: str) -> IndexTerm | None:
    """The subterm of ``parent`` matching ``step``: its title, else title with nonessential
    modifiers, else one comma-separated part of the title, else ``step`` without parentheses."""
    wanted = normalize_key(step)
    row = conn.execute(
        f"SELECT id {_CHILDREN_OF} AND key = ? ORDER BY id LIMIT 1",
        (release, parent, wanted),
    ).fetchone()
    if row is None:
        bare = normalize_key(_strip_parentheses(step))
        best: tuple[int, int] | None = None  # (rank, id)
        for term_id, title, nemod in conn.execute(
            f"SELECT id, title, nemod {_CHILDREN_OF} ORDER BY id",
            (release, parent),
        ):
            if nemod and normalize_key(f"{title} {nemod}") == wanted:
                rank = 1
            elif wanted in key_variants(str(title)):
                rank = 2
            elif bare and normalize_key(str(title)) == bare:
                rank = 3
            else:
                continue
            if best is None or rank < best[0]:
                best = (rank, int(term_id))
        row = None if best is None else (best[1],)
    return None if row is None else term(conn, release, int(row[0]))


def walk(conn: sqlite3.Connection, release: str, tree: str, steps: Sequence[str]) -> list[IndexTerm]:
    """Follow titles step by step from a main term, e.g. ``["Diabetes", "type 2", "with",
    "chronic kidney disease"]``. Returns the whole path, or ``[]`` when a step has no match."""
    if not steps:
        return []
    first = find_main_term(conn, release, tree, steps[0])
    if first is None:
        return []
    out = [first]
    for step in steps[1:]:
        found = _child(conn, release, out[-1].id, step)
        if found is None:
            return []
        out.append(found)
    return out


def _split_reference(text: str) -> list[str]:
    text = " ".join(text.split())
    text = re.sub(r"^(?:see\s+also|see)\s+", "", text, flags=re.IGNORECASE)
    return [p.strip() for p in re.split(r",\s*", text) if p.strip()]


Resolved = tuple[list[IndexTerm], int]  # path, number of comma-separated parts it consumed


def _descend(conn: sqlite3.Connection, release: str, start: IndexTerm, parts: list[str]) -> Resolved:
    """Deepest path below ``start`` for comma-separated ``parts``; a title may itself hold commas
    ("due to, caused by"), so 1..n parts are tried per level, longest first."""
    best: Resolved = ([], 0)
    for take in range(len(parts), 0, -1):
        found = _child(conn, release, start.id, ", ".join(parts[:take]))
        if found is None:
            continue
        below, used = _descend(conn, release, found, parts[take:])
        if take + used > best[1]:
            best = ([found, *below], take + used)
        if best[1] == len(parts):
            break
    return best


def _resolve(conn: sqlite3.Connection, release: str, tree: str, parts: list[str]) -> Resolved:
    """Best path for the comma-separated parts of a reference, main term first."""
    best: Resolved = ([], 0)
    for take in range(len(parts), 0, -1):
        main = find_main_term(conn, release, tree, ", ".join(parts[:take]))
        if main is None:
            continue
        below, used = _descend(conn, release, main, parts[take:])
        if take + used > best[1]:
            best = ([main, *below], take + used)
        if best[1] == len(parts):
            break
    return best


def resolve_see(conn: sqlite3.Connection, release: str, tree: str, see_text: str) -> list[IndexTerm]:
    """Follow a cross reference such as "Pain, abdominal" (or "see Pain, abdominal") to its path.

    Returns the deepest path that matches, main term first (for "Neoplasm, malignant, by site" in
    the main index: just the main term); ``[]`` when not even the main term is in this tree (e.g.
    "Table of Drugs and Chemicals", "subcategory T75.0").
    """
    parts = _split_reference(see_text)
    return _resolve(conn, release, tree, parts)[0] if parts else []


def _release_tree(conn: sqlite3.Connection, release: str) -> str | None:
    row = conn.execute("SELECT tree FROM index_terms WHERE release = ? LIMIT 1", (release,)).fetchone()
    return str(row[0]) if row else None


def drug_codes(conn: sqlite3.Connection, release: str, substance: str) -> dict[str, str]:
    """Table of Drugs and Chemicals row for a substance ("Acetaminophen", or a subterm path such as
    "Absinthe, beverage"): ``{heading: code}`` with "--" cells left out; ``{}`` if not found."""
    tree = _release_tree(conn, release) or "drug"
    main = find_main_term(conn, release, tree, substance)
    if main is not None and normalize_key(main.title) == normalize_key(substance):
        return dict(main.cells)
    parts = _split_reference(substance)
    found, consumed = _resolve(conn, release, tree, parts)
    if not found or consumed < len(parts):
        return {}
    return dict(found[-1].cells)


def neoplasm_codes(conn: sqlite3.Connection, release: str, site_steps: Sequence[str]) -> dict[str, str]:
    """Neoplasm Table row for a site, e.g. ``["lung", "upper lobe"]`` (the main term "Neoplasm,
    neoplastic" may be given as first step or left out): ``{heading: code}``; ``{}`` if not found."""
    tree = _release_tree(conn, release) or "neoplasm"
    steps = list(site_steps)
    if not steps or find_main_term(conn, release, tree, steps[0]) is None:
        mains = main_terms(conn, release, tree, "", limit=2)
        if len(mains) != 1:
            return {}
        steps = [mains[0].title, *steps]
    found = walk(conn, release, tree, steps)
    return dict(found[-1].cells) if found else {}


# --- search ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    """One ranked code. ``path`` is the index path that reached it (or the matched text)."""

    code: str
    system: str  # icd10cm | hcpcs
    description_or_title: str
    score: float
    kind: str  # index | drug | neoplasm | description | inclusion_term
    path: str
    release: str
    incomplete: bool = False  # index code ending in "-": more characters are needed


_TOKEN = re.compile(r"[^\W_]+")
_STOPWORDS = frozenset({"a", "an", "the", "of", "and", "or", "to", "in", "on", "for", "by", "at", "is", "as"})
# Words of 7th-character definitions: only queries with one of them search the 7-character codes
# (search_fts_ext); all other queries find the 6-character parent codes and the index entries.
_EXTENSION_WORDS = frozenset(
    {"initial", "subsequent", "sequela", "sequelae", "encounter", "healing", "nonunion", "malunion", "fetus"}
    | {"arrival", "admission", "field"}
)
_ICD_QUERY = re.compile(r"([A-Z][0-9][0-9A-Z])\.?([0-9A-Z]{0,4})", re.IGNORECASE)
_HCPCS_QUERY = re.compile(r"[A-V][0-9]{4}", re.IGNORECASE)
_KIND_BONUS = {"index": 0.3, "description": 0.3, "inclusion_term": 0.2, "drug": 0.15, "neoplasm": 0.15}
_EXTERNAL_CAUSE = "icd10cm-eindex:"  # release id prefix of the External Cause index: ranked lower
# Words that do not make an entry less specific for the query ("Chest pain, unspecified" is as good
# a match for "chest pain" as "Chest pain"): ignored when measuring how much of an entry is matched.
_FILLERS = re.compile(
    r"\b(?:site\s+)?not\s+(?:elsewhere\s+)?(?:specified|classified)\b|\b(?:unspecified|nos|nec)\b",
    re.IGNORECASE,
)
_PER_STAGE = 60  # candidates (shortest matching entries first) fetched per query stage
_MAX_RELAX = 4  # at most this many words are dropped from a query that finds too little
_BROAD = 4000  # a relaxed query whose rarest word is in more documents than this is not run


def search_tokens(text: str) -> list[str]:
    """Lower-case, accent-free words of ``text`` as FTS5 unicode61 splits them (before stemming)."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _TOKEN.findall(text.lower())


_SUFFIXES = ("ations", "ation", "ities", "ity", "ical", "ness", "ion", "ive", "ous", "ure", "ing", "ed")
_SUFFIXES2 = ("ic", "al", "ia", "e", "y")


@lru_cache(maxsize=65536)
def _stem(token: str) -> str:
    """Light suffix stripping for re-ranking only (FTS5 does the real Porter stemming):
    diabetes/diabetic -> diabet, kidney/kidneys -> kidne, failure/failed -> fail."""
    if len(token) > 3 and token[-1] == "s" and token[-2] not in "siu":
        token = token[:-2] + "y" if token.endswith("ies") else token[:-1]
    for suffix in (*_SUFFIXES, *_SUFFIXES2):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


@dataclass
class _Candidate:
    doc_id: int
    code: str
    system: str
    kind: str
    release: str
    path: str
    incomplete: bool
    billable: int | None
    score: float = 0.0


@dataclass
class _Sources:
    by_id: dict[int, tuple[str, str, str]]  # id -> (release, system, kind)
    allowed: list[int] | None  # None: every source

    def sql(self) -> str:
        if self.allowed is None:
            return ""
        return f" AND d.source IN ({','.join(str(int(s)) for s in self.allowed)})"


def _sources(conn: sqlite3.Connection, system: str | None, releases: Sequence[str] | None) -> _Sources:
    by_id = {
        int(r[0]): (str(r[1]), str(r[2]), str(r[3]))
        for r in conn.execute("SELECT id, release, system, kind FROM search_sources")
    }
    wanted = None if releases is None else set(releases)
    allowed = [
        sid
        for sid, (release, sys_, _) in sorted(by_id.items())
        if (system is None or sys_ == system) and (wanted is None or release in wanted)
    ]
    return _Sources(by_id, None if len(allowed) == len(by_id) else allowed)


def _candidate(sources: _Sources, row: Sequence[object]) -> _Candidate:
    doc_id, source, code, doc_path, incomplete, billable = row[:6]
    release, system, kind = sources.by_id[int(str(source))]
    flag = None if billable is None else int(str(billable))
    return _Candidate(
        int(str(doc_id)), str(code), system, kind, release, str(doc_path), bool(incomplete), flag
    )


def _fetch(conn: sqlite3.Connection, table: str, words: Sequence[str], sources: _Sources) -> list[_Candidate]:
    match = " ".join(f'"{w}"' for w in words)  # words are [^\W_]+ only: quoting makes them literal
    rows = conn.execute(
        "SELECT d.id, d.source, d.code, d.path, d.incomplete, d.billable"
        f" FROM {table} f JOIN search_docs d ON d.id = f.rowid"
        f" WHERE {table} MATCH ?{sources.sql()} ORDER BY f.rowid LIMIT ?",
        (match, _PER_STAGE),
    )
    return [_candidate(sources, row) for row in rows if row[1] in sources.by_id]


def _query_codes(text: str) -> list[str]:
    """Codes the query may be: "E11.22"/"e1122" -> E11.22, "J0696" -> J0696 (both for "A0021")."""
    compact = text.strip().upper()
    codes: list[str] = []
    if _HCPCS_QUERY.fullmatch(compact):
        codes.append(compact)
    icd = _ICD_QUERY.fullmatch(compact)
    if icd:
        codes.append(f"{icd.group(1)}.{icd.group(2)}".rstrip(".").upper())
    return codes


def _code_lookup(conn: sqlite3.Connection, text: str, sources: _Sources, top: int) -> list[_Candidate]:
    """When the query looks like a code: documents of that code, then of the codes below it
    ("E11.2" also finds E11.21, E11.22, ...)."""
    out: list[_Candidate] = []
    for code in _query_codes(text):
        rows = conn.execute(
            "SELECT d.id, d.source, d.code, d.path, d.incomplete, d.billable FROM search_docs d"
            f" WHERE d.code >= ? AND d.code < ?{sources.sql()} ORDER BY d.code, d.id LIMIT ?",
            (code, code + "~", 50 * top),
        )
        for row in rows:
            if row[1] not in sources.by_id:
                continue  # its release was deleted and the index not rebuilt yet
            cand = _candidate(sources, row)
            exact = cand.code == code or cand.code == code + "-"
            cand.score = (100.0 if exact else 90.0) + _KIND_BONUS.get(cand.kind, 0.0)
            out.append(cand)
    return out


def _contains_run(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def _rescore(candidates: list[_Candidate], query: list[str]) -> None:
    """Score candidates by how much of the query an entry covers, how much of the entry the query
    explains (nonessential modifiers in parentheses do not count), query word order, then kind,
    billable and incomplete adjustments."""
    wanted = [_stem(t) for t in query]
    wanted_set = set(wanted)
    for c in candidates:
        plain = c.path.replace(PATH_SEPARATOR, " ")  # keeps the text ASCII (fast path) when it is
        stems = [_stem(t) for t in search_tokens(plain)]
        essential_text = _FILLERS.sub(" ", _strip_parentheses(plain) if "(" in plain else plain)
        essential = {_stem(t) for t in search_tokens(essential_text) if t not in _STOPWORDS}
        coverage = len(wanted_set.intersection(stems)) / len(wanted_set)
        precision = len(essential & wanted_set) / len(essential) if essential else 0.0
        phrase = 1.0 if len(wanted) > 1 and _contains_run(stems, wanted) else 0.0
        score = 4.0 * coverage + 2.0 * precision + phrase + _KIND_BONUS.get(c.kind, 0.0)
        if c.release.startswith(_EXTERNAL_CAUSE):
            score -= 1.1
        if c.incomplete:
            score -= 0.5
        if c.billable == 0:
            score -= 0.3
        c.score = round(score, 6)


def _describer(sources: _Sources) -> dict[str, list[int]]:
    """system -> description source ids to ask in turn: the releases searched (newest first), then
    the others (a description is shown even when only an index release was searched)."""
    allowed = set(sources.by_id) if sources.allowed is None else set(sources.allowed)
    ranked = sorted(sources.by_id.items(), key=lambda kv: kv[1][0], reverse=True)
    ranked.sort(key=lambda kv: kv[0] not in allowed)  # stable: keeps newest-first within each group
    out: dict[str, list[int]] = {}
    for sid, (_release, system, kind) in ranked:
        if kind == "description":
            out.setdefault(system, []).append(sid)
    return out


def _describe(conn: sqlite3.Connection, cand: _Candidate, descriptions: dict[str, list[int]]) -> str:
    """The code's description (newest release) when known, else the index entry itself."""
    if cand.kind == "description":
        return cand.path
    ids = descriptions.get(cand.system, [])
    if ids and not cand.incomplete:
        marks = ",".join("?" * len(ids))
        rows = dict(
            conn.execute(
                f"SELECT source, path FROM search_docs WHERE code = ? AND source IN ({marks})",
                (cand.code, *ids),
            )
        )
        for sid in ids:
            if sid in rows:
                return str(rows[sid])
    parts = cand.path.split(PATH_SEPARATOR)
    if cand.kind in ("drug", "neoplasm") and len(parts) > 1:
        return f"{parts[-2]}: {parts[-1]}"
    return parts[-1]


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
    return row is not None


def _frequencies(conn: sqlite3.Connection, words: Sequence[str]) -> dict[str, int]:
    marks = ",".join("?" * len(words))
    return {
        str(t): int(n)
        for t, n in conn.execute(f"SELECT term, df FROM search_terms WHERE term IN ({marks})", words)
    }


def _text_candidates(
    conn: sqlite3.Connection, words: list[str], sources: _Sources, top: int
) -> list[_Candidate]:
    """Scored candidates for the words: all words required first; while that finds fewer than
    ``top`` codes, drop words one at a time (first words no entry has as such, e.g. typos, then the
    most common ones). 7-character codes are searched only for 7th-character words."""
    df = _frequencies(conn, words)
    drop_order = sorted(words, key=lambda w: (w in df, -df.get(w, 0), words.index(w)))
    with_ext = any(w in _EXTENSION_WORDS for w in words)
    seen: set[int] = set()
    found: list[_Candidate] = []

    def add(table: str, query: list[str]) -> None:
        for cand in _fetch(conn, table, query, sources):
            if cand.doc_id not in seen:
                seen.add(cand.doc_id)
                found.append(cand)

    remaining = list(words)
    for stage in range(_MAX_RELAX + 1):
        if stage > 0 and min(df.get(w, 0) for w in remaining) > _BROAD:
            break  # only very common words are left: too broad to be worth it
        add("search_fts", remaining)
        if with_ext:
            add("search_fts_ext", remaining)
        if len(remaining) == 1 or len({(c.system, c.code) for c in found}) >= top:
            break
        remaining.remove(drop_order[stage])
    if not found and not with_ext:
        add("search_fts_ext", words)
    _rescore(found, words)
    return found


def search(
    conn: sqlite3.Connection,
    text: str,
    *,
    system: str | None = None,
    releases: Sequence[str] | None = None,
    top: int = 10,
) -> list[SearchHit]:
    """Ranked codes for free text, best first, at most ``top`` distinct codes.

    Documents are index terms (with their full path), Drug/Neoplasm table cells, ICD-10-CM tabular
    descriptions and inclusion terms and HCPCS Level II descriptions. ``system`` keeps one code
    system ("icd10cm" or "hcpcs"); ``releases`` keeps documents of those release ids. Any text is
    safe (it is reduced to words before it reaches FTS5); text without words raises InputError.

    All words are required first; when that finds fewer than ``top`` codes, the most common words
    are dropped one at a time. Candidates are re-ranked (see ``_rescore``) and de-duplicated by code.
    """
    if not text or not text.strip():
        raise InputError(
            "the search text is empty.", "give some words to search for, e.g. 'aspiration pneumonia'."
        )
    if top < 1:
        raise InputError(f"--top must be at least 1, got {top}.")
    tokens = list(dict.fromkeys(search_tokens(text)))
    if not tokens:
        raise InputError(
            "the search text has no letters or digits to search for.",
            "give some words to search for, e.g. 'aspiration pneumonia'.",
        )
    if not _has_table(conn, "search_fts"):
        raise InputError(
            "the search index is missing.", "install the code sets again (it is built at install)."
        )
    sources = _sources(conn, system, releases)
    if sources.allowed == []:
        return []
    candidates = _code_lookup(conn, text, sources, top)
    if candidates:  # the code itself, then the codes below it in code order
        candidates.sort(key=lambda c: (-c.score, c.code, c.doc_id))
    else:  # not a code (or an unknown one): free-text search
        candidates = _text_candidates(
            conn, [t for t in tokens if t not in _STOPWORDS] or tokens, sources, top
        )
        candidates.sort(key=lambda c: (-c.score, c.doc_id))  # doc ids: shortest entries first
    best: dict[tuple[str, str], _Candidate] = {}
    index_path: dict[tuple[str, str], str] = {}
    for cand in candidates:
        key = (cand.system, cand.code)
        if key not in best and len(best) < top:
            best[key] = cand
        if cand.kind not in ("description", "inclusion_term"):
            index_path.setdefault(key, cand.path)
    descriptions = _describer(sources)
    return [
        SearchHit(
            code=cand.code,
            system=cand.system,
            description_or_title=_describe(conn, cand, descriptions),
            score=cand.score,
            kind=cand.kind,
            path=index_path.get(key, cand.path),
            release=cand.release,
            incomplete=cand.incomplete,
        )
        for key, cand in best.items()
    ]


def releases_on(conn: sqlite3.Connection, day: date) -> list[str]:
    """Ids of the installed releases (``releases`` table) whose period covers ``day``."""
    if not _has_table(conn, "releases"):
        return []
    iso = day.isoformat()
    rows = conn.execute(
        "SELECT id FROM releases WHERE effective_from <= ? AND (effective_to IS NULL OR effective_to >= ?)"
        " ORDER BY id",
        (iso, iso),
    )
    return [str(r[0]) for r in rows]
