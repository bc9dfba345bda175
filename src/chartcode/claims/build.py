"""Coded note → claim: :func:`claim_from_coding` joins a coding result and an encounter header.

The coding result (a :class:`~chartcode.assign.api.CodingResult` or its ``to_dict()``) gives the
diagnoses in their sequenced order, the E/M service (``em``) and the procedures (``procedures``,
each ``{"code", "modifiers", "units", "dx_pointers"}`` with 1-based pointers into the diagnoses).
The header (a dictionary, see :data:`HEADER_FIELDS`) gives everything the note does not: claim id,
providers, payer, subscriber, patient, envelope parties, place of service and date of service.

* Diagnoses keep the coder's order (the first-listed stays first). An 837P takes 12: when there are
  more, the first-listed diagnosis is kept, then the ones the service lines point to, then the rest in
  order, and the pointers are renumbered.
* The E/M line comes first with its modifiers and pointers, then the procedures in the coder's order.
  A service without pointers points to the first-listed diagnosis.
* Charges: the practice fee schedule (``fees``) where it lists the code, else (with ``kb``) the PFS
  amount for the locality × units (:func:`chartcode.claims.pricing.fill_charges`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chartcode.claims.model import EncounterClaim, EncounterClaimError, parse_encounter
from chartcode.claims.pricing import FeeSchedule, fill_charges
from chartcode.codesets.kb import KnowledgeBase

MAX_DIAGNOSES = 12
HEADER_FIELDS = (
    "id",
    "date_of_service",
    "place_of_service",
    "patient",
    "subscriber",
    "payer",
    "billing_provider",
    "rendering_provider",
    "submitter",
    "receiver",
    "frequency_code",
    "original_claim_number",
    "prior_authorization",
    "onset_date",
    "rendering_specialty",
)
HEADER_FIX = (
    "give the header as a JSON object with the encounter's non-clinical fields "
    f"({', '.join(HEADER_FIELDS)}); diagnoses and lines come from the coding result."
)


def _as_dict(coding: object) -> dict[str, Any]:
    to_dict = getattr(coding, "to_dict", None)
    data = to_dict() if callable(to_dict) else coding
    if not isinstance(data, Mapping):
        raise EncounterClaimError(
            "the coding result is not a CodingResult or a JSON object.",
            "give the output of `chartcode code --format json` (or CodingResult.to_dict()).",
        )
    return dict(data)


def _code_of(item: object) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        code = item.get("code")
        return code if isinstance(code, str) else None
    return None


def _service(item: Mapping[str, Any], what: str) -> dict[str, Any]:
    code = item.get("code")
    if not isinstance(code, str) or not code.strip():
        raise EncounterClaimError(
            f"coding result: {what} has no code.", "give each service a CPT/HCPCS code."
        )
    line: dict[str, Any] = {
        "code": code,
        "modifiers": list(item.get("modifiers") or ()),
        "units": item.get("units") or 1,
        "dx_pointers": list(item.get("dx_pointers") or ()) or [1],
    }
    return line


def claim_from_coding(
    coding: object,
    header: Mapping[str, Any],
    *,
    kb: KnowledgeBase | None = None,
    fees: FeeSchedule | None = None,
    locality: str | None = None,
) -> EncounterClaim:
    """The encounter claim of a coded note (see the module notes for the order and charge rules)."""
    if not isinstance(header, Mapping):
        raise EncounterClaimError("the encounter header is not a JSON object.", HEADER_FIX)
    unknown = sorted(set(header) - set(HEADER_FIELDS))
    if unknown:
        raise EncounterClaimError(f"header: unknown field(s) {', '.join(unknown)}.", HEADER_FIX)
    data = _as_dict(coding)
    diagnoses = [c for c in (_code_of(d) for d in data.get("diagnoses") or ()) if c]
    if not diagnoses:
        raise EncounterClaimError(
            "coding result: no diagnoses; a claim needs at least one.",
            "code the note first (the result's diagnoses become the claim's HI segment).",
        )
    lines: list[dict[str, Any]] = []
    em = data.get("em")
    if isinstance(em, Mapping):
        lines.append(_service(em, "the E/M service"))
    for n, proc in enumerate(data.get("procedures") or (), start=1):
        if isinstance(proc, Mapping):
            lines.append(_service(proc, f"procedure {n}"))
    if not lines:
        raise EncounterClaimError(
            "coding result: no E/M service and no procedures; there is nothing to bill.",
            "code a note that documents a visit or a procedure, or write the claim lines yourself.",
        )
    diagnoses, lines = _fit_diagnoses(diagnoses, lines)
    payload: dict[str, Any] = {**header, "diagnoses": diagnoses, "lines": lines}
    if payload.get("date_of_service") is None and data.get("date_of_service"):
        payload["date_of_service"] = data["date_of_service"]
    claim = parse_encounter(payload, name="the coded encounter")
    return fill_charges(claim, kb, fees=fees, locality=locality)


def _fit_diagnoses(
    diagnoses: list[str], lines: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """At most 12 diagnoses, pointers renumbered (first-listed, then pointed-to, then the rest)."""
    unique = list(dict.fromkeys(diagnoses))
    old_index = {i + 1: unique.index(d) + 1 for i, d in enumerate(diagnoses)}
    for line in lines:
        line["dx_pointers"] = list(dict.fromkeys(old_index.get(p, p) for p in line["dx_pointers"]))
    if len(unique) <= MAX_DIAGNOSES:
        return unique, lines
    order = [1]
    for line in lines:
        for p in line["dx_pointers"]:
            if p not in order and 1 <= p <= len(unique):
                order.append(p)
    order += [p for p in range(1, len(unique) + 1) if p not in order]
    kept = order[:MAX_DIAGNOSES]
    kept.sort()
    new_number = {old: new for new, old in enumerate(kept, start=1)}
    for line in lines:
        pointers = [new_number[p] for p in line["dx_pointers"] if p in new_number]
        line["dx_pointers"] = pointers[:4] or [1]
    return [unique[p - 1] for p in kept], lines


__all__ = ["HEADER_FIELDS", "claim_from_coding"]
