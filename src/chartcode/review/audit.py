"""The append-only audit log: every write of the workflow adds its row here, in the same transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from chartcode.store.models import AuditLog, User, utcnow


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def record(
    db: DbSession,
    actor: User | None,
    action: str,
    entity: str,
    entity_id: int | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    encounter_id: int | None = None,
) -> AuditLog:
    """Add one audit row to the current transaction (the caller commits it with its change).

    ``before``/``after`` hold ids, codes, statuses and decisions, never document text or patient details.
    """
    row = AuditLog(
        at=utcnow(),
        user_id=actor.id if actor is not None else None,
        username=actor.username if actor is not None else None,
        action=action,
        entity=entity,
        entity_id=entity_id,
        encounter_id=encounter_id
        if encounter_id is not None
        else (entity_id if entity == "encounter" else None),
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
    )
    db.add(row)
    return row


def list_audit(
    db: DbSession,
    *,
    encounter_id: int | None = None,
    user: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditLog], int]:
    query = select(AuditLog)
    if encounter_id is not None:
        query = query.where(AuditLog.encounter_id == encounter_id)
    if user:
        query = query.where(AuditLog.username == user)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(AuditLog.id.desc()).limit(limit).offset(offset))
    return list(rows), total
