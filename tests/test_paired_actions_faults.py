"""The fault matrix of the paired actions (issue 5): reschedule, unschedule and schedule-Supervisor against the local
HTTP fake of Crossmark and a real database (SQLite and PostgreSQL), one test per failure point.

Every test checks both sides after the action (tests/paired_world.py `PairedWorld.check`): the fake's state against our
rows (invariant 1, or needs_attention with its locks kept), the operation record with its steps and audit entries
(invariant 3), and that each write request the fake received is one recorded step, never a resend (invariant 4).
(The process-kill cases live in test_paired_actions_crash.py, the random sequences in test_paired_actions_property.py.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from services.crossmark.sandbox import PATH_SCHEDULE
from services.actions.executor import ActionResult
from services.actions.paired_actions import PairedActions
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME
from tests.paired_world import DAY, TODAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Spec:
    """One paired action on the sprint2 scenario, with what it plans and where it takes the events."""

    name: str
    run: Callable[..., ActionResult]  # (actions, key=None)
    events: tuple[int, ...]  # planned events, in step order (CORE first)
    action: str  # the Crossmark write of each forward step: schedule / unschedule
    target: dict[int, tuple]  # (scheduled, start, RepID) of each event after a done action
    refuse: Callable[[PairedActions], ActionResult]
    refusal: str
    guards: tuple[int, ...] = ()  # the other half of the pair: locked but not changed
    compensation: str = "unschedule"  # the Crossmark write that takes an event back (to scheduled: "schedule")
    last_label: str = "Supervisor"  # how messages name the last event written

    def __str__(self) -> str:
        return self.name


RESCHEDULE = Spec(
    "reschedule", lambda actions, key=None: actions.reschedule(606001, at(DAY, 11), "alice", key=key),
    (606001, 606002), "schedule", {606001: (True, at(DAY, 11), "900001"), 606002: (True, at(DAY, 13), "900005")},
    lambda actions: actions.reschedule(606001, at(TODAY - timedelta(days=1), 10, 30), "alice"), "is in the past",
    compensation="schedule")
UNSCHEDULE = Spec(
    "unschedule", lambda actions, key=None: actions.unschedule(606001, "alice", key=key),
    (606001, 606002), "unschedule", {606001: (False, None, None), 606002: (False, None, None)},
    lambda actions: actions.unschedule(608002, "alice"), "is not scheduled; there is nothing to unschedule",
    compensation="schedule")
SUPERVISOR = Spec(
    "schedule_supervisor", lambda actions, key=None: actions.schedule_supervisor(608001, "US157005", "alice", key=key),
    (608002,), "schedule", {608002: (True, at(DAY, 13, 30), "900005")},
    lambda actions: actions.schedule_supervisor(608001, "US157002", "alice"),
    "a Supervisor event needs a Club Supervisor or Lead Event Specialist", guards=(608001,))
STAFF = Spec(  # staff an Unstaffed Supervisor beside its scheduled CORE: one write, the CORE a guard
    "staff", lambda actions, key=None: actions.staff(608002, "US157005", at(DAY, 13, 30), "alice", key=key),
    (608002,), "schedule", {608002: (True, at(DAY, 13, 30), "900005")},
    lambda actions: actions.staff(608002, "US157002", at(DAY, 13, 30), "alice", override="needed"),
    "a Supervisor event needs a Club Supervisor or Lead Event Specialist", guards=(608001,))
REASSIGN = Spec(  # the lone CORE 606999 from Marcus to Jade Monroe, at the same time
    "reassign", lambda actions, key=None: actions.reassign(606999, "US157006", "alice", key=key),
    (606999,), "schedule", {606999: (True, at(DAY, 11), "900006")},
    lambda actions: actions.reassign(606999, "US157001", "alice"), "already works CORE 606001",
    compensation="schedule", last_label="CORE")
SPECS = (RESCHEDULE, UNSCHEDULE, SUPERVISOR, STAFF, REASSIGN)
PAIRED = (RESCHEDULE, UNSCHEDULE)  # the actions that write a CORE and then its Supervisor


def everything(world: PairedWorld) -> dict:
    """Both sides of every event, scheduled-event ids included: for "nothing changed anywhere"."""
    return {ref: world.both(ref) for ref in world.mplan}


def assert_at_target(world: PairedWorld, spec: Spec) -> None:
    for ref, placement in spec.target.items():
        assert world.db(ref).placement == placement == world.remote(ref).placement, (ref, world.both(ref))


def assert_placements(world: PairedWorld, expected: dict[int, tuple]) -> None:
    """Same placements as `expected` (a snapshot) on both sides, ids aside (a compensation renews them)."""
    assert world.snapshot() == expected


def read_back(ref: int) -> tuple:
    return (ref, "read_back", "resolve", "ok")


# --- refused before anything is sent ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_refused_by_validation_sends_nothing_and_changes_nothing(world, spec):
    before = everything(world)
    world.arm()
    result = spec.refuse(world.actions)
    world.check(result, status="refused")
    assert spec.refusal in result.message
    assert world.fake.requests == []  # not even a login
    assert everything(world) == before and world.locks() == {}


# --- the first write (the CORE's; for schedule-Supervisor its only write) -------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_first_write_refused_by_crossmark_changes_nothing(world, spec):
    before = everything(world)
    world.arm({1: "ok0"})
    result = spec.run(world.actions)
    world.check(result, status="compensated")
    assert "could not be changed in Crossmark" in result.message and "injected ok: 0" in result.message
    assert world.step_summary(result.operation_id) == [(spec.events[0], spec.action, "forward", "failed")]
    assert everything(world) == before
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (1, 0)


NOT_APPLIED = ("5xx_before", "timeout_before", "reset_before", "html_error")


@pytest.mark.parametrize("fault", NOT_APPLIED)
@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_first_write_unknown_outcome_read_back_as_not_applied(world, spec, fault):
    before = everything(world)
    world.arm({1: fault})
    result = spec.run(world.actions)
    world.check(result, status="compensated")
    assert "read back: not applied" in result.message
    first = spec.events[0]
    assert world.step_summary(result.operation_id) == [(first, spec.action, "forward", "unknown"), read_back(first)]
    assert everything(world) == before
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (1, 0)  # read back, never resent


APPLIED = [pytest.param(spec, fault, id=f"{spec}-{fault}") for spec in SPECS
           for fault in ("5xx_after", "timeout_after", "reset_after", "missing_id")
           if not (fault == "missing_id" and spec.action == "unschedule")]  # its reply carries no id to lose


@pytest.mark.parametrize(("spec", "fault"), APPLIED)
def test_first_write_unknown_outcome_read_back_as_applied(world, spec, fault):
    world.arm({1: fault})
    result = spec.run(world.actions)
    world.check(result, status="done")
    assert_at_target(world, spec)
    world.pairs_together()
    first, *rest = spec.events
    assert world.step_summary(result.operation_id) == [
        (first, spec.action, "forward", "unknown"), read_back(first),
        *[(ref, spec.action, "forward", "ok") for ref in rest]]
    n = len(spec.events)
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (n, n)


# --- the Supervisor's write, after the CORE's succeeded ---------------------------------------------------------------


@pytest.mark.parametrize("fault", ("ok0", "5xx_before", "timeout_before"))
@pytest.mark.parametrize("spec", PAIRED, ids=str)
def test_supervisor_write_fails_and_the_core_is_compensated(world, spec, fault):
    before, core_id = world.snapshot(), world.db(606001).scheduled_id
    world.arm({2: fault})
    result = spec.run(world.actions)
    world.check(result, status="compensated")
    assert "Supervisor 606002" in result.message and "Undone: nothing changed" in result.message
    assert_placements(world, before)  # invariant 2: neither moved
    assert world.db(606001).scheduled_id != core_id  # the compensation's new Crossmark id, recorded (invariant 1)
    supervisor_steps = [(606002, spec.action, "forward", "failed")] if fault == "ok0" else \
        [(606002, spec.action, "forward", "unknown"), read_back(606002)]
    assert world.step_summary(result.operation_id) == [
        (606001, spec.action, "forward", "ok"), *supervisor_steps,
        read_back(606001), (606001, "schedule", "compensate", "ok")]  # compensation reads back first (issue 16 §1)
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (3, 2)


@pytest.mark.parametrize("fault", ("5xx_after", "timeout_after", "reset_after"))
@pytest.mark.parametrize("spec", PAIRED, ids=str)
def test_supervisor_write_unknown_outcome_read_back_as_applied(world, spec, fault):
    world.arm({2: fault})
    result = spec.run(world.actions)
    world.check(result, status="done")
    assert_at_target(world, spec)
    world.pairs_together()
    assert world.step_summary(result.operation_id) == [
        (606001, spec.action, "forward", "ok"), (606002, spec.action, "forward", "unknown"), read_back(606002)]
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (2, 2)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_last_write_unknown_and_unreadable_needs_attention_until_retried(world, spec):
    """The Supervisor's write answers 500 after acting and the read-back fails too: the CORE is compensated, the
    Supervisor's state is unknown, so the operation needs attention (locks kept, message says what is where);
    Retry, once Crossmark answers again, restores agreement."""
    before = world.snapshot()
    last = len(spec.events)
    world.arm({last: ["5xx_after", ("planning", "5xx_before", 3)]})
    result = spec.run(world.actions)
    operation = world.check(result, status="needs_attention")
    supervisor = spec.events[-1]
    assert f"{spec.last_label} {supervisor}: its state in Crossmark is unknown" in result.message
    assert set(world.locks()) == set(spec.events) | set(spec.guards)
    assert all(world.db(ref).placement == before[ref][0] for ref in spec.events)  # our database untouched
    assert world.remote(supervisor).placement == spec.target[supervisor]  # the write did land
    if len(spec.events) == 2:
        assert world.remote(606001).placement == before[606001][1]  # the CORE was compensated
        world.agree(606001)
    assert "compensate" not in {s["purpose"] for s in world.steps(result.operation_id)
                                if s["event_ref"] == supervisor}
    # while it needs attention, the pair is locked: a second action is refused with a clear message
    other = world.actions.reschedule(spec.guards[0] if spec.guards else spec.events[0], at(DAY, 9, 45), "bob")
    assert other.status == "refused" and f"part of operation {result.operation_id}" in other.message
    world.arm()
    retried = world.actions.retry(result.operation_id, "admin")
    assert retried.operation_id == result.operation_id
    expected = "done" if len(spec.events) == 1 else "compensated"  # all at target: finish; else undo what landed
    world.check(retried, status=expected)
    assert world.locks() == {} and operation["id"] == retried.operation_id
    if expected == "done":
        assert_at_target(world, spec)
    else:
        assert_placements(world, before)
    world.pairs_together()


# --- compensation -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "status"), [("ok0", "needs_attention"), ("timeout_before", "needs_attention"),
                                               ("5xx_after", "compensated")])
@pytest.mark.parametrize("spec", PAIRED, ids=str)
def test_compensation_of_the_core(world, spec, fault, status):
    """The Supervisor's write fails; then the CORE's compensation fails (needs attention, says which event is where,
    keeps the locks) or has an unknown outcome that is read back as applied (compensated)."""
    before = world.snapshot()
    world.arm({2: "ok0", 3: fault})
    result = spec.run(world.actions)
    world.check(result, status=status)
    steps = world.step_summary(result.operation_id)
    assert steps[:2] == [(606001, spec.action, "forward", "ok"), (606002, spec.action, "forward", "failed")]
    assert steps[2] == read_back(606001)  # compensation undoes only what is still where this operation put it
    assert steps[3][:3] == (606001, "schedule", "compensate")
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (3, 1 if status == "needs_attention" else 2)
    if status == "compensated":
        assert steps[4:] == [read_back(606001)]
        assert_placements(world, before)
        return
    core_now = spec.target[606001]
    where = f"{core_now[1]:%Y-%m-%d %H:%M}" if core_now[0] else "unscheduled"
    assert f"CORE 606001 is at {where} in Crossmark but {before[606001][0][1]:%Y-%m-%d %H:%M} in our database" \
        in result.message
    assert world.locks() == {606001: result.operation_id, 606002: result.operation_id}
    assert world.remote(606001).placement == core_now and world.db(606001).placement == before[606001][0]
    world.agree(606002)
    blocked = spec.run(world.actions)
    assert blocked.status == "refused" and f"part of operation {result.operation_id}" in blocked.message
    world.arm()
    retried = world.actions.retry(result.operation_id, "admin")
    world.check(retried, status="compensated")
    assert_placements(world, before)
    world.pairs_together()


@pytest.mark.parametrize("spec", PAIRED, ids=str)
def test_compensation_lands_but_its_outcome_cannot_be_read_then_retry_records_the_new_id(world, spec):
    """The CORE's compensation is carried out but its reply is lost and the read-back fails: needs attention. Retry
    finds the CORE back in place under a new Crossmark id, and our row must take that id (else a later unschedule
    would name an id Crossmark no longer knows)."""
    before = world.snapshot()
    world.arm({2: "ok0", 3: ["5xx_after", ("planning", "5xx_before", 3)]})
    result = spec.run(world.actions)
    world.check(result, status="needs_attention")
    assert world.remote(606001).placement == before[606001][1]  # the compensation did land
    assert world.remote(606001).scheduled_id != world.db(606001).scheduled_id
    world.arm()
    retried = world.actions.retry(result.operation_id, "admin")
    world.check(retried, status="compensated")  # agreement, scheduled-event ids included
    assert_placements(world, before)
    follow_up = world.actions.unschedule(606001, "alice")  # uses the recorded id: Crossmark must know it
    assert follow_up.status == "done", follow_up.message
    world.agree()


def test_compensation_of_the_supervisor_fails_after_a_failed_local_commit(world):
    """schedule-Supervisor has one write: its compensation only runs when the local commit fails."""
    world.refuse_local_changes()
    world.arm({2: "ok0"})
    result = SUPERVISOR.run(world.actions)
    world.check(result, status="needs_attention")
    assert "the database refused the change" in result.message
    assert f"Supervisor 608002 is at {at(DAY, 13, 30):%Y-%m-%d %H:%M} in Crossmark but unscheduled in our database" \
        in result.message
    assert world.locks() == {608002: result.operation_id, 608001: result.operation_id}
    assert world.step_summary(result.operation_id) == [(608002, "schedule", "forward", "ok"), read_back(608002),
                                                       (608002, "unschedule", "compensate", "failed")]
    world.arm()
    retried = world.actions.retry(result.operation_id, "admin")  # the database still refuses: undo in Crossmark
    world.check(retried, status="compensated")
    assert world.db(608002) == world.remote(608002) and not world.db(608002).scheduled


# --- the final local commit fails after every remote step succeeded ---------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_local_commit_fails_after_remote_success_and_crossmark_is_compensated(world, spec):
    before = world.snapshot()
    world.refuse_local_changes()
    world.arm()
    result = spec.run(world.actions)
    world.check(result, status="compensated")
    assert "Crossmark was changed but the database refused the change" in result.message
    assert_placements(world, before)
    back = spec.compensation
    assert world.step_summary(result.operation_id) == [
        *[(ref, spec.action, "forward", "ok") for ref in spec.events],
        *[step for ref in reversed(spec.events) for step in (read_back(ref), (ref, back, "compensate", "ok"))]]
    n = len(spec.events)
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (2 * n, 2 * n)


def test_when_the_database_refuses_the_compensation_too_the_operation_still_ends_for_a_person(world):
    """The final commit fails and so does recording the compensation (every schedules UPDATE refused): the operation
    must not stay 'applying' with its locks until a reconcile; it ends needs_attention, saying why."""
    world.refuse_updates("schedules")
    world.arm()
    result = RESCHEDULE.run(world.actions)
    world.check(result, status="needs_attention")
    assert "Crossmark was driven back, but our database refused to record it (" in result.message
    assert world.locks() == {606001: result.operation_id, 606002: result.operation_id}  # kept for the person
    for ref in (606001, 606002):  # Crossmark is back where our rows are; only its new ids are not recorded here
        db, remote = world.both(ref)
        assert (db.scheduled, db.start, db.rep_id) == (remote.scheduled, remote.start, remote.rep_id)
        assert db.scheduled_id != remote.scheduled_id


@pytest.mark.parametrize("spec", PAIRED, ids=str)
def test_concurrent_edit_of_the_supervisor_row_compensates_both(world, spec):
    """Between validation and the final commit, someone changes the Supervisor's row (here: its Crossmark id, as a
    sync would): the state check fails, both events are restored in Crossmark and our rows get the new ids."""
    before = world.snapshot()
    world.arm({2: lambda path: world.execute("UPDATE schedules SET external_id = '777' WHERE event_ref_num = 606002")})
    result = spec.run(world.actions)
    world.check(result, status="compensated")
    assert "Supervisor 606002 changed in our database meanwhile" in result.message
    assert_placements(world, before)
    assert world.db(606002).scheduled_id not in ("777", "5606002")
    assert [s[2] for s in world.step_summary(result.operation_id)] == ["forward", "forward", "resolve", "compensate",
                                                                         "resolve", "compensate"]


@pytest.mark.parametrize("spec", PAIRED, ids=str)
def test_a_sync_copying_the_half_changed_state_is_put_back_by_the_compensation(world, spec):
    """A sync runs between the CORE's write and the Supervisor's and copies Crossmark's CORE (already changed) into our
    row: the commit's check fails, Crossmark is compensated, and our row must follow it back (else the operation
    would end "compensated" with our database and Crossmark silently apart)."""
    before = world.snapshot()

    def sync(path: str) -> None:
        remote = world.remote(606001)
        if remote.scheduled:
            world.execute("UPDATE schedules SET schedule_datetime = :start, external_id = :id "
                          "WHERE event_ref_num = 606001", start=remote.start, id=remote.scheduled_id)
        else:
            world.execute("DELETE FROM schedules WHERE event_ref_num = 606001")
            world.execute("UPDATE events SET condition = 'Unstaffed', is_scheduled = :no "
                          "WHERE project_ref_num = 606001", no=False)

    world.arm({2: sync})
    result = spec.run(world.actions)
    world.check(result, status="compensated")
    assert "CORE 606001 changed in our database meanwhile" in result.message
    assert_placements(world, before)
    restored = [e for e in world.audit(result.operation_id) if e["action"].endswith(" restored")]
    # The CORE's row is put back to its placement; any other event Crossmark now holds under a renewed id gets its new
    # id, recorded too (a sync that read before must see that entry and leave the row alone).
    renewed_id = [e for e in restored if "new scheduled-event id" in (e["message"] or "")]
    assert [e["event_ref"] for e in restored if e not in renewed_id] == [606001]
    for entry in renewed_id:
        after = entry["after"] if isinstance(entry["after"], dict) else json.loads(entry["after"])
        assert entry["event_ref"] != 606001 and after["scheduled_event_id"] == world.db(entry["event_ref"]).scheduled_id


def test_core_moved_while_its_supervisor_is_scheduled_is_a_concurrent_edit(world):
    """schedule-Supervisor relies on the CORE's time: if the CORE moves meanwhile (in both places, by another writer),
    the Supervisor would land off the rule; the commit's check on the CORE refuses and Crossmark is compensated."""
    world.arm({1: lambda path: world.move_behind_our_back(608001, at(DAY, 9, 45))})
    result = SUPERVISOR.run(world.actions)
    world.check(result, status="compensated")
    assert "Event 608001, the other half of the pair, changed in our database meanwhile" in result.message
    assert not world.db(608002).scheduled and not world.remote(608002).scheduled
    world.pairs_together()


