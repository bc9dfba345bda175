"""Free-text search across the index trees, the ICD-10-CM tabular and HCPCS Level II."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chartcode.codesets import index as ix
from chartcode.codesets.formats import icd10cm_index as fmt
from chartcode.errors import InputError
from tests.codesets.sourcekit import FIXTURES, create_tables, release_for

TREES = ("index", "eindex", "drug", "neoplasm")
IDX = "icd10cm-index:FY2025"
TAB = "icd10cm-tabular:FY2026"
HCPCS = "hcpcs:2024Q3"

# Tiny stand-ins for the tables other readers write (same columns as the shared contract).
SOURCE_DDL = """
CREATE TABLE icd_codes(release TEXT NOT NULL, code TEXT NOT NULL, description TEXT NOT NULL,
  billable INTEGER NOT NULL, parent TEXT, chapter TEXT, section TEXT, depth INTEGER NOT NULL,
  PRIMARY KEY (release, code)) WITHOUT ROWID;
CREATE TABLE icd_notes(release TEXT NOT NULL, code TEXT NOT NULL, kind TEXT NOT NULL, seq INTEGER NOT NULL,
  text TEXT NOT NULL, targets TEXT, PRIMARY KEY (release, code, kind, seq)) WITHOUT ROWID;
CREATE TABLE hcpcs_codes(release TEXT NOT NULL, code TEXT NOT NULL, long_description TEXT NOT NULL,
  short_description TEXT, PRIMARY KEY (release, code)) WITHOUT ROWID
