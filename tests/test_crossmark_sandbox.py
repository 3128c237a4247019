"""The sandbox: initialised from the database, keeps state like the service, fails on demand, always labelled."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.crossmark.client import make_crossmark_client
from services.demo.demo_data import seed_sprint2_scenario
from services.errors import CrossmarkUnknownOutcome
from services.settings import load_settings


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
