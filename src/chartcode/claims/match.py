"""Matching remittances back to the claims that were sent.

Each 835 claim payment (CLP) is matched to a submitted claim by its claim id (CLP01 is the CLM01 that was
sent). Each service payment (SVC) is matched to a submitted line:

1. by the line item control number (REF*6R) when the payer returns one and a submitted line carries it
   (``control_number`` on the line; a purely numeric REF*6R is also read as the line number);
2. else by procedure code (the submitted code: SVC06 when the payer changed it) and date of service, then
   units and charge, comparing modifiers as sets, in three tiers: the same modifiers (in any order); the
   payer dropped some modifiers (noted); the same code and date with different units or charge (noted).

Submitted claims no remittance mentions, claim payments no submitted claim has, services that match no
line, and lines no service matched are all reported.

Submitted claims are the scrubber's :class:`~chartcode.edits.model.Claim` (or any subclass, such as the
encounter claim) plus two things the claim model does not carry: the submission date (``"submitted":
"YYYY-MM-DD"`` on a JSON claim, or the 837's BHT04 date) and per-line control numbers (``control_number``
on a JSON line, or the line's own attribute).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from chartcode.claims.remit import ClaimPayment, Remittance, ServicePayment
from chartcode.edits.io import detect_format, parse_claim, read_text
from chartcode.edits.model import Claim
from chartcode.errors import ChartcodeError, InputError

How = Literal["control_number", "exact", "modifiers_reordered", "modifiers_dropped", "partial", "unmatched"]


class RemitClaimsError(InputError):
    """A file of submitted claims (for matching remittances) that cannot be read."""

    code = "CC522"


@dataclass(frozen=True, slots=True)
class SubmittedClaim:
    """A claim as it was sent: the claim, when it was sent and each line's control number."""

    claim: Claim
    submitted: date | None = None
    control_numbers: tuple[str | None, ...] = ()
    source: str | None = None

    @property
    def id(self) -> str:
        return self.claim.id

    def control_number(self, index: int) -> str | None:
        """The control number of line ``index`` (0-based): from the side list, else the line's attribute."""
        if index < len(self.control_numbers) and self.control_numbers[index]:
            return self.control_numbers[index]
        value = getattr(self.claim.lines[index], "control_number", None)
        return str(value) if value else None


@dataclass(frozen=True, slots=True)
class LineMatch:
    """One service payment and the submitted line it belongs to (``line_number`` 1-based, or None)."""

    service: ServicePayment
    line_number: int | None
    how: How
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.service.position,
            "line_number": self.line_number,
            "how": self.how,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class ClaimMatch:
    """One claim payment, the submitted claim it answers (or None) and how its services matched."""

    payment: ClaimPayment
    remittance: Remittance
    claim: SubmittedClaim | None
    lines: tuple[LineMatch, ...]
    unreported_lines: tuple[int, ...] = ()  # submitted line numbers no service payment matched
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "claim_id": self.payment.claim_id,
            "segment": self.payment.position,
            "matched": self.claim is not None,
            "lines": [m.to_dict() for m in self.lines],
            "unreported_lines": list(self.unreported_lines),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class MatchResult:
    claims: tuple[ClaimMatch, ...]
    unmatched_claims: tuple[SubmittedClaim, ...]  # sent, but in none of the remittances

    def to_dict(self) -> dict[str, Any]:
        return {
            "claims": [c.to_dict() for c in self.claims],
            "unmatched_claims": [c.id for c in self.unmatched_claims],
        }


# --- matching -----------------------------------------------------------------------------------


def as_submitted(claims: Iterable[SubmittedClaim | Claim]) -> list[SubmittedClaim]:
    return [c if isinstance(c, SubmittedClaim) else SubmittedClaim(c) for c in claims]


def match(
    remits: Sequence[Remittance], claims: Iterable[SubmittedClaim | Claim] | None = None
) -> MatchResult:
    """Match every claim payment of ``remits`` to ``claims`` (when given; otherwise nothing is matched)."""
    sent = as_submitted(claims or [])
    by_id: dict[str, SubmittedClaim] = {}
    for c in sent:
        by_id[c.id] = c  # a later submission of the same id replaces the earlier one
    seen: set[str] = set()
    out: list[ClaimMatch] = []
    for remit in remits:
        for payment in remit.claims:
            found = by_id.get(payment.claim_id)
            if found is None:
                notes = (f"no submitted claim has the id {payment.claim_id} (CLP01)",) if sent else ()
                lines = tuple(LineMatch(s, None, "unmatched") for s in payment.services)
                out.append(ClaimMatch(payment, remit, None, lines, (), notes))
                continue
            seen.add(found.id)
            out.append(match_claim(payment, remit, found))
    unmatched = tuple(c for c in sent if c.id not in seen)
    return MatchResult(tuple(out), unmatched)


