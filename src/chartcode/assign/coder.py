"""ICD-10-CM diagnosis coding along the coder's path: mention → Alphabetic Index → Tabular.

For every mention of an index main term the coder walks the index the way a certified coder does:
from the main term down through the subterms whose words the note documents (nonessential
modifiers never need to be present; "with"/"in"/"due to" subterms link conditions documented
together, Guideline I.A.15), following "see" references and the Neoplasm Table. Mentions of a
tabular title or inclusion term propose that code directly. Every code is then verified in the
Tabular List for the date of service: a header is refined to the documented (or unspecified)
subdivision, the 7th character and placeholder X are added, and a code not valid and billable on
that date is never emitted. The policy decides which mentions count (context: negated, uncertain,
historical, family, hypothetical) and the sequencing.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date

from chartcode.assign.api import CodedDiagnosis, CodingOptions, CodingResult, Evidence
from chartcode.assign.lexicon import (
    GENERIC_MAIN_TERMS,
    SELF_CODING_GENERIC,
    STOP,
    SYNONYMS,
    IndexTree,
    Lexicon,
    Node,
    TermEntry,
    build_lexicon,
    content_words,
)
from chartcode.codesets.kb import KnowledgeBase
from chartcode.errors import InputError
from chartcode.text.abbreviations import TokenStream
from chartcode.text.context import Mention, TermMatcher, find_mentions
from chartcode.text.document import Document, load_document
from chartcode.text.sentences import BREAK, phrase_key

CONNECTIVES = {
    "with": "with",
    "in": "in",
    "due to": "due to",
    "associated with": "with",
    "complicated by": "with",
}
# Main terms whose "with" subterms are presumed linked anywhere in the document (Guideline I.A.15).
DOCUMENT_WIDE_WITH = frozenset(
    phrase_key(w) for w in ("diabetes", "diabetic", "hypertension", "hypertensive")
)
WINDOW_BEFORE = 4  # words around a mention that may name its subterms (2-fold CV on train)
WINDOW_AFTER = 6
SECTION_RANK = {
    "assessment_and_plan": 0,
    "assessment": 0,
    "diagnoses": 0,
    "impression": 0,
    "discharge_diagnoses": 0,
    "chief_complaint": 1,
    "hpi": 2,
    "plan": 3,
}
EPISODE_CHAR = {"initial": "A", "subsequent": "D", "sequela": "S"}
_NEOPLASM_WORDS = frozenset(
    {
        "neoplasm",
        "malignant",
        "benign",
        "secondary",
        "primary",
        "in situ",
        "uncertain behavior",
        "unspecified behavior",
        "uncertain behaviour",
        "malignant, secondary",
    }
)
_NEOPLASM_COLUMNS = {
    "primary": "Malignant Primary",
    "secondary": "Malignant Secondary",
    "in situ": "Ca in situ",
    "benign": "Benign",
    "uncertain": "Uncertain Behavior",
    "unspecified": "Unspecified Behavior",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    code: str
    mention: Mention
    rationale: str
    path: str | None
    score: float  # specificity: words of the note the code accounts for
    confidence: float
    guideline: str | None = None
    status: str = "present"
    start: int = -1
    end: int = -1
    window: frozenset[str] = frozenset()  # note words around the mention (for history walks)
    main: str | None = None  # key of the index main term the code belongs to
    used: frozenset[str] = frozenset()  # note words the index walk used
    depth: int = 0  # how many subterms below the main term the walk went


class Coder:
    """Codes documents against one knowledge base. Build once, reuse (lexicons are cached per release)."""

    def __init__(
        self, kb: KnowledgeBase, blocked: frozenset[tuple[str, str]] | None = None, *, warm: bool = True
    ) -> None:
        self.kb = kb
        self.blocked = calibration() if blocked is None else blocked
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, ...], tuple[Lexicon, TermMatcher, TermMatcher]] = {}
        self._drug_matchers: dict[str, TermMatcher] = {}
        if warm and kb.has("icd10cm-tabular"):
            self.lexicon_for(None)  # build the newest release's lexicon now, not on the first note

    # --- releases and lexicon ------------------------------------------------------------------

    def lexicon_for(self, day: date | None) -> tuple[Lexicon, TermMatcher, TermMatcher]:
        tab = self.kb.release_for("icd10cm-tabular", day, nearest=True)
        if tab is None:
            raise InputError(
                "no ICD-10-CM tabular release is installed.",
                "install the code sets: `chartcode codesets install --source DIR`.",
            )
        index_releases: dict[str, str] = {}
        for tree in ("index", "neoplasm", "drug"):
            rel = self.kb.release_for(f"icd10cm-{tree}", day, nearest=True)
            if rel is not None:
                index_releases[tree] = rel.id
        key = (tab.id, *sorted(index_releases.values()))
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                lex = build_lexicon(self.kb.conn, tab.id, index_releases)
                anchors = TermMatcher(lex.index.main_by_key if lex.index else ())
                terms = TermMatcher(lex.terms)
                cached = (lex, anchors, terms)
                self._cache[key] = cached
        return cached

    # --- the job -------------------------------------------------------------------------------

    def code(self, text: str | bytes, options: CodingOptions | None = None) -> CodingResult:
        options = options or CodingOptions()
        kept, lex, doc, warnings = self._run(text, options)
        result = CodingResult(
            diagnoses=tuple(_merge(kept, lex, doc, options)),
            release=lex.release,
            date_of_service=options.date_of_service.isoformat() if options.date_of_service else None,
            policy=options.policy,
            setting=options.setting,
            warnings=tuple(warnings),
        )
        from chartcode.assign.services import add_services  # E/M, procedures, drugs, modifiers (issue 4)

        return add_services(result, doc, options, self.kb)

    def trace(self, text: str | bytes, options: CodingOptions) -> list[tuple[str, str]]:
        """(mention key, code) of every code the coder keeps on the mention's own words, before
        merging (for calibration)."""
        kept, lex, _, _ = self._run(text, options)
        return [(c.mention.normalized, c.code) for c in kept if not _protected(c, lex)]

    def _run(
        self, text: str | bytes, options: CodingOptions
    ) -> tuple[list[Candidate], Lexicon, Document, list[str]]:
        day = options.date_of_service
        if day is not None:
            self.kb.check_covered("icd10cm", day)
        lex, anchors, terms = self.lexicon_for(day)
        doc = load_document(text)
        warnings: list[str] = []
        if day is None:
            warnings.append(f"no date of service: coded with the newest installed release ({lex.release})")
        candidates: list[Candidate] = []
        anchor_mentions = find_mentions(doc, anchors)
        # first pass: every mention with what its own sentence documents
        for m in anchor_mentions:
            candidates.extend(self._walk_mention(doc, m, lex, frozenset()))
        # second pass (Guideline I.A.15): diabetes and hypertension are linked to the conditions
        # documented anywhere in the note
        conditions = _condition_words(candidates)
        if conditions:
            first_codes = [refine_code(c.code, lex, c.mention) or c.code for c in candidates]
            for k, cand in enumerate(candidates):
                if cand.mention.normalized not in DOCUMENT_WIDE_WITH:
                    continue
                linked = self._walk_mention(doc, cand.mention, lex, conditions)
                if linked and self._corroborated(linked[0], first_codes, lex):
                    candidates[k] = linked[0]
        if options.policy == "all-mentions":
            candidates.extend(self._unspecified_illness(anchor_mentions, candidates, lex))
        for m in find_mentions(doc, terms):
            candidates.extend(self._term_mention(m, lex))
        drugs = self._find_drugs(doc, lex)  # Table of Drugs substances, read once for both steps
        candidates.extend(self._drug_mentions(doc, lex, drugs))
        candidates.extend(self._long_term_drugs(doc, lex, drugs))
        resolved = [c for c in (self._billable(c, lex, day) for c in candidates) if c is not None]
        kept = _apply_policy(resolved, options, lambda c: self._history_code(c, lex, day))
        # calibration never vetoes a combination code the index reached through documented
        # subterms: those stand on the index and the guidelines (I.A.15, I.B.9)
        kept = [c for c in kept if _protected(c, lex) or (c.mention.normalized, c.code) not in self.blocked]
        documented = list(kept)
        kept = _prefer_specific(kept)
        kept.extend(self._code_first(kept, documented, lex))
        if options.policy == "billing":
            kept = self._resolve_excludes1(kept, lex)
        kept.extend(self._use_additional(kept, doc, lex, day))
        return kept, lex, doc, warnings

    def _unspecified_illness(
        self, mentions: Iterable[Mention], candidates: list[Candidate], lex: Lexicon
    ) -> list[Candidate]:
        """Abstraction: a bare "disease" the index cannot specify ("Disease, diseased" has no code of
        its own) is an illness, unspecified (R69, whose tabular title names it)."""
        coded = {id(c.mention) for c in candidates}
        out = []
        for m in mentions:
            if (
                m.normalized in _BARE_ILLNESS
                and phrase_key(m.text) in _BARE_ILLNESS  # written out, not an expansion ("HPI")
                and id(m) not in coded
                and "R69" in lex.billable
            ):
                out.append(
                    Candidate(
                        code="R69",
                        mention=m,
                        path=None,
                        score=0.5,
                        confidence=0.5,
                        start=m.start,
                        end=m.end,
                        rationale=f"'{m.text}' without a documented kind: Illness, unspecified (R69)",
                    )
                )
        return out

    # --- index walk ----------------------------------------------------------------------------

    def _walk_mention(
        self, doc: Document, m: Mention, lex: Lexicon, doc_words: frozenset[str]
    ) -> list[Candidate]:
        tree = lex.index
        if tree is None:
            return []
        ids = tree.main_by_key.get(m.normalized, [])
        if not ids:
            return []
        window, sentence, phrase = _window_words(doc, m)
        own = frozenset(m.normalized.split())
        generic = m.normalized in GENERIC_MAIN_TERMS
        wide = sentence | doc_words if m.normalized in DOCUMENT_WIDE_WITH else sentence
        best: tuple[tuple[float, int, int, int], Candidate] | None = None
        for rank, main_id in enumerate(ids[:8]):
            path, used = _walk(tree, main_id, window - own, wide - own, phrase)
            node = tree.nodes[path[-1]]
            depth = len(path) - 1
            if generic and depth == 0 and m.normalized not in SELF_CODING_GENERIC:
                continue
            code, where, rationale = None, "", ""
            if node.see and not node.code and depth > 0:  # the index sends the coder elsewhere
                code, where, rationale = self._follow_see(
                    tree, lex, node, window - own - used, (window | wide) - own - used
                )
            if code is None:
                code, where, rationale = _code_along(tree, path)
            if code is None and node.see:
                code, where, rationale = self._follow_see(tree, lex, node, window - own - used)
            if code is None and node.see_also:  # "Bleeding — see also Hemorrhage": the entry to use
                code, where, rationale = self._follow_see(
                    tree, lex, replace(node, see=node.see_also), window - own - used
                )
            if code is None and depth == 0:  # "Metastasis › spread (to) — see Neoplasm, secondary, by site"
                neoplasm_see = next(
                    (
                        tree.nodes[k].see
                        for k in node.children
                        if (tree.nodes[k].see or "").startswith("Neoplasm")
                        and "by site" in (tree.nodes[k].see or "")
                    ),
                    None,
                )
                if neoplasm_see and lex.neoplasm is not None:
                    code, where, rationale = _neoplasm_code(lex.neoplasm, neoplasm_see, window - own - used)
            if code is None:
                continue
            guideline = "I.A.15" if any(tree.nodes[p].low in CONNECTIVES for p in path) else None
            cand = Candidate(
                code=code,
                mention=m,
                rationale=rationale,
                path=where,
                score=len(own) + len(used),
                confidence=0.6 + min(0.3, 0.1 * depth),
                guideline=guideline,
                start=m.start,
                end=m.end,
                window=window,
                main=tree.nodes[main_id].title,
                depth=depth,
                used=used,
            )
            # most note words explained; then a main term titled exactly as written; then the main
            # entry of its name (the largest subtree: "Fracture, traumatic" over "Fracture, burst")
            exact = int(phrase_key(tree.nodes[main_id].title) == m.normalized)
            key = (float(len(used)), exact, len(tree.nodes[main_id].children), -rank)
            if best is None or key > best[0]:
                best = (key, cand)
        return [best[1]] if best else []

    def _corroborated(self, linked: Candidate, documented: list[str], lex: Lexicon) -> bool:
        """A link made across sentences stands when the combination code's "Use additional code"
        companion is documented (I12.9 needs an N18 stage code; E11.22 likewise), or when the code
        asks for none."""
        from chartcode.codesets import icd10cm

        code = refine_code(linked.code, lex, linked.mention)
        if code is None:
            return False
        notes = [n for n in icd10cm.conventions(self.kb.conn, lex.release, code).use_additional if n.targets]
        if not notes:
            return True
        return any(icd10cm.covers(t, d) for n in notes for t in n.targets for d in documented)

    def _follow_see(
        self,
        tree: IndexTree,
        lex: Lexicon,
        node: Node,
        words: frozenset[str],
        wide: frozenset[str] = frozenset(),
    ) -> tuple[str | None, str, str]:
        """Follow a "see" reference with the mention's own words (``words``); "with"/"in"/"due to"
        subterms of the target may also use ``wide`` (the sentence), as in the first walk."""
        see = node.see or ""
        if see.lower().startswith("neoplasm") and lex.neoplasm is not None:
            return _neoplasm_code(lex.neoplasm, see, words | wide)
        target = tree.resolve_see(see)
        if target is None:
            return None, "", ""
        path, _ = _walk(tree, target, words, wide)
        code, where, rationale = _code_along(tree, path)
        return code, where, f"see {see}: {rationale}" if code else ""

    # --- Table of Drugs and Chemicals ---------------------------------------------------------

    def _find_drugs(self, doc: Document, lex: Lexicon) -> tuple[Mention, ...]:
        """Mentions of the Table of Drugs and Chemicals' substances (the matcher is built once a release)."""
        tree = lex.drug
        if tree is None:
            return ()
        with self._lock:
            matcher = self._drug_matchers.get(tree.release)
            if matcher is None:
                matcher = TermMatcher(tree.main_by_key)
                self._drug_matchers[tree.release] = matcher
        return find_mentions(doc, matcher)

    def _drug_mentions(self, doc: Document, lex: Lexicon, drugs: tuple[Mention, ...]) -> list[Candidate]:
        """Poisoning, adverse effect and underdosing (Guideline I.C.19.e): the substance's row of the
        Table of Drugs and Chemicals, the column the note's words name. Only sentences that name one
        of those circumstances are read."""
        tree = lex.drug
        if tree is None:
            return []
        ts = doc.expanded.tokens
        sentences = {k for k, (i0, i1) in enumerate(ts.sentences) if _DRUG_CUES & set(ts.norm[i0:i1])}
        if not sentences:
            return []
        out: list[Candidate] = []
        for m in drugs:
            if m.sentence not in sentences:
                continue
            words = _drug_context(ts, m)
            if not words & _DRUG_CUES:
                continue  # the circumstance must be said of this substance, not elsewhere in the sentence
            column = _drug_column(words)
            for node_id in tree.main_by_key.get(m.normalized, [])[:1]:
                cells = json.loads(tree.nodes[node_id].cells or "{}")
                code = cells.get(column)
                if not code or code.startswith("-"):
                    continue
                where = f"{tree.format_path(node_id)} ({column})"
                out.append(
                    Candidate(
                        code=code,
                        mention=m,
                        rationale=f"Table of Drugs and Chemicals: {where} → {code}",
                        path=where,
                        score=len(m.normalized.split()) + 1,
                        confidence=0.75,
                        guideline="I.C.19.e",
                        start=m.start,
                        end=m.end,
                        main=tree.nodes[node_id].title,
                        depth=1,
                    )
                )
        return out

    def _long_term_drugs(self, doc: Document, lex: Lexicon, drugs: tuple[Mention, ...]) -> list[Candidate]:
        """Long-term (current) drug therapy (Guideline I.C.21.c.3): a drug the patient takes maps to its
        Z79 status code through the drug's class in the Table of Drugs and Chemicals (data:
        long_term_drugs.json). The sentence must say the use is long-term or habitual, or the drug must be
        listed in a medications section: a drug given once for the illness at hand is not long-term
        therapy. Negated, planned, family and past mentions are dropped later by the policy."""
        tree = lex.drug
        if tree is None:
            return []
        classes, cues = long_term_drug_rules()
        ts = doc.expanded.tokens
        out: list[Candidate] = []
        for m in drugs:
            if _drug_context(ts, m) & _DRUG_CUES:
                continue  # poisoning, adverse effect or underdosing: the Drug Table step codes it
            if (m.section or "") != "medications":
                i0, i1 = ts.sentences[m.sentence]
                if not cues & set(ts.norm[i0:i1]):
                    continue
            for node_id in tree.main_by_key.get(m.normalized, [])[:1]:
                node = tree.nodes[node_id]
                adverse = json.loads(node.cells or "{}").get("Adverse effect") or ""
                title = node.low
                rule = next(
                    (
                        r
                        for r in classes
                        if adverse.startswith(r[0]) and (not r[1] or title.startswith(r[1]))
                    ),
                    None,
                )
                if rule is None:
                    continue
                code = rule[2]
                if code not in lex.billable:
                    continue
                out.append(
                    Candidate(
                        code=code,
                        mention=m,
                        rationale=f"long-term drug therapy: {node.title} is in the class of {adverse} "
                        f"(Table of Drugs and Chemicals) → {rule[3]}",
                        path=f"Table of Drugs and Chemicals: {node.title} (Adverse effect {adverse})",
                        score=len(m.normalized.split()),
                        confidence=0.55,
                        guideline="I.C.21.c.3",
                        start=m.start,
                        end=m.end,
                        main=node.title,
                        depth=1,
                    )
                )
        return out

    # --- tabular terms -------------------------------------------------------------------------

    def _term_mention(self, m: Mention, lex: Lexicon) -> list[Candidate]:
        entries = lex.terms.get(m.normalized, [])
        main, main_code = _main_term_of(m.normalized, lex)
        out = []
        # one code per mention: a tabular title before an inclusion term, an unspecified code first
        for e in sorted(entries, key=_term_rank(lex))[:1]:
            what = "tabular title" if e.source == "description" else "inclusion term"
            out.append(
                Candidate(
                    code=e.code,
                    mention=m,
                    rationale=f"{what} '{e.text}' ({e.code})",
                    path=None,
                    score=len(m.normalized.split()) + 0.5,
                    confidence=0.8 if e.source == "description" else 0.75,
                    start=m.start,
                    end=m.end,
                    main=main,
                    depth=0
                    if (main_code is not None and e.code.startswith(main_code)) or " " not in m.normalized
                    else 1,
                )
            )
        return out

    # --- tabular verification ------------------------------------------------------------------

    def _billable(self, c: Candidate, lex: Lexicon, day: date | None) -> Candidate | None:
        code = self._in_force(refine_code(c.code, lex, c.mention), day)
        if code is None:
            return None
        if code != c.code:
            c = replace(c, rationale=f"{c.rationale}; Tabular: {c.code} → {code}")
        return replace(c, code=code)

    def _in_force(self, code: str | None, day: date | None) -> str | None:
        """The code valid and billable on the date of service: ``code`` itself, or, for a date before a
        subdivision took effect, the ancestor that was the billable code then (R05.9, new in FY2022,
        is R05 on a 2021 date). The installed tabular may be newer than the date; the validity history
        says what was in force."""
        if code is None:
            return None
        if self.kb.validity(code, day, "icd10cm").valid:
            return code
        if day is None:
            return None
        shorter = code
        while len(shorter) > 3:
            shorter = shorter[:-1].rstrip(".")
            if self.kb.validity(shorter, day, "icd10cm").valid:
                return shorter
        return None

    def _history_code(self, c: Candidate, lex: Lexicon, day: date | None) -> Candidate | None:
        """History of / family history of a condition: the index's History entries (Z80-Z87)."""
        tree = lex.index
        if tree is None:
            return None
        kind = "family" if c.mention.family else "personal"
        history = tree.main_by_key.get("history")
        if not history:
            return None
        branch = next(
            (k for k in tree.nodes[history[0]].children if tree.nodes[k].low.startswith(kind)), None
        )
        if branch is None:
            return None
        words = with_synonyms(w for w in c.mention.normalized.split() if w not in STOP) | c.window
        path, used = _walk(tree, branch, words, frozenset(), c.mention.normalized)
        if not used:
            return None
        code, where, rationale = _code_along(tree, path)
        if code is None:
            return None
        refined = self._in_force(refine_code(code, lex, c.mention), day)
        if refined is None:
            return None
        return replace(
            c,
            code=refined,
            rationale=f"{kind} history: {rationale}",
            path=where,
            guideline="I.C.21.c.4",
            status="family history" if kind == "family" else "history",
        )

    def _resolve_excludes1(self, kept: list[Candidate], lex: Lexicon) -> list[Candidate]:
        """Guideline I.A.12.a: two codes in an Excludes1 relation are not reported together; the code
        whose note excludes the other gives way (the other is the more specific or combination code)."""
        from chartcode.codesets import icd10cm

        codes = sorted({c.code for c in kept})
        drop: set[str] = set()
        for i, a in enumerate(codes):
            for b in codes[i + 1 :]:
                if a[:3] == b[:3] or a in drop or b in drop:
                    continue
                if icd10cm.excludes1_conflict(self.kb.conn, lex.release, a, b) is None:
                    continue
                if _note_excludes(self.kb, lex.release, a, b):
                    drop.add(a)
                else:
                    drop.add(b)
        return [c for c in kept if c.code not in drop]

    def _code_first(
        self, kept: list[Candidate], documented: list[Candidate], lex: Lexicon
    ) -> list[Candidate]:
        """Guideline I.A.13: a "Code first" etiology the note documents stays with its manifestation
        (COVID-19 U07.1 with J12.82), even where the more specific code absorbed its mention."""
        from chartcode.codesets import icd10cm

        have = {c.code for c in kept}
        by_code = {c.code: c for c in documented}
        out: list[Candidate] = []
        for c in list(kept):
            for note in icd10cm.conventions(self.kb.conn, lex.release, c.code).code_first:
                for low, high in note.targets:
                    target = by_code.get(low) if low == high else None
                    if target is not None and target.code not in have:
                        have.add(target.code)
                        out.append(
                            replace(
                                target,
                                guideline="I.A.13",
                                rationale=f"{target.rationale}; code first at {c.code}: {note.text}",
                            )
                        )
        return out

    def _use_additional(
        self, kept: list[Candidate], doc: Document, lex: Lexicon, day: date | None
    ) -> list[Candidate]:
        """Follow "Use additional code" notes whose subject the note documents (e.g. insulin → Z79.4)."""
        from chartcode.codesets import icd10cm

        have = {c.code for c in kept}
        words = frozenset(doc.expanded.tokens.norm)
        out: list[Candidate] = []
        for c in list(kept):
            if c.code[0] == "Z":
                continue
            conv = icd10cm.conventions(self.kb.conn, lex.release, c.code)
            for note in conv.use_additional:
                if len(note.targets) != 1 or note.targets[0][0] != note.targets[0][1]:
                    continue
                target = note.targets[0][0]
                if target in have or target not in lex.billable:
                    continue
                subject = content_words(note.text.split("(")[0]) - {"code", "identify", "use", "additional"}
                if subject and subject <= words and self.kb.validity(target, day, "icd10cm").valid:
                    have.add(target)
                    out.append(
                        replace(
                            c,
                            code=target,
                            rationale=f"use additional code at {note.source_code}: {note.text}",
                            path=None,
                            guideline="I.A.13",
                            confidence=0.6,
                        )
                    )
        return out


