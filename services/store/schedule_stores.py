"""Store layer: every schedule with its event's store key, kept exact by database triggers (migration 0008).

Why: one club's Day view wants about 100 of a national day's 5,400 schedules (at 1,000,000 events over 50 clubs). The
store lives on the event, so without this table the database walks all of the day's schedules and looks up each one's
event to test its store: about 14 ms on SQLite at 1,000,000 events, most of the view's time. The triggers keep
`dashboard_schedule_stores` equal to

    SELECT s.id, coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), s.schedule_datetime
    FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL

whoever writes (this app, the CLI, or the scheduler itself), and its index (store, time, schedule id) holds one club's
day as one short range.

The store key is the one the store filters use (read_queries.store_key_column) and the per-day aggregates keep.
"""
from __future__ import annotations

from services.store.trigger_sql import Watched, drop_row_triggers, row_triggers

TABLE = "dashboard_schedule_stores"
STORE_TIME_INDEX = "ix_dashboard_schedule_stores_store_time"
_SCHEDULE_COLUMNS = "id, event_ref_num, schedule_datetime"
_EVENT_COLUMNS = "project_ref_num, location_mvid, store_number"


def _store(alias: str) -> str:
    # The same expression as scheduled_per_day's, so a club's listed events and its counts can never disagree.
    return f"coalesce({alias}.location_mvid, CAST({alias}.store_number AS TEXT), '')"


def _insert_schedule(row: str) -> str:
    """The row of one schedules row (OLD or NEW), if its event exists. Any row already held for that schedule id goes
    first: an SQLite `INSERT OR REPLACE` into schedules deletes without firing the delete trigger."""
    return (f"DELETE FROM {TABLE} WHERE schedule_id = {row}.id; "
            f"INSERT INTO {TABLE} (schedule_id, store, schedule_datetime) "
            f"SELECT {row}.id, {_store('e')}, {row}.schedule_datetime FROM events e "
            f"WHERE e.project_ref_num = {row}.event_ref_num AND {row}.schedule_datetime IS NOT NULL;")


def _delete_schedule(row: str) -> str:
    return f"DELETE FROM {TABLE} WHERE schedule_id = {row}.id;"


def _insert_event(row: str) -> str:
    """The rows of every schedule of one events row (normally none yet: schedules are written after their event)."""
    return (f"DELETE FROM {TABLE} WHERE schedule_id IN "
            f"(SELECT s.id FROM schedules s WHERE s.event_ref_num = {row}.project_ref_num); "
            f"INSERT INTO {TABLE} (schedule_id, store, schedule_datetime) "
            f"SELECT s.id, {_store(row)}, s.schedule_datetime FROM schedules s "
            f"WHERE s.event_ref_num = {row}.project_ref_num AND s.schedule_datetime IS NOT NULL;")


def _delete_event(row: str) -> str:
    return (f"DELETE FROM {TABLE} WHERE schedule_id IN "
            f"(SELECT s.id FROM schedules s WHERE s.event_ref_num = {row}.project_ref_num);")


def create_trigger_statements(dialect: str) -> list[str]:
    return row_triggers(dialect, "dashboard_ss",
                        Watched("schedules", _SCHEDULE_COLUMNS, _delete_schedule("OLD"), _insert_schedule("NEW")),
                        Watched("events", _EVENT_COLUMNS, _delete_event("OLD"), _insert_event("NEW")))


def drop_trigger_statements(dialect: str) -> list[str]:
    return drop_row_triggers(dialect, "dashboard_ss", "schedules", "events")


def rebuild_statements(dialect: str) -> list[str]:  # noqa: ARG001 - the same SQL on both backends
    """Recompute every row from the base tables (at adoption and after bulk loads)."""
    return [f"DELETE FROM {TABLE}",
            f"INSERT INTO {TABLE} (schedule_id, store, schedule_datetime) "
            f"SELECT s.id, {_store('e')}, s.schedule_datetime FROM schedules s "
            "JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL"]
