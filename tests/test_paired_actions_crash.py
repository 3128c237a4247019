"""Invariant 5 (crash-safe): a process killed (SIGKILL) in the middle of a paired action leaves an operation that
reconcile finishes or undoes, restoring agreement (1) and the pair (2); locks released.

The action runs in a real subprocess against the local HTTP fake of Crossmark and a real database (SQLite and
PostgreSQL); the fake holds one request on the wire (`late_write` / `timeout_before` / a slow login) so the test can
kill the process at a known point, then lets the request land (or not) before reconciling.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest

from services.crossmark.sandbox import PATH_LOGIN, PATH_SCHEDULE, PATH_UNSCHEDULE
from tests.cli_runner import run_cli
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME
from tests.paired_world import DAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ACTION_SCRIPT = """
import sys
from datetime import datetime
from services.crossmark.client import CrossmarkClient
from services.store.database import make_engine
from services.actions.paired_actions import PairedActions

url, base_url, username, password, timezone_name, kind = sys.argv[1:7]
engine = make_engine(url)
actions = PairedActions(engine, lambda: CrossmarkClient(base_url=base_url, username=username, password=password,
                                                        timezone_name=timezone_name, read_timeout=10))
if kind == "reschedule":
    result = actions.reschedule(606001, datetime.fromisoformat(sys.argv[7]), "crashy", key="crash")
elif kind == "unschedule":
    result = actions.unschedule(606001, "crashy", key="crash")
else:
    result = actions.schedule_supervisor(608001, sys.argv[7], "crashy", key="crash")