# --- helpers -------------------------------------------------------------------------------------

_BARE_ILLNESS = frozenset(phrase_key(w) for w in ("disease", "diseases", "illness", "pathology"))

_POISONING = frozenset(phrase_key(w) for w in ("poisoning", "overdose", "intoxication", "toxicity"))
_ADVERSE = frozenset(phrase_key(w) for w in ("adverse", "induced"))  # "adverse effect", "drug-induced"
_UNDERDOSING = frozenset(phrase_key(w) for w in ("underdosing", "underdose", "noncompliance"))
_DRUG_CUES = _POISONING | _ADVERSE | _UNDERDOSING


def _drug_context(ts: TokenStream, m: Mention) -> set[str]:
    """Words tied to a substance mention: up to 4 words before it and 2 after, within its clause;
    "induced" counts only right after the substance ("cefepime-induced", not "induced with")."""
    i0, i1 = ts.sentences[m.sentence]
    first = next((i for i in range(i0, i1) if ts.ostart[i] >= m.start), i0)
    last = next((i for i in range(first, i1) if ts.oend[i] >= m.end), i1 - 1)
    words: set[str] = set()
    i = first - 1
    while i >= max(i0, first - 4) and ts.norm[i] != BREAK:
        if ts.norm[i] != "induced":
            words.add(ts.norm[i])
        i -= 1
    j = last + 1
    while j <= min(i1 - 1, last + 2) and ts.norm[j] != BREAK:
        if ts.norm[j] in _DRUG_CUES:
            words.add(ts.norm[j])
        j += 1
    return words


