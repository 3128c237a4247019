"""Every schedule with its rep, day and start (days and seconds since 0001-01-01) and its event's type, duration and
condition, kept exact by triggers (services/store/rep_bookings.py), so the rules about people read the schedules from
today on as one range of an index that holds all they need, in the order a rep's day is judged in, instead of looking up
the event of each one (issue 21: the rules made the whole check run 72 % slower at 100,000 events on SQLite).

Frozen: this file's own SQL, nothing imported from `services` (services/store/rep_bookings.py holds the current copy that
bulk loads drop, rebuild and re-create). The durations are event_rules' defaults when this was written: Core 390,
Supervisor 5, Juicer 540 minutes, any other type 15.

Revision ID: 0020
Revises: 0019
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLE = "dashboard_rep_bookings"
DAY_INDEX = "ix_dashboard_rep_bookings_day"
REP_INDEX = "ix_dashboard_rep_bookings_rep"
# Fill the table, then keep it exact: per dialect, as services/store/rep_bookings.py wrote them when frozen.
STATEMENTS = {
    'sqlite': {
        'rebuild': [
            'DELETE FROM dashboard_rep_bookings',
            "INSERT INTO dashboard_rep_bookings (schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition) SELECT s.id, s.employee_id, s.event_ref_num, (CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800) / 86400, (CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800), e.event_type, coalesce(e.estimated_time, CASE e.event_type WHEN 'Core' THEN 390 WHEN 'Supervisor' THEN 5 WHEN 'Juicer' THEN 540 WHEN 'Digitals' THEN 15 WHEN 'Freeosk' THEN 15 ELSE 15 END), e.condition FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL",
        ],
        'create': [
            "CREATE TRIGGER dashboard_rb_schedule_insert AFTER INSERT ON schedules BEGIN DELETE FROM dashboard_rep_bookings WHERE schedule_id = NEW.id; INSERT INTO dashboard_rep_bookings (schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition) SELECT NEW.id, NEW.employee_id, NEW.event_ref_num, (CAST(strftime('%s', NEW.schedule_datetime) AS INTEGER) + 62135596800) / 86400, (CAST(strftime('%s', NEW.schedule_datetime) AS INTEGER) + 62135596800), e.event_type, coalesce(e.estimated_time, CASE e.event_type WHEN 'Core' THEN 390 WHEN 'Supervisor' THEN 5 WHEN 'Juicer' THEN 540 WHEN 'Digitals' THEN 15 WHEN 'Freeosk' THEN 15 ELSE 15 END), e.condition FROM events e WHERE e.project_ref_num = NEW.event_ref_num AND NEW.schedule_datetime IS NOT NULL; END",
            'CREATE TRIGGER dashboard_rb_schedule_delete AFTER DELETE ON schedules BEGIN DELETE FROM dashboard_rep_bookings WHERE schedule_id = OLD.id; END',
            "CREATE TRIGGER dashboard_rb_schedule_update AFTER UPDATE OF id, event_ref_num, employee_id, schedule_datetime ON schedules BEGIN DELETE FROM dashboard_rep_bookings WHERE schedule_id = OLD.id; DELETE FROM dashboard_rep_bookings WHERE schedule_id = NEW.id; INSERT INTO dashboard_rep_bookings (schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition) SELECT NEW.id, NEW.employee_id, NEW.event_ref_num, (CAST(strftime('%s', NEW.schedule_datetime) AS INTEGER) + 62135596800) / 86400, (CAST(strftime('%s', NEW.schedule_datetime) AS INTEGER) + 62135596800), e.event_type, coalesce(e.estimated_time, CASE e.event_type WHEN 'Core' THEN 390 WHEN 'Supervisor' THEN 5 WHEN 'Juicer' THEN 540 WHEN 'Digitals' THEN 15 WHEN 'Freeosk' THEN 15 ELSE 15 END), e.condition FROM events e WHERE e.project_ref_num = NEW.event_ref_num AND NEW.schedule_datetime IS NOT NULL; END",
            "CREATE TRIGGER dashboard_rb_event_insert AFTER INSERT ON events BEGIN DELETE FROM dashboard_rep_bookings WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num); INSERT INTO dashboard_rep_bookings (schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition) SELECT s.id, s.employee_id, s.event_ref_num, (CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800) / 86400, (CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800), NEW.event_type, coalesce(NEW.estimated_time, CASE NEW.event_type WHEN 'Core' THEN 390 WHEN 'Supervisor' THEN 5 WHEN 'Juicer' THEN 540 WHEN 'Digitals' THEN 15 WHEN 'Freeosk' THEN 15 ELSE 15 END), NEW.condition FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num AND s.schedule_datetime IS NOT NULL; END",
            'CREATE TRIGGER dashboard_rb_event_delete AFTER DELETE ON events BEGIN DELETE FROM dashboard_rep_bookings WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = OLD.project_ref_num); END',
            "CREATE TRIGGER dashboard_rb_event_update AFTER UPDATE OF project_ref_num, event_type, estimated_time, condition ON events BEGIN DELETE FROM dashboard_rep_bookings WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = OLD.project_ref_num); DELETE FROM dashboard_rep_bookings WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num); INSERT INTO dashboard_rep_bookings (schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition) SELECT s.id, s.employee_id, s.event_ref_num, (CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800) / 86400, (CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800), NEW.event_type, coalesce(NEW.estimated_time, CASE NEW.event_type WHEN 'Core' THEN 390 WHEN 'Supervisor' THEN 5 WHEN 'Juicer' THEN 540 WHEN 'Digitals' THEN 15 WHEN 'Freeosk' THEN 15 ELSE 15 END), NEW.condition FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num AND s.schedule_datetime IS NOT NULL; END",
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_rb_schedule_insert',
            'DROP TRIGGER IF EXISTS dashboard_rb_schedule_delete',
            'DROP TRIGGER IF EXISTS dashboard_rb_schedule_update',
            'DROP TRIGGER IF EXISTS dashboard_rb_event_insert',
            'DROP TRIGGER IF EXISTS dashboard_rb_event_delete',
            'DROP TRIGGER IF EXISTS dashboard_rb_event_update',
        ],
    },
    'postgresql': {
        'rebuild': [
            'DELETE FROM dashboard_rep_bookings',
            "INSERT INTO dashboard_rep_bookings (schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition) SELECT s.id, s.employee_id, s.event_ref_num, (CAST(floor(extract(epoch FROM s.schedule_datetime)) AS BIGINT) + 62135596800) / 86400, (CAST(floor(extract(epoch FROM s.schedule_datetime)) AS BIGINT) + 62135596800), e.event_type, coalesce(e.estimated_time, CASE e.event_type WHEN 'Core' THEN 390 WHEN 'Supervisor' THEN 5 WHEN 'Juicer' THEN 540 WHEN 'Digitals' THEN 15 WHEN 'Freeosk' THEN 15 ELSE 15 END), e.condition FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL",
        ],
        'create': [
            "CREATE FUNCTION dashboard_rb_schedules() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN DELETE FROM dashboard_rep_bookings WHERE schedule_id = OLD.id; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN DELETE FROM dashboard_rep_bookings WHERE schedule_id = NEW.id; INSERT INTO dashboard_rep_bookings (schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition) SELECT NEW.id, NEW.employee_id, NEW.event_ref_num, (CAST(floor(extract(epoch FROM NEW.schedule_datetime)) AS BIGINT) + 62135596800) / 86400, (CAST(floor(extract(epoch FROM NEW.schedule_datetime)) AS BIGINT) + 62135596800), e.event_type, coalesce(e.estimated_time, CASE e.event_type WHEN 'Core' THEN 390 WHEN 'Supervisor' THEN 5 WHEN 'Juicer' THEN 540 WHEN 'Digitals' THEN 15 WHEN 'Freeosk' THEN 15 ELSE 15 END), e.condition FROM events e WHERE e.project_ref_num = NEW.event_ref_num AND NEW.schedule_datetime IS NOT NULL; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_rb_schedules AFTER INSERT OR DELETE OR UPDATE OF id, event_ref_num, employee_id, schedule_datetime ON schedules FOR EACH ROW EXECUTE FUNCTION dashboard_rb_schedules()',
            "CREATE FUNCTION dashboard_rb_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN DELETE FROM dashboard_rep_bookings WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = OLD.project_ref_num); END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN DELETE FROM dashboard_rep_bookings WHERE schedule_id IN (SELECT s.id FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num); INSERT INTO dashboard_rep_bookings (schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition) SELECT s.id, s.employee_id, s.event_ref_num, (CAST(floor(extract(epoch FROM s.schedule_datetime)) AS BIGINT) + 62135596800) / 86400, (CAST(floor(extract(epoch FROM s.schedule_datetime)) AS BIGINT) + 62135596800), NEW.event_type, coalesce(NEW.estimated_time, CASE NEW.event_type WHEN 'Core' THEN 390 WHEN 'Supervisor' THEN 5 WHEN 'Juicer' THEN 540 WHEN 'Digitals' THEN 15 WHEN 'Freeosk' THEN 15 ELSE 15 END), NEW.condition FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num AND s.schedule_datetime IS NOT NULL; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_rb_events AFTER INSERT OR DELETE OR UPDATE OF project_ref_num, event_type, estimated_time, condition ON events FOR EACH ROW EXECUTE FUNCTION dashboard_rb_events()',
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_rb_schedules ON schedules',
            'DROP FUNCTION IF EXISTS dashboard_rb_schedules()',
            'DROP TRIGGER IF EXISTS dashboard_rb_events ON events',
            'DROP FUNCTION IF EXISTS dashboard_rb_events()',
        ],
    },
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table(TABLE):
        # A database created from the current models already has the table, its indexes, and (through the
        # models' DDL events) maybe its triggers: fill it from the rows there are and (re)create the triggers.
        for statement in (*STATEMENTS[dialect]["drop"], *STATEMENTS[dialect]["rebuild"],
                          *STATEMENTS[dialect]["create"]):
            op.execute(statement)
        return
    op.create_table(
        TABLE,
        sa.Column("schedule_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("employee_id", sa.String(50), nullable=False),
        sa.Column("event_ref", sa.Integer, nullable=False),
        sa.Column("day", sa.Integer, nullable=False),
        sa.Column("starts", sa.BigInteger, nullable=False),
        sa.Column("event_type", sa.String(20)),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("condition", sa.String(20)),
    )
    for statement in STATEMENTS[dialect]["rebuild"]:
        op.execute(statement)
    # Indexed after the fill: one sort instead of a million index insertions.
    op.create_index(DAY_INDEX, TABLE, ["day", "employee_id", "starts", "event_ref", "event_type", "minutes", "condition"])
    op.create_index(REP_INDEX, TABLE, ["employee_id", "starts"])
    for statement in STATEMENTS[dialect]["create"]:
        op.execute(statement)


def downgrade() -> None:
    for statement in STATEMENTS[op.get_bind().dialect.name]["drop"]:
        op.execute(statement)
    op.drop_table(TABLE)
