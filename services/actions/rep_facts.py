"""What the rep rules (services/domain/rep_rules.py) need to know about reps, loaded set-based: many reps in a few
statements (the suggestions judge every qualified rep at once).

The scheduler's database may have `employee_time_off`, `employee_availability` and `employee_weekly_availability`
(DESIGN.md §1). They are not ours (no model, no migration): read when present; when absent, the availability rule has
nothing to go on, which is said once in the log per table and process.
"""
from __future__ import annotations

import logging
from time import monotonic
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import (
    ColumnClause, ColumnElement, Connection, Date, and_, cast, column, false, func, inspect, select, table,
)

from services.domain.event_rules import default_duration_minutes
from services.domain.rep_rules import QUALIFIED_TITLES, Booking, DayOff, Rep
from services.ops.logging_setup import log_event
from services.store.tables import Employee, Event, Schedule

log = logging.getLogger("services.actions")

TIME_OFF, AVAILABILITY, WEEKLY = "employee_time_off", "employee_availability", "employee_weekly_availability"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_said_absent: set[str] = set()
_CHUNK = 500


@dataclass(frozen=True)
class RepDay:
    """A rep and what the rules need about them on one day: the events they hold around it, and whether they are off."""

    rep: Rep
    bookings: tuple[Booking, ...]
    day_off: DayOff | None


def _rep(row) -> Rep:  # noqa: ANN001 - a Row of employees' columns
    return Rep(row.id, row.name, row.job_title, row.is_active is not False,
               str(row.external_id) if row.external_id else None)


_REP_COLUMNS = (Employee.id, Employee.name, Employee.job_title, Employee.is_active, Employee.external_id)


def find_rep(connection: Connection, employee_id: str) -> Rep | None:
    row = connection.execute(select(*_REP_COLUMNS).where(Employee.id == employee_id)).first()
    return None if row is None else _rep(row)


def qualified_reps(connection: Connection, event_type: str) -> list[Rep]:
    """Active reps with a Crossmark RepID whose title lets them work `event_type` (the only ones worth suggesting)."""
    query = select(*_REP_COLUMNS).where(Employee.is_active.is_not(False), Employee.external_id.is_not(None))
    titles = QUALIFIED_TITLES.get(event_type)
    if titles is not None:
        query = query.where(Employee.job_title.in_([str(title) for title in titles]))
    return [_rep(row) for row in connection.execute(query.order_by(Employee.name, Employee.id))]


def rep_days(connection: Connection, reps: list[Rep], day: date) -> dict[str, RepDay]:
    """Each rep's bookings from the day before to the end of `day` (an event of the evening before may run into it),
    and their day off, if any: three to six statements whatever the number of reps."""
    ids = [rep.id for rep in reps]
    bookings: dict[str, list[Booking]] = {rep_id: [] for rep_id in ids}
    first = datetime.combine(day - timedelta(days=1), time.min)
    last = datetime.combine(day + timedelta(days=1), time.min)
    for start in range(0, len(ids), _CHUNK):
        rows = connection.execute(
            select(Schedule.employee_id, Event.project_ref_num, Event.project_name, Event.event_type,
                   Event.estimated_time, Schedule.schedule_datetime)
            .join(Event, Event.project_ref_num == Schedule.event_ref_num)
            .where(Schedule.employee_id.in_(ids[start:start + _CHUNK]), Schedule.schedule_datetime >= first,
                   Schedule.schedule_datetime < last))
        for row in rows:
            bookings[row.employee_id].append(Booking(
                row.project_ref_num, row.project_name, row.event_type or "", row.schedule_datetime,
                row.estimated_time or default_duration_minutes(row.event_type or "")))
    days_off = _days_off(connection, ids, day)
    return {rep.id: RepDay(rep, tuple(sorted(bookings[rep.id], key=lambda b: b.start)), days_off.get(rep.id))
            for rep in reps}