def _drug_column(words: set[str]) -> str:
    """The Drug Table column the sentence names (accidental poisoning unless intent is documented)."""
    if words & _UNDERDOSING:
        return "Underdosing"
    if words & _POISONING:
        if words & {"suicide", "suicidal", "intentional", "self", "harm"}:
            return "Poisoning Intentional self-harm"
        if words & {"assault", "homicide"}:
            return "Poisoning Assault"
        if words & {"undetermined"}:
            return "Poisoning Undetermined"
        return "Poisoning Accidental (unintentional)"
    return "Adverse effect"


def _protected(c: Candidate, lex: Lexicon) -> bool:
    """A combination code reached through documented subterms ("with", "due to")."""
    if c.depth == 0:
        return False
    desc = lex.billable.get(c.code, "").lower()
    return c.guideline == "I.A.15" or " with " in desc or " due to " in desc


def _term_rank(lex: Lexicon) -> Callable[[TermEntry], tuple[int, int, str]]:
    """A billable tabular title first, then a header's title, then an inclusion term."""

    def rank(e: TermEntry) -> tuple[int, int, str]:
        return (0 if e.source == "description" else 1, 0 if e.code in lex.billable else 1, e.code)

    return rank


def _main_term_of(key: str, lex: Lexicon) -> tuple[str | None, str | None]:
    """The index main term a tabular term belongs to ("essential hypertension" → hypertension) and
    that main term's own code."""
    if lex.index is None:
        return None, None
    words = key.split()
    for candidate in (key, *reversed(words), *words):
        ids = lex.index.main_by_key.get(candidate)
        if ids:
            node = next((lex.index.nodes[i] for i in ids if lex.index.nodes[i].code), lex.index.nodes[ids[0]])
            return node.title, node.code.rstrip("-") if node.code else None
    return None, None


