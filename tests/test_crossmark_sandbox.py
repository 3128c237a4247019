"""The sandbox: initialised from the database, keeps state like the service, fails on demand, always labelled."""
from __future__ import annotations

import gc
import json
import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import text

from bench.paired_actions import _pairs
from services.access.accounts import OPERATOR, SETUP, add_user
from services.actions.action_setup import paired_actions
from services.crossmark.client import make_crossmark_client
from services.crossmark.sandbox import (
    PATH_CONDITION, PATH_LOGIN, PATH_PLANNING, PATH_QUALIFIED_REPS, PATH_SCHEDULE, PATH_UNSCHEDULE, CrossmarkSimulator,
    SimulatedEvent, database_simulator, simulator_from_database,
)
from services.demo.demo_data import seed_demo_data, seed_sprint2_scenario
from services.errors import CrossmarkUnknownOutcome
from services.settings import DEFAULT_TIMEZONE, load_settings
from services.store.database import make_engine
from services.store.schema_admin import upgrade_database
from tests.conftest import private_database


def test_sandbox_starts_from_what_the_database_holds(engine):
    today = date.today()
    seed_sprint2_scenario(engine, today=today)
    client = make_crossmark_client(load_settings({}), engine)
    assert client.is_sandbox and "sandbox=True" in repr(client)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT e.external_id, m.external_id, s.schedule_datetime, s.external_id FROM events e "
            "JOIN schedules s ON s.event_ref_num = e.project_ref_num JOIN employees m ON m.id = s.employee_id")).all()
    state = client._http._transport.simulator.scheduled_state()  # noqa: SLF001 - the test inspects the sandbox
    assert len(rows) == 4
    for mplan_id, rep_id, when, scheduled_id in rows:
        when = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
        assert state[str(mplan_id)] == (str(rep_id), when, str(scheduled_id))
    unstaffed = [m for m, value in state.items() if value is None]
    assert len(unstaffed) == 1  # 608002, the Unstaffed Supervisor
    condition = client.event_condition(unstaffed[0], "157384")
    assert condition.condition == "Unstaffed"


def test_sandbox_fails_on_demand(engine):
    seed_sprint2_scenario(engine, today=date.today())
    client = make_crossmark_client(load_settings({"CROSSMARK_SANDBOX_FAILURE_RATE": "1"}), engine)
    events = client.planning_events(date.today(), date.today() + timedelta(days=14))
    core = next(e for e in events if e.name.startswith("606001-CORE"))
    with pytest.raises(CrossmarkUnknownOutcome, match="503"):
        client.schedule(rep_id=core.rep_id, mplan_id=core.mplan_id, location_id=core.store_id,
                        start=datetime.combine(core.start_date, datetime.min.time()).replace(hour=11), duration_minutes=390)
    assert client.event_condition(core.mplan_id, core.store_id).condition == "Scheduled"  # nothing happened

    healthy = make_crossmark_client(load_settings({}), engine)
    simulator = healthy._http._transport.simulator  # noqa: SLF001
    simulator.fail_next_writes(1)
    with pytest.raises(CrossmarkUnknownOutcome):
        healthy.unschedule(core.scheduled_event_id)
    healthy.unschedule(core.scheduled_event_id)  # the next one goes through
    assert healthy.event_condition(core.mplan_id, core.store_id).condition == "Unstaffed"


# --- over the database, the sandbox reads what a request touches ------------------------------------------------------

def _held_events() -> int:
    """SimulatedEvents alive in this process: the events every sandbox here has read into memory."""
    gc.collect()
    return sum(isinstance(thing, SimulatedEvent) for thing in gc.get_objects())


