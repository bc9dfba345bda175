"""The persistent model: SQLAlchemy 2.x ORM over SQLite (default) or PostgreSQL.

Times are stored as naive UTC and read back as aware UTC (:class:`UTCDateTime`), so both databases
behave the same. The schema is created by the Alembic migrations in ``chartcode.store.migrations``;
``tests/store`` checks that these classes and the migrated schema agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from chartcode.store.errors import AuditLogImmutableError

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("coder", "auditor", "manager", "admin")
ENCOUNTER_STATUSES = ("new", "in_review", "coded", "query", "second_review", "audited")
SUGGESTION_STATUSES = ("suggested", "accepted", "modified", "rejected", "added")
QUERY_STATUSES = ("open", "answered", "closed")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; stored naive UTC on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(Base):
    """The four roles, as rows (documentation for SQL users and a foreign-key target)."""

    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    description: Mapped[str] = mapped_column(String(200))


class ApiToken(Base):
    """A long-lived token for another system; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Session(Base):
    """A login session; only the token's SHA-256 is stored."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Encounter(Base):
    __tablename__ = "encounters"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(120), unique=True, default=None)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    specialty: Mapped[str | None] = mapped_column(String(80), default=None)
    setting: Mapped[str] = mapped_column(String(20), default="outpatient")
    date_of_service: Mapped[date | None] = mapped_column(Date, default=None)
    patient_age: Mapped[int | None] = mapped_column(Integer, default=None)
    patient_sex: Mapped[str | None] = mapped_column(String(1), default=None)
    release: Mapped[str | None] = mapped_column(String(80), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    coded_at: Mapped[datetime | None] = mapped_column(default=None)
    coded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    documents: Mapped[list[Document]] = relationship(
        back_populates="encounter", order_by="Document.id", lazy="selectin"
    )
    suggestions: Mapped[list[Suggestion]] = relationship(
        back_populates="encounter", order_by="Suggestion.id", lazy="selectin"
    )
    queries: Mapped[list[ProviderQuery]] = relationship(order_by="ProviderQuery.id", lazy="selectin")


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40), default="progress_note")
    text: Mapped[str] = mapped_column(Text)

    encounter: Mapped[Encounter] = relationship(back_populates="documents")


class Suggestion(Base):
    """A code the coder suggested (or a coder added), and its current decision state."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    system: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20), default="suggested")
    final_code: Mapped[str | None] = mapped_column(String(20), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    rationale: Mapped[str | None] = mapped_column(Text, default=None)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(
        default=dict
    )  # modifiers, units, pointers, path, guideline
    release: Mapped[str | None] = mapped_column(String(80), default=None)

    encounter: Mapped[Encounter] = relationship(back_populates="suggestions")


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    action: Mapped[str] = mapped_column(String(20))  # accept | modify | reject | add
    code: Mapped[str | None] = mapped_column(String(20), default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ProviderQuery(Base):
    __tablename__ = "provider_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id"), default=None)
    question: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Claim(Base):
    """A claim built from an encounter's decided codes, as checked by the scrubber."""

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    findings: Mapped[list[ClaimFinding]] = relationship(order_by="ClaimFinding.id", lazy="selectin")


class ClaimFinding(Base):
    __tablename__ = "claim_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    rule: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    fix: Mapped[str] = mapped_column(Text)
    citation: Mapped[str] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer, default=None)