# --- exactly once -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("first_fault", (None, "ok0"), ids=("after-done", "after-compensated"))
@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_same_key_twice_sends_nothing_the_second_time(world, spec, first_fault):
    world.arm({1: first_fault} if first_fault else None)
    first = spec.run(world.actions, key="form-42")
    world.check(first, status="compensated" if first_fault else "done")
    requests, operations, state = len(world.fake.requests), world.operation_count(), everything(world)
    audit = len(world.audit(first.operation_id))
    again = spec.run(world.make_actions(), key="form-42")  # a page rerun or a CLI retry: a fresh PairedActions
    assert (again.operation_id, again.status, again.message) == (first.operation_id, first.status, first.message)
    assert len(world.fake.requests) == requests  # nothing sent, not even a read or a login
    assert world.operation_count() == operations and len(world.audit(first.operation_id)) == audit
    assert everything(world) == state


def test_same_key_from_two_threads_at_once_runs_once(world):
    """A double click: two submissions of one form race; one operation, its writes sent once."""
    world.read_timeout = 2.0  # the held writes below are slow, not lost
    world.fake.inject(PATH_SCHEDULE, "slow_reply", times=None, delay=0.2)
    barrier, results = threading.Barrier(2), []

    def submit() -> None:
        barrier.wait()
        results.append(RESCHEDULE.run(world.make_actions(), key="double-click"))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 2 and results[0].operation_id == results[1].operation_id
    # The second sees the first in flight: it is told so (in_progress), never the passing status as its answer.
    assert {r.status for r in results} <= {"done", "in_progress"}
    assert world.operation_count() == 1 and world.operation(results[0].operation_id)["status"] == "done"
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (2, 2)
    assert_at_target(world, RESCHEDULE)
    world.agree()


