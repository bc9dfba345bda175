"""The coder's lexicon, compiled from the installed code sets.

Two kinds of entries, both keyed by the text layer's normalised phrase key:

* **main terms** of the Alphabetic Index (each comma variant of the title, plus Latin plurals):
  a mention of one starts an index walk, the path a certified coder follows;
* **terms** from the Tabular List: code descriptions (without "unspecified", "NOS", "without
  complications" and with or without their parenthesised words) and inclusion terms; a mention of
  one proposes its code directly.

The index tree itself is kept in memory as :class:`IndexTree` for the walk.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field

from chartcode.text.sentences import phrase_key

# Main terms that are too generic to code on their own (administrative or vague words): they code
# only when the walk reaches a subterm the note documents. Keys are normalised like mentions.
GENERIC_MAIN_TERMS = frozenset(
    phrase_key(w)
    for w in [
        "admission",
        "aftercare",
        "attention",
        "care",
        "checking",
        "counseling",
        "delivery",
        "encounter",
        "examination",
        "exposure",
        "follow",
        "history",
        "maintenance",
        "observation",
        "person",
        "problem",
        "procedure",
        "screening",
        "status",
        "test",
        "testing",
        "use",
        "user",
        "presence",
        "present",
        "patient",
        "pregnancy",
        "outcome",
        "late",
        "sequelae",
        "resistance",
        "long",
        "term",
        "long-term",
        "findings",
        "finding",
        "state",
        "type",
        "situation",
        "absence",
        "removal",
        "replacement",
        "fitting",
        "adjustment",
        "evaluation",
        "visit",
        "complication",
        "complications",
        "effect",
        "effects",
        "reaction",
        "disease",
        "disorder",
        "syndrome",
        "condition",
        "lesion",
        "abnormal",
        "abnormality",
        "anomaly",
        "change",
        "defect",
        "degeneration",
        "deformity",
        "disturbance",
        "dysfunction",
        "failure",
        "infection",
        "injury",
        "insufficiency",
        "mass",
        "neoplasm",
        "tumor",
        "growth",
        "malformation",
        "obstruction",
        "pain",
        "follow-up",
        "old",
        "new",
        "other",
        "unknown",
        "acute",
        "chronic",
    ]
)
# Generic main terms that still code by themselves when nothing more specific is documented.
SELF_CODING_GENERIC = frozenset(phrase_key(w) for w in ("pain", "infection", "mass", "injury"))

_PAREN = re.compile(r"\s*\([^()]*\)")
_DROP_SUFFIX = re.compile(
    r",?\s*\b(unspecified|not otherwise specified|nos|nec|without complications?|"
    r"unspecified (site|type|organism|part|cause|laterality))\b\s*$",
    re.IGNORECASE,
)
_LATIN_PLURALS = (
    ("ix", "ices"),
    ("ex", "ices"),
    ("is", "es"),
    ("us", "i"),
    ("a", "ae"),
    ("um", "a"),
    ("on", "a"),
)
# Adjectives of anatomical sites and the noun the index and the Neoplasm Table use.
SITE_ADJECTIVES = {
    "testicular": "testis",
    "ovarian": "ovary",
    "uterine": "uterus",
    "prostatic": "prostate",
    "pancreatic": "pancreas",
    "splenic": "spleen",
    "intestinal": "intestine",
    "rectal": "rectum",
    "cutaneous": "skin",
    "osseous": "bone",
    "mammary": "breast",
    "ureteral": "ureter",
    "urethral": "urethra",
    "penile": "penis",
    "scrotal": "scrotum",
    "vaginal": "vagina",
    "vulvar": "vulva",
    "esophageal": "esophagus",
    "duodenal": "duodenum",
    "biliary": "bile",
    "laryngeal": "larynx",
    "pharyngeal": "pharynx",
    "nasal": "nose",
    "lingual": "tongue",
    "ocular": "eye",
    "retroperitoneal": "retroperitoneum",
    "peritoneal": "peritoneum",
    "pleural": "pleura",
    "mediastinal": "mediastinum",
    "pericardial": "pericardium",
    "vertebral": "vertebra",
    "tibial": "tibia",
    "humeral": "humerus",
    "axillary": "axilla",
    "vesical": "bladder",
    "gingival": "gum",
    "labial": "lip",
    "palatal": "palate",
    "thyroidal": "thyroid",
    "adrenocortical": "adrenal",
    "appendiceal": "appendix",
    "gallbladder": "gallbladder",
    "meningeal": "meninges",
    "spinal": "spine",
    "thoracic": "thorax",
    "abdominal": "abdomen",
    "pelvic": "pelvis",
    "femoral": "femur",
}
# Words a note uses for what the index says otherwise (both directions are added to the context).
SYNONYMS = {
    "cancer": ("malignant", "neoplasm"),
    "carcinoma": ("malignant", "neoplasm"),
    "tumor": ("neoplasm",),
    "tumour": ("neoplasm",),
    "malignancy": ("malignant", "neoplasm"),
    "renal": ("kidney",),
    "kidney": ("renal",),
    "cardiac": ("heart",),
    "heart": ("cardiac",),
    "hepatic": ("liver",),
    "liver": ("hepatic",),
    "pulmonary": ("lung",),
    "lung": ("pulmonary",),
    "gastric": ("stomach",),
    "stomach": ("gastric",),
    "cerebral": ("brain",),
    "brain": ("cerebral",),
    "colonic": ("colon",),
    **{adjective: (noun,) for adjective, noun in SITE_ADJECTIVES.items()},
    # a named joint is a joint: "knee pain" is Pain › joint › knee, "hip effusion" Effusion › joint › hip
    **{j: ("joint",) for j in ("knee", "hip", "shoulder", "elbow", "wrist", "ankle")},
    "mi": ("myocardial", "infarction"),
    "stroke": ("infarction", "cerebral"),
}
# How notes describe a patient with a condition the index names with a noun ("pale" → Pallor).
ADJECTIVE_TERMS = {
    "pale": "pallor",
    "febrile": "fever",
    "feverish": "fever",
    "anemic": "anemia",
    "jaundiced": "jaundice",
    "icteric": "jaundice",
    "cachectic": "cachexia",
    "obese": "obesity",
    "septic": "sepsis",
    "dyspneic": "dyspnea",
    "tachycardic": "tachycardia",
    "bradycardic": "bradycardia",
    "hypotensive": "hypotension",
    "asthenic": "asthenia",
    "dehydrated": "dehydration",
    "swollen": "swelling",
    "painful": "pain",
    "itchy": "itching",
    "nauseous": "nausea",
    "pruritic": "pruritus",
    "cyanotic": "cyanosis",
    "diaphoretic": "diaphoresis",
    "lethargic": "lethargy",
    "somnolent": "somnolence",
    "confused": "confusion",
    "depressed": "depression",
    "anxious": "anxiety",
    "hypoxic": "hypoxemia",
    "hypoxemic": "hypoxemia",
    "oliguric": "oliguria",
    "anuric": "anuria",
}
STOP = frozenset(
    {
        "of",
        "the",
        "a",
        "an",
        "and",
        "or",
        "to",
        "in",
        "nos",
        "nec",
        "by",
        "for",
        "on",
        "at",
        "as",
        "involvement",
    }
)


@dataclass(slots=True)
class Node:
    id: int
    parent: int | None
    level: int
    title: str
    nemod: str | None
    code: str | None
    see: str | None
    see_also: str | None
    cells: str | None
    words: frozenset[str]  # content words of the title (normalised), for matching subterms
    phrase: str  # the title's phrase key when it holds a number (matched as a phrase, not as words)
    alts: tuple[frozenset[str], ...] = ()  # "femur, femoral": either form names the subterm
    children: list[int] = field(default_factory=list)
    low: str = field(init=False, repr=False, compare=False)  # the title lower-cased (index walks)

    def __post_init__(self) -> None:
        self.low = self.title.lower()


@dataclass
class IndexTree:
    """One index tree (Alphabetic Index, Neoplasm Table, Drug table) held in memory."""

    tree: str
    release: str
    nodes: dict[int, Node]
    main_by_key: dict[str, list[int]]  # normalised main-term key -> main term ids

    def path(self, node_id: int) -> list[Node]:
        out = []
        cur: int | None = node_id
        while cur is not None:
            node = self.nodes[cur]
            out.append(node)
            cur = node.parent
        return out[::-1]

    def format_path(self, node_id: int) -> str:
        parts = []
        for n in self.path(node_id):
            parts.append(f"{n.title} {n.nemod}".strip() if n.level == 0 and n.nemod else n.title)
        return " › ".join(parts)

    def resolve_see(self, text: str) -> int | None:
        """The node a "see X, Y, z" reference points to (deepest match), or None."""
        target = re.sub(r"\s*-\s*see also.*$", "", text.strip(), flags=re.IGNORECASE)
        parts = [p.strip() for p in target.split(",") if p.strip()]
        if not parts:
            return None
        # the main term may itself contain a comma ("Diabetes, diabetic"): try the longest head first
        for head_len in range(min(3, len(parts)), 0, -1):
            ids = self.main_by_key.get(phrase_key(", ".join(parts[:head_len])))
            if not ids:
                continue
            node = ids[0]
            for part in parts[head_len:]:
                words = content_words(part)
                if part.lower().startswith("by site") or not words:
                    continue
                # the subterm named exactly, else the one naming it with the fewest other words
                named = [
                    c for c in self.nodes[node].children if any(words <= alt for alt in self.nodes[c].alts)
                ]
                if not named:
                    break
                node = min(
                    named, key=lambda c: min(len(alt - words) for alt in self.nodes[c].alts if words <= alt)
                )
            return node
        return None


def content_words(text: str) -> frozenset[str]:
    key = phrase_key(_PAREN.sub("", text))
    return frozenset(w for w in key.split() if w not in STOP)


def load_tree(conn: sqlite3.Connection, release: str, tree: str) -> IndexTree:
    nodes: dict[int, Node] = {}
    main_by_key: dict[str, list[int]] = defaultdict(list)
    rows = conn.execute(
        "SELECT id, parent, level, title, nemod, code, see, see_also, cells FROM index_terms "
        "WHERE release = ? AND tree = ? ORDER BY id",
        (release, tree),
    )
    for nid, parent, level, title, nemod, code, see, see_also, cells in rows:
        words = content_words(title)
        phrase = phrase_key(_PAREN.sub("", title)) if any(w[0].isdigit() for w in words) else ""
        alts = title_alternatives(title, words)
        nodes[nid] = Node(nid, parent, level, title, nemod, code, see, see_also, cells, words, phrase, alts)
    for node in nodes.values():
        if node.parent is not None and node.parent in nodes:
            nodes[node.parent].children.append(node.id)
        elif node.level == 0:
            for variant in main_term_variants(node.title):
                main_by_key[variant].append(node.id)
    for adjective, noun in ADJECTIVE_TERMS.items():
        target = main_by_key.get(phrase_key(noun))
        if target and phrase_key(adjective) not in main_by_key:
            main_by_key[phrase_key(adjective)] = list(target)
    return IndexTree(tree, release, nodes, dict(main_by_key))


def title_alternatives(title: str, words: frozenset[str]) -> tuple[frozenset[str], ...]:
    """Word sets that name a subterm: each comma form when the parts are forms of one word
    ("femur, femoral"), else all the title's words ("intracranial, benign")."""
    parts = [p.strip() for p in _PAREN.sub("", title).split(",") if p.strip()]
    if len(parts) > 1 and len({p.lower()[:3] for p in parts}) == 1:
        return tuple(w for w in map(content_words, parts) if w)
    listed = _or_alternatives(_PAREN.sub("", title))
    if listed:
        return listed
    return (words,) if words else ()


