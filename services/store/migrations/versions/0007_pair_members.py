"""Every CORE and Supervisor with its pairing key and latest schedule, kept exact by triggers
(services/store/pair_members.py), so a check run's pairing rules read one narrow table in key order instead of scanning,
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


EVENTS_BY_STORE_INDEX = "ix_dashboard_events_store_ref"
UNUSABLE_SCHEDULE_IDS_INDEX = "ix_dashboard_schedules_unusable_id"  # rule 10's few schedules, as a partial index
SCHEDULES_DAY_INDEX = "ix_dashboard_schedules_day"  # migration 0006's; on PostgreSQL re-created with the id included
SCHEDULES_DAY_COLUMNS = ["schedule_datetime", "event_ref_num", "employee_id"]
TABLE = "dashboard_pair_members"
KEY_INDEX = "ix_dashboard_pair_members_key"
# Rule 10's filter (services/quality_rules.unusable_schedule_id_sql when frozen): no id, or not a plain number.
UNUSABLE_SCHEDULE_ID_SQL = {
    "sqlite": "external_id IS NULL OR (external_id = '' OR external_id GLOB '*[^0-9]*')",
    "postgresql": "external_id IS NULL OR external_id !~ '^[0-9]+$'",
}
# Fill the table, then keep it exact: per dialect, as services/store/pair_members.py wrote them when frozen.
STATEMENTS = {
    'sqlite': {
        'rebuild': [
            'DELETE FROM dashboard_pair_members',
            "INSERT INTO dashboard_pair_members (ref, num, store, event_type, unstaffed, at) SELECT ref, num, store, event_type, unstaffed, at FROM (SELECT e.project_ref_num AS ref, CASE WHEN e.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR e.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(e.project_name, 1, 6) WHEN ltrim(e.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR ltrim(e.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(ltrim(e.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), 1, 6) END AS num, coalesce(nullif(trim(e.location_mvid, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), ''), CAST(e.store_number AS TEXT)) AS store, e.event_type AS event_type, CASE WHEN e.condition = 'Unstaffed' THEN 1 ELSE 0 END AS unstaffed, (SELECT max((CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800)) FROM schedules s WHERE s.event_ref_num = e.project_ref_num) AS at FROM events e WHERE e.event_type IN ('Core', 'Supervisor')) member WHERE num IS NOT NULL AND store IS NOT NULL",
        ],
        'create': [
            "CREATE TRIGGER dashboard_pm_event_insert AFTER INSERT ON events BEGIN INSERT INTO dashboard_pair_members (ref, num, store, event_type, unstaffed, at) SELECT ref, num, store, event_type, unstaffed, at FROM (SELECT NEW.project_ref_num AS ref, CASE WHEN NEW.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR NEW.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(NEW.project_name, 1, 6) WHEN ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), 1, 6) END AS num, coalesce(nullif(trim(NEW.location_mvid, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), ''), CAST(NEW.store_number AS TEXT)) AS store, NEW.event_type AS event_type, CASE WHEN NEW.condition = 'Unstaffed' THEN 1 ELSE 0 END AS unstaffed, (SELECT max((CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800)) FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num) AS at WHERE NEW.event_type IN ('Core', 'Supervisor')) member WHERE num IS NOT NULL AND store IS NOT NULL; END",
            'CREATE TRIGGER dashboard_pm_event_delete AFTER DELETE ON events BEGIN DELETE FROM dashboard_pair_members WHERE ref = OLD.project_ref_num; END',
            "CREATE TRIGGER dashboard_pm_event_update AFTER UPDATE OF project_ref_num, project_name, location_mvid, store_number, event_type, condition ON events BEGIN DELETE FROM dashboard_pair_members WHERE ref = OLD.project_ref_num; INSERT INTO dashboard_pair_members (ref, num, store, event_type, unstaffed, at) SELECT ref, num, store, event_type, unstaffed, at FROM (SELECT NEW.project_ref_num AS ref, CASE WHEN NEW.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR NEW.project_name GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(NEW.project_name, 1, 6) WHEN ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][^0-9]*' OR ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)) GLOB '[0-9][0-9][0-9][0-9][0-9][0-9]' THEN substr(ltrim(NEW.project_name, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), 1, 6) END AS num, coalesce(nullif(trim(NEW.location_mvid, char(9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 133, 160, 5760, 8192, 8193, 8194, 8195, 8196, 8197, 8198, 8199, 8200, 8201, 8202, 8232, 8233, 8239, 8287, 12288)), ''), CAST(NEW.store_number AS TEXT)) AS store, NEW.event_type AS event_type, CASE WHEN NEW.condition = 'Unstaffed' THEN 1 ELSE 0 END AS unstaffed, (SELECT max((CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800)) FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num) AS at WHERE NEW.event_type IN ('Core', 'Supervisor')) member WHERE num IS NOT NULL AND store IS NOT NULL; END",
            "CREATE TRIGGER dashboard_pm_schedule_insert AFTER INSERT ON schedules BEGIN UPDATE dashboard_pair_members SET at = (SELECT max((CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800)) FROM schedules s WHERE s.event_ref_num = NEW.event_ref_num) WHERE ref = NEW.event_ref_num; END",
            "CREATE TRIGGER dashboard_pm_schedule_delete AFTER DELETE ON schedules BEGIN UPDATE dashboard_pair_members SET at = (SELECT max((CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800)) FROM schedules s WHERE s.event_ref_num = OLD.event_ref_num) WHERE ref = OLD.event_ref_num; END",
            "CREATE TRIGGER dashboard_pm_schedule_update AFTER UPDATE OF schedule_datetime, event_ref_num ON schedules BEGIN UPDATE dashboard_pair_members SET at = (SELECT max((CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800)) FROM schedules s WHERE s.event_ref_num = OLD.event_ref_num) WHERE ref = OLD.event_ref_num; UPDATE dashboard_pair_members SET at = (SELECT max((CAST(strftime('%s', s.schedule_datetime) AS INTEGER) + 62135596800)) FROM schedules s WHERE s.event_ref_num = NEW.event_ref_num) WHERE ref = NEW.event_ref_num; END",
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_pm_event_insert',
            'DROP TRIGGER IF EXISTS dashboard_pm_event_delete',
            'DROP TRIGGER IF EXISTS dashboard_pm_event_update',
            'DROP TRIGGER IF EXISTS dashboard_pm_schedule_insert',
            'DROP TRIGGER IF EXISTS dashboard_pm_schedule_delete',
            'DROP TRIGGER IF EXISTS dashboard_pm_schedule_update',
        ],
    },
    'postgresql': {
        'rebuild': [
            'DELETE FROM dashboard_pair_members',
            "INSERT INTO dashboard_pair_members (ref, num, store, event_type, unstaffed, at) SELECT ref, num, store, event_type, unstaffed, at FROM (SELECT e.project_ref_num AS ref, CASE WHEN ltrim(e.project_name, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))) ~ '^[0-9]{6}([^0-9]|$)' THEN substr(ltrim(e.project_name, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))), 1, 6) END AS num, coalesce(nullif(btrim(e.location_mvid, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))), ''), CAST(e.store_number AS TEXT)) AS store, e.event_type AS event_type, CASE WHEN e.condition = 'Unstaffed' THEN 1 ELSE 0 END AS unstaffed, (SELECT max((CAST(floor(extract(epoch FROM s.schedule_datetime)) AS BIGINT) + 62135596800)) FROM schedules s WHERE s.event_ref_num = e.project_ref_num) AS at FROM events e WHERE e.event_type IN ('Core', 'Supervisor')) member WHERE num IS NOT NULL AND store IS NOT NULL",
        ],
        'create': [
            "CREATE FUNCTION dashboard_pm_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN DELETE FROM dashboard_pair_members WHERE ref = OLD.project_ref_num; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO dashboard_pair_members (ref, num, store, event_type, unstaffed, at) SELECT ref, num, store, event_type, unstaffed, at FROM (SELECT NEW.project_ref_num AS ref, CASE WHEN ltrim(NEW.project_name, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))) ~ '^[0-9]{6}([^0-9]|$)' THEN substr(ltrim(NEW.project_name, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))), 1, 6) END AS num, coalesce(nullif(btrim(NEW.location_mvid, (chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) || chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) || chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) || chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288))), ''), CAST(NEW.store_number AS TEXT)) AS store, NEW.event_type AS event_type, CASE WHEN NEW.condition = 'Unstaffed' THEN 1 ELSE 0 END AS unstaffed, (SELECT max((CAST(floor(extract(epoch FROM s.schedule_datetime)) AS BIGINT) + 62135596800)) FROM schedules s WHERE s.event_ref_num = NEW.project_ref_num) AS at WHERE NEW.event_type IN ('Core', 'Supervisor')) member WHERE num IS NOT NULL AND store IS NOT NULL; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_pm_events AFTER INSERT OR DELETE OR UPDATE OF project_ref_num, project_name, location_mvid, store_number, event_type, condition ON events FOR EACH ROW EXECUTE FUNCTION dashboard_pm_events()',
            "CREATE FUNCTION dashboard_pm_schedules() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN UPDATE dashboard_pair_members SET at = (SELECT max((CAST(floor(extract(epoch FROM s.schedule_datetime)) AS BIGINT) + 62135596800)) FROM schedules s WHERE s.event_ref_num = OLD.event_ref_num) WHERE ref = OLD.event_ref_num; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN UPDATE dashboard_pair_members SET at = (SELECT max((CAST(floor(extract(epoch FROM s.schedule_datetime)) AS BIGINT) + 62135596800)) FROM schedules s WHERE s.event_ref_num = NEW.event_ref_num) WHERE ref = NEW.event_ref_num; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_pm_schedules AFTER INSERT OR DELETE OR UPDATE OF schedule_datetime, event_ref_num ON schedules FOR EACH ROW EXECUTE FUNCTION dashboard_pm_schedules()',
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_pm_events ON events',
            'DROP FUNCTION IF EXISTS dashboard_pm_events()',
            'DROP TRIGGER IF EXISTS dashboard_pm_schedules ON schedules',
            'DROP FUNCTION IF EXISTS dashboard_pm_schedules()',
        ],
    },
}

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
    for statement in STATEMENTS[dialect]["rebuild"] + STATEMENTS[dialect]["create"]:
        op.execute(statement)
    op.create_index(EVENTS_BY_STORE_INDEX, "events", ["location_mvid", "store_number", "project_ref_num"])
    unusable = sa.text(UNUSABLE_SCHEDULE_ID_SQL[dialect])
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
    for statement in STATEMENTS[dialect]["drop"]:
        op.execute(statement)
    op.drop_table(TABLE)
