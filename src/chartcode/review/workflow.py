"""The coding workflow as plain functions over a database session.

intake (run the coder, store the suggestions) → decisions (accept / modify / reject, add codes) →
provider queries → complete → second-review sampling → auditor verdicts. Every write adds its audit row
(:func:`chartcode.review.audit.record`) and commits in one transaction; each encounter of a batch is its
own transaction, so an interrupted batch keeps what it stored and resending it resumes (external ids are
idempotent). Encounter writes use compare-and-set on ``version`` (optimistic concurrency).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from chartcode.assign.api import CoderLike, CodingOptions, CodingResult, Evidence
from chartcode.errors import ChartcodeError
from chartcode.review.audit import record
from chartcode.store.errors import CodeFormatError, ConflictError, NotFoundError, WorkflowError
from chartcode.store.models import (
    AuditVerdict,
    Claim,
    ClaimFinding,
    Decision,
    Document,
    Encounter,
    ProviderQuery,
    Suggestion,
    User,
    utcnow,
)

OPEN_FOR_DECISIONS = ("new", "in_review", "query")
Action = Literal["accept", "modify", "reject"]


# --- input -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentInput:
    text: str
    kind: str = "progress_note"


@dataclass(frozen=True)
class EncounterInput:
    documents: tuple[DocumentInput, ...]
    external_id: str | None = None
    specialty: str | None = None
    setting: Literal["outpatient", "inpatient"] = "outpatient"
    date_of_service: date | None = None
    patient_age: int | None = None
    patient_sex: Literal["F", "M"] | None = None


@dataclass
class BatchItemResult:
    index: int
    id: int | None = None
    created: bool = False
    error: dict[str, Any] | None = None


@dataclass
class _Suggested:
    code: str
    system: str
    kind: str
    description: str | None
    confidence: float | None
    rationale: str | None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


# --- snapshots for the audit log (no document text, no patient details) ---------------------------


def encounter_snapshot(enc: Encounter) -> dict[str, Any]:
    return {
        "id": enc.id,
        "external_id": enc.external_id,
        "status": enc.status,
        "version": enc.version,
        "specialty": enc.specialty,
        "setting": enc.setting,
        "date_of_service": enc.date_of_service,
        "assigned_to": enc.assigned_to,
        "release": enc.release,
    }


def suggestion_snapshot(s: Suggestion) -> dict[str, Any]:
    return {
        "id": s.id,
        "code": s.code,
        "system": s.system,
        "kind": s.kind,
        "status": s.status,
        "final_code": s.final_code,
        "reason": s.reason,
        "confidence": s.confidence,
    }


def query_snapshot(q: ProviderQuery) -> dict[str, Any]:
    return {"id": q.id, "encounter_id": q.encounter_id, "suggestion_id": q.suggestion_id, "status": q.status}


# --- codes typed by coders --------------------------------------------------------------------

_HCPCS = re.compile(r"^[A-V]\d{4}$")
_CPT = re.compile(r"^\d{4}[0-9FTU]$")
_ICD = re.compile(r"^[A-TV-Z]\d[0-9A-Z](\.?[0-9A-Z]{1,4})?$")


def classify_code(text: str, prefer: str | None = None) -> tuple[str, str, str]:
    """(normalised code, system, kind) for a code a coder typed; ICD-10-CM gets its dot.

    A letter and four digits is read as HCPCS Level II (``J3301``) unless ``prefer`` is "ICD-10-CM" (the
    coder is changing a diagnosis): ICD-10-CM codes of that shape are otherwise written with their dot.
    """
    code = text.strip().upper()
    if _HCPCS.match(code) and prefer != "ICD-10-CM":
        return code, "HCPCS", "procedure"
    if _CPT.match(code):
        return code, "CPT", "em" if code.startswith("992") else "procedure"
    if _ICD.match(code):
        bare = code.replace(".", "")
        return (bare if len(bare) == 3 else f"{bare[:3]}.{bare[3:]}"), "ICD-10-CM", "diagnosis"
    raise CodeFormatError(
        f"code {text!r} is not shaped like an ICD-10-CM (E11.22), CPT (99213) or HCPCS (J3301) code.",
        "type the code without spaces; ICD-10-CM codes take their dot after the third character.",
    )


def reported_code(s: Suggestion) -> str | None:
    """The code a suggestion reports: accepted and added as suggested, modified as changed; else None."""
    return s.final_code if s.status == "modified" else s.code if s.status in ("accepted", "added") else None


def final_codes(enc: Encounter) -> list[str]:
    """The codes the coder reports, each once, in suggestion order (rejected and undecided dropped)."""
    out: list[str] = []
    for s in enc.suggestions:
        code = reported_code(s)
        if code and code not in out:
            out.append(code)
    return out


# --- reading ---------------------------------------------------------------------------------


def get_encounter(db: DbSession, encounter_id: int) -> Encounter:
    enc = db.get(Encounter, encounter_id)
    if enc is None:
        raise NotFoundError(f"encounter {encounter_id} does not exist.", "check the id in the work queue.")
    return enc


@dataclass(frozen=True)
class QueueRow:
    encounter: Encounter
    min_confidence: float | None
    n_suggestions: int


def list_encounters(
    db: DbSession,
    *,
    status: str | None = None,
    specialty: str | None = None,
    max_confidence: float | None = None,
    sort: str = "age",
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QueueRow], int]:
    stats = (
        select(
            Suggestion.encounter_id.label("eid"),
            func.min(Suggestion.confidence).label("min_conf"),
            func.count(Suggestion.id).label("n"),
        )
        .group_by(Suggestion.encounter_id)
        .subquery()
    )
    query = select(Encounter, stats.c.min_conf, stats.c.n).outerjoin(stats, stats.c.eid == Encounter.id)
    if status:
        query = query.where(Encounter.status == status)
    if specialty:
        query = query.where(Encounter.specialty == specialty)
    if max_confidence is not None:
        query = query.where(stats.c.min_conf <= max_confidence)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = {
        "age": (Encounter.created_at.asc(), Encounter.id.asc()),
        "-age": (Encounter.created_at.desc(), Encounter.id.desc()),
        "confidence": (stats.c.min_conf.is_(None), stats.c.min_conf.asc(), Encounter.id.asc()),
    }[sort]
    rows = db.execute(query.order_by(*order).limit(limit).offset(offset)).all()
    return [QueueRow(r[0], r[1], r[2] or 0) for r in rows], total


# --- writing: the encounter's version ------------------------------------------------------------


def _claim_version(db: DbSession, enc: Encounter, version: int, actor: User | None) -> None:
    """Compare-and-set: bump the version only if it is still the one the client read, else 409."""
    now = utcnow()
    result = db.execute(
        update(Encounter)
        .where(Encounter.id == enc.id, Encounter.version == version)
        .values(version=Encounter.version + 1, updated_at=now, updated_by=actor.id if actor else None)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        db.rollback()
        current = get_encounter(db, enc.id)
        db.refresh(current)
        who = db.get(User, current.updated_by) if current.updated_by is not None else None
        name = who.username if who is not None else "another user"
        at = current.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        raise ConflictError(
            f"This encounter was changed by {name} at {at} after you opened it; "
            "reload to see their change and apply yours again."
        )
    db.refresh(enc)


def _move(enc: Encounter, status: str, actor: User | None, at: datetime) -> None:
    """A status change outside the coder's compare-and-set writes: the version still goes up (in SQL)."""
    enc.status = status
    enc.version = Encounter.version + 1
    enc.updated_at = at
    enc.updated_by = actor.id if actor else None


