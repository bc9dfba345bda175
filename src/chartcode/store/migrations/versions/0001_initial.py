"""Initial schema: users, roles, tokens, sessions, encounters, documents, suggestions, decisions,
provider queries, claims and findings, remits, audit verdicts and the append-only audit log.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id(table: str) -> list[SchemaItem]:
    return [sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name=f"pk_{table}")]


def _fk(table: str, column: str, target: str, nullable: bool = True) -> list[SchemaItem]:
    return [
        sa.Column(column, sa.Integer(), nullable=nullable),
        sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}"),
    ]


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{columns[0]}", table, list(columns))


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_roles"),
    )
    op.bulk_insert(
        sa.table("roles", sa.column("name", sa.String()), sa.column("description", sa.String())),
        [
            {"name": "coder", "description": "reviews suggestions, decides codes, drafts provider queries"},
            {"name": "auditor", "description": "second review: samples coded encounters and gives verdicts"},
            {"name": "manager", "description": "reads KPIs, the queue and the audit log; samples for review"},
            {"name": "admin", "description": "everything, including users"},
        ],
    )
    op.create_table(
        "users",
        *_id("users"),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    for table in ("api_tokens", "sessions"):
        op.create_table(
            table,
            *_id(table),
            *_fk(table, "user_id", "users", nullable=False),
            *([sa.Column("name", sa.String(120), nullable=False)] if table == "api_tokens" else []),
            sa.Column("token_hash", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            *([sa.Column("expires_at", sa.DateTime(), nullable=False)] if table == "sessions" else []),
            sa.Column("revoked_at", sa.DateTime(), nullable=True),
            sa.UniqueConstraint("token_hash", name=f"uq_{table}_token_hash"),
        )
        _index(table, "user_id")
    op.create_table(
        "encounters",
        *_id("encounters"),
        sa.Column("external_id", sa.String(120), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("specialty", sa.String(80), nullable=True),
        sa.Column("setting", sa.String(20), nullable=False),
        sa.Column("date_of_service", sa.Date(), nullable=True),
        sa.Column("patient_age", sa.Integer(), nullable=True),
        sa.Column("patient_sex", sa.String(1), nullable=True),
        sa.Column("release", sa.String(80), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        *_fk("encounters", "created_by", "users"),
        *_fk("encounters", "assigned_to", "users"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        *_fk("encounters", "updated_by", "users"),
        sa.Column("coded_at", sa.DateTime(), nullable=True),
        *_fk("encounters", "coded_by", "users"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("external_id", name="uq_encounters_external_id"),
    )
    _index("encounters", "status")
    op.create_table(
        "documents",
        *_id("documents"),
        *_fk("documents", "encounter_id", "encounters", nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    _index("documents", "encounter_id")
    op.create_table(
        "suggestions",
        *_id("suggestions"),
        *_fk("suggestions", "encounter_id", "encounters", nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("system", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("final_code", sa.String(20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("release", sa.String(80), nullable=True),
    )
    _index("suggestions", "encounter_id")
    op.create_table(
        "decisions",
        *_id("decisions"),
        *_fk("decisions", "encounter_id", "encounters", nullable=False),
        *_fk("decisions", "suggestion_id", "suggestions", nullable=False),
        *_fk("decisions", "user_id", "users"),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("code", sa.String(20), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    for column in ("encounter_id", "suggestion_id", "at"):
        _index("decisions", column)
    op.create_table(
        "provider_queries",
        *_id("provider_queries"),
        *_fk("provider_queries", "encounter_id", "encounters", nullable=False),
        *_fk("provider_queries", "suggestion_id", "suggestions"),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        *_fk("provider_queries", "created_by", "users"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    for column in ("encounter_id", "status"):
        _index("provider_queries", column)
    op.create_table(
        "claims",
        *_id("claims"),
        *_fk("claims", "encounter_id", "encounters", nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    for column in ("encounter_id", "created_at"):
        _index("claims", column)
    op.create_table(
        "claim_findings",
        *_id("claim_findings"),
        *_fk("claim_findings", "claim_id", "claims", nullable=False),
        sa.Column("rule", sa.String(60), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("fix", sa.Text(), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
    )
    _index("claim_findings", "claim_id")
    op.create_table(
        "remits",
        *_id("remits"),
        *_fk("remits", "claim_id", "claims", nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )
    _index("remits", "claim_id")
    op.create_table(
        "audit_verdicts",
        *_id("audit_verdicts"),
        *_fk("audit_verdicts", "encounter_id", "encounters", nullable=False),
        *_fk("audit_verdicts", "auditor_id", "users"),
        sa.Column("agree", sa.Boolean(), nullable=False),
        sa.Column("coder_codes", sa.JSON(), nullable=False),
        sa.Column("corrected_codes", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("encounter_id", name="uq_audit_verdicts_encounter_id"),
    )
    op.create_table(
        "audit_log",
        *_id("audit_log"),
        sa.Column("at", sa.DateTime(), nullable=False),
        *_fk("audit_log", "user_id", "users"),
        sa.Column("username", sa.String(80), nullable=True),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("encounter_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
    )
    for column in ("at", "username", "encounter_id"):
        _index("audit_log", column)
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])
    _protect_audit_log()


def _protect_audit_log() -> None:
    """The database itself refuses UPDATE and DELETE on audit_log (not only the ORM)."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION chartcode_audit_log_immutable() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION chartcode_audit_log_immutable()"
        )
    elif dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {verb} is not allowed'); END"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_immutable ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS chartcode_audit_log_immutable()")
    for table in (
        "audit_log",
        "audit_verdicts",
        "remits",
        "claim_findings",
        "claims",
        "provider_queries",
        "decisions",
        "suggestions",
        "documents",
        "encounters",
        "sessions",
        "api_tokens",
        "users",
        "roles",
    ):
        op.drop_table(table)
