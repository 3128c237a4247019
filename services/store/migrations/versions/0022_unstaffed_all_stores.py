"""Unstaffed events per due day and type, all stores together, kept exact by triggers (services/store/scheduled_per_day.py),
an index of the per-club Unstaffed aggregate by club and day, and a covering index of the scheduled aggregate by day and
type (issue 22: the Unscheduled buckets flat in size, cold pages at 1,000,000 events).

The unfiltered Unscheduled buckets summed every club's row of each day on one side of today (about 300 rows a day at
1,000,000 events over 50 clubs, a handful at 10,000), so they cost about twice as much at 1,000,000 events as at 10,000;
from `dashboard_unstaffed_per_day_all_stores` they sum at most one row per type a day, whatever the number of events.
With a store filter, the new index reads that club's days as one range instead of every club's rows of those days. An
index of the scheduled counts by day and type holding the count lets a range of days (the Calendar's month, the type
counts' quarter) be summed from the index alone, in GROUP BY order, instead of a table lookup per club, type and day.

Frozen: this file's own SQL, nothing imported from `services` (services/store/scheduled_per_day.py holds the current
copy that bulk loads drop, rebuild and re-create). Safe on a database created from the current models.

Revision ID: 0022
Revises: 0021
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TABLE = "dashboard_unstaffed_per_day_all_stores"
PER_CLUB = "dashboard_unstaffed_per_day"
PER_CLUB_INDEX = "ix_dashboard_unstaffed_per_day_store"
SCHEDULED = "dashboard_scheduled_per_day"
SCHEDULED_INDEX = "ix_dashboard_scheduled_per_day_type"
# Fill the table, then keep it exact: per dialect, as services/store/scheduled_per_day.py wrote them when frozen.
STATEMENTS = {
    'sqlite': {
        'rebuild': [
            'DELETE FROM dashboard_unstaffed_per_day_all_stores',
            "INSERT INTO dashboard_unstaffed_per_day_all_stores (day, event_type, unstaffed) SELECT date(e.due_datetime), coalesce(e.event_type, 'Other'), COUNT(*) FROM events e WHERE e.condition = 'Unstaffed' AND e.due_datetime IS NOT NULL GROUP BY 1, 2",
        ],
        'create': [
            "CREATE TRIGGER dashboard_uas_event_insert AFTER INSERT ON events BEGIN INSERT INTO dashboard_unstaffed_per_day_all_stores (day, event_type, unstaffed) SELECT date(NEW.due_datetime), coalesce(NEW.event_type, 'Other'), +1 WHERE NEW.condition = 'Unstaffed' AND NEW.due_datetime IS NOT NULL ON CONFLICT (day, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day_all_stores.unstaffed + excluded.unstaffed; END",
            "CREATE TRIGGER dashboard_uas_event_delete AFTER DELETE ON events BEGIN INSERT INTO dashboard_unstaffed_per_day_all_stores (day, event_type, unstaffed) SELECT date(OLD.due_datetime), coalesce(OLD.event_type, 'Other'), -1 WHERE OLD.condition = 'Unstaffed' AND OLD.due_datetime IS NOT NULL ON CONFLICT (day, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day_all_stores.unstaffed + excluded.unstaffed; END",
            "CREATE TRIGGER dashboard_uas_event_update AFTER UPDATE OF condition, due_datetime, event_type, location_mvid, store_number ON events BEGIN INSERT INTO dashboard_unstaffed_per_day_all_stores (day, event_type, unstaffed) SELECT date(OLD.due_datetime), coalesce(OLD.event_type, 'Other'), -1 WHERE OLD.condition = 'Unstaffed' AND OLD.due_datetime IS NOT NULL ON CONFLICT (day, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day_all_stores.unstaffed + excluded.unstaffed; INSERT INTO dashboard_unstaffed_per_day_all_stores (day, event_type, unstaffed) SELECT date(NEW.due_datetime), coalesce(NEW.event_type, 'Other'), +1 WHERE NEW.condition = 'Unstaffed' AND NEW.due_datetime IS NOT NULL ON CONFLICT (day, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day_all_stores.unstaffed + excluded.unstaffed; END",
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_uas_event_insert',
            'DROP TRIGGER IF EXISTS dashboard_uas_event_delete',
            'DROP TRIGGER IF EXISTS dashboard_uas_event_update',
        ],
    },
    'postgresql': {
        'rebuild': [
            'DELETE FROM dashboard_unstaffed_per_day_all_stores',
            "INSERT INTO dashboard_unstaffed_per_day_all_stores (day, event_type, unstaffed) SELECT CAST(e.due_datetime AS DATE), coalesce(e.event_type, 'Other'), COUNT(*) FROM events e WHERE e.condition = 'Unstaffed' AND e.due_datetime IS NOT NULL GROUP BY 1, 2",
        ],
        'create': [
            "CREATE FUNCTION dashboard_uas_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN INSERT INTO dashboard_unstaffed_per_day_all_stores (day, event_type, unstaffed) SELECT CAST(OLD.due_datetime AS DATE), coalesce(OLD.event_type, 'Other'), -1 WHERE OLD.condition = 'Unstaffed' AND OLD.due_datetime IS NOT NULL ON CONFLICT (day, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day_all_stores.unstaffed + excluded.unstaffed; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO dashboard_unstaffed_per_day_all_stores (day, event_type, unstaffed) SELECT CAST(NEW.due_datetime AS DATE), coalesce(NEW.event_type, 'Other'), +1 WHERE NEW.condition = 'Unstaffed' AND NEW.due_datetime IS NOT NULL ON CONFLICT (day, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day_all_stores.unstaffed + excluded.unstaffed; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_uas_events AFTER INSERT OR DELETE OR UPDATE OF condition, due_datetime, event_type, location_mvid, store_number ON events FOR EACH ROW EXECUTE FUNCTION dashboard_uas_events()',
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_uas_events ON events',
            'DROP FUNCTION IF EXISTS dashboard_uas_events()',
        ],
    },
}


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    inspector = sa.inspect(bind)
    if not inspector.has_table(TABLE):
        op.create_table(
            TABLE,
            sa.Column("day", sa.Date, primary_key=True),
            sa.Column("event_type", sa.String(20), primary_key=True),
            sa.Column("unstaffed", sa.Integer, nullable=False),
        )
    if PER_CLUB_INDEX not in {index["name"] for index in inspector.get_indexes(PER_CLUB)}:
        op.create_index(PER_CLUB_INDEX, PER_CLUB, ["store", "day", "event_type", "unstaffed"])
    if SCHEDULED_INDEX not in {index["name"] for index in inspector.get_indexes(SCHEDULED)}:
        op.create_index(SCHEDULED_INDEX, SCHEDULED, ["day", "event_type", "scheduled"])
    for statement in (*STATEMENTS[dialect]["drop"], *STATEMENTS[dialect]["rebuild"], *STATEMENTS[dialect]["create"]):
        op.execute(statement)


def downgrade() -> None:
    for statement in STATEMENTS[op.get_bind().dialect.name]["drop"]:
        op.execute(statement)
    op.drop_index(SCHEDULED_INDEX, table_name=SCHEDULED)
    op.drop_index(PER_CLUB_INDEX, table_name=PER_CLUB)
    op.drop_table(TABLE)
