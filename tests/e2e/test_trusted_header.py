"""AUTH_MODE=header: a reverse proxy's header names the person; it must be an active account, whose role applies."""
from __future__ import annotations

import re

from tests.e2e.conftest import VIEWER

E2E_APP_ENV = {"AUTH_MODE": "header", "AUTH_TRUSTED_HEADER": "X-Forwarded-User"}


def _open(e2e_browser, app, header: str | None):  # noqa: ANN001, ANN202
    context = e2e_browser.new_context(viewport={"width": 1280, "height": 900},
                                      extra_http_headers={"X-Forwarded-User": header} if header else {})
    page = context.new_page()
    page.goto(app.url + "/")
    return context, page


def test_the_proxy_header_signs_people_in_with_their_role(e2e_browser, app):
    context, page = _open(e2e_browser, app, VIEWER)
    try:
        page.get_by_text(re.compile(rf"Signed in as {re.escape(VIEWER)}")).wait_for(timeout=20_000)
        assert page.get_by_text("(viewer)").count() >= 1
        assert page.get_by_role("textbox", name="Password").count() == 0  # no local sign-in form in this mode
    finally:
        context.close()


def test_no_header_or_an_unknown_name_is_refused(e2e_browser, app):
    for header, message in ((None, "No X-Forwarded-User header from the proxy"),
                            ("mallory", "is not a user of this dashboard")):
        context, page = _open(e2e_browser, app, header)
        try:
            page.get_by_text(re.compile(re.escape(message))).first.wait_for(timeout=20_000)
            assert page.get_by_text("Sign-in is handled by the proxy").count() == 1
            assert page.get_by_text(re.compile("Signed in as")).count() == 0
        finally:
            context.close()
