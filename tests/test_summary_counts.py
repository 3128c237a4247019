"""The sidebar's headline counts (issue 22, cold pages): `database_summary` reads trigger-kept rows and index seeks
(migration 0015) and must equal a direct COUNT over the tables after any insert, update or delete by any writer (raw
SQL here, as the scheduler app would write); the Unscheduled buckets, read as a total minus the shorter side, must equal
a direct count for any `now` (before, inside and after the data), on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from services.demo.demo_data import seed_demo_data
from services.reads.read_queries import EventFilter, database_summary, store_key_column, unscheduled_buckets
from services.store.tables import Employee, Event, Schedule

TODAY = date.today()


def _direct(engine) -> dict:  # noqa: ANN001
    """The figures counted the plain way, over every row (what database_summary did before migration 0015)."""
    with engine.connect() as connection:
        events, stores, first_day, last_day, newest_sync = connection.execute(select(
            func.count(), func.count(func.distinct(store_key_column())), func.min(Event.start_datetime),
            func.max(Event.due_datetime), func.max(Event.last_synced))).one()
        schedules = connection.execute(select(func.count()).select_from(Schedule)).scalar_one()
        employees = connection.execute(select(func.count()).select_from(Employee)).scalar_one()
    return {"events": events, "stores": stores, "first_day": first_day, "last_day": last_day,
            "newest_sync": newest_sync, "schedules": schedules, "employees": employees}


def _summary(engine) -> dict:  # noqa: ANN001
    summary = database_summary(engine, count_schedules=True)
    return {key: getattr(summary, key) for key in _direct(engine)}


def _write(engine, sql: str, **parameters) -> None:  # noqa: ANN001, ANN003
    with engine.begin() as connection:
        connection.execute(text(sql), parameters)


def _insert_event(engine, ref: int, mvid: str | None, number: int | None, *, start: datetime,  # noqa: ANN001
                  due: datetime, synced: datetime | None = None) -> None:
    _write(engine, "INSERT INTO events (project_name, project_ref_num, location_mvid, store_number, start_datetime, "
                   "due_datetime, event_type, condition, last_synced) "
                   "VALUES (:name, :ref, :mvid, :number, :start, :due, 'Core', 'Unstaffed', :synced)",
           name=f"{ref}-Summary test", ref=ref, mvid=mvid, number=number, start=start, due=due, synced=synced)


@pytest.mark.parametrize("bulk_loaded", [False, True], ids=["migration triggers", "after a bulk load"])
def test_the_summary_equals_a_direct_count_after_every_kind_of_write(engine, bulk_loaded):
    """Written on the triggers the migration created, and on those a bulk load re-creates (services/summary_counts)."""
    noon = datetime.combine(TODAY, datetime.min.time()) + timedelta(hours=12)
    if bulk_loaded:
        seed_demo_data(engine, events=400, stores=3, start=TODAY.replace(day=1), months=2, today=TODAY)
    else:
        _write(engine, "INSERT INTO employees (id, name) VALUES ('e1', 'First Rep')")
        for ref, store in ((990100, "LOC-A"), (990101, "LOC-A"), (990102, "LOC-B")):
            _insert_event(engine, ref, store, None, start=noon, due=noon + timedelta(days=1), synced=noon)
        _write(engine, "INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) VALUES (990100, 'e1', "
                       ":at)", at=noon)
    assert _summary(engine) == _direct(engine)
    before = _direct(engine)
    with engine.connect() as connection:
        employee = connection.execute(select(Employee.id).limit(1)).scalar_one()
        a_store = connection.execute(select(Event.location_mvid).where(Event.location_mvid.is_not(None))
                                     .limit(1)).scalar_one()
    checks = []

    def check(step: str) -> None:
        checks.append(step)
        assert _summary(engine) == _direct(engine), step

    # new stores of each kind: a location id, a store number only, neither (no store: not a store)
    _insert_event(engine, 990001, "LOC-NEW", 8123, start=noon, due=noon + timedelta(days=400),
                  synced=noon + timedelta(days=1))
    _insert_event(engine, 990002, None, 7777, start=noon - timedelta(days=900), due=noon)
    _insert_event(engine, 990003, None, None, start=noon, due=noon)
    check("inserts")
    summary = _summary(engine)
    assert (summary["events"], summary["stores"]) == (before["events"] + 3, before["stores"] + 2)
    assert summary["first_day"] == noon - timedelta(days=900) and summary["last_day"] == noon + timedelta(days=400)
    assert summary["newest_sync"] == noon + timedelta(days=1)

    _write(engine, "UPDATE events SET location_mvid = 'LOC-NEW' WHERE location_mvid = :store", store=a_store)
    check("a whole store moved into another: one store fewer")
    assert _summary(engine)["stores"] == before["stores"] + 1
    _write(engine, "UPDATE events SET location_mvid = NULL, store_number = NULL WHERE project_ref_num = 990002")
    check("a store-number-only store lost its last event")
    _write(engine, "UPDATE events SET store_number = 4242 WHERE project_ref_num = 990003")
    check("an event without a store got one")

    _write(engine, "INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) VALUES (990001, :e, :at)",
           e=employee, at=noon)
    _write(engine, "INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) VALUES (990003, :e, :at)",
           e=employee, at=noon)
    check("schedules inserted")
    assert _summary(engine)["schedules"] == before["schedules"] + 2
    _write(engine, "UPDATE schedules SET id = id + 1000003 WHERE event_ref_num = 990001")
    check("a schedule's id changed")
    _write(engine, "DELETE FROM schedules WHERE event_ref_num IN (990001, 990003)")
    check("schedules deleted")

    _write(engine, "DELETE FROM events WHERE project_ref_num IN (990001, 990002)")
    check("the newest, first and last events deleted: the seeks find the next ones")
    assert _summary(engine)["newest_sync"] == before["newest_sync"]
    _write(engine, "INSERT INTO employees (id, name) VALUES ('summary-test', 'Summary Test')")
    check("an employee added")
    assert len(checks) == 9  # every step was compared
    with engine.connect() as connection:  # the trigger-kept rows themselves: one per store marker, as a GROUP BY
        kept = dict(connection.execute(text(
            "SELECT store, events FROM dashboard_store_event_counts WHERE events <> 0")).all())
        grouped = dict(connection.execute(text(
            "SELECT coalesce('#' || coalesce(location_mvid, CAST(store_number AS TEXT)), ''), COUNT(*) FROM events "
            "GROUP BY 1")).all())
    assert kept == grouped


@pytest.mark.parametrize("offset_days", [-400, -40, -1, 0, 2, 45, 400])
@pytest.mark.parametrize("clock", [timedelta(hours=9, minutes=30), timedelta(hours=23, minutes=59, seconds=30)],
                         ids=["morning", "after the due time"])
def test_unscheduled_buckets_equal_a_direct_count_whichever_side_is_summed(demo_database, offset_days, clock):
    """`now` before all the data, in its history, just before today, today, and far after: Past due and Later are
    summed or derived from the total, depending on which side spans fewer days; the figures never change. At 23:59:30
    the day's events (due at 23:59) are Past due, not Due today: the aggregate's today is split at `now`."""
    engine = demo_database.engine
    now = datetime.combine(demo_database.today + timedelta(days=offset_days), datetime.min.time()) + clock
    edges = [now] + [datetime.combine(now.date() + timedelta(days=n), datetime.min.time()) for n in (1, 2, 3)]
    sql = ("SELECT CASE WHEN due_datetime < :a THEN 'Past due' WHEN due_datetime < :b THEN 'Due today' "
           "WHEN due_datetime < :c THEN 'Due tomorrow' WHEN due_datetime < :d THEN 'Due within 3 days' "
           "ELSE 'Later' END, coalesce(event_type, 'Other'), COUNT(*) FROM events WHERE condition = 'Unstaffed' ")
    with engine.connect() as connection:
        club = connection.execute(text(
            "SELECT coalesce(location_mvid, CAST(store_number AS TEXT)) FROM events WHERE condition = 'Unstaffed' "
            "GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1")).scalar_one()
        expected = {(b, t): n for b, t, n in connection.execute(text(sql + "GROUP BY 1, 2"), dict(zip("abcd", edges)))}
        expected_club = {(b, t): n for b, t, n in connection.execute(text(
            sql + "AND coalesce(location_mvid, CAST(store_number AS TEXT)) = :club GROUP BY 1, 2"),
            dict(zip("abcd", edges), club=club))}
    assert sum(expected.values()) > 0
    ours = {(row.bucket, row.event_type): row.count for row in unscheduled_buckets(engine, now).itertuples()}
    assert ours == expected
    ours_club = {(row.bucket, row.event_type): row.count
                 for row in unscheduled_buckets(engine, now, EventFilter(store=club)).itertuples()}
    assert ours_club == expected_club
