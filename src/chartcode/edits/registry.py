"""Rules as registered, versioned data plus a small function that yields findings.

Each rule has a stable id (``NCCI-PTP``, ``MCE-SEX`` …), a default severity, a title a coder
understands, and a citation (guideline section or CMS manual chapter). A rule's ``check`` is a
generator of :class:`Finding` called as ``check(rule, claim, ctx)``; it never raises for a
problem in the claim. When the data a rule needs is missing for a line's date of service, the
rule yields a finding saying it could not run (``<RULE>-NOT-RUN``, severity warning): a check
never passes silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

from chartcode.codesets.common import Release
from chartcode.codesets.kb import KnowledgeBase
from chartcode.edits.model import Claim

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: Severity
    lines: tuple[int, ...]  # 1-based claim line numbers; empty for claim-level findings
    codes: tuple[str, ...]
    message: str
    fix: str
    citation: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lines"] = list(self.lines)
        data["codes"] = list(self.codes)
        return data


@dataclass
class EditContext:
    """What a rule may read besides the claim: the knowledge base, with releases by date."""

    kb: KnowledgeBase
    setting: Literal["practitioner", "outpatient_hospital"] = "practitioner"
    cache: dict[Any, Any] = field(default_factory=dict)

    def release(self, dataset: str, day: date) -> Release | None:
        return self.kb.release_for(dataset, day)


Check = Callable[["Rule", Claim, EditContext], Iterable[Finding]]  # (the rule itself, claim, context)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    citation: str
    check: Check

    def finding(
        self,
        lines: Iterable[int],
        codes: Iterable[str],
        message: str,
        fix: str,
        severity: Severity | None = None,
        rule_id: str | None = None,
    ) -> Finding:
        return Finding(
            rule_id or self.id,
            severity or self.severity,
            tuple(lines),
            tuple(codes),
            message,
            fix,
            self.citation,
        )

    def not_run(self, lines: Iterable[int], codes: Iterable[str], why: str) -> Finding:
        return Finding(
            f"{self.id}-NOT-RUN",
            "warning",
            tuple(lines),
            tuple(codes),
            f"{self.title} could not be checked: {why}.",
            "install the release in force on the date of service (chartcode codesets install --add …) "
            "and check again",
            self.citation,
        )


REGISTRY: dict[str, Rule] = {}


def rule(rule_id: str, severity: Severity, title: str, citation: str) -> Callable[[Check], Check]:
    """Register a check function under a stable id."""

    def register(check: Check) -> Check:
        if rule_id in REGISTRY:
            raise ValueError(f"rule {rule_id} is registered twice")
        REGISTRY[rule_id] = Rule(rule_id, severity, title, citation, check)
        return check

    return register


def run_rules(claim: Claim, ctx: EditContext, rules: Iterable[Rule] | None = None) -> Iterator[Finding]:
    for r in rules if rules is not None else REGISTRY.values():
        yield from r.check(r, claim, ctx)
