"""Journeys of issue 20 in the browser, against the fake Crossmark: staff an Unstaffed CORE from the Unscheduled page
(its Unstaffed Supervisor staffed along); reassign a CORE on the Day view to a rep who needs an override; a rep-out
batch on the Bulk actions page from its preview to its undo. After each, our database and Crossmark agree."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DAY, OPERATOR, TODAY, RunningApp, running_app

WINDOW = (datetime.combine(TODAY + timedelta(days=4), time(0, 0)),
          datetime.combine(TODAY + timedelta(days=11), time(23, 59)))
FIRST_SLOT = datetime.combine(WINDOW[0].date(), time(9, 45))  # the window's first Core time slot
CORE, SUPERVISOR = 609001, 609002
DANA_REP, MARCUS_REP, TOM_REP, LAURA_REP = "900001", "900002", "900005", "900004"  # Crossmark RepIDs


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, app_env: dict[str, str]) -> Iterator[RunningApp]:
    """The harness's app, on a database that also holds an Unstaffed CORE 609001 and its Unstaffed Supervisor 609002
    at the sprint2 store (written before the fake Crossmark is built from the database, so it knows them too)."""
    from sqlalchemy import insert

    from services.store.database import begin_write, make_engine
    from tests.migrated_template import migrate_new_database
    from services.store.tables import Event

    directory = tmp_path_factory.mktemp("e2e-staff")
    url = f"sqlite:///{directory / 'scheduler.db'}"
    migrate_new_database(url)
    engine = make_engine(url)
    with begin_write(engine) as connection:
        connection.execute(insert(Event), [
            {"project_name": name, "project_ref_num": ref, "location_mvid": "157384", "store_number": 8135,
             "store_name": "Sam's Club Indianapolis", "start_datetime": WINDOW[0], "due_datetime": WINDOW[1],
             "estimated_time": minutes, "is_scheduled": False, "event_type": event_type, "condition": "Unstaffed",
             "external_id": f"3{ref}", "last_synced": WINDOW[0], "sync_status": "synced"}
            for ref, name, event_type, minutes in ((CORE, f"{CORE}-CORE-Staffing Demo Cookies", "Core", 390),
                                                   (SUPERVISOR, f"{CORE}-Supervisor-Staffing Demo Cookies",
                                                    "Supervisor", 5))])
    engine.dispose()
    with running_app(url, directory, app_env=app_env) as running:
        running.mplan.update({CORE: f"3{CORE}", SUPERVISOR: f"3{SUPERVISOR}"})
        yield running


def _choose(dashboard, key: str, option: re.Pattern) -> None:  # noqa: ANN001 - the harness's Dashboard
    dashboard.key(key).get_by_role("combobox").click()
    dashboard.page.get_by_role("option", name=option).click()
    dashboard.wait_idle()


def _fill_date(dashboard, key: str, day) -> None:  # noqa: ANN001
    """Type a date into st.date_input's year, month and day fields, as a person does with the keyboard."""
    for part, value in (("year", f"{day:%Y}"), ("month", f"{day:%m}"), ("day", f"{day:%d}")):
        field = dashboard.key(key).get_by_role("spinbutton", name=re.compile(rf"^{part},"))
        field.click()
        field.press_sequentially(value)
    dashboard.page.keyboard.press("Escape")  # the calendar a click opened
    expect(dashboard.page.locator("#stFloatingOverlayPortal th")).to_have_count(0)
    dashboard.wait_idle()
    expect(dashboard.key(key).get_by_role("spinbutton", name=re.compile(r"^day,"))).to_have_text(f"{day:%d}")


def test_staff_a_core_and_its_supervisor_from_the_unscheduled_page(app, dashboard):
    dashboard.sign_in(OPERATOR).navigate("/unscheduled")
    dashboard.see("Unscheduled events")
    dashboard.select_table_row("unscheduled_table", lambda row: str(CORE) in row)
    dashboard.key("unscheduled_staff").get_by_role("button", name="Staff").click()
    dialog = dashboard.dialog
    dashboard.see("Window", within=dialog)
    # The ranked reps with their verdicts; the top one that breaks no rule is chosen; the preview names who gets what.
    rows = dashboard.table_rows(dialog, until=lambda rows: any("Dana Whitfield" in row for row in rows))
    assert rows[0][:3] == ["Dana Whitfield", "Event Specialist", "OK"], rows
    expect(dialog.get_by_role("combobox", name="Rep")).to_have_value("Dana Whitfield — Event Specialist · OK")
    expect(dialog.get_by_role("combobox", name="Supervisor lead")).to_have_value("Top suggestion (Tom Alvarez)")
    dashboard.see(f"CORE {CORE} will be {FIRST_SLOT:%a %Y-%m-%d %H:%M} with Dana Whitfield", within=dialog)
    dashboard.see(re.compile(rf"Supervisor {SUPERVISOR} will be .* with Tom Alvarez"), within=dialog)
    assert app.db(CORE) is None and app.fake.writes_sent() == 0  # nothing before the confirm
    dialog.get_by_role("button", name="Confirm staff").click()

    banner = dashboard.see(re.compile(rf"Operation \d+: Done: CORE {CORE}"))
    assert str(SUPERVISOR) in banner.inner_text()
    dashboard.wait_idle()
    assert app.db(CORE) == (FIRST_SLOT, DANA_REP)
    assert app.db(SUPERVISOR) == (FIRST_SLOT + timedelta(hours=2), TOM_REP)
    app.assert_agree(CORE, SUPERVISOR)
    assert [(o.kind, o.status, o.requested_by) for o in app.operations()][0] == ("staff", "done", OPERATOR)


