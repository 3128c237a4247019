"""The paired actions' journal: operations, their Crossmark steps, the audit trail and per-event locks.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("dashboard_operations", "dashboard_operation_steps", "dashboard_audit", "dashboard_event_locks")


def upgrade() -> None:
    op.create_table('dashboard_operations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('request', sa.Text(), nullable=True),
    sa.Column('events', sa.Text(), nullable=True),
    sa.Column('undo_of', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('key_released_at', sa.DateTime(), nullable=True),
    sa.Column('lease_owner', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_dashboard_operations_bound_keys', 'dashboard_operations', ['finished_at'], unique=False, sqlite_where=sa.text('key_released_at IS NULL'), postgresql_where=sa.text('key_released_at IS NULL'))
    op.create_index(op.f('ix_dashboard_operations_next_attempt_at'), 'dashboard_operations', ['next_attempt_at'], unique=False)
    op.create_index('uq_dashboard_operations_account_key', 'dashboard_operations', ['requested_by', 'idempotency_key'], unique=True, sqlite_where=sa.text('key_released_at IS NULL'), postgresql_where=sa.text('key_released_at IS NULL'))
    op.create_table('dashboard_operation_steps',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('event_ref', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('request', sa.Text(), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['operation_id'], ['dashboard_operations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dashboard_operation_steps_operation_id'), 'dashboard_operation_steps', ['operation_id'], unique=False)
    op.create_table('dashboard_audit',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=True),
    sa.Column('event_ref', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('before', sa.Text(), nullable=True),
    sa.Column('after', sa.Text(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dashboard_audit_at'), 'dashboard_audit', ['at'], unique=False)
    op.create_index(op.f('ix_dashboard_audit_event_ref'), 'dashboard_audit', ['event_ref'], unique=False)
    op.create_index(op.f('ix_dashboard_audit_operation_id'), 'dashboard_audit', ['operation_id'], unique=False)
    op.create_table('dashboard_event_locks',
    sa.Column('event_ref', sa.Integer(), nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=False),
    sa.Column('locked_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('event_ref')
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