# --- intake ----------------------------------------------------------------------------------


def _evidence(evidence: Iterable[Evidence], document_id: int) -> list[dict[str, Any]]:
    return [{"document_id": document_id, "start": e.start, "end": e.end, "text": e.text} for e in evidence]


def _suggestions(result: CodingResult, document_id: int) -> list[_Suggested]:
    """The coder's diagnoses, procedures and E/M level as suggestions (pointers kept as diagnosis codes)."""
    out: list[_Suggested] = []
    for d in result.diagnoses:
        details: dict[str, Any] = {
            k: v for k, v in (("path", d.path), ("guideline", d.guideline), ("status", d.status)) if v
        }
        evidence = _evidence(d.evidence, document_id)
        out.append(
            _Suggested(
                d.code, "ICD-10-CM", "diagnosis", d.description, d.confidence, d.rationale, evidence, details
            )
        )

    def dx(pointers: Iterable[int]) -> list[str]:
        return [result.diagnoses[p - 1].code for p in pointers if 0 < p <= len(result.diagnoses)]

    for p in result.procedures:
        details = {"modifiers": list(p.modifiers), "units": p.units, "dx_codes": dx(p.dx_pointers)}
        evidence = _evidence(p.evidence, document_id)
        out.append(
            _Suggested(
                p.code, p.system, "procedure", p.label or None, p.confidence, p.rationale, evidence, details
            )
        )
    em = result.em
    if em is not None:
        details = {
            "modifiers": list(em.modifiers),
            "units": 1,
            "dx_codes": dx(em.dx_pointers),
            "mdm": em.mdm,
            "method": em.method,
            "flags": [
                {
                    "id": f.id,
                    "severity": f.severity,
                    "message": f.message,
                    "fix": f.fix,
                    "citation": f.citation,
                }
                for f in em.flags
            ],
        }
        label = f"E/M {em.family}, level {em.level} ({em.method}, {em.mdm} MDM)"
        out.append(
            _Suggested(
                em.code, "CPT", "em", label, None, em.rationale, _evidence(em.evidence, document_id), details
            )
        )
    return out


