"""Pre-aggregated scheduled events per day, store and type, kept exact by triggers; indexes for Unstaffed and pairing.

Why: the Calendar's month at 1,000,000 events joins ~170,000 schedules to their events (≈1 s on SQLite, ≈300 ms even
with covering indexes). The triggers keep `dashboard_scheduled_per_day` equal to
    SELECT day(s.schedule_datetime), store(e), coalesce(e.event_type, 'Other'), COUNT(*)
    FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num GROUP BY 1, 2, 3
whoever writes (this app, the CLI, or the scheduler itself), so a month is read from a few hundred rows.

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

TABLE = "dashboard_scheduled_per_day"
UNSTAFFED_INDEX = "ix_dashboard_events_unstaffed_due"
PAIRING_INDEX = "ix_dashboard_events_pairing"
SQLITE_TRIGGERS = ("dashboard_spd_schedule_insert", "dashboard_spd_schedule_delete", "dashboard_spd_schedule_update",
                   "dashboard_spd_event_insert", "dashboard_spd_event_delete", "dashboard_spd_event_update")


def _fragments(dialect: str) -> tuple:
    if dialect == "sqlite":
        return (lambda column: f"date({column})",
                lambda alias: f"coalesce({alias}.location_mvid, CAST({alias}.store_number AS TEXT), '')")
    return (lambda column: f"CAST({column} AS DATE)",
            lambda alias: f"coalesce({alias}.location_mvid, CAST({alias}.store_number AS TEXT), '')")


def _upsert(select_sql: str) -> str:
    return (f"INSERT INTO {TABLE} (day, store, event_type, scheduled) {select_sql} "
            "ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = "
            f"{TABLE}.scheduled + excluded.scheduled;")


def _schedule_change(dialect: str, row: str, sign: str) -> str:
    """The count change for one schedules row (OLD or NEW), if its event exists."""
    day, store = _fragments(dialect)
    return _upsert(f"SELECT {day(f'{row}.schedule_datetime')}, {store('e')}, coalesce(e.event_type, 'Other'), {sign}1 "
                   f"FROM events e WHERE e.project_ref_num = {row}.event_ref_num "
                   f"AND {row}.schedule_datetime IS NOT NULL")


def _event_change(dialect: str, row: str, sign: str) -> str:
    """The count change for every schedule of one events row (OLD or NEW)."""
    day, store = _fragments(dialect)
    return _upsert(f"SELECT {day('s.schedule_datetime')}, {store(row)}, coalesce({row}.event_type, 'Other'), "
                   f"{sign}COUNT(*) FROM schedules s WHERE s.event_ref_num = {row}.project_ref_num "
                   f"AND s.schedule_datetime IS NOT NULL GROUP BY {day('s.schedule_datetime')}")


def rebuild_sql(dialect: str) -> list[str]:
    day, store = _fragments(dialect)
    return [f"DELETE FROM {TABLE}",
            f"INSERT INTO {TABLE} (day, store, event_type, scheduled) "
            f"SELECT {day('s.schedule_datetime')}, {store('e')}, coalesce(e.event_type, 'Other'), COUNT(*) "
            "FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num "
            f"WHERE s.schedule_datetime IS NOT NULL GROUP BY 1, 2, 3"]


def _sqlite_triggers() -> list[str]:
    def trigger(name: str, timing: str, body: list[str]) -> str:
        return f"CREATE TRIGGER {name} AFTER {timing} BEGIN {' '.join(body)} END"

    return [
        trigger(SQLITE_TRIGGERS[0], "INSERT ON schedules", [_schedule_change("sqlite", "NEW", "+")]),
        trigger(SQLITE_TRIGGERS[1], "DELETE ON schedules", [_schedule_change("sqlite", "OLD", "-")]),
        trigger(SQLITE_TRIGGERS[2], "UPDATE OF schedule_datetime, event_ref_num ON schedules",
                [_schedule_change("sqlite", "OLD", "-"), _schedule_change("sqlite", "NEW", "+")]),
        trigger(SQLITE_TRIGGERS[3], "INSERT ON events", [_event_change("sqlite", "NEW", "+")]),
        trigger(SQLITE_TRIGGERS[4], "DELETE ON events", [_event_change("sqlite", "OLD", "-")]),
        trigger(SQLITE_TRIGGERS[5], "UPDATE OF project_ref_num, event_type, location_mvid, store_number ON events",
                [_event_change("sqlite", "OLD", "-"), _event_change("sqlite", "NEW", "+")]),
    ]


def _postgresql_triggers() -> list[str]:
    def function(name: str, old_sql: str, new_sql: str) -> str:
        return (f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF TG_OP IN ('DELETE', 'UPDATE') THEN {old_sql} END IF; "
                f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {new_sql} END IF; RETURN NULL; END $$")

    return [
        function("dashboard_spd_schedules", _schedule_change("postgresql", "OLD", "-"),
                 _schedule_change("postgresql", "NEW", "+")),
        function("dashboard_spd_events", _event_change("postgresql", "OLD", "-"),
                 _event_change("postgresql", "NEW", "+")),
        "CREATE TRIGGER dashboard_spd_schedules AFTER INSERT OR DELETE OR UPDATE OF schedule_datetime, event_ref_num "
        "ON schedules FOR EACH ROW EXECUTE FUNCTION dashboard_spd_schedules()",
        "CREATE TRIGGER dashboard_spd_events AFTER INSERT OR DELETE OR UPDATE OF project_ref_num, event_type, "
        "location_mvid, store_number ON events FOR EACH ROW EXECUTE FUNCTION dashboard_spd_events()",
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        TABLE,
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("store", sa.String(100), nullable=False),
        sa.Column("event_type", sa.String(20), nullable=False),
        sa.Column("scheduled", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("day", "store", "event_type"),
    )
    for statement in (_sqlite_triggers() if dialect == "sqlite" else _postgresql_triggers()) + rebuild_sql(dialect):
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
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS dashboard_spd_schedules ON schedules")
        op.execute("DROP TRIGGER IF EXISTS dashboard_spd_events ON events")
        op.execute("DROP FUNCTION IF EXISTS dashboard_spd_schedules()")
        op.execute("DROP FUNCTION IF EXISTS dashboard_spd_events()")
    op.drop_table(TABLE)
