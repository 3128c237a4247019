"""Data-quality rules: each rule on a minimal dataset that triggers it and a close one that must not; the sprint2
scenario's exact findings; the demo data's injected anomalies at exactly their counts; Crossmark drift with the sandbox.

Every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (the `engine` fixture).
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, update

from services.crossmark.client import make_crossmark_client
from services.demo.demo_data import seed_demo_data, seed_sprint2_scenario
from services.errors import InvalidInput
from services.domain.event_rules import CORE, SUPERVISOR, SupervisorRule, event_number, store_key
from services.domain.severity import CRITICAL, INFO, WARNING
from services.quality.rules import RULES, Finding, run_rules
from services.settings import load_settings
from services.store.tables import Employee, Event, Operation, Schedule

NOW = datetime(2025, 9, 1, 8, 0)
DAY = date(2025, 9, 10)          # far from NOW: more than 24 h (and 72 h) ahead
STORE = "157384"
RULE = SupervisorRule()          # CORE start + 120 min
PAIR_RULES = ["core_supervisor_unstaffed", "core_without_supervisor", "supervisor_without_core",
              "supervisor_scheduled_core_not", "pair_date_mismatch", "supervisor_time_off_rule",
              "duplicate_pair_number"]


# --- helpers ------------------------------------------------------------------------------------------------------


class World:
    """Writes minimal rows with plain SQL inserts; refs count up from 1001."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.next_ref = 1001
        with engine.begin() as connection:
            connection.execute(insert(Employee.__table__).values(id="E1", name="Dana Whitfield", external_id="900001"))

    def event(self, name: str, event_type: str, *, condition: str = "Unstaffed", at: datetime | None = None,
              is_scheduled: bool | None | str = "auto", store: str | None = STORE, store_number: int | None = 8135,
              due: datetime | None = None, schedule_id: str | None = "auto", ref: int | None = None) -> int:
        """One event, and a schedules row when `at` is given (is_scheduled follows `at` unless given, even None)."""
        if ref is None:
            ref, self.next_ref = self.next_ref, self.next_ref + 1
        day = (at or datetime.combine(DAY, time())).date()
        with self.engine.begin() as connection:
            connection.execute(insert(Event.__table__).values(
                project_name=name, project_ref_num=ref, location_mvid=store, store_number=store_number,
                store_name="Sam's Club #8135", start_datetime=datetime.combine(day - timedelta(days=3), time()),
                due_datetime=due or datetime.combine(day + timedelta(days=3), time(23, 59)), estimated_time=15,
                is_scheduled=(at is not None) if is_scheduled == "auto" else is_scheduled, event_type=event_type,
                condition=condition, external_id=f"3{ref}"))
            if at is not None:
                connection.execute(insert(Schedule.__table__).values(
                    event_ref_num=ref, employee_id="E1", schedule_datetime=at,
                    external_id=f"5{ref}" if schedule_id == "auto" else schedule_id))
        return ref

    def core(self, number: str = "606001", *, at: datetime | None = None, **fields) -> int:
        fields.setdefault("condition", "Scheduled" if at is not None else "Unstaffed")
        return self.event(f"{number}-CORE-Super Pretzel King Size", CORE, at=at, **fields)

    def supervisor(self, number: str = "606001", *, at: datetime | None = None, **fields) -> int:
        fields.setdefault("condition", "Scheduled" if at is not None else "Unstaffed")
        return self.event(f"{number}-Supervisor-Super Pretzel King Size", SUPERVISOR, at=at, **fields)


@pytest.fixture
def world(engine: Engine) -> World:
    return World(engine)


# The World gives every event to one rep without a job title; the rules about people, which judge exactly that, are
# tested in tests/test_rep_findings.py. Here "all rules" are the others (and crossmark_drift only with a client).
REP_RULES = ["rep_double_booked", "rep_inactive_with_events", "rep_not_qualified", "rep_time_off_conflict",
             "unreported_work", "stale_sync"]


def run(engine: Engine, names=None, *, now: datetime = NOW, rule: SupervisorRule = RULE, **options) -> list[Finding]:
    if names is None:
        names = [name for name, spec in RULES.items()
                 if name not in REP_RULES and ("crossmark_client" in options or not spec.needs_crossmark)]
    with engine.connect() as connection:
        return run_rules(connection, now=now, rule=rule, names=names, **options)


