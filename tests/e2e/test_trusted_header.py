"""AUTH_MODE=header: a reverse proxy's header names the person; it must be an active account, whose role applies, and
the request must prove it came through the proxy (its shared secret): a browser that reaches the app directly with
the header is not signed in as anyone."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import ADMIN, VIEWER

PROXY_SECRET = "e2e-proxy-secret-0123456789abcdef"
E2E_APP_ENV = {"AUTH_MODE": "header", "AUTH_TRUSTED_HEADER": "X-Forwarded-User", "AUTH_PROXY_SECRET": PROXY_SECRET}
ROOT = Path(__file__).resolve().parents[2]


def _open(e2e_browser, app, header: str | None, secret: str | None = PROXY_SECRET):  # noqa: ANN001, ANN202
    """A browser whose every request carries what the proxy would add (`secret` None: straight to the app)."""
    headers = {"X-Forwarded-User": header} if header else {}
    if secret is not None:
        headers["X-Proxy-Secret"] = secret
    context = e2e_browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=headers)
    page = context.new_page()
    page.goto(app.url + "/")
    return context, page


def test_the_proxy_header_signs_people_in_with_their_role(e2e_browser, app):
    context, page = _open(e2e_browser, app, VIEWER)
    try:
        page.get_by_text("(viewer)").first.wait_for(timeout=20_000)
        assert page.get_by_text(re.compile("Signed in as")).count() == 1
        assert page.get_by_role("textbox", name="Password").count() == 0  # no local sign-in form in this mode
        # sign out cannot end the proxy's session: the app says what to do instead
        page.get_by_role("button", name="Sign out").click()
        page.get_by_text(re.compile("use the proxy's sign-out page")).wait_for(timeout=20_000)
    finally:
        context.close()


def test_a_browser_that_reaches_the_app_directly_is_no_one(e2e_browser, app):
    """The attack: skip the proxy and name yourself admin. Without the proxy's secret (or with a wrong one) the
    header is not believed, and the page names neither header."""
    for secret in (None, "a-guess-at-the-proxy-secret-000000"):
        context, page = _open(e2e_browser, app, ADMIN, secret=secret)
        try:
            page.get_by_text(re.compile("did not come through it")).first.wait_for(timeout=20_000)
            body = page.locator("body").inner_text()
            assert "Signed in as" not in body and "(admin)" not in body
            assert "X-Forwarded-User" not in body and "X-Proxy-Secret" not in body
        finally:
            context.close()


def test_no_header_or_an_unknown_name_is_refused(e2e_browser, app):
    for header, message in ((None, "The sign-in proxy did not say who you are"),
                            ("mallory", "is not a user of this dashboard")):
        context, page = _open(e2e_browser, app, header)
        try:
            page.get_by_text(re.compile(re.escape(message))).first.wait_for(timeout=20_000)
            assert page.get_by_text("Sign-in is handled by the company's sign-in proxy").count() == 1
            assert page.get_by_text(re.compile("Signed in as")).count() == 0
        finally:
            context.close()


def test_the_server_refuses_to_start_in_header_mode_without_proof_of_the_proxy(tmp_path):
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("AUTH_", "SCHEDULER_", "STREAMLIT_"))}
    environment.update({"AUTH_MODE": "header", "SCHEDULER_DATABASE_URL": f"sqlite:///{tmp_path / 'scheduler.db'}",
                        "DASHBOARD_LOG_FILE": "", "RETRY_LOOP": "false"})
    started = subprocess.run(
        [sys.executable, "-m", "streamlit", "run", "dashboard/server.py", "--server.headless", "true",
         "--server.port", "0", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert started.returncode != 0
    assert "The dashboard refuses to start: AUTH_MODE=header needs proof" in started.stderr
