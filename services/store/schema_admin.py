"""Schema administration layer: create, adopt, upgrade and downgrade databases with Alembic, backing up first."""
from __future__ import annotations

import re
import shlex
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from services.store.database import begin_write, display_url, make_engine, sqlite_path
from services.store.file_modes import PRIVATE_UMASK, create_private_file
from services.errors import BackupFailed, IncompatibleSchema, InvalidInput, MigrationFailed
from services.store.tables import REQUIRED_COLUMNS, SCHEDULER_TABLES

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class SchemaState:
    tables: frozenset[str]
    revision: str | None

    @property
    def is_empty(self) -> bool:
        return not self.tables


@dataclass(frozen=True)
class MigrationResult:
    database: str
    from_revision: str | None
    to_revision: str | None
    backup: str | None

    @property
    def changed(self) -> bool:
        return self.from_revision != self.to_revision


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def read_schema_state(engine: Engine) -> SchemaState:
    """Which tables exist and which of our revisions is applied; refuses databases the dashboard cannot adopt."""
    with engine.connect() as connection:
        inspector = inspect(connection)
        tables = frozenset(inspector.get_table_names())
        revision = MigrationContext.configure(connection).get_current_revision() if VERSION_TABLE in tables else None
        if tables and "events" not in tables:
            shown = ", ".join(sorted(tables)[:5])
            raise IncompatibleSchema(f"{display_url(str(engine.url))} holds other tables ({shown}) but no events table: "
                                     "it is not a scheduler database.")
        for table in SCHEDULER_TABLES:
            if table in tables:
                present = {column["name"] for column in inspector.get_columns(table)}
                missing = sorted(REQUIRED_COLUMNS[table] - present)
                if missing:
                    raise IncompatibleSchema(f"The {table} table lacks required column(s): {', '.join(missing)}.",
                                             table=table, missing=missing)
    return SchemaState(tables=tables, revision=revision)


def require_current_schema(engine: Engine) -> None:
    """Refuse to work on a database whose schema is not at our head revision, with the command that fixes it."""
    state = read_schema_state(engine)
    if state.revision != head_revision():
        raise IncompatibleSchema(f"{display_url(str(engine.url))} is not at the current schema "
                                 f"(revision {state.revision or 'none'}, need {head_revision()}). "
                                 "Run: python -m services db upgrade")


def default_backup_path(path: Path, now: datetime | None = None, directory: Path | None = None) -> Path:
    """`<name>.backup-YYYYmmdd-HHMMSS` next to the file (or in `directory`), with a suffix when that name is taken."""
    folder = directory if directory is not None else path.parent
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    target = folder / f"{path.name}.backup-{stamp}"
    suffix = 1
    while target.exists():
        target = folder / f"{path.name}.backup-{stamp}-{suffix}"
        suffix += 1
    return target


def backup_sqlite(path: Path, now: datetime | None = None, *, target: Path | None = None) -> Path:
    """A consistent copy via SQLite's online backup API (next to the file, or at `target`, which must not exist yet),
    verified by reopening it and comparing row counts."""
    target = target if target is not None else default_backup_path(path, now)
    try:
        create_private_file(target)  # claim the name atomically (a backup never overwrites a file), owner-only
    except FileExistsError:
        raise BackupFailed(f"{target} already exists; a backup never overwrites a file.", path=str(target)) from None
    except OSError as exc:
        raise BackupFailed(f"Cannot write {target}: {exc.strerror or exc}.", path=str(target)) from None
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        # One read snapshot for the counts and the copy, so a write by the running app in between cannot make a good
        # backup fail its verification.
        source.execute("BEGIN")
        expected = _row_counts(source)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            # A copy of a WAL database is in WAL mode too, and every later read of it leaves -wal / -shm files
            # beside it; a backup should be one self-contained file.
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise BackupFailed(f"Backup of {path} failed: {exc}") from None
    finally:
        source.close()
    actual = sqlite_row_counts(target)
    if actual != expected:
        target.unlink(missing_ok=True)
        raise BackupFailed(f"Backup of {path} did not verify (row counts differ); nothing was changed.")
    return target


