"""Alembic migrations (one linear history for the whole schema)."""
