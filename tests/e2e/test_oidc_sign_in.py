"""AUTH_MODE=oidc end to end: `st.login` against a real OpenID provider (oidc-provider-mock, a local HTTP server issuing
signed ID tokens), the role taken from the `roles` claim through AUTH_ROLE_MAP, the account provisioned so the service
layer's permission check accepts the person's actions, an unmapped claim refused, and sign-out."""
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.e2e.conftest import ADMIN, DAY, TIMEOUT_MS

OPERATOR_EMAIL = "olga.ops@example.com"
MANAGER_EMAIL = "mia.manager@example.com"
STRANGER_EMAIL = "sam.stranger@example.com"
LEAVER_EMAIL = "lee.leaver@example.com"


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[str]:
    from oidc_provider_mock import User, run_server_in_thread

    verified = {"email_verified": True}
    people = [User(sub="olga", claims={"email": OPERATOR_EMAIL, **verified, "roles": ["ops-staff", "everyone"]}),
              User(sub="mia", claims={"email": MANAGER_EMAIL, **verified, "roles": ["managers"]}),
              User(sub="sam", claims={"email": STRANGER_EMAIL, **verified, "roles": ["everyone"]}),
              User(sub="lee", claims={"email": LEAVER_EMAIL, **verified, "roles": ["ops-staff"]}),
              # someone who may choose their own preferred_username and an unverified e-mail at the provider
              User(sub="mallory", claims={"preferred_username": ADMIN, "email": ADMIN, "email_verified": False,
                                          "roles": ["ops-admins"]})]
    with run_server_in_thread(user_claims=people) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def app_env(identity_provider: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    secrets = tmp_path_factory.mktemp("oidc") / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'  # Streamlit fills in the port it serves on
        'cookie_secret = "e2e-cookie-secret-not-secret-0123456789"\n'
        'client_id = "ops-dashboard"\n'
        'client_secret = "e2e-client-secret"\n'
        f'server_metadata_url = "{identity_provider}/.well-known/openid-configuration"\n')
    return {"AUTH_MODE": "oidc", "AUTH_ROLES_CLAIM": "roles",
            "AUTH_ROLE_MAP": "ops-admins=admin,ops-staff=operator,managers=viewer",
            "STREAMLIT_SECRETS_FILES": str(secrets)}


def _drawn(email: str) -> str:
    """A pattern of `email` as the page draws it: plain() puts an invisible word joiner after the @ (no autolink)."""
    local, _, domain = email.partition("@")
    return rf"{re.escape(local)}@\u2060?{re.escape(domain)}"


def _shown_as(email: str) -> re.Pattern:
    return re.compile(rf"Signed in as {_drawn(email)}")


def _sign_in_at_the_provider(dashboard, subject: str) -> None:
    dashboard.page.goto(dashboard.app.url + "/")
    dashboard.page.get_by_role("button", name="Sign in").click()
    dashboard.page.wait_for_url(re.compile(r"/oauth2/authorize"))  # the provider's own page, not ours
    dashboard.page.get_by_role("button", name=subject, exact=True).click()


def _end_the_session_at_the_provider(dashboard) -> None:
    """st.logout sends the browser to the provider's end_session endpoint (RP-initiated logout), which confirms and
    redirects back to the app."""
    dashboard.page.wait_for_url(re.compile(r"/oauth2/end_session"))
    dashboard.page.get_by_role("button", name="End session").click()
    dashboard.see("Sign in to continue", within=dashboard.page.locator("body"))


def _account(app, username: str):  # noqa: ANN202
    with app.engine.connect() as connection:
        return connection.execute(text("SELECT role, password_hash, is_active FROM dashboard_users "
                                       "WHERE username = :name"), {"name": username}).first()


