"""Clinical abbreviation expansion with an offset map back to the original text.

Rules are data (``data/abbreviations.json``): each entry lists abbreviations and one expansion::

    {"abbr": ["HTN"], "expansion": "hypertension"}
    {"abbr": ["PE"], "expansion": "pulmonary embolism", "case": "exact",
     "not_before_colon": true, "unless_next": ["exam", "normal"]}

``case`` is ``"any"`` (default: any capitalisation) or ``"exact"`` (only as written: ``PE`` but not
``pe``) for abbreviations that are also words or ambiguous in lower case. ``unless_prev`` /
``unless_next`` list lower-case neighbouring tokens that veto the expansion (``98% on RA`` is room
air); ``not_before_colon`` vetoes it before a ``:`` (``PE:`` the exam header). Abbreviations are
never expanded inside section headers. Multi-token keys (``s/p``, ``N/V``, ``CKD 3a``) match when
their tokens are glued the same way as in the key.

How offsets work: :class:`ExpandedText` is the whole text with every expansion substituted.
``to_original(start, end)`` maps an expanded span back: characters copied from the original map
one to one, and a span touching an expansion maps to the whole abbreviation (so a mention
"diabetes mellitus" found inside the expansion of ``DM2`` reports the span of ``DM2``). The
matcher works on :class:`TokenStream`, whose tokens carry both their expanded and original offsets.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from chartcode.text.sections import RuleFile
from chartcode.text.sentences import TOKEN_RE, PhraseIndex, norm_word, raw_key

__all__ = [
    "AbbreviationTable",
    "ExpandedText",
    "Expansion",
    "TokenStream",
    "default_abbreviations",
    "expand",
]


@dataclass(frozen=True, slots=True)
class Expansion:
    """One expanded abbreviation: ``[start, end)`` of the original text, its place in the expanded text."""

    start: int
    end: int
    abbreviation: str
    expansion: str
    expanded_start: int
    expanded_end: int


class TokenStream:
    """The expanded token stream of a document, as parallel lists (fast to scan).

    For token ``i``: ``low[i]`` lower-case surface, ``norm[i]`` matcher form (see
    :func:`~chartcode.text.sentences.norm_word`), ``ostart/oend`` original span (an expanded token
    has the span of its whole abbreviation), ``estart/eend`` span in the expanded text.
    ``sentences[k]`` is the token range ``(first, last + 1)`` of sentence ``k``.
    """

    __slots__ = ("eend", "estart", "low", "norm", "oend", "ostart", "sentences")

    def __init__(self) -> None:
        self.low: list[str] = []
        self.norm: list[str] = []
        self.ostart: list[int] = []
        self.oend: list[int] = []
        self.estart: list[int] = []
        self.eend: list[int] = []
        self.sentences: list[tuple[int, int]] = []


@dataclass(frozen=True, slots=True)
class ExpandedText:
    """The text with abbreviations expanded, and the map between expanded and original offsets."""

    text: str
    expansions: tuple[Expansion, ...]
    tokens: TokenStream = field(repr=False, compare=False)
    _orig_keys: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _exp_keys: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_orig_keys", tuple(e.start for e in self.expansions))
        object.__setattr__(self, "_exp_keys", tuple(e.expanded_start for e in self.expansions))

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Original span of the expanded span ``[start, end)``."""
        first = self._map(start, False, False)
        return (first, first) if end <= start else (first, self._map(end - 1, False, True))

    def to_expanded(self, start: int, end: int) -> tuple[int, int]:
        """Expanded span of the original span ``[start, end)``."""
        first = self._map(start, True, False)
        return (first, first) if end <= start else (first, self._map(end - 1, True, True))

    def _map(self, pos: int, from_original: bool, is_end: bool) -> int:
        exps = self.expansions
        k = bisect_right(self._orig_keys if from_original else self._exp_keys, pos) - 1
        if k < 0:
            return pos + 1 if is_end else pos
        e = exps[k]
        src_end = e.end if from_original else e.expanded_end
        dst_start, dst_end = (e.expanded_start, e.expanded_end) if from_original else (e.start, e.end)
        if pos < src_end:  # inside the expansion: the whole counterpart
            return dst_end if is_end else dst_start
        out = dst_end + (pos - src_end)
        return out + 1 if is_end else out


class _Entry(NamedTuple):
    expansion: str
    exact: frozenset[tuple[str, ...]] | None  # allowed surfaces (token tuples) when case is exact
    glue: tuple[bool, ...]  # glue[k]: token k+1 must touch token k
    unless_prev: frozenset[str]
    unless_next: frozenset[str]
    not_before_colon: bool
    tokens: tuple[tuple[int, int, str, str], ...]  # expansion tokens: (start, end, low, norm)