def _merge(items: Iterable[_Suggested]) -> list[_Suggested]:
    """One suggestion per (system, code) across an encounter's documents: evidence joined, best confidence."""
    merged: dict[tuple[str, str], _Suggested] = {}
    for s in items:
        key = (s.system, s.code)
        if key not in merged:
            merged[key] = s
            continue
        kept = merged[key]
        kept.evidence.extend(s.evidence)
        if s.confidence is not None and (kept.confidence is None or s.confidence > kept.confidence):
            kept.confidence = s.confidence
    return list(merged.values())


def _existing(db: DbSession, external_id: str | None) -> Encounter | None:
    if external_id is None:
        return None
    return db.scalar(select(Encounter).where(Encounter.external_id == external_id))


def intake(
    db: DbSession, actor: User | None, item: EncounterInput, coder: CoderLike
) -> tuple[Encounter, bool]:
    """Store an encounter with its documents and the coder's suggestions: (encounter, created).

    An ``external_id`` already stored returns that encounter unchanged (``created`` False): resending is safe.
    """
    found = _existing(db, item.external_id)
    if found is not None:
        return found, False
    if not item.documents:
        raise WorkflowError("the encounter has no documents.", "send at least one document with its text.")
    options = CodingOptions(
        setting=item.setting,
        date_of_service=item.date_of_service,
        patient_age=item.patient_age,
        patient_sex=item.patient_sex,
    )
    results = [coder.code(doc.text, options) for doc in item.documents]  # before any write: may be slow
    now = utcnow()
    enc = Encounter(
        external_id=item.external_id,
        status="new",
        specialty=item.specialty,
        setting=item.setting,
        date_of_service=item.date_of_service,
        patient_age=item.patient_age,
        patient_sex=item.patient_sex,
        release=results[0].release if results else None,
        created_at=now,
        updated_at=now,
        created_by=actor.id if actor else None,
        updated_by=actor.id if actor else None,
        version=1,
    )
    db.add(enc)
    try:
        db.flush()
    except IntegrityError:  # another request stored the same external id just now
        db.rollback()
        found = _existing(db, item.external_id)
        if found is None:
            raise
        return found, False
    docs = [Document(encounter_id=enc.id, kind=d.kind, text=d.text) for d in item.documents]
    db.add_all(docs)
    db.flush()
    suggested = _merge(s for doc, res in zip(docs, results, strict=True) for s in _suggestions(res, doc.id))
    releases = {res.release for res in results}
    release = next(iter(releases)) if len(releases) == 1 else enc.release
    for s in suggested:
        db.add(
            Suggestion(
                encounter_id=enc.id,
                code=s.code,
                system=s.system,
                kind=s.kind,
                description=s.description,
                status="suggested",
                confidence=s.confidence,
                rationale=s.rationale,
                evidence=s.evidence,
                details=s.details,
                release=release,
            )
        )
    db.flush()
    after = encounter_snapshot(enc) | {
        "documents": [{"id": d.id, "kind": d.kind, "chars": len(d.text)} for d in docs],
        "suggestions": [f"{s.system}:{s.code}" for s in suggested],
    }
    record(db, actor, "encounter.create", "encounter", enc.id, None, after)
    db.commit()
    db.refresh(enc)
    return enc, True


