"""Pre-aggregate layer: scheduled events per day, store key and type, and Unstaffed events per due day, store key and
type, both kept exact by database triggers.

Why: the Calendar's month at 1,000,000 events would join ~170,000 schedules to their events (≈1 s on SQLite, ≈300 ms
even with covering indexes). The triggers keep `dashboard_scheduled_per_day` equal to
    SELECT day(s.schedule_datetime), store_key(e), coalesce(e.event_type, 'Other'), COUNT(*)
    FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num GROUP BY 1, 2, 3
whoever writes (this app, the CLI, or the scheduler itself), so a month is read from a few hundred rows.

`dashboard_unstaffed_per_day` (migration 0006) does the same for Unstaffed events by due date: the Calendar's warning
days, the Event type counts and the Unscheduled buckets then cost the same at 10,000 and at 1,000,000 events, instead of
growing with the number of Unstaffed events in the range (about 100,000 at 1,000,000 events).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

from services.store import check_changes
from services.store import data_version
from services.store import pair_keys, pair_members
from services.store import rep_bookings, state_drift
from services.store import schedule_stores
from services.store import summary_counts
from services.store.trigger_sql import (
    drop_plpgsql_row_trigger, drop_sqlite_triggers, plpgsql_row_trigger, sqlite_trigger,
)

TABLE = "dashboard_scheduled_per_day"
SQLITE_TRIGGERS = ("dashboard_spd_schedule_insert", "dashboard_spd_schedule_delete", "dashboard_spd_schedule_update",
                   "dashboard_spd_event_insert", "dashboard_spd_event_delete", "dashboard_spd_event_update")


def _day(dialect: str, column: str) -> str:
    return f"date({column})" if dialect == "sqlite" else f"CAST({column} AS DATE)"


def _store(alias: str) -> str:
    return f"coalesce({alias}.location_mvid, CAST({alias}.store_number AS TEXT), '')"


def _upsert(select_sql: str) -> str:
    return (f"INSERT INTO {TABLE} (day, store, event_type, scheduled) {select_sql} "
            f"ON CONFLICT (day, store, event_type) DO UPDATE SET scheduled = {TABLE}.scheduled + excluded.scheduled;")


def _schedule_change(dialect: str, row: str, sign: str) -> str:
    """The count change for one schedules row (OLD or NEW), if its event exists."""
    return _upsert(f"SELECT {_day(dialect, f'{row}.schedule_datetime')}, {_store('e')}, "
                   f"coalesce(e.event_type, 'Other'), {sign}1 FROM events e "
                   f"WHERE e.project_ref_num = {row}.event_ref_num AND {row}.schedule_datetime IS NOT NULL")


def _event_change(dialect: str, row: str, sign: str) -> str:
    """The count change for every schedule of one events row (OLD or NEW)."""
    day = _day(dialect, "s.schedule_datetime")
    return _upsert(f"SELECT {day}, {_store(row)}, coalesce({row}.event_type, 'Other'), {sign}COUNT(*) "
                   f"FROM schedules s WHERE s.event_ref_num = {row}.project_ref_num "
                   f"AND s.schedule_datetime IS NOT NULL GROUP BY {day}")


def create_trigger_statements(dialect: str) -> list[str]:
    schedule_columns = "schedule_datetime, event_ref_num"
    event_columns = "project_ref_num, event_type, location_mvid, store_number"
    if dialect == "sqlite":
        names = SQLITE_TRIGGERS
        return [
            sqlite_trigger(names[0], "INSERT ON schedules", _schedule_change(dialect, "NEW", "+")),
            sqlite_trigger(names[1], "DELETE ON schedules", _schedule_change(dialect, "OLD", "-")),
            sqlite_trigger(names[2], f"UPDATE OF {schedule_columns} ON schedules",
                           _schedule_change(dialect, "OLD", "-"), _schedule_change(dialect, "NEW", "+")),
            sqlite_trigger(names[3], "INSERT ON events", _event_change(dialect, "NEW", "+")),
            sqlite_trigger(names[4], "DELETE ON events", _event_change(dialect, "OLD", "-")),
            sqlite_trigger(names[5], f"UPDATE OF {event_columns} ON events",
                           _event_change(dialect, "OLD", "-"), _event_change(dialect, "NEW", "+")),
        ]
    return (plpgsql_row_trigger("dashboard_spd_schedules", "schedules", schedule_columns,
                                _schedule_change(dialect, "OLD", "-"), _schedule_change(dialect, "NEW", "+"))
            + plpgsql_row_trigger("dashboard_spd_events", "events", event_columns,
                                  _event_change(dialect, "OLD", "-"), _event_change(dialect, "NEW", "+")))


def drop_trigger_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return drop_sqlite_triggers(SQLITE_TRIGGERS)
    return drop_plpgsql_row_trigger("dashboard_spd_schedules", "schedules") + \
        drop_plpgsql_row_trigger("dashboard_spd_events", "events")


def rebuild_statements(dialect: str) -> list[str]:
    """Recompute the whole aggregate from the base tables (used once at adoption and after bulk loads)."""
    day = _day(dialect, "s.schedule_datetime")
    return [f"DELETE FROM {TABLE}",
            f"INSERT INTO {TABLE} (day, store, event_type, scheduled) "
            f"SELECT {day}, {_store('e')}, coalesce(e.event_type, 'Other'), COUNT(*) "
            "FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num "
            f"WHERE s.schedule_datetime IS NOT NULL GROUP BY 1, 2, 3"]


UNSTAFFED_TABLE = "dashboard_unstaffed_per_day"
UNSTAFFED_SQLITE_TRIGGERS = ("dashboard_upd_event_insert", "dashboard_upd_event_delete", "dashboard_upd_event_update")
_UNSTAFFED_COLUMNS = "condition, due_datetime, event_type, location_mvid, store_number"


def _unstaffed_count_change(table: str, keys: dict[str, str], row: str, sign: str) -> str:
    """The change of `table`'s count keyed by `keys` (column: SQL of the row) for one events row (OLD or NEW), if it
    is Unstaffed with a due date."""
    return (f"INSERT INTO {table} ({', '.join(keys)}, event_type, unstaffed) "
            f"SELECT {', '.join(keys.values())}, coalesce({row}.event_type, 'Other'), "
            f"{sign}1 WHERE {row}.condition = 'Unstaffed' AND {row}.due_datetime IS NOT NULL "
            f"ON CONFLICT ({', '.join(keys)}, event_type) DO UPDATE SET unstaffed = {table}.unstaffed + "
            "excluded.unstaffed;")


def _unstaffed_rebuild(table: str, keys: dict[str, str]) -> list[str]:
    """Recompute `table`'s counts keyed by `keys` (column: SQL of the events row `e`) from the events."""
    group_by = ", ".join(str(position) for position in range(1, len(keys) + 2))
    return [f"DELETE FROM {table}",
            f"INSERT INTO {table} ({', '.join(keys)}, event_type, unstaffed) "
            f"SELECT {', '.join(keys.values())}, coalesce(e.event_type, 'Other'), COUNT(*) FROM events e "
            f"WHERE e.condition = 'Unstaffed' AND e.due_datetime IS NOT NULL GROUP BY {group_by}"]


