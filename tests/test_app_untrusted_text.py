"""AppTest: names, notes and query parameters that are Markdown (a phishing link, remote images, HTML, icons, colour
directives, bare URLs) are drawn as their text on every page, in every element that renders Markdown, on SQLite and
PostgreSQL (issue 17, "Untrusted text on screen"; tests/e2e/test_untrusted_text.py checks the same in Chromium)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import streamlit as st
from sqlalchemy import text

from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.reads.read_queries import event_for_action
from tests.migrated_template import migrate_new_database
from tests.conftest import private_database
from tests.markdown_checks import (
    HOSTILE_SHORT, HOSTILE_USER, add_hostile_records, hostile_name, make_names_hostile, markdown_sources, shown_text,
    unsafe_markup,
)
from tests.test_app_pages import _texts, open_page, signed_in_as  # noqa: F401 - open_page is a fixture

NAME = hostile_name()
DAY = date.today() + timedelta(days=7)  # the sprint2 scenario's day
LINK = "[Sign in again](https://evil.example/login)"  # how the names start: seen literally where they are shown
SHORT_LINK = HOSTILE_SHORT[:HOSTILE_SHORT.index(")") + 1]
# Every query parameter a page reads, each set to the hostile name.
ALL_PARAMETERS = {key: NAME for key in ("date", "month", "types", "store", "bucket", "period", "from", "to", "ref")}


@pytest.fixture(params=["sqlite", "postgresql"])
def hostile_world(request: pytest.FixtureRequest, tmp_path):
    """The sprint2 scenario with hostile event, store and rep names, check run, notes, operation, audit entry and
    switch, and an admin account named HOSTILE_USER, per backend."""
    with private_database(request.param, tmp_path) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        seed_sprint2_scenario(engine, today=date.today())
        make_names_hostile(engine, DAY, NAME)
        add_hostile_records(engine, NAME)
        admin = signed_in_as(url, "admin")
        with engine.begin() as connection:  # an account name may hold "@", which GFM makes a mailto link
            connection.execute(text("UPDATE dashboard_users SET username = :new WHERE username = :old"),
                               {"new": HOSTILE_USER, "old": admin})
        try:
            yield url, engine
        finally:
            engine.dispose()
            st.cache_resource.clear()


@pytest.fixture
def open_as_hostile_user(open_page):  # noqa: F811 - the fixture imported above
    """Like open_page, signed in as the account named HOSTILE_USER (its name is in the sidebar of every page)."""
    def open_(url: str, page: str, **query: str):  # noqa: ANN202 - AppTest
        app = open_page(url, page, role=None, **query)
        app.session_state["auth"] = {"username": HOSTILE_USER, "last_seen": datetime.now()}
        return app.run()

    return open_


def assert_drawn_as_text(app, *shown: str) -> None:  # noqa: ANN001 - AppTest
    """No piece of Markdown the run drew holds markup beyond the app's own; each of `shown` is seen as text."""
    assert not app.exception, app.exception
    sources = list(markdown_sources(app))
    problems = [f"{where}: {problem} in {source!r}" for where, source in sources for problem in unsafe_markup(source)]
    assert not problems, "\n".join(problems)
    texts = [shown_text(source) for _, source in sources]
    for expected in shown:
        assert any(expected in text for text in texts), f"{expected!r} is not shown: {texts}"


def _select_row(app, table_key: str, row: int):  # noqa: ANN001, ANN202 - AppTest
    app.session_state[table_key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return app.run()


@pytest.mark.parametrize("page, query, shown", [
    ("day", {"date": DAY.isoformat()}, (LINK, SHORT_LINK)),  # cards, Juicer and lead lists, Supervisor lines
    ("day", {"date": NAME}, ("date=" + LINK,)),  # the reflected bad-parameter warning
    ("calendar", ALL_PARAMETERS, ("month=" + LINK, "types=" + LINK, "store=" + LINK)),
    ("type_counts", ALL_PARAMETERS, ("from=" + LINK, "period=" + LINK)),
    ("overview", {}, ()),
    ("unscheduled", ALL_PARAMETERS, ("bucket=" + LINK,)),
    ("data_quality", {}, (SHORT_LINK, LINK)),  # who ran the checks, what the notification said
    ("operations", {}, (LINK, SHORT_LINK)),  # the operation needing attention: its message and who asked
    ("audit", {}, ()),
    ("admin", {}, ()),
    ("operations_health", {}, (SHORT_LINK,)),  # who changed a switch
    ("timeline", {"ref": "606001"}, (LINK,)),  # the event's name, store, rep, history
    ("timeline", {"ref": NAME}, ("ref=" + LINK,)),
])
def test_every_page_draws_hostile_names_and_parameters_as_text(open_as_hostile_user, hostile_world, page, query,
                                                                shown):
    url, _ = hostile_world
    app = open_as_hostile_user(url, page, **query)
    assert_drawn_as_text(app, HOSTILE_USER, *shown)
    assert _texts(app.title) and "Field events" not in _texts(app.title)  # the page, not the sign-in form


def test_selected_rows_and_action_dialogs_draw_hostile_names_as_text(open_as_hostile_user, hostile_world):
    url, engine = hostile_world
    unscheduled = open_as_hostile_user(url, "unscheduled")
    rows = list(unscheduled.dataframe[0].value["ref"])
    assert_drawn_as_text(_select_row(unscheduled, "unscheduled_table", rows.index(608002)), LINK)

    findings = open_as_hostile_user(url, "data_quality")
    with engine.connect() as connection:
        noted = connection.execute(text("SELECT id FROM dashboard_findings WHERE acknowledgement_note IS NOT NULL")
                                   ).scalar_one()
    table = next(frame.value for frame in findings.dataframe if "note" in frame.value.columns)
    assert_drawn_as_text(_select_row(findings, "dq_table", list(table["id"]).index(noted)))

    for kind, ref in (("reschedule", 606001), ("unschedule", 606999), ("schedule_supervisor", 608001)):
        day = open_as_hostile_user(url, "day", date=DAY.isoformat())
        day.session_state["open_action_dialog"] = (kind, event_for_action(engine, ref))
        assert_drawn_as_text(day.run(), LINK)
        sources = list(markdown_sources(day))
        dialog = next(where.removesuffix("Block.title") for where, _ in sources if where.endswith("/Block.title"))
        assert any(LINK in shown_text(source) for where, source in sources if where.startswith(dialog)), kind

