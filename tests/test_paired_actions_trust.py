"""Issue 16, "Paired actions you can trust at volume": one test per item of §1-§4 and the §5 behaviours, each against a
real database (SQLite and PostgreSQL) and the local HTTP fake of Crossmark (tests/paired_world.py), plus the retry
policy's arithmetic. After every test: no lock row without an operation that holds locks behind it (§5, invariant 8).

§1 no lost update (an action planned against an old state is refused under its locks; a compensation undoes only what
its own operation changed) · §2 no pair split by a Supervisor-side action or by undo · §3 the lease keeps reconcile off
a running operation and hands it over once expired · §4 `in_progress` (CLI exit 4), `undo --key` · §5 automatic retries
with backoff, `stuck` (alert once, locks kept, /healthz degraded), Retry now, Release, and the CLI for all of it.
"""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from services.crossmark.sandbox import PATH_SCHEDULE
from services.errors import ActionRefused, InvalidInput
from services.settings import load_settings
from tests.cli_runner import run_cli
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME
from tests.paired_world import DAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

HOLDING_LOCKS = ("pending", "applying", "needs_attention", "stuck")  # DESIGN.md §3.8, spelled out on purpose
CHANGED = "The event changed since you looked"


# --- helpers ----------------------------------------------------------------------------------------------------------


def orphan_locks(world: PairedWorld) -> list[tuple]:
    """Lock rows without an unfinished, needing-attention or stuck operation behind them."""
    with world.engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT l.event_ref, l.operation_id, o.status FROM dashboard_event_locks l "
            "LEFT JOIN dashboard_operations o ON o.id = l.operation_id ORDER BY l.event_ref")).all()
    return [tuple(row) for row in rows if row.status not in HOLDING_LOCKS]


@pytest.fixture(autouse=True)
def _locks_never_outlive_their_reason(request: pytest.FixtureRequest):
    """The invariant helper, after every test of this file that has a world."""
    yield
    world_used = request.node.funcargs.get("world") if hasattr(request.node, "funcargs") else None
    if world_used is not None:
        assert orphan_locks(world_used) == [], "lock rows without a lock-holding operation behind them"


class Clock:
    """A controllable clock (naive local wall time, like the journal's)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = (start or datetime.now()).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **amount: float) -> None:
        self.now += timedelta(**amount)


class Crash(BaseException):
    """What a killed process leaves: the run stops dead (nothing catches it), its operation still `applying`."""


def ensure_account(world: PairedWorld, name: str, role: str) -> None:
    from services.access.accounts import SETUP, add_user, list_users

    if name not in {user["username"] for user in list_users(world.engine)}:
        add_user(world.engine, name, role, "long-enough-password", by=SETUP)


def cli(world: PairedWorld, *args: str, **settings: str):  # noqa: ANN201 - CompletedProcess
    """The CLI (main(argv) in this process), on the world's database and fake Crossmark."""
    env = {"CROSSMARK_BASE_URL": world.fake.url, "CROSSMARK_USERNAME": FAKE_USERNAME,
           "CROSSMARK_PASSWORD": FAKE_PASSWORD, "CROSSMARK_TIMEZONE": FAKE_TIMEZONE, "CROSSMARK_READ_TIMEOUT": "5",
           **settings}
    return run_cli(*args, "--db", world.url, env=env)


def last_json(completed) -> object:  # noqa: ANN001
    assert completed.stdout.strip(), (completed.returncode, completed.stdout, completed.stderr)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def make_needs_attention(world: PairedWorld, actions=None):  # noqa: ANN001, ANN201 - ActionResult
    """Reschedule 606001 to 11:00; the Supervisor's write answers ok: 0 and so does the CORE's compensation: the CORE
    is at 11:00 in Crossmark, 10:30 in our database; the operation needs attention, holding the pair."""
    world.arm({2: "ok0", 3: "ok0"})
    result = (actions or world.actions).reschedule(606001, at(DAY, 11), "alice")
    assert result.status == "needs_attention", result
    assert world.remote(606001).start == at(DAY, 11) and world.db(606001).start == at(DAY, 10, 30)
    return result


