"""Database layer: engines and sessions for SQLite files and PostgreSQL, with a clear error when a URL does not open."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from services.errors import DatabaseUnavailable, NotADatabase

SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL, or None for in-memory databases and other backends."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def display_url(url: str) -> str:
    """The URL with any password hidden, for screens and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def _check_sqlite_file(path: Path, must_exist: bool) -> None:
    if must_exist and not path.exists():
        raise DatabaseUnavailable(f"There is no database at {path}. Create it with: python -m services db upgrade "
                                  f"--db {path}", path=str(path))
    if path.is_dir():
        raise NotADatabase(f"{path} is a directory, not an SQLite database file.", path=str(path))
    if not path.parent.is_dir():
        raise DatabaseUnavailable(f"Cannot create {path}: the directory {path.parent} does not exist.", path=str(path))
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                raise NotADatabase(f"{path} is not an SQLite database (its first bytes are not an SQLite header).",
                                   path=str(path))


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
        engine = create_engine(url, connect_args={"timeout": 30})
        _use_real_sqlite_transactions(engine)
    else:
        try:
            engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        except NoSuchModuleError:
            raise DatabaseUnavailable(f"{display_url(url)}: unknown kind of database {parsed.drivername!r} "
                                      "(use sqlite:///PATH or postgresql+psycopg://...).", url=display_url(url)) from None
        except (ArgumentError, ImportError) as exc:
            raise DatabaseUnavailable(f"Cannot use {display_url(url)}: {exc}", url=display_url(url)) from None
    check_connection(engine)
    return engine


def _use_real_sqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy, not the sqlite3 module, begin transactions, so DDL in a migration is rolled back on failure too."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001 - DB-API objects
        dbapi_connection.isolation_level = None
        # In WAL mode (databases this app created), NORMAL sync is durable across application crashes and makes a
        # commit cheap, which matters: a paired action commits once per saga step. Adopted databases keep their mode.
        if dbapi_connection.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # noqa: ANN001
        immediate = connection.get_execution_options().get(_WRITE_TRANSACTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    # A deferred BEGIN takes the write lock only at the first write. A transaction that reads first (state checks,
    # journal counts) and then writes gets SQLITE_BUSY at once, without waiting out the busy timeout, when another
    # connection wrote since its read: two operators acting at the same moment would break each other's actions.
    # engine.begin() is how every write step opens its transaction, so it takes the write lock up front (waiting up
    # to the 30 s timeout); reads through engine.connect() stay deferred, so WAL readers never wait for a writer.
    def begin_writing() -> Iterator[Connection]:
        with engine.connect() as connection:
            connection.execution_options(**{_WRITE_TRANSACTION: True})
            with connection.begin():
                yield connection

    engine.begin = contextmanager(begin_writing)  # type: ignore[method-assign]


_WRITE_TRANSACTION = "ops_dashboard_write_transaction"


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


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
