"""The clinical text layer: a document read into sections, sentences and mentions with context.

Pure text processing (no code sets). Typical use::

    from chartcode.text import TermMatcher, find_mentions, load_document

    matcher = TermMatcher(index_terms)          # once: compiles ~100k terms
    doc = load_document(note_bytes)             # plain text, HTML, FHIR R4 JSON or C-CDA XML
    for m in find_mentions(doc, matcher):
        m.start, m.end, m.text, m.normalized, m.section, m.negated, m.attributes.laterality

All spans are ``(start, end)`` into ``Document.text`` (see :mod:`chartcode.text.document` for how
structured inputs are assembled into text). Rules are data in ``chartcode/text/data/*.json``:
``sections.json`` (header variants), ``abbreviations.json``, ``context_rules.json`` (ConText) and
``attributes.json`` (sites, organisms, drugs, devices, external causes); each is validated strictly
and can be replaced by passing your own file to the rules class.
"""

from chartcode.text.abbreviations import AbbreviationTable, ExpandedText, Expansion, default_abbreviations
from chartcode.text.attributes import AttributeLexicon, Attributes, Cause, extract_attributes
from chartcode.text.context import (
    DEMO_LEXICON,
    ContextFlags,
    ContextRules,
    Cue,
    Mention,
    TermMatcher,
    default_context_rules,
    find_mentions,
)
from chartcode.text.document import Document, build_document, html_to_text, load_document
from chartcode.text.sections import Section, SectionRules, detect_sections, normalize_title
from chartcode.text.sentences import Sentence, phrase_key, split_sentences

__all__ = [
    "DEMO_LEXICON",
    "AbbreviationTable",
    "AttributeLexicon",
    "Attributes",
    "Cause",
    "ContextFlags",
    "ContextRules",
    "Cue",
    "Document",
    "ExpandedText",
    "Expansion",
    "Mention",
    "Section",
    "SectionRules",
    "Sentence",
    "TermMatcher",
    "build_document",
    "default_abbreviations",
    "default_context_rules",
    "detect_sections",
    "extract_attributes",
    "find_mentions",
    "html_to_text",
    "load_document",
    "normalize_title",
    "phrase_key",
    "split_sentences",
]
