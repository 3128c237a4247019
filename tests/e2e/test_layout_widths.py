"""Journey 6: on a phone (375 px) and a tablet (1024 px) the Calendar and the Day view fit the width (no horizontal
scrolling) and their controls can be reached."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DAY, OPERATOR

E2E_DEMO_EVENTS = 1200  # a busy day, as the team's days are


def _assert_no_horizontal_scroll(dashboard, where: str) -> None:
    """`document.documentElement.scrollWidth <= window.innerWidth + 1`, and the same for Streamlit's scrolling
    containers (the main area scrolls inside the page)."""
    assert dashboard.horizontal_overflow() == [], f"{where} scrolls sideways"


@pytest.mark.parametrize(("width", "height"), [(375, 812), (1024, 768)], ids=["phone-375", "tablet-1024"])
def test_calendar_and_day_view_fit_and_controls_are_reachable(app, open_dashboard, width, height):
    dashboard = open_dashboard(width, height, is_mobile=width < 600, has_touch=width < 600)
    dashboard.sign_in(OPERATOR)
    _assert_no_horizontal_scroll(dashboard, "Overview")

    dashboard.navigate(f"/calendar?month={DAY:%Y-%m}")
    dashboard.see(f"{DAY:%B %Y}", within=dashboard.main.get_by_role("heading", level=1))
    grid = dashboard.key("month_grid")
    expect(grid.locator("a.mg-cell").first).to_be_attached()
    dashboard.wait_idle()
    # a phone gets the month as a list of days; wider screens the grid (tests/e2e/test_calendar_day_layout.py)
    month_view = dashboard.key("calendar_list") if width < 640 else grid
    _assert_no_horizontal_scroll(dashboard, "Calendar")
    for name in ("◀ Prev", "Today", "Next ▶", "Open day view"):
        dashboard.assert_reachable(dashboard.main.get_by_role("button", name=name, exact=True))
    dashboard.assert_reachable(dashboard.key("filter_store"))
    dashboard.assert_reachable(dashboard.key("calendar_day_picker").locator("input"))
    dashboard.assert_reachable(month_view)
    chart_box = month_view.bounding_box()
    assert chart_box["width"] <= width, chart_box

    dashboard.navigate(f"/day?date={DAY.isoformat()}")
    dashboard.see(f"{DAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))
    dashboard.see("ref 606001 ·")
    dashboard.wait_idle()
    _assert_no_horizontal_scroll(dashboard, "Day view")
    for name in ("◀ Previous", "Next ▶"):
        dashboard.assert_reachable(dashboard.main.get_by_role("button", name=name, exact=True))
    for key in ("btn_rs_606001", "btn_us_606001", "btn_ss_608001"):
        dashboard.assert_reachable(dashboard.key(key).get_by_role("button"))

    # the reschedule dialog fits too, and its confirm button can be reached
    dashboard.key("btn_rs_606001").get_by_role("button").click()
    dialog = dashboard.dialog
    dialog.get_by_role("radio", name="11:00").click()
    dashboard.see(f"Supervisor 606002 will be {DAY:%a %Y-%m-%d} 13:00", within=dialog)
    dashboard.wait_idle()
    _assert_no_horizontal_scroll(dashboard, "the reschedule dialog")
    for name in ("09:45", "10:30", "11:00", "11:30", "Other time"):
        dashboard.assert_reachable(dialog.get_by_role("radio", name=name))
    dashboard.assert_reachable(dialog.get_by_role("button", name="Confirm reschedule"))
    assert app.operations() == []  # looked, did not act
