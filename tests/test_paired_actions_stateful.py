"""Stateful property test (hypothesis RuleBasedStateMachine) of the paired actions at volume (issue 16, "Tests").

The world is the sprint2 scenario (tests/paired_world.py) in a real database and in the local HTTP fake of Crossmark,
a fresh copy per example. The rules act on both halves of both pairs (and the lone CORE 606999): reschedule to valid
and invalid times (past, outside the window, a Supervisor off its CORE's day, a CORE whose Supervisor would cross
midnight), unschedule, schedule-Supervisor, undo, the same key resubmitted, reused for another request, blank or
too long. Each action may carry faults on its Crossmark writes (ok: 0, 5xx before/after acting, timeouts before/after,
resets before/after, an expired session, a missing id, an HTML page, a slow reply, a failed read-back, the sessions
expiring, the process dying before or after a write). Outages start and end (every request fails meanwhile), the clock
(a fixed morning, never wall time) moves (minutes to hours: undo windows, leases, backoff, stuck), two threads act on
one pair at once (also with one key), a retry pass runs while an action waits on Crossmark, sync copies Crossmark into
the database (also while an action runs), and retry passes (`reconcile`, the retry loop's work, with the clock past
leases and backoff) and `retry_all` run at any point, with faults of their own.

After every step (DESIGN.md §3):
- 1: outside operations that are pending / applying / needs_attention / stuck, every event agrees on both sides
  (scheduled or not, start, rep, and the Crossmark scheduled-event id);
- 2: no pair is split (a scheduled Supervisor whose CORE is unscheduled or on another day) outside such operations;
- 3: every attempted action leaves one operation record, refusals included;
- 4: no write is sent twice: each recorded write step is one call of the client, each call reaches Crossmark at most
  once (a refusal for an expired session repeated after a fresh login aside), at most one forward write per event and
  operation, every unknown outcome read back; a resubmitted key sends nothing and answers with its operation
  (`in_progress` while it runs);
- 7: two actions on one pair: an event moved by operations that ended done stands where the last of them put it;
- 8: no lock row without an operation in (pending, applying, needs_attention, stuck), every such operation holds the
  locks of its events, a stuck operation was alerted exactly once, and a retry pass never takes a running operation.
At the end, with Crossmark healthy: one retry-loop pass (clock past every lease and backoff) settles everything but
what is stuck, then `retry_all` settles the rest: zero events in disagreement, zero split pairs, zero operations
holding locks, zero locks.

`make test` runs 200 examples on SQLite (and 30 on PostgreSQL when TEST_DATABASE_URL is set); `make soak` runs
SOAK_EXAMPLES=2000 (SOAK_STEPS, if set, steps per example instead of 8).
"""
from __future__ import annotations

import json
import os
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from time import monotonic as time_now
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, select

from services.actions import journal as status
from services.crossmark.client import CrossmarkClient
from services.crossmark.sandbox import (
    PATH_CONDITION, PATH_LOGIN, PATH_PLANNING, PATH_SCHEDULE, PATH_UNSCHEDULE, PATH_USER_INFO,
)
from services.crossmark.sync import sync_from_crossmark
from services.errors import CrossmarkError, IdempotencyKeyReused
from services.domain.input_limits import KEY_MAX
from services.actions.executor import IN_PROGRESS, ActionResult
from services.actions.paired_actions import PairedActions
from services.actions.plan import Placement
from services.actions.retry_policy import RetryPolicy
from services.store.tables import Employee, Event, Operation, OperationStep, PairLock, Schedule
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME, FakeCrossmark
from tests.paired_world import (  # noqa: F401 - migrated: a fixture
    DAY, PAIRS, REFS, TODAY, HookedClient, PairedWorld, Side, at, migrated,
)

SOAK_EXAMPLES = int(os.environ.get("SOAK_EXAMPLES") or 0)
EXAMPLES = SOAK_EXAMPLES or 200
POSTGRES_EXAMPLES = SOAK_EXAMPLES or 30  # the same rules on PostgreSQL, a smaller share of the minute
STEPS = int(os.environ.get("SOAK_STEPS") or 8)
READ_TIMEOUT = 0.1  # the clients' read timeout; the fake's timeouts hold a reply a little longer
ACTOR = "chaos"
CORE_OF = {sup: core for core, sup in PAIRS}
WINDOW = (TODAY + timedelta(days=3), TODAY + timedelta(days=12))  # a sync range covering every window

