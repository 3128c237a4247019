"""Journey 5: a viewer reads every page but is offered no action, and an action crafted outside the pages (the CLI,
which calls the same service layer) is refused with the role's message and changes nothing."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from services.quality.checks import run_check
from services.settings import load_settings
from tests.e2e.conftest import ADMIN, DAY, VIEWER

ACTION_BUTTONS = re.compile(r"^(Reschedule|Unschedule|Schedule Supervisor|Confirm reschedule|Run checks now|"
                            r"Schedule the Supervisor at rule time|Acknowledge|Schedule this Supervisor.*|Undo.*|"
                            r"Staff|Reassign|Staff selected.*|Run the batch.*)$")


def test_a_viewer_sees_no_action_buttons_and_a_crafted_action_is_refused(app, dashboard, open_dashboard):
    run_check(app.engine, load_settings({"SCHEDULER_DATABASE_URL": app.database_url}), triggered_by="e2e")
    dashboard.sign_in(VIEWER)
    dashboard.see(f"Signed in as {VIEWER} (viewer)", within=dashboard.sidebar)
    expect(dashboard.sidebar.get_by_role("link", name="Admin")).to_have_count(0)
    expect(dashboard.sidebar.get_by_role("link", name="Bulk actions")).to_have_count(0)  # operators only

    # Day view: the cards, no buttons on them
    dashboard.navigate(f"/day?date={DAY.isoformat()}")
    dashboard.see("ref 606001 ·")
    dashboard.see("Supervisor 608002 is Unstaffed")
    expect(dashboard.main.get_by_role("button", name=ACTION_BUTTONS)).to_have_count(0)
    expect(dashboard.page.locator('[class*="st-key-btn_"]')).to_have_count(0)

    # Data quality: findings readable, no Run / Fix / Acknowledge
    dashboard.navigate("/data_quality")
    dashboard.see("Open findings")
    dashboard.select_table_row("dq_table", lambda row: "Supervisor Unstaffed for a scheduled CORE" in row)
    dashboard.see("Supervisor Unstaffed for a scheduled CORE (warning)")
    dashboard.see("Open the day view")
    expect(dashboard.main.get_by_role("button", name=ACTION_BUTTONS)).to_have_count(0)
    expect(dashboard.main.get_by_role("textbox", name="Acknowledge with a note")).to_have_count(0)

    # Unscheduled: the Unstaffed Supervisor of a scheduled CORE, but no "Schedule this Supervisor"
    dashboard.navigate("/unscheduled")
    dashboard.see("Unscheduled events")
    dashboard.select_table_row("unscheduled_table", lambda row: any("608002" in cell for cell in row))
    dashboard.see("Open its day")
    expect(dashboard.main.get_by_role("button", name=ACTION_BUTTONS)).to_have_count(0)

    # a crafted attempt: the service layer is the guard, whatever the route
    before = {ref: app.db(ref) for ref in (606001, 606002)}
    refused = app.cli("reschedule", "--event", "606001", "--to", f"{DAY.isoformat()}T11:00", "--user", VIEWER)
    assert refused.returncode == 1, (refused.returncode, refused.stdout, refused.stderr)
    said = refused.stdout + refused.stderr
    assert f"{VIEWER} is a viewer; reschedule needs the operator role or higher." in said, said
    assert {ref: app.db(ref) for ref in (606001, 606002)} == before
    assert app.fake.writes_sent() == 0
    app.assert_agree()
    # ... and, like every attempt, it is on record (invariant 3)
    assert [(o.kind, o.status, o.requested_by) for o in app.operations()] == [("reschedule", "refused", VIEWER)]

    # the pages follow the role: the same Day view offers an admin the actions and the Admin page
    admin = open_dashboard().sign_in(ADMIN)
    expect(admin.sidebar.get_by_role("link", name="Admin")).to_have_count(1)
    admin.navigate(f"/day?date={DAY.isoformat()}")
    expect(admin.key("btn_rs_606001").get_by_role("button")).to_be_visible()