# --- §1 lost update ---------------------------------------------------------------------------------------------------


def test_an_action_planned_against_an_old_state_is_refused_under_its_locks(world):
    """B is validated against the sprint2 state (CORE 10:30); before it takes its locks, A moves the same pair to 11:00
    and finishes; B then takes the locks: refused ("the event changed since you looked"), nothing sent by B; A's
    result stands on both sides."""
    before = world.snapshot()
    seen: dict = {}
    b_actions = world.make_actions()
    take_locks = b_actions.journal.start

    def a_runs_first(**arguments):  # noqa: ANN003, ANN202 - B has planned; A runs to completion before B's locks
        if "a" not in seen:
            seen["a"] = world.make_actions().reschedule(606001, at(DAY, 11), "ann")
            seen["requests"] = len(world.fake.requests)
        return take_locks(**arguments)

    b_actions.journal.start = a_runs_first
    world.arm()
    b = b_actions.reschedule(606001, at(DAY, 9, 45), "ben")
    a = seen["a"]
    assert a.status == "done", a
    assert b.status == "refused", b
    assert CHANGED in b.message and "606001" in b.message and "Nothing was sent" in b.message, b.message
    assert len(world.fake.requests) == seen["requests"]  # B sent nothing, not even a read or a login
    assert world.fake.writes_sent() == 2 == world.fake.writes_acted()  # A's two writes, once each
    assert world.steps(b.operation_id) == []
    assert world.operation(b.operation_id)["status"] == "refused"
    assert world.operation(a.operation_id)["status"] == "done"
    # A's change stands, in both places
    assert (world.db(606001).start, world.db(606002).start) == (at(DAY, 11), at(DAY, 13))
    assert world.snapshot() != before
    world.agree()
    world.pairs_together()
    assert world.locks() == {}


def test_compensation_leaves_an_event_someone_else_moved_meanwhile(world):
    """Reschedule 606001: the CORE's write lands; while the Supervisor's write goes out (and fails: ok: 0), another
    writer moves the CORE to 09:45 in Crossmark and our database. The compensation reads the CORE back, finds it
    where this operation did not put it, and leaves it: nothing is written over the other writer's state, in Crossmark
    or in our database. Both systems agree on it, so the operation is settled (compensated, saying so): a retry could
    not do better (invariant 8), and its locks go."""
    moved = at(DAY, 9, 45)
    world.arm({2: [lambda path: world.move_behind_our_back(606001, moved), "ok0"]})
    result = world.actions.reschedule(606001, at(DAY, 11), "alice")
    assert result.status == "compensated", result.message
    assert f"CORE 606001 was moved by someone else to {moved:%Y-%m-%d %H:%M} meanwhile; both systems agree, so it " \
        "is left there" in result.message, result.message
    # the other writer's placement stands on both sides (our row kept as it was: not the plan's 10:30)
    assert world.remote(606001).placement == world.db(606001).placement == (True, moved, "900001")
    world.agree(606002)
    assert world.db(606002).start == at(DAY, 12, 30) == world.remote(606002).start  # the failed write changed nothing
    assert world.step_summary(result.operation_id) == [
        (606001, "schedule", "forward", "ok"), (606002, "schedule", "forward", "failed"),
        (606001, "read_back", "resolve", "ok")]  # read back, and no compensating write
    assert world.fake.writes_sent() == 2
    assert world.locks() == {}


def _move_in_crossmark_only(world, ref: int, start) -> None:  # noqa: ANN001
    """Someone moves an event in Crossmark's own screens: our database does not know (yet)."""
    event = world.fake.simulator.events[world.mplan[ref]]
    with world.fake.simulator._lock:  # noqa: SLF001
        length = event.end - event.start
        event.start = start.replace(tzinfo=world.fake.simulator.tz)
        event.end = event.start + length


