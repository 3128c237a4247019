"""Local accounts, sign-in attempts (for the lockout) and the admin switches.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

from services.migrations.table_sets import create_tables, drop_tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("dashboard_users", "dashboard_login_attempts", "dashboard_switches")


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