print("finished:", result.status, flush=True)
"""


def start_action(world: PairedWorld, kind: str, argument: str = "") -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", ACTION_SCRIPT, world.url, world.fake.url, FAKE_USERNAME,
                             FAKE_PASSWORD, FAKE_TIMEZONE, kind, argument],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, what: str, process: subprocess.Popen, timeout: float = 15.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the action ended before {what}: {out} {err}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL


def the_operation(world: PairedWorld) -> dict:
    (operation_id,) = world.operation_ids()
    return world.operation(operation_id)


def step_recorded(world: PairedWorld) -> bool:
    ids = world.operation_ids()
    return bool(ids) and bool(world.steps(ids[0]))


def writes_received(world: PairedWorld, path: str) -> list:
    return world.fake.requests_to(path)


def reconcile_in_process(world: PairedWorld) -> list:
    # older_than=0: everything unfinished. The journal keeps whole seconds, so look from one second on.
    actions = world.make_actions(clock=lambda: datetime.now() + timedelta(seconds=1))
    return actions.reconcile(older_than=timedelta(0))


def reconcile_with_the_cli(world: PairedWorld, operation: dict) -> list:
    # `--older-than 1`: the operation must have been untouched for more than a second; let the lease run out rather
    # than sleep (the journal keeps whole seconds, so that would be up to two).
    world.execute("UPDATE dashboard_operations SET updated_at = :then WHERE id = :id",
                  then=operation["updated_at"] - timedelta(seconds=5), id=operation["id"])
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CROSSMARK_", "SCHEDULER_"))}
    env.update(CROSSMARK_BASE_URL=world.fake.url, CROSSMARK_USERNAME=FAKE_USERNAME, CROSSMARK_PASSWORD=FAKE_PASSWORD,
               CROSSMARK_TIMEZONE=FAKE_TIMEZONE)
    completed = run_cli("reconcile", "--db", world.url, "--older-than", "1", "--json", env=env)
    assert completed.returncode == 0, completed.stderr
    payload = json.loads(completed.stdout.strip().splitlines()[-1])
    assert payload["crossmark"] == world.fake.url
    return payload["reconciled"]


def assert_settled(world: PairedWorld, operation_id: int, status: str) -> None:
    """Invariants 1, 2, 3 after reconcile: agreement everywhere, pairs together, the record finished, no locks."""
    operation = world.operation(operation_id)
    assert operation["status"] == status and operation["finished_at"] is not None, operation
    assert world.locks() == {}
    world.agree()
    world.pairs_together()
    actions = [entry["action"] for entry in world.audit(operation_id)]
    assert actions[0] == f"{operation['kind']} requested" and actions[-1] == status, actions
    # the killed process's write stays recorded as sent (we never heard back); reconcile resolved it by reading
    steps = world.steps(operation_id)
    assert [s["action"] for s in steps if s["status"] == "sent"] in ([], ["schedule"], ["unschedule"]), steps
    assert any(s["action"] == "read_back" for s in steps)


@pytest.mark.parametrize("reconciler", ["python", "cli"])
def test_killed_while_the_supervisor_write_is_in_flight_and_it_lands(world, reconciler):
    world.fake.inject(PATH_SCHEDULE, "late_write", delay=0.0)  # the CORE's write: at once
    # the Supervisor's: held on the wire, carried out only after the kill (a late write, wanted here)
    world.fake.inject(PATH_SCHEDULE, "late_write", delay=0.5)
    process = start_action(world, "reschedule", at(DAY, 11).isoformat())
    wait_for(lambda: len(writes_received(world, PATH_SCHEDULE)) == 2, "the Supervisor's write", process)
    kill(process)
    supervisor_write = writes_received(world, PATH_SCHEDULE)[1]
    operation = the_operation(world)
    assert operation["status"] == "applying" and set(world.locks()) == {606001, 606002}
    deadline = time.monotonic() + 5
    while not supervisor_write.handled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert supervisor_write.acted  # Crossmark has both moved; our database has neither
    assert world.remote(606002).start == at(DAY, 13) and world.db(606002).start == at(DAY, 12, 30)
    writes = world.fake.writes_sent()
    results = reconcile_in_process(world) if reconciler == "python" else reconcile_with_the_cli(world, operation)
    assert [(r.operation_id, r.status) if hasattr(r, "status") else (r["operation_id"], r["status"])
            for r in results] == [(operation["id"], "done")]
    assert_settled(world, operation["id"], "done")
    assert world.fake.writes_sent() == writes  # finished by reading back: nothing resent
    assert (world.db(606001).start, world.db(606002).start) == (at(DAY, 11), at(DAY, 13))


def test_killed_while_the_supervisor_write_is_in_flight_and_it_never_lands(world):
    world.fake.inject(PATH_SCHEDULE, "late_write", delay=0.0)  # the CORE's write: at once
    world.fake.inject(PATH_SCHEDULE, "timeout_before", delay=0.5)  # held, then dropped without acting
    before = world.snapshot()
    process = start_action(world, "reschedule", at(DAY, 11).isoformat())
    wait_for(lambda: len(writes_received(world, PATH_SCHEDULE)) == 2, "the Supervisor's write", process)
    kill(process)
    operation = the_operation(world)
    assert world.remote(606001).start == at(DAY, 11) and world.remote(606002).start == at(DAY, 12, 30)
    writes = world.fake.writes_sent()
    (result,) = reconcile_in_process(world)
    assert (result.operation_id, result.status) == (operation["id"], "compensated")
    assert_settled(world, operation["id"], "compensated")
    assert world.snapshot() == before  # the CORE was put back; the Supervisor never moved
    assert world.fake.writes_sent() == writes + 1  # just the CORE's compensation
    assert [s[:3] for s in world.step_summary(operation["id"])][-3:] == [
        (606001, "read_back", "resolve"), (606002, "read_back", "resolve"), (606001, "schedule", "compensate")]


def test_unschedule_killed_while_the_core_write_is_in_flight(world):
    world.fake.inject(PATH_UNSCHEDULE, "late_write", delay=0.5)  # the CORE's unschedule lands after the kill
    before = world.snapshot()
    process = start_action(world, "unschedule")
    wait_for(lambda: len(writes_received(world, PATH_UNSCHEDULE)) == 1, "the CORE's write", process)
    kill(process)
    core_write = writes_received(world, PATH_UNSCHEDULE)[0]
    deadline = time.monotonic() + 5
    while not core_write.handled and time.monotonic() < deadline:
        time.sleep(0.01)
    assert core_write.acted and not world.remote(606001).scheduled and world.remote(606002).scheduled
    operation = the_operation(world)
    (result,) = reconcile_in_process(world)
    assert (result.operation_id, result.status) == (operation["id"], "compensated")
    assert_settled(world, operation["id"], "compensated")
    assert world.snapshot() == before  # the CORE is scheduled again, under a new Crossmark id, in both places
    assert world.db(606001).scheduled_id not in (None, "5606001")
    assert world.fake.writes_sent(PATH_UNSCHEDULE) == 1


def test_schedule_supervisor_killed_before_its_write_reached_crossmark(world):
    world.fake.inject(PATH_LOGIN, "slow_reply", delay=0.5)  # the step is recorded, then the client logs in: kill there
    before = {ref: world.both(ref) for ref in world.mplan}
    process = start_action(world, "supervisor", "US157005")
    wait_for(lambda: len(world.fake.requests_to(PATH_LOGIN)) == 1 and step_recorded(world),
             "the step to be recorded", process)
    kill(process)
    operation = the_operation(world)
    assert operation["status"] == "applying" and world.step_summary(operation["id"]) == [
        (608002, "schedule", "forward", "sent")]
    assert set(world.locks()) == {608002, 608001}  # the Supervisor and, as the other half, its CORE
    (result,) = reconcile_in_process(world)
    assert (result.operation_id, result.status) == (operation["id"], "compensated")
    assert_settled(world, operation["id"], "compensated")
    assert world.fake.writes_sent() == 0
    assert {ref: world.both(ref) for ref in world.mplan} == before  # nothing anywhere, ids included
