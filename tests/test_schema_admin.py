"""Migrations: new databases, adopting an existing scheduler database without touching its rows, backups, refusals."""
from __future__ import annotations

import sqlite3
import warnings

import pytest
from sqlalchemy import create_engine, inspect, text

from services.store.database import make_engine
from services.errors import (
    BackupFailed, DatabaseUnavailable, IncompatibleSchema, InvalidInput, MigrationFailed, NotADatabase,
)
from services.store.schema_admin import backup_sqlite, downgrade_database, head_revision, upgrade_database
from tests.legacy_scheduler import LEGACY_COUNTS, create_legacy_scheduler_database, row_snapshot

OUR_TABLES = {"dashboard_data_version", "dashboard_schema_adoption", "alembic_version"}
PAGE_INDEXES = {
    ("events", ("project_name",)), ("events", ("start_datetime", "due_datetime")), ("events", ("event_type",)),
    ("events", ("condition",)), ("schedules", ("event_ref_num",)), ("schedules", ("schedule_datetime",)),
}


def _schema(url: str) -> tuple[set[str], set[tuple[str, tuple[str, ...]]], dict[str, set[str]]]:
    engine = create_engine(url)
    with engine.connect() as connection, warnings.catch_warnings():
        # SQLAlchemy does not reflect expression indexes (migration 0008 has one) and warns each time it meets one
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        inspector = inspect(connection)
        tables = set(inspector.get_table_names())
        indexes = {(table, tuple(index["column_names"])) for table in tables for index in inspector.get_indexes(table)}
        columns = {table: {column["name"] for column in inspector.get_columns(table)} for table in tables}
        unique_ref = any(tuple(c["column_names"]) == ("project_ref_num",) for c in inspector.get_unique_constraints("events")) \
            if "events" in tables else False
    engine.dispose()
    if unique_ref:
        indexes.add(("events", ("project_ref_num",)))
    return tables, indexes, columns


def test_new_database_gets_scheduler_and_dashboard_schema(database_url):
    result = upgrade_database(database_url)
    assert (result.from_revision, result.to_revision, result.backup) == (None, head_revision(), None)
    tables, indexes, columns = _schema(database_url)
    assert {"events", "schedules", "employees"} | OUR_TABLES <= tables
    assert PAGE_INDEXES | {("events", ("project_ref_num",))} <= indexes
    assert {"external_id", "sales_tools_url", "parent_event_ref_num", "last_synced"} <= columns["events"]

    again = upgrade_database(database_url)
    assert not again.changed and again.backup is None


def test_adopting_an_existing_scheduler_database_keeps_every_row(database_url, tmp_path):
    create_legacy_scheduler_database(database_url)
    before = row_snapshot(database_url)

    result = upgrade_database(database_url, backup_cmd="true" if database_url.startswith("postgresql") else None)

    assert result.to_revision == head_revision()
    assert row_snapshot(database_url) == before
    tables, indexes, columns = _schema(database_url)
    assert OUR_TABLES <= tables
    assert PAGE_INDEXES <= indexes
    assert {"sales_tools_url", "parent_event_ref_num"} <= columns["events"]
    assert "created_at" in columns["employees"]
    if database_url.startswith("sqlite"):
        backup = sqlite3.connect(result.backup)
        assert {t: backup.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in LEGACY_COUNTS} == LEGACY_COUNTS
        assert not backup.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall()
        backup.close()

    downgrade_database(database_url, backup_cmd="true" if database_url.startswith("postgresql") else None)

    assert row_snapshot(database_url) == before
    tables, indexes, columns = _schema(database_url)
    assert tables == {"events", "schedules", "employees"}
    assert not PAGE_INDEXES & indexes
    assert "sales_tools_url" not in columns["events"] and "created_at" not in columns["employees"]
    assert "external_id" in columns["events"]  # theirs, untouched

    assert upgrade_database(database_url, confirmed=True).to_revision == head_revision()  # and back again
    assert row_snapshot(database_url) == before


