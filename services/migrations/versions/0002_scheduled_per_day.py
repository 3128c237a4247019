"""Pre-aggregated scheduled events per day, store and type (services/scheduled_per_day.py), kept exact by triggers;
indexes for Unstaffed reads and for pairing a CORE with its Supervisor.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from alembic import op

from services.migrations.table_sets import create_per_day_aggregate
from services.scheduled_per_day import (
    TABLE, create_trigger_statements, drop_trigger_statements, rebuild_statements,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UNSTAFFED_INDEX = "ix_dashboard_events_unstaffed_due"
PAIRING_INDEX = "ix_dashboard_events_pairing"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    create_per_day_aggregate(TABLE, "scheduled")
    for statement in rebuild_statements(dialect) + create_trigger_statements(dialect):
        op.execute(statement)
    # Unstaffed counts by due date (Calendar warnings, Unscheduled buckets) read this index alone.
    op.create_index(UNSTAFFED_INDEX, "events",
                    ["condition", "due_datetime", "event_type", "location_mvid", "store_number"])
    # Finding a CORE's Supervisor is a seek on (store, event-number prefix of the name).
    op.create_index(PAIRING_INDEX, "events", ["location_mvid", "project_name"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index(PAIRING_INDEX, table_name="events")
    op.drop_index(UNSTAFFED_INDEX, table_name="events")
    for statement in drop_trigger_statements(dialect):
        op.execute(statement)
    op.drop_table(TABLE)
