"""The digests (issue 21): the weekly data-quality review's figures on a built history (this week against last week,
new / resolved / overdue, time to fix, top stores, oldest critical findings); the morning readiness on a small case and,
as a property, a readiness per club that is never negative nor above 100 %; rendering that keeps hostile names text
in HTML and Slack; the CLI (--out, --json, bad dates, --notify to a real local webhook and SMTP server); and the
figures equal to those the Data quality, Unscheduled and Day view pages show on the same database."""
from __future__ import annotations

import email
import json
import os
import stat
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import Engine, delete, insert, text

from services.demo.demo_data import seed_demo_data, seed_sprint2_scenario
from services.errors import InvalidInput
from services.quality.checks import run_check
from services.quality.digests import (
    MorningReadiness, Store, WeekFigures, club_readiness, day_link, morning_readiness, notice,
    render_html, render_text, slack_summary, weekly_review,
)
from services.quality.work import time_to_fix
from services.reads.read_queries import day_view
from services.settings import load_settings
from services.store.database import make_engine
from tests.migrated_template import migrate_new_database
from services.store.tables import Employee, Event, FindingHistory, QualityFinding, Schedule
from tests.cli_runner import run_cli
from tests.conftest import _months_back, private_database
from tests.test_app_pages import _metrics, open_page  # noqa: F401 - the shared AppTest fixture
from tests.test_notifications import smtp_server, webhook  # noqa: F401 - the local Slack webhook and SMTP server

HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","click")'
URL = "http://dash.example"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute))


# --- the weekly review on a built history ---------------------------------------------------------------------------

# Week under review: Mon Jun 01 .. Sun Jun 07 2026 (ends Jun 08 00:00); the week before: May 25 .. May 31.
WEEK_ENDING = date(2026, 6, 7)
REVIEW_NOW = at(date(2026, 6, 10), 9)


def _finding(connection, finding_id: int, rule: str, severity: str, *, first_seen: datetime,  # noqa: ANN001
             resolved_at: datetime | None = None, due_by: datetime | None = None, store: str | None = None,
             day: date | None = None, owner: str | None = None, detail: str = "a finding") -> None:
    connection.execute(insert(QualityFinding).values(
        id=finding_id, identity=f"{rule}:{finding_id}", rule=rule, severity=severity, refs=str(finding_id),
        detail=detail, first_seen=first_seen, last_seen=resolved_at or REVIEW_NOW, first_run_id=1, last_run_id=1,
        resolved_at=resolved_at, due_by=due_by, store=store, day=day, owner=owner))


def _history(connection, finding_id: int, kind: str, at_: datetime, *, opened_at: datetime | None = None,  # noqa: ANN001
             actor: str | None = None, said: str | None = None) -> None:
    connection.execute(insert(FindingHistory).values(finding_id=finding_id, at=at_, kind=kind, opened_at=opened_at,
                                                     actor=actor, text=said))


def _club_event(ref: int, location: str | None, number: int, name: str, **values) -> dict:
    event = {"project_name": f"{ref}-Other-{ref}", "project_ref_num": ref, "location_mvid": location,
             "store_number": number, "store_name": name, "start_datetime": at(date(2026, 5, 1), 0),
             "due_datetime": at(date(2026, 7, 31), 23, 59), "estimated_time": 15, "is_scheduled": False,
             "event_type": "Other", "condition": "Canceled", "external_id": f"3{ref}",
             "last_synced": at(date(2026, 6, 9), 5), "sync_status": "synced"}
    event.update(values)
    return event


