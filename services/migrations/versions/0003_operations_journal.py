"""The paired actions' journal: operations, their Crossmark steps, the audit trail and per-event locks.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

from alembic import op

from services.tables import Base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("dashboard_operations", "dashboard_operation_steps", "dashboard_audit", "dashboard_event_locks")


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        Base.metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        Base.metadata.tables[name].drop(bind)
