"""Local sign-in through POST /auth/sign-in (issue 18): the server checks the password and sets the HttpOnly session
cookie; the session lives in dashboard_sessions (so a reload, a new tab or another replica keeps it) and ends with sign
out, disabling the account, a password change or SESSION_IDLE_MINUTES idle. Run against the real route (Starlette's
test client on an app holding it) and a real database, SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta
from http.cookies import SimpleCookie

import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from dashboard.sign_in_route import SIGN_IN_PATH, safe_next, sign_in
from services.access.accounts import OPERATOR, SETUP, add_user, set_active, set_password
from services.store.database import dispose_shared_engines
from services.access.sessions import COOKIE_NAME, check_session, revoke_session, start_session

PASSWORD = "a-long-test-password"
IDLE = timedelta(minutes=60)


@pytest.fixture
def client(engine, database_url, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", database_url)
    monkeypatch.setenv("AUTH_MODE", "local")
    add_user(engine, "olga", OPERATOR, PASSWORD, by=SETUP)
    with TestClient(Starlette(routes=[Route(SIGN_IN_PATH, sign_in, methods=["POST"])]),
                    base_url="http://dashboard.test", follow_redirects=False) as test_client:
        yield test_client
    dispose_shared_engines()


def _post(client: TestClient, **form: str):  # noqa: ANN202
    return client.post(SIGN_IN_PATH, data=form, headers={"Origin": "http://dashboard.test"})


def _count(engine, table: str) -> int:  # noqa: ANN001
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def _set_cookie(response) -> SimpleCookie:  # noqa: ANN001
    cookie = SimpleCookie()
    cookie.load(response.headers.get("set-cookie", ""))
    return cookie


def test_a_wrong_password_comes_back_to_the_page_with_a_code_and_no_cookie(client, engine):
    response = _post(client, username="olga", password="not the password", next="/day?date=2026-12-03")
    assert response.status_code == 303
    assert response.headers["location"] == "/day?date=2026-12-03&sign_in=failed"
    assert "set-cookie" not in response.headers and _count(engine, "dashboard_sessions") == 0


def test_the_right_password_sets_an_httponly_cookie_whose_hash_is_the_session(client, engine):
    response = _post(client, username="olga", password=PASSWORD, next="/calendar?month=2026-12&sign_in=failed")
    assert response.status_code == 303 and response.headers["location"] == "/calendar?month=2026-12"
    morsel = _set_cookie(response)[COOKIE_NAME]
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header and "secure" not in header
    token = morsel.value
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash, username FROM dashboard_sessions")).one()
    assert stored.username == "olga" and token not in stored.token_hash  # only the hash is kept
    assert check_session(engine, token, IDLE).user.username == "olga"


def test_over_https_the_cookie_is_secure(client):
    response = client.post(SIGN_IN_PATH, data={"username": "olga", "password": PASSWORD},
                           headers={"Origin": "http://dashboard.test", "X-Forwarded-Proto": "https"})
    assert "secure" in response.headers["set-cookie"].lower()


def test_another_site_cannot_post_the_form(client, engine):
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = client.post(SIGN_IN_PATH, data={"username": "olga", "password": PASSWORD}, headers=headers)
        assert response.status_code == 403 and "set-cookie" not in response.headers
    assert _count(engine, "dashboard_sessions") == 0 and _count(engine, "dashboard_login_attempts") == 0


@pytest.mark.parametrize("name", ["olga\x00", "\x00", "x" * 10_000])
def test_a_name_no_account_can_have_is_refused_and_writes_nothing(client, engine, name):
    response = _post(client, username=name, password=PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/?sign_in=invalid"
    assert _count(engine, "dashboard_login_attempts") == 0 and _count(engine, "dashboard_sessions") == 0


def test_an_oversized_form_is_refused_before_it_is_read(client, engine):
    response = _post(client, username="olga", password="p" * 100_000)
    assert response.status_code == 413 and _count(engine, "dashboard_login_attempts") == 0


@pytest.mark.parametrize(("landing", "expected"), [
    ("/day?date=2026-12-03", "/day?date=2026-12-03"), ("//evil.example/x", "/"), ("/\\evil.example", "/"),
    ("https://evil.example/", "/"), ("day", "/"), ("/ok\r\nSet-Cookie: x=1", "/"), ("", "/")])
def test_only_a_path_on_this_site_is_landed_on(landing, expected):
    assert safe_next(landing) == expected


def test_sign_out_disable_password_change_and_idle_end_sessions(engine):
    add_user(engine, "olga", OPERATOR, PASSWORD, by=SETUP)
    from services.access.accounts import User

    olga = User("olga", OPERATOR)
    now = datetime.now().replace(microsecond=0)
    signed_out, disabled, changed, idle, alive = (start_session(engine, olga, "10.0.0.1", now) for _ in range(5))
    revoke_session(engine, signed_out)
    assert check_session(engine, signed_out, IDLE).ended == "revoked"
    assert check_session(engine, idle, IDLE, now + timedelta(minutes=61)).ended == "idle"
    assert check_session(engine, idle, IDLE, now).ended == "revoked"  # an idle session does not come back
    assert check_session(engine, alive, IDLE, now + timedelta(minutes=30)).user.username == "olga"
    set_password(engine, "olga", "a-brand-new-password", by=SETUP)  # every other browser signs in again
    assert {check_session(engine, token, IDLE).ended for token in (disabled, changed, alive)} == {"revoked"}
    fresh = start_session(engine, olga, None)
    set_active(engine, "olga", False, by=SETUP)
    assert check_session(engine, fresh, IDLE).ended == "revoked"
    assert check_session(engine, "made-up-token", IDLE).ended == "unknown"
    assert check_session(engine, None, IDLE).user is None
