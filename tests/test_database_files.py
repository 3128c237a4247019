"""The SQLite file shared by several processes: no write of this process may end up in a deleted file (issue 15 §1).

Closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's included. A process that
opened the live database with a plain open() (to read its header) while its pool held a connection let the next
process that closed its last connection checkpoint and delete the WAL under it: every later write of the first
process went into a deleted file. These tests run the other process for real (a subprocess) on a real file.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from services.store.database import begin_write, deleted_database_files, dispose_shared_engines, make_engine, \
    shared_engine
from services.ops.health import health_report
from services.store.schema_admin import upgrade_database
from services.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _other_process(url: str, statement: str = "SELECT COUNT(*) FROM dashboard_switches") -> str:
    """Open the database in another process, run one statement (committed) and close: the CLI or cron would."""
    code = textwrap.dedent(f"""
        import sqlite3, sys
        connection = sqlite3.connect({str(Path(url.removeprefix('sqlite:///')))!r}, timeout=30)
        with connection:
            rows = connection.execute({statement!r}).fetchall()
        connection.close()
        print(rows)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def wal_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    upgrade_database(url)
    return url


def _hold_a_connection(engine: Engine) -> None:
    """Leave a pooled connection open on the file, as a serving process does between requests."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def test_opening_the_database_again_in_a_process_holding_it_keeps_its_writes_visible(wal_database: str):
    path = Path(wal_database.removeprefix("sqlite:///"))
    server = make_engine(wal_database)  # the server's pool
    try:
        _hold_a_connection(server)
        with server.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        # What the server did at each /healthz probe and page load: open the same database once more.
        make_engine(wal_database).dispose()
        _other_process(wal_database)  # the CLI: opens, reads, closes its last connection (checkpoint + delete WAL?)

        assert deleted_database_files(path) == [], "this process holds deleted files of the database"
        with server.begin() as connection:  # a write of the server after the CLI ran
            connection.execute(text("INSERT INTO dashboard_switches (name, enabled, changed_by) "
                                    "VALUES ('written_by_server', 1, 'test')"))
        seen = _other_process(wal_database, "SELECT changed_by FROM dashboard_switches WHERE name = 'written_by_server'")
        assert seen == "[('test',)]", "the server's write is not visible to another process"
    finally:
        server.dispose()
    assert _other_process(wal_database, "SELECT COUNT(*) FROM dashboard_switches WHERE name = 'written_by_server'") \
        == "[(1,)]"  # and it survives the server's end


def _settings(url: str) -> Settings:
    return Settings(database_url=url)


def test_repeated_health_probes_reuse_the_process_engine_and_open_no_connection(wal_database: str):
    dispose_shared_engines()
    try:
        engine = shared_engine(wal_database)
        connects: list[int] = []
        event.listen(engine, "connect", lambda *_: connects.append(1))
        for _ in range(5):
            report = health_report(_settings(wal_database), wal_database)
            assert report.database.reachable and report.schema.current
            _other_process(wal_database)
        assert shared_engine(wal_database) is engine  # the probe used the one engine of the process
        assert len(connects) <= 1, f"{len(connects)} new connections for 5 probes"
        assert deleted_database_files(Path(wal_database.removeprefix("sqlite:///"))) == []
    finally:
        dispose_shared_engines()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_health_says_unhealthy_when_this_process_writes_into_deleted_files(wal_database: str):
    """Make the loss happen on purpose (a foreign open and close of the file) and check that the probe tells."""
    path = Path(wal_database.removeprefix("sqlite:///"))
    engine = make_engine(wal_database)
    try:
        _hold_a_connection(engine)
        os.close(os.open(path, os.O_RDONLY))  # what the old header check did: this process's locks are gone
        _other_process(wal_database)
        if not deleted_database_files(path):
            pytest.skip("the other process did not delete the WAL this time (it saw no other reader)")
        report = health_report(_settings(wal_database), engine)
        assert not report.healthy and not report.database.reachable
        assert "deleted database files" in report.reasons[0] and "scheduler.db-wal" in report.reasons[0]
    finally:
        engine.dispose()


def _app_on(database: str, page, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN202 - a function, an AppTest
    """An AppTest of `page` on `database`, the caches and shared engines of earlier tests let go."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SCHEDULER_DATABASE_URL", database)
    monkeypatch.delenv("CROSSMARK_BASE_URL", raising=False)
    st.cache_resource.clear()
    dispose_shared_engines()
    app = AppTest.from_function(page, default_timeout=30)
    app.session_state["root"] = str(ROOT)
    return app