def match_claim(payment: ClaimPayment, remit: Remittance, sent: SubmittedClaim) -> ClaimMatch:
    """Match the services of one claim payment to the lines of the submitted claim."""
    claim = sent.claim
    free = list(range(len(claim.lines)))
    results: list[LineMatch] = []
    for service in payment.services:
        result = _by_control_number(service, sent, free, payment.is_reversal)
        if result is None:
            result = _by_attributes(service, sent, free, payment.is_reversal)
        if result.line_number is not None:
            free.remove(result.line_number - 1)
        results.append(result)
    notes: list[str] = []
    unreported: tuple[int, ...] = ()
    if payment.services and not payment.is_reversal:
        unreported = tuple(i + 1 for i in free)
        for number in unreported:
            line = claim.lines[number - 1]
            notes.append(f"line {number} ({_label(line.code, line.modifiers)}) is not on the remittance")
    elif not payment.services:
        notes.append("the payer adjudicated the claim as a whole (no service lines on the remittance)")
    return ClaimMatch(payment, remit, sent, tuple(results), unreported, tuple(notes))


def _label(code: str, modifiers: Iterable[str]) -> str:
    return "-".join((code, *modifiers))


def _same(a: Decimal | None, b: Decimal | None, reversal: bool) -> bool:
    if a is None or b is None:
        return True
    return (abs(a) if reversal else a) == b


def _modifier_notes(service: ServicePayment, sent_mods: tuple[str, ...]) -> tuple[How, list[str]] | None:
    """How the remitted modifiers compare with the submitted ones, or None when they are not compatible."""
    got = service.submitted.modifiers
    if got == sent_mods:
        return "exact", []
    if set(got) == set(sent_mods):
        return "modifiers_reordered", [
            f"payer reordered the modifiers ({'-'.join(sent_mods)} sent, {'-'.join(got)} returned)"
        ]
    if set(got) < set(sent_mods):
        dropped = [m for m in sent_mods if m not in got]
        return "modifiers_dropped", [f"payer dropped modifier(s) {', '.join(dropped)}"]
    return None


def _by_control_number(
    service: ServicePayment, sent: SubmittedClaim, free: list[int], reversal: bool
) -> LineMatch | None:
    ref = service.control_number
    if not ref:
        return None
    claim = sent.claim
    target = next((i for i in free if sent.control_number(i) == ref), None)
    notes: list[str] = []
    if target is None and ref.isdigit() and 1 <= int(ref) <= len(claim.lines) and int(ref) - 1 in free:
        candidate = int(ref) - 1
        if claim.lines[candidate].code == service.submitted.code:
            target = candidate
            notes.append(f"REF*6R {ref} read as the line number")
    if target is None:
        return None
    notes.extend(_differences(service, sent, target, reversal))
    return LineMatch(service, target + 1, "control_number", tuple(notes))


def _differences(service: ServicePayment, sent: SubmittedClaim, index: int, reversal: bool) -> list[str]:
    """Notes on what the payer returned differently from the submitted line."""
    line = sent.claim.lines[index]
    notes: list[str] = []
    if service.original is not None and service.procedure.code != service.original.code:
        notes.append(f"payer changed the code from {service.original.code} to {service.procedure.code}")
    if service.submitted.code != line.code:
        notes.append(f"code {service.submitted.code} returned for line sent as {line.code}")
    moded = _modifier_notes(service, line.modifiers)
    if moded is None:
        notes.append(
            f"modifiers differ ({'-'.join(line.modifiers) or 'none'} sent, "
            f"{'-'.join(service.submitted.modifiers) or 'none'} returned)"
        )
    elif moded[1]:
        notes.extend(moded[1])
    if not _same(service.submitted_units, line.units, reversal):
        notes.append(
            f"units differ ({line.units} sent, {abs(service.submitted_units)} returned as submitted)"
        )
    elif service.original_units is not None and service.units != service.original_units:
        notes.append(f"payer allowed {abs(service.units)} of {abs(service.original_units)} unit(s)")
    if not _same(service.charge, line.charge, reversal):
        notes.append(f"charge differs ({line.charge} sent, {abs(service.charge)} returned)")
    day = sent.claim.line_date(index)
    if service.service_date is not None and service.service_date != day:
        notes.append(f"date of service differs ({day} sent, {service.service_date} returned)")
    return notes


def _by_attributes(
    service: ServicePayment, sent: SubmittedClaim, free: list[int], reversal: bool
) -> LineMatch:
    claim = sent.claim
    code = service.submitted.code
    best: tuple[int, int, How] | None = None  # (tier, index, how)
    for i in free:
        line = claim.lines[i]
        if line.code != code:
            continue
        if service.service_date is not None and service.service_date != claim.line_date(i):
            continue
        moded = _modifier_notes(service, line.modifiers)
        if moded is None:
            continue
        how = moded[0]
        same_amounts = _same(service.submitted_units, line.units, reversal) and _same(
            service.charge, line.charge, reversal
        )
        tier = (0 if how in ("exact", "modifiers_reordered") else 1) if same_amounts else 2
        if best is None or tier < best[0]:
            best = (tier, i, how if tier < 2 else "partial")
    if best is None:
        prefix = (
            f"REF*6R {service.control_number} matches no submitted line; " if service.control_number else ""
        )
        return LineMatch(
            service,
            None,
            "unmatched",
            (
                f"{prefix}no submitted line has {code} on {service.service_date or 'the date'} "
                "with these modifiers",
            ),
        )
    tier, index, how = best
    return LineMatch(service, index + 1, how, tuple(_differences(service, sent, index, reversal)))


