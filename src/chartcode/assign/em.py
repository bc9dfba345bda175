"""E/M leveling: the evaluation and management code a note supports, by MDM or by total time.

Pure text (no knowledge base). Rules are data in ``data/em_rules.json`` (families, code thresholds,
cue phrases for each MDM element, time and family patterns, flags), validated strictly when loaded.

How a note is read:

* **Is it an E/M visit?** No, when the title or chief complaint says it is a procedure note, an
  injection/vaccine visit or a lab draw and the note has no separate history *and* assessment; no,
  when it has neither visit sections (chief complaint, HPI, assessment, plan, exam...) nor a family
  cue. Otherwise yes.
* **Family**: emergency department (title, an ``ED Course`` section, "presents to the ED") first;
  then consultation (the note says consult/consultation; inpatient when ``options.setting`` is
  inpatient or the note says so); hospital discharge day; hospital initial ("H&P", "will admit") or
  subsequent ("hospital day 2", "progress note"; the default for an inpatient note); else
  office/outpatient, new only when the note says new patient/establish care, else established.
* **MDM** (2 of 3): *problems* are the distinct items of the assessment (numbered/bulleted items,
  or one per sentence that names a problem), each classified by the strongest cue in it (threat to
  life, severe exacerbation, systemic, undiagnosed, complicated injury, chronic worse/stable, acute
  uncomplicated, minor); *data* counts unique tests ordered or reviewed, external notes, an
  independent historian, independent interpretation and discussion with an external professional;
  *risk* is the highest-risk management decision in the assessment/plan. Cues that are negated,
  conditional ("if", "should", "consider"), about family or (for problems and risk) historical do
  not count; a planned action ("will start", "plan to") does.
* **Time**: total practitioner time on the date ("total time 35 minutes", "I spent 42 min") against
  the family's thresholds (not for the ED). When both are documented the higher level is reported.
* **99211 / 99281** only when the note says it is a nurse (clinical staff) visit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from chartcode.assign.api import CodingOptions, Evidence
from chartcode.errors import InputError
from chartcode.rulefile import RuleFile
from chartcode.text.context import Mention, TermMatcher, find_mentions
from chartcode.text.document import Document, build_document
from chartcode.text.sections import DeclaredHeader
from chartcode.text.sentences import phrase_key

__all__ = [
    "LEVELS",
    "EmBilledCodeError",
    "EmElement",
    "EmFlag",
    "EmResult",
    "EmRules",
    "EmRulesError",
    "default_em_rules",
    "level_em",
]

LEVELS = ("straightforward", "low", "moderate", "high")
_RANK = {name: i for i, name in enumerate(LEVELS)}
_ELEMENTS = ("problems", "data", "risk", "visit", "ignore")
_PROBLEM_CUE_KINDS = (
    "threat",
    "chronic_severe",
    "acute_systemic",
    "undiagnosed",
    "acute_complicated_injury",
    "acute_uncomplicated",
    "minor",
    "chronic_condition",
    "status_stable",
    "status_worse",
)
_DATA_KINDS = ("order", "review", "external_notes", "historian", "interpretation", "discussion")
_VISIT_KINDS = ("new_patient", "established", "nurse_only")
_FAMILY_TARGETS = (
    "ed",
    "consult",
    "hospital_discharge",
    "hospital_initial",
    "hospital_subsequent",
    "inpatient",
    "no_em",
    "preventive",
)
#: Problem kinds from strongest to weakest (ties in level are broken by this order).
_KIND_ORDER = (
    "threat",
    "chronic_severe",
    "acute_systemic",
    "undiagnosed",
    "acute_complicated_injury",
    "chronic_worse",
    "chronic_stable",
    "acute_uncomplicated",
    "stable_acute",
    "unspecified",
    "minor",
)
_FLAG_IDS = ("EM-UPCODE-RISK", "EM-DOWNCODE-RISK", "EM-FAMILY-MISMATCH", "EM-PROLONGED")
_PACKAGED_FIX = "reinstall chartcode; the packaged E/M rules file is damaged."
_FILE_FIX = "correct the file so it follows the schema of chartcode/assign/data/em_rules.json."


class EmRulesError(InputError):
    """The E/M rules file is unreadable or does not follow its schema."""

    code = "CC400"


class EmBilledCodeError(InputError):
    """The billed E/M code given for comparison is not shaped like a CPT/HCPCS code."""

    code = "CC401"


@dataclass(frozen=True, slots=True)
class EmElement:
    name: str  # problems | data | risk
    level: str  # straightforward | low | moderate | high
    reasons: tuple[str, ...]
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True, slots=True)
class EmFlag:
    id: str
    severity: str  # error | warning | info
    message: str
    fix: str
    citation: str


@dataclass(frozen=True, slots=True)
class EmResult:
    code: str
    level: int  # 1..5 within the family
    family: str
    method: str  # MDM | time
    mdm: str  # the MDM level the documentation supports (straightforward | low | moderate | high)
    minutes: int | None
    grid: tuple[EmElement, ...]
    evidence: tuple[Evidence, ...]
    flags: tuple[EmFlag, ...]
    rationale: str
    modifiers: tuple[str, ...] = ()
    dx_pointers: tuple[int, ...] = ()


# --- rules ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Code:
    code: str
    level: int
    mdm: str | None
    minutes: int | None
    label: str


@dataclass(frozen=True, slots=True)
class _Prolonged:
    cpt: str
    cpt_from: int
    cms: str
    cms_from: int
    per: int


@dataclass(frozen=True, slots=True)
class _Family:
    id: str
    label: str
    time: bool
    codes: tuple[_Code, ...]
    prolonged: _Prolonged | None


@dataclass(frozen=True, slots=True)
class _Cue:
    id: str
    element: str
    kind: str
    level: str | None
    not_in_families: frozenset[str]


@dataclass(frozen=True, slots=True)
class _FamilyPattern:
    id: str
    family: str
    where: str  # title | text
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _ProblemKind:
    id: str
    level: str
    two_or_more: str | None
    label: str


_TOP_KEYS = (
    "format",
    "version",
    "levels",
    "families",
    "problem_kinds",
    "cues",
    "conditional_triggers",
    "result_triggers",
    "external_parties",
    "tests",
    "rx_drugs",
    "rx_suffixes",
    "dose_pattern",
    "time_patterns",
    "family_patterns",
    "management_sections",
    "problem_sections",
    "excluded_sections",
    "data_excluded_sections",
    "visit_sections",
    "section_aliases",
    "separately_reported_tests",
    "in_office_pattern",
    "flags",
)


class EmRules:
    """The E/M rules (``data/em_rules.json`` or a file of the same schema), validated when loaded."""

    def __init__(self, source: str | Path | None = None) -> None:
        r = RuleFile(
            source,
            "em_rules.json",
            "chartcode-em-rules",
            package="chartcode.assign",
            error=EmRulesError,
            label="E/M rules file",
            file_fix=_FILE_FIX,
            packaged_fix=_PACKAGED_FIX,
            required=_TOP_KEYS,
            optional=("comment",),
        )
        top = r.data
        if top["levels"] != list(LEVELS):
            r.fail("levels", f"must be {list(LEVELS)}")
        self.families: dict[str, _Family] = {}
        self.code_index: dict[str, tuple[_Family, _Code]] = {}
        for i, raw_family in enumerate(r.items("families")):
            self._family(r, raw_family, f"families[{i}]")
        for needed in (
            "office_new",
            "office_established",
            "ed",
            "hospital_initial",
            "hospital_subsequent",
            "hospital_discharge",
            "office_consult",
            "inpatient_consult",
        ):
            if needed not in self.families:
                r.fail("families", f"family {needed!r} is missing")
        self.problem_kinds: dict[str, _ProblemKind] = {}
        if not isinstance(top["problem_kinds"], list):
            r.fail("problem_kinds", "must be a list")
        for i, raw_kind in enumerate(top["problem_kinds"]):
            where = f"problem_kinds[{i}]"
            item = r.obj(raw_kind, where, ("id", "level", "label"), ("two_or_more",))
            kid = r.choice(item["id"], f"{where}.id", _KIND_ORDER)
            if kid in self.problem_kinds:
                r.fail(f"{where}.id", f"duplicate kind {kid!r}")
            self.problem_kinds[kid] = _ProblemKind(
                kid,
                r.choice(item["level"], f"{where}.level", LEVELS),
                r.choice(item.get("two_or_more"), f"{where}.two_or_more", LEVELS, nullable=True),
                r.string(item["label"], f"{where}.label"),
            )
        for kid in _KIND_ORDER:
            if kid not in self.problem_kinds:
                r.fail("problem_kinds", f"kind {kid!r} is missing")
        self.cues: dict[str, _Cue] = {}
        self.tests: dict[str, str] = {}
        owner: dict[str, str] = {}
        terms: list[str] = []

        def claim(phrase: str, where: str, who: str) -> str:
            key = phrase_key(phrase)
            if not key:
                r.fail(where, "has no words after normalisation")
            if key in owner and owner[key] != who:
                r.fail(where, f"{phrase!r} is already a phrase of {owner[key]}")
            owner[key] = who
            terms.append(phrase)
            return key

        ids: set[str] = set()
        for i, raw_cue in enumerate(r.items("cues")):
            where = f"cues[{i}]"
            item = r.obj(raw_cue, where, ("id", "element", "kind", "phrases"), ("level", "not_in_families"))
            cid = r.string(item["id"], f"{where}.id")
            if cid in ids:
                r.fail(f"{where}.id", f"duplicate id {cid!r}")
            ids.add(cid)
            element = r.choice(item["element"], f"{where}.element", _ELEMENTS)
            kinds: Sequence[str] = {
                "problems": _PROBLEM_CUE_KINDS,
                "data": _DATA_KINDS,
                "visit": _VISIT_KINDS,
                "ignore": ("ignore",),
            }.get(element, ())
            kind = r.string(item["kind"], f"{where}.kind")
            if kinds and kind not in kinds:
                r.fail(f"{where}.kind", f"must be one of {', '.join(kinds)} for element {element}")
            level = None
            if element == "risk":
                if "level" not in item:
                    r.fail(where, "a risk cue needs a level")
                level = r.choice(item["level"], f"{where}.level", LEVELS)
            elif "level" in item:
                r.fail(f"{where}.level", "is only allowed on risk cues")
            blocked = frozenset(
                r.choice(f, f"{where}.not_in_families[{j}]", tuple(self.families))
                for j, f in enumerate(item.get("not_in_families", []))
            )
            cue = _Cue(cid, element, kind, level, blocked)
            for j, phrase in enumerate(r.strings(item["phrases"], f"{where}.phrases")):
                self.cues[claim(phrase, f"{where}.phrases[{j}]", cid)] = cue
        if not isinstance(top["tests"], dict) or not top["tests"]:
            r.fail("tests", "must be a non-empty object of test name -> phrases")
        for name, variants in top["tests"].items():
            for j, phrase in enumerate(r.strings(variants, f"tests[{name!r}]")):
                self.tests[claim(phrase, f"tests[{name!r}][{j}]", f"test {name!r}")] = name
        self.conditional = frozenset(
            " ".join(t.lower().split())
            for t in r.strings(top["conditional_triggers"], "conditional_triggers")
        )
        self.result_triggers = frozenset(
            " ".join(t.lower().split()) for t in r.strings(top["result_triggers"], "result_triggers")
        )
        parties = sorted(r.strings(top["external_parties"], "external_parties"), key=len, reverse=True)
        self.external_party = re.compile(
            r"\b(?:" + "|".join(re.escape(p) for p in parties) + r")\b", re.IGNORECASE
        )
        self.rx_drugs = frozenset(p.lower() for p in r.strings(top["rx_drugs"], "rx_drugs"))
        drug_cue = _Cue("RISK-RX-DRUG", "risk", "rx_drug", "moderate", frozenset())
        for j, phrase in enumerate(sorted(self.rx_drugs)):
            self.cues[claim(phrase, f"rx_drugs[{j}]", "rx_drugs")] = drug_cue
        self.matcher = TermMatcher(terms)
        self.rx_suffixes = tuple(p.lower() for p in r.strings(top["rx_suffixes"], "rx_suffixes"))
        self.dose = r.regex(top["dose_pattern"], "dose_pattern")
        self.time_patterns = tuple(
            r.regex(p, f"time_patterns[{i}]", "minutes")
            for i, p in enumerate(r.strings(top["time_patterns"], "time_patterns"))
        )
        self.family_patterns: list[_FamilyPattern] = []
        for i, raw_pattern in enumerate(r.items("family_patterns")):
            where = f"family_patterns[{i}]"
            item = r.obj(raw_pattern, where, ("id", "family", "where", "pattern"))
            self.family_patterns.append(
                _FamilyPattern(
                    r.string(item["id"], f"{where}.id"),
                    r.choice(item["family"], f"{where}.family", _FAMILY_TARGETS),
                    r.choice(item["where"], f"{where}.where", ("title", "text")),
                    r.regex(item["pattern"], f"{where}.pattern"),
                )
            )
        self.management_sections = frozenset(r.strings(top["management_sections"], "management_sections"))
        self.problem_sections = frozenset(r.strings(top["problem_sections"], "problem_sections"))
        self.excluded_sections = frozenset(r.strings(top["excluded_sections"], "excluded_sections"))
        self.visit_sections = frozenset(r.strings(top["visit_sections"], "visit_sections"))
        self.data_excluded_sections = frozenset(
            r.strings(top["data_excluded_sections"], "data_excluded_sections")
        )
        aliases = top["section_aliases"]
        if not isinstance(aliases, dict) or not aliases:
            r.fail("section_aliases", "must be a non-empty object of header -> section name")
        self.section_aliases = {
            " ".join(k.lower().split()): r.string(v, f"section_aliases[{k!r}]") for k, v in aliases.items()
        }
        self.alias_header = re.compile(
            r"^[ \t]*(?:\*\*)?("
            + "|".join(re.escape(k) for k in sorted(self.section_aliases, key=len, reverse=True))
            + r")(?:\*\*)?[ \t]*:",
            re.IGNORECASE | re.MULTILINE,
        )
        self.separately_reported = frozenset(
            r.strings(top["separately_reported_tests"], "separately_reported_tests")
        )
        for j, name in enumerate(sorted(self.separately_reported)):
            if name not in top["tests"]:
                r.fail(f"separately_reported_tests[{j}]", f"{name!r} is not a test name of 'tests'")
        self.in_office = r.regex(top["in_office_pattern"], "in_office_pattern")
        self.flags: dict[str, tuple[str, str]] = {}
        if not isinstance(top["flags"], list):
            r.fail("flags", "must be a list")
        for i, raw_flag in enumerate(top["flags"]):
            where = f"flags[{i}]"
            item = r.obj(raw_flag, where, ("id", "severity", "citation"))
            fid = r.choice(item["id"], f"{where}.id", _FLAG_IDS)
            self.flags[fid] = (
                r.choice(item["severity"], f"{where}.severity", ("error", "warning", "info")),
                r.string(item["citation"], f"{where}.citation"),
            )
        for fid in _FLAG_IDS:
            if fid not in self.flags:
                r.fail("flags", f"flag {fid!r} is missing")

    def _family(self, r: RuleFile, raw: Any, where: str) -> None:
        item = r.obj(raw, where, ("id", "label", "time", "codes"), ("prolonged",))
        fid = r.string(item["id"], f"{where}.id")
        if fid in self.families:
            r.fail(f"{where}.id", f"duplicate family {fid!r}")
        codes: list[_Code] = []
        if not isinstance(item["codes"], list) or not item["codes"]:
            r.fail(f"{where}.codes", "must be a non-empty list")
        for j, raw_code in enumerate(item["codes"]):
            cw = f"{where}.codes[{j}]"
            c = r.obj(raw_code, cw, ("code", "level", "mdm", "minutes", "label"))
            code = r.string(c["code"], f"{cw}.code")
            if not re.fullmatch(r"\d{5}", code):
                r.fail(f"{cw}.code", "must be a 5-digit CPT code number")
            if code in self.code_index:
                r.fail(f"{cw}.code", f"{code} is already in family {self.code_index[code][0].id!r}")
            level = r.integer(c["level"], f"{cw}.level")
            if level > 5 or (codes and level <= codes[-1].level):
                r.fail(f"{cw}.level", "must be 1..5 and increase within the family")
            codes.append(
                _Code(
                    code,
                    level,
                    r.choice(c["mdm"], f"{cw}.mdm", LEVELS, nullable=True),
                    r.integer(c["minutes"], f"{cw}.minutes", nullable=True),
                    r.string(c["label"], f"{cw}.label"),
                )
            )
        prolonged = None
        if "prolonged" in item:
            p = r.obj(item["prolonged"], f"{where}.prolonged", ("cpt", "cpt_from", "cms", "cms_from", "per"))
            prolonged = _Prolonged(
                r.string(p["cpt"], f"{where}.prolonged.cpt"),
                r.integer(p["cpt_from"], f"{where}.prolonged.cpt_from"),
                r.string(p["cms"], f"{where}.prolonged.cms"),
                r.integer(p["cms_from"], f"{where}.prolonged.cms_from"),
                r.integer(p["per"], f"{where}.prolonged.per"),
            )
        family = _Family(
            fid,
            r.string(item["label"], f"{where}.label"),
            r.boolean(item["time"], f"{where}.time"),
            tuple(codes),
            prolonged,
        )
        self.families[fid] = family
        for c2 in codes:
            self.code_index[c2.code] = (family, c2)


@lru_cache(maxsize=1)
def default_em_rules() -> EmRules:
    """The packaged rules (``data/em_rules.json``), loaded once."""
    return EmRules()


# --- reading the note ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hit:
    """A cue or test mention that counts (context checked)."""

    mention: Mention
    cue: _Cue | None
    test: str | None

    @property
    def kind(self) -> str:
        return self.cue.kind if self.cue is not None else "test"


def _ev(doc: Document, start: int, end: int) -> Evidence:
    return Evidence(start, end, doc.text[start:end])


def _mev(doc: Document, m: Mention) -> Evidence:
    return _ev(doc, m.start, m.end)


def _sort(evidence: Iterable[Evidence]) -> tuple[Evidence, ...]:
    return tuple(sorted(set(evidence), key=lambda e: (e.start, e.end)))


class _Reading:
    """Everything level_em needs from one document. The cue mentions are found on first use: most notes
    that are no E/M visit are settled by their sections and family patterns alone."""

    def __init__(self, doc: Document, rules: EmRules) -> None:
        self.doc = doc
        self.rules = rules
        # section of each sentence: the text layer's, or a SOAP/MDM header it does not know ("A:", "MDM:")
        bounds = [(sec.start, sec.name) for sec in doc.sections]
        bounds.extend(
            (m.start(), rules.section_aliases[" ".join(m.group(1).lower().split())])
            for m in rules.alias_header.finditer(doc.text)
        )
        bounds.sort()
        self.sections: list[str | None] = []
        k = -1
        for sentence in doc.sentences:
            while k + 1 < len(bounds) and bounds[k + 1][0] <= sentence.start:
                k += 1
            self.sections.append(bounds[k][1] if k >= 0 else None)
        self.section_names = {name for name in self.sections if name is not None}

    @cached_property
    def mentions(self) -> tuple[Mention, ...]:
        return find_mentions(self.doc, self.rules.matcher)

    @cached_property
    def by_sentence(self) -> dict[int, list[Mention]]:
        out: dict[int, list[Mention]] = {}
        for m in self.mentions:
            out.setdefault(m.sentence, []).append(m)
        return out

    def lookup(self, m: Mention) -> tuple[_Cue | None, str | None]:
        key = phrase_key(m.term)
        return self.rules.cues.get(key), self.rules.tests.get(key)

    def counts(self, m: Mention, *, historical: bool, family: bool, results: bool = False) -> bool:
        """Does the mention count: not negated, not conditional, not family/historical when asked.

        ``results``: a negation that reports a test result ("strep negative") does not stop it.
        """
        c = m.context
        if c.negated and not (
            results
            and all(
                " ".join(cue.text.lower().split()) in self.rules.result_triggers
                for cue in c.cues
                if cue.category == "negated"
            )
        ):
            return False
        if c.hypothetical and any(
            cue.category == "hypothetical" and " ".join(cue.text.lower().split()) in self.rules.conditional
            for cue in c.cues
        ):
            return False
        if family and c.family:
            return False
        return not (historical and c.historical)

    def hits(self, sentence: int, *, historical: bool, family: bool, results: bool = False) -> list[_Hit]:
        out = []
        for m in self.by_sentence.get(sentence, []):
            cue, test = self.lookup(m)
            if (cue is None or cue.element == "ignore") and test is None:
                continue
            if self.counts(m, historical=historical, family=family, results=results):
                out.append(_Hit(m, cue, test))
        return out

    def sentences_in(
        self, names: Iterable[str] | None, *, exclude: frozenset[str] = frozenset()
    ) -> list[int]:
        wanted = None if names is None else set(names)
        return [
            s.index
            for s in self.doc.sentences
            if not s.is_header
            and (wanted is None or self.sections[s.index] in wanted)
            and (self.sections[s.index] or "") not in exclude
        ]

    def management_sentences(self) -> list[int]:
        if self.section_names & self.rules.management_sections:
            return self.sentences_in(self.rules.management_sections)
        return self.sentences_in(None, exclude=self.rules.excluded_sections)


# --- family --------------------------------------------------------------------------------------

_BLOCKING_WORDS = re.compile(
    r"\b(?:if|should|unless|in case|no|not|never|denies|consider|considering)\b", re.I
)


#: In a title, a cue after these words is about another encounter ("follow-up after cardiology consult").
_TITLE_BLOCKING = re.compile(
    r"\b(?:after|following|post|prior|previous|recent|since|s/p|if|no|not|return\s+to)\b", re.I
)


@dataclass(frozen=True, slots=True)
class _FamilyHit:
    family: str
    where: str
    evidence: Evidence


def _family_hits(doc: Document, rules: EmRules) -> list[_FamilyHit]:
    text = doc.text
    first = doc.sections[0].start if doc.sections else len(text)
    title_spans: list[tuple[int, int]] = []
    line_end = text.find("\n", len(text) - len(text.lstrip()))
    line_end = len(text) if line_end < 0 else line_end
    lead = len(text) - len(text.lstrip())
    if line_end - lead <= 120:  # a first line that is a title, not the start of a narrative
        title_spans.append((lead, line_end))
    if 0 < first <= 300 and first > line_end:
        title_spans.append((lead, first))
    title_spans.extend((s.start, s.header_end) for s in doc.sections)
    out: list[_FamilyHit] = []
    for fp in rules.family_patterns:
        if fp.where == "title":
            for a, b in title_spans:
                m = fp.regex.search(text, a, b)
                if m is not None and not _TITLE_BLOCKING.search(text, a, m.start()):
                    out.append(_FamilyHit(fp.family, "title", _ev(doc, m.start(), m.end())))
                    break
            continue
        for m in fp.regex.finditer(text):
            sentence = doc.sentence_at(m.start())
            if sentence is not None:
                if (sentence.section or "") in rules.excluded_sections:
                    continue
                if _BLOCKING_WORDS.search(text, sentence.start, m.start()):
                    continue
            out.append(_FamilyHit(fp.family, "text", _ev(doc, m.start(), m.end())))
            break
    return out


# --- MDM elements --------------------------------------------------------------------------------

_MARKER = re.compile(r"\s*(?:\d{1,2}[.)]|#\d*|[-*•·]|[a-zA-Z][)])\s*")
_NUMBERED = re.compile(r"(?:\d{1,2}[.)]|#\d+)\s")  # "2. Obesity." split off "1. DM2. 2. Obesity."
_ALIAS_PREFIX = re.compile(r"[ \t]*(?:\*\*)?[A-Za-z/ ]{1,30}(?:\*\*)?[ \t]*:[ \t]*")


@dataclass(frozen=True, slots=True)
class _Problem:
    kind: str
    key: str
    evidence: tuple[Evidence, ...]
    words: str  # the cue words in the note that classified it


_Span = tuple[int, int]


def _classify(reading: _Reading, item: Sequence[_Span]) -> _Problem | None:
    doc = reading.doc
    hits = [
        h
        for a, b in item
        for i in {s.index for s in doc.sentences if s.start < b and a < s.end}
        for h in reading.hits(i, historical=True, family=True)
        if h.cue is not None and h.cue.element == "problems" and a <= h.mention.start < b
    ]
    hits.sort(key=lambda h: h.mention.start)
    if not hits:
        return None
    by_kind: dict[str, list[_Hit]] = {}
    for h in hits:
        by_kind.setdefault(h.kind, []).append(h)
    chronic = by_kind.get("chronic_condition", [])
    worse = by_kind.get("status_worse", [])
    stable = by_kind.get("status_stable", [])
    direct = [k for k in by_kind if k not in ("chronic_condition", "status_worse", "status_stable")]
    acute_named = any(
        k in by_kind for k in ("acute_uncomplicated", "minor", "acute_systemic", "acute_complicated_injury")
    )
    candidates: dict[str, list[_Hit]] = {k: by_kind[k] for k in direct}
    if worse and (chronic or not acute_named):
        candidates["chronic_worse"] = chronic + worse
    if chronic and not worse:
        candidates["chronic_stable"] = chronic + stable
    if stable and not chronic and not direct:
        candidates["stable_acute"] = stable
    if not candidates:
        return None
    kinds = reading.rules.problem_kinds
    best = max(candidates, key=lambda k: (_RANK[kinds[k].level], -_KIND_ORDER.index(k)))
    support = candidates[best]
    named = [h for h in hits if h.kind not in ("status_worse", "status_stable")]
    key_hit = named[0] if named else support[0]
    return _Problem(
        best,
        key_hit.mention.normalized,
        tuple(_mev(doc, h.mention) for h in support),
        ", ".join(dict.fromkeys(h.mention.text for h in support)),
    )


def _problem_items(reading: _Reading) -> tuple[list[list[_Span]], bool]:
    """Text spans, one group per assessed item; the flag says whether the items are explicit (listed).

    Listed items (``1.``, ``#``, ``-``) run to the next marker; otherwise every sentence is an item
    and a sentence listing problems with ``;`` is one item per part.
    """
    doc = reading.doc
    rules = reading.rules
    if reading.section_names & rules.problem_sections:
        names: frozenset[str] | None = rules.problem_sections
    elif "plan" in reading.section_names:
        names = frozenset({"plan"})
    else:
        names = None
    indices = reading.sentences_in(names, exclude=frozenset() if names else rules.excluded_sections)
    groups: list[list[tuple[int, int, bool]]] = []  # per section run: (start, end, marked)
    previous: str | None = None
    for n, i in enumerate(indices):
        sentence = doc.sentences[i]
        start = sentence.start
        alias = _ALIAS_PREFIX.match(doc.text, start, sentence.end)
        if alias is not None and rules.alias_header.match(doc.text, start) is not None:
            start = alias.end()  # "A: cystitis": the item starts after the SOAP header
        marked = _NUMBERED.match(doc.text, start) is not None or (
            _MARKER.match(doc.text, start) is not None and _line_start(doc.text, start)
        )
        section = reading.sections[i]
        if n == 0 or section != previous or (groups and indices[n - 1] != i - 1 and not marked):
            groups.append([])
        groups[-1].append((start, sentence.end, marked))
        previous = section
    items: list[list[_Span]] = []
    listed = False
    for group in groups:
        if any(marked for _, _, marked in group):
            listed = True
            for k, (a, b, marked) in enumerate(group):
                if marked or k == 0:
                    items.append([])
                items[-1].append((a, b))
        else:
            items.extend([part] for a, b, _ in group for part in _semicolon_parts(doc.text, a, b))
    return items, listed


def _semicolon_parts(text: str, start: int, end: int) -> list[_Span]:
    parts = []
    a = start
    for k in range(start, end):
        if text[k] == ";":
            parts.append((a, k))
            a = k + 1
    parts.append((a, end))
    return [(x, y) for x, y in parts if text[x:y].strip()]


def _line_start(text: str, at: int) -> bool:
    k = at - 1
    while k >= 0 and text[k] in " \t":
        k -= 1
    return k < 0 or text[k] == "\n" or text[k] == ":"


def _problems(reading: _Reading) -> tuple[EmElement, list[_Problem]]:
    items, listed = _problem_items(reading)
    doc = reading.doc
    kinds = reading.rules.problem_kinds
    problems: list[_Problem] = []
    seen: dict[str, int] = {}
    for item in items:
        found = _classify(reading, item)
        if found is None:
            if not listed:
                continue
            a, b = item[0]
            found = _Problem("unspecified", f"item{a}", (_ev(doc, a, b),), "")
        if found.key in seen:  # the same problem named again (e.g. in the assessment and the plan)
            k = seen[found.key]
            if _RANK[kinds[found.kind].level] > _RANK[kinds[problems[k].kind].level]:
                problems[k] = found
            continue
        seen[found.key] = len(problems)
        problems.append(found)
    if not problems and items:  # a visit with an assessment that names no known problem
        a, b = items[0][0]
        problems.append(_Problem("unspecified", "item", (_ev(doc, a, b),), ""))
    level = "straightforward"
    for p in problems:
        if _RANK[kinds[p.kind].level] > _RANK[level]:
            level = kinds[p.kind].level
    counts: dict[str, int] = {}
    for p in problems:
        counts[p.kind] = counts.get(p.kind, 0) + 1
    for kind, n in counts.items():
        pair = kinds[kind].two_or_more
        if n >= 2 and pair is not None and _RANK[pair] > _RANK[level]:
            level = pair
    reasons = []
    for n, p in enumerate(problems, 1):
        how = f" ({p.words})" if p.words else ""
        reasons.append(f"problem {n}: {kinds[p.kind].label}{how}")
    if not problems:
        reasons.append("no problem addressed was found in an assessment or plan")
    for kind, n in counts.items():
        pair = kinds[kind].two_or_more
        if n >= 2 and pair is not None:
            reasons.append(f"{n} problems of the kind '{kinds[kind].label}' together count as {pair}")
    evidence = _sort(e for p in problems for e in p.evidence)
    return EmElement("problems", level, tuple(reasons), evidence), problems


_VALUE_AFTER = re.compile(r"\s*(?:[:=]|of|was|is|at)?\s*[<>]?\s*\d")


def _data(reading: _Reading) -> EmElement:
    doc = reading.doc
    rules = reading.rules
    ordered: dict[str, Evidence] = {}
    reviewed: dict[str, Evidence] = {}
    external: list[Evidence] = []
    historian: list[Evidence] = []
    interpretation: list[Evidence] = []
    discussion: list[Evidence] = []
    in_office: list[str] = []
    plan_like = {"plan", "assessment_and_plan", "follow_up"}
    for i in reading.sentences_in(None, exclude=rules.data_excluded_sections):
        sentence = doc.sentences[i]
        section = reading.sections[i]
        office = rules.in_office.search(doc.text, sentence.start, sentence.end) is not None
        hits = reading.hits(i, historical=False, family=False, results=True)
        kinds = {h.kind for h in hits}
        acted = any(  # an order/review cue, even a negated one ("CBC not ordered"): no plan-list default
            cue is not None and cue.kind in ("order", "review")
            for cue, _ in map(reading.lookup, reading.by_sentence.get(i, []))
        )
        for h in hits:
            m = h.mention
            if h.test is not None:
                if not reading.counts(m, historical=False, family=True, results=True):
                    continue
                if office and h.test in rules.separately_reported:
                    in_office.append(h.test)  # performed and reported at this visit: not E/M data
                    continue
                if "order" in kinds:
                    ordered.setdefault(h.test, _mev(doc, m))
                elif "review" in kinds or section == "labs_results" or _VALUE_AFTER.match(doc.text, m.end):
                    reviewed.setdefault(h.test, _mev(doc, m))
                elif section in plan_like and not acted:
                    ordered.setdefault(h.test, _mev(doc, m))
            elif h.kind == "external_notes":
                if not external or external[-1].start < sentence.start:
                    external.append(_ev(doc, sentence.start, sentence.end))
            elif h.kind == "historian":
                historian.append(_mev(doc, m))
            elif h.kind == "interpretation":
                if office:
                    in_office.append("the interpretation of a test performed at this visit")
                else:
                    interpretation.append(_mev(doc, m))
            elif h.kind == "discussion":
                after = doc.text[m.end : min(sentence.end, m.end + 60)]
                party = rules.external_party.search(after)
                if party is not None:
                    discussion.append(_ev(doc, m.start, m.end + party.end()))
    tests = sorted(set(ordered) | set(reviewed))
    reasons = []
    if ordered:
        reasons.append(f"tests ordered: {', '.join(sorted(ordered))}")
    only_reviewed = sorted(set(reviewed) - set(ordered))
    if only_reviewed:
        reasons.append(f"test results reviewed: {', '.join(only_reviewed)}")
    if in_office:
        reasons.append(
            "not counted, performed and reported separately at this visit: "
            + ", ".join(dict.fromkeys(in_office))
        )
    if external:
        reasons.append(f"external notes reviewed: {len(external)} source(s)")
    if historian:
        reasons.append("assessment needed an independent historian")
    if interpretation:
        reasons.append("independent interpretation of a test (counts only if not billed separately)")
    if discussion:
        reasons.append(
            "management or test interpretation discussed with an external physician or professional"
        )
    tests_docs = len(tests) + len(external)
    category_1 = tests_docs + (1 if historian else 0) >= 3
    met = sum((category_1, bool(interpretation), bool(discussion)))
    if met >= 2:
        level = "high"
    elif met == 1:
        level = "moderate"
    elif tests_docs >= 2 or historian:
        level = "low"
    else:
        level = "straightforward"
    summary = f"{tests_docs} unique test(s) or external note source(s)" + (
        ", an independent historian" if historian else ""
    )
    reasons.append(summary + f": {_DATA_LEVEL_WHY[level]}")
    evidence = _sort(
        [*ordered.values(), *reviewed.values(), *external, *historian, *interpretation, *discussion]
    )
    return EmElement("data", level, tuple(reasons), evidence)


_DATA_LEVEL_WHY = {
    "straightforward": "minimal or none (limited needs 2 unique tests/documents or an independent historian)",
    "low": "limited (2 or more unique tests/documents, or an independent historian)",
    "moderate": "moderate (1 of 3 categories: 3 tests/documents/historian; independent interpretation; "
    "discussion with an external professional)",
    "high": "extensive (2 of the 3 moderate categories)",
}
_WORD = re.compile(r"[A-Za-z][A-Za-z-]+")
_RISK_LABELS = {
    "rx": "prescription drug management",
    "rx_verb": "prescription drug management",
    "otc": "over-the-counter drugs",
    "minimal": "minimal-risk treatment (rest, fluids, reassurance)",
    "low_management": "low-risk management (therapy, minor procedure)",
    "elective_major_surgery": "decision about elective major surgery or minor surgery with risk factors",
    "sdoh": "diagnosis or treatment limited by social determinants of health",
    "toxicity_monitoring": "drug therapy needing intensive monitoring for toxicity",
    "hospitalization": "decision about hospitalization",
    "escalation": "decision about escalating hospital-level care",
    "dnr": "decision not to resuscitate or to de-escalate care",
    "emergency_surgery": "decision about emergency major surgery",
    "parenteral_controlled": "parenteral controlled substances",
}


def _risk(reading: _Reading, family: str) -> EmElement:
    doc = reading.doc
    rules = reading.rules
    found: dict[str, list[Evidence]] = {}
    for i in reading.management_sentences():
        sentence = doc.sentences[i]
        hits = [
            h
            for h in reading.hits(i, historical=True, family=False)
            if h.cue is not None and h.cue.element == "risk" and family not in h.cue.not_in_families
        ]
        if not hits:
            continue
        otc_words = {w.lower() for h in hits if h.kind == "otc" for w in h.mention.text.split()}
        words = [w.lower() for w in _WORD.findall(doc.text, sentence.start, sentence.end)]
        rx_drug = any(
            w not in otc_words and (w in rules.rx_drugs or (len(w) >= 6 and w.endswith(rules.rx_suffixes)))
            for w in words
        )
        dose = rules.dose.search(doc.text, sentence.start, sentence.end) is not None
        for h in hits:
            kind = h.kind
            if kind == "rx_verb":
                if not (rx_drug or (dose and not otc_words)):
                    continue
                kind = "rx"
            elif kind == "rx_drug":  # "amoxicillin-clavulanate 875 mg twice daily" in the plan
                if not dose or otc_words:
                    continue
                kind = "rx"
            found.setdefault(kind, []).append(_mev(doc, h.mention))
    levels: dict[str, str] = {}
    for cue in rules.cues.values():
        if cue.element == "risk" and cue.level is not None:
            levels["rx" if cue.kind in ("rx_verb", "rx_drug") else cue.kind] = cue.level
    level = "straightforward"
    reasons = []
    for kind in sorted(found, key=lambda k: -_RANK[levels[k]]):
        reasons.append(f"{levels[kind]} risk: {_RISK_LABELS.get(kind, kind)}")
        if _RANK[levels[kind]] > _RANK[level]:
            level = levels[kind]
    if not found:
        reasons.append("minimal risk: no management with more than minimal risk documented")
    evidence = _sort(e for k in found for e in found[k])
    return EmElement("risk", level, tuple(reasons), evidence)


def _time(doc: Document, rules: EmRules) -> tuple[int | None, Evidence | None]:
    best: tuple[int, Evidence] | None = None
    for pattern in rules.time_patterns:
        for m in pattern.finditer(doc.text):
            minutes = int(m.group("minutes"))
            if minutes <= 0:
                continue
            if best is None or minutes > best[0]:
                best = (minutes, _ev(doc, m.start(), m.end()))
    return (best[0], best[1]) if best is not None else (None, None)


# --- the level -----------------------------------------------------------------------------------


def _mdm_level(grid: Sequence[EmElement]) -> str:
    ranks = sorted(_RANK[e.level] for e in grid)
    return LEVELS[ranks[1]]  # met or exceeded by 2 of the 3 elements


def _choose_family(
    reading: _Reading, options: CodingOptions, hits: list[_FamilyHit]
) -> tuple[str, str, list[Evidence]] | None:
    """(family id, why, evidence), or None when the note is not an E/M visit."""
    doc = reading.doc
    found: dict[str, list[_FamilyHit]] = {}
    for h in hits:
        found.setdefault(h.family, []).append(h)

    def ev(*names: str) -> list[Evidence]:
        return [h.evidence for n in names for h in found.get(n, [])]

    other_hospital = any(f in found for f in ("inpatient", "hospital_subsequent", "hospital_discharge"))
    if options.setting != "inpatient" and not other_hospital:
        # "admit to the hospital" in an outpatient or ED note is a decision, not an admission note
        titled = [
            h
            for h in found.pop("hospital_initial", [])
            if h.where == "title" and re.search(r"admi|hospital|observation", h.evidence.text, re.I)
        ]
        if titled:
            found["hospital_initial"] = titled
    sections = reading.section_names
    history = bool(
        sections & {"history_of_present_illness", "subjective", "chief_complaint", "reason_for_visit"}
    )
    assessment = bool(sections & {"assessment", "assessment_and_plan", "diagnoses"})
    family_cue = any(f not in ("no_em", "preventive") for f in found)
    if "no_em" in found and not (history and assessment):
        return None
    if not (sections & reading.rules.visit_sections) and not family_cue:
        return None
    inpatient = options.setting == "inpatient" or any(
        f in found for f in ("inpatient", "hospital_initial", "hospital_subsequent", "hospital_discharge")
    )
    if "ed" in found:
        return "ed", "the note documents an emergency department visit", ev("ed")
    if "consult" in found:
        if inpatient:
            return (
                "inpatient_consult",
                "the note is a consultation for a hospital inpatient or observation patient",
                ev("consult", "inpatient", "hospital_initial", "hospital_subsequent"),
            )
        return "office_consult", "the note is an outpatient consultation", ev("consult")
    if "hospital_discharge" in found:
        return (
            "hospital_discharge",
            "the note documents hospital discharge day management",
            ev("hospital_discharge"),
        )
    initial = found.get("hospital_initial", [])
    subsequent = found.get("hospital_subsequent", [])
    if initial or subsequent:
        title_initial = any(h.where == "title" for h in initial)
        title_subsequent = any(h.where == "title" for h in subsequent)
        if initial and (title_initial or not subsequent) and not (title_subsequent and not title_initial):
            return (
                "hospital_initial",
                "the note documents the admission (initial hospital care)",
                ev("hospital_initial"),
            )
        return (
            "hospital_subsequent",
            "the note is a later hospital day (subsequent care)",
            ev("hospital_subsequent"),
        )
    if inpatient:
        why = (
            "the setting is inpatient"
            if options.setting == "inpatient"
            else "the note says the patient is in hospital"
        )
        return (
            "hospital_subsequent",
            why + "; no admission cue, so subsequent hospital care was chosen",
            ev("inpatient"),
        )
    new: list[Evidence] = []
    established: list[Evidence] = []
    for m in reading.mentions:
        cue, _ = reading.lookup(m)
        if cue is None or cue.element != "visit" or not reading.counts(m, historical=True, family=True):
            continue
        if cue.kind == "new_patient":
            new.append(_mev(doc, m))
        elif cue.kind == "established":
            established.append(_mev(doc, m))
    if new and not established:
        return "office_new", "office/outpatient visit; the note says this is a new patient", new
    if established:
        return (
            "office_established",
            "office/outpatient visit; the note says established patient/follow-up",
            established,
        )
    return (
        "office_established",
        "office/outpatient visit; the note does not say new patient, so established was chosen",
        [],
    )


def _nurse_only(reading: _Reading) -> list[Evidence]:
    out = []
    for m in reading.mentions:
        cue, _ = reading.lookup(m)
        if cue is not None and cue.kind == "nurse_only" and reading.counts(m, historical=True, family=True):
            out.append(_mev(reading.doc, m))
    return out


def level_em(
    doc: Document, options: CodingOptions, *, billed: str | None = None, rules: EmRules | None = None
) -> EmResult | None:
    """The E/M code ``doc`` supports, or None when the note is not an E/M visit.

    ``billed``: the E/M code billed for the visit; when given, flags say whether it is above
    (``EM-UPCODE-RISK``), below (``EM-DOWNCODE-RISK``) or in another family (``EM-FAMILY-MISMATCH``).
    """
    rules = rules or default_em_rules()
    billed_code = check_billed_em(billed)
    original = doc.text
    doc = _problem_hashes_as_items(doc, rules)
    reading = _Reading(doc, rules)
    family_hits = _family_hits(doc, rules)
    chosen = _choose_family(reading, options, family_hits)
    if chosen is None:
        return None
    family_id, family_why, family_evidence = chosen
    family = rules.families[family_id]
    problems, problem_list = _problems(reading)
    preventive = [h.evidence for h in family_hits if h.family == "preventive"]
    if preventive and family_id.startswith("office") and all(p.kind == "unspecified" for p in problem_list):
        return None  # a preventive visit with no problem addressed: no problem-oriented E/M
    grid: tuple[EmElement, ...] = (problems, _data(reading), _risk(reading, family_id))
    mdm = _mdm_level(grid)
    minutes, time_evidence = _time(doc, rules)
    nurse = _nurse_only(reading) if family_id in ("office_established", "ed") else []

    mdm_code = _code_for_mdm(family, mdm)
    time_code = _code_for_time(family, minutes) if family.time else None
    notes: list[str] = [f"{family.label[0].upper()}{family.label[1:]}: {family_why}."]
    if preventive:
        notes.append(
            "The note is a preventive visit; this E/M is for the problem addressed in addition to it "
            "(the preventive service is coded separately)."
        )
    method = "MDM"
    if family_id == "hospital_discharge":
        chosen_code = time_code or family.codes[0]
        method = "time"
        if minutes is None:
            notes.append(
                f"Discharge day management is leveled by time; no time is documented, so {chosen_code.code} "
                "(30 minutes or less) is reported."
            )
        else:
            notes.append(f"{minutes} minutes of discharge day management support {chosen_code.code}.")
    elif nurse:
        chosen_code = family.codes[0]
        notes.append(
            f"The note is a nurse (clinical staff) visit with no practitioner decision making documented as "
            f"needed, so {chosen_code.code} is reported."
        )
    else:
        assert mdm_code is not None
        chosen_code = mdm_code
        notes.append(
            f"MDM is {mdm} (problems {grid[0].level}, data {grid[1].level}, risk {grid[2].level}; "
            "the level met by "
            f"2 of the 3 elements), which supports {mdm_code.code}."
        )
        if family.time and minutes is not None:
            if time_code is None:
                lowest = min(c.minutes for c in family.codes if c.minutes is not None)
                notes.append(
                    f"Total time of {minutes} minutes is below the {lowest} minutes "
                    "the lowest time level needs."
                )
            elif time_code.level > mdm_code.level:
                chosen_code = time_code
                method = "time"
                notes.append(
                    f"Total time of {minutes} minutes supports {time_code.code} "
                    f"(at least {time_code.minutes} "
                    f"minutes), higher than MDM; reported by time."
                )
            else:
                notes.append(
                    f"Total time of {minutes} minutes supports {time_code.code}; MDM supports the same or a "
                    "higher level, so it is reported by MDM."
                )
        elif not family.time and minutes is not None:
            notes.append(
                "Emergency department visits are leveled by MDM only; the documented time is not used."
            )
    flags: list[EmFlag] = []
    prolonged = _prolonged(rules, family, chosen_code, method, minutes)
    if prolonged is not None:
        flags.append(prolonged)
    if billed_code is not None:
        flags.extend(_billed_flags(rules, billed_code, family, chosen_code, method, mdm, minutes))
    evidence = _sort(
        [
            *(e for element in grid for e in element.evidence),
            *family_evidence,
            *nurse,
            *([time_evidence] if time_evidence is not None else []),
        ]
    )
    if doc.text != original:  # evidence quotes the note as given
        evidence = _restore(evidence, original)
        grid = tuple(EmElement(e.name, e.level, e.reasons, _restore(e.evidence, original)) for e in grid)
    return EmResult(
        code=chosen_code.code,
        level=chosen_code.level,
        family=family_id,
        method=method,
        mdm=mdm,
        minutes=minutes,
        grid=grid,
        evidence=evidence,
        flags=tuple(flags),
        rationale=" ".join(notes),
    )


def _restore(evidence: Iterable[Evidence], text: str) -> tuple[Evidence, ...]:
    return tuple(Evidence(e.start, e.end, text[e.start : e.end]) for e in evidence)


def _problem_hashes_as_items(doc: Document, rules: EmRules) -> Document:
    """``# Hyperlipidemia - stable`` lines of an assessment are problems, not markdown headings.

    The text layer reads a line starting with ``#`` as a heading; in an assessment/plan such lines
    are the problem list. Each such ``#`` becomes a bullet (same length, offsets unchanged).
    """
    wanted = rules.problem_sections | {"plan"}
    last_known: str | None = None
    hashes: list[int] = []
    for section in doc.sections:
        start = section.start
        if (
            section.name == "other"
            and not section.declared
            and doc.text.startswith("#", start)
            and not doc.text.startswith("##", start)
        ):
            if last_known in wanted:
                hashes.append(start)
            continue
        last_known = section.name
    if not hashes:
        return doc
    chars = list(doc.text)
    for at in hashes:
        chars[at] = "•"
    declared = [DeclaredHeader(s.start, s.header_end, s.title, s.code) for s in doc.sections if s.declared]
    return build_document("".join(chars), kind=doc.kind, declared=declared)


def _code_for_mdm(family: _Family, mdm: str) -> _Code | None:
    best = None
    for c in family.codes:
        if c.mdm is not None and _RANK[c.mdm] <= _RANK[mdm]:
            best = c
    return best


def _code_for_time(family: _Family, minutes: int | None) -> _Code | None:
    if minutes is None:
        return None
    best = None
    for c in family.codes:
        if c.minutes is not None and minutes >= c.minutes:
            best = c
    return best


_BILLED = re.compile(r"[0-9A-Z]\d{3}[0-9A-Z]")


def check_billed_em(billed: str | None) -> str | None:
    """The billed E/M code, upper-cased, or :class:`EmBilledCodeError` when it is not five characters."""
    if billed is None:
        return None
    code = billed.strip().upper() if isinstance(billed, str) else ""
    if not _BILLED.fullmatch(code):
        raise EmBilledCodeError(
            f"The billed E/M code {billed!r} (--billed-em / billed_em) is not a 5-character CPT/HCPCS code.",
            "pass the billed code as five characters, e.g. 99214 (no modifiers or spaces).",
        )
    return code


def _prolonged(
    rules: EmRules, family: _Family, code: _Code, method: str, minutes: int | None
) -> EmFlag | None:
    p = family.prolonged
    if p is None or method != "time" or minutes is None or code.level != family.codes[-1].level:
        return None
    if minutes < p.cpt_from:
        return None
    cpt_units = 1 + (minutes - p.cpt_from) // p.per
    cms_units = 1 + (minutes - p.cms_from) // p.per if minutes >= p.cms_from else 0
    severity, citation = rules.flags["EM-PROLONGED"]
    cms = (
        f"for Medicare, {p.cms} x {cms_units} (from {p.cms_from} minutes)"
        if cms_units
        else f"Medicare's {p.cms} needs at least {p.cms_from} minutes"
    )
    return EmFlag(
        "EM-PROLONGED",
        severity,
        f"Total time of {minutes} minutes goes beyond {code.code}: "
        f"prolonged service {p.cpt} x {cpt_units} may be "
        f"reported (each {p.per} minutes from {p.cpt_from}); {cms}.",
        f"Add the prolonged service line ({p.cpt}, or {p.cms} for Medicare) "
        "with the units above if the payer covers it.",
        citation,
    )


def _billed_flags(
    rules: EmRules, billed: str, family: _Family, code: _Code, method: str, mdm: str, minutes: int | None
) -> list[EmFlag]:
    supported = f"{code.code} ({code.label}; by " + (
        f"time, {minutes} minutes)" if method == "time" and minutes is not None else f"MDM, {mdm})"
    )
    entry = rules.code_index.get(billed)
    if entry is None or entry[0].id != family.id:
        severity, citation = rules.flags["EM-FAMILY-MISMATCH"]
        billed_what = (
            f"{billed} is a code for {entry[0].label}"
            if entry is not None
            else f"{billed} is not one of the E/M codes chartcode levels"
        )
        return [
            EmFlag(
                "EM-FAMILY-MISMATCH",
                severity,
                f"Billed {billed_what}, but the note documents {family.label}; "
                f"the documentation supports {supported}.",
                f"Bill a code from the {family.label} family "
                f"({family.codes[0].code}-{family.codes[-1].code}), or "
                "correct the documentation of place of service, patient status or visit type if it is wrong.",
                citation,
            )
        ]
    billed_code = entry[1]
    if billed_code.level > code.level:
        severity, citation = rules.flags["EM-UPCODE-RISK"]
        needs = []
        if billed_code.mdm is not None:
            needs.append(f"MDM {billed_code.mdm} (2 of 3 elements: problems, data, risk)")
        if family.time and billed_code.minutes is not None:
            needs.append(f"total time on the date of at least {billed_code.minutes} minutes")
        need = " or ".join(needs) if needs else "the service it describes"
        return [
            EmFlag(
                "EM-UPCODE-RISK",
                severity,
                f"Billed {billed} is above what the documentation supports: {supported}.",
                f"Bill {code.code}, or, if more was done, document it: {billed} needs {need}.",
                citation,
            )
        ]
    if billed_code.level < code.level:
        severity, citation = rules.flags["EM-DOWNCODE-RISK"]
        return [
            EmFlag(
                "EM-DOWNCODE-RISK",
                severity,
                f"Billed {billed} is below what the documentation supports: {supported}.",
                f"Review the visit and bill {code.code} if the documentation is accurate; "
                "undercoding loses payment and "
                "misstates the service.",
                citation,
            )
        ]
    return []
