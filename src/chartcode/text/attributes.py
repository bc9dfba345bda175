"""Attributes read around a mention: laterality, acuity, severity/stage, episode of care, diabetes
type, pregnancy, anatomical sites, organisms and causes.

Everything is read from the abbreviation-expanded tokens (``DM2`` gives "type 2 diabetes
mellitus", ``b/l`` gives "bilateral"). For a mention the window is its own tokens plus up to 8
tokens before (not across ``, ; :``) and 12 after, inside its sentence, never reaching into a
neighbouring mention ("X due to Y" may name a later mention Y as the cause); for a single-valued
attribute the nearest cue wins (inside the mention, then just before, then after).
Attributes are *candidates* for the coder: e.g. ``heart_failure_type`` is filled wherever
"systolic" appears near a mention and only matters for heart-failure codes.

Lexicons are data (``data/attributes.json``, validated strictly when loaded): ``sites``,
``organisms`` and ``external_causes`` map a canonical name to its variants; ``drugs``,
``substances`` and ``devices`` list names; ``drug_suffixes`` (``-pril``, ``-statin``...) classify
unlisted drug names. The structural cues (stage, acuity, episode...) are the patterns in ``_RULES``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import NamedTuple

from chartcode.text.abbreviations import TokenStream
from chartcode.text.sections import RuleFile
from chartcode.text.sentences import BREAK, PhraseIndex, phrase_key

__all__ = [
    "AttributeLexicon",
    "AttributeScanner",
    "Attributes",
    "Cause",
    "default_attribute_lexicon",
    "extract_attributes",
    "mention_attributes",
    "sentence_hits",
]

BEFORE = 8
AFTER = 12


@dataclass(frozen=True, slots=True)
class Cause:
    """A stated cause: ``kind`` is drug, substance, device, external or condition; ``text`` its
    canonical name (external causes: "fall", "motor vehicle", ...) or the words as written (lower-case)."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Attributes:
    """Attributes of one mention (see the module docstring); ``None``/empty when not stated."""

    laterality: str | None = None  # right | left | bilateral
    acuity: str | None = None  # acute | chronic | subacute | acute_on_chronic | acute_and_chronic
    severity: str | None = None  # mild | moderate | severe | mild intermittent | ... | severe persistent
    stage: str | None = None  # 1..5, 3a, 3b, esrd, unstageable, deep_tissue
    exacerbation: bool = False
    status_asthmaticus: bool = False
    heart_failure_type: str | None = None  # systolic | diastolic | combined | mildly_reduced | improved
    episode: str | None = None  # initial | subsequent | sequela
    healing: str | None = None  # routine | delayed | nonunion | malunion
    diabetes_type: str | None = None  # type 1 | type 2 | drug_induced | gestational | secondary
    pregnant: bool = False
    postpartum: bool = False
    gestational_weeks: int | None = None
    trimester: int | None = None  # 1: < 14 weeks, 2: 14 to < 28 weeks, 3: 28 weeks and more
    sites: tuple[str, ...] = ()
    organisms: tuple[str, ...] = ()
    causes: tuple[Cause, ...] = ()


EMPTY = Attributes()