def _glue(text: str) -> tuple[tuple[str, ...], tuple[bool, ...]]:
    spans = [m.span() for m in TOKEN_RE.finditer(text)]
    surfaces = tuple(text[a:b] for a, b in spans)
    return surfaces, tuple(spans[k + 1][0] == spans[k][1] for k in range(len(spans) - 1))


class AbbreviationTable:
    """Abbreviation rules loaded (and validated) from JSON; see :func:`default_abbreviations`."""

    __slots__ = ("_index", "first_tokens", "size")

    def __init__(self, source: str | Path | None = None) -> None:
        rf = RuleFile(source, "abbreviations.json", "chartcode-abbreviations")
        seen_any: dict[tuple[tuple[str, ...], tuple[bool, ...]], int] = {}
        seen_exact: dict[tuple[tuple[str, ...], tuple[bool, ...]], int] = {}
        items: list[tuple[str, list[_Entry]]] = []
        for i, raw in enumerate(rf.items("entries")):
            where = f"entries[{i}]"
            item = rf.obj(
                raw,
                where,
                required=("abbr", "expansion"),
                optional=("case", "unless_prev", "unless_next", "not_before_colon", "comment"),
            )
            expansion = rf.string(item["expansion"], f"{where}.expansion").strip()
            exact = rf.choice(item.get("case", "any"), f"{where}.case", ("any", "exact")) == "exact"
            prev = frozenset(
                w.lower()
                for w in rf.strings(item.get("unless_prev", []), f"{where}.unless_prev", allow_empty=True)
            )
            nxt = frozenset(
                w.lower()
                for w in rf.strings(item.get("unless_next", []), f"{where}.unless_next", allow_empty=True)
            )
            colon = rf.boolean(item.get("not_before_colon", False), f"{where}.not_before_colon")
            tokens = tuple(
                (m.start(), m.end(), m.group().lower(), norm_word(m.group().lower()))
                for m in TOKEN_RE.finditer(expansion)
            )
            for j, abbr in enumerate(rf.strings(item["abbr"], f"{where}.abbr")):
                key = raw_key(abbr)
                surfaces, glue = _glue(abbr)
                ident = (surfaces, glue)
                lower = (tuple(x.lower() for x in surfaces), glue)
                clash = seen_exact.get(ident) if exact else seen_any.get(lower)
                if clash is None:
                    clash = (
                        seen_any.get(lower)
                        if exact
                        else next(
                            (
                                k
                                for (s, g), k in seen_exact.items()
                                if (tuple(x.lower() for x in s), g) == lower
                            ),
                            None,
                        )
                    )
                if clash is not None:
                    rf.fail(f"{where}.abbr[{j}]", f"{abbr!r} is already defined by entries[{clash}]")
                if exact:
                    seen_exact[ident] = i
                else:
                    seen_any[lower] = i
                entry = _Entry(
                    expansion, frozenset([surfaces]) if exact else None, glue, prev, nxt, colon, tokens
                )
                items.append((key, [entry]))
        self._index: PhraseIndex[list[_Entry]] = PhraseIndex(items, merge=lambda a, b: a + b)
        self.size = len(items)
        #: lower-case tokens an abbreviation can start with (a quick pre-filter)
        self.first_tokens = frozenset(key.split(" ", 1)[0] for key, _ in items)

    def match(
        self, text: str, starts: Sequence[int], ends: Sequence[int], lows: Sequence[str], i: int, i1: int
    ) -> tuple[int, _Entry] | None:
        """The longest acceptable abbreviation starting at token ``i`` (tokens up to ``i1``)."""
        table = self._index.table
        key = lows[i]
        found: list[tuple[int, list[_Entry]]] = []
        j = i
        while True:
            if key not in table:
                break
            payload = table[key]
            j += 1
            if payload is not None:
                found.append((j, payload))
            if j >= i1:
                break
            key = key + " " + lows[j]
        for j, entries in reversed(found):
            for entry in entries:
                if entry.glue and any(
                    g and starts[i + k + 1] != ends[i + k] for k, g in enumerate(entry.glue)
                ):
                    continue
                if (
                    entry.exact is not None
                    and tuple(text[starts[k] : ends[k]] for k in range(i, j)) not in entry.exact
                ):
                    continue
                if entry.unless_prev and i > 0 and lows[i - 1] in entry.unless_prev:
                    continue
                if j < len(lows) and (
                    (entry.unless_next and lows[j] in entry.unless_next)
                    or (entry.not_before_colon and lows[j] == ":")
                ):
                    continue
                return j, entry
        return None


@lru_cache(maxsize=1)
def default_abbreviations() -> AbbreviationTable:
    """The packaged table (``data/abbreviations.json``), loaded once."""
    return AbbreviationTable()