def intake_batch(
    db: DbSession,
    actor: User | None,
    items: Sequence[EncounterInput | ChartcodeError],
    coder: CoderLike,
    on_error: Callable[[int, Exception], dict[str, Any]] | None = None,
) -> list[BatchItemResult]:
    """Each item in its own transaction. A bad item (a ChartcodeError, or any error ``on_error`` turns
    into a safe error object) is reported and the batch goes on; anything else propagates, leaving the
    items before it stored, so resending the batch resumes."""
    out: list[BatchItemResult] = []
    for index, item in enumerate(items):
        if isinstance(item, ChartcodeError):
            out.append(BatchItemResult(index, error=item.to_dict()))
            continue
        try:
            enc, created = intake(db, actor, item, coder)
        except ChartcodeError as exc:
            db.rollback()
            out.append(BatchItemResult(index, error=exc.to_dict()))
            continue
        except Exception as exc:
            db.rollback()
            if on_error is None:
                raise
            out.append(BatchItemResult(index, error=on_error(index, exc)))
            continue
        out.append(BatchItemResult(index, id=enc.id, created=created))
    return out


# --- decisions -------------------------------------------------------------------------------


def _suggestion(enc: Encounter, suggestion_id: int) -> Suggestion:
    for s in enc.suggestions:
        if s.id == suggestion_id:
            return s
    raise NotFoundError(
        f"suggestion {suggestion_id} is not part of encounter {enc.id}.", "reload the encounter."
    )


def _open_for_decisions(enc: Encounter) -> None:
    if enc.status not in OPEN_FOR_DECISIONS:
        raise WorkflowError(
            f"encounter {enc.id} is {enc.status}; codes can be decided only while it is new, in review or "
            "waiting for a query.",
            "ask an auditor to give a verdict with corrected codes instead.",
        )


def _add_decision(db: DbSession, enc: Encounter, s: Suggestion, actor: User | None, action: str) -> None:
    """The decision row for ``s`` as it now stands; a new encounter moves to review."""
    db.add(
        Decision(
            encounter_id=enc.id,
            suggestion_id=s.id,
            user_id=actor.id if actor else None,
            action=action,
            code=s.final_code,
            reason=s.reason,
            at=utcnow(),
        )
    )
    if enc.status == "new":
        enc.status = "in_review"


def decide(
    db: DbSession,
    actor: User | None,
    encounter_id: int,
    suggestion_id: int,
    action: Action,
    version: int,
    *,
    code: str | None = None,
    reason: str | None = None,
) -> Encounter:
    enc = get_encounter(db, encounter_id)
    s = _suggestion(enc, suggestion_id)
    _open_for_decisions(enc)
    if action == "modify" and not (code and code.strip()):
        raise WorkflowError(
            "modify needs the code to report instead (field 'code').", "type the corrected code."
        )
    if action in ("modify", "reject") and not (reason and reason.strip()):
        raise WorkflowError(f"{action} needs a reason (field 'reason').", "say why the suggestion is wrong.")
    new_code = classify_code(code, s.system)[0] if action == "modify" and code else None
    if s.status == "added":
        raise WorkflowError(
            f"suggestion {s.id} was added by a coder; it cannot be decided.",
            "reject it and add another code.",
        )
    _claim_version(db, enc, version, actor)
    before = suggestion_snapshot(s)
    s.status = {"accept": "accepted", "modify": "modified", "reject": "rejected"}[action]
    s.final_code = new_code if action == "modify" else (s.code if action == "accept" else None)
    s.reason = reason.strip() if reason else None
    _add_decision(db, enc, s, actor, action)
    if enc.assigned_to is None and actor is not None:
        enc.assigned_to = actor.id
    db.flush()
    record(
        db,
        actor,
        f"suggestion.{action}",
        "suggestion",
        s.id,
        before,
        suggestion_snapshot(s),
        encounter_id=enc.id,
    )
    db.commit()
    return enc


