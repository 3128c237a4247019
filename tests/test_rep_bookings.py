"""dashboard_rep_bookings (migration 0020): the triggers keep every schedule's rep, day, start and its event's type,
duration and condition equal to what the base tables say, after random inserts, updates and deletes of schedules and
events by this app's engine and by another connection writing raw SQL (as the scheduler app would), on the triggers the
migration created and on those a bulk load re-creates, on SQLite and PostgreSQL."""
from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import psycopg
import pytest
from sqlalchemy import Engine, text

from services.demo.demo_data import seed_demo_data
from services.domain.event_rules import CORE, EVENT_TYPES, JUICER, SUPERVISOR, default_duration_minutes
from services.store.pair_members import EPOCH
from services.store.schema_admin import libpq_url

TODAY = date.today()
CONDITIONS = ("Unstaffed", "Scheduled", "Staffed", "Canceled", "In Progress", "Submitted", None)
Row = tuple[str, int, int, int, str | None, int, str | None]


def _as_datetime(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _expected(engine: Engine) -> dict[int, Row]:
    """schedule id -> (rep, ref, day, start, type, minutes, condition), computed in Python from schedules and events."""
    with engine.connect() as connection:
        events = {ref: (event_type, minutes, condition) for ref, event_type, minutes, condition in connection.execute(
            text("SELECT project_ref_num, event_type, estimated_time, condition FROM events"))}
        expected = {}
        for schedule_id, rep, ref, at in connection.execute(text(
                "SELECT id, employee_id, event_ref_num, schedule_datetime FROM schedules")):
            if ref not in events or at is None:
                continue
            event_type, minutes, condition = events[ref]
            seconds = int((_as_datetime(at) - EPOCH).total_seconds())
            expected[schedule_id] = (rep, ref, seconds // 86_400, seconds, event_type,
                                     minutes if minutes is not None else default_duration_minutes(event_type),
                                     condition)
    return expected


def _held(engine: Engine) -> dict[int, Row]:
    with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in connection.execute(text(
            "SELECT schedule_id, employee_id, event_ref, day, starts, event_type, minutes, condition "
            "FROM dashboard_rep_bookings"))}


def _raw_writer(engine: Engine) -> tuple[Callable[[str, dict], None], Callable[[], None]]:
    """(write, close) on a connection of the database's own driver, outside SQLAlchemy: `:name` parameters."""
    if engine.dialect.name == "sqlite":
        raw = sqlite3.connect(str(engine.url.database), isolation_level=None)
        raw.execute("PRAGMA busy_timeout = 30000")  # beside the app's own writers, as the scheduler would wait

        def write(sql: str, parameters: dict) -> None:
            raw.execute(sql, {key: str(value) if isinstance(value, datetime) else value
                              for key, value in parameters.items()})
        return write, raw.close
    connection = psycopg.connect(libpq_url(engine.url.render_as_string(hide_password=False)), autocommit=True)

    def write_pg(sql: str, parameters: dict) -> None:
        connection.execute(re.sub(r":(\w+)", r"%(\1)s", sql), parameters)
    return write_pg, connection.close


def _engine_writer(engine: Engine) -> Callable[[str, dict], None]:
    """A write through this app's engine, one transaction each: `:name` parameters, as _raw_writer's."""
    def write(sql: str, parameters: dict) -> None:
        with engine.begin() as connection:
            connection.execute(text(sql), parameters)
    return write


def random_write_world(engine: Engine, bulk_loaded: bool, first_employees: str) -> tuple[
        list[str], Callable[[str, dict], None], Callable[[str, dict], None], Callable[[], None]]:
    """The start of a random-write campaign against a derived table: demo data put in by a bulk load, or only the
    `first_employees` (an INSERT's VALUES list) through the migration's triggers; then the reps, a writer through our
    engine, one through the raw driver, and the raw writer's close."""
    if bulk_loaded:
        seed_demo_data(engine, events=300, stores=2, start=TODAY.replace(day=1), months=1, today=TODAY)
    else:
        with engine.begin() as connection:
            connection.execute(text(f"INSERT INTO employees (id, name) VALUES {first_employees}"))
    with engine.connect() as connection:
        reps = list(connection.execute(text("SELECT id FROM employees ORDER BY id")).scalars())
    raw_write, close = _raw_writer(engine)
    return reps, _engine_writer(engine), raw_write, close