def _or_alternatives(title: str) -> tuple[frozenset[str], ...]:
    """A subterm that lists choices ("atrial or auricular", "foot or toe", "with ectopic or molar
    pregnancy", "neuritis, radiculitis, radiculopathy or sciatica") is named by any one of them with the
    words around the list: the items are the single words joined by commas and the first "or"."""
    tokens = title.replace(",", " , ").split()
    if "or" not in tokens:
        return ()
    at = tokens.index("or")
    if at == 0 or at + 1 >= len(tokens):
        return ()
    start = at - 1
    while start >= 2 and tokens[start - 1] == "," and tokens[start - 2] not in {",", "or"}:
        start -= 2
    items = [tokens[k] for k in range(start, at, 2)] + [tokens[at + 1]]
    prefix = " ".join(t for t in tokens[:start] if t != ",")
    suffix = " ".join(t for t in tokens[at + 2 :] if t != ",")
    alts = [content_words(f"{prefix} {item} {suffix}") for item in items]
    return tuple(dict.fromkeys(a for a in alts if a))


def main_term_variants(title: str) -> set[str]:
    """Keys under which a main term is recognised: the whole title, each comma part, Latin plurals."""
    base = _PAREN.sub("", title)
    base = re.sub(r"\b(NEC|NOS)\b", "", base)
    parts = [p.strip() for p in base.split(",") if p.strip()]
    # "Diabetes, diabetic" names one term twice; "Acroasphyxia, chronic" is a term and a modifier:
    # a comma part is a variant only when it is another form of the first word.
    head = parts[0].lower() if parts else ""
    parts = [p for k, p in enumerate(parts) if k == 0 or p.lower()[:3] == head[:3]]
    out = {phrase_key(base)} | {phrase_key(p) for p in parts}
    for p in list(parts):
        words = p.split()
        if not words:
            continue
        last = words[-1].lower()
        for sing, plur in _LATIN_PLURALS:
            if last.endswith(sing) and len(last) > len(sing) + 2:
                out.add(phrase_key(" ".join([*words[:-1], last[: -len(sing)] + plur])))
    return {k for k in out if len(k) >= 3}


