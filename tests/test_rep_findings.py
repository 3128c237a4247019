"""The data-quality rules about people (services/quality/rep_findings.py): each rule on a dataset that triggers it and
a close one that must not, on SQLite and PostgreSQL (the `engine` fixture); the scheduler's availability tables present
(dates as text with a time on SQLite) or absent; stable identities through run_check; the CLI."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, bindparam, insert, text, update

from services.actions.rep_facts import forget_availability_tables
from services.demo.demo_data import seed_demo_data
from services.domain.event_rules import CORE, DIGITALS, FREEOSK, JUICER, SUPERVISOR
from services.domain.severity import CRITICAL, WARNING
from services.quality.work import finding_record
from services.quality.checks import identity_of, run_check
from services.quality.rules import RULES, Finding, run_rules
from services.settings import load_settings
from services.store.tables import Employee, Event, Schedule
from tests.cli_runner import run_cli

NOW = datetime(2025, 9, 1, 8, 0)  # a Monday
TODAY = NOW.date()
DAY = date(2025, 9, 3)            # a Wednesday, ahead of NOW
STORE = "157384"
REP_RULES = ["rep_double_booked", "rep_inactive_with_events", "rep_not_qualified", "rep_time_off_conflict",
             "unreported_work", "stale_sync"]
ES, LEAD, CLUB, BARISTA = "Event Specialist", "Lead Event Specialist", "Club Supervisor", "Juicer Barista"


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute))


class People:
    """Reps, events and schedules written with plain inserts; refs count up from 2001."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.next_ref = 2001

    def rep(self, employee_id: str, name: str, title: str | None = ES, *, active: bool = True) -> str:
        with self.engine.begin() as connection:
            connection.execute(insert(Employee.__table__).values(
                id=employee_id, name=name, job_title=title, is_active=active, external_id=f"9{employee_id[-5:]}"))
        return employee_id

    def event(self, rep: str, event_type: str, when: datetime, *, condition: str = "Scheduled",
              minutes: int | None = None, synced: datetime | None = None) -> int:
        """A scheduled event of `rep` at `when` (its estimated_time `minutes`, None: the type's default)."""
        ref, self.next_ref = self.next_ref, self.next_ref + 1
        with self.engine.begin() as connection:
            connection.execute(insert(Event.__table__).values(
                project_name=f"{ref}-{event_type}-Sample", project_ref_num=ref, location_mvid=STORE, store_number=8135,
                start_datetime=datetime.combine(when.date() - timedelta(days=2), time()),
                due_datetime=datetime.combine(when.date() + timedelta(days=2), time(23, 59)), estimated_time=minutes,
                is_scheduled=True, event_type=event_type, condition=condition, external_id=f"3{ref}",
                last_synced=synced))
            connection.execute(insert(Schedule.__table__).values(
                event_ref_num=ref, employee_id=rep, schedule_datetime=when, external_id=f"5{ref}"))
        return ref

    def execute(self, statement: str, **parameters) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(statement), parameters)


@pytest.fixture
def people(engine: Engine) -> People:
    return People(engine)


def run(engine: Engine, names=REP_RULES, *, now: datetime = NOW) -> list[Finding]:
    with engine.connect() as connection:
        return run_rules(connection, now=now, rule=load_settings({}).supervisor_rule, names=names)


def found(findings: list[Finding]) -> set[tuple[str, tuple[int, ...], str | None]]:
    return {(finding.rule, finding.refs, finding.employee_id) for finding in findings}


@pytest.fixture
def scheduler_table(people: People):
    """Create one of the scheduler's availability tables for a test; dropped (and the table cache cleared) after."""
    created = []

    def create(statement: str) -> None:
        people.execute(statement)
        created.append(statement.split()[2])
        forget_availability_tables()  # their presence is cached for a minute

    yield create
    for name in created:
        people.execute(f"DROP TABLE {name}")
    forget_availability_tables()


# --- the registry ---------------------------------------------------------------------------------------------------


def test_the_rules_about_people_are_declared_with_plain_titles_and_severities():
    assert list(RULES)[-6:] == REP_RULES
    assert {name: RULES[name].severity for name in REP_RULES} == {
        "rep_double_booked": CRITICAL, "rep_inactive_with_events": CRITICAL, "rep_not_qualified": CRITICAL,
        "rep_time_off_conflict": CRITICAL, "unreported_work": WARNING, "stale_sync": WARNING}
    assert all(RULES[name].title and "_" not in RULES[name].title for name in REP_RULES)
    assert all("from the start of today on" in RULES[name].description for name in REP_RULES[:4])
    assert [name for name, rule in RULES.items() if rule.one_finding] == ["stale_sync"]


