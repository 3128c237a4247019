"""AppTest: stores and reps as people name them (issue 18) — a link's `?store=` takes the store number people use,
tables show the store's number and name, Audit and Operations name the rep, the database-upgrade command only for
admins, and headings in order (title, header, subheader)."""
from __future__ import annotations

import json
from datetime import date, datetime

import pytest
import streamlit as st
from sqlalchemy import insert
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import HeadingBase

from services.demo.demo_data import seed_sprint2_scenario
from services.store.tables import AuditEntry, Operation, OperationStep
from tests.legacy_scheduler import create_legacy_scheduler_database
from tests.test_app_pages import APP, open_page, sprint2_url  # noqa: F401 - fixtures: a page in AppTest, sprint2

STORE_KEY, STORE_NUMBER = "157384", 8135  # the sprint2 club: its location id and its store number
REP_ID, EMPLOYEE_ID, REP_NAME = "900005", "US157005", "Tom Alvarez"  # a sprint2 employee
PLACED = {"scheduled": True, "start": "2026-12-08T10:30:00", "employee_id": EMPLOYEE_ID, "rep_id": REP_ID,
          "scheduled_event_id": "99001"}
UNKNOWN_REP = {"scheduled": True, "start": "2026-12-08T12:30:00", "employee_id": None, "rep_id": "4711",
               "scheduled_event_id": "99002"}


@pytest.fixture
def sprint2_journal(engine, database_url) -> str:  # noqa: ANN001
    """The sprint2 scenario with one operation on CORE 606001: a Crossmark call, a request and a local change."""
    seed_sprint2_scenario(engine, today=date.today())
    now = datetime.now().replace(microsecond=0)
    request = {"core": 606001, "employee": EMPLOYEE_ID}
    with engine.begin() as connection:
        operation_id = connection.execute(insert(Operation).values(
            idempotency_key="store-numbers-1", kind="schedule_supervisor", requested_by="op1", requested_at=now,
            status="done", message=None, request=json.dumps(request),
            events=json.dumps([{"ref": 606001, "role": "core", "before": UNKNOWN_REP, "after": PLACED}]),
            updated_at=now).returning(Operation.id)).scalar_one()
        connection.execute(insert(OperationStep).values(
            operation_id=operation_id, seq=1, event_ref=606001, role="core", action="schedule", purpose="forward",
            request=json.dumps({"Start": "2026-12-08T10:30:00", "RepID": REP_ID}), result=json.dumps(PLACED),
            status="ok", created_at=now))
        connection.execute(insert(AuditEntry), [
            {"at": now, "actor": "op1", "operation_id": operation_id, "event_ref": None,
             "action": "schedule_supervisor requested", "before": None, "after": None, "message": json.dumps(request)},
            {"at": now, "actor": "op1", "operation_id": operation_id, "event_ref": 606001,
             "action": "schedule_supervisor: core", "before": json.dumps(UNKNOWN_REP), "after": json.dumps(PLACED),
             "message": None}])
    return database_url


def test_a_store_link_takes_the_store_number_or_the_location_id(open_page, sprint2_url):  # noqa: F811
    for link in (str(STORE_NUMBER), f"#{STORE_NUMBER}", STORE_KEY):
        app = open_page(sprint2_url, "type_counts", store=link)
        store = app.selectbox(key="filter_store")
        assert store.value == STORE_KEY, link
        assert not [warning.value for warning in app.warning if "store=" in warning.value]
        assert app.query_params["store"] == STORE_KEY  # the canonical key goes back into the link
        assert f"#{STORE_NUMBER} · Sam's Club" in store.options[1]  # the label typing the number in the list searches

    unknown = open_page(sprint2_url, "type_counts", store="9999")
    assert unknown.selectbox(key="filter_store").value == ""  # All stores
    assert any("Ignored `store=9999` in the link" in warning.value for warning in unknown.warning)
    assert "store" not in unknown.query_params


def test_audit_shows_the_store_and_the_rep_by_name(open_page, sprint2_journal):  # noqa: F811
    trail = open_page(sprint2_journal, "audit").dataframe[0].value
    change = trail[trail["event"] == 606001].iloc[0]
    assert change["store_number"] == STORE_NUMBER and "Sam's Club" in change["store_name"]
    assert f"with {REP_NAME}" in change["detail"] and REP_ID not in change["detail"]
    assert "(rep 4711)" in change["detail"]  # a rep no employee has: by the id
    requested = trail[trail["what"].str.startswith("Requested")].iloc[0]
    assert requested["what"] == f"Requested: Schedule Supervisor of CORE 606001 with {REP_NAME}"


def test_operation_steps_show_the_store_and_the_rep_by_name(open_page, sprint2_journal):  # noqa: F811
    operations = open_page(sprint2_journal, "operations")
    operations.session_state["ops_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    operations.run()
    steps = operations.dataframe[-1].value
    assert steps["store_number"].tolist() == [STORE_NUMBER] and "Sam's Club" in steps["store_name"].iloc[0]
    assert steps["call"].iloc[0].endswith(f"with {REP_NAME}") and f"with {REP_NAME}" in steps["result"].iloc[0]


@pytest.mark.parametrize("role", [None, "viewer", "operator"])
def test_only_an_admin_reads_the_upgrade_command(tmp_path, monkeypatch, role):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    create_legacy_scheduler_database(url)  # a database the dashboard cannot use until it is upgraded
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", url)
    for acting_role, expected in ((role, "ask an administrator"), ("admin", "python -m services db upgrade")):
        st.cache_resource.clear()
        app = AppTest.from_file(APP, default_timeout=60)
        if acting_role is not None:  # a session signed in before the database stopped being usable
            app.session_state["acting_role"] = acting_role
        app.run()
        assert not app.exception
        banner = app.error[0].value
        assert expected in banner
        if acting_role != "admin":
            assert banner == "The database needs an upgrade; ask an administrator."
    st.cache_resource.clear()


HEADING_LEVELS = {"title": 1, "header": 2, "subheader": 3}


@pytest.mark.parametrize("page, query", [("operations", {}), ("overview", {}), ("operations_health", {}),
                                         ("timeline", {"ref": "606001"})])
def test_headings_go_down_one_level_at_a_time(open_page, sprint2_url, page, query):  # noqa: F811
    app = open_page(sprint2_url, page, **query)
    levels = [HEADING_LEVELS[node.type] for node in app.main if isinstance(node, HeadingBase)]
    assert levels and levels[0] == 1
    assert all(level <= previous + 1 for previous, level in zip(levels, levels[1:])), levels
