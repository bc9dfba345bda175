"""Denial analytics: which adjustments were denials, which were coding's to fix, and the summary KPIs.

Every adjustment (CAS) is classified from its group code, CARC and the remark codes (RARC, LQ*HE on the
line or MOA/MIA on the claim) into a category from ``claims/data/carc.json`` (chartcode's own short
descriptions, not the X12 code-list text): coding-related (invalid code, bundling/NCCI, modifier, medical
necessity/diagnosis, units/MUE, age/sex, level of service, place of service) or not (eligibility, timely
filing, authorization, duplicate, coordination of benefits, missing information, provider enrolment,
non-covered, benefit limit), and not a denial at all (contractual adjustments such as CO-45, patient
responsibility PR-1/2/3). Each carries the rework action and a citation to the code list by code number.

Definitions used by the summary (reversals, CLP02 22, are left out of every rate):

* a service line is **denied** when it paid nothing on a positive charge and at least one of its
  adjustments is a denial; a claim is denied when its status is 4 (denied) or it paid nothing on a
  positive charge with a denial adjustment. A denial is a **coding denial** when one of its denial
  adjustments is coding-related.
* **denial rate** = denied ÷ adjudicated, for claims (CLP) and for service lines (SVC). A claim denied as a
  whole without service lines counts for the claim rate only.
* **denied dollars** = the amounts of denial adjustments (claim and line level), by category.
* **first-pass resolution** = claim ids whose only adjudication paid with no denial adjustment and no
  reversal, replacement (CLP09 7/8) or second payer control number ÷ claim ids adjudicated.
* **days to pay** = payment date (BPR16) − submission date of the matched claim (``submitted`` or the 837
  BHT04 date), for paid, non-reversal claim payments.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from chartcode.claims.match import ClaimMatch, LineMatch, MatchResult, SubmittedClaim, match
from chartcode.claims.remit import Adjustment, ClaimPayment, RemitFinding, Remittance, ServicePayment
from chartcode.edits.model import Claim
from chartcode.errors import ChartcodeError

ZERO = Decimal(0)
PAID_STATUSES = frozenset({"1", "2", "3", "19", "20", "21"})
PATIENT_SHARE = frozenset({"1", "2", "3", "66"})


class CarcDataError(ChartcodeError):
    """The packaged CARC/RARC table is malformed (a broken installation)."""

    code = "CC525"


@dataclass(frozen=True, slots=True)
class Category:
    id: str
    label: str
    coding: bool
    denial: bool
    action: str


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str
    label: str
    category: str
    action: str | None = None
    refine_by_remark: bool = False


@dataclass(frozen=True, slots=True)
class CodeTables:
    categories: dict[str, Category]
    carc: dict[str, CodeInfo]
    rarc: dict[str, CodeInfo]


@lru_cache(maxsize=1)
def code_tables() -> CodeTables:
    """The packaged CARC/RARC table, validated when loaded."""
    text = resources.files("chartcode.claims").joinpath("data/carc.json").read_text(encoding="utf-8")
    return parse_tables(json.loads(text), "chartcode/claims/data/carc.json")


def parse_tables(data: Any, name: str) -> CodeTables:
    fix = "reinstall chartcode; if you edited the table, give every code a label and a known category."
    try:
        categories = {
            key: Category(key, str(v["label"]), bool(v["coding"]), bool(v["denial"]), str(v["action"]))
            for key, v in data["categories"].items()
        }
        tables: dict[str, dict[str, CodeInfo]] = {}
        for kind in ("carc", "rarc"):
            tables[kind] = {}
            for code, v in data[kind].items():
                category = str(v["category"])
                if category not in categories and not (kind == "rarc" and category == "informational"):
                    raise CarcDataError(f"{name}: {kind} {code} has the unknown category {category!r}.", fix)
                tables[kind][code] = CodeInfo(
                    code, str(v["label"]), category, v.get("action"), bool(v.get("refine_by_remark", False))
                )
    except (KeyError, TypeError, AttributeError) as exc:
        raise CarcDataError(f"{name}: missing or malformed entry ({exc}).", fix) from None
    if "unclassified" not in categories:
        raise CarcDataError(f"{name}: the category 'unclassified' is required.", fix)
    return CodeTables(categories, tables["carc"], tables["rarc"])


# --- classifying adjustments -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classification:
    category: str
    label: str  # the category in words
    reason: str  # what the CARC (or the deciding RARC) means, in chartcode's words
    coding: bool
    denial: bool
    action: str
    citation: str
    remark: str | None = None  # the RARC that decided the category

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "category_label": self.label,
            "reason": self.reason,
            "coding_related": self.coding,
            "denial": self.denial,
            "action": self.action,
            "citation": self.citation,
            "remark": self.remark,
        }


def classify(adjustment: Adjustment, remarks: Iterable[str] = ()) -> Classification:
    """The category, coding relevance, rework action and citation of one adjustment.

    ``remarks`` are the RARCs of its line (or claim); they refine a general CARC such as 16 (claim lacks
    information) or A1 (denied) into the specific problem (e.g. CO-16 with M51 is an invalid procedure code).
    """
    tables = code_tables()
    reason = adjustment.reason.upper()
    info = tables.carc.get(reason)
    citation = f"X12 Claim Adjustment Reason Code (CARC) {reason}"
    if adjustment.group == "PR" and reason in PATIENT_SHARE:
        category_id = "patient_responsibility"
    elif info is None:
        category_id = "unclassified"
    else:
        category_id = info.category
    text = info.label if info else f"reason code {reason} (not in chartcode's table)"
    action = info.action if info and info.action else None
    remark_used: str | None = None
    if info is None or info.refine_by_remark:
        for code in remarks:
            rarc = tables.rarc.get(code.upper())
            if rarc is not None and rarc.category in tables.categories:
                category_id, remark_used = rarc.category, rarc.code
                text = f"{text}; remark {rarc.code}: {rarc.label}"
                action = rarc.action
                break
    if remark_used is not None:
        citation += f"; X12 Remittance Advice Remark Code (RARC) {remark_used}"
    else:  # no remark decided the category: the first known one still explains the adjustment
        rarc = next((r for r in (tables.rarc.get(c.upper()) for c in remarks) if r is not None), None)
        if rarc is not None:
            text = f"{text}; remark {rarc.code}: {rarc.label}"
            if rarc.category == category_id and rarc.action:
                action = rarc.action
            citation += f"; X12 Remittance Advice Remark Code (RARC) {rarc.code}"
    category = tables.categories[category_id]
    return Classification(
        category.id,
        category.label,
        text,
        category.coding,
        category.denial,
        action or category.action,
        citation,
        remark_used,
    )


# --- the analysis -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdjustmentResult:
    adjustment: Adjustment
    classification: Classification

    def to_dict(self) -> dict[str, Any]:
        return {**self.adjustment.to_dict(), **self.classification.to_dict()}


@dataclass(frozen=True, slots=True)
class LineResult:
    service: ServicePayment
    match: LineMatch | None
    adjustments: tuple[AdjustmentResult, ...]
    denied: bool
    coding_denial: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.service.to_dict(),
            "adjustments": [a.to_dict() for a in self.adjustments],
            "line_number": self.match.line_number if self.match else None,
            "match": self.match.how if self.match else None,
            "match_notes": list(self.match.notes) if self.match else [],
            "denied": self.denied,
            "coding_denial": self.coding_denial,
        }


@dataclass(frozen=True, slots=True)
class ClaimResult:
    payment: ClaimPayment
    remittance: Remittance
    match: ClaimMatch | None
    adjustments: tuple[AdjustmentResult, ...]  # claim level
    lines: tuple[LineResult, ...]
    denied: bool
    coding_denial: bool
    days_to_pay: int | None

    def denial_adjustments(self) -> list[AdjustmentResult]:
        return _denials(self.adjustments, self.lines)

    def to_dict(self) -> dict[str, Any]:
        p = self.payment
        return {
            "claim_id": p.claim_id,
            "segment": p.position,
            "source": self.remittance.source,
            "trace_number": self.remittance.trace_number,
            "payment_date": self.remittance.payment_date.isoformat()
            if self.remittance.payment_date
            else None,
            "status": p.status,
            "status_label": p.status_label,
            "charge": float(p.charge),
            "paid": float(p.paid),
            "patient_responsibility": float(p.patient_responsibility),
            "payer_control_number": p.payer_control_number,
            "frequency": p.frequency,
            "remarks": list(p.remarks),
            "matched": self.match is not None and self.match.claim is not None,
            "match_notes": list(self.match.notes) if self.match else [],
            "unreported_lines": list(self.match.unreported_lines) if self.match else [],
            "adjustments": [a.to_dict() for a in self.adjustments],
            "lines": [line.to_dict() for line in self.lines],
            "denied": self.denied,
            "coding_denial": self.coding_denial,
            "days_to_pay": self.days_to_pay,
        }


@dataclass(frozen=True, slots=True)
class Summary:
    claims_adjudicated: int
    claims_denied: int
    claims_coding_denied: int
    lines_adjudicated: int
    lines_denied: int
    lines_coding_denied: int
    reversals: int
    charged: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    provider_adjustments: Decimal
    denied_dollars: Decimal
    coding_denied_dollars: Decimal
    denied_by_category: tuple[tuple[str, Decimal, int], ...]  # category, dollars, adjustments
    claim_ids: int
    first_pass_resolved: int
    resubmitted: int
    days_to_pay: tuple[int, ...]
    top_carcs: tuple[tuple[str, int, Decimal], ...]  # group-CARC, count, dollars
    unmatched_payments: int
    unmatched_claims: int
    unmatched_lines: int

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def claim_denial_rate(self) -> float | None:
        return self._rate(self.claims_denied, self.claims_adjudicated)

    @property
    def claim_coding_denial_rate(self) -> float | None:
        return self._rate(self.claims_coding_denied, self.claims_adjudicated)

    @property
    def line_denial_rate(self) -> float | None:
        return self._rate(self.lines_denied, self.lines_adjudicated)

    @property
    def line_coding_denial_rate(self) -> float | None:
        return self._rate(self.lines_coding_denied, self.lines_adjudicated)

    @property
    def first_pass_resolution_rate(self) -> float | None:
        return self._rate(self.first_pass_resolved, self.claim_ids)

    @property
    def days_to_pay_mean(self) -> float | None:
        return round(statistics.fmean(self.days_to_pay), 1) if self.days_to_pay else None

    @property
    def days_to_pay_median(self) -> float | None:
        return float(statistics.median(self.days_to_pay)) if self.days_to_pay else None

    def to_dict(self) -> dict[str, Any]:
        tables = code_tables()
        return {
            "claims_adjudicated": self.claims_adjudicated,
            "claims_denied": self.claims_denied,
            "claims_coding_denied": self.claims_coding_denied,
            "claim_denial_rate": self.claim_denial_rate,
            "claim_coding_denial_rate": self.claim_coding_denial_rate,
            "lines_adjudicated": self.lines_adjudicated,
            "lines_denied": self.lines_denied,
            "lines_coding_denied": self.lines_coding_denied,
            "line_denial_rate": self.line_denial_rate,
            "line_coding_denial_rate": self.line_coding_denial_rate,
            "reversals": self.reversals,
            "charged": float(self.charged),
            "paid": float(self.paid),
            "patient_responsibility": float(self.patient_responsibility),
            "provider_adjustments": float(self.provider_adjustments),
            "denied_dollars": float(self.denied_dollars),
            "coding_denied_dollars": float(self.coding_denied_dollars),
            "denied_by_category": [
                {
                    "category": c,
                    "label": tables.categories[c].label,
                    "coding_related": tables.categories[c].coding,
                    "dollars": float(d),
                    "adjustments": n,
                }
                for c, d, n in self.denied_by_category
            ],
            "claim_ids": self.claim_ids,
            "first_pass_resolved": self.first_pass_resolved,
            "first_pass_resolution_rate": self.first_pass_resolution_rate,
            "resubmitted": self.resubmitted,
            "days_to_pay": {
                "claims": len(self.days_to_pay),
                "mean": self.days_to_pay_mean,
                "median": self.days_to_pay_median,
                "min": min(self.days_to_pay) if self.days_to_pay else None,
                "max": max(self.days_to_pay) if self.days_to_pay else None,
            },
            "top_carcs": [
                {"code": k, "reason": _carc_label(k), "count": n, "dollars": float(d)}
                for k, n, d in self.top_carcs
            ],
            "unmatched_payments": self.unmatched_payments,
            "unmatched_claims": self.unmatched_claims,
            "unmatched_lines": self.unmatched_lines,
        }


def _denials(claim_level: Iterable[AdjustmentResult], lines: Iterable[LineResult]) -> list[AdjustmentResult]:
    """The denial adjustments of a claim: claim level first, then each line's."""
    out = [a for a in claim_level if a.classification.denial]
    for line in lines:
        out.extend(a for a in line.adjustments if a.classification.denial)
    return out