@functools.cache
def calibration() -> frozenset[tuple[str, str]]:
    """(mention key, code) pairs that were rarely right on the CodiEsp *train* split (see
    scripts/calibrate.py and docs/EVALUATION.md): words of everyday English that are also index
    main terms ("examination", "rest", "pattern") and similar false friends."""
    from importlib import resources

    path = resources.files("chartcode.assign").joinpath("data/calibration.json")
    if not path.is_file():
        return frozenset()
    data = json.loads(path.read_text(encoding="utf-8"))
    return frozenset((key, code) for key, code, *_ in data["blocked"])


@functools.cache
def long_term_drug_rules() -> tuple[tuple[tuple[str, str, str, str], ...], frozenset[str]]:
    """(Table-of-Drugs code prefix, title prefix, Z79 code, label) rules and the words that say a use
    is long-term, from data/long_term_drugs.json (validated when loaded)."""
    from importlib import resources

    data = json.loads(
        resources.files("chartcode.assign").joinpath("data/long_term_drugs.json").read_text(encoding="utf-8")
    )
    if data.get("format") != "chartcode-long-term-drugs":
        raise ValueError("long_term_drugs.json: unexpected format")
    rules = []
    for k, r in enumerate(data["classes"]):
        if not isinstance(r.get("prefix"), str) or not str(r.get("code", "")).startswith("Z79"):
            raise ValueError(f"long_term_drugs.json: class {k} needs a 'prefix' and a Z79 'code'")
        rules.append((r["prefix"], str(r.get("title_prefix", "")).lower(), r["code"], str(r["label"])))
    cues = frozenset(w for c in data["cues"] for w in phrase_key(c).split() if w != "term")
    return tuple(rules), cues