def add_code(
    db: DbSession, actor: User | None, encounter_id: int, code: str, reason: str, version: int
) -> Encounter:
    enc = get_encounter(db, encounter_id)
    _open_for_decisions(enc)
    normalised, system, kind = classify_code(code)
    if not reason.strip():
        raise WorkflowError(
            "adding a code needs a reason (field 'reason').", "say where the note supports it."
        )
    if normalised in final_codes(enc):
        raise WorkflowError(f"{normalised} is already among the encounter's codes.", "pick another code.")
    _claim_version(db, enc, version, actor)
    s = Suggestion(
        encounter_id=enc.id,
        code=normalised,
        system=system,
        kind=kind,
        description=None,
        status="added",
        final_code=normalised,
        reason=reason.strip(),
        confidence=None,
        rationale="added by a coder",
        evidence=[],
        details={},
        release=enc.release,
    )
    db.add(s)
    db.flush()
    _add_decision(db, enc, s, actor, "add")
    db.flush()
    record(db, actor, "suggestion.add", "suggestion", s.id, None, suggestion_snapshot(s), encounter_id=enc.id)
    db.commit()
    db.refresh(enc)
    return enc


def complete(db: DbSession, actor: User | None, encounter_id: int, version: int) -> Encounter:
    enc = get_encounter(db, encounter_id)
    _open_for_decisions(enc)
    undecided = [s.code for s in enc.suggestions if s.status == "suggested"]
    if undecided:
        raise WorkflowError(
            f"{len(undecided)} suggestion(s) are not decided yet: {', '.join(undecided)}.",
            "accept, modify or reject each suggestion, then complete.",
        )
    open_queries = [q.id for q in enc.queries if q.status == "open"]
    if open_queries:
        raise WorkflowError(
            f"provider query {', '.join(map(str, open_queries))} is still open.",
            "record the provider's answer (or close the query), then complete.",
        )
    before = encounter_snapshot(enc)
    _claim_version(db, enc, version, actor)
    enc.status = "coded"
    enc.coded_at = utcnow()
    enc.coded_by = actor.id if actor else None
    db.flush()
    record(
        db,
        actor,
        "encounter.complete",
        "encounter",
        enc.id,
        before,
        encounter_snapshot(enc) | {"final_codes": final_codes(enc)},
    )
    db.commit()
    return enc


# --- provider queries ----------------------------------------------------------------------------


def create_query(
    db: DbSession, actor: User | None, encounter_id: int, question: str, suggestion_id: int | None = None
) -> ProviderQuery:
    enc = get_encounter(db, encounter_id)
    if suggestion_id is not None:
        _suggestion(enc, suggestion_id)
    if not question.strip():
        raise WorkflowError(
            "the query has no question (field 'question').", "write the question for the provider."
        )
    now = utcnow()
    q = ProviderQuery(
        encounter_id=enc.id,
        suggestion_id=suggestion_id,
        question=question.strip(),
        status="open",
        created_by=actor.id if actor else None,
        created_at=now,
        updated_at=now,
    )
    db.add(q)
    before = encounter_snapshot(enc)
    if enc.status in ("new", "in_review"):
        _move(enc, "query", actor, now)
    db.flush()
    record(db, actor, "query.create", "provider_query", q.id, None, query_snapshot(q), encounter_id=enc.id)
    if enc.status != before["status"]:
        record(db, actor, "encounter.status", "encounter", enc.id, before, encounter_snapshot(enc))
    db.commit()
    return q


