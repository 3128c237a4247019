"""Backups and restores: SQLite (online backup API, verified by row counts) and PostgreSQL (pg_dump / pg_restore)."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.store.backups import backup_database, restore_database, run_backup_cli, run_restore_cli
from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.errors import IncompatibleSchema, InvalidInput, NotADatabase, OpsError
from services.reads.read_queries import data_version
from services.store.schema_admin import upgrade_database
from services.settings import Settings

TODAY = date(2025, 6, 2)
PG_PASSWORD = "Backup-Pw-7731!"  # distinctive, so a test can prove it is never printed or put on a command line


def _seed(url: str) -> None:
    upgrade_database(url)
    engine = make_engine(url)
    try:
        seed_sprint2_scenario(engine, today=TODAY)
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> tuple[str, Path]:
    """A migrated SQLite scheduler database (WAL mode, as the app creates it) holding the sprint2 scenario."""
    path = tmp_path / "scheduler.db"
    url = f"sqlite:///{path}"
    _seed(url)
    return url, path


@pytest.fixture
def seeded_postgres(postgres_schema_url: str) -> str:
    _seed(postgres_schema_url)
    return postgres_schema_url


def _counts(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}
    finally:
        connection.close()


def _rows(url: str, table: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
    finally:
        engine.dispose()


def _damage(url: str) -> None:
    """What a bad day does: schedules deleted, an event's state changed."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM schedules"))
            connection.execute(text("UPDATE events SET condition = 'Canceled'"))
    finally:
        engine.dispose()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _siblings(path: Path) -> set[str]:
    """Files beside the database, leaving out SQLite's -wal / -shm, which any reader of a WAL database may create."""
    return {p.name for p in path.parent.iterdir() if not p.name.endswith(("-wal", "-shm"))}


# --- SQLite backup ---------------------------------------------------------------------------------------------------