def test_what_needs_attention_says_is_where_an_event_moved_by_someone_else_stands(world):
    """The same sequence, but the other writer moves the CORE in Crossmark only. Then the two systems disagree in a
    way this operation did not cause and cannot undo: needs attention, and its message (which the stuck alert quotes as
    "where they stand") says where the CORE is on each side, at the first run and at the automatic retry."""
    moved, ours = at(DAY, 9, 45), at(DAY, 10, 30)
    world.arm({2: [lambda path: _move_in_crossmark_only(world, 606001, moved), "ok0"]})
    first = world.actions.reschedule(606001, at(DAY, 11), "alice")
    assert first.status == "needs_attention", first.message
    where = (f"CORE 606001 is at {moved:%Y-%m-%d %H:%M} in Crossmark, which this operation did not set: left as it is "
             f"(our database has {ours:%Y-%m-%d %H:%M})")
    assert where in first.message, first.message
    assert world.db(606001).start == ours and world.remote(606001).start == moved
    due = world.operation(first.operation_id)["next_attempt_at"]
    world.arm()
    (retried,) = world.make_actions(clock=lambda: due + timedelta(seconds=1)).reconcile()
    assert world.remote(606001).start == moved and world.db(606001).start == ours  # still left as it is
    assert world.writes_of(world.mark) == []
    assert retried.status == "needs_attention" and where in retried.message, retried.message
    assert "state in Crossmark is unknown" not in retried.message


# --- §2 pairs split by Supervisor-side actions and by undo ------------------------------------------------------------


def test_a_supervisor_cannot_be_moved_off_its_cores_day(world):
    before = {ref: world.both(ref) for ref in world.mplan}
    world.arm()
    result = world.actions.reschedule(606002, at(DAY + timedelta(days=1), 12, 30), "alice")
    world.check(result, status="refused")
    assert "a Supervisor moves only on its CORE's date" in result.message
    assert "reschedule CORE 606001" in result.message, result.message
    assert world.fake.requests[world.mark:] == []  # not even a login
    assert {ref: world.both(ref) for ref in world.mplan} == before


def test_a_supervisor_moves_on_its_cores_day_with_the_core_locked_and_untouched(world):
    """Another time on the CORE's date is allowed; the CORE is relied on (its date), so it is locked for the action
    and left exactly as it was."""
    core = world.both(606001)
    locked_during: list[dict] = []
    world.arm({1: lambda path: locked_during.append(world.locks())})
    result = world.actions.reschedule(606002, at(DAY, 13), "alice")
    world.check(result, status="done")
    assert world.db(606002).start == at(DAY, 13) == world.remote(606002).start
    assert world.both(606001) == core  # the CORE untouched, its Crossmark id included
    assert locked_during == [{606002: result.operation_id, 606001: result.operation_id}]
    assert world.fake.writes_sent() == 1


def test_unscheduling_a_supervisor_warns_that_its_core_stays(world):
    core = world.both(606001)
    world.arm()
    result = world.actions.unschedule(606002, "alice")
    world.check(result, status="done")
    assert any("CORE 606001 stays scheduled" in warning for warning in result.warnings), result.warnings
    assert not world.db(606002).scheduled and not world.remote(606002).scheduled
    assert world.both(606001) == core


def test_undo_refuses_to_put_a_supervisor_back_on_a_day_its_core_has_left(world):
    """The sequence from the issue: unschedule the Supervisor, move the CORE alone to another day, undo the first."""
    first = world.actions.unschedule(606002, "alice")
    assert first.status == "done", first
    next_day = at(DAY + timedelta(days=1), 10, 30)
    moved = world.actions.reschedule(606001, next_day, "alice")
    assert moved.status == "done" and [e.ref for e in moved.events] == [606001], moved
    before = {ref: world.both(ref) for ref in world.mplan}
    world.arm()
    undo = world.actions.undo(first.operation_id, "alice")
    world.check(undo, status="refused")
    assert "undo refused" in undo.message and "606001" in undo.message, undo.message
    assert f"{next_day:%Y-%m-%d}" in undo.message, undo.message  # says where the CORE is now
    assert world.fake.requests[world.mark:] == []
    assert {ref: world.both(ref) for ref in world.mplan} == before
    world.pairs_together()


# --- §3 reconcile racing a running action -----------------------------------------------------------------------------


