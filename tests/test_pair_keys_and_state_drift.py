"""dashboard_pair_keys and dashboard_state_drift (migration 0023): after random inserts, updates, deletes and in-place
replacements of events and schedules, by this app's engine and by a raw driver connection (as the scheduler writes), on
the triggers the migration created and on those a bulk load re-creates, on SQLite and PostgreSQL:

- every pairing key holds what grouping dashboard_pair_members in Python says (its refs, latest schedules, whether a
  Supervisor is Unstaffed, and the kind, gap and time of day the full run reads the offending keys by);
- the events the pairing and state rules read are exactly those Python judges from the base tables."""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, text

from services.domain.event_rules import CORE, SCHEDULED_CONDITIONS, SUPERVISOR
from services.quality.rules import run_rules
from services.settings import load_settings
from services.store.pair_keys import KIND_HEALTHY, KIND_JUDGED, KIND_SAME_DAY
from tests.test_rep_bookings import (_engine_writer, _raw_writer, _schedule_upsert, delete_or_replace,
                                     insert_random_schedule, random_write_world)

TODAY = date.today()
CONDITIONS = ("Unstaffed", "Scheduled", "Staffed", "Canceled", "Submitted", "Expired", None)
NUMBERS = ("771001", "771002", "771003", "771004")  # few numbers at two stores: keys with 0, 1, 2 or more members
STORES = ("LOC-PK-1", "LOC-PK-2")
DAY = 86_400


def _expected_keys(engine: Engine) -> dict[tuple[str, str], tuple]:
    """(number, store) -> (core_first, core_last, sup_first, sup_last, core_at, sup_at, sup_unstaffed, kind, gap,
    sup_time), grouped in Python from dashboard_pair_members (tests/test_pair_members.py holds that table exact)."""
    members: dict[tuple[str, str], list[tuple]] = {}
    with engine.connect() as connection:
        for ref, num, store, event_type, unstaffed, at in connection.execute(text(
                "SELECT ref, num, store, event_type, unstaffed, at FROM dashboard_pair_members")):
            members.setdefault((num, store), []).append((ref, event_type, unstaffed, at))
    expected = {}
    for key, rows in members.items():
        cores = [row for row in rows if row[1] == CORE]
        sups = [row for row in rows if row[1] == SUPERVISOR]
        core_first = min((row[0] for row in cores), default=None)
        core_last = max((row[0] for row in cores), default=None)
        sup_first = min((row[0] for row in sups), default=None)
        sup_last = max((row[0] for row in sups), default=None)
        core_at = max((row[3] for row in cores if row[3] is not None), default=None)
        sup_at = max((row[3] for row in sups if row[3] is not None), default=None)
        sup_unstaffed = max((row[2] for row in sups), default=None)
        clean = core_first is not None and sup_first is not None and core_first == core_last and sup_first == sup_last
        same_day = clean and core_at is not None and sup_at is not None and core_at // DAY == sup_at // DAY
        if not clean or (core_at is not None and sup_at is None and sup_unstaffed == 1) \
                or (core_at is None and sup_at is not None) or (core_at is not None and sup_at is not None):
            kind = KIND_SAME_DAY if same_day else KIND_JUDGED
        else:
            kind = KIND_HEALTHY
        expected[key] = (core_first, core_last, sup_first, sup_last, core_at, sup_at, sup_unstaffed, kind,
                         sup_at - core_at if same_day else None, sup_at % DAY if same_day else None)
    return expected


def _held_keys(engine: Engine) -> dict[tuple[str, str], tuple]:
    with engine.connect() as connection:
        return {(row[0], row[1]): tuple(row[2:]) for row in connection.execute(text(
            "SELECT num, store, core_first, core_last, sup_first, sup_last, core_at, sup_at, sup_unstaffed, kind, gap, "
            "sup_time FROM dashboard_pair_keys"))}


