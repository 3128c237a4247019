"""Data-quality check runs, findings with history, and per-run counts for the trend.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

from services.migrations.table_sets import create_tables, drop_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("dashboard_check_runs", "dashboard_run_rule_counts", "dashboard_findings")


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