# Valid and invalid: DAY-3 = the first day of the windows, TODAY-1 in the past, DAY+5 after the windows; 22:30 puts a
# following Supervisor on the next day; 12:00-13:00 are Supervisor times.
DAYS = [DAY + timedelta(days=n) for n in (-3, -1, 0, 1)] + [TODAY - timedelta(days=1), DAY + timedelta(days=5)]
SLOTS = ((9, 45), (10, 30), (11, 0), (11, 30), (12, 0), (12, 30), (13, 0), (22, 30))
EMPLOYEES = ("US157005", "US157004", "US157002")  # Club Supervisor, Lead Event Specialist, Event Specialist
WRITE_FAULTS = ("ok0", "5xx_before", "5xx_after", "timeout_before", "timeout_after", "reset_before", "reset_after",
                "expired_session", "missing_id", "slow_reply", "html_error", "session_expiry", "crash_before",
                "crash_after")
# Every request fails at once (a request that times out costs the clients' read timeout per attempt, so timeouts are
# injected per write instead, where they matter most: an unknown outcome).
OUTAGES = ("5xx_before", "reset", "html_error")
ALL_PATHS = (PATH_LOGIN, PATH_USER_INFO, PATH_SCHEDULE, PATH_UNSCHEDULE, PATH_CONDITION, PATH_PLANNING)
SETTLED = ("done", "refused", "compensated", "needs_attention")
# One TLS context for every client (the fake speaks plain HTTP): a new one per client costs ~30 ms, per action.
SSL_CONTEXT = ssl.create_default_context()

# per action: a fault (or none) on its 1st, 2nd, 3rd write; with True, the read-back after that write fails too
faults = st.lists(st.none() | st.tuples(st.sampled_from(WRITE_FAULTS), st.booleans()), max_size=3)
pair_actions = st.one_of(
    st.tuples(st.just("reschedule"), st.sampled_from(SLOTS)),
    st.tuples(st.just("reschedule_supervisor"), st.sampled_from(SLOTS)),
    st.tuples(st.just("unschedule"), st.booleans()),
    st.tuples(st.just("schedule_supervisor"), st.sampled_from(EMPLOYEES)),
    st.tuples(st.just("undo"), st.integers(0, 3)),
)


class SimulatedCrash(BaseException):
    """The process dies here: nothing in the services catches it (the action's run just stops, as with SIGKILL)."""


CLOCK_START = datetime.combine(TODAY, time(9, 0))  # a working morning; the scenario was seeded as synced at 05:30


class Clock:
    """The actions' clock: a fixed start plus an offset that only the rules move (`advance`). Never wall time: the
    undo window, leases, backoff and sync's "acted on since" then depend on the example alone (not on how long the
    machine took), and an example replays the same. Action threads read it while the test's thread advances it."""

    def __init__(self, start: datetime = CLOCK_START) -> None:
        self.start = start
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    def __call__(self) -> datetime:
        with self._lock:
            return self.start + self._offset


class CountedWrites:
    """Around the world's hooked client: counts the write requests the fake received for each write call (for this
    event, or this scheduled-event id: two threads may write at once), and calls a hook after each write has
    returned (the process dies then)."""

    def __init__(self, client: Any, machine: "PairedActionsMachine") -> None:
        self._client, self._machine = client, machine

    def schedule(self, **arguments: Any) -> Any:
        with self._machine.write_call(PATH_SCHEDULE, "mPlanID", str(arguments.get("mplan_id"))):
            reply = self._client.schedule(**arguments)
        self._machine.after_write()
        return reply

    def unschedule(self, scheduled_event_id: str) -> None:
        with self._machine.write_call(PATH_UNSCHEDULE, "id", str(scheduled_event_id)):
            self._client.unschedule(scheduled_event_id)
        self._machine.after_write()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __enter__(self) -> "CountedWrites":
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.__exit__(*exc)


class ReadThenWait:
    """A client for sync: once the planning list is read, say so and wait for the word to go on."""

    def __init__(self, client: CrossmarkClient, fetched: threading.Event, go: threading.Event) -> None:
        self._client, self._fetched, self._go = client, fetched, go

    def planning_events(self, *arguments: Any, **options: Any) -> Any:
        try:
            return self._client.planning_events(*arguments, **options)
        finally:
            self._fetched.set()
            assert self._go.wait(30), "never told to go on"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def counts_as_sent(request: Any) -> bool:
    """A write request Crossmark may have acted on: not one refused for an expired session (the client repeats that
    once after a fresh login, which is safe: Crossmark did not act)."""
    return request.is_write and request.fault not in ("expired_session", "expired_redirect") and \
        not (request.status == 401 and not request.acted)


@dataclass
class Snapshot:
    """Both sides and the journal, read once (a step's checks need them all)."""

    db: dict[int, Side]
    remote: dict[int, Side]
    operations: dict[int, Any]  # id -> (id, status, events as a list of dicts)
    locks: dict[int, int]  # event ref -> operation id
    steps: list[Any]  # (operation_id, seq, event_ref, action, purpose, status), in order

    @property
    def holding(self) -> dict[int, Any]:
        return {id_: row for id_, row in self.operations.items() if row.status in status.HOLDING_LOCKS}

    @property
    def unsettled_refs(self) -> set[int]:
        """Events of operations holding locks (pending, applying, needs_attention, stuck): they may disagree."""
        holding = self.holding
        refs = {ref for ref, operation_id in self.locks.items() if operation_id in holding}
        for row in holding.values():
            refs |= {planned["ref"] for planned in row.events}
        return refs

    def placements(self) -> dict[int, tuple[tuple, tuple]]:
        return {ref: (self.db[ref].placement, self.remote[ref].placement) for ref in REFS}


