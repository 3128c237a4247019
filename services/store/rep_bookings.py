"""Store layer: every schedule with what the rules about people need of its event, kept exact by database triggers
(migration 0020).

Why: the rules about people (services/quality/rep_findings.py) judge every schedule from today on by its event's type,
duration and condition. Looking the event up for each one made the whole check run 72 % slower at 100,000 events on
SQLite (456 ms -> 783 ms), and it grows with the data. The triggers keep `dashboard_rep_bookings` equal to

    SELECT s.id, s.employee_id, s.event_ref_num, <days of s.schedule_datetime>, <seconds of s.schedule_datetime>,
           e.event_type, coalesce(e.estimated_time, <event_rules' default duration of e.event_type>), e.condition
    FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL

whoever writes (this app, the CLI, or the scheduler itself). Its (day, rep, start, ...) index holds every column the
rules read: the schedules from today on (or of the last 14 days) are one range of it, already in the order a rep's day is
judged in (no sort), and no event is read but those of a finding. Its (rep, start) index holds a rep's days off as short
ranges.

Times are whole seconds since 0001-01-01 (pair_members.EPOCH, a Monday) and days whole days since then, so days,
weekdays and ends are integer arithmetic on both backends. The durations are event_rules.DEFAULT_DURATION_MINUTES as migration 0020 froze them:
changing a default takes a migration that re-creates the triggers and rebuilds the table.

As with the other derived tables, an SQLite `INSERT OR REPLACE` into schedules deletes without firing the delete
trigger, so the insert trigger first removes any row held for the schedule id.
"""
from __future__ import annotations

from services.domain.event_rules import DEFAULT_DURATION_MINUTES, OTHER
from services.store.pair_members import seconds_sql
from services.store.trigger_sql import Watched, drop_row_triggers, row_triggers

TABLE = "dashboard_rep_bookings"
DAY_INDEX = "ix_dashboard_rep_bookings_day"
REP_INDEX = "ix_dashboard_rep_bookings_rep"
TYPE_INDEX = "ix_dashboard_rep_bookings_type"  # migration 0021
_SCHEDULE_COLUMNS = "id, event_ref_num, employee_id, schedule_datetime"
_EVENT_COLUMNS = "project_ref_num, event_type, estimated_time, condition"
_COLUMNS = "schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition"
DAY_SECONDS = 86_400


def minutes_sql(event: str) -> str:
    """An event's duration in minutes: its estimated_time, else event_rules' default for its type."""
    defaults = " ".join(f"WHEN '{event_type}' THEN {minutes}" for event_type, minutes in
                        DEFAULT_DURATION_MINUTES.items() if event_type != OTHER)
    return (f"coalesce({event}.estimated_time, CASE {event}.event_type {defaults} "
            f"ELSE {DEFAULT_DURATION_MINUTES[OTHER]} END)")


def _select(dialect: str, schedule: str, event: str) -> str:
    seconds = seconds_sql(dialect, f"{schedule}.schedule_datetime")
    return (f"SELECT {schedule}.id, {schedule}.employee_id, {schedule}.event_ref_num, {seconds} / {DAY_SECONDS}, "
            f"{seconds}, {event}.event_type, {minutes_sql(event)}, {event}.condition")


def _insert_schedule(dialect: str, row: str) -> str:
    """The row of one schedules row (OLD or NEW), if its event exists."""
    return (f"DELETE FROM {TABLE} WHERE schedule_id = {row}.id; "
            f"INSERT INTO {TABLE} ({_COLUMNS}) {_select(dialect, row, 'e')} FROM events e "
            f"WHERE e.project_ref_num = {row}.event_ref_num AND {row}.schedule_datetime IS NOT NULL;")


def _delete_schedule(row: str) -> str:
    return f"DELETE FROM {TABLE} WHERE schedule_id = {row}.id;"


def _insert_event(dialect: str, row: str) -> str:
    """The rows of every schedule of one events row (normally none yet: schedules are written after their event)."""
    return (f"{_delete_event(row)} "
            f"INSERT INTO {TABLE} ({_COLUMNS}) {_select(dialect, 's', row)} FROM schedules s "
            f"WHERE s.event_ref_num = {row}.project_ref_num AND s.schedule_datetime IS NOT NULL;")


def _delete_event(row: str) -> str:
    return (f"DELETE FROM {TABLE} WHERE schedule_id IN "
            f"(SELECT s.id FROM schedules s WHERE s.event_ref_num = {row}.project_ref_num);")


def create_trigger_statements(dialect: str) -> list[str]:
    return row_triggers(dialect, "dashboard_rb",
                        Watched("schedules", _SCHEDULE_COLUMNS, _delete_schedule("OLD"), _insert_schedule(dialect, "NEW")),
                        Watched("events", _EVENT_COLUMNS, _delete_event("OLD"), _insert_event(dialect, "NEW")))


def drop_trigger_statements(dialect: str) -> list[str]:
    return drop_row_triggers(dialect, "dashboard_rb", "schedules", "events")


def rebuild_statements(dialect: str) -> list[str]:
    """Recompute every row from the base tables (at adoption and after bulk loads)."""
    return [f"DELETE FROM {TABLE}",
            f"INSERT INTO {TABLE} ({_COLUMNS}) {_select(dialect, 's', 'e')} FROM schedules s "
            "JOIN events e ON e.project_ref_num = s.event_ref_num WHERE s.schedule_datetime IS NOT NULL"]
