"""Alembic environment: run with the connection :func:`chartcode.store.db.upgrade` passes in."""

from __future__ import annotations

from alembic import context

from chartcode.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through chartcode.store.db.upgrade
    raise RuntimeError("run migrations through chartcode.store.db.upgrade (or `chartcode db upgrade`)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
