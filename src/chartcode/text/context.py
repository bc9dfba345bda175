"""Mentions with context: the term matcher and the ConText algorithm (rules as data).

:func:`find_mentions` matches lexicon terms over the abbreviation-expanded tokens of each sentence
(longest match, left to right; words lower-cased with light plural stemming, possessive ``'s``
dropped, other punctuation skipped, ``, ; : ( ) |`` never crossed) and reports *original* offsets;
a mention inside an expansion gets the span of the whole abbreviation (both "nausea" and
"vomiting" from ``N/V`` have the span of ``N/V``). Section headers are never matched.

Context follows ConText (Harkema et al. 2009; rules in ``data/context_rules.json``, medspaCy style):
a trigger phrase of a category (negated, possible, historical, family, hypothetical) modifies the
mentions in its scope, ``FORWARD`` (to the end of the sentence), ``BACKWARD`` (to its start) or
``BIDIRECTIONAL``, optionally at most ``max_scope`` words. A scope stops at a ``TERMINATE`` rule of
its category (category ``TERMINATE`` stops every scope: "but", "however") and at the next trigger of
the same category. ``PSEUDO`` rules ("no increase", "gram negative") are matched like triggers so
that the shorter trigger inside them is not, and do nothing. Trigger matching is on the lower-case
expanded tokens, punctuation included (``?``), longest match first. Sections add context too
(``implies`` in ``data/sections.json``): family history -> family, past medical/surgical history ->
historical, differential diagnosis -> possible; ``Mention.section`` lets the coder decide more.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from chartcode.text.attributes import (
    EMPTY,
    AttributeLexicon,
    Attributes,
    AttributeScanner,
    Hit,
    default_attribute_lexicon,
    mention_attributes,
    window,
)
from chartcode.text.document import Document
from chartcode.text.sections import CONTEXT_CATEGORIES, RuleFile, SectionRules, default_section_rules
from chartcode.text.sentences import BREAK, PhraseIndex, phrase_key, raw_key

__all__ = [
    "DEMO_LEXICON",
    "ContextFlags",
    "ContextRules",
    "Cue",
    "Mention",
    "TermMatcher",
    "default_context_rules",
    "find_mentions",
    "term_matcher",
]

DIRECTIONS = ("FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO")
_FLAG = {
    "NEGATED_EXISTENCE": "negated",
    "POSSIBLE_EXISTENCE": "uncertain",
    "HISTORICAL": "historical",
    "FAMILY": "family",
    "HYPOTHETICAL": "hypothetical",
}


@dataclass(frozen=True, slots=True)
class Cue:
    """Why a context flag is set: a trigger ``[start, end)`` in the text, or a section header."""

    category: str  # negated | uncertain | historical | family | hypothetical
    text: str  # the trigger or section title as written
    start: int
    end: int
    source: str  # "trigger" | "section"


@dataclass(frozen=True, slots=True)
class ContextFlags:
    negated: bool = False
    uncertain: bool = False
    historical: bool = False
    family: bool = False
    hypothetical: bool = False
    cues: tuple[Cue, ...] = ()

    @property
    def affirmed(self) -> bool:
        """Stated as present in the patient: not negated, uncertain, family or hypothetical."""
        return not (self.negated or self.uncertain or self.family or self.hypothetical)


NO_CONTEXT = ContextFlags()


@dataclass(frozen=True, slots=True)
class Mention:
    """A lexicon term found in the document; ``[start, end)`` of ``Document.text``."""

    start: int
    end: int
    text: str  # the original surface, Document.text[start:end]
    normalized: str  # the matched key (see sentences.phrase_key)
    term: str  # the lexicon term as given (the callable's answer for a callable lexicon)
    expanded: str  # the matched words in the expanded text ("type 2 diabetes mellitus" for "DM2")
    sentence: int  # Document.sentences index
    section: str | None  # canonical section name
    context: ContextFlags = NO_CONTEXT
    attributes: Attributes = EMPTY

    @property
    def negated(self) -> bool:
        return self.context.negated

    @property
    def uncertain(self) -> bool:
        return self.context.uncertain

    @property
    def historical(self) -> bool:
        return self.context.historical

    @property
    def family(self) -> bool:
        return self.context.family

    @property
    def hypothetical(self) -> bool:
        return self.context.hypothetical


class _Rule(NamedTuple):
    category: str
    direction: str
    max_scope: int | None
    literal: str


class _Trigger(NamedTuple):
    rules: tuple[_Rule, ...]  # the rules of one literal
    stops: frozenset[str]  # the categories whose scopes it ends ("TERMINATE": every category)


def _stopped(rules: list[_Rule]) -> frozenset[str]:
    """A trigger ends the scopes of its TERMINATE categories and of its own (non-pseudo) categories."""
    return frozenset(r.category for r in rules if r.direction != "PSEUDO")


class ContextRules:
    """ConText rules loaded (and validated) from JSON; :func:`default_context_rules` for the packaged set.

    A rule: ``{"literal": "no evidence of", "category": "NEGATED_EXISTENCE", "direction": "FORWARD"}``
    with optional ``max_scope`` (words) and ``comment``. ``TERMINATE`` rules have category
    ``TERMINATE`` (end every scope) or one context category (end that category's scopes).
    """

    __slots__ = ("index", "size")

    def __init__(self, source: str | Path | None = None) -> None:
        rf = RuleFile(source, "context_rules.json", "chartcode-context-rules")
        seen: dict[tuple[str, str, str], int] = {}
        grouped: dict[str, list[_Rule]] = {}
        for i, raw in enumerate(rf.items("rules")):
            where = f"rules[{i}]"
            item = rf.obj(
                raw, where, required=("literal", "category", "direction"), optional=("max_scope", "comment")
            )
            literal = rf.string(item["literal"], f"{where}.literal")
            direction = rf.choice(item["direction"], f"{where}.direction", DIRECTIONS)
            allowed = (*CONTEXT_CATEGORIES, "TERMINATE") if direction == "TERMINATE" else CONTEXT_CATEGORIES
            category = rf.choice(item["category"], f"{where}.category", allowed)
            max_scope = None
            if "max_scope" in item:
                if direction not in ("FORWARD", "BACKWARD", "BIDIRECTIONAL"):
                    rf.fail(
                        f"{where}.max_scope",
                        "is only allowed with a FORWARD, BACKWARD or BIDIRECTIONAL rule",
                    )
                max_scope = rf.integer(item["max_scope"], f"{where}.max_scope")
            key = raw_key(literal)
            if (key, category, direction) in seen:
                rf.fail(
                    where,
                    f"duplicates rules[{seen[key, category, direction]}] "
                    f"({literal!r}, {category}, {direction})",
                )
            seen[key, category, direction] = i
            grouped.setdefault(key, []).append(_Rule(category, direction, max_scope, literal))
        self.index: PhraseIndex[_Trigger] = PhraseIndex(
            (key, _Trigger(tuple(rules), _stopped(rules))) for key, rules in grouped.items()
        )
        self.size = len(seen)


@lru_cache(maxsize=1)
def default_context_rules() -> ContextRules:
    """The packaged rules (``data/context_rules.json``), loaded once."""
    return ContextRules()


# --- term matching -------------------------------------------------------------------------------


class TermMatcher:
    """A compiled lexicon: normalised term keys (see :func:`~chartcode.text.sentences.phrase_key`)
    -> the first term given with that key. Build it once and reuse it (100k terms: about a second)."""

    __slots__ = ("index",)

    def __init__(self, terms: Iterable[str]) -> None:
        self.index: PhraseIndex[str] = PhraseIndex((phrase_key(t), t) for t in terms)

    def __len__(self) -> int:
        return self.index.size


class _CallableMatcher:
    """Adapter for a callable lexicon: called with a normalised n-gram (up to ``max_words`` words),
    it returns a truthy value for a term (a ``str`` answer becomes ``Mention.term``)."""

    __slots__ = ("fn", "max_words")

    def __init__(self, fn: Callable[[str], object], max_words: int = 8) -> None:
        self.fn = fn
        self.max_words = max_words

    def scan(self, norms: list[str], i0: int, i1: int) -> list[tuple[int, int, str]]:
        out: list[tuple[int, int, str]] = []
        i = i0
        while i < i1:
            if not norms[i] or norms[i] == BREAK:
                i += 1
                continue
            words: list[str] = []
            best: tuple[int, str] | None = None
            j = i
            while j < i1 and len(words) < self.max_words:
                n = norms[j]
                j += 1
                if not n:
                    continue
                if n == BREAK:
                    break
                words.append(n)
                key = " ".join(words)
                answer = self.fn(key)
                if answer:
                    best = (j, answer if isinstance(answer, str) else key)
            if best is None:
                i += 1
                continue
            end = best[0]
            while end > i and not norms[end - 1]:
                end -= 1
            out.append((i, end, best[1]))
            i = best[0]
        return out


@lru_cache(maxsize=8)
def term_matcher(terms: frozenset[str]) -> TermMatcher:
    """A cached :class:`TermMatcher` for a frozenset of terms."""
    return TermMatcher(terms)


_DEMO_TERMS = """
chest pain|pain|pneumonia|cough|fever|chills|nausea|vomiting|diarrhea|shortness of breath|dyspnea
|myocardial infarction|breast cancer|colon cancer|lung cancer|prostate cancer|hypertension
|hyperlipidemia|diabetes mellitus|type 2 diabetes mellitus|type 1 diabetes mellitus
|gestational diabetes mellitus|diabetes|chronic kidney disease|acute kidney injury
|end stage renal disease|heart failure|congestive heart failure|atrial fibrillation
|coronary artery disease|stroke|cerebrovascular accident|transient ischemic attack|asthma
|chronic obstructive pulmonary disease|pulmonary embolism|deep vein thrombosis
|urinary tract infection|upper respiratory infection|pressure ulcer|pressure injury|fracture
|hip fracture|knee pain|back pain|low back pain|headache|dizziness|syncope|rash|cellulitis|sepsis
|anemia|obesity|depression|anxiety|dementia|osteoarthritis|rheumatoid arthritis
|gastroesophageal reflux disease|hypothyroidism|obstructive sleep apnea|benign prostatic hyperplasia
|abdominal pain|edema|wheezing|palpitations|influenza|covid-19|dehydration|hyperglycemia
|hypoglycemia|diabetic ketoacidosis|neuropathy|diabetic nephropathy|nephropathy|alcohol abuse
|tobacco use|fall|laceration|sprain|contusion|ulcer|otitis media|pharyngitis|sinusitis|bronchitis
|migraine|seizure|infection|wound infection|malnutrition|hematuria|dysuria|weight loss|fatigue
|altered mental status|delirium|respiratory failure
"""
#: A small lexicon for demos and tests only; the coder layer passes the ICD-10-CM index terms.
DEMO_LEXICON: frozenset[str] = frozenset(t.strip() for t in _DEMO_TERMS.replace("\n", "").split("|"))


# --- context -------------------------------------------------------------------------------------


class _Scope(NamedTuple):
    start: int  # token range the rule modifies
    end: int
    category: str
    trigger_start: int
    trigger_end: int


def _scopes(doc: Document, i0: int, i1: int, rules: ContextRules) -> list[_Scope]:
    ts = doc.expanded.tokens
    found = rules.index.scan_raw(ts.low, i0, i1)
    if not found:
        return []
    norm = ts.norm
    scopes: list[_Scope] = []
    for k, (a, b, trigger) in enumerate(found):
        for rule in trigger.rules:
            direction = rule.direction
            if direction == "TERMINATE" or direction == "PSEUDO":
                continue
            cat = rule.category
            if direction != "BACKWARD":  # FORWARD or BIDIRECTIONAL
                end = i1
                for a2, _b2, other in found[k + 1 :]:
                    if cat in other.stops or "TERMINATE" in other.stops:
                        end = a2
                        break
                if rule.max_scope is not None:
                    words, j = 0, b
                    while j < end and words < rule.max_scope:
                        if norm[j] and norm[j] != BREAK:
                            words += 1
                        j += 1
                    end = j
                scopes.append(_Scope(b, end, cat, a, b))
            if direction != "FORWARD":  # BACKWARD or BIDIRECTIONAL
                start = i0
                for _a2, b2, other in reversed(found[:k]):
                    if cat in other.stops or "TERMINATE" in other.stops:
                        start = b2
                        break
                if rule.max_scope is not None:
                    words, j = 0, a
                    while j > start and words < rule.max_scope:
                        j -= 1
                        if norm[j] and norm[j] != BREAK:
                            words += 1
                    start = j
                scopes.append(_Scope(start, a, cat, a, b))
    return scopes


def find_mentions(
    doc: Document,
    lexicon: TermMatcher | Callable[[str], object] | Iterable[str] | None = None,
    *,
    context_rules: ContextRules | None = None,
    section_rules: SectionRules | None = None,
    attribute_lexicon: AttributeLexicon | None = None,
) -> tuple[Mention, ...]:
    """Mentions of lexicon terms in ``doc``, in text order, with context flags and attributes.

    ``lexicon``: a :class:`TermMatcher` (fastest: build once), a callable answering normalised
    n-grams (see :class:`_CallableMatcher`), an iterable of terms (compiled per call unless it is a
    frozenset, which is cached), or None for :data:`DEMO_LEXICON`.
    """
    if lexicon is None:
        lexicon = term_matcher(DEMO_LEXICON)
    elif isinstance(lexicon, frozenset):
        lexicon = term_matcher(lexicon)
    matcher: TermMatcher | _CallableMatcher
    if isinstance(lexicon, TermMatcher):
        matcher = lexicon
    elif callable(lexicon):
        matcher = _CallableMatcher(lexicon)
    else:
        matcher = TermMatcher(lexicon)
    rules = context_rules or default_context_rules()
    implied = (section_rules or default_section_rules()).implied
    attr_lex = attribute_lexicon or default_attribute_lexicon()
    ts = doc.expanded.tokens
    text = doc.text
    etext = doc.expanded.text
    out: list[Mention] = []
    scanner: AttributeScanner | None = None
    for sentence, (i0, i1) in zip(doc.sentences, ts.sentences, strict=True):
        if sentence.is_header or i0 == i1:
            continue
        if isinstance(matcher, TermMatcher):
            found = matcher.index.scan(ts.norm, i0, i1)
        else:
            found = matcher.scan(ts.norm, i0, i1)
        if not found:
            continue
        scopes = _scopes(doc, i0, i1, rules)
        section_cue: Cue | None = None
        section_category = implied.get(sentence.section or "")
        if section_category is not None:
            section = doc.section_at(sentence.start)
            if section is not None:
                section_cue = Cue(
                    _FLAG[section_category], section.title, section.start, section.header_end, "section"
                )
        if scanner is None:
            scanner = AttributeScanner(ts, attr_lex)
        hits: list[Hit] = scanner.hits(i0, i1)
        extended: list[int] = []
        windows_lo: list[int] = []
        for k, (ms, me, term) in enumerate(found):
            flags: dict[str, bool] = {}
            cues: list[Cue] = []
            for scope in scopes:
                if scope.start <= ms and me <= scope.end:
                    name = _FLAG[scope.category]
                    flags[name] = True
                    start, end = ts.ostart[scope.trigger_start], ts.oend[scope.trigger_end - 1]
                    cue = Cue(name, text[start:end], start, end, "trigger")
                    if cue not in cues:
                        cues.append(cue)
            if section_cue is not None:
                flags[section_cue.category] = True
                cues.append(section_cue)
            context = (
                ContextFlags(
                    flags.get("negated", False),
                    flags.get("uncertain", False),
                    flags.get("historical", False),
                    flags.get("family", False),
                    flags.get("hypothetical", False),
                    tuple(cues),
                )
                if flags
                else NO_CONTEXT
            )
            start, end = ts.ostart[ms], ts.oend[me - 1]
            # a mention inside an expansion owns the whole expansion ("CKD 3a": "... disease stage 3a")
            xs, xe = ms, me
            while xs > i0 and ts.ostart[xs - 1] == start and ts.oend[xs - 1] == ts.oend[xs]:
                xs -= 1
            while xe < i1 and ts.oend[xe] == end and ts.ostart[xe] == ts.ostart[xe - 1]:
                xe += 1
            prev_end = extended[-1] if extended else i0
            if extended and prev_end == xs:
                # a mention right after another one ("left knee pain": "knee", then "pain") heads the
                # same noun phrase: it reads the words before its modifier too (side, site, acuity)
                prev_end = windows_lo[-1]
            next_start = found[k + 1][0] if k + 1 < len(found) else i1
            lo, hi = window(ts.norm, xs, xe, i0, i1, prev_end, max(next_start, xe))
            extended.append(xe)
            windows_lo.append(lo)
            out.append(
                Mention(
                    start,
                    end,
                    text[start:end],
                    " ".join(n for n in ts.norm[ms:me] if n and n != BREAK),
                    term,
                    etext[ts.estart[ms] : ts.eend[me - 1]],
                    sentence.index,
                    sentence.section,
                    context,
                    mention_attributes(hits, xs, xe, lo, hi),
                )
            )
    return tuple(out)
