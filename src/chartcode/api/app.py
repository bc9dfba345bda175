"""The FastAPI application: ``create_app(Settings(...))``.

Every endpoint under ``/api`` requires a bearer token (a session token from ``/api/auth/login`` or an API
token) and a role; every write goes through :mod:`chartcode.review`, which audits it. Logs carry the
method, the path (ids only, no query string), the status, the time taken and the user id: never note
text, patient fields or request bodies.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, text
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chartcode.api import schemas as s
from chartcode.assign.api import CoderLike
from chartcode.errors import (
    ChartcodeError,
    InputError,
    KnowledgeBaseCorruptError,
    KnowledgeBaseMissingError,
    UnknownCodeError,
)
from chartcode.review import accounts, audit, kpis, remits, workflow
from chartcode.store import db as store_db
from chartcode.store.errors import (
    AuthError,
    CoderFailedError,
    ConflictError,
    DuplicateError,
    ForbiddenError,
    InternalError,
    NotFoundError,
    StoreError,
)
from chartcode.store.models import (
    ClaimFinding,
    Encounter,
    ProviderQuery,
    Remit,
    RemitLine,
    Remittance,
    User,
)

log = logging.getLogger("chartcode.api")
STATIC = Path(__file__).resolve().parents[1] / "web" / "static"

CoderFactory = Callable[[Path | None], CoderLike]


def real_coder(kb_path: Path | None) -> CoderLike:
    from chartcode.assign.coder import Coder
    from chartcode.codesets.kb import open_kb

    return Coder(open_kb(kb_path))


@dataclass
class Settings:
    db_url: str | None = None  # default: sqlite in the user data folder
    kb_path: Path | None = None  # default: $CHARTCODE_KB or the user data folder
    coder_factory: CoderFactory = real_coder
    db_schema: str | None = None  # PostgreSQL schema (tests)
    migrate: bool = True  # apply migrations at start
    static_dir: Path | None = field(default_factory=lambda: STATIC)


class Services:
    """What the routes share: the session factory, the coder (built once, lazily) and the knowledge base."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = store_db.make_engine(settings.db_url, schema=settings.db_schema)
        if settings.migrate:
            store_db.upgrade(self.engine)
        self.sessions = store_db.session_factory(self.engine)
        self._coder_lock = threading.Lock()  # building the coder takes a while: KB lookups need not wait
        self._kb_open_lock = threading.Lock()
        self._coder: CoderLike | None = None
        self._kb: Any = None
        self.kb_lock = threading.Lock()

    def coder(self) -> CoderLike:
        with self._coder_lock:
            if self._coder is None:
                self._coder = self.settings.coder_factory(self.settings.kb_path)
            return self._coder

    def kb(self) -> Any:
        from chartcode.codesets.kb import open_kb

        with self._kb_open_lock:
            if self._kb is None:
                self._kb = open_kb(self.settings.kb_path)
            return self._kb

    @contextmanager
    def using_kb(self) -> Iterator[Any]:
        """The knowledge base, held under its lock (one SQLite connection shared by the worker threads)."""
        kb = self.kb()
        with self.kb_lock:
            yield kb


# --- errors -------------------------------------------------------------------------------------


def _status_of(exc: ChartcodeError) -> int:
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, NotFoundError | UnknownCodeError):
        return 404
    if isinstance(exc, ConflictError | DuplicateError):
        return 409
    if isinstance(exc, KnowledgeBaseMissingError | KnowledgeBaseCorruptError | StoreError):
        return 503
    if isinstance(exc, CoderFailedError):
        return 500
    return 422


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """FastAPI's field-level errors without the ``input`` (and ``ctx``/``url``) it echoes by default: the
    rejected value can be note text, a patient's name or a password, and never goes back to the client."""
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