# --- two actions on one pair at once ----------------------------------------------------------------------------------

CONFLICTS = [
    ("reschedule-vs-reschedule", RESCHEDULE, lambda a: a.reschedule(606001, at(DAY, 9, 45), "bob"), 606001),
    ("reschedule-vs-supervisor-alone", RESCHEDULE, lambda a: a.unschedule(606002, "bob"), 606002),
    ("unschedule-vs-reschedule", UNSCHEDULE, lambda a: a.reschedule(606001, at(DAY, 9, 45), "bob"), 606001),
    ("supervisor-vs-core-reschedule", SUPERVISOR, lambda a: a.reschedule(608001, at(DAY, 9, 45), "bob"), 608001),
    ("core-reschedule-vs-supervisor", Spec(
        "reschedule 608001", lambda actions, key=None: actions.reschedule(608001, at(DAY, 9, 45), "alice", key=key),
        (608001,), "schedule", {608001: (True, at(DAY, 9, 45), "900003")}, RESCHEDULE.refuse, "",
        guards=(608002,)), lambda a: a.schedule_supervisor(608001, "US157005", "bob"), 608002),
]


@pytest.mark.parametrize(("first", "second", "locked"), [c[1:] for c in CONFLICTS], ids=[c[0] for c in CONFLICTS])
def test_a_second_action_on_a_pair_in_flight_gets_a_clear_conflict(world, first, second, locked):
    """While the first action's first write is on the wire, a second thread acts on the same pair."""
    seen: list = []

    def meanwhile(path: str) -> None:
        thread = threading.Thread(target=lambda: seen.append(second(world.make_actions())))
        thread.start()
        thread.join(10)

    world.arm({1: meanwhile})
    result = first.run(world.actions)
    world.check(result, status="done")
    assert_at_target(world, first)
    world.pairs_together()
    (loser,) = seen
    assert loser.status == "refused", loser
    assert f"Event {locked} is part of operation {result.operation_id}, which is still running" in loser.message
    assert world.operation(loser.operation_id)["status"] == "refused" and world.steps(loser.operation_id) == []
    assert world.fake.writes_sent() == len(first.events)  # the loser sent nothing


