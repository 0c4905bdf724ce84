"""Share grants and their decisions move from the lake into the store (the lake keeps snapshots).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jobs.store.models import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_grants",
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("consumer", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("share_type", sa.String(16), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("answered_late", sa.Boolean(), nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
        sa.Column("revoked_on", sa.Date(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_share_grants")),
    )
    op.create_index(op.f("ix_share_grants_consumer"), "share_grants", ["consumer"])
    op.create_index(op.f("ix_share_grants_provider"), "share_grants", ["provider"])
    op.create_index(op.f("ix_share_grants_state"), "share_grants", ["state"])
    op.create_table(
        "grant_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["share_grants.request_id"],
            name=op.f("fk_grant_decisions_request_id_share_grants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grant_decisions")),
    )
    op.create_index(op.f("ix_grant_decisions_request_id"), "grant_decisions", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_grant_decisions_request_id"), table_name="grant_decisions")
    op.drop_table("grant_decisions")
    op.drop_index(op.f("ix_share_grants_state"), table_name="share_grants")
    op.drop_index(op.f("ix_share_grants_provider"), table_name="share_grants")
    op.drop_index(op.f("ix_share_grants_consumer"), table_name="share_grants")
    op.drop_table("share_grants")
