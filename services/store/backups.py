"""Backup layer: back up and restore the database (SQLite's online backup API; pg_dump / pg_restore for PostgreSQL)."""
from __future__ import annotations

import logging
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from services.store.database import (SQLITE_HEADER, begin_write, display_url, is_sqlite_database, make_engine,
                                     sqlite_path)
from services.errors import BackupFailed, IncompatibleSchema, InvalidInput, NotADatabase, OpsError
from services.store.file_modes import PRIVATE_UMASK, create_private_file
from services.ops.logging_setup import log_event
from services.store.schema_admin import (VERSION_TABLE, backup_sqlite, default_backup_path, head_revision, libpq_url,
                                   pg_dump_command, search_path_schema, sqlite_row_counts)
from services.settings import Settings
from services.store.tables import DataVersion, Event

log = logging.getLogger("services.backups")

PG_ARCHIVE_HEADER = b"PGDMP"
EXIT_OK, EXIT_FAILED = 0, 1


@dataclass(frozen=True)
class BackupResult:
    """`written`: the backup is at `path` and verified. `command`: the tool is missing; `command` is the line to run."""

    database: str
    status: str
    message: str
    path: Path | None = None
    command: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "written"

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_FAILED


@dataclass(frozen=True)
class RestoreResult:
    """`restored`: done and verified. `refused`: not confirmed, nothing changed. `command`: the tool is missing."""

    database: str
    status: str
    message: str
    source: Path
    safety_backup: Path | None = None
    command: str | None = None
    row_counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "restored"

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_FAILED


# --- shared checks ---------------------------------------------------------------------------------------------------


def _kind(url: str) -> str:
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        raise InvalidInput(f"{url!r} is not a database URL.") from None
    if backend == "sqlite":
        if sqlite_path(url) is None:
            raise InvalidInput("An in-memory SQLite database has nothing to back up or restore.")
        return "sqlite"
    if backend == "postgresql":
        return "postgresql"
    raise InvalidInput(f"Backups handle SQLite and PostgreSQL databases, not {backend} ({display_url(url)}).")


def _target_path(out: Path | str | None, default_in: Path, default_name: Callable[[Path], Path]) -> Path:
    """Where a backup goes: `out` as a file name, or `default_name(directory)` when `out` is None or a directory (an
    existing one, or a path written with a trailing slash). Never an existing file; the directory must exist."""
    if out is None:
        return default_name(default_in)
    wants_directory = isinstance(out, str) and out.endswith(("/", os.sep))
    path = Path(out).expanduser().absolute()
    if path.is_dir():
        return default_name(path)
    if wants_directory:
        raise InvalidInput(f"Cannot write the backup into {path}: that directory does not exist.", path=str(path))
    if not path.parent.is_dir():
        raise InvalidInput(f"Cannot write the backup to {path}: the directory {path.parent} does not exist.",
                           path=str(path))
    if path.exists() or path.is_symlink():
        raise InvalidInput(f"{path} already exists; choose a new file name (a backup never overwrites a file).",
                           path=str(path))
    return path


def _existing_file(source: Path | str, what: str) -> Path:
    path = Path(source).expanduser().absolute()
    if not path.exists():
        raise InvalidInput(f"There is no file at {path} to {what}.", path=str(path))
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file.", path=str(path))
    return path


def _header(path: Path) -> bytes:
    """The first bytes of a backup file. Never used on a live database: see _is_sqlite_database."""
    with path.open("rb") as handle:
        return handle.read(len(SQLITE_HEADER))


def _describe_counts(counts: dict[str, int]) -> str:
    return f"{len(counts)} tables, {sum(counts.values())} rows, {counts.get('events', 0)} events"


# --- backup ----------------------------------------------------------------------------------------------------------


def backup_database(url: str, out: Path | str | None = None, *, now: datetime | None = None) -> BackupResult:
    """Back the database up: SQLite to `out` (default `<db>.backup-YYYYmmdd-HHMMSS` next to it), verified by row counts;
    PostgreSQL with pg_dump (custom format) when it is installed, else the pg_dump line to run."""
    started = time.monotonic()
    kind = _kind(url)
    result = _backup_sqlite(url, out, now) if kind == "sqlite" else _backup_postgresql(url, out, now)
    log_event(log, "backup finished" if result.ok else "backup not run", operation="backup", status=result.status,
              database=result.database, path=str(result.path or ""), duration_ms=_ms_since(started))
    return result


