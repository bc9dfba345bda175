"""Demo data for ``chartcode serve --demo``: four users (one per role) and synthetic encounters."""

from __future__ import annotations

import json
import secrets
from datetime import date
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from chartcode.assign.api import CoderLike
from chartcode.errors import ChartcodeError
from chartcode.review import accounts, workflow
from chartcode.store.models import ROLES, User

DEMO_USERS = {"admin": "admin", "coder": "coder", "auditor": "auditor", "manager": "manager"}  # name -> role


def create_demo_users(db: DbSession) -> dict[str, str | None]:
    """Create admin/coder/auditor/manager with fresh random passwords: {name: password, or None if kept}."""
    out: dict[str, str | None] = {}
    for name, role in DEMO_USERS.items():
        assert role in ROLES
        if db.scalar(select(User.id).where(User.username == name)) is not None:
            out[name] = None
            continue
        password = f"{name}-{secrets.token_urlsafe(6)}"
        accounts.create_user(db, None, name, password, role)
        out[name] = password
    return out


def demo_encounters() -> list[dict[str, Any]]:
    text = resources.files("chartcode.review").joinpath("data/demo_encounters.json").read_text("utf-8")
    data: list[dict[str, Any]] = json.loads(text)
    return data


def load_demo(db: DbSession, coder: CoderLike) -> list[workflow.BatchItemResult]:
    """Intake the synthetic encounters (idempotent on their external ids)."""
    items: list[workflow.EncounterInput | ChartcodeError] = []
    for e in demo_encounters():
        patient = e.get("patient") or {}
        documents = tuple(
            workflow.DocumentInput(d["text"], d.get("kind", "progress_note")) for d in e["documents"]
        )
        day = e.get("date_of_service")
        items.append(
            workflow.EncounterInput(
                documents=documents,
                external_id=e["external_id"],
                specialty=e.get("specialty"),
                setting=e.get("setting", "outpatient"),
                date_of_service=date.fromisoformat(day) if day else None,
                patient_age=patient.get("age"),
                patient_sex=patient.get("sex"),
            )
        )
    return workflow.intake_batch(db, None, items, coder)
