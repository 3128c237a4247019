"""Issue 17 in Chromium: the Content-Security-Policy of dashboard/server.py keeps images to the app itself (and data:
URIs), so nothing on a page makes the browser fetch from another host, while Streamlit itself works unhindered: every
page draws (the Calendar's month grid and its inline colours too) with no CSP violation in the console.

The Markdown escaping of names is a separate fix; this test must hold without it, so besides a hostile event name on
the Day view it puts an <img> straight into the DOM and checks that the policy, not the escaping, stops it."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from dashboard.components import PAGE_FILES
from tests.e2e.conftest import ADMIN, DAY
from tests.one_answer_server import one_answer_server

PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                      "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
# Every violation the page reports, from the first script on (an init script runs before Streamlit's own).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => window.__cspViolations.push({
    directive: event.effectiveDirective, blocked: event.blockedURI, source: event.sourceFile, line: event.lineNumber}));
"""
PAGE_PATHS = {key: f"/{key}" for key in PAGE_FILES} | {"day": f"/day?date={DAY.isoformat()}",
                                                       "timeline": "/timeline?ref=606001"}


@pytest.fixture(scope="module")
def pixel_server() -> Iterator[tuple[str, list[str]]]:
    """Another origin serving an image and counting every request: (its base URL, the paths requested)."""
    with one_answer_server(PIXEL, "image/png") as served:
        yield served


def test_no_image_from_another_host_and_streamlit_works_under_the_policy(app, dashboard, pixel_server):
    pixel_url, requested = pixel_server
    hostile = f"Club demo ![t]({pixel_url}/markdown.png) <img src={pixel_url}/html.png>"
    with app.engine.begin() as connection:
        connection.execute(text("UPDATE events SET project_name = :name WHERE project_ref_num = 606001"),
                           {"name": hostile})
    page = dashboard.page
    console_errors: list[str] = []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.add_init_script(RECORD_VIOLATIONS)

    document = page.goto(app.url + "/")
    headers = document.all_headers()
    assert "img-src 'self' data:" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (headers["x-frame-options"], headers["x-content-type-options"], headers["referrer-policy"]) == \
        ("DENY", "nosniff", "same-origin")
    dashboard.sign_in(ADMIN)

    for key, path in PAGE_PATHS.items():
        dashboard.navigate(path)
        expect(dashboard.main.locator("h1").first).to_be_visible()  # the page drew its title
        expect(page.locator('[data-testid="stException"]')).to_have_count(0)
        if key == "calendar":  # the month grid's layout is a <style> block and its colours style attributes
            cell = dashboard.key("month_grid").locator("a.mg-cell").first
            expect(cell).to_be_visible()
            assert cell.evaluate("(c) => getComputedStyle(c.closest('.mg-grid')).display") == "grid"
            assert cell.evaluate("(c) => getComputedStyle(c).backgroundColor") != "rgba(0, 0, 0, 0)"
        if key == "day":  # the hostile name is on a card, as text or as a blocked image: never fetched
            dashboard.see("606001")
    assert page.evaluate("() => window.__cspViolations") == [], "Streamlit itself broke a rule of the policy"
    assert not [error for error in console_errors if "Content Security Policy" in error], console_errors

    # An image put straight into the page (as Markdown or HTML that escaped escaping would be) is not loaded.
    outcome = page.evaluate("""(url) => new Promise((resolve) => {
        const image = document.createElement('img');
        image.onload = () => resolve('loaded');
        image.onerror = () => resolve('blocked');
        image.src = url;
        document.body.appendChild(image);
    })""", f"{pixel_url}/injected.png")
    assert outcome == "blocked"
    violations = page.evaluate("() => window.__cspViolations")
    assert [(v["directive"], v["blocked"]) for v in violations] == [("img-src", f"{pixel_url}/injected.png")]
    # a data: URI and the app's own files still load
    assert page.evaluate("""() => new Promise((resolve) => {
        const image = new Image();
        image.onload = () => resolve(image.naturalWidth);
        image.onerror = () => resolve(0);
        image.src = 'data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg" width="3" height="1"/>';
    })""") == 3
    assert requested == [], f"the other host was asked for {requested}"
