"""dashboard_pair_members (migration 0007): the triggers keep every CORE and Supervisor's pairing key and latest schedule
equal to what Python's event_rules.pairing_key says of the base tables, whoever writes and however, on SQLite and
PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, text

from services.demo.demo_data import seed_demo_data
from services.domain.event_rules import CORE, SUPERVISOR, pairing_key
from services.store.pair_members import EPOCH


def _as_datetime(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _expected(engine: Engine) -> dict[int, tuple]:
    """ref -> (number, store, type, unstaffed, latest schedule), computed in Python from events and schedules."""
    with engine.connect() as connection:
        latest: dict[int, datetime] = {}
        for ref, at in connection.execute(text("SELECT event_ref_num, schedule_datetime FROM schedules")):
            at = _as_datetime(at)
            if at is not None and (ref not in latest or at > latest[ref]):
                latest[ref] = at.replace(microsecond=0)
        expected = {}
        for ref, name, location, number, event_type, condition in connection.execute(text(
                "SELECT project_ref_num, project_name, location_mvid, store_number, event_type, condition FROM events")):
            key = pairing_key(name, location, number)
            if event_type in (CORE, SUPERVISOR) and key is not None:
                expected[ref] = (key.event_number, key.store, event_type, int(condition == "Unstaffed"),
                                 latest.get(ref))
    return expected


def _members(engine: Engine) -> dict[int, tuple]:
    with engine.connect() as connection:
        return {ref: (num, store, event_type, unstaffed, None if at is None else EPOCH + timedelta(seconds=at))
                for ref, num, store, event_type, unstaffed, at in connection.execute(text(
                    "SELECT ref, num, store, event_type, unstaffed, at FROM dashboard_pair_members"))}


def _insert_event(connection, ref: int, name: str, event_type: str, location: str | None, number: int | None,
                  condition: str = "Unstaffed") -> None:  # noqa: ANN001
    today = datetime.combine(date.today(), time())
    connection.execute(text(
        "INSERT INTO events (project_name, project_ref_num, location_mvid, store_number, start_datetime, due_datetime, "
        "is_scheduled, event_type, condition) VALUES (:name, :ref, :location, :number, :start, :due, FALSE, :type, "
        ":condition)"), {"name": name, "ref": ref, "location": location, "number": number, "start": today,
                         "due": today + timedelta(days=3), "type": event_type, "condition": condition})


def test_pair_members_stay_exact_whoever_writes(engine):
    today = date.today()
    seed_demo_data(engine, events=400, stores=2, start=today.replace(day=1), months=1, today=today)
    expected = _expected(engine)
    assert _members(engine) == expected
    assert sum(1 for member in expected.values() if member[4] is not None) > 50  # scheduled members have their time

    with engine.connect() as connection:
        cores = [ref for (ref,) in connection.execute(text(
            "SELECT e.project_ref_num FROM events e WHERE e.event_type = 'Core' AND EXISTS "
            "(SELECT 1 FROM schedules s WHERE s.event_ref_num = e.project_ref_num) ORDER BY 1 LIMIT 6"))]
        juicer = connection.execute(text(
            "SELECT project_ref_num FROM events WHERE event_type = 'Juicer' ORDER BY 1 LIMIT 1")).scalar_one()
    noon = datetime.combine(today + timedelta(days=9), time(12, 15))
    with engine.begin() as connection:
        # a schedule moved, a second schedule added later than the first, one deleted, one handed to another event
        connection.execute(text("UPDATE schedules SET schedule_datetime = :at WHERE event_ref_num = :ref"),
                           {"at": noon, "ref": cores[0]})
        connection.execute(text("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                                "SELECT event_ref_num, employee_id, :at FROM schedules WHERE event_ref_num = :ref"),
                           {"at": noon + timedelta(days=1), "ref": cores[1]})
        connection.execute(text("DELETE FROM schedules WHERE event_ref_num = :ref"), {"ref": cores[2]})
        connection.execute(text("UPDATE schedules SET event_ref_num = :to WHERE event_ref_num = :ref"),
                           {"to": juicer, "ref": cores[3]})
        # renamed out of pairing, re-typed away and back, re-homed to a blank location id, staffed, deleted
        connection.execute(text("UPDATE events SET project_name = 'Corelle 606007 - V2-CORE' "
                                "WHERE project_ref_num = :ref"), {"ref": cores[4]})
        connection.execute(text("UPDATE events SET event_type = 'Supervisor', condition = 'Scheduled', "
                                "project_name = '606100-Supervisor-Converted', location_mvid = '  ' "
                                "WHERE project_ref_num = :ref"), {"ref": juicer})
        connection.execute(text("UPDATE events SET event_type = 'Digitals' WHERE project_ref_num = :ref"),
                           {"ref": cores[5]})
        connection.execute(text("DELETE FROM events WHERE project_ref_num = :ref"), {"ref": cores[3]})
        # new events: leading white space in the name, a store-number fallback, a seventh digit (not a member)
        _insert_event(connection, 990001, "\t 990001-CORE-Late", CORE, None, 77)
        _insert_event(connection, 990002, "990001-Supervisor-Late", SUPERVISOR, "", 77)
        _insert_event(connection, 990003, "9900012-CORE", CORE, "424242", None)
        connection.execute(text("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                                "SELECT 990002, employee_id, :at FROM schedules WHERE event_ref_num = :ref"),
                           {"at": noon, "ref": cores[0]})
        # the event's reference itself changes: its member follows
        connection.execute(text("UPDATE events SET project_ref_num = 990004 WHERE project_ref_num = 990001"))

    expected = _expected(engine)
    assert _members(engine) == expected
    assert expected[juicer][2] == SUPERVISOR and expected[juicer][4] is not None
    assert cores[3] not in expected and cores[5] not in expected and cores[4] not in expected
    assert expected[cores[0]][4] == noon and expected[cores[2]][4] is None
    assert expected[cores[1]][4] == noon + timedelta(days=1)
    assert expected[990004][:2] == ("990001", "77") == expected[990002][:2] and 990003 not in expected


def test_a_cores_supervisor_is_found_by_its_pairing_key_whatever_its_location_id_looks_like(engine):
    """supervisors_for_cores reads the members' key: a Supervisor whose location id is only white space belongs to the
    store of its store number, as pairing_key says, and is found for a CORE known by that store number (a lookup by
    raw location id / store number would miss it)."""
    from services.domain.pairing import SUPERVISOR_MISSING, SUPERVISOR_UNSTAFFED
    from services.reads.pairing import supervisors_for_cores

    with engine.begin() as connection:
        _insert_event(connection, 991001, "991001-CORE-Blank", CORE, None, 77, condition="Scheduled")
        _insert_event(connection, 991002, "991001-Supervisor-Blank", SUPERVISOR, " \t", 77)
        _insert_event(connection, 991003, "991003-CORE-Alone", CORE, "555", 77, condition="Scheduled")
        _insert_event(connection, 991004, "991003-Supervisor-Elsewhere", SUPERVISOR, "556", 77)
    with engine.connect() as connection:
        matches = supervisors_for_cores(connection, [(991001, "991001-CORE-Blank", None, 77),
                                                     (991003, "991003-CORE-Alone", "555", 77)])
    assert matches[991001].state == SUPERVISOR_UNSTAFFED and matches[991001].supervisor.ref == 991002
    assert matches[991003].state == SUPERVISOR_MISSING  # same number, another store: not its Supervisor