def build_history(engine: Engine) -> None:
    """Six findings whose occurrences cross the two weeks in every way that counts (see the expected figures)."""
    with engine.begin() as connection:
        connection.execute(insert(Event), [_club_event(1, "L1", 101, "Club One"),
                                           _club_event(2, "L2", 202, HOSTILE)])
        # A: open since long before, overdue at both week ends.
        _finding(connection, 1, "pair_date_mismatch", "critical", first_seen=at(date(2026, 5, 20), 8),
                 due_by=at(date(2026, 5, 21), 8), store="L1", day=date(2026, 6, 15), detail=f"Pair {HOSTILE}")
        # B: new this week, resolved this week.
        _finding(connection, 2, "core_without_supervisor", "warning", first_seen=at(date(2026, 6, 2), 8),
                 resolved_at=at(date(2026, 6, 5), 8), due_by=at(date(2026, 6, 5), 8), store="L1")
        _history(connection, 2, "resolved", at(date(2026, 6, 5), 8), opened_at=at(date(2026, 6, 2), 8))
        # C: new and resolved last week, reopened this week (new again), overdue at this week's end.
        _finding(connection, 3, "unstaffed_past_due", "critical", first_seen=at(date(2026, 6, 3), 8),
                 due_by=at(date(2026, 6, 4), 8), store="L1", day=date(2026, 6, 3))
        _history(connection, 3, "resolved", at(date(2026, 5, 28), 8), opened_at=at(date(2026, 5, 26), 8))
        _history(connection, 3, "reopened", at(date(2026, 6, 3), 8))
        # D: new last week, open at both ends, resolved after the week: overdue only at this week's end (info: 7 days).
        _finding(connection, 4, "supervisor_time_off_rule", "info", first_seen=at(date(2026, 5, 30), 8),
                 resolved_at=at(date(2026, 6, 9), 8), due_by=at(date(2026, 6, 6), 8), store="L1")
        _history(connection, 4, "resolved", at(date(2026, 6, 9), 8), opened_at=at(date(2026, 5, 30), 8))
        # E: an older occurrence open at last week's end, past its rule's SLA (3 days for a warning) then; resolved
        # this week; reopened after the week (its due_by is the new occurrence's).
        _finding(connection, 5, "duplicate_pair_number", "warning", first_seen=at(date(2026, 6, 9), 8),
                 due_by=at(date(2026, 6, 12), 8), store="L2")
        _history(connection, 5, "resolved", at(date(2026, 6, 2), 8), opened_at=at(date(2026, 5, 20), 8))
        _history(connection, 5, "reopened", at(date(2026, 6, 9), 8))
        # F: new this week at the hostile club, owned and commented, overdue.
        _finding(connection, 6, "unstaffed_due_24h", "critical", first_seen=at(date(2026, 6, 6), 8),
                 due_by=at(date(2026, 6, 7), 8), store="L2", day=date(2026, 6, 7), owner="alice",
                 detail=f"Event {FORMULA} at {HOSTILE}")
        _history(connection, 6, "commented", at(date(2026, 6, 6), 9), actor="alice", said="first look")
        _history(connection, 6, "commented", at(date(2026, 6, 6), 10), actor="alice", said=f"called {HOSTILE}")


EXPECTED_RULES = {  # (rule, severity): (this week, last week) as (open, new, resolved, overdue)
    ("pair_date_mismatch", "critical"): ((1, 0, 0, 1), (1, 0, 0, 1)),
    ("unstaffed_past_due", "critical"): ((1, 1, 0, 1), (0, 1, 1, 0)),
    ("unstaffed_due_24h", "critical"): ((1, 1, 0, 1), (0, 0, 0, 0)),
    ("core_without_supervisor", "warning"): ((0, 1, 1, 0), (0, 0, 0, 0)),
    ("duplicate_pair_number", "warning"): ((0, 0, 1, 0), (1, 0, 0, 1)),
    ("supervisor_time_off_rule", "info"): ((1, 0, 0, 1), (1, 1, 0, 0)),
}


