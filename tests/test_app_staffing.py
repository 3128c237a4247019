"""AppTest (issue 20): Staff on the Unscheduled page and Reassign on the Day view, against a real database (the sprint2
scenario plus an Unstaffed CORE and its Unstaffed Supervisor) and the sandbox Crossmark: the ranked suggestions with
their verdicts, the rep chosen first, the preview, every broken rule, the override box that a soft rule needs and a
hard rule never gets, the confirm under the dialog's key, and both sides agreeing afterwards."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import insert, select, text

from dashboard.day_cards import table_key
from services.actions.journal import Journal
from services.crossmark.sandbox import shared_simulator
from services.demo.demo_data import seed_sprint2_scenario
from services.settings import load_settings
from services.store.database import begin_write, make_engine
from services.store.schema_admin import upgrade_database
from services.store.tables import AuditEntry, Event
from tests.test_app_pages import _texts, open_page, signed_in_as  # noqa: F401 - the shared AppTest fixture

TODAY = date.today()
DAY = TODAY + timedelta(days=7)  # the sprint2 COREs' day
WINDOW = (datetime.combine(TODAY + timedelta(days=4), time(0, 0)), datetime.combine(TODAY + timedelta(days=11),
                                                                                     time(23, 59)))
FIRST_SLOT = datetime.combine(TODAY + timedelta(days=4), time(9, 45))  # the window's first Core slot
CORE, SUPERVISOR = 609001, 609002  # added: an Unstaffed CORE and its Unstaffed Supervisor at the sprint2 store
DANA, MARCUS, PRIYA, LAURA, TOM = "US157001", "US157002", "US157003", "US157004", "US157005"
EMPTY_SELECTION = {"rows": [], "columns": [], "cells": []}


def add_unstaffed(engine, ref: int, name: str, event_type: str, minutes: int,  # noqa: ANN001 - an Engine
                  window: tuple[datetime, datetime] = WINDOW) -> None:
    with begin_write(engine) as connection:
        connection.execute(insert(Event).values(
            project_name=name, project_ref_num=ref, location_mvid="157384", store_number=8135,
            store_name="Sam's Club Indianapolis", start_datetime=window[0], due_datetime=window[1],
            estimated_time=minutes, is_scheduled=False, event_type=event_type, condition="Unstaffed",
            external_id=f"3{ref}", last_synced=window[0], sync_status="synced"))


@pytest.fixture
def world(tmp_path):
    """(url, engine): the sprint2 scenario and an Unstaffed CORE 609001 with its Unstaffed Supervisor 609002."""
    url = f"sqlite:///{tmp_path / 'staffing.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    seed_sprint2_scenario(engine, today=TODAY)
    add_unstaffed(engine, CORE, f"{CORE}-CORE-Staffing Demo Cookies", "Core", 390)
    add_unstaffed(engine, SUPERVISOR, f"{CORE}-Supervisor-Staffing Demo Cookies", "Supervisor", 5)
    yield url, engine
    engine.dispose()


def placement(engine, ref: int) -> tuple[datetime, str] | None:  # noqa: ANN001
    """(start, employee id) of the event's schedule in our database, None when it has none."""
    with engine.connect() as connection:
        row = connection.execute(text("SELECT schedule_datetime, employee_id FROM schedules WHERE event_ref_num = :r"),
                                 {"r": ref}).first()
    if row is None:
        return None
    start = row[0] if isinstance(row[0], datetime) else datetime.fromisoformat(str(row[0]))
    return start, row[1]


def assert_crossmark_agrees(url: str, engine, *refs: int) -> None:  # noqa: ANN001
    """Invariant 1 on the sandbox the page wrote to: same start and rep in Crossmark and in our database."""
    simulator = shared_simulator(engine, load_settings({"SCHEDULER_DATABASE_URL": url}).crossmark_timezone)
    remote = simulator.scheduled_state()
    with engine.connect() as connection:
        rows = dict(connection.execute(text(
            "SELECT e.project_ref_num, e.external_id FROM events e WHERE e.project_ref_num IN "
            f"({', '.join(map(str, refs))})")).all())
        rep_ids = dict(connection.execute(text("SELECT id, external_id FROM employees")).all())
    for ref in refs:
        ours = placement(engine, ref)
        theirs = remote[str(rows[ref])]
        assert (ours is None) == (theirs is None), (ref, ours, theirs)
        if ours is not None:
            assert (theirs[1], str(theirs[0])) == (ours[0], str(rep_ids[ours[1]])), (ref, ours, theirs)


def _shown(elements) -> list[str]:  # noqa: ANN001 - AppTest elements
    """The texts as a person reads them: plain()'s escapes and word joiners taken out."""
    return [re.sub(r"\\(.)", r"\1", text).replace("\u2060", "") for text in _texts(elements)]


def _select_unscheduled(app, ref: int):  # noqa: ANN001, ANN202 - AppTest
    frame = next(table for table in app.dataframe if table.key == "unscheduled_table").value
    app.session_state["unscheduled_table"] = {"selection": {**EMPTY_SELECTION, "rows": [list(frame["ref"]).index(ref)]}}
    return app.run()