def test_reconcile_leaves_an_action_waiting_on_a_slow_reply_alone(world):
    """The Supervisor's write is held by the fake; meanwhile reconcile runs with a clock 130 s ahead (past the old
    120 s heuristic, within the operation's lease): it takes nothing, and the action ends done, pair together."""
    world.read_timeout = 1.0  # short timeouts: the lease (longest call + margin) is still > 130 s
    held, reconciler, seen = 0.8, [], {}

    def reconcile_meanwhile() -> None:
        deadline = time.monotonic() + 5
        while len(world.fake.requests_to(PATH_SCHEDULE)) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        (operation_id,) = world.operation_ids()
        seen["operation"] = world.operation(operation_id)
        late = world.make_actions(clock=lambda: datetime.now() + timedelta(seconds=130))
        seen["reconciled"] = late.reconcile()
        try:  # nor may an admin's Retry now take it while its lease runs
            seen["retry"] = late.retry(operation_id, "admin")
        except ActionRefused as refused:
            seen["retry"] = str(refused)
        seen["answered_before_reconcile_ended"] = world.fake.requests_to(PATH_SCHEDULE)[1].status is not None

    def hold_the_supervisor_write(path: str) -> None:
        world.fake.inject(path, "slow_reply", delay=held)
        reconciler.append(threading.Thread(target=reconcile_meanwhile))
        reconciler[0].start()

    world.arm({2: hold_the_supervisor_write})
    result = world.actions.reschedule(606001, at(DAY, 11), "alice")
    reconciler[0].join(15)
    assert seen.get("reconciled") == [], seen.get("reconciled")
    assert seen["answered_before_reconcile_ended"] is False  # reconcile really ran while the write was held
    assert isinstance(seen["retry"], str) and "is still running" in seen["retry"], seen["retry"]
    lease_ends = seen["operation"].get("lease_expires_at")
    assert lease_ends is not None and lease_ends > datetime.now() + timedelta(seconds=130)
    world.check(result, status="done")
    assert world.operation(result.operation_id)["status"] == "done"
    assert (world.db(606001).start, world.db(606002).start) == (at(DAY, 11), at(DAY, 13))
    world.agree()
    world.pairs_together()
    assert world.fake.writes_sent() == 2 == world.fake.writes_acted()


def test_reconcile_takes_a_dead_run_only_once_its_lease_has_expired(world):
    """The run dies as the Supervisor's write is about to go out (the CORE has moved in Crossmark). Within its lease
    (but long past the old 120 s heuristic) reconcile leaves it; once the lease has expired it takes it and drives the
    CORE back."""
    before = world.snapshot()

    def die(path: str) -> None:
        raise Crash("killed")

    world.arm({2: die})
    with pytest.raises(Crash):
        world.actions.reschedule(606001, at(DAY, 11), "alice")
    (operation_id,) = world.operation_ids()
    operation = world.operation(operation_id)
    assert operation["status"] == "applying" and set(world.locks()) == {606001, 606002}
    lease_ends = operation.get("lease_expires_at")
    world.arm()
    # within the lease, long past the old 120 s heuristic (before leases: 130 s, so the test fails there by behaviour)
    within_lease = lease_ends - timedelta(seconds=5) if lease_ends else operation["updated_at"] + timedelta(seconds=130)
    within = world.make_actions(clock=lambda: within_lease).reconcile()
    assert within == [] and world.operation(operation_id)["status"] == "applying"
    assert lease_ends is not None and lease_ends - operation["updated_at"] > timedelta(seconds=125)
    assert world.fake.requests[world.mark:] == []  # not even read back
    expired = world.make_actions(clock=lambda: lease_ends + timedelta(seconds=1)).reconcile()
    assert [(r.operation_id, r.status) for r in expired] == [(operation_id, "compensated")]
    assert world.locks() == {}
    assert world.snapshot() == before
    world.agree()
    world.pairs_together()
    assert len(world.writes_of(world.mark)) == 1  # just the CORE's compensation