def test_weekly_figures_this_week_against_last_week(engine):
    build_history(engine)
    review = weekly_review(engine, week_ending=WEEK_ENDING, now=REVIEW_NOW)
    assert (review.week_start, review.cut) == (date(2026, 6, 1), at(date(2026, 6, 8), 0))
    assert {(row.rule, row.severity): (tuple(row.this_week), tuple(row.last_week)) for row in review.rules} == \
        EXPECTED_RULES
    assert [row.severity for row in review.rules] == ["critical"] * 3 + ["warning"] * 2 + ["info"]
    for row in review.rules:  # what was open, plus what came, less what went, is what is open
        assert row.this_week.open == row.last_week.open + row.this_week.new - row.this_week.resolved
    assert review.totals() == (WeekFigures(4, 3, 2, 4), WeekFigures(3, 2, 1, 2))
    assert review.totals("critical") == (WeekFigures(3, 2, 0, 3), WeekFigures(1, 1, 1, 1))

    # Time to fix is work.time_to_fix's, for the calendar week of Jun 01 (B: 3 days, E: 13) and the one before (C: 2).
    assert review.fix_week == date(2026, 6, 1)
    assert (review.fix_this_week.resolved, review.fix_this_week.median_days) == (2, 8.0)
    assert (review.fix_last_week.resolved, review.fix_last_week.median_days) == (1, 2.0)
    assert {fix.week: fix for fix in time_to_fix(engine, weeks=3, today=date(2026, 6, 7))}[date(2026, 6, 1)] == \
        review.fix_this_week

    assert [(item.store, item.open) for item in review.top_stores] == [
        (Store("L1", 101, "Club One"), 3), (Store("L2", 202, HOSTILE), 1)]
    assert review.top_stores[0].store.label == "#101 · Club One"
    oldest = review.oldest_critical
    assert [(item.id, item.open_since, item.overdue) for item in oldest] == [
        (1, at(date(2026, 5, 20), 8), True), (3, at(date(2026, 6, 3), 8), True), (6, at(date(2026, 6, 6), 8), True)]
    assert (oldest[2].owner, oldest[2].last_comment, oldest[2].day) == ("alice", f"called {HOSTILE}", date(2026, 6, 7))


def test_a_week_not_over_is_read_as_of_now_and_a_future_week_is_refused(engine):
    build_history(engine)
    now = at(date(2026, 6, 5), 12)  # Friday noon: D not resolved yet, F not seen yet
    review = weekly_review(engine, now=now)
    assert (review.week_start, review.week_ending, review.cut) == (date(2026, 5, 30), date(2026, 6, 5), now)
    figures = {(row.rule, row.severity): row.this_week for row in review.rules}
    assert figures[("core_without_supervisor", "warning")] == (0, 1, 1, 0)
    assert figures[("supervisor_time_off_rule", "info")] == (1, 1, 0, 0)  # due Jun 06: not overdue yet
    assert ("unstaffed_due_24h", "critical") not in figures
    with pytest.raises(InvalidInput, match="cannot end after today"):
        weekly_review(engine, week_ending=date(2026, 6, 6), now=now)


# --- the morning readiness on a small case --------------------------------------------------------------------------

DAY = date(2026, 6, 10)
MORNING = at(DAY, 6, 30)
NEXT = DAY + timedelta(days=1)


def build_morning(engine: Engine, synced: datetime, day: date = DAY) -> None:
    """Club L1 (#101, a hostile name) on DAY: CORE 500001 with its scheduled Supervisor, CORE 500002 whose Supervisor
    is Unstaffed, CORE 500003 without one, a Juicer, an Unstaffed Freeosk due that evening and one past due at 05:00.
    Club 202 (no location id) on the next day: a Digitals event and an Unstaffed CORE due at noon."""
    following = day + timedelta(days=1)
    def event(ref: int, name: str, event_type: str, condition: str, *, location: str | None = "L1", number: int = 101,
              due: datetime | None = None) -> dict:
        return _club_event(ref, location, number, f"{HOSTILE} {FORMULA}" if location == "L1" else "Club 202",
                           project_name=name, event_type=event_type, condition=condition,
                           due_datetime=due or at(following + timedelta(days=5), 23, 59),
                           start_datetime=at(day - timedelta(days=3), 0), is_scheduled=condition == "Scheduled",
                           last_synced=synced)

    events = [event(11, "500001-CORE-Good pair", "Core", "Scheduled"),
              event(12, "500001-Supervisor-Good pair", "Supervisor", "Scheduled"),
              event(13, f"500002-CORE-{HOSTILE}", "Core", "Scheduled"),
              event(14, "500002-Supervisor-Unstaffed", "Supervisor", "Unstaffed"),
              event(15, "500003-CORE-Alone", "Core", "Scheduled"),
              event(16, "Juicer bar", "Juicer", "Scheduled"),
              event(17, f"Freeosk {FORMULA}", "Freeosk", "Unstaffed", due=at(day, 23, 59)),
              event(18, "Freeosk past due", "Freeosk", "Unstaffed", due=at(day, 5)),
              event(21, "Digital table", "Digitals", "Scheduled", location=None, number=202),
              event(22, "500009-CORE-Unstaffed", "Core", "Unstaffed", location=None, number=202, due=at(following, 12))]
    schedules = [(11, at(day, 10, 30)), (12, at(day, 12, 30)), (13, at(day, 11)), (15, at(day, 11, 30)),
                 (16, at(day, 9)), (21, at(following, 10))]
    with engine.begin() as connection:
        connection.execute(insert(Employee), [{"id": "R1", "name": f"Rep {HOSTILE}", "is_active": True,
                                               "job_title": "Club Supervisor", "external_id": "901"}])
        connection.execute(insert(Event), events)
        connection.execute(insert(Schedule), [{"event_ref_num": ref, "employee_id": "R1", "schedule_datetime": when,
                                               "external_id": f"5{ref}"} for ref, when in schedules])