def found(findings: list[Finding]) -> set[tuple[str, tuple[int, ...]]]:
    return {(finding.rule, finding.refs) for finding in findings}


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute))


# --- the registry and the arguments ---------------------------------------------------------------------------------


def test_rules_are_named_in_the_issue_order_with_their_severities():
    assert list(RULES) == PAIR_RULES + ["unstaffed_past_due", "unstaffed_due_24h", "unstaffed_due_3d",
                                        "schedule_state_drift", "schedule_without_crossmark_id",
                                        "operation_needs_attention", "crossmark_drift", *REP_RULES]
    assert {name: rule.severity for name, rule in RULES.items()} == {
        "core_supervisor_unstaffed": WARNING, "core_without_supervisor": WARNING, "supervisor_without_core": WARNING,
        "supervisor_scheduled_core_not": CRITICAL, "pair_date_mismatch": CRITICAL, "supervisor_time_off_rule": INFO,
        "duplicate_pair_number": WARNING, "unstaffed_past_due": CRITICAL, "unstaffed_due_24h": CRITICAL,
        "unstaffed_due_3d": WARNING, "schedule_state_drift": WARNING, "schedule_without_crossmark_id": WARNING,
        "operation_needs_attention": CRITICAL, "crossmark_drift": CRITICAL, "rep_double_booked": CRITICAL,
        "rep_inactive_with_events": CRITICAL, "rep_not_qualified": CRITICAL, "rep_time_off_conflict": CRITICAL,
        "unreported_work": WARNING, "stale_sync": WARNING}
    assert all(rule.description for rule in RULES.values())
    assert RULES["pair_date_mismatch"].title == "Pair on different dates"
    titles = [rule.title for rule in RULES.values()]
    assert len(set(titles)) == len(titles) and all(title and "_" not in title for title in titles)
    assert [name for name, rule in RULES.items() if rule.needs_crossmark] == ["crossmark_drift"]


def test_unknown_names_aware_times_and_drift_without_crossmark_are_refused(engine):
    with pytest.raises(InvalidInput, match="Unknown rule"):
        run(engine, ["core_without_supervisor", "no_such_rule"])
    with pytest.raises(InvalidInput, match="needs a Crossmark client"):
        run(engine, ["crossmark_drift"])
    with pytest.raises(InvalidInput, match="naive"):
        run(engine, now=datetime(2025, 9, 1, tzinfo=timezone.utc))
    with engine.connect() as connection:  # every rule: an empty database; crossmark_drift is left out without a client
        assert run_rules(connection, now=NOW, rule=RULE) == []
    assert run(engine, "duplicate_pair_number") == []  # one name as a string is one name


def test_progress_is_reported_per_query(world):
    world.core("606999", at=at(11))
    calls = []
    findings = run(world.engine, progress=lambda done, total, label: calls.append((done, total, label)))
    assert found(findings) == {("core_without_supervisor", (1001,))}
    assert calls[0][:2] == (0, 5) and calls[-1] == (5, 5, "done")


# --- rules 1-7: pairing -------------------------------------------------------------------------------------------


def test_core_supervisor_unstaffed_is_a_warning_far_out_and_critical_within_24_hours(world):
    core = world.core(at=at(10, 30))
    supervisor = world.supervisor()
    findings = run(world.engine)
    assert found(findings) == {("core_supervisor_unstaffed", (core, supervisor))}
    (finding,) = findings
    assert (finding.severity, finding.event_number, finding.store, finding.core_ref, finding.supervisor_ref,
            finding.day) == (WARNING, "606001", STORE, core, supervisor, DAY)
    assert str(core) in finding.detail and str(supervisor) in finding.detail and "2025-09-10 12:30" in finding.detail

    (close,) = run(world.engine, now=at(11, 0) - timedelta(hours=24))
    assert close.severity == CRITICAL


def test_a_supervisor_that_is_canceled_or_scheduled_is_not_unstaffed(world):
    world.core("606001", at=at(10, 30))
    world.supervisor("606001", condition="Canceled")
    world.core("606002", at=at(10, 30))
    world.supervisor("606002", at=at(12, 30))
    world.core("606003")                      # neither scheduled: a normal unscheduled pair
    world.supervisor("606003")
    assert run(world.engine) == []