def test_sqlite_backup_is_one_verified_file_with_the_same_row_counts(sqlite_db):
    url, path = sqlite_db
    result = backup_database(url)
    assert result.ok and result.exit_code == 0 and result.status == "written"
    assert result.path.parent == path.parent and result.path.name.startswith("scheduler.db.backup-")
    expected = _counts(path)
    assert expected["events"] > 0 and expected["schedules"] > 0
    assert _counts(result.path) == expected == result.row_counts
    assert f"{expected['events']} events" in result.message and str(result.path) in result.message
    # Self-contained: no -wal / -shm beside it, even after it was reopened to be verified.
    assert not [name for name in _siblings(path) if name.startswith(result.path.name + "-")]
    assert sqlite3.connect(result.path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_sqlite_backup_to_a_named_file_or_into_a_directory(sqlite_db, tmp_path):
    url, path = sqlite_db
    named = backup_database(url, tmp_path / "nightly.db")
    assert named.path == tmp_path / "nightly.db" and _counts(named.path) == _counts(path)
    folder = tmp_path / "backups"
    folder.mkdir()
    into = backup_database(url, str(folder) + "/")
    assert into.path.parent == folder and into.path.name.startswith("scheduler.db.backup-")
    assert _counts(into.path) == _counts(path)


@pytest.mark.parametrize("out, message", [
    ("missing/nightly.db", r"the directory .*missing does not exist"),
    ("missing/", r"into .*missing: that directory does not exist"),
])
def test_backup_into_a_directory_that_does_not_exist_is_a_clear_error(sqlite_db, tmp_path, out, message):
    url, path = sqlite_db
    before = _siblings(path)
    with pytest.raises(InvalidInput, match=message):
        backup_database(url, f"{tmp_path}/{out}")  # a string: the trailing slash of "missing/" says "a directory"
    assert _siblings(path) == before and not (tmp_path / "missing").exists()


def test_backup_never_overwrites_a_file(sqlite_db, tmp_path):
    url, path = sqlite_db
    existing = tmp_path / "keep.db"
    existing.write_text("precious")
    with pytest.raises(InvalidInput, match="already exists"):
        backup_database(url, existing)
    with pytest.raises(InvalidInput, match="already exists"):
        backup_database(url, path)  # the database itself
    assert existing.read_text() == "precious" and _counts(path)["events"] > 0


def test_backup_of_a_missing_file_or_of_something_that_is_not_a_database(tmp_path):
    with pytest.raises(InvalidInput, match="no database at"):
        backup_database(f"sqlite:///{tmp_path / 'nope.db'}")
    (tmp_path / "notes.db").write_text("not a database\n")
    with pytest.raises(NotADatabase, match="not an SQLite database"):
        backup_database(f"sqlite:///{tmp_path / 'notes.db'}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]


def test_sqlite_backup_while_the_app_holds_an_open_write(sqlite_db):
    """The backup copies the last committed state and verifies against that same snapshot."""
    url, path = sqlite_db
    committed = _counts(path)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            connection.execute(text("DELETE FROM schedules"))
            result = backup_database(url)
            transaction.rollback()
    finally:
        engine.dispose()
    assert _counts(result.path) == committed


def test_backup_cli_prints_one_line_and_returns_the_exit_code(sqlite_db, tmp_path, capsys):
    url, _ = sqlite_db
    settings = Settings(database_url=url)
    assert run_backup_cli(str(tmp_path / "cli.db"), settings) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Backed up ") and out.count("\n") == 1 and err == ""
    assert run_backup_cli(str(tmp_path / "missing" / "x.db"), settings) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and "does not exist" in err and err.count("\n") == 1


# --- SQLite restore --------------------------------------------------------------------------------------------------


def test_restore_without_confirmation_is_refused_and_changes_nothing(sqlite_db, capsys):
    url, path = sqlite_db
    backup = backup_database(url).path
    _damage(url)
    before_rows, before_files = _rows(url, "events"), _siblings(path)
    result = restore_database(url, backup, confirmed=False)
    assert result.status == "refused" and not result.ok and result.exit_code == 1
    assert str(path) in result.message and str(backup) in result.message and "--yes" in result.message
    assert "Nothing was changed" in result.message
    assert run_restore_cli(str(backup), False, Settings(database_url=url)) == 1
    out, err = capsys.readouterr()
    assert out == "" and "--yes" in err and err.count("\n") == 1
    assert _rows(url, "events") == before_rows and _counts(path)["schedules"] == 0
    assert _siblings(path) == before_files  # no safety backup either: nothing happened


def test_restore_brings_back_the_original_rows_and_leaves_a_safety_backup(sqlite_db, capsys):
    url, path = sqlite_db
    original = {table: _rows(url, table) for table in ("events", "schedules", "employees")}
    backup = backup_database(url).path
    _damage(url)
    damaged_counts = _counts(path)
    engine = make_engine(url)  # a running app's engine, with a pooled connection open across the restore
    try:
        version_before = data_version(engine)
        assert run_restore_cli(str(backup), True, Settings(database_url=url)) == 0
        out, err = capsys.readouterr()
        assert out.startswith("Restored ") and "safety backup" in out and err == ""
        with engine.connect() as connection:  # the app sees the restored rows at once
            assert connection.execute(text("SELECT COUNT(*) FROM schedules")).scalar_one() == len(original["schedules"])
        # Cached reads are keyed by the data version: it moves past every value seen before.
        assert data_version(engine) > max(version_before, _data_version_in(backup))
    finally:
        engine.dispose()
    assert {table: _rows(url, table) for table in original} == original
    safeties = [path.parent / name for name in _siblings(path) if name.startswith("scheduler.db.backup-")
                and name != backup.name]
    assert len(safeties) == 1 and _counts(safeties[0]) == damaged_counts


def _data_version_in(path: Path) -> int:
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT version FROM dashboard_data_version").fetchone()[0]
    finally:
        connection.close()


def test_restore_into_a_database_file_that_is_gone(sqlite_db, tmp_path):
    url, path = sqlite_db
    backup = backup_database(url, tmp_path / "kept.db").path
    new_path = tmp_path / "rebuilt.db"
    result = restore_database(f"sqlite:///{new_path}", backup, confirmed=True)
    assert result.ok and result.safety_backup is None
    assert _counts(new_path)["events"] == _counts(path)["events"]


def _not_a_scheduler_db(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (id INTEGER)")
    connection.commit()
    connection.close()


@pytest.mark.parametrize("make, error, message", [
    (lambda p: p.write_text("id,name\n1,not a database\n"), NotADatabase, "not an SQLite database backup"),
    (lambda p: p.write_bytes(b""), NotADatabase, "not an SQLite database backup"),
    (lambda p: p.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64), InvalidInput, "PostgreSQL .*archive"),
    (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200), NotADatabase, "cannot be read|damaged"),
    (_not_a_scheduler_db, IncompatibleSchema, "no events table"),
    (lambda p: p.mkdir(), InvalidInput, "is not a file"),
    (lambda p: None, InvalidInput, "There is no file at"),
])
def test_restore_from_something_that_is_not_a_scheduler_backup_changes_nothing(sqlite_db, tmp_path, make, error,
                                                                                message):
    url, path = sqlite_db
    source = tmp_path / "input" / "backup.db"
    source.parent.mkdir()
    make(source)
    before_rows, before_files = _rows(url, "events"), _siblings(path)
    with pytest.raises(error, match=message) as caught:
        restore_database(url, source, confirmed=True)
    assert "\n" not in str(caught.value)
    assert _rows(url, "events") == before_rows and _siblings(path) == before_files


def test_restore_from_the_database_itself_is_refused(sqlite_db):
    url, path = sqlite_db
    with pytest.raises(InvalidInput, match="the database itself"):
        restore_database(url, path, confirmed=True)


# --- PostgreSQL ------------------------------------------------------------------------------------------------------

needs_pg_tools = pytest.mark.skipif(not (shutil.which("pg_dump") and shutil.which("pg_restore")),
                                    reason="pg_dump / pg_restore are not installed")


def _pg_rows(url: str) -> dict[str, list[tuple]]:
    return {table: _rows(url, table) for table in ("events", "schedules", "employees")}


def _archive_entries(path: Path) -> list[str]:
    listing = subprocess.run(["pg_restore", "--list", str(path)], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if " TABLE DATA " in line]


@needs_pg_tools
def test_postgresql_backup_with_pg_dump_then_restore(seeded_postgres, tmp_path, capsys):
    url = seeded_postgres
    schema = make_url(url).query["options"].split("=", 1)[1]
    original = _pg_rows(url)
    result = backup_database(url, tmp_path)
    assert result.ok and result.path.parent == tmp_path and result.path.read_bytes()[:5] == b"PGDMP"
    assert f"--schema={schema}" in result.command
    entries = _archive_entries(result.path)
    # Only the private schema: the URL's search_path became --schema.
    assert any(f" TABLE DATA {schema} events " in line for line in entries)
    assert all(f" TABLE DATA {schema} " in line for line in entries)

    _damage(url)
    damaged = _pg_rows(url)
    refused = restore_database(url, result.path, confirmed=False)
    assert refused.status == "refused" and "--yes" in refused.message and _pg_rows(url) == damaged
    assert sorted(p.name for p in tmp_path.iterdir()) == [result.path.name]

    assert run_restore_cli(result.path, True, Settings(database_url=url)) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("Restored ") and "safety dump" in out
    assert _pg_rows(url) == original
    safety = [p for p in tmp_path.iterdir() if "before-restore" in p.name]
    assert len(safety) == 1 and safety[0].read_bytes()[:5] == b"PGDMP"


@needs_pg_tools
def test_postgresql_restore_refuses_a_dump_of_another_schema_or_a_non_dump(seeded_postgres, tmp_path, sqlite_db):
    url = seeded_postgres
    other = make_url(url).update_query_dict({"options": "-csearch_path=some_other_schema"})
    dump = backup_database(url, tmp_path / "mine.dump").path
    with pytest.raises(InvalidInput, match="holds schema"):
        restore_database(other.render_as_string(hide_password=False), dump, confirmed=True)
    with pytest.raises(InvalidInput, match="is an SQLite database"):
        restore_database(url, sqlite_db[1], confirmed=True)
    (tmp_path / "dump.sql").write_text("CREATE TABLE x (id int);\n")
    with pytest.raises(NotADatabase, match="not a pg_dump custom-format archive"):
        restore_database(url, tmp_path / "dump.sql", confirmed=True)


def _with_password(url: str) -> str:
    return make_url(url).set(password=PG_PASSWORD).render_as_string(hide_password=False)


def test_postgresql_without_pg_dump_gives_the_command_to_run(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    url = _with_password("postgresql+psycopg://ops@db.example:5432/scheduler?options=-csearch_path%3Dfield_ops")
    result = backup_database(url, tmp_path / "x.dump")
    assert result.status == "command" and not result.ok and result.exit_code == 1
    assert result.message.startswith("pg_dump not found; run") and "PGPASSWORD" in result.message
    assert result.command == ("pg_dump --format=custom --file=" + str(tmp_path / "x.dump") + " --schema=field_ops "
                              "'postgresql://ops@db.example:5432/scheduler?options=-csearch_path%3Dfield_ops'")
    assert run_backup_cli(None, Settings(database_url=url)) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("pg_dump not found; run") and err.count("\n") == 1
    for shown in (result.message, result.command, repr(result), err):
        assert PG_PASSWORD not in shown
    assert "***" not in result.command  # a masked password in a command to copy would be sent as the password
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]


def test_postgresql_restore_without_pg_restore_gives_the_command_to_run(postgres_schema_url, tmp_path, monkeypatch):
    archive = tmp_path / "x.dump"
    archive.write_bytes(b"PGDMP" + b"\x00" * 64)  # without pg_restore only the header can be checked
    _seed(postgres_schema_url)
    monkeypatch.setenv("PATH", str(tmp_path))
    result = restore_database(postgres_schema_url, archive, confirmed=True)
    assert result.status == "command" and result.exit_code == 1
    assert "pg_dump and pg_restore not found" in result.message
    assert "pg_dump --format=custom" in result.command and "before-restore" in result.command
    assert "pg_restore --clean --if-exists --no-owner --single-transaction '--dbname=postgresql://" in result.command
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.dump"]


def test_pg_dump_gets_the_password_in_its_environment_never_on_its_command_line(tmp_path, monkeypatch):
    """A stand-in pg_dump records what it was given, as `ps` would show it, and writes an archive header."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "record.txt"
    fake = bin_dir / "pg_dump"
    fake.write_text(f"#!{sys.executable}\n"
                    "import os, sys\n"
                    f"open({str(record)!r}, 'w').write(repr(sys.argv) + '\\n' + os.environ.get('PGPASSWORD', ''))\n"
                    "out = [a for a in sys.argv if a.startswith('--file=')][0].split('=', 1)[1]\n"
                    "open(out, 'wb').write(b'PGDMP-fake-archive')\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    url = _with_password("postgresql+psycopg://ops@db.example/scheduler")
    result = backup_database(url, tmp_path / "out.dump")
    assert result.ok and (tmp_path / "out.dump").read_bytes() == b"PGDMP-fake-archive"
    argv, password = record.read_text().split("\n", 1)
    assert password == PG_PASSWORD and PG_PASSWORD not in argv and "postgresql://ops@db.example/scheduler" in argv
    assert PG_PASSWORD not in result.message and PG_PASSWORD not in repr(result)


def test_a_failing_pg_dump_leaves_no_file_and_says_why(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pg_dump"
    fake.write_text(f"#!{sys.executable}\nimport sys\nout = [a for a in sys.argv if a.startswith('--file=')][0]"
                    "\nopen(out.split('=', 1)[1], 'wb').write(b'PGDMP partial')\n"
                    "sys.stderr.write('pg_dump: error: connection to server failed: FATAL: no such database\\n')\n"
                    "sys.exit(1)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(OpsError, match=r"pg_dump failed \(exit 1\): .*no such database; no backup was written"):
        backup_database("postgresql+psycopg://ops@db.example/scheduler", tmp_path / "out.dump")
    assert not (tmp_path / "out.dump").exists()


def test_backups_refuse_other_kinds_of_database(tmp_path):
    with pytest.raises(InvalidInput, match="in-memory"):
        backup_database("sqlite://")
    with pytest.raises(InvalidInput, match="not mysql"):
        backup_database("mysql://u@h/db")
    assert os.listdir(tmp_path) == []


@needs_pg_tools
def test_postgresql_restore_into_an_emptied_schema_needs_no_safety_dump(seeded_postgres, tmp_path):
    url = seeded_postgres
    original = _pg_rows(url)
    dump = backup_database(url, tmp_path / "kept.dump").path
    schema = make_url(url).query["options"].split("=", 1)[1]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:  # the database was lost and recreated empty
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    result = restore_database(url, dump, confirmed=True)
    assert result.ok and result.safety_backup is None and _pg_rows(url) == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.dump"]
