"""Sentence splitting for clinical text, tokens and a phrase index (the low-level text primitives).

Sentences are spans ``[start, end)`` of the text, in order, never overlapping, trimmed of
surrounding whitespace; together they hold every non-whitespace character of the text. Pure
scanning, no model:

* a blank line always ends a sentence; a line break ends one unless the next line looks like the
  continuation of a hard-wrapped sentence (it starts lower-case, is not a list item, and the
  previous line is long, ends with a comma or with a word like "of"/"with" and has no end mark);
* ``.``/``!``/``?`` followed by white space and a character that is not lower-case end a sentence,
  except after a title or abbreviation (``Dr.``, ``vs.``, ``e.g.``, ``b.i.d.``), after a single
  letter (``E. coli``), after a list number at the start of a line (``1. HTN``), and a ``?`` that
  stands alone (``? pneumonia``). Decimals (``7.5 mg``, ``E11.22``) never split: no white space;
* section headers (``Dx:``, ``ASSESSMENT AND PLAN:``) are sentences of their own;
* a line starting ``1.`` that continues ``2. ... 3. ...`` is split before each number.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "BREAK",
    "PhraseIndex",
    "Sentence",
    "norm_word",
    "phrase_key",
    "split_sentences",
    "token_spans",
]

T = TypeVar("T")

#: Tokens: runs of letters/digits, or any single other non-space character.
TOKEN_RE = re.compile(r"[^\W_]+|\S")
#: ``norm`` of a punctuation token that phrases never cross.
BREAK = "|"
_BREAKERS = frozenset(',;:()[]{}|<>"=+')


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence ``[start, end)`` of ``Document.text``; ``section`` is its section's name."""

    index: int
    start: int
    end: int
    section: str | None = None
    is_header: bool = False


def token_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Token spans of ``text[start:end]`` (absolute offsets)."""
    return [m.span() for m in TOKEN_RE.finditer(text, start, len(text) if end is None else end)]


_STEM_CACHE: dict[str, str] = {}


def norm_word(low: str) -> str:
    """Matching form of a lower-case token: light plural stemming for words, ``BREAK`` for phrase
    breakers (``, ; : ( )``), ``""`` for other punctuation (skipped when matching)."""
    cached = _STEM_CACHE.get(low)
    if cached is not None:
        return cached
    if not low[0].isalnum():
        out = BREAK if low in _BREAKERS else ""
    elif len(low) > 3 and low.isalpha():
        if low.endswith("ies") and len(low) > 4:
            out = low[:-3] + "y"
        elif low.endswith("s") and not low.endswith(("ss", "us", "is")):
            out = low[:-1]
        else:
            out = low
    else:
        out = low
    if len(_STEM_CACHE) < 200_000:
        _STEM_CACHE[low] = out
    return out


def phrase_key(phrase: str) -> str:
    """Normalised key of a phrase as :meth:`PhraseIndex.scan` sees it: words only, stemmed,
    possessive ``'s`` dropped, joined by one space. ``"Crohn's diseases"`` -> ``"crohn disease"``."""
    words: list[str] = []
    prev_end = -1
    prev = ""
    for m in TOKEN_RE.finditer(phrase):
        low = m.group().lower()
        if low == "s" and prev in ("'", "’") and m.start() == prev_end:
            prev, prev_end = low, m.end()
            continue
        prev, prev_end = low, m.end()
        norm = norm_word(low)
        if norm and norm != BREAK:
            words.append(norm)
    return " ".join(words)


def raw_key(phrase: str) -> str:
    """Key of a phrase for :meth:`PhraseIndex.scan_raw`: every token lower-cased, joined by one space."""
    return " ".join(m.group().lower() for m in TOKEN_RE.finditer(phrase))


class PhraseIndex(Generic[T]):
    """Longest-match phrase lookup over token lists, stored as a flat dict of keys and key prefixes.

    ``scan`` walks matcher norms (skips punctuation, stops at ``BREAK``); ``scan_raw`` walks the
    lower-cased tokens exactly (punctuation included: ``h / o``, ``?``). Keys are space-joined.
    """

    __slots__ = ("size", "table")

    def __init__(self, items: Iterable[tuple[str, T]], merge: Callable[[T, T], T] | None = None) -> None:
        table: dict[str, T | None] = {}
        size = 0
        for key, payload in items:
            if not key:
                continue
            old = table.get(key)
            if old is None:
                table[key] = payload
                size += 1
            elif merge is not None:
                table[key] = merge(old, payload)
            parts = key.split(" ")
            for n in range(1, len(parts)):
                table.setdefault(" ".join(parts[:n]), None)
        #: key -> payload; ``None`` marks a key that is only a prefix of longer keys.
        self.table = table
        self.size = size

    def get(self, key: str) -> T | None:
        return self.table.get(key)

    def __contains__(self, key: str) -> bool:
        return self.table.get(key) is not None

    def scan(self, norms: Sequence[str], i0: int, i1: int) -> list[tuple[int, int, T]]:
        """Non-overlapping longest matches ``(first, last + 1, payload)`` over ``norms[i0:i1]``."""
        return self._longest(norms, i0, i1, "", BREAK)

    def scan_raw(self, lows: Sequence[str], i0: int, i1: int) -> list[tuple[int, int, T]]:
        """Like :meth:`scan` over exact lower-case tokens, punctuation included."""
        return self._longest(lows, i0, i1, None, None)

    def _longest(
        self, toks: Sequence[str], i0: int, i1: int, skip: str | None, stop: str | None
    ) -> list[tuple[int, int, T]]:
        """Longest matches over ``toks[i0:i1]``: tokens equal to ``skip`` are passed over (never
        start a match), a token equal to ``stop`` ends any match (``None``: no such token)."""
        table = self.table
        out: list[tuple[int, int, T]] = []
        i = i0
        while i < i1:
            key = toks[i]
            if key not in table or key in (skip, stop):
                i += 1
                continue
            payload = table[key]
            best = (i + 1, payload) if payload is not None else None
            j = i + 1
            while j < i1:
                nxt = toks[j]
                if nxt == skip:
                    j += 1
                    continue
                if nxt == stop:
                    break
                key = key + " " + nxt
                if key not in table:
                    break
                j += 1
                payload = table[key]
                if payload is not None:
                    best = (j, payload)
            if best is None:
                i += 1
                continue
            out.append((i, best[0], best[1]))
            i = best[0]
        return out


