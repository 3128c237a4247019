"""Pre-aggregated Unstaffed events per due day, store and type (services/store/scheduled_per_day.py), kept exact by triggers,
so the Calendar's warnings, the Event type counts and the Unscheduled buckets do not grow with the data (issue 8);
covering indexes so that one club's day is picked out of a national day's thousands of schedules without reading rows.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

SCHEDULES_DAY_INDEX = "ix_dashboard_schedules_day"
EVENTS_STORE_INDEX = "ix_dashboard_events_ref_store"
UNSTAFFED_TABLE = "dashboard_unstaffed_per_day"
# Fill the table, then keep it exact: per dialect, as services/store/scheduled_per_day.py wrote them when frozen.
STATEMENTS = {
    'sqlite': {
        'rebuild': [
            'DELETE FROM dashboard_unstaffed_per_day',
            "INSERT INTO dashboard_unstaffed_per_day (day, store, event_type, unstaffed) SELECT date(e.due_datetime), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), COUNT(*) FROM events e WHERE e.condition = 'Unstaffed' AND e.due_datetime IS NOT NULL GROUP BY 1, 2, 3",
        ],
        'create': [
            "CREATE TRIGGER dashboard_upd_event_insert AFTER INSERT ON events BEGIN INSERT INTO dashboard_unstaffed_per_day (day, store, event_type, unstaffed) SELECT date(NEW.due_datetime), coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), coalesce(NEW.event_type, 'Other'), +1 WHERE NEW.condition = 'Unstaffed' AND NEW.due_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day.unstaffed + excluded.unstaffed; END",
            "CREATE TRIGGER dashboard_upd_event_delete AFTER DELETE ON events BEGIN INSERT INTO dashboard_unstaffed_per_day (day, store, event_type, unstaffed) SELECT date(OLD.due_datetime), coalesce(OLD.location_mvid, CAST(OLD.store_number AS TEXT), ''), coalesce(OLD.event_type, 'Other'), -1 WHERE OLD.condition = 'Unstaffed' AND OLD.due_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day.unstaffed + excluded.unstaffed; END",
            "CREATE TRIGGER dashboard_upd_event_update AFTER UPDATE OF condition, due_datetime, event_type, location_mvid, store_number ON events BEGIN INSERT INTO dashboard_unstaffed_per_day (day, store, event_type, unstaffed) SELECT date(OLD.due_datetime), coalesce(OLD.location_mvid, CAST(OLD.store_number AS TEXT), ''), coalesce(OLD.event_type, 'Other'), -1 WHERE OLD.condition = 'Unstaffed' AND OLD.due_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day.unstaffed + excluded.unstaffed; INSERT INTO dashboard_unstaffed_per_day (day, store, event_type, unstaffed) SELECT date(NEW.due_datetime), coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), coalesce(NEW.event_type, 'Other'), +1 WHERE NEW.condition = 'Unstaffed' AND NEW.due_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day.unstaffed + excluded.unstaffed; END",
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_upd_event_insert',
            'DROP TRIGGER IF EXISTS dashboard_upd_event_delete',
            'DROP TRIGGER IF EXISTS dashboard_upd_event_update',
        ],
    },
    'postgresql': {
        'rebuild': [
            'DELETE FROM dashboard_unstaffed_per_day',
            "INSERT INTO dashboard_unstaffed_per_day (day, store, event_type, unstaffed) SELECT CAST(e.due_datetime AS DATE), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), COUNT(*) FROM events e WHERE e.condition = 'Unstaffed' AND e.due_datetime IS NOT NULL GROUP BY 1, 2, 3",
        ],
        'create': [
            "CREATE FUNCTION dashboard_upd_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN INSERT INTO dashboard_unstaffed_per_day (day, store, event_type, unstaffed) SELECT CAST(OLD.due_datetime AS DATE), coalesce(OLD.location_mvid, CAST(OLD.store_number AS TEXT), ''), coalesce(OLD.event_type, 'Other'), -1 WHERE OLD.condition = 'Unstaffed' AND OLD.due_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day.unstaffed + excluded.unstaffed; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO dashboard_unstaffed_per_day (day, store, event_type, unstaffed) SELECT CAST(NEW.due_datetime AS DATE), coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), coalesce(NEW.event_type, 'Other'), +1 WHERE NEW.condition = 'Unstaffed' AND NEW.due_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_per_day.unstaffed + excluded.unstaffed; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_upd_events AFTER INSERT OR DELETE OR UPDATE OF condition, due_datetime, event_type, location_mvid, store_number ON events FOR EACH ROW EXECUTE FUNCTION dashboard_upd_events()',
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_upd_events ON events',
            'DROP FUNCTION IF EXISTS dashboard_upd_events()',
        ],
    },
}


def _create_per_day_aggregate(name: str, count_column: str) -> None:
    """A per-day aggregate table: (day, store, event_type) -> count."""
    op.create_table(
        name,
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("store", sa.String(100), nullable=False),
        sa.Column("event_type", sa.String(20), nullable=False),
        sa.Column(count_column, sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("day", "store", "event_type"),
    )

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_per_day_aggregate(UNSTAFFED_TABLE, "unstaffed")
    for statement in STATEMENTS[dialect]["rebuild"] + STATEMENTS[dialect]["create"]:
        op.execute(statement)
    op.create_index(SCHEDULES_DAY_INDEX, "schedules", ["schedule_datetime", "event_ref_num", "employee_id"])
    op.create_index(EVENTS_STORE_INDEX, "events", ["project_ref_num", "location_mvid", "store_number"])


def downgrade() -> None:
    op.drop_index(EVENTS_STORE_INDEX, table_name="events")
    op.drop_index(SCHEDULES_DAY_INDEX, table_name="schedules")
    for statement in STATEMENTS[op.get_bind().dialect.name]["drop"]:
        op.execute(statement)
    op.drop_table(UNSTAFFED_TABLE)
