"""AppTest (issue 18): selections on the Data quality findings table and the Unscheduled table are tied to the finding
or event id, not the row position — after a filter change or a re-run of the checks the panel names the same item or
nothing, never another row's. Also: the panel names the event a Fix acts on, and the Store filter takes store numbers."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import streamlit as st
from sqlalchemy import text

from dashboard.markdown_text import plain
from services.store.database import make_engine
from services.demo.demo_data import seed_demo_data
from services.quality.checks import run_check
from tests.migrated_template import migrate_new_database
from services.settings import load_settings
from tests.conftest import private_database
from tests.test_app_pages import _texts, open_page  # noqa: F401 - open_page is a fixture

EMPTY_SELECTION = {"rows": [], "columns": [], "cells": []}


@pytest.fixture(params=["sqlite", "postgresql"])
def demo_world(request: pytest.FixtureRequest, tmp_path):
    """400 demo events at three stores around today, checked once: a few dozen findings, a hundred Unstaffed events."""
    with private_database(request.param, tmp_path) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        seed_demo_data(engine, events=400, stores=3, start=date.today() - timedelta(days=20), months=2,
                       today=date.today())
        run_check(engine, load_settings({}))
        try:
            yield url, engine
        finally:
            engine.dispose()
            st.cache_resource.clear()


def _table(app, key: str):  # noqa: ANN001, ANN202 - AppTest, its dataframe's value
    return next(frame for frame in app.dataframe if frame.key == key).value


def _select(app, key: str, position: int):  # noqa: ANN001, ANN202
    app.session_state[key] = {"selection": {**EMPTY_SELECTION, "rows": [position]}}
    return app.run()


def _finding_panel(app) -> str | None:  # noqa: ANN001 - AppTest
    """The selected finding's heading line (rule, severity, detail), or None when no finding is selected."""
    headings = [line for line in _texts(app.markdown) if ") — " in line]
    assert len(headings) <= 1, headings
    return headings[0] if headings else None


def test_a_finding_stays_selected_across_a_filter_change_or_is_cleared(open_page, demo_world):
    url, _ = demo_world
    app = open_page(url, "data_quality", role="operator")
    findings = _table(app, "dq_table")
    # a warning listed after the critical findings: filtering to warnings moves it up
    position = next(index for index, severity in enumerate(findings["severity"]) if severity == "Warning")
    assert position > 0
    picked = findings.iloc[position]
    _select(app, "dq_table", position)
    assert plain(picked["detail"]) in _finding_panel(app)

    app.selectbox(key="dq_sev").set_value("warning").run()
    assert list(_table(app, "dq_table")["id"]).index(picked["id"]) != position
    assert plain(picked["detail"]) in _finding_panel(app)

    app.selectbox(key="dq_sev").set_value("critical").run()
    assert picked["id"] not in set(_table(app, "dq_table")["id"])
    assert _finding_panel(app) is None
    assert not [button for button in app.button if (button.key or "").startswith("ack_")]

    app.selectbox(key="dq_sev").set_value(None).run()  # back to every severity: still nothing selected
    assert _finding_panel(app) is None


def _resolve_first_pair_date_mismatch(engine, findings) -> int:  # noqa: ANN001
    """Move the Supervisor of the first 'Pair on different dates' finding to its CORE's date (the next run resolves
    it); its finding id."""
    finding = findings[findings["rule"] == "pair_date_mismatch"].iloc[0]
    with engine.begin() as connection:
        core_at = connection.execute(text("SELECT schedule_datetime FROM schedules WHERE event_ref_num = :ref"),
                                     {"ref": int(finding["core_ref"])}).scalar_one()
        connection.execute(text("UPDATE schedules SET schedule_datetime = :at WHERE event_ref_num = :ref"),
                           {"at": core_at, "ref": int(finding["supervisor_ref"])})
    return int(finding["id"])