def _backup_sqlite(url: str, out: Path | str | None, now: datetime | None) -> BackupResult:
    path = sqlite_path(url)
    assert path is not None
    if not path.is_file():
        raise InvalidInput(f"There is no database at {path} to back up.", path=str(path))
    if path.stat().st_size and not is_sqlite_database(path):
        raise NotADatabase(f"{path} is not an SQLite database (its first bytes are not an SQLite header).",
                           path=str(path))
    target = _target_path(out, path.parent, lambda folder: default_backup_path(path, now, directory=folder))
    written = backup_sqlite(path, target=target)
    counts = sqlite_row_counts(written)
    return BackupResult(display_url(url), "written", f"Backed up {path} to {written} (verified: "
                        f"{_describe_counts(counts)}).", path=written, row_counts=counts)


def _pg_default_name(url: str, now: datetime | None, folder: Path, label: str = "") -> Path:
    schema = search_path_schema(url)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    base = f"{make_url(url).database}{'-' + schema if schema else ''}{label}-{stamp}"
    target, suffix = folder / f"{base}.dump", 1
    while target.exists():
        target, suffix = folder / f"{base}-{suffix}.dump", suffix + 1
    return target


def _pg_environment(url: str) -> dict[str, str]:
    """The password goes to pg_dump / pg_restore in PGPASSWORD, never on a command line that `ps` shows."""
    environment = dict(os.environ)
    password = make_url(url).password
    if password:
        environment["PGPASSWORD"] = password
    environment.setdefault("PGCONNECT_TIMEOUT", "10")
    return environment


