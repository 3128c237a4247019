"""Issue 15 §1: the server, the CLI, cron and a second server share one database, and no write is lost.

On SQLite, a process that opens and closes the database file outside SQLite (a plain open() of the header, say) drops
every POSIX lock its SQLite connections hold on that file. The next CLI process to close its last connection then
believes it is alone, checkpoints and deletes the WAL, and the server keeps writing into a deleted -wal/-shm that no
other process reads and that is gone at its restart. So these tests run the real processes side by side, on a real
file: `streamlit run dashboard/server.py` (one or two), /healthz probes, `python -m services ...` commands, a cron-style
`check run`, Chromium driving the pages; then they read what the server wrote from a separate process, look for deleted
files of the database among the server's descriptors (/proc/<pid>/fd), restart the server and read again. The same
with two servers on one PostgreSQL database (TEST_DATABASE_URL).

The tests of this module share one database (and the harness's app): each acts on the sprint2 events from wherever the
previous one left them (`_next_slot`), staying on the scenario's day, so any subset runs in any order.
"""
from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, time as clock
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    ADMIN, DAY, HEALTH_TOKEN, OPERATOR, PASSWORD, ROOT, SPRINT2_REFS, Dashboard, RunningApp, running_app,
)

CORE_SLOTS = (clock(9, 45), clock(10, 30), clock(11, 0), clock(11, 30))  # the Reschedule dialog's time buttons
CRON_USER = "cron.checks"  # the account the cron-style check runs act as, when `check run` asks for one
CRON_EVERY = 2.5  # seconds from one cron-style check run to the next
# At most this many: check runs count under the rate limit (10 a minute) of their account, or of "cli" when the CLI
# names none, and test 1 runs one more.
CRON_MOST = 7
PROBE_TIMEOUT = 15.0
WAIT_SECONDS = 20.0  # a page shows another process's write within this long

# Runs in a new Python process: the rows of one query, as JSON. A reader that shares nothing with the server or this
# test process (no pool, no cached engine) sees what any other program would.
READER = """
import json, sys
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
engine = create_engine(sys.argv[1], poolclass=NullPool)
with engine.connect() as connection:
    rows = [list(row) for row in connection.execute(text(sys.argv[2]), json.loads(sys.argv[3]))]
engine.dispose()
print(json.dumps(rows, default=str))
"""


# --- facts, each read where the issue says it must hold ----------------------------------------------------------

