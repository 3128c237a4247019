"""Database layer: engines and sessions for SQLite files and PostgreSQL, with a clear error when a URL does not open."""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InvalidatePoolError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from services.errors import DatabaseUnavailable, NotADatabase

SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL, or None for in-memory databases, other backends and unparsable URLs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def display_url(url: str) -> str:
    """The URL with any password hidden, for screens and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def short_database_name(url: str) -> str:
    """The database as people name it, for everyone's screens: the SQLite file's name ("scheduler.db"), or the
    database and its host ("scheduler on db.internal"); the full URL (display_url) is for admins."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<invalid URL>"
    if parsed.get_backend_name() == "sqlite":
        return Path(parsed.database).name if parsed.database and parsed.database != ":memory:" else "in memory"
    name = parsed.database or parsed.get_backend_name()
    return f"{name} on {parsed.host}" if parsed.host else name


def _check_sqlite_file(path: Path, must_exist: bool) -> None:
    """What can be told from the path alone (stat, never open): whether the file is there and can be a database.

    The file's content is judged by SQLite itself (check_connection: "file is not a database"). Opening the file with
    a plain open() here would be a data-loss bug: closing any descriptor of a file drops every POSIX lock this process
    holds on it, SQLite's included, so another process (the CLI, cron, a second server) would then checkpoint and
    delete the WAL under this process's pooled connections (SQLite's "How To Corrupt An SQLite Database File", 2.2)."""
    if must_exist and not path.exists():
        raise DatabaseUnavailable(f"There is no database at {path}. Create it with: python -m services db upgrade "
                                  f"--db {path}", path=str(path))
    if path.is_dir():
        raise NotADatabase(f"{path} is a directory, not an SQLite database file.", path=str(path))
    if not path.parent.is_dir():
        raise DatabaseUnavailable(f"Cannot create {path}: the directory {path.parent} does not exist.", path=str(path))


def is_sqlite_database(path: Path) -> bool:
    """Whether SQLite reads `path` as a database, asked through SQLite itself (read-only, one short connection):
    SQLite keeps a process's locks on a file while any of its connections holds them, where a plain open() and
    close() would drop them (see _check_sqlite_file)."""
    try:
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except sqlite3.DatabaseError:
        return False
    return True


def json_or_text(value: Any) -> Any:
    """How a JSON column reads on SQLite, which stores JSON as text and never checks it: the JSON value, or for text
    that is not JSON (a row edited by hand or cut short) the text itself, as migration 0016 keeps such text. Readers
    (journal.read_json) take a value of the wrong kind as empty, so one bad row never stops a page or a retry pass;
    PostgreSQL's JSONB refuses such text when it is written."""
    if not isinstance(value, (str, bytes)):
        return value  # a number SQLite stored as one
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value


def make_engine(url: str, must_exist: bool = True) -> Engine:
    """An engine for `url`; raises DatabaseUnavailable / NotADatabase (one-line messages) when it cannot be opened.

    `must_exist=False` lets a new SQLite file be created (only `db upgrade` does that)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(f"{url!r} is not a database URL (expected e.g. sqlite:///data/scheduler.db or "
                                  "postgresql+psycopg://user@host/db).", url=url) from None
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            _check_sqlite_file(path, must_exist)
        engine = create_engine(url, connect_args={"timeout": 30}, json_deserializer=json_or_text)
        _use_real_sqlite_transactions(engine)
        if path is not None and path.exists():
            _opened_files[engine] = _file_identity(path)
    else:
        try:
            engine = create_engine(url, connect_args={"connect_timeout": 5})
        except NoSuchModuleError:
            raise DatabaseUnavailable(f"{display_url(url)}: unknown kind of database {parsed.drivername!r} "
                                      "(use sqlite:///PATH or postgresql+psycopg://...).", url=display_url(url)) from None
        except (ArgumentError, ImportError) as exc:
            raise DatabaseUnavailable(f"Cannot use {display_url(url)}: {exc}", url=display_url(url)) from None
        _ping_idle_connections(engine)
    check_connection(engine)
    return engine


# A pooled server connection unused for longer than this is pinged before it is handed out (see _ping_idle_connections).
PING_AFTER_IDLE_SECONDS = 1.0
_RETURNED_AT = "ops_dashboard_returned_at"  # the connection record's info: when it went back to the pool (monotonic)


def _ping_idle_connections(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping, for connections that sat in the pool a while: one that was handed back less than
    PING_AFTER_IDLE_SECONDS ago is handed out again without a ping.

    A ping is a round trip (SELECT 1) per checkout, and a paired action checks out a connection at each step of its
    saga, one right after the other (its own four and the in-process Crossmark's two): six round trips for nothing,
    about 1 ms of the action at 1,000,000 events. What the ping is for, a connection the server dropped while it sat
    unused (a restart, an idle timeout, a proxy), is still caught on the first checkout after a pause, and then, as
    pool_pre_ping does, every connection older than it is replaced. A server that went away within the second since a
    connection's last use fails that statement instead, as a restart in the middle of a transaction does anyway, and
    the pool is replaced after it (SQLAlchemy invalidates it on any disconnect error)."""
    dialect = engine.dialect

    @event.listens_for(engine.pool, "checkin")
    def _returned(_dbapi_connection, record):  # noqa: ANN001 - the pool's DB-API objects
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy):  # noqa: ANN001
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return  # a new connection, or one in use a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise InvalidatePoolError(f"the pooled connection was dropped: {error}") from error
            raise