def _carc_label(key: str) -> str:
    info = code_tables().carc.get(key.split("-", 1)[-1])
    return info.label if info else "(not in chartcode's table)"


@dataclass(frozen=True, slots=True)
class Analysis:
    claims: tuple[ClaimResult, ...]
    remittances: tuple[Remittance, ...]
    matching: MatchResult
    summary: Summary
    with_claims: bool

    @property
    def findings(self) -> list[RemitFinding]:
        return [f for r in self.remittances for f in r.findings]

    def to_dict(self) -> dict[str, Any]:
        return {
            "remittances": [
                {
                    "source": r.source,
                    "segment": r.position,
                    "control_number": r.control_number,
                    "payer": r.payer.to_dict(),
                    "payee": r.payee.to_dict(),
                    "handling": r.handling,
                    "payment_amount": float(r.payment_amount),
                    "payment_method": r.payment_method,
                    "payment_date": r.payment_date.isoformat() if r.payment_date else None,
                    "trace_number": r.trace_number,
                    "production_date": r.production_date.isoformat() if r.production_date else None,
                    "provider_adjustments": [p.to_dict() for p in r.provider_adjustments],
                    "findings": [f.to_dict() for f in r.findings],
                }
                for r in self.remittances
            ],
            "claims": [c.to_dict() for c in self.claims],
            "unmatched_claims": [c.id for c in self.matching.unmatched_claims] if self.with_claims else None,
            "summary": self.summary.to_dict(),
        }


