"""Unstaffed events per store key and type over all due days, kept exact by triggers (services/scheduled_per_day.py),
so the Unscheduled "Past due" bucket (everything due before today) costs the same however much history the database
holds: it is this total minus the days from today on, instead of a sum over every past day (issue 8: cost flat from
10,000 to 1,000,000 events and with years of history).

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.scheduled_per_day import (
    UNSTAFFED_TOTALS_TABLE, create_unstaffed_total_trigger_statements, drop_unstaffed_total_trigger_statements,
    rebuild_unstaffed_total_statements,
)

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        UNSTAFFED_TOTALS_TABLE,
        sa.Column("store", sa.String(100), primary_key=True),
        sa.Column("event_type", sa.String(20), primary_key=True),
        sa.Column("unstaffed", sa.Integer, nullable=False),
    )
    for statement in rebuild_unstaffed_total_statements(dialect) + create_unstaffed_total_trigger_statements(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_unstaffed_total_trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table(UNSTAFFED_TOTALS_TABLE)