class AttributeLexicon:
    """Sites, organisms, drugs, substances, devices and external causes from ``attributes.json``."""

    __slots__ = ("_classified", "drug_suffixes", "index", "kinds_by_word")

    def __init__(self, source: str | Path | None = None) -> None:
        rf = RuleFile(source, "attributes.json", "chartcode-attributes")
        data = rf.obj(
            rf.data,
            "top level",
            required=(
                "format",
                "version",
                "sites",
                "organisms",
                "drugs",
                "drug_suffixes",
                "substances",
                "devices",
                "external_causes",
            ),
            optional=("comment",),
        )
        items: list[tuple[str, list[tuple[str, str]]]] = []
        owner: dict[tuple[str, str], str] = {}

        def add(kind: str, canonical: str, variants: Sequence[tuple[str, str]]) -> None:
            for where, variant in variants:
                key = phrase_key(variant)
                if not key:
                    rf.fail(where, "has no words")
                previous = owner.get((kind, key))
                if previous is None:
                    owner[kind, key] = canonical
                    items.append((key, [(kind, canonical)]))
                elif previous != canonical:
                    rf.fail(where, f"{variant!r} already belongs to {previous!r}")

        for kind, field_name in (
            ("site", "sites"),
            ("organism", "organisms"),
            ("external", "external_causes"),
        ):
            table = data[field_name]
            if not isinstance(table, dict) or not table:
                rf.fail(field_name, "must be a non-empty object of name -> list of variants")
            for name, variants in table.items():
                where = f"{field_name}.{name}"
                listed = rf.strings(variants, where)
                add(kind, name, [(f"{where}[{j}]", v) for j, v in enumerate(listed)])
        for kind, field_name in (("drug", "drugs"), ("substance", "substances"), ("device", "devices")):
            for j, word in enumerate(rf.strings(data[field_name], field_name)):
                add(kind, word.lower(), [(f"{field_name}[{j}]", word)])
        self.drug_suffixes = tuple(s.lower() for s in rf.strings(data["drug_suffixes"], "drug_suffixes"))
        self.index: PhraseIndex[list[tuple[str, str]]] = PhraseIndex(items, merge=lambda a, b: a + b)
        kinds_by_word: dict[str, set[str]] = {}
        for key, payload in items:
            for kind, _name in payload:
                kinds_by_word.setdefault(key, set()).add(kind)
        self.kinds_by_word = kinds_by_word
        self._classified: dict[str, tuple[str, str] | None] = {}

    def classify(self, words: str) -> tuple[str, str] | None:
        """(kind, name) of a cause phrase (lower-case words) from the lexicons or the drug suffixes;
        kind is drug, substance, device, external or organism."""
        if words in self._classified:
            return self._classified[words]
        found = self._classify(words)
        if len(self._classified) < 50_000:
            self._classified[words] = found
        return found

    def _classify(self, words: str) -> tuple[str, str] | None:
        key = phrase_key(words)
        parts = key.split()
        for n in range(len(parts), 0, -1):  # longest prefix first: "foley catheter", then "foley"
            payload = self.index.get(" ".join(parts[:n]))
            if payload:
                for kind, name in payload:
                    if kind in ("drug", "substance", "device", "external", "organism"):
                        return kind, name
        if parts and parts[0].isalpha():
            first = parts[0]
            if any(first.endswith(s) and len(first) >= len(s) + 3 for s in self.drug_suffixes):
                return "drug", first
        return None


@lru_cache(maxsize=1)
def default_attribute_lexicon() -> AttributeLexicon:
    """The packaged lexicon (``data/attributes.json``), loaded once."""
    return AttributeLexicon()


class Hit(NamedTuple):
    """An attribute cue over tokens ``[start, end)``; causes carry the token where the cause phrase starts."""

    start: int
    end: int
    kind: str
    value: str


_ROMAN = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5"}
_ORDINAL = {"first": "1", "1st": "1", "second": "2", "2nd": "2", "third": "3", "3rd": "3"}
_STRONG_LINKS = frozenset(
    [
        "due to",
        "secondary to",
        "caused by",
        "induced by",
        "attributed to",
        "attributable to",
        "because of",
        "resulting from",
        "as a result of",
        "result of",
    ]
)


def _stage(m: re.Match[str]) -> str:
    number = m.group(1) or _ROMAN[m.group(2)]
    return number + (m.group(3) or "")


def _severity(m: re.Match[str]) -> str:
    words = m.group(0).split()
    base = {"mildly": "mild", "moderately": "moderate", "severely": "severe"}.get(words[0], words[0])
    return " ".join([base, *words[1:]])


_Value = str | Callable[[re.Match[str]], str]