def _error_response(exc: ChartcodeError) -> JSONResponse:
    status = _status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 422:  # the shape of FastAPI's field-level errors, so clients read one format
        loc: list[Any] = list(getattr(exc, "loc", ["body"]))  # e.g. ["body", "file", "segment", 27]
        item = {"loc": loc, "msg": exc.message, "type": "value_error", "code": exc.code, "fix": exc.fix}
        item.update(getattr(exc, "details", {}))  # e.g. {"segment": 27} for a malformed 835
        body: dict[str, Any] = {"detail": [item]}
    else:
        body = {"detail": exc.message, "code": exc.code, "fix": exc.fix}
    return JSONResponse(body, status_code=status, headers=headers)


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": s.Problem, "description": "No valid token"},
    403: {"model": s.Problem, "description": "The role may not do this"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": s.Problem, "description": "Unknown id"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": s.Problem, "description": "Changed by someone else"}
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": s.Problem, "description": "The code-set knowledge base is not installed"}
}


class SafeLogging:
    """ASGI middleware: one access-log line per request (no query string, no body) and a generic 500 for
    unexpected errors, logged by exception type only (messages may quote note text)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            log.error("unhandled %s on %s %s", type(exc).__name__, scope["method"], scope["path"])
            if not status["sent"]:
                error = InternalError("internal error")
                body = {"detail": error.message, "code": error.code, "fix": error.fix}
                response = JSONResponse(body, status_code=500)
                await response(scope, receive, sending)
        finally:
            user = scope.get("state", {}).get("user_id")
            log.info(
                "%s %s %s %.1fms user=%s",
                scope["method"],
                scope["path"],
                status["code"],
                (time.perf_counter() - started) * 1000,
                user,
            )


# --- dependencies -------------------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False, description="A session token from /api/auth/login or an API token")


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]


def database(svc: Svc) -> Iterator[DbSession]:
    with svc.sessions() as session:
        yield session


Db = Annotated[DbSession, Depends(database)]


@dataclass(frozen=True)
class Principal:
    user: User
    kind: str  # "session" | "api"
    token: str


def current(
    request: Request,
    db: Db,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise AuthError(
            "this needs a bearer token.", "sign in (POST /api/auth/login) and send Authorization: Bearer …"
        )
    user, kind = accounts.user_for_token(db, credentials.credentials)
    request.scope.setdefault("state", {})["user_id"] = user.id
    return Principal(user, kind, credentials.credentials)


def allow(*roles: str, api_tokens: bool = False) -> Callable[[Principal], Principal]:
    """A dependency admitting ``roles`` (admin always); ``api_tokens`` admits any API token too."""
    allowed = (*roles, "admin") if "admin" not in roles else roles

    def check(principal: Annotated[Principal, Depends(current)]) -> Principal:
        if principal.user.role in allowed or (api_tokens and principal.kind == "api"):
            return principal
        raise ForbiddenError(
            f"this needs the role {' or '.join(allowed)}; you are signed in as {principal.user.role}.",
            "sign in as a user with that role, or ask an admin.",
        )

    return check


ANY = ("coder", "auditor", "manager", "admin")
Anyone = Annotated[Principal, Depends(allow(*ANY))]
Worker = Annotated[Principal, Depends(allow("coder"))]
Submitter = Annotated[Principal, Depends(allow("coder", api_tokens=True))]
Checker = Annotated[Principal, Depends(allow("coder", "auditor"))]
Auditor = Annotated[Principal, Depends(allow("auditor"))]
Overseer = Annotated[Principal, Depends(allow("auditor", "manager"))]
Poster = Annotated[Principal, Depends(allow("auditor", "manager", api_tokens=True))]
Admin = Annotated[Principal, Depends(allow("admin"))]
IdPath = Annotated[int, PathParam(ge=1, le=s.MAX_ID)]


# --- serialisation ------------------------------------------------------------------------------


def _names(db: DbSession, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u.username for u in db.scalars(select(User).where(User.id.in_(wanted)))}


def _user_out(u: User) -> s.UserOut:
    return s.UserOut(id=u.id, username=u.username, role=u.role)


def _findings_out(rows: Iterable[ClaimFinding]) -> list[s.FindingOut]:
    return [
        s.FindingOut(
            rule=f.rule, severity=f.severity, message=f.message, fix=f.fix, citation=f.citation, line=f.line
        )
        for f in rows
    ]


def _query_out(q: ProviderQuery, names: dict[int, str]) -> s.QueryOut:
    return s.QueryOut(
        id=q.id,
        encounter_id=q.encounter_id,
        suggestion_id=q.suggestion_id,
        question=q.question,
        status=q.status,
        answer=q.answer,
        created_by=names.get(q.created_by) if q.created_by else None,
        created_at=q.created_at,
        updated_at=q.updated_at,
    )


def detail(db: DbSession, enc: Encounter) -> s.EncounterOut:
    names = _names(db, {enc.assigned_to, *(q.created_by for q in enc.queries)})
    suggestions = []
    for g in enc.suggestions:
        details = g.details or {}
        suggestions.append(
            s.SuggestionOut(
                id=g.id,
                code=g.code,
                system=g.system,
                description=g.description,
                kind=g.kind,
                status=g.status,
                final_code=g.final_code,
                reason=g.reason,
                confidence=g.confidence,
                rationale=g.rationale,
                evidence=[s.EvidenceOut(**e) for e in g.evidence],
                path=details.get("path"),
                guideline=details.get("guideline"),
                modifiers=list(details.get("modifiers", [])),
                units=details.get("units"),
            )
        )
    has_patient = enc.patient_age is not None or enc.patient_sex is not None
    return s.EncounterOut(
        id=enc.id,
        external_id=enc.external_id,
        status=enc.status,
        version=enc.version,
        specialty=enc.specialty,
        setting=enc.setting,
        date_of_service=enc.date_of_service,
        created_at=enc.created_at,
        coded_at=enc.coded_at,
        assigned_to=names.get(enc.assigned_to) if enc.assigned_to else None,
        patient=s.PatientOut(age=enc.patient_age, sex=enc.patient_sex) if has_patient else None,
        release=enc.release,
        documents=[s.DocumentOut(id=d.id, kind=d.kind, text=d.text) for d in enc.documents],
        suggestions=suggestions,
        final_codes=workflow.final_codes(enc),
        findings=_findings_out(workflow.latest_findings(db, enc.id)),
        queries=[_query_out(q, names) for q in enc.queries],
        remits=[_remit_out(r, rem) for r, rem in remits.encounter_remits(db, enc.id)],
    )


def _adjustments_out(items: list[Any]) -> list[s.RemitAdjustmentOut]:
    return [s.RemitAdjustmentOut.model_validate(a) for a in items]


def _category_label(category: str | None) -> str | None:
    from chartcode.claims.denials import code_tables

    found = code_tables().categories.get(category) if category else None
    return found.label if found else None


def _remarks_out(keys: Iterable[str]) -> list[s.RemarkOut]:
    return [s.RemarkOut.model_validate(m) for m in remits.remark_labels(keys)]


def _remit_line_out(line: RemitLine) -> s.RemitLineOut:
    return s.RemitLineOut(
        id=line.id,
        segment=line.segment,
        line_number=line.line_number,
        match=line.match,
        code=line.code,
        modifiers=list(line.modifiers),
        units=float(line.units),
        charge=float(line.charge),
        paid=float(line.paid),
        allowed=None if line.allowed is None else float(line.allowed),
        service_date=line.service_date,
        denied=line.denied,
        coding_denial=line.coding_denial,
        category=line.category,
        category_label=_category_label(line.category),
        action=line.action,
        adjustments=_adjustments_out(line.adjustments),
        remarks=_remarks_out(line.remarks),
        match_notes=list(line.match_notes),
    )


def _money(value: Any) -> float | None:
    return None if value is None else float(value)


def _remit_out(r: Remit, remittance: Remittance | None) -> s.RemitOut:
    from chartcode.claims.remit import CLAIM_STATUS

    return s.RemitOut(
        id=r.id,
        claim_number=r.claim_number,
        encounter_id=r.encounter_id,
        trace_number=remittance.trace_number if remittance else None,
        payer=remittance.payer_name if remittance else None,
        payment_date=r.payment_date,
        received_at=r.received_at,
        status=r.status,
        claim_status=r.claim_status,
        claim_status_label=CLAIM_STATUS.get(r.claim_status) if r.claim_status else None,
        charge=_money(r.charge),
        paid=_money(r.paid),
        patient_responsibility=_money(r.patient_responsibility),
        denied=r.denied,
        coding_denial=r.coding_denial,
        category=r.category,
        category_label=_category_label(r.category),
        action=r.action,
        days_to_pay=r.days_to_pay,
        adjustments=_adjustments_out(r.adjustments),
        remarks=_remarks_out(r.remarks),
        match_notes=list(r.match_notes),
        lines=[_remit_line_out(line) for line in r.lines],
    )


def _denial_out(item: remits.DenialItem) -> s.DenialOut:
    r, line, rem = item.remit, item.line, item.remittance
    denial: Remit | RemitLine = line if line is not None else r  # a denied line, or a claim denied whole
    return s.DenialOut(
        remit_id=r.id,
        line_id=line.id if line else None,
        encounter_id=r.encounter_id,
        claim_number=r.claim_number,
        trace_number=rem.trace_number if rem else None,
        payer=rem.payer_name if rem else None,
        payment_date=r.payment_date,
        received_at=r.received_at,
        line_number=line.line_number if line else None,
        code=line.code if line else None,
        modifiers=list(line.modifiers) if line else [],
        charge=_money(denial.charge),
        paid=_money(denial.paid),
        category=denial.category,
        category_label=_category_label(denial.category),
        coding_related=denial.coding_denial,
        action=denial.action,
        adjustments=_adjustments_out(denial.adjustments),
        remarks=_remarks_out(denial.remarks),
    )


def _input(item: s.EncounterIn) -> workflow.EncounterInput:
    return workflow.EncounterInput(
        documents=tuple(workflow.DocumentInput(d.text, d.kind) for d in item.documents),
        external_id=item.external_id,
        specialty=item.specialty,
        setting=item.setting,
        date_of_service=item.date_of_service,
        patient_age=item.patient.age if item.patient else None,
        patient_sex=item.patient.sex if item.patient else None,
    )


def _coder_failed(index: int, exc: Exception) -> dict[str, Any]:
    return CoderFailedError(
        f"the coder failed on encounter {index} of the batch ({type(exc).__name__}); "
        "nothing was stored for it.",
        "resend the batch: stored encounters are returned as they are and the rest are coded again.",
    ).to_dict()


REMIT_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        "application/edi-x12": {"schema": {"type": "string"}},
    },
}


async def _upload(request: Request) -> bytes:
    """The 835's bytes: the ``file`` part of a multipart form, else the raw body (at most MAX_BYTES + 1)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=10)
        except Exception:  # a malformed multipart body (starlette raises several types)
            raise remits.RemitBodyError(
                "the multipart form could not be read.",
                "send the 835 as the 'file' part of a multipart form.",
            ) from None
        try:
            part = form.get("file")
            if part is None or isinstance(part, str):
                raise remits.RemitBodyError(
                    "the multipart form has no 'file' part with the 835.",
                    "send the X12 835 file as the form field named 'file'.",
                )
            return await part.read(remits.MAX_BYTES + 1)
        finally:
            await form.close()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > remits.MAX_BYTES:
            break
    return b"".join(chunks)


