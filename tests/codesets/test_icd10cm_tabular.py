"""ICD-10-CM tabular XML reader and the query API over it (chartcode.codesets.icd10cm)."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from chartcode.codesets import icd10cm as q
from chartcode.codesets.formats import icd10cm_tabular as tab
from chartcode.errors import CodesetFormatError, InvalidCodeFormatError, UnknownCodeError
from tests.codesets.sourcekit import FIXTURES, MIRROR, load_with_specs, release_for

FIXTURE = FIXTURES / "icd10cm_tabular_2026.xml"
MIRROR_TABULAR = MIRROR / "icd10cm" / "fy2026" / "icd10cm_tabular_2026.xml"
RID = "icd10cm-tabular:FY2026"


def load_into(conn: sqlite3.Connection, path: Path) -> None:
    load_with_specs(conn, path, tab.SPECS)


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    load_into(db, FIXTURE)
    yield db
    db.close()


# --- spec ------------------------------------------------------------------------------------


def test_spec_matches_official_and_mirror_names() -> None:
    spec = tab.SPECS[0]
    assert spec.dataset == "icd10cm-tabular" and spec.system == "icd10cm" and spec.order == 10
    for name in ("icd10cm_tabular_2026.xml", "icd10cm-tabular-2026.xml", "ICD10CM_TABULAR_2026.XML"):
        assert spec.pattern.fullmatch(name)
    assert not spec.pattern.fullmatch("icd10cm_tabular_2026.xml.bak")
    rel = release_for(spec, "icd10cm-tabular-2026.xml")
    assert (rel.id, rel.effective_from, rel.effective_to) == (RID, date(2025, 10, 1), date(2026, 9, 30))


# --- rows ------------------------------------------------------------------------------------


def test_codes_hierarchy_and_billable_flags(conn: sqlite3.Connection) -> None:
    rows = {
        r[0]: r[1:]
        for r in conn.execute("SELECT code, billable, parent, chapter, section, depth FROM icd_codes")
    }
    billable = sorted(code for code, row in rows.items() if row[0])
    assert billable == [
        "E08.9",
        "E10.9",
        "E11.22",
        "E11.9",
        "H54.8",
        "S01.01XA",
        "S01.01XD",
        "S01.01XS",
        "S06.1X0A",
        "S06.1X0D",
        "S06.1X0S",
        "S06.1X7A",  # D and S do not apply with 6th character 7 (note at S06)
        "T07.XXXA",
        "T07.XXXS",
    ]
    assert len(rows) == 28
    assert rows["E11"] == (0, None, "4", "E08-E13", 1)
    assert rows["E11.2"] == (0, "E11", "4", "E08-E13", 2)
    assert rows["E11.22"] == (1, "E11.2", "4", "E08-E13", 3)
    # a leaf to which a 7th character applies is not billable; its 7-character codes are
    assert rows["S01.01"] == (0, "S01.0", "19", "S00-S09", 3)
    assert rows["S01.01XA"] == (1, "S01.01", "19", "S00-S09", 4)
    assert rows["S06.1X7A"] == (1, "S06.1X7", "19", "S00-S09", 5)
    assert rows["T07.XXXA"] == (1, "T07", "19", "T07", 2)


def test_generated_descriptions(conn: sqlite3.Connection) -> None:
    desc = dict(conn.execute("SELECT code, description FROM icd_codes"))
    assert desc["S01.01XD"] == "Laceration without foreign body of scalp, subsequent encounter"
    assert desc["T07.XXXS"] == "Unspecified multiple injuries, sequela"
    assert desc["S06.1X0A"] == "Traumatic cerebral edema without loss of consciousness, initial encounter"


def test_notes_targets_and_scopes(conn: sqlite3.Connection) -> None:
    notes = conn.execute(
        "SELECT code, kind, seq, text, targets FROM icd_notes ORDER BY code, kind, seq"
    ).fetchall()
    by_key = {(c, k, s): (t, json.loads(g) if g else None) for c, k, s, t, g in notes}
    assert by_key[("E11", "excludes1", 1)] == (
        "diabetes mellitus due to underlying condition (E08.-)",
        [["E08", "E08"]],
    )
    assert by_key[("E11", "excludes1", 2)] == ("type 1 diabetes mellitus (E10.-)", [["E10", "E10"]])
    assert by_key[("E11", "includes", 1)] == ("diabetes NOS", None)
    assert by_key[("E11.22", "use_additional", 1)][1] == [["N18.1", "N18.6"]]
    assert by_key[("E08-E13", "use_additional", 1)] == ("code to identify any insulin use (Z79.4)", None)
    # chapter notes; whitespace runs collapsed. References to categories this (tiny) file lacks are
    # dropped (E05.8, E07.0, E34.-), ranges are kept; see test_parse_targets for the full grammar.
    text, targets = by_key[("chapter:4", "note", 1)]
    assert "Chapter 2. Appropriate" in text
    assert targets == [["E16", "E31"]]
    assert by_key[("E08", "code_first", 1)][1] is None  # P35.0: no P35 here
    assert by_key[("chapter:4", "excludes1", 1)][1] == [["P70", "P74"]]
    assert by_key[("S01", "seventh_note", 1)][0].startswith("The appropriate 7th character")
    # a <note> inside <sevenChrDef> belongs to the preceding extension
    assert by_key[("T07", "seventh_note", 1)] == (
        "7th character A (initial encounter): with involuted or regressed injuries",
        None,
    )
    # a section whose id equals its only category: both sets of notes under "T07", numbered on
    assert by_key[("T07", "excludes1", 1)] == ("sunburn (L55.-)", None)  # L55 is not in this tiny file
    assert by_key[("T07", "excludes1", 2)][0] == "injury NOS (T14.90)"
    (vis,) = [t for (c, k, s), (t, _) in by_key.items() if c == "H54.8"]
    assert vis == (
        "Category of visual impairment 1: visual acuity with best possible correction maximum less than"
        " 6/18 / 20/70; minimum equal to or better than 6/60 / 20/200"
    )


def test_seventh_table(conn: sqlite3.Connection) -> None:
    rows = conn.execute("SELECT code, char, meaning FROM icd_seventh ORDER BY code, char").fetchall()
    assert rows[:3] == [
        ("S01", "A", "initial encounter"),
        ("S01", "D", "subsequent encounter"),
        ("S01", "S", "sequela"),
    ]
    assert [r[0] for r in rows] == ["S01"] * 3 + ["S06"] * 3 + ["T07"] * 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("diabetes mellitus due to underlying condition (E08.-)", [("E08", "E08")]),
        ("(E10-E13)", [("E10", "E13")]),
        ("(I10.-, I11.-)", [("I10", "I10"), ("I11", "I11")]),
        ("gestational diabetes (O24.4-)", [("O24.4", "O24.4")]),
        ("(A04.0-A04.4)", [("A04.0", "A04.4")]),
        ("atherosclerosis of the extremities (I70.2--I70.7-)", [("I70.2", "I70.7")]),
        ("drug dependence (F10.--F19.-)", [("F10", "F19")]),
        ("benign neoplasm of testis (D29.2.-)", [("D29.2", "D29.2")]),
        ("cerebral hemorrhage (I60.-. I61.-, I62.-)", [("I60", "I60"), ("I61", "I61"), ("I62", "I62")]),
        (
            "injuries classified in subcategories S06.1- to S06.6-, and S06.81-",
            [("S06.1", "S06.6"), ("S06.81", "S06.81")],
        ),
        ("complications of pregnancy (O00-O9A)", [("O00", "O9A")]),
        ("malignant carcinoid tumors (C7A.0-)", [("C7A.0", "C7A.0")]),
        ("poisoning (T40.5X1-T40.5X4)", [("T40.5X1", "T40.5X4")]),
        ("genetic disorder (QA0.01-)", [("QA0.01", "QA0.01")]),
        ("respiratory failure (J96. with 5th character 2)", [("J96", "J96")]),
        ("E. coli O157:H- (nonmotile) with CD30-positive", []),
        ("G6PD deficiency and HIV disease", []),
        ("certain localized infections - see body system-related chapters", []),
    ],
)
def test_parse_targets(text: str, expected: list[tuple[str, str]]) -> None:
    assert tab.parse_targets(text) == expected


def test_parse_targets_drops_words_that_look_like_codes_when_categories_are_known() -> None:
    text = "vitamin B12 deficiency anemia (D51.-); GM2 gangliosidosis; ranges A00-B99"
    assert tab.parse_targets(text) == [("B12", "B12"), ("D51", "D51"), ("GM2", "GM2"), ("A00", "B99")]
    assert tab.parse_targets(text, {"D51"}) == [("D51", "D51"), ("A00", "B99")]


# --- malformed input -------------------------------------------------------------------------


def _variant(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = FIXTURE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "icd10cm_tabular_2026.xml"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def _error(path: Path) -> CodesetFormatError:
    db = sqlite3.connect(":memory:")
    with pytest.raises(CodesetFormatError) as info:
        load_into(db, path)
    return info.value


def test_truncated_xml(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    path = tmp_path / "icd10cm_tabular_2026.xml"
    path.write_text(text[: text.index("<name>S06.1X7</name>") + 12], encoding="utf-8")  # cut inside a <name>
    err = _error(path)
    last_line = len(path.read_text(encoding="utf-8").splitlines())
    assert err.path == str(path) and err.line == last_line
    assert err.message.startswith(f"{path}, line {last_line}: malformed or truncated XML (")


def test_truncated_after_a_complete_element(tmp_path: Path) -> None:
    text = FIXTURE.read_text(encoding="utf-8")
    path = tmp_path / "icd10cm_tabular_2026.xml"
    path.write_text(text[: text.index("</chapter>") + len("</chapter>\n")], encoding="utf-8")
    err = _error(path)
    assert err.line is not None and err.line >= _line_of(path, "</chapter>")
    assert "malformed or truncated XML" in err.message


def test_unknown_element(tmp_path: Path) -> None:
    path = _variant(
        tmp_path, "<includes>\n          <note>diabetes NOS", "<include>\n          <note>diabetes NOS"
    )
    path.write_text(
        path.read_text().replace("</includes>\n        <excludes1>", "</include>\n        <excludes1>", 1)
    )
    err = _error(path)
    line = _line_of(path, "<include>")
    assert err.message == f"{path}, line {line}: unexpected element <include> in a <diag> under E08-E13"


E119_DESC = "<desc>Type 2 diabetes mellitus without complications</desc>"


@pytest.mark.parametrize(
    ("old", "new", "needle", "offset", "problem"),
    [
        # the error is reported on the line of `needle` + `offset` (a <diag> opens the line above its <name>)
        pytest.param(E119_DESC, "", "<name>E11.9</name>", -1, "E11.9 has no <desc>", id="diag_without_desc"),
        pytest.param(
            "<name>E11.9</name>",
            "",
            E119_DESC,
            -2,
            "a <diag> under E11 has no <name>",
            id="diag_without_name",
        ),
        pytest.param(
            "<name>E11.9</name>",
            "<name>E12.9</name>",
            "<name>E12.9</name>",
            -1,
            "E12.9 is nested under E11 but does not extend it by one character",
            id="nested_code_must_extend_parent",
        ),
        pytest.param(
            "<name>E11.9</name>",
            "<name>E11-9</name>",
            "<name>E11-9</name>",
            -1,
            "<name> 'E11-9' is not a dotted ICD-10-CM code",
            id="bad_code_name",
        ),
        pytest.param(
            '<extension char="D">subsequent',
            '<extension char="DD">subsequent',
            'char="DD"',
            0,
            "<extension> of S01 has char 'DD'",
            id="bad_seventh_character",
        ),
    ],
)
def test_malformed_element(
    tmp_path: Path, old: str, new: str, needle: str, offset: int, problem: str
) -> None:
    path = _variant(tmp_path, old, new)
    err = _error(path)
    line = _line_of(path, needle) + offset
    assert err.message == f"{path}, line {line}: {problem}"


def test_duplicate_code(tmp_path: Path) -> None:
    path = _variant(tmp_path, "<name>E11.9</name>", "<name>E11.2</name>")
    err = _error(path)
    first = _line_of(path, "<name>E11.2</name>") - 1
    dup = _line_of(path, E119_DESC) - 2
    assert err.message == f"{path}, line {dup}: duplicate code E11.2 (first at line {first})"


def test_unrecognised_seventh_exception(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        "7th characters D and S do not apply to codes in category S06",
        "7th characters D and S do not apply to S06",
    )
    err = _error(path)
    line = _line_of(path, "<name>S06</name>") - 1
    assert err.line == line and "unrecognised 7th-character exception in S06" in err.message


def test_version_must_match_file_name(tmp_path: Path) -> None:
    path = _variant(tmp_path, "<version>2026</version>", "<version>2025</version>")
    err = _error(path)
    assert err.message == f"{path}, line 3: <version> 2025 does not match the file name's fiscal year FY2026"


def test_wrong_root(tmp_path: Path) -> None:
    path = tmp_path / "icd10cm_tabular_2026.xml"
    path.write_text('<?xml version="1.0"?>\n<ICD10CM.index><version>2026</version></ICD10CM.index>\n')
    err = _error(path)
    assert err.message == f"{path}, line 2: root element is <ICD10CM.index>, expected <ICD10CM.tabular>"


def test_nothing_inserted_on_error(tmp_path: Path) -> None:
    path = _variant(tmp_path, "<name>E11.9</name>", "<name>E11.2</name>")
    db = sqlite3.connect(":memory:")
    with pytest.raises(CodesetFormatError):
        load_into(db, path)
    assert db.execute("SELECT COUNT(*) FROM icd_codes").fetchone() == (0,)


# --- query API -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("e1122", "E11.22"),
        ("E11.22", "E11.22"),
        (" E11.22 ", "E11.22"),
        ("E11", "E11"),
        ("s72001a", "S72.001A"),
        ("qa0.01", "QA0.01"),
        ("C7A.0", "C7A.0"),
    ],
)
def test_normalize_icd(given: str, expected: str) -> None:
    assert q.normalize_icd(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("E11.", "a dot must be followed by 1-4 characters, e.g. E11.9"),
        ("E11.22222", "a dot must be followed by 1-4 characters, e.g. E11.9"),
        ("1234", "it must start with a letter, e.g. E11.9"),
        ("", "the code is empty"),
        ("   ", "the code is empty"),
        ("E1", "a code has at least 3 characters, e.g. E11"),
        ("E1122222", "a code has at most 7 characters, e.g. S72.001A"),
        ("E1.122", "the dot must follow the 3-character category, e.g. E11.9"),
        ("E11.2.2", "only one dot is allowed, e.g. S72.001A"),
        ("E11-22", "only letters, digits and one dot are allowed, e.g. E11.9"),
        ("EEE1", "the first 3 characters must be a letter, a digit and a letter or digit, e.g. E11 or C7A"),
    ],
)
def test_normalize_icd_rejects(given: str, reason: str) -> None:
    with pytest.raises(InvalidCodeFormatError) as info:
        q.normalize_icd(given)
    assert info.value.message == f"{given!r} is not a valid ICD-10-CM code format: {reason}"
    assert info.value.code == "CC130"


def test_code_row_children_ancestors(conn: sqlite3.Connection) -> None:
    row = q.code_row(conn, RID, "e1122")
    assert row == q.IcdCode(
        "E11.22",
        "Type 2 diabetes mellitus with diabetic chronic kidney disease",
        True,
        "E11.2",
        "4",
        "E08-E13",
        3,
    )
    assert q.code_row(conn, RID, "E11.8") is None
    assert q.code_row(conn, "icd10cm-tabular:FY2025", "E11.22") is None
    assert q.ancestors(conn, RID, "S01.01XA") == ["S01.01", "S01.0", "S01"]
    assert q.ancestors(conn, RID, "S06.1X7A") == ["S06.1X7", "S06.1X", "S06.1", "S06"]
    assert q.ancestors(conn, RID, "E11") == []
    assert [c.code for c in q.children(conn, RID, "E11")] == ["E11.2", "E11.9"]
    assert [c.code for c in q.children(conn, RID, "S06.1X7")] == ["S06.1X7A"]
    assert q.children(conn, RID, "E11.22") == []


def test_conventions_inherit_from_category_section_and_chapter(conn: sqlite3.Connection) -> None:
    conv = q.conventions(conn, RID, "E11.22")
    assert [(n.source_code, n.targets) for n in conv.excludes1] == [
        ("E11", (("E08", "E08"),)),
        ("E11", (("E10", "E10"),)),
        ("chapter:4", (("P70", "P74"),)),
    ]
    assert [(n.source_code, n.text) for n in conv.use_additional] == [
        ("E11.22", "code to identify stage of chronic kidney disease (N18.1-N18.6)"),
        ("E08-E13", "code to identify any insulin use (Z79.4)"),
    ]
    assert [n.text for n in conv.includes] == ["diabetes NOS"]
    assert conv.seventh == () and conv.seventh_source is None and conv.placeholder_x is False
    assert conv.excludes2 == conv.code_first == conv.code_also == conv.inclusion_terms == ()


def test_conventions_seventh_character(conn: sqlite3.Connection) -> None:
    conv = q.conventions(conn, RID, "S01.01")
    assert conv.seventh == (("A", "initial encounter"), ("D", "subsequent encounter"), ("S", "sequela"))
    assert conv.seventh_source == "S01" and conv.placeholder_x is True
    assert q.conventions(conn, RID, "S01.01XA").placeholder_x is True
    assert q.conventions(conn, RID, "S06.1X0").placeholder_x is False  # 6 characters already
    assert q.conventions(conn, RID, "S06.1X0A").seventh_source == "S06"
    t07 = q.conventions(conn, RID, "T07.XXXA")
    assert t07.placeholder_x is True and [n.text for n in t07.excludes1] == [
        "sunburn (L55.-)",
        "injury NOS (T14.90)",
    ]
    assert [n.kind for n in t07.seventh_notes] == ["seventh_note"]
    assert q.conventions(conn, RID, "E11.22").seventh == ()
    with pytest.raises(UnknownCodeError):
        q.conventions(conn, RID, "E11.8")


def test_code_details(conn: sqlite3.Connection) -> None:
    details = q.code_details(conn, RID, "S06.1X7A")
    assert details is not None
    assert details.code.description.endswith("prior to regaining consciousness, initial encounter")
    assert [a.code for a in details.ancestors] == ["S06.1X7", "S06.1X", "S06.1", "S06"]
    assert details.conventions.notes[0].text.startswith("7th characters D and S do not apply")
    assert q.code_details(conn, RID, "S06.1X7D") is None


def test_covers() -> None:
    assert q.covers(("E10", "E13"), "E11.22")
    assert q.covers(("E10", "E13"), "E13.9")
    assert q.covers(("E10", "E13"), "E10")
    assert not q.covers(("E10", "E13"), "E14")
    assert not q.covers(("E10", "E13"), "E09.9")
    assert q.covers(("A04.0", "A04.4"), "A04.41")
    assert not q.covers(("A04.0", "A04.4"), "A04.5")
    assert not q.covers(("A04.0", "A04.4"), "A04")  # only part of A04 is covered
    assert q.covers(("O00", "O9A"), "O9A.11") and q.covers(("O00", "O9A"), "O99.89")
    assert q.covers(("C7A", "C7A"), "C7A.00") and not q.covers(("C7A", "C7A"), "C7B.00")
    assert q.covers(("B95.61", "B95.8"), "B95.7")


def test_excludes1_conflict(conn: sqlite3.Connection) -> None:
    note = q.excludes1_conflict(conn, RID, "E11.22", "E10.9")
    assert note is not None and note.source_code == "E11" and note.text == "type 1 diabetes mellitus (E10.-)"
    reverse = q.excludes1_conflict(conn, RID, "E10.9", "E11.22")
    assert reverse is not None and reverse.source_code == "E10"
    # the excluded code need not be in the release: chapter-level excludes1 P70-P74
    chapter = q.excludes1_conflict(conn, RID, "P72.1", "e119")
    assert chapter is not None and chapter.source_code == "chapter:4"
    assert q.excludes1_conflict(conn, RID, "E11.22", "E11.9") is None
    assert q.excludes1_conflict(conn, RID, "E11.22", "S01.01XA") is None


def test_query_on_empty_database_says_what_is_missing() -> None:
    from chartcode.errors import KnowledgeBaseMissingError

    with pytest.raises(KnowledgeBaseMissingError):
        q.code_row(sqlite3.connect(":memory:"), RID, "E11.9")


# --- full mirror -----------------------------------------------------------------------------

needs_mirror = pytest.mark.skipif(not MIRROR_TABULAR.exists(), reason="../shared/data mirror not present")


@pytest.fixture(scope="module")
def full() -> Iterator[sqlite3.Connection]:
    if not MIRROR_TABULAR.exists():
        pytest.skip("../shared/data mirror not present")
    db = sqlite3.connect(":memory:")
    _, result = load_with_specs(db, MIRROR_TABULAR, tab.SPECS)
    assert result.rows == 98_186
    assert result.notes[0].startswith("46881 <diag> codes + 51305 7th-character codes (74719 billable)")
    yield db
    db.close()


@pytest.mark.integration
@needs_mirror
def test_full_mirror_counts(full: sqlite3.Connection) -> None:
    total, billable = full.execute("SELECT COUNT(*), SUM(billable) FROM icd_codes").fetchone()
    assert (total, billable) == (98_186, 74_719)  # 46,881 <diag> (data README) + generated 7-character codes
    assert full.execute("SELECT COUNT(*) FROM icd_codes WHERE depth = 1").fetchone()[0] == 1_918
    assert full.execute("SELECT COUNT(*) FROM icd_seventh").fetchone()[0] == 1_790
    assert full.execute("SELECT COUNT(DISTINCT code) FROM icd_seventh").fetchone()[0] == 508
    assert full.execute("SELECT COUNT(*) FROM icd_notes WHERE code LIKE 'chapter:%'").fetchone()[0] > 0
    # S06 death-before-consciousness codes take only A
    assert [c.code for c in q.children(full, RID, "S06.1X7")] == ["S06.1X7A"]
    assert q.code_row(full, RID, "S01.01XA") is not None and q.code_row(full, RID, "T36.0X1A") is not None
    row = q.code_row(full, RID, "QA0")
    assert row is not None and row.chapter == "17" and not row.billable


@pytest.mark.integration
@needs_mirror
def test_full_mirror_real_examples(full: sqlite3.Connection) -> None:
    conv = q.conventions(full, RID, "E11.22")
    assert ("E08", "E08") in [t for n in conv.excludes1 for t in n.targets]
    assert any(n.targets == (("N18.1", "N18.6"),) for n in conv.use_additional)
    assert q.excludes1_conflict(full, RID, "E11.22", "E10.9") is not None
    assert q.excludes1_conflict(full, RID, "E11.9", "I10") is None
    # no note target is an ordinary word that only looks like a code (vitamin B12, GM2 ...)
    categories = {c for (c,) in full.execute("SELECT code FROM icd_codes WHERE depth = 1")}
    for (targets,) in full.execute("SELECT targets FROM icd_notes WHERE targets IS NOT NULL"):
        for low, high in json.loads(targets):
            assert low[:3] in categories or low != high, low


@pytest.mark.integration
@needs_mirror
def test_agrees_with_simple_icd_10_cm(full: sqlite3.Connection) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm as cm

    rows = full.execute("SELECT code, billable FROM icd_codes ORDER BY code").fetchall()
    sample = random.Random(2026).sample(rows, 500)
    space = re.compile(r"\s+")
    for code, billable in sample:
        assert cm.is_valid_item(code), code
        assert bool(billable) == cm.is_leaf(code), code
        ours = [
            t
            for (t,) in full.execute(
                "SELECT text FROM icd_notes WHERE release = ? AND code = ? AND kind = 'excludes1'"
                " ORDER BY seq",
                (RID, code),
            )
        ]
        theirs = [space.sub(" ", t).strip() for t in cm.get_excludes1(code)]
        assert ours == theirs, code
