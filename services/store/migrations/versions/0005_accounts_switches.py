"""Local accounts, sign-in attempts (for the lockout) and the admin switches.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("dashboard_users", "dashboard_login_attempts", "dashboard_switches")


def upgrade() -> None:
    op.create_table('dashboard_users',
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(), nullable=True),
    sa.Column('oidc_issuer', sa.String(length=500), nullable=True),
    sa.Column('oidc_subject', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_index('uq_dashboard_users_oidc_identity', 'dashboard_users', ['oidc_issuer', 'oidc_subject'], unique=True)
    op.create_table('dashboard_login_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_dashboard_login_attempts_client_at', 'dashboard_login_attempts', ['client', 'at'], unique=False)
    op.create_index(op.f('ix_dashboard_login_attempts_username'), 'dashboard_login_attempts', ['username'], unique=False)
    op.create_table('dashboard_switches',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('changed_by', sa.String(length=100), nullable=True),
    sa.Column('changed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
