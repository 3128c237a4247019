"""Sessions as people use them (issue 18), in Chromium: a signed-in person stays signed in across a reload and in a
new tab; a link opened before signing in lands on its page; signing out revokes the session on the server, so a copy
of the cookie signs no one in; disabling the account does the same."""
from __future__ import annotations

import re

from tests.e2e.conftest import DAY, OPERATOR, PASSWORD

COOKIE = "dashboard_session"


def _signed_in(dashboard) -> None:  # noqa: ANN001
    dashboard.see(re.compile(rf"Signed in as {re.escape(OPERATOR)}"), within=dashboard.sidebar)


def _sign_in_form_shown(page) -> None:  # noqa: ANN001
    page.get_by_role("textbox", name="User name").wait_for()


def test_a_session_survives_a_reload_and_a_new_tab_and_sign_out_revokes_it(open_dashboard, e2e_browser, app):
    dashboard = open_dashboard().sign_in(OPERATOR)
    cookie = next(c for c in dashboard.page.context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    dashboard.page.reload()
    _signed_in(dashboard)
    tab = dashboard.page.context.new_page()  # a dashboard link opened in a new tab
    tab.goto(f"{app.url}/day?date={DAY.isoformat()}")
    tab.get_by_text(re.compile(rf"Signed in as {re.escape(OPERATOR)}")).wait_for()
    tab.get_by_role("heading", level=1, name=f"{DAY:%A, %B %d, %Y}").wait_for()
    tab.close()

    dashboard.sidebar.get_by_role("button", name="Sign out").click()
    _sign_in_form_shown(dashboard.page)
    # the copied cookie, in another browser, signs no one in: the session was revoked on the server
    thief = e2e_browser.new_context()
    try:
        thief.add_cookies([cookie])
        page = thief.new_page()
        page.goto(app.url + "/")
        _sign_in_form_shown(page)
        assert page.get_by_text("Signed in as").count() == 0
    finally:
        thief.close()
    with app.engine.connect() as connection:
        from sqlalchemy import text

        states = connection.execute(text("SELECT revoked_at IS NOT NULL FROM dashboard_sessions "
                                         "WHERE username = :name"), {"name": OPERATOR}).scalars().all()
    assert states and all(states)


def test_a_link_opened_before_signing_in_lands_on_its_page(open_dashboard, app):
    dashboard = open_dashboard()
    dashboard.page.goto(f"{app.url}/day?date={DAY.isoformat()}")
    dashboard.page.get_by_role("textbox", name="User name").fill(OPERATOR)
    dashboard.page.get_by_role("textbox", name="Password").fill("not the password")
    dashboard.page.get_by_role("button", name="Sign in").click()
    dashboard.see("Wrong user name or password", within=dashboard.page.locator("body"))
    dashboard.page.get_by_role("textbox", name="User name").fill(OPERATOR)
    dashboard.page.get_by_role("textbox", name="Password").fill(PASSWORD)
    dashboard.page.get_by_role("button", name="Sign in").click()
    _signed_in(dashboard)
    dashboard.page.get_by_role("heading", level=1, name=f"{DAY:%A, %B %d, %Y}").wait_for()
    assert dashboard.page.url.endswith(f"/day?date={DAY.isoformat()}")  # no sign-in code left in the address


def test_disabling_the_account_ends_its_signed_in_sessions(open_dashboard, app):
    from services.access.accounts import SETUP, set_active

    dashboard = open_dashboard().sign_in(OPERATOR)
    set_active(app.engine, OPERATOR, False, by=SETUP)
    try:
        dashboard.page.reload()
        _sign_in_form_shown(dashboard.page)
        assert dashboard.page.get_by_text("Signed in as").count() == 0
    finally:
        set_active(app.engine, OPERATOR, True, by=SETUP)