# --- routes -------------------------------------------------------------------------------------


def _routes(api: APIRouter) -> None:
    @api.get("/health", response_model=s.HealthOut, tags=["system"])
    def health(svc: Svc) -> s.HealthOut:
        try:
            with svc.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            db_state = "ok"
        except Exception as exc:
            db_state = f"unavailable ({type(exc).__name__})"
        try:
            svc.kb()
            kb_state = "ok"
        except ChartcodeError as exc:
            kb_state = f"unavailable ({exc.code})"
        ok = db_state == "ok" and kb_state == "ok"
        return s.HealthOut(status="ok" if ok else "degraded", db=db_state, kb=kb_state)

    # auth and users
    @api.post("/auth/login", response_model=s.LoginOut, tags=["auth"], responses={401: ERRORS[401]})
    def login(body: s.LoginIn, db: Db) -> s.LoginOut:
        token, user = accounts.login(db, body.username, body.password)
        return s.LoginOut(token=token, user=_user_out(user))

    @api.post("/auth/logout", response_model=s.OkOut, tags=["auth"], responses=ERRORS)
    def logout(who: Anyone, db: Db) -> s.OkOut:
        accounts.logout(db, who.user, who.token)
        return s.OkOut(ok=True)

    @api.get("/me", response_model=s.UserOut, tags=["auth"], responses=ERRORS)
    def me(who: Anyone) -> s.UserOut:
        return _user_out(who.user)

    @api.post("/tokens", response_model=s.TokenOut, status_code=201, tags=["auth"], responses=ERRORS)
    def new_token(body: s.TokenIn, who: Anyone, db: Db) -> s.TokenOut:
        return s.TokenOut(token=accounts.create_api_token(db, who.user, body.name), name=body.name)

    @api.get("/users", response_model=list[s.UserOut], tags=["auth"], responses=ERRORS)
    def users(who: Admin, db: Db) -> list[s.UserOut]:
        return [_user_out(u) for u in accounts.list_users(db)]

    @api.post(
        "/users",
        response_model=s.UserOut,
        status_code=201,
        tags=["auth"],
        responses=ERRORS | {409: {"model": s.Problem, "description": "Username taken"}},
    )
    def new_user(body: s.UserIn, who: Admin, db: Db) -> s.UserOut:
        return _user_out(accounts.create_user(db, who.user, body.username, body.password, body.role))

    # encounters
    @api.get("/encounters", response_model=s.QueueOut, tags=["encounters"], responses=ERRORS)
    def queue(
        who: Anyone,
        db: Db,
        status: s.EncounterStatus | None = None,
        specialty: Annotated[s.Text | None, Query(max_length=80)] = None,
        max_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
        sort: Literal["age", "-age", "confidence"] = "age",
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=s.MAX_ID)] = 0,
    ) -> s.QueueOut:
        rows, total = workflow.list_encounters(
            db,
            status=status,
            specialty=specialty,
            max_confidence=max_confidence,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        names = _names(db, {r.encounter.assigned_to for r in rows})
        items = [
            s.QueueItem(
                id=r.encounter.id,
                external_id=r.encounter.external_id,
                status=r.encounter.status,
                specialty=r.encounter.specialty,
                setting=r.encounter.setting,
                date_of_service=r.encounter.date_of_service,
                created_at=r.encounter.created_at,
                age_hours=workflow.age_hours(r.encounter),
                min_confidence=r.min_confidence,
                n_suggestions=r.n_suggestions,
                version=r.encounter.version,
                assigned_to=names.get(r.encounter.assigned_to) if r.encounter.assigned_to else None,
            )
            for r in rows
        ]
        return s.QueueOut(items=items, total=total)

    @api.post(
        "/encounters",
        response_model=s.EncounterOut,
        status_code=201,
        tags=["encounters"],
        responses=ERRORS | UNAVAILABLE | {200: {"model": s.EncounterOut, "description": "Already stored"}},
    )
    def submit(
        body: s.EncounterIn, who: Submitter, db: Db, svc: Svc
    ) -> Any:
        try:
            enc, created = workflow.intake(db, who.user, _input(body), svc.coder())
        except ChartcodeError:
            raise
        except Exception as exc:
            db.rollback()
            raise CoderFailedError(
                f"the coder failed on this encounter ({type(exc).__name__}); nothing was stored.",
                "try again; if it keeps failing, report it with the encounter's external id.",
            ) from None
        out = detail(db, enc)
        if not created:
            return JSONResponse(out.model_dump(mode="json"), status_code=200)
        return out

    @api.post(
        "/encounters/batch", response_model=s.BatchOut, tags=["encounters"], responses=ERRORS | UNAVAILABLE
    )
    def batch(
        body: s.BatchIn, who: Submitter, db: Db, svc: Svc
    ) -> s.BatchOut:
        coder = svc.coder()
        results = workflow.intake_batch(
            db, who.user, [_input(e) for e in body.encounters], coder, on_error=_coder_failed
        )
        return s.BatchOut(
            results=[
                s.BatchItemOut(index=r.index, id=r.id, created=r.created if r.id else None, error=r.error)
                for r in results
            ]
        )

    @api.get(
        "/encounters/{encounter_id}",
        response_model=s.EncounterOut,
        tags=["encounters"],
        responses=ERRORS | NOT_FOUND,
    )
    def encounter(encounter_id: IdPath, who: Anyone, db: Db) -> s.EncounterOut:
        return detail(db, workflow.get_encounter(db, encounter_id))

    @api.post(
        "/encounters/{encounter_id}/decisions",
        response_model=s.EncounterOut,
        tags=["review"],
        responses=ERRORS | NOT_FOUND | CONFLICT,
    )
    def decide(encounter_id: IdPath, body: s.DecisionIn, who: Worker, db: Db) -> s.EncounterOut:
        enc = workflow.decide(
            db,
            who.user,
            encounter_id,
            body.suggestion_id,
            body.action,
            body.version,
            code=body.code,
            reason=body.reason,
        )
        return detail(db, enc)

    @api.post(
        "/encounters/{encounter_id}/codes",
        response_model=s.EncounterOut,
        tags=["review"],
        responses=ERRORS | NOT_FOUND | CONFLICT,
    )
    def add_code(encounter_id: IdPath, body: s.AddCodeIn, who: Worker, db: Db) -> s.EncounterOut:
        return detail(db, workflow.add_code(db, who.user, encounter_id, body.code, body.reason, body.version))

    @api.post(
        "/encounters/{encounter_id}/complete",
        response_model=s.EncounterOut,
        tags=["review"],
        responses=ERRORS | NOT_FOUND | CONFLICT,
    )
    def complete(encounter_id: IdPath, body: s.VersionIn, who: Worker, db: Db) -> s.EncounterOut:
        return detail(db, workflow.complete(db, who.user, encounter_id, body.version))

    @api.post(
        "/encounters/{encounter_id}/check",
        response_model=s.FindingsOut,
        tags=["review"],
        responses=ERRORS | NOT_FOUND | UNAVAILABLE,
    )
    def check(
        encounter_id: IdPath, who: Checker, db: Db, svc: Svc
    ) -> s.FindingsOut:
        workflow.get_encounter(db, encounter_id)

        def run(claim: dict[str, Any]) -> list[dict[str, Any]]:
            from chartcode.edits.api import check as scrub

            with svc.using_kb() as kb:
                return [f.to_dict() for f in scrub(claim, kb).findings]

        findings = workflow.check_encounter(db, who.user, encounter_id, run)
        return s.FindingsOut(findings=[s.FindingOut(**f) for f in findings])

    @api.get(
        "/encounters/{encounter_id}/claim",
        response_model=s.ClaimOut,
        tags=["review"],
        responses=ERRORS | NOT_FOUND,
    )
    def export_claim(encounter_id: IdPath, who: Anyone, db: Db) -> s.ClaimOut:
        enc = workflow.get_encounter(db, encounter_id)
        latest = workflow.latest_claim(db, encounter_id)
        return s.ClaimOut(
            claim=workflow.build_claim(enc),
            findings=_findings_out(latest.findings if latest is not None else []),
            checked_at=latest.created_at if latest is not None else None,
        )

    # provider queries
    @api.post(
        "/encounters/{encounter_id}/queries",
        response_model=s.QueryOut,
        status_code=201,
        tags=["queries"],
        responses=ERRORS | NOT_FOUND,
    )
    def new_query(encounter_id: IdPath, body: s.QueryIn, who: Worker, db: Db) -> s.QueryOut:
        q = workflow.create_query(db, who.user, encounter_id, body.question, body.suggestion_id)
        return _query_out(q, _names(db, {q.created_by}))

    @api.get("/queries", response_model=list[s.QueryOut], tags=["queries"], responses=ERRORS)
    def queries(who: Anyone, db: Db, status: s.QueryStatus | None = None) -> list[s.QueryOut]:
        rows = workflow.list_queries(db, status)
        names = _names(db, {q.created_by for q in rows})
        return [_query_out(q, names) for q in rows]

    @api.patch(
        "/queries/{query_id}", response_model=s.QueryOut, tags=["queries"], responses=ERRORS | NOT_FOUND
    )
    def update_query(query_id: IdPath, body: s.QueryPatch, who: Worker, db: Db) -> s.QueryOut:
        q = workflow.update_query(db, who.user, query_id, body.status, body.answer)
        return _query_out(q, _names(db, {q.created_by}))

    # second review and audit
    @api.post("/review/sample", response_model=s.SampleOut, tags=["audit"], responses=ERRORS)
    def sample(body: s.SampleIn, who: Overseer, db: Db) -> s.SampleOut:
        chosen = workflow.sample_for_review(db, who.user, body.rate, body.low_confidence_below, body.seed)
        return s.SampleOut(selected=chosen)

    @api.post(
        "/encounters/{encounter_id}/audit",
        response_model=s.EncounterOut,
        tags=["audit"],
        responses=ERRORS | NOT_FOUND,
    )
    def verdict(encounter_id: IdPath, body: s.AuditIn, who: Auditor, db: Db) -> s.EncounterOut:
        enc = workflow.audit_encounter(
            db, who.user, encounter_id, body.agree, body.corrected_codes, body.note
        )
        return detail(db, enc)

    @api.get("/audit", response_model=s.AuditOut, tags=["audit"], responses=ERRORS)
    def audit_log(
        who: Overseer,
        db: Db,
        encounter_id: Annotated[int | None, Query(ge=1, le=s.MAX_ID)] = None,
        user: Annotated[s.Text | None, Query(max_length=80)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=s.MAX_ID)] = 0,
    ) -> s.AuditOut:
        rows, total = audit.list_audit(db, encounter_id=encounter_id, user=user, limit=limit, offset=offset)
        items = [
            s.AuditRow(
                id=r.id,
                at=r.at,
                user=r.username,
                action=r.action,
                entity=r.entity,
                entity_id=r.entity_id,
                encounter_id=r.encounter_id,
                before=r.before,
                after=r.after,
            )
            for r in rows
        ]
        return s.AuditOut(items=items, total=total)

    @api.get("/kpis", response_model=s.KpiOut, response_model_by_alias=True, tags=["audit"], responses=ERRORS)
    def kpi(
        who: Overseer,
        db: Db,
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
    ) -> s.KpiOut:
        if first and last and first > last:
            raise InputError(f"'from' ({first}) is after 'to' ({last}).", "swap the dates.")
        return s.KpiOut.model_validate(kpis.compute(db, first, last))

    # remittances
    @api.post(
        "/remits",
        response_model=s.RemitPostOut,
        status_code=201,
        tags=["remits"],
        responses=ERRORS
        | CONFLICT
        | {
            200: {"model": s.RemitPostOut, "description": "Every payment in the file was posted before"},
            422: {"model": s.ValidationProblem, "description": "Not a valid 5010 835 (with the segment)"},
        },
        openapi_extra={"requestBody": REMIT_BODY},
    )
    async def post_remit(request: Request, who: Poster, db: Db) -> Any:
        """Post an X12 5010 835: match each claim payment to its encounter's claim, classify and store it.

        Send the file as the ``file`` part of a multipart form, or as the request body
        (``Content-Type: application/edi-x12``). Posting a payment already posted (same payer and TRN
        trace number) stores nothing again; a malformed file stores nothing at all.
        """
        raw = await _upload(request)
        parsed = await run_in_threadpool(remits.parse_upload, raw)
        summary = await run_in_threadpool(remits.post_835, db, who.user, parsed)
        out = s.RemitPostOut.model_validate(summary.to_dict())
        if summary.remittances == 0:
            return JSONResponse(out.model_dump(mode="json"), status_code=200)
        return out

    @api.get("/remits", response_model=s.DenialsOut, tags=["remits"], responses=ERRORS)
    def denials(
        who: Anyone,
        db: Db,
        category: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
        coding_related: bool | None = None,
        encounter_id: Annotated[int | None, Query(ge=1, le=s.MAX_ID)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> s.DenialsOut:
        """Denials to rework (newest first): denied service lines and claims denied as a whole."""
        items, total = remits.list_denials(
            db,
            category=category,
            coding_related=coding_related,
            encounter_id=encounter_id,
            limit=limit,
            offset=offset,
        )
        return s.DenialsOut(items=[_denial_out(i) for i in items], total=total)

    # codes
    @api.get("/codes/search", response_model=list[s.CodeHit], tags=["codes"], responses=ERRORS | UNAVAILABLE)
    def code_search(
        who: Anyone,
        svc: Svc,
        q: Annotated[s.Text, Query(min_length=1, max_length=200)],
        limit: Annotated[int, Query(ge=1, le=50)] = 10,
        day: Annotated[date | None, Query(alias="date")] = None,
    ) -> list[s.CodeHit]:
        with svc.using_kb() as kb:
            hits = kb.search(q, day, None, limit)
        return [
            s.CodeHit(
                code=h.code, description=h.description_or_title, path=h.path, system=h.system, kind=h.kind
            )
            for h in hits
        ]

    @api.get(
        "/codes/{code}",
        response_model=s.CodeLookupOut,
        tags=["codes"],
        responses=ERRORS | NOT_FOUND | UNAVAILABLE,
    )
    def code_lookup(
        code: Annotated[str, PathParam(min_length=1, max_length=12, pattern=r"^[A-Za-z0-9.]+$")],
        who: Anyone,
        svc: Svc,
        day: Annotated[date | None, Query(alias="date")] = None,
    ) -> s.CodeLookupOut:
        with svc.using_kb() as kb:
            found = kb.lookup(code, day).to_dict()
        return s.CodeLookupOut.model_validate(found)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application: API under ``/api``, the workbench's static files at ``/`` when they exist."""
    settings = settings or Settings()
    app = FastAPI(
        title="chartcode",
        version=_version(),
        description="Medical coding workbench API: encounters, suggestions, decisions, queries, audit, KPIs.",
    )
    app.state.services = Services(settings)

    @app.exception_handler(ChartcodeError)
    async def _chartcode_error(request: Request, exc: ChartcodeError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _field_errors(exc)}, status_code=422)

    router = APIRouter(prefix="/api")
    _routes(router)
    app.include_router(router)
    if settings.static_dir is not None and settings.static_dir.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/", StaticFiles(directory=settings.static_dir, html=True), name="workbench")
    app.add_middleware(SafeLogging)
    return app


def _version() -> str:
    from chartcode import __version__

    return __version__
