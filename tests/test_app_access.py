"""AppTest: sign-in, idle expiry, disabled accounts, role-shaped navigation, the admin switches and their banner."""
from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from services.access.accounts import SETUP, set_active
from services.store.database import make_engine
from tests.migrated_template import migrate_new_database
from services.access.switches import MAINTENANCE, current_switches
from tests.test_app_pages import APP, TEST_PASSWORD, _texts, open_page, signed_in_as  # noqa: F401


def _fresh(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'access.db'}"
    migrate_new_database(url)
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", url)
    st.cache_resource.clear()
    return url


def test_the_sign_in_page_posts_to_the_server_and_lands_back_on_the_page_opened(tmp_path, monkeypatch):
    """The form is HTML posted to POST /auth/sign-in (it sets the HttpOnly cookie; tests/test_sign_in_route.py);
    a refusal comes back as a code the page explains, and nothing typed is reflected."""
    _fresh(tmp_path, monkeypatch)
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["date"] = "2026-12-03"
    app.query_params["sign_in"] = "failed"
    app.run()
    assert _texts(app.title) == ["Field events"] and not app.metric  # nothing but the form
    assert any("Wrong user name or password" in e for e in _texts(app.error))
    form = app.html[0].value
    assert 'method="post" action="/auth/sign-in"' in form
    assert 'name="next" value="/?date=2026-12-03"' in form  # the page opened, without the refusal code
    assert 'autocomplete="current-password"' in form


def test_idle_sessions_expire_and_disabled_accounts_are_signed_out(tmp_path, monkeypatch):
    url = _fresh(tmp_path, monkeypatch)
    name = signed_in_as(url, "operator")
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["auth"] = {"username": name, "last_seen": datetime.now() - timedelta(hours=3)}
    app.run()
    assert any("expired" in w for w in _texts(app.warning)) and _texts(app.title) == ["Field events"]

    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["auth"] = {"username": name, "last_seen": datetime.now()}
    app.run()
    assert _texts(app.title) == ["This week"]
    engine = make_engine(url)
    set_active(engine, name, False, by=SETUP)
    engine.dispose()
    app.run()
    assert any("disabled" in w for w in _texts(app.warning)) and _texts(app.title) == ["Field events"]


def test_admin_switches_maintenance_and_every_page_shows_the_banner(open_page, tmp_path):
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    migrate_new_database(url)
    viewer = open_page(url, "overview", role="viewer")
    admin_page = open_page(url, "admin", role="viewer")
    assert any("Only admins" in e for e in _texts(admin_page.error)) or _texts(admin_page.title) != ["Admin"]
    assert not any("Maintenance" in w for w in _texts(viewer.warning))

    admin = open_page(url, "admin", role="admin")
    admin.toggle(key=f"switch_{MAINTENANCE}").set_value(True).run()
    engine = make_engine(url)
    assert current_switches(engine)[MAINTENANCE] is True
    engine.dispose()
    again = open_page(url, "overview", role="viewer")
    assert any("Maintenance mode" in w for w in _texts(again.warning))


def test_the_admin_page_changes_roles_and_activity_as_the_signed_in_admin(open_page, tmp_path):
    url = f"sqlite:///{tmp_path / 'roles.db'}"
    migrate_new_database(url)
    operator = signed_in_as(url, "operator")
    admin = open_page(url, "admin", role="admin")
    admin.selectbox(key=f"role_{operator}").set_value("viewer").run()
    assert not admin.exception, admin.exception
    admin.toggle(key=f"active_{operator}").set_value(False).run()
    engine = make_engine(url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT role, is_active FROM dashboard_users WHERE username = :name"),
                                 {"name": operator}).one()
        audit = connection.execute(text("SELECT actor, action, message FROM dashboard_audit WHERE action IN "
                                        "('role changed', 'user disabled') ORDER BY id")).all()
    engine.dispose()
    assert (row.role, bool(row.is_active)) == ("viewer", False)
    assert [tuple(entry) for entry in audit] == [("test-admin", "role changed", f"{operator} to viewer"),
                                                 ("test-admin", "user disabled", operator)]


def test_oidc_mode_says_what_is_missing_until_the_auth_section_is_complete(tmp_path, monkeypatch):
    _fresh(tmp_path, monkeypatch)
    monkeypatch.setenv("AUTH_MODE", "oidc")
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert any("no complete [auth] section" in e for e in _texts(app.error))
    assert not app.button and _texts(app.title) == ["Field events"]

    app = AppTest.from_file(APP, default_timeout=60)
    app.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                           "client_id": "ops-dashboard", "client_secret": "secret",
                           "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration"}
    app.run()
    assert not app.error and [b.label for b in app.button] == ["Sign in"]
