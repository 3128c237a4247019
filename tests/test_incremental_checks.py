"""Incremental data-quality runs (issue 22): after random writes by this app's engine and by another program writing raw
SQL (as the scheduler does), and as the clock moves (minutes, across midnight, past due dates), a chain of incremental
runs leaves exactly the open findings a full run at the same moment finds: the full run after them reports nothing new,
resolves nothing and changes no finding's severity, detail or day. On SQLite and PostgreSQL. Also: when an incremental
run cannot be made (and says why), what the change log records, and the CLI."""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, text

from services.demo.demo_data import seed_demo_data
from services.domain.event_rules import EVENT_TYPES, event_number, store_key
from services.errors import InvalidInput
from services.quality.checks import run_check
from services.settings import load_settings
from services.store.database import make_engine
from services.store.scheduled_per_day import bulk_load
from services.store.schema_admin import upgrade_database
from tests.cli_runner import run_cli
from tests.test_rep_bookings import _raw_writer  # the scheduler's way: its own driver, raw SQL

TODAY = date.today()
CONDITIONS = ("Unstaffed", "Scheduled", "Staffed", "Canceled", "In Progress", "Submitted", "Expired")
TITLES = ("Event Specialist", "Lead Event Specialist", "Club Supervisor", "Juicer Barista", None)
SETTINGS = load_settings({})


def _open_findings(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in connection.execute(text(
            "SELECT identity, rule, severity, detail, CAST(day AS TEXT), refs, employee_id, event_number, store "
            "FROM dashboard_findings WHERE resolved_at IS NULL"))}