def test_a_run_whose_lease_was_taken_over_leaves_the_change_to_the_run_that_took_it(world):
    """The run's lease ends while its last call is in flight (a call slower than the lease allows): reconcile takes the
    operation over, finds both events at their targets and finishes it. The first run then reaches its local commit
    and finds the rows changed: that is not a conflict to compensate (it would drive a finished operation back in
    Crossmark) but a lost lease; it answers with the operation as the other run left it, and both systems keep the
    change, each write sent once."""
    actions = world.make_actions()
    commit_local = actions._commit_local  # noqa: SLF001 - the takeover comes right before this run's local commit
    taken: dict = {}

    def taken_over_first(record, run, done, actor, warnings):  # noqa: ANN001, ANN202
        after_lease = world.operation(record.id)["lease_expires_at"] + timedelta(seconds=1)
        taken["results"] = world.make_actions(clock=lambda: after_lease).reconcile()
        return commit_local(record, run, done, actor, warnings)

    actions._commit_local = taken_over_first  # noqa: SLF001
    world.arm()
    result = actions.reschedule(606001, at(DAY, 11), "alice")
    assert [(r.operation_id, r.status) for r in taken["results"]] == [(result.operation_id, "done")]
    assert result.status == "done" and world.operation(result.operation_id)["status"] == "done", result
    assert (world.db(606001).start, world.db(606002).start) == (at(DAY, 11), at(DAY, 13))
    assert world.fake.writes_sent() == 2 == world.fake.writes_acted()  # nothing driven back, nothing resent
    world.agree()
    world.pairs_together()
    assert world.locks() == {}


# --- §4 exactly-once edges ------------------------------------------------------------------------------------------


def test_a_resubmission_while_the_first_is_in_flight_is_in_progress(world):
    """While the first run's CORE write is in flight, the same key is submitted again, in process and through the CLI:
    `in_progress` (exit 4), nothing sent; the first run then completes."""
    ensure_account(world, "alice", "operator")
    seen: dict = {}

    def resubmit(path: str) -> None:
        seen["requests"] = len(world.fake.requests)
        seen["service"] = world.make_actions().reschedule(606001, at(DAY, 11), "alice", key="form-7")
        seen["cli"] = cli(world, "reschedule", "--event", "606001", "--to", f"{at(DAY, 11):%Y-%m-%dT%H:%M}",
                          "--user", "alice", "--key", "form-7", "--json")
        seen["requests_after"] = len(world.fake.requests)
        seen["operations"] = world.operation_ids()

    world.arm({1: resubmit})
    first = world.actions.reschedule(606001, at(DAY, 11), "alice", key="form-7")
    world.check(first, status="done")
    again = seen["service"]
    assert (again.operation_id, again.status) == (first.operation_id, "in_progress"), again
    assert "still running" in again.message
    completed = seen["cli"]
    assert completed.returncode == 4, (completed.returncode, completed.stdout, completed.stderr)
    answer = last_json(completed)
    assert (answer["operation_id"], answer["status"]) == (first.operation_id, "in_progress"), answer
    assert seen["requests_after"] == seen["requests"]  # the resubmissions sent nothing
    assert seen["operations"] == [first.operation_id] == world.operation_ids()
    assert world.fake.writes_sent() == 2 == world.fake.writes_acted()
    world.agree()
    world.pairs_together()


def test_undo_with_the_same_key_twice_is_one_undo(world):
    ensure_account(world, "alice", "operator")
    before = world.snapshot()
    done = world.actions.reschedule(606001, at(DAY, 11), "alice")
    assert done.status == "done", done
    world.arm()
    first = cli(world, "undo", "--operation", str(done.operation_id), "--user", "alice", "--key", "undo-1", "--json")
    assert first.returncode == 0, (first.stdout, first.stderr)
    second = cli(world, "undo", "--operation", str(done.operation_id), "--user", "alice", "--key", "undo-1", "--json")
    assert second.returncode == 0, (second.stdout, second.stderr)
    one, two = last_json(first), last_json(second)
    assert one["status"] == "done" and (two["operation_id"], two["status"]) == (one["operation_id"], "done"), two
    with world.engine.connect() as connection:
        undos = connection.execute(text("SELECT id, idempotency_key FROM dashboard_operations WHERE undo_of = :id"),
                                   {"id": done.operation_id}).all()
    assert [tuple(row) for row in undos] == [(one["operation_id"], "undo-1")]
    assert world.operation_count() == 2
    assert len(world.writes_of(world.mark)) == 2  # the undo's two writes, once
    assert world.snapshot() == before
    world.agree()
    world.pairs_together()