def _unstaffed_change(dialect: str, row: str, sign: str) -> str:
    """The count change for one events row (OLD or NEW), if it is Unstaffed with a due date."""
    return _unstaffed_count_change(UNSTAFFED_TABLE, {"day": _day(dialect, f"{row}.due_datetime"), "store": _store(row)},
                                   row, sign)


def _unstaffed_event_triggers(dialect: str, sqlite_names: tuple[str, ...], postgres_name: str, old: str, new: str
                              ) -> list[str]:
    """Row triggers on events that apply `old` to a removed or replaced Unstaffed row and `new` to an added one."""
    if dialect == "sqlite":
        return [sqlite_trigger(sqlite_names[0], "INSERT ON events", new),
                sqlite_trigger(sqlite_names[1], "DELETE ON events", old),
                sqlite_trigger(sqlite_names[2], f"UPDATE OF {_UNSTAFFED_COLUMNS} ON events", old, new)]
    return plpgsql_row_trigger(postgres_name, "events", _UNSTAFFED_COLUMNS, old, new)


def _drop_unstaffed_event_triggers(dialect: str, sqlite_names: tuple[str, ...], postgres_name: str) -> list[str]:
    if dialect == "sqlite":
        return drop_sqlite_triggers(sqlite_names)
    return drop_plpgsql_row_trigger(postgres_name, "events")