def _health_page() -> None:
    import sys as _sys
    from pathlib import Path as _Path

    import streamlit as _st

    root = _Path(_st.session_state["root"])
    if str(root) not in _sys.path:
        _sys.path.insert(0, str(root))
    _st.navigation([_st.Page(root / "pages" / "operations_health.py", title="Operations health")]).run()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_the_operations_health_page_says_what_healthz_says_now(wal_database: str, monkeypatch: pytest.MonkeyPatch):
    """The page and /healthz run one function on the process's engine: when that engine's files are lost, the page
    must say unhealthy at the next visit, as /healthz does, not what it saw before."""
    import streamlit as st

    from services.ops.health import current_health

    app = _app_on(wal_database, _health_page, monkeypatch)
    app.session_state["acting_role"] = "admin"  # the database's state is among the details admins see
    try:
        app.run()
        assert not app.exception, app.exception
        assert {m.label: m.value for m in app.metric}["Database"] == "reachable"

        path = Path(wal_database.removeprefix("sqlite:///"))
        _hold_a_connection(shared_engine(wal_database))
        os.close(os.open(path, os.O_RDONLY))  # drop this process's locks, as the old header check did
        _other_process(wal_database)
        if not deleted_database_files(path):
            pytest.skip("the other process did not delete the WAL this time (it saw no other reader)")
        app.run()
        assert not app.exception, app.exception
        assert {m.label: m.value for m in app.metric}["Database"] == "unreachable"
        assert "Unhealthy" in app.error[0].value and "deleted database files" in app.error[0].value
        assert not current_health(_settings(wal_database)).healthy  # what /healthz answers now
    finally:
        st.cache_resource.clear()
        dispose_shared_engines()



def _engine_page() -> None:
    import sys as _sys

    import streamlit as _st
    from sqlalchemy import text as _text

    if _st.session_state["root"] not in _sys.path:
        _sys.path.insert(0, _st.session_state["root"])
    from dashboard.wiring import get_engine

    with get_engine().connect() as connection:
        _st.write(connection.execute(_text("SELECT COUNT(*) FROM dashboard_switches")).scalar_one())


def test_clearing_the_app_cache_closes_the_engine_s_pooled_connections(wal_database: str,
                                                                      monkeypatch: pytest.MonkeyPatch):
    """st.cache_resource.clear() lets go of the app's engine (dashboard/wiring.get_engine): its pooled connections are
    closed then, not left open on the database for the process's life. The engine is the process's shared one
    (/healthz and the retry loop use it too), so it keeps working afterwards, on a new pool."""
    import streamlit as st

    app = _app_on(wal_database, _engine_page, monkeypatch)
    try:
        app.run()
        assert not app.exception, app.exception
        engine = shared_engine(wal_database)
        pool = engine.pool
        closed: list[int] = []
        event.listen(pool, "close", lambda *_: closed.append(1))
        assert pool.checkedin() >= 1  # the page's connection, back in the pool and still open

        st.cache_resource.clear()
        assert closed and pool.checkedin() == 0, "the cleared engine's pooled connections are still open"
        assert engine.pool is not pool  # disposed: a new, empty pool

        app.run()  # the app (and /healthz, on the same engine) works on as before
        assert not app.exception, app.exception
        assert shared_engine(wal_database) is engine
    finally:
        st.cache_resource.clear()
        dispose_shared_engines()


# --- write transactions take SQLite's write lock when they begin -------------------------------------------------------


def test_write_transactions_begin_immediate_and_reads_stay_deferred(wal_database: str):
    """begin_write's transactions take the write lock up front (BEGIN IMMEDIATE: a writer that read first waits out
    the busy timeout instead of failing at once when another process wrote since), the services' writes included;
    reads through engine.connect() and a plain engine.begin() begin deferred."""
    from datetime import datetime

    from services.actions.retry_loop import hold_worker_lease

    engine = make_engine(wal_database)
    begins: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda _c, _cursor, statement, *_: begins.append(statement) if statement.startswith("BEGIN") else None)
    try:
        with begin_write(engine) as connection:
            connection.execute(text("SELECT COUNT(*) FROM dashboard_switches"))
        assert begins == ["BEGIN IMMEDIATE"]
        with engine.connect() as connection:
            connection.execute(text("SELECT COUNT(*) FROM dashboard_switches"))
        with engine.begin() as connection:
            connection.execute(text("SELECT COUNT(*) FROM dashboard_switches"))
        assert begins[1:] == ["BEGIN", "BEGIN"]
        assert hold_worker_lease(engine, "test_job", "test", datetime(2026, 1, 1))  # a service's write
        assert set(begins[3:]) == {"BEGIN IMMEDIATE"}, begins
    finally:
        engine.dispose()


def test_services_open_write_transactions_with_begin_write():
    """On SQLite only begin_write takes the write lock when the transaction begins; a plain engine.begin() in a
    service would be a deferred writer again (see begin_write). Connections' own begin() (a transaction on a
    connection the caller opened, e.g. the Crossmark sync's) is not an engine's and is not judged here."""
    offenders = []
    for path in sorted((ROOT / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "begin"
                    and "engine" in ast.unparse(node.func.value).lower()):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert offenders == [], "write transactions opened without begin_write:\n" + "\n".join(offenders)
