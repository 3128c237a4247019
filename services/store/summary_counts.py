"""Summary layer: the sidebar's and `db status`'s event and store counts, kept exact by database triggers (migration
0015).

Why: "N events · M stores" counted every event on each cold page (after every write the data version changes and the
sidebar reads again): about 0.4 s of a 0.5 s cold page at 1,000,000 events. The triggers keep

    dashboard_store_event_counts = SELECT store_marker(e), COUNT(*) FROM events e GROUP BY 1

whoever writes (this app, the CLI, or the scheduler itself), so the counts are sums over one row per store. The store
marker is '#' + the store key the store filters use (location id, else store number), or '' for an event with
neither: the number of stores is the number of non-empty markers still holding events, exactly COUNT(DISTINCT store
key). Events change when Crossmark is synced or the scheduler adds them, not when an action moves one, so the counter
rows are not a point where concurrent actions meet. Schedules are not counted this way for that reason: every action
writes schedules, and counter rows they all update would make concurrent actions wait on (or deadlock over) them; only
`db status` counts schedules. The first and last days and the newest sync are index seeks (ix_events_window, and this
migration's indexes on due_datetime and last_synced).

As with the other derived tables, an SQLite `INSERT OR REPLACE` into events deletes without firing the delete trigger;
the scheduler writes with INSERT and UPDATE.

Migration 0015 holds its own frozen copy of this SQL; this module is what `bulk_load` drops, rebuilds and re-creates.
"""
from __future__ import annotations

from sqlalchemy import Integer, String, column, table

from services.store.trigger_sql import drop_plpgsql_row_trigger, drop_sqlite_triggers, plpgsql_row_trigger, sqlite_trigger

STORES_TABLE = "dashboard_store_event_counts"
SQLITE_TRIGGERS = ("dashboard_sc_event_insert", "dashboard_sc_event_delete", "dashboard_sc_event_update")
_EVENT_COLUMNS = "location_mvid, store_number"

# For the reads (services/read_queries.database_summary); the table is not an ORM model, like the triggers' SQL.
store_event_counts = table(STORES_TABLE, column("store", String), column("events", Integer))


def _store_marker(row: str) -> str:
    return f"coalesce('#' || coalesce({row}.location_mvid, CAST({row}.store_number AS TEXT)), '')"


def _event_change(row: str, sign: str) -> str:
    return (f"INSERT INTO {STORES_TABLE} (store, events) VALUES ({_store_marker(row)}, {sign}1) "
            f"ON CONFLICT (store) DO UPDATE SET events = {STORES_TABLE}.events + excluded.events;")


def create_trigger_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        names = SQLITE_TRIGGERS
        return [
            sqlite_trigger(names[0], "INSERT ON events", _event_change("NEW", "+")),
            sqlite_trigger(names[1], "DELETE ON events", _event_change("OLD", "-")),
            sqlite_trigger(names[2], f"UPDATE OF {_EVENT_COLUMNS} ON events", _event_change("OLD", "-"),
                           _event_change("NEW", "+")),
        ]
    return plpgsql_row_trigger("dashboard_sc_events", "events", _EVENT_COLUMNS, _event_change("OLD", "-"),
                               _event_change("NEW", "+"))


def drop_trigger_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return drop_sqlite_triggers(SQLITE_TRIGGERS)
    return drop_plpgsql_row_trigger("dashboard_sc_events", "events")


def rebuild_statements(dialect: str) -> list[str]:  # noqa: ARG001 - the same SQL on both backends
    """Recompute the table from the events (at the migration and after bulk loads)."""
    return [f"DELETE FROM {STORES_TABLE}",
            f"INSERT INTO {STORES_TABLE} (store, events) SELECT {_store_marker('e')}, COUNT(*) FROM events e GROUP BY 1"]
