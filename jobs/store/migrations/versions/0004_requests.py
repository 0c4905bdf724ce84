"""Requests between departments and their events: verification tickets move from the lake into
the store (the lake keeps snapshots).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jobs.store.models import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requester_department", sa.String(32), nullable=True),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("closed_by", sa.String(64), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("escalated_to", sa.String(64), nullable=True),
        sa.Column("escalated_on", sa.Date(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
    )
    op.create_index("ix_requests_type_state", "requests", ["type", "state"])
    op.create_index(op.f("ix_requests_due_on"), "requests", ["due_on"])
    op.create_table(
        "request_departments",
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_request_departments_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_id", "department", name=op.f("pk_request_departments")),
    )
    op.create_index(
        op.f("ix_request_departments_department"), "request_departments", ["department"]
    )
    op.create_table(
        "request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("by_department", sa.String(32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["requests.id"],
            name=op.f("fk_request_events_request_id_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_request_events_event_id")),
    )
    op.create_index(op.f("ix_request_events_request_id"), "request_events", ["request_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_request_events_request_id"), table_name="request_events")
    op.drop_table("request_events")
    op.drop_index(op.f("ix_request_departments_department"), table_name="request_departments")
    op.drop_table("request_departments")
    op.drop_index(op.f("ix_requests_due_on"), table_name="requests")
    op.drop_index("ix_requests_type_state", table_name="requests")
    op.drop_table("requests")