# --- rep_double_booked ------------------------------------------------------------------------------------------------


def test_two_cores_on_a_day_are_double_booked_two_on_different_days_are_not(people):
    dana = people.rep("US100001", "Dana Whitfield")
    first = people.event(dana, CORE, at(7, 0), minutes=60)  # far enough apart not to overlap: two COREs all the same
    second = people.event(dana, CORE, at(15, 0), minutes=60)
    marcus = people.rep("US100002", "Marcus Bell")
    people.event(marcus, CORE, at(10, 30))
    people.event(marcus, CORE, at(10, 30, DAY + timedelta(days=1)))
    (finding,) = run(people.engine)
    assert (finding.rule, finding.severity, finding.refs, finding.employee_id, finding.day, finding.store) == (
        "rep_double_booked", CRITICAL, (first, second), dana, DAY, STORE)
    assert finding.due == at(23, 59, DAY + timedelta(days=2))
    assert "Dana Whitfield (US100001)" in finding.detail and str(first) in finding.detail and "07:00" in finding.detail


def test_overlapping_events_are_double_booked_and_supervisor_events_are_exempt(people):
    jade = people.rep("US100003", "Jade Monroe", BARISTA)
    juicer = people.event(jade, JUICER, at(8, 0))               # 540 minutes by default: until 17:00
    other = people.event(jade, "Other", at(16, 30), minutes=60)  # overlaps the Juicer's last half hour
    people.event(jade, JUICER, at(8, 0, DAY + timedelta(days=1)), minutes=120)
    people.event(jade, "Other", at(10, 0, DAY + timedelta(days=1)), minutes=60)  # starts as the Juicer ends
    tom = people.rep("US100004", "Tom Alvarez", CLUB)
    people.event(tom, CORE, at(10, 30))
    people.event(tom, SUPERVISOR, at(12, 30))                   # within his CORE: Supervisors are exempt
    people.event(tom, SUPERVISOR, at(12, 30))                   # and among themselves
    (finding,) = run(people.engine)
    assert (finding.rule, finding.refs, finding.employee_id) == ("rep_double_booked", (juicer, other), jade)


def test_past_days_are_history_not_double_bookings(people):
    dana = people.rep("US100001", "Dana Whitfield")
    people.event(dana, CORE, at(9, 45, TODAY - timedelta(days=1)), condition="Submitted")
    people.event(dana, CORE, at(11, 30, TODAY - timedelta(days=1)), condition="Submitted")
    assert run(people.engine, ["rep_double_booked"]) == []
    today_core = people.event(dana, CORE, at(9, 45, TODAY))     # today counts, even before now
    today_other = people.event(dana, "Other", at(7, 0, TODAY), minutes=240)
    assert found(run(people.engine, ["rep_double_booked"])) == {
        ("rep_double_booked", (today_core, today_other), dana)}


def test_canceled_events_hold_no_rep(people):
    dana = people.rep("US100001", "Dana Whitfield")
    people.event(dana, CORE, at(9, 45))
    people.event(dana, CORE, at(11, 30), condition="Canceled")  # a leftover schedules row: drift, not work
    assert run(people.engine) == []


# --- rep_inactive_with_events ------------------------------------------------------------------------------------------


def test_an_inactive_rep_with_events_from_today_on_and_one_with_only_past_events(people):
    gone = people.rep("US100005", "Sam Ortiz", active=False)
    ref = people.event(gone, CORE, at(10, 30))
    left = people.rep("US100006", "Lee Park", active=False)
    people.event(left, CORE, at(10, 30, TODAY - timedelta(days=2)), condition="Submitted")
    (finding,) = run(people.engine)
    assert (finding.rule, finding.severity, finding.refs, finding.employee_id, finding.core_ref, finding.day) == (
        "rep_inactive_with_events", CRITICAL, (ref,), gone, ref, DAY)
    assert "Sam Ortiz (US100005) is inactive" in finding.detail


# --- rep_not_qualified --------------------------------------------------------------------------------------------


