"""Data-quality check runs, findings with history, and per-run counts for the trend.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("dashboard_check_runs", "dashboard_run_rule_counts", "dashboard_findings")


def upgrade() -> None:
    op.create_table('dashboard_check_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.Column('triggered_by', sa.String(length=100), nullable=False),
    sa.Column('findings', sa.Integer(), nullable=False),
    sa.Column('new_findings', sa.Integer(), nullable=False),
    sa.Column('resolved_findings', sa.Integer(), nullable=False),
    sa.Column('notification', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dashboard_check_runs_started_at'), 'dashboard_check_runs', ['started_at'], unique=False)
    op.create_table('dashboard_run_rule_counts',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=50), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('open_findings', sa.Integer(), nullable=False),
    sa.Column('new_findings', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['dashboard_check_runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'rule', 'severity')
    )
    op.create_table('dashboard_findings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('identity', sa.String(length=255), nullable=False),
    sa.Column('rule', sa.String(length=50), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('event_number', sa.String(length=10), nullable=True),
    sa.Column('store', sa.String(length=100), nullable=True),
    sa.Column('core_ref', sa.Integer(), nullable=True),
    sa.Column('supervisor_ref', sa.Integer(), nullable=True),
    sa.Column('refs', sa.Text(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('first_run_id', sa.Integer(), nullable=False),
    sa.Column('last_run_id', sa.Integer(), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledgement_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('identity')
    )
    op.create_index(op.f('ix_dashboard_findings_last_run_id'), 'dashboard_findings', ['last_run_id'], unique=False)
    op.create_index(op.f('ix_dashboard_findings_resolved_at'), 'dashboard_findings', ['resolved_at'], unique=False)
    op.create_index(op.f('ix_dashboard_findings_rule'), 'dashboard_findings', ['rule'], unique=False)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