def update_query(
    db: DbSession, actor: User | None, query_id: int, status: str, answer: str | None = None
) -> ProviderQuery:
    q = db.get(ProviderQuery, query_id)
    if q is None:
        raise NotFoundError(f"provider query {query_id} does not exist.", "check the id in the queries list.")
    if status == "answered" and not (answer and answer.strip()):
        raise WorkflowError(
            "an answered query needs the answer (field 'answer').", "type the provider's answer."
        )
    before = query_snapshot(q)
    q.status = status
    if answer is not None:
        q.answer = answer.strip()
    q.updated_at = utcnow()
    enc = get_encounter(db, q.encounter_id)
    db.flush()
    record(db, actor, "query.update", "provider_query", q.id, before, query_snapshot(q), encounter_id=enc.id)
    still_open = db.scalar(
        select(func.count()).where(ProviderQuery.encounter_id == enc.id, ProviderQuery.status == "open")
    )
    if enc.status == "query" and not still_open:
        enc_before = encounter_snapshot(enc)
        _move(enc, "in_review", actor, q.updated_at)
        db.flush()
        record(db, actor, "encounter.status", "encounter", enc.id, enc_before, encounter_snapshot(enc))
    db.commit()
    return q


def list_queries(db: DbSession, status: str | None = None) -> list[ProviderQuery]:
    query = select(ProviderQuery).order_by(ProviderQuery.id)
    if status:
        query = query.where(ProviderQuery.status == status)
    return list(db.scalars(query))


# --- claim check -----------------------------------------------------------------------------

NO_LINES = {
    "rule": "CLAIM-NO-LINES",
    "severity": "warning",
    "message": "No procedure or E/M code is decided yet, so there is no service line to check.",
    "fix": "Accept or add the visit's CPT/HCPCS code, then check again.",
    "citation": "CMS Claims Processing Manual, Chapter 26 (Form CMS-1500 item 24: service lines)",
    "line": None,
}


def build_claim(enc: Encounter, payer: dict[str, str] | None = None) -> dict[str, Any]:
    """The claim a scrubber sees for the encounter's decided codes (diagnoses first-listed first)."""
    diagnoses: list[str] = []
    lines: list[tuple[dict[str, Any], list[str]]] = []
    renamed: dict[str, str] = {}
    for s in enc.suggestions:
        code = reported_code(s)
        if code is None:
            continue
        if s.system == "ICD-10-CM":
            renamed[s.code] = code  # a modified diagnosis keeps the service lines that pointed to it
            if code not in diagnoses:
                diagnoses.append(code)
            continue
        details = s.details or {}
        line = {
            "code": code,
            "modifiers": list(details.get("modifiers", [])),
            "units": int(details.get("units", 1)),
        }
        lines.append((line, list(details.get("dx_codes", []))))
    diagnoses = diagnoses[:12]
    default = list(range(1, min(4, len(diagnoses)) + 1))
    claim_lines = []
    for line, dx_codes in lines:
        pointed = [renamed.get(c, c) for c in dx_codes]
        pointers = [diagnoses.index(c) + 1 for c in pointed if c in diagnoses][:4]
        claim_lines.append(line | {"dx_pointers": pointers or default})
    patient: dict[str, Any] = {}
    if enc.patient_age is not None:
        patient["age"] = enc.patient_age
    if enc.patient_sex is not None:
        patient["sex"] = enc.patient_sex
    day = enc.date_of_service or enc.created_at.date()
    return {
        "id": f"ENC-{enc.id}",
        "payer": payer or {"id": "DEFAULT", "type": "commercial"},
        "date_of_service": day.isoformat(),
        "patient": patient,
        "diagnoses": diagnoses,
        "lines": claim_lines,
    }


