"""Section detection. (:class:`RuleFile`, the strict rules-file reader, lives in ``chartcode.rulefile``;
it is re-exported here for the text layer's rules classes.)

A section starts at a header and runs to the next header (or the end of the text). Headers are
recognised per line, from the rules in ``data/sections.json`` (header variant -> canonical name):

* ``Title: content`` / ``Title - content`` at the start of a line, Title a known variant
  (``ASSESSMENT AND PLAN:``, ``A/P:``, ``Dx:``, ``PMH:``, ``HPI -``, ``**Plan:**``);
* a line that is only a known variant (``PHYSICAL EXAM``, ``Plan``), with or without ``:``;
* a markdown heading (``## Plan``) or a bold line (``**Hospital Course**``): known -> its name,
  unknown -> ``"other"``;
* an all-caps line of two or more words ending in ``:`` (``DISCHARGE INSTRUCTIONS:``) -> ``"other"``;
* a known variant followed by ``:`` right after a sentence end on the same line
  (``... stable. Plan: continue``).

``data/sections.json``: ``{"name": "family_history", "variants": ["family history", "fh", ...],
"loinc": ["10157-6"], "implies": "FAMILY"}``; ``implies`` is the context a mention gets from being
in the section. Unrecognised headers are named ``"other"``; text before the first header is in no
section. Sub-headers that are known variants (``Vitals:`` inside an exam) start a new section.

Structured inputs (FHIR Composition, C-CDA) also *declare* their section headers; declared headers
win over detected ones at the same place and are named from their LOINC code, then their title.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from chartcode.rulefile import RuleFile  # the strict reader; re-exported here for the text layer

__all__ = [
    "CONTEXT_CATEGORIES",
    "DeclaredHeader",
    "RuleFile",
    "Section",
    "SectionRules",
    "default_section_rules",
    "detect_sections",
    "normalize_title",
]

#: Categories a context rule (and a section's implied context) can carry.
CONTEXT_CATEGORIES = ("NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "HISTORICAL", "FAMILY", "HYPOTHETICAL")


@dataclass(frozen=True, slots=True)
class Section:
    """One section: ``[start, end)`` of ``Document.text``; the header is ``[start, header_end)``."""

    name: str  # canonical name ("assessment_and_plan", ...) or "other" for an unrecognised header
    title: str  # the header as written, without delimiter and markup
    start: int
    end: int
    header_end: int
    declared: bool = False  # header comes from the FHIR/CDA structure, not from text detection
    code: str | None = None  # LOINC section code of a declared header

    @property
    def body(self) -> tuple[int, int]:
        return (self.header_end, self.end)


class DeclaredHeader(NamedTuple):
    """A section header declared by a structured input: its span in the assembled text."""

    start: int
    end: int
    title: str
    code: str | None


_WS = re.compile(r"\s+")
_JOINERS = re.compile(r"\s*([&/])\s*")
_STRIP = " \t\r*_#:-–—.|"


def normalize_title(title: str) -> str:
    """Lower-case, markup and delimiters stripped, whitespace collapsed, ``A & P`` -> ``a&p``."""
    text = _WS.sub(" ", title.strip(_STRIP).lower())
    return _JOINERS.sub(r"\1", text).strip(_STRIP)


class SectionRules:
    """Header variants -> canonical section name, LOINC section codes, implied context."""

    __slots__ = ("_midline", "implied", "loinc", "names", "variants")

    def __init__(self, source: str | Path | None = None) -> None:
        rf = RuleFile(source, "sections.json", "chartcode-sections")
        self.variants: dict[str, str] = {}
        self.loinc: dict[str, str] = {}
        self.implied: dict[str, str] = {}
        names: list[str] = []
        for i, raw in enumerate(rf.items("sections")):
            where = f"sections[{i}]"
            item = rf.obj(raw, where, required=("name", "variants"), optional=("loinc", "implies", "comment"))
            name = rf.string(item["name"], f"{where}.name")
            if not re.fullmatch(r"[a-z][a-z_]*", name) or name == "other":
                rf.fail(f"{where}.name", "must be lower_snake_case and not 'other'")
            if name in names:
                rf.fail(f"{where}.name", f"duplicate section name {name!r}")
            names.append(name)
            for j, variant in enumerate(rf.strings(item["variants"], f"{where}.variants")):
                key = normalize_title(variant)
                if not key:
                    rf.fail(f"{where}.variants[{j}]", "is empty after normalisation")
                if key in self.variants and self.variants[key] != name:
                    rf.fail(
                        f"{where}.variants[{j}]", f"{variant!r} already belongs to {self.variants[key]!r}"
                    )
                self.variants[key] = name
            for j, code in enumerate(rf.strings(item.get("loinc", []), f"{where}.loinc", allow_empty=True)):
                if not re.fullmatch(r"\d{1,7}-\d", code):
                    rf.fail(f"{where}.loinc[{j}]", "must be a LOINC code like 10164-2")
                if code in self.loinc:
                    rf.fail(f"{where}.loinc[{j}]", f"LOINC code {code} is listed twice")
                self.loinc[code] = name
            if "implies" in item:
                self.implied[name] = rf.choice(item["implies"], f"{where}.implies", CONTEXT_CATEGORIES)
        self.names = tuple(names)
        alternatives = sorted(self.variants, key=len, reverse=True)
        pattern = "|".join(
            re.escape(v).replace(r"\ ", r"[ \t]+").replace("&", r"[ \t]*&[ \t]*") for v in alternatives
        )
        pattern = pattern.replace("/", r"[ \t]*/[ \t]*")
        self._midline = re.compile(rf"(?:{pattern})[ \t]*:", re.IGNORECASE)

    def lookup(self, title: str) -> str | None:
        """Canonical name of a header title, or None. Tries the title, then without a plural ``s``."""
        key = title.strip(_STRIP).lower()
        name = self.variants.get(key)
        if name is not None:
            return name
        if "(" in key:  # "Immunizations (VIS given)", "Medications (reviewed)"
            bare = _PARENTHETICAL.sub(" ", key).strip(_STRIP)
            if bare and bare != key:
                return self.lookup(bare)
        if len(key) > 80 or key.count(" ") > 8:
            return None
        key = normalize_title(key)
        name = self.variants.get(key)
        if name is None and key.endswith("s"):
            name = self.variants.get(key[:-1])
        return name


@lru_cache(maxsize=1)
def default_section_rules() -> SectionRules:
    """The packaged rules (``data/sections.json``), loaded once."""
    return SectionRules()


_LIST_MARK = re.compile(r"[ \t]*(?:[-*•·–]|\d{1,2}[.)])[ \t]")
_LIST_FIRST = frozenset("-*•·–0123456789")
_DASH = re.compile(r"(.{1,60}?)[ \t]+([-–—]+)[ \t]+\S")
_SENTENCE_END = re.compile(r"(?<![\d\s])[.!?][ \t]+(?=[A-Z])")  # not "1. Plan:" (a list number)
_CAPS_WORD = re.compile(r"[A-Z][A-Z'/&]*")


class _Header(NamedTuple):
    start: int
    header_end: int
    name: str
    title: str
    declared: bool
    code: str | None


def _line_header(line: str, base: int, rules: SectionRules) -> _Header | None:
    """The header at the start of one line (``base`` = offset of the line), or None."""
    stripped = line.strip()
    if not stripped or len(stripped) > 200:
        return None
    colon = stripped.find(":", 1, 61)
    if colon < 0:  # "Immunizations (parent counseled on each vaccine, VIS given):"
        paren = _TITLE_WITH_PARENTHETICAL.match(stripped)
        if paren is not None:
            colon = paren.end() - 1
    if colon < 0 and len(stripped) > 80 and stripped[0] not in "#*_" and " -" not in stripped[:62]:
        return None
    lead = len(line) - len(line.lstrip())
    start = base + lead
    if stripped[0] in _LIST_FIRST and _LIST_MARK.match(
        line
    ):  # "- PE" / "1. Plan" are list items, not headers
        return None
    markdown = stripped.startswith("#")
    bold = stripped.startswith(("**", "__"))
    if colon > 0:
        title = stripped[:colon]
        name = rules.lookup(title)
        if name is not None:
            end = colon + 1
            while end < len(stripped) and stripped[end] in "*_":
                end += 1
            return _Header(start, start + end, name, title.strip(_STRIP), False, None)
    head = stripped[:64]
    dash = _DASH.match(stripped) if (" -" in head or "–" in head or "—" in head) else None
    if dash is not None:
        name = rules.lookup(dash.group(1))
        if name is not None:
            end = dash.end(2)  # the header includes the dash(es)
            return _Header(start, start + end, name, dash.group(1).strip(_STRIP), False, None)
    if len(stripped) <= 80:
        name = rules.lookup(stripped)
        if name is not None:
            return _Header(start, start + len(stripped), name, stripped.strip(_STRIP), False, None)
        if markdown and _problem_item(stripped):
            return None
        if (markdown or (bold and stripped.rstrip(":").endswith(("**", "__")))) and normalize_title(stripped):
            return _Header(start, start + len(stripped), "other", stripped.strip(_STRIP), False, None)
        body = stripped[:-1].strip()
        if (
            stripped.endswith(":")
            and len(_CAPS_WORD.findall(body)) >= 2
            and body.upper() == body
            and all(w.isalpha() or w in "&/" for w in body.replace("/", " / ").split())
        ):
            return _Header(start, start + len(stripped), "other", body, False, None)
    return None


_PARENTHETICAL = re.compile(r"\s*\([^()]*\)")
_TITLE_WITH_PARENTHETICAL = re.compile(r"[^:()]{2,40}\([^():]{0,100}\)\s*:")


def _problem_item(stripped: str) -> bool:
    """``# Hypertension - continue lisinopril`` or ``#2 CKD`` is an item of a problem-oriented
    assessment, not a markdown heading: one ``#`` followed by a number, or by a problem with its plan
    (a dash, colon, semicolon or comma) or more than six words. Known section names were matched before."""
    if stripped.startswith("##"):
        return False
    rest = stripped[1:].strip()
    return bool(rest) and (
        rest[0].isdigit() or any(p in rest for p in (" - ", " – ", ":", ";", ",")) or len(rest.split()) > 6
    )


def detect_sections(
    text: str, rules: SectionRules | None = None, declared: Sequence[DeclaredHeader] = ()
) -> tuple[Section, ...]:
    """Sections of ``text`` in order. Text before the first header belongs to no section."""
    rules = rules or default_section_rules()
    headers: list[_Header] = [
        _Header(
            d.start,
            d.end,
            (rules.loinc.get(d.code) if d.code else None) or rules.lookup(d.title) or "other",
            d.title,
            True,
            d.code,
        )
        for d in declared
    ]
    declared_spans = [(d.start, d.end) for d in declared]
    n = len(text)
    pos = 0
    line_spans: list[tuple[int, int]] = []
    while pos <= n:
        nl = text.find("\n", pos)
        if nl < 0:
            nl = n
        found = _line_header(text[pos:nl], pos, rules)
        if found is not None and not any(
            a <= found.start < b or found.start <= a < found.header_end for a, b in declared_spans
        ):
            headers.append(found)
            line_spans.append((found.start, found.header_end))
        pos = nl + 1
    for m in _SENTENCE_END.finditer(text):
        at = m.end()
        hit = rules._midline.match(text, at)
        if hit is None:
            continue
        if any(a <= at < b for a, b in line_spans) or any(a <= at < b for a, b in declared_spans):
            continue
        title = text[at : hit.end() - 1]
        name = rules.lookup(title)
        if name is not None:
            headers.append(_Header(at, hit.end(), name, title.strip(_STRIP), False, None))
    headers.sort(key=lambda h: (h.start, not h.declared))
    unique: list[_Header] = []
    for h in headers:
        if unique and h.start < unique[-1].header_end:
            continue
        unique.append(h)
    sections = []
    for i, h in enumerate(unique):
        end = unique[i + 1].start if i + 1 < len(unique) else n
        sections.append(Section(h.name, h.title, h.start, end, h.header_end, h.declared, h.code))
    return tuple(sections)