def analyse(
    remits: Sequence[Remittance] | Remittance,
    claims: Iterable[SubmittedClaim | Claim] | None = None,
) -> Analysis:
    """Classify every adjustment of ``remits``, match them to ``claims`` (optional) and summarise."""
    remittances = (remits,) if isinstance(remits, Remittance) else tuple(remits)
    sent = None if claims is None else list(claims)
    matching = match(remittances, sent)
    results = tuple(_claim_result(m) for m in matching.claims)
    summary = _summary(results, remittances, matching)
    return Analysis(results, remittances, matching, summary, sent is not None)


def _claim_result(m: ClaimMatch) -> ClaimResult:
    payment = m.payment
    by_service = {line.service.position: line for line in m.lines}
    claim_adjustments = tuple(AdjustmentResult(a, classify(a, payment.remarks)) for a in payment.adjustments)
    lines = []
    claim_denied_status = payment.status == "4"
    for s in payment.services:
        remarks = (*s.remarks, *payment.remarks)
        adjusted = tuple(AdjustmentResult(a, classify(a, remarks)) for a in s.adjustments)
        denials = [a for a in adjusted if a.classification.denial]
        denied = (
            not payment.is_reversal
            and s.paid == 0
            and s.charge > 0
            and (bool(denials) or claim_denied_status)
        )
        coding = denied and any(a.classification.coding for a in denials)
        lines.append(LineResult(s, by_service.get(s.position), adjusted, denied, coding))
    all_denials = _denials(claim_adjustments, lines)
    denied = not payment.is_reversal and (
        claim_denied_status or (payment.paid == 0 and payment.charge > 0 and bool(all_denials))
    )
    coding = denied and any(a.classification.coding for a in all_denials)
    days = None
    submitted = m.claim.submitted if m.claim is not None else None
    when = m.remittance.payment_date
    if not payment.is_reversal and payment.paid > 0 and submitted is not None and when is not None:
        days = (when - submitted).days
    return ClaimResult(payment, m.remittance, m, claim_adjustments, tuple(lines), denied, coding, days)