# (kind, needles, pattern, value): the rule runs on a sentence only if one of its words contains a needle.
# Order = priority: a hit of an earlier rule hides overlapping later hits (of any kind except causes).
_RULES: list[tuple[str, tuple[str, ...], str, _Value]] = [
    ("acuity", ("acute",), r"acute on chronic", "acute_on_chronic"),
    ("acuity", ("acute",), r"acute and chronic", "acute_and_chronic"),
    (
        "hf_type",
        ("systolic",),
        r"(?:(?:combined|mixed) )?(?:systolic and diastolic|diastolic and systolic)",
        "combined",
    ),
    ("hf_type", ("ejection",), r"(?:mildly reduced|mid ?range) ejection fraction", "mildly_reduced"),
    ("hf_type", ("ejection",), r"(?:improved|recovered) ejection fraction", "improved"),
    (
        "hf_type",
        ("systolic", "ejection"),
        r"systolic|reduced ejection fraction|low ejection fraction",
        "systolic",
    ),
    ("hf_type", ("diastolic", "ejection"), r"diastolic|preserved ejection fraction", "diastolic"),
    ("status_asthmaticus", ("asthmaticus",), r"status asthmaticus", "yes"),
    (
        "severity",
        ("mild", "moderate", "severe"),
        r"(?:mild|moderate|severe) (?:intermittent|persistent)",
        _severity,
    ),
    (
        "exacerbation",
        ("exacerbat", "flare", "decompensat"),
        r"exacerbations?|exacerbated|flare ups?|flares?|decompensat\w*",
        "yes",
    ),
    ("severity", ("mild", "moderate", "severe"), r"(?:mild|moderate|severe)(?:ly)?", _severity),
    ("acuity", ("acute",), r"subacute|sub acute", "subacute"),
    ("acuity", ("acute",), r"acute(?:ly)?", "acute"),
    ("acuity", ("chronic",), r"chronic(?:ally)?", "chronic"),
    ("stage", ("renal", "kidney", "esrd", "eskd"), r"end stage (?:renal|kidney) disease|esrd|eskd", "esrd"),
    ("stage", ("stag",), r"stage (?:([1-5])|(iv|v|i{1,3})) ?([ab])?", _stage),
    ("stage", ("stag",), r"unstag(?:e)?able", "unstageable"),
    ("stage", ("deep",), r"deep tissue (?:pressure )?(?:injury|damage)", "deep_tissue"),
    (
        "episode",
        ("initial", "active"),
        r"initial (?:encounter|visit|evaluation|treatment)|active treatment",
        "initial",
    ),
    ("episode", ("subsequent",), r"subsequent (?:encounter|visit|care|treatment)", "subsequent"),
    ("episode", ("sequel", "late"), r"sequelae?|late effects?", "sequela"),
    ("healing", ("healing",), r"routine healing", "routine"),
    ("healing", ("healing",), r"delayed healing", "delayed"),
    ("healing", ("union",), r"non ?union", "nonunion"),
    ("healing", ("union",), r"mal ?union", "malunion"),
    (
        "diabetes",
        ("diabet",),
        r"gestational diabetes|diabetes (?:mellitus )?(?:in|of|during) pregnancy",
        "gestational",
    ),
    (
        "diabetes",
        ("induced", "due", "secondary"),
        r"(?:drug|medication|steroid|chemical|glucocorticoid|corticosteroid|prednisone) induced "
        r"(?:diabetes|hyperglycemia)"
        r"|diabetes (?:mellitus )?(?:due to|secondary to|induced by) (?:\w+ )?"
        r"(?:drugs?|medications?|steroids?|glucocorticoids?|corticosteroids?|prednisone|chemicals?)",
        "drug_induced",
    ),
    (
        "diabetes",
        ("secondary", "underlying"),
        r"secondary diabetes"
        r"|diabetes (?:mellitus )?(?:due to|secondary to) (?:an )?underlying (?:condition|disease)",
        "secondary",
    ),
    (
        "diabetes",
        ("type",),
        r"type (?:1|i|one) (?:diabetes|diabetic|dm)|(?:diabetes|dm) (?:mellitus )?type (?:1|i|one)",
        "type 1",
    ),
    (
        "diabetes",
        ("type",),
        r"type (?:2|ii|two) (?:diabetes|diabetic|dm)|(?:diabetes|dm) (?:mellitus )?type (?:2|ii|two)",
        "type 2",
    ),
    ("diabetes", ("juvenile",), r"juvenile (?:onset )?diabetes", "type 1"),
    ("diabetes", ("adult",), r"adult onset diabetes", "type 2"),
    (
        "not_pregnant",
        ("pregnan", "hcg", "upt"),
        r"(?:not|non) ?pregnant|(?:pregnancy test|hcg|upt) (?:is |was )?negative"
        r"|negative (?:pregnancy test|hcg|upt)",
        "yes",
    ),
    (
        "weeks",
        ("week",),
        r"(\d{1,2})(?: \d \d)? (?:weeks?|wks?)(?: (?:and )?\d (?:days?|d))? (?:of )?"
        r"(?:gestation|gestational age|pregnant|pregnancy|intrauterine pregnancy"
        r"|estimated gestational age|iup|ga)",
        "g1",
    ),
    (
        "weeks",
        ("week",),
        r"(?:estimated gestational age|gestational age|gestation|pregnant|pregnancy|ga)"
        r"(?: of| is| at| by lmp)? "
        r"(\d{1,2})(?: \d \d)? (?:weeks?|wks?)",
        "g1",
    ),
    ("weeks", tuple(f"{d}w" for d in range(10)), r"(\d{1,2})w\dd?", "g1"),
    ("trimester", ("trimester",), r"(first|1st|second|2nd|third|3rd) trimester", "ordinal"),
    (
        "pregnancy",
        ("pregnan", "gravid", "antepartum", "gestation"),
        r"pregnant|pregnancy|gravid|antepartum|gestation",
        "yes",
    ),
    ("postpartum", ("partum", "puerper"), r"post ?partum|puerperium|puerperal", "yes"),
    (
        "laterality",
        ("bilateral", "both"),
        r"bilateral(?:ly)?|both (?:sides|knees|hips|eyes|ears|legs|arms|feet|hands|lungs|kidneys|breasts"
        r"|shoulders"
        r"|ankles|wrists|elbows|lower extremities|upper extremities)",
        "bilateral",
    ),
    ("laterality", ("right",), r"right(?: sided| side)?", "right"),
    ("laterality", ("left",), r"left(?: sided| side)?", "left"),
    (
        "cause_link",
        (
            "due",
            "secondary",
            "caused",
            "induced",
            "attribut",
            "because",
            "result",
            "related",
            "associated",
            "from",
            "after",
            "following",
        ),
        r"(due to|secondary to|caused by|induced by|attributed to|attributable to|because of|resulting from"
        r"|as a result of|result of|related to|associated with|from|after|following)"
        r" (?:the |a |an |his |her |their |recent |a recent )?"
        r"([a-z0-9]+(?: (?!and\b|or\b|with\b|but\b|who\b|which\b)[a-z0-9]+){0,3})",
        "link",
    ),
    (
        "cause_word",
        ("induced", "related", "associated", "mediated"),
        r"([a-z0-9]+) (?:induced|related|associated|mediated)",
        "word",
    ),
]
_COMPILED = [
    # no look-behind: a literal prefix lets the regex engine search fast; word starts are checked in code
    (kind, needles, re.compile(rf"(?:{pattern})(?![a-z0-9])"), value)
    for kind, needles, pattern, value in _RULES
]
_CAUSE_KINDS = frozenset({"cause_link", "cause_word"})
_NEEDLES: tuple[tuple[str, int], ...] = tuple(
    (needle, k) for k, (_kind, needles, _pattern, _value) in enumerate(_RULES) for needle in needles
)
assert all(" " not in needle for needle, _k in _NEEDLES), "needles are parts of one word"
_WORD_RULES: dict[str, frozenset[int]] = {}