def _read_elsewhere(server: RunningApp, sql: str, **params: Any) -> list[list[Any]]:
    """The rows of `sql`, read by a new Python process with its own connection."""
    done = subprocess.run([sys.executable, "-c", READER, server.database_url, sql, json.dumps(params)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"the separate reader failed ({done.returncode}): {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def _start_elsewhere(server: RunningApp, ref: int) -> datetime | None:
    """When event `ref` is scheduled (None: not scheduled), as a separate process reads it."""
    rows = _read_elsewhere(server, "SELECT schedule_datetime FROM schedules WHERE event_ref_num = :ref", ref=ref)
    assert len(rows) <= 1, f"event {ref} has {len(rows)} schedule rows: {rows}"
    return datetime.fromisoformat(rows[0][0]) if rows else None


def _operations_elsewhere(server: RunningApp) -> dict[int, tuple[str, str, str]]:
    """Operation id -> (kind, status, requested by), as a separate process reads the journal."""
    rows = _read_elsewhere(server, "SELECT id, kind, status, requested_by FROM dashboard_operations ORDER BY id")
    return {int(row[0]): (row[1], row[2], row[3]) for row in rows}


def _sign_ins_elsewhere(server: RunningApp, username: str) -> int:
    """Successful sign-ins of `username` recorded in dashboard_login_attempts, as a separate process counts them."""
    rows = _read_elsewhere(server, "SELECT COUNT(*) FROM dashboard_login_attempts WHERE username = :name AND succeeded",
                           name=username)
    return int(rows[0][0])


def _database_file(server: RunningApp) -> str | None:
    from services.store.database import sqlite_path

    path = sqlite_path(server.database_url)
    return None if path is None else os.path.realpath(path)


def _database_descriptors(server: RunningApp) -> list[str]:
    """What the server process's open descriptors of the database name: the file itself, its -wal, -shm (readlink
    of /proc/<pid>/fd; a file deleted while open reads "<path> (deleted)")."""
    assert server.process.poll() is None, f"the server exited with {server.process.returncode}:\n{server.log_tail()}"
    database = _database_file(server)
    assert database is not None, "only an SQLite server has database files to look at"
    folder = Path(f"/proc/{server.process.pid}/fd")
    targets = []
    for descriptor in os.listdir(folder):
        try:
            target = os.readlink(folder / descriptor)
        except OSError:  # closed since the listing
            continue
        if target.startswith(database):
            targets.append(target)
    return sorted(targets)


def _deleted(descriptors: list[str]) -> list[str]:
    return [target for target in descriptors if target.endswith(" (deleted)")]


def _healthz(server: RunningApp) -> tuple[int, dict]:
    reply = httpx.get(f"{server.url}/healthz", timeout=PROBE_TIMEOUT,  # the details need the monitoring token
                      headers={"Authorization": f"Bearer {HEALTH_TOKEN}"})
    try:
        body = reply.json()
    except ValueError:
        body = {"unparsed": reply.text[:500]}
    return reply.status_code, body


def _assert_healthy(server: RunningApp) -> dict:
    status, body = _healthz(server)
    assert status == 200 and body.get("healthy") is True, f"/healthz of {server.url}: {status} {body}"
    return body


def _cli_ok(server: RunningApp, *args: str, input: str | None = None) -> str:  # noqa: A002 - as subprocess.run
    done = server.cli(*args, input=input)
    assert done.returncode == 0, f"`python -m services {' '.join(args)}` exited {done.returncode}:\n" \
                                 f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def _cli_json(server: RunningApp, *args: str) -> Any:
    """The JSON object a `--json` command prints (its last line)."""
    return json.loads(_cli_ok(server, *args, "--json").strip().splitlines()[-1])


def _cli_action(server: RunningApp, *args: str) -> int:
    """An action through the CLI, which must end done; its operation id."""
    result = _cli_json(server, *args)
    assert result["status"] == "done", result
    return int(result["operation_id"])


@functools.cache
def _check_run_asks_for_user() -> bool:
    usage = subprocess.run([sys.executable, "-m", "services", "check", "run", "--help"], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
    assert usage.returncode == 0, usage.stderr
    return "--user" in usage.stdout


def _check_run_args(user: str) -> list[str]:
    """`check run` as cron runs it, acting as `user` when the CLI asks who runs it."""
    return ["check", "run"] + (["--user", user] if _check_run_asks_for_user() else [])


def _next_slot(server: RunningApp, ref: int) -> clock:
    """The Reschedule dialog's next time slot after the event's current one (on the scenario's day)."""
    placement = server.db(ref)
    assert placement is not None and placement[0].date() == DAY, f"event {ref} left the scenario's day: {placement}"
    index = CORE_SLOTS.index(placement[0].time()) if placement[0].time() in CORE_SLOTS else -1
    return CORE_SLOTS[(index + 1) % len(CORE_SLOTS)]


# --- the pages ---------------------------------------------------------------------------------------------------

def _signed_in(open_dashboard: Callable[..., Dashboard], server: RunningApp, username: str = OPERATOR) -> Dashboard:
    """A new browser session on `server`, signed in (the server writes a login-attempt row)."""
    return open_dashboard(server=server).sign_in(username, PASSWORD)


def _day_view(dashboard: Dashboard) -> Dashboard:
    dashboard.navigate(f"/day?date={DAY.isoformat()}")
    dashboard.see(f"{DAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))
    dashboard.wait_idle()
    return dashboard


def _cards(dashboard: Dashboard) -> dict[int, str]:
    """ref -> "HH:MM" of every event card the Day view draws (a card's first line is "<Type> HH:MM · rep")."""
    texts = dashboard.main.locator('[data-testid="stMarkdownContainer"]').filter(
        has_text=re.compile(r"ref \d+ · #")).all_inner_texts()
    cards = {}
    for card in texts:
        start, ref = re.search(r"\b(\d\d:\d\d) · ", card), re.search(r"ref (\d+) · #", card)
        assert start and ref, card
        cards[int(ref.group(1))] = start.group(1)
    return cards


def _page_shows(dashboard: Dashboard, expected: dict[int, clock]) -> None:
    """The Day view of this session shows each event at its expected time, within WAIT_SECONDS: every visit reruns
    the page, which must read what other processes wrote (its cache is keyed by the database's data version)."""
    wanted = {ref: f"{at:%H:%M}" for ref, at in expected.items()}
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        shown = {ref: at for ref, at in _cards(_day_view(dashboard)).items() if ref in wanted}
        if shown == wanted or time.monotonic() > deadline:
            break
        dashboard.page.wait_for_timeout(500)
    assert shown == wanted, f"{dashboard.app.url} shows {shown}, the database holds {wanted}"


def _reschedule_on_page(dashboard: Dashboard, ref: int, slot: clock) -> int:
    """Reschedule CORE `ref` to `slot` on the scenario's day through the Day view's dialog; the operation's id."""
    _day_view(dashboard)
    dashboard.key(f"btn_rs_{ref}").get_by_role("button").click()
    dialog = dashboard.dialog
    dialog.get_by_role("radio", name=f"{slot:%H:%M}").click()
    dashboard.see(f"CORE {ref} will be {DAY:%a %Y-%m-%d} {slot:%H:%M}", within=dialog)
    dialog.get_by_role("button", name="Confirm reschedule").click()
    banner = dashboard.see(re.compile(rf"Operation \d+: Done: CORE {ref} → {DAY:%Y-%m-%d} {slot:%H:%M}"))
    dashboard.wait_idle()
    return int(re.search(r"Operation (\d+)", banner.inner_text()).group(1))


# --- fixtures ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sqlite_app(app: RunningApp) -> Iterator[RunningApp]:
    """The harness's app on its SQLite file, with this test process holding no connection between its reads.

    A pooled connection here would keep a lock on the file that hides the bug: the CLI's last close could not take
    the file's exclusive lock, so it would never checkpoint and delete the WAL. A deployment has no such bystander."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    pooled = app.engine
    pooled.dispose()
    app.engine = create_engine(app.database_url, poolclass=NullPool)
    try:
        yield app
    finally:
        app.engine.dispose()
        app.engine = pooled


@pytest.fixture(scope="module")
def postgres_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The same world on a private schema of the test PostgreSQL server (skipped when TEST_DATABASE_URL is unset)."""
    from tests.conftest import private_database

    directory = tmp_path_factory.mktemp("e2e-postgres")
    with private_database("postgresql", directory) as url, running_app(url, directory) as running:
        yield running


# --- 1. one server, probes and the CLI interleaved ----------------------------------------------------------------

def _a_write_through_each(first: RunningApp, second: RunningApp, on_first: Dashboard,
                          on_second: Dashboard) -> tuple[int, int, int]:
    """A page write through each server and a CLI write: each seen by a separate process and on both servers' pages,
    and no server left holding a deleted database file. Returns the three operations."""
    # through the first server: seen by a separate process, the CLI and the second server
    slot_a = _next_slot(first, 606001)
    operation_a = _reschedule_on_page(on_first, 606001, slot_a)
    assert _start_elsewhere(first, 606001) == datetime.combine(DAY, slot_a)
    if _database_file(first) is not None:  # SQLite: a file no server may hold deleted
        for server in (first, second):
            assert _deleted(_database_descriptors(server)) == [], f"{server.url} after a write through {first.url}"
        _cli_ok(first, "reconcile")
    _page_shows(on_second, {606001: slot_a})
    # through the second server: seen by a separate process, the CLI and the first server
    slot_b = _next_slot(first, 608001)
    operation_b = _reschedule_on_page(on_second, 608001, slot_b)
    assert _start_elsewhere(first, 608001) == datetime.combine(DAY, slot_b)
    _page_shows(on_first, {606001: slot_a, 608001: slot_b})
    # and a CLI write, seen by both servers
    slot_c = _next_slot(first, 606999)
    operation_c = _cli_action(first, "reschedule", "--event", "606999", "--to",
                              f"{DAY.isoformat()}T{slot_c:%H:%M}", "--user", ADMIN)
    for dashboard in (on_first, on_second):
        _page_shows(dashboard, {606001: slot_a, 608001: slot_b, 606999: slot_c})
    return operation_a, operation_b, operation_c


def test_one_server_probed_and_sharing_the_file_with_the_cli_loses_no_write(sqlite_app, open_dashboard):
    app = sqlite_app
    _signed_in(open_dashboard, app)  # as in the report: sign in, so the server holds its connections, then probe
    assert _database_file(app) in _database_descriptors(app), "the server should hold the database file open"

    # /healthz probes and CLI commands, each a process of its own, interleaved
    probes = [_healthz(app)[0]]
    cli_slot = _next_slot(app, 606999)
    history: list[tuple[str, list[str]]] = []
    for args in (["users", "list"],
                 ["reschedule", "--event", "606999", "--to", f"{DAY.isoformat()}T{cli_slot:%H:%M}", "--user", ADMIN,
                  "--json"],
                 _check_run_args(ADMIN),
                 ["reconcile", "--json"],
                 ["users", "list"]):
        output = _cli_ok(app, *args)
        if args[0] == "users":
            assert OPERATOR in output and ADMIN in output, output
        history.append((" ".join(args[:2]), _deleted(_database_descriptors(app))))
        probes.append(_healthz(app)[0])
    assert app.db(606999)[0] == datetime.combine(DAY, cli_slot)

    # a write by the server: a sign-in in a new session inserts a login-attempt row
    signed_in_before = _sign_ins_elsewhere(app, OPERATOR)
    dashboard = _signed_in(open_dashboard, app)
    signed_in_after = _sign_ins_elsewhere(app, OPERATOR)
    deleted = _deleted(_database_descriptors(app))
    probes.append(_healthz(app)[0])
    assert (signed_in_after, deleted, set(probes)) == (signed_in_before + 1, [], {200}), (
        f"after /healthz probes and CLI commands against the same file: a separate process counts "
        f"{signed_in_after - signed_in_before} new sign-in(s) of {OPERATOR} (1 was made through the server); "
        f"the server holds deleted files of the database {deleted} (after each command: {history}); "
        f"/healthz answered {probes}")

    # a write by the server through a page: reschedule CORE 606001 (its Supervisor follows)
    slot = _next_slot(app, 606001)
    operation_id = _reschedule_on_page(dashboard, 606001, slot)
    assert _start_elsewhere(app, 606001) == datetime.combine(DAY, slot)
    assert _operations_elsewhere(app)[operation_id] == ("reschedule", "done", OPERATOR)
    assert _deleted(_database_descriptors(app)) == []
    app.assert_agree()
    # ... which the CLI sees too, and the page shows the CLI's move of 606999 beside its own
    listed = {entry["operation_id"]: entry["status"] for entry in _cli_json(app, "operations")}
    assert listed.get(operation_id) == "done", listed
    _page_shows(dashboard, {606001: slot, 606999: cli_slot})
    _assert_healthy(app)

    # a restart keeps every write (the server's and the CLI's)
    signed_in = _sign_ins_elsewhere(app, OPERATOR)
    app.restart()
    assert _sign_ins_elsewhere(app, OPERATOR) == signed_in
    assert _start_elsewhere(app, 606001) == datetime.combine(DAY, slot)
    assert _start_elsewhere(app, 606999) == datetime.combine(DAY, cli_slot)
    assert _operations_elsewhere(app)[operation_id] == ("reschedule", "done", OPERATOR)
    _assert_healthy(app)
    _page_shows(_signed_in(open_dashboard, app), {606001: slot, 606999: cli_slot})
    assert _sign_ins_elsewhere(app, OPERATOR) == signed_in + 1
    assert _deleted(_database_descriptors(app)) == []
    app.assert_agree()


# --- 2. two servers on one SQLite file ------------------------------------------------------------------------------

def test_two_servers_on_one_sqlite_file_see_each_others_writes(sqlite_app, open_dashboard):
    first = sqlite_app
    with first.another_server() as second:
        signed_in = _sign_ins_elsewhere(first, OPERATOR)
        on_first, on_second = _signed_in(open_dashboard, first), _signed_in(open_dashboard, second)
        for server in (first, second):
            _assert_healthy(server)
        _cli_ok(first, "users", "list")
        for server in (first, second):
            _assert_healthy(server)
        _cli_ok(first, "reconcile")
        assert _sign_ins_elsewhere(first, OPERATOR) == signed_in + 2
        for server in (first, second):
            assert _deleted(_database_descriptors(server)) == [], f"{server.url} after probes and the CLI"

        operation_a, operation_b, operation_c = _a_write_through_each(first, second, on_first, on_second)

        operations = _operations_elsewhere(first)
        assert [operations[i] for i in (operation_a, operation_b, operation_c)] == \
            [("reschedule", "done", OPERATOR), ("reschedule", "done", OPERATOR), ("reschedule", "done", ADMIN)]
        listed = {entry["operation_id"]: entry["status"] for entry in _cli_json(first, "operations")}
        assert [listed.get(i) for i in (operation_a, operation_b, operation_c)] == ["done"] * 3, listed
        for server in (first, second):
            assert _deleted(_database_descriptors(server)) == [], f"{server.url} at the end"
            _assert_healthy(server)
        first.assert_agree()


# --- 3. a cron-style check run every few seconds during actions -------------------------------------------------------

class _Cron(threading.Thread):
    """`python -m services check run` every CRON_EVERY seconds (at most CRON_MOST times) until stopped."""

    def __init__(self, server: RunningApp, args: list[str]) -> None:
        super().__init__(name="cron-check-run", daemon=True)
        self.server, self.args = server, [*args, "--json"]
        self.runs: list[subprocess.CompletedProcess] = []
        self.spans: list[tuple[float, float]] = []  # (started, ended) of each run, time.monotonic()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set() and len(self.runs) < CRON_MOST:
            started = time.monotonic()
            self.runs.append(self.server.cli(*self.args))
            self.spans.append((started, time.monotonic()))
            self.stopping.wait(max(0.0, CRON_EVERY - (time.monotonic() - started)))

    def stop(self, at_least: int) -> None:
        """Let at least `at_least` runs finish (bounded), then stop and wait for the thread."""
        deadline = time.monotonic() + CRON_EVERY * at_least + 60
        while len(self.runs) < at_least and self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.stopping.set()
        self.join(timeout=120)
        assert not self.is_alive(), "the cron-style check run did not stop"


def test_cron_check_runs_during_page_and_cli_actions_lose_nothing(sqlite_app, open_dashboard):
    app = sqlite_app
    _cli_ok(app, "users", "add", CRON_USER, "--role", "admin", input=f"{PASSWORD}\n")
    cron = _Cron(app, _check_run_args(CRON_USER))
    cron.start()
    try:
        dashboard = _signed_in(open_dashboard, app)
        expected: dict[int, clock] = {}
        operations: list[int] = []
        actions_began = time.monotonic()

        expected[606001] = _next_slot(app, 606001)
        operations.append(_reschedule_on_page(dashboard, 606001, expected[606001]))
        expected[608001] = _next_slot(app, 608001)
        operations.append(_cli_action(app, "reschedule", "--event", "608001", "--to",
                                      f"{DAY.isoformat()}T{expected[608001]:%H:%M}", "--user", ADMIN))
        _assert_healthy(app)
        expected[606999] = _next_slot(app, 606999)
        operations.append(_reschedule_on_page(dashboard, 606999, expected[606999]))
        expected[606001] = _next_slot(app, 606001)
        operations.append(_cli_action(app, "reschedule", "--event", "606001", "--to",
                                      f"{DAY.isoformat()}T{expected[606001]:%H:%M}", "--user", ADMIN))
        actions_ended = time.monotonic()
        _cli_ok(app, "reconcile")
        _assert_healthy(app)
    finally:
        cron.stop(at_least=3)
    during = [span for span in cron.spans if span[0] < actions_ended and span[1] > actions_began]
    assert len(during) >= 2, f"only {len(during)} cron-style run(s) overlapped the actions: {cron.spans}"

    # every cron run finished, and its run is recorded as done
    failures = [(run.returncode, run.stderr[-500:]) for run in cron.runs if run.returncode != 0]
    assert not failures, f"cron-style check runs failed: {failures}"
    run_ids = [int(json.loads(run.stdout.strip().splitlines()[-1])["run_id"]) for run in cron.runs]
    assert len(run_ids) >= 3 and run_ids == sorted(set(run_ids)), run_ids
    recorded = dict(_read_elsewhere(app, f"SELECT id, status FROM dashboard_check_runs WHERE id IN "
                                         f"({', '.join(str(i) for i in run_ids)})"))
    assert recorded == {i: "done" for i in run_ids}, recorded

    # every operation finished (none lost, none left unfinished or needing attention)
    journal = _operations_elsewhere(app)
    assert [journal.get(i, (None, "missing", None))[1] for i in operations] == ["done"] * len(operations), journal
    unsettled = {i: entry for i, entry in journal.items() if entry[1] not in ("done", "refused", "compensated")}
    assert not unsettled, f"operations left unfinished: {unsettled}"

    # the database (read by a separate process), Crossmark and the page agree
    for ref, at in expected.items():
        assert _start_elsewhere(app, ref) == datetime.combine(DAY, at), ref
    app.assert_agree()
    _page_shows(dashboard, expected)
    assert _deleted(_database_descriptors(app)) == []
    health = _assert_healthy(app)
    assert health["last_check_run"]["run_id"] == run_ids[-1], health["last_check_run"]


# --- 4. two servers on one PostgreSQL database ------------------------------------------------------------------------

def test_two_servers_on_one_postgresql_database_see_each_others_writes(postgres_app, open_dashboard):
    first = postgres_app
    with first.another_server() as second:
        on_first, on_second = _signed_in(open_dashboard, first), _signed_in(open_dashboard, second)
        assert _sign_ins_elsewhere(first, OPERATOR) == 2
        for server in (first, second):
            _assert_healthy(server)
        _cli_ok(first, "users", "list")
        _cli_ok(first, *_check_run_args(ADMIN))

        operation_a, operation_b, operation_c = _a_write_through_each(first, second, on_first, on_second)

        listed = {entry["operation_id"]: (entry["kind"], entry["status"], entry["by"])
                  for entry in _cli_json(first, "operations")}
        assert [listed.get(i) for i in (operation_a, operation_b, operation_c)] == \
            [("reschedule", "done", OPERATOR), ("reschedule", "done", OPERATOR), ("reschedule", "done", ADMIN)]
        for server in (first, second):
            health = _assert_healthy(server)
            assert health["last_check_run"]["run_id"] is not None, health["last_check_run"]
        first.assert_agree(*SPRINT2_REFS)