def _tokenize(text: str) -> tuple[list[int], list[int], list[str]]:
    """Token starts, ends and lower-case surfaces of the whole text."""
    lowered = text.lower()
    if len(lowered) != len(text):  # lower-casing moved characters (e.g. "İ"): lower token by token
        spans = [m.span() for m in TOKEN_RE.finditer(text)]
        return [a for a, _ in spans], [b for _, b in spans], [text[a:b].lower() for a, b in spans]
    lows = TOKEN_RE.findall(lowered)
    starts: list[int] = []
    ends: list[int] = []
    find = lowered.find
    pos = 0
    for token in lows:  # tokens are in order with only white space between them
        pos = find(token, pos)
        starts.append(pos)
        pos += len(token)
        ends.append(pos)
    return starts, ends, lows


def expand(
    text: str, sentences: Sequence[tuple[int, int, bool]], table: AbbreviationTable | None = None
) -> ExpandedText:
    """Expand abbreviations sentence by sentence (header sentences untouched) and build the token stream."""
    table = table or default_abbreviations()
    starts, ends, lows = _tokenize(text)
    norms = [norm_word(low) for low in lows]
    for k in [k for k, low in enumerate(lows) if low == "s"]:  # possessive 's: not a word
        if k and lows[k - 1] in ("'", "’") and starts[k] == ends[k - 1]:
            norms[k] = ""
    first = table.first_tokens
    candidates = [k for k, low in enumerate(lows) if low in first]
    n_cand = len(candidates)
    bounds = [(bisect_left(starts, a), bisect_left(starts, b), is_header) for a, b, is_header in sentences]
    found: list[tuple[int, int, _Entry]] = []  # (first token, last token + 1, entry), in order
    c = 0
    for i0, i1, is_header in bounds:  # an abbreviation never spans two sentences
        while c < n_cand and candidates[c] < i0:
            c += 1
        cur = i0
        while c < n_cand and candidates[c] < i1:
            i = candidates[c]
            c += 1
            if is_header or i < cur:
                continue
            hit = table.match(text, starts, ends, lows, i, i1)
            if hit is not None:
                found.append((i, hit[0], hit[1]))
                cur = hit[0]
    ts = TokenStream()
    s_low, s_norm, s_os, s_oe, s_es, s_ee = ts.low, ts.norm, ts.ostart, ts.oend, ts.estart, ts.eend
    pieces: list[str] = []
    expansions: list[Expansion] = []
    cursor = 0  # original text copied up to here
    delta = 0  # expanded offset - original offset, after the last expansion
    shift_at: list[int] = [0]  # original token index from which shifts[k] applies
    shifts: list[int] = [0]  # expanded token index - original token index
    cur = 0
    for i, j, entry in found:
        if cur < i:  # copy the unchanged tokens [cur, i)
            s_low.extend(lows[cur:i])
            s_norm.extend(norms[cur:i])
            s_os.extend(starts[cur:i])
            s_oe.extend(ends[cur:i])
            s_es.extend([x + delta for x in starts[cur:i]] if delta else starts[cur:i])
            s_ee.extend([x + delta for x in ends[cur:i]] if delta else ends[cur:i])
        o_start, o_end = starts[i], ends[j - 1]
        pieces.append(text[cursor:o_start])
        e_start = o_start + delta
        pieces.append(entry.expansion)
        e_end = e_start + len(entry.expansion)
        expansions.append(Expansion(o_start, o_end, text[o_start:o_end], entry.expansion, e_start, e_end))
        for r_start, r_end, low, norm in entry.tokens:
            s_low.append(low)
            s_norm.append(norm)
            s_os.append(o_start)
            s_oe.append(o_end)
            s_es.append(e_start + r_start)
            s_ee.append(e_start + r_end)
        cursor = o_end
        delta = e_end - o_end
        shift_at.append(j)
        shifts.append(len(s_low) - j)
        cur = j
    n_tok = len(starts)
    if cur < n_tok:
        s_low.extend(lows[cur:])
        s_norm.extend(norms[cur:])
        s_os.extend(starts[cur:])
        s_oe.extend(ends[cur:])
        s_es.extend([x + delta for x in starts[cur:]] if delta else starts[cur:])
        s_ee.extend([x + delta for x in ends[cur:]] if delta else ends[cur:])
    for i0, i1, _is_header in bounds:
        first_shift = shifts[bisect_right(shift_at, i0) - 1]
        last_shift = shifts[bisect_right(shift_at, i1) - 1]
        ts.sentences.append((i0 + first_shift, i1 + last_shift))
    pieces.append(text[cursor:])
    return ExpandedText("".join(pieces), tuple(expansions), ts)