def _note_excludes(kb: KnowledgeBase, release: str, a: str, b: str) -> bool:
    """Does an Excludes1 note at ``a`` (or its ancestors) name ``b``?"""
    from chartcode.codesets import icd10cm

    conv = icd10cm.conventions(kb.conn, release, a)
    return any(icd10cm.covers(t, b) for n in conv.excludes1 for t in n.targets)


CHUNK_BREAKERS = frozenset({BREAK, "and", "or", "but", "also", "plus"})


def _window_words(doc: Document, m: Mention) -> tuple[frozenset[str], frozenset[str], str]:
    """Words near the mention: its own chunk of the sentence (up to a comma, "and", "or"), the
    whole sentence (for "with"/"in"/"due to" subterms), and the chunk as a phrase."""
    ts = doc.expanded.tokens
    i0, i1 = ts.sentences[m.sentence]
    first = next((i for i in range(i0, i1) if ts.ostart[i] >= m.start), i0)
    last = next((i for i in range(first, i1) if ts.oend[i] >= m.end), i1 - 1)
    lo = first
    while lo > i0 and first - lo < WINDOW_BEFORE and ts.norm[lo - 1] not in CHUNK_BREAKERS:
        lo -= 1
    hi = last + 1
    while hi < i1 and hi - last <= WINDOW_AFTER and ts.norm[hi] not in CHUNK_BREAKERS:
        hi += 1
    chunk = [w for w in ts.norm[lo:hi] if w and w != BREAK]
    sentence = with_synonyms(w for w in ts.norm[i0:i1] if w and w != BREAK and w not in STOP)
    return with_synonyms(w for w in chunk if w not in STOP), sentence, " ".join(chunk)


