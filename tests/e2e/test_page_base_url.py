"""Issue 18 (speed people feel) in Chromium: a page opened at its own path (a link, a reload, a bookmark) connects to
the server at once. Without the pinned address (dashboard/page_base_url.py) Streamlit's front end first asked
/<page>/_stcore/health, got a 404 and waited its retry delay before asking /_stcore/health. The pin script's
arithmetic is also checked behind a proxy that strips a prefix of its own."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from dashboard.page_base_url import pinned_page
from tests.e2e.conftest import DAY, OPERATOR
from tests.one_answer_server import one_answer_server

BACKEND_BASE_URL = "() => window.__streamlit ? window.__streamlit.BACKEND_BASE_URL : null"


def test_a_page_opened_at_its_path_asks_the_server_s_address_only(app, dashboard):  # noqa: ANN001
    dashboard.sign_in(OPERATOR)
    page = dashboard.page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url.removeprefix(app.url)))
    for path, drawn in ((f"/calendar?month={DAY:%Y-%m}", dashboard.key("month_grid").locator("a.mg-cell").first),
                        (f"/day?date={DAY.isoformat()}", dashboard.main.get_by_role("heading", level=1))):
        asked.clear()
        page.goto(app.url + path)  # a new page load: a new Streamlit session, signed in by its cookie
        expect(drawn).to_be_visible()
        assert page.evaluate(BACKEND_BASE_URL) == app.url + "/"
        health = [url for url in asked if "_stcore/health" in url or "_stcore/host-config" in url]
        assert health and all(url in ("/_stcore/health", "/_stcore/host-config") for url in health), health


@pytest.fixture(scope="module")
def page_server() -> Iterator[str]:
    """A plain HTTP server answering every path with the page pinned for /calendar, as a proxy in front of the
    dashboard passes it on (with or without a prefix of its own)."""
    body = pinned_page(b"<html><head><title>t</title></head><body>page</body></html>", "/calendar")
    with one_answer_server(body, "text/html") as (url, _requested):
        yield url


def test_the_script_finds_where_the_app_is_mounted(page_server: str, e2e_browser):  # noqa: ANN001
    page = e2e_browser.new_page()
    try:
        page.goto(page_server + "/calendar")
        assert page.evaluate(BACKEND_BASE_URL) == page_server + "/"
        page.goto(page_server + "/team/ops/calendar?month=2026-11")  # a proxy that strips /team/ops
        assert page.evaluate(BACKEND_BASE_URL) == page_server + "/team/ops/"
        page.goto(page_server + "/somewhere/else")  # the paths disagree: nothing is pinned, Streamlit guesses
        assert page.evaluate(BACKEND_BASE_URL) is None
    finally:
        page.close()
