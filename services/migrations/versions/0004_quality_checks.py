"""Data-quality check runs, findings with history, and per-run counts for the trend.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

from alembic import op

from services.tables import Base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("dashboard_check_runs", "dashboard_run_rule_counts", "dashboard_findings")


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        Base.metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        Base.metadata.tables[name].drop(bind)
