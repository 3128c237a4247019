"""Look and layout of the Calendar and the Day view (issue 18), in Chromium: the whole month fits in a 1440×1000
window; on a phone the Calendar is a list of days (not a squeezed grid) and the sidebar closes after choosing a
page; the Day view's table mode shows 20 and more events in one window."""
from __future__ import annotations

import calendar
from datetime import date

from playwright.sync_api import expect
from sqlalchemy import text

from tests.e2e.conftest import DAY, OPERATOR

E2E_DEMO_EVENTS = 2000  # busy days, as the team's days are (the busiest day holds 20 or more)
# A phone's browser: Streamlit closes the sidebar after a page is chosen when the user agent is a mobile one.
PHONE_USER_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/126.0.0.0 Mobile Safari/537.36")


def _six_week_month(start: date) -> date:
    """The first month from `start` on whose calendar spans six weeks (the tallest a month gets)."""
    month = start.replace(day=1)
    while len(calendar.Calendar().monthdatescalendar(month.year, month.month)) < 6:
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return month


def test_a_six_week_month_fits_above_the_fold_at_1440_by_1000(open_dashboard):
    dashboard = open_dashboard(1440, 1000).sign_in(OPERATOR)
    month = _six_week_month(DAY)
    dashboard.navigate(f"/calendar?month={month:%Y-%m}")
    dashboard.see(f"{month:%B %Y}", within=dashboard.main.get_by_role("heading", level=1))
    grid = dashboard.key("month_grid")
    expect(grid.locator("a.mg-cell").first).to_be_visible()
    dashboard.wait_idle()
    assert dashboard.page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop") == 0
    assert grid.locator(".mg-week").count() == 6
    box = grid.locator(".mg-grid").bounding_box()  # the weekday names and all six weeks
    assert box["y"] + box["height"] <= 1000, f"the last week ends at {box['y'] + box['height']:.0f} px"
    last = grid.locator("a.mg-cell").last.bounding_box()
    assert last["y"] + last["height"] <= 1000 and last["height"] >= 70, last  # drawn whole, not squeezed
    assert dashboard.key("filter_types").bounding_box()["y"] < box["y"]  # the heading and filters are above it


def test_on_a_phone_the_calendar_is_a_list_of_days_and_the_sidebar_closes(open_dashboard):
    dashboard = open_dashboard(390, 844, is_mobile=True, has_touch=True, user_agent=PHONE_USER_AGENT)
    dashboard.sign_in(OPERATOR)
    # the sidebar closes after choosing a page (Streamlit does it on mobile browsers)
    dashboard.page.get_by_test_id("stExpandSidebarButton").click()
    expect(dashboard.sidebar).to_have_attribute("data-collapsed", "false")
    dashboard.open_from_sidebar("Calendar")
    expect(dashboard.sidebar).to_have_attribute("data-collapsed", "true")

    dashboard.navigate(f"/calendar?month={DAY:%Y-%m}")
    dashboard.see(f"{DAY:%B %Y}", within=dashboard.main.get_by_role("heading", level=1))
    listing = dashboard.key("calendar_list")
    link = listing.get_by_role("link", name=f"{DAY:%a %b %d}")
    expect(link).to_be_visible()
    expect(listing.get_by_text("Core 3", exact=False).first).to_be_visible()
    expect(dashboard.key("month_grid")).to_be_hidden()  # no squeezed grid
    assert dashboard.horizontal_overflow() == []
    link.click()
    dashboard.see(f"{DAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))


def test_on_a_wide_screen_the_calendar_shows_the_grid_not_the_list(open_dashboard):
    dashboard = open_dashboard(1440, 1000).sign_in(OPERATOR).navigate(f"/calendar?month={DAY:%Y-%m}")
    expect(dashboard.key("month_grid").locator("a.mg-cell").first).to_be_visible()
    expect(dashboard.key("calendar_list")).to_be_hidden()


def busiest_day(app) -> tuple[date, int]:  # noqa: ANN001 - RunningApp
    """The day with the most scheduled events in the app's database. The demo data is drawn around today, so how busy
    a fixed day is depends on the date the suite runs (DAY had 10 events on 2026-12-03)."""
    with app.engine.connect() as connection:
        day, events = connection.execute(text(
            "SELECT date(schedule_datetime) AS day, count(*) AS events FROM schedules GROUP BY date(schedule_datetime) "
            "ORDER BY events DESC, day LIMIT 1")).one()
    assert events >= 20, f"the busiest day has {events} events: the fixture needs more demo events"
    return date.fromisoformat(str(day)), int(events)


def test_the_day_table_shows_twenty_events_in_one_window(app, open_dashboard):
    day, events = busiest_day(app)
    dashboard = open_dashboard(1440, 1000).sign_in(OPERATOR).navigate(f"/day?date={day.isoformat()}&view=table")
    dashboard.see(f"{day:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))
    rows = dashboard.table_rows(dashboard.main, until=lambda rows: len(rows) >= 20)
    assert len(rows) >= 20, rows
    table = dashboard.table(dashboard.main)
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    # 20 rows and the header in one window: a compact line each (the table scrolls inside itself beyond 25 rows)
    lines = min(events, 25) + 1
    assert box["height"] <= 1000 and box["height"] / lines <= 30, (box, lines)


def test_headings_are_in_order_on_the_calendar_and_the_day_view(open_dashboard, axe_source):
    dashboard = open_dashboard(1440, 1000).sign_in(OPERATOR)
    for path, drawn in ((f"/calendar?month={DAY:%Y-%m}", "Scheduled this month"),
                        (f"/day?date={DAY.isoformat()}", "ref 606001 ·"),
                        (f"/day?date={DAY.isoformat()}&view=table", "Events ·")):
        dashboard.navigate(path)
        dashboard.see(drawn)
        dashboard.wait_idle()
        violations = dashboard.axe(axe_source, {"runOnly": {"type": "rule", "values": ["heading-order"]}})
        assert violations == [], f"{path}: {violations}"