def read_snapshot(world: PairedWorld) -> Snapshot:
    with world.engine.connect() as connection:
        events = {row.project_ref_num: row for row in connection.execute(
            select(Event.project_ref_num, Event.condition, Event.is_scheduled).where(Event.project_ref_num.in_(REFS)))}
        rows: dict[int, list] = {ref: [] for ref in REFS}
        for row in connection.execute(
                select(Schedule.event_ref_num, Schedule.schedule_datetime, Employee.external_id, Schedule.external_id)
                .outerjoin(Employee, Employee.id == Schedule.employee_id).where(Schedule.event_ref_num.in_(REFS))):
            rows[row[0]].append(row)
        operations = {row.id: SimpleNamespace(id=row.id, status=row.status, events=row.events or [],
                                              finished_at=row.finished_at)
                      for row in connection.execute(select(Operation.id, Operation.status, Operation.events,
                                                           Operation.finished_at))}
        locks = dict(connection.execute(select(PairLock.event_ref, PairLock.operation_id)).all())
        steps = connection.execute(select(OperationStep.operation_id, OperationStep.seq, OperationStep.event_ref,
                                          OperationStep.action, OperationStep.purpose, OperationStep.status)
                                   .order_by(OperationStep.operation_id, OperationStep.seq)).all()
    db: dict[int, Side] = {}
    for ref in REFS:
        event_row = events[ref]
        assert len(rows[ref]) <= 1, f"event {ref} has {len(rows[ref])} schedule rows"
        if not rows[ref]:
            assert (event_row.condition, bool(event_row.is_scheduled)) == ("Unstaffed", False), tuple(event_row)
            db[ref] = Side(False)
            continue
        assert (event_row.condition, bool(event_row.is_scheduled)) == ("Scheduled", True), tuple(event_row)
        _ref, start, rep, scheduled_id = rows[ref][0]
        db[ref] = Side(True, start, str(rep) if rep is not None else None, str(scheduled_id) if scheduled_id else None)
    state = world.fake.simulator.scheduled_state()
    remote = {}
    for ref in REFS:
        placed = state[world.mplan[ref]]
        remote[ref] = Side(False) if placed is None else Side(True, placed[1], str(placed[0]), str(placed[2]))
    return Snapshot(db, remote, operations, locks, steps)


@contextmanager
def _sends_nothing(world: PairedWorld, *, recorded: int) -> Iterator[None]:
    """The block sends no request to Crossmark (not even a login) and leaves exactly `recorded` new operations."""
    requests, operations = len(world.fake.requests), world.operation_count()
    yield
    assert len(world.fake.requests) == requests, world.fake.requests[requests:]
    assert world.operation_count() == operations + recorded