def test_reassign_on_the_day_view_with_an_override_reason(app, dashboard):
    dashboard.sign_in(OPERATOR).navigate(f"/day?date={DAY.isoformat()}")
    dashboard.see(f"{DAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))
    dashboard.wait_idle()
    dashboard.key("btn_ra_606999").get_by_role("button").click()
    dialog = dashboard.dialog
    rows = dashboard.table_rows(dialog, until=lambda rows: any("Dana Whitfield" in row for row in rows))
    assert not any("Marcus Bell" in row for row in rows), rows  # who holds it now is not offered
    # Dana already works CORE 606001 that day: a soft rule, so she needs an override reason.
    _choose(dashboard, "ra_rep_606999", re.compile(r"^Dana Whitfield"))
    dashboard.see(re.compile(r"At most one CORE a day \(can be overridden with a reason\)"), within=dialog)
    expect(dialog.get_by_role("button", name="Confirm reassign")).to_have_count(0)
    reason = dialog.get_by_role("textbox", name="Override reason")
    reason.fill("Marcus is off sick; Dana covers both")
    reason.press("Enter")
    dashboard.wait_idle()
    dashboard.see(re.compile(r"Overridden \(Marcus is off sick; Dana covers both\)"), within=dialog)
    dashboard.see(f"CORE 606999 will be {DAY:%a %Y-%m-%d} 11:00 with Dana Whitfield", within=dialog)
    dialog.get_by_role("button", name="Confirm reassign").click()

    dashboard.see(re.compile(r"Operation \d+: Done: CORE 606999"))
    dashboard.wait_idle()
    assert app.db(606999) == (datetime.combine(DAY, time(11, 0)), DANA_REP)
    app.assert_agree(606999)
    operation = app.operations()[0]
    assert (operation.kind, operation.status) == ("reassign", "done")
    assert operation.request["override"] == "Marcus is off sick; Dana covers both"


def test_a_rep_out_batch_from_preview_to_undo(app, dashboard):
    dashboard.sign_in(OPERATOR).open_from_sidebar("Bulk actions")
    dashboard.see("Bulk actions", within=dashboard.main.get_by_role("heading", level=1))
    _choose(dashboard, "bulk_rep", re.compile(r"^Tom Alvarez"))
    _fill_date(dashboard, "bulk_rep_from", DAY)
    _fill_date(dashboard, "bulk_rep_to", DAY)
    dashboard.main.get_by_text("Give each to its top suggested rep").click()
    dashboard.wait_idle()
    dashboard.main.get_by_role("button", name="Preview").click()
    dashboard.wait_idle()

    # Tom holds Supervisor 606002 that day: the one item, who takes it, and nothing sent yet.
    items = dashboard.table_rows("bulk_rep_out_items", until=lambda rows: any("606002" in " ".join(r) for r in rows))
    assert len(items) == 1 and "Will run" in items[0], items
    what = next(cell for cell in items[0] if cell.startswith("Give Supervisor 606002"))
    taker = what.rsplit(" to ", 1)[1]
    assert taker == "Laura Kim", items  # the only other lead
    dashboard.see("Nothing has been sent yet")
    sent = app.fake.writes_sent()
    dashboard.main.get_by_role("button", name="Run the batch (1 item)").click()

    banner = dashboard.see(re.compile(r"Batch \d+ — Rep out: Done\."))
    batch_id = int(re.search(r"Batch (\d+)", banner.inner_text()).group(1))
    dashboard.wait_idle()
    results = dashboard.table_rows("bulk_result_bulk", until=lambda rows: any("Done" in row for row in rows))
    assert any("Done" in row for row in results), results
    assert app.db(606002) == (datetime.combine(DAY, time(12, 30)), LAURA_REP)
    app.assert_agree(606002)
    assert app.fake.writes_sent() == sent + 1

    # The journal groups the item under its batch (the report links there).
    dashboard.main.get_by_role("link", name=f"Batch {batch_id} in the journal").click()
    dashboard.wait_idle()
    dashboard.see(f"Batch {batch_id} (Rep out): 1 item(s)")
    dashboard.open_from_sidebar("Bulk actions")

    dashboard.main.get_by_role("button", name=f"Undo batch {batch_id}").click()
    dashboard.see(re.compile(rf"Undo of batch {batch_id} — Rep out: Done\."))
    dashboard.wait_idle()
    assert app.db(606002) == (datetime.combine(DAY, time(12, 30)), TOM_REP)
    app.assert_agree(606002)
    expect(dashboard.main.get_by_role("button", name=f"Undo batch {batch_id}")).to_have_count(0)