def test_core_without_supervisor_warns_when_scheduled_and_informs_otherwise(world):
    scheduled = world.core("606999", at=at(11))
    unscheduled = world.core("606998", condition="Expired")
    findings = {finding.refs: finding for finding in run(world.engine)}
    assert set(findings) == {(scheduled,), (unscheduled,)}
    assert {finding.rule for finding in findings.values()} == {"core_without_supervisor"}
    assert findings[(scheduled,)].severity == WARNING and findings[(scheduled,)].day == DAY
    assert findings[(unscheduled,)].severity == INFO and findings[(unscheduled,)].day is None
    assert findings[(scheduled,)].core_ref == scheduled and findings[(scheduled,)].supervisor_ref is None


def test_a_supervisor_of_the_same_number_at_another_store_does_not_count(world):
    core = world.core("606999", at=at(11))
    elsewhere = world.supervisor("606999", at=at(13), store="999999")
    assert found(run(world.engine)) == {("core_without_supervisor", (core,)), ("supervisor_without_core", (elsewhere,))}


def test_the_sql_pairing_key_agrees_with_the_python_one(world):
    """Leading white space, a seventh digit, the 12-digit number, blank location ids and the store-number fallback."""
    pairs = [  # (CORE name, its store, Supervisor name, its store, store numbers): they pair exactly as Python says
        ("606001-CORE-A", STORE, "  606001-Supervisor-A", STORE, 8135),
        ("\t606002 - V2-CORE", STORE, "606002-Corelle (250000000001)  - V2-Supervisor", STORE, 8135),
        ("606003", STORE, "606003-Supervisor", f" {STORE} ", 8135),
        ("606004-CORE", None, "606004-Supervisor", "", 8135),
        ("606005-CORE", None, "606005-Supervisor", None, 8136),
        ("6060060-CORE", STORE, "606006-Supervisor", STORE, 8135),
        ("Corelle 606007 - V2-CORE", STORE, "606007-Supervisor", STORE, 8135),
        ("60600-CORE (606008000000)", STORE, "606008-Supervisor", STORE, 8135),
    ]
    expected = set()
    for core_name, core_store, sup_name, sup_store, sup_number in pairs:
        core = world.event(core_name, CORE, condition="Scheduled", at=at(10, 30), store=core_store)
        supervisor = world.event(sup_name, SUPERVISOR, condition="Scheduled", at=at(12, 30), store=sup_store,
                                 store_number=sup_number)
        core_key = (event_number(core_name), store_key(core_store, 8135))
        sup_key = (event_number(sup_name), store_key(sup_store, sup_number))
        if core_key != sup_key:
            if core_key[0] is not None:
                expected.add(("core_without_supervisor", (core,)))
            if sup_key[0] is not None:
                expected.add(("supervisor_without_core", (supervisor,)))
    findings = run(world.engine)
    assert found(findings) == expected
    # The pairs that do pair: 1-4 (index 4's Supervisor falls back to another store number).
    assert len(expected) == 2 + 1 + 1 + 1
    assert {f.event_number for f in findings} == {"606005", "606006", "606007", "606008"}
    assert {f.store for f in findings if f.event_number == "606005"} == {"8135", "8136"}


def test_supervisor_without_core_and_its_close_neighbour(world):
    alone = world.supervisor("607001", at=at(12))
    world.core("607002")
    world.supervisor("607002")
    (finding,) = run(world.engine)
    assert (finding.rule, finding.refs, finding.severity, finding.supervisor_ref, finding.core_ref) == (
        "supervisor_without_core", (alone,), WARNING, alone, None)


def test_supervisor_scheduled_while_its_core_is_not(world):
    core = world.core("607001", condition="Unstaffed")
    supervisor = world.supervisor("607001", at=at(12, 30))
    world.core("607002", at=at(10, 30))
    world.supervisor("607002", at=at(12, 30))
    (finding,) = run(world.engine)
    assert (finding.rule, finding.severity, finding.refs, finding.day) == (
        "supervisor_scheduled_core_not", CRITICAL, (core, supervisor), DAY)