def _expected_drift(engine: Engine) -> set[int]:
    """The events whose condition, is_scheduled and schedules rows disagree, judged in Python."""
    with engine.connect() as connection:
        scheduled = set(connection.execute(text("SELECT event_ref_num FROM schedules")).scalars())
        return {ref for ref, condition, flag in connection.execute(text(
                    "SELECT project_ref_num, condition, is_scheduled FROM events"))
                if (condition in SCHEDULED_CONDITIONS) != bool(flag) or bool(flag) != (ref in scheduled)}


def _drift_reported(engine: Engine) -> set[int]:
    with engine.connect() as connection:
        findings = run_rules(connection, now=datetime.combine(TODAY, time(10)),
                             rule=load_settings({}).supervisor_rule, names=["schedule_state_drift"])
    return {finding.refs[0] for finding in findings}


def _held_drift(engine: Engine) -> set[int]:
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT ref FROM dashboard_state_drift")).scalars())


def _assert_exact(engine: Engine, when: str) -> None:
    assert _held_keys(engine) == _expected_keys(engine), when
    expected = _expected_drift(engine)
    assert _drift_reported(engine) == expected, when
    # The table may hold a ref a moment too long (an SQLite INSERT OR REPLACE), never too few.
    assert _held_drift(engine) >= expected, when


