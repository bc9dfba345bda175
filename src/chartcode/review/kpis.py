"""Quality and throughput figures for managers, computed from the stored workflow.

Definitions (all over the period ``[start, end]``, dates inclusive, UTC):

- accuracy: share of audit verdicts in the period where the auditor agreed with the coder's final codes;
  code_accuracy: code-level agreement, Σ|coder ∩ auditor| / Σ|coder ∪ auditor| over verdicts that carry
  the auditor's codes. ``None`` without verdicts.
- turnaround_hours_median: median hours from intake to completion over encounters completed in the period.
- charts_per_hour (per coder, and overall): charts completed / active hours, where a coder's active hours
  on a day run from their first to their last decision or completion that day. ``None`` when no time
  elapsed (a single action).
- acceptance / modification / rejection rates: share of the period's decisions on suggested codes
  (codes a coder added are not counted).
- edit_rate: claim-edit findings per checked claim (the latest check of each encounter in the period).

Remittances (claim payments, one per 835 CLP, posted with ``POST /api/remits``; the period is the day they
were posted, ``received_at``; reversals, CLP02 22, are left out of every figure but first-pass resolution):

- remits: claim payments in the period (reversals included); remit_lines: their service lines.
- denial_rate: claim payments denied as a whole or in part (status ``denied`` or ``partial``: a service
  line paid nothing on a positive charge with a denial adjustment) / claim payments. ``None`` without any.
- coding_denial_rate: claim payments with a coding-related denial (the claim or one of its lines denied
  for coding: invalid code, bundling/NCCI, modifier, medical necessity, units/MUE, age/sex, level or place
  of service) / claim payments.
- line_denial_rate: denied service lines / service lines.
- first_pass_resolution: claim ids (CLP01) whose only adjudication in the period was paid (CLP02 1, 2, 3,
  19, 20, 21) with no denial adjustment at claim or line level, no reversal and no replacement (CLP09 7/8)
  / claim ids with at least one adjudication in the period.
- days_to_pay_median: median days from the claim's submission (its latest claim check, else the day the
  encounter was completed) to the payment date (BPR16), over paid claim payments where both are known.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from chartcode.store.models import AuditVerdict, Claim, ClaimFinding, Decision, Encounter, Remit, User

PAID_STATUSES = frozenset({"1", "2", "3", "19", "20", "21"})


@dataclass(frozen=True)
class Period:
    start: datetime | None
    end: datetime | None  # exclusive

    @classmethod
    def of(cls, first: date | None, last: date | None) -> Period:
        return cls(
            datetime.combine(first, time(), UTC) if first else None,
            datetime.combine(last + timedelta(days=1), time(), UTC) if last and last < date.max else None,
        )

    def where(self, column: Any) -> list[Any]:
        out = []
        if self.start is not None:
            out.append(column >= self.start)
        if self.end is not None:
            out.append(column < self.end)
        return out


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def compute(db: DbSession, first: date | None = None, last: date | None = None) -> dict[str, Any]:
    period = Period.of(first, last)
    names = {u.id: u.username for u in db.scalars(select(User))}

    verdicts = list(db.scalars(select(AuditVerdict).where(*period.where(AuditVerdict.at))))
    agreed = sum(1 for v in verdicts if v.agree)
    inter = union = 0
    for v in verdicts:
        if v.corrected_codes is None:
            continue
        coder, auditor = set(v.coder_codes), set(v.corrected_codes)
        inter += len(coder & auditor)
        union += len(coder | auditor)

    coded = list(
        db.scalars(
            select(Encounter).where(Encounter.coded_at.is_not(None), *period.where(Encounter.coded_at))
        )
    )
    turnaround = [(e.coded_at - e.created_at).total_seconds() / 3600 for e in coded if e.coded_at is not None]

    decisions = list(db.scalars(select(Decision).where(*period.where(Decision.at))))
    judged = [d for d in decisions if d.action in ("accept", "modify", "reject")]
    counts = {a: sum(1 for d in judged if d.action == a) for a in ("accept", "modify", "reject")}

    # activity per coder and day: decisions and completions
    activity: dict[tuple[int, date], list[datetime]] = defaultdict(list)
    for d in decisions:
        if d.user_id is not None:
            activity[(d.user_id, d.at.date())].append(d.at)
    for e in coded:
        if e.coded_by is not None and e.coded_at is not None:
            activity[(e.coded_by, e.coded_at.date())].append(e.coded_at)
    hours: dict[int, float] = defaultdict(float)
    for (user_id, _day), stamps in activity.items():
        hours[user_id] += (max(stamps) - min(stamps)).total_seconds() / 3600
    charts: dict[int, int] = defaultdict(int)
    for e in coded:
        if e.coded_by is not None:
            charts[e.coded_by] += 1

    by_day: dict[date, dict[str, int]] = defaultdict(
        lambda: {"coded": 0, "accepted": 0, "modified": 0, "rejected": 0}
    )
    for e in coded:
        if e.coded_at is not None:
            by_day[e.coded_at.date()]["coded"] += 1
    for d in judged:
        by_day[d.at.date()][{"accept": "accepted", "modify": "modified", "reject": "rejected"}[d.action]] += 1

    coders = sorted(set(charts) | {d.user_id for d in judged if d.user_id is not None})
    by_coder = []
    for uid in coders:
        mine = [d for d in judged if d.user_id == uid]
        by_coder.append(
            {
                "user": names.get(uid, str(uid)),
                "coded": charts.get(uid, 0),
                "active_hours": round(hours.get(uid, 0.0), 4),
                "charts_per_hour": round(charts.get(uid, 0) / hours[uid], 4) if hours.get(uid) else None,
                "accepted": sum(1 for d in mine if d.action == "accept"),
                "modified": sum(1 for d in mine if d.action == "modify"),
                "rejected": sum(1 for d in mine if d.action == "reject"),
            }
        )
    total_hours = sum(hours.values())

    # each encounter's latest checked claim, counted in the database (no id list bound back as parameters)
    latest = select(func.max(Claim.id)).where(*period.where(Claim.created_at)).group_by(Claim.encounter_id)
    n_claims = db.scalar(select(func.count()).select_from(latest.subquery())) or 0
    n_findings = (
        db.scalar(
            select(func.count(ClaimFinding.id)).where(ClaimFinding.claim_id.in_(latest.scalar_subquery()))
        )
        or 0
    )
    remits = list(db.scalars(select(Remit).where(*period.where(Remit.received_at))))
    remit_figures = _remit_kpis(remits)

    return {
        "from": first.isoformat() if first else None,
        "to": last.isoformat() if last else None,
        "accuracy": _rate(agreed, len(verdicts)),
        "code_accuracy": _rate(inter, union),
        "audited": len(verdicts),
        "coded": len(coded),
        "turnaround_hours_median": round(statistics.median(turnaround), 4) if turnaround else None,
        "charts_per_hour": round(len(coded) / total_hours, 4) if total_hours else None,
        "decisions": len(judged),
        "acceptance_rate": _rate(counts["accept"], len(judged)),
        "modification_rate": _rate(counts["modify"], len(judged)),
        "rejection_rate": _rate(counts["reject"], len(judged)),
        "claims": n_claims,
        "edit_rate": round(n_findings / n_claims, 4) if n_claims else None,
        "remits": len(remits),
        **remit_figures,
        "by_day": [{"day": d.isoformat(), **v} for d, v in sorted(by_day.items())],
        "by_coder": by_coder,
    }


def _remit_kpis(remits: list[Remit]) -> dict[str, Any]:
    """Denial, coding-denial and line-denial rates, first-pass resolution and days to pay (see above)."""
    adjudicated = [r for r in remits if r.status != "reversal"]
    lines = [line for r in adjudicated for line in r.lines]
    history: dict[str, list[Remit]] = defaultdict(list)
    for r in sorted(remits, key=lambda r: (r.payment_date or date.min, r.id)):
        history[r.claim_number or f"#{r.id}"].append(r)
    counted = resolved = 0
    for items in history.values():
        firsts = [r for r in items if r.status != "reversal"]
        if not firsts:
            continue
        counted += 1
        again = len(firsts) > 1 or len(items) > len(firsts) or any(r.frequency in ("7", "8") for r in items)
        first = firsts[0]
        paid = first.claim_status is None or first.claim_status in PAID_STATUSES
        if not again and paid and not first.has_denial and first.status == "paid":
            resolved += 1
    days = [r.days_to_pay for r in adjudicated if r.days_to_pay is not None]
    denied = sum(1 for r in adjudicated if r.status in ("denied", "partial"))
    return {
        "remits": len(remits),
        "remit_lines": len(lines),
        "denial_rate": _rate(denied, len(adjudicated)),
        "coding_denial_rate": _rate(sum(1 for r in adjudicated if r.coding_denial), len(adjudicated)),
        "line_denial_rate": _rate(sum(1 for line in lines if line.denied), len(lines)),
        "first_pass_resolution": _rate(resolved, counted),
        "days_to_pay_median": float(statistics.median(days)) if days else None,
    }