def test_morning_readiness_on_a_small_case(engine):
    build_morning(engine, synced=at(DAY - timedelta(days=2), 5))
    readiness = morning_readiness(engine, load_settings({}), day=DAY, now=MORNING)
    today, tomorrow = readiness.days
    assert (today.day, tomorrow.day) == (DAY, NEXT)
    assert readiness.past_due == 1 and readiness.sync_stale
    assert [(club.store.key, club.events, club.ready, club.unstaffed_due, club.supervisor_gaps, club.rep_off,
             club.percent) for club in today.clubs] == [("L1", 6, 3, 1, 2, 0, 50)]
    assert today.clubs[0].store == Store("L1", 101, f"{HOSTILE} {FORMULA}")
    assert [(club.store.key, club.events, club.ready, club.unstaffed_due, club.percent) for club in tomorrow.clubs] \
        == [("202", 2, 1, 1, 50)]
    assert (today.unstaffed_due, [event.ref for event in today.unstaffed_listed]) == (1, [17])
    assert (tomorrow.unstaffed_due, [event.ref for event in tomorrow.unstaffed_listed]) == (1, [22])
    assert [(gap.ref, gap.state, gap.rep) for gap in today.supervisor_listed] == [
        (13, "unstaffed", f"Rep {HOSTILE}"), (15, "missing", f"Rep {HOSTILE}")]
    assert today.supervisor_gaps == 2 and tomorrow.supervisor_gaps == 0
    # The same Supervisor states as the Day view's pairing (services/reads/pairing.py).
    view = day_view(engine, DAY).scheduled
    cores = view[view["event_type"] == "Core"]
    assert {(int(ref), state) for ref, state in zip(cores["ref"], cores["supervisor_state"]) if state != "scheduled"} \
        == {(gap.ref, gap.state) for gap in today.supervisor_listed}
    assert today.scheduled == len(view) == 5
    assert today.days_off == () and tomorrow.days_off == ()  # no time-off tables here: nobody is off
    assert "Reps on time off holding events: 0" in render_text(readiness, URL)
    fresh = morning_readiness(engine, load_settings({}), day=DAY, now=at(DAY - timedelta(days=1), 4))
    assert not fresh.sync_stale and fresh.days[0].unstaffed_due == 2  # the 05:00 one is not past due yet
    with pytest.raises(InvalidInput, match="looks ahead"):
        morning_readiness(engine, load_settings({}), day=DAY - timedelta(days=1), now=MORNING)


def test_a_rep_who_is_off_makes_the_event_not_ready(engine):
    build_morning(engine, synced=MORNING)
    with engine.connect() as connection:
        clubs = club_readiness(connection, DAY, MORNING, [16, 13, 21])  # the Juicer; 13 was not ready anyway
    assert [(club.events, club.ready, club.rep_off) for club in clubs[DAY]] == [(6, 2, 2)]
    assert [(club.events, club.ready, club.rep_off) for club in clubs[NEXT]] == [(2, 0, 1)]


