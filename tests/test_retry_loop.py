"""The retry loop restores agreement on its own (issue 16, "Tests"; DESIGN.md §3 invariants 5 and 8).

1. Crash at every step: a process running one paired action is killed (SIGKILL) right after each commit and right
   after each Crossmark reply, in turn; then the server's RetryLoop (a real one, short tick) — not a person — finishes
   or undoes the operation: done or compensated, locks released, both sides agree, the pair together, nothing resent.
2. Two processes each running a RetryLoop on one database (PostgreSQL, and one SQLite file): exactly one holds the
   `retry_loop` worker lease and runs passes; killed, the other takes over once the lease has expired and settles an
   operation needing attention whose retry is due.

The killed processes are forked from a multiprocessing fork server that has imported the services once (a fresh
interpreter per kill point would cost about a second each).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.spawn
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from services.actions import journal as status
from services.actions.retry_loop import RETRY_LOOP, RetryLoop
from services.actions.retry_policy import RetryPolicy
from services.store.tables import AuditEntry, WorkerLease
from tests.conftest import private_database
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME
from tests.paired_world import DAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent
LOOP_ACTOR = "retry loop"  # how RetryLoop's passes sign what they settle
SETTLE_TIMEOUT = 15.0


# --- 1. crash at every step -------------------------------------------------------------------------------------


def crashing_action(url: str, base_url: str, kind: str, argument: object, kill_at: int, points) -> None:  # noqa: ANN001
    """Runs in a forked process: one paired action that kills its own process (SIGKILL) at its `kill_at`-th point,
    a point being a commit that has reached the database or a Crossmark reply that has reached this process.
    `points` (a shared integer) counts the points passed, so a run with kill_at=0 tells how many there are."""
    import httpx
    from sqlalchemy import event

    from services.crossmark.client import CrossmarkClient
    from services.store.database import make_engine
    from services.actions.paired_actions import PairedActions

    passed = 0

    def point() -> None:
        nonlocal passed
        passed += 1
        points.value = passed
        if passed == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    engine = make_engine(url)
    committing: list[bool] = []

    @event.listens_for(engine, "commit")
    def _commit(_connection) -> None:  # noqa: ANN001 - before the DB-API commit
        committing.append(True)

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, _record) -> None:  # noqa: ANN001 - the connection is back: the commit is durable
        if committing:
            committing.clear()
            point()

    class KilledAfterTheReply(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            response.read()
            point()
            return response

    def client() -> CrossmarkClient:
        return CrossmarkClient(base_url=base_url, username=FAKE_USERNAME, password=FAKE_PASSWORD,
                               timezone_name=FAKE_TIMEZONE, connect_timeout=1.0, read_timeout=2.0, retry_attempts=1,
                               transport=KilledAfterTheReply())

    actions = PairedActions(engine, client)
    if kind == "reschedule":
        actions.reschedule(606001, argument, "crashy", key="crash")  # type: ignore[arg-type]
    elif kind == "unschedule":
        actions.unschedule(606001, "crashy", key="crash")
    elif kind == "schedule_supervisor":
        actions.schedule_supervisor(608001, str(argument), "crashy", key="crash")
    else:
        actions.undo(int(argument), "crashy", key="crash")  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def forks() -> Iterator[multiprocessing.context.BaseContext]:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.test_retry_loop"])
    # A child re-imports the parent's __main__ before running its target. Under pytest that may no longer be pytest:
    # a Streamlit AppTest earlier in the same run leaves dashboard/app.py as __main__, whose import in a bare child
    # fails. The target lives in this module (preloaded), so the children need no __main__ at all.
    original = multiprocessing.spawn.get_preparation_data

    def without_main(name):  # noqa: ANN001, ANN202
        data = original(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    multiprocessing.spawn.get_preparation_data = without_main
    try:
        yield context
    finally:
        multiprocessing.spawn.get_preparation_data = original


def run_crashing(world: PairedWorld, forks, kind: str, argument: object, kill_at: int) -> tuple[int, int]:  # noqa: ANN001
    """(exit code, points passed) of one crashing action."""
    points = forks.Value("i", 0)
    process = forks.Process(target=crashing_action, args=(world.url, world.fake.url, kind, argument, kill_at, points))
    process.start()
    process.join(30)
    assert process.exitcode is not None, "the action hung"
    return process.exitcode, points.value


def settle_with_the_loop(world: PairedWorld, operation_id: int) -> RetryLoop:
    """The server's retry loop (short tick), until the operation no longer holds its locks."""
    actions = world.make_actions()
    loop = RetryLoop(lambda: world.engine, lambda: actions, tick_seconds=0.05, lease=timedelta(seconds=5)).start()
    try:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while world.operation(operation_id)["status"] in status.HOLDING_LOCKS:
            assert time.monotonic() < deadline, f"the loop did not settle {world.operation(operation_id)}"
            time.sleep(0.02)
    finally:
        loop.stop()
    return loop


