"""Alembic migrations of the workflow store (run by jobs.store.db)."""
