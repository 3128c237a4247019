"""AppTest (issue 18): actions the current state refuses are not offered — maintenance mode and writes-off draw the
action buttons disabled with the reason, and a data-quality Fix that would move something into the past is not offered."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from services.quality.checks import run_check
from services.settings import load_settings
from services.access.switches import MAINTENANCE, WRITES_OFF, set_switch
from tests.test_app_actions import DAY, sprint2  # noqa: F401 - the shared fixture
from tests.test_app_pages import _texts, open_page, signed_in_as  # noqa: F401


def _action_buttons(app) -> dict[str, tuple[bool, str | None]]:  # noqa: ANN001
    return {button.key: (button.disabled, button.help) for button in app.button
            if button.key and button.key.startswith("btn_")}


def test_maintenance_and_writes_off_disable_the_action_buttons_with_the_reason(open_page, sprint2):
    url, engine = sprint2
    app = open_page(url, "day", role="operator", date=DAY.isoformat())
    offered = _action_buttons(app)
    assert offered and all(not disabled for disabled, _ in offered.values())
    admin = signed_in_as(url, "admin")
    for switch, reason in ((MAINTENANCE, "Maintenance mode is on"), (WRITES_OFF, "Crossmark writes are switched off")):
        set_switch(engine, switch, True, admin)
        app = open_page(url, "day", role="operator", date=DAY.isoformat())
        paused = _action_buttons(app)
        assert paused.keys() == offered.keys()
        assert all(disabled and reason in (help_text or "") for disabled, help_text in paused.values()), paused
        set_switch(engine, switch, False, admin)


def test_a_fix_that_would_act_in_the_past_is_not_offered(open_page, sprint2):
    url, engine = sprint2
    # a CORE whose Supervisor is Unstaffed, moved into the past: its "Schedule the Supervisor" fix is not offered
    with engine.begin() as connection:
        connection.execute(text("UPDATE schedules SET schedule_datetime = :past WHERE event_ref_num = 608001"),
                           {"past": f"{date.today() - timedelta(days=3)} 10:30:00"})
    run_check(engine, load_settings({}))
    app = open_page(url, "data_quality", role="operator")
    findings = app.dataframe[-1].value
    rows = [index for index, (rule, number) in enumerate(zip(findings["rule"], findings["event_number"]))
            if "608001" in str(number)]
    assert rows, findings
    app.session_state["dq_table"] = {"selection": {"rows": [rows[0]], "columns": [], "cells": []}}
    app.run()
    fixes = [button for button in app.button if button.key and button.key.startswith("fix_")]
    assert fixes == []
    assert any("No fix offered" in caption for caption in _texts(app.caption))