def test_pair_date_mismatch_and_supervisor_time_off_rule(world):
    core = world.core("607001", at=at(10, 30))
    next_day = world.supervisor("607001", at=at(12, 30, DAY + timedelta(days=1)))
    core_2 = world.core("607002", at=at(11))
    late = world.supervisor("607002", at=at(13, 30))
    world.core("607003", at=at(11, 30))
    world.supervisor("607003", at=at(13, 30))       # exactly CORE + 120 min
    findings = {finding.rule: finding for finding in run(world.engine)}
    assert set(findings) == {"pair_date_mismatch", "supervisor_time_off_rule"}
    assert findings["pair_date_mismatch"].refs == (core, next_day)
    assert findings["pair_date_mismatch"].severity == CRITICAL and findings["pair_date_mismatch"].day == DAY
    assert findings["supervisor_time_off_rule"].refs == (core_2, late)
    assert findings["supervisor_time_off_rule"].severity == INFO
    assert "13:00" in findings["supervisor_time_off_rule"].detail  # where the rule puts it


def test_the_time_rule_can_be_a_fixed_time_of_day(world):
    world.core("607001", at=at(10, 30))
    world.supervisor("607001", at=at(12))
    core = world.core("607002", at=at(11))
    off = world.supervisor("607002", at=at(13))
    fixed = SupervisorRule(mode="fixed", fixed_time=time(12, 0))
    assert found(run(world.engine, rule=fixed)) == {("supervisor_time_off_rule", (core, off))}
    # By the default offset rule it is the other way round: 12:00 is off for a 10:30 CORE, 13:00 right for 11:00.
    assert found(run(world.engine)) == {("supervisor_time_off_rule", (1001, 1002))}


def test_duplicates_are_one_finding_per_number_and_store_and_mute_the_pair_rules(world):
    core_1 = world.core("608001", at=at(10, 30))
    core_2 = world.core("608001", at=at(11, 30))
    supervisor = world.supervisor("608001")           # Unstaffed: but which CORE is it for? Ambiguous.
    sup_1 = world.supervisor("608002", at=at(12, 30))
    sup_2 = world.supervisor("608002", at=at(15))     # two Supervisors, no CORE: orphans as well
    world.core("608003", at=at(10, 30), store="111111")  # the same number at two stores is no duplicate
    world.core("608003", at=at(10, 30))
    world.supervisor("608003", at=at(12, 30), store="111111")
    world.supervisor("608003", at=at(12, 30))
    findings = run(world.engine)
    assert found(findings) == {("duplicate_pair_number", (core_1, core_2, supervisor)),
                               ("duplicate_pair_number", (sup_1, sup_2)),
                               ("supervisor_without_core", (sup_1,)), ("supervisor_without_core", (sup_2,))}
    duplicate = next(f for f in findings if f.refs == (core_1, core_2, supervisor))
    assert (duplicate.severity, duplicate.core_ref, duplicate.supervisor_ref, duplicate.day) == (
        WARNING, None, supervisor, DAY)
    assert "2 CORE(s)" in duplicate.detail and "1 Supervisor(s)" in duplicate.detail


# --- rule 8: Unstaffed by due date -------------------------------------------------------------------------------


def test_unstaffed_events_by_due_date(world):
    past = world.event("09.01-Club Reset Survey", "Other", due=NOW - timedelta(minutes=1))
    today = world.event("09.01-Digital Signage Update", "Digitals", due=NOW)
    tomorrow = world.event("09.02-Olay Sampling V2 - Freeosk", "Freeosk", due=NOW + timedelta(hours=24))
    world.event("09.04-Club Reset Survey", "Other", due=NOW + timedelta(hours=72))       # too far
    world.event("08.31-Club Reset Survey", "Other", condition="Expired", due=NOW - timedelta(days=1))
    world.event("08.31-Club Reset Survey", "Other", condition="Scheduled", due=NOW - timedelta(days=1),
                at=NOW - timedelta(days=2))
    findings = run(world.engine)
    assert found(findings) == {("unstaffed_past_due", (past,)), ("unstaffed_due_24h", (today,)),
                               ("unstaffed_due_3d", (tomorrow,))}
    assert {f.rule: f.severity for f in findings} == {"unstaffed_past_due": CRITICAL, "unstaffed_due_24h": CRITICAL,
                                                      "unstaffed_due_3d": WARNING}
    assert {f.rule: f.day for f in findings}["unstaffed_due_3d"] == date(2025, 9, 2)
    assert found(run(world.engine, ["unstaffed_due_24h"])) == {("unstaffed_due_24h", (today,))}
    assert found(run(world.engine, ["unstaffed_past_due", "unstaffed_due_3d"])) == {
        ("unstaffed_past_due", (past,)), ("unstaffed_due_3d", (tomorrow,))}