"""
ICD_CODES = [
    ("E11", "Type 2 diabetes mellitus", 0),
    ("E11.2", "Type 2 diabetes mellitus with kidney complications", 0),
    ("E11.22", "Type 2 diabetes mellitus with diabetic chronic kidney disease", 1),
    ("E11.29", "Type 2 diabetes mellitus with other diabetic kidney complication", 1),
    ("E11.9", "Type 2 diabetes mellitus without complications", 1),
    ("J69.0", "Pneumonitis due to inhalation of food and vomit", 1),
    ("J18.9", "Pneumonia, unspecified organism", 1),
    ("J45.909", "Unspecified asthma, uncomplicated", 1),
    ("R07.89", "Other chest pain", 1),
    ("R07.9", "Chest pain, unspecified", 1),
    ("S72.001", "Fracture of unspecified part of neck of right femur", 0),
    (
        "S72.001A",
        "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture",
        1,
    ),
]
ICD_NOTES = [
    ("J69.0", "inclusion_term", 1, "Aspiration pneumonia (due to) food (regurgitated)"),
    ("J45.909", "inclusion_term", 1, "Asthma NOS"),
    ("J45.909", "excludes1", 1, "detergent asthma (J69.8)"),  # not searched
]
HCPCS_CODES = [
    ("J0696", "Injection, ceftriaxone sodium, per 250 mg", "Ceftriaxone sodium injection"),
    ("K0001", "Standard wheelchair", "Standard wheelchair"),
]


def load_trees(conn: sqlite3.Connection, directory: Path, prefix: str = "") -> None:
    create_tables(conn, fmt.DDL)
    for tree in TREES:
        name = f"icd10cm_{tree}_2025.xml"
        spec = next(s for s in fmt.SPECS if s.dataset == f"icd10cm-{tree}")
        spec.load(conn, directory / f"{prefix}{name}", release_for(spec, name))


def add_sources(conn: sqlite3.Connection) -> None:
    create_tables(conn, SOURCE_DDL)
    conn.executemany(
        "INSERT INTO icd_codes(release, code, description, billable, depth) VALUES (?,?,?,?,0)",
        [(TAB, *r) for r in ICD_CODES],
    )
    conn.executemany(
        "INSERT INTO icd_notes(release, code, kind, seq, text) VALUES (?,?,?,?,?)",
        [(TAB, *r) for r in ICD_NOTES],
    )
    conn.executemany("INSERT INTO hcpcs_codes VALUES (?,?,?,?)", [(HCPCS, *r) for r in HCPCS_CODES])


@pytest.fixture
def db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    load_trees(conn, FIXTURES, "index_")
    add_sources(conn)
    fmt.FINALIZE(conn)
    return conn


def codes(hits: list[ix.SearchHit]) -> list[str]:
    return [h.code for h in hits]


# --- building --------------------------------------------------------------------------------


def test_documents(db: sqlite3.Connection) -> None:
    join = "FROM search_docs d JOIN search_sources s ON s.id = d.source"
    kinds = dict(db.execute(f"SELECT s.kind, count(*) {join} GROUP BY s.kind"))
    # index: 16 coded index terms + 1 manifestation code + 2 coded eindex terms; drug: 4+4+4+6 cells;
    # neoplasm: 6+6+6+6+1 cells; 12 ICD-10-CM + 2 HCPCS descriptions; 2 inclusion terms (the
    # excludes1 note is not searched)
    assert kinds == {"index": 19, "drug": 18, "neoplasm": 25, "description": 14, "inclusion_term": 2}
    assert dict(db.execute(f"SELECT s.system, count(*) {join} GROUP BY 1")) == {"icd10cm": 76, "hcpcs": 2}
    # only the 7-character code lives in the extension table
    fts_ext = (
        "FROM search_fts_ext JOIN search_docs d ON d.id = search_fts_ext.rowid WHERE search_fts_ext MATCH"
    )
    assert [r[0] for r in db.execute(f"SELECT d.code {fts_ext} 'femur'")] == ["S72.001A"]
    assert [r[0] for r in db.execute(f"SELECT d.code {fts_ext} 'diabetes'")] == []


def test_finalize_is_idempotent(db: sqlite3.Connection) -> None:
    before = db.execute("SELECT * FROM search_docs ORDER BY id").fetchall()
    hits = ix.search(db, "chest pain")
    assert fmt.build_search_index(db) == len(before)
    assert db.execute("SELECT * FROM search_docs ORDER BY id").fetchall() == before
    assert ix.search(db, "chest pain") == hits


def test_finalize_without_any_source_table() -> None:
    conn = sqlite3.connect(":memory:")
    fmt.FINALIZE(conn)
    assert ix.search(conn, "diabetes") == []


def test_finalize_with_index_only() -> None:
    conn = sqlite3.connect(":memory:")
    load_trees(conn, FIXTURES, "index_")
    fmt.FINALIZE(conn)
    hits = ix.search(conn, "type 2 diabetes chronic kidney disease")
    assert hits[0].code == "E11.22"
    assert hits[0].description_or_title == "chronic kidney disease"  # no tabular: the index entry itself


def test_documents_of_a_deleted_release_are_ignored(db: sqlite3.Connection) -> None:
    # what the installer's delete_release does to a table with a release column
    db.execute("DELETE FROM search_sources WHERE release = ?", (IDX,))
    hits = ix.search(db, "chest pain")
    assert hits
    assert all(h.release != IDX for h in hits)
    assert [h.release for h in ix.search(db, "R07.9")] == [TAB]


def test_search_index_missing() -> None:
    with pytest.raises(InputError, match="the search index is missing"):
        ix.search(sqlite3.connect(":memory:"), "diabetes")


# --- ranking ---------------------------------------------------------------------------------


def test_diabetes_with_ckd(db: sqlite3.Connection) -> None:
    hits = ix.search(db, "type 2 diabetes with chronic kidney disease")
    best = hits[0]
    assert best.code == "E11.22"
    assert best.system == "icd10cm"
    assert best.kind == "index"
    assert best.release == IDX
    assert best.path == "Diabetes, diabetic (mellitus) (sugar) › type 2 › with › chronic kidney disease"
    assert best.description_or_title == "Type 2 diabetes mellitus with diabetic chronic kidney disease"
    assert not best.incomplete
    assert len(set(codes(hits))) == len(hits)  # one hit per code


def test_aspiration_pneumonia(db: sqlite3.Connection) -> None:
    hits = ix.search(db, "aspiration pneumonia")
    assert hits[0].code == "J69.0"
    assert hits[0].path == "Pneumonia (acute) (double) (migratory) › aspiration"


def test_description_and_inclusion_term_hits(db: sqlite3.Connection) -> None:
    hits = ix.search(db, "other chest pain")
    assert hits[0].code == "R07.89"
    assert hits[0].kind == "description"
    assert hits[0].path == "Other chest pain"
    asthma = ix.search(db, "asthma NOS")
    assert (asthma[0].code, asthma[0].kind, asthma[0].path) == ("J45.909", "inclusion_term", "Asthma NOS")
    assert asthma[0].description_or_title == "Unspecified asthma, uncomplicated"
    # the best document of R07.9 is its description; the hit shows the index path that found it too
    chest = ix.search(db, "chest pain")[0]
    assert (chest.code, chest.kind) == ("R07.9", "description")
    assert chest.path == "Pain (s) › chest (central)"
    assert ix.search(db, "detergent") == []  # excludes notes are not searched


def test_unspecified_entry_beats_the_category(db: sqlite3.Connection) -> None:
    assert codes(ix.search(db, "chest pain"))[:2] == ["R07.9", "R07.89"]


def test_drug_neoplasm_and_incomplete(db: sqlite3.Connection) -> None:
    drug = ix.search(db, "acetaminophen poisoning accidental")[0]
    assert (drug.code, drug.kind) == ("T39.1X1", "drug")
    assert drug.path == "Acetaminophen › Poisoning Accidental (unintentional)"
    assert drug.description_or_title == "Acetaminophen: Poisoning Accidental (unintentional)"
    neoplasm = ix.search(db, "neoplasm lung malignant primary")[0]
    assert (neoplasm.code, neoplasm.kind, neoplasm.incomplete) == ("C34.9-", "neoplasm", True)
    assert neoplasm.path == "Neoplasm, neoplastic › lung › Malignant Primary"
    cancer = ix.search(db, "cancer lung")[0]
    assert (cancer.code, cancer.incomplete, cancer.path) == ("C34.9-", True, "Cancer › lung")
    manif = ix.search(db, "amyloid heart")
    assert codes(manif) == ["E85.4", "I43"]
    assert manif[1].path == "Amyloid heart (disease) [I43]"


def test_seventh_character_codes_only_for_encounter_words(db: sqlite3.Connection) -> None:
    assert codes(ix.search(db, "fracture neck femur")) == ["S72.001"]
    hits = ix.search(db, "fracture neck femur initial encounter")
    assert codes(hits)[0] == "S72.001A"
    assert hits[0].description_or_title.endswith("initial encounter for closed fracture")


def test_external_cause_terms(db: sqlite3.Connection) -> None:
    hits = ix.search(db, "abandonment")
    assert hits[0].code == "X58"
    assert hits[0].release == "icd10cm-eindex:FY2025"
    assert (
        hits[0].path
        == "Abandonment NEC (causing exposure to weather conditions) (with intent to injure or kill)"
    )


def test_code_queries(db: sqlite3.Connection) -> None:
    for text in ("E11.22", "e1122", " E11.22 "):
        hits = ix.search(db, text)
        assert codes(hits) == ["E11.22"]
        assert hits[0].score > 99
        assert hits[0].path.endswith("› with › chronic kidney disease")
    assert codes(ix.search(db, "E11.2")) == ["E11.2", "E11.22", "E11.29"]
    assert codes(ix.search(db, "j0696")) == ["J0696"]
    assert ix.search(db, "j0696")[0].system == "hcpcs"


def test_filters_and_top(db: sqlite3.Connection) -> None:
    assert codes(ix.search(db, "ceftriaxone injection")) == ["J0696"]
    assert ix.search(db, "ceftriaxone injection", system="icd10cm") == []
    wheel = ix.search(db, "wheelchair", system="hcpcs")
    assert [(h.code, h.system, h.release) for h in wheel] == [("K0001", "hcpcs", HCPCS)]
    only_index = ix.search(db, "chest pain", releases=[IDX])
    assert {h.release for h in only_index} == {IDX}
    assert codes(only_index) == ["R07.9"]
    assert ix.search(db, "chest pain", releases=["nothing:1"]) == []
    assert ix.search(db, "chest pain", system="cpt") == []
    assert len(ix.search(db, "diabetes", top=1)) == 1
    with pytest.raises(InputError, match="--top must be at least 1"):
        ix.search(db, "diabetes", top=0)


def test_relaxation_drops_unknown_words(db: sqlite3.Connection) -> None:
    hits = ix.search(db, "aspiration pneumonia zzyzx")
    assert hits[0].code == "J69.0"
    assert hits[0].score < ix.search(db, "aspiration pneumonia")[0].score  # not every word matched


def test_deterministic(db: sqlite3.Connection) -> None:
    assert ix.search(db, "diabetes") == ix.search(db, "diabetes")
    assert ix.search(db, "pain") == ix.search(db, "PAIN")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_query(db: sqlite3.Connection, text: str) -> None:
    with pytest.raises(InputError) as caught:
        ix.search(db, text)
    assert caught.value.message == "the search text is empty."
    assert caught.value.code == "CC150"


@pytest.mark.parametrize("text", ["!!!", "-- ;", '"', "*", "()"])
def test_query_without_words(db: sqlite3.Connection, text: str) -> None:
    with pytest.raises(InputError, match="no letters or digits"):
        ix.search(db, text)


@pytest.mark.parametrize(
    "text",
    [
        'pain" OR "x',
        "NEAR(pain chest)",
        "pain AND NOT chest",
        "chest -pain",
        "pain*",
        "text:pain",
        "(pain",
        "^pain",
        "pain OR",
        "chest + pain",
        "x'); DROP TABLE search_docs; --",
        "Sjögren",
        "non-hodgkin",
    ],
)
def test_fts_syntax_is_neutralized(db: sqlite3.Connection, text: str) -> None:
    ix.search(db, text)
    assert db.execute("SELECT count(*) FROM search_docs").fetchone()[0] == 78


def test_operator_words_are_plain_words(db: sqlite3.Connection) -> None:
    assert codes(ix.search(db, "pain AND chest"))[0] == "R07.9"
    assert codes(ix.search(db, '"chest" "pain"'))[0] == "R07.9"


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_safe(text: str) -> None:
    conn = _shared_db()
    try:
        hits = ix.search(conn, text)
    except InputError:
        return
    assert len({(h.system, h.code) for h in hits}) == len(hits) <= 10


_DB: list[sqlite3.Connection] = []


def _shared_db() -> sqlite3.Connection:
    if not _DB:
        conn = sqlite3.connect(":memory:")
        load_trees(conn, FIXTURES, "index_")
        add_sources(conn)
        fmt.FINALIZE(conn)
        _DB.append(conn)
    return _DB[0]


def test_releases_on() -> None:
    conn = sqlite3.connect(":memory:")
    assert ix.releases_on(conn, date(2025, 1, 1)) == []
    conn.execute("CREATE TABLE releases(id TEXT, effective_from TEXT, effective_to TEXT)")
    conn.executemany(
        "INSERT INTO releases VALUES (?,?,?)",
        [(IDX, "2024-10-01", "2025-09-30"), (TAB, "2025-10-01", None), (HCPCS, "2024-07-01", "2024-09-30")],
    )
    assert ix.releases_on(conn, date(2025, 1, 1)) == [IDX]
    assert ix.releases_on(conn, date(2030, 1, 1)) == [TAB]


# --- the full mirror -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mirror(request: pytest.FixtureRequest) -> sqlite3.Connection:
    shared: Path = request.getfixturevalue("shared_data")
    conn = sqlite3.connect(":memory:")
    load_trees(conn, shared / "icd10cm" / "fy2025")
    assert fmt.build_search_index(conn) == 118_415  # index-tree documents only
    return conn


@pytest.mark.integration
def test_mirror_search(mirror: sqlite3.Connection) -> None:
    hits = ix.search(mirror, "type 2 diabetes with chronic kidney disease")
    assert hits[0].code == "E11.22"
    assert "E11.29" in codes(hits)  # found once the most common words ("with", "disease") are dropped
    assert hits[0].path == "Diabetes, diabetic (mellitus) (sugar) › type 2 › with › chronic kidney disease"
    assert codes(ix.search(mirror, "aspiration pneumonia"))[0] == "J69.0"
    assert "I11.0" in codes(ix.search(mirror, "hypertension with heart failure", top=3))
    assert codes(ix.search(mirror, "morbid obesity"))[0] == "E66.01"
    assert codes(ix.search(mirror, "mild intermittent asthma"))[0] == "J45.20"
    assert codes(ix.search(mirror, "acetaminophen adverse effect"))[0] == "T39.1X5"
    assert codes(ix.search(mirror, "E11.22")) == ["E11.22"]