def store_visits(connection: Connection, employee_ids: list[str], location_id: str | None, store_number: int | None,
                 since: datetime) -> dict[str, int]:
    """How many events each rep has held at this store since `since` (how well they know it)."""
    if not employee_ids or (location_id is None and store_number is None):
        return {}
    at_store = Event.location_mvid == location_id if location_id is not None else Event.store_number == store_number
    visits: dict[str, int] = {}
    for start in range(0, len(employee_ids), _CHUNK):
        rows = connection.execute(
            select(Schedule.employee_id, func.count())
            .join(Event, Event.project_ref_num == Schedule.event_ref_num)
            .where(Schedule.employee_id.in_(employee_ids[start:start + _CHUNK]), at_store,
                   Schedule.schedule_datetime >= since)
            .group_by(Schedule.employee_id))
        visits.update({employee_id: count for employee_id, count in rows})
    return visits


_TABLES_TTL = 60.0  # seconds: the scheduler's availability tables come and go with its own upgrades, not per action
_present_tables: dict[str, tuple[float, frozenset[str]]] = {}


def availability_tables(connection: Connection) -> frozenset[str]:
    """Which of the scheduler's availability tables the database has, looked up at most once a minute per database
    (a catalogue query on every plan cost PostgreSQL a round trip or two per action, planned twice)."""
    key = connection.engine.url.render_as_string(hide_password=True)
    cached = _present_tables.get(key)
    if cached is not None and monotonic() - cached[0] < _TABLES_TTL:
        return cached[1]
    present = frozenset(name for name in (TIME_OFF, AVAILABILITY, WEEKLY) if inspect(connection).has_table(name))
    _present_tables[key] = (monotonic(), present)
    return present


def forget_availability_tables() -> None:
    """Look the tables up again on the next plan (tests that create or drop them)."""
    _present_tables.clear()


def _days_off(connection: Connection, ids: list[str], day: date) -> dict[str, DayOff]:
    present = availability_tables(connection)
    for name in (TIME_OFF, AVAILABILITY, WEEKLY):
        if name not in present and name not in _said_absent:
            _said_absent.add(name)
            log_event(log, "availability table absent", table=name,
                      detail="the rep-availability rule does not use it (the scheduler's database has no such table)")
    off: dict[str, DayOff] = {}
    if not ids:
        return off
    employee: ColumnClause[str] = column("employee_id")
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        if WEEKLY in present:
            weekday: ColumnClause[bool] = column(WEEKDAYS[day.weekday()])
            weekly = table(WEEKLY, employee, weekday)
            for (employee_id,) in connection.execute(select(weekly.c.employee_id).where(
                    weekly.c.employee_id.in_(chunk), weekday == false())):
                off[employee_id] = DayOff(day, f"does not work on {day:%A}s (weekly availability)")
        if AVAILABILITY in present:
            available = table(AVAILABILITY, employee, column("date"), column("is_available"), column("reason"))
            for employee_id, reason in connection.execute(
                    select(available.c.employee_id, available.c.reason).where(
                        available.c.employee_id.in_(chunk), _day_of(connection, available.c.date) == day,
                        available.c.is_available == false())):
                off[employee_id] = DayOff(day, f"marked unavailable{_because(reason)}")
        if TIME_OFF in present:
            time_off = table(TIME_OFF, employee, column("start_date"), column("end_date"), column("reason"))
            for employee_id, first, last, reason in connection.execute(
                    select(time_off.c.employee_id, time_off.c.start_date, time_off.c.end_date, time_off.c.reason)
                    .where(time_off.c.employee_id.in_(chunk),
                           and_(_day_of(connection, time_off.c.start_date) <= day,
                                _day_of(connection, time_off.c.end_date) >= day))):
                off[employee_id] = DayOff(day, f"time off {_day(first)} – {_day(last)}{_because(reason)}")
    return off


def _day_of(connection: Connection, value: ColumnElement) -> ColumnElement:
    """A date column of a table that is not ours, as a date we can compare with: on SQLite the scheduler may have
    stored '2026-12-10' or '2026-12-10 00:00:00', so compare date(value) with the ISO day."""
    if connection.dialect.name == "sqlite":
        return func.date(value, type_=Date)
    return cast(value, Date)


def _because(reason: object) -> str:
    return f": {reason}" if reason else ""


def _day(value: object) -> str:
    return f"{value:%Y-%m-%d}" if isinstance(value, (date, datetime)) else str(value)