def delete_or_replace(kind: str, write: Callable[[str, dict], None], randomness: random.Random, dialect: str, *,
                      refs: list[int], schedules: list[int], reps: list[str], at: datetime) -> None:
    """The writes both random campaigns make alike: "delete schedule", "delete event" (its schedules first), and
    otherwise ("replace") the same schedule id written again in place, perhaps for another event."""
    if kind == "delete schedule":
        write("DELETE FROM schedules WHERE id = :id", {"id": randomness.choice(schedules)})
    elif kind == "delete event":
        ref = randomness.choice(refs)
        write("DELETE FROM schedules WHERE event_ref_num = :ref", {"ref": ref})
        write("DELETE FROM events WHERE project_ref_num = :ref", {"ref": ref})
    else:
        write(_schedule_upsert(dialect), {"id": randomness.choice(schedules), "ref": randomness.choice(refs),
                                          "rep": randomness.choice(reps), "at": at})


def _schedule_upsert(dialect: str) -> str:
    """The same schedule id written again in place (:id, :ref, :rep, :at), as the scheduler may: SQLite's INSERT OR
    REPLACE (a delete without its trigger, then an insert), PostgreSQL's upsert (an update)."""
    if dialect == "sqlite":
        return ("INSERT OR REPLACE INTO schedules (id, event_ref_num, employee_id, schedule_datetime) "
                "VALUES (:id, :ref, :rep, :at)")
    return ("INSERT INTO schedules (id, event_ref_num, employee_id, schedule_datetime) VALUES (:id, :ref, :rep, :at) "
            "ON CONFLICT (id) DO UPDATE SET event_ref_num = excluded.event_ref_num, employee_id = excluded.employee_id, "
            "schedule_datetime = excluded.schedule_datetime")


def insert_random_schedule(write: Callable[[str, dict], None], randomness: random.Random, schedule_id: int,
                           refs: list, reps: list, at: datetime) -> None:
    """A new schedules row with this id at `at`, for a random event and rep: the random-write campaigns' insert."""
    write("INSERT INTO schedules (id, event_ref_num, employee_id, schedule_datetime) VALUES (:id, :ref, :rep, :at)",
          {"id": schedule_id, "ref": randomness.choice(refs), "rep": randomness.choice(reps), "at": at})


def _new_event(write: Callable[[str, dict], None], ref: int, event_type: str, minutes: int | None,
               condition: str | None) -> None:
    start = datetime.combine(TODAY, time())
    write("INSERT INTO events (project_name, project_ref_num, location_mvid, start_datetime, due_datetime, "
          "estimated_time, is_scheduled, event_type, condition) VALUES (:name, :ref, 'LOC-RB', :start, :due, :minutes, "
          "FALSE, :type, :condition)", {"name": f"{ref}-{event_type}-Bookings test", "ref": ref, "start": start,
                                        "due": start + timedelta(days=5), "minutes": minutes, "type": event_type,
                                        "condition": condition})


