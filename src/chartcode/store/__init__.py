"""Persistence: SQLAlchemy models, engines and Alembic migrations (SQLite by default, PostgreSQL)."""
