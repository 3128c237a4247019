"""AppTest: bad input on the pages (issue 15 §4) — NUL bytes, look-alike digits, numbers out of range and over-long text
in the sign-in form and every filter and note — gets a clear message, changes nothing and raises nothing, on SQLite and
PostgreSQL; text that someone typed (or Crossmark sent) is shown as text, never as Markdown."""
from __future__ import annotations

from datetime import date, datetime

import pytest
import streamlit as st
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.quality.checks import run_check
from tests.migrated_template import migrate_new_database
from services.settings import load_settings
from tests.conftest import private_database
from tests.test_app_pages import APP, TEST_PASSWORD, _texts, open_page, signed_in_as  # noqa: F401

MARKUP = "[click here](http://evil.example/x) ![pixel](http://evil.example/p.png) **loud**"


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path):
    """The sprint2 scenario with one data-quality run, per backend."""
    with private_database(request.param, tmp_path) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        seed_sprint2_scenario(engine, today=date.today())
        run_check(engine, load_settings({}))
        try:
            yield url, engine
        finally:
            engine.dispose()
            st.cache_resource.clear()  # the app's engine on this database


def _count(engine, table: str) -> int:  # noqa: ANN001
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def _all_text(app: AppTest) -> str:
    return " ".join(_texts(app.error) + _texts(app.warning) + _texts(app.markdown) + _texts(app.info))


# A name with a NUL byte or 10 kB long at sign-in: the form is posted to the server now (tests/test_sign_in_route.py,
# test_a_name_no_account_can_have_is_refused_and_writes_nothing and test_an_oversized_form_is_refused_before_it_is_read).


@pytest.mark.parametrize("typed, phrase", [("²", "digits 0-9"), ("٦٠٦٠٠١", "digits 0-9"),
                                           ("99999999999999999999", "out of range"), ("2147483648", "out of range"),
                                           ("12ab", "digits 0-9")])
def test_audit_event_filter_refuses_what_is_not_a_ref(open_page, world, typed, phrase):
    url, _ = world
    app = open_page(url, "audit")
    app.text_input(key="audit_event").set_value(typed).run()
    assert not app.exception, app.exception
    assert any(phrase in warning and "Showing all events" in warning for warning in _texts(app.warning))
    assert _texts(app.title) == ["Audit trail"]


def test_audit_and_operations_name_filters_refuse_a_nul_byte(open_page, world):
    url, _ = world
    audit = open_page(url, "audit")
    audit.text_input(key="audit_actor").set_value("olga\x00").run()
    assert not audit.exception, audit.exception
    assert any("NUL byte" in warning for warning in _texts(audit.warning))
    operations = open_page(url, "operations")
    operations.text_input(key="ops_user").set_value("\x00").run()
    assert not operations.exception, operations.exception
    assert any("NUL byte" in warning for warning in _texts(operations.warning))


def test_data_quality_store_filter_and_note_refuse_a_nul_byte_and_change_nothing(open_page, world, monkeypatch):
    url, engine = world
    with engine.connect() as connection:
        first = connection.execute(text("SELECT MIN(id) FROM dashboard_findings WHERE resolved_at IS NULL")).scalar_one()
    app = open_page(url, "data_quality")
    app.text_input(key="dq_store").set_value("157384\x00").run()
    assert not app.exception, app.exception
    assert any("NUL byte" in warning for warning in _texts(app.warning))

    app.text_input(key="dq_store").set_value("").run()
    app.session_state["dq_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    note_key = next(box.key for box in app.text_input if box.key.startswith("ack_note_"))
    finding = int(note_key.removeprefix("ack_note_"))
    app.text_input(key=note_key).set_value("checked\x00with the club").run()
    app.button(key=f"ack_{finding}").click().run()
    assert not app.exception, app.exception
    assert any("NUL byte" in error for error in _texts(app.error))
    with engine.connect() as connection:
        acknowledged = connection.execute(text("SELECT COUNT(*) FROM dashboard_findings "
                                               "WHERE acknowledged_by IS NOT NULL")).scalar_one()
    assert acknowledged == 0 and first is not None


def _needs_attention(engine, message: str) -> int:  # noqa: ANN001
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO dashboard_operations (idempotency_key, kind, requested_by, requested_at, status, message, "
            "request, events, updated_at) VALUES ('k-attention', 'reschedule', 'test-admin', :now, 'needs_attention', "
            ":message, '{}', '[]', :now)"), {"now": now, "message": message})
        return connection.execute(text("SELECT id FROM dashboard_operations WHERE idempotency_key = 'k-attention'")
                                  ).scalar_one()


def test_mark_resolved_refuses_a_nul_byte_in_its_note_and_changes_nothing(open_page, world):
    url, engine = world
    operation = _needs_attention(engine, "Crossmark said no")
    app = open_page(url, "operations")  # may create the test's account first (an audited change)
    audit_rows = _count(engine, "dashboard_audit")
    app.text_input(key=f"note_{operation}").set_value("called the club\x00").run()
    app.button(key=f"resolve_{operation}").click().run()
    assert not app.exception, app.exception
    assert any("NUL byte" in error for error in _texts(app.error))
    with engine.connect() as connection:
        row = connection.execute(text("SELECT status, message FROM dashboard_operations WHERE id = :id"),
                                 {"id": operation}).one()
    assert tuple(row) == ("needs_attention", "Crossmark said no") and _count(engine, "dashboard_audit") == audit_rows


def test_typed_and_remote_text_is_shown_as_text_not_markdown(open_page, world):
    url, engine = world
    _needs_attention(engine, f"Crossmark answered: {MARKUP}")
    operations = open_page(url, "operations")
    # Needing attention is a warning now (it waits for its automatic retry; stuck ones are errors): read both.
    shown = " ".join(_texts(operations.error) + _texts(operations.warning))
    assert "\\[click here\\]" in shown and "[click here](" not in shown and "\\*\\*loud\\*\\*" in shown

    link = open_page(url, "calendar", store=MARKUP)
    warning = " ".join(_texts(link.warning))
    # Repeated as inline code (nothing inside a code span is a link or an image), cut short.
    assert "Ignored `store=[click here](http://evil.example/x) ![pixel](http://ev…` in the link" in warning

    with engine.begin() as connection:  # a Crossmark event name that is Markdown
        connection.execute(text("UPDATE events SET project_name = :name WHERE project_ref_num = 608002"),
                           {"name": f"606001-Supervisor {MARKUP}"})
    unscheduled = open_page(url, "unscheduled")
    rows = list(unscheduled.dataframe[0].value["ref"])
    unscheduled.session_state["unscheduled_table"] = {"selection": {"rows": [rows.index(608002)], "columns": [],
                                                                    "cells": []}}
    unscheduled.run()
    assert not unscheduled.exception, unscheduled.exception
    cards = [m for m in _texts(unscheduled.markdown) if "608002" in m]
    assert cards and all("[click here](" not in m and "\\[click here\\]" in m for m in cards)
