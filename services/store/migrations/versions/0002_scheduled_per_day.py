"""Pre-aggregated scheduled events per day, store and type (services/store/scheduled_per_day.py), kept exact by triggers;
indexes for Unstaffed reads and for pairing a CORE with its Supervisor.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UNSTAFFED_INDEX = "ix_dashboard_events_unstaffed_due"
PAIRING_INDEX = "ix_dashboard_events_pairing"
TABLE = "dashboard_scheduled_per_day"
# Fill the table, then keep it exact: per dialect, as services/store/scheduled_per_day.py wrote them when frozen.
STATEMENTS = {
    'sqlite': {
        'rebuild': [
            'DELETE FROM dashboard_scheduled_per_day',
            "INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT date(s.schedule_datetime), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), COUNT(*) FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL GROUP BY 1, 2, 3",
        ],
        'create': [
            "CREATE TRIGGER dashboard_spd_schedule_insert AFTER INSERT ON schedules BEGIN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT date(NEW.schedule_datetime), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), +1 FROM events e WHERE e.project_ref_num = NEW.event_ref_num AND NEW.schedule_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END",
            "CREATE TRIGGER dashboard_spd_schedule_delete AFTER DELETE ON schedules BEGIN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT date(OLD.schedule_datetime), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), -1 FROM events e WHERE e.project_ref_num = OLD.event_ref_num AND OLD.schedule_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END",
            "CREATE TRIGGER dashboard_spd_schedule_update AFTER UPDATE OF schedule_datetime, event_ref_num ON schedules BEGIN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT date(OLD.schedule_datetime), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), -1 FROM events e WHERE e.project_ref_num = OLD.event_ref_num AND OLD.schedule_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT date(NEW.schedule_datetime), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), +1 FROM events e WHERE e.project_ref_num = NEW.event_ref_num AND NEW.schedule_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END",
            "CREATE TRIGGER dashboard_spd_event_insert AFTER INSERT ON events BEGIN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT date(s.schedule_datetime), coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), coalesce(NEW.event_type, 'Other'), +COUNT(*) FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num AND s.schedule_datetime IS NOT NULL GROUP BY date(s.schedule_datetime) ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END",
            "CREATE TRIGGER dashboard_spd_event_delete AFTER DELETE ON events BEGIN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT date(s.schedule_datetime), coalesce(OLD.location_mvid, CAST(OLD.store_number AS TEXT), ''), coalesce(OLD.event_type, 'Other'), -COUNT(*) FROM schedules s WHERE s.event_ref_num = OLD.project_ref_num AND s.schedule_datetime IS NOT NULL GROUP BY date(s.schedule_datetime) ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END",
            "CREATE TRIGGER dashboard_spd_event_update AFTER UPDATE OF project_ref_num, event_type, location_mvid, store_number ON events BEGIN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT date(s.schedule_datetime), coalesce(OLD.location_mvid, CAST(OLD.store_number AS TEXT), ''), coalesce(OLD.event_type, 'Other'), -COUNT(*) FROM schedules s WHERE s.event_ref_num = OLD.project_ref_num AND s.schedule_datetime IS NOT NULL GROUP BY date(s.schedule_datetime) ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT date(s.schedule_datetime), coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), coalesce(NEW.event_type, 'Other'), +COUNT(*) FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num AND s.schedule_datetime IS NOT NULL GROUP BY date(s.schedule_datetime) ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END",
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_spd_schedule_insert',
            'DROP TRIGGER IF EXISTS dashboard_spd_schedule_delete',
            'DROP TRIGGER IF EXISTS dashboard_spd_schedule_update',
            'DROP TRIGGER IF EXISTS dashboard_spd_event_insert',
            'DROP TRIGGER IF EXISTS dashboard_spd_event_delete',
            'DROP TRIGGER IF EXISTS dashboard_spd_event_update',
        ],
    },
    'postgresql': {
        'rebuild': [
            'DELETE FROM dashboard_scheduled_per_day',
            "INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT CAST(s.schedule_datetime AS DATE), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), COUNT(*) FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL GROUP BY 1, 2, 3",
        ],
        'create': [
            "CREATE FUNCTION dashboard_spd_schedules() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT CAST(OLD.schedule_datetime AS DATE), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), -1 FROM events e WHERE e.project_ref_num = OLD.event_ref_num AND OLD.schedule_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT CAST(NEW.schedule_datetime AS DATE), coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), +1 FROM events e WHERE e.project_ref_num = NEW.event_ref_num AND NEW.schedule_datetime IS NOT NULL ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_spd_schedules AFTER INSERT OR DELETE OR UPDATE OF schedule_datetime, event_ref_num ON schedules FOR EACH ROW EXECUTE FUNCTION dashboard_spd_schedules()',
            "CREATE FUNCTION dashboard_spd_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT CAST(s.schedule_datetime AS DATE), coalesce(OLD.location_mvid, CAST(OLD.store_number AS TEXT), ''), coalesce(OLD.event_type, 'Other'), -COUNT(*) FROM schedules s WHERE s.event_ref_num = OLD.project_ref_num AND s.schedule_datetime IS NOT NULL GROUP BY CAST(s.schedule_datetime AS DATE) ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO dashboard_scheduled_per_day (day, store, event_type, scheduled) SELECT CAST(s.schedule_datetime AS DATE), coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), coalesce(NEW.event_type, 'Other'), +COUNT(*) FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num AND s.schedule_datetime IS NOT NULL GROUP BY CAST(s.schedule_datetime AS DATE) ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = dashboard_scheduled_per_day.scheduled + excluded.scheduled; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_spd_events AFTER INSERT OR DELETE OR UPDATE OF project_ref_num, event_type, location_mvid, store_number ON events FOR EACH ROW EXECUTE FUNCTION dashboard_spd_events()',
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_spd_schedules ON schedules',
            'DROP FUNCTION IF EXISTS dashboard_spd_schedules()',
            'DROP TRIGGER IF EXISTS dashboard_spd_events ON events',
            'DROP FUNCTION IF EXISTS dashboard_spd_events()',
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


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _create_per_day_aggregate(TABLE, "scheduled")
    for statement in STATEMENTS[dialect]["rebuild"] + STATEMENTS[dialect]["create"]:
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
    for statement in STATEMENTS[dialect]["drop"]:
        op.execute(statement)
    op.drop_table(TABLE)