def description_variants(text: str) -> set[str]:
    """Phrases a clinician may write for a tabular title or inclusion term."""
    out: set[str] = set()
    stripped = _DROP_SUFFIX.sub("", text).strip(" ,")
    for candidate in {text, stripped}:
        no_paren = _PAREN.sub("", candidate).strip(" ,")
        with_paren = candidate.replace("(", "").replace(")", "")
        for c in (no_paren, with_paren):
            c = _DROP_SUFFIX.sub("", c).strip(" ,")
            key = phrase_key(c)
            if key and len(key) > 2:
                out.add(key)
    return out


@dataclass
class TermEntry:
    code: str
    source: str  # "description" | "inclusion_term"
    text: str


@dataclass
class Lexicon:
    release: str  # tabular release the terms came from
    index: IndexTree | None
    neoplasm: IndexTree | None
    drug: IndexTree | None
    terms: dict[str, list[TermEntry]]  # phrase key -> entries
    billable: dict[str, str]  # billable code -> description
    headers: dict[str, str]  # header code -> description
    children: dict[str, list[str]]  # code -> child codes (tabular order)


def build_lexicon(conn: sqlite3.Connection, tabular: str, index_releases: dict[str, str]) -> Lexicon:
    """Compile the lexicon for one tabular release and the index releases chosen for it."""
    billable: dict[str, str] = {}
    headers: dict[str, str] = {}
    children: dict[str, list[str]] = defaultdict(list)
    for code, desc, is_billable, parent in conn.execute(
        "SELECT code, description, billable, parent FROM icd_codes WHERE release = ? ORDER BY code",
        (tabular,),
    ):
        (billable if is_billable else headers)[code] = desc
        if parent:
            children[parent].append(code)
    terms: dict[str, list[TermEntry]] = defaultdict(list)
    for code, desc in billable.items():
        if len(code) == 8 and code[-1] in "DGHJKMNPQRS":
            continue  # subsequent-encounter and sequela variants are chosen from attributes, not text
        for key in description_variants(desc):
            terms[key].append(TermEntry(code, "description", desc))
    for code, desc in headers.items():
        for key in description_variants(desc):
            terms[key].append(TermEntry(code, "description", desc))
    for code, text in conn.execute(
        "SELECT code, text FROM icd_notes WHERE release = ? AND kind = 'inclusion_term'", (tabular,)
    ):
        for key in description_variants(text):
            terms[key].append(TermEntry(code, "inclusion_term", text))
    trees = {tree: load_tree(conn, release, tree) for tree, release in index_releases.items()}
    return Lexicon(
        tabular,
        trees.get("index"),
        trees.get("neoplasm"),
        trees.get("drug"),
        dict(terms),
        billable,
        headers,
        dict(children),
    )