def prepare(world: PairedWorld, kind: str) -> tuple[object, dict]:
    """The action's argument (an undo needs an operation to undo, done first here) and the placements before it."""
    world.restart()
    argument: object = {"reschedule": at(DAY, 11), "unschedule": None, "schedule_supervisor": "US157005"}.get(kind)
    if kind == "undo":
        done = world.actions.reschedule(606001, at(DAY, 9, 45), "setup", key="setup")
        assert done.status == "done", done
        argument = done.operation_id
    world.arm()
    return argument, world.snapshot()


def targets(world: PairedWorld, operation_id: int) -> dict[int, tuple]:
    """Where the operation takes its events (placements)."""
    out = {}
    for planned in world.operation(operation_id)["events"]:
        target = planned["target"]
        out[planned["ref"]] = (target["scheduled"], datetime.fromisoformat(target["start"]) if target["start"] else
                               None, target["rep_id"])
    return out


@pytest.mark.parametrize("kind", ["reschedule", "unschedule", "schedule_supervisor", "undo"])
def test_killed_at_every_step_the_loop_restores_agreement(world: PairedWorld, forks, kind: str) -> None:  # noqa: ANN001
    argument, _ = prepare(world, kind)
    code, total = run_crashing(world, forks, kind, argument, kill_at=0)  # a full run, to count its points
    assert code == 0 and world.operation(world.operation_ids()[-1])["status"] == "done"
    # Every point of the saga, exactly: the operation committed with its locks and its first call's step, the login,
    # then per call its reply and the next commit (the next call's step, or the local change), each carrying the
    # previous call's result. A pair: 6 points; a Supervisor alone: 4.
    assert total == (4 if kind == "schedule_supervisor" else 6), total
    outcomes = []
    for kill_at in range(1, total + 1):
        argument, before = prepare(world, kind)
        code, passed = run_crashing(world, forks, kind, argument, kill_at)
        assert (code, passed) == (-signal.SIGKILL, kill_at), (kill_at, code, passed)
        operation_id = world.operation_ids()[-1]
        operation = world.operation(operation_id)
        assert operation["idempotency_key"] == "crash"
        settled_by_the_loop = operation["status"] in status.HOLDING_LOCKS
        assert settled_by_the_loop == (kill_at < total), (kill_at, operation["status"])  # the last point: done
        settle_with_the_loop(world, operation_id)
        operation = world.operation(operation_id)
        outcomes.append((kill_at, operation["status"]))
        assert operation["status"] in ("done", "compensated"), (kill_at, operation["status"], operation["message"])
        assert world.locks() == {}, (kill_at, world.locks())
        world.agree()
        world.pairs_together()
        placements = {ref: sides[0] for ref, sides in world.snapshot().items()}
        if operation["status"] == "compensated":
            assert world.snapshot() == before, kill_at
        else:
            assert {ref: placements[ref] for ref in targets(world, operation_id)} == targets(world, operation_id)
        if settled_by_the_loop:  # by the loop, not a person
            with world.engine.connect() as connection:
                last = connection.execute(select(AuditEntry.actor, AuditEntry.action).where(
                    AuditEntry.operation_id == operation_id).order_by(AuditEntry.id.desc())).first()
            assert tuple(last) == (LOOP_ACTOR, operation["status"]), (kill_at, last)
        # nothing sent twice: at most one write request per write step (one fewer when the kill came between
        # recording a step and sending it), at most one forward write per event
        steps = world.steps(operation_id)
        writes = [s for s in steps if s["action"] in ("schedule", "unschedule")]
        forward = [s["event_ref"] for s in writes if s["purpose"] == "forward"]
        assert len(forward) == len(set(forward)), steps
        assert len(writes) - 1 <= len(world.writes_of(world.mark)) <= len(writes), (kill_at, steps)
    # each kind of crash was met: before anything reached Crossmark, half-way, and after all its writes
    assert {status_ for _, status_ in outcomes} == {"done", "compensated"}, outcomes


# --- 2. one retry loop across processes ---------------------------------------------------------------------------

LOOP_SCRIPT = """
import sys
from datetime import timedelta
from services.crossmark.client import CrossmarkClient
from services.store.database import make_engine
from services.actions.paired_actions import PairedActions
from services.actions.retry_loop import RetryLoop

url, base_url, username, password, timezone_name, tick, lease = sys.argv[1:8]
engine = make_engine(url)
actions = PairedActions(engine, lambda: CrossmarkClient(base_url=base_url, username=username, password=password,
                                                        timezone_name=timezone_name, read_timeout=2.0))


class Reporting(RetryLoop):
    def run_once(self) -> bool:
        ran = super().run_once()
        if ran:
            print("pass", self.passes, flush=True)
        return ran


loop = Reporting(lambda: engine, lambda: actions, tick_seconds=float(tick), lease=timedelta(seconds=float(lease)))
print("owner", loop.owner, flush=True)
loop.start()
sys.stdin.read()  # until the test closes stdin (or kills this process)
loop.stop()
"""
TICK, LEASE = 0.1, 2.5  # a lease of 25 ticks: a busy machine does not hand the loop over by accident


