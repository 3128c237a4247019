"""The "Staff selected" batch (issue 20, the Unscheduled page's multi-select): each selected Unstaffed event staffed at
its default start with the top suggestion that breaks no rule, each item one ordinary operation of the saga, on a real
database (SQLite and PostgreSQL) and the local HTTP fake of Crossmark. A CORE takes its Supervisor along (one item);
picks made earlier in the batch are not given a second CORE that day; a dry run sends and records nothing; a rerun with
the same key sends nothing twice; undo puts everything back."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import insert, select

from services.actions.batches import Batches, BatchStatus
from services.crossmark.sandbox import PATH_LOGIN, PATH_QUALIFIED_REPS
from services.errors import InvalidInput
from services.store.database import begin_write
from services.store.tables import Batch, Event, Operation
from tests.paired_world import TODAY, PairedWorld, fake_server, migrated, world  # noqa: F401 - fixtures

WINDOW = (datetime.combine(TODAY + timedelta(days=4), time(0, 0)),
          datetime.combine(TODAY + timedelta(days=11), time(23, 59)))
FIRST_SLOT = datetime.combine(WINDOW[0].date(), time(9, 45))  # the first Core time slot of the window
CORE_A, SUPERVISOR_A, CORE_B, SUPERVISOR_B = 609001, 609002, 609011, 609012
DANA, MARCUS = "US157001", "US157002"
STAFF_REFS = (CORE_A, SUPERVISOR_A, CORE_B, SUPERVISOR_B)


@pytest.fixture
def staffing(world: PairedWorld) -> PairedWorld:
    """The sprint2 world plus two Unstaffed COREs, each with its Unstaffed Supervisor, at the sprint2 store, in the
    database and in the fake Crossmark."""
    with begin_write(world.engine) as connection:
        connection.execute(insert(Event), [
            {"project_name": name, "project_ref_num": ref, "location_mvid": "157384", "store_number": 8135,
             "store_name": "Sam's Club Indianapolis", "start_datetime": WINDOW[0], "due_datetime": WINDOW[1],
             "estimated_time": minutes, "is_scheduled": False, "event_type": event_type, "condition": "Unstaffed",
             "external_id": f"3{ref}", "last_synced": WINDOW[0], "sync_status": "synced"}
            for ref, name, event_type, minutes in (
                (CORE_A, f"{CORE_A}-CORE-Staffing Demo Cookies", "Core", 390),
                (SUPERVISOR_A, f"{CORE_A}-Supervisor-Staffing Demo Cookies", "Supervisor", 5),
                (CORE_B, f"{CORE_B}-CORE-Staffing Demo Crackers", "Core", 390),
                (SUPERVISOR_B, f"{CORE_B}-Supervisor-Staffing Demo Crackers", "Supervisor", 5))])
    world.mirror_to_crossmark(STAFF_REFS)
    return world


def _count(world: PairedWorld, table) -> int:  # noqa: ANN001 - a table class
    with world.engine.connect() as connection:
        return len(connection.execute(select(table)).all())


def test_a_dry_run_plans_each_event_once_and_sends_and_records_nothing(staffing: PairedWorld) -> None:
    report = Batches(staffing.actions).staff_events([CORE_A, SUPERVISOR_A, 608002], "alice", dry_run=True)
    # The Supervisor of CORE A goes with it; Supervisor 608002, beside its scheduled CORE 608001, is staffed there.
    assert [(o.item.kind, o.item.ref) for o in report.items] == [("staff", CORE_A), ("schedule_supervisor", 608001)]
    assert report.status == "dry_run" and report.counts == {"would_run": 2}
    staff = report.items[0]
    assert staff.item.start == FIRST_SLOT and staff.item.employee_name == "Dana Whitfield"
    assert staff.item.describe() == (f"Staff CORE {CORE_A} ({CORE_A}-CORE-Staffing Demo Cookies) at "
                                     f"{FIRST_SLOT:%a %b %d %H:%M} with Dana Whitfield")
    assert staff.plan is not None
    assert [(e.ref, e.target.start, e.rep_name) for e in staff.plan.events] == [
        (CORE_A, FIRST_SLOT, "Dana Whitfield"), (SUPERVISOR_A, FIRST_SLOT + timedelta(hours=2), "Tom Alvarez")]
    assert all(check.allowed for check in staff.plan.checks)
    # Only reads (Crossmark's qualified reps for each suggestion); nothing written or recorded.
    assert {r.path for r in staffing.fake.requests} <= {PATH_LOGIN, PATH_QUALIFIED_REPS}
    assert staffing.fake.writes_sent() == 0 and _count(staffing, Batch) == 0 and _count(staffing, Operation) == 0


def test_staff_selected_runs_each_item_as_an_operation_and_undo_puts_them_back(staffing: PairedWorld) -> None:
    seen: list[tuple[int, int, str]] = []
    report = Batches(staffing.actions).staff_events(
        [CORE_A, CORE_B, SUPERVISOR_B], "alice", key="staff-two",
        progress=lambda done, total, outcome: seen.append((done, total, outcome.status)))
    assert report.status == BatchStatus.DONE and seen == [(1, 2, "done"), (2, 2, "done")]
    a, b = staffing.db(CORE_A), staffing.db(CORE_B)
    # Both at the first slot, and not the same rep: one CORE a day, counting the batch's own earlier pick.
    assert a.start == b.start == FIRST_SLOT and a.rep_id != b.rep_id
    assert staffing.db(SUPERVISOR_A).scheduled and staffing.db(SUPERVISOR_B).scheduled
    staffing.agree(*STAFF_REFS)
    staffing.pairs_together()
    assert [staffing.operation(o.result.operation_id)["kind"] for o in report.items] == ["staff", "staff"]

    # The same key again resumes the finished batch: the same answers, nothing sent again.
    sent = staffing.fake.writes_sent()
    again = Batches(staffing.actions).staff_events([CORE_A, CORE_B, SUPERVISOR_B], "alice", key="staff-two")
    assert again.batch_id == report.batch_id and [o.status for o in again.items] == ["done", "done"]
    assert staffing.fake.writes_sent() == sent and _count(staffing, Operation) == 2

    undone = Batches(staffing.actions).undo(report.batch_id, "alice")
    assert undone.status == BatchStatus.DONE
    assert not any(staffing.db(ref).scheduled for ref in STAFF_REFS)
    staffing.agree(*STAFF_REFS)


def test_events_that_cannot_be_staffed_are_refused_items_and_the_others_still_run(staffing: PairedWorld) -> None:
    report = Batches(staffing.actions).staff_events([606001, 999999, CORE_A], "alice")
    statuses = {o.item.ref: (o.status, o.result.message if o.result else "") for o in report.items}
    assert statuses[606001][0] == "refused" and "already scheduled" in statuses[606001][1]
    assert statuses[999999][0] == "refused" and "No event with ref 999999" in statuses[999999][1]
    assert statuses[CORE_A][0] == "done" and report.status == BatchStatus.PARTIAL
    staffing.agree(*STAFF_REFS)
    staffing.agree()


def test_nothing_selected_is_refused(staffing: PairedWorld) -> None:
    with pytest.raises(InvalidInput, match="at least one"):
        Batches(staffing.actions).staff_events([], "alice")
