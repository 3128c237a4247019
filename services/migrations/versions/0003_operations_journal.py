"""The paired actions' journal: operations, their Crossmark steps, the audit trail and per-event locks.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

from services.migrations.table_sets import create_tables, drop_tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("dashboard_operations", "dashboard_operation_steps", "dashboard_audit", "dashboard_event_locks")


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
