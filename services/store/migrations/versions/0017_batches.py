"""Batches (issue 20): dashboard_batches, one row per batch of actions asked for at once (rep out, staff missing
Supervisors, fix a rule's findings), its key unique per account; dashboard_batch_items, each item as planned (JSON)
and the operation that ran it.

Frozen: literal types, nothing imported from `services`. A database created from the current models may already have
the tables when it arrives here: each is created only if missing.

Revision ID: 0017
Revises: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table("dashboard_batches"):
        op.create_table("dashboard_batches",
                        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
                        sa.Column("idempotency_key", sa.String(100), nullable=False),
                        sa.Column("kind", sa.String(30), nullable=False),
                        sa.Column("requested_by", sa.String(100), nullable=False),
                        sa.Column("requested_at", sa.DateTime(), nullable=False),
                        sa.Column("finished_at", sa.DateTime(), nullable=True),
                        sa.Column("status", sa.String(20), nullable=False),
                        sa.Column("request", _json(), nullable=True),
                        sa.Column("message", sa.Text(), nullable=True))
        op.create_index("uq_dashboard_batches_account_key", "dashboard_batches", ["requested_by", "idempotency_key"],
                        unique=True)
    if not inspector.has_table("dashboard_batch_items"):
        op.create_table("dashboard_batch_items",
                        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("dashboard_batches.id"), primary_key=True),
                        sa.Column("item_index", sa.Integer(), primary_key=True),
                        sa.Column("kind", sa.String(30), nullable=False),
                        sa.Column("event_ref", sa.Integer(), nullable=False),
                        sa.Column("item", _json(), nullable=False),
                        sa.Column("operation_id", sa.Integer(), nullable=True))
        op.create_index("ix_dashboard_batch_items_operation", "dashboard_batch_items", ["operation_id"])


def downgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("dashboard_batch_items"):
        op.drop_table("dashboard_batch_items")
    if inspector.has_table("dashboard_batches"):
        op.drop_table("dashboard_batches")
