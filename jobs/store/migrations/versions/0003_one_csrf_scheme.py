"""One CSRF scheme: sessions lose their own CSRF secret (the service derives form tokens from its
session secret and the session id, jobs.service.security), which nothing read.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as sessions:
        sessions.drop_column("csrf_secret")


def downgrade() -> None:
    # Sessions opened since have no secret of their own to give back: they end (people sign in
    # again), so that the column can be NOT NULL as 0001 made it.
    op.execute(sa.text("DELETE FROM sessions"))
    with op.batch_alter_table("sessions") as sessions:
        sessions.add_column(sa.Column("csrf_secret", sa.String(64), nullable=False))
