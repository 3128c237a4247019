"""Every schedule with its event's store key, kept exact by triggers (services/store/schedule_stores.py), so one club's Day
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


# The store filter's own expression (read_queries.store_key_column) as SQLAlchemy writes it, so both planners match it;
# tests/test_schedule_stores.py checks that they do.
STORE_KEY_SQL = "coalesce(location_mvid, CAST(store_number AS VARCHAR))"
UNSTAFFED_BY_STORE_INDEX = "ix_dashboard_events_unstaffed_store_due"
TABLE = "dashboard_schedule_stores"
STORE_TIME_INDEX = "ix_dashboard_schedule_stores_store_time"
# Fill the table, then keep it exact: per dialect, as services/store/schedule_stores.py wrote them when frozen.
STATEMENTS = {
    'sqlite': {
        'rebuild': [
            'DELETE FROM dashboard_schedule_stores',
            "INSERT INTO dashboard_schedule_stores (schedule_id, store, schedule_datetime) SELECT s.id, coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), s.schedule_datetime FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL",
        ],
        'create': [
            "CREATE TRIGGER dashboard_ss_schedule_insert AFTER INSERT ON schedules BEGIN DELETE FROM dashboard_schedule_stores WHERE schedule_id = NEW.id; INSERT INTO dashboard_schedule_stores (schedule_id, store, schedule_datetime) SELECT NEW.id, coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), NEW.schedule_datetime FROM events e WHERE e.project_ref_num = NEW.event_ref_num AND NEW.schedule_datetime IS NOT NULL; END",
            'CREATE TRIGGER dashboard_ss_schedule_delete AFTER DELETE ON schedules BEGIN DELETE FROM dashboard_schedule_stores WHERE schedule_id = OLD.id; END',
            "CREATE TRIGGER dashboard_ss_schedule_update AFTER UPDATE OF id, event_ref_num, schedule_datetime ON schedules BEGIN DELETE FROM dashboard_schedule_stores WHERE schedule_id = OLD.id; DELETE FROM dashboard_schedule_stores WHERE schedule_id = NEW.id; INSERT INTO dashboard_schedule_stores (schedule_id, store, schedule_datetime) SELECT NEW.id, coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), NEW.schedule_datetime FROM events e WHERE e.project_ref_num = NEW.event_ref_num AND NEW.schedule_datetime IS NOT NULL; END",
            "CREATE TRIGGER dashboard_ss_event_insert AFTER INSERT ON events BEGIN DELETE FROM dashboard_schedule_stores WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num); INSERT INTO dashboard_schedule_stores (schedule_id, store, schedule_datetime) SELECT s.id, coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), s.schedule_datetime FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num AND s.schedule_datetime IS NOT NULL; END",
            'CREATE TRIGGER dashboard_ss_event_delete AFTER DELETE ON events BEGIN DELETE FROM dashboard_schedule_stores WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = OLD.project_ref_num); END',
            "CREATE TRIGGER dashboard_ss_event_update AFTER UPDATE OF project_ref_num, location_mvid, store_number ON events BEGIN DELETE FROM dashboard_schedule_stores WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = OLD.project_ref_num); DELETE FROM dashboard_schedule_stores WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num); INSERT INTO dashboard_schedule_stores (schedule_id, store, schedule_datetime) SELECT s.id, coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), s.schedule_datetime FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num AND s.schedule_datetime IS NOT NULL; END",
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_ss_schedule_insert',
            'DROP TRIGGER IF EXISTS dashboard_ss_schedule_delete',
            'DROP TRIGGER IF EXISTS dashboard_ss_schedule_update',
            'DROP TRIGGER IF EXISTS dashboard_ss_event_insert',
            'DROP TRIGGER IF EXISTS dashboard_ss_event_delete',
            'DROP TRIGGER IF EXISTS dashboard_ss_event_update',
        ],
    },
    'postgresql': {
        'rebuild': [
            'DELETE FROM dashboard_schedule_stores',
            "INSERT INTO dashboard_schedule_stores (schedule_id, store, schedule_datetime) SELECT s.id, coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), s.schedule_datetime FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL",
        ],
        'create': [
            "CREATE FUNCTION dashboard_ss_schedules() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN DELETE FROM dashboard_schedule_stores WHERE schedule_id = OLD.id; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN DELETE FROM dashboard_schedule_stores WHERE schedule_id = NEW.id; INSERT INTO dashboard_schedule_stores (schedule_id, store, schedule_datetime) SELECT NEW.id, coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), NEW.schedule_datetime FROM events e WHERE e.project_ref_num = NEW.event_ref_num AND NEW.schedule_datetime IS NOT NULL; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_ss_schedules AFTER INSERT OR DELETE OR UPDATE OF id, event_ref_num, schedule_datetime ON schedules FOR EACH ROW EXECUTE FUNCTION dashboard_ss_schedules()',
            "CREATE FUNCTION dashboard_ss_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN DELETE FROM dashboard_schedule_stores WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = OLD.project_ref_num); END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN DELETE FROM dashboard_schedule_stores WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num); INSERT INTO dashboard_schedule_stores (schedule_id, store, schedule_datetime) SELECT s.id, coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), s.schedule_datetime FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num AND s.schedule_datetime IS NOT NULL; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_ss_events AFTER INSERT OR DELETE OR UPDATE OF project_ref_num, location_mvid, store_number ON events FOR EACH ROW EXECUTE FUNCTION dashboard_ss_events()',
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_ss_schedules ON schedules',
            'DROP FUNCTION IF EXISTS dashboard_ss_schedules()',
            'DROP TRIGGER IF EXISTS dashboard_ss_events ON events',
            'DROP FUNCTION IF EXISTS dashboard_ss_events()',
        ],
    },
}

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
    for statement in STATEMENTS[dialect]["rebuild"]:
        op.execute(statement)
    # Indexed after the fill: one sort instead of a million index insertions.
    op.create_index(STORE_TIME_INDEX, TABLE, ["store", "schedule_datetime", "schedule_id"])
    for statement in STATEMENTS[dialect]["create"]:
        op.execute(statement)
    unstaffed = sa.text("condition = 'Unstaffed'")
    op.create_index(UNSTAFFED_BY_STORE_INDEX, "events", [sa.text(STORE_KEY_SQL), "due_datetime"],
                    sqlite_where=unstaffed, postgresql_where=unstaffed)


def downgrade() -> None:
    op.drop_index(UNSTAFFED_BY_STORE_INDEX, table_name="events")
    for statement in STATEMENTS[op.get_bind().dialect.name]["drop"]:
        op.execute(statement)
    op.drop_table(TABLE)
