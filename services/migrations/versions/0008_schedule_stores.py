"""Every schedule with its event's store key, kept exact by triggers (services/schedule_stores.py), so one club's Day
view reads its ~100 schedules of a day as one index range instead of walking the whole national day's 5,400 schedules
and looking up each one's event (issue 8: the Day view at 1,000,000 events).

Also for one club: its Unstaffed events due on a day (the Day view, the Unscheduled list) by a partial index on the store
key expression, instead of reading every Unstaffed event due that day nationally to test its store.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.schedule_stores import (
    STORE_TIME_INDEX, TABLE, create_trigger_statements, drop_trigger_statements, rebuild_statements,
)

# The store filter's own expression (read_queries.store_key_column) as SQLAlchemy writes it, so both planners match it;
# tests/test_schedule_stores.py checks that they do.
STORE_KEY_SQL = "coalesce(location_mvid, CAST(store_number AS VARCHAR))"
UNSTAFFED_BY_STORE_INDEX = "ix_dashboard_events_unstaffed_store_due"

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        TABLE,
        sa.Column("schedule_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("store", sa.Text, nullable=False),
        sa.Column("schedule_datetime", sa.DateTime, nullable=False),
    )
    for statement in rebuild_statements(dialect):
        op.execute(statement)
    # Indexed after the fill: one sort instead of a million index insertions.
    op.create_index(STORE_TIME_INDEX, TABLE, ["store", "schedule_datetime", "schedule_id"])
    for statement in create_trigger_statements(dialect):
        op.execute(statement)
    unstaffed = sa.text("condition = 'Unstaffed'")
    op.create_index(UNSTAFFED_BY_STORE_INDEX, "events", [sa.text(STORE_KEY_SQL), "due_datetime"],
                    sqlite_where=unstaffed, postgresql_where=unstaffed)


def downgrade() -> None:
    op.drop_index(UNSTAFFED_BY_STORE_INDEX, table_name="events")
    for statement in drop_trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table(TABLE)