def _one_sandbox_reschedule(url: str, events: int) -> tuple[int, int]:
    """A paired reschedule on a sandbox over a demo database of `events` events, wired as the CLI wires it: (events
    the sandbox read into memory, statements it sent to the database)."""
    upgrade_database(url)
    engine = make_engine(url)
    sandbox_engine = make_engine(url)  # the sandbox's reads alone are counted
    try:
        today = date.today()
        seed_demo_data(engine, events=events, stores=5, start=today - timedelta(days=10), months=2, today=today)
        add_user(engine, "ops.lead", OPERATOR, None, by=SETUP)
        (ref, when), = _pairs(engine, today, 1)
        statements: list[str] = []
        sqlalchemy_event.listen(sandbox_engine, "before_cursor_execute",
                                lambda _c, _cursor, statement, *_: statements.append(statement))
        settings = load_settings({})
        held = _held_events()
        simulator = make_crossmark_client(settings, sandbox_engine)._http._transport.simulator  # noqa: SLF001
        actions = paired_actions(settings, engine, lambda: make_crossmark_client(settings, simulator=simulator))
        result = actions.reschedule(ref, when.replace(hour=9, minute=45) if when.hour != 9 else
                                    when.replace(hour=10, minute=30), "ops.lead")
        assert result.status == "done", result.message
        return _held_events() - held, len(statements)
    finally:
        engine.dispose()
        sandbox_engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_sandbox_action_reads_what_it_touches_whatever_the_size_of_the_database(kind, tmp_path):
    measured = {}
    for events in (1_000, 8_000):
        (tmp_path / str(events)).mkdir()
        with private_database(kind, tmp_path / str(events)) as url:
            measured[events] = _one_sandbox_reschedule(url, events)
    (small_held, small_statements), (large_held, large_statements) = measured[1_000], measured[8_000]
    assert small_held == large_held == 2  # the CORE and its Supervisor, not every event
    # One query per touch, and the index seeks for a free scheduled-event id: skipping the run of taken ids after the
    # CORE's (the demo's ids are consecutive) in doubling steps takes one seek more each time the run doubles.
    assert small_statements <= large_statements <= small_statements + 3, measured


def _issued_ids_named(replies: list[str], issued: list[str]) -> list[str]:
    """Each scheduled-event id this sandbox issued, by the order it was issued in: the numbers differ (the lazy
    sandbox skips ids the database holds by seeking, not by reading them all) while the answers are the same."""
    for order, scheduled_id in enumerate(issued, 1):
        replies = [re.sub(rf"\b{scheduled_id}\b", f"issued-{order}", reply) for reply in replies]
    return replies


def _scripted_calls(simulator: CrossmarkSimulator, facts: dict[str, str], first: date, last: date) -> list[str]:
    """Every endpoint, in an order that touches events before and after they are read, by each way a request names
    one: the replies' status and body, the issued ids named by order, and the final state."""
    login = simulator.handle("POST", PATH_LOGIN, query={}, form={}, cookies={},
                             body=json.dumps({"UserID": "sandbox", "Password": "sandbox"}).encode())
    cookies = {"PHPSESSID": login.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]}
    replies: list[str] = []
    issued: list[str] = []

    def call(method: str, path: str, **request: dict[str, str]) -> dict:
        reply = simulator.handle(method, path, query=request.get("query", {}), form=request.get("form", {}),
                                 body=b"", cookies=cookies)
        replies.append(f"{reply.status} {reply.body}")
        payload = json.loads(reply.body) if reply.body.startswith("{") else {}
        if path == PATH_SCHEDULE and payload.get("ok") == 1:
            issued.append(str(payload["MVScheduledEvent"]["ID"]))
        return payload

    def planning(**terms: list[str]) -> dict:
        search = {"searchTerms": {name: {"items": [{"value": values}]} for name, values in terms.items()}}
        return call("GET", PATH_PLANNING, query={"intervalStart": first.isoformat(), "intervalEnd": last.isoformat(),
                                                 "start": "0", "limit": "500", "searchFields": json.dumps(search)})

    def schedule(mplan: str, rep: str, store: str, hour: int) -> dict:
        start = datetime.combine(last, datetime.min.time()).replace(hour=hour, tzinfo=simulator.tz)
        return call("POST", PATH_SCHEDULE, form={"mPlanID": mplan, "RepID": rep, "LocationID": store,
                                                 "Start": start.isoformat(), "End": (start + timedelta(hours=1)).isoformat()})

    core, other, unstaffed = facts["core"], facts["other"], facts["unstaffed"]
    call("POST", PATH_CONDITION, form={"mPlanID": core, "storeID": facts["core_store"]})
    planning(mPlanID=[core, "no-such-mplan"])
    call("GET", PATH_QUALIFIED_REPS, query={"mPlanID": unstaffed, "start": "0", "limit": "7"})
    schedule(core, facts["rep"], facts["core_store"], 11)  # a reschedule: a new id
    call("POST", PATH_UNSCHEDULE, form={"id": facts["core_scheduled_id"]})  # its old id: no event holds it now
    call("POST", PATH_UNSCHEDULE, form={"id": facts["other_scheduled_id"]})  # an event not read yet, by its id
    call("POST", PATH_UNSCHEDULE, form={"id": facts["other_scheduled_id"]})
    schedule("no-such-mplan", facts["rep"], facts["core_store"], 11)
    schedule(unstaffed, "no-such-rep", facts["unstaffed_store"], 11)
    schedule(unstaffed, facts["rep"], "no-such-store", 11)
    call("POST", PATH_CONDITION, form={"mPlanID": "no-such-mplan", "storeID": facts["core_store"]})
    planning(condition=["Unstaffed"])
    planning()
    scheduled = schedule(unstaffed, facts["rep"], facts["unstaffed_store"], 10)
    call("POST", PATH_CONDITION, form={"mPlanID": other, "storeID": facts["other_store"]})
    call("POST", PATH_UNSCHEDULE, form={"id": str(scheduled["MVScheduledEvent"]["ID"])})
    schedule(unstaffed, facts["rep"], facts["unstaffed_store"], 12)
    planning()
    call("GET", PATH_QUALIFIED_REPS, query={"mPlanID": core, "start": "5", "limit": "5"})
    replies.append(repr(sorted(simulator.scheduled_state().items())))
    return _issued_ids_named(replies, issued)