def _change_rows(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT event_ref, num, store, employee_id, day FROM dashboard_check_changes ORDER BY seq"))]


def _seeded(engine: Engine) -> None:
    seed_demo_data(engine, events=1200, stores=3, start=TODAY - timedelta(days=20), months=2, today=TODAY)


def _random_write(engine: Engine, write: Callable[[str, dict], None], randomness: random.Random, now: datetime,
                  counter: list[int]) -> str:
    """One write of the kinds the scheduler, a sync or an operator make, near `now` so rules change."""
    with engine.connect() as connection:
        refs = list(connection.execute(text("SELECT project_ref_num FROM events ORDER BY 1")).scalars())
        schedules = list(connection.execute(text("SELECT id FROM schedules ORDER BY 1")).scalars())
        reps = list(connection.execute(text("SELECT id FROM employees ORDER BY 1")).scalars())
    at = now.replace(minute=0, second=0) + timedelta(hours=randomness.randint(-30, 80))
    ref = randomness.choice(refs)
    counter[0] += 1
    kind = randomness.choice(("move", "move", "reassign", "unschedule", "schedule", "condition", "condition",
                              "is_scheduled", "rename", "retype", "due", "due", "delete event", "new pair",
                              "employee", "schedule id", "synced only"))
    if kind == "move":
        write("UPDATE schedules SET schedule_datetime = :at WHERE id = :id", {"at": at, "id": randomness.choice(schedules)})
    elif kind == "reassign":
        write("UPDATE schedules SET employee_id = :rep WHERE id = :id",
              {"rep": randomness.choice(reps), "id": randomness.choice(schedules)})
    elif kind == "unschedule":
        write("DELETE FROM schedules WHERE id = :id", {"id": randomness.choice(schedules)})
    elif kind == "schedule":
        write("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) VALUES (:ref, :rep, :at)",
              {"ref": ref, "rep": randomness.choice(reps), "at": at})
    elif kind == "condition":
        write("UPDATE events SET condition = :condition WHERE project_ref_num = :ref",
              {"condition": randomness.choice(CONDITIONS), "ref": ref})
    elif kind == "is_scheduled":
        write("UPDATE events SET is_scheduled = NOT is_scheduled WHERE project_ref_num = :ref", {"ref": ref})
    elif kind == "rename":  # another event number: the pair it left and the one it joins change
        number = randomness.choice(refs)
        write("UPDATE events SET project_name = :name WHERE project_ref_num = :ref",
              {"name": f"{str(number)[:6]}-Renamed", "ref": ref})
    elif kind == "retype":
        write("UPDATE events SET event_type = :type WHERE project_ref_num = :ref",
              {"type": randomness.choice(EVENT_TYPES), "ref": ref})
    elif kind == "due":  # due dates around now: the Unstaffed rules' windows
        write("UPDATE events SET due_datetime = :due WHERE project_ref_num = :ref",
              {"due": now + timedelta(minutes=randomness.randint(-600, 4800)), "ref": ref})
    elif kind == "delete event":
        write("DELETE FROM schedules WHERE event_ref_num = :ref", {"ref": ref})
        write("DELETE FROM events WHERE project_ref_num = :ref", {"ref": ref})
    elif kind == "new pair":
        number = 990000 + counter[0]
        for offset, event_type in enumerate(("Core", "Supervisor")):
            write("INSERT INTO events (project_name, project_ref_num, location_mvid, start_datetime, due_datetime, "
                  "is_scheduled, event_type, condition) VALUES (:name, :ref, 'LOC-INC', :start, :due, FALSE, :type, "
                  "'Unstaffed')", {"name": f"{number}-Pair {event_type}", "ref": number * 10 + offset,
                                   "start": now - timedelta(days=1), "due": now + timedelta(hours=30),
                                   "type": event_type})
        write("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) VALUES (:ref, :rep, :at)",
              {"ref": number * 10, "rep": randomness.choice(reps), "at": at})
        write("UPDATE events SET condition = 'Scheduled', is_scheduled = TRUE WHERE project_ref_num = :ref",
              {"ref": number * 10})
    elif kind == "employee":
        column, value = randomness.choice((("is_active", randomness.choice((True, False))),
                                           ("job_title", randomness.choice(TITLES)),
                                           ("name", f"Renamed Rep {counter[0]}")))
        write(f"UPDATE employees SET {column} = :value WHERE id = :id", {"value": value, "id": randomness.choice(reps)})
    elif kind == "schedule id":
        write("UPDATE schedules SET external_id = :value WHERE id = :id",
              {"value": randomness.choice((None, f"{counter[0]}_77", str(70000 + counter[0]))),
               "id": randomness.choice(schedules)})
    else:
        write("UPDATE events SET last_synced = :at WHERE project_ref_num = :ref", {"at": now, "ref": ref})
    return kind


@pytest.mark.parametrize("seed", [7, 22, 109])  # 109: a renamed event moved its finding to another key
def test_incremental_runs_leave_the_findings_a_full_run_finds(engine, seed):
    _seeded(engine)
    randomness = random.Random(seed)
    now = datetime.combine(TODAY, time(9, 40))
    first = run_check(engine, SETTINGS, now=now, incremental=True)
    assert not first.incremental and first.full_because  # nothing to build on yet
    assert _change_rows(engine) == []  # a complete run consumes the log

    def engine_write(sql: str, parameters: dict) -> None:
        with engine.begin() as connection:
            connection.execute(text(sql), parameters)

    raw_write, close = _raw_writer(engine)
    counter, kinds, judged = [0], set(), 0
    try:
        for round_number in range(6):
            for _ in range(randomness.randint(1, 3)):  # a chain of incremental runs, each on the one before
                for step in range(randomness.randint(3, 12)):
                    kinds.add(_random_write(engine, raw_write if step % 2 else engine_write, randomness, now, counter))
                now += randomness.choice((timedelta(minutes=7), timedelta(hours=3), timedelta(hours=14, minutes=5),
                                          timedelta(days=1, hours=2)))
                result = run_check(engine, SETTINGS, now=now, incremental=True)
                assert result.incremental, result.full_because
                assert _change_rows(engine) == []
                judged += len(result.findings)
                assert result.open_findings == len(_open_findings(engine))
            after_incremental = _open_findings(engine)
            full = run_check(engine, SETTINGS, now=now)
            assert (full.new, full.resolved) == (0, 0), f"round {round_number}: the incremental runs missed some"
            assert _open_findings(engine) == after_incremental, f"round {round_number}"
    finally:
        close()
    assert judged > 0 and len(kinds) >= 12  # the writes covered most kinds, and the runs judged findings again


def test_a_write_changing_no_column_a_rule_reads_logs_nothing_and_one_that_does_logs_before_and_after(engine):
    _seeded(engine)
    run_check(engine, SETTINGS, now=datetime.combine(TODAY, time(8)))
    with engine.begin() as connection:
        ref, name, location, store_number = connection.execute(text(
            "SELECT project_ref_num, project_name, location_mvid, store_number FROM events WHERE event_type = 'Core' "
            "ORDER BY project_ref_num LIMIT 1")).one()
        connection.execute(text("UPDATE events SET last_synced = :at, sync_status = 'synced' "
                                "WHERE project_ref_num = :ref"), {"at": datetime.now(), "ref": ref})
        connection.execute(text("UPDATE events SET condition = condition WHERE project_ref_num = :ref"), {"ref": ref})
    assert _change_rows(engine) == []
    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET project_name = '123456-Moved' WHERE project_ref_num = :ref"),
                           {"ref": ref})
    store = store_key(location, store_number)
    assert _change_rows(engine) == [(ref, event_number(name), store, None, None), (ref, "123456", store, None, None)]