def with_synonyms(words: Iterable[str]) -> frozenset[str]:
    out = set(words)
    for w in list(out):
        out.update(SYNONYMS.get(w, ()))
    return frozenset(out)


def _condition_words(cands: Iterable[Candidate]) -> frozenset[str]:
    """Words naming the conditions the note affirms (their mentions and the subterms that coded them)."""
    words: set[str] = set()
    for c in cands:
        if c.mention.negated or c.mention.hypothetical or c.mention.family:
            continue
        words.update(w for w in phrase_key(c.mention.expanded).split() if w not in STOP)
        words.update(c.used)
    return with_synonyms(words)


def _walk(
    tree: IndexTree, start: int, words: frozenset[str], wide: frozenset[str], phrase: str = ""
) -> tuple[list[int], frozenset[str]]:
    """Descend from ``start`` through the subterms the note documents, choosing the path that
    accounts for the most note words (so "fracture of neck of femur" goes Fracture › femur › neck,
    not Fracture › neck). Returns the path and the note words it used. ``phrase`` is the note's text
    (normalised) for subterms with numbers; ``wide`` the words "with"/"in"/"due to" subterms may use."""
    padded = f" {phrase} "
    best_path, best_used, _ = _best_path(tree, start, words, wide, padded, frozenset(), 0)
    return [start, *best_path], best_used


_MAX_DEPTH = 8


def _matches(node: Node, pool: frozenset[str], padded: str) -> frozenset[str] | None:
    """The note words that name this subterm, or None."""
    if node.phrase and f" {node.phrase} " not in padded:
        return None  # "stage 4", "type 2": numbers count only in their own phrase
    for alt in node.alts:
        if alt <= pool:
            return alt
    return None


def _best_path(
    tree: IndexTree,
    node_id: int,
    words: frozenset[str],
    wide: frozenset[str],
    padded: str,
    used: frozenset[str],
    depth: int,
) -> tuple[list[int], frozenset[str], float]:
    if depth >= _MAX_DEPTH:
        return [], used, 0.0
    best: tuple[list[int], frozenset[str], float] = ([], used, 0.0)
    for child_id in tree.nodes[node_id].children:
        child = tree.nodes[child_id]
        title = child.low
        if title in CONNECTIVES:
            pool = (words | wide) - used  # linked conditions may be anywhere in the sentence (or note)
            for gc_id in child.children:
                hit = _matches(tree.nodes[gc_id], pool, padded)
                if hit is not None:
                    sub, sub_used, sub_score = _best_path(
                        tree, gc_id, words, wide, padded, used | hit, depth + 2
                    )
                    score = len(hit) + 0.1 + sub_score
                    if score > best[2]:
                        best = ([child_id, gc_id, *sub], sub_used, score)
            continue
        if title.startswith("without") and "without" not in words:
            continue
        hit = _matches(child, words - used, padded)
        if hit is not None:
            sub, sub_used, sub_score = _best_path(tree, child_id, words, wide, padded, used | hit, depth + 1)
            score = len(hit) + sub_score
            if score > best[2]:
                best = ([child_id, *sub], sub_used, score)
    return best


