"""Remittances into the workflow: post an 835, match it to the encounters' claims, store what was paid and
denied, and list denials for rework.

An 835 is parsed and validated with :func:`chartcode.claims.remit.parse_835` (the text form of ``read_835``),
each claim payment (CLP) is matched to an encounter by its claim id — CLP01 is the CLM01 that was sent, and
an encounter's exported claim (``GET /api/encounters/{id}/claim``, :func:`workflow.build_claim`) has the id
``ENC-<encounter id>`` — and each service payment (SVC) to a line of that claim
(:func:`chartcode.claims.match.match`). Every adjustment is classified
(:func:`chartcode.claims.denials.classify`: category, coding-related, rework action, CARC/RARC citation)
and stored with its claim and line rows.

The whole file is one transaction: a malformed file stores nothing, and an 835 transaction already posted
(same payer and TRN02 trace number) is skipped, so posting the same file twice changes nothing.
Stored and audited: ids, codes, amounts, dates and reason codes. Never the patient (NM1*QC).

Submission date (for days to pay): the encounter's latest claim check (``POST …/check``) on or before the
payment date, else the day the encounter was completed; none when neither is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from chartcode.claims.denials import AdjustmentResult, ClaimResult, analyse, code_tables
from chartcode.claims.match import SubmittedClaim
from chartcode.claims.remit import Remit835Error, RemitFileError, Remittance, parse_835
from chartcode.errors import ChartcodeError, InputError
from chartcode.review.audit import record
from chartcode.review.workflow import build_claim
from chartcode.store.errors import ConflictError
from chartcode.store.models import Claim, Encounter, Remit, RemitLine, User, utcnow
from chartcode.store.models import Remittance as RemittanceRow

ENCOUNTER_CLAIM = re.compile(r"^ENC-(\d{1,10})$")
MAX_BYTES = 10 * 1024 * 1024
UPLOAD_NAME = "the uploaded 835"
_SEGMENT = re.compile(r"segment (\d+)")


class Remit835UploadError(InputError):
    """The uploaded 835 is not a valid 5010 835 (HTTP 422; ``segment`` names where, when known)."""

    code = "CC612"

    def __init__(self, message: str, fix: str | None = None, segment: int | None = None) -> None:
        super().__init__(message, fix)
        self.segment = segment
        self.loc: list[str | int] = (
            ["body", "file"] if segment is None else ["body", "file", "segment", segment]
        )
        self.details: dict[str, Any] = {"segment": segment}


class RemitBodyError(InputError):
    """The request carries no usable 835 (no file part, empty, too large, not text) (HTTP 422)."""

    code = "CC613"

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message, fix)
        self.loc: list[str | int] = ["body", "file"]


# --- parsing ------------------------------------------------------------------------------------


def parse_upload(raw: bytes) -> list[Remittance]:
    """The 835 transactions of an uploaded file, or :class:`Remit835UploadError` / :class:`RemitBodyError`."""
    if len(raw) > MAX_BYTES:
        raise RemitBodyError(
            f"the uploaded 835 is {len(raw)} bytes; the limit is {MAX_BYTES} bytes.",
            "split the remittance file (one payer's payment per file) and post each part.",
        )
    if not raw.strip():
        raise RemitBodyError(
            "the uploaded 835 is empty.",
            "send the X12 835 file (ISA … IEA) as the 'file' part of a multipart form, or as the request "
            "body with Content-Type application/edi-x12.",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RemitBodyError(
            f"the uploaded 835: byte {exc.start + 1} is not UTF-8 text.",
            "X12 files are ASCII text; send the file exactly as the payer sent it.",
        ) from None
    if "\x00" in text:
        raise RemitBodyError("the uploaded 835 contains NUL bytes.", "send the X12 835 text file itself.")
    if not text.lstrip().startswith("ISA"):  # checked here so that no part of the body is quoted back
        raise Remit835UploadError(
            f"{UPLOAD_NAME}: segment 1 must be the ISA interchange header; the file does not begin with ISA.",
            "send the X12 835 file exactly as the payer sent it (it begins with ISA).",
            1,
        )
    try:
        return parse_835(text, UPLOAD_NAME)
    except (Remit835Error, RemitFileError) as exc:
        found = _SEGMENT.search(exc.message)
        raise Remit835UploadError(exc.message, exc.fix, int(found.group(1)) if found else None) from None


# --- posting ------------------------------------------------------------------------------------


@dataclass
class PostSummary:
    remittances: int = 0  # 835 transactions stored by this post
    already_posted: int = 0  # transactions skipped: the same payer and trace number was posted before
    trace_numbers: list[str] = field(default_factory=list)
    claims: int = 0
    claims_matched: int = 0  # CLP01 is a stored encounter's claim id
    claims_unmatched: int = 0
    unmatched_claim_ids: list[str] = field(default_factory=list)
    claims_denied: int = 0
    lines: int = 0
    lines_matched: int = 0  # matched to a line of the encounter's claim
    denied_lines: int = 0
    coding_denials: int = 0  # coding-denied lines, plus whole-claim coding denials without service lines
    paid: float = 0.0
    encounters: list[int] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def payer_key(remit: Remittance) -> str:
    """Who paid, for idempotency: TRN03 (the payer's originating company id), else N1*PR N104, else REF*2U,
    else the payer's name."""
    if remit.originator_id:
        return f"TRN03:{remit.originator_id}"[:120]
    if remit.payer.id:
        return f"{remit.payer.id_qualifier or 'N104'}:{remit.payer.id}"[:120]
    if remit.payer.additional_id:
        return f"2U:{remit.payer.additional_id}"[:120]
    return f"name:{remit.payer.name}"[:120]


def encounter_id_of(claim_id: str) -> int | None:
    found = ENCOUNTER_CLAIM.match(claim_id.strip())
    return int(found.group(1)) if found else None


def _submitted(db: DbSession, enc: Encounter, paid_on: date | None) -> date | None:
    checks = [c.date() for c in db.scalars(select(Claim.created_at).where(Claim.encounter_id == enc.id))]
    usable = [d for d in checks if paid_on is None or d <= paid_on]
    if usable:
        return max(usable)
    coded = enc.coded_at.date() if enc.coded_at is not None else None
    return coded if coded is not None and (paid_on is None or coded <= paid_on) else None


def _submitted_claim(db: DbSession, enc: Encounter, paid_on: date | None) -> SubmittedClaim | None:
    """The encounter's claim as exported, or None when it has no service line yet (nothing to match)."""
    from chartcode.edits.io import parse_claim

    try:
        claim = parse_claim(build_claim(enc))
    except ChartcodeError:
        return None
    return SubmittedClaim(claim, _submitted(db, enc, paid_on), (), f"encounter {enc.id}")


def _money(value: Decimal) -> float:
    return float(value)


def _adjustment(a: AdjustmentResult) -> dict[str, Any]:
    c = a.classification
    return {
        "group": a.adjustment.group,
        "reason": a.adjustment.reason,
        "key": a.adjustment.key,
        "amount": _money(a.adjustment.amount),
        "quantity": None if a.adjustment.quantity is None else float(a.adjustment.quantity),
        "segment": a.adjustment.position,
        "category": c.category,
        "category_label": c.label,
        "description": c.reason,
        "coding_related": c.coding,
        "denial": c.denial,
        "action": c.action,
        "citation": c.citation,
        "remark": c.remark,
    }


def _first_denial(adjustments: Iterable[AdjustmentResult]) -> AdjustmentResult | None:
    denials = [a for a in adjustments if a.classification.denial]
    coding = [a for a in denials if a.classification.coding]
    chosen = coding or denials
    return chosen[0] if chosen else None


def remark_labels(codes: Iterable[str]) -> list[dict[str, str | None]]:
    """RARCs with chartcode's plain-words description (None when the table does not know the code)."""
    rarc = code_tables().rarc
    return [{"code": c, "label": rarc[c.upper()].label if c.upper() in rarc else None} for c in codes]


def _status(result: ClaimResult) -> str:
    if result.payment.is_reversal:
        return "reversal"
    if result.denied:
        return "denied"
    if any(line.denied for line in result.lines):
        return "partial"
    return "paid"


def post_835(db: DbSession, actor: User | None, remits: list[Remittance]) -> PostSummary:
    """Store the remittances not posted before, matched and classified, in one transaction (audited)."""
    summary = PostSummary()
    fresh: list[tuple[Remittance, str]] = []
    seen: set[tuple[str, str]] = set()
    for remit in remits:
        key = payer_key(remit)
        trace = (remit.trace_number or f"ST{remit.control_number}")[:80]
        exists = db.scalar(
            select(RemittanceRow.id).where(
                RemittanceRow.payer_key == key, RemittanceRow.trace_number == trace
            )
        )
        if exists is not None or (key, trace) in seen:
            summary.already_posted += 1
            continue
        seen.add((key, trace))
        fresh.append((remit, trace))
    if not fresh:
        return summary

    encounters: dict[int, Encounter] = {}
    submitted: dict[str, SubmittedClaim] = {}
    for remit, _ in fresh:
        for payment in remit.claims:
            enc_id = encounter_id_of(payment.claim_id)
            if enc_id is None or payment.claim_id in submitted:
                continue
            enc = db.get(Encounter, enc_id)
            if enc is None:
                continue
            encounters[enc_id] = enc
            sent = _submitted_claim(db, enc, remit.payment_date)
            if sent is not None:
                submitted[payment.claim_id] = sent
    analysis = analyse([r for r, _ in fresh], list(submitted.values()))
    results = iter(analysis.claims)
    now = utcnow()
    touched: set[int] = set()
    for remit, trace in fresh:
        row = RemittanceRow(
            payer_key=payer_key(remit),
            payer_name=remit.payer.name[:120],
            trace_number=trace,
            control_number=remit.control_number[:20],
            handling=remit.handling[:4],
            payment_amount=remit.payment_amount,
            payment_method=remit.payment_method[:4],
            payment_date=remit.payment_date,
            received_at=now,
            received_by=actor.id if actor else None,
            warnings=[
                {"rule": f.rule, "segment": f.position, "message": f.message, "fix": f.fix}
                for f in remit.findings
            ],
        )
        db.add(row)
        try:
            db.flush()
        except IntegrityError:  # another request posted the same payment just now
            db.rollback()
            raise ConflictError(
                f"the payment with trace number {trace} was being posted by another request just now.",
                "post the file again: payments already stored are skipped.",
            ) from None
        summary.remittances += 1
        summary.trace_numbers.append(trace)
        summary.warnings.extend(row.warnings)
        claim_rows = []
        for _payment in remit.claims:
            result = next(results)
            claim_rows.append(_store_claim(db, row, result, encounters, now, summary))
        snapshots = [_remit_snapshot(r) for r in claim_rows]
        for remit_row, snapshot in zip(claim_rows, snapshots, strict=True):
            if remit_row.encounter_id is not None:
                touched.add(remit_row.encounter_id)
                record(
                    db,
                    actor,
                    "remit.receive",
                    "remit",
                    remit_row.id,
                    None,
                    snapshot,
                    encounter_id=remit_row.encounter_id,
                )
        record(
            db,
            actor,
            "remit.post",
            "remittance",
            row.id,
            None,
            {
                "payer_key": row.payer_key,
                "trace_number": row.trace_number,
                "payment_date": row.payment_date,
                "payment_amount": _money(row.payment_amount),
                "claims": snapshots,
            },
        )
    summary.encounters = sorted(touched)
    db.commit()
    return summary


def _remit_snapshot(r: Remit) -> dict[str, Any]:
    """Ids, codes, statuses and amounts only: no patient, no note text."""
    return {
        "id": r.id,
        "claim_number": r.claim_number,
        "encounter_id": r.encounter_id,
        "status": r.status,
        "claim_status": r.claim_status,
        "paid": None if r.paid is None else _money(r.paid),
        "denied_lines": sum(1 for line in r.lines if line.denied),
        "carcs": sorted(
            {a["key"] for a in r.adjustments} | {a["key"] for line in r.lines for a in line.adjustments}
        ),
    }


def _store_claim(
    db: DbSession,
    remittance: RemittanceRow,
    result: ClaimResult,
    encounters: dict[int, Encounter],
    now: Any,
    summary: PostSummary,
) -> Remit:
    p = result.payment
    enc_id = encounter_id_of(p.claim_id)
    enc = encounters.get(enc_id) if enc_id is not None else None
    latest = (
        db.scalar(select(func.max(Claim.id)).where(Claim.encounter_id == enc.id)) if enc is not None else None
    )
    first = _first_denial(result.adjustments)
    coding = result.coding_denial or any(line.coding_denial for line in result.lines)
    row = Remit(
        claim_id=latest,
        status=_status(result),
        received_at=now,
        remittance_id=remittance.id,
        encounter_id=enc.id if enc is not None else None,
        claim_number=p.claim_id[:40],
        claim_status=p.status[:4],
        segment=p.position,
        charge=p.charge,
        paid=p.paid,
        patient_responsibility=p.patient_responsibility,
        payer_control_number=(p.payer_control_number or None) and p.payer_control_number[:50],
        frequency=(p.frequency or None) and p.frequency[:2],
        payment_date=result.remittance.payment_date,
        denied=result.denied,
        coding_denial=coding,
        has_denial=bool(result.denial_adjustments()),
        category=first.classification.category if first else None,
        action=first.classification.action if first else None,
        days_to_pay=result.days_to_pay,
        adjustments=[_adjustment(a) for a in result.adjustments],
        remarks=list(p.remarks),
        match_notes=list(result.match.notes) if result.match else [],
    )
    db.add(row)
    db.flush()
    summary.claims += 1
    summary.paid = round(summary.paid + _money(p.paid), 2)
    if enc is not None:
        summary.claims_matched += 1
    else:
        summary.claims_unmatched += 1
        summary.unmatched_claim_ids.append(p.claim_id)
    summary.claims_denied += int(result.denied)
    if result.coding_denial and not result.lines:
        summary.coding_denials += 1
    for line in result.lines:
        s = line.service
        line_first = _first_denial(line.adjustments)
        matched = line.match is not None and line.match.line_number is not None
        db.add(
            RemitLine(
                remit_id=row.id,
                encounter_id=row.encounter_id,
                segment=s.position,
                line_number=line.match.line_number if line.match else None,
                match=line.match.how if line.match else None,
                code=str(s.procedure.code)[:20],
                modifiers=list(s.procedure.modifiers),
                units=s.units,
                charge=s.charge,
                paid=s.paid,
                allowed=s.allowed,
                service_date=s.service_date,
                denied=line.denied,
                coding_denial=line.coding_denial,
                category=line_first.classification.category if line_first else None,
                action=line_first.classification.action if line_first else None,
                adjustments=[_adjustment(a) for a in line.adjustments],
                remarks=list(s.remarks),
                match_notes=list(line.match.notes) if line.match else [],
            )
        )
        summary.lines += 1
        summary.lines_matched += int(matched)
        summary.denied_lines += int(line.denied)
        summary.coding_denials += int(line.coding_denial)
    db.flush()
    db.refresh(row)
    return row


# --- reading ------------------------------------------------------------------------------------


def encounter_remits(db: DbSession, encounter_id: int) -> list[tuple[Remit, RemittanceRow | None]]:
    rows = db.execute(
        select(Remit, RemittanceRow)
        .outerjoin(RemittanceRow, RemittanceRow.id == Remit.remittance_id)
        .where(Remit.encounter_id == encounter_id)
        .order_by(Remit.id)
    ).all()
    return [(r[0], r[1]) for r in rows]


@dataclass(frozen=True)
class DenialItem:
    """One denial to rework: a denied service line, or a claim denied as a whole without service lines."""

    remit: Remit
    remittance: RemittanceRow | None
    line: RemitLine | None


def list_denials(
    db: DbSession,
    *,
    category: str | None = None,
    coding_related: bool | None = None,
    encounter_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[DenialItem], int]:
    """Denied lines (and whole-claim denials without lines), newest first."""
    lines = (
        select(RemitLine, Remit, RemittanceRow)
        .join(Remit, Remit.id == RemitLine.remit_id)
        .outerjoin(RemittanceRow, RemittanceRow.id == Remit.remittance_id)
        .where(RemitLine.denied.is_(True))
    )
    claims = (
        select(Remit, RemittanceRow)
        .outerjoin(RemittanceRow, RemittanceRow.id == Remit.remittance_id)
        .where(Remit.denied.is_(True), ~select(RemitLine.id).where(RemitLine.remit_id == Remit.id).exists())
    )
    if category:
        lines = lines.where(RemitLine.category == category)
        claims = claims.where(Remit.category == category)
    if coding_related is not None:
        lines = lines.where(RemitLine.coding_denial.is_(coding_related))
        claims = claims.where(Remit.coding_denial.is_(coding_related))
    if encounter_id is not None:
        lines = lines.where(Remit.encounter_id == encounter_id)
        claims = claims.where(Remit.encounter_id == encounter_id)
    total = (db.scalar(select(func.count()).select_from(lines.subquery())) or 0) + (
        db.scalar(select(func.count()).select_from(claims.subquery())) or 0
    )
    wanted = offset + limit
    found = [
        (r[1].id, r[0].id, DenialItem(r[1], r[2], r[0]))
        for r in db.execute(lines.order_by(Remit.id.desc(), RemitLine.id.desc()).limit(wanted)).all()
    ]
    found += [
        (r[0].id, 0, DenialItem(r[0], r[1], None))
        for r in db.execute(claims.order_by(Remit.id.desc()).limit(wanted)).all()
    ]
    found.sort(key=lambda t: (-t[0], -t[1]))
    return [t[2] for t in found[offset:wanted]], total


__all__ = [
    "DenialItem",
    "PostSummary",
    "Remit835UploadError",
    "RemitBodyError",
    "encounter_remits",
    "list_denials",
    "parse_upload",
    "post_835",
    "remark_labels",
]
