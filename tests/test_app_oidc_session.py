"""AppTest of AUTH_MODE=oidc's session rules (issue 17): roles from a sign-in older than AUTH_MAX_SESSION_HOURS are not
trusted, SESSION_IDLE_MINUTES ends an OIDC session as it does a local one, and the account is the one of the token's
(iss, sub). `st.user` (what Streamlit reads from its signed identity cookie) is replaced by the claims a provider would
have issued; the database and the pages are real. tests/e2e/test_oidc_sign_in.py signs in at a real provider."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
import streamlit
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from dashboard.markdown_text import WORD_JOINER
from services.store.database import make_engine
from tests.test_app_access import _fresh
from tests.test_app_pages import APP, _texts

ISSUER = "https://idp.example.com/"


class ProviderClaims(dict):
    """What `st.user` holds after a sign-in: the ID token's claims plus Streamlit's `is_logged_in`."""

    def __getattr__(self, name: str):  # noqa: ANN204 - st.user.is_logged_in
        return self.get(name)


@pytest.fixture
def oidc_app(tmp_path, monkeypatch):  # noqa: ANN201
    url = _fresh(tmp_path, monkeypatch)
    monkeypatch.setenv("AUTH_MODE", "oidc")
    monkeypatch.setenv("AUTH_ROLE_MAP", "ops-staff=operator,ops-admins=admin")
    monkeypatch.setenv("AUTH_MAX_SESSION_HOURS", "12")
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "30")

    def open_(issued_hours_ago: float, **claims: object) -> AppTest:
        issued = time.time() - issued_hours_ago * 3600
        monkeypatch.setattr(streamlit, "user", ProviderClaims(
            is_logged_in=True, iss=ISSUER, sub="olga-1", email="Olga@Example.com", email_verified=True,
            roles=["ops-staff"], iat=int(issued), **claims))
        return AppTest.from_file(APP, default_timeout=60)

    open_.url = url
    return open_


def test_a_fresh_sign_in_is_provisioned_by_issuer_and_subject(oidc_app):
    app = oidc_app(issued_hours_ago=1).run()
    assert not app.exception, app.exception
    assert _texts(app.title) == ["This week"]
    shown = [caption.replace(WORD_JOINER, "") for caption in _texts(app.sidebar.caption)]  # plain() breaks autolinks
    assert any("olga@example.com" in caption and "(operator)" in caption for caption in shown), shown
    engine = make_engine(oidc_app.url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT username, role, oidc_issuer, oidc_subject FROM dashboard_users")).one()
    engine.dispose()
    assert tuple(row) == ("olga@example.com", "operator", ISSUER, "olga-1")


def test_roles_from_a_sign_in_older_than_the_limit_are_not_trusted(oidc_app):
    app = oidc_app(issued_hours_ago=13).run()
    assert not app.exception, app.exception
    assert _texts(app.title) == ["Field events"]  # the sign-in page, not the dashboard
    assert any("more than 12 hours old; sign in again" in warning for warning in _texts(app.warning))
    engine = make_engine(oidc_app.url)
    with engine.connect() as connection:  # nothing was provisioned from the stale claims
        assert connection.execute(text("SELECT COUNT(*) FROM dashboard_users")).scalar_one() == 0
    engine.dispose()


def test_a_token_without_an_issue_time_is_not_trusted(oidc_app):
    app = oidc_app(issued_hours_ago=0)
    streamlit.user.pop("iat")
    app.run()
    assert _texts(app.title) == ["Field events"]


def test_an_idle_oidc_session_ends_like_a_local_one(oidc_app):
    app = oidc_app(issued_hours_ago=1).run()
    assert _texts(app.title) == ["This week"]
    app.session_state["auth"] = {**app.session_state["auth"], "last_seen": datetime.now() - timedelta(minutes=31)}
    app.run()
    assert _texts(app.title) == ["Field events"]
    assert any("expired after a while without activity" in warning for warning in _texts(app.warning))