def _rules_of(word: str) -> frozenset[int]:
    """Rules whose needle occurs in ``word`` (cached per word)."""
    found = _WORD_RULES.get(word)
    if found is None:
        found = frozenset(k for needle, k in _NEEDLES if needle in word)
        if len(_WORD_RULES) < 100_000:
            _WORD_RULES[word] = found
    return found


_LATERAL_LETTERS = {"r": "right", "rt": "right", "l": "left", "lt": "left"}


class AttributeScanner:
    """Finds attribute cues sentence by sentence; the per-document work (the space-joined words the
    patterns run on, which words can trigger which pattern) is done once, in the constructor."""

    __slots__ = ("flagged", "flagged_at", "index", "joined", "lexicon", "offsets", "parts", "ts")

    def __init__(self, ts: TokenStream, lexicon: AttributeLexicon) -> None:
        self.ts = ts
        self.lexicon = lexicon
        norm, low = ts.norm, ts.low
        self.index = [i for i, n in enumerate(norm) if n]  # words and phrase breakers
        self.parts = parts = ["," if norm[i] == BREAK else low[i] for i in self.index]
        self.offsets = [0, *accumulate(len(p) + 1 for p in parts)]  # offsets[k]: start of part k
        self.joined = " ".join(parts)
        cache = _WORD_RULES
        flagged: list[tuple[int, frozenset[int]]] = []
        for k, word in enumerate(parts):
            rules = cache.get(word)
            if rules is None:
                rules = _rules_of(word)
            if rules:
                flagged.append((k, rules))
        self.flagged = flagged
        self.flagged_at = [k for k, _ in flagged]

    def hits(self, i0: int, i1: int) -> list[Hit]:
        """Attribute cues of the stream tokens ``[i0, i1)`` (one sentence)."""
        hits: list[Hit] = []
        site_starts = set()
        for a, b, payload in self.lexicon.index.scan(self.ts.norm, i0, i1):
            for kind, name in payload:
                if kind in ("site", "organism", "external"):
                    hits.append(Hit(a, b, kind, name))
                if kind == "site":
                    site_starts.add(a)
        index, parts, offsets = self.index, self.parts, self.offsets
        k0, k1 = bisect_left(index, i0), bisect_left(index, i1)
        if k0 >= k1:
            return hits
        if site_starts:  # "R knee", "lt ankle"
            for k in range(k0, k1 - 1):
                side = _LATERAL_LETTERS.get(parts[k])
                if side is not None and index[k + 1] in site_starts:
                    hits.append(Hit(index[k], index[k] + 1, "laterality", side))
        f0, f1 = bisect_left(self.flagged_at, k0), bisect_left(self.flagged_at, k1)
        if f0 == f1:
            return hits
        applicable: set[int] = set()
        for _k, rules in self.flagged[f0:f1]:
            applicable.update(rules)
        joined = self.joined
        pos, endpos = offsets[k0], offsets[k1] - 1
        taken: list[tuple[int, int]] = []
        for rule in sorted(applicable):
            kind, _needles, regex, value = _COMPILED[rule]
            cause = kind in _CAUSE_KINDS
            for m in regex.finditer(joined, pos, endpos):
                s, e = m.span()
                if s > pos and joined[s - 1] != " ":  # not at a word start
                    continue
                if not cause and any(s < te and ts_ < e for ts_, te in taken):
                    continue
                first = index[bisect_right(offsets, s) - 1]
                last = index[bisect_left(offsets, e) - 1] + 1
                if cause:
                    hit = _cause_hit(m, kind, first, last, self.lexicon)
                    if hit is not None:
                        hits.append(hit)
                    continue
                taken.append((s, e))
                if value == "g1":
                    weeks = int(m.group(1))
                    if 1 <= weeks <= 45:
                        hits.append(Hit(first, last, "weeks", str(weeks)))
                elif value == "ordinal":
                    hits.append(Hit(first, last, "trimester", _ORDINAL[m.group(1)]))
                elif callable(value):
                    hits.append(Hit(first, last, kind, value(m)))
                else:
                    hits.append(Hit(first, last, kind, value))
        return hits


