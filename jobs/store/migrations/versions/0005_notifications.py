"""Notifications of request events (the inbox's unread/read, and mail), and accounts' e-mail
addresses to mail them to.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jobs.store.models import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("email", sa.String(254), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("read_at", UtcDateTime(), nullable=True),
        sa.Column("mailed_at", UtcDateTime(), nullable=True),
        sa.Column("mail_claimed_at", UtcDateTime(), nullable=True),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.Column("mail_error", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_notifications_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_notifications_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "ix_notifications_account_id_read_at", "notifications", ["account_id", "read_at"]
    )
    op.create_index(op.f("ix_notifications_request_id"), "notifications", ["request_id"])
    op.create_index(op.f("ix_notifications_mailed_at"), "notifications", ["mailed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_mailed_at"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_request_id"), table_name="notifications")
    op.drop_index("ix_notifications_account_id_read_at", table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("email")
