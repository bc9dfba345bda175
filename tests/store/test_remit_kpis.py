"""Remittance KPIs on constructed claim payments, and the 0002 migration down and up again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from chartcode.review import kpis
from chartcode.store.db import MIGRATIONS, current_revision, upgrade
from chartcode.store.models import Remit, RemitLine, Remittance
from tests.store.backends import Database

FEB = datetime(2026, 2, 10, 12, tzinfo=UTC)


def _remittance(session: Session, trace: str) -> Remittance:
    row = Remittance(
        payer_key="TRN03:1512345678",
        payer_name="TEST HEALTH PLAN",
        trace_number=trace,
        control_number="0001",
        handling="I",
        payment_amount=Decimal("100.00"),
        payment_method="CHK",
        payment_date=date(2026, 2, 6),
        received_at=FEB,
    )
    session.add(row)
    session.flush()
    return row


def _remit(session: Session, remittance: Remittance, number: str, status: str, **kw: Any) -> Remit:
    lines: list[tuple[bool, bool]] = kw.pop("lines", [])
    row = Remit(
        remittance_id=remittance.id,
        claim_number=number,
        status=status,
        claim_status=kw.pop(
            "claim_status", "4" if status == "denied" else "22" if status == "reversal" else "1"
        ),
        received_at=kw.pop("received_at", FEB),
        **kw,
    )
    session.add(row)
    session.flush()
    for n, (denied, coding) in enumerate(lines, start=1):
        session.add(
            RemitLine(
                remit_id=row.id,
                segment=20 + n,
                code="99213",
                units=Decimal(1),
                charge=Decimal(120),
                paid=Decimal(0) if denied else Decimal(100),
                denied=denied,
                coding_denial=coding,
            )
        )
    return row


def test_denial_first_pass_and_days_to_pay_kpis(session: Session) -> None:
    r = _remittance(session, "TRC1")
    _remit(session, r, "ENC-1", "paid", days_to_pay=10, lines=[(False, False), (False, False)])
    _remit(
        session,
        r,
        "ENC-2",
        "partial",
        has_denial=True,
        coding_denial=True,
        days_to_pay=20,
        lines=[(True, True), (False, False)],
    )
    _remit(session, r, "ENC-3", "denied", denied=True, has_denial=True)  # denied as a whole, no lines
    # ENC-4: paid, reversed, paid again as a replacement claim (frequency 7)
    _remit(session, r, "ENC-4", "paid", payment_date=date(2026, 2, 1), days_to_pay=30, lines=[(False, False)])
    _remit(session, r, "ENC-4", "reversal", payment_date=date(2026, 2, 5))
    _remit(
        session,
        r,
        "ENC-4",
        "paid",
        payment_date=date(2026, 2, 5),
        frequency="7",
        days_to_pay=40,
        lines=[(False, False)],
    )
    later = datetime(2026, 3, 15, 9, tzinfo=UTC)
    _remit(session, _remittance(session, "TRC2"), "ENC-5", "denied", denied=True, received_at=later)
    session.commit()

    k = kpis.compute(session, date(2026, 2, 1), date(2026, 2, 28))
    assert (k["remits"], k["remit_lines"]) == (6, 6)  # the reversal counts as a remit, not as adjudicated
    assert k["denial_rate"] == 0.4  # ENC-2 (a line) and ENC-3 (the claim) of 5 adjudications
    assert k["coding_denial_rate"] == 0.2  # ENC-2
    assert k["line_denial_rate"] == round(1 / 6, 4)
    assert k["first_pass_resolution"] == 0.25  # ENC-1 of ENC-1..4
    assert k["days_to_pay_median"] == 25.0  # 10, 20, 30, 40

    march = kpis.compute(session, date(2026, 3, 1), date(2026, 3, 31))
    assert (march["remits"], march["denial_rate"], march["first_pass_resolution"]) == (1, 1.0, 0.0)
    assert march["coding_denial_rate"] == 0.0 and march["days_to_pay_median"] is None
    empty = kpis.compute(session, date(2025, 1, 1), date(2025, 1, 31))
    assert [empty[f] for f in ("denial_rate", "coding_denial_rate", "line_denial_rate")] == [None] * 3
    assert (empty["first_pass_resolution"], empty["days_to_pay_median"]) == (None, None)


def test_the_remittance_migration_goes_down_and_up_again(database: Database) -> None:
    engine = database.engine()
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
    assert current_revision(engine) == "0001"
    tables = set(inspect(engine).get_table_names())
    assert "remits" in tables and not tables & {"remittances", "remit_lines"}
    assert "encounter_id" not in {c["name"] for c in inspect(engine).get_columns("remits")}
    upgrade(engine)
    assert current_revision(engine) == "0002"
    assert {"remittances", "remit_lines"} <= set(inspect(engine).get_table_names())
    engine.dispose()
