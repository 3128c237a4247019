"""Freshness when the scheduler itself writes (issue 22): the database bumps the data version when any program writes
`events`, `schedules` or `employees` (migration 0019), so a page shows another program's raw INSERT, UPDATE or DELETE
at its next rerun, not after the cache's 5-minute TTL. The writes here come from another connection of the driver
itself (sqlite3, psycopg), as the scheduler app's would; on SQLite and PostgreSQL."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from services.demo.demo_data import seed_demo_data, seed_sprint2_scenario
from services.reads.read_queries import data_version
from services.store.database import make_engine
from services.store.schema_admin import libpq_url, upgrade_database
from services.store.tables import DataVersion
from tests.conftest import private_database
from tests.schema_fingerprint import schema_fingerprint
from tests.test_app_pages import _metrics, open_page  # noqa: F401 - open_page is a fixture
from tests.test_json_columns import _migrate

TODAY = date.today()
NOON = datetime.combine(TODAY, datetime.min.time()) + timedelta(hours=12)


@contextmanager
def other_program(url: str) -> Iterator[Any]:
    """A connection of another program: the database driver itself, not our engine, each statement committed alone
    unless a transaction is begun."""
    if make_url(url).get_backend_name() == "sqlite":
        connection = sqlite3.connect(make_url(url).database or "", timeout=30, isolation_level=None)
    else:
        connection = psycopg.connect(libpq_url(url), autocommit=True)
    try:
        yield connection
    finally:
        connection.close()


def _stamp(engine: Engine) -> tuple[int, datetime | None]:
    with engine.connect() as connection:  # through the model: SQLite's text timestamps read as datetimes
        version, changed_at = connection.execute(select(DataVersion.version, DataVersion.changed_at)
                                                 .where(DataVersion.id == 1)).one()
    return version, changed_at


def _dv_triggers(engine: Engine) -> set[str]:
    sql = ("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'dashboard_dv_%'"
           if engine.dialect.name == "sqlite" else
           "SELECT t.tgname FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid "
           "WHERE r.relnamespace = current_schema()::regnamespace AND t.tgname LIKE 'dashboard_dv_%'")
    with engine.connect() as connection:
        return set(connection.execute(text(sql)).scalars())


def _event_sql(*refs: int, due: datetime) -> str:
    """An INSERT of Unstaffed CORE events at the sprint2 club, one row per ref."""
    rows = [f"('{ref}-CORE-Raw write', {ref}, '157384', 8135, '{due - timedelta(days=5):%Y-%m-%d %H:%M:%S}', "
            f"'{due:%Y-%m-%d %H:%M:%S}', 'Core', 'Unstaffed')" for ref in refs]
    return ("INSERT INTO events (project_name, project_ref_num, location_mvid, store_number, start_datetime, "
            "due_datetime, event_type, condition) VALUES " + ", ".join(rows))


WRITES = (  # (what, SQL): each a single-row statement of the scheduler's kind, in foreign-key order
    ("insert an employee", "INSERT INTO employees (id, name) VALUES ('RAW1', 'Raw Writer')"),
    ("insert an event", _event_sql(990001, due=NOON + timedelta(days=2))),
    ("insert a schedule", "INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                          f"VALUES (990001, 'RAW1', '{NOON:%Y-%m-%d %H:%M:%S}')"),
    ("update the employee", "UPDATE employees SET name = 'Raw Writer, renamed' WHERE id = 'RAW1'"),
    ("update the event", "UPDATE events SET condition = 'Scheduled' WHERE project_ref_num = 990001"),
    ("update the schedule", "UPDATE schedules SET schedule_datetime = "
                            f"'{NOON + timedelta(hours=1):%Y-%m-%d %H:%M:%S}' WHERE event_ref_num = 990001"),
    ("delete the schedule", "DELETE FROM schedules WHERE event_ref_num = 990001"),
    ("delete the event", "DELETE FROM events WHERE project_ref_num = 990001"),
    ("delete the employee", "DELETE FROM employees WHERE id = 'RAW1'"),
)


def test_every_raw_write_of_another_program_bumps_the_stamp(engine: Engine, database_url: str):
    before_all = datetime.now().replace(microsecond=0) - timedelta(seconds=1)
    with other_program(database_url) as scheduler:
        for what, sql in WRITES:
            version = data_version(engine)
            scheduler.execute(sql)
            assert data_version(engine) == version + 1, what  # one statement, one row: one bump on both backends
    version, changed_at = _stamp(engine)
    assert changed_at is not None and changed_at >= before_all


def test_a_write_elsewhere_or_a_read_does_not_bump_it(engine: Engine, database_url: str):
    before = _stamp(engine)
    with other_program(database_url) as program:
        program.execute("CREATE TABLE raw_sync_log (id INTEGER PRIMARY KEY, note TEXT)")
        program.execute("INSERT INTO raw_sync_log (id, note) VALUES (1, 'nightly refresh started')")
        program.execute("UPDATE raw_sync_log SET note = 'nightly refresh done' WHERE id = 1")
        program.execute("INSERT INTO dashboard_switches (name, enabled) VALUES ('raw-switch', true)")
        program.execute("SELECT COUNT(*) FROM events").fetchall()
        program.execute("UPDATE events SET condition = 'Expired' WHERE 1 = 0")  # no row: no bump on SQLite
    if engine.dialect.name == "postgresql":  # a statement trigger fires for a statement that changed no row
        assert _stamp(engine)[0] == before[0] + 1
    else:
        assert _stamp(engine) == before


def test_a_rolled_back_write_leaves_the_stamp_and_a_multi_row_write_bumps_it(engine: Engine, database_url: str):
    with other_program(database_url) as scheduler:
        scheduler.execute("INSERT INTO employees (id, name) VALUES ('RAW1', 'Raw Writer')")
        version = data_version(engine)
        scheduler.execute("BEGIN")
        scheduler.execute(_event_sql(990001, due=NOON))
        scheduler.execute("ROLLBACK")
        assert data_version(engine) == version
        scheduler.execute(_event_sql(990002, 990003, due=NOON))
    # PostgreSQL: one bump a statement (once a transaction); SQLite, with row triggers only: one a row.
    assert data_version(engine) == version + (1 if engine.dialect.name == "postgresql" else 2)


def test_postgresql_bumps_once_a_transaction_and_a_rolled_back_savepoint_takes_its_bump_with_it(
        postgres_schema_url: str):
    upgrade_database(postgres_schema_url)
    engine = make_engine(postgres_schema_url)
    try:
        with other_program(postgres_schema_url) as scheduler:
            version = data_version(engine)
            with scheduler.transaction():  # a nightly refresh: many statements over the three tables, one commit
                scheduler.execute("INSERT INTO employees (id, name) VALUES ('RAW1', 'Raw Writer')")
                for ref in range(990001, 990051):
                    scheduler.execute(_event_sql(ref, due=NOON))
                    scheduler.execute("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                                      f"VALUES ({ref}, 'RAW1', '{NOON:%Y-%m-%d %H:%M:%S}')")
                    scheduler.execute(f"UPDATE events SET condition = 'Scheduled' WHERE project_ref_num = {ref}")
            assert data_version(engine) == version + 1

            with scheduler.transaction():
                savepoint = scheduler.transaction()  # psycopg: a nested transaction is a savepoint
                with pytest.raises(psycopg.errors.UniqueViolation), savepoint:
                    scheduler.execute("UPDATE employees SET name = 'Renamed' WHERE id = 'RAW1'")  # bumps, then
                    scheduler.execute(_event_sql(990001, due=NOON))  # fails: the savepoint rolls back with its bump
                scheduler.execute("DELETE FROM schedules WHERE event_ref_num = 990001")  # so this one bumps again
            assert data_version(engine) == version + 2

            scheduler.execute("TRUNCATE schedules")
            assert data_version(engine) == version + 3
    finally:
        engine.dispose()


def test_a_bulk_load_bumps_once_and_leaves_every_trigger_as_the_migrations_made_it(engine: Engine, database_url: str):
    migrated = schema_fingerprint(engine)
    version = data_version(engine)
    seed_demo_data(engine, events=300, stores=2, start=TODAY.replace(day=1), months=2, today=TODAY)
    assert data_version(engine) == version + 1
    assert schema_fingerprint(engine) == migrated  # the data-version and derived tables' triggers re-created as made
    with other_program(database_url) as scheduler:
        scheduler.execute("UPDATE employees SET name = name || ' ' WHERE id IN (SELECT min(id) FROM employees)")
    assert data_version(engine) == version + 2


def test_downgrading_0019_removes_the_triggers_and_upgrading_restores_them(database_url: str):
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        expected = ({f"dashboard_dv_{table}_{operation}" for table in ("events", "schedules", "employees")
                     for operation in ("insert", "update", "delete")} if engine.dialect.name == "sqlite"
                    else {"dashboard_dv_events", "dashboard_dv_schedules", "dashboard_dv_employees"})
        assert _dv_triggers(engine) == expected
        _migrate(engine, "downgrade", "0018")
        assert _dv_triggers(engine) == set()
        version = data_version(engine)
        with other_program(database_url) as scheduler:
            scheduler.execute("INSERT INTO employees (id, name) VALUES ('RAW1', 'Raw Writer')")
        assert data_version(engine) == version  # what issue 22 found: the scheduler's writes went unannounced
        _migrate(engine, "upgrade", "head")
        assert _dv_triggers(engine) == expected
        with other_program(database_url) as scheduler:
            scheduler.execute("DELETE FROM employees WHERE id = 'RAW1'")
        assert data_version(engine) == version + 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_open_page_shows_another_program_s_insert_update_and_delete_at_its_next_rerun(open_page, tmp_path, kind):
    with private_database(kind, tmp_path) as url:
        upgrade_database(url)
        engine = make_engine(url)
        seed_sprint2_scenario(engine, today=TODAY)
        engine.dispose()
        page = open_page(url, "unscheduled")
        start = _metrics(page)
        page.run()  # a rerun with nothing written reads the cache: the same figures
        assert _metrics(page) == start

        def shown_after(sql: str) -> dict[str, str]:
            with other_program(url) as scheduler:
                scheduler.execute(sql)
            page.run()
            assert not page.exception, page.exception
            return _metrics(page)

        def plus(bucket: str, figures: dict[str, str]) -> dict[str, str]:
            return {**figures, bucket: str(int(figures[bucket]) + 1)}

        yesterday = NOON - timedelta(days=1)
        assert shown_after(_event_sql(990001, due=yesterday)) == plus("Past due", start)
        tomorrow = NOON + timedelta(days=1)
        assert shown_after(f"UPDATE events SET due_datetime = '{tomorrow:%Y-%m-%d %H:%M:%S}' "
                           "WHERE project_ref_num = 990001") == plus("Due tomorrow", start)
        assert shown_after("DELETE FROM events WHERE project_ref_num = 990001") == start
