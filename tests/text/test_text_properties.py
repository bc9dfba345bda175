"""Property tests: spans always lie in bounds, sentences cover the text in order without overlap."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chartcode.text import build_document, find_mentions

FRAGMENTS = [
    "HTN",
    "DM2",
    "CKD 3a",
    "s/p",
    "h/o",
    "N/V",
    "PE:",
    "PE",
    "RA",
    "no",
    "denies",
    "chest pain",
    "pneumonia",
    "fever",
    "?",
    "vs.",
    "Dr.",
    "b.i.d.",
    "7.5 mg",
    "E11.22",
    "1.",
    "2)",
    "- ",
    "* ",
    "ASSESSMENT AND PLAN:",
    "A/P:",
    "Dx:",
    "## Plan",
    "**Plan:**",
    "HPI -",
    "Family History:",
    "mother",
    "but",
    "right knee",
    "E. coli",
    "33w2d",
    "Crohn's",
    "İstanbul",
    "ﬁ",
    "\u00a0",
    ".",
    ",",
    ";",
    ":",
    "\n",
    "\n\n",
    "\r\n",
    "\t",
    " ",
    "  ",
]

texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=40).map(" ".join),
)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_spans_in_bounds_and_sentences_cover_text(text: str) -> None:
    doc = build_document(text)
    n = len(text)
    previous_end = 0
    for k, s in enumerate(doc.sentences):
        assert s.index == k
        assert previous_end <= s.start < s.end <= n
        assert not text[s.start].isspace() and not text[s.end - 1].isspace()
        assert text[previous_end : s.start].strip() == ""  # nothing but white space between sentences
        previous_end = s.end
    assert text[previous_end:].strip() == ""
    for sec in doc.sections:
        assert 0 <= sec.start <= sec.header_end <= sec.end <= n
    assert [s.start for s in doc.sections] == sorted(s.start for s in doc.sections)
    exp = doc.expanded
    for e in exp.expansions:
        assert text[e.start : e.end] == e.abbreviation
        assert exp.text[e.expanded_start : e.expanded_end] == e.expansion
    for m in find_mentions(doc):
        assert 0 <= m.start < m.end <= n
        assert text[m.start : m.end] == m.text
        sentence = doc.sentences[m.sentence]
        assert sentence.start <= m.start and m.end <= sentence.end
        for cue in m.context.cues:
            assert 0 <= cue.start <= cue.end <= n
    ts = exp.tokens
    assert len(ts.sentences) == len(doc.sentences)
    for k in range(len(ts.low)):
        assert 0 <= ts.ostart[k] < ts.oend[k] <= n
        assert 0 <= ts.estart[k] < ts.eend[k] <= len(exp.text)


@settings(max_examples=200, deadline=None)
@given(texts, st.integers(min_value=0, max_value=400), st.integers(min_value=0, max_value=400))
def test_offset_map_is_monotonic_and_in_bounds(text: str, a: int, b: int) -> None:
    exp = build_document(text).expanded
    a, b = sorted((min(a, len(exp.text)), min(b, len(exp.text))))
    start, end = exp.to_original(a, b)
    assert 0 <= start <= end <= len(text)
    a2, b2 = sorted((min(a, len(text)), min(b, len(text))))
    start, end = exp.to_expanded(a2, b2)
    assert 0 <= start <= end <= len(exp.text)
