"""Remittances: posted 835 transactions, claim payments (the existing ``remits`` table, extended) and
service-line payments with their classified adjustments.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(14, 2)


def _recreate() -> Literal["auto", "always"]:
    # SQLite cannot add NOT NULL columns or relax NOT NULL in place: copy the (empty) table instead.
    return "always" if op.get_bind().dialect.name == "sqlite" else "auto"


def upgrade() -> None:
    op.create_table(
        "remittances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("payer_key", sa.String(120), nullable=False),
        sa.Column("payer_name", sa.String(120), nullable=False),
        sa.Column("trace_number", sa.String(80), nullable=False),
        sa.Column("control_number", sa.String(20), nullable=False),
        sa.Column("handling", sa.String(4), nullable=False),
        sa.Column("payment_amount", MONEY, nullable=False),
        sa.Column("payment_method", sa.String(4), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("received_by", sa.Integer(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_remittances"),
        sa.ForeignKeyConstraint(["received_by"], ["users.id"], name="fk_remittances_received_by_users"),
        sa.UniqueConstraint("payer_key", "trace_number", name="uq_remittances_payer_key"),
    )
    op.create_index("ix_remittances_received_at", "remittances", ["received_at"])

    with op.batch_alter_table("remits", recreate=_recreate()) as batch:
        batch.alter_column("claim_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("remittance_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("encounter_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("claim_number", sa.String(40), nullable=True))
        batch.add_column(sa.Column("claim_status", sa.String(4), nullable=True))
        batch.add_column(sa.Column("segment", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("charge", MONEY, nullable=True))
        batch.add_column(sa.Column("paid", MONEY, nullable=True))
        batch.add_column(sa.Column("patient_responsibility", MONEY, nullable=True))
        batch.add_column(sa.Column("payer_control_number", sa.String(50), nullable=True))
        batch.add_column(sa.Column("frequency", sa.String(2), nullable=True))
        batch.add_column(sa.Column("payment_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("denied", sa.Boolean(), nullable=False))
        batch.add_column(sa.Column("coding_denial", sa.Boolean(), nullable=False))
        batch.add_column(sa.Column("has_denial", sa.Boolean(), nullable=False))
        batch.add_column(sa.Column("category", sa.String(40), nullable=True))
        batch.add_column(sa.Column("action", sa.Text(), nullable=True))
        batch.add_column(sa.Column("days_to_pay", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("adjustments", sa.JSON(), nullable=False))
        batch.add_column(sa.Column("remarks", sa.JSON(), nullable=False))
        batch.add_column(sa.Column("match_notes", sa.JSON(), nullable=False))
        batch.create_foreign_key(
            "fk_remits_remittance_id_remittances", "remittances", ["remittance_id"], ["id"]
        )
        batch.create_foreign_key("fk_remits_encounter_id_encounters", "encounters", ["encounter_id"], ["id"])
        batch.create_index("ix_remits_remittance_id", ["remittance_id"])
        batch.create_index("ix_remits_encounter_id", ["encounter_id"])

    op.create_table(
        "remit_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("remit_id", sa.Integer(), nullable=False),
        sa.Column("encounter_id", sa.Integer(), nullable=True),
        sa.Column("segment", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=True),
        sa.Column("match", sa.String(30), nullable=True),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("modifiers", sa.JSON(), nullable=False),
        sa.Column("units", sa.Numeric(10, 2), nullable=False),
        sa.Column("charge", MONEY, nullable=False),
        sa.Column("paid", MONEY, nullable=False),
        sa.Column("allowed", MONEY, nullable=True),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("denied", sa.Boolean(), nullable=False),
        sa.Column("coding_denial", sa.Boolean(), nullable=False),
        sa.Column("category", sa.String(40), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("adjustments", sa.JSON(), nullable=False),
        sa.Column("remarks", sa.JSON(), nullable=False),
        sa.Column("match_notes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_remit_lines"),
        sa.ForeignKeyConstraint(["remit_id"], ["remits.id"], name="fk_remit_lines_remit_id_remits"),
        sa.ForeignKeyConstraint(
            ["encounter_id"], ["encounters.id"], name="fk_remit_lines_encounter_id_encounters"
        ),
    )
    for column in ("remit_id", "encounter_id", "coding_denial", "category"):
        op.create_index(f"ix_remit_lines_{column}", "remit_lines", [column])


def downgrade() -> None:
    op.drop_table("remit_lines")
    with op.batch_alter_table("remits", recreate=_recreate()) as batch:
        batch.drop_index("ix_remits_encounter_id")
        batch.drop_index("ix_remits_remittance_id")
        batch.drop_constraint("fk_remits_encounter_id_encounters", type_="foreignkey")
        batch.drop_constraint("fk_remits_remittance_id_remittances", type_="foreignkey")
        for column in (
            "match_notes",
            "remarks",
            "adjustments",
            "days_to_pay",
            "action",
            "category",
            "has_denial",
            "coding_denial",
            "denied",
            "payment_date",
            "frequency",
            "payer_control_number",
            "patient_responsibility",
            "paid",
            "charge",
            "segment",
            "claim_status",
            "claim_number",
            "encounter_id",
            "remittance_id",
        ):
            batch.drop_column(column)
        batch.alter_column("claim_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index("ix_remittances_received_at", "remittances")
    op.drop_table("remittances")