def _open_staff(open_page, url: str, ref: int = CORE, role: str = "operator"):  # noqa: ANN001, ANN202
    app = _select_unscheduled(open_page(url, "unscheduled", role=role), ref)
    app.button(key="unscheduled_staff").click().run()
    assert not app.exception, app.exception
    return app


def _suggestion_rows(app) -> list[tuple[str, str]]:  # noqa: ANN001 - AppTest
    """(rep, verdict) of the dialog's suggestions table."""
    table = next(frame.value for frame in app.dataframe if list(frame.value.columns)[:3] == ["Rep", "Job title",
                                                                                            "Verdict"])
    return list(zip(table["Rep"], table["Verdict"]))


def _confirm_keys(app) -> set[str]:  # noqa: ANN001
    return {button.key for button in app.button if (button.key or "").endswith(("_go_609001", "_go_606999"))}


def test_staff_a_core_with_its_unstaffed_supervisor_from_the_unscheduled_page(open_page, world):
    url, engine = world
    app = _open_staff(open_page, url)
    # The first Core slot of the window, the ranked reps (best first, each with its verdict), the top allowed chosen.
    assert app.segmented_control(key=f"st_slot_{CORE}").value == "09:45"
    rows = _suggestion_rows(app)
    assert rows[0] == ("Dana Whitfield", "OK") and {rep for rep, _ in rows} >= {"Marcus Bell", "Laura Kim"}
    rep = next(box for box in app.selectbox if box.label == "Rep")
    assert rep.value == DANA
    lead = next(box for box in app.selectbox if box.label == "Supervisor lead")
    assert lead.value == "" and lead.format_func("").startswith("Top suggestion (")
    preview = [line for line in _texts(app.markdown) if " will be " in line]
    slot = FIRST_SLOT
    assert preview == [f"- CORE **{CORE}** will be **{slot:%a %Y-%m-%d %H:%M}** with **Dana Whitfield**",
                       f"- Supervisor **{SUPERVISOR}** will be **{slot + timedelta(hours=2):%a %Y-%m-%d %H:%M}** with "
                       "**Tom Alvarez**"]
    assert placement(engine, CORE) is None and Journal(engine).list() == []  # nothing before the confirm

    app.button(key=f"st_go_{CORE}").click().run()
    assert not app.exception, app.exception
    banner = _texts(app.success)[0]
    assert banner.startswith(f"Operation 1: Done: CORE {CORE}") and f"Supervisor {SUPERVISOR}" in banner
    assert placement(engine, CORE) == (slot, DANA)
    assert placement(engine, SUPERVISOR) == (slot + timedelta(hours=2), TOM)
    assert_crossmark_agrees(url, engine, CORE, SUPERVISOR)
    [operation] = Journal(engine).list()
    assert (operation.kind, operation.status, operation.requested_by) == ("staff", "done", "test-operator")
    assert operation.idempotency_key.startswith(f"staff-{CORE}-")  # the key the dialog fixed when it opened


def test_a_time_off_the_core_slots_needs_an_override_reason_which_is_recorded(open_page, world):
    url, engine = world
    app = _open_staff(open_page, url)
    app.segmented_control(key=f"st_slot_{CORE}").set_value("Other time").run()
    app.time_input(key=f"st_time_{CORE}").set_value(time(13, 15)).run()
    # Every rep now breaks the Core-slot rule (soft): each needs an override, the first is chosen anyway.
    assert {verdict for _, verdict in _suggestion_rows(app)} == {"Needs an override"}
    assert any("CORE at a Core time slot (can be overridden with a reason)" in w for w in _shown(app.warning))
    assert _confirm_keys(app) == set()  # no confirm without a reason
    assert any("give one in the override box" in i for i in _shown(app.info))

    lead = next(box for box in app.selectbox if box.label == "Supervisor lead")
    lead.set_value(LAURA).run()
    app.text_input(key=f"st_override_{CORE}").input("Store manager asked for the afternoon").run()
    assert any("Overridden (Store manager asked for the afternoon)" in w for w in _shown(app.warning))
    app.button(key=f"st_go_{CORE}").click().run()
    assert _texts(app.success)[0].startswith(f"Operation 1: Done: CORE {CORE}")
    at = datetime.combine(FIRST_SLOT.date(), time(13, 15))
    assert placement(engine, CORE) == (at, DANA)
    assert placement(engine, SUPERVISOR) == (at + timedelta(hours=2), LAURA)  # the lead chosen, not the top one
    assert_crossmark_agrees(url, engine, CORE, SUPERVISOR)
    [operation] = Journal(engine).list()
    assert operation.request["override"] == "Store manager asked for the afternoon"
    assert operation.request["supervisor_employee"] == LAURA
    with engine.connect() as connection:
        audited = " ".join(message or "" for message in connection.execute(
            select(AuditEntry.message).where(AuditEntry.operation_id == operation.id)).scalars())
    assert "Store manager asked for the afternoon" in audited