def test_who_may_work_what(people):
    laura = people.rep("US100007", "Laura Kim", LEAD)
    priya = people.rep("US100008", "Priya Raman", ES)
    nobody = people.rep("US100009", "Noel Grant", None)
    jade = people.rep("US100003", "Jade Monroe", BARISTA)
    people.event(laura, SUPERVISOR, at(12, 30))                 # a Lead may work a Supervisor
    people.event(laura, FREEOSK, at(8, 0, DAY + timedelta(days=1)))
    people.event(jade, JUICER, at(8, 0))                         # a Juicer Barista a Juicer
    people.event(priya, CORE, at(10, 30))                        # anyone a CORE
    supervisor = people.event(priya, SUPERVISOR, at(13, 0))      # an Event Specialist not a Supervisor
    juicer = people.event(laura, JUICER, at(8, 0, DAY + timedelta(days=2)))  # nor a Lead a Juicer
    digitals = people.event(nobody, DIGITALS, at(9, 0))          # nor anyone without a title a Digitals
    assert found(run(people.engine)) == {("rep_not_qualified", (supervisor,), priya),
                                         ("rep_not_qualified", (juicer,), laura),
                                         ("rep_not_qualified", (digitals,), nobody)}
    detail = next(f.detail for f in run(people.engine) if f.refs == (supervisor,))
    assert "Priya Raman (US100008, Event Specialist)" in detail
    assert "needs a Club Supervisor or Lead Event Specialist" in detail


# --- rep_time_off_conflict -------------------------------------------------------------------------------------------


def test_no_availability_tables_no_time_off_findings_and_no_error(people):
    dana = people.rep("US100001", "Dana Whitfield")
    people.event(dana, CORE, at(10, 30))
    forget_availability_tables()
    assert run(people.engine, ["rep_time_off_conflict"]) == []


def test_time_off_covering_the_day_and_one_ending_the_day_before(people, scheduler_table):
    scheduler_table("CREATE TABLE employee_time_off (id INTEGER PRIMARY KEY, employee_id VARCHAR(50), "
                    "start_date DATE, end_date DATE, reason VARCHAR(200))")
    dana = people.rep("US100001", "Dana Whitfield")
    marcus = people.rep("US100002", "Marcus Bell")
    off = people.event(dana, CORE, at(10, 30))
    people.event(marcus, CORE, at(10, 30))
    people.execute("INSERT INTO employee_time_off (id, employee_id, start_date, end_date, reason) VALUES "
                   "(1, :dana, :first, :last, 'Vacation'), (2, :marcus, :before, :before, 'Dentist')",
                   dana=dana, marcus=marcus, first=DAY - timedelta(days=1), last=DAY, before=DAY - timedelta(days=1))
    (finding,) = run(people.engine)
    assert (finding.rule, finding.severity, finding.refs, finding.employee_id, finding.day) == (
        "rep_time_off_conflict", CRITICAL, (off,), dana, DAY)
    assert "time off 2025-09-02 – 2025-09-03 (Vacation)" in finding.detail and "Dana Whitfield" in finding.detail


def test_days_off_stored_as_text_with_a_time_unavailable_days_and_weekdays(people, scheduler_table):
    scheduler_table("CREATE TABLE employee_time_off (id INTEGER PRIMARY KEY, employee_id VARCHAR(50), "
                    "start_date VARCHAR(30), end_date VARCHAR(30), reason VARCHAR(200))")
    scheduler_table("CREATE TABLE employee_availability (id INTEGER PRIMARY KEY, employee_id VARCHAR(50), "
                    "date VARCHAR(30), is_available BOOLEAN, reason VARCHAR(200))")
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    scheduler_table("CREATE TABLE employee_weekly_availability (employee_id VARCHAR(50) PRIMARY KEY, "
                    + ", ".join(f"{day} BOOLEAN" for day in days) + ")")
    dana, marcus = people.rep("US100001", "Dana Whitfield"), people.rep("US100002", "Marcus Bell")
    priya, laura = people.rep("US100008", "Priya Raman"), people.rep("US100007", "Laura Kim", LEAD)
    on_leave = people.event(dana, CORE, at(10, 30))
    people.event(dana, CORE, at(10, 30, DAY + timedelta(days=1)))     # the day after her time off
    unavailable = people.event(marcus, CORE, at(10, 30))
    people.event(marcus, CORE, at(10, 30, DAY + timedelta(days=1)))   # available again
    not_her_day = people.event(priya, CORE, at(10, 30))               # she does not work Wednesdays
    people.event(priya, CORE, at(10, 30, DAY + timedelta(days=1)))
    people.event(laura, SUPERVISOR, at(12, 30))                        # all days marked: she works Wednesdays
    people.execute("INSERT INTO employee_time_off (id, employee_id, start_date, end_date, reason) "
                   "VALUES (1, :who, :first, :last, 'Vacation')",
                   who=dana, first=f"{DAY - timedelta(days=3)} 00:00:00", last=f"{DAY} 00:00:00")
    people.execute("INSERT INTO employee_availability (id, employee_id, date, is_available, reason) VALUES "
                   "(1, :marcus, :day, :no, 'Doctor'), (2, :dana, :next, :yes, NULL)",
                   marcus=marcus, dana=dana, day=f"{DAY} 00:00:00", next=f"{DAY + timedelta(days=1)} 00:00:00",
                   no=False, yes=True)
    for who, off in ((priya, "wednesday"), (laura, None)):
        people.execute("INSERT INTO employee_weekly_availability VALUES (:who, "
                       + ", ".join(f":{day}" for day in days) + ")", who=who, **{day: day != off for day in days})
    findings = {finding.refs: finding for finding in run(people.engine, ["rep_time_off_conflict"])}
    assert set(findings) == {(on_leave,), (unavailable,), (not_her_day,)}
    assert "time off 2025-08-31 – 2025-09-03 (Vacation)" in findings[(on_leave,)].detail
    assert "marked unavailable that day (Doctor)" in findings[(unavailable,)].detail
    assert "does not work on Wednesdays" in findings[(not_her_day,)].detail
    assert {finding.employee_id for finding in findings.values()} == {dana, marcus, priya}


