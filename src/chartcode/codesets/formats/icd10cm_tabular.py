"""Reader for the CDC/NCHS ICD-10-CM Tabular List XML (``icd10cm_tabular_<year>.xml``).

Loads three tables:

* ``icd_codes``: one row per ``<diag>`` (category, subcategory, code) plus one row per code built
  from a 7th-character definition (``S72.001`` + ``A`` -> ``S72.001A``; ``S01.01`` + ``A`` ->
  ``S01.01XA``). A leaf ``<diag>`` to which a ``<sevenChrDef>`` applies is not billable itself.
* ``icd_notes``: the instructional notes (includes, excludes1/2, code first, ...) of each diag,
  section (``code`` = section id, e.g. ``E08-E13``) and chapter (``code`` = ``chapter:4``), with
  the code ranges each note refers to in ``targets`` (JSON list of ``[from, to]``).
* ``icd_seventh``: the 7th characters defined at a diag.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from chartcode.codesets.common import DatasetSpec, LoadResult, Period, Release, fiscal_year_period
from chartcode.errors import CodesetFormatError

PATTERN = re.compile(r"icd10cm[-_]tabular[-_](\d{4})\.xml", re.IGNORECASE)

DDL = """
CREATE TABLE IF NOT EXISTS icd_codes (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    description TEXT NOT NULL,
    billable INTEGER NOT NULL,
    parent TEXT,
    chapter TEXT,
    section TEXT,
    depth INTEGER NOT NULL,
    PRIMARY KEY (release, code)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS icd_codes_parent ON icd_codes (release, parent);
CREATE TABLE IF NOT EXISTS icd_notes (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    targets TEXT,
    PRIMARY KEY (release, code, kind, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS icd_seventh (
    release TEXT NOT NULL,
    code TEXT NOT NULL,
    char TEXT NOT NULL,
    meaning TEXT NOT NULL,
    PRIMARY KEY (release, code, char)
) WITHOUT ROWID;
"""

# XML container element -> icd_notes.kind
NOTE_KINDS: dict[str, str] = {
    "includes": "includes",
    "inclusionTerm": "inclusion_term",
    "excludes1": "excludes1",
    "excludes2": "excludes2",
    "codeFirst": "code_first",
    "useAdditionalCode": "use_additional",
    "codeAlso": "code_also",
    "notes": "note",
    "sevenChrNote": "seventh_note",
}

CHAPTER_CHILDREN = frozenset({"name", "desc", "sectionIndex", "section", *NOTE_KINDS})
SECTION_CHILDREN = frozenset({"desc", "diag", *NOTE_KINDS})
DIAG_CHILDREN = frozenset({"name", "desc", "diag", "sevenChrDef", "visualImpairment", *NOTE_KINDS})

# A category is a letter, a digit and a letter or digit (E11, C7A), or, since FY2026, two letters
# and a digit (QA0, genetic disorders). Up to 4 more characters follow the dot.
CATEGORY = r"[A-Z](?:[0-9][0-9A-Z]|[A-Z][0-9])"
DOTTED_CODE = re.compile(rf"{CATEGORY}(?:\.[0-9A-Z]{{1,4}})?")
PLAIN_CODE = re.compile(rf"{CATEGORY}[0-9A-Z]{{0,4}}")
SECTION_ID = re.compile(rf"{CATEGORY}(?:-{CATEGORY})?")

# A code reference inside note text: ``A00``, ``A00.1``, ``A00.-``, ``E08.3-``, ``D29.2.-`` (sic).
_REF = rf"(?<![A-Za-z0-9.])({CATEGORY}(?:\.[0-9A-Z]{{1,4}})?)(?:\.?-)?"
_END = r"(?![A-Za-z0-9])"
# A range (``A00-A09``, ``I70.2--I70.7-``, ``S06.1- to S06.6-``) is tried before a single reference.
CODE_REFERENCE = re.compile(rf"{_REF}(?:\s*-\s*|\s+to\s+){_REF}{_END}|{_REF}{_END}")

# "7th characters D and S do not apply to codes in category S06 with 6th character 7 - ..., or 8 - ..."
SEVENTH_EXCEPTION = re.compile(
    r"7th characters? (?P<chars>[0-9A-Z](?:(?:,| and| or|, and|, or) [0-9A-Z])*) do(?:es)? not apply to"
    r" codes in (?:sub)?category (?P<code>[A-Z0-9.]+) with (?P<pos>[1-6])(?:st|nd|rd|th) character"
    r" (?P<values>.+)"
)
SEVENTH_EXCEPTION_HINT = re.compile(r"7th character.*not apply", re.IGNORECASE)


def _clean(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _line(el: etree._Element | None) -> int | None:
    line = el.sourceline if el is not None else None
    return line if isinstance(line, int) else None


def parse_targets(text: str, categories: Container[str] | None = None) -> list[tuple[str, str]]:
    """The dotted code ranges a note refers to: ``"(E10-E13)"`` -> ``[("E10", "E13")]``.

    A single reference gives ``(code, code)``. Every bound means "this code and all its children"
    (``E08.-`` and ``E08`` both give ``("E08", "E08")``). With ``categories``, a single reference
    whose category is not among them is taken for ordinary text, not a code (``vitamin B12``,
    ``GM2 gangliosidosis``); ranges are always kept.
    """
    ranges: list[tuple[str, str]] = []
    for match in CODE_REFERENCE.finditer(text):
        low, high, single = match.group(1), match.group(2), match.group(3)
        if single is not None and categories is not None and single[:3] not in categories:
            continue
        pair = (low, high) if single is None else (single, single)
        if pair not in ranges:
            ranges.append(pair)
    return ranges


def targets_json(text: str, categories: Container[str] | None = None) -> str | None:
    ranges = parse_targets(text, categories)
    return json.dumps([list(r) for r in ranges]) if ranges else None


@dataclass
class _SevenDef:
    code: str  # where the sevenChrDef is defined
    chars: list[tuple[str, str]]
    # (position 1-6, characters at that position) -> 7th characters that do not apply
    exceptions: list[tuple[int, frozenset[str], frozenset[str]]] = field(default_factory=list)


class _TabularReader:
    def __init__(self, path: Path, release: Release) -> None:
        self.path = path
        self.rid = release.id
        self.codes: list[tuple[str, str, str, int, str | None, str, str, int]] = []
        self.notes: list[tuple[str, str, str, int, str, bool]] = []  # last: parse targets?
        self.seventh: list[tuple[str, str, str, str]] = []
        self.seen: dict[str, int] = {}  # code -> line
        self.seq: dict[tuple[str, str], int] = {}
        self.diags = 0

    def fail(self, el: etree._Element | None, problem: str) -> CodesetFormatError:
        return CodesetFormatError(self.path, _line(el), problem)

    def check_children(self, el: etree._Element, allowed: frozenset[str], what: str) -> None:
        for child in el:
            if child.tag not in allowed:
                raise self.fail(child, f"unexpected element <{child.tag}> in {what}")

    def text_of(self, el: etree._Element, what: str) -> str:
        if len(el):
            raise self.fail(el[0], f"unexpected element <{el[0].tag}> inside <{el.tag}> of {what}")
        text = _clean(el.text)
        if not text:
            raise self.fail(el, f"empty <{el.tag}> in {what}")
        return text

    def required_text(self, el: etree._Element, tag: str, what: str) -> str:
        found = el.findall(tag)
        if len(found) != 1:
            problem = f"has no <{tag}>" if not found else f"has {len(found)} <{tag}> elements"
            raise self.fail(el, f"{what} {problem}")
        return self.text_of(found[0], what)

    # --- notes ---------------------------------------------------------------------------------

    def add_note(self, code: str, kind: str, text: str, targets: bool = True) -> None:
        key = (code, kind)
        seq = self.seq.get(key, 0) + 1
        self.seq[key] = seq
        self.notes.append((self.rid, code, kind, seq, text, targets))

    def note_rows(self) -> Iterator[tuple[str, str, str, int, str, str | None]]:
        """The ``icd_notes`` rows, with targets resolved against the categories of this file."""
        categories = {code for code in self.seen if len(code) == 3}
        for rid, code, kind, seq, text, targets in self.notes:
            yield rid, code, kind, seq, text, targets_json(text, categories) if targets else None

    def read_notes(self, el: etree._Element, code: str, what: str) -> list[str]:
        """Store the note containers directly under ``el``; return every note text (for rules)."""
        texts: list[str] = []
        for child in el:
            kind = NOTE_KINDS.get(child.tag)
            if kind is None:
                continue
            if len(child) == 0:
                raise self.fail(child, f"<{child.tag}> of {what} has no <note>")
            for note in child:
                if note.tag != "note":
                    raise self.fail(note, f"unexpected element <{note.tag}> in <{child.tag}> of {what}")
                text = self.text_of(note, what)
                self.add_note(code, kind, text)
                texts.append(text)
        return texts

    def read_visual_impairment(self, el: etree._Element, code: str) -> None:
        """The WHO visual impairment table (H54): one ``note`` per category, in words."""
        for category in el:
            if category.tag != "visCategory":
                raise self.fail(category, f"unexpected element <{category.tag}> in <visualImpairment>")
            value = _clean(category.findtext("value"))
            if not value:  # the heading row
                continue
            maxima: list[str] = []
            minima: list[str] = []
            for vis_range in category.iter("visRange"):
                maxima.append(_clean(vis_range.findtext("visMax/value")))
                minima.append(_clean(vis_range.findtext("visMin/value")))
            text = (
                f"Category of visual impairment {value}: visual acuity with best possible correction"
                f" maximum less than {' / '.join(m for m in maxima if m) or 'n/a'};"
                f" minimum equal to or better than {' / '.join(m for m in minima if m) or 'n/a'}"
            )
            self.add_note(code, "note", text, targets=False)

    # --- 7th characters ------------------------------------------------------------------------

    def read_seven_def(self, el: etree._Element, code: str) -> _SevenDef:
        chars: list[tuple[str, str]] = []
        last: tuple[str, str] | None = None
        for child in el:
            if child.tag == "extension":
                char = (child.get("char") or "").strip().upper()
                if not re.fullmatch(r"[0-9A-Z]", char):
                    raise self.fail(child, f"<extension> of {code} has char {child.get('char')!r}")
                if any(c == char for c, _ in chars):
                    raise self.fail(child, f"<sevenChrDef> of {code} defines 7th character {char} twice")
                last = (char, self.text_of(child, code))
                chars.append(last)
                self.seventh.append((self.rid, code, *last))
            elif child.tag == "note":
                text = self.text_of(child, code)
                if last is not None:
                    text = f"7th character {last[0]} ({last[1]}): {text}"
                self.add_note(code, "seventh_note", text, targets=False)
            else:
                raise self.fail(child, f"unexpected element <{child.tag}> in <sevenChrDef> of {code}")
        if not chars:
            raise self.fail(el, f"<sevenChrDef> of {code} has no <extension>")
        return _SevenDef(code, chars)

    def seven_exception(self, el: etree._Element, code: str, text: str, seven: _SevenDef | None) -> None:
        match = SEVENTH_EXCEPTION.search(text)
        values = re.findall(r"(?:^|, or |, | or )([0-9A-Z]) - ", match.group("values")) if match else []
        if match is None or not values or seven is None or match.group("code") != code:
            raise self.fail(el, f"unrecognised 7th-character exception in {code}: {text!r}")
        chars = frozenset(
            re.findall(r"[0-9A-Z]", match.group("chars").replace(" and ", " ").replace(" or ", " "))
        )
        unknown = chars - {c for c, _ in seven.chars}
        if unknown:
            raise self.fail(
                el, f"7th-character exception in {code} names undefined character(s) {sorted(unknown)}"
            )
        seven.exceptions.append((int(match.group("pos")), frozenset(values), chars))

    # --- structure -----------------------------------------------------------------------------

    def read(self, root: etree._Element, release: Release) -> None:
        if root.tag != "ICD10CM.tabular":
            raise self.fail(root, f"root element is <{root.tag}>, expected <ICD10CM.tabular>")
        chapters = 0
        for child in root:
            if child.tag == "version":
                version = _clean(child.text)
                if not re.fullmatch(r"\d{4}", version):
                    raise self.fail(child, f"<version> {version!r} is not a year")
                if release.version.startswith("FY") and release.version != f"FY{version}":
                    raise self.fail(
                        child,
                        f"<version> {version} does not match the file name's fiscal year {release.version}",
                    )
            elif child.tag == "introduction":
                continue
            elif child.tag == "chapter":
                chapters += 1
                self.read_chapter(child)
            else:
                raise self.fail(child, f"unexpected element <{child.tag}> in <ICD10CM.tabular>")
        if chapters == 0:
            raise self.fail(root, "the file has no <chapter>")

    def read_chapter(self, el: etree._Element) -> None:
        self.check_children(el, CHAPTER_CHILDREN, "a <chapter>")
        number = self.required_text(el, "name", "<chapter>")
        if not re.fullmatch(r"\d{1,2}", number):
            raise self.fail(el, f"chapter number {number!r} is not a number")
        self.required_text(el, "desc", f"chapter {number}")
        self.read_notes(el, f"chapter:{number}", f"chapter {number}")
        sections = el.findall("section")
        if not sections:
            raise self.fail(el, f"chapter {number} has no <section>")
        for section in sections:
            self.read_section(section, number)

    def read_section(self, el: etree._Element, chapter: str) -> None:
        section = (el.get("id") or "").strip()
        if not SECTION_ID.fullmatch(section):
            raise self.fail(el, f"<section> has id {el.get('id')!r}, expected e.g. 'E08-E13'")
        what = f"section {section}"
        self.check_children(el, SECTION_CHILDREN, what)
        self.required_text(el, "desc", what)
        self.read_notes(el, section, what)
        for diag in el.findall("diag"):
            self.read_diag(diag, None, 1, chapter, section, None)

    def read_diag(
        self,
        el: etree._Element,
        parent: str | None,
        depth: int,
        chapter: str,
        section: str,
        seven: _SevenDef | None,
    ) -> None:
        what = f"a <diag> under {parent or section}"
        self.check_children(el, DIAG_CHILDREN, what)
        code = self.required_text(el, "name", what).upper()
        if not DOTTED_CODE.fullmatch(code):
            raise self.fail(el, f"<name> {code!r} is not a dotted ICD-10-CM code")
        plain = code.replace(".", "")
        if parent is None:
            if len(plain) != 3:
                raise self.fail(
                    el, f"{code} sits directly in section {section} but is not a 3-character category"
                )
        elif not (
            plain.startswith(parent.replace(".", "")) and len(plain) == len(parent.replace(".", "")) + 1
        ):
            raise self.fail(el, f"{code} is nested under {parent} but does not extend it by one character")
        description = self.required_text(el, "desc", code)
        self.register(el, code)
        self.diags += 1
        texts = self.read_notes(el, code, code)
        for vis in el.findall("visualImpairment"):
            self.read_visual_impairment(vis, code)
        defs = el.findall("sevenChrDef")
        if len(defs) > 1:
            raise self.fail(defs[1], f"{code} has {len(defs)} <sevenChrDef> elements")
        if defs:
            seven = self.read_seven_def(defs[0], code)
        for text in texts:
            if SEVENTH_EXCEPTION_HINT.search(text):
                if seven is not None and seven.code != code:  # an exception for this subtree only
                    seven = _SevenDef(seven.code, seven.chars, list(seven.exceptions))
                self.seven_exception(el, code, text, seven)
        kids = el.findall("diag")
        generate = not kids and seven is not None
        self.codes.append(
            (self.rid, code, description, 0 if kids or generate else 1, parent, chapter, section, depth)
        )
        for kid in kids:
            self.read_diag(kid, code, depth + 1, chapter, section, seven)
        if generate:
            assert seven is not None
            if len(plain) > 6:
                raise self.fail(el, f"{code} has 7 characters but a 7th-character definition applies to it")
            base = plain.ljust(6, "X")
            for char, meaning in seven.chars:
                if any(
                    plain[pos - 1 : pos] in values and char in excluded
                    for pos, values, excluded in seven.exceptions
                ):
                    continue
                full = f"{base[:3]}.{base[3:]}{char}"
                self.register(el, full)
                self.codes.append(
                    (self.rid, full, f"{description}, {meaning}", 1, code, chapter, section, depth + 1)
                )

    def register(self, el: etree._Element, code: str) -> None:
        line = _line(el) or 0
        if code in self.seen:
            raise self.fail(el, f"duplicate code {code} (first at line {self.seen[code]})")
        self.seen[code] = line


def read_tabular(path: Path, release: Release) -> _TabularReader:
    """Parse and verify the tabular XML; the rows are in the returned reader's lists."""
    parser = etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False, no_network=True)
    try:
        tree = etree.parse(str(path), parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise CodesetFormatError(path, line, f"malformed or truncated XML ({exc.msg})") from None
    reader = _TabularReader(path, release)
    reader.read(tree.getroot(), release)
    return reader


def load(conn: sqlite3.Connection, path: Path, release: Release) -> LoadResult:
    reader = read_tabular(path, release)
    conn.executemany("INSERT INTO icd_codes VALUES (?, ?, ?, ?, ?, ?, ?, ?)", reader.codes)
    conn.executemany("INSERT INTO icd_notes VALUES (?, ?, ?, ?, ?, ?)", reader.note_rows())
    conn.executemany("INSERT INTO icd_seventh VALUES (?, ?, ?, ?)", reader.seventh)
    billable = sum(row[3] for row in reader.codes)
    generated = len(reader.codes) - reader.diags
    return LoadResult(
        rows=len(reader.codes),
        notes=(
            f"{reader.diags} <diag> codes + {generated} 7th-character codes ({billable} billable),"
            f" {len(reader.notes)} notes, {len(reader.seventh)} 7th-character definitions",
        ),
    )


def _period(match: re.Match[str]) -> Period:
    return fiscal_year_period(int(match.group(1)))


SPECS: list[DatasetSpec] = [
    DatasetSpec(
        dataset="icd10cm-tabular",
        system="icd10cm",
        pattern=PATTERN,
        period=_period,
        load=load,
        ddl=DDL,
        order=10,
        description="ICD-10-CM Tabular List (codes, hierarchy, instructional notes, 7th characters)",
        official_name="icd10cm_tabular_<year>.xml (or icd10cm-tabular-<year>.xml)",
    )
]