def test_two_threads_racing_for_one_pair(world):
    """Both start at once: exactly one wins; the other is refused with the conflict message (never a raw database
    error, even when both insert the same lock at the same moment)."""
    world.read_timeout = 2.0  # the held writes below are slow, not lost
    world.fake.inject(PATH_SCHEDULE, "slow_reply", times=None, delay=0.3)  # the winner holds the pair >= 0.6 s
    barrier, results, errors = threading.Barrier(2), {}, []

    def act(name: str, hour: int) -> None:
        actions = world.make_actions()
        barrier.wait()
        try:
            results[name] = actions.reschedule(606001, at(DAY, hour), name)
        except Exception as error:  # noqa: BLE001 - anything but an ActionResult is the bug this test is for
            errors.append(error)

    threads = [threading.Thread(target=act, args=("ann", 11)), threading.Thread(target=act, args=("ben", 9))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert sorted(r.status for r in results.values()) == ["done", "refused"], results
    winner = next(r for r in results.values() if r.status == "done")
    loser = next(r for r in results.values() if r.status == "refused")
    assert f"part of operation {winner.operation_id}" in loser.message
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (2, 2)
    world.agree()
    world.pairs_together()
    assert world.locks() == {}


def test_two_processes_racing_for_one_pair_on_postgresql(world):
    """Two CLI processes reschedule 606001 at the same time (PostgreSQL: real concurrent transactions)."""
    if world.engine.dialect.name != "postgresql":
        pytest.skip("the two-process race is run on PostgreSQL")
    world.fake.inject(PATH_SCHEDULE, "slow_reply", times=None, delay=0.6)  # the winner holds the pair >= 1.2 s
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CROSSMARK_", "SCHEDULER_"))}
    env.update(CROSSMARK_BASE_URL=world.fake.url, CROSSMARK_USERNAME=FAKE_USERNAME, CROSSMARK_PASSWORD=FAKE_PASSWORD,
               CROSSMARK_TIMEZONE=FAKE_TIMEZONE, CROSSMARK_READ_TIMEOUT="5")
    from services.access.accounts import SETUP, OPERATOR, add_user, list_users

    known = {user["username"] for user in list_users(world.engine)}
    for name in ("ann", "ben"):  # the CLI acts only for active accounts whose role allows it
        if name not in known:
            add_user(world.engine, name, OPERATOR, "long-enough-password", by=SETUP)
    commands = [[sys.executable, "-m", "services", "reschedule", "--db", world.url, "--event", "606001",
                 "--to", f"{at(DAY, hour):%Y-%m-%dT%H:%M}", "--user", user, "--json"]
                for user, hour in (("ann", 11), ("ben", 9))]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for command in commands]
    outputs = [process.communicate(timeout=60) for process in processes]
    codes = [process.returncode for process in processes]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sorted(codes) == [0, 1], outputs
    assert sorted(r["status"] for r in results) == ["done", "refused"], results
    winner = next(r for r in results if r["status"] == "done")
    loser = next(r for r in results if r["status"] == "refused")
    assert f"part of operation {winner['operation_id']}" in loser["message"]
    assert (world.fake.writes_sent(), world.fake.writes_acted()) == (2, 2)
    world.agree()
    world.pairs_together()
    assert world.locks() == {} and world.operation_count() == 2
    assert {e["ref"] for e in winner["events"]} == {606001, 606002}


