"""AppTest: the words people read in the app's shell and on Data quality (issue 18) — rule titles, no `python -m
services` for viewers, page titles in the browser tab, the sidebar's database name and a freshness time never in the
future. (Separate from test_app_words.py: these need dashboard/app.py's and pages/data_quality.py's changes.)"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
import streamlit as st
from sqlalchemy import insert, text

from services.store.database import display_url, short_database_name
from services.demo.demo_data import seed_sprint2_scenario
from services.settings import load_settings
from services.store.tables import CheckRun, QualityFinding
from tests.test_app_pages import open_page  # noqa: F401 - the fixture that opens a page in AppTest


def _column_configs(table) -> dict:  # noqa: ANN001 - an AppTest Dataframe
    return json.loads(table.proto.columns or "{}")


def _all_markdown(app) -> str:  # noqa: ANN001
    parts = [element.value for kind in ("markdown", "caption", "info", "warning", "error", "success", "text")
             for element in getattr(app, kind)]
    return "\n".join(str(part) for part in parts)


def test_data_quality_names_rules_by_title_and_sends_no_viewer_to_the_cli(open_page, engine, database_url):  # noqa: F811
    empty = open_page(database_url, "data_quality", role="viewer")
    assert "python -m services" not in _all_markdown(empty)
    assert "Ask an operator" in _all_markdown(empty)

    now = datetime.now().replace(microsecond=0)
    with engine.begin() as connection:
        run_id = connection.execute(insert(CheckRun).values(
            started_at=now, finished_at=now, status="done", rules="pair_date_mismatch", triggered_by="test",
            findings=1).returning(CheckRun.id)).scalar_one()
        connection.execute(insert(QualityFinding), [{
            "identity": "test:pair", "rule": "pair_date_mismatch", "severity": "critical", "event_number": "606001",
            "store": "157384", "refs": "[606001, 606002]", "detail": "CORE and Supervisor on different dates",
            "core_ref": 606001, "supervisor_ref": 606002, "day": now.date(), "first_seen": now, "last_seen": now,
            "first_run_id": run_id, "last_run_id": run_id}])
    app = open_page(database_url, "data_quality", role="viewer")
    rule_box = app.selectbox(key="dq_rule")
    assert "Pair on different dates" in rule_box.options and "pair_date_mismatch" not in rule_box.options
    table = next(frame for frame in app.dataframe if frame.key == "dq_table")
    assert "rule_title" in table.proto.column_order and "rule" not in table.proto.column_order
    assert table.value["rule_title"].tolist() == ["Pair on different dates"]
    assert _column_configs(table)["rule_title"]["label"] == "Rule"
    app.session_state["dq_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert any("Pair on different dates" in block.value for block in app.markdown)
    assert not any("pair\\_date\\_mismatch" in block.value or "pair_date_mismatch" in block.value
                   for block in app.markdown)


@pytest.mark.parametrize("page, title", [("overview", "Overview"), ("calendar", "Calendar"),
                                         ("audit", "Audit")])
def test_the_browser_tab_names_the_page(open_page, demo_database, monkeypatch, page, title):  # noqa: F811
    titles = []
    original = st.set_page_config

    def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if kwargs.get("page_title"):
            titles.append(kwargs["page_title"])
        return original(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", recording)
    open_page(demo_database.url, page)
    assert titles[-1] == f"{title} · Field events"


def test_sidebar_names_the_database_briefly_and_the_sync_is_never_in_the_future(open_page, engine,  # noqa: F811
                                                                                database_url, monkeypatch):
    seed_sprint2_scenario(engine, today=date.today())
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", database_url)
    zone = load_settings().tz
    ahead = datetime.now(zone).replace(tzinfo=None, microsecond=0) + timedelta(hours=3)
    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET last_synced = :at"), {"at": ahead})

    viewer = open_page(database_url, "overview", role="viewer")
    assert [element.value for element in viewer.sidebar.text if element.value.startswith("Database:")] == [
        f"Database: {short_database_name(database_url)}"]
    assert "://" not in short_database_name(database_url)
    synced = next(caption.value for caption in viewer.sidebar.caption if caption.value.startswith("Data synced:"))
    shown = datetime.strptime(synced.removeprefix("Data synced: ")[:18], "%b %d, %Y %H:%M")
    assert shown <= datetime.now(zone).replace(tzinfo=None), synced

    admin = open_page(database_url, "overview", role="admin")
    assert f"Database: {display_url(database_url)}" in [element.value for element in admin.sidebar.text]