def create_unstaffed_trigger_statements(dialect: str) -> list[str]:
    return _unstaffed_event_triggers(dialect, UNSTAFFED_SQLITE_TRIGGERS, "dashboard_upd_events",
                                     _unstaffed_change(dialect, "OLD", "-"), _unstaffed_change(dialect, "NEW", "+"))


def drop_unstaffed_trigger_statements(dialect: str) -> list[str]:
    return _drop_unstaffed_event_triggers(dialect, UNSTAFFED_SQLITE_TRIGGERS, "dashboard_upd_events")


def rebuild_unstaffed_statements(dialect: str) -> list[str]:
    return _unstaffed_rebuild(UNSTAFFED_TABLE, {"day": _day(dialect, "e.due_datetime"), "store": _store("e")})


# Unstaffed events per store key and type over all due days (migration 0009): the Unscheduled "Past due" bucket is
# everything due before today, i.e. the whole history; read as this total minus the days from today on, it costs the
# same however many years of days the aggregate above holds.
UNSTAFFED_TOTALS_TABLE = "dashboard_unstaffed_totals"
UNSTAFFED_TOTALS_SQLITE_TRIGGERS = ("dashboard_ut_event_insert", "dashboard_ut_event_delete", "dashboard_ut_event_update")


def _unstaffed_total_change(row: str, sign: str) -> str:
    """The total's change for one events row (OLD or NEW), if it is Unstaffed with a due date (as per day above)."""
    return _unstaffed_count_change(UNSTAFFED_TOTALS_TABLE, {"store": _store(row)}, row, sign)


def create_unstaffed_total_trigger_statements(dialect: str) -> list[str]:
    return _unstaffed_event_triggers(dialect, UNSTAFFED_TOTALS_SQLITE_TRIGGERS, "dashboard_ut_events",
                                     _unstaffed_total_change("OLD", "-"), _unstaffed_total_change("NEW", "+"))


def drop_unstaffed_total_trigger_statements(dialect: str) -> list[str]:
    return _drop_unstaffed_event_triggers(dialect, UNSTAFFED_TOTALS_SQLITE_TRIGGERS, "dashboard_ut_events")


def rebuild_unstaffed_total_statements(dialect: str) -> list[str]:  # noqa: ARG001 - the same SQL on both backends
    return _unstaffed_rebuild(UNSTAFFED_TOTALS_TABLE, {"store": _store("e")})


# Unstaffed events per due day and type, all stores together (migration 0022): the unfiltered Unscheduled buckets,
# Calendar and type counts sum at most one row per type a day from it, instead of one per club and type (about 300 a day
# at 1,000,000 events over 50 clubs, a handful at 10,000): their cost no longer grows with the number of events.
UNSTAFFED_ALL_STORES_TABLE = "dashboard_unstaffed_per_day_all_stores"
UNSTAFFED_ALL_STORES_SQLITE_TRIGGERS = ("dashboard_uas_event_insert", "dashboard_uas_event_delete",
                                        "dashboard_uas_event_update")


def _unstaffed_all_stores_change(dialect: str, row: str, sign: str) -> str:
    return _unstaffed_count_change(UNSTAFFED_ALL_STORES_TABLE, {"day": _day(dialect, f"{row}.due_datetime")}, row,
                                   sign)


def create_unstaffed_all_stores_trigger_statements(dialect: str) -> list[str]:
    return _unstaffed_event_triggers(dialect, UNSTAFFED_ALL_STORES_SQLITE_TRIGGERS, "dashboard_uas_events",
                                     _unstaffed_all_stores_change(dialect, "OLD", "-"),
                                     _unstaffed_all_stores_change(dialect, "NEW", "+"))


