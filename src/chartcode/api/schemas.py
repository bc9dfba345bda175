"""Request and response models of the HTTP API (they make the OpenAPI document complete)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

MAX_ID = 2**31 - 1
Role = Literal["coder", "auditor", "manager", "admin"]
EncounterStatus = Literal["new", "in_review", "coded", "query", "second_review", "audited"]
SuggestionStatus = Literal["suggested", "accepted", "modified", "rejected", "added"]
QueryStatus = Literal["open", "answered", "closed"]
DocumentKind = Literal[
    "progress_note", "discharge_summary", "operative_report", "consult", "radiology", "pathology", "other"
]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auth and users -----------------------------------------------------------------------------


class LoginIn(_In):
    username: Text = Field(min_length=1, max_length=80)
    password: Text = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    id: int
    username: str
    role: Role


class LoginOut(BaseModel):
    token: str
    user: UserOut


class UserIn(_In):
    username: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: Text = Field(min_length=8, max_length=200)
    role: Role


class TokenIn(_In):
    name: Text = Field(min_length=1, max_length=120)


class TokenOut(BaseModel):
    token: str
    name: str


class Problem(BaseModel):
    """An error: what is wrong and, where there is one, the fix (``code`` is chartcode's error code)."""

    detail: str
    code: str | None = None
    fix: str | None = None


class OkOut(BaseModel):
    ok: bool


# --- encounters ---------------------------------------------------------------------------------


class PatientIn(_In):
    age: int | None = Field(default=None, ge=0, le=130)
    sex: Literal["F", "M"] | None = None


class DocumentIn(_In):
    text: Text = Field(min_length=1, max_length=200_000)
    kind: DocumentKind = "progress_note"


class EncounterIn(_In):
    external_id: Text | None = Field(default=None, min_length=1, max_length=120)
    specialty: Text | None = Field(default=None, min_length=1, max_length=80)
    setting: Literal["outpatient", "inpatient"] = "outpatient"
    date_of_service: date | None = None
    patient: PatientIn | None = None
    documents: list[DocumentIn] = Field(min_length=1, max_length=20)


class BatchIn(_In):
    encounters: list[EncounterIn] = Field(min_length=1, max_length=200)


class BatchItemOut(BaseModel):
    index: int
    id: int | None = None
    created: bool | None = None
    error: dict[str, Any] | None = None


class BatchOut(BaseModel):
    results: list[BatchItemOut]


class QueueItem(BaseModel):
    id: int
    external_id: str | None
    status: EncounterStatus
    specialty: str | None
    setting: str
    date_of_service: date | None
    created_at: datetime
    age_hours: float
    min_confidence: float | None
    n_suggestions: int
    version: int
    assigned_to: str | None


class QueueOut(BaseModel):
    items: list[QueueItem]
    total: int


class EvidenceOut(BaseModel):
    document_id: int
    start: int
    end: int
    text: str


class SuggestionOut(BaseModel):
    id: int
    code: str
    system: Literal["ICD-10-CM", "CPT", "HCPCS"]
    description: str | None
    kind: Literal["diagnosis", "procedure", "em"]
    status: SuggestionStatus
    final_code: str | None
    reason: str | None
    confidence: float | None
    rationale: str | None
    evidence: list[EvidenceOut]
    path: str | None = None
    guideline: str | None = None
    modifiers: list[str] = []
    units: int | None = None


class FindingOut(BaseModel):
    rule: str
    severity: str
    message: str
    fix: str
    citation: str
    line: int | None = None


class FindingsOut(BaseModel):
    findings: list[FindingOut]


class ClaimOut(BaseModel):
    """The claim for the encounter's decided codes (the scrubber's claim JSON) and its latest check."""

    claim: dict[str, Any]
    findings: list[FindingOut]
    checked_at: datetime | None


class QueryOut(BaseModel):
    id: int
    encounter_id: int
    suggestion_id: int | None
    question: str
    status: QueryStatus
    answer: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class PatientOut(BaseModel):
    age: int | None
    sex: str | None


class DocumentOut(BaseModel):
    id: int
    kind: str
    text: str


class EncounterOut(BaseModel):
    id: int
    external_id: str | None
    status: EncounterStatus
    version: int
    specialty: str | None
    setting: str
    date_of_service: date | None
    created_at: datetime
    coded_at: datetime | None
    assigned_to: str | None
    patient: PatientOut | None
    release: str | None
    documents: list[DocumentOut]
    suggestions: list[SuggestionOut]
    final_codes: list[str]
    findings: list[FindingOut]
    queries: list[QueryOut]
    remits: list[RemitOut] = []


class DecisionIn(_In):
    suggestion_id: int = Field(ge=1, le=MAX_ID)
    action: Literal["accept", "modify", "reject"]
    code: Text | None = Field(default=None, max_length=20, validate_default=True)
    reason: Text | None = Field(default=None, max_length=2000, validate_default=True)
    version: int = Field(ge=1, le=MAX_ID)

    @field_validator("code")
    @classmethod
    def _code_for_modify(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("action") == "modify" and not (value and value.strip()):
            raise ValueError("modify needs the code to report instead")
        return value

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str | None, info: ValidationInfo) -> str | None:
        action = info.data.get("action")
        if action in ("modify", "reject") and not (value and value.strip()):
            raise ValueError(f"{action} needs a reason")
        return value


class AddCodeIn(_In):
    code: Text = Field(min_length=1, max_length=20)
    reason: Text = Field(min_length=1, max_length=2000)
    version: int = Field(ge=1, le=MAX_ID)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("adding a code needs a reason")
        return value


class VersionIn(_In):
    version: int = Field(ge=1, le=MAX_ID)


class QueryIn(_In):
    question: Text = Field(min_length=1, max_length=5000)
    suggestion_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class QueryPatch(_In):
    status: QueryStatus
    answer: Text | None = Field(default=None, max_length=5000, validate_default=True)

    @field_validator("answer")
    @classmethod
    def _answer(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("status") == "answered" and not (value and value.strip()):
            raise ValueError("an answered query needs the provider's answer")
        return value


class SampleIn(_In):
    rate: float = Field(ge=0, le=1)
    low_confidence_below: float = Field(default=0, ge=0, le=1)
    seed: int | None = Field(default=None, ge=0, le=MAX_ID)


class SampleOut(BaseModel):
    selected: list[int]


class AuditIn(_In):
    agree: bool
    corrected_codes: list[Annotated[str, Field(min_length=1, max_length=20)]] | None = Field(
        default=None, max_length=50
    )
    note: Text | None = Field(default=None, max_length=5000)


class AuditRow(BaseModel):
    id: int
    at: datetime
    user: str | None
    action: str
    entity: str
    entity_id: int | None
    encounter_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditOut(BaseModel):
    items: list[AuditRow]
    total: int


class DayKpi(BaseModel):
    day: date
    coded: int
    accepted: int
    modified: int
    rejected: int


class CoderKpi(BaseModel):
    user: str
    coded: int
    active_hours: float
    charts_per_hour: float | None
    accepted: int
    modified: int
    rejected: int


class KpiOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    accuracy: float | None
    code_accuracy: float | None
    audited: int
    coded: int
    turnaround_hours_median: float | None
    charts_per_hour: float | None
    decisions: int
    acceptance_rate: float | None
    modification_rate: float | None
    rejection_rate: float | None
    claims: int
    edit_rate: float | None
    remits: int
    denial_rate: float | None
    remit_lines: int = 0
    coding_denial_rate: float | None = None
    line_denial_rate: float | None = None
    first_pass_resolution: float | None = None
    days_to_pay_median: float | None = None
    by_day: list[DayKpi]
    by_coder: list[CoderKpi]


class CodeHit(BaseModel):
    code: str
    description: str
    path: str
    system: str
    kind: str


class CodeLookupOut(BaseModel):
    """``chartcode lookup`` as JSON: description, billable, validity spans, conventions and edits."""

    code: str
    system: str
    description: str | None
    description_release: str | None
    billable: bool
    validity: list[dict[str, str | None]]
    valid_on_date: bool | None
    date: str | None
    conventions: dict[str, Any]
    edits: dict[str, Any]
    hierarchy: list[dict[str, str]]
    notes: list[str]


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    db: str
    kb: str


# --- remittances (835) --------------------------------------------------------------------------


class RemitAdjustmentOut(BaseModel):
    """One CAS adjustment, classified: group-CARC, amount, category, plain-words reason and rework action."""

    group: str
    reason: str
    key: str
    amount: float
    quantity: float | None = None
    segment: int
    category: str
    category_label: str
    description: str
    coding_related: bool
    denial: bool
    action: str
    citation: str
    remark: str | None = None


class RemarkOut(BaseModel):
    """A remittance advice remark code (RARC) with chartcode's plain-words description."""

    code: str
    label: str | None


class RemitLineOut(BaseModel):
    id: int
    segment: int
    line_number: int | None
    match: str | None
    code: str
    modifiers: list[str]
    units: float
    charge: float
    paid: float
    allowed: float | None
    service_date: date | None
    denied: bool
    coding_denial: bool
    category: str | None
    category_label: str | None
    action: str | None
    adjustments: list[RemitAdjustmentOut]
    remarks: list[RemarkOut]
    match_notes: list[str]


class RemitOut(BaseModel):
    """What the payer paid or denied on the encounter's claim (one CLP of a posted 835)."""

    id: int
    claim_number: str | None
    encounter_id: int | None
    trace_number: str | None
    payer: str | None
    payment_date: date | None
    received_at: datetime
    status: Literal["paid", "denied", "partial", "reversal"]
    claim_status: str | None
    claim_status_label: str | None
    charge: float | None
    paid: float | None
    patient_responsibility: float | None
    denied: bool
    coding_denial: bool
    category: str | None
    category_label: str | None
    action: str | None
    days_to_pay: int | None
    adjustments: list[RemitAdjustmentOut]
    remarks: list[RemarkOut]
    match_notes: list[str]
    lines: list[RemitLineOut]


class RemitWarningOut(BaseModel):
    rule: str
    segment: int
    message: str
    fix: str


class RemitPostOut(BaseModel):
    """What posting an 835 stored. ``coding_denials`` counts coding-denied service lines plus claims
    denied for coding as a whole without service lines."""

    remittances: int
    already_posted: int
    trace_numbers: list[str]
    claims: int
    claims_matched: int
    claims_unmatched: int
    unmatched_claim_ids: list[str]
    claims_denied: int
    lines: int
    lines_matched: int
    denied_lines: int
    coding_denials: int
    paid: float
    encounters: list[int]
    warnings: list[RemitWarningOut]


class DenialOut(BaseModel):
    """A denial to rework: a denied service line, or a claim denied as a whole (``line_id`` null)."""

    remit_id: int
    line_id: int | None
    encounter_id: int | None
    claim_number: str | None
    trace_number: str | None
    payer: str | None
    payment_date: date | None
    received_at: datetime
    line_number: int | None
    code: str | None
    modifiers: list[str]
    charge: float | None
    paid: float | None
    category: str | None
    category_label: str | None
    coding_related: bool
    action: str | None
    adjustments: list[RemitAdjustmentOut]
    remarks: list[RemarkOut]


class DenialsOut(BaseModel):
    items: list[DenialOut]
    total: int


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    code: str | None = None
    fix: str | None = None
    segment: int | None = None


class ValidationProblem(BaseModel):
    """A request that cannot be processed, with field-level errors (``segment``: the 835 segment number)."""

    detail: list[FieldProblem]


EncounterOut.model_rebuild()