@pytest.mark.parametrize("bulk_loaded", [False, True], ids=["migration triggers", "after a bulk load"])
def test_rep_bookings_stay_exact_under_random_writes_by_any_writer(engine, bulk_loaded):
    reps, engine_write, raw_write, close = random_write_world(
        engine, bulk_loaded, "('US000001', 'First Rep'), ('US000002', 'Second Rep')")
    assert _held(engine) == _expected(engine)
    randomness = random.Random(21)
    next_ref, next_id = 995000, 8_000_000
    try:
        for step in range(160):
            write = engine_write if step % 2 else raw_write
            with engine.connect() as connection:
                refs = list(connection.execute(text("SELECT project_ref_num FROM events ORDER BY 1")).scalars())
                schedules = list(connection.execute(text("SELECT id FROM schedules ORDER BY 1")).scalars())
            at = datetime.combine(TODAY + timedelta(days=randomness.randint(-20, 40)),
                                  time(randomness.randint(6, 18), randomness.choice((0, 15, 30, 45))))
            kind = randomness.choice(("event", "event", "schedule", "schedule", "schedule", "move", "retype",
                                      "delete schedule", "delete event", "replace"))
            if kind == "event" or not refs:
                _new_event(write, next_ref, randomness.choice(EVENT_TYPES),
                           randomness.choice((None, None, 30, 240)), randomness.choice(CONDITIONS))
                next_ref += 1
            elif kind == "schedule" or not schedules:
                insert_random_schedule(write, randomness, next_id, refs, reps, at)
                next_id += 1
            elif kind == "move":  # a new time, rep, event or id: one column at a time, as the scheduler writes
                column, value = randomness.choice((("schedule_datetime", at), ("employee_id", randomness.choice(reps)),
                                                   ("event_ref_num", randomness.choice(refs)), ("id", next_id)))
                next_id += 1
                write(f"UPDATE schedules SET {column} = :value WHERE id = :id",
                      {"value": value, "id": randomness.choice(schedules)})
            elif kind == "retype":
                column, value = randomness.choice((("event_type", randomness.choice(EVENT_TYPES)),
                                                   ("condition", randomness.choice(CONDITIONS)),
                                                   ("estimated_time", randomness.choice((None, 5, 45, 600)))))
                write(f"UPDATE events SET {column} = :value WHERE project_ref_num = :ref",
                      {"value": value, "ref": randomness.choice(refs)})
            else:
                delete_or_replace(kind, write, randomness, engine.dialect.name, refs=refs, schedules=schedules,
                                  reps=reps, at=at)
            if step % 20 == 19:
                assert _held(engine) == _expected(engine), f"after step {step} ({kind})"
    finally:
        close()
    held = _held(engine)
    assert held == _expected(engine)
    assert len({row[4] for row in held.values()}) >= 4 and len({row[6] for row in held.values()}) >= 4


def test_an_event_s_type_condition_and_duration_follow_into_its_bookings(engine):
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO employees (id, name) VALUES ('US000001', 'First Rep')"))

    engine_write = _engine_writer(engine)

    _new_event(engine_write, 996001, CORE, None, "Scheduled")
    at = datetime.combine(TODAY + timedelta(days=2), time(10, 30))
    for day in (0, 1):
        engine_write("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                     "VALUES (996001, 'US000001', :at)", {"at": at + timedelta(days=day)})

    def bookings() -> set[tuple]:
        return {row[4:] for row in _held(engine).values()}

    starts = int((at - EPOCH).total_seconds())
    assert {row[3] for row in _held(engine).values()} == {starts, starts + 86_400}
    assert {row[2] for row in _held(engine).values()} == {starts // 86_400, starts // 86_400 + 1}
    assert bookings() == {(CORE, 390, "Scheduled")}
    engine_write("UPDATE events SET event_type = :type WHERE project_ref_num = 996001", {"type": JUICER})
    assert bookings() == {(JUICER, 540, "Scheduled")}
    engine_write("UPDATE events SET estimated_time = 45, condition = 'Submitted' WHERE project_ref_num = 996001", {})
    assert bookings() == {(JUICER, 45, "Submitted")}
    engine_write("UPDATE events SET event_type = :type, estimated_time = NULL WHERE project_ref_num = 996001",
                 {"type": SUPERVISOR})
    assert bookings() == {(SUPERVISOR, 5, "Submitted")}
    engine_write("DELETE FROM schedules WHERE event_ref_num = 996001", {})
    assert _held(engine) == {}
