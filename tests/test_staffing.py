"""Staff, reassign and suggest (issue 20) on the sprint2 world: a real database (SQLite and PostgreSQL) and the local
HTTP fake of Crossmark. Every rep rule hard and soft, with and without an override; a CORE staffed takes its
Supervisor along; Crossmark's qualified list narrows suggestions and its failure never blocks."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from services.access.accounts import OPERATOR, RANK, REQUIRED_ROLE
from services.actions.plan import ActionKind
from services.actions.rep_facts import forget_availability_tables
from services.actions.suggestions import CrossmarkCheck
from services.crossmark.sandbox import PATH_QUALIFIED_REPS
from services.domain.rep_rules import RepRule
from services.store.tables import AuditEntry, Operation
from tests.paired_world import DAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

LAURA, TOM, DANA, MARCUS, PRIYA, JADE = "US157004", "US157005", "US157001", "US157002", "US157003", "US157006"


def unstaff_pair(world: PairedWorld) -> None:
    """CORE 606001 and its Supervisor 606002 Unstaffed on both sides, nothing recorded since (the setting of staff)."""
    assert world.actions.unschedule(606001, "setup").status == "done"
    assert not world.db(606001).scheduled and not world.db(606002).scheduled
    world.fake.clear_requests()
    world.arm()


def operation_request(world: PairedWorld, operation_id: int) -> dict:
    with world.engine.connect() as connection:
        value = connection.execute(select(Operation.request).where(Operation.id == operation_id)).scalar_one()
    return value if isinstance(value, dict) else json.loads(value)


def requested_entry(world: PairedWorld, operation_id: int) -> str:
    with world.engine.connect() as connection:
        return connection.execute(select(AuditEntry.message).where(
            AuditEntry.operation_id == operation_id, AuditEntry.action.like("% requested"))).scalar_one()


def test_every_action_kind_needs_an_operator() -> None:
    """A kind missing from REQUIRED_ROLE would need only a viewer: every action must be listed."""
    for kind in ActionKind:
        assert RANK[REQUIRED_ROLE[kind]] >= RANK[OPERATOR], kind


def test_staff_a_core_takes_its_unstaffed_supervisor_along_to_the_top_lead(world: PairedWorld) -> None:
    unstaff_pair(world)
    result = world.actions.staff(606001, DANA, at(DAY, 9, 45), "alice", key="staff-1")
    world.check(result, status="done", refs=(606001, 606002))
    assert [(e.ref, e.role) for e in result.events] == [(606001, "core"), (606002, "supervisor")]
    assert world.db(606001).placement == (True, at(DAY, 9, 45), "900001")
    # Laura Kim and Tom Alvarez both break no rule and neither has worked the store lately: by name, Laura first.
    assert world.db(606002).placement == (True, at(DAY, 11, 45), "900004")
    world.agree()
    assert "with Dana Whitfield" in result.message and "with Laura Kim" in result.message
    assert any("top suggestion" in warning for warning in result.warnings)


def test_staff_with_the_lead_asked_for(world: PairedWorld) -> None:
    unstaff_pair(world)
    result = world.actions.staff(606001, DANA, at(DAY, 9, 45), "alice", supervisor_employee_id=TOM)
    world.check(result, status="done", refs=(606001, 606002))
    assert world.db(606002).placement == (True, at(DAY, 11, 45), "900005")
    world.agree()


def test_a_lead_who_may_not_work_a_supervisor_event_refuses_the_whole_staffing(world: PairedWorld) -> None:
    unstaff_pair(world)
    result = world.actions.staff(606001, DANA, at(DAY, 9, 45), "alice", supervisor_employee_id=PRIYA,
                                 override="short-staffed")
    world.check(result, status="refused", refs=(606001, 606002))
    assert "Priya Raman (Event Specialist) may not work event 606002" in result.message
    assert "cannot be overridden" in result.message
    assert world.fake.requests == [] and not world.db(606001).scheduled


def test_staff_refuses_a_hard_rule_even_with_an_override(world: PairedWorld) -> None:
    """Supervisor 608002 (its CORE 608001 is scheduled) to an Event Specialist: not qualified, whatever the reason."""
    result = world.actions.staff(608002, DANA, at(DAY, 13, 30), "alice", override="nobody else")
    world.check(result, status="refused", refs=(608002,))
    assert "a Supervisor event needs a Club Supervisor or Lead Event Specialist" in result.message
    assert "cannot be overridden" in result.message
    assert world.fake.requests == [] and not world.db(608002).scheduled


@pytest.mark.parametrize("rule, employee, hour, minute, conflict", [
    (RepRule.ONE_CORE_A_DAY, MARCUS, 9, 45, "already works CORE 606999"),  # Marcus holds CORE 606999 at 11:00
    (RepRule.CORE_SLOT, DANA, 10, 0, "is not at a Core time slot"),
])
def test_a_soft_rule_refuses_without_a_reason_and_yields_to_one(world: PairedWorld, rule: RepRule, employee: str,
                                                                 hour: int, minute: int, conflict: str) -> None:
    unstaff_pair(world)
    refused = world.actions.staff(606001, employee, at(DAY, hour, minute), "alice", supervisor_employee_id=TOM)
    world.check(refused, status="refused", refs=(606001, 606002))
    assert conflict in refused.message and "--override REASON" in refused.message
    assert world.fake.requests == [] and not world.db(606001).scheduled

    world.arm()
    result = world.actions.staff(606001, employee, at(DAY, hour, minute), "alice", supervisor_employee_id=TOM,
                                 override="Store asked for it")
    world.check(result, status="done", refs=(606001, 606002))
    world.agree()
    assert any(w.startswith("Overridden (Store asked for it)") and conflict in w for w in result.warnings)
    assert operation_request(world, result.operation_id)["override"] == "Store asked for it"
    assert "Store asked for it" in requested_entry(world, result.operation_id)  # the audit trail has the reason


def test_overlapping_events_are_a_soft_rule_but_supervisor_events_are_exempt(world: PairedWorld) -> None:
    """Reassign CORE 606999 (11:00) to Priya, who holds CORE 608001 at 11:30 the same day: both soft rules name it.
    Reassign Supervisor 606002 (12:30) to Laura, who has nothing: done; a Supervisor never counts as overlapping."""
    refused = world.actions.reassign(606999, PRIYA, "alice")
    world.check(refused, status="refused", refs=(606999,))
    assert "CORE 608001" in refused.message and "overlaps" in refused.message
    world.arm()
    result = world.actions.reassign(606002, LAURA, "alice")
    world.check(result, status="done", refs=(606002,))
    assert world.db(606002).placement == (True, at(DAY, 12, 30), "900004")
    world.agree()


def test_reassign_gives_the_event_to_another_rep_at_the_same_time(world: PairedWorld) -> None:
    before = world.remote(606999)
    result = world.actions.reassign(606999, JADE, "alice", key="reassign-1")
    world.check(result, status="done", refs=(606999,))
    assert world.db(606999).placement == (True, before.start, "900006")
    assert world.remote(606999).scheduled_id != before.scheduled_id  # Crossmark's new scheduled-event id is kept
    world.agree()
    assert "with Jade Monroe" in result.message
    # The same key again answers with the first operation and sends nothing.
    world.arm()
    again = world.actions.reassign(606999, JADE, "alice", key="reassign-1")
    assert again.operation_id == result.operation_id and world.writes_of(world.mark) == []
    # Undo puts Marcus back.
    world.arm()
    undone = world.actions.undo(result.operation_id, "alice")
    assert undone.status == "done", undone
    assert world.db(606999).placement == (True, before.start, "900002")
    world.agree()


def test_reassign_refusals(world: PairedWorld) -> None:
    same = world.actions.reassign(606999, MARCUS, "alice")
    assert same.status == "refused" and "already works event 606999" in same.message
    unstaffed = world.actions.reassign(608002, TOM, "alice")
    assert unstaffed.status == "refused" and "not scheduled" in unstaffed.message
    nobody = world.actions.reassign(606999, "NOPE", "alice")
    assert nobody.status == "refused" and "No employee with id 'NOPE'" in nobody.message
    blank = world.actions.reassign(606999, JADE, "alice", override="\x00")
    assert blank.status == "refused" and "NUL" in blank.message
    assert world.fake.requests == []


def test_staff_refuses_an_event_already_scheduled_or_a_time_outside_its_window(world: PairedWorld) -> None:
    scheduled = world.actions.staff(606999, JADE, at(DAY, 9, 45), "alice")
    assert scheduled.status == "refused" and "already scheduled" in scheduled.message
    unstaff_pair(world)
    late = world.actions.staff(606001, DANA, at(DAY + timedelta(days=30), 9, 45), "alice")
    assert late.status == "refused" and "outside its window" in late.message
    past = world.actions.staff(606001, DANA, datetime.now() - timedelta(hours=1), "alice", override="x")
    assert past.status == "refused" and "in the past" in past.message and "cannot be overridden" in past.message
    assert world.fake.requests == []


def test_a_rep_on_time_off_is_a_soft_rule_read_from_the_schedulers_table(world: PairedWorld) -> None:
    unstaff_pair(world)
    world.execute("CREATE TABLE employee_time_off (id INTEGER PRIMARY KEY, employee_id VARCHAR(50), "
                  "start_date DATE, end_date DATE, reason VARCHAR(200))")
    forget_availability_tables()  # the presence of the scheduler's tables is cached for a minute
    try:
        world.execute("INSERT INTO employee_time_off (id, employee_id, start_date, end_date, reason) "
                      "VALUES (1, :who, :first, :last, 'Vacation')", who=DANA, first=DAY - timedelta(days=1),
                      last=DAY + timedelta(days=1))
        refused = world.actions.staff(606001, DANA, at(DAY, 9, 45), "alice", supervisor_employee_id=TOM)
        assert refused.status == "refused" and "Dana Whitfield is not available" in refused.message
        assert "Vacation" in refused.message
        other = world.actions.staff(606001, DANA, at(DAY + timedelta(days=2), 9, 45), "alice",
                                    supervisor_employee_id=TOM)  # the day after the time off: allowed
        assert other.status == "done", other
        world.agree()
    finally:
        world.execute("DROP TABLE employee_time_off")
        forget_availability_tables()


def test_suggestions_rank_reps_with_reasons_and_every_rule(world: PairedWorld) -> None:
    unstaff_pair(world)
    suggestions = world.actions.suggest(606001, at(DAY, 9, 45))
    assert suggestions.start == at(DAY, 9, 45) and suggestions.crossmark_note is None
    ranked = [s.rep.id for s in suggestions.ranked]
    assert set(ranked) == {DANA, MARCUS, PRIYA, LAURA, TOM, JADE}  # a CORE: anyone active with a RepID
    allowed = [s.rep.id for s in suggestions.ranked if s.allowed]
    assert ranked[:len(allowed)] == allowed  # no rule broken first
    assert MARCUS not in allowed and PRIYA not in allowed  # each holds a CORE that day
    marcus = next(s for s in suggestions.ranked if s.rep.id == MARCUS)
    # 09:45 + 6.5 h overlaps his 11:00 CORE too
    assert {r.rule for r in marcus.check.soft_failures} == {RepRule.ONE_CORE_A_DAY, RepRule.NO_OVERLAP}
    assert len(marcus.check.results) == len(RepRule)  # every rule's result is there
    assert all(s.crossmark == CrossmarkCheck.QUALIFIED for s in suggestions.ranked)
    assert any("other event" in reason for reason in marcus.reasons)


def test_suggestions_follow_crossmarks_qualified_list_and_never_depend_on_it(world: PairedWorld) -> None:
    world.fake.simulator.qualified[world.mplan[608002]] = {"900005"}
    only_tom = world.actions.suggest(608002)
    assert [s.rep.id for s in only_tom.ranked] == [TOM]
    assert only_tom.start == at(DAY, 13, 30) or only_tom.start.date() >= DAY - timedelta(days=3)
    world.fake.inject(PATH_QUALIFIED_REPS, "5xx_before", times=None)
    unchecked = world.actions.suggest(608002, at(DAY, 13, 30))
    assert {s.rep.id for s in unchecked.ranked} == {LAURA, TOM}  # the two titles that may work a Supervisor
    assert unchecked.crossmark_note and "not checked with Crossmark" in unchecked.crossmark_note
    assert all(s.crossmark == CrossmarkCheck.NOT_CHECKED for s in unchecked.ranked)
    world.fake.clear_faults()


def test_the_availability_tables_absent_or_present_with_text_dates(world: PairedWorld) -> None:
    """The scheduler may store dates as text with a time: the rule still finds the day (SQLite) or casts (PG)."""
    world.execute("CREATE TABLE employee_availability (id INTEGER PRIMARY KEY, employee_id VARCHAR(50), "
                  "date VARCHAR(30), is_available BOOLEAN, reason VARCHAR(200))")
    forget_availability_tables()
    try:
        world.execute("INSERT INTO employee_availability (id, employee_id, date, is_available, reason) "
                      "VALUES (1, :who, :day, :no, 'Doctor')", who=LAURA, day=f"{DAY:%Y-%m-%d} 00:00:00", no=False)
        suggestions = world.actions.suggest(608002, at(DAY, 13, 30))
        laura = next(s for s in suggestions.ranked if s.rep.id == LAURA)
        assert [r.rule for r in laura.check.soft_failures] == [RepRule.AVAILABLE]
        assert "Doctor" in laura.check.soft_failures[0].message
        assert suggestions.ranked[0].rep.id == TOM  # the available lead first
    finally:
        world.execute("DROP TABLE employee_availability")
        forget_availability_tables()


def test_the_cli_staffs_reassigns_and_suggests(world: PairedWorld) -> None:
    from tests.test_paired_actions_trust import cli, ensure_account, last_json

    ensure_account(world, "opsamy", "operator")
    ensure_account(world, "vera", "viewer")
    unstaff_pair(world)
    day = f"{DAY:%Y-%m-%d}"
    suggested = last_json(cli(world, "suggest", "--event", "606002", "--at", f"{day}T11:45", "--json"))
    assert suggested["event"] == 606002 and suggested["at"] == f"{day}T11:45"
    assert [s["employee_id"] for s in suggested["suggestions"]] == [LAURA, TOM]
    assert {r["rule"] for r in suggested["suggestions"][0]["rules"]} == {str(rule) for rule in RepRule}

    viewer = cli(world, "staff", "--event", "606001", "--employee", DANA, "--at", f"{day}T09:45", "--user", "vera",
                 "--json")
    assert viewer.returncode != 0 and last_json(viewer)["status"] == "refused"
    refused = cli(world, "staff", "--event", "606001", "--employee", MARCUS, "--at", f"{day}T09:45",
                  "--user", "opsamy", "--json")
    answer = last_json(refused)
    assert refused.returncode != 0 and answer["status"] == "refused" and "--override REASON" in answer["message"]
    assert world.fake.writes_sent() == 0 and not world.db(606001).scheduled

    done = cli(world, "staff", "--event", "606001", "--employee", MARCUS, "--at", f"{day}T09:45", "--user", "opsamy",
               "--supervisor-employee", TOM, "--override", "Store asked for Marcus", "--json")
    answer = last_json(done)
    assert done.returncode == 0 and answer["status"] == "done", answer
    assert [(e["ref"], e["after_employee"]) for e in answer["events"]] == [(606001, MARCUS), (606002, TOM)]
    world.agree()

    moved = last_json(cli(world, "reassign", "--event", "606002", "--employee", LAURA, "--user", "opsamy", "--json"))
    assert moved["status"] == "done" and moved["events"][0]["before_employee"] == TOM
    assert world.db(606002).rep_id == "900004"
    world.agree()

    text = cli(world, "suggest", "--event", "606001")
    assert text.returncode == 0 and "best first" in text.stdout
    assert "Marcus Bell" not in text.stdout  # he holds CORE 606001 now: suggestions are for someone else
    bad_time = cli(world, "staff", "--event", "606001", "--employee", DANA, "--at", "tomorrow", "--user", "opsamy")
    assert bad_time.returncode == 2 and "YYYY-MM-DDTHH:MM" in bad_time.stderr


@pytest.mark.parametrize("fault, status", [("ok0", "compensated"), ("5xx_after", "done"),
                                           (["5xx_after", ("planning", "5xx_before", 3)], "needs_attention")])
def test_staffing_a_pair_when_the_supervisors_write_fails(world: PairedWorld, fault, status: str) -> None:
    """CORE first, then its Supervisor: the Supervisor's write refused puts the CORE back (both Unstaffed again); a
    lost reply is read back (applied: done); unreadable, the operation needs attention holding both, and Retry
    settles it (the CORE staffed and the Supervisor where Crossmark has it, or both undone)."""
    unstaff_pair(world)
    world.arm({2: fault})
    result = world.actions.staff(606001, DANA, at(DAY, 9, 45), "alice", supervisor_employee_id=TOM)
    world.check(result, status=status, refs=(606001, 606002))
    if status == "compensated":
        assert not world.db(606001).scheduled and not world.remote(606001).scheduled
        world.agree()
    elif status == "done":
        assert world.db(606002).placement == (True, at(DAY, 11, 45), "900005")
        world.agree()
    else:
        assert world.locks() == {606001: result.operation_id, 606002: result.operation_id}
        world.arm()
        retried = world.actions.retry(result.operation_id, "admin")
        assert retried.status in ("done", "compensated"), retried
        world.agree()
        assert world.locks() == {}
    world.pairs_together()


@pytest.mark.parametrize("change, refusal", [
    ("UPDATE employees SET is_active = :no WHERE id = :who", "is inactive or terminated"),
    ("UPDATE employees SET external_id = NULL WHERE id = :who", "Jade Monroe's Crossmark RepID missing"),
])
def test_an_inactive_rep_or_one_without_a_repid_is_a_hard_rule(world: PairedWorld, change: str, refusal: str) -> None:
    world.execute(change, who=JADE, **({"no": False} if ":no" in change else {}))
    try:
        result = world.actions.reassign(606999, JADE, "alice", override="nobody else")
        world.check(result, status="refused", refs=(606999,))
        assert refusal in result.message and "cannot be overridden" in result.message
        assert world.fake.requests == []
    finally:
        world.execute("UPDATE employees SET is_active = :yes, external_id = '900006' WHERE id = :who", yes=True,
                      who=JADE)


def test_a_weekday_the_rep_does_not_work_is_a_soft_rule(world: PairedWorld) -> None:
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    world.execute("CREATE TABLE employee_weekly_availability (employee_id VARCHAR(50) PRIMARY KEY, "
                  + ", ".join(f"{day} BOOLEAN" for day in days) + ")")
    forget_availability_tables()
    try:
        world.execute("INSERT INTO employee_weekly_availability VALUES (:who, "
                      + ", ".join(f":{day}" for day in days) + ")", who=JADE,
                      **{day: index != DAY.weekday() for index, day in enumerate(days)})
        refused = world.actions.reassign(606999, JADE, "alice")
        assert refused.status == "refused" and f"does not work on {DAY:%A}s" in refused.message
        done = world.actions.reassign(606999, JADE, "alice", override="swapped her day off")
        world.check(done, status="done", refs=(606999,))
        assert any("swapped her day off" in warning for warning in done.warnings)
    finally:
        world.execute("DROP TABLE employee_weekly_availability")
        forget_availability_tables()


def test_the_lead_staffing_picks_itself_is_one_crossmark_qualifies(world: PairedWorld) -> None:
    """No lead asked for: Laura Kim and Tom Alvarez are both free and Laura ranks first on our data (by name: neither
    holds an event at the store once the pair is Unstaffed), but Crossmark qualifies only Tom for the Supervisor, so he
    takes it; when Crossmark's list cannot be read, our data decides and staffing goes on."""
    unstaff_pair(world)
    world.fake.simulator.qualified[world.mplan[606002]] = {"900005"}
    result = world.actions.staff(606001, DANA, at(DAY, 9, 45), "alice")
    world.check(result, status="done", refs=(606001, 606002))
    assert world.db(606002).rep_id == "900005"
    world.restart()
    unstaff_pair(world)
    world.fake.inject(PATH_QUALIFIED_REPS, "5xx_before", times=None)
    fallback = world.actions.staff(606001, DANA, at(DAY, 9, 45), "alice")
    assert fallback.status == "done" and world.db(606002).scheduled
    world.fake.clear_faults()
    world.agree()


def test_a_refused_or_repeated_staffing_asks_crossmark_nothing(world: PairedWorld) -> None:
    unstaff_pair(world)
    refused = world.actions.staff(606001, MARCUS, at(DAY, 9, 45), "alice")  # a soft rule, no reason
    assert refused.status == "refused" and world.fake.requests == []
    first = world.actions.staff(606001, DANA, at(DAY, 9, 45), "alice", key="staff-once")
    assert first.status == "done"
    world.fake.clear_requests()
    again = world.actions.staff(606001, DANA, at(DAY, 9, 45), "alice", key="staff-once")
    assert again.operation_id == first.operation_id and world.fake.requests == []