class Remittance(Base):
    """One posted 835 transaction (ST … SE): one payer's payment or notice, unique by payer and TRN trace.

    The patient (NM1*QC) is never stored; the payer and payee are organisations.
    """

    __tablename__ = "remittances"
    __table_args__ = (UniqueConstraint("payer_key", "trace_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payer_key: Mapped[str] = mapped_column(String(120))  # N1*PR N104 id, else the payer's name
    payer_name: Mapped[str] = mapped_column(String(120))
    trace_number: Mapped[str] = mapped_column(String(80))  # TRN02 (check or EFT trace number)
    control_number: Mapped[str] = mapped_column(String(20))  # ST02
    handling: Mapped[str] = mapped_column(String(4))  # BPR01
    payment_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # BPR02 (negative for a debit)
    payment_method: Mapped[str] = mapped_column(String(4))  # BPR04
    payment_date: Mapped[date | None] = mapped_column(Date, default=None)  # BPR16
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    received_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    warnings: Mapped[list[Any]] = mapped_column(default=list)  # balancing findings (rule, segment, message)


class Remit(Base):
    """A payer's answer to a claim (one CLP of an 835): paid, denied, partial (a line denied) or reversal.

    ``encounter_id`` is set when CLP01 is an encounter's claim id (``ENC-<id>``, as exported); ``claim_id``
    points to the encounter's latest checked claim when there is one.
    """

    __tablename__ = "remits"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"), index=True, default=None)
    status: Mapped[str] = mapped_column(String(20))  # paid | denied | partial | reversal
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    remittance_id: Mapped[int | None] = mapped_column(ForeignKey("remittances.id"), index=True, default=None)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"), index=True, default=None)
    claim_number: Mapped[str | None] = mapped_column(String(40), default=None)  # CLP01
    claim_status: Mapped[str | None] = mapped_column(String(4), default=None)  # CLP02
    segment: Mapped[int | None] = mapped_column(Integer, default=None)  # segment number of the CLP
    charge: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    paid: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    patient_responsibility: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    payer_control_number: Mapped[str | None] = mapped_column(String(50), default=None)  # CLP07
    frequency: Mapped[str | None] = mapped_column(String(2), default=None)  # CLP09
    payment_date: Mapped[date | None] = mapped_column(Date, default=None)  # BPR16 of its remittance
    denied: Mapped[bool] = mapped_column(Boolean, default=False)
    coding_denial: Mapped[bool] = mapped_column(Boolean, default=False)
    has_denial: Mapped[bool] = mapped_column(Boolean, default=False)  # any denial adjustment, claim or line
    category: Mapped[str | None] = mapped_column(String(40), default=None)  # claim-level denial's category
    action: Mapped[str | None] = mapped_column(Text, default=None)  # and its rework action
    days_to_pay: Mapped[int | None] = mapped_column(Integer, default=None)
    adjustments: Mapped[list[Any]] = mapped_column(default=list)  # claim-level CAS, classified
    remarks: Mapped[list[Any]] = mapped_column(default=list)  # MOA/MIA remark codes
    match_notes: Mapped[list[Any]] = mapped_column(default=list)

    lines: Mapped[list[RemitLine]] = relationship(order_by="RemitLine.id", lazy="selectin")


class RemitLine(Base):
    """One service payment (SVC) of a claim payment, matched to a line of the encounter's claim."""

    __tablename__ = "remit_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    remit_id: Mapped[int] = mapped_column(ForeignKey("remits.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounters.id"), index=True, default=None)
    segment: Mapped[int] = mapped_column(Integer)  # segment number of the SVC
    line_number: Mapped[int | None] = mapped_column(Integer, default=None)  # the claim line it matched
    match: Mapped[str | None] = mapped_column(String(30), default=None)
    code: Mapped[str] = mapped_column(String(20))
    modifiers: Mapped[list[Any]] = mapped_column(default=list)
    units: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    charge: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    paid: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    allowed: Mapped[Decimal | None] = mapped_column(Numeric(14, 2), default=None)
    service_date: Mapped[date | None] = mapped_column(Date, default=None)
    denied: Mapped[bool] = mapped_column(Boolean, default=False)
    coding_denial: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    category: Mapped[str | None] = mapped_column(String(40), default=None, index=True)  # first denial's
    action: Mapped[str | None] = mapped_column(Text, default=None)
    adjustments: Mapped[list[Any]] = mapped_column(default=list)  # CAS, classified
    remarks: Mapped[list[Any]] = mapped_column(default=list)  # LQ*HE remark codes
    match_notes: Mapped[list[Any]] = mapped_column(default=list)


class AuditVerdict(Base):
    """A second reviewer's verdict on a coded encounter."""

    __tablename__ = "audit_verdicts"
    __table_args__ = (UniqueConstraint("encounter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounters.id"))
    auditor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    agree: Mapped[bool] = mapped_column(Boolean)
    coder_codes: Mapped[list[Any]] = mapped_column(default=list)  # the final codes the auditor saw
    # the auditor's codes (the coder's when agreeing; None: disagreed without giving codes)
    corrected_codes: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    """Append-only: who did what, when, with the entity before and after. No code path updates or deletes."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    username: Mapped[str | None] = mapped_column(String(80), default=None, index=True)
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer, default=None)
    encounter_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


def _refuse(mapper: Mapper[Any], connection: object, target: AuditLog) -> None:
    raise AuditLogImmutableError(
        f"audit_log row {target.id} cannot be changed or deleted.", "append a new audit row instead."
    )


event.listen(AuditLog, "before_update", _refuse)
event.listen(AuditLog, "before_delete", _refuse)