def test_after_a_rerun_of_the_checks_the_selection_follows_its_finding(open_page, demo_world):
    url, engine = demo_world
    app = open_page(url, "data_quality", role="operator")
    findings = _table(app, "dq_table")
    # the first warning: the critical 'Pair on different dates' finding resolved above it moves it up
    position = next(index for index, severity in enumerate(findings["severity"]) if severity == "Warning")
    picked = findings.iloc[position]
    _select(app, "dq_table", position)
    assert plain(picked["detail"]) in _finding_panel(app)

    resolved = _resolve_first_pair_date_mismatch(engine, findings)
    app.button(key="run_checks").click().run()
    listed = list(_table(app, "dq_table")["id"])
    # the run changed the listing: the selected row's position now holds another finding
    assert resolved not in listed and picked["id"] in listed and listed[position] != picked["id"]
    assert plain(picked["detail"]) in _finding_panel(app)


def test_after_a_rerun_of_the_checks_a_resolved_selection_is_cleared(open_page, demo_world):
    url, engine = demo_world
    app = open_page(url, "data_quality", role="operator")
    findings = _table(app, "dq_table")
    mismatch = findings[findings["rule"] == "pair_date_mismatch"].iloc[0]
    _select(app, "dq_table", list(findings["id"]).index(mismatch["id"]))
    assert plain(mismatch["detail"]) in _finding_panel(app)

    _resolve_first_pair_date_mismatch(engine, findings)
    app.button(key="run_checks").click().run()
    assert _finding_panel(app) is None


def test_an_unscheduled_event_stays_selected_across_a_bucket_change_or_is_cleared(open_page, demo_world):
    url, _ = demo_world
    app = open_page(url, "unscheduled", role="operator")
    events = _table(app, "unscheduled_table")
    position = next(index for index, bucket in enumerate(events["bucket"]) if bucket == "Later") + 1
    picked = events.iloc[position]
    _select(app, "unscheduled_table", position)
    panel = [line for line in _texts(app.markdown) if f"ref {picked['ref']}" in line]
    assert panel and f"store {picked['store_number']}" in panel[0] and plain(picked["name"]) in panel[0]

    app.segmented_control(key="unscheduled_bucket").set_value("Later").run()
    assert list(_table(app, "unscheduled_table")["ref"]).index(picked["ref"]) != position
    assert [line for line in _texts(app.markdown) if "ref " in line and " · due " in line] == panel

    app.segmented_control(key="unscheduled_bucket").set_value("Past due").run()
    assert not [line for line in _texts(app.markdown) if "ref " in line and " · due " in line]


def test_the_fix_panel_names_the_event_it_acts_on(open_page, demo_world):
    url, _ = demo_world
    app = open_page(url, "data_quality", role="operator")
    findings = _table(app, "dq_table")
    position = next(index for index, (rule, day) in enumerate(zip(findings["rule"], findings["day"]))
                    if rule == "core_supervisor_unstaffed" and day.date() > date.today() + timedelta(days=1))
    finding = findings.iloc[position]
    _select(app, "dq_table", position)
    acts_on = [line for line in _texts(app.markdown) if line.startswith("Acts on")]
    assert len(acts_on) == 1
    assert f"ref {int(finding['core_ref'])}" in acts_on[0]  # the CORE whose Supervisor it schedules, as a whole number
    assert f"store {finding['store_number']} {plain(finding['store_name'])}" in acts_on[0]
    assert f"now {finding['day']:%a %b %d}" in acts_on[0]


def test_the_store_filter_takes_the_store_number_and_says_when_no_store_has_it(open_page, demo_world):
    url, _ = demo_world
    app = open_page(url, "data_quality", role="operator")
    every = _table(app, "dq_table")
    number, key = int(every["store_number"].iloc[0]), str(every["store"].iloc[0])
    for typed in (str(number), key):  # the number people use, and the location id
        app.text_input(key="dq_store").input(typed).run()
        listed = _table(app, "dq_table")
        assert set(listed["store_number"]) == {number} and len(listed) == (every["store"] == key).sum()
        assert not [warning for warning in _texts(app.warning) if "store" in warning]
    app.text_input(key="dq_store").input("99999").run()
    assert any("No store has the number or location id" in warning and "99999" in warning
               for warning in _texts(app.warning))
    assert len(_table(app, "dq_table")) == len(every)