def _code_along(tree: IndexTree, path: list[int]) -> tuple[str | None, str, str]:
    """The code of the deepest node on the path that has one, with the path that reached it. A
    subterm without a code whose subdivisions include an unspecified one ("… or unspecified chronic
    kidney disease") takes that one: nothing more specific is documented."""
    last = tree.nodes[path[-1]]
    if not last.code and len(path) > 1:
        for child_id in last.children:
            child = tree.nodes[child_id]
            if child.code and ("unspecified" in child.low or child.title.endswith(" NOS")):
                where = tree.format_path(child_id)
                return child.code, where, f"Index: {where} → {child.code}"
    for node_id in reversed(path):
        node = tree.nodes[node_id]
        if node.code:
            where = tree.format_path(node_id)
            return node.code, where, f"Index: {where} → {node.code}"
    return None, "", ""


def _neoplasm_code(tree: IndexTree, see: str, words: frozenset[str]) -> tuple[str | None, str, str]:
    """Neoplasm Table: the site the note names, the column the behaviour names."""
    behaviour = "unspecified"
    low = see.lower()
    for key in ("in situ", "benign", "uncertain", "secondary", "malignant"):
        if key in low:
            behaviour = "primary" if key == "malignant" else key
            break
    if behaviour == "primary" and words & {"metastasis", "metastatic", "metastase", "secondary"}:
        behaviour = "secondary"
    mains = tree.main_by_key.get("neoplasm") or next(iter(tree.main_by_key.values()), [])
    if not mains:
        return None, "", ""
    # "see Neoplasm, bone, malignant" names the site itself; "… by site" leaves it to the note
    named = [
        part.strip()
        for part in see.split(",")[1:]
        if part.strip().lower() not in _NEOPLASM_WORDS and not part.strip().lower().startswith("by site")
    ]
    site_words = with_synonyms(w for part in named for w in content_words(part))
    path, used = _walk(tree, mains[0], site_words, frozenset()) if site_words else ([mains[0]], frozenset())
    if not used:
        path, _ = _walk(tree, mains[0], words, frozenset())
    for node_id in reversed(path):
        cells = json.loads(tree.nodes[node_id].cells or "{}")
        code = cells.get(_NEOPLASM_COLUMNS[behaviour])
        if code:
            where = f"{tree.format_path(node_id)} ({_NEOPLASM_COLUMNS[behaviour]})"
            return code, where, f"Neoplasm Table: {where} → {code}"
    return None, "", ""


def refine_code(code: str, lex: Lexicon, mention: Mention | None) -> str | None:
    """From an index or table code (maybe incomplete: "C79.8-", "T39.1X5", "M17.1") to a billable code."""
    code = code.strip().rstrip("-").rstrip(".").upper()
    if not code:
        return None
    for _ in range(6):
        if code in lex.billable:
            return code
        kids = lex.children.get(code)
        if not kids:
            return None
        code = _choose_child(kids, lex, mention)
    return code if code in lex.billable else None


def _choose_child(kids: list[str], lex: Lexicon, mention: Mention | None) -> str:
    attrs = mention.attributes if mention is not None else None
    if all(len(k.replace(".", "")) == 7 for k in kids):  # 7th-character variants
        episode = getattr(attrs, "episode", None) if attrs is not None else None
        want = EPISODE_CHAR.get(str(episode), "A")
        for k in kids:
            if k.endswith(want):
                return k
        return kids[0]
    laterality = getattr(attrs, "laterality", None) if attrs is not None else None

    def desc(k: str) -> str:
        return (lex.billable.get(k) or lex.headers.get(k) or "").lower()

    if laterality:
        side = {"right": "right", "left": "left", "bilateral": "bilateral"}.get(str(laterality))
        if side:
            for k in kids:
                if side in desc(k):
                    return k

    # the subdivision a coder takes when nothing more is documented
    def default_rank(k: str) -> int:
        d = desc(k)
        if d.endswith(("unspecified", " nos")) or ", unspecified" in d:
            return 0
        if "without complication" in d:
            return 1
        if k.endswith("9"):
            return 2
        if "unspecified" in d:
            return 3
        return 4

    ranked = sorted(kids, key=default_rank)
    if default_rank(ranked[0]) < 4:
        return ranked[0]
    return kids[0]


def _apply_policy(
    cands: list[Candidate], options: CodingOptions, history: Callable[[Candidate], Candidate | None]
) -> list[Candidate]:
    out: list[Candidate] = []
    for c in cands:
        m = c.mention
        if m.negated or m.hypothetical:
            continue
        if options.policy == "all-mentions":
            if m.family:
                continue
            status = "uncertain" if m.uncertain else "history" if m.historical else "present"
            out.append(replace(c, status=status))
            continue
        if m.family or m.historical:
            h = history(c)
            if h is not None:
                out.append(h)
            continue
        if m.uncertain:
            if options.setting == "outpatient":
                continue  # IV.H: code the signs and symptoms instead (they are separate mentions)
            out.append(
                replace(
                    c,
                    guideline="II.H",
                    status="uncertain, coded as established",
                    confidence=c.confidence * 0.8,
                )
            )
            continue
        out.append(c)
    if options.policy == "billing":
        out = _drop_integral_symptoms(out)
    return [replace(c, status=_status_of(c)) for c in out]


def _status_of(c: Candidate) -> str:
    """Z80-Z84 are family history codes, Z85-Z87 personal history, whatever the words were."""
    if "Z80" <= c.code[:3] <= "Z84":
        return "family history"
    if "Z85" <= c.code[:3] <= "Z87":
        return "history"
    return c.status


