"""Run the claim edits: ``check_claim(claim, kb)`` -> findings in a stable order.

:func:`context` gives an :class:`EditContext` whose cache is shared by every claim checked against
the same knowledge base and survives between calls, so a code, an MUE or an NCCI pair is looked up
once per release, not once per claim.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any, Literal

import chartcode.edits.rules as builtin
from chartcode.codesets.kb import KnowledgeBase
from chartcode.edits.model import Claim
from chartcode.edits.registry import REGISTRY, EditContext, Finding, Rule
from chartcode.errors import ChartcodeError

Setting = Literal["practitioner", "outpatient_hospital"]

_CONTEXTS: weakref.WeakKeyDictionary[KnowledgeBase, dict[str, EditContext]] = weakref.WeakKeyDictionary()
_last: tuple[KnowledgeBase | None, str, EditContext | None] = (None, "", None)


def context(kb: KnowledgeBase, setting: Setting = "practitioner") -> EditContext:
    """The edit context over ``kb`` for ``setting``; all contexts over ``kb`` share one cache.

    Contexts are kept (weakly, per knowledge base) and reused, so lookups made for one claim serve
    the next.
    """
    global _last
    last_kb, last_setting, last_ctx = _last
    if last_kb is kb and last_setting == setting and last_ctx is not None:
        return last_ctx
    contexts = _CONTEXTS.get(kb)
    if contexts is None:
        contexts = {}
        _CONTEXTS[kb] = contexts
    ctx = contexts.get(setting)
    if ctx is None:
        shared: dict[Any, Any] = next(iter(contexts.values())).cache if contexts else {}
        ctx = EditContext(kb=kb, setting=setting, cache=shared)
        contexts[setting] = ctx
    _last = (kb, setting, ctx)
    return ctx


_BUILTIN: list[Rule] = []


def select_rules(rules: Iterable[Rule | str] | None) -> list[Rule]:
    """Rules to run: the built-in ones when ``rules`` is None; ids are looked up in the registry."""
    if rules is None:
        if not _BUILTIN:
            _BUILTIN.extend(builtin.builtin_rules())
        return _BUILTIN
    out: list[Rule] = []
    for item in rules:
        if isinstance(item, Rule):
            out.append(item)
            continue
        found = REGISTRY.get(item)
        if found is None:
            raise KeyError(f"no rule {item!r}; registered: {', '.join(sorted(REGISTRY))}")
        out.append(found)
    return out


def order_key(finding: Finding) -> tuple[int, str, tuple[int, ...], tuple[str, ...], str]:
    """Claim-level findings first, then by first line, then rule id."""
    return (
        finding.lines[0] if finding.lines else 0,
        finding.rule,
        finding.lines,
        finding.codes,
        finding.message,
    )


def run(claim: Claim, ctx: EditContext, rules: Iterable[Rule]) -> list[Finding]:
    """Findings of ``rules`` on ``claim``, sorted by :func:`order_key`.

    A rule stopped by a knowledge-base problem (a missing table, a corrupt file) reports
    ``<RULE>-NOT-RUN`` with the error; any other exception is a bug and propagates.
    """
    findings: list[Finding] = []
    for r in rules:
        try:
            findings.extend(r.check(r, claim, ctx))
        except ChartcodeError as exc:
            findings.append(r.not_run((), (), exc.message.rstrip(".")))
    if len(findings) > 1:
        findings.sort(key=order_key)
    return findings


def check_claim(
    claim: Claim,
    kb: KnowledgeBase,
    *,
    setting: Setting = "practitioner",
    rules: Iterable[Rule | str] | None = None,
) -> list[Finding]:
    """Check one claim with the built-in edits (or ``rules``: Rule objects or registered ids).

    Pure apart from the shared lookup cache: the same claim and knowledge base give the same
    findings in the same order (by line, then rule id; claim-level findings first).
    """
    return run(claim, context(kb, setting), select_rules(rules))


__all__ = ["Setting", "check_claim", "context", "order_key", "run", "select_rules"]
