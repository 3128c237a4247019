"""Paired actions on a real database and the sandbox simulator: the sprint2 scenario, refusals, idempotency, undo,
compensation, locks. (The HTTP fault matrix lives in test_paired_actions_faults.py.)"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.crossmark.client import make_crossmark_client
from services.crossmark.sandbox import CrossmarkSimulator, simulator_from_database
from services.demo.demo_data import seed_sprint2_scenario
from services.actions.paired_actions import PairedActions
from services.settings import load_settings

TODAY = date.today()
DAY = TODAY + timedelta(days=7)  # the sprint2 COREs' date


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute)


@dataclass
class World:
    engine: object
    simulator: CrossmarkSimulator
    actions: PairedActions

    def db(self, ref: int) -> tuple | None:
        """(schedule_datetime, employee_id, crossmark id, condition, is_scheduled) of an event in our database."""
        with self.engine.connect() as connection:
            row = connection.execute(text(
                "SELECT s.schedule_datetime, s.employee_id, s.external_id, e.condition, e.is_scheduled FROM events e "
                "LEFT JOIN schedules s ON s.event_ref_num = e.project_ref_num WHERE e.project_ref_num = :ref"),
                {"ref": ref}).one()
        when = row[0] if row[0] is None or isinstance(row[0], datetime) else datetime.fromisoformat(str(row[0]))
        return (when, row[1], row[2], row[3], bool(row[4]))

    def remote(self, ref: int):  # noqa: ANN201
        with self.engine.connect() as connection:
            mplan = connection.execute(text("SELECT external_id FROM events WHERE project_ref_num = :r"),
                                       {"r": ref}).scalar_one()
        return self.simulator.scheduled_state()[mplan]

    def agree(self, *refs: int) -> None:
        """Invariant 1: our database and Crossmark hold the same placement for every event."""
        for ref in refs:
            when, _, scheduled_id, condition, is_scheduled = self.db(ref)
            remote = self.remote(ref)
            if remote is None:
                assert when is None and not is_scheduled and condition == "Unstaffed", (ref, self.db(ref))
            else:
                assert (when, scheduled_id) == (remote[1], remote[2]), (ref, self.db(ref), remote)
                assert is_scheduled and condition == "Scheduled" or condition in ("Scheduled", "Staffed")

    def count(self, sql: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(text(sql)).scalar_one()


@pytest.fixture
def world(engine) -> World:
    seed_sprint2_scenario(engine, today=TODAY)
    settings = load_settings({})
    simulator = simulator_from_database(engine, settings.crossmark_timezone)
    actions = PairedActions(engine, lambda: make_crossmark_client(settings, simulator=simulator))
    return World(engine, simulator, actions)


def test_sprint2_rescheduling_606001_moves_606002_by_the_rule(world):
    result = world.actions.reschedule(606001, at(DAY + timedelta(days=1), 11), "alice")
    assert result.status == "done", result.message
    assert world.db(606001)[0] == at(DAY + timedelta(days=1), 11)
    assert world.db(606002)[0] == at(DAY + timedelta(days=1), 13)  # offset +120
    assert world.db(606002)[1] == "US157005"  # same rep as before
    assert [e.ref for e in result.events] == [606001, 606002]
    world.agree(606001, 606002)
    assert world.count("SELECT COUNT(*) FROM dashboard_audit WHERE operation_id = %d AND event_ref IS NOT NULL"
                       % result.operation_id) == 2
    assert world.count("SELECT COUNT(*) FROM dashboard_event_locks") == 0


def test_sprint2_606999_moves_alone_with_a_warning_and_608001_leaves_608002_unstaffed(world):
    orphan = world.actions.reschedule(606999, at(DAY, 9, 45), "alice")
    assert orphan.status == "done" and orphan.warnings == ["CORE 606999 has no Supervisor event; it moves alone."]
    gap = world.actions.reschedule(608001, at(DAY, 10, 30), "alice")
    assert gap.status == "done" and "not scheduled; it is left alone" in gap.warnings[0]
    assert world.db(608002)[0] is None and world.db(608002)[3] == "Unstaffed"
    world.agree(606999, 608001, 608002)


def test_unschedule_takes_the_supervisor_along_and_undo_restores_both(world):
    before = (world.db(606001), world.db(606002))
    result = world.actions.unschedule(606001, "alice")
    assert result.status == "done"
    assert world.db(606001)[3:] == ("Unstaffed", False) and world.db(606002)[3:] == ("Unstaffed", False)
    world.agree(606001, 606002)
    undone = world.actions.undo(result.operation_id, "alice")
    assert undone.status == "done", undone.message
    assert [world.db(606001)[:2], world.db(606002)[:2]] == [before[0][:2], before[1][:2]]
    world.agree(606001, 606002)
    again = world.actions.undo(result.operation_id, "alice")
    assert again.status == "refused" and "already been undone" in again.message


def test_schedule_supervisor_of_608001(world):
    candidates = world.actions.supervisor_candidates(608001)
    assert candidates and all(c.job_title in ("Club Supervisor", "Lead Event Specialist") for c in candidates)
    result = world.actions.schedule_supervisor(608001, candidates[0].employee_id, "alice")
    assert result.status == "done", result.message
    assert world.db(608002)[0] == at(DAY, 13, 30) and world.db(608002)[3:] == ("Scheduled", True)
    world.agree(608002)
    refused = world.actions.schedule_supervisor(606999, candidates[0].employee_id, "alice")
    assert refused.status == "refused" and "no Supervisor event" in refused.message


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
    snapshot = [world.db(ref) for ref in (606001, 606002, 606999, 608001, 608002)]
    remote = world.simulator.scheduled_state()
    result = call(world.actions)
    assert result.status == "refused" and message in result.message, result.message
    assert [world.db(ref) for ref in (606001, 606002, 606999, 608001, 608002)] == snapshot
    assert world.simulator.scheduled_state() == remote
    assert world.count(f"SELECT COUNT(*) FROM dashboard_operations WHERE id = {result.operation_id} "
                       "AND status = 'refused'") == 1
    assert world.count(f"SELECT COUNT(*) FROM dashboard_audit WHERE operation_id = {result.operation_id}") == 1


def test_the_same_key_twice_runs_once(world):
    first = world.actions.reschedule(606001, at(DAY, 11), "alice", key="form-123")
    writes = world.count("SELECT COUNT(*) FROM dashboard_operation_steps")
    second = world.actions.reschedule(606001, at(DAY, 11), "alice", key="form-123")
    assert (second.operation_id, second.status) == (first.operation_id, "done")
    assert world.count("SELECT COUNT(*) FROM dashboard_operation_steps") == writes
    assert world.count("SELECT COUNT(*) FROM dashboard_operations") == 1


def test_a_failing_supervisor_step_compensates_the_core(world):
    before = (world.db(606001), world.db(606002))
    world.simulator.fail_next_writes(0)

    real_schedule = world.simulator._schedule  # noqa: SLF001 - the test breaks the second write on purpose
    calls = []

    def schedule(form):  # noqa: ANN001, ANN202
        calls.append(form["mPlanID"])
        if len(calls) == 2:
            from services.crossmark.sandbox import _json
            return _json(200, {"ok": 0, "message": "Rep not available"})
        return real_schedule(form)

    world.simulator._schedule = schedule  # noqa: SLF001
    result = world.actions.reschedule(606001, at(DAY, 11), "alice")
    assert result.status == "compensated", result.message
    assert "Rep not available" in result.message and "Undone" in result.message
    assert [world.db(606001)[:2], world.db(606002)[:2]] == [before[0][:2], before[1][:2]]
    world.agree(606001, 606002)  # including the new scheduled-event id the compensation produced
    steps = world.count(f"SELECT COUNT(*) FROM dashboard_operation_steps WHERE operation_id = {result.operation_id} "
                        "AND purpose = 'compensate' AND status = 'ok'")
    assert steps == 1


def test_an_event_in_an_unfinished_operation_is_locked(world):
    with world.engine.begin() as connection:
        connection.execute(text("INSERT INTO dashboard_event_locks (event_ref, operation_id, locked_at) "
                                "VALUES (606002, 77, :now)"), {"now": datetime.now()})
    result = world.actions.reschedule(606001, at(DAY, 11), "alice")
    assert result.status == "refused" and "part of operation 77" in result.message
    assert world.db(606001)[0] == at(DAY, 10, 30)
