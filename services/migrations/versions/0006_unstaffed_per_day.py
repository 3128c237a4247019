"""Pre-aggregated Unstaffed events per due day, store and type (services/scheduled_per_day.py), kept exact by triggers,
so the Calendar's warnings, the Event type counts and the Unscheduled buckets do not grow with the data (issue 8);
covering indexes so that one club's day is picked out of a national day's thousands of schedules without reading rows.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

from alembic import op

from services.migrations.table_sets import create_per_day_aggregate
from services.scheduled_per_day import (
    UNSTAFFED_TABLE, create_unstaffed_trigger_statements, drop_unstaffed_trigger_statements,
    rebuild_unstaffed_statements,
)

SCHEDULES_DAY_INDEX = "ix_dashboard_schedules_day"
EVENTS_STORE_INDEX = "ix_dashboard_events_ref_store"

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    create_per_day_aggregate(UNSTAFFED_TABLE, "unstaffed")
    for statement in rebuild_unstaffed_statements(dialect) + create_unstaffed_trigger_statements(dialect):
        op.execute(statement)
    op.create_index(SCHEDULES_DAY_INDEX, "schedules", ["schedule_datetime", "event_ref_num", "employee_id"])
    op.create_index(EVENTS_STORE_INDEX, "events", ["project_ref_num", "location_mvid", "store_number"])


def downgrade() -> None:
    op.drop_index(EVENTS_STORE_INDEX, table_name="events")
    op.drop_index(SCHEDULES_DAY_INDEX, table_name="schedules")
    for statement in drop_unstaffed_trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table(UNSTAFFED_TABLE)