# --- §5 failures that heal themselves -------------------------------------------------------------------------------


def _supervisor_unknown(world: PairedWorld):  # noqa: ANN202 - ActionResult
    """schedule-Supervisor whose one write lands but answers 500, and whose read-back fails: needs attention."""
    world.arm({1: ["5xx_after", ("planning", "5xx_before", 3)]})
    return world.actions.schedule_supervisor(608001, "US157005", "alice")


@pytest.mark.parametrize(("start", "locked", "settles_as"), [
    (make_needs_attention, {606001, 606002}, "compensated"),  # the CORE's compensation failed: drive it back
    (_supervisor_unknown, {608001, 608002}, "done"),  # the write landed after all: finish
], ids=["core-compensation-failed", "supervisor-write-unknown"])
def test_needs_attention_is_retried_automatically_once_due(world, start, locked, settles_as):
    before = world.snapshot()
    result = start(world)
    assert result.status == "needs_attention", result
    operation = world.operation(result.operation_id)
    due = operation["next_attempt_at"]
    assert due is not None and operation["attempts"] == 0
    assert operation["finished_at"] < due <= operation["finished_at"] + timedelta(seconds=60)  # about 30 s: 0..2x30
    assert f"retried automatically at {due:%H:%M:%S}" in operation["message"]
    assert set(world.locks()) == locked and set(world.locks().values()) == {result.operation_id}
    # the lock message tells the truth: when it will be retried
    blocked = world.actions.reschedule(min(locked), at(DAY, 9, 45), "bob")
    assert blocked.status == "refused"
    assert f"part of operation {result.operation_id}, which is waiting to be retried automatically at " \
        f"{due:%H:%M}" in blocked.message, blocked.message
    world.arm()
    early = world.make_actions(clock=lambda: due - timedelta(seconds=1)).reconcile()
    assert early == [] and world.operation(result.operation_id)["status"] == "needs_attention"
    assert world.fake.requests[world.mark:] == []
    (settled,) = world.make_actions(clock=lambda: due + timedelta(seconds=1)).reconcile()
    assert (settled.operation_id, settled.previous_status) == (result.operation_id, "needs_attention")
    world.check(settled, status=settles_as)
    assert world.locks() == {}
    world.agree()
    world.pairs_together()
    if settles_as == "compensated":
        assert world.snapshot() == before
    else:
        assert world.db(608002).start == at(DAY, 13, 30)


