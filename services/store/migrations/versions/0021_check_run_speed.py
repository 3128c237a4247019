"""Data-quality runs at 1,000,000 events (issues 21 and 22).

- An index of the reps' bookings by rep, event type and start, so rep_not_qualified and rep_inactive_with_events read
  only the offending bookings (from each employee, a short range per restricted type), not every booking from today on.
- `dashboard_check_changes`, the change log an incremental run (`check run --changed-since last`) reads: one row per
  changed row of events, schedules and employees, written by triggers (services/store/check_changes.py says what each
  row holds). It starts with one row that says "everything": the first run after this migration is a full one.
- Indexes of the findings by pairing key and by rep and day, and of the open ones by rule, day and severity: an incremental run looks up the open findings of what changed instead of reading every open finding, and
  counts them per rule from an index.
- dashboard_check_runs.incremental and .supervisor_rule: which runs an incremental run can build on.

Frozen: this file's own SQL, nothing imported from `services` (services/store/check_changes.py holds the current copy
that bulk loads drop and re-create).

Revision ID: 0021
Revises: 0020
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

BOOKINGS = "dashboard_rep_bookings"
TYPE_INDEX = "ix_dashboard_rep_bookings_type"
CHANGES = "dashboard_check_changes"
FINDINGS = "dashboard_findings"
FINDING_INDEXES = {"ix_dashboard_findings_key": ["store", "event_number"],
                   "ix_dashboard_findings_rep_day": ["employee_id", "day"]}
OPEN_INDEX = "ix_dashboard_findings_open"  # the open findings by rule, day and severity (partial)
RUNS = "dashboard_check_runs"
# The change log's triggers, per dialect, as services/store/check_changes.py wrote them when frozen.
STATEMENTS = {
    'sqlite': {
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_cc_event_insert',
            'DROP TRIGGER IF EXISTS dashboard_cc_event_delete',
            'DROP TRIGGER IF EXISTS dashboard_cc_event_update',
            'DROP TRIGGER IF EXISTS dashboard_cc_schedule_insert',
            'DROP TRIGGER IF EXISTS dashboard_cc_schedule_delete',
            'DROP TRIGGER IF EXISTS dashboard_cc_schedule_update',
            'DROP TRIGGER IF EXISTS dashboard_cc_employee_insert',
            'DROP TRIGGER IF EXISTS dashboard_cc_employee_delete',
            'DROP TRIGGER IF EXISTS dashboard_cc_employee_update',
        ],
        'create': [
            "CREATE TRIGGER dashboard_cc_event_insert BEFORE INSERT ON events BEGIN INSERT INTO dashboard_check_changes (event_ref, num, store) SELECT old.project_ref_num, CASE WHEN old.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR old.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(old.project_name, 1, 6) WHEN ltrim(old.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR ltrim(old.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(ltrim(old.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), 1, 6) END, coalesce(nullif(trim(old.location_mvid, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), ''), CAST(old.store_number AS TEXT)) FROM events old WHERE old.project_ref_num = NEW.project_ref_num OR old.id = NEW.id; INSERT INTO dashboard_check_changes (event_ref, num, store) SELECT NEW.project_ref_num, CASE WHEN NEW.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR NEW.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(NEW.project_name, 1, 6) WHEN ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), 1, 6) END, coalesce(nullif(trim(NEW.location_mvid, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), ''), CAST(NEW.store_number AS TEXT)); END",
            "CREATE TRIGGER dashboard_cc_event_delete AFTER DELETE ON events BEGIN INSERT INTO dashboard_check_changes (event_ref, num, store) SELECT OLD.project_ref_num, CASE WHEN OLD.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR OLD.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(OLD.project_name, 1, 6) WHEN ltrim(OLD.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR ltrim(OLD.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(ltrim(OLD.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), 1, 6) END, coalesce(nullif(trim(OLD.location_mvid, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), ''), CAST(OLD.store_number AS TEXT)); END",
            "CREATE TRIGGER dashboard_cc_event_update AFTER UPDATE OF project_ref_num, project_name, location_mvid, store_number, event_type, condition, is_scheduled, start_datetime, due_datetime, estimated_time, external_id ON events WHEN OLD.project_ref_num IS NOT NEW.project_ref_num OR OLD.project_name IS NOT NEW.project_name OR OLD.location_mvid IS NOT NEW.location_mvid OR OLD.store_number IS NOT NEW.store_number OR OLD.event_type IS NOT NEW.event_type OR OLD.condition IS NOT NEW.condition OR OLD.is_scheduled IS NOT NEW.is_scheduled OR OLD.start_datetime IS NOT NEW.start_datetime OR OLD.due_datetime IS NOT NEW.due_datetime OR OLD.estimated_time IS NOT NEW.estimated_time OR OLD.external_id IS NOT NEW.external_id BEGIN INSERT INTO dashboard_check_changes (event_ref, num, store) SELECT OLD.project_ref_num, CASE WHEN OLD.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR OLD.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(OLD.project_name, 1, 6) WHEN ltrim(OLD.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR ltrim(OLD.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(ltrim(OLD.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), 1, 6) END, coalesce(nullif(trim(OLD.location_mvid, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), ''), CAST(OLD.store_number AS TEXT)); INSERT INTO dashboard_check_changes (event_ref, num, store) SELECT NEW.project_ref_num, CASE WHEN NEW.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR NEW.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(NEW.project_name, 1, 6) WHEN ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), 1, 6) END, coalesce(nullif(trim(NEW.location_mvid, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), ''), CAST(NEW.store_number AS TEXT)); END",
            "CREATE TRIGGER dashboard_cc_schedule_insert BEFORE INSERT ON schedules BEGIN INSERT INTO dashboard_check_changes (event_ref, employee_id, day) SELECT old.event_ref_num, old.employee_id, (CAST(strftime('%s', old.schedule_datetime) AS INTEGER) + 62135596800) / 86400 FROM schedules old WHERE old.id = NEW.id OR old.external_id = NEW.external_id; INSERT INTO dashboard_check_changes (event_ref, employee_id, day) SELECT NEW.event_ref_num, NEW.employee_id, (CAST(strftime('%s', NEW.schedule_datetime) AS INTEGER) + 62135596800) / 86400; END",
            "CREATE TRIGGER dashboard_cc_schedule_delete AFTER DELETE ON schedules BEGIN INSERT INTO dashboard_check_changes (event_ref, employee_id, day) SELECT OLD.event_ref_num, OLD.employee_id, (CAST(strftime('%s', OLD.schedule_datetime) AS INTEGER) + 62135596800) / 86400; END",
            "CREATE TRIGGER dashboard_cc_schedule_update AFTER UPDATE OF event_ref_num, employee_id, schedule_datetime, external_id ON schedules WHEN OLD.event_ref_num IS NOT NEW.event_ref_num OR OLD.employee_id IS NOT NEW.employee_id OR OLD.schedule_datetime IS NOT NEW.schedule_datetime OR OLD.external_id IS NOT NEW.external_id BEGIN INSERT INTO dashboard_check_changes (event_ref, employee_id, day) SELECT OLD.event_ref_num, OLD.employee_id, (CAST(strftime('%s', OLD.schedule_datetime) AS INTEGER) + 62135596800) / 86400; INSERT INTO dashboard_check_changes (event_ref, employee_id, day) SELECT NEW.event_ref_num, NEW.employee_id, (CAST(strftime('%s', NEW.schedule_datetime) AS INTEGER) + 62135596800) / 86400; END",
            'CREATE TRIGGER dashboard_cc_employee_insert BEFORE INSERT ON employees BEGIN INSERT INTO dashboard_check_changes (employee_id) SELECT old.id FROM employees old WHERE old.id = NEW.id OR old.external_id = NEW.external_id; INSERT INTO dashboard_check_changes (employee_id) SELECT NEW.id; END',
            'CREATE TRIGGER dashboard_cc_employee_delete AFTER DELETE ON employees BEGIN INSERT INTO dashboard_check_changes (employee_id) SELECT OLD.id; END',
            'CREATE TRIGGER dashboard_cc_employee_update AFTER UPDATE OF id, name, job_title, is_active ON employees WHEN OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.job_title IS NOT NEW.job_title OR OLD.is_active IS NOT NEW.is_active BEGIN INSERT INTO dashboard_check_changes (employee_id) SELECT OLD.id; INSERT INTO dashboard_check_changes (employee_id) SELECT NEW.id; END',
        ],
    },
    'postgresql': {
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_cc_events ON events',
            'DROP TRIGGER IF EXISTS dashboard_cc_events_update ON events',
            'DROP FUNCTION IF EXISTS dashboard_cc_events()',
            'DROP TRIGGER IF EXISTS dashboard_cc_schedules ON schedules',
            'DROP TRIGGER IF EXISTS dashboard_cc_schedules_update ON schedules',
            'DROP FUNCTION IF EXISTS dashboard_cc_schedules()',
            'DROP TRIGGER IF EXISTS dashboard_cc_employees ON employees',
            'DROP TRIGGER IF EXISTS dashboard_cc_employees_update ON employees',
            'DROP FUNCTION IF EXISTS dashboard_cc_employees()',
        ],
        'create': [
            "CREATE FUNCTION dashboard_cc_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN INSERT INTO dashboard_check_changes (event_ref, num, store) SELECT OLD.project_ref_num, CASE WHEN ltrim(OLD.project_name, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))) ~ '^[0-9]{6}([^0-9]|$)' THEN substr(ltrim(OLD.project_name, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))), 1, 6) END, coalesce(nullif(btrim(OLD.location_mvid, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))), ''), CAST(OLD.store_number AS TEXT)); END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO dashboard_check_changes (event_ref, num, store) SELECT NEW.project_ref_num, CASE WHEN ltrim(NEW.project_name, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))) ~ '^[0-9]{6}([^0-9]|$)' THEN substr(ltrim(NEW.project_name, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))), 1, 6) END, coalesce(nullif(btrim(NEW.location_mvid, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))), ''), CAST(NEW.store_number AS TEXT)); END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_cc_events AFTER INSERT OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION dashboard_cc_events()',
            'CREATE TRIGGER dashboard_cc_events_update AFTER UPDATE OF project_ref_num, project_name, location_mvid, store_number, event_type, condition, is_scheduled, start_datetime, due_datetime, estimated_time, external_id ON events FOR EACH ROW WHEN (OLD.project_ref_num IS DISTINCT FROM NEW.project_ref_num OR OLD.project_name IS DISTINCT FROM NEW.project_name OR OLD.location_mvid IS DISTINCT FROM NEW.location_mvid OR OLD.store_number IS DISTINCT FROM NEW.store_number OR OLD.event_type IS DISTINCT FROM NEW.event_type OR OLD.condition IS DISTINCT FROM NEW.condition OR OLD.is_scheduled IS DISTINCT FROM NEW.is_scheduled OR OLD.start_datetime IS DISTINCT FROM NEW.start_datetime OR OLD.due_datetime IS DISTINCT FROM NEW.due_datetime OR OLD.estimated_time IS DISTINCT FROM NEW.estimated_time OR OLD.external_id IS DISTINCT FROM NEW.external_id) EXECUTE FUNCTION dashboard_cc_events()',
            "CREATE FUNCTION dashboard_cc_schedules() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN INSERT INTO dashboard_check_changes (event_ref, employee_id, day) SELECT OLD.event_ref_num, OLD.employee_id, (CAST(floor(extract(epoch FROM OLD.schedule_datetime)) AS BIGINT) + 62135596800) / 86400; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO dashboard_check_changes (event_ref, employee_id, day) SELECT NEW.event_ref_num, NEW.employee_id, (CAST(floor(extract(epoch FROM NEW.schedule_datetime)) AS BIGINT) + 62135596800) / 86400; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_cc_schedules AFTER INSERT OR DELETE ON schedules FOR EACH ROW EXECUTE FUNCTION dashboard_cc_schedules()',
            'CREATE TRIGGER dashboard_cc_schedules_update AFTER UPDATE OF event_ref_num, employee_id, schedule_datetime, external_id ON schedules FOR EACH ROW WHEN (OLD.event_ref_num IS DISTINCT FROM NEW.event_ref_num OR OLD.employee_id IS DISTINCT FROM NEW.employee_id OR OLD.schedule_datetime IS DISTINCT FROM NEW.schedule_datetime OR OLD.external_id IS DISTINCT FROM NEW.external_id) EXECUTE FUNCTION dashboard_cc_schedules()',
            "CREATE FUNCTION dashboard_cc_employees() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN INSERT INTO dashboard_check_changes (employee_id) SELECT OLD.id; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO dashboard_check_changes (employee_id) SELECT NEW.id; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_cc_employees AFTER INSERT OR DELETE ON employees FOR EACH ROW EXECUTE FUNCTION dashboard_cc_employees()',
            'CREATE TRIGGER dashboard_cc_employees_update AFTER UPDATE OF id, name, job_title, is_active ON employees FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.name IS DISTINCT FROM NEW.name OR OLD.job_title IS DISTINCT FROM NEW.job_title OR OLD.is_active IS DISTINCT FROM NEW.is_active) EXECUTE FUNCTION dashboard_cc_employees()',
        ],
    },
}


def _indexes(inspector, table: str) -> set[str]:  # noqa: ANN001 - an Inspector
    return {index["name"] for index in inspector.get_indexes(table)}


def upgrade() -> None:
    """Safe on a database created from the current models (which has the tables, columns and indexes already)."""
    bind = op.get_bind()
    dialect = bind.dialect.name
    inspector = sa.inspect(bind)
    if TYPE_INDEX not in _indexes(inspector, BOOKINGS):
        op.create_index(TYPE_INDEX, BOOKINGS, ["employee_id", "event_type", "starts", "condition"])
    if not inspector.has_table(CHANGES):
        if dialect == "sqlite":  # AUTOINCREMENT: a number is never reused (runs delete the rows they read by number)
            op.execute(f"CREATE TABLE {CHANGES} (seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, event_ref INTEGER, "
                       "num VARCHAR(6), store TEXT, employee_id VARCHAR(50), day INTEGER)")
        else:
            op.execute(f"CREATE TABLE {CHANGES} (seq BIGSERIAL PRIMARY KEY, event_ref INTEGER, num VARCHAR(6), "
                       "store TEXT, employee_id VARCHAR(50), day INTEGER)")
    op.execute(f"INSERT INTO {CHANGES} (event_ref) VALUES (NULL)")  # "everything": the next run is a full one
    for statement in (*STATEMENTS[dialect]["drop"], *STATEMENTS[dialect]["create"]):
        op.execute(statement)
    present = _indexes(inspector, FINDINGS)
    for name, columns in FINDING_INDEXES.items():
        if name not in present:
            op.create_index(name, FINDINGS, columns)
    if OPEN_INDEX not in present:
        # resolved_at too, though always NULL there: SQLite then reads the counts from the index alone.
        op.create_index(OPEN_INDEX, FINDINGS, ["rule", "day", "severity", "resolved_at"],
                        sqlite_where=sa.text("resolved_at IS NULL"), postgresql_where=sa.text("resolved_at IS NULL"))
    present_columns = {column["name"] for column in inspector.get_columns(RUNS)}
    if "incremental" not in present_columns:
        op.add_column(RUNS, sa.Column("incremental", sa.Boolean(), nullable=False, server_default=sa.false()))
    if "supervisor_rule" not in present_columns:
        op.add_column(RUNS, sa.Column("supervisor_rule", sa.String(200)))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table(RUNS) as batch:
        batch.drop_column("supervisor_rule")
        batch.drop_column("incremental")
    for name in (*FINDING_INDEXES, OPEN_INDEX):
        op.drop_index(name, table_name=FINDINGS)
    for statement in STATEMENTS[dialect]["drop"]:
        op.execute(statement)
    op.drop_table(CHANGES)
    op.drop_index(TYPE_INDEX, table_name=BOOKINGS)