# --- rule 9: condition, is_scheduled and schedules rows ------------------------------------------------------------


def test_schedule_state_drift(world):
    world.event("A", "Other", condition="Scheduled", at=at(10))                            # all agree
    world.event("B", "Other", condition="Canceled")                                       # all agree
    no_row = world.event("C", "Other", condition="Scheduled", is_scheduled=True)
    no_flag = world.event("D", "Other", condition="Staffed", at=at(10), is_scheduled=False)
    unstaffed_flagged = world.event("E", "Other", condition="Unstaffed", is_scheduled=True, due=at(23, 59))
    unstaffed_row = world.event("F", "Other", condition="Unstaffed", at=at(10), is_scheduled=False, due=at(23, 59))
    null_flag = world.event("G", "Other", condition="Scheduled", at=at(10), is_scheduled=None)
    findings = run(world.engine, ["schedule_state_drift"])
    assert found(findings) == {("schedule_state_drift", (ref,))
                               for ref in (no_row, no_flag, unstaffed_flagged, unstaffed_row, null_flag)}
    assert all(f.severity == WARNING for f in findings)
    assert "there is no schedules row" in next(f.detail for f in findings if f.refs == (no_row,))


# --- rule 10: schedules Crossmark cannot unschedule -------------------------------------------------------------------


def test_schedule_without_crossmark_id(world):
    missing = world.event("A", "Other", condition="Scheduled", at=at(10), schedule_id=None)
    empty = world.event("B", "Other", condition="Scheduled", at=at(10), schedule_id="")
    legacy = world.event("C", "Other", condition="Scheduled", at=at(10), schedule_id="3001003_157384")
    world.event("D", "Other", condition="Scheduled", at=at(10), schedule_id="61000001")
    world.event("E", "Other", condition="Scheduled", at=at(10), schedule_id=" 61000002 ")  # the client strips it
    findings = run(world.engine, ["schedule_without_crossmark_id"])
    assert found(findings) == {("schedule_without_crossmark_id", (ref,)) for ref in (missing, empty, legacy)}
    assert "'3001003_157384'" in next(f.detail for f in findings if f.refs == (legacy,))


# --- rule 11: the journal -----------------------------------------------------------------------------------------


def test_operation_needs_attention(world):
    core, supervisor = world.core(at=at(10, 30)), world.supervisor(at=at(12, 30))
    events = [{"ref": core, "role": "core", "before": {"scheduled": True, "start": at(10, 30).isoformat()},
               "target": {"scheduled": True, "start": at(9, 45, DAY + timedelta(days=1)).isoformat()}},
              {"ref": supervisor, "role": "supervisor", "before": {"scheduled": True, "start": at(12, 30).isoformat()},
               "target": {"scheduled": True, "start": at(11, 45, DAY + timedelta(days=1)).isoformat()}}]
    with world.engine.begin() as connection:
        for key, status in (("k1", "needs_attention"), ("k2", "done"), ("k3", "compensated")):
            connection.execute(insert(Operation.__table__).values(
                idempotency_key=key, kind="reschedule", requested_by="dana", requested_at=NOW, status=status,
                message="Crossmark timed out on the Supervisor. NEEDS ATTENTION: Supervisor is at 11:45 in Crossmark",
                request={}, events=events, updated_at=NOW, finished_at=NOW))
    (finding,) = run(world.engine, ["operation_needs_attention"])
    assert (finding.rule, finding.severity, finding.refs, finding.core_ref, finding.supervisor_ref, finding.day) == (
        "operation_needs_attention", CRITICAL, (core, supervisor), core, supervisor, DAY)
    assert "Operation 1" in finding.detail and "NEEDS ATTENTION" in finding.detail
    assert run(world.engine, ["pair_date_mismatch", "supervisor_time_off_rule"]) == []


# --- the sprint2 scenario and the demo data ---------------------------------------------------------------------------