# --- sentence splitting ---------------------------------------------------------------------------

_END_RE = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*•·–>]|\d{1,2}[.)]|[a-zA-Z][)]|o(?=[ \t]))[ \t]+")
_NUMBERED = re.compile(r"[ \t]*1[.)][ \t]")
_INLINE_NUMBER = re.compile(r"(?<=\s)(\d{1,2})[.)](?=[ \t]+\S)")
_DOTTED_ABBREV = re.compile(r"(?:[A-Za-z]{1,3}\.)+[A-Za-z]{1,3}")
#: Words that take a period without ending a sentence (lower-case, without the period).
NO_SPLIT_ABBREVIATIONS = frozenset(
    [
        "dr",
        "mr",
        "mrs",
        "ms",
        "mx",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "vs",
        "v",
        "approx",
        "appt",
        "dept",
        "fig",
        "figs",
        "cf",
        "al",
        "nos",
        "inc",
        "ltd",
        "co",
        "ext",
        "tel",
        "esp",
        "ref",
    ]
)
_CONNECTIVES = frozenset(
    [
        "of",
        "with",
        "and",
        "or",
        "the",
        "a",
        "an",
        "to",
        "for",
        "in",
        "on",
        "at",
        "by",
        "without",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "has",
        "have",
        "had",
        "but",
        "due",
        "secondary",
        "which",
        "that",
        "who",
        "than",
    ]
)


def _continues(prev: str, cur: str) -> bool:
    """Is line ``cur`` the continuation of the hard-wrapped sentence on line ``prev`` (both stripped)?"""
    if prev[-1] in ".!?:;" or not cur[0].islower() or _LIST_ITEM.match(cur):
        return False
    if len(prev) >= 40 or prev[-1] == ",":
        return True
    last = prev.rsplit(None, 1)[-1].lower()
    return last in _CONNECTIVES


def split_sentences(text: str, headers: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int, bool]]:
    """Sentence spans ``(start, end, is_header)`` of ``text``; ``headers`` are section header spans."""
    n = len(text)
    cuts: set[int] = set()
    header_starts: set[int] = set()
    for a, b in headers:
        cuts.add(a)
        cuts.add(b)
        header_starts.add(a)
    prev_line = ""
    blank_before = False
    pos = 0
    while pos < n:
        nl = text.find("\n", pos)
        if nl < 0:
            nl = n
        line = text[pos:nl]
        stripped = line.strip()
        if not stripped:
            blank_before = True
            pos = nl + 1
            continue
        lead = len(line) - len(line.lstrip())
        line_start = pos + lead
        line_end = line_start + len(stripped)
        if prev_line and (blank_before or not _continues(prev_line, stripped)):
            cuts.add(line_start)
        blank_before = False
        prev_line = stripped
        marker_periods: set[int] = set()
        if _NUMBERED.match(line):
            expected = 2
            for m in _INLINE_NUMBER.finditer(text, line_start, line_end):
                if int(m.group(1)) == expected:
                    cuts.add(m.start())
                    marker_periods.add(m.end() - 1)
                    expected += 1
        item = _LIST_ITEM.match(text, line_start, line_end)
        if item is not None and item.group().strip()[:-1].isdigit():  # "1. HTN": the list number's period
            marker_periods.add(line_start + len(item.group().rstrip()) - 1)
        for m in _END_RE.finditer(text, line_start, line_end):
            p, q = m.span()
            if q >= line_end or p == line_start or text[p - 1].isspace() or p in marker_periods:
                continue
            k = q
            while k < line_end and text[k].isspace():
                k += 1
            if k >= line_end or text[k].islower():
                continue
            if text[p] == ".":
                ws = max(text.rfind(" ", line_start, p), text.rfind("\t", line_start, p), line_start - 1) + 1
                word = text[ws:p].lstrip("([\"'")
                low = word.lower()
                if (
                    low in NO_SPLIT_ABBREVIATIONS
                    or (len(word) == 1 and word.isalpha())
                    or _DOTTED_ABBREV.fullmatch(word)
                ):
                    continue
            cuts.add(q)
        pos = nl + 1
    for a, b in headers:  # a header is one sentence: drop cuts inside it
        for c in [c for c in cuts if a < c < b]:
            cuts.discard(c)
    bounds = sorted(c for c in cuts if 0 < c < n)
    out: list[tuple[int, int, bool]] = []
    prev = 0
    for c in [*bounds, n]:
        a, b = prev, c
        prev = c
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            out.append((a, b, a in header_starts))
    return out