def drop_unstaffed_all_stores_trigger_statements(dialect: str) -> list[str]:
    return _drop_unstaffed_event_triggers(dialect, UNSTAFFED_ALL_STORES_SQLITE_TRIGGERS, "dashboard_uas_events")


def rebuild_unstaffed_all_stores_statements(dialect: str) -> list[str]:
    return _unstaffed_rebuild(UNSTAFFED_ALL_STORES_TABLE, {"day": _day(dialect, "e.due_datetime")})


# What a bulk load writes: the scheduler's tables and every derived table rebuilt after it.
BULK_LOADED_TABLES = ("events", "schedules", "employees", TABLE, UNSTAFFED_TABLE, UNSTAFFED_TOTALS_TABLE,
                      UNSTAFFED_ALL_STORES_TABLE,
                      pair_members.TABLE, schedule_stores.TABLE, summary_counts.STORES_TABLE, rep_bookings.TABLE,
                      pair_keys.TABLE, state_drift.TABLE)


@contextmanager
def bulk_load(connection: Connection) -> Iterator[None]:
    """Inside one transaction: drop the row triggers of every derived table (the per-day aggregates, the pairing members
    and keys, the schedules' stores, the summary counts, the reps' bookings, the drifting events) and the data-version
    triggers, let the caller bulk-insert, then rebuild the tables, bump the data version once and re-create the
    triggers.

    A row trigger per inserted schedule roughly doubles the time of a million-row load; one GROUP BY at the end is
    cheaper (and one bump than one per row on SQLite). Other writers wait meanwhile (SQLite holds the write lock;
    PostgreSQL the DDL's table locks)."""
    dialect = connection.dialect.name
    derived = [(drop_trigger_statements, rebuild_statements, create_trigger_statements),
               (drop_unstaffed_trigger_statements, rebuild_unstaffed_statements, create_unstaffed_trigger_statements),
               (drop_unstaffed_total_trigger_statements, rebuild_unstaffed_total_statements,
                create_unstaffed_total_trigger_statements),
               (drop_unstaffed_all_stores_trigger_statements, rebuild_unstaffed_all_stores_statements,
                create_unstaffed_all_stores_trigger_statements),
               (pair_members.drop_trigger_statements, pair_members.rebuild_statements,
                pair_members.create_trigger_statements),
               # After the members: the keys are grouped from them (its triggers watch that table).
               (pair_keys.drop_trigger_statements, pair_keys.rebuild_statements, pair_keys.create_trigger_statements),
               (state_drift.drop_trigger_statements, state_drift.rebuild_statements,
                state_drift.create_trigger_statements),
               (schedule_stores.drop_trigger_statements, schedule_stores.rebuild_statements,
                schedule_stores.create_trigger_statements),
               (summary_counts.drop_trigger_statements, summary_counts.rebuild_statements,
                summary_counts.create_trigger_statements),
               (rep_bookings.drop_trigger_statements, rep_bookings.rebuild_statements,
                rep_bookings.create_trigger_statements),
               # The change log cannot list what the load wrote: it says "everything" (the next check run is full).
               (check_changes.drop_trigger_statements, check_changes.rebuild_statements,
                check_changes.create_trigger_statements)]
    for statement in data_version.drop_trigger_statements(dialect):
        connection.execute(text(statement))
    for drop, _, _ in derived:
        for statement in drop(dialect):
            connection.execute(text(statement))
    yield
    for _, rebuild, create in derived:
        for statement in rebuild(dialect) + create(dialect):
            connection.execute(text(statement))
    data_version.bump_data_version(connection)
    for statement in data_version.create_trigger_statements(dialect):
        connection.execute(text(statement))
    # Fresh statistics, so the query planner picks the covering and pairing indexes on the new data at once. On
    # PostgreSQL a bare ANALYZE would take every table of the whole database, other schemas and applications included
    # (and deadlock with their DDL): only the tables this load wrote, as the search path names them.
    if dialect == "postgresql":
        connection.execute(text("ANALYZE " + ", ".join(BULK_LOADED_TABLES)))
    else:
        connection.execute(text("ANALYZE"))  # SQLite: this database file only
