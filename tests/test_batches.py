"""Batches (issue 20): many items, each one ordinary operation of the saga, on a real database (SQLite and PostgreSQL)
and the local HTTP fake of Crossmark. Faults in some items leave the others alone; a batch stopped halfway resumes with
the same key without sending any item twice; a dry run sends and records nothing; the rate limit counts a batch once
and a cap bounds it; undo goes item by item; a batch and a single action on the same pair never split it."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, insert, select

from services.access.accounts import SETUP, Authorizer, add_user
from services.actions.batches import Batches, BatchStatus, RepOutMode
from services.crossmark.sandbox import PATH_LOGIN, PATH_QUALIFIED_REPS
from services.errors import InvalidInput, OpsError
from services.store.database import begin_write
from services.store.tables import Batch, BatchItemRow, Event, Operation, Schedule
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME
from tests.paired_world import DAY, TODAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

MARCUS, DANA, TOM, LAURA, JADE = "US157002", "US157001", "US157005", "US157004", "US157006"
BULK_REF = 700_000  # the extra single events of the 30-item batch: 700001..700030


def add_single_events(world: PairedWorld, count: int, employee: str) -> list[int]:
    """`count` scheduled Other events (15 min each, from 07:00 on DAY) held by `employee`, in the database and in the
    fake Crossmark (rebuilt from the database, as PairedWorld.restart does)."""
    refs = [BULK_REF + n for n in range(1, count + 1)]
    window = (datetime.combine(TODAY + timedelta(days=4), time.min), datetime.combine(TODAY + timedelta(days=11),
                                                                                       time(23, 59)))
    with begin_write(world.engine) as connection:
        connection.execute(insert(Event), [
            {"project_name": f"{ref}-Other-Bulk demo {ref}", "project_ref_num": ref, "location_mvid": "157384",
             "store_number": 8157, "store_name": "Club #8157", "start_datetime": window[0], "due_datetime": window[1],
             "estimated_time": 15, "is_scheduled": True, "event_type": "Other", "condition": "Scheduled",
             "external_id": f"3{ref}", "last_synced": window[0], "sync_status": "synced"} for ref in refs])
        connection.execute(insert(Schedule), [
            {"event_ref_num": ref, "employee_id": employee, "external_id": f"5{ref}", "last_synced": window[0],
             "sync_status": "synced", "schedule_datetime": at(DAY, 7) + timedelta(minutes=15 * n)}
            for n, ref in enumerate(refs)])
    world.mirror_to_crossmark(refs)
    return refs


def counts(world: PairedWorld, table) -> int:  # noqa: ANN001 - a table class
    with world.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_rep_out_unschedule_keeps_pairs_together(world: PairedWorld) -> None:
    """Dana holds CORE 606001 (its Supervisor is Tom's): one item, the CORE's unschedule, which takes the Supervisor
    along. Tom out: his Supervisor alone is unscheduled, its CORE stays."""
    batches = Batches(world.actions)
    report = batches.rep_out(DANA, DAY, DAY, RepOutMode.UNSCHEDULE, "alice", key="dana-out")
    assert report.status == BatchStatus.DONE and [o.item.ref for o in report.items] == [606001]
    assert not world.db(606001).scheduled and not world.db(606002).scheduled
    world.agree()
    world.restart()
    report = Batches(world.actions).rep_out(TOM, DAY, DAY, RepOutMode.UNSCHEDULE, "alice")
    assert [o.item.ref for o in report.items] == [606002] and report.status == BatchStatus.DONE
    assert world.db(606001).scheduled and not world.db(606002).scheduled
    world.agree()


def test_a_dry_run_shows_every_item_and_sends_and_records_nothing(world: PairedWorld) -> None:
    batches = Batches(world.actions)
    report = batches.rep_out(MARCUS, DAY, DAY, RepOutMode.REASSIGN_TO, "alice", reassign_to=DANA, dry_run=True)
    assert report.batch_id is None and report.status == "dry_run" and report.counts == {"would_refuse": 1}
    assert "Dana Whitfield already works CORE 606001" in (report.items[0].refusal or "")
    suggested = batches.rep_out(MARCUS, DAY, DAY, RepOutMode.REASSIGN_SUGGESTED, "alice", dry_run=True)
    plan = suggested.items[0].plan
    assert plan is not None and plan.events[0].rep_name and plan.checks[0].allowed
    json_item = suggested.to_json()["items"][0]
    assert json_item["status"] == "would_run" and json_item["rules"][0]["results"]
    # Only reads: the suggested mode asks Crossmark which reps it qualifies; nothing is written or recorded.
    assert {r.path for r in world.fake.requests} <= {PATH_LOGIN, PATH_QUALIFIED_REPS} and world.fake.writes_sent() == 0
    assert counts(world, Batch) == 0 and counts(world, Operation) == 0


def test_thirty_items_with_faults_in_some_leave_the_others_alone(world: PairedWorld) -> None:
    refs = add_single_events(world, 30, JADE)
    # Write n is item n's unschedule (no item has a Supervisor): refused, a lost reply after acting, a timeout before.
    world.arm({3: "ok0", 7: "ok0", 12: "5xx_after", 18: "timeout_before", 25: [("planning", "5xx_before", 5),
                                                                                "5xx_after"]})
    seen: list[tuple[int, int, str]] = []
    report = Batches(world.actions).rep_out(JADE, DAY, DAY, RepOutMode.UNSCHEDULE, "alice", key="jade-out",
                                            progress=lambda done, total, o: seen.append((done, total, o.status)))
    statuses = {o.item.ref: o.status for o in report.items}
    assert list(statuses) == refs and [s[0] for s in seen] == list(range(1, 31)) and seen[-1][1] == 30
    assert statuses[refs[2]] == statuses[refs[6]] == "compensated"  # refused by Crossmark
    assert statuses[refs[17]] == "compensated"  # timed out before acting: read back as not applied
    assert statuses[refs[24]] == "needs_attention"  # acted, and the read-back failed: left to the retry loop
    assert statuses[refs[11]] == "done"  # acted, the reply lost: read back and found done
    assert Counter(statuses.values()) == {"done": 26, "compensated": 3, "needs_attention": 1}
    assert report.status == BatchStatus.NEEDS_ATTENTION
    for ref in refs:
        if statuses[ref] != "needs_attention":
            world.agree(ref)
    # Each item is one operation, recorded against the batch, and each event was written at most once.
    with world.engine.connect() as connection:
        linked = connection.execute(select(func.count()).select_from(BatchItemRow).where(
            BatchItemRow.batch_id == report.batch_id, BatchItemRow.operation_id.is_not(None))).scalar_one()
    assert linked == 30
    per_event = Counter(r.form.get("id") for r in world.writes_of(world.mark))
    assert max(per_event.values()) == 1
    shown = Batches(world.actions).show(report.batch_id)
    assert [o.status for o in shown.items] == [o.status for o in report.items]


class Stop(BaseException):
    """What a killed process leaves: the batch stops dead between items (nothing catches it)."""


def test_a_batch_stopped_halfway_resumes_with_its_key_sending_nothing_twice(world: PairedWorld) -> None:
    refs = add_single_events(world, 30, JADE)

    def stop_after_ten(done: int, _total: int, _outcome) -> None:  # noqa: ANN001
        if done == 10:
            raise Stop()

    with pytest.raises(Stop):
        Batches(world.actions).rep_out(JADE, DAY, DAY, RepOutMode.UNSCHEDULE, "alice", key="jade-out",
                                       progress=stop_after_ten)
    assert world.fake.writes_sent() == 10
    resumed = Batches(world.actions).rep_out(JADE, DAY, DAY, RepOutMode.UNSCHEDULE, "alice", key="jade-out")
    assert resumed.status == BatchStatus.DONE and len(resumed.items) == 30
    assert world.fake.writes_sent() == 30 and world.fake.writes_acted() == 30  # the first ten were not sent again
    assert counts(world, Batch) == 1 and counts(world, Operation) == 30
    for ref in refs:
        world.agree(ref)
    # The same key with other arguments is refused, nothing done.
    with pytest.raises(InvalidInput, match="belongs to batch"):
        Batches(world.actions).rep_out(MARCUS, DAY, DAY, RepOutMode.UNSCHEDULE, "alice", key="jade-out")


def test_the_rate_limit_counts_a_batch_once_and_a_cap_bounds_it(world: PairedWorld) -> None:
    add_single_events(world, 3, JADE)
    add_user(world.engine, "alice", "operator", "long-enough-password", by=SETUP)
    actions = world.make_actions(authorize=Authorizer(world.engine, actions_per_minute=1))
    with pytest.raises(InvalidInput, match="at most 2"):
        Batches(actions, max_items=2).rep_out(JADE, DAY, DAY, RepOutMode.UNSCHEDULE, "alice")
    assert counts(world, Batch) == 0 and world.fake.requests == []
    report = Batches(actions).rep_out(JADE, DAY, DAY, RepOutMode.UNSCHEDULE, "alice")
    assert report.status == BatchStatus.DONE and len(report.items) == 3  # three operations, one request
    # Its three items did not count: one change in the last minute, the batch's own request.
    with pytest.raises(OpsError, match=r"alice has made 1 change\(s\) in the last minute \(the limit is 1"):
        Batches(actions).rep_out(MARCUS, DAY, DAY, RepOutMode.UNSCHEDULE, "alice")


def test_a_viewer_may_not_run_a_batch(world: PairedWorld) -> None:
    add_user(world.engine, "vera", "viewer", "long-enough-password", by=SETUP)
    actions = world.make_actions(authorize=Authorizer(world.engine))
    with pytest.raises(OpsError):
        Batches(actions).rep_out(MARCUS, DAY, DAY, RepOutMode.UNSCHEDULE, "vera")
    assert counts(world, Batch) == 0 and world.fake.requests == []


def test_undo_a_batch_item_by_item(world: PairedWorld) -> None:
    refs = add_single_events(world, 3, JADE)
    before = {ref: world.db(ref).placement for ref in refs}
    report = Batches(world.actions).rep_out(JADE, DAY, DAY, RepOutMode.UNSCHEDULE, "alice")
    assert all(not world.db(ref).scheduled for ref in refs)
    undone = Batches(world.actions).undo(report.batch_id, "alice")
    assert undone.status == BatchStatus.DONE and [o.item.ref for o in undone.items] == list(reversed(refs))
    assert {ref: world.db(ref).placement for ref in refs} == before
    for ref in refs:
        world.agree(ref)


def test_staff_missing_supervisors_and_fix_a_rules_findings(world: PairedWorld) -> None:
    """Supervisor 608002 is Unstaffed beside its scheduled CORE 608001: staffed at the rule time by the top lead (Tom
    Alvarez: he already works at this store, Supervisor 606002, where Laura Kim has no event)."""
    report = Batches(world.actions).staff_supervisors(DAY, DAY, "alice")
    assert [o.item.ref for o in report.items] == [608001] and report.status == BatchStatus.DONE
    assert world.db(608002).placement == (True, at(DAY, 13, 30), "900005")
    world.agree()
    world.restart()
    fixed = Batches(world.actions).fix("core_supervisor_unstaffed", None, None, "alice")
    assert [o.item.ref for o in fixed.items] == [608001] and fixed.status == BatchStatus.DONE
    world.agree()
    with pytest.raises(InvalidInput, match="offers no fix"):
        Batches(world.actions).fix("unstaffed_past_due", None, None, "alice")


def test_a_batch_and_a_single_action_on_the_same_pair_never_split_it(world: PairedWorld) -> None:
    """While the batch's item on CORE 606001 waits on Crossmark, a person reschedules the same CORE: one of the two is
    refused (the pair's locks), and the pair stays together on both sides."""
    answers = {}

    def single(_path: str) -> None:  # runs just before the batch item's first Crossmark write
        answers["single"] = world.actions.reschedule(606001, at(DAY, 11), "bob")

    world.arm({1: single})
    report = Batches(world.actions).rep_out(DANA, DAY, DAY, RepOutMode.UNSCHEDULE, "alice")
    assert answers["single"].status == "refused", answers["single"]  # the batch item holds the pair's locks
    assert report.items[0].status == "done"
    world.agree()
    world.pairs_together()


def test_the_batch_cli_dry_run_run_show_and_undo(world: PairedWorld) -> None:
    from tests.test_paired_actions_trust import cli, ensure_account, last_json

    ensure_account(world, "opsamy", "operator")
    refs = add_single_events(world, 3, JADE)
    day = f"{DAY:%Y-%m-%d}"
    args = ("batch", "rep-out", "--employee", JADE, "--from", day, "--to", day, "--unschedule", "--user", "opsamy")
    dry = last_json(cli(world, *args, "--dry-run", "--json"))
    assert dry["batch_id"] is None and dry["status"] == "dry_run" and dry["counts"] == {"would_run": 3}
    assert [item["event"] for item in dry["items"]] == refs and world.fake.writes_sent() == 0
    text = cli(world, *args, "--key", "jade-out")
    assert text.returncode == 0, text.stdout + text.stderr
    assert "[3/3]" in text.stdout and "DONE" in text.stdout
    assert all(not world.db(ref).scheduled for ref in refs)
    again = last_json(cli(world, *args, "--key", "jade-out", "--json"))  # resumed: answered, nothing sent again
    assert again["status"] == "done" and world.fake.writes_sent() == 3
    shown = last_json(cli(world, "batch", "show", str(again["batch_id"]), "--json"))
    assert shown["counts"] == {"done": 3} and [i["operation_id"] is not None for i in shown["items"]] == [True] * 3
    undone = last_json(cli(world, "batch", "undo", str(again["batch_id"]), "--user", "opsamy", "--json"))
    assert undone["status"] == "done" and all(world.db(ref).scheduled for ref in refs)
    bad = cli(world, "batch", "rep-out", "--employee", JADE, "--from", day, "--to", "2020-01-01", "--unschedule",
              "--user", "opsamy")
    assert bad.returncode == 1 and "ends" in bad.stderr and "before it starts" in bad.stderr
    missing = cli(world, "batch", "fix", "--rule", "no_such_rule", "--user", "opsamy")
    assert missing.returncode == 1 and "offers no fix" in missing.stderr


def test_a_batch_process_killed_halfway_resumes_with_its_key_and_sends_no_item_twice(world: PairedWorld) -> None:
    """The real CLI runs a 30-item rep-out in its own process; it is killed (SIGKILL) while an item's reply is held.
    Running the batch again with its key sends only the items not yet sent; the item that was in flight waits for
    the retry pass (its process is gone), which reads Crossmark back instead of sending again."""
    import os
    import signal
    import subprocess
    import sys
    import time as wall

    from services.crossmark.sandbox import PATH_UNSCHEDULE
    from tests.cli_runner import ROOT
    from tests.test_paired_actions_trust import ensure_account

    ensure_account(world, "opsamy", "operator")
    refs = add_single_events(world, 30, JADE)
    world.fake.inject(PATH_UNSCHEDULE, "slow_reply", times=None, delay=0.15)  # acted at once, answered later
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CROSSMARK_", "SCHEDULER_"))}
    env.update(CROSSMARK_BASE_URL=world.fake.url, CROSSMARK_USERNAME=FAKE_USERNAME, CROSSMARK_PASSWORD=FAKE_PASSWORD,
               CROSSMARK_TIMEZONE=FAKE_TIMEZONE, CROSSMARK_READ_TIMEOUT="5", DASHBOARD_LOG_FILE="",
               PYTHONPATH=str(ROOT))
    day = f"{DAY:%Y-%m-%d}"
    args = ["batch", "rep-out", "--employee", JADE, "--from", day, "--to", day, "--unschedule", "--user", "opsamy",
            "--key", "jade-out", "--db", world.url]
    process = subprocess.Popen([sys.executable, "-m", "services", *args], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = wall.monotonic() + 60
    while world.fake.writes_sent() < 10 and wall.monotonic() < deadline and process.poll() is None:
        wall.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGKILL
    sent_before = world.fake.writes_sent()
    assert 10 <= sent_before < 30
    world.fake.clear_faults()

    resumed = Batches(world.make_actions()).rep_out(JADE, DAY, DAY, RepOutMode.UNSCHEDULE, "opsamy", key="jade-out")
    assert len(resumed.items) == 30 and counts(world, Batch) == 1
    waiting = [o for o in resumed.items if o.status not in ("done",)]
    assert len(waiting) <= 1 and all(o.status == "in_progress" for o in waiting), resumed.counts
    # The retry pass (its clock past the dead process's lease) settles the one in flight by reading it back.
    later = world.make_actions(clock=lambda: datetime.now() + timedelta(minutes=15))
    later.reconcile(older_than=timedelta(0))
    shown = Batches(world.make_actions()).show(resumed.batch_id)
    assert [o.status for o in shown.items] == ["done"] * 30
    per_event = Counter(r.form.get("id") for r in world.writes_of(0))
    assert len(per_event) == 30 and max(per_event.values()) == 1  # no item sent twice
    assert world.fake.writes_acted() == 30
    for ref in refs:
        world.agree(ref)


def test_suggested_reps_of_a_batch_follow_crossmarks_qualified_list(world: PairedWorld) -> None:
    """Marcus out, his CORE 606999 to the top suggestion: Crossmark qualifies only Laura Kim for it, so she gets it
    although others rank above her on our data alone; when Crossmark's list cannot be read, our data decides."""
    world.fake.simulator.qualified[world.mplan[606999]] = {"900004"}
    report = Batches(world.actions).rep_out(MARCUS, DAY, DAY, RepOutMode.REASSIGN_SUGGESTED, "alice", dry_run=True)
    (item,) = report.items
    assert item.item.employee_id == LAURA and "qualified in Crossmark" in (item.item.note or "")
    world.fake.inject(PATH_QUALIFIED_REPS, "5xx_before", times=None)
    unchecked = Batches(world.actions).rep_out(MARCUS, DAY, DAY, RepOutMode.REASSIGN_SUGGESTED, "alice",
                                               dry_run=True)
    assert unchecked.items[0].item.employee_id is not None
    assert "not checked with Crossmark" in (unchecked.items[0].item.note or "")
    world.fake.clear_faults()