def sqlite_row_counts(path: Path) -> dict[str, int]:
    """Rows per table of an SQLite file, opened read-only."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _row_counts(connection)
    finally:
        connection.close()


def _row_counts(connection: sqlite3.Connection) -> dict[str, int]:
    names = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {name: connection.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}


def search_path_schema(url: str) -> str | None:
    """The schema a PostgreSQL URL selects with `?options=-csearch_path=NAME` (as the tests' private schemas do)."""
    options = make_url(url).query.get("options")
    for option in ([options] if isinstance(options, str) else list(options or ())):
        match = re.search(r"-c\s*search_path\s*=\s*([^\s,]+)", option)
        if match and match.group(1).strip('"') != "$user":
            return match.group(1).strip('"')
    return None


def libpq_url(url: str) -> str:
    """The URL as libpq tools (pg_dump, pg_restore, psql) take it, without the password (pass it in PGPASSWORD)."""
    parsed = make_url(url)
    return URL.create("postgresql", username=parsed.username, host=parsed.host, port=parsed.port,
                      database=parsed.database, query=parsed.query).render_as_string(hide_password=False)


def pg_dump_command(url: str, now: datetime | None = None, *, out: Path | None = None) -> str:
    """The pg_dump line that backs the database (or the URL's search_path schema only) up; it holds no password."""
    parsed = make_url(url)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    schema = search_path_schema(url)
    target = out if out is not None else Path(f"{parsed.database}{'-' + schema if schema else ''}-{stamp}.dump")
    return shlex.join(["pg_dump", "--format=custom", f"--file={target}",
                       *([f"--schema={schema}"] if schema else []), libpq_url(url)])


def _back_up_before_change(engine: Engine, state: SchemaState, confirmed: bool, backup_cmd: str | None) -> str | None:
    """Back up an existing database before its schema changes; a new, empty one needs nothing."""
    if state.is_empty:
        return None
    path = sqlite_path(str(engine.url))
    if path is not None:
        return str(backup_sqlite(path))
    if backup_cmd:
        completed = subprocess.run(backup_cmd, shell=True, capture_output=True, text=True,
                                   umask=PRIVATE_UMASK)  # the backup it writes is owner-only, like ours
        if completed.returncode != 0:
            last = (completed.stderr or completed.stdout).strip().splitlines()
            raise BackupFailed(f"The backup command failed (exit {completed.returncode}): "
                               f"{last[-1] if last else 'no output'}; nothing was changed.")
        return f"by: {backup_cmd}"
    if not confirmed:
        raise InvalidInput("This changes the schema of an existing PostgreSQL database. Back it up first:\n  "
                           f"{pg_dump_command(str(engine.url))}\nthen run again with --yes, or pass "
                           "--backup-cmd 'COMMAND' to run the backup for you.")
    return None


def upgrade_database(url: str, *, confirmed: bool = False, backup_cmd: str | None = None) -> MigrationResult:
    """Create a new database or adopt/upgrade an existing one to our head revision; no-op when already there."""
    path = sqlite_path(url)
    if path is not None and path.parent.is_dir() and not path.exists():
        try:
            create_private_file(path)  # a new SQLite file is created owner-only (it will hold password hashes)
        except FileExistsError:  # another process created it just now: SQLite opens it as it is
            pass
    engine = make_engine(url, must_exist=False)
    try:
        state = read_schema_state(engine)
        head = head_revision()
        if state.revision == head:
            return MigrationResult(display_url(url), state.revision, head, None)
        backup = _back_up_before_change(engine, state, confirmed, backup_cmd)
        if state.is_empty and sqlite_path(url) is not None:
            # A database we create ourselves runs in WAL mode: readers never block the writer and commits are cheap.
            raw = engine.raw_connection()  # outside any transaction: SQLite refuses the switch inside one
            try:
                driver_connection = raw.driver_connection
                assert driver_connection is not None  # None only once the connection is closed or invalidated
                driver_connection.execute("PRAGMA journal_mode=WAL")
            finally:
                raw.close()
        try:
            with begin_write(engine) as connection:
                command.upgrade(_alembic_config(connection), "head")
        except DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else exc.__class__.__name__
            raise MigrationFailed(f"The upgrade failed and was rolled back, nothing changed: {reason}",
                                  backup=backup) from None
        if not state.is_empty:
            _analyze_after_upgrade(engine)
        return MigrationResult(display_url(url), state.revision, head, backup)
    finally:
        engine.dispose()


def _analyze_after_upgrade(engine: Engine) -> None:
    """Fresh planner statistics for the tables migrations fill from existing data (the derived tables a revision
    adds). Without them PostgreSQL plans the rules' queries on those tables blind until autovacuum comes by, which a
    server may not run (a check run at 1,000,000 events then took minutes instead of seconds). On PostgreSQL only the
    tables the bulk load also analyzes, as the search path names them: a bare ANALYZE takes every schema of the
    database. SQLite's planner works without statistics until `bulk_load` or the next ANALYZE."""
    if engine.dialect.name != "postgresql":
        return
    from services.store.scheduled_per_day import BULK_LOADED_TABLES  # the derived tables import the models

    with begin_write(engine) as connection:
        connection.execute(text("ANALYZE " + ", ".join(BULK_LOADED_TABLES)))


def downgrade_database(url: str, *, confirmed: bool = False, backup_cmd: str | None = None) -> MigrationResult:
    """Remove everything our migrations added; the scheduler's own tables and rows stay as they are."""
    engine = make_engine(url)
    try:
        state = read_schema_state(engine)
        if state.revision is None:
            return MigrationResult(display_url(url), None, None, None)
        backup = _back_up_before_change(engine, state, confirmed, backup_cmd)
        with begin_write(engine) as connection:
            command.downgrade(_alembic_config(connection), "base")
            connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        return MigrationResult(display_url(url), state.revision, None, backup)
    finally:
        engine.dispose()