def test_postgresql_existing_database_needs_a_backup_confirmation(postgres_schema_url):
    create_legacy_scheduler_database(postgres_schema_url)
    with pytest.raises(InvalidInput, match=r"(?s)pg_dump --format=custom .*--yes"):
        upgrade_database(postgres_schema_url)
    with pytest.raises(BackupFailed, match="exit 1"):
        upgrade_database(postgres_schema_url, backup_cmd="false")
    tables, _, _ = _schema(postgres_schema_url)
    assert tables == {"events", "schedules", "employees"}
    assert upgrade_database(postgres_schema_url, confirmed=True).to_revision == head_revision()


def test_missing_required_columns_are_named_and_nothing_changes(database_url):
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, project_name TEXT NOT NULL, "
                                "project_ref_num INTEGER NOT NULL)"))
    engine.dispose()
    with pytest.raises(IncompatibleSchema, match=r"events table lacks required column\(s\): condition, due_datetime"):
        upgrade_database(database_url, confirmed=True)
    assert _schema(database_url)[0] == {"events"}


def test_a_database_of_another_application_is_refused(database_url):
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(IncompatibleSchema, match="no events table: it is not a scheduler database"):
        upgrade_database(database_url, confirmed=True)
    assert _schema(database_url)[0] == {"invoices"}


def test_a_failing_migration_is_rolled_back_completely(database_url):
    """Duplicate refs in an old database without a UNIQUE constraint: the unique index fails, nothing stays behind."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, project_name TEXT NOT NULL, project_ref_num INTEGER NOT NULL,"
            " location_mvid TEXT, store_number INTEGER, start_datetime TIMESTAMP NOT NULL, due_datetime TIMESTAMP NOT NULL,"
            " is_scheduled BOOLEAN, event_type VARCHAR(20), condition VARCHAR(20))"))
        connection.execute(text(
            "INSERT INTO events (id, project_name, project_ref_num, start_datetime, due_datetime) VALUES "
            "(1, 'a', 7, '2026-01-01 00:00:00', '2026-01-02 00:00:00'), (2, 'b', 7, '2026-01-01 00:00:00', '2026-01-02 00:00:00')"))
    engine.dispose()
    with pytest.raises(MigrationFailed, match="rolled back"):
        upgrade_database(database_url, confirmed=True)
    tables, _, columns = _schema(database_url)
    assert tables == {"events"}
    assert "external_id" not in columns["events"]


def test_sqlite_backup_is_consistent_and_named_by_time(tmp_path):
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    create_legacy_scheduler_database(url)
    first = backup_sqlite(tmp_path / "scheduler.db")
    second = backup_sqlite(tmp_path / "scheduler.db")
    assert first.name.startswith("scheduler.db.backup-") and first != second
    copy = sqlite3.connect(first)
    assert copy.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3
    copy.close()


def test_bad_database_inputs_are_refused_without_side_effects(tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("this is not a database\n" * 10)
    with pytest.raises(NotADatabase, match="not an SQLite database"):
        upgrade_database(f"sqlite:///{text_file}")
    assert text_file.read_text() == "this is not a database\n" * 10
    assert list(tmp_path.iterdir()) == [text_file]
    with pytest.raises(NotADatabase, match="is a directory"):
        upgrade_database(f"sqlite:///{tmp_path}")
    with pytest.raises(DatabaseUnavailable, match="directory .* does not exist"):
        upgrade_database(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    with pytest.raises(DatabaseUnavailable, match="no database at"):
        make_engine(f"sqlite:///{tmp_path / 'absent.db'}")
    assert not (tmp_path / "absent.db").exists()
    with pytest.raises(DatabaseUnavailable, match="Cannot connect to postgresql"):
        upgrade_database("postgresql+psycopg://postgres@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnavailable, match="unknown kind of database 'nonsense'"):
        upgrade_database("nonsense://")
    with pytest.raises(DatabaseUnavailable, match="not a database URL"):
        upgrade_database("::not a url::")