class LoopProcess:
    """A process running a RetryLoop; its passes are read from its output as they happen."""

    def __init__(self, url: str, crossmark_url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LOOP_SCRIPT, url, crossmark_url, FAKE_USERNAME, FAKE_PASSWORD, FAKE_TIMEZONE,
             str(TICK), str(LEASE)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        self.owner = ""
        self.passes: list[float] = []  # when each pass was reported (time.monotonic)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:  # type: ignore[union-attr]
            word, _, rest = line.strip().partition(" ")
            if word == "owner":
                self.owner = rest
            elif word == "pass":
                self.passes.append(time.monotonic())

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        assert self.process.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def lease_holder(engine: Engine) -> tuple[str | None, datetime | None]:
    with engine.connect() as connection:
        row = connection.execute(select(WorkerLease.owner, WorkerLease.expires_at)
                                 .where(WorkerLease.name == RETRY_LOOP)).first()
    return (row.owner, row.expires_at) if row else (None, None)


def needing_attention(world: PairedWorld) -> int:
    """An operation needing attention, its automatic retry due within a second: the CORE moved, the Supervisor's
    write acted but its reply was lost and the read-back failed; the CORE was put back."""
    actions = world.make_actions(retry_policy=RetryPolicy(base=timedelta(seconds=0.25), cap=timedelta(seconds=0.5)))
    world.arm({2: ["5xx_after", ("planning", "5xx_before", 3)]})
    result = actions.reschedule(606001, at(DAY, 11), "alice", key="half")
    assert result.status == "needs_attention", result
    operation = world.operation(result.operation_id)
    assert operation["next_attempt_at"] <= datetime.now() + timedelta(seconds=2), operation
    assert world.remote(606002).start == at(DAY, 13) and world.db(606002).start == at(DAY, 12, 30)
    return result.operation_id


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_world(request: pytest.FixtureRequest, tmp_path: Path, fake_server) -> Iterator[PairedWorld]:  # noqa: ANN001
    """A world on a database of its own (a new SQLite file, or a private PostgreSQL schema) that loop processes share."""
    from services.store.database import make_engine
    from tests.migrated_template import migrate_new_database

    with private_database(request.param, tmp_path) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        try:
            world = PairedWorld(engine, fake_server, read_timeout=0.25, url=url)
            world.restart()
            yield world
        finally:
            engine.dispose()


def test_one_retry_loop_across_processes_and_the_other_takes_over(shared_world: PairedWorld) -> None:
    world = shared_world
    loops = [LoopProcess(world.url, world.fake.url), LoopProcess(world.url, world.fake.url)]
    try:
        wait_until(lambda: all(loop.owner for loop in loops) and lease_holder(world.engine)[0] is not None,
                   "a loop to take the lease")
        wait_until(lambda: sum(len(loop.passes) for loop in loops) >= 8, "passes")
        owner, _ = lease_holder(world.engine)
        (holder,) = [loop for loop in loops if loop.owner == owner]
        (other,) = [loop for loop in loops if loop is not holder]
        time.sleep(10 * TICK)  # both keep ticking; only the holder runs passes
        assert other.passes == [] and len(holder.passes) >= 10, (len(holder.passes), len(other.passes))
        assert lease_holder(world.engine)[0] == holder.owner

        holder.kill()
        _, expires_at = lease_holder(world.engine)
        operation_id = needing_attention(world)  # due at once; only a live loop can settle it
        # the other loop runs no pass while the killed holder's lease lasts ...
        while datetime.now() < expires_at - timedelta(seconds=0.2):
            assert other.passes == [], "the other loop ran a pass before the holder's lease expired"
            time.sleep(0.02)
        # ... then takes the lease over and settles the operation
        wait_until(lambda: world.operation(operation_id)["status"] not in status.HOLDING_LOCKS,
                   "the other loop to settle the operation")
        # the loop reports a pass after it returns, so its line may trail the settled row by a moment
        wait_until(lambda: bool(other.passes), "the other loop to report the pass that settled it")
        assert lease_holder(world.engine)[0] == other.owner
        operation = world.operation(operation_id)
        assert operation["status"] in ("done", "compensated"), operation
        with world.engine.connect() as connection:
            actors = connection.execute(select(AuditEntry.actor).where(AuditEntry.operation_id == operation_id)
                                        .order_by(AuditEntry.id.desc())).scalars().first()
        assert actors == LOOP_ACTOR
        assert world.locks() == {}
        world.agree()
        world.pairs_together()
        passes_at_kill = len(other.passes)
        time.sleep(5 * TICK)
        assert len(other.passes) > passes_at_kill  # it keeps the loop going
    finally:
        for loop in loops:
            loop.stop()
