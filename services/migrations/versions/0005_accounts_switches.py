"""Local accounts, sign-in attempts (for the lockout) and the admin switches.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

from alembic import op

from services.tables import Base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("dashboard_users", "dashboard_login_attempts", "dashboard_switches")


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        Base.metadata.tables[name].create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        Base.metadata.tables[name].drop(bind)