def _last_line(completed: subprocess.CompletedProcess) -> str:
    lines = [line for line in (completed.stderr or completed.stdout or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def _password_note(url: str) -> str:
    return " (give the password in PGPASSWORD or ~/.pgpass)" if make_url(url).password else ""


def _run_pg_dump(url: str, target: Path) -> Path:
    command = pg_dump_command(url, out=target)
    # pg_dump writes the file itself: the umask makes it owner-only, like the SQLite backups (it holds password hashes).
    completed = subprocess.run(shlex.split(command), env=_pg_environment(url), capture_output=True, text=True,
                               umask=PRIVATE_UMASK)
    if completed.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupFailed(f"pg_dump failed (exit {completed.returncode}): {_last_line(completed)}; no backup was "
                           "written.", command=command)
    if not target.is_file() or target.stat().st_size == 0 or _header(target)[:5] != PG_ARCHIVE_HEADER:
        target.unlink(missing_ok=True)
        raise BackupFailed(f"pg_dump reported success but {target} is empty or not a pg_dump archive.", command=command)
    return target


def _archive_tables(archive: Path) -> dict[str, str] | None:
    """Table name -> schema of every TABLE DATA entry of a custom-format archive (pg_restore --list, no database
    needed), or None when pg_restore is not installed."""
    if shutil.which("pg_restore") is None:
        return None
    completed = subprocess.run(["pg_restore", "--list", str(archive)], capture_output=True, text=True)
    if completed.returncode != 0:
        raise NotADatabase(f"{archive} is not a readable pg_dump archive: {_last_line(completed)}", path=str(archive))
    tables: dict[str, str] = {}
    for line in completed.stdout.splitlines():
        # e.g. "3385; 0 16390 TABLE DATA test_abc events postgres"
        if line.startswith(";") or " TABLE DATA " not in line:
            continue
        words = line.split(" TABLE DATA ", 1)[1].split()
        if len(words) >= 2:
            tables[words[1]] = words[0]
    return tables


def _backup_postgresql(url: str, out: Path | str | None, now: datetime | None) -> BackupResult:
    target = _target_path(out, Path.cwd(), lambda folder: _pg_default_name(url, now, folder))
    command = pg_dump_command(url, now, out=target)
    if shutil.which("pg_dump") is None:
        return BackupResult(display_url(url), "command", f"pg_dump not found; run{_password_note(url)}: {command}",
                            path=target, command=command)
    written = _run_pg_dump(url, target)
    tables = _archive_tables(written)
    checked = f", {len(tables)} tables listed by pg_restore" if tables is not None else ""
    return BackupResult(display_url(url), "written", f"Backed up {display_url(url)} to {written} "
                        f"({written.stat().st_size} bytes{checked}).", path=written, command=command)


# --- restore ---------------------------------------------------------------------------------------------------------


def restore_database(url: str, source: Path | str, *, confirmed: bool, now: datetime | None = None) -> RestoreResult:
    """Replace the database's contents with a backup. Checks the backup first; refuses without `confirmed`; takes a
    safety backup of the current database before changing anything; verifies the result."""
    started = time.monotonic()
    kind = _kind(url)
    path = _existing_file(source, "restore from")
    if kind == "sqlite":
        result = _restore_sqlite(url, path, confirmed, now)
    else:
        result = _restore_postgresql(url, path, confirmed, now)
    log_event(log, f"restore {result.status}", level=logging.INFO if result.ok else logging.WARNING,
              operation="restore", status=result.status, database=result.database, path=str(path),
              safety_backup=str(result.safety_backup or ""), duration_ms=_ms_since(started))
    return result


def _check_sqlite_backup(source: Path) -> dict[str, int]:
    """Row counts of an SQLite scheduler backup; raises (changing nothing) when it is anything else."""
    header = _header(source)
    if header.startswith(PG_ARCHIVE_HEADER):
        raise InvalidInput(f"{source} is a PostgreSQL (pg_dump) archive; it restores into a PostgreSQL database, not "
                           "into an SQLite file.", path=str(source))
    if header != SQLITE_HEADER:
        raise NotADatabase(f"{source} is not an SQLite database backup (its first bytes are not an SQLite header); "
                           "nothing was changed.", path=str(source))
    try:
        connection = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
        try:
            problem = connection.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            connection.close()
        counts = sqlite_row_counts(source)
    except sqlite3.DatabaseError as exc:
        raise NotADatabase(f"{source} cannot be read as an SQLite database ({exc}); nothing was changed.",
                           path=str(source)) from None
    if problem != "ok":
        raise NotADatabase(f"{source} is damaged (integrity check: {problem}); nothing was changed.", path=str(source))
    if "events" not in counts:
        raise IncompatibleSchema(f"{source} is an SQLite database but not a scheduler database (it has no events "
                                 "table); nothing was changed.", path=str(source))
    return counts


def _sqlite_revision(path: Path) -> str | None:
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()[0]
    except (sqlite3.Error, TypeError):
        return None
    finally:
        connection.close()


def _upgrade_note(revision: str | None) -> str:
    if revision == head_revision():
        return ""
    return f" The backup's schema is at revision {revision or 'none'}, not {head_revision()}: run python -m services " \
           "db upgrade before starting the dashboard."


def _restore_sqlite(url: str, source: Path, confirmed: bool, now: datetime | None) -> RestoreResult:
    target = sqlite_path(url)
    assert target is not None
    target = target.absolute()
    expected = _check_sqlite_backup(source)
    if target.exists() and source.samefile(target):
        raise InvalidInput(f"{source} is the database itself; name a backup file to restore from.", path=str(source))
    if target.is_dir():
        raise NotADatabase(f"{target} is a directory, not an SQLite database file.", path=str(target))
    if not target.parent.is_dir():
        raise InvalidInput(f"Cannot restore into {target}: the directory {target.parent} does not exist.")
    current = None
    if target.exists() and target.stat().st_size:
        if not is_sqlite_database(target):
            raise NotADatabase(f"{target} is not an SQLite database; move it away before restoring into its place.",
                               path=str(target))
        current = sqlite_row_counts(target)
    display = display_url(url)
    if not confirmed:
        now_text = f"{current.get('events', 0)} events now" if current is not None else "no database there yet"
        return RestoreResult(display, "refused", f"Restoring replaces every table of {target} ({now_text}) with "
                             f"{source} ({_describe_counts(expected)}). Nothing was changed; run again with --yes to "
                             "restore (a safety backup of the current file is taken first).", source=source)
    before_version = _data_version(url) if current is not None else 0
    safety = backup_sqlite(target, now) if current is not None else None
    kept = f"; the previous database is in {safety}" if safety else ""
    if not target.exists():
        create_private_file(target)  # a database restored into a new file is owner-only, as `db upgrade` makes one
    try:
        reader = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
        try:
            writer = sqlite3.connect(target, timeout=30)
            try:
                # The backup API writes the whole target in one transaction and other connections see the new pages
                # at once, which copying the file over a database in use would not give.
                reader.backup(writer)
            finally:
                writer.close()
        finally:
            reader.close()
    except sqlite3.Error as exc:
        raise BackupFailed(f"Restoring {source} into {target} failed: {exc}{kept}.",
                           safety_backup=str(safety)) from None
    restored = sqlite_row_counts(target)
    if restored != expected:
        raise BackupFailed(f"The restored {target} does not match {source} (row counts differ){kept}.",
                           safety_backup=str(safety))
    _advance_data_version(url, before_version)
    message = (f"Restored {target} from {source} (verified: {_describe_counts(restored)})"
               f"{'; safety backup of the previous file: ' + str(safety) if safety else ''}."
               f"{_upgrade_note(_sqlite_revision(target))}")
    return RestoreResult(display, "restored", message, source=source, safety_backup=safety, row_counts=restored)


def _pg_restore_command(url: str, source: Path) -> str:
    # One transaction: a failure half way (a missing role, a dependency) leaves the database as it was.
    return shlex.join(["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                       f"--dbname={libpq_url(url)}", str(source)])


def _pg_current_events(url: str) -> int | None:
    """Events in the database now, or None when it holds no tables (a new database needs no safety dump)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            if not tables:
                return None
            if "events" not in tables:
                return 0
            return connection.execute(select(func.count()).select_from(Event)).scalar_one()
    finally:
        engine.dispose()


def _restore_postgresql(url: str, source: Path, confirmed: bool, now: datetime | None) -> RestoreResult:
    header = _header(source)
    if header == SQLITE_HEADER:
        raise InvalidInput(f"{source} is an SQLite database; it restores into an SQLite database, not into "
                           "PostgreSQL.", path=str(source))
    if not header.startswith(PG_ARCHIVE_HEADER):
        raise NotADatabase(f"{source} is not a pg_dump custom-format archive (made by python -m services backup or "
                           "pg_dump --format=custom); nothing was changed.", path=str(source))
    tables = _archive_tables(source)
    schema = search_path_schema(url) or "public"
    if tables is not None:
        if "events" not in tables:
            raise IncompatibleSchema(f"{source} holds no events table: it is not a backup of a scheduler database; "
                                     "nothing was changed.", path=str(source))
        if tables["events"] != schema:
            raise InvalidInput(f"{source} holds schema {tables['events']}, but {display_url(url)} uses schema "
                               f"{schema}; nothing was changed.", path=str(source))
    display = display_url(url)
    current = _pg_current_events(url)
    if not confirmed:
        now_text = f"{current} events now" if current is not None else "empty now"
        return RestoreResult(display, "refused", f"Restoring replaces the tables of schema {schema} in {display} "
                             f"({now_text}) with {source}. Nothing was changed; run again with --yes to restore (a "
                             "safety dump of the current database is taken first).", source=source)
    restore = _pg_restore_command(url, source)
    safety_target = _pg_default_name(url, now, source.parent, "-before-restore") if current is not None else None
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        steps = ([pg_dump_command(url, now, out=safety_target)] if safety_target else []) + [restore]
        return RestoreResult(display, "command", f"{' and '.join(missing)} not found; run{_password_note(url)}: "
                             f"{' && '.join(steps)}", source=source, command=" && ".join(steps))
    before_version = _data_version(url) if current is not None else 0
    safety = _run_pg_dump(url, safety_target) if safety_target else None
    kept = f"; the previous database is in {safety}" if safety else ""
    completed = subprocess.run(shlex.split(restore), env=_pg_environment(url), capture_output=True, text=True)
    if completed.returncode != 0:
        raise BackupFailed(f"pg_restore failed (exit {completed.returncode}): {_last_line(completed)}; it ran in one "
                           f"transaction, so nothing was changed{kept}.", safety_backup=str(safety or ""))
    restored = _pg_current_events(url) or 0
    _advance_data_version(url, before_version)
    message = (f"Restored {display} from {source} ({restored} events)"
               f"{'; safety dump of the previous database: ' + str(safety) if safety else ''}.")
    return RestoreResult(display, "restored", message, source=source, safety_backup=safety,
                         row_counts={"events": restored})


def _data_version(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if DataVersion.__tablename__ not in inspect(connection).get_table_names():
                return 0
            return connection.execute(select(DataVersion.version).where(DataVersion.id == 1)).scalar_one_or_none() or 0
    finally:
        engine.dispose()


def _advance_data_version(url: str, before: int) -> None:
    """Cached reads are keyed by the data version; the restored one may be a number other processes already cached
    different data under, so move it past both the old and the restored value."""
    engine = make_engine(url)
    try:
        with begin_write(engine) as connection:
            if DataVersion.__tablename__ not in inspect(connection).get_table_names():
                return
            table = DataVersion.__table__
            restored = connection.execute(select(table.c.version).where(table.c.id == 1)).scalar_one_or_none()
            version = max(before, restored or 0) + 1
            changed_at = datetime.now().replace(microsecond=0)
            if restored is None:
                connection.execute(table.insert().values(id=1, version=version, changed_at=changed_at))
            else:
                connection.execute(update(table).where(table.c.id == 1).values(version=version, changed_at=changed_at))
    finally:
        engine.dispose()


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


# --- CLI -------------------------------------------------------------------------------------------------------------


def run_backup_cli(args_out: str | Path | None, settings: Settings) -> int:
    """`python -m services backup [--out PATH]`: one line on stdout when written, on stderr otherwise; the exit code."""
    try:
        result = backup_database(settings.database_url, args_out)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return result.exit_code


def run_restore_cli(path: str | Path, yes: bool, settings: Settings) -> int:
    """`python -m services restore PATH --yes`: one line on stdout when restored, on stderr otherwise; the exit code."""
    try:
        result = restore_database(settings.database_url, path, confirmed=yes)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(result.message, file=sys.stdout if result.ok else sys.stderr)
    return result.exit_code