def test_retries_give_up_stuck_alert_once_locks_kept_then_retry_now_settles_it(world):
    from services.ops.health import health_report
    from services.actions.retry_policy import RetryPolicy

    before = world.snapshot()
    alerts: list = []
    clock = Clock()
    policy = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=1), min_attempts=2, min_span=timedelta(0))
    actions = world.make_actions(clock=clock, retry_policy=policy, alert_stuck=alerts.append)
    result = make_needs_attention(world, actions)
    op = result.operation_id
    world.fake.inject(PATH_SCHEDULE, "ok0", times=None)  # Crossmark keeps refusing writes
    outcomes = []
    for _ in range(2):
        clock.advance(seconds=10)
        world.arm()
        outcomes += [(r.operation_id, r.previous_status, r.status) for r in actions.reconcile()]
    assert outcomes == [(op, "needs_attention", "needs_attention"), (op, "needs_attention", "stuck")]
    operation = world.operation(op)
    assert (operation["status"], operation["attempts"]) == ("stuck", 2)
    assert "STUCK after 2 attempt(s)" in operation["message"]
    assert [(a.id, a.status) for a in alerts] == [(op, "stuck")]
    # each attempt read Crossmark and tried to drive the CORE back: a recorded step, no resend of anything else
    compensations = [s for s in world.step_summary(op) if s[2] == "compensate"]
    assert compensations == [(606001, "schedule", "compensate", "failed")] * 3
    # stuck: locked, not retried by the automatic passes, not alerted again
    assert world.locks() == {606001: op, 606002: op}
    clock.advance(minutes=30)
    world.arm()
    assert actions.reconcile() == [] and world.fake.requests[world.mark:] == []
    assert len(alerts) == 1
    blocked = actions.reschedule(606001, at(DAY, 9, 45), "bob")
    assert blocked.status == "refused"
    assert f"Event 606001 is part of operation {op}, which is stuck after its automatic retries; an admin can Retry " \
           "now or Release it" in blocked.message, blocked.message
    report = health_report(load_settings({"SCHEDULER_DATABASE_URL": world.url}), world.engine)
    assert report.status == "degraded" and report.operations_stuck == 1, report
    assert any("1 operation(s) stuck" in warning for warning in report.warnings), report.warnings
    # Retry now while Crossmark still refuses: still stuck, still one alert
    world.arm()
    assert actions.retry(op, "admin").status == "stuck"
    assert len(alerts) == 1 and set(world.locks().values()) == {op}
    # Crossmark answers again: Retry now settles it
    world.fake.clear_faults()
    world.arm()
    retried = actions.retry(op, "admin")
    assert (retried.operation_id, retried.previous_status) == (op, "stuck")
    world.check(retried, status="compensated")
    assert world.locks() == {} and world.snapshot() == before
    world.pairs_together()
    assert len(alerts) == 1
    healthy = health_report(load_settings({"SCHEDULER_DATABASE_URL": world.url}), world.engine)
    assert healthy.operations_stuck == 0


def test_release_with_a_note_ends_a_stuck_operation_resolved_and_frees_its_locks(world):
    from services.actions.retry_policy import RetryPolicy

    clock = Clock()
    policy = RetryPolicy(base=timedelta(seconds=1), cap=timedelta(seconds=1), min_attempts=1, min_span=timedelta(0))
    alerts: list = []
    actions = world.make_actions(clock=clock, retry_policy=policy, alert_stuck=alerts.append)
    op = make_needs_attention(world, actions).operation_id
    world.fake.inject(PATH_SCHEDULE, "ok0", times=None)
    clock.advance(seconds=10)
    world.arm()
    assert [(r.operation_id, r.status) for r in actions.reconcile()] == [(op, "stuck")]
    assert len(alerts) == 1 and set(world.locks().values()) == {op}
    with pytest.raises(InvalidInput):
        actions.release(op, "admin", "   ")  # a note is required: nothing changes
    assert world.operation(op)["status"] == "stuck" and set(world.locks().values()) == {op}
    released = actions.release(op, "admin", "moved the CORE back by hand in MVRetail")
    assert (released.operation_id, released.status) == (op, "resolved")
    operation = world.operation(op)
    assert operation["status"] == "resolved" and "moved the CORE back by hand in MVRetail" in operation["message"]
    assert world.locks() == {}
    assert [e["action"] for e in world.audit(op)][-1] == "resolved"
    world.fake.clear_faults()
    after = actions.reschedule(606001, at(DAY, 9, 45), "bob")  # the pair is free again
    assert after.status == "done", after