def test_an_operator_signs_in_at_the_provider_and_acts_under_that_name(app, dashboard):
    _sign_in_at_the_provider(dashboard, "olga")
    dashboard.see(re.compile(_shown_as(OPERATOR_EMAIL)), within=dashboard.page.locator("body"))
    dashboard.see("(operator)", within=dashboard.sidebar)
    dashboard.wait_idle()
    account = _account(app, OPERATOR_EMAIL)
    assert account is not None and account.role == "operator" and account.is_active
    assert account.password_hash is None  # provisioned from the provider: no local password exists

    # the service layer accepts the action (it checks the account, not the page) and records the person
    dashboard.navigate(f"/day?date={DAY.isoformat()}")
    dashboard.wait_idle()
    dashboard.key("btn_rs_606001").get_by_role("button").click()
    dialog = dashboard.dialog
    dialog.get_by_role("radio", name="11:00").click()
    dialog.get_by_role("button", name="Confirm reschedule").click()
    dashboard.see(re.compile(r"Operation \d+: Done: CORE 606001"))
    dashboard.wait_idle()
    assert app.db(606001)[0] == datetime.combine(DAY, time(11, 0))
    assert app.db(606002)[0] == datetime.combine(DAY, time(13, 0))
    app.assert_agree(606001, 606002)
    assert [(o.kind, o.status, o.requested_by) for o in app.operations()] == \
        [("reschedule", "done", OPERATOR_EMAIL)]

    # sign out ends the session at the provider too, and comes back to the sign-in button
    dashboard.sidebar.get_by_role("button", name="Sign out").click()
    _end_the_session_at_the_provider(dashboard)
    assert dashboard.page.get_by_text(re.compile("Signed in as")).count() == 0


def test_a_manager_gets_the_viewer_role_and_no_action_buttons(app, dashboard):
    _sign_in_at_the_provider(dashboard, "mia")
    dashboard.see(re.compile(_shown_as(MANAGER_EMAIL)), within=dashboard.page.locator("body"))
    dashboard.see("(viewer)", within=dashboard.sidebar)
    dashboard.navigate(f"/day?date={DAY.isoformat()}")
    dashboard.see(f"{DAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))
    dashboard.wait_idle()
    assert dashboard.key("btn_rs_606001").count() == 0
    assert _account(app, MANAGER_EMAIL).role == "viewer"


def test_a_person_without_a_mapped_role_is_refused_and_can_sign_out(app, dashboard):
    _sign_in_at_the_provider(dashboard, "sam")
    dashboard.see(re.compile(rf"{_drawn(STRANGER_EMAIL)} has no role for this dashboard"),
                  within=dashboard.page.locator("body"))
    assert dashboard.page.get_by_text(re.compile("Signed in as")).count() == 0
    assert _account(app, STRANGER_EMAIL) is None  # nothing is provisioned for a refused person
    dashboard.page.get_by_role("button", name="Sign out").click()
    _end_the_session_at_the_provider(dashboard)
    # the page's text comes before its button (Streamlit draws element by element): wait for exactly one to be drawn
    expect(dashboard.page.get_by_role("button", name="Sign in")).to_have_count(1, timeout=TIMEOUT_MS)


def test_a_disabled_account_is_refused_even_with_a_valid_provider_session(app, dashboard):
    from services.access.accounts import SETUP, add_user, set_active

    add_user(app.engine, LEAVER_EMAIL, "operator", None, by=SETUP)  # signed in before; an admin has since disabled the account
    set_active(app.engine, LEAVER_EMAIL, False, by=SETUP)
    _sign_in_at_the_provider(dashboard, "lee")
    dashboard.see(re.compile(rf"The account '{_drawn(LEAVER_EMAIL)}' is disabled"),
                  within=dashboard.page.locator("body"))
    assert dashboard.page.get_by_text(re.compile("Signed in as")).count() == 0
    assert not _account(app, LEAVER_EMAIL).is_active


def test_a_chosen_username_or_unverified_e_mail_never_takes_the_local_admin(app, dashboard):
    before = _account(app, ADMIN)
    _sign_in_at_the_provider(dashboard, "mallory")
    # the account is keyed on the provider's (issuer, subject): its name comes from the subject, not the claims
    dashboard.see(re.compile(r"Signed in as mallory@localhost"), within=dashboard.page.locator("body"))
    dashboard.wait_idle()
    assert _account(app, ADMIN) == before and before.password_hash is not None  # untouched, still local
    with app.engine.connect() as connection:
        identity = connection.execute(text("SELECT oidc_subject, password_hash FROM dashboard_users "
                                           "WHERE username = 'mallory@localhost'")).one()
    assert tuple(identity) == ("mallory", None)