def test_reps_on_time_off_come_from_the_rule_and_count_in_readiness(engine):
    today, now = date.today(), datetime.now().replace(microsecond=0)
    build_morning(engine, synced=now, day=today)
    with engine.begin() as connection:  # the scheduler's table: R1 is off tomorrow, when they hold Digitals 21
        connection.execute(text("CREATE TABLE employee_time_off (id INTEGER PRIMARY KEY, employee_id VARCHAR(50), "
                                "start_date DATE, end_date DATE, reason VARCHAR(200))"))
        connection.execute(text("INSERT INTO employee_time_off VALUES (1, 'R1', :day, :day, :reason)"),
                           {"day": today + timedelta(days=1), "reason": f"dentist {HOSTILE}"})
    first, second = morning_readiness(engine, load_settings({}), day=today, now=now).days
    assert first.days_off == () and [off.refs for off in second.days_off] == [(21,)]
    assert [(club.events, club.ready, club.rep_off) for club in second.clubs] == [(2, 0, 1)]


# Readiness, as a property: for any mix of events, each club's figure is exactly the definition, and 0 <= ready <= total.
KINDS = ("Core", "Supervisor", "Juicer")
STATES = ("scheduled day", "scheduled next day", "scheduled later", "Unstaffed due day", "Unstaffed due next day",
          "Unstaffed past due", "Canceled")
event_specs = st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from((500001, 500002)), st.sampled_from(("A", "B")),
                                 st.sampled_from(STATES), st.booleans()), max_size=14)


def _scheduled_day(state: str) -> date | None:
    return {"scheduled day": DAY, "scheduled next day": NEXT, "scheduled later": NEXT + timedelta(days=3)}.get(state)


def expected_readiness(specs: list[tuple]) -> dict[tuple[date, str], tuple[int, int]]:
    """The definition in plain Python: per (day, club), (events, ready)."""
    keys: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for kind, number, club, state, _ in specs:
        if kind != "Juicer":
            keys.setdefault((number, club), []).append((kind, state))
    figures: dict[tuple[date, str], list[int]] = {}
    for kind, number, club, state, off in specs:
        day = _scheduled_day(state)
        if day in (DAY, NEXT):
            members = keys.get((number, club), [])
            supervisors = [member_state for member_kind, member_state in members if member_kind == "Supervisor"]
            paired = kind != "Core" or (len(supervisors) == 1 and len(members) == 2
                                        and _scheduled_day(supervisors[0]) is not None)
            counts = figures.setdefault((day, club), [0, 0])
            counts[0] += 1
            counts[1] += int(paired and not off)
        elif state in ("Unstaffed due day", "Unstaffed due next day"):
            figures.setdefault((DAY if state.endswith("due day") else NEXT, club), [0, 0])[0] += 1
    return {key: (events, ready) for key, (events, ready) in figures.items()}


@pytest.fixture(scope="module")
def property_engine():
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'property.db'}"
        migrate_new_database(url)
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(insert(Employee).values(id="R1", name="Rep", is_active=True))
        yield engine
        engine.dispose()


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=event_specs)
def test_readiness_per_club_is_the_definition_and_never_negative(property_engine, specs):
    events, schedules = [], []
    for index, (kind, number, club, state, _) in enumerate(specs):
        ref = 1000 + index
        due = {"Unstaffed due day": at(DAY, 18), "Unstaffed due next day": at(NEXT, 18),
               "Unstaffed past due": at(DAY, 5)}.get(state, at(NEXT + timedelta(days=9), 23, 59))
        condition = "Scheduled" if _scheduled_day(state) else "Canceled" if state == "Canceled" else "Unstaffed"
        events.append(_club_event(ref, club, None, f"Club {club}", project_name=f"{number}-{kind}-{ref}",
                                  event_type=kind, condition=condition, due_datetime=due,
                                  start_datetime=at(DAY - timedelta(days=2), 0)))
        if _scheduled_day(state):
            schedules.append({"event_ref_num": ref, "employee_id": "R1", "external_id": f"5{ref}",
                              "schedule_datetime": at(_scheduled_day(state), 10)})
    with property_engine.begin() as connection:
        connection.execute(delete(Schedule))
        connection.execute(delete(Event))
        if events:
            connection.execute(insert(Event), events)
        if schedules:
            connection.execute(insert(Schedule), schedules)
    off = [1000 + index for index, spec in enumerate(specs) if spec[4]]
    with property_engine.connect() as connection:
        clubs = club_readiness(connection, DAY, MORNING, off)
    found = {(day, club.store.key): (club.events, club.ready) for day in clubs for club in clubs[day]}
    assert found == expected_readiness(specs)
    for day in clubs:
        for club in clubs[day]:
            assert 0 <= club.ready <= club.events and 0 <= club.percent <= 100