class PairedActionsMachine(RuleBasedStateMachine):
    world: PairedWorld  # set by the test before the run (one database and one fake server for every example)

    def __init__(self) -> None:
        super().__init__()
        world = self.world
        world.restart()
        self.clock = Clock()
        self.alerts: list[int] = []
        self.actions = PairedActions(world.engine, self._client, rule=world.rule, clock=self.clock,
                                     retry_policy=RetryPolicy(), alert_stuck=lambda record: self.alerts.append(record.id))
        self.outage: str | None = None
        self.crash_after: set[int] = set()
        self.write_calls = 0  # schedule / unschedule calls on our clients: exactly one per recorded write step
        self.twice: list[str] = []  # write calls that reached Crossmark more than once
        self.calls_lock = threading.Lock()
        self.submitted: list[tuple[Callable[[str], ActionResult], str]] = []  # (call with a key, that key)
        self.keys = 0
        self.last: Snapshot | None = None  # what the check after the last step read
        self.handoff: Snapshot | None = None  # what a step read after itself, for the check that follows it

    # --- wiring ---------------------------------------------------------------------------------------------------

    def _plain_client(self) -> CrossmarkClient:
        """As PairedWorld.make_client, with the shared TLS context."""
        world = self.world
        return CrossmarkClient(base_url=world.fake.url, username=FAKE_USERNAME, password=FAKE_PASSWORD,
                               timezone_name=FAKE_TIMEZONE, connect_timeout=1.0, read_timeout=world.read_timeout,
                               retry_attempts=3, retry_initial_wait=0.01,
                               transport=httpx.HTTPTransport(verify=SSL_CONTEXT))

    def _client(self) -> CountedWrites:
        hooked = HookedClient(self._plain_client(), self.world._before_write)  # noqa: SLF001 - the world's write hooks
        return CountedWrites(hooked, self)

    @contextmanager
    def write_call(self, path: str, field: str, value: str) -> Iterator[None]:
        fake = self.world.fake
        with self.calls_lock:
            self.write_calls += 1
        first = len(fake.requests)
        try:
            yield
        finally:
            with fake._lock:  # noqa: SLF001 - a consistent copy
                mine = [r for r in fake.requests[first:] if r.path == path and r.form.get(field) == value]
            sent = [r for r in mine if counts_as_sent(r)]
            if len(sent) > 1:
                self.twice.append(f"{path} {field}={value}: {[(r.fault, r.status) for r in mine]}")

    def after_write(self) -> None:
        if self.world.writes in self.crash_after:
            self.crash_after.discard(self.world.writes)
            raise SimulatedCrash(f"killed after write {self.world.writes}")

    def _crash_before(self, _path: str) -> None:
        raise SimulatedCrash("killed before the write went out")

    def _expire_sessions(self, _path: str) -> None:
        self.world.fake.simulator.expire_sessions()

    def _arm(self, injected: list) -> None:
        hooks: dict[int, list] = {}
        self.crash_after = set()
        for index, fault in enumerate(injected, start=1):
            if fault is None:
                continue
            name, break_read_back = fault
            if name == "crash_before":
                hooks[index] = [self._crash_before]
            elif name == "crash_after":
                self.crash_after.add(index)
            elif name == "session_expiry":
                hooks[index] = [self._expire_sessions]
            elif name in ("slow_reply", "timeout_before", "timeout_after"):
                hooks[index] = [(name, {"slow_reply": 0.03, "timeout_before": 0.15, "timeout_after": 0.15}[name])]
            else:
                hooks[index] = [name]
            if break_read_back:
                hooks.setdefault(index, []).append(("planning", "5xx_before", 3))
        self.world.arm(hooks)
        self._outage_on()

    def _disarm(self) -> None:
        self.world.arm()
        self.crash_after = set()
        self.world.fake.clear_faults()  # what an action did not consume must not hit the next step
        self._outage_on()

    def _outage_on(self) -> None:
        if self.outage is not None:  # first in every path's queue: it takes every request until the outage ends
            self.world.fake.clear_faults()
            for path in ALL_PATHS:
                self.world.fake.inject(path, self.outage, times=None)

    def _key(self) -> str:
        self.keys += 1
        return f"k{self.keys}"

    def _call(self, kind: str, arguments: tuple) -> Callable[[str], ActionResult]:
        actions = self.actions
        if kind == "reschedule":
            ref, when = arguments
            return lambda key: actions.reschedule(ref, when, ACTOR, key=key)
        if kind == "unschedule":
            (ref,) = arguments
            return lambda key: actions.unschedule(ref, ACTOR, key=key)
        if kind == "schedule_supervisor":
            core, employee = arguments
            return lambda key: actions.schedule_supervisor(core, employee, ACTOR, key=key)
        (operation_id,) = arguments
        return lambda key: actions.undo(operation_id, ACTOR, key=key)

    # --- the two sides, read once -----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return read_snapshot(self.world)

    def last_snapshot(self) -> Snapshot:
        """The state as the last check after a step saw it (nothing has happened since)."""
        return self.last if self.last is not None else self.snapshot()

    # --- one action -------------------------------------------------------------------------------------------

    def _act(self, kind: str, arguments: tuple, injected: list) -> ActionResult | None:
        call = self._call(kind, arguments)
        key = self._key()
        earlier = self.last_snapshot()
        tainted, before, operations = earlier.unsettled_refs, earlier.placements(), len(earlier.operations)
        self._arm(injected)
        try:
            result = call(key)
        except SimulatedCrash:
            result = None
        finally:
            self._disarm()
        self.submitted.append((call, key))
        now = self.handoff = self.snapshot()  # the check after this step reads the same state
        assert len(now.operations) == operations + 1, "every attempted action leaves one operation record"
        if result is None:
            event(f"{kind}: crashed")
            (crashed,) = [row for row in now.operations.values() if row.id not in earlier.operations]
            assert crashed.status in status.UNFINISHED, crashed.status
            return None
        event(f"{kind}: {result.status}")
        assert result.status in SETTLED, result
        operation = now.operations[result.operation_id]
        assert operation.status == result.status and operation.finished_at is not None, operation
        planned = {e["ref"] for e in operation.events}
        after = now.placements()
        if result.status == "done":
            changed = {ref for ref in REFS if after[ref][0] != before[ref][0]}
            assert changed <= planned, (changed, planned)
        else:  # refused / compensated / needs attention: nothing moved in our database, nor (but for what needs
            # attention) in Crossmark
            assert all(after[ref][0] == before[ref][0] for ref in REFS), (result.message, before, after)
            untouched = [ref for ref in REFS if ref not in tainted and
                         not (result.status == "needs_attention" and ref in planned)]
            assert all(after[ref][1] == before[ref][1] for ref in untouched), (result.message, before, after)
        return result

    # --- rules: the actions -----------------------------------------------------------------------------------

    @rule(ref=st.sampled_from(REFS), day=st.sampled_from(DAYS), slot=st.sampled_from(SLOTS), injected=faults)
    def reschedule(self, ref: int, day, slot: tuple[int, int], injected: list) -> None:  # noqa: ANN001
        self._act("reschedule", (ref, at(day, *slot)), injected)

    @rule(supervisor=st.sampled_from(tuple(CORE_OF)), minutes=st.sampled_from((0, 30, 60, 90, 24 * 60)),
          injected=faults)
    def reschedule_supervisor_near_its_core(self, supervisor: int, minutes: int, injected: list) -> None:
        """A Supervisor moved relative to where its CORE stands: same day (allowed) or the next (refused)."""
        core = self.last_snapshot().db[CORE_OF[supervisor]]
        when = (core.start or at(DAY, 11)).replace(hour=12, minute=0) + timedelta(minutes=minutes)
        self._act("reschedule", (supervisor, when), injected)

    @rule(ref=st.sampled_from(REFS), injected=faults)
    def unschedule(self, ref: int, injected: list) -> None:
        self._act("unschedule", (ref,), injected)

    @rule(core=st.sampled_from((608001, 606001, 606999)), employee=st.sampled_from(EMPLOYEES), injected=faults)
    def schedule_supervisor(self, core: int, employee: str, injected: list) -> None:
        self._act("schedule_supervisor", (core, employee), injected)

    @rule(pick=st.integers(0, 7), injected=faults)
    def undo(self, pick: int, injected: list) -> None:
        self._act("undo", (self._done_operation(pick),), injected)

    @rule(pick=st.integers(0, 7))
    def resubmit(self, pick: int) -> None:
        """The same key again (a double click, a rerun, a CLI retry): the first operation answers, nothing is sent."""
        if not self.submitted:
            return
        call, key = self.submitted[-1 - pick % len(self.submitted)]
        world = self.world
        with _sends_nothing(world, recorded=0):  # invariant 4
            again = call(key)
        with world.engine.connect() as connection:
            operation_id, state = connection.execute(select(Operation.id, Operation.status)
                                                     .where(Operation.idempotency_key == key)).one()
        assert again.operation_id == operation_id
        assert again.status == (IN_PROGRESS if state in status.UNFINISHED else state), (again, state)

    @rule(key=st.sampled_from(("", "   ", "k" * (KEY_MAX + 1))))
    def bad_key(self, key: str) -> None:
        """A blank or over-long key is refused, and the refusal is recorded (nothing lost); nothing is sent."""
        world = self.world
        with _sends_nothing(world, recorded=1):  # the refusal is the one record
            result = self.actions.unschedule(606999, ACTOR, key=key)
        assert result.status == "refused" and "idempotency key" in result.message, result
        assert world.operation(result.operation_id)["status"] == "refused"

    @rule(pick=st.integers(0, 7))
    def reuse_key_for_another_request(self, pick: int) -> None:
        if not self.submitted:
            return
        _call, key = self.submitted[-1 - pick % len(self.submitted)]
        with _sends_nothing(self.world, recorded=0), pytest.raises(IdempotencyKeyReused):
            self.actions.reschedule(606999, at(DAY + timedelta(days=1), 9, 1), ACTOR, key=key)

    # --- rules: two actions at once ---------------------------------------------------------------------------

    @rule(pair=st.sampled_from(PAIRS), first=pair_actions, second=pair_actions, same_key=st.booleans(),
          hold=st.sampled_from((0.0, 0.03, 0.08)))
    def concurrent(self, pair: tuple[int, int], first: tuple, second: tuple, same_key: bool, hold: float) -> None:
        """Two threads act on one pair at once (the reply to the first write of each path is held for `hold`);
        with `same_key`, both send the first action under one key (a double click racing itself)."""
        world = self.world
        calls = [self._pair_call(pair, *first)]
        calls.append(calls[0] if same_key else self._pair_call(pair, *second))
        keys = [self._key()] * 2 if same_key else [self._key(), self._key()]
        operations = world.operation_count()
        self._disarm()
        for path in (PATH_SCHEDULE, PATH_UNSCHEDULE):
            if hold and self.outage is None:
                world.fake.inject(path, "slow_reply", delay=hold)
        barrier = threading.Barrier(2)
        results: list[Any] = [None, None]

        def run(index: int) -> None:
            barrier.wait(5)
            try:
                results[index] = calls[index](keys[index])
            except BaseException as error:  # noqa: BLE001 - reported below, on the test's thread
                results[index] = error

        threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self._disarm()
        assert not any(thread.is_alive() for thread in threads), "an action hung"
        for index, result in enumerate(results):
            assert isinstance(result, ActionResult), f"action {index} raised {result!r}"
        for call, key in zip(calls, keys):
            self.submitted.append((call, key))
        statuses = sorted(result.status for result in results)
        event(f"concurrent{' same key' if same_key else ''}: {statuses}")
        if same_key:
            assert world.operation_count() == operations + 1
            assert results[0].operation_id == results[1].operation_id, results
            assert all(r.status in (*SETTLED, IN_PROGRESS) for r in results), results
            return
        assert world.operation_count() == operations + 2
        assert all(r.status in SETTLED for r in results), results
        # No lost update (invariant 7): an event moved by operations that ended done stands where the last of them
        # put it, in our database (and, by the check after every step, in Crossmark).
        state = self.handoff = self.snapshot()
        done = sorted((state.operations[r.operation_id] for r in results if r.status == "done"),
                      key=lambda row: (row.finished_at, row.id))
        last: dict[int, tuple] = {}
        for row in done:
            for planned in row.events:
                placement = Placement.from_json(planned["after"])
                last[planned["ref"]] = (placement.scheduled, placement.start, placement.rep_id)
        for ref, expected in last.items():
            actual = state.db[ref].placement
            assert actual == expected, (f"event {ref} is at {actual} but the last done operation put it at {expected}",
                                        json.dumps([r.to_json() for r in results], default=str))

    def _pair_call(self, pair: tuple[int, int], kind: str, argument: Any) -> Callable[[str], ActionResult]:
        return self._call("reschedule" if kind == "reschedule_supervisor" else kind,
                          self._pair_arguments(pair, kind, argument))

    def _pair_arguments(self, pair: tuple[int, int], kind: str, argument: Any) -> tuple:
        core, supervisor = pair
        if kind == "reschedule":
            return (core, at(DAY, *argument))
        if kind == "reschedule_supervisor":
            return (supervisor, at(DAY, *argument))
        if kind == "unschedule":
            return (core if argument else supervisor,)
        if kind == "undo":
            return (self._done_operation(argument),)
        return (core, argument)

    def _done_operation(self, pick: int) -> int:
        """One of the operations that ended done, the most recent first (an unknown id when there is none)."""
        done = sorted(row.id for row in self.last_snapshot().operations.values() if row.status == "done")
        return done[-1 - pick % len(done)] if done else 999_999

    def _in_flight(self, call: Callable[[str], ActionResult], key: str, hold: float) -> tuple[threading.Thread, list]:
        """Start an action on a thread, the replies to its writes held for `hold` (Crossmark acts at once: a hold
        that outlasts the read timeout on a loaded machine is a lost reply, read back, never a late write); returns
        once its first write has reached Crossmark (or the action has ended without one)."""
        world = self.world
        self._disarm()
        if self.outage is None:
            for path in (PATH_SCHEDULE, PATH_UNSCHEDULE):
                world.fake.inject(path, "slow_reply", times=2, delay=hold)
        first = len(world.fake.requests)
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append(call(key))
            except BaseException as error:  # noqa: BLE001 - reported on the test's thread
                outcome.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = time_now() + 10
        while thread.is_alive() and not any(r.is_write for r in world.fake.requests[first:]):
            assert time_now() < deadline, "the action neither wrote nor ended"
            threading.Event().wait(0.002)
        return thread, outcome

    def _landed(self, thread: threading.Thread, outcome: list, call: Callable[[str], ActionResult],
                key: str) -> ActionResult:
        thread.join(30)
        self._disarm()
        assert not thread.is_alive(), "an action hung"
        self.submitted.append((call, key))
        (result,) = outcome
        assert isinstance(result, ActionResult), f"the action raised {result!r}"
        return result

    @rule(pair=st.sampled_from(PAIRS), action=pair_actions, hold=st.sampled_from((0.03, 0.08)),
          seconds=st.sampled_from((0, 60, 130)))
    def retry_pass_during_an_action(self, pair: tuple[int, int], action: tuple, hold: float, seconds: int) -> None:
        """A retry pass while an action waits on Crossmark, the clock up to 130 s on (longer than the old 120 s
        heartbeat, shorter than the operation's lease): the pass leaves the running operation alone (issue 16, §3)."""
        call, key = self._pair_call(pair, *action), self._key()
        thread, outcome = self._in_flight(call, key, hold)
        self.clock.advance(timedelta(seconds=seconds))
        results = self.actions.reconcile(actor="retry loop")
        result = self._landed(thread, outcome, call, key)
        event(f"retry pass during an action: {result.status}")
        assert result.status in SETTLED, result
        assert result.operation_id not in [r.operation_id for r in results], \
            f"a retry pass took operation {result.operation_id} while it was running: {results}"

    @rule(pair=st.sampled_from(PAIRS), action=pair_actions)
    def sync_during_an_action(self, pair: tuple[int, int], action: tuple) -> None:
        """Sync has read Crossmark's planning list (every page is fetched before anything is applied); an action on
        a pair runs to its end; then sync applies what it read."""
        fetched, go = threading.Event(), threading.Event()
        errors: list[BaseException] = []
        done: list[str] = []

        def run() -> None:
            try:
                done.append(self._sync(between=(fetched, go)))
            except BaseException as error:  # noqa: BLE001 - reported on the test's thread
                errors.append(error)
                fetched.set()

        syncing = threading.Thread(target=run)
        syncing.start()
        try:
            assert fetched.wait(10), "sync did not read Crossmark"
            key, call = self._key(), self._pair_call(pair, *action)
            result = call(key)
            self.submitted.append((call, key))
        finally:
            go.set()
            syncing.join(30)
        assert not syncing.is_alive() and errors == [], errors
        event(f"sync ({done}) during an action: {result.status}")
        assert result.status in SETTLED, result

    # --- rules: Crossmark, the clock, sync, retries ---------------------------------------------------------------

    @rule(kind=st.sampled_from(OUTAGES))
    def outage_starts(self, kind: str) -> None:
        self.outage = kind
        self._outage_on()

    @rule()
    def outage_ends(self) -> None:
        self.outage = None
        self.world.fake.clear_faults()

    @rule(minutes=st.sampled_from((1, 4, 10, 45, 180, 600)))
    def time_passes(self, minutes: int) -> None:
        if self.clock.offset < timedelta(days=1):  # the actions' targets stay in the future
            self.clock.advance(timedelta(minutes=minutes))

    @rule()
    def sync(self) -> None:
        event(f"sync: {self._sync()}")

    def _sync(self, between: tuple[threading.Event, threading.Event] | None = None) -> str:
        """Sync the windows' range; with `between` (fetched, go), sync sets `fetched` once it has read Crossmark and
        waits for `go` before it applies what it read."""
        try:
            with self._plain_client() as client:
                sync_from_crossmark(self.world.engine, client if between is None else ReadThenWait(client, *between),
                                    *WINDOW, now=self.clock())
        except CrossmarkError:
            return "Crossmark down"
        finally:
            if between is not None:
                between[0].set()
        return "ok"

    @rule(seconds=st.sampled_from((0, 45, 200, 700, 3600)), injected=faults)
    def retry_pass(self, seconds: int, injected: list) -> None:
        """One pass of the retry loop (what RetryLoop runs at every tick), the clock moved past leases / backoff."""
        self.clock.advance(timedelta(seconds=seconds))
        self._settle(lambda: self.actions.reconcile(actor="retry loop"), injected)

    @rule(injected=faults)
    def retry_all(self, injected: list) -> None:
        self._settle(lambda: self.actions.retry_all("admin"), injected)

    def _settle(self, run: Callable[[], list[ActionResult]], injected: list) -> None:
        self._arm(injected)
        try:
            results = run()
        except SimulatedCrash:
            event("retry: crashed")
            return
        finally:
            self._disarm()
        for result in results:
            event(f"retry: {result.previous_status} -> {result.status}")
            assert result.status in ("done", "compensated", "needs_attention", "stuck"), result

    # --- after every step -----------------------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        state, self.handoff = self.handoff or self.snapshot(), None
        self.last = state
        self.check(state)

    def check(self, state: Snapshot) -> None:
        self.both_sides_agree_and_no_pair_is_split(state)
        self.no_write_twice(state)
        self.locks_live_exactly_as_long_as_their_operation(state)

    @staticmethod
    def both_sides_agree_and_no_pair_is_split(state: Snapshot) -> None:
        excluded = state.unsettled_refs
        for ref in REFS:
            if ref not in excluded:
                assert state.db[ref] == state.remote[ref], \
                    f"event {ref}: database {state.db[ref]} but Crossmark {state.remote[ref]}"
        for core_ref, supervisor_ref in PAIRS:
            if {core_ref, supervisor_ref} & excluded:
                continue
            for side, read in (("database", state.db), ("Crossmark", state.remote)):
                core, supervisor = read[core_ref], read[supervisor_ref]
                if supervisor.scheduled:
                    assert core.scheduled and core.start.date() == supervisor.start.date(), \
                        f"pair split in {side}: CORE {core_ref} {core}, Supervisor {supervisor_ref} {supervisor}"

    def no_write_twice(self, state: Snapshot) -> None:
        """Each recorded write step is one call of the client (a blind resend would be a second call), each call
        reached Crossmark at most once, and every unknown outcome was read back."""
        assert self.twice == [], f"one write call sent more than once: {self.twice}"
        with self.world.fake._lock:  # noqa: SLF001 - a consistent copy
            sent = sum(1 for r in self.world.fake.requests if counts_as_sent(r))
        writes = [s for s in state.steps if s.action in ("schedule", "unschedule")]
        assert self.write_calls == len(writes), f"{self.write_calls} write calls for {len(writes)} write steps"
        assert sent <= self.write_calls, f"{sent} write requests for {self.write_calls} write calls"
        forward: dict[tuple[int, int], int] = {}
        for step in writes:
            if step.purpose == "forward":
                forward[(step.operation_id, step.event_ref)] = forward.get((step.operation_id, step.event_ref), 0) + 1
        assert all(count == 1 for count in forward.values()), f"a forward write sent twice: {forward}"
        for step, following in zip(state.steps, [*state.steps[1:], None]):
            if step.action in ("schedule", "unschedule") and step.status == "unknown":
                assert following is not None and (following.operation_id, following.event_ref, following.action) \
                    == (step.operation_id, step.event_ref, "read_back"), f"unknown outcome not read back: {step}"

    def locks_live_exactly_as_long_as_their_operation(self, state: Snapshot) -> None:
        rows = state.operations
        for ref, operation_id in state.locks.items():
            assert rows[operation_id].status in status.HOLDING_LOCKS, \
                f"lock on {ref} held by operation {operation_id}, which is {rows[operation_id].status}"
        for row in state.holding.values():
            missing = [e["ref"] for e in row.events if state.locks.get(e["ref"]) != row.id]
            assert not missing, f"operation {row.id} ({row.status}) lost its locks on {missing}"
        stuck = sorted(row.id for row in rows.values() if row.status == status.STUCK)
        assert len(self.alerts) == len(set(self.alerts)), f"an operation alerted twice: {self.alerts}"
        assert set(stuck) <= set(self.alerts), f"stuck {stuck} but alerted {self.alerts}"

    def teardown(self) -> None:
        if sys.exc_info()[0] is not None:  # a step failed (or hypothesis stopped the example): that is the report
            return
        self.outage = None
        self._disarm()
        # Crossmark is back. The retry loop's next pass (its clock past every lease and every backoff) settles all
        # but what is stuck; retry --all settles the rest.
        self.clock.advance(timedelta(minutes=11))
        for result in self.actions.reconcile(actor="retry loop"):
            assert result.status in ("done", "compensated"), f"a healthy retry pass left {result}"
        left = {row.id: row.status for row in self.snapshot().holding.values()}
        assert set(left.values()) <= {status.STUCK}, f"after a healthy retry pass: {left}"
        for result in self.actions.retry_all("admin"):
            assert result.status in ("done", "compensated"), f"retry --all with Crossmark healthy left {result}"
        state = self.snapshot()
        left = {row.id: row.status for row in state.holding.values()}
        assert left == {}, f"operations still holding locks: {left}"
        assert state.locks == {}
        assert state.unsettled_refs == set()
        self.check(state)


