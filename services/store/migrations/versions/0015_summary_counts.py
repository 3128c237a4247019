"""The sidebar's and `db status`'s headline counts kept by triggers (services/store/summary_counts.py), so a cold page no
longer counts every event (issue 22: about 0.4 s of a 0.5 s cold page at 1,000,000 events, paid after every write):
events per store marker ('#' + store key, '' for an event with neither). The first and last days and the newest sync
are read by index seeks: indexes on events.due_datetime and events.last_synced. Schedules are not counted by triggers:
every paired action writes schedules, and a counter row all of them update would make concurrent actions wait on (and,
in two rows' order, deadlock over) it; only `db status` counts them.

Frozen: this file's own SQL, nothing imported from `services` (services/store/summary_counts.py holds the current copy that
bulk loads drop, rebuild and re-create).

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

STORES_TABLE = "dashboard_store_event_counts"
DUE_INDEX = "ix_dashboard_events_due"
SYNCED_INDEX = "ix_dashboard_events_last_synced"
SQLITE_TRIGGERS = ("dashboard_sc_event_insert", "dashboard_sc_event_delete", "dashboard_sc_event_update")


def _event_change(row: str, sign: str) -> str:
    marker = f"coalesce('#' || coalesce({row}.location_mvid, CAST({row}.store_number AS TEXT)), '')"
    return (f"INSERT INTO {STORES_TABLE} (store, events) VALUES ({marker}, {sign}1) "
            f"ON CONFLICT (store) DO UPDATE SET events = {STORES_TABLE}.events + excluded.events;")


def _plpgsql(name: str, table: str, update_columns: str, on_old: str, on_new: str) -> list[str]:
    return [f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP IN ('DELETE', 'UPDATE') THEN {on_old} END IF; "
            f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {on_new} END IF; RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF {update_columns} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()"]


def _create_triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        event_old, event_new = _event_change("OLD", "-"), _event_change("NEW", "+")
        names = SQLITE_TRIGGERS
        return [f"CREATE TRIGGER {names[0]} AFTER INSERT ON events BEGIN {event_new} END",
                f"CREATE TRIGGER {names[1]} AFTER DELETE ON events BEGIN {event_old} END",
                f"CREATE TRIGGER {names[2]} AFTER UPDATE OF location_mvid, store_number ON events "
                f"BEGIN {event_old} {event_new} END"]
    return _plpgsql("dashboard_sc_events", "events", "location_mvid, store_number", _event_change("OLD", "-"),
                    _event_change("NEW", "+"))


def _drop_triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]
    return ["DROP TRIGGER IF EXISTS dashboard_sc_events ON events", "DROP FUNCTION IF EXISTS dashboard_sc_events()"]


def upgrade() -> None:
    """Safe to run again on a database that already has it (as the migrations before it): created where missing,
    the counts recomputed, the triggers re-created."""
    dialect = op.get_bind().dialect.name
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(STORES_TABLE):
        op.create_table(STORES_TABLE, sa.Column("store", sa.Text, primary_key=True),
                        sa.Column("events", sa.Integer, nullable=False))
    for statement in _drop_triggers(dialect):
        op.execute(statement)
    op.execute(f"DELETE FROM {STORES_TABLE}")
    op.execute(f"INSERT INTO {STORES_TABLE} (store, events) SELECT coalesce('#' || coalesce(e.location_mvid, "
               "CAST(e.store_number AS TEXT)), ''), COUNT(*) FROM events e GROUP BY 1")
    for statement in _create_triggers(dialect):
        op.execute(statement)
    with warnings.catch_warnings():  # events has expression indexes (0008), which reflection skips with a warning
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        indexes = {index["name"] for index in inspector.get_indexes("events")}
    for name, column in ((DUE_INDEX, "due_datetime"), (SYNCED_INDEX, "last_synced")):
        if name not in indexes:
            op.create_index(name, "events", [column])


def downgrade() -> None:
    op.drop_index(SYNCED_INDEX, table_name="events")
    op.drop_index(DUE_INDEX, table_name="events")
    for statement in _drop_triggers(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table(STORES_TABLE)