def sentence_hits(ts: TokenStream, i0: int, i1: int, lexicon: AttributeLexicon) -> list[Hit]:
    """Attribute cues of the tokens ``[i0, i1)``; use :class:`AttributeScanner` for many sentences."""
    return AttributeScanner(ts, lexicon).hits(i0, i1)


def _cause_hit(m: re.Match[str], kind: str, first: int, last: int, lexicon: AttributeLexicon) -> Hit | None:
    if kind == "cause_word":
        found = lexicon.classify(m.group(1))
        if found is None or found[0] in ("external", "organism"):
            return None
        return Hit(first, last, "cause_before", f"{found[0]}\t{found[1]}")
    link, words = m.group(1), m.group(2)
    found = lexicon.classify(words)
    if found is not None and found[0] == "organism":  # reported in Attributes.organisms
        return None
    if found is None:
        if link not in _STRONG_LINKS:
            return None
        found = ("condition", words)
    return Hit(first, last, "cause_after", f"{found[0]}\t{found[1]}")


_ATTRIBUTES_CACHE: dict[tuple[object, ...], Attributes] = {}


def mention_attributes(
    hits: Sequence[Hit], ms: int, me: int, lo: int, hi: int, *, all_causes: bool = False
) -> Attributes:
    """Attributes of the mention over tokens ``[ms, me)`` from the sentence ``hits`` inside ``[lo, hi)``.

    ``all_causes`` keeps every hit and every cause whatever its place (used for a whole text)."""
    if not hits:
        return EMPTY
    best: dict[str, tuple[tuple[int, int], str]] = {}
    sites: list[str] = []
    organisms: list[str] = []
    causes: list[Cause] = []
    flags: set[str] = set()
    for start, end, kind, value in hits:
        if kind == "cause_after":  # "X due to Y": the cue must follow the mention; Y may be a later mention
            if all_causes or me <= start < hi:
                cause_kind, _, text = value.partition("\t")
                causes.append(Cause(cause_kind, text))
            continue
        if not all_causes and (start < lo or end > hi):
            continue
        if kind == "cause_before":  # "steroid induced X"
            if all_causes or start < me:
                cause_kind, _, text = value.partition("\t")
                causes.append(Cause(cause_kind, text))
        elif kind == "site":
            sites.append(value)
        elif kind == "organism":
            organisms.append(value)
        elif kind == "external":
            causes.append(Cause("external", value))
        elif value == "yes":
            flags.add(kind)
        else:
            if end <= ms:
                key = (ms - end, 0)
            elif start >= me:
                key = (start - me, 1)
            else:
                key = (0, -1)
            old = best.get(kind)
            if old is None or key < old[0]:
                best[kind] = (key, value)
    if not best and not flags and not sites and not organisms and not causes:
        return EMPTY
    get = {kind: found[1] for kind, found in best.items()}.get
    weeks_text = get("weeks")
    weeks = int(weeks_text) if weeks_text else None
    trimester_text = get("trimester")
    trimester = int(trimester_text) if trimester_text else None
    if trimester is None and weeks is not None:
        trimester = 1 if weeks < 14 else 2 if weeks < 28 else 3
    pregnant = (
        "pregnancy" in flags or weeks is not None or trimester is not None
    ) and "not_pregnant" not in flags
    healing = get("healing")
    fields = (
        get("laterality"),
        get("acuity"),
        get("severity"),
        get("stage"),
        "exacerbation" in flags,
        "status_asthmaticus" in flags,
        get("hf_type"),
        get("episode") or ("subsequent" if healing else None),
        healing,
        get("diabetes"),
        pregnant,
        "postpartum" in flags,
        weeks if pregnant else None,
        trimester if pregnant else None,
        tuple(dict.fromkeys(sites)),
        tuple(dict.fromkeys(organisms)),
        tuple(dict.fromkeys(causes)),
    )
    found = _ATTRIBUTES_CACHE.get(fields)  # equal attributes are shared (they are immutable)
    if found is None:
        found = Attributes(*fields)
        if len(_ATTRIBUTES_CACHE) < 20_000:
            _ATTRIBUTES_CACHE[fields] = found
    return found


def window(
    norms: Sequence[str], ms: int, me: int, i0: int, i1: int, prev_end: int, next_start: int
) -> tuple[int, int]:
    """Token window of a mention: up to ``BEFORE`` tokens before it (not across ``, ; :``) and
    ``AFTER`` after it, inside the sentence and never into the neighbouring mentions."""
    lo = ms
    floor = max(i0, prev_end, ms - BEFORE)
    while lo > floor and norms[lo - 1] != BREAK:
        lo -= 1
    return (lo, min(i1, next_start, me + AFTER))


def extract_attributes(text: str, lexicon: AttributeLexicon | None = None) -> Attributes:
    """All attributes stated anywhere in ``text`` (e.g. a diagnosis line), as if it were one mention."""
    from chartcode.text.document import build_document

    doc = build_document(text)
    lexicon = lexicon or default_attribute_lexicon()
    ts = doc.expanded.tokens
    scanner = AttributeScanner(ts, lexicon)
    hits = [h for k, s in enumerate(doc.sentences) if not s.is_header for h in scanner.hits(*ts.sentences[k])]
    n = len(ts.low)
    return mention_attributes(hits, 0, 0, 0, n, all_causes=True)
