"""ICD-10-CM index readers (index, eindex, drug, neoplasm) and the tree navigation API."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import index as ix
from chartcode.codesets.common import DatasetSpec, Release
from chartcode.codesets.formats import icd10cm_index as fmt
from chartcode.errors import CodesetFormatError
from tests.codesets.sourcekit import FIXTURES, create_tables, release_for

TREES = ("index", "eindex", "drug", "neoplasm")
OFFICIAL = {tree: f"icd10cm_{tree}_2025.xml" for tree in TREES}
DRUG_TEXT = (FIXTURES / "index_icd10cm_drug_2025.xml").read_text(encoding="utf-8")
IDX, EIDX, DRUG, NEO = (f"icd10cm-{t}:FY2025" for t in TREES)


def spec_of(tree: str) -> DatasetSpec:
    return next(s for s in fmt.SPECS if s.dataset == f"icd10cm-{tree}")


def release_of(tree: str, name: str | None = None) -> Release:
    return release_for(spec_of(tree), name or OFFICIAL[tree])


def new_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    create_tables(conn, fmt.DDL)
    return conn


def load(conn: sqlite3.Connection, tree: str, path: Path) -> int:
    return spec_of(tree).load(conn, path, release_of(tree)).rows


@pytest.fixture
def db() -> sqlite3.Connection:
    conn = new_db()
    for tree in OFFICIAL:
        load(conn, tree, FIXTURES / f"index_{OFFICIAL[tree]}")
    return conn


# --- specs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tree", "name"),
    [
        ("index", "icd10cm_index_2025.xml"),
        ("index", "icd10cm-index-2025.xml"),
        ("index", "ICD10CM_INDEX_2025.XML"),
        ("eindex", "icd10cm-eindex-2025.xml"),
        ("eindex", "icd-10-cm-eindex-2025.xml"),
        ("drug", "icd-10-cm-drug-2025.xml"),
        ("drug", "icd10cm_drug_2025.xml"),
        ("neoplasm", "icd-10-cm-neoplasm-2025.xml"),
        ("neoplasm", "icd10cm_neoplasm_2025.xml"),
    ],
)
def test_patterns_accept_official_and_mirror_names(tree: str, name: str) -> None:
    matching = [s.dataset for s in fmt.SPECS if s.pattern.fullmatch(name)]
    assert matching == [f"icd10cm-{tree}"]
    assert release_of(tree, name).version == "FY2025"


@pytest.mark.parametrize(
    "name",
    [
        "icd10cm_index_2025.xsd",
        "icd10cm_drug_neoplasm_2025.xsd",
        "icd10cm_tabular_2026.xml",
        "icd10cm_index_2025.xml.bak",
        "index_icd10cm_index_2025.xml",
        "icd10cm_index_25.xml",
    ],
)
def test_patterns_reject_other_files(name: str) -> None:
    assert [s.dataset for s in fmt.SPECS if s.pattern.fullmatch(name)] == []


def test_specs_contract() -> None:
    assert [s.dataset for s in fmt.SPECS] == [
        "icd10cm-index",
        "icd10cm-eindex",
        "icd10cm-drug",
        "icd10cm-neoplasm",
    ]
    for spec in fmt.SPECS:
        assert spec.system == "icd10cm"
        assert spec.order == 20
    release = release_of("drug")
    assert release.id == "icd10cm-drug:FY2025"
    assert (release.effective_from, release.effective_to) == (date(2024, 10, 1), date(2025, 9, 30))


# --- loading ---------------------------------------------------------------------------------


def test_fixture_row_counts(db: sqlite3.Connection) -> None:
    counts = dict(db.execute("SELECT tree, count(*) FROM index_terms GROUP BY tree"))
    assert counts == {"index": 21, "eindex": 8, "drug": 5, "neoplasm": 5}
    mains = dict(db.execute("SELECT tree, count(*) FROM index_terms WHERE level = 0 GROUP BY tree"))
    assert mains == {"index": 8, "eindex": 3, "drug": 4, "neoplasm": 1}


def row(db: sqlite3.Connection, release: str, title: str) -> dict[str, object]:
    cursor = db.execute("SELECT * FROM index_terms WHERE release = ? AND title = ?", (release, title))
    names = [d[0] for d in cursor.description]
    found = cursor.fetchall()
    assert len(found) == 1, found
    return dict(zip(names, found[0], strict=True))


def test_main_term_with_nemod_code_and_subterms(db: sqlite3.Connection) -> None:
    diabetes = row(db, IDX, "Diabetes, diabetic")
    assert diabetes["level"] == 0
    assert diabetes["parent"] is None
    assert diabetes["nemod"] == "(mellitus) (sugar)"
    assert diabetes["code"] == "E11.9"
    assert diabetes["key"] == "diabetes, diabetic"
    ckd = row(db, IDX, "chronic kidney disease")
    assert (ckd["level"], ckd["code"], ckd["nemod"]) == (3, "E11.22", None)
    with_ = db.execute("SELECT parent FROM index_terms WHERE id = ?", (ckd["parent"],)).fetchone()
    type2 = db.execute("SELECT parent, title FROM index_terms WHERE id = ?", (with_[0],)).fetchone()
    assert type2[1] == "type 2"
    assert type2[0] == diabetes["id"]


def test_manif_see_and_see_also(db: sqlite3.Connection) -> None:
    amyloid = row(db, IDX, "Amyloid heart")
    assert (amyloid["code"], amyloid["manif"], amyloid["nemod"]) == ("E85.4", "I43", "(disease)")
    assert row(db, IDX, "Abdominalgia")["see"] == "Pain, abdominal"
    # the leading space NCHS leaves in some <see> values is dropped
    assert row(db, IDX, "Cancer")["see"] == "Neoplasm, malignant, by site"
    assert row(db, IDX, "Pain")["see_also"] == "Painful"
    assert row(db, IDX, "Pain")["nemod"] == "(s)"


def test_eindex_text_after_nemod_seecat_and_subcat(db: sqlite3.Connection) -> None:
    abandonment = row(db, EIDX, "Abandonment NEC")
    assert abandonment["nemod"] == "(causing exposure to weather conditions) (with intent to injure or kill)"
    assert abandonment["code"] == "X58"
    assert row(db, EIDX, "lightning")["see"] == "subcategory T75.0"
    assert row(db, EIDX, "bed linen, causing suffocation")["see"] == "category T71"
    assert row(db, EIDX, "caused by, due to")["code"] is None


def test_drug_and_neoplasm_cells(db: sqlite3.Connection) -> None:
    acetaminophen = json.loads(str(row(db, DRUG, "Acetaminophen")["cells"]))
    assert acetaminophen == {
        "Poisoning Accidental (unintentional)": "T39.1X1",
        "Poisoning Intentional self-harm": "T39.1X2",
        "Poisoning Assault": "T39.1X3",
        "Poisoning Undetermined": "T39.1X4",
        "Adverse effect": "T39.1X5",
        "Underdosing": "T39.1X6",
    }
    absinthe = json.loads(str(row(db, DRUG, "Absinthe")["cells"]))
    assert list(absinthe) == [
        "Poisoning Accidental (unintentional)",
        "Poisoning Intentional self-harm",
        "Poisoning Assault",
        "Poisoning Undetermined",
    ]  # "--" cells are left out
    assert row(db, DRUG, "Aleve")["cells"] is None
    assert row(db, DRUG, "Aleve")["see"] == "Naproxen"
    basal = json.loads(str(row(db, NEO, "basal cell carcinoma")["cells"]))
    assert basal == {"Malignant Primary": "C44.91"}  # "-" cells are left out
    assert json.loads(str(row(db, NEO, "lung")["cells"]))["Malignant Primary"] == "C34.9-"


def test_headings_keys_and_ids(db: sqlite3.Connection) -> None:
    headings = db.execute("SELECT col, heading FROM index_headings WHERE release = ? ORDER BY col", (NEO,))
    assert [h for _, h in headings][:3] == ["Neoplasm", "Malignant Primary", "Malignant Secondary"]
    assert (
        db.execute("SELECT count(*) FROM index_headings WHERE release IN (?, ?)", (IDX, EIDX)).fetchone()[0]
        == 0
    )
    keys = db.execute("SELECT key, variant FROM index_keys WHERE release = ? AND id = ?", (IDX, 9)).fetchall()
    assert db.execute("SELECT title FROM index_terms WHERE release = ? AND id = 9", (IDX,)).fetchone() == (
        "Diabetes, diabetic",
    )
    assert sorted(keys) == [("diabetes", 1), ("diabetes, diabetic", 0), ("diabetic", 2)]
    ids = [r[0] for r in db.execute("SELECT id FROM index_terms")]
    assert len(ids) == len(set(ids))  # unique across trees too
    ranges = dict(db.execute("SELECT tree, min(id) FROM index_terms GROUP BY tree"))
    assert ranges == {"index": 1, "eindex": 10_000_001, "drug": 20_000_001, "neoplasm": 30_000_001}


def test_two_releases_side_by_side(tmp_path: Path) -> None:
    conn = new_db()
    spec = spec_of("drug")
    spec.load(conn, FIXTURES / "index_icd10cm_drug_2025.xml", release_of("drug"))
    newer = tmp_path / "icd10cm_drug_2026.xml"
    newer.write_text(
        DRUG_TEXT.replace("<version>2025</version>", "<version>2026</version>"), encoding="utf-8"
    )
    spec.load(conn, newer, release_of("drug", newer.name))
    counts = dict(conn.execute("SELECT release, count(*) FROM index_terms GROUP BY release"))
    assert counts == {"icd10cm-drug:FY2025": 5, "icd10cm-drug:FY2026": 5}
    assert ix.drug_codes(conn, "icd10cm-drug:FY2026", "Acetaminophen") == ix.drug_codes(
        conn, DRUG, "Acetaminophen"
    )


# --- malformed input -------------------------------------------------------------------------

TEXT = (FIXTURES / "index_icd10cm_index_2025.xml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "icd10cm_index_2025.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def fails(path: Path, tree: str = "index") -> CodesetFormatError:
    with pytest.raises(CodesetFormatError) as caught:
        spec_of(tree).load(new_db(), path, release_of(tree))
    assert caught.value.path == str(path)
    return caught.value


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_truncated_file(tmp_path: Path) -> None:
    cut = TEXT[: TEXT.index("<title>type 2</title>") + 10]
    path = write(tmp_path, cut)
    error = fails(path)
    assert error.line == cut.count("\n") + 1
    assert error.message.startswith(f"{path}, line {error.line}: malformed XML (")
    assert error.message.endswith("); the file may be truncated")


def test_empty_file(tmp_path: Path) -> None:
    error = fails(write(tmp_path, ""))
    assert "malformed XML" in error.message


def test_unknown_element(tmp_path: Path) -> None:
    text = TEXT.replace("<code>E11.22</code>", "<code>E11.22</code>\n<note>x</note>")
    path = write(tmp_path, text)
    error = fails(path)
    assert error.message == f"{path}, line {line_of(text, '<note>')}: unexpected element <note> inside <term>"


def test_missing_title(tmp_path: Path) -> None:
    text = TEXT.replace("<title>Abdominalgia</title>", "")
    path = write(tmp_path, text)
    error = fails(path)
    assert error.message == f"{path}, line {line_of(text, '<mainTerm>')}: <mainTerm> has no <title>"


def test_empty_title(tmp_path: Path) -> None:
    text = TEXT.replace("<title>lower</title>", "<title> </title>")
    path = write(tmp_path, text)
    assert fails(path).message == f"{path}, line {line_of(text, '<title> </title>')}: empty <title>"


def test_wrong_level(tmp_path: Path) -> None:
    text = TEXT.replace(
        '<term level="1">\n        <title>aspiration', '<term level="2">\n        <title>aspiration'
    )
    path = write(tmp_path, text)
    line = line_of(text, '<term level="2">\n        <title>aspiration')
    assert fails(path).message == f"{path}, line {line}: <term level='2'> is nested at level 1"


def test_bad_code(tmp_path: Path) -> None:
    text = TEXT.replace("<code>J69.0</code>", "<code>J69..0</code>")
    path = write(tmp_path, text)
    line = line_of(text, "J69..0")
    assert fails(path).message == f"{path}, line {line}: <code> 'J69..0' is not an ICD-10-CM code"


def test_wrong_root(tmp_path: Path) -> None:
    text = TEXT.replace("ICD10CM.index>", "ICD10CM.tabular>")
    path = write(tmp_path, text)
    assert (
        fails(path).message == f"{path}, line 2: root element is <ICD10CM.tabular>, expected <ICD10CM.index>"
    )


def test_no_letters(tmp_path: Path) -> None:
    text = '<?xml version="1.0" encoding="utf-8"?>\n<ICD10CM.index>\n  <version>2025</version>\n'
    text += "</ICD10CM.index>\n"
    path = write(tmp_path, text)
    assert fails(path).message == f"{path}, line 2: no <letter> element: the file is empty or not an index"


def test_version_must_match_name(tmp_path: Path) -> None:
    path = write(tmp_path, TEXT.replace("<version>2025</version>", "<version>2024</version>"))
    assert (
        fails(path).message == f"{path}, line 3: <version> is 2024 but the file name says 2025; file renamed?"
    )


@pytest.mark.parametrize(
    ("cell", "problem"),
    [
        ('<cell col="8">T39.1X6</cell>', "<cell col=8> has no heading in <indexHeading>"),
        ('<cell col="6">T39.1X6</cell>', "<mainTerm> has two cells in column 6"),
        ('<cell col="7"></cell>', "empty <cell col=7>"),
        ('<cell col="x">T39.1X6</cell>', "<cell> has col='x', expected a positive integer"),
    ],
)
def test_bad_drug_cell(tmp_path: Path, cell: str, problem: str) -> None:
    text = DRUG_TEXT.replace('<cell col="7">T39.1X6</cell>', cell)
    path = write(tmp_path, text, "icd10cm_drug_2025.xml")
    assert fails(path, "drug").message == f"{path}, line {line_of(text, cell)}: {problem}"


def test_several_nemods_comments_and_categories_inside_see(tmp_path: Path) -> None:
    text = TEXT.replace(
        "<title>aspiration</title>",
        "<title>aspiration<nemod>(of food)</nemod> due to<nemod>(vomit)</nemod></title><!-- note -->",
    ).replace("<see>Pain, abdominal</see>", "<see>Pain, abdominal, <seecat>R10</seecat></see>")
    path = write(tmp_path, text)
    conn = new_db()
    assert spec_of("index").load(conn, path, release_of("index")).rows == 21
    found = conn.execute("SELECT title, nemod FROM index_terms WHERE code = 'J69.0'").fetchone()
    assert found == ("aspiration due to", "(of food) (vomit)")
    see = conn.execute("SELECT see FROM index_terms WHERE title = 'Abdominalgia'").fetchone()[0]
    assert see == "Pain, abdominal, category R10"


# --- navigation ------------------------------------------------------------------------------


def titles(terms: list[ix.IndexTerm]) -> list[str]:
    return [t.title for t in terms]


def test_main_terms_prefix(db: sqlite3.Connection) -> None:
    assert titles(ix.main_terms(db, IDX, "index", "dia")) == ["Diabetes, diabetic"]
    assert titles(ix.main_terms(db, IDX, "index", "D")) == ["Diabetes, diabetic", "Disease, diseased"]
    # a comma-separated part matches too
    assert titles(ix.main_terms(db, IDX, "index", "diseased")) == ["Disease, diseased"]
    assert len(ix.main_terms(db, IDX, "index", "", limit=3)) == 3
    assert ix.main_terms(db, IDX, "eindex", "a") == []  # tree and release must agree


def test_find_main_term(db: sqlite3.Connection) -> None:
    diabetes = ix.find_main_term(db, IDX, "index", "Diabetes, diabetic")
    assert diabetes is not None
    assert diabetes.code == "E11.9"
    for text in ("diabetes", "DIABETIC", "  Diabetes,   diabetic "):
        found = ix.find_main_term(db, IDX, "index", text)
        assert found is not None
        assert found.id == diabetes.id
    pain = ix.find_main_term(db, IDX, "index", "Pain(s)")
    assert pain is not None
    assert (pain.title, pain.nemod, pain.see_also) == ("Pain", "(s)", "Painful")
    assert ix.find_main_term(db, IDX, "index", "diab") is None
    assert ix.find_main_term(db, IDX, "index", "") is None


def test_term_children_and_path(db: sqlite3.Connection) -> None:
    pain = ix.find_main_term(db, IDX, "index", "pain")
    assert pain is not None
    kids = ix.children(db, IDX, pain.id)
    assert titles(kids) == ["abdominal", "chest"]
    assert kids[1].display == "chest (central)"
    assert all(k.parent == pain.id and k.level == 1 for k in kids)
    lower = ix.children(db, IDX, kids[0].id)[0]
    assert ix.term(db, IDX, lower.id) == lower
    assert titles(ix.path(db, IDX, lower.id)) == ["Pain", "abdominal", "lower"]
    assert ix.term(db, IDX, 999_999) is None
    assert ix.path(db, IDX, 999_999) == []
    assert ix.children(db, IDX, lower.id) == []


def test_walk_and_format_path(db: sqlite3.Connection) -> None:
    found = ix.walk(db, IDX, "index", ["Diabetes", "type 2", "with", "chronic kidney disease"])
    assert found[-1].code == "E11.22"
    assert (
        ix.format_path(found)
        == "Diabetes, diabetic (mellitus) (sugar) › type 2 › with › chronic kidney disease"
    )
    asthma = ix.walk(db, IDX, "index", ["asthma", "mild intermittent", "with", "exacerbation (acute)"])
    assert asthma[-1].code == "J45.21"
    assert (
        ix.walk(db, IDX, "index", ["Asthma", "mild intermittent", "with", "exacerbation"])[-1].code
        == "J45.21"
    )
    assert ix.walk(db, IDX, "index", ["Diabetes", "type 3"]) == []
    assert ix.walk(db, IDX, "index", ["Nothing"]) == []
    assert ix.walk(db, IDX, "index", []) == []
    # a title holding a comma is one step; one comma-separated part of it matches too
    assert (
        titles(ix.walk(db, EIDX, "eindex", ["Accident", "caused by, due to", "lightning"]))[-1] == "lightning"
    )
    assert titles(ix.walk(db, EIDX, "eindex", ["Accident", "due to", "lightning"]))[-1] == "lightning"


def test_resolve_see(db: sqlite3.Connection) -> None:
    abdominalgia = ix.find_main_term(db, IDX, "index", "Abdominalgia")
    assert abdominalgia is not None
    assert abdominalgia.see is not None
    found = ix.resolve_see(db, IDX, "index", abdominalgia.see)
    assert [(t.title, t.code) for t in found] == [("Pain", "R52"), ("abdominal", "R10.9")]
    assert titles(ix.resolve_see(db, IDX, "index", "see Pain, abdominal, lower")) == [
        "Pain",
        "abdominal",
        "lower",
    ]
    assert titles(ix.resolve_see(db, IDX, "index", "Disease, heart")) == ["Disease, diseased", "heart"]
    # deepest match: "by site" is not a subterm
    assert titles(ix.resolve_see(db, IDX, "index", "Pain, abdominal, by site")) == ["Pain", "abdominal"]
    assert ix.resolve_see(db, IDX, "index", "Neoplasm, malignant, by site") == []
    assert ix.resolve_see(db, IDX, "index", "") == []
    assert titles(ix.resolve_see(db, EIDX, "eindex", "Accident, caused by, due to, lightning")) == [
        "Accident",
        "caused by, due to",
        "lightning",
    ]


def test_drug_codes(db: sqlite3.Connection) -> None:
    assert ix.drug_codes(db, DRUG, "acetaminophen")["Adverse effect"] == "T39.1X5"
    assert ix.drug_codes(db, DRUG, "Absinthe, beverage") == {
        "Poisoning Accidental (unintentional)": "T51.0X1",
        "Poisoning Intentional self-harm": "T51.0X2",
        "Poisoning Assault": "T51.0X3",
        "Poisoning Undetermined": "T51.0X4",
    }
    assert ix.drug_codes(db, DRUG, "2,4-D")["Poisoning Assault"] == "T60.3X3"
    assert ix.drug_codes(db, DRUG, "Aleve") == {}  # a "see" entry has no cells
    assert ix.drug_codes(db, DRUG, "Absinthe, spirits") == {}
    assert ix.drug_codes(db, DRUG, "Unobtainium") == {}


def test_neoplasm_codes(db: sqlite3.Connection) -> None:
    upper = ix.neoplasm_codes(db, NEO, ["lung", "upper lobe"])
    assert upper["Malignant Primary"] == "C34.1-"
    assert upper["Unspecified Behavior"] == "D49.1"
    assert ix.neoplasm_codes(db, NEO, ["Neoplasm, neoplastic", "lung"])["Malignant Primary"] == "C34.9-"
    assert ix.neoplasm_codes(db, NEO, [])["Malignant Secondary"] == "C79.9"
    assert ix.neoplasm_codes(db, NEO, ["skin", "basal cell carcinoma"]) == {"Malignant Primary": "C44.91"}
    assert ix.neoplasm_codes(db, NEO, ["liver"]) == {}


# --- the full mirror -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mirror_db(request: pytest.FixtureRequest) -> sqlite3.Connection:
    shared: Path = request.getfixturevalue("shared_data")
    conn = new_db()
    for tree, name in OFFICIAL.items():
        load(conn, tree, shared / "icd10cm" / "fy2025" / name)
    return conn


@pytest.mark.integration
def test_mirror_counts(mirror_db: sqlite3.Connection) -> None:
    counts = {
        tree: (mains, total)
        for tree, mains, total in mirror_db.execute(
            "SELECT tree, sum(level = 0), count(*) FROM index_terms GROUP BY tree"
        )
    }
    # data README: 8,100 mainTerm + 72,924 term; 314 + 7,750; 5,177 + 2,251; 1 + 1,938
    assert counts == {
        "index": (8_100, 81_024),
        "eindex": (314, 8_064),
        "drug": (5_177, 7_428),
        "neoplasm": (1, 1_939),
    }
    heads = mirror_db.execute("SELECT count(*) FROM index_headings").fetchone()[0]
    assert heads == 14


@pytest.mark.integration
@pytest.mark.parametrize(
    ("steps", "code"),
    [
        (["Diabetes", "type 2", "with", "chronic kidney disease"], "E11.22"),
        (["Hypertension", "with", "heart failure"], "I11.0"),
        (["Hypertension", "heart", "with", "heart failure"], "I11.0"),
        (["Asthma", "mild intermittent"], "J45.20"),
        (["Pneumonia", "aspiration"], "J69.0"),
        (["Obesity", "morbid"], "E66.01"),
        (["Sepsis"], "A41.9"),
        (["Amyloid heart"], "E85.4"),
    ],
)
def test_mirror_spot_checks(mirror_db: sqlite3.Connection, steps: list[str], code: str) -> None:
    found = ix.walk(mirror_db, IDX, "index", steps)
    assert found, steps
    assert found[-1].code == code


@pytest.mark.integration
def test_mirror_navigation(mirror_db: sqlite3.Connection) -> None:
    found = ix.walk(mirror_db, IDX, "index", ["Diabetes", "type 2", "with", "chronic kidney disease"])
    assert (
        ix.format_path(found)
        == "Diabetes, diabetic (mellitus) (sugar) › type 2 › with › chronic kidney disease"
    )
    assert titles(ix.resolve_see(mirror_db, IDX, "index", "Pain, abdominal")) == ["Pain", "abdominal"]
    assert ix.drug_codes(mirror_db, DRUG, "Acetaminophen")["Underdosing"] == "T39.1X6"
    assert ix.neoplasm_codes(mirror_db, NEO, ["lung", "upper lobe"])["Malignant Primary"] == "C34.1-"
    abandonment = ix.find_main_term(mirror_db, EIDX, "eindex", "Abandonment NEC")
    assert abandonment is not None
    assert abandonment.code == "X58"
    # nearly every cross reference of the main index leads somewhere in it
    refs = [r[0] for r in mirror_db.execute("SELECT DISTINCT see FROM index_terms WHERE release = ?", (IDX,))]
    resolved = sum(1 for ref in refs if ref and ix.resolve_see(mirror_db, IDX, "index", ref))
    assert resolved / len(refs) > 0.9
