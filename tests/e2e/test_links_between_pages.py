"""Links that carry a page's state (?date=) open that state, also when the page was visited before in the session."""
from __future__ import annotations

import re
from datetime import date

from tests.e2e.conftest import DAY, OPERATOR, TODAY


def test_a_link_to_another_day_opens_that_day_after_the_day_view_was_visited(app, dashboard):
    dashboard.sign_in(OPERATOR).navigate(f"/day?date={TODAY.isoformat()}")
    dashboard.see(f"{TODAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))

    # a link that carries another day: the Unscheduled page's "Open its day" for the Supervisor due on DAY
    dashboard.open_from_sidebar("Unscheduled")
    dashboard.select_table_row("unscheduled_table", lambda row: "608002" in row)
    link = dashboard.main.get_by_role("link", name="Open its day")
    linked = date.fromisoformat(re.search(r"date=(\d{4}-\d{2}-\d{2})", link.get_attribute("href")).group(1))
    assert linked != TODAY  # another day than the one the day view showed
    link.click()
    dashboard.wait_idle()
    dashboard.see(f"{linked:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1), timeout=5_000)


def test_a_shared_link_opened_before_signing_in_lands_on_its_page(app, dashboard):
    """Every full page load is a new session, signed out: after signing in, the link's page and state must show."""
    from tests.e2e.conftest import PASSWORD

    page = dashboard.page
    page.goto(f"{app.url}/day?date={DAY.isoformat()}")
    page.get_by_role("textbox", name="User name").fill(OPERATOR)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    dashboard.wait_idle()
    dashboard.see(f"{DAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1), timeout=15_000)