# --- undo and the other half of the pair ----------------------------------------------------------------------------


def test_undo_is_refused_when_the_other_half_of_the_pair_changed_since(world):
    """608001 moved alone (its Supervisor was Unstaffed); then its Supervisor was scheduled by the rule. Undoing the
    move now would leave the Supervisor off the rule: refused, with a clear message, nothing sent."""
    moved = world.actions.reschedule(608001, at(DAY, 9, 45), "alice")
    assert moved.status == "done" and world.operation(moved.operation_id)["request"]["guards"]["608002"] == {
        "scheduled": False, "start": None, "employee_id": None, "rep_id": None, "scheduled_event_id": None}
    staffed = world.actions.schedule_supervisor(608001, "US157005", "alice")
    assert staffed.status == "done" and world.db(608002).start == at(DAY, 11, 45)
    world.arm()
    undo = world.actions.undo(moved.operation_id, "alice")
    world.check(undo, status="refused")
    assert f"Event 608002, the other half of the pair, changed since operation {moved.operation_id}" in undo.message
    world.pairs_together()
    assert world.db(608001).start == at(DAY, 9, 45)


def test_undo_after_a_later_compensated_attempt_still_works(world):
    """A later attempt on the pair that was compensated leaves the same placements under new Crossmark ids: that is
    no change for undo, which must still be offered and must take both events back."""
    before = world.snapshot()
    first = world.actions.reschedule(606001, at(DAY, 11), "alice")
    assert first.status == "done"
    world.arm({2: "ok0"})
    world.check(world.actions.reschedule(606001, at(DAY, 9, 45), "alice"), status="compensated")
    world.arm()
    undo = world.actions.undo(first.operation_id, "alice")
    world.check(undo, status="done")
    assert_placements(world, before)
    world.pairs_together()