def test_time_off_before_today_is_history(people, scheduler_table):
    scheduler_table("CREATE TABLE employee_time_off (id INTEGER PRIMARY KEY, employee_id VARCHAR(50), "
                    "start_date DATE, end_date DATE, reason VARCHAR(200))")
    dana = people.rep("US100001", "Dana Whitfield")
    yesterday = TODAY - timedelta(days=1)
    people.event(dana, CORE, at(10, 30, yesterday), condition="Submitted")
    people.execute("INSERT INTO employee_time_off (id, employee_id, start_date, end_date) VALUES (1, :who, :d, :d)",
                   who=dana, d=yesterday)
    assert run(people.engine, ["rep_time_off_conflict"]) == []


# --- unreported_work ----------------------------------------------------------------------------------------------


def test_unreported_work_in_the_last_fourteen_days(people):
    dana = people.rep("US100001", "Dana Whitfield")
    three_days_ago = TODAY - timedelta(days=3)
    people.event(dana, CORE, at(10, 30, three_days_ago), condition="Submitted")
    unreported = people.event(dana, CORE, at(10, 30, three_days_ago + timedelta(days=1)), condition="Scheduled")
    people.event(dana, CORE, at(10, 30, TODAY - timedelta(days=15)), condition="Staffed")   # older than 14 days
    people.event(dana, CORE, at(7, 0, TODAY), condition="In Progress")                      # not over yet at 08:00
    people.event(dana, CORE, at(10, 30, three_days_ago), condition="Canceled")              # not work
    (finding,) = run(people.engine)
    assert (finding.rule, finding.severity, finding.refs, finding.employee_id, finding.day) == (
        "unreported_work", WARNING, (unreported,), dana, three_days_ago + timedelta(days=1))
    assert "still Scheduled, not Submitted" in finding.detail and "Dana Whitfield" in finding.detail
    ended = people.event(dana, "Other", at(7, 0, TODAY), minutes=30, condition="In Progress")  # 07:00-07:30: over
    assert found(run(people.engine, ["unreported_work"])) == {("unreported_work", (unreported,), dana),
                                                              ("unreported_work", (ended,), dana)}


# --- stale_sync -----------------------------------------------------------------------------------------------------


def test_stale_sync_after_24_hours_and_none_without_any_sync_time(people):
    assert run(people.engine, ["stale_sync"]) == []  # no events
    dana = people.rep("US100001", "Dana Whitfield")
    ref = people.event(dana, CORE, at(10, 30))
    assert run(people.engine, ["stale_sync"]) == []  # events, none with a sync time
    people.event(dana, CORE, at(10, 30, DAY + timedelta(days=5)), synced=NOW - timedelta(hours=30))
    with people.engine.begin() as connection:
        connection.execute(update(Event.__table__).where(Event.__table__.c.project_ref_num == ref)
                           .values(last_synced=NOW - timedelta(hours=23)))
    assert run(people.engine, ["stale_sync"]) == []  # the newest counts: 23 h
    (finding,) = run(people.engine, ["stale_sync"], now=NOW + timedelta(hours=2))  # now 25 h
    assert (finding.rule, finding.severity, finding.refs, finding.day, finding.employee_id) == (
        "stale_sync", WARNING, (), None, None)
    assert "2025-08-31 09:00, 1 day(s) 1 h ago" in finding.detail
    later = run(people.engine, ["stale_sync"], now=NOW + timedelta(hours=5))[0]
    assert identity_of(later) == identity_of(finding) == "stale_sync" and later.detail != finding.detail