def _use_real_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin transactions, so DDL in a migration is rolled back on failure too;
    and let a write transaction (begin_write) take the write lock when it begins."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001 - DB-API objects
        dbapi_connection.isolation_level = None
        # In WAL mode (databases this app created), NORMAL sync is durable across application crashes and makes a
        # commit cheap, which matters: a paired action commits at each durability point of its saga. Adopted
        # databases keep their mode.
        if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # noqa: ANN001
        # Every transaction on this engine begins here (engine.begin(), connection.begin() and autobegin alike); the
        # connection's WRITE_TRANSACTION option, set by begin_write, is what tells a writer from a reader.
        immediate = connection.get_execution_options().get(WRITE_TRANSACTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# A connection execution option: set (by begin_write), the transaction begins with BEGIN IMMEDIATE on SQLite; other
# databases ignore it.
WRITE_TRANSACTION = "ops_dashboard_write_transaction"


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """engine.begin() for a transaction that writes: every write step of the services opens its transaction here.

    The SQLite store must not lose or refuse writes when the CLI, cron or a second server write beside this process.
    A deferred BEGIN (what engine.begin() and engine.connect() give) takes the write lock only at the first write: a
    transaction that reads first (state checks, journal counts) and then writes gets SQLITE_BUSY at once, without
    waiting out the busy timeout, when another connection wrote since its read, so two operators acting at the same
    moment would break each other's actions. A write transaction therefore takes the write lock up front
    (BEGIN IMMEDIATE, waiting up to the 30 s busy timeout make_engine sets); reads through engine.connect() stay
    deferred, so WAL readers never wait for a writer. An explicit option on the connection, read by the engine's
    "begin" listener, rather than a replaced engine.begin: the engine stays a plain SQLAlchemy Engine, and what opens a
    write transaction is visible where it is opened (tests/test_database_files.py holds services/ to it)."""
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_TRANSACTION: True})
        with connection.begin():
            yield connection


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """engine.connect() for reads that need no transaction around them (each statement is its own snapshot, as under
    PostgreSQL's default READ COMMITTED anyway): autocommit on PostgreSQL, where a transaction costs two round trips
    more (BEGIN, ROLLBACK) and psycopg drops the connection's prepared statements at each ROLLBACK (one more, a
    DEALLOCATE ALL, and every statement parsed again). SQLite's transactions are begun by this engine's own listener
    (above), cost no round trip and keep WAL readers' snapshots: they stay as they are."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def check_connection(engine: Engine) -> None:
    """Open a connection and read the catalogue, turning driver errors into one clear line."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            inspect(connection).get_table_names()
    except DatabaseError as exc:
        lines = str(getattr(exc, "orig", exc)).strip().splitlines()
        reason = lines[0] if lines else exc.__class__.__name__
        where = display_url(str(engine.url))
        if "file is not a database" in reason:
            raise NotADatabase(f"{where} is not an SQLite database.", url=where) from None
        raise DatabaseUnavailable(f"Cannot connect to {where}: {reason}", url=where) from None


# --- which file an SQLite engine works on -----------------------------------------------------------------------------

_opened_files: weakref.WeakKeyDictionary[Engine, tuple[int, int]] = weakref.WeakKeyDictionary()


def _file_identity(path: Path) -> tuple[int, int]:
    status = path.stat()  # stat, never open: see _check_sqlite_file
    return status.st_dev, status.st_ino


def file_replaced_under(engine: Engine) -> bool:
    """Whether the file at the engine's path is no longer the one it opened (moved away and another put there): its
    pooled connections still work on the old one. False when unknown (not SQLite, or nothing there)."""
    path = sqlite_path(str(engine.url))
    opened = _opened_files.get(engine)
    if path is None or opened is None:
        return False
    try:
        return _file_identity(path) != opened
    except OSError:
        return False


# --- one engine per database per process ------------------------------------------------------------------------------

_shared_engines: dict[str, Engine] = {}
_shared_engines_lock = threading.Lock()


def shared_engine(url: str) -> Engine:
    """This process's one engine (connection pool) for `url`, made on first use and kept for the process's life.

    The dashboard's pages, /healthz and the Operations health page all use it: a probe that made and disposed an
    engine of its own per request paid a connect (and, on PostgreSQL, a login) every time, and on SQLite every
    extra open and close of the file is one more chance to lose this process's locks. A failure to open is raised
    and not remembered, so the next call tries again."""
    with _shared_engines_lock:
        engine = _shared_engines.get(url)
        if engine is None:
            engine = make_engine(url)
            _shared_engines[url] = engine
        return engine


def dispose_shared_engines() -> None:
    """Close every shared engine (tests that delete their databases; a process about to exit)."""
    with _shared_engines_lock:
        engines = list(_shared_engines.values())
        _shared_engines.clear()
    for engine in engines:
        engine.dispose()


def deleted_database_files(path: Path) -> list[str]:
    """Files of the SQLite database at `path` (the database, -wal, -shm, -journal) that this process still holds open
    although they are gone from the folder: its writes there are lost to every other process and at the next restart.

    Read from /proc/self/fd with readlink, which opens nothing (Linux; elsewhere the list is empty)."""
    folder = Path("/proc/self/fd")
    if not folder.is_dir():
        return []
    names = {str(path.absolute()) + suffix for suffix in ("", "-wal", "-shm", "-journal")}
    held: set[str] = set()
    try:
        descriptors = os.listdir(folder)
    except OSError:
        return []
    for descriptor in descriptors:
        try:
            target = os.readlink(folder / descriptor)
        except OSError:  # closed between the listing and the read
            continue
        if target.endswith(" (deleted)") and target.removesuffix(" (deleted)") in names:
            held.add(target.removesuffix(" (deleted)"))
    return sorted(held)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