def test_the_cli_reconcile_operations_and_retry_all(world):
    """`reconcile --json` says per operation what it did (a due retry that fails again: stuck, exit 3); `operations
    --status stuck --json` lists it; `retry --all --user admin --json`, once Crossmark answers, settles it (exit 0)."""
    ensure_account(world, "admin", "admin")
    before = world.snapshot()
    op = make_needs_attention(world).operation_id
    # its automatic retry is due (the CLI runs on the real clock)
    world.execute("UPDATE dashboard_operations SET next_attempt_at = :due WHERE id = :id",
                  due=datetime.now().replace(microsecond=0) - timedelta(minutes=1), id=op)
    world.fake.inject(PATH_SCHEDULE, "ok0", times=None)
    world.arm()
    reconciled = cli(world, "reconcile", "--json", RETRY_MIN_ATTEMPTS="1", RETRY_MIN_HOURS="0")
    assert reconciled.returncode == 3, (reconciled.stdout, reconciled.stderr)
    answer = last_json(reconciled)
    assert [(r["operation_id"], r["previous_status"], r["status"]) for r in answer["reconciled"]] == [
        (op, "needs_attention", "stuck")], answer
    assert answer["crossmark"] == world.fake.url
    listed = cli(world, "operations", "--status", "stuck", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(r["operation_id"], r["status"]) for r in last_json(listed)] == [(op, "stuck")]
    assert set(world.locks().values()) == {op}
    world.fake.clear_faults()
    world.arm()
    retried = cli(world, "retry", "--all", "--user", "admin", "--json")
    assert retried.returncode == 0, (retried.stdout, retried.stderr)
    answer = last_json(retried)
    assert [(r["operation_id"], r["previous_status"], r["status"]) for r in answer["retried"]] == [
        (op, "stuck", "compensated")], answer
    assert world.operation(op)["status"] == "compensated"
    assert world.locks() == {} and world.snapshot() == before
    world.agree()
    world.pairs_together()
    nothing = cli(world, "reconcile", "--json")
    assert nothing.returncode == 0 and last_json(nothing)["reconciled"] == []


# --- the retry policy -------------------------------------------------------------------------------------------------


def test_retry_policy_full_jitter_bounds_and_when_it_gives_up():
    import random

    from services.errors import ConfigurationError
    from services.actions.retry_policy import RetryPolicy

    default = RetryPolicy()  # the numbers: about 30 s first, capped at 10 min, >= 8 attempts over >= 6 h
    assert (default.base, default.cap, default.min_attempts, default.min_span) == (
        timedelta(seconds=30), timedelta(minutes=10), 8, timedelta(hours=6))
    draws = random.Random(16)
    for policy in (default, RetryPolicy(timedelta(seconds=1), timedelta(seconds=1), 2, timedelta(0)),
                   RetryPolicy(timedelta(seconds=5), timedelta(seconds=300), 3, timedelta(minutes=1))):
        base, cap = policy.base.total_seconds(), policy.cap.total_seconds()
        for attempts in (0, 1, 2, 3, 5, 8, 20, 100, 10_000):
            ceiling = timedelta(seconds=max(1.0, min(cap, base * 2 ** min(attempts + 1, 60))))
            assert policy.delay(attempts, lambda: 0.0) == timedelta(seconds=1)
            assert policy.delay(attempts, lambda: 1.0) == ceiling
            for _ in range(50):
                assert timedelta(seconds=1) <= policy.delay(attempts, draws.random) <= ceiling
            assert timedelta(seconds=1) <= policy.delay(attempts) <= ceiling  # its own random draw
    assert default.delay(0, lambda: 1.0) == timedelta(seconds=60)  # so the first comes after about 30 s on average
    assert default.delay(4, lambda: 1.0) == timedelta(minutes=10)  # 30 * 2**5 = 960 s, capped
    first = datetime(2026, 3, 2, 8, 0)
    assert not default.gives_up(7, first, first + timedelta(hours=7))  # the span passed, not the attempts
    assert not default.gives_up(8, first, first + timedelta(hours=5, minutes=59))  # the attempts, not the span
    assert not default.gives_up(1000, first, first + timedelta(minutes=1))
    assert default.gives_up(8, first, first + timedelta(hours=6))
    assert default.gives_up(9, first, first + timedelta(days=1))
    quick = RetryPolicy(timedelta(seconds=1), timedelta(seconds=1), 2, timedelta(0))
    assert not quick.gives_up(1, first, first) and quick.gives_up(2, first, first)
    for bad in (dict(base=timedelta(0)), dict(base=timedelta(seconds=10), cap=timedelta(seconds=5)),
                dict(min_attempts=0), dict(min_span=timedelta(seconds=-1))):
        with pytest.raises(ConfigurationError):
            RetryPolicy(**bad)
