"""dashboard_schedule_stores (migration 0008): the triggers keep every schedule's store key equal to what the base tables
say, whoever writes and however, on SQLite and PostgreSQL; and one club's reads find their rows through the store
indexes (the migration's index expression must stay the one the store filter writes)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, text

from services.demo.demo_data import seed_demo_data
from services.domain.event_rules import UNSTAFFED
from services.reads.read_queries import EventFilter, _day_events


def _as_datetime(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _expected(engine: Engine) -> dict[int, tuple[str, datetime]]:
    """schedule id -> (store key, time), computed in Python from events and schedules."""
    with engine.connect() as connection:
        stores = {ref: location if location is not None else ("" if number is None else str(number))
                  for ref, location, number in connection.execute(text(
                      "SELECT project_ref_num, location_mvid, store_number FROM events"))}
        return {schedule_id: (stores[ref], _as_datetime(at)) for schedule_id, ref, at in connection.execute(text(
            "SELECT id, event_ref_num, schedule_datetime FROM schedules")) if ref in stores and at is not None}


def _held(engine: Engine) -> dict[int, tuple[str, datetime]]:
    with engine.connect() as connection:
        return {schedule_id: (store, _as_datetime(at)) for schedule_id, store, at in connection.execute(text(
            "SELECT schedule_id, store, schedule_datetime FROM dashboard_schedule_stores"))}


def _insert_event(connection, ref: int, location: str | None, number: int | None) -> None:  # noqa: ANN001
    today = datetime.combine(date.today(), time())
    connection.execute(text(
        "INSERT INTO events (project_name, project_ref_num, location_mvid, store_number, start_datetime, due_datetime, "
        "is_scheduled, event_type, condition) VALUES (:name, :ref, :location, :number, :start, :due, FALSE, 'Core', "
        "'Unstaffed')"), {"name": f"{ref}-CORE-Test", "ref": ref, "location": location, "number": number,
                          "start": today, "due": today + timedelta(days=3)})


def test_schedule_stores_stay_exact_whoever_writes(engine):
    today = date.today()
    seed_demo_data(engine, events=400, stores=2, start=today.replace(day=1), months=1, today=today)
    expected = _expected(engine)
    assert _held(engine) == expected and len(expected) > 100

    with engine.connect() as connection:
        scheduled = [ref for (ref,) in connection.execute(text(
            "SELECT DISTINCT event_ref_num FROM schedules ORDER BY 1 LIMIT 5"))]
        unscheduled = connection.execute(text(
            "SELECT min(project_ref_num) FROM events e WHERE NOT EXISTS "
            "(SELECT 1 FROM schedules s WHERE s.event_ref_num = e.project_ref_num)")).scalar_one()
        first_id = connection.execute(text("SELECT min(id) FROM schedules WHERE event_ref_num = :ref"),
                                      {"ref": scheduled[4]}).scalar_one()
    noon = datetime.combine(today + timedelta(days=9), time(12, 15))
    with engine.begin() as connection:
        # a schedule moved, one added, one deleted, one handed to another event, one re-keyed by id
        connection.execute(text("UPDATE schedules SET schedule_datetime = :at WHERE event_ref_num = :ref"),
                           {"at": noon, "ref": scheduled[0]})
        connection.execute(text("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                                "SELECT :to, employee_id, :at FROM schedules WHERE event_ref_num = :ref"),
                           {"to": unscheduled, "at": noon, "ref": scheduled[0]})
        connection.execute(text("DELETE FROM schedules WHERE event_ref_num = :ref"), {"ref": scheduled[1]})
        connection.execute(text("UPDATE schedules SET event_ref_num = :to WHERE event_ref_num = :ref"),
                           {"to": scheduled[3], "ref": scheduled[2]})
        connection.execute(text("UPDATE schedules SET id = 9000001 WHERE id = :id"), {"id": first_id})
        # an event re-homed to another club, one losing its location id (known by its store number), one deleted
        connection.execute(text("UPDATE events SET location_mvid = 'moved-club' WHERE project_ref_num = :ref"),
                           {"ref": scheduled[3]})
        connection.execute(text("UPDATE events SET location_mvid = NULL WHERE project_ref_num = :ref"),
                           {"ref": scheduled[4]})
        connection.execute(text("DELETE FROM schedules WHERE event_ref_num = :ref"), {"ref": scheduled[0]})
        connection.execute(text("DELETE FROM events WHERE project_ref_num = :ref"), {"ref": scheduled[0]})
        # a new event of a club known by its store number alone, scheduled at once
        _insert_event(connection, 990001, None, 77)
        connection.execute(text("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                                "SELECT 990001, min(id), :at FROM employees"), {"at": noon})

    expected = _expected(engine)
    assert _held(engine) == expected
    held = _held(engine)
    with engine.connect() as connection:
        new_id = connection.execute(text("SELECT id FROM schedules WHERE event_ref_num = 990001")).scalar_one()
        number_of = connection.execute(text("SELECT store_number FROM events WHERE project_ref_num = :ref"),
                                       {"ref": scheduled[4]}).scalar_one()
    assert held[new_id] == ("77", noon) and 9000001 in held and first_id not in held
    assert {store for store, _ in held.values()} >= {"moved-club", str(number_of)}


def test_a_schedule_replaced_in_place_keeps_one_current_row(engine):
    """SQLite's INSERT OR REPLACE deletes the old row without firing delete triggers, PostgreSQL's upsert updates it:
    either way the table holds exactly one, current row for the schedule id (and the write is not refused)."""
    today = date.today()
    seed_demo_data(engine, events=60, stores=2, start=today.replace(day=1), months=1, today=today)
    with engine.begin() as connection:
        schedule_id, ref, employee = connection.execute(text(
            "SELECT id, event_ref_num, employee_id FROM schedules ORDER BY id LIMIT 1")).first()
        other = connection.execute(text(
            "SELECT project_ref_num FROM events WHERE location_mvid <> "
            "(SELECT location_mvid FROM events WHERE project_ref_num = :ref) ORDER BY 1 LIMIT 1"), {"ref": ref}
        ).scalar_one()
        verb, upsert = (("INSERT OR REPLACE", "") if engine.dialect.name == "sqlite" else
                        ("INSERT", " ON CONFLICT (id) DO UPDATE SET event_ref_num = excluded.event_ref_num, "
                                   "schedule_datetime = excluded.schedule_datetime"))
        connection.execute(text(f"{verb} INTO schedules (id, event_ref_num, employee_id, schedule_datetime) "
                                f"VALUES (:id, :ref, :employee, :at){upsert}"),
                           {"id": schedule_id, "ref": other, "employee": employee,
                            "at": datetime.combine(today, time(9))})
        moved_to = connection.execute(text("SELECT location_mvid FROM events WHERE project_ref_num = :ref"),
                                      {"ref": other}).scalar_one()
    held = _held(engine)
    assert held == _expected(engine) and held[schedule_id] == (moved_to, datetime.combine(today, time(9)))


def _plans(engine: Engine, day: date, club: str):  # noqa: ANN202
    """The one-club Day view's rows for (day, club), and the query plan of each statement it ran."""
    from sqlalchemy import event

    statements: list[tuple[str, object]] = []

    def record(_connection, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001
        statements.append((statement, parameters))

    with engine.connect() as connection:
        event.listen(connection, "before_cursor_execute", record)
        scheduled, unstaffed = _day_events(connection, day, EventFilter(store=club))
        event.remove(connection, "before_cursor_execute", record)
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET enable_seqscan = off")  # a test database is small: make it show the index
            explain, column = "EXPLAIN ", 0
        else:
            explain, column = "EXPLAIN QUERY PLAN ", -1
        plans = {statement: " ".join(str(row[column]) for row in connection.exec_driver_sql(explain + statement,
                                                                                             parameters))
                 for statement, parameters in statements}
        connection.rollback()
    return scheduled, unstaffed, plans


def test_one_clubs_reads_seek_the_store_indexes(engine):
    """The one-club Day view reads its schedules from the store-keyed index, and its Unstaffed due from the partial
    index on the store filter's expression: if SQLAlchemy's rendering of store_key_column ever stops matching the
    migration's index expression, this fails instead of the Day view quietly scanning a national day."""
    today = date.today()
    seed_demo_data(engine, events=600, stores=3, start=today.replace(day=1), months=1, today=today)
    with engine.connect() as connection:
        day, club = connection.execute(text(
            "SELECT day, store FROM dashboard_scheduled_per_day GROUP BY day, store ORDER BY sum(scheduled) DESC, day, "
            "store LIMIT 1")).first()
        due_day, due_club = connection.execute(text(
            "SELECT day, store FROM dashboard_unstaffed_per_day GROUP BY day, store ORDER BY sum(unstaffed) DESC, day, "
            "store LIMIT 1")).first()
    scheduled, _, plans = _plans(engine, date.fromisoformat(str(day)), club)
    assert len(scheduled) > 0
    assert any("dashboard_schedule_stores" in statement and "ix_dashboard_schedule_stores_store_time" in plan
               for statement, plan in plans.items())

    due_day = date.fromisoformat(str(due_day))
    _, unstaffed, plans = _plans(engine, due_day, due_club)
    assert any("due_datetime" in statement and "ix_dashboard_events_unstaffed_store_due" in plan
               for statement, plan in plans.items())
    # and what the index finds is exactly the club's Unstaffed due that day
    with engine.connect() as connection:
        expected = sorted(ref for (ref,) in connection.execute(
            text("SELECT project_ref_num FROM events WHERE condition = :unstaffed AND due_datetime >= :start "
                 "AND due_datetime < :end AND coalesce(location_mvid, CAST(store_number AS TEXT)) = :club"),
            {"unstaffed": UNSTAFFED, "start": datetime.combine(due_day, time()),
             "end": datetime.combine(due_day + timedelta(days=1), time()), "club": due_club}))
    assert sorted(unstaffed["ref"]) == expected and len(expected) > 0