# --- rendering ------------------------------------------------------------------------------------------------------


def _assert_html_keeps_data_as_text(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script" not in page and HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert FORMULA not in page and "=HYPERLINK(&quot;http://evil.example&quot;,&quot;click&quot;)" in page
    for external in (" src=", "<link", "@import", "url("):  # self-contained: nothing fetched
        assert external not in page
    links = [part.split('"', 1)[0] for part in page.split('href="')[1:]]
    assert links and all(link.startswith(URL + "/") for link in links)


def _assert_slack_keeps_data_as_text(message: str) -> None:
    assert "<script" not in message and "&lt;script&gt;" in message
    inside = [part.split(">", 1)[0] for part in message.split("<")[1:]]  # every <...> is one of our links
    assert inside and all(part.startswith(URL + "/") for part in inside)


def test_weekly_rendering(engine):
    build_history(engine)
    review = weekly_review(engine, week_ending=WEEK_ENDING, now=REVIEW_NOW)
    page = render_html(review, URL)
    _assert_html_keeps_data_as_text(page)
    assert f'href="{URL}/day?date=2026-06-07"' in page and f'href="{URL}/data_quality"' in page
    plain = render_text(review, URL)
    assert "Weekly data-quality review: Mon Jun 01 – Sun Jun 07, 2026" in plain
    assert "Open                4          3" in plain and "Resolved            2          1" in plain
    assert f"Last comment: called {HOSTILE}" in plain and FORMULA in plain  # the text part carries names as they are
    assert "week of Jun 01: 8 days (2 resolved); week before: 2 days (1 resolved)" in plain
    assert f"{URL}/day?date=2026-06-07" in plain
    summary = slack_summary(review, URL)
    _assert_slack_keeps_data_as_text(summary)
    assert "Open *4* (3)" in summary and f"<{URL}/day?date=2026-06-15|finding 1, Pair on different dates" in summary
    assert review.to_json()["rules"][0]["this_week"] == {"open": 1, "new": 0, "resolved": 0, "overdue": 1}


def test_morning_rendering(engine):
    build_morning(engine, synced=at(DAY - timedelta(days=2), 5))
    readiness = morning_readiness(engine, load_settings({}), day=DAY, now=MORNING)
    page = render_html(readiness, URL)
    _assert_html_keeps_data_as_text(page)
    assert f'href="{URL}/day?date=2026-06-10&amp;store=L1"' in page
    assert f'href="{URL}/day?date=2026-06-11&amp;store=202"' in page
    assert "STALE" in page and "50 %" in page
    plain = render_text(readiness, URL)
    assert "== Wednesday Jun 10: 3 of 6 events ready (50 %)" in plain
    assert f"#101 · {HOSTILE} {FORMULA}: 3/6 ready (50 %)" in plain
    assert f"{URL}/day?date=2026-06-10&store=L1" in plain
    summary = slack_summary(readiness, URL)
    _assert_slack_keeps_data_as_text(summary)
    assert "*Wed Jun 10*: 3 of 6 events ready (50 %)" in summary and ":warning: STALE" in summary
    assert day_link(URL, DAY, "a b&c") == f"{URL}/day?date=2026-06-10&store=a%20b%26c"


# --- the CLI --------------------------------------------------------------------------------------------------------


@pytest.fixture
def morning_url(database_url: str) -> str:
    """The morning case built around today (the CLI reads the clock)."""
    migrate_new_database(database_url)
    engine = make_engine(database_url)
    try:
        build_morning(engine, synced=datetime.now(), day=date.today())
    finally:
        engine.dispose()
    return database_url


def test_cli_prints_writes_and_refuses_bad_dates(morning_url, tmp_path):
    printed = run_cli("digest", "morning", "--db", morning_url)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("Morning readiness: ")
    assert "Reps on time off holding events: 0" in printed.stdout
    out = tmp_path / "morning.html"
    written = run_cli("digest", "morning", "--db", morning_url, "--out", str(out))
    assert written.returncode == 0 and written.stdout.strip() == f"Wrote {out}."
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    _assert_html_keeps_data_as_text(out.read_text().replace("http://localhost:8501", URL))
    weekly = run_cli("digest", "weekly", "--db", morning_url, "--json")
    assert weekly.returncode == 0 and json.loads(weekly.stdout)["week_ending"] == date.today().isoformat()
    for args in (["morning", "--date", (date.today() - timedelta(days=1)).isoformat()],
                 ["weekly", "--week-ending", (date.today() + timedelta(days=1)).isoformat()],
                 ["weekly", "--week-ending", "2026-02-30"]):
        refused = run_cli("digest", *args, "--db", morning_url, "--out", str(tmp_path / "refused.html"))
        assert refused.returncode == 2 and refused.stdout == ""
        assert "error: argument" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "refused.html").exists()
    unwritable = run_cli("digest", "weekly", "--db", morning_url, "--out", str(tmp_path / "missing" / "w.html"))
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr


def test_notify_sends_multipart_mail_and_a_slack_summary(morning_url, webhook, smtp_server):  # noqa: F811
    url, received, _ = webhook
    port, messages = smtp_server
    env = {"SLACK_WEBHOOK_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_STARTTLS": "false",
           "SMTP_TO": "ops@club.example", "DASHBOARD_URL": URL}
    sent = run_cli("digest", "morning", "--db", morning_url, "--notify", env=env)
    assert sent.returncode == 0, sent.stderr
    assert "Notification: sent by slack, email" in sent.stdout and "SECRET" not in sent.stdout
    message = email.message_from_string(messages[0][2])
    assert message.get_content_type() == "multipart/alternative"
    plain, page = message.get_payload()
    assert plain.get_content_type() == "text/plain" and page.get_content_type() == "text/html"
    assert plain.get_payload(decode=True).decode().startswith("Morning readiness: ")
    _assert_html_keeps_data_as_text(page.get_payload(decode=True).decode())
    assert message["Subject"].startswith("[field events] morning readiness ")
    assert received[0]["text"].startswith("*Morning readiness*")
    _assert_slack_keeps_data_as_text(received[0]["text"])

    weekly = run_cli("digest", "weekly", "--db", morning_url, "--notify", env=env)
    assert weekly.returncode == 0 and received[1]["text"].startswith("*Weekly data-quality review*")
    failing = run_cli("digest", "weekly", "--db", morning_url, "--notify",
                      env={**env, "SMTP_PORT": "1", "SLACK_WEBHOOK_URL": url + "x"})
    assert failing.returncode == 1 and "FAILED" in failing.stdout and "SECRET" not in failing.stdout
    assert len(messages) == 2


def test_a_notice_without_html_stays_a_plain_message(smtp_server):  # noqa: F811
    from services.quality.notifications import Notice, deliver

    port, messages = smtp_server
    settings = load_settings({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_STARTTLS": "false",
                              "SMTP_TO": "ops@club.example"})
    assert deliver(Notice("plain", "just text"), settings).sent == ["email"]
    message = email.message_from_string(messages[0][2])
    assert message.get_content_type() == "text/plain" and not message.is_multipart()


# --- the digests' figures are the pages' ----------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def reviewed_demo(request, tmp_path_factory):
    """`make run`'s demo data and the sprint2 scenario, checked three days ago and a minute ago."""
    today = date.today()
    with private_database(request.param, tmp_path_factory.mktemp("digests")) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        seed_demo_data(engine, start=_months_back(today, 2), months=5, today=today)
        seed_sprint2_scenario(engine, today=today)
        now = datetime.now().replace(microsecond=0)
        run_check(engine, load_settings({}), now=now - timedelta(days=3))
        run_check(engine, load_settings({}), now=now - timedelta(minutes=1))
        try:
            yield url, engine
        finally:
            engine.dispose()


def test_weekly_open_findings_equal_the_data_quality_page(open_page, reviewed_demo):  # noqa: F811
    url, engine = reviewed_demo
    review = weekly_review(engine, now=datetime.now().replace(microsecond=0))
    app = open_page(url, "data_quality")
    tiles = _metrics(app)
    for severity in ("critical", "warning", "info"):
        assert tiles[severity.capitalize()] == f"{review.totals(severity)[0].open:,}"
    by_rule = next(frame.value for frame in app.dataframe if list(frame.value.columns) == ["rule", "severity", "open",
                                                                                          "new"])
    shown = {(rule, severity.lower()): int(count) for rule, severity, count in
             zip(by_rule["rule"], by_rule["severity"], by_rule["open"]) if count}
    assert shown == {(row.title, row.severity): row.this_week.open for row in review.rules if row.this_week.open}


def test_morning_figures_equal_the_unscheduled_page_and_the_day_view(open_page, reviewed_demo):  # noqa: F811
    url, engine = reviewed_demo
    now = datetime.now().replace(second=0, microsecond=0)  # the pages read the clock to the minute
    readiness: MorningReadiness = morning_readiness(engine, load_settings({}), day=now.date(), now=now)
    tiles = _metrics(open_page(url, "unscheduled"))
    assert tiles["Past due"] == f"{readiness.past_due:,}"
    assert tiles["Due today"] == f"{readiness.days[0].unstaffed_due:,}"
    assert tiles["Due tomorrow"] == f"{readiness.days[1].unstaffed_due:,}"
    for one in readiness.days:
        day_tiles = _metrics(open_page(url, "day", date=one.day.isoformat()))
        assert day_tiles["Scheduled"] == f"{one.scheduled:,}"
        for club in one.clubs[:2]:  # one club's day, as the digest links to it
            club_tiles = _metrics(open_page(url, "day", date=one.day.isoformat(), store=club.store.key))
            assert club_tiles["Scheduled"] == f"{club.scheduled:,}"
    # Tomorrow has nothing past due yet: all its Unstaffed events due are the Day view's (today's include those due
    # before now, which the digest counts as past due).
    assert day_tiles["Unstaffed due this day"] == f"{readiness.days[1].unstaffed_due:,}"


def test_the_review_flow_counts_a_fixed_finding_as_resolved(engine):
    """Run checks, a finding is fixed, the next run resolves it: the weekly digest counts it as resolved, with its
    time to fix."""
    seed_sprint2_scenario(engine, today=date.today())
    now = datetime.now().replace(microsecond=0)
    run_check(engine, load_settings({}), now=now - timedelta(days=2))
    with engine.begin() as connection:  # someone staffs Supervisor 608002 at the rule time
        connection.execute(text("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime, external_id) "
                                "VALUES (608002, 'US157005', :at, '77777777')"),
                           {"at": at(date.today() + timedelta(days=7), 13, 30)})
        connection.execute(text("UPDATE events SET condition = 'Scheduled', is_scheduled = TRUE "
                                "WHERE project_ref_num = 608002"))
    run_check(engine, load_settings({}), now=now)
    review = weekly_review(engine, now=now + timedelta(seconds=1))
    fixed = {(row.rule, row.severity): row.this_week for row in review.rules}[("core_supervisor_unstaffed", "warning")]
    assert fixed.resolved == 1 and fixed.open == 0 and fixed.new == 1
    fixes = [review.fix_this_week, review.fix_last_week]
    assert any(fix is not None and fix.resolved == 1 and fix.median_days == 2.0 for fix in fixes)
    assert "core_supervisor_unstaffed" not in {item.rule for item in review.oldest_critical}
    assert notice(review, URL).html is not None
