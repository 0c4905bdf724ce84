"""Alembic's environment for the workflow store: run programmatically (jobs.store.db), on the
connection the caller passes in ``config.attributes["connection"]``, inside its transaction."""

from __future__ import annotations

from alembic import context

from jobs.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite alters a table by copying it; batch mode lets migrations say ALTER all the same.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