def _summary(
    results: tuple[ClaimResult, ...], remits: tuple[Remittance, ...], matching: MatchResult
) -> Summary:
    adjudicated = [r for r in results if not r.payment.is_reversal]
    lines = [line for r in adjudicated for line in r.lines]
    by_category: dict[str, list[Decimal]] = defaultdict(list)
    carcs: Counter[str] = Counter()
    carc_dollars: dict[str, Decimal] = defaultdict(lambda: ZERO)
    coding_dollars = ZERO
    for r in adjudicated:
        for a in r.denial_adjustments():
            by_category[a.classification.category].append(a.adjustment.amount)
            carcs[a.adjustment.key] += 1
            carc_dollars[a.adjustment.key] += a.adjustment.amount
            if a.classification.coding:
                coding_dollars += a.adjustment.amount
    denied_by_category = tuple(
        sorted(
            ((c, sum(v, ZERO), len(v)) for c, v in by_category.items()),
            key=lambda t: (-t[1], t[0]),
        )
    )
    top = tuple(
        sorted(((k, n, carc_dollars[k]) for k, n in carcs.items()), key=lambda t: (-t[2], -t[1], t[0]))[:10]
    )
    # first pass: per claim id, in payment-date order (file order on the same date)
    history: dict[str, list[ClaimResult]] = defaultdict(list)
    ordered = sorted(enumerate(results), key=lambda t: (t[1].remittance.payment_date or date.min, t[0]))
    for _, r in ordered:
        history[r.payment.claim_id].append(r)
    resolved = resubmitted = 0
    counted = 0
    for items in history.values():
        firsts = [r for r in items if not r.payment.is_reversal]
        if not firsts:
            continue
        counted += 1
        control_numbers = {r.payment.payer_control_number for r in items if r.payment.payer_control_number}
        again = (
            len(firsts) > 1
            or any(r.payment.is_reversal for r in items)
            or any(r.payment.frequency in ("7", "8") for r in items)
            or len(control_numbers) > 1
        )
        resubmitted += again
        first = firsts[0]
        if not again and first.payment.status in PAID_STATUSES and not first.denial_adjustments():
            resolved += 1
    unmatched_lines = sum(
        1
        for r in adjudicated
        if r.match is not None and r.match.claim is not None
        for line in r.lines
        if line.match is None or line.match.line_number is None
    ) + sum(len(r.match.unreported_lines) for r in adjudicated if r.match is not None)
    return Summary(
        claims_adjudicated=len(adjudicated),
        claims_denied=sum(r.denied for r in adjudicated),
        claims_coding_denied=sum(r.coding_denial for r in adjudicated),
        lines_adjudicated=len(lines),
        lines_denied=sum(line.denied for line in lines),
        lines_coding_denied=sum(line.coding_denial for line in lines),
        reversals=sum(r.payment.is_reversal for r in results),
        charged=sum((r.payment.charge for r in adjudicated), ZERO),
        paid=sum((r.payment.paid for r in results), ZERO),
        patient_responsibility=sum((r.payment.patient_responsibility for r in adjudicated), ZERO),
        provider_adjustments=sum((p.amount for rem in remits for p in rem.provider_adjustments), ZERO),
        denied_dollars=sum((d for _, d, _ in denied_by_category), ZERO),
        coding_denied_dollars=coding_dollars,
        denied_by_category=denied_by_category,
        claim_ids=counted,
        first_pass_resolved=resolved,
        resubmitted=resubmitted,
        days_to_pay=tuple(r.days_to_pay for r in results if r.days_to_pay is not None),
        top_carcs=top,
        unmatched_payments=sum(1 for m in matching.claims if m.claim is None),
        unmatched_claims=len(matching.unmatched_claims),
        unmatched_lines=unmatched_lines,
    )


__all__ = [
    "AdjustmentResult",
    "Analysis",
    "CarcDataError",
    "ClaimResult",
    "Classification",
    "LineResult",
    "Summary",
    "analyse",
    "classify",
    "code_tables",
]
