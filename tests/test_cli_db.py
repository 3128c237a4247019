"""CLI `db ...` (run in process, tests/cli_runner.py): exit codes, one-line errors without tracebacks, nothing changed
on bad input."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from services.store.schema_admin import head_revision
from tests.cli_runner import run_cli
from tests.legacy_scheduler import create_legacy_scheduler_database, row_snapshot


def test_upgrade_status_downgrade_roundtrip_on_an_existing_sqlite_database(tmp_path):
    path = tmp_path / "scheduler.db"
    create_legacy_scheduler_database(f"sqlite:///{path}")
    before = row_snapshot(f"sqlite:///{path}")

    upgraded = run_cli("db", "upgrade", "--db", str(path))
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"revision none -> {head_revision()}" in upgraded.stdout
    assert "Backup: " in upgraded.stdout and "(verified)" in upgraded.stdout
    assert len(list(tmp_path.glob("scheduler.db.backup-*"))) == 1

    status = run_cli("db", "status", "--db", str(path))
    assert status.returncode == 0
    assert f"Schema revision: {head_revision()}" in status.stdout
    assert "Events: 3  Schedules: 2  Employees: 2  Stores: 1" in status.stdout

    again = run_cli("db", "upgrade", "--db", str(path))
    assert again.returncode == 0 and "is up to date" in again.stdout
    assert len(list(tmp_path.glob("scheduler.db.backup-*"))) == 1  # nothing to change, no new backup

    downgraded = run_cli("db", "downgrade", "--db", str(path))
    assert downgraded.returncode == 0 and "untouched" in downgraded.stdout
    assert row_snapshot(f"sqlite:///{path}") == before


def _assert_clean_refusal(result, message: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr


def test_bad_inputs_get_one_clear_line_and_change_nothing(tmp_path):
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello")
    _assert_clean_refusal(run_cli("db", "upgrade", "--db", str(not_a_db)), "is not an SQLite database")
    assert not_a_db.read_text() == "hello"

    half = tmp_path / "half.db"
    engine = create_engine(f"sqlite:///{half}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, project_name TEXT)"))
    engine.dispose()
    content = half.read_bytes()
    _assert_clean_refusal(run_cli("db", "upgrade", "--db", str(half)), "events table lacks required column(s)")
    assert half.read_bytes() == content
    assert not list(tmp_path.glob("half.db.backup-*"))

    _assert_clean_refusal(run_cli("db", "upgrade", "--db", "postgresql+psycopg://postgres@127.0.0.1:1/x"),
                          "Cannot connect to postgresql+psycopg://postgres@127.0.0.1:1/x")
    _assert_clean_refusal(run_cli("db", "status", "--db", str(tmp_path / "absent.db")), "There is no database at")
    assert not (tmp_path / "absent.db").exists()
    _assert_clean_refusal(run_cli("db", "upgrade", "--db", str(tmp_path)), "is a directory")


def test_bad_settings_are_reported_not_raised(tmp_path):
    result = run_cli("db", "upgrade", "--db", str(tmp_path / "x.db"), env={"SUPERVISOR_RULE_MODE": "weekly"})
    _assert_clean_refusal(result, "SUPERVISOR_RULE_MODE must be 'offset' or 'fixed'")
    assert not (tmp_path / "x.db").exists()


def test_postgresql_upgrade_of_an_existing_database_asks_for_a_backup(postgres_schema_url):
    create_legacy_scheduler_database(postgres_schema_url)
    refused = run_cli("db", "upgrade", "--db", postgres_schema_url)
    assert refused.returncode == 1 and "pg_dump --format=custom" in refused.stderr and "--yes" in refused.stderr
    assert "Traceback" not in refused.stderr
    accepted = run_cli("db", "upgrade", "--db", postgres_schema_url, "--yes")
    assert accepted.returncode == 0 and head_revision() in accepted.stdout


@pytest.mark.parametrize("args", [["db"], ["db", "sideways"], ["demo", "seed", "--events", "many"],
                                  ["demo", "seed", "--start", "2025-13-01"], ["nothing"]])
def test_usage_errors_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "usage:" in result.stderr
