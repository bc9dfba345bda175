"""Professional services: procedures, drugs and supplies with units, modifiers and diagnosis pointers.

:func:`add_services` completes a :class:`~chartcode.assign.api.CodingResult` for a physician claim:
the E/M level (from :func:`chartcode.assign.em.level_em`), the procedures found through the built-in
catalogue (``data/procedure_catalogue.json``: CPT code numbers with the project's own short labels,
never AMA descriptor text), drugs coded from the CMS HCPCS Level II descriptors read from the
knowledge base (name + dose -> J-code and billing units), vaccines and their administration,
supplies, then modifiers, MUE-checked units and diagnosis pointers. Every decision names its rule
id and citation in the line's rationale; findings that need a person (units above an MUE, a bundled
pair dropped, a rule that could not run) go to ``CodingResult.warnings`` with codes only, no note text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from chartcode.assign.api import CodedDiagnosis, CodingOptions, CodingResult, Evidence
from chartcode.assign.em import EmResult, level_em
from chartcode.codesets import procedures as proc
from chartcode.codesets.kb import KnowledgeBase
from chartcode.errors import ChartcodeError, InputError, NoReleaseForDateError
from chartcode.rulefile import RuleFile
from chartcode.text import Document


class CatalogueError(InputError):
    """A services data file (procedure catalogue, drug synonyms) is malformed."""

    code = "CC405"


@dataclass(frozen=True, slots=True)
class CodedService:
    code: str  # CPT code number or HCPCS Level II code
    system: str  # "CPT" | "HCPCS"
    modifiers: tuple[str, ...]
    units: int
    dx_pointers: tuple[int, ...]  # 1-based into CodingResult.diagnoses, most relevant first, at most 4
    evidence: tuple[Evidence, ...]
    rationale: str  # the catalogue entry or descriptor and every rule applied, with its id and citation
    label: str  # own short label (CPT) or the CMS description (HCPCS); a licensed CPT descriptor if installed
    confidence: float


# Rule ids and citations (cited by section name; no copyrighted text).
CITATIONS: dict[str, str] = {
    "SVC-CATALOGUE": "CPT code selection by the documented attributes (chartcode procedure catalogue)",
    "SVC-DRUG-UNITS": "CMS HCPCS Level II descriptor dosage; CMS Claims Processing Manual ch. 17 §70 "
    "(drug units)",
    "SVC-DRUG-ADMIN": "CMS Claims Processing Manual ch. 12 §30.5 (drug administration services)",
    "SVC-VACCINE-ADMIN": "CMS Claims Processing Manual ch. 12 §30.6.7 / ch. 18 (immunization administration)",
    "SVC-PREVENTIVE": "CMS Claims Processing Manual ch. 12 §30.6.2 (preventive medicine services by age)",
    "MOD-RT-LT": "NCCI Policy Manual ch. I §E (anatomic modifiers RT/LT)",
    "MOD-50": "CMS Claims Processing Manual ch. 12 §40.7 (bilateral procedures, PFS bilateral indicator)",
    "MOD-DIGIT": "NCCI Policy Manual ch. I §E (anatomic modifiers FA–F9, TA–T9)",
    "MOD-25": "CMS Claims Processing Manual ch. 12 §30.6.6 (modifier 25); NCCI Policy Manual ch. I and XI",
    "MOD-59": "NCCI Policy Manual ch. I §E (modifiers 59 and XE/XS/XP/XU); CPT repair guidelines for "
    "repairs of "
    "different classification",
    "MOD-76-77": "CMS Claims Processing Manual ch. 12 §40 (repeat procedures, modifiers 76/77)",
    "MOD-26-TC": "CMS Claims Processing Manual ch. 13 §20 (professional/technical component, PFS PC/TC "
    "indicator)",
    "NCCI-MUE": "NCCI Policy Manual ch. I §V (medically unlikely edits)",
    "NCCI-PTP": "NCCI Policy Manual ch. I (procedure-to-procedure edits and modifier indicators)",
    "DX-POINTER": "CMS Claims Processing Manual ch. 26 (item 24E diagnosis pointer)",
}

_HISTORY_SECTIONS = frozenset(
    {
        "past_medical_history",
        "past_surgical_history",
        "family_history",
        "social_history",
        "medications",
        "allergies",
        "review_of_systems",
        "problem_list",
    }
)
_FACILITY = re.compile(
    r"\b(emergency department|emergency room|ed (?:provider|physician|note|visit|course)|inpatient|"
    r"outpatient hospital|hospital outpatient|pos (?:19|21|22|23)|place of service:? (?:19|21|22|23)|"
    r"professional (?:interpretation|component) only|interpretation only|observation unit)\b"
)
_PLAN = re.compile(
    r"\b(will|plan(?:ned|s)?|consider(?:ing)?|recommend(?:ed|s)?|schedul\w*|order(?:ed)?|refer(?:red|ral)?|"
    r"declin\w*|defer\w*|if|next visit|return for|to be|should|may need|would|due for)\b"
)
_FUTURE = re.compile(r"\b(will|plan(?:ned)?|recommend\w*|schedul\w*|order(?:ed)?|to be|next visit)\b")
_HIST = re.compile(
    r"\b(prior|previous(?:ly)?|last (?:week|month|year|visit|injection\w*)|ago|history of|in (?:19|20)\d\d|"
    r"from last|outside (?:films|records|hospital)|up[- ]to[- ]date|s/p|status post)\b"
)
_PERFORMED = re.compile(
    r"\b(performed|done|obtained|administered|given|injected|aspirated|repaired|excised|closed|sutured|"
    r"placed|drawn|dispensed|fitted|applied|showed?|shows|reveal\w*|demonstrat\w*|interpret\w*|positive|"
    r"negative|today|in[- ]office|in clinic|here|completed|taken|received|results?|resulted|"
    r"point[- ]of[- ]care|"
    r"poc|was|were|read by me|repeated)\b"
)
_REVIEWED_ONLY = re.compile(r"\b(reviewed|review of|per (?:the )?(?:report|radiology|chart))\b")
_BY_ME = re.compile(
    r"\b(by me|in[- ]office|in clinic|done here|performed|obtained|taken|my interpretation)\b"
)
_NEG_BEFORE = re.compile(r"\b(no|not|without|declined|refused|deferred|denies)\s+(?:\S+\s+){0,2}$")
_NEG_AFTER = re.compile(
    r"^\W*(?:\S+\s+){0,2}?(?:not (?:done|performed|obtained|indicated|needed|given)|was deferred|deferred|"
    r"declined|refused)\b"
)
_SEPARATE_SESSION = re.compile(
    r"\b(separate (?:encounter|session|visit)|later (?:that|the same) day|returned later|second encounter)\b"
)
_SEPARATE_EM = re.compile(
    r"\b(separately identifiable|separate (?:and distinct |significant )?(?:problem|issue|e/m|evaluation)|"
    r"also addressed|additionally addressed|in addition to the (?:preventive|procedure)|problem[- ]oriented|"
    r"separate from the (?:procedure|preventive))\b"
)
_REPEAT = re.compile(r"\b(repeat(?:ed)?|again|second (?:ecg|ekg|film|x-ray|tracing))\b")
_OTHER_PHYSICIAN = re.compile(r"\b(another|different|other|second) (?:physician|provider|doctor|clinician)\b")
_AGE = re.compile(r"\b(\d{1,3})[- ]?(?:year|yr|y)s?[- /]?o(?:ld)?\b")
_WORD = re.compile(r"[a-z0-9]+")
_LATERALITY = re.compile(r"\b(right|left|bilateral|bilaterally|both|rt|lt)\b")
_LAT_NORMAL = {"right": "R", "rt": "R", "left": "L", "lt": "L"}
_FINGERS = {
    "thumb": 1,
    "index finger": 2,
    "second finger": 2,
    "2nd finger": 2,
    "middle finger": 3,
    "long finger": 3,
    "third finger": 3,
    "3rd finger": 3,
    "ring finger": 4,
    "fourth finger": 4,
    "4th finger": 4,
    "little finger": 5,
    "small finger": 5,
    "pinky": 5,
    "fifth finger": 5,
    "5th finger": 5,
}
_TOES = {
    "great toe": 1,
    "big toe": 1,
    "hallux": 1,
    "first toe": 1,
    "1st toe": 1,
    "second toe": 2,
    "2nd toe": 2,
    "third toe": 3,
    "3rd toe": 3,
    "fourth toe": 4,
    "4th toe": 4,
    "fifth toe": 5,
    "5th toe": 5,
    "little toe": 5,
    "small toe": 5,
}
_DIGIT_WORDS = tuple(
    (re.compile(rf"\b{re.escape(word)}\b"), kind, n)
    for table, kind in ((_TOES, "foot"), (_FINGERS, "hand"))
    for word, n in table.items()
)
# F/T anatomic modifiers: left hand FA (thumb), F1-F4; right hand F5 (thumb), F6-F9; toes TA, T1-T4 / T5-T9
_DIGIT_MODIFIER = {
    ("hand", "L"): ("FA", "F1", "F2", "F3", "F4"),
    ("hand", "R"): ("F5", "F6", "F7", "F8", "F9"),
    ("foot", "L"): ("TA", "T1", "T2", "T3", "T4"),
    ("foot", "R"): ("T5", "T6", "T7", "T8", "T9"),
}
_NUM_WORDS = dict(
    one=1,
    single=1,
    two=2,
    three=3,
    four=4,
    five=5,
    six=6,
    seven=7,
    eight=8,
    nine=9,
    ten=10,
    eleven=11,
    twelve=12,
    thirteen=13,
    fourteen=14,
    fifteen=15,
)
_VIEWS = re.compile(r"\b(\d|one|single|two|three|four|five|six|seven)[\s-]*(?:views?|v)\b")
_LENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(cm|mm|centimeters?|millimeters?)\b(?!\s*(?:deep|in depth|depth))")
_AREA = re.compile(
    r"(\d+(?:\.\d+)?)\s*(?:cm)?\s*(?:x|×|by)\s*(\d+(?:\.\d+)?)\s*cm\b|(\d+(?:\.\d+)?)\s*(?:sq\.?\s*cm|cm2|cm²|"
    r"square centimeters?)"
)
_DOSE = re.compile(
    r"(\d[\d,]*(?:\.\d+)?)\s*(mg|mcg|µg|micrograms?|milligrams?|grams?|gm|g|units?|iu|ml|cc)\b(?!\s*/)"
)
_CONCENTRATION = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|mcg)\s*/\s*(?:ml|cc)\b")
_MULTIPLIER = re.compile(r"\s*(?:x|×|times)\s*(\d)\b")
_VIALS = re.compile(r"\b(two|three|four|2|3|4)\s+(?:vials|ampules|syringes|doses)\b")
_MINUTES = re.compile(r"\bover\s+(\d+(?:\.\d+)?)\s*(minutes?|min|hours?|hrs?|h)\b")
_ORAL = re.compile(
    r"\b(po|by mouth|orally|oral|tablets?|capsules?|daily|nightly|weekly|monthly|qhs|qd|bid|tid|qid|prn|"
    r"as needed|at bedtime|prescribed|prescription|rx|continue|home|takes|taking|uses|using|self-inject\w*)\b"
)
_GIVEN_NOW = re.compile(r"\b(given|administered|injected|gave|received|today|infused|pushed|placed)\b")
_ADMIN = re.compile(
    r"\b(inject(?:ed|ion)?|administered|given|gave|im|iv|intramuscular\w*|intravenous\w*|infused|infusion|"
    r"intra-articular\w*|intraarticular\w*|subcutaneous\w*|subq|sq|sc|shot|received|push)\b"
)
_JOINT_ROUTE = re.compile(r"\b(intra-articular\w*|intraarticular\w*|joint|bursa|subacromial)\b")
_DRUG_SITE = re.compile(
    r"\b(deltoid|gluteal|gluteus|buttock|thigh|abdomen|arm|knee|shoulder|hip|wrist|elbow|ankle|bursa)\b"
)
_VAX_GIVEN = re.compile(
    r"\b(given|administered|injected|received|today|vaccinated|immunized|gave|im|intramuscular\w*|oral(?:ly)?|"
    r"intranasal\w*|subcutaneous\w*|sc|subq)\b"
)
_VAX_NOT_NOW = re.compile(
    r"\b(ago|in (?:19|20)\d\d|(?:19|20)\d\d|last|previous(?:ly)?|prior|up[- ]to[- ]date|due|next|declined|"
    r"refused|deferred|will|plan(?:ned)?|in \d+(?:-\d+)? (?:months?|weeks?|years?)|history)\b"
)
_SENT_OUT = re.compile(
    r"\b(sent|send|send[- ]out|reference lab|outside lab|ordered|will|pending|to be drawn|drawn|draw|"
    r"venipuncture)\b"
)
_LAB_DONE = re.compile(
    r"\b(in[- ]office|in clinic|point[- ]of[- ]care|poc|rapid|positive|negative|dipstick|done here|"
    r"performed)\b"
)


# --- data -----------------------------------------------------------------------------------------


_CATALOGUE_FIX = "reinstall chartcode or restore the file."
_CATALOGUE_KEYS = (
    "skin_sites",
    "repair",
    "excision",
    "debridement",
    "joints",
    "imaging",
    "services",
    "vaccines",
    "vaccine_cues",
    "vaccine_admin",
    "preventive",
    "injections",
    "supplies",
    "destruction",
    "supply_cues",
)


def _data(name: str, fmt: str, required: Sequence[str], source: str | Path | None) -> dict[str, Any]:
    """The packaged ``data/<name>`` (or ``source``), checked by the shared rules-file reader."""
    return RuleFile(
        source,
        name,
        fmt,
        package="chartcode.assign",
        error=CatalogueError,
        label="Services data file",
        file_fix=_CATALOGUE_FIX,
        packaged_fix=_CATALOGUE_FIX,
        required=required,
        optional=None,
    ).data


def _cue_re(cues: Iterable[str]) -> re.Pattern[str]:
    words = sorted({c.strip().lower() for c in cues if c.strip()}, key=len, reverse=True)
    if not words:
        return re.compile(r"(?!x)x")
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(w) for w in words) + r")(?![a-z0-9])")


@dataclass(frozen=True)
class _Catalogue:
    raw: dict[str, Any]
    skin_site: dict[str, str]  # word -> canonical skin site
    skin_re: re.Pattern[str]
    gates: dict[str, tuple[frozenset[str], ...]]  # finder -> words of each cue: a note with none skips it
    synonyms: dict[str, str]
    no_bill: frozenset[str]
    cues: dict[str, re.Pattern[str]] = field(default_factory=dict)

    def cue(self, name: str, cues: Iterable[str]) -> re.Pattern[str]:
        found = self.cues.get(name)
        if found is None:
            found = _cue_re(cues)
            self.cues[name] = found
        return found


def _cue_words(cues: Iterable[str]) -> tuple[frozenset[str], ...]:
    """The words of every cue (all parts of an ``a+b`` cue), as the note's words are split: a note whose
    words hold none of these sets cannot match the cues."""
    return tuple(
        {frozenset(_WORD.findall(str(cue).lower().replace("+", " "))) for cue in cues} - {frozenset()}
    )


@cache
def catalogue() -> _Catalogue:
    """The packaged procedure catalogue and drug synonyms, read once."""
    return load_catalogue()


def load_catalogue(
    catalogue_source: str | Path | None = None, synonyms_source: str | Path | None = None
) -> _Catalogue:
    """The catalogue read from the packaged files (or the files given), validated: a malformed file is a
    :class:`CatalogueError` naming the file and the field."""
    raw = _data(
        "procedure_catalogue.json", "chartcode-procedure-catalogue", _CATALOGUE_KEYS, catalogue_source
    )
    drug_keys = ("synonyms", "not_separately_billed")
    drugs = _data("drug_synonyms.json", "chartcode-drug-synonyms", drug_keys, synonyms_source)
    try:
        skin_site = {w.lower(): site for site, words in raw["skin_sites"].items() for w in words}
        gates = {
            key: _cue_words(raw[key]["cues"])
            for key in ("repair", "excision", "debridement", "joints", "imaging", "preventive", "destruction")
        }
        for key in ("services", "vaccines", "supplies"):
            gates[key] = _cue_words(c for entry in raw[key] for c in entry["cues"])
        for key in ("repair", "excision", "debridement", "destruction", "joints"):
            if not isinstance(raw[key]["dx"], list):
                raise TypeError(f"{key}.dx must be a list of ICD-10-CM code prefixes")
        synonyms = {str(k).lower(): str(v).lower() for k, v in drugs["synonyms"].items()}
        no_bill = frozenset(str(w).lower() for w in drugs["not_separately_billed"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise CatalogueError(
            f"Services data file procedure_catalogue.json or drug_synonyms.json: a field is missing or "
            f"malformed ({type(exc).__name__}: {exc}).",
            _CATALOGUE_FIX,
        ) from None
    return _Catalogue(raw, skin_site, _cue_re(skin_site), gates, synonyms, no_bill)


# --- HCPCS drug descriptors -----------------------------------------------------------------------

_MASS = {"mg": 1.0, "milligram": 1.0, "milligrams": 1.0, "mcg": 0.001, "µg": 0.001, "microgram": 0.001}
_MASS |= {"micrograms": 0.001, "g": 1000.0, "gm": 1000.0, "gram": 1000.0, "grams": 1000.0}
_VOLUME = {"ml": 1.0, "cc": 1.0}
_UNITS = {"unit": 1.0, "units": 1.0, "iu": 1.0, "i.u.": 1.0}
_DESC_AMOUNT = re.compile(
    r"(?:per |up to )?(\d[\d,]*(?:\.\d+)?)\s*"
    r"(mg|mcg|microgram|milligram|gm|g|grams?|units?|iu|i\.u\.|ml|cc)\b"
)


def _measure(unit: str) -> tuple[str, float] | None:
    unit = unit.lower()
    if unit in _MASS:
        return "mass", _MASS[unit]
    if unit in _VOLUME:
        return "volume", _VOLUME[unit]
    if unit in _UNITS:
        return "units", _UNITS[unit]
    return None


@dataclass(frozen=True, slots=True)
class DrugCode:
    """A HCPCS drug code parsed from its CMS descriptor: name, qualifiers and the amount one unit bills."""

    code: str
    name: str
    qualifiers: tuple[str, ...]
    nos: bool
    amount: float  # in the base unit of ``measure`` (mg, mL or units)
    measure: str  # mass | volume | units
    description: str


def parse_drug_descriptor(code: str, description: str) -> DrugCode | None:
    """``Injection, ketorolac tromethamine, per 15 mg`` -> DrugCode(name='ketorolac tromethamine', 15 mg).

    Only injections and infusions with one dosage amount (two amounts of the same measure joined by
    "and", as in a two-salt product, are added); anything else answers None.
    """
    low = " ".join(description.lower().split())
    head, _, rest = low.partition(",")
    if head not in ("injection", "infusion") or not rest:
        return None
    parts = [p.strip() for p in re.split(r",(?=\s|$)|,(?=\D)", rest) if p.strip()]
    if not parts:
        return None
    name_part = parts[0]
    amounts = list(_DESC_AMOUNT.finditer(name_part))
    if amounts and " and " in name_part:
        measured = [(_measure(m.group(2)), float(m.group(1).replace(",", ""))) for m in amounts]
        if all(m is not None for m, _ in measured) and len({m[0] for m, _ in measured if m}) == 1:
            first = measured[0][0]
            assert first is not None
            total = sum(v * (m[1] if m else 1.0) for m, v in measured)
            return DrugCode(code, name_part, (), False, total, first[0], description)
        return None
    amount: tuple[str, float] | None = None
    qualifiers: list[str] = []
    nos = False
    for part in parts[1:]:
        m = _DESC_AMOUNT.search(part)
        if m and amount is None and m.start() <= 7:
            measure = _measure(m.group(2))
            if measure is None:
                return None
            amount = (measure[0], float(m.group(1).replace(",", "")) * measure[1])
            continue
        if part in ("not otherwise specified", "nos", "not otherwise classified"):
            nos = True
        elif amount is None:
            qualifiers.append(part)
    if amount is None or amount[1] <= 0:
        return None
    name = re.sub(r"\s*\([^)]*\)", "", name_part).strip()
    qualifiers += re.findall(r"\(([^)]*)\)", name_part)
    if not name or " and " in name:
        return None
    return DrugCode(code, name, tuple(qualifiers), nos, amount[1], amount[0], description)


@dataclass(frozen=True)
class _DrugIndex:
    by_name: dict[str, tuple[DrugCode, ...]]
    by_first: dict[str, tuple[str, ...]]  # first word -> HCPCS names and synonyms, longest first

    def mentions(self, text: str, start: int, end: int) -> list[tuple[int, int, str]]:
        """``(start, end, name)`` of every drug name in ``text[start:end]``, longest match first."""
        out: list[tuple[int, int, str]] = []
        taken = -1
        for m in _WORD.finditer(text, start, end):
            names = self.by_first.get(m.group())
            if not names or m.start() < taken:
                continue
            for name in names:
                stop = m.start() + len(name)
                if stop <= end and text.startswith(name, m.start()) and not text[stop : stop + 1].isalnum():
                    out.append((m.start(), stop, name))
                    taken = stop
                    break
        return out


_DRUG_INDEXES: dict[tuple[str, str], _DrugIndex] = {}


def drug_index(kb: KnowledgeBase, release: str) -> _DrugIndex:
    key = (str(kb.path), release)
    found = _DRUG_INDEXES.get(key)
    if found is not None:
        return found
    by_name: dict[str, list[DrugCode]] = {}
    rows = kb.conn.execute(
        "SELECT code, long_description FROM hcpcs_codes WHERE release = ? AND code LIKE 'J%'", (release,)
    )
    for code, desc in rows:
        parsed = parse_drug_descriptor(str(code), str(desc))
        if parsed is not None:
            by_name.setdefault(parsed.name, []).append(parsed)
    cat = catalogue()
    by_first: dict[str, list[str]] = {}
    for name in set(by_name) | set(cat.synonyms) | set(cat.no_bill):
        words = _WORD.findall(name)
        if words and name.startswith(words[0]):
            by_first.setdefault(words[0], []).append(name)
    index = _DrugIndex(
        {k: tuple(v) for k, v in by_name.items()},
        {k: tuple(sorted(v, key=len, reverse=True)) for k, v in by_first.items()},
    )
    _DRUG_INDEXES[key] = index
    return index


def choose_drug_codes(candidates: Sequence[DrugCode], context: str) -> list[DrugCode]:
    """The codes of one drug name that fit the documentation: every qualifier of the code is written in
    ``context`` (most qualifiers first), else the not-otherwise-specified code, else the plain codes."""
    matched = [c for c in candidates if all(q in context for q in c.qualifiers)]
    if not matched:
        return []
    best = max(len(c.qualifiers) for c in matched)
    top = [c for c in matched if len(c.qualifiers) == best]
    if best == 0 and any(c.nos for c in top) and len({c.amount for c in top}) > 1:
        top = [c for c in top if c.nos]
    return top


def drug_units(codes: Sequence[DrugCode], dose: float) -> list[tuple[DrugCode, int]]:
    """Billing units for ``dose`` (in the codes' base unit): one code per amount -> ceil(dose / amount);
    several fixed-amount codes of one drug (e.g. 20/40/80 mg) -> the exact code, else the largest that
    fits, repeated, and the smallest that covers what remains."""
    eps = 1e-9
    if not codes or dose <= 0:
        return []
    if len(codes) == 1:
        return [(codes[0], max(1, math.ceil(dose / codes[0].amount - eps)))]
    counts: dict[str, int] = {}
    by_code = {c.code: c for c in codes}
    remaining = dose
    while remaining > eps:
        exact = [c for c in codes if abs(c.amount - remaining) < eps]
        fits = [c for c in codes if c.amount <= remaining + eps]
        if exact:
            pick = exact[0]
        elif fits:
            pick = max(fits, key=lambda c: c.amount)
        else:
            pick = min(codes, key=lambda c: c.amount if c.amount >= remaining else math.inf)
        counts[pick.code] = counts.get(pick.code, 0) + 1
        remaining -= pick.amount
    return [(by_code[c], n) for c, n in sorted(counts.items())]


# --- the working line -------------------------------------------------------------------------------


@dataclass
class _Line:
    code: str
    system: str
    label: str
    kind: str
    evidence: list[Evidence]
    reasons: list[str]
    units: int = 1
    modifiers: list[str] = field(default_factory=list)
    confidence: float = 0.85
    site: str | None = None  # the site word as documented ("forearm", "knee", "nose")
    side: str | None = None  # R | L | B
    digit: tuple[str, int] | None = None  # ("hand" | "foot", 1..5)
    sentence: int = -1
    section: str | None = None
    dx: tuple[str, ...] = ()  # ICD-10-CM prefixes that establish medical necessity for this service
    lateral: bool = False
    session: str | None = None  # "repeat" | "repeat-other"
    rank: int = 0  # repair complexity rank, for ordering repairs

    def why(self, rule: str, text: str) -> None:
        self.reasons.append(f"{text} [{rule}: {CITATIONS[rule]}]")


def _addon(primary: _Line, code: str, label: str, units: int, why: str) -> _Line:
    """The add-on line of ``primary`` (same kind, evidence, site, side, sentence and diagnoses) for the
    ``units`` beyond what the primary code covers."""
    add = _Line(
        code,
        primary.system,
        label,
        primary.kind,
        list(primary.evidence),
        [],
        units=units,
        site=primary.site,
        side=primary.side,
        sentence=primary.sentence,
        section=primary.section,
        dx=primary.dx,
        rank=primary.rank,
    )
    add.why("SVC-CATALOGUE", why)
    return add


class _Note:
    def __init__(self, doc: Document, options: CodingOptions) -> None:
        self.doc = doc
        self.text = doc.text
        self.low = doc.text.lower()
        self.options = options
        self.facility = options.setting == "inpatient" or bool(_FACILITY.search(self.low))
        self.rows = [(s.index, s.start, s.end, s.section) for s in doc.sentences if not s.is_header]
        self.row_of = {row[0]: k for k, row in enumerate(self.rows)}  # sentence index -> position in rows

    def sentence_span(self, offset: int) -> tuple[int, int, int, str | None]:
        s = self.doc.sentence_at(offset)
        if s is None:
            return -1, max(0, offset - 80), min(len(self.text), offset + 80), None
        return s.index, s.start, s.end, s.section

    def sent_text(self, index: int) -> str:
        if index < 0:
            return ""
        s = self.doc.sentences[index]
        return self.low[s.start : s.end]

    def ev(self, start: int, end: int) -> Evidence:
        return Evidence(start, end, self.text[start:end])

    def negated(self, start: int, end: int, s0: int, s1: int) -> bool:
        return bool(_NEG_BEFORE.search(self.low[s0:start]) or _NEG_AFTER.search(self.low[end:s1]))

    def performed(self, start: int, end: int, s0: int, s1: int, section: str | None, *, strict: bool) -> bool:
        """Whether the service named at ``[start, end)`` in sentence ``[s0, s1)`` was done at this visit:
        not in a history section, not negated, not historical and not only planned."""
        if section in _HISTORY_SECTIONS or self.negated(start, end, s0, s1):
            return False
        sent = self.low[s0:s1]
        today = "today" in sent
        if _HIST.search(sent) and not today:
            return False
        done = bool(_PERFORMED.search(sent))
        if section == "procedures":
            return not _FUTURE.search(sent)
        if _PLAN.search(sent):
            return done and not _FUTURE.search(sent)
        return done or not strict

    def laterality(self, s0: int, s1: int, at: int) -> str | None:
        """R, L or B for the site at offset ``at``: the nearest laterality word before it in the sentence,
        else the nearest after it."""
        best: tuple[int, str] | None = None
        for m in _LATERALITY.finditer(self.low, s0, s1):
            word = m.group(1)
            side = "B" if word in ("bilateral", "bilaterally", "both") else _LAT_NORMAL[word]
            dist = at - m.end() if m.end() <= at else (m.start() - at) * 3
            if best is None or dist < best[0]:
                best = (dist, side)
        return best[1] if best else None

    def digit(self, s0: int, s1: int) -> tuple[str, int] | None:
        sent = self.low[s0:s1]
        return next(((kind, n) for pattern, kind, n in _DIGIT_WORDS if pattern.search(sent)), None)

    def earlier(
        self, index: int, section: str | None, count: int = 3
    ) -> Iterator[tuple[int, int, int, str | None]]:
        """Up to ``count`` sentences before sentence ``index`` in the same section, nearest first."""
        k = self.row_of.get(index)
        if k is None:
            return
        for row in reversed(self.rows[max(0, k - count) : k]):
            if row[3] != section:
                return
            yield row


def _nearest(pattern: re.Pattern[str], text: str, s0: int, s1: int, at: int) -> re.Match[str] | None:
    best: tuple[int, re.Match[str]] | None = None
    for m in pattern.finditer(text, s0, s1):
        dist = abs(m.start() - at)
        if best is None or dist < best[0]:
            best = (dist, m)
    return best[1] if best else None


def _num(word: str) -> int:
    return int(word) if word.isdigit() else _NUM_WORDS.get(word, 0)


def _cm(value: str, unit: str) -> float:
    return float(value) / 10.0 if unit.startswith("m") else float(value)


def _cues_in(text: str, cues: Iterable[str], cat: _Catalogue, name: str) -> re.Match[str] | None:
    """The first plain cue of ``cues`` in ``text``; a cue written ``a+b`` needs every part in ``text``."""
    plain = [c for c in cues if "+" not in c]
    m = cat.cue(name, plain).search(text)
    if m is not None:
        return m
    for cue in cues:
        if "+" in cue:
            parts = [cat.cue(f"part:{p}", [p]).search(text) for p in cue.split("+")]
            if all(parts):
                return parts[0]
    return None


# --- finders ----------------------------------------------------------------------------------------


def _imaging(note: _Note, cat: _Catalogue) -> list[_Line]:
    img = cat.raw["imaging"]
    cue = cat.cue("imaging", img["cues"])
    proj = cat.cue("projections", img["projections"])
    out: list[_Line] = []
    for idx, s0, s1, section in note.rows:
        hit = cue.search(note.low, s0, s1)
        if hit is None:
            continue
        views_m = _VIEWS.search(note.low, s0, s1)
        strict = views_m is None and proj.search(note.low, s0, s1) is None
        if not note.performed(hit.start(), hit.end(), s0, s1, section, strict=strict):
            continue
        sent = note.low[s0:s1]
        if _REVIEWED_ONLY.search(sent) and not _BY_ME.search(sent):
            continue  # another provider's study, reviewed: not this physician's service
        views = (
            _num(views_m.group(1)) if views_m else len({m.group(0) for m in proj.finditer(note.low, s0, s1)})
        )
        taken: list[tuple[int, int]] = []
        for site in img["sites"]:
            m = _nearest(cat.cue(f"img:{site['site']}", site["cues"]), note.low, s0, s1, hit.start())
            if m is None or any(m.start() < b and a < m.end() for a, b in taken):
                continue
            taken.append(m.span())
            side = note.laterality(s0, s1, m.start()) if site.get("lateral") else None
            bilateral_table = site.get("bilateral") if side == "B" else None
            table = bilateral_table or site["views"]
            n = views or table[0][0]
            row = next((r for r in table if r[0] <= n <= r[1]), table[0] if n < table[0][0] else table[-1])
            line = _Line(
                row[2],
                "CPT",
                row[3],
                "imaging",
                [note.ev(hit.start(), hit.end()), note.ev(m.start(), m.end())],
                [],
                site=m.group(0),
                side=None if bilateral_table else side,
                sentence=idx,
                section=section,
                dx=tuple(site.get("dx", ())),
                lateral=bool(site.get("lateral")) and not bilateral_table,
                confidence=0.85 if views else 0.6,
            )
            if views_m:
                line.evidence.append(note.ev(views_m.start(), views_m.end()))
            if site.get("digits"):
                line.digit = note.digit(s0, s1)
            vtext = (
                f"{views} view(s) documented" if views else "number of views not documented: the smallest set"
            )
            line.why("SVC-CATALOGUE", f"{row[3]} ({vtext})")
            out.append(line)
    return _repeats_or_same(out, note)


def _repeats_or_same(lines: list[_Line], note: _Note) -> list[_Line]:
    """A service told again in a later sentence is the same service, unless the note says it was repeated."""
    out: list[_Line] = []
    for line in lines:
        prior = next(
            (p for p in out if p.code == line.code and p.site == line.site and p.side == line.side), None
        )
        if prior is None:
            out.append(line)
        elif _REPEAT.search(note.sent_text(line.sentence)):
            other = _OTHER_PHYSICIAN.search(note.sent_text(line.sentence))
            line.session = "repeat-other" if other else "repeat"
            out.append(line)
        else:
            prior.evidence.extend(line.evidence)
    return out


def _joints(note: _Note, cat: _Catalogue) -> list[_Line]:
    raw = cat.raw["joints"]
    cue = cat.cue("joints", raw["cues"])
    us = cat.cue("joint-us", raw["ultrasound_cues"])
    out: list[_Line] = []
    active: str | None = None  # a section in which an injection was documented
    for idx, s0, s1, section in note.rows:
        sent = note.low[s0:s1]
        hit = cue.search(note.low, s0, s1)
        if hit is not None:
            if not note.performed(hit.start(), hit.end(), s0, s1, section, strict=True):
                continue
            active = section
        elif not (section == active and (_DOSE.search(sent) or "same" in sent)) or _ORAL.search(sent):
            continue
        if re.search(
            r"\b(intramuscular\w*|im|trigger point|vaccine|subcutaneous\w*|deltoid|gluteal|gluteus)\b", sent
        ) and not (_JOINT_ROUTE.search(sent)):
            continue
        found: list[tuple[int, dict[str, Any], str, re.Match[str]]] = []
        for size in raw["sizes"]:
            for joint, words in size["sites"].items():
                m = cat.cue(f"joint:{joint}", words).search(note.low, s0, s1)
                if m is not None and not any(
                    m.start() < f[3].end() and f[3].start() < m.end() for f in found
                ):
                    found.append((m.start(), size, joint, m))
        us_m = us.search(note.low, s0, s1)
        guided = us_m is not None and not note.negated(us_m.start(), us_m.end(), s0, s1)
        for _, size, joint, m in sorted(found, key=lambda f: f[0]):
            code = size["codes"]["ultrasound" if guided else "plain"]
            side = note.laterality(s0, s1, m.start())
            evs = ([note.ev(hit.start(), hit.end())] if hit else []) + [note.ev(m.start(), m.end())]
            line = _Line(
                code,
                "CPT",
                f"{size['label']} ({size['size']}: {joint}){', ultrasound guided' if guided else ''}",
                "joint",
                evs,
                [],
                site=joint,
                side=side,
                sentence=idx,
                section=section,
                dx=tuple(raw["dx"]),
                lateral=True,
            )
            if size["size"] == "small":
                line.digit = note.digit(s0, s1)
            line.why(
                "SVC-CATALOGUE",
                f"{size['size']} joint ({joint}) {'with' if guided else 'without'} ultrasound guidance",
            )
            out.append(line)
    return _bilateral_merge(_merge_same(out))


def _merge_same(lines: list[_Line]) -> list[_Line]:
    """One line per procedure: the same code, site and side told in several sentences is one service."""
    out: list[_Line] = []
    for line in lines:
        prior = next(
            (
                p
                for p in out
                if p.code == line.code
                and p.site == line.site
                and p.side == line.side
                and p.digit == line.digit
            ),
            None,
        )
        if prior is None:
            out.append(line)
        else:
            prior.evidence.extend(line.evidence)
    return out


def _bilateral_merge(lines: list[_Line]) -> list[_Line]:
    """The same procedure on the right and on the left at one visit is one bilateral service."""
    out: list[_Line] = []
    for line in lines:
        other = next(
            (
                p
                for p in out
                if p.code == line.code
                and p.site == line.site
                and {p.side, line.side} == {"R", "L"}
                and p.digit is None
            ),
            None,
        )
        if other is None:
            out.append(line)
        else:
            other.side = "B"
            other.evidence.extend(line.evidence)
    return out


def _skin_site(note: _Note, cat: _Catalogue, s0: int, s1: int, at: int) -> tuple[str, re.Match[str]] | None:
    m = _nearest(cat.skin_re, note.low, s0, s1, at)
    return (cat.skin_site[m.group(0)], m) if m else None


def _site_here_or_before(
    note: _Note, cat: _Catalogue, idx: int, s0: int, s1: int, sec: str | None, at: int
) -> tuple[str, re.Match[str], int, int] | None:
    found = _skin_site(note, cat, s0, s1, at)
    if found is not None:
        return found[0], found[1], s0, s1
    for _, p0, p1, _ in note.earlier(idx, sec):
        found = _skin_site(note, cat, p0, p1, p1)
        if found is not None:
            return found[0], found[1], p0, p1
    return None


def _bracket(brackets: Sequence[Sequence[Any]], value: float) -> str:
    for limit, code in brackets:
        if limit is None or value <= float(limit) + 1e-9:
            return str(code)
    return str(brackets[-1][1])


def _family(families: Sequence[dict[str, Any]], site: str) -> dict[str, Any] | None:
    return next((f for f in families if site in f["sites"]), None)


_RANK = {"simple": 0, "intermediate": 1, "complex": 2}


@dataclass
class _Wound:
    length: float
    site: str  # canonical skin site
    word: str  # as documented
    side: str | None
    complexity: str
    sentence: int
    section: str | None
    evidence: list[Evidence]


def _complexity(note: _Note, cat: _Catalogue, s0: int, s1: int) -> str | None:
    raw = cat.raw["repair"]
    if cat.cue("repair-cx", raw["complex_cues"]).search(note.low, s0, s1):
        return "complex"
    if cat.cue("repair-int", raw["intermediate_cues"]).search(note.low, s0, s1):
        return "intermediate"
    if re.search(r"\b(simple|simply|single[- ]layer)\b", note.low[s0:s1]):
        return "simple"
    return None


def _repair_lines(wounds: Sequence[_Wound], cat: _Catalogue, note: _Note, what: str) -> list[_Line]:
    raw = cat.raw["repair"]
    groups: dict[tuple[str, str], list[_Wound]] = {}
    for w in wounds:
        complexity = w.complexity
        if complexity == "complex" and w.length <= 1.0:
            complexity = "intermediate"  # CPT: a complex repair of 1.0 cm or less is reported as intermediate
        fam = _family(raw["families"][complexity], w.site)
        if fam is not None:
            groups.setdefault((complexity, fam["group"]), []).append(w)
    out: list[_Line] = []
    for (complexity, group), items in groups.items():
        fam = next(f for f in raw["families"][complexity] if f["group"] == group)
        total = round(sum(w.length for w in items), 2)
        code = _bracket(fam["brackets"], total)
        first = items[0]
        line = _Line(
            code,
            "CPT",
            f"{complexity} repair of {what}, {group}, {total:g} cm total",
            "repair",
            [e for w in items for e in w.evidence],
            [],
            site=first.word,
            side=first.side,
            sentence=first.sentence,
            section=first.section,
            dx=tuple(raw["dx"]),
            rank=_RANK[complexity],
        )
        told = "; ".join(
            f"{w.length:g} cm {'right ' if w.side == 'R' else 'left ' if w.side == 'L' else ''}{w.word}"
            for w in items
        )
        line.why(
            "SVC-CATALOGUE",
            f"{complexity} repair; lengths summed within the site group ({told} = {total:g} cm)",
        )
        out.append(line)
        if complexity == "complex" and total > 7.5 and fam.get("addon"):
            extra = math.ceil((total - 7.5) / 5.0 - 1e-9)
            why = f"add-on for {total - 7.5:g} cm beyond 7.5 cm: {extra} unit(s) of 5 cm"
            out.append(_addon(line, fam["addon"], f"complex repair, {group}, each further 5 cm", extra, why))
    return out


def _repairs(note: _Note, cat: _Catalogue) -> list[_Line]:
    """Laceration repairs: each documented length with its site (this or an earlier sentence of the section)
    and complexity; lengths are summed per complexity and site group (CPT repair guidelines)."""
    raw = cat.raw["repair"]
    cue = cat.cue("repair", raw["cues"])
    act = cat.cue("repair-act", raw["action_cues"])
    if not cue.search(note.low) or not act.search(note.low):
        return []
    wounds: list[_Wound] = []
    active: str | None = None
    section_cx: dict[str | None, str] = {}
    for idx, s0, s1, sec in note.rows:
        if sec in _HISTORY_SECTIONS:
            continue
        has_cue = cue.search(note.low, s0, s1) is not None
        has_act = act.search(note.low, s0, s1) is not None
        if has_cue and has_act:
            active = sec
        cx = _complexity(note, cat, s0, s1)
        if (
            cx is not None
            and (has_cue or has_act or sec == active)
            and (sec not in section_cx or _RANK[cx] > _RANK[section_cx[sec]])
        ):
            section_cx[sec] = cx
        here = has_cue and has_act
        if not (
            here or (sec == active and (has_cue or has_act or re.search(r"\blength\b", note.low[s0:s1])))
        ):
            continue
        if not note.performed(s0, s0, s0, s1, sec, strict=False):
            continue
        for m in _LENGTH.finditer(note.low, s0, s1):
            length = _cm(m.group(1), m.group(2))
            found = _site_here_or_before(note, cat, idx, s0, s1, sec, m.end())
            if found is None or length <= 0:
                continue
            site, sm, p0, p1 = found
            side = note.laterality(p0, p1, sm.start())
            if any(abs(w.length - length) < 1e-9 and w.site == site and w.side == side for w in wounds):
                continue
            wounds.append(
                _Wound(
                    length,
                    site,
                    sm.group(0),
                    side,
                    cx or "",
                    idx,
                    sec,
                    [note.ev(m.start(), m.end()), note.ev(sm.start(), sm.end())],
                )
            )
    for w in wounds:
        if not w.complexity:
            w.complexity = section_cx.get(w.section, "simple")
    lines = _repair_lines(wounds, cat, note, "wound")
    lines.sort(key=lambda x: -x.rank)
    if len({x.rank for x in lines}) > 1:
        for x in lines[1:]:
            if x.rank < lines[0].rank:
                x.modifiers.append("59")
                x.why(
                    "MOD-59",
                    "59: repairs of different classification at one session; the less complicated is the "
                    "secondary procedure (CPT integumentary repair guidelines)",
                )
    return lines


def _excisions(note: _Note, cat: _Catalogue, diagnoses: Sequence[CodedDiagnosis]) -> list[_Line]:
    raw = cat.raw["excision"]
    cue = cat.cue("excision", raw["cues"])
    malig = cat.cue("excision-malig", raw["malignant_cues"])
    out: list[_Line] = []
    for idx, s0, s1, sec in note.rows:
        hit = cue.search(note.low, s0, s1)
        if hit is None or not note.performed(hit.start(), hit.end(), s0, s1, sec, strict=False):
            continue
        sent = note.low[s0:s1]
        if "debrid" in sent:
            continue  # an excisional debridement, not a lesion excision
        margin = 0.0
        margin_spans: list[tuple[int, int]] = []
        for m in re.finditer(
            r"(\d+(?:\.\d+)?)\s*(cm|mm)\s+(?:\w+\s+)?margins?|margins?\s+of\s+(\d+(?:\.\d+)?)\s*(cm|mm)", sent
        ):
            value, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
            margin = max(margin, _cm(value, unit))
            margin_spans.append((s0 + m.start(), s0 + m.end()))
        explicit = re.search(r"excised diameter (?:of |was |is |=\s*)?(\d+(?:\.\d+)?)\s*(cm|mm)", sent)
        size = 0.0
        size_ev: Evidence | None = None
        if explicit:
            size = _cm(explicit.group(1), explicit.group(2))
            size_ev = note.ev(s0 + explicit.start(), s0 + explicit.end())
        else:
            lesion = re.compile(
                r"(\d+(?:\.\d+)?)\s*(?:cm|mm)?(?:\s*(?:x|×|by)\s*(\d+(?:\.\d+)?))?\s*(cm|mm)\b"
            )
            for p0, p1 in [(s0, s1)] + [(r[1], r[2]) for r in note.earlier(idx, sec)]:
                for m in lesion.finditer(note.low, p0, p1):
                    if any(x0 <= m.start() < x1 for x0, x1 in margin_spans):
                        continue
                    dims = [_cm(m.group(1), m.group(3))] + (
                        [_cm(m.group(2), m.group(3))] if m.group(2) else []
                    )
                    size = max(dims) + 2 * margin
                    size_ev = note.ev(m.start(), m.end())
                    break
                if size:
                    break
        found = _site_here_or_before(note, cat, idx, s0, s1, sec, hit.start())
        if size <= 0 or found is None:
            continue
        site, sm, p0, p1 = found
        near = note.low[min(p0, s0) : s1]
        malignant = bool(malig.search(near)) or any(d.code[:3] in ("C43", "C44", "D03") for d in diagnoses)
        behaviour = "malignant" if malignant else "benign"
        fam = _family(raw["families"][behaviour], site)
        if fam is None or any(x.kind == "excision" and x.site == sm.group(0) for x in out):
            continue
        code = _bracket(fam["brackets"], size)
        line = _Line(
            code,
            "CPT",
            f"excision of {behaviour} skin lesion, {fam['group']}, excised diameter {size:g} cm",
            "excision",
            [note.ev(hit.start(), hit.end()), note.ev(sm.start(), sm.end())] + ([size_ev] if size_ev else []),
            [],
            site=sm.group(0),
            side=note.laterality(p0, p1, sm.start()),
            sentence=idx,
            section=sec,
            dx=tuple(raw["dx"]),
        )
        how = (
            "as documented"
            if explicit
            else f"lesion + 2 × {margin:g} cm margin"
            if margin
            else "lesion size, no margin documented"
        )
        line.why(
            "SVC-CATALOGUE", f"{behaviour} lesion, excised diameter {size:g} cm ({how}), site {sm.group(0)}"
        )
        out.append(line)
        out.extend(_closure(note, cat, line, site, idx, sec))
    return out


def _closure(
    note: _Note, cat: _Catalogue, excision: _Line, site: str, idx: int, sec: str | None
) -> list[_Line]:
    """An intermediate or complex closure of an excision defect is reported in addition (a simple one is part
    of the excision), by its documented length."""
    rows = [r for r in note.rows if r[3] == sec and r[0] >= idx] or [r for r in note.rows if r[0] == idx]
    cx = None
    for _, s0, s1, _ in rows:
        found = _complexity(note, cat, s0, s1)
        if found is not None and (cx is None or _RANK[found] > _RANK[cx]):
            cx = found
    if cx in (None, "simple"):
        return []
    length_re = re.compile(
        r"(?:repair|closure|closed|wound|final)\s+(?:length\s+)?(?:of\s+|was\s+|is\s+|measur\w+\s+)?"
        r"(\d+(?:\.\d+)?)\s*(cm|mm)|(\d+(?:\.\d+)?)\s*(cm|mm)\s+(?:layered |intermediate |complex )?"
        r"(?:repair|closure)|length\s+(?:of\s+)?(\d+(?:\.\d+)?)\s*(cm|mm)"
    )
    for _, s0, s1, _ in rows:
        m = length_re.search(note.low, s0, s1)
        if m is None:
            continue
        value, unit = next((m.group(k), m.group(k + 1)) for k in (1, 3, 5) if m.group(k))
        wound = _Wound(
            _cm(value, unit),
            site,
            excision.site or site,
            excision.side,
            cx or "intermediate",
            excision.sentence,
            sec,
            [note.ev(m.start(), m.end())],
        )
        return _repair_lines([wound], cat, note, "excision defect")
    return []


def _destruction(note: _Note, cat: _Catalogue) -> list[_Line]:
    raw = cat.raw["destruction"]
    cue = cat.cue("destruction", raw["cues"])
    act = cat.cue("destruction-act", raw["action_cues"])
    for idx, s0, s1, sec in note.rows:
        hit = cue.search(note.low, s0, s1)
        a = act.search(note.low, s0, s1)
        if hit is None or a is None or not note.performed(a.start(), a.end(), s0, s1, sec, strict=False):
            continue
        sent = note.low[s0:s1]
        count_m = re.search(r"(?:x|×)\s*(\d+)\b", sent) or re.search(
            r"\b(\d+|"
            + "|".join(_NUM_WORDS)
            + r")\s+(?:\w+\s+)?(?:actinic keratos\w*|aks|lesions|premalignant)",
            sent,
        )
        count = _num(count_m.group(1)) if count_m else 0
        if not count:
            whole = re.search(r"\b(\d+|" + "|".join(_NUM_WORDS) + r")\s+(?:\w+\s+)?actinic keratos", note.low)
            count = _num(whole.group(1)) if whole else 1
        evs = [note.ev(hit.start(), hit.end()), note.ev(a.start(), a.end())]
        dx = tuple(raw["dx"])
        labels = raw["labels"]
        if count >= 15:
            line = _Line(
                raw["fifteen_or_more"],
                "CPT",
                labels[raw["fifteen_or_more"]],
                "destruction",
                evs,
                [],
                sentence=idx,
                section=sec,
                dx=dx,
            )
            line.why("SVC-CATALOGUE", f"{count} premalignant lesions destroyed: 15 or more")
            return [line]
        first = _Line(
            raw["first"],
            "CPT",
            labels[raw["first"]],
            "destruction",
            evs,
            [],
            sentence=idx,
            section=sec,
            dx=dx,
        )
        first.why("SVC-CATALOGUE", f"{count} premalignant lesion(s) destroyed: first lesion")
        out = [first]
        if count > 1:
            why = f"lesions 2 through {count}: {count - 1} unit(s)"
            out.append(_addon(first, raw["additional"], labels[raw["additional"]], count - 1, why))
        return out
    return []


def _debridement(note: _Note, cat: _Catalogue) -> list[_Line]:
    raw = cat.raw["debridement"]
    cue = cat.cue("debridement", raw["cues"])
    out: list[_Line] = []
    for idx, s0, s1, sec in note.rows:
        hit = cue.search(note.low, s0, s1)
        if hit is None or not note.performed(hit.start(), hit.end(), s0, s1, sec, strict=True):
            continue
        if re.search(r"wound edges|edges of the (?:wound|laceration)", note.low[s0:s1]):
            continue  # part of a complex repair
        depth = next(
            (d for d in raw["depths"] if cat.cue(f"debr:{d['depth']}", d["cues"]).search(note.low, s0, s1)),
            raw["depths"][-1],
        )
        area = 0.0
        area_m = _AREA.search(note.low, s0, s1)
        if area_m:
            area = (
                float(area_m.group(1)) * float(area_m.group(2)) if area_m.group(1) else float(area_m.group(3))
            )
        found = _skin_site(note, cat, s0, s1, hit.start())
        line = _Line(
            depth["code"],
            "CPT",
            depth["label"],
            "debridement",
            [note.ev(hit.start(), hit.end())] + ([note.ev(area_m.start(), area_m.end())] if area_m else []),
            [],
            site=found[1].group(0) if found else None,
            side=note.laterality(s0, s1, found[1].start()) if found else None,
            sentence=idx,
            section=sec,
            dx=tuple(raw["dx"]),
            confidence=0.8 if area_m else 0.6,
        )
        line.why("SVC-CATALOGUE", f"deepest tissue removed: {depth['depth']}; area {area:g} sq cm")
        out.append(line)
        if area > 20.0:
            extra = math.ceil((area - 20.0) / 20.0 - 1e-9)
            why = f"add-on for {area - 20.0:g} sq cm beyond the first 20: {extra} unit(s)"
            out.append(_addon(line, depth["addon"], depth["addon_label"], extra, why))
    return out


def _lab_done(note: _Note, s0: int, s1: int, end: int) -> bool:
    sent = note.low[s0:s1]
    after = note.low[end : min(s1, end + 40)]
    result = bool(re.search(r"\b(positive|negative|normal|abnormal|\d)", after))
    if _REVIEWED_ONLY.search(sent) and not _BY_ME.search(sent):
        return False
    if _SENT_OUT.search(sent):
        return result and bool(_LAB_DONE.search(sent))
    return result or bool(_LAB_DONE.search(sent))


def _simple_services(note: _Note, cat: _Catalogue) -> list[_Line]:
    out: list[_Line] = []
    seen: dict[str, _Line] = {}
    for entry in cat.raw["services"]:
        cue = cat.cue(f"svc:{entry['code']}", entry["cues"])
        kind = entry["kind"]
        if (note.facility and kind in ("lab", "venipuncture")) or cue.search(note.low) is None:
            continue  # billed by the facility / not in the note
        for idx, s0, s1, sec in note.rows:
            hits = list(cue.finditer(note.low, s0, s1))
            if not hits:
                continue
            hit = hits[0]
            if not note.performed(hit.start(), hit.end(), s0, s1, sec, strict=kind not in ("venipuncture",)):
                continue
            if kind == "lab" and not _lab_done(note, s0, s1, hit.end()):
                continue
            if (
                kind in ("ecg", "spirometry", "spirometry_bd")
                and _REVIEWED_ONLY.search(note.low[s0:s1])
                and not (_BY_ME.search(note.low[s0:s1]))
            ):
                continue
            code, label = str(entry["code"]), str(entry["label"])
            if kind == "ecg" and note.facility:
                code, label = "93010", "ECG, interpretation and report only"
            elif kind == "ecg" and re.search(
                r"\b(tracing only|interpreted by cardiology|read by cardiology)\b", note.low[s0:s1]
            ):
                code, label = "93005", "ECG, tracing only"
            units = len({h.group(0) for h in hits}) if kind == "instrument" else 1
            if code in seen:
                prior = seen[code]
                if kind != "lab" and kind != "instrument" and _REPEAT.search(note.low, s0, s1):
                    rep = _Line(
                        code,
                        "CPT",
                        label,
                        kind,
                        [note.ev(hit.start(), hit.end())],
                        [],
                        sentence=idx,
                        section=sec,
                        dx=tuple(entry["dx"]),
                    )
                    other = _OTHER_PHYSICIAN.search(note.low, s0, s1)
                    rep.session = "repeat-other" if other else "repeat"
                    rep.why("SVC-CATALOGUE", f"{label}, repeated")
                    out.append(rep)
                else:
                    prior.evidence.append(note.ev(hit.start(), hit.end()))
                continue
            line = _Line(
                code,
                "CPT",
                label,
                kind,
                [note.ev(h.start(), h.end()) for h in hits],
                [],
                units=units,
                sentence=idx,
                section=sec,
                dx=tuple(entry["dx"]),
            )
            line.why(
                "SVC-CATALOGUE",
                f"{label} documented as done at this visit"
                + (f" ({units} instruments)" if units > 1 else ""),
            )
            seen[code] = line
            out.append(line)
    superseded = {c for e in cat.raw["services"] if e["code"] in seen for c in e.get("supersedes", ())}
    lines = [line for line in out if line.code not in superseded]
    # a blood draw serves the tests drawn for: their diagnoses are its diagnoses
    for line in lines:
        if line.kind == "venipuncture":
            sent = note.sent_text(line.sentence)
            for entry in cat.raw["services"]:
                if entry["kind"] == "lab" and cat.cue(f"svc:{entry['code']}", entry["cues"]).search(sent):
                    line.dx = line.dx + tuple(entry["dx"])
    return lines


def _vaccines(note: _Note, cat: _Catalogue, age: int | None) -> list[_Line]:
    out: list[_Line] = []
    components: list[int] = []
    routes: list[str] = []
    claimed: set[str] = set()
    for entry in cat.raw["vaccines"]:
        group = entry.get("group", entry["code"])
        if group in claimed or _cues_in(note.low, entry["cues"], cat, f"vax:{entry['code']}") is None:
            continue
        for idx, s0, s1, sec in note.rows:
            if sec in _HISTORY_SECTIONS:
                continue
            sent = note.low[s0:s1]
            clause, offset, length = _vaccine_clauses(sent, entry["cues"], cat, entry["code"])
            if clause is None:
                continue
            if _VAX_NOT_NOW.search(clause) or _NEG_BEFORE.search(sent[:offset]):
                continue
            given = _VAX_GIVEN.search(sent) or any(
                _VAX_GIVEN.search(note.low[p0:p1]) for _, p0, p1, _ in note.earlier(idx, sec, 8)
            )
            if not given:
                continue
            claimed.add(group)
            line = _Line(
                entry["code"],
                "CPT",
                entry["label"],
                "vaccine",
                [note.ev(s0 + offset, s0 + offset + length)],
                [],
                sentence=idx,
                section=sec,
                dx=("Z23",),
            )
            line.why("SVC-CATALOGUE", f"vaccine product given at this visit: {entry['label']}")
            out.append(line)
            components.append(int(entry.get("components", 1)))
            routes.append(str(entry.get("route", "injection")))
            break
    if not out:
        return out
    return _vaccine_admin(note, cat, age, out, components, routes) + out


def _vaccine_clauses(
    sent: str, cues: Sequence[str], cat: _Catalogue, name: str
) -> tuple[str | None, int, int]:
    """The clause (split at ``;`` and ``:``) of ``sent`` that names the vaccine, with parenthetical asides
    removed (or the aside itself when the vaccine is named inside one), and the cue's offset."""
    pos = 0
    for clause in re.split(r"(?<=[;:])", sent):
        asides = [(m.start(), m.end()) for m in re.finditer(r"\([^)]*\)", clause)]
        for a, b in asides:
            m = _cues_in(clause[a:b], cues, cat, f"vax:{name}")
            if m is not None:
                return clause[a:b], pos + a + m.start(), len(m.group(0))
        bare = re.sub(r"\([^)]*\)", lambda m: " " * len(m.group(0)), clause)
        m = _cues_in(bare, cues, cat, f"vax:{name}")
        if m is not None:
            return bare, pos + m.start(), len(m.group(0))
        pos += len(clause)
    return None, 0, 0


def _vaccine_admin(
    note: _Note,
    cat: _Catalogue,
    age: int | None,
    vaccines: list[_Line],
    components: list[int],
    routes: list[str],
) -> list[_Line]:
    admin = cat.raw["vaccine_admin"]
    counsel = cat.cue("vax-counsel", admin["counseling_cues"]).search(note.low)
    ev = [vaccines[0].evidence[0]]
    dx = ("Z23",)
    lines: list[_Line] = []
    if age is not None and age < 19 and counsel is not None:
        first = _Line(
            admin["pediatric_first_component"],
            "CPT",
            "immunization administration under 19 with counseling, first component",
            "vaccine_admin",
            [*ev, note.ev(counsel.start(), counsel.end())],
            [],
            units=len(vaccines),
            dx=dx,
        )
        first.why(
            "SVC-VACCINE-ADMIN", f"patient under 19 ({age}) with physician counseling: one unit per vaccine"
        )
        lines.append(first)
        extra = sum(c - 1 for c in components)
        if extra:
            more = _Line(
                admin["pediatric_additional_component"],
                "CPT",
                "immunization administration under 19 with counseling, each further component",
                "vaccine_admin",
                list(ev),
                [],
                units=extra,
                dx=dx,
            )
            more.why("SVC-VACCINE-ADMIN", f"{extra} further component(s) of combination vaccines")
            lines.append(more)
        return lines
    injections = routes.count("injection")
    other = len(routes) - injections
    why = "" if age is None or age >= 19 else " (under 19 without documented counseling)"
    if injections:
        first = _Line(
            admin["first_injection"],
            "CPT",
            "immunization administration, first injected vaccine",
            "vaccine_admin",
            list(ev),
            [],
            dx=dx,
        )
        first.why("SVC-VACCINE-ADMIN", f"first injected vaccine{why}")
        lines.append(first)
        if injections > 1:
            more = _Line(
                admin["additional"],
                "CPT",
                "immunization administration, each further injected vaccine",
                "vaccine_admin",
                list(ev),
                [],
                units=injections - 1,
                dx=dx,
            )
            more.why("SVC-VACCINE-ADMIN", f"{injections - 1} further injected vaccine(s)")
            lines.append(more)
    if other:
        if not injections:
            first = _Line(
                admin["first_nasal_oral"],
                "CPT",
                "immunization administration, first intranasal/oral",
                "vaccine_admin",
                list(ev),
                [],
                dx=dx,
            )
            first.why("SVC-VACCINE-ADMIN", "first intranasal/oral vaccine")
            lines.append(first)
        extra = other if injections else other - 1
        if extra:
            more = _Line(
                admin["additional_nasal_oral"],
                "CPT",
                "immunization administration, further intranasal/oral",
                "vaccine_admin",
                list(ev),
                [],
                units=extra,
                dx=dx,
            )
            more.why("SVC-VACCINE-ADMIN", f"{extra} further intranasal/oral vaccine(s)")
            lines.append(more)
    return lines


def _preventive(note: _Note, cat: _Catalogue, age: int | None) -> tuple[list[_Line], list[str]]:
    raw = cat.raw["preventive"]
    hit = cat.cue("preventive", raw["cues"]).search(note.low)
    if hit is None or note.negated(hit.start(), hit.end(), max(0, hit.start() - 30), hit.end()):
        return [], []
    idx, s0, _, sec = note.sentence_span(hit.start())
    if sec in _HISTORY_SECTIONS or _FUTURE.search(note.low[s0 : hit.start()]):
        return [], []
    if age is None:
        return [], [
            "SVC-PREVENTIVE: a preventive visit is documented but the patient's age is not given; the "
            "preventive code depends on age (give the patient's age)"
        ]
    new = cat.cue("preventive-new", raw["new_cues"]).search(note.low) is not None
    table = raw["new" if new else "established"]
    row = next(r for r in table if r[0] <= age <= r[1])
    line = _Line(
        row[2],
        "CPT",
        row[3],
        "preventive",
        [note.ev(hit.start(), hit.end())],
        [],
        sentence=idx,
        section=sec,
        dx=("Z00.0", "Z00.1", "Z01.4", "Z00"),
    )
    line.why("SVC-PREVENTIVE", f"{'new' if new else 'established'} patient, age {age}")
    return [line], []


def _supplies(note: _Note, cat: _Catalogue) -> list[_Line]:
    out: list[_Line] = []
    dispensed = cat.cue("supply-cues", cat.raw["supply_cues"])
    used: list[tuple[int, int]] = []
    for entry in cat.raw["supplies"]:
        cue = cat.cue(f"sup:{entry['code']}", entry["cues"])
        for idx, s0, s1, sec in note.rows:
            hit = cue.search(note.low, s0, s1)
            if hit is None or sec in _HISTORY_SECTIONS or not dispensed.search(note.low, s0, s1):
                continue
            if any(hit.start() < b and a < hit.end() for a, b in used) or note.negated(
                hit.start(), hit.end(), s0, s1
            ):
                continue
            if _FUTURE.search(note.low[s0:s1]) or re.search(r"\bfrom home|own\b", note.low[s0:s1]):
                continue
            used.append(hit.span())
            if any(x.code == entry["code"] for x in out):
                continue
            line = _Line(
                entry["code"],
                "HCPCS",
                entry["code"],
                "supply",
                [note.ev(hit.start(), hit.end())],
                [],
                sentence=idx,
                section=sec,
                dx=tuple(entry.get("dx", ())),
                side=note.laterality(s0, s1, hit.start()),
                lateral=entry["code"][0] == "L",
            )
            line.why("SVC-CATALOGUE", "supply dispensed at the visit")
            out.append(line)
    return out


def _to_base(value: float, unit: str) -> tuple[str, float] | None:
    unit = unit.lower()
    measure = _measure(unit) or _measure(unit.rstrip("s"))
    return None if measure is None else (measure[0], value * measure[1])


@dataclass
class _Dose:
    amount: float
    site: str  # laterality + site word ("Rknee"), "" when none
    sentence: int
    section: str | None
    evidence: list[Evidence]
    route: str | None


def _drugs(
    note: _Note,
    cat: _Catalogue,
    index: _DrugIndex,
    kb: KnowledgeBase,
    day: date | None,
    joints: Sequence[_Line],
    warnings: list[str],
) -> list[_Line]:
    """Drugs given at the visit: HCPCS code from the CMS descriptor of the documented drug, billing units
    from the documented dose and the descriptor's dosage; with their administration codes. ``index``: the
    drug names of the HCPCS release of the date of service."""
    joint_sentences = {note.sentence_span(e.start)[0]: j for j in joints for e in j.evidence}
    doses: dict[tuple[str, ...], list[_Dose]] = {}
    groups: dict[tuple[str, ...], list[DrugCode]] = {}
    for idx, s0, s1, sec in note.rows:
        if sec in _HISTORY_SECTIONS:
            continue
        mentions = index.mentions(note.low, s0, s1)
        if not mentions:
            continue
        sent = note.low[s0:s1]
        for k, m in enumerate(mentions):
            word = m[2]
            if word in cat.no_bill:
                continue
            cands = index.by_name.get(cat.synonyms.get(word, word))
            if not cands:
                continue
            span_end = mentions[k + 1][0] if k + 1 < len(mentions) else s1
            span_start = mentions[k - 1][1] if k > 0 else s0
            given = (
                (_ADMIN.search(sent) and _GIVEN_NOW.search(sent))
                or sec == "procedures"
                or idx in joint_sentences
            )
            if not given or _ORAL.search(note.low[span_start:span_end]):
                continue
            if note.negated(m[0], m[1], s0, s1) or (_HIST.search(sent) and "today" not in sent):
                continue
            codes = [c for c in choose_drug_codes(cands, sent) if _valid_on(kb, c.code, day)]
            if not codes:
                continue
            amount, evs = _dose_of(note, m, span_start, span_end, s0, codes[0].measure)
            if amount <= 0:
                unit = {"mass": "mg", "volume": "mL"}.get(codes[0].measure, "units")
                warnings.append(
                    f"SVC-DRUG-UNITS: {codes[0].code} documented without a dose in {unit}; not reported — "
                    "document the dose given"
                )
                continue
            site_m = _nearest(_DRUG_SITE, note.low, s0, s1, m[0])
            side = note.laterality(s0, s1, site_m.start()) if site_m else None
            key = tuple(c.code for c in codes)
            groups[key] = codes
            doses.setdefault(key, []).append(
                _Dose(amount, f"{side or ''}{site_m.group(0) if site_m else ''}", idx, sec, evs, _route(sent))
            )
    out: list[_Line] = []
    admin: list[_Line] = []
    for key, items in doses.items():
        codes = groups[key]
        # the same dose told twice (plan and procedure) is one dose; doses at different sites add up
        per_sentence: dict[int, float] = {}
        for d in items:
            per_sentence[d.sentence] = per_sentence.get(d.sentence, 0.0) + d.amount
        sites = {d.site for d in items if d.site}
        total = sum(per_sentence.values()) if len(sites) > 1 else max(per_sentence.values())
        unit = {"mass": "mg", "volume": "mL", "units": "units"}[codes[0].measure]
        first = items[0]
        joint = joint_sentences.get(first.sentence) or next(
            (j for j in joints if j.section == first.section and first.route is None), None
        )
        for code, units in drug_units(codes, total):
            line = _Line(
                code.code,
                "HCPCS",
                code.description,
                "drug",
                [e for d in items for e in d.evidence],
                [],
                units=units,
                sentence=first.sentence,
                section=first.section,
                confidence=0.9,
                site=joint.site if joint else None,
                side=joint.side if joint else None,
            )
            line.why(
                "SVC-DRUG-UNITS",
                f"{code.name} {total:g} {unit} given; one unit = {code.amount:g} {unit} "
                f"(CMS descriptor '{code.description}') -> {units} unit(s)",
            )
            out.append(line)
        route = next((d.route for d in items if d.route), None)
        if joint is not None and route in (None, "joint"):
            continue  # the injection procedure includes giving the drug
        admin.append(_admin_line(route or "im", first, note))
    return out + _combine_admin(admin, note)


def _valid_on(kb: KnowledgeBase, code: str, day: date | None) -> bool:
    try:
        return kb.validity(code, day, "hcpcs").valid
    except NoReleaseForDateError:
        return True


def _dose_of(
    note: _Note, m: tuple[int, int, str], span_start: int, span_end: int, s0: int, measure: str
) -> tuple[float, list[Evidence]]:
    """The dose documented for the drug named at ``m`` (in the measure of its HCPCS descriptor):
    concentration × volume, else the doses after the name (× a multiplier or a number of vials)."""
    evs = [note.ev(m[0], m[1])]
    local = note.low[m[0] : span_end]
    found = (
        list(_DOSE.finditer(note.low, m[1], span_end))
        or list(_DOSE.finditer(note.low, span_start, m[0]))[-1:]
    )
    conc = _CONCENTRATION.search(local)
    if conc and measure == "mass":
        volumes = [d for d in found if (_to_base(1.0, d.group(2)) or ("", 0.0))[0] == "volume"]
        per_ml = _to_base(float(conc.group(1)), conc.group(2))
        if volumes and per_ml:
            evs.append(note.ev(m[0] + conc.start(), m[0] + conc.end()))
            return per_ml[1] * float(volumes[0].group(1).replace(",", "")), evs
    total = 0.0
    for d in found:
        base = _to_base(float(d.group(1).replace(",", "")), d.group(2))
        if base is None or base[0] != measure:
            continue
        mult = _MULTIPLIER.match(note.low, d.end())
        vials = _VIALS.search(note.low[span_start : d.start()])
        factor = int(mult.group(1)) if mult else _num(vials.group(1)) if vials else 1
        total += base[1] * factor
        evs.append(note.ev(d.start(), d.end()))
    return total, evs


def _route(sent: str) -> str | None:
    if re.search(r"\b(iv push|intravenous push|ivp|slow iv|iv bolus)\b", sent):
        return "push"
    if re.search(r"\b(infusion|infused|ivpb|iv piggyback|drip)\b", sent):
        return "infusion"
    if re.search(
        r"\b(intramuscular\w*|im|subcutaneous\w*|subq|sub-q|sq|sc|deltoid|gluteal|gluteus|ventrogluteal)\b",
        sent,
    ):
        return "im"
    if re.search(r"\b(intravenous\w*|iv)\b", sent):
        return "push"
    if _JOINT_ROUTE.search(sent):
        return "joint"
    return None


def _admin_line(route: str, item: _Dose, note: _Note) -> _Line:
    inj = catalogue().raw["injections"]
    code = {"im": "96372", "push": "96374", "infusion": "96365"}.get(route, "96372")
    line = _Line(
        code,
        "CPT",
        inj[code]["label"],
        f"admin-{route}",
        item.evidence[:1],
        [],
        sentence=item.sentence,
        section=item.section,
        site=item.site or None,
    )
    if route == "infusion":
        mm = _MINUTES.search(note.sent_text(item.sentence))
        if mm:
            value = float(mm.group(1))
            line.session = str(int(value * 60 if mm.group(2).startswith("h") else value))
    route_text = "IM or subcutaneously" if code == "96372" else f"by IV {route}"
    line.why("SVC-DRUG-ADMIN", f"drug given {route_text}")
    return line


def _combine_admin(lines: list[_Line], note: _Note) -> list[_Line]:
    inj = catalogue().raw["injections"]
    ims = [x for x in lines if x.code == "96372"]
    infusions = [x for x in lines if x.code == "96365"]
    pushes = [x for x in lines if x.code == "96374"]
    out: list[_Line] = []
    if ims:
        first = ims[0]
        first.units = len(ims)
        for more in ims[1:]:
            first.evidence.extend(more.evidence)
        if len(ims) > 1:
            first.why("SVC-DRUG-ADMIN", f"{len(ims)} separate IM/subcutaneous injections")
        out.append(first)
    if infusions:
        first = infusions[0]
        minutes = int(first.session or 0)
        first.session = None
        out.append(first)
        extra = minutes - 60
        hours = (extra // 60 + (1 if extra % 60 > 30 else 0)) if extra > 0 else 0
        if hours:
            add = _Line(
                "96366",
                "CPT",
                inj["96366"]["label"],
                "admin-infusion",
                list(first.evidence),
                [],
                units=hours,
                sentence=first.sentence,
                section=first.section,
            )
            add.why(
                "SVC-DRUG-ADMIN",
                f"infusion of {minutes} minutes: {hours} further hour(s) (each over 30 minutes)",
            )
            out.append(add)
    for k, push in enumerate(pushes):
        if infusions or k > 0:
            push.code, push.label = "96375", "therapeutic IV push, each further sequential drug"
        out.append(push)
    return out


# --- modifiers, edits, pointers ------------------------------------------------------------------


def _rvu(kb: KnowledgeBase, day: date | None, code: str) -> proc.Rvu | None:
    rel = kb.release_for("pfs-rvu", day, nearest=True)
    return proc.rvu(kb.conn, rel.id, code) if rel else None


def _laterality_modifiers(lines: list[_Line], kb: KnowledgeBase, day: date | None) -> list[_Line]:
    out: list[_Line] = []
    for line in lines:
        if line.digit is not None and line.side in ("R", "L"):
            mod = _DIGIT_MODIFIER[(line.digit[0], line.side)][line.digit[1] - 1]
            line.modifiers.append(mod)
            where = "finger" if line.digit[0] == "hand" else "toe"
            line.why("MOD-DIGIT", f"{mod}: {'right' if line.side == 'R' else 'left'} {where} {line.digit[1]}")
            out.append(line)
            continue
        if not line.lateral or line.side is None:
            out.append(line)
            continue
        if line.side in ("R", "L"):
            mod = "RT" if line.side == "R" else "LT"
            line.modifiers.append(mod)
            line.why("MOD-RT-LT", f"{mod}: {'right' if mod == 'RT' else 'left'} side documented")
            out.append(line)
            continue
        rvu = _rvu(kb, day, line.code) if line.system == "CPT" else None
        indicator = (
            rvu.bilat_surg if rvu is not None and rvu.bilat_surg else ("1" if line.kind == "joint" else "3")
        )
        if indicator == "1":
            line.modifiers.append("50")
            line.why(
                "MOD-50",
                f"both sides documented; PFS bilateral indicator {indicator}: one line with 50, 1 unit",
            )
            out.append(line)
        elif indicator == "2":
            line.why("MOD-50", "both sides documented; the code is bilateral by definition (PFS indicator 2)")
            out.append(line)
        else:
            left = replace(
                line,
                modifiers=[*line.modifiers, "LT"],
                reasons=list(line.reasons),
                evidence=list(line.evidence),
                side="L",
            )
            line.modifiers.append("RT")
            line.side = "R"
            text = f"both sides documented; PFS bilateral indicator {indicator}: one line per side (RT, LT)"
            line.why("MOD-RT-LT", text)
            left.why("MOD-RT-LT", text)
            out.extend([line, left])
    return out


def _component_modifiers(lines: list[_Line], note: _Note, kb: KnowledgeBase, day: date | None) -> None:
    for line in lines:
        if line.kind not in ("imaging", "spirometry", "spirometry_bd"):
            continue
        rvu = _rvu(kb, day, line.code)
        if rvu is not None and rvu.pctc != "1":
            continue
        sent = note.sent_text(line.sentence)
        if note.facility:
            line.modifiers.insert(0, "26")
            line.why("MOD-26-TC", "facility setting: the physician reports the interpretation only (26)")
        elif re.search(
            r"\b(?:read|interpreted) by (?:the )?radiolog\w*|sent for (?:over-?)?read|official read\b", sent
        ):
            line.modifiers.insert(0, "TC")
            line.why(
                "MOD-26-TC",
                "taken in the office and interpreted by another physician: technical component (TC)",
            )


def _repeat_modifiers(lines: list[_Line]) -> None:
    for line in lines:
        if line.session in ("repeat", "repeat-other"):
            mod = "77" if line.session == "repeat-other" else "76"
            line.modifiers.append(mod)
            who = "another physician" if mod == "77" else "the same physician"
            line.why("MOD-76-77", f"{mod}: the same service repeated on the same day by {who}")
            line.session = None


def _distinct(a: _Line, b: _Line, note: _Note) -> str | None:
    """XE when the note documents a separate session, 59 when the two lines are at different sites."""
    for line in (a, b):
        if _SEPARATE_SESSION.search(note.sent_text(line.sentence)):
            return "XE"
    if a.site and b.site and (a.site, a.side, a.digit) != (b.site, b.side, b.digit):
        return "59"
    if a.kind.startswith("admin") != b.kind.startswith("admin") and (a.site or b.site) and a.site != b.site:
        return "59"
    return None


_NO_PTP_KINDS = ("drug", "supply", "vaccine")


def _ptp(
    lines: list[_Line], note: _Note, kb: KnowledgeBase, day: date | None, warnings: list[str]
) -> list[_Line]:
    codes = sorted({x.code for x in lines if x.kind not in _NO_PTP_KINDS})
    rel = kb.release_for("ncci-ptp-practitioner", day)
    if rel is None:
        if kb.has("ncci-ptp-practitioner") and len(codes) > 1:
            warnings.append(
                f"NCCI-PTP-NOT-RUN: no installed NCCI PTP release covers {day}; pairs not checked"
            )
        return lines
    edits = [e for e in proc.ptp_for_codes(kb.conn, rel.id, codes) if day is None or e.in_effect_on(day)]
    dropped: set[int] = set()
    for edit in edits:
        col1 = next((x for x in lines if x.code == edit.column1 and id(x) not in dropped), None)
        if col1 is None:
            continue
        for col2 in [x for x in lines if x.code == edit.column2 and id(x) not in dropped]:
            if col2.kind == "preventive" or {"59", "XE", "XS", "XP", "XU"} & set(col2.modifiers):
                continue
            how = _distinct(col1, col2, note) if edit.modifier_indicator == 1 else None
            if how is not None:
                col2.modifiers.append(how)
                what = "a separate session" if how == "XE" else "a separate site"
                col2.why(
                    "MOD-59",
                    f"{how}: NCCI pair {edit.column1}/{edit.column2} allows a modifier (indicator 1) "
                    f"and the note documents {what}",
                )
            else:
                dropped.add(id(col2))
                warnings.append(
                    f"NCCI-PTP: {edit.column2} is bundled into {edit.column1} (modifier indicator "
                    f"{edit.modifier_indicator}) and no separate site or session is documented; "
                    f"{edit.column2} "
                    "not reported"
                )
    # the same code on two lines at different sites: the later one is a distinct procedural service
    for k, line in enumerate(lines):
        if (
            id(line) in dropped
            or line.kind in (*_NO_PTP_KINDS, "vaccine_admin")
            or (
                line.modifiers
                and ({"76", "77", "50", "LT", "59"} & set(line.modifiers) and line.kind == "imaging")
            )
        ):
            continue
        earlier = [p for p in lines[:k] if p.code == line.code and id(p) not in dropped]
        if earlier and earlier[0].site != line.site and "59" not in line.modifiers:
            line.modifiers.append("59")
            line.why("MOD-59", "59: the same service at a separate site")
    return [x for x in lines if id(x) not in dropped]


def _mue(lines: list[_Line], kb: KnowledgeBase, day: date | None, warnings: list[str]) -> list[_Line]:
    """Units against the medically unlikely edits: MAI 1 per line, MAI 2/3 per day. MAI 2 (policy, never
    payable above) caps the units, dropping lines left with none; MAI 1 and 3 keep what is documented and
    flag it. Supplies are checked against the DME table."""
    rel = kb.release_for("ncci-mue-practitioner", day)
    if rel is None:
        if kb.has("ncci-mue-practitioner") and lines:
            warnings.append(f"NCCI-MUE-NOT-RUN: no installed MUE release covers {day}; units not checked")
        return lines
    dme = kb.release_for("ncci-mue-dme", day)
    edits: dict[str, proc.Mue | None] = {}
    for line in lines:
        if line.code not in edits:
            tables = ([dme] if line.kind == "supply" else []) + [rel]
            edits[line.code] = next(
                (e for t in tables if t is not None for e in [proc.mue(kb.conn, t.id, line.code)] if e), None
            )
    out = list(lines)
    for code_, edit in edits.items():
        if edit is None:
            continue
        mine = [x for x in out if x.code == code_]
        kind = {1: "per line", 2: "per day, policy", 3: "per day, clinical"}.get(edit.mai, "per day")
        table = "DME" if mine[0].kind == "supply" else "practitioner"
        if edit.mue == 0:
            for x in mine:
                x.why("NCCI-MUE", f"{table} MUE of 0: not payable under Medicare on this claim type")
            warnings.append(
                f"NCCI-MUE: {code_} has a {table} MUE of 0 (MAI {edit.mai}); Medicare does not pay it on "
                "this claim type — check the payer's coverage"
            )
            continue
        over = (
            [x for x in mine if x.units > edit.mue]
            if edit.mai == 1
            else (mine if sum(x.units for x in mine) > edit.mue else [])
        )
        if not over:
            continue
        units = max(x.units for x in over) if edit.mai == 1 else sum(x.units for x in mine)
        if edit.mai == 2:
            excess = units - edit.mue
            for x in reversed(mine):
                cut = min(excess, x.units)
                x.units -= cut
                excess -= cut
                x.why("NCCI-MUE", f"units capped at the MUE of {edit.mue} (MAI 2, {kind}: an absolute limit)")
            out = [x for x in out if x.units > 0]
            warnings.append(f"NCCI-MUE: {code_} {units} units exceed the MUE of {edit.mue} ({kind}); capped")
            continue
        for x in over:
            x.why("NCCI-MUE", f"{units} units exceed the MUE of {edit.mue} (MAI {edit.mai}, {kind}): review")
        warnings.append(
            f"NCCI-MUE: {code_} {units} units exceed the MUE of {edit.mue} (MAI {edit.mai}, {kind}); kept as "
            "documented — check the documentation, or report the excess on another line with a modifier"
        )
    return out


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _pointers(line: _Line, diagnoses: Sequence[CodedDiagnosis], note: _Note) -> tuple[int, ...]:
    """Up to four 1-based pointers, most relevant first: the diagnoses the service's catalogue entry names
    (by ICD-10-CM prefix), those at the same body site and side, those in the same sentence or section."""
    scores: list[tuple[float, int]] = []
    site_words = _words(line.site or "")
    for i, d in enumerate(diagnoses):
        score = 0.0
        desc = _words(d.description)
        hits = [k for k, p in enumerate(line.dx) if d.code.startswith(p)]
        if hits:
            score += 3 + sum(1 for _ in hits[1:])
        for ev in d.evidence:
            sent = note.doc.sentence_at(ev.start)
            if sent is not None and sent.index == line.sentence:
                score += 2
                break
            if sent is not None and line.section and sent.section == line.section:
                score += 0.5
                break
        if site_words and site_words & desc:
            score += 3
            if (line.side == "R" and "right" in desc) or (line.side == "L" and "left" in desc):
                score += 1
        if {"R": "left", "L": "right"}.get(line.side or "", "-") in desc:
            score -= 5  # the diagnosis is on the other side
        if d.status in ("history", "family"):
            score -= 1
        if score > 0:
            scores.append((score, i))
    if not scores:
        opposite = {"R": "left", "L": "right"}.get(line.side or "")
        first = next(
            (
                i
                for i, d in enumerate(diagnoses)
                if not d.code.startswith(("Z23", "Z00"))
                and (opposite is None or opposite not in _words(d.description))
            ),
            None,
        )
        return (first + 1,) if first is not None else ((1,) if diagnoses else ())
    strong = [s for s in scores if s[0] >= 3]
    chosen = strong or scores
    chosen.sort(key=lambda s: (-s[0], s[1]))
    return tuple(i + 1 for _, i in chosen[:4])


def _em_pointers(diagnoses: Sequence[CodedDiagnosis], preventive: bool) -> tuple[int, ...]:
    skip = ("Z23", "Z00", "Z01.4") if preventive else ("Z23",)
    picked = [i + 1 for i, d in enumerate(diagnoses) if not d.code.startswith(skip)]
    return tuple(picked[:4]) if picked else tuple(range(1, min(4, len(diagnoses)) + 1))


def _add_diagnosis(
    diagnoses: list[CodedDiagnosis],
    kb: KnowledgeBase,
    day: date | None,
    code: str,
    evidence: Sequence[Evidence],
    rationale: str,
    guideline: str,
    first: bool,
) -> None:
    if any(d.code == code for d in diagnoses):
        return
    try:
        if day is not None and not kb.validity(code, day, "icd10cm").valid:
            return
        desc = kb.lookup(code, None, "icd10cm").description or code
    except ChartcodeError:
        return
    coded = CodedDiagnosis(code, desc, tuple(evidence), rationale, 0.85, guideline, None, "present")
    if first:
        diagnoses.insert(0, coded)
    else:
        diagnoses.append(coded)


def _patient_age(note: _Note, options: CodingOptions) -> int | None:
    if options.patient_age is not None:
        return options.patient_age
    m = _AGE.search(note.low)
    return int(m.group(1)) if m else None


def _check_valid(lines: list[_Line], kb: KnowledgeBase, day: date | None, warnings: list[str]) -> list[_Line]:
    out: list[_Line] = []
    known: dict[str, bool] = {}
    for line in lines:
        ok = known.get(line.code)
        if ok is None:
            try:
                ok = kb.validity(line.code, day, "cpt" if line.system == "CPT" else "hcpcs").valid
            except NoReleaseForDateError:
                ok = True
                warnings.append(
                    f"SVC-VALIDITY-NOT-RUN: no installed CPT/HCPCS validity release covers {day}; "
                    "codes not checked"
                )
            known[line.code] = ok
            if not ok:
                warnings.append(f"SVC-VALIDITY: {line.code} is not valid on {day}; line not reported")
        if ok:
            out.append(line)
    return out


def _labels(lines: list[_Line], kb: KnowledgeBase, day: date | None) -> None:
    """Display labels: the CMS description of a HCPCS code; for CPT, the descriptor of a user's licensed
    CPT file when one is installed (else chartcode's own short label)."""
    cpt = kb.release_for("cpt", day, nearest=True)
    hcpcs = kb.release_for("hcpcs-level2", day, nearest=True)
    for line in lines:
        if line.system == "CPT" and cpt is not None:
            text = proc.cpt_description(kb.conn, cpt.id, line.code)
            if text:
                line.label = text
        elif line.system == "HCPCS" and hcpcs is not None and line.label == line.code:
            row = proc.hcpcs_row(kb.conn, hcpcs.id, line.code)
            if row is not None:
                line.label = row.long_description


_MOD_ORDER = {"26": 0, "TC": 0, "50": 1, "76": 2, "77": 2, "25": 3, "XE": 4, "XS": 4, "59": 4}


def _finish(line: _Line, diagnoses: Sequence[CodedDiagnosis], note: _Note) -> CodedService:
    pointers = _pointers(line, diagnoses, note)
    reason = "; ".join(line.reasons)
    if pointers:
        listed = ", ".join(str(p) for p in pointers)
        reason += f"; dx pointers {listed} by relevance [DX-POINTER: {CITATIONS['DX-POINTER']}]"
    mods = sorted(dict.fromkeys(line.modifiers), key=lambda m: _MOD_ORDER.get(m, 5))
    return CodedService(
        line.code,
        line.system,
        tuple(mods),
        max(1, line.units),
        pointers,
        tuple(line.evidence),
        reason,
        line.label,
        round(line.confidence, 2),
    )


def _needs_25(code: str, lines: Sequence[_Line], kb: KnowledgeBase, day: date | None) -> list[str]:
    """Why an E/M ``code`` billed with ``lines`` needs 25: a 0/10-day global procedure, or an NCCI pair with
    the
    E/M as column 2 that a modifier may bypass."""
    why: list[str] = []
    rel = kb.release_for("ncci-ptp-practitioner", day)
    for line in lines:
        if line.code == code or line.kind in ("drug", "supply", "vaccine"):
            continue
        rvu = _rvu(kb, day, line.code) if line.system == "CPT" else None
        if rvu is not None and rvu.global_days in ("000", "010"):
            why.append(f"{line.code} ({rvu.global_days}-day global)")
            continue
        if rel is not None:
            edits = [
                e
                for e in proc.ptp_edits(kb.conn, rel.id, line.code, code)
                if day is None or e.in_effect_on(day)
            ]
            if any(e.modifier_indicator == 1 for e in edits):
                why.append(f"{line.code} (NCCI pair {line.code}/{code}, modifier indicator 1)")
    return why


def _em_modifiers(
    em: EmResult | None,
    lines: Sequence[_Line],
    diagnoses: Sequence[CodedDiagnosis],
    note: _Note,
    kb: KnowledgeBase,
    day: date | None,
    warnings: list[str],
    preventive: bool,
) -> EmResult | None:
    if em is None:
        return None
    if preventive and not _SEPARATE_EM.search(note.low):
        warnings.append(
            "MOD-25: no problem-oriented E/M separately identifiable from the preventive visit is "
            "documented; "
            "the preventive code reports the visit"
        )
        return None
    pointers = _em_pointers(diagnoses, preventive)
    why = _needs_25(em.code, lines, kb, day)
    if not why:
        return replace(em, dx_pointers=pointers)
    return replace(
        em,
        modifiers=tuple(dict.fromkeys((*em.modifiers, "25"))),
        dx_pointers=pointers,
        rationale=f"{em.rationale}; 25: significant, separately identifiable E/M on the day of "
        f"{', '.join(why)} [MOD-25: {CITATIONS['MOD-25']}]",
    )


# --- entry point -------------------------------------------------------------------------------------


def find_services(
    result: CodingResult, doc: Document, options: CodingOptions, kb: KnowledgeBase, em: EmResult | None
) -> tuple[list[CodedService], EmResult | None, list[CodedDiagnosis], list[str]]:
    """The service lines, the E/M with its modifiers and pointers, the diagnoses (with Z23/Z00.- added when
    a vaccine or a preventive visit needs them) and warnings."""
    note = _Note(doc, options)
    cat = catalogue()
    day = options.date_of_service
    warnings: list[str] = []
    diagnoses = list(result.diagnoses)
    words = set(_WORD.findall(note.low))
    gate = {key: any(cue <= words for cue in cues) for key, cues in cat.gates.items()}
    release = kb.release_for("hcpcs-level2", day, nearest=True)
    # drugs given in a facility are billed by the facility, not on the physician claim
    index = None if note.facility or release is None else drug_index(kb, release.id)
    drugs = index is not None and not words.isdisjoint(index.by_first)
    if not drugs and not any(gate.values()):
        return (
            [],
            (replace(em, dx_pointers=_em_pointers(diagnoses, False)) if em else None),
            diagnoses,
            warnings,
        )
    age = _patient_age(note, options)
    joints = _joints(note, cat) if gate["joints"] else []
    preventive, notes = _preventive(note, cat, age) if gate["preventive"] else ([], [])
    warnings += notes
    vaccines = _vaccines(note, cat, age) if gate["vaccines"] else []
    lines: list[_Line] = [*preventive]
    lines += _imaging(note, cat) if gate["imaging"] else []
    lines += joints
    lines += _repairs(note, cat) if gate["repair"] else []
    lines += _excisions(note, cat, diagnoses) if gate["excision"] else []
    lines += _destruction(note, cat) if gate["destruction"] else []
    lines += _debridement(note, cat) if gate["debridement"] else []
    lines += _simple_services(note, cat) if gate["services"] else []
    lines += vaccines
    lines += _drugs(note, cat, index, kb, day, joints, warnings) if index is not None and drugs else []
    lines += _supplies(note, cat) if gate["supplies"] and not note.facility else []
    lines = _check_valid(lines, kb, day, warnings)
    if not lines:
        em = _em_modifiers(em, lines, diagnoses, note, kb, day, warnings, False)
        return [], em, diagnoses, warnings
    if any(x.kind == "vaccine" for x in lines):
        first_vax = next(x for x in lines if x.kind == "vaccine")
        _add_diagnosis(
            diagnoses,
            kb,
            day,
            "Z23",
            first_vax.evidence[:1],
            "vaccine given at the visit",
            "I.C.21.c.2",
            first=False,
        )
    if preventive and preventive[0] in lines:
        adult = age is None or age >= 18
        normal = re.search(r"\b(?:no|without) abnormal findings\b|\bnormal (?:exam|examination)\b", note.low)
        abnormal = normal is None and any(not d.code.startswith(("Z", "R")) for d in diagnoses)
        code = ("Z00.01" if abnormal else "Z00.00") if adult else ("Z00.121" if abnormal else "Z00.129")
        if not any(d.code.startswith(("Z00.0", "Z00.1")) for d in diagnoses):
            _add_diagnosis(
                diagnoses,
                kb,
                day,
                code,
                preventive[0].evidence,
                f"routine examination {'with' if abnormal else 'without'} abnormal findings",
                "I.C.21.c.13",
                first=True,
            )
    lines = _laterality_modifiers(lines, kb, day)
    _component_modifiers(lines, note, kb, day)
    _repeat_modifiers(lines)
    lines = _ptp(lines, note, kb, day, warnings)
    for line in lines:
        if line.kind == "preventive":
            why = _needs_25(line.code, lines, kb, day)
            if why:
                line.modifiers.append("25")
                line.why("MOD-25", f"25: preventive E/M on the day of {', '.join(why)}")
    lines = _mue(lines, kb, day, warnings)
    _labels(lines, kb, day)
    services = [_finish(line, diagnoses, note) for line in lines]
    em = _em_modifiers(em, lines, diagnoses, note, kb, day, warnings, bool(preventive))
    return services, em, diagnoses, warnings


def add_services(
    result: CodingResult, doc: Document, options: CodingOptions, kb: KnowledgeBase
) -> CodingResult:
    """``result`` with ``procedures`` and ``em`` set: the E/M level (``level_em``), procedures, drugs and
    supplies with units, modifiers and diagnosis pointers. Diagnoses gain Z23 / Z00.- when a vaccine or a
    preventive visit needs them; warnings gain MUE, PTP and could-not-run findings (codes only, no note
    text)."""
    em = level_em(doc, options, billed=options.billed_em)
    services, em, diagnoses, warnings = find_services(result, doc, options, kb, em)
    return replace(
        result,
        diagnoses=tuple(diagnoses),
        procedures=tuple(services),
        em=em,
        warnings=tuple(dict.fromkeys((*result.warnings, *warnings))),
    )