def check_encounter(
    db: DbSession,
    actor: User | None,
    encounter_id: int,
    run_check: Callable[[dict[str, Any]], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Run the claim scrubber (``run_check``: claim dict → finding dicts) and store the claim and findings."""
    enc = get_encounter(db, encounter_id)
    claim = build_claim(enc)
    checked = [dict(NO_LINES)] if not claim["lines"] else run_check(claim)
    findings = [  # one claim line per stored finding: its own, else the first of those it names
        {k: f[k] for k in ("rule", "severity", "message", "fix", "citation")}
        | {"line": f.get("line", (f.get("lines") or [None])[0])}
        for f in checked
    ]
    row = Claim(encounter_id=enc.id, data=claim, created_at=utcnow())
    db.add(row)
    db.flush()
    db.add_all(ClaimFinding(claim_id=row.id, **f) for f in findings)
    record(
        db,
        actor,
        "claim.check",
        "claim",
        row.id,
        None,
        {  # codes and rules only: the patient block stays out of the audit log
            "claim": {k: v for k, v in claim.items() if k != "patient"},
            "findings": [f["rule"] for f in findings],
        },
        encounter_id=enc.id,
    )
    db.commit()
    return findings


def latest_claim(db: DbSession, encounter_id: int) -> Claim | None:
    """The encounter's most recently checked claim (with its findings), if it was ever checked."""
    return db.scalar(
        select(Claim).where(Claim.encounter_id == encounter_id).order_by(Claim.id.desc()).limit(1)
    )


def latest_findings(db: DbSession, encounter_id: int) -> list[ClaimFinding]:
    claim = latest_claim(db, encounter_id)
    return list(claim.findings) if claim is not None else []


# --- second review -----------------------------------------------------------------------------


def sample_for_review(
    db: DbSession, actor: User | None, rate: float, low_confidence_below: float, seed: int | None = None
) -> list[int]:
    """Mark coded encounters for second review: a random share ``rate`` (reproducible with ``seed``) plus
    every coded encounter with a suggestion whose confidence is below ``low_confidence_below``."""
    coded = list(db.scalars(select(Encounter).where(Encounter.status == "coded").order_by(Encounter.id)))
    rng = random.Random(seed)
    share = min(len(coded), int(rate * len(coded) + 0.5))  # half rounds up: rate 0.5 of 1 chart samples it
    chosen = {e.id for e in rng.sample(coded, share)}
    for e in coded:
        if any(s.confidence is not None and s.confidence < low_confidence_below for s in e.suggestions):
            chosen.add(e.id)
    now = utcnow()
    for e in coded:
        if e.id not in chosen:
            continue
        before = encounter_snapshot(e)
        _move(e, "second_review", actor, now)
        db.flush()
        record(
            db,
            actor,
            "encounter.sample",
            "encounter",
            e.id,
            before,
            encounter_snapshot(e)
            | {"rate": rate, "low_confidence_below": low_confidence_below, "seed": seed},
        )
    db.commit()
    return sorted(chosen)


def audit_encounter(
    db: DbSession,
    actor: User | None,
    encounter_id: int,
    agree: bool,
    corrected_codes: Sequence[str] | None = None,
    note: str | None = None,
) -> Encounter:
    enc = get_encounter(db, encounter_id)
    if enc.status not in ("coded", "second_review"):
        raise WorkflowError(
            f"encounter {enc.id} is {enc.status}; only coded encounters get an audit verdict.",
            "wait until the coder completes it (or pick it from the second-review sample).",
        )
    coder_codes = final_codes(enc)
    corrected = [classify_code(c)[0] for c in corrected_codes] if corrected_codes else None
    if agree and corrected is None:
        corrected = list(coder_codes)
    before = encounter_snapshot(enc)
    verdict = AuditVerdict(
        encounter_id=enc.id,
        auditor_id=actor.id if actor else None,
        agree=agree,
        coder_codes=coder_codes,
        corrected_codes=corrected,
        note=note,
        at=utcnow(),
    )
    db.add(verdict)
    _move(enc, "audited", actor, verdict.at)
    db.flush()
    record(
        db,
        actor,
        "encounter.audit",
        "encounter",
        enc.id,
        before,
        encounter_snapshot(enc) | {"agree": agree, "coder_codes": coder_codes, "corrected_codes": corrected},
    )
    db.commit()
    return enc


def age_hours(enc: Encounter, now: datetime | None = None) -> float:
    now = now or datetime.now(UTC)
    return round((now - enc.created_at).total_seconds() / 3600, 2)