# --- reading submitted claims -------------------------------------------------------------------


def load_claims(paths: Iterable[Path | str]) -> list[SubmittedClaim]:
    """Submitted claims from JSON (one claim or an array), JSONL or X12 837P files.

    JSON claims may carry ``"submitted": "YYYY-MM-DD"`` and ``control_number`` on lines; these are kept
    beside the claim. An encounter claim (with ``billing_provider``) is read as one
    (:func:`chartcode.claims.model.parse_encounter`). A claim that does not validate stops the load with
    its file and position.
    """
    out: list[SubmittedClaim] = []
    for path in paths:
        out.extend(_load_one(Path(path)))
    return out


def _load_one(path: Path) -> list[SubmittedClaim]:
    name = str(path)
    if not path.is_file():
        raise RemitClaimsError(
            f"claims file {name} does not exist.", "give --claims the JSON, JSONL or 837P file that was sent."
        )
    text = read_text(path)
    kind = detect_format(name, text)
    if kind == "x12":
        return _from_837(text, name)
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RemitClaimsError(
                f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.",
                "give one claim object, an array of claims, or a .jsonl file with one claim per line.",
            ) from None
        items = data if isinstance(data, list) else [data]
        return [_from_object(item, f"{name} claim {n}", name) for n, item in enumerate(items, start=1)]
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RemitClaimsError(
                f"{name}, line {number}: not valid JSON at column {exc.colno}: {exc.msg}.",
                "write one complete claim object per line.",
            ) from None
        out.append(_from_object(item, f"{name}, line {number}", name))
    return out


def _from_object(item: object, where: str, source: str) -> SubmittedClaim:
    if not isinstance(item, Mapping):
        raise RemitClaimsError(f"{where} is not a JSON object.", "give each claim as a JSON object.")
    data = dict(item)
    submitted_raw = data.pop("submitted", None)
    submitted: date | None = None
    if submitted_raw is not None:
        try:
            submitted = date.fromisoformat(str(submitted_raw))
        except ValueError:
            raise RemitClaimsError(
                f"{where}: submitted {submitted_raw!r} is not a date.", 'write "submitted": "YYYY-MM-DD".'
            ) from None
    controls: list[str | None] = []
    encounter = "billing_provider" in data
    lines = data.get("lines")
    if isinstance(lines, list) and not encounter:
        stripped = []
        for line in lines:
            if isinstance(line, Mapping):
                line = dict(line)
                value = line.pop("control_number", None)
                controls.append(str(value) if value is not None else None)
            stripped.append(line)
        data["lines"] = stripped
    try:
        if encounter:
            from chartcode.claims.model import parse_encounter  # the encounter model only when needed

            claim: Claim = parse_encounter(data, name=where)
        else:
            claim = parse_claim(data, where=where)
    except ChartcodeError as exc:
        raise RemitClaimsError(f"{where}: {exc.message}", exc.fix) from None
    return SubmittedClaim(claim, submitted, tuple(controls), source)


def _from_837(text: str, name: str) -> list[SubmittedClaim]:
    """Claims of an 837P, dated by BHT04 (the date the file was created)."""
    from chartcode.edits.io import _check_envelope, _map_claims, _validated_segments

    text = text.lstrip()
    _check_envelope(text, name)
    segments = _validated_segments(text, name)
    created: date | None = None
    for s in segments:
        if s.id == "BHT":
            raw = s.value("BHT04")
            try:
                created = date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
            except ValueError:
                created = None
            break
    controls: dict[int, list[str | None]] = {}  # CLM segment number -> REF*6R per 2400 line
    current: list[str | None] | None = None
    for s in segments:
        if s.id == "CLM" and s.loop == "2300":
            current = controls.setdefault(s.position, [])
        elif s.id == "LX" and s.loop == "2400" and current is not None:
            current.append(None)
        elif s.id == "REF" and s.loop == "2400" and current and s.value("REF01") == "6R":
            current[-1] = s.value("REF02") or None
    out = []
    for record in _map_claims(segments, name):
        if record.claim is None:
            assert record.error is not None
            raise RemitClaimsError(f"{name}: {record.error.message}", record.error.fix)
        numbers = tuple(controls.get(record.position or 0, []))
        out.append(SubmittedClaim(record.claim, created, numbers, name))
    return out


__all__ = [
    "ClaimMatch",
    "LineMatch",
    "MatchResult",
    "RemitClaimsError",
    "SubmittedClaim",
    "load_claims",
    "match",
    "match_claim",
]