@pytest.fixture(scope="module")
def fast_fake() -> Iterator[FakeCrossmark]:
    """The local HTTP fake with short holds: a timeout fault outlasts the clients' 0.1 s read timeout a little."""
    with FakeCrossmark(timeout_delay=0.15, slow_delay=0.03) as fake:
        yield fake


@pytest.fixture
def stateful_world(migrated: tuple[str, Engine], fast_fake: FakeCrossmark) -> Iterator[PairedWorld]:
    url, engine = migrated
    world = PairedWorld(engine, fast_fake, read_timeout=READ_TIMEOUT, url=url)
    yield world
    assert fast_fake.server_errors == [], fast_fake.server_errors


def test_paired_actions_keep_the_invariants_under_chaos(stateful_world: PairedWorld) -> None:
    examples = EXAMPLES if stateful_world.engine.dialect.name == "sqlite" else POSTGRES_EXAMPLES
    machine = type("PairedActionsMachine", (PairedActionsMachine,), {"world": stateful_world})
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=STEPS, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                               HealthCheck.function_scoped_fixture]))


def test_the_actions_clock_moves_only_when_a_rule_moves_it() -> None:
    """The machine's clock is no wall clock: time the machine takes (a loaded CPU, a held reply) moves nothing, so the
    undo window, leases and backoff depend on the example alone; `advance` moves it exactly, also for other threads."""
    clock = Clock()
    first = clock()
    threading.Event().wait(0.02)
    assert clock() == first == CLOCK_START
    reading: list[datetime] = []
    clock.advance(timedelta(seconds=130))
    reader = threading.Thread(target=lambda: reading.append(clock()))
    reader.start()
    reader.join(5)
    assert reading == [CLOCK_START + timedelta(seconds=130)] and clock.offset == timedelta(seconds=130)

