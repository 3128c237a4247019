"""Page state, widgets and the URL stay in step (issue 18), in Chromium: each click on Previous/Next moves exactly one
step, the heading, the picker and the address bar agree after every click, and a copied URL reproduces the view."""
from __future__ import annotations

import re
from datetime import timedelta

from tests.e2e.conftest import DAY, OPERATOR


def _day_heading(dashboard, day) -> None:  # noqa: ANN001
    dashboard.see(f"{day:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))


def _url_says(dashboard, key: str, value: str) -> None:  # noqa: ANN001
    dashboard.page.wait_for_url(re.compile(rf"[?&]{key}={re.escape(value)}(&|$)"))


def test_day_view_previous_and_next_move_one_day_per_click_and_the_url_follows(open_dashboard, app):
    dashboard = open_dashboard().sign_in(OPERATOR).navigate(f"/day?date={DAY.isoformat()}")
    _day_heading(dashboard, DAY)
    expected = DAY
    for button, step in (("◀ Previous", -1),) * 3 + (("Next ▶", 1),) * 3:
        dashboard.key("day_prev" if step < 0 else "day_next").get_by_role("button").click()
        expected += timedelta(days=step)
        _day_heading(dashboard, expected)
        _url_says(dashboard, "date", expected.isoformat())
        dashboard.wait_idle()
        picker = dashboard.key("day_picker").locator('[data-testid="hidden-dateinput-container"] input')
        assert picker.input_value() == expected.isoformat(), (button, expected)  # the picker agrees too
    # the copied address reproduces the view, in a new tab of the same signed-in browser
    copied = dashboard.page.url
    tab = dashboard.page.context.new_page()
    tab.goto(copied)
    tab.get_by_role("heading", level=1, name=f"{expected:%A, %B %d, %Y}").wait_for()


def test_calendar_prev_today_next_move_one_month_and_the_url_follows(open_dashboard, app):
    dashboard = open_dashboard().sign_in(OPERATOR).navigate(f"/calendar?month={DAY:%Y-%m}")
    month = DAY.replace(day=1)
    for key, step in (("month_prev", -1),) * 3 + (("month_next", 1),) * 2:
        dashboard.key(key).get_by_role("button").click()
        year, index = divmod(month.year * 12 + month.month - 1 + step, 12)
        month = month.replace(year=year, month=index + 1)
        _url_says(dashboard, "month", f"{month:%Y-%m}")
        dashboard.see(f"{month:%B %Y}", within=dashboard.main.get_by_role("heading", level=1))
        dashboard.wait_idle()
