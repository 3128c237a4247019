"""Paired actions on the sprint2 scenario: the rule, refusals, idempotency, undo, compensation, locks. On the one
paired-action harness (tests/paired_world.py: a real database per module and backend, the local HTTP fake of Crossmark,
the invariant checks); the in-process sandbox answers as the fake does (tests/test_crossmark_contract.py). The HTTP
fault matrix lives in test_paired_actions_faults.py."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.paired_world import DAY, PairedWorld, Side, at, fake_server, migrated, world  # noqa: F401 - fixtures


def event_changes(world: PairedWorld, operation_id: int) -> int:
    """Audit entries of one operation that name an event (one per event it changed)."""
    return len([entry for entry in world.audit(operation_id) if entry["event_ref"] is not None])


def test_sprint2_rescheduling_606001_moves_606002_by_the_rule(world):
    supervisor_before = world.db(606002)
    result = world.actions.reschedule(606001, at(DAY + timedelta(days=1), 11), "alice")
    operation = world.check(result, status="done")  # agreement, the journal, one write per step, no lock left
    assert world.db(606001).start == at(DAY + timedelta(days=1), 11)
    supervisor = world.db(606002)
    assert supervisor.start == at(DAY + timedelta(days=1), 13)  # offset +120
    assert supervisor.rep_id == supervisor_before.rep_id == "900005"  # same rep (Tom Alvarez, US157005) as before
    assert [e.ref for e in result.events] == [606001, 606002] == [e["ref"] for e in operation["events"]]
    assert event_changes(world, result.operation_id) == 2
    assert world.locks() == {}


def test_sprint2_606999_moves_alone_with_a_warning_and_608001_leaves_608002_unstaffed(world):
    orphan = world.actions.reschedule(606999, at(DAY, 9, 45), "alice")
    world.check(orphan, status="done")
    assert orphan.warnings == ["CORE 606999 has no Supervisor event; it moves alone."]
    world.arm()
    gap = world.actions.reschedule(608001, at(DAY, 10, 30), "alice")
    world.check(gap, status="done")
    assert "not scheduled; it is left alone" in gap.warnings[0]
    assert world.both(608002) == (Side(False), Side(False))  # still Unstaffed, on both sides


def test_unschedule_takes_the_supervisor_along_and_undo_restores_both(world):
    before = world.snapshot()
    result = world.actions.unschedule(606001, "alice")
    world.check(result, status="done")
    assert world.both(606001) == world.both(606002) == (Side(False), Side(False))  # Unstaffed, on both sides
    world.arm()
    undone = world.actions.undo(result.operation_id, "alice")
    world.check(undone, status="done")
    assert world.snapshot() == before  # both back at their times with their reps, in both places
    world.arm()
    again = world.actions.undo(result.operation_id, "alice")
    world.check(again, status="refused")
    assert "already been undone" in again.message


def test_schedule_supervisor_of_608001(world):
    candidates = world.actions.supervisor_candidates(608001)
    assert candidates and all(c.job_title in ("Club Supervisor", "Lead Event Specialist") for c in candidates)
    result = world.actions.schedule_supervisor(608001, candidates[0].employee_id, "alice")
    world.check(result, status="done")
    supervisor = world.db(608002)
    assert supervisor.scheduled and supervisor.start == at(DAY, 13, 30)  # Scheduled (Side checks the condition)
    world.pairs_together()
    world.arm()
    refused = world.actions.schedule_supervisor(606999, candidates[0].employee_id, "alice")
    world.check(refused, status="refused")
    assert "no Supervisor event" in refused.message


@pytest.mark.parametrize(("call", "message"), [
    (lambda a: a.reschedule(999999, at(DAY, 10), "alice"), "No event with ref 999999"),
    (lambda a: a.reschedule(606001, at(DAY - timedelta(days=30), 10), "alice"), "is in the past"),
    (lambda a: a.reschedule(606001, at(DAY + timedelta(days=30), 10), "alice"), "outside its window"),
    (lambda a: a.reschedule(606001, at(DAY, 23, 30), "alice"), "not on the CORE's date"),
    (lambda a: a.reschedule(606001, at(DAY, 10, 30), "alice"), "already scheduled at"),
    (lambda a: a.reschedule(608002, at(DAY, 12), "alice"), "not scheduled"),
    (lambda a: a.reschedule(606001, at(DAY, 11), "  "), "Say who is acting"),
    (lambda a: a.schedule_supervisor(608001, "US157002", "alice"), "a Supervisor event needs a Club Supervisor"),
    (lambda a: a.schedule_supervisor(608001, "nobody", "alice"), "No employee with id 'nobody'"),
    (lambda a: a.undo(424242, "alice"), "No operation 424242"),
])
def test_bad_input_is_refused_recorded_and_changes_nothing(world, call, message):
    before = world.snapshot()
    result = call(world.actions)
    # refused: one operation record, one audit entry, no step, nothing sent to Crossmark, both sides in agreement
    world.check(result, status="refused")
    assert message in result.message, result.message
    assert world.snapshot() == before
    assert world.operation_ids() == [result.operation_id]


def test_the_same_key_twice_runs_once(world):
    first = world.actions.reschedule(606001, at(DAY, 11), "alice", key="form-123")
    world.check(first, status="done")
    steps = world.steps(first.operation_id)
    world.arm()
    second = world.actions.reschedule(606001, at(DAY, 11), "alice", key="form-123")
    assert (second.operation_id, second.status) == (first.operation_id, "done")
    assert world.steps(first.operation_id) == steps and world.writes_of(world.mark) == []  # nothing sent again
    assert world.operation_count() == 1


def test_a_failing_supervisor_step_compensates_the_core(world):
    before = world.snapshot()
    world.arm({2: "ok0"})  # Crossmark refuses the second write (the Supervisor's): ok: 0
    result = world.actions.reschedule(606001, at(DAY, 11), "alice")
    world.check(result, status="compensated")  # including the new scheduled-event id the compensation produced
    assert "injected ok: 0" in result.message and "Undone" in result.message
    assert world.snapshot() == before
    compensations = [step for step in world.steps(result.operation_id)
                     if step["purpose"] == "compensate" and step["status"] == "ok"]
    assert [step["event_ref"] for step in compensations] == [606001]


def test_an_event_in_an_unfinished_operation_is_locked(world):
    world.execute("INSERT INTO dashboard_event_locks (event_ref, operation_id, locked_at) VALUES (606002, 77, :now)",
                  now=datetime.now())
    world.arm()
    result = world.actions.reschedule(606001, at(DAY, 11), "alice")
    assert result.status == "refused" and "part of operation 77" in result.message
    assert world.db(606001).start == at(DAY, 10, 30) and world.writes_of(world.mark) == []