# --- through run_check: stable identities, resolution; the CLI -------------------------------------------------------


def test_rep_findings_keep_their_identity_across_runs_and_resolve_when_fixed(people):
    dana, marcus = people.rep("US100001", "Dana Whitfield"), people.rep("US100002", "Marcus Bell")
    first_core, second_core = people.event(dana, CORE, at(9, 45)), people.event(dana, CORE, at(11, 30))
    supervisor = people.event(dana, SUPERVISOR, at(12, 30, DAY + timedelta(days=1)), synced=NOW - timedelta(days=2))
    settings = load_settings({})
    first = run_check(people.engine, settings, rules=REP_RULES, now=NOW)
    assert {f.rule for f in first.findings} == {"rep_double_booked", "rep_not_qualified", "stale_sync"}
    assert first.new == 3
    second = run_check(people.engine, settings, rules=REP_RULES, now=NOW + timedelta(hours=1))
    assert second.new == 0 and second.resolved == 0
    assert {(f.id, f.rule) for f in second.findings} == {(f.id, f.rule) for f in first.findings}
    assert not any(f.is_new for f in second.findings)
    with people.engine.connect() as connection:
        identities = set(connection.execute(text("SELECT identity FROM dashboard_findings")).scalars())
    assert identities == {f"rep_double_booked:{first_core},{second_core}@{dana}",
                          f"rep_not_qualified:{supervisor}@{dana}", "stale_sync"}

    # `check show` and the page's panel name the rep, not only the scheduler's key.
    double_booked = next(f for f in first.findings if f.rule == "rep_double_booked")
    record = finding_record(people.engine, double_booked.id)
    assert (record.employee_id, record.rep) == (dana, f"Dana Whitfield ({dana})")

    # The second CORE goes to Marcus, the Supervisor is synced again and stays with Dana: two findings resolve.
    people.execute("UPDATE schedules SET employee_id = :who WHERE event_ref_num = :ref", who=marcus, ref=second_core)
    people.execute("UPDATE events SET last_synced = :now", now=NOW)
    third = run_check(people.engine, settings, rules=REP_RULES, now=NOW + timedelta(hours=2))
    assert third.resolved == 2 and third.new == 0
    assert [(f.rule, f.id) for f in third.findings] == [
        (f.rule, f.id) for f in first.findings if f.rule == "rep_not_qualified"]


def test_the_cli_lists_the_rules_and_runs_one(tmp_path):
    path = tmp_path / "scheduler.db"
    assert run_cli("db", "upgrade", "--db", str(path)).returncode == 0
    listed = run_cli("check", "rules", "--db", str(path))
    assert listed.returncode == 0 and all(name in listed.stdout for name in REP_RULES)
    assert run_cli("demo", "seed", "--scenario", "sprint2", "--db", str(path)).returncode == 0
    result = run_cli("check", "run", "--rules", "rep_double_booked", "--db", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["findings"] == []  # the scenario's reps hold one CORE each


def test_the_demo_data_staffs_its_events_with_reps_who_may_work_them_and_are_free(engine):
    """Its clubs hire when busy, so the critical rules about people find nothing; unreported work is real demo data
    (a few past events left Staffed) and stays a few."""
    today = date(2025, 9, 12)
    report = seed_demo_data(engine, events=3000, stores=3, start=date(2025, 7, 1), months=5, today=today)
    findings = run(engine, now=datetime.combine(today, time(10)))
    assert {finding.rule for finding in findings} == {"unreported_work"}
    assert 0 < len(findings) < report.events // 100
    with engine.connect() as connection:
        conditions = set(connection.execute(text(
            "SELECT e.condition FROM events e JOIN schedules s ON s.event_ref_num = e.project_ref_num "
            "WHERE e.project_ref_num IN :refs").bindparams(bindparam("refs", expanding=True)),
            {"refs": [finding.refs[0] for finding in findings]}).scalars())
    assert conditions <= {"Staffed", "In Progress", "Scheduled"}
