"""AppTest (issue 18): changes confirm themselves — acknowledging a finding, a Fix, a switch and an account change each
show a toast after the rerun that follows them and update their panel (who, when, note) — and the Reschedule dialog
opens on the current placement without an error."""
from __future__ import annotations

from datetime import timedelta

from dashboard.markdown_text import plain
from services.access.accounts import list_users
from services.quality.checks import run_check
from services.settings import load_settings
from tests.test_app_actions import DAY, sprint2  # noqa: F401 - the shared fixture
from tests.test_app_pages import _texts, open_page, signed_in_as  # noqa: F401 - open_page is a fixture

NOTE = "Known: the club moved the demo to *next week*"


def _select_first_finding(app):  # noqa: ANN001, ANN202 - AppTest
    app.session_state["dq_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    return app.run()


def test_acknowledging_confirms_with_a_toast_and_shows_who_when_and_the_note(open_page, sprint2):
    url, engine = sprint2
    run_check(engine, load_settings({}))
    app = _select_first_finding(open_page(url, "data_quality", role="operator"))
    finding_id = int(app.dataframe[-1].value["id"].iloc[0])
    app.text_input(key=f"ack_note_{finding_id}").input(NOTE)
    app.button(key=f"ack_{finding_id}").click().run()
    assert not app.exception and not app.error
    assert [toast.value for toast in app.toast if "Acknowledged" in toast.value]
    operator = signed_in_as(url, "operator")
    assert any(line.startswith(f"Acknowledged by **{plain(operator)}** on ") for line in _texts(app.markdown))
    assert f"Note: {NOTE}" in _texts(app.text)  # the note as plain text, its asterisks kept
    assert not [button for button in app.button if button.key == f"ack_{finding_id}"]
    assert not [box for box in app.text_input if box.key == f"ack_note_{finding_id}"]

    app.run()  # the toast was shown once
    assert not [toast for toast in app.toast if "Acknowledged" in toast.value]


def test_a_fix_confirms_with_a_toast(open_page, sprint2):
    url, engine = sprint2
    run_check(engine, load_settings({}))
    app = open_page(url, "data_quality", role="operator")
    findings = app.dataframe[-1].value
    position = list(findings["rule"]).index("core_supervisor_unstaffed")
    app.session_state["dq_table"] = {"selection": {"rows": [position], "columns": [], "cells": []}}
    app.run()
    fix = next(button for button in app.button if (button.key or "").startswith("fix_"))
    fix.click().run()
    assert not app.error
    app.button(key=f"ss_go_{int(findings['core_ref'].iloc[position])}").click().run()
    assert not app.exception
    assert [toast.value for toast in app.toast if toast.value.startswith("Operation 1: Done")]


def test_switch_and_account_changes_confirm_with_a_toast_and_name_who_changed_the_switch(open_page, sprint2):
    url, engine = sprint2
    viewer = signed_in_as(url, "viewer")
    admin = signed_in_as(url, "admin")
    app = open_page(url, "admin")
    app.toggle(key="switch_supervisor_follow").set_value(False).run()
    assert not app.exception
    assert [toast.value for toast in app.toast] == ["Supervisor follows its CORE automatically: off"]
    assert any(caption.startswith(f"Last changed by {plain(admin)} on ") for caption in _texts(app.caption))

    app.selectbox(key=f"role_{viewer}").set_value("operator").run()
    assert [toast.value for toast in app.toast] == [f"{plain(viewer)} is now operator"]
    app.toggle(key=f"active_{viewer}").set_value(False).run()
    assert [toast.value for toast in app.toast] == [f"{plain(viewer)} is now disabled"]
    account = next(user for user in list_users(engine) if user["username"] == viewer)
    assert (account["role"], bool(account["is_active"])) == ("operator", False)


def test_the_reschedule_dialog_opens_on_the_current_placement_without_an_error(open_page, sprint2):
    url, _ = sprint2
    app = open_page(url, "day", role="operator", date=DAY.isoformat())
    app.button(key="btn_rs_606001").click().run()
    assert not app.exception and not app.error
    assert f"Now {DAY:%a %b %d}, 10:30 — choose a new date or time." in _texts(app.info)
    assert not [line for line in _texts(app.markdown) if "will be" in line]  # no preview yet
    assert not [button for button in app.button if button.key == "rs_go_606001"]

    app.date_input(key="rs_day_606001").set_value(DAY + timedelta(days=1)).run()
    assert not app.error
    assert [line for line in _texts(app.markdown) if "will be" in line]
    assert [button for button in app.button if button.key == "rs_go_606001"]
