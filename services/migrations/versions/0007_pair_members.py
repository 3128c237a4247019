"""Every CORE and Supervisor with its pairing key and latest schedule, kept exact by triggers
(services/pair_members.py), so a check run's pairing rules read one narrow table in key order instead of scanning,
pattern-matching and sorting every event (issue 8: the full check run at 1,000,000 events).

For one club's Day view (services/read_queries._day_events): an index of the events by location id and store number
with their ref, so the club's events are read from an index alone; on PostgreSQL the day's schedules index also carries
the schedule id (SQLite's indexes always do), so both sides of the join are index-only scans.

For rule 10 (schedules without a usable Crossmark id): a partial index of exactly those schedules.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.pair_members import (
    KEY_INDEX, TABLE, create_trigger_statements, drop_trigger_statements, rebuild_statements,
)
from services.quality_rules import unusable_schedule_id_sql

EVENTS_BY_STORE_INDEX = "ix_dashboard_events_store_ref"
UNUSABLE_SCHEDULE_IDS_INDEX = "ix_dashboard_schedules_unusable_id"  # rule 10's few schedules, as a partial index
SCHEDULES_DAY_INDEX = "ix_dashboard_schedules_day"  # migration 0006's; on PostgreSQL re-created with the id included
SCHEDULES_DAY_COLUMNS = ["schedule_datetime", "event_ref_num", "employee_id"]

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        TABLE,
        sa.Column("ref", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("num", sa.String(6), nullable=False),
        sa.Column("store", sa.Text, nullable=False),
        sa.Column("event_type", sa.String(20), nullable=False),
        sa.Column("unstaffed", sa.SmallInteger, nullable=False),
        sa.Column("at", sa.BigInteger),
    )
    op.create_index(KEY_INDEX, TABLE, ["num", "store", "event_type", "ref", "at", "unstaffed"])
    for statement in rebuild_statements(dialect) + create_trigger_statements(dialect):
        op.execute(statement)
    op.create_index(EVENTS_BY_STORE_INDEX, "events", ["location_mvid", "store_number", "project_ref_num"])
    unusable = sa.text(unusable_schedule_id_sql(dialect, "external_id"))
    op.create_index(UNUSABLE_SCHEDULE_IDS_INDEX, "schedules", ["event_ref_num"], sqlite_where=unusable,
                    postgresql_where=unusable)
    if dialect == "postgresql":
        op.drop_index(SCHEDULES_DAY_INDEX, table_name="schedules")
        op.create_index(SCHEDULES_DAY_INDEX, "schedules", SCHEDULES_DAY_COLUMNS, postgresql_include=["id"])


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_index(SCHEDULES_DAY_INDEX, table_name="schedules")
        op.create_index(SCHEDULES_DAY_INDEX, "schedules", SCHEDULES_DAY_COLUMNS)
    op.drop_index(UNUSABLE_SCHEDULE_IDS_INDEX, table_name="schedules")
    op.drop_index(EVENTS_BY_STORE_INDEX, table_name="events")
    for statement in drop_trigger_statements(dialect):
        op.execute(statement)
    op.drop_table(TABLE)