def _drop_integral_symptoms(cands: list[Candidate]) -> list[Candidate]:
    """Guideline I.B.5: signs and symptoms in the same sentence as a confirmed diagnosis are integral.
    And (IV.D, IV.I, I.B.4): when the assessment establishes a definitive diagnosis, symptoms the note
    records only in the history, review of systems or exam are not coded beside it; symptoms the
    assessment itself names still are (it judged them worth addressing)."""
    # an injury, poisoning or adverse effect does not absorb its manifestations (I.C.19.e.5.a)
    confirmed = {
        c.mention.sentence for c in cands if c.code[0] not in "RSTVWXYZ" and c.status == "present"
    }
    cands = [c for c in cands if not (c.code.startswith("R") and c.mention.sentence in confirmed)]
    assessed = any(
        (c.mention.section or "") in ASSESSMENT_SECTIONS and not _symptom_code(c.code) and c.code[0] != "Z"
        for c in cands
    )
    if not assessed:
        return cands
    return [
        c for c in cands if not (_symptom_code(c.code) and (c.mention.section or "") in NARRATIVE_SECTIONS)
    ]


ASSESSMENT_SECTIONS = frozenset(
    {"assessment", "assessment_and_plan", "diagnoses", "impression", "problem_list"}
)
NARRATIVE_SECTIONS = frozenset(
    {
        "chief_complaint",
        "reason_for_visit",
        "history_of_present_illness",
        "review_of_systems",
        "physical_exam",
        "vital_signs",
        "subjective",
        "objective",
    }
)


def _symptom_code(code: str) -> bool:
    """Chapter 18 signs and symptoms, and the symptom codes of chapter 13 (pain in joint, in limb)."""
    return code.startswith(("R", "M25.5", "M79.6"))


def _prefer_specific(cands: list[Candidate]) -> list[Candidate]:
    """Where candidates of one category overlap in the note, keep the most specific one; and a main
    term's own code gives way to a code the same main term reached through documented subterms
    (Pneumonia → J18.9 yields to Pneumonia › in › COVID-19 → J12.82; Guideline I.B.9)."""
    specific_mains = {c.main for c in cands if c.main is not None and c.depth > 0}
    cands = [c for c in cands if not (c.main in specific_mains and c.depth == 0)]
    # a tabular term for the bare word ("Carcinoma unspecified site") yields to the index's code for
    # the same words when the walk found more (the site in the Neoplasm Table)
    walked = {(c.start, c.end) for c in cands if c.path is not None}
    cands = [c for c in cands if not (c.path is None and c.depth == 0 and (c.start, c.end) in walked)]
    # a bare generic word ("infection" in "HIV infection") yields to any code whose evidence covers it
    cands = [
        c
        for c in cands
        if not (
            c.depth == 0
            and c.mention.normalized in SELF_CODING_GENERIC
            and any(
                o is not c
                and o.code != c.code
                and o.start <= c.start
                and c.end <= o.end
                and (o.end - o.start) > (c.end - c.start)
                for o in cands
            )
        )
    ]
    out: list[Candidate] = []
    order = sorted(cands, key=lambda c: (-len(c.code), -c.score))  # deeper in the tabular = more specific
    for c in order:
        clash = any(
            o.code[:3] == c.code[:3] and o.code != c.code and o.start < c.end and c.start < o.end for o in out
        )
        if not clash:
            out.append(c)
    return sorted(out, key=lambda c: (c.start, c.code))


def _drop_unspecified_siblings(cands: list[Candidate], lex: Lexicon) -> list[Candidate]:
    """Code to the highest specificity documented: an unspecified code gives way to a specific code
    of the same category found elsewhere in the note (Guideline I.B.2 / I.A.9)."""
    codes = {c.code for c in cands}

    def unspecified(code: str) -> bool:
        d = lex.billable.get(code, "").lower()
        return "unspecified" in d or (code.replace(".", "").endswith("9") and "other" not in d)

    return [
        c
        for c in cands
        if not (
            unspecified(c.code)
            and any(o[:3] == c.code[:3] and o != c.code and not unspecified(o) for o in codes)
        )
    ]


def _merge(
    cands: list[Candidate], lex: Lexicon, doc: Document, options: CodingOptions
) -> list[CodedDiagnosis]:
    if options.policy == "billing":  # abstraction keeps each mention as documented
        cands = _drop_unspecified_siblings(cands, lex)
    by_code: dict[str, list[Candidate]] = {}
    for c in cands:
        by_code.setdefault(c.code, []).append(c)
    out = []
    for code, group in by_code.items():
        best = max(group, key=lambda c: (c.confidence, c.score))
        # by (start, end): ties on start alone would follow set order, which varies between runs
        evidence = tuple(
            sorted(
                {Evidence(c.start, c.end, doc.text[c.start : c.end]) for c in group},
                key=lambda e: (e.start, e.end),
            )
        )
        rank = min(SECTION_RANK.get(c.mention.section or "", 5) for c in group)
        out.append(
            (
                rank,
                min(c.start for c in group),
                CodedDiagnosis(
                    code=code,
                    description=lex.billable.get(code) or lex.headers.get(code, ""),
                    evidence=evidence,
                    rationale=best.rationale,
                    confidence=round(min(0.99, best.confidence + 0.05 * (len(group) - 1)), 2),
                    guideline=best.guideline,
                    path=best.path,
                    status=best.status,
                ),
            )
        )
    out.sort(key=lambda t: (t[0], t[1]) if options.policy == "billing" else (t[1], 0))
    return [d for _, _, d in out]