def test_an_incremental_run_is_full_and_says_why_when_it_cannot_build_on_a_complete_run(engine, tmp_path):
    _seeded(engine)
    now = datetime.combine(TODAY, time(8))
    assert "no complete run" in run_check(engine, SETTINGS, now=now, incremental=True).full_because
    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET condition = 'Canceled' WHERE project_ref_num = "
                                "(SELECT min(project_ref_num) FROM events)"))
    assert len(_change_rows(engine)) == 2  # the event before and after
    partial = run_check(engine, SETTINGS, now=now, rules=["stale_sync"])
    assert not partial.incremental and len(_change_rows(engine)) == 2  # a partial run leaves the log alone
    with pytest.raises(InvalidInput, match="judges every rule"):
        run_check(engine, SETTINGS, now=now, rules=["stale_sync"], incremental=True)
    run_check(engine, SETTINGS, now=now)
    assert run_check(engine, SETTINGS, now=now + timedelta(minutes=5), incremental=True).incremental
    fixed = load_settings({"SUPERVISOR_RULE_MODE": "fixed"})
    assert "Supervisor rule" in run_check(engine, fixed, now=now + timedelta(minutes=6), incremental=True).full_because
    assert "clock" in run_check(engine, fixed, now=now, incremental=True).full_because
    with engine.begin() as connection, bulk_load(connection):
        connection.execute(text("UPDATE events SET condition = 'Unstaffed' WHERE project_ref_num = "
                                "(SELECT min(project_ref_num) FROM events)"))
    assert "everything" in run_check(engine, fixed, now=now + timedelta(hours=1), incremental=True).full_because


def test_cli_check_run_changed_since_last(tmp_path):
    path = tmp_path / "scheduler.db"
    assert run_cli("db", "upgrade", "--db", str(path)).returncode == 0
    assert run_cli("demo", "seed", "--scenario", "sprint2", "--db", str(path)).returncode == 0
    first = run_cli("check", "run", "--db", str(path), "--changed-since", "last")
    assert first.returncode == 0 and "Not incremental (no complete run" in first.stdout
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE schedules SET schedule_datetime = datetime(schedule_datetime, '+1 day') "
                                "WHERE event_ref_num = 608001"))
    engine.dispose()
    second = run_cli("check", "run", "--db", str(path), "--changed-since", "LAST", "--json")
    payload = json.loads(second.stdout)
    assert payload["incremental"] is True and payload["full_because"] is None
    assert {finding["rule"] for finding in payload["findings"]} >= {"core_supervisor_unstaffed"}
    assert payload["open_findings"] == sum(row["open"] for row in payload["open_by_rule"]) > len(payload["findings"])
    bad = run_cli("check", "run", "--db", str(path), "--changed-since", "yesterday")
    assert bad.returncode == 2 and "only 'last'" in bad.stderr


def test_migration_0021_starts_the_log_with_everything_and_builds_on_a_0020_database(database_url):
    from alembic import command

    from services.store.schema_admin import _alembic_config  # the same configuration `db upgrade` uses
    from services.store.database import begin_write

    engine = make_engine(database_url, must_exist=False)
    try:
        with begin_write(engine) as connection:
            command.upgrade(_alembic_config(connection), "0020")
        with engine.begin() as connection:  # written before the log existed
            connection.execute(text("INSERT INTO employees (id, name) VALUES ('US000001', 'First Rep')"))
            connection.execute(text(
                "INSERT INTO events (project_name, project_ref_num, location_mvid, start_datetime, due_datetime, "
                "is_scheduled, event_type, condition) VALUES ('600001-Core', 600001, 'LOC-1', :start, :due, FALSE, "
                "'Core', 'Unstaffed')"), {"start": datetime.combine(TODAY, time()),
                                           "due": datetime.combine(TODAY + timedelta(days=3), time())})
        upgrade_database(database_url, confirmed=True)
        assert _change_rows(engine) == [(None, None, None, None, None)]
        result = run_check(engine, SETTINGS, now=datetime.combine(TODAY, time(8)), incremental=True)
        assert not result.incremental and _change_rows(engine) == []
    finally:
        engine.dispose()


def test_upgrading_an_existing_postgresql_database_leaves_fresh_statistics_for_the_new_tables(postgres_schema_url):
    """Migrations 0022 and 0023 fill new derived tables from the events already there; the rules read them at once,
    and PostgreSQL must not plan those reads blind until an autovacuum that may never come."""
    from alembic import command

    from services.store.schema_admin import _alembic_config
    from services.store.database import begin_write

    engine = make_engine(postgres_schema_url, must_exist=False)
    try:
        with begin_write(engine) as connection:
            command.upgrade(_alembic_config(connection), "0021")
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO employees (id, name) VALUES ('US000001', 'First Rep')"))
            for ref in range(600001, 600041):
                connection.execute(text(
                    "INSERT INTO events (project_name, project_ref_num, location_mvid, start_datetime, due_datetime, "
                    "is_scheduled, event_type, condition) VALUES (:name, :ref, 'LOC-1', :start, :due, FALSE, "
                    ":type, 'Unstaffed')"), {"name": f"{ref // 2}-{'Core' if ref % 2 else 'Supervisor'}", "ref": ref,
                                             "type": "Core" if ref % 2 else "Supervisor",
                                             "start": datetime.combine(TODAY, time()),
                                             "due": datetime.combine(TODAY + timedelta(days=3), time())})
        upgrade_database(postgres_schema_url, confirmed=True)
        with engine.connect() as connection:
            analyzed = set(connection.execute(text(
                "SELECT DISTINCT tablename FROM pg_stats WHERE schemaname = current_schema()")).scalars())
        assert {"events", "dashboard_pair_members", "dashboard_pair_keys", "dashboard_unstaffed_per_day_all_stores"} \
            <= analyzed
    finally:
        engine.dispose()