@contextmanager
def count_row_writes(engine: Engine, *tables: str) -> Iterator[Callable[[], dict[str, int]]]:
    """Meanwhile, count the rows each of `tables` gets inserted, updated or deleted (by triggers of this test's own on
    those tables, whoever writes), dropped afterwards; `writes()` answers the counts since its last call, by table, zero
    counts left out."""
    postgres = engine.dialect.name == "postgresql"
    names = [(table, f"test_row_write_{table}_{operation.lower()}", operation) for table in tables
             for operation in ("INSERT", "UPDATE", "DELETE")]
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE test_row_writes (tbl VARCHAR(64) NOT NULL)"))
        if postgres:
            connection.execute(text("CREATE FUNCTION test_row_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                                    "INSERT INTO test_row_writes (tbl) VALUES (TG_TABLE_NAME); RETURN NULL; END $$"))
        for table, name, operation in names:
            connection.execute(text(
                f"CREATE TRIGGER {name} AFTER {operation} ON {table} FOR EACH ROW EXECUTE FUNCTION test_row_write()"
                if postgres else
                f"CREATE TRIGGER {name} AFTER {operation} ON {table} BEGIN "
                f"INSERT INTO test_row_writes (tbl) VALUES ('{table}'); END"))

    def writes() -> dict[str, int]:
        with engine.begin() as connection:
            counts = dict(connection.execute(text("SELECT tbl, count(*) FROM test_row_writes GROUP BY tbl")).all())
            connection.execute(text("DELETE FROM test_row_writes"))
        return counts

    try:
        yield writes
    finally:
        with engine.begin() as connection:
            for table, name, _operation in names:
                connection.execute(text(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}"))
            if postgres:
                connection.execute(text("DROP FUNCTION test_row_write()"))
            connection.execute(text("DROP TABLE test_row_writes"))


@pytest.mark.parametrize("bulk_loaded", [False, True], ids=["migration triggers", "after a bulk load"])
def test_pair_keys_and_drifting_events_stay_exact_under_random_writes_by_any_writer(engine, bulk_loaded):
    reps, engine_write, raw_write, close = random_write_world(engine, bulk_loaded, "('US000001', 'First Rep')")
    _assert_exact(engine, "at the start")
    randomness = random.Random(22)
    next_ref, next_id = 997000, 9_000_000
    kinds_seen: set[int] = set()
    try:
        for step in range(200):
            write = engine_write if step % 2 else raw_write
            with engine.connect() as connection:
                refs = list(connection.execute(text(
                    "SELECT project_ref_num FROM events WHERE project_ref_num >= 997000 ORDER BY 1")).scalars())
                schedules = list(connection.execute(text(
                    "SELECT id FROM schedules WHERE event_ref_num >= 997000 ORDER BY 1")).scalars())
            # A CORE's and a Supervisor's usual times, and others: same day on the rule time, off it, other days.
            at = datetime.combine(TODAY + timedelta(days=randomness.randint(0, 2)),
                                  randomness.choice((time(10, 30), time(12, 30), time(12, 0), time(9, 45))))
            kind = randomness.choice(("event", "event", "event", "schedule", "schedule", "schedule", "move", "edit",
                                      "delete schedule", "delete event", "replace", "same"))
            if kind == "event" or len(refs) < 3:
                write("INSERT INTO events (project_name, project_ref_num, location_mvid, start_datetime, due_datetime, "
                      "is_scheduled, event_type, condition) VALUES (:name, :ref, :store, :start, :due, :flag, :type, "
                      ":condition)",
                      {"name": f"{randomness.choice(NUMBERS)}-PK test", "ref": next_ref,
                       "store": randomness.choice(STORES), "start": datetime.combine(TODAY, time()),
                       "due": datetime.combine(TODAY + timedelta(days=5), time()),
                       "flag": randomness.random() < 0.5, "type": randomness.choice((CORE, CORE, SUPERVISOR, "Other")),
                       "condition": randomness.choice(CONDITIONS)})
                next_ref += 1
            elif kind == "schedule" or not schedules:
                insert_random_schedule(write, randomness, next_id, refs, reps, at)
                next_id += 1
            elif kind == "move":
                column, value = randomness.choice((("schedule_datetime", at), ("event_ref_num", randomness.choice(refs)),
                                                   ("id", next_id)))
                next_id += 1
                write(f"UPDATE schedules SET {column} = :value WHERE id = :id",
                      {"value": value, "id": randomness.choice(schedules)})
            elif kind == "edit":
                column, value = randomness.choice((
                    ("event_type", randomness.choice((CORE, SUPERVISOR, "Other"))),
                    ("condition", randomness.choice(CONDITIONS)), ("is_scheduled", randomness.random() < 0.5),
                    ("project_name", f"{randomness.choice(NUMBERS)}-PK renamed"),
                    ("location_mvid", randomness.choice(STORES))))
                write(f"UPDATE events SET {column} = :value WHERE project_ref_num = :ref",
                      {"value": value, "ref": randomness.choice(refs)})
            elif kind == "same":  # every column the triggers follow written as it was (migration 0024 skips these)
                if randomness.random() < 0.5 or not schedules:
                    write("UPDATE events SET project_ref_num = project_ref_num, project_name = project_name, "
                          "location_mvid = location_mvid, event_type = event_type, condition = condition, "
                          "is_scheduled = is_scheduled WHERE project_ref_num = :ref", {"ref": randomness.choice(refs)})
                else:
                    write("UPDATE schedules SET schedule_datetime = schedule_datetime, event_ref_num = event_ref_num "
                          "WHERE id = :id", {"id": randomness.choice(schedules)})
            else:
                delete_or_replace(kind, write, randomness, engine.dialect.name, refs=refs, schedules=schedules,
                                  reps=reps, at=at)
            kinds_seen |= {row[7] for row in _held_keys(engine).values()}
            if step % 20 == 19:
                _assert_exact(engine, f"after step {step} ({kind})")
    finally:
        close()
    _assert_exact(engine, "at the end")
    assert kinds_seen == {KIND_HEALTHY, KIND_JUDGED, KIND_SAME_DAY}
    assert _expected_drift(engine), "the writes made some events drift"


def test_a_schedule_replaced_in_place_for_another_event_leaves_its_first_event_drifting(engine):
    """SQLite's INSERT OR REPLACE deletes the replaced row without a delete trigger: the event that loses its schedule is
    filed before the insert, and reported (PostgreSQL's upsert is an update, which the triggers see)."""
    start = datetime.combine(TODAY, time())
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO employees (id, name) VALUES ('US000001', 'First Rep')"))
        for ref in (998001, 998002):
            connection.execute(text(
                "INSERT INTO events (project_name, project_ref_num, location_mvid, start_datetime, due_datetime, "
                "is_scheduled, event_type, condition) VALUES ('771009-PK test', :ref, 'LOC-PK-1', :start, :due, TRUE, "
                "'Other', 'Scheduled')"), {"ref": ref, "start": start, "due": start + timedelta(days=5)})
        for schedule_id, ref in ((9_100_001, 998001), (9_100_002, 998002)):
            connection.execute(text("INSERT INTO schedules (id, event_ref_num, employee_id, schedule_datetime) "
                                    "VALUES (:id, :ref, 'US000001', :at)"),
                               {"id": schedule_id, "ref": ref, "at": start + timedelta(hours=10)})
    assert _drift_reported(engine) == set()
    with engine.begin() as connection:
        connection.execute(text(_schedule_upsert(engine.dialect.name)),
                           {"id": 9_100_001, "ref": 998002, "rep": "US000001", "at": start + timedelta(hours=11)})
    assert _drift_reported(engine) == _expected_drift(engine) == {998001}


def test_writes_that_change_nothing_touch_no_derived_row_and_a_moved_schedule_regroups_its_key_once(engine):
    """Migration 0024: an update writing the values a row already has fires none of the pairing members', pair keys'
    or drifting events' work (an action or a sync writing an event's condition as it was), by our engine or the raw
    driver; and a schedule moved in time refreshes its member once and regroups its pair key once (a delete and an
    insert), where it was twice and four times."""
    start = datetime.combine(TODAY, time())
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO employees (id, name) VALUES ('US000001', 'First Rep')"))
        for ref, event_type, hour in ((998101, CORE, 10), (998102, SUPERVISOR, 12)):
            connection.execute(text(
                "INSERT INTO events (project_name, project_ref_num, location_mvid, start_datetime, due_datetime, "
                "is_scheduled, event_type, condition) VALUES ('771011-PK once', :ref, 'LOC-PK-1', :start, :due, TRUE, "
                ":type, 'Scheduled')"), {"ref": ref, "start": start, "due": start + timedelta(days=5), "type": event_type})
            connection.execute(text("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                                    "VALUES (:ref, 'US000001', :at)"),
                               {"ref": ref, "at": start + timedelta(days=1, hours=hour, minutes=30)})
    raw_write, close = _raw_writer(engine)
    try:
        with count_row_writes(engine, "dashboard_pair_members", "dashboard_pair_keys", "dashboard_state_drift") as writes:
            for write in (_engine_writer(engine), raw_write):
                write("UPDATE events SET project_ref_num = project_ref_num, project_name = project_name, "
                      "location_mvid = location_mvid, store_number = store_number, event_type = event_type, "
                      "condition = condition, is_scheduled = is_scheduled WHERE project_ref_num IN (998101, 998102)", {})
                write("UPDATE schedules SET schedule_datetime = schedule_datetime, event_ref_num = event_ref_num "
                      "WHERE event_ref_num IN (998101, 998102)", {})
            assert writes() == {}
            for write in (_engine_writer(engine), raw_write):
                write("UPDATE dashboard_pair_members SET at = at, unstaffed = unstaffed WHERE ref IN (998101, 998102)", {})
            assert writes() == {"dashboard_pair_members": 4}  # those writes themselves: the pair key is not regrouped
            raw_write("UPDATE schedules SET schedule_datetime = :at WHERE event_ref_num = 998102",
                      {"at": start + timedelta(days=1, hours=12)})
            assert writes() == {"dashboard_pair_members": 1, "dashboard_pair_keys": 2}
    finally:
        close()
    assert _held_keys(engine)[("771011", "LOC-PK-1")][5] % DAY == 12 * 3600  # the Supervisor's new time, grouped
    _assert_exact(engine, "after the writes")