def test_a_hard_rule_offers_no_override_and_no_confirm(open_page, world):
    url, engine = world
    # An Other event whose window opened yesterday: a time earlier today is in the past for every rep (a hard rule).
    window = (datetime.combine(TODAY - timedelta(days=1), time(0, 0)), WINDOW[1])
    add_unstaffed(engine, 609101, "609101-Other-Past Demo", "Other", 60, window)
    app = _open_staff(open_page, url, 609101)
    app.date_input(key="st_day_609101").set_value(TODAY).run()
    app.segmented_control(key="st_slot_609101").set_value("Other time").run()
    app.time_input(key="st_time_609101").set_value(time(0, 0)).run()
    assert {verdict for _, verdict in _suggestion_rows(app)} == {"Not allowed"}
    assert any("Inside the event's window, not in the past (cannot be overridden)" in e for e in _shown(app.error))
    assert not [box for box in app.text_input if box.key == "st_override_609101"]
    assert not [button for button in app.button if button.key == "st_go_609101"]
    assert Journal(engine).list() == [] and placement(engine, 609101) is None


def test_reassign_on_the_day_view_cards_and_table(open_page, world):
    url, engine = world
    app = open_page(url, "day", role="operator", date=DAY.isoformat())
    assert {"btn_ra_606001", "btn_ra_606999", "btn_ra_608001"} <= {b.key for b in app.button}  # every card
    app.button(key="btn_ra_606999").click().run()
    # At the event's own time, its current rep (Marcus) left out; Dana already works a CORE that day.
    rows = dict(_suggestion_rows(app))
    assert "Marcus Bell" not in rows and rows["Dana Whitfield"] == "Needs an override"
    rep = next(box for box in app.selectbox if box.label == "New rep")
    assert rows[rep.format_func(rep.value).split(" — ")[0]] == "OK"
    chosen = rep.value
    preview = [line for line in _texts(app.markdown) if " will be " in line]
    assert preview == [f"- CORE **606999** will be **{DAY:%a %Y-%m-%d} 11:00** with "
                       f"**{rep.format_func(chosen).split(' — ')[0]}** (now {DAY:%Y-%m-%d} 11:00)"]
    app.button(key="ra_go_606999").click().run()
    assert _texts(app.success)[0].startswith("Operation 1: Done: CORE 606999")
    assert placement(engine, 606999) == (datetime.combine(DAY, time(11, 0)), chosen)
    assert_crossmark_agrees(url, engine, 606999)

    # The table layout offers it on the selected row, a Supervisor's too (the cards list Supervisors in a table).
    table = open_page(url, "day", role="operator", date=DAY.isoformat(), view="table")
    assert not [b for b in table.button if (b.key or "").startswith("btn_ra_")]  # nothing until a row is chosen
    refs = tuple(table.dataframe[0].value["Ref"])
    table.session_state[table_key(refs)] = {"selection": {"rows": [refs.index(606002)], "columns": []}}
    table.run()
    assert "btn_ra_606002" in {b.key for b in table.button}
    table.button(key="btn_ra_606002").click().run()
    leads = dict(_suggestion_rows(table))  # a Supervisor: leads only, Tom (who holds it) left out
    assert set(leads) == {"Laura Kim"}, leads


def test_reassign_to_a_rep_who_already_works_a_core_that_day_needs_an_override(open_page, world):
    url, engine = world
    app = open_page(url, "day", role="operator", date=DAY.isoformat())
    app.button(key="btn_ra_606999").click().run()
    next(box for box in app.selectbox if box.label == "New rep").set_value(DANA).run()
    broken = [w for w in _shown(app.warning) if "(can be overridden with a reason)" in w]
    assert any("At most one CORE a day" in w and "CORE 606001" in w for w in broken), broken
    assert "ra_go_606999" not in _confirm_keys(app)
    app.text_input(key="ra_override_606999").input("Marcus is sick; Dana covers both").run()
    app.button(key="ra_go_606999").click().run()
    assert _texts(app.success)[0].startswith("Operation 1: Done: CORE 606999")
    assert placement(engine, 606999) == (datetime.combine(DAY, time(11, 0)), DANA)
    assert_crossmark_agrees(url, engine, 606999)
    assert Journal(engine).list()[0].request["override"] == "Marcus is sick; Dana covers both"


def test_a_viewer_gets_no_staff_or_reassign_and_paused_writes_disable_them(open_page, world):
    url, engine = world
    viewer = _select_unscheduled(open_page(url, "unscheduled", role="viewer"), CORE)
    assert not [b for b in viewer.button if b.key == "unscheduled_staff"]
    day = open_page(url, "day", role="viewer", date=DAY.isoformat())
    assert not [b for b in day.button if (b.key or "").startswith("btn_ra_")]

    from services.access.switches import WRITES_OFF, set_switch
    set_switch(engine, WRITES_OFF, True, signed_in_as(url, "admin"))
    operator = _select_unscheduled(open_page(url, "unscheduled", role="operator"), CORE)
    staff = next(b for b in operator.button if b.key == "unscheduled_staff")
    assert staff.disabled
    day = open_page(url, "day", role="operator", date=DAY.isoformat())
    assert next(b for b in day.button if b.key == "btn_ra_606999").disabled
