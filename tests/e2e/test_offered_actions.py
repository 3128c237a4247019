"""Issue 18 in Chromium: actions the current state refuses are not offered — with maintenance mode on, the Day view's
action buttons are drawn disabled and say why; a data-quality Fix that would act in the past is not offered."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from services.quality.checks import run_check
from services.settings import load_settings
from services.access.switches import MAINTENANCE, set_switch
from tests.e2e.conftest import ADMIN, DAY, OPERATOR


def test_maintenance_mode_disables_the_action_buttons_and_says_why(app, dashboard):
    set_switch(app.engine, MAINTENANCE, True, ADMIN)
    try:
        dashboard.sign_in(OPERATOR).navigate(f"/day?date={DAY.isoformat()}")
        dashboard.see("Maintenance mode")
        buttons = dashboard.main.get_by_role("button", name="Reschedule")
        buttons.first.wait_for()
        assert buttons.count() >= 1
        assert all(buttons.nth(index).is_disabled() for index in range(buttons.count()))
        assert dashboard.main.get_by_role("button", name="Unschedule").first.is_disabled()
        buttons.first.hover()  # the reason is the button's tooltip
        dashboard.see("Maintenance mode is on: changes are paused", within=dashboard.page.locator("body"))
    finally:
        set_switch(app.engine, MAINTENANCE, False, ADMIN)
    dashboard.page.reload()
    dashboard.wait_idle()
    dashboard.main.get_by_role("button", name="Reschedule").first.wait_for()
    assert dashboard.main.get_by_role("button", name="Reschedule").first.is_enabled()


def test_a_fix_that_would_act_in_the_past_is_not_offered(app, dashboard):
    # CORE 608001 (its Supervisor Unstaffed) moved three days back: "Schedule the Supervisor" would act in the past
    with app.engine.begin() as connection:
        connection.execute(text("UPDATE schedules SET schedule_datetime = :past WHERE event_ref_num = 608001"),
                           {"past": f"{date.today() - timedelta(days=3)} 10:30:00"})
    run_check(app.engine, load_settings({"SCHEDULER_DATABASE_URL": app.database_url}), triggered_by="e2e")
    dashboard.sign_in(OPERATOR).navigate("/data_quality")
    dashboard.see("Open findings")
    picked = dashboard.select_table_row("dq_table", lambda row: "608001" in " ".join(row))
    dashboard.see("No fix offered", within=dashboard.main)
    assert dashboard.main.get_by_role("button", name="Schedule the Supervisor at rule time").count() == 0
    assert picked