def test_the_sprint2_scenario_yields_exactly_its_two_findings(engine):
    today = date(2025, 9, 1)
    seed_sprint2_scenario(engine, today=today)
    # The COREs are on today + 7 (more than 24 h away); 608002 is Unstaffed, due today + 11: no unstaffed_* finding.
    findings = run(engine, now=datetime.combine(today, time()))
    assert [(f.rule, f.severity, f.refs, f.event_number, f.store, f.core_ref, f.supervisor_ref, f.day)
            for f in findings] == [
        ("core_supervisor_unstaffed", WARNING, (608001, 608002), "608001", "157384", 608001, 608002,
         today + timedelta(days=7)),
        ("core_without_supervisor", WARNING, (606999,), "606999", "157384", 606999, None, today + timedelta(days=7)),
    ]
    assert not any(606001 in f.refs or 606002 in f.refs for f in findings)
    # Within 24 h of the 11:30 CORE the unstaffed Supervisor turns critical.
    close = run(engine, ["core_supervisor_unstaffed"], now=datetime.combine(today + timedelta(days=6), time(12)))
    assert [f.severity for f in close] == [CRITICAL]


def test_the_demo_data_anomalies_are_found_at_exactly_their_injected_counts(engine):
    today = date(2025, 9, 12)
    report = seed_demo_data(engine, events=5000, stores=3, start=date(2025, 7, 1), months=5, today=today)
    assert all(count > 0 for count in report.anomalies.values()), report.anomalies
    findings = run(engine, now=datetime.combine(today, time()))  # T0: the demo's definitions are relative to it
    counts = Counter(finding.rule for finding in findings)
    assert {rule: counts[rule] for rule in report.anomalies} == report.anomalies
    assert counts["operation_needs_attention"] == 0
    # Normal Unstaffed events are due on or after T0 + 24 h; the next two days' are the only unstaffed_due_3d.
    assert set(counts) - set(report.anomalies) <= {"unstaffed_due_3d"}
    assert len({(f.rule, f.refs) for f in findings}) == len(findings)  # identities are unique


# --- rule 12: Crossmark ---------------------------------------------------------------------------------------------


def test_crossmark_drift_against_the_sandbox(engine):
    today = date(2025, 9, 1)
    seed_sprint2_scenario(engine, today=today)
    now = datetime.combine(today, time(6))
    client = make_crossmark_client(load_settings({}), engine)  # the sandbox, holding what the database holds
    try:
        assert run(engine, ["crossmark_drift"], now=now, crossmark_client=client) == []
        assert "crossmark_drift" not in {f.rule for f in run(engine, now=now)}  # not without a client
        with engine.begin() as connection:
            connection.execute(update(Schedule.__table__).where(Schedule.__table__.c.event_ref_num == 606001)
                               .values(schedule_datetime=datetime.combine(today + timedelta(days=7), time(9, 45))))
        (finding,) = run(engine, ["crossmark_drift"], now=now, crossmark_client=client)
        assert (finding.rule, finding.severity, finding.refs, finding.core_ref, finding.day) == (
            "crossmark_drift", CRITICAL, (606001,), 606001, today + timedelta(days=7))
        assert "10:30" in finding.detail and "09:45" in finding.detail
        # A window that ends before the scenario's events starts sees nothing.
        assert run(engine, ["crossmark_drift"], now=now, crossmark_client=client, drift_window_days=2) == []
    finally:
        client.close()


def test_the_database_bound_rules_run_beside_on_a_second_connection_with_the_same_findings(engine):
    """run_rules(beside=engine): the steps that are mostly database work run on a connection of their own, in a
    thread, while the others build their findings; what comes back is what one connection finds, in the same order
    once ordered."""
    from sqlalchemy import event

    today = date.today()
    seed_demo_data(engine, events=1500, stores=3, start=today - timedelta(days=20), months=2, today=today)
    now = datetime.combine(today, time(9, 40))
    alone = run(engine, list(RULES.keys() - {"crossmark_drift"}), now=now)
    checkouts: list[str] = []

    def checked_out(*_arguments) -> None:  # noqa: ANN002
        import threading
        checkouts.append(threading.current_thread().name)

    event.listen(engine, "checkout", checked_out)
    try:
        together = run(engine, list(RULES.keys() - {"crossmark_drift"}), now=now, beside=engine)
    finally:
        event.remove(engine, "checkout", checked_out)
    assert together == alone
    assert {finding.rule for finding in alone} >= {"schedule_state_drift", "schedule_without_crossmark_id",
                                                    "unreported_work", "core_supervisor_unstaffed"}
    # The caller's connection, and one more in the helper thread for the database-bound steps.
    assert len(checkouts) == 2 and checkouts[1].startswith("rules-beside") and checkouts[0] == "MainThread"