def test_the_sandbox_over_the_database_answers_as_the_one_read_up_front(engine):
    today = date.today()
    seed_demo_data(engine, events=400, stores=3, start=today - timedelta(days=10), months=2, today=today)
    with engine.connect() as connection:
        scheduled = connection.execute(text(
            "SELECT e.external_id, e.location_mvid, s.external_id FROM events e JOIN schedules s "
            "ON s.event_ref_num = e.project_ref_num WHERE s.external_id IS NOT NULL AND e.location_mvid IS NOT NULL "
            "ORDER BY e.project_ref_num")).all()
        unstaffed = connection.execute(text(
            "SELECT e.external_id, e.location_mvid FROM events e WHERE e.condition = 'Unstaffed' "
            "AND e.location_mvid IS NOT NULL ORDER BY e.project_ref_num DESC")).first()
        rep = connection.execute(text("SELECT external_id FROM employees WHERE external_id IS NOT NULL "
                                      "ORDER BY id")).scalar()
    (core, core_store, core_id), (other, other_store, other_id) = scheduled[len(scheduled) // 2], scheduled[-1]
    facts = {"core": core, "core_store": core_store, "core_scheduled_id": core_id, "other": other,
             "other_store": other_store, "other_scheduled_id": other_id, "unstaffed": unstaffed[0],
             "unstaffed_store": unstaffed[1], "rep": rep}
    first, last = today - timedelta(days=10), today + timedelta(days=50)
    up_front = _scripted_calls(simulator_from_database(engine, DEFAULT_TIMEZONE), facts, first, last)
    on_touch = _scripted_calls(database_simulator(engine, DEFAULT_TIMEZONE), facts, first, last)
    assert on_touch == up_front
    # and the script did what it means to: a reschedule, an unschedule by an id only the database held, refusals
    assert on_touch[3].startswith('200 {"ok": 1, "MVScheduledEvent": {"ID": issued-1,') and on_touch[5] == '200 {"ok": 1}'
    assert "No scheduled event" in on_touch[4] and "No scheduled event" in on_touch[6]
    assert [reply.count('"ok": 0') for reply in on_touch[7:11]] == [1, 1, 1, 1] and '"ID": issued-3,' in on_touch[16]


def test_the_first_request_of_a_sandbox_over_the_database_may_be_a_schedule(engine):
    """Nothing read yet: the new id is the sandbox's first one the database does not hold."""
    seed_sprint2_scenario(engine, today=date.today())
    with engine.connect() as connection:
        mplan, store, first, rep = connection.execute(text(
            "SELECT e.external_id, e.location_mvid, e.start_datetime, m.external_id FROM events e, employees m "
            "WHERE e.project_ref_num = 608002 AND m.external_id IS NOT NULL ORDER BY m.id")).first()
    client = make_crossmark_client(load_settings({}), engine)
    start = (first if isinstance(first, datetime) else datetime.fromisoformat(str(first))).replace(hour=12, minute=0)
    scheduled = client.schedule(rep_id=rep, mplan_id=mplan, location_id=store, start=start, duration_minutes=5)
    assert scheduled.scheduled_event_id == "50000001"
    assert client.event_condition(mplan, store).condition == "Scheduled"
