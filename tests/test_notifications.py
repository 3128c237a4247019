"""Notifications delivered to a real local HTTP server (Slack webhook) and a real local SMTP server (aiosmtpd);
failures recorded as their kind and status code only, never the webhook's secret URL or a server's reply text, also
in rows stored before (migration 0013); Slack's control sequences in data stay text."""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import streamlit as st
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from services.quality import notifications
from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.quality.notifications import compose, deliver
from services.store.schema_admin import upgrade_database
from services.settings import load_settings
from tests.cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent
SECRET = "SECRETXYZ"
WEBHOOK_PATH = f"/services/T000/B000/{SECRET}"  # the shape of a Slack incoming webhook's secret path
SLACK_URL = f"https://hooks.slack.com{WEBHOOK_PATH}"


@dataclass(frozen=True)
class Item:
    rule: str
    detail: str
    day: date | None


ITEMS = [Item("pair_date_mismatch", f"CORE {600000 + i} and its Supervisor are on different dates", date(2026, 11, 24))
         for i in range(7)] + [Item("operation_needs_attention", "Operation 12 needs attention", None)]


@pytest.fixture
def webhook():
    """A local Slack webhook at a secret path: (its URL, the JSON bodies posted, {"code": status, "delay": seconds})."""
    received: list[dict] = []
    status = {"code": 200, "delay": 0.0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            time.sleep(status["delay"])
            try:
                self.send_response(status["code"])
                self.end_headers()
                self.wfile.write(b"ok")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (the timeout case)

        def log_message(self, *args):  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{WEBHOOK_PATH}", received, status
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server():
    messages = []

    class Collect:
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802, ANN201
            messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd checks its own port at start, so it needs a real one, not 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, messages
    controller.stop()


def test_compose_counts_per_rule_first_items_and_links():
    notice = compose(ITEMS, run_id=42, dashboard_url="http://dash.example")
    assert "8 new finding(s) in data-quality run 42" in notice.text
    assert "• pair_date_mismatch: 7" in notice.text and "• operation_needs_attention: 1" in notice.text
    assert notice.text.count("http://dash.example/day?date=2026-11-24") == 5  # the first five items
    assert "… and 2 more" in notice.text and "http://dash.example/data_quality" in notice.text


def test_slack_and_email_are_delivered(webhook, smtp_server):
    url, received, _ = webhook
    port, messages = smtp_server
    settings = load_settings({"SLACK_WEBHOOK_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
                              "SMTP_STARTTLS": "false", "SMTP_FROM": "dq@club.example",
                              "SMTP_TO": "ops@club.example, lead@club.example"})
    delivery = deliver(compose(ITEMS, 7, "http://dash"), settings)
    assert delivery.sent == ["slack", "email"] and delivery.failed == []
    assert "8 new critical data-quality finding(s)" in received[0]["text"]
    sender, recipients, content = messages[0]
    assert sender == "dq@club.example" and recipients == ["ops@club.example", "lead@club.example"]
    assert "Subject: [field events] 8 new critical data-quality finding(s)" in content


def test_failures_are_reported_not_raised(webhook, smtp_server):
    url, _, status = webhook
    status["code"] = 500
    port, _ = smtp_server
    settings = load_settings({"SLACK_WEBHOOK_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
                              "SMTP_STARTTLS": "true", "SMTP_TO": "ops@club.example"})
    delivery = deliver(compose(ITEMS, 7, "http://dash"), settings)
    assert delivery.sent == []
    assert delivery.failed == ["slack: HTTP 500", "email: SMTPNotSupportedError"]  # the server offers no STARTTLS
    assert delivery.summary() == "FAILED slack: HTTP 500; FAILED email: SMTPNotSupportedError"


def test_nothing_configured_sends_nothing():
    assert deliver(compose(ITEMS, 1, "http://dash"), load_settings({})).summary() == "no channel configured"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the socket is closed: connections are refused


@pytest.mark.parametrize(("answer", "expected"), [(404, "slack: HTTP 404"), (500, "slack: HTTP 500"),
                                                  ("closed port", "slack: connection failed"),
                                                  ("too slow", "slack: timeout")])
def test_slack_failures_are_recorded_as_their_kind_and_status_never_the_webhook_url(webhook, monkeypatch, answer,
                                                                                    expected):
    url, received, status = webhook
    if answer == "closed port":
        url = f"http://127.0.0.1:{_closed_port()}{WEBHOOK_PATH}"
    elif answer == "too slow":
        monkeypatch.setattr(notifications, "SLACK_TIMEOUT", httpx.Timeout(0.5))
        status["delay"] = 2.0
    else:
        status["code"] = answer
    delivery = deliver(compose(ITEMS, 7, "http://dash"), load_settings({"SLACK_WEBHOOK_URL": url}))
    assert delivery.sent == [] and delivery.failed == [expected]
    assert delivery.summary() == f"FAILED {expected}"
    assert SECRET not in delivery.summary() and "127.0.0.1" not in delivery.summary()
    assert len(received) == (0 if answer == "closed port" else 1)  # a real request reached the server


@pytest.fixture
def smtp_echoing_credentials():
    """An SMTP server that refuses every login with a reply quoting the user name and password it was given, as some
    servers' error texts do."""

    def refuse(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 {auth_data.login.decode()} / {auth_data.password.decode()} not accepted")

    class Collect:
        async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802, ANN201
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Collect(), hostname="127.0.0.1", port=port, authenticator=refuse,
                            auth_require_tls=False)
    controller.start()
    yield port
    controller.stop()


def test_mail_failures_keep_the_reply_code_not_the_reply_text(smtp_echoing_credentials):
    mail = {"SMTP_HOST": "127.0.0.1", "SMTP_STARTTLS": "false", "SMTP_TO": "ops@club.example",
            "SMTP_USERNAME": "mailer", "SMTP_PASSWORD": "hunter2-mail-password"}
    refused = deliver(compose(ITEMS, 7, "http://dash"),
                      load_settings({**mail, "SMTP_PORT": str(smtp_echoing_credentials)}))
    assert refused.failed == ["email: SMTPAuthenticationError (SMTP 535)"]
    unreachable = deliver(compose(ITEMS, 7, "http://dash"), load_settings({**mail, "SMTP_PORT": str(_closed_port())}))
    assert unreachable.failed == ["email: connection failed"]
    for delivery in (refused, unreachable):
        assert "hunter2" not in delivery.summary() and "mailer" not in delivery.summary()


def test_slack_messages_escape_what_slack_would_read_as_mentions_or_links(webhook, smtp_server):
    url, received, _ = webhook
    port, messages = smtp_server
    hostile = [Item("pair_date_mismatch", "CORE 1 at <!channel> & <http://evil.example|click> and <@U123>", None)]
    settings = load_settings({"SLACK_WEBHOOK_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
                              "SMTP_STARTTLS": "false", "SMTP_TO": "ops@club.example"})
    assert deliver(compose(hostile, 7, "http://dash"), settings).sent == ["slack", "email"]
    posted = received[0]["text"]
    assert "CORE 1 at &lt;!channel&gt; &amp; &lt;http://evil.example|click&gt; and &lt;@U123&gt;" in posted
    assert "<" not in posted and ">" not in posted
    assert posted.startswith("*[field events] 1 new critical data-quality finding(s)*\n")  # our own bold stays
    assert "<!channel> & <http://evil.example|click>" in messages[0][2]  # plain-text e-mail: no markup to escape


# --- rows stored before: migration 0013 ----------------------------------------------------------------------------


def _old_failure(error: Exception, channel: str) -> str:
    """A failure as the code before issue 17 recorded it."""
    return f"{channel}: {type(error).__name__}: {str(error)[:160]}"


def _data_quality_page() -> None:
    import sys as _sys
    from pathlib import Path as _Path

    import streamlit as _st

    root = _Path(_st.session_state["root"])
    if str(root) not in _sys.path:
        _sys.path.insert(0, str(root))
    _st.navigation([_st.Page(root / "pages" / "data_quality.py", title="Data quality")]).run()


def test_migration_0013_scrubs_stored_failures_and_new_ones_never_hold_the_secret(database_url, webhook, monkeypatch):
    url, _, status = webhook
    status["code"] = 404
    request = httpx.Request("POST", SLACK_URL)
    old_404 = httpx.HTTPStatusError(
        f"Client error '404 Not Found' for url '{SLACK_URL}'\nFor more information check: "
        "https://developer.mozilla.org/en-US/docs/Web/HTTP/Status/404", request=request,
        response=httpx.Response(404, request=request))
    old_refused = httpx.ConnectError(f"[Errno 111] Connection refused while posting to {SLACK_URL}", request=request)
    stored_before = {  # notification as stored at revision 0012 -> as it must read after 0013
        f"2 finding(s): sent by email; FAILED {_old_failure(old_refused, 'slack')}":
            "2 finding(s): sent by email; FAILED slack: connection failed",
        "1 finding(s): FAILED slack: ReadTimeout: The read operation timed out; FAILED email: SMTPAuthenticationError: "
        "(535, b'5.7.8 mailer / hunter2 not accepted')":
            "1 finding(s): FAILED slack: timeout; FAILED email: SMTPAuthenticationError (SMTP 535)",
        "1 finding(s): sent by slack, email": "1 finding(s): sent by slack, email",
        "nothing to notify (no new findings at or above critical)":
            "nothing to notify (no new findings at or above critical)",
        f"edited by hand: see {SLACK_URL} and hooks.slack.com{WEBHOOK_PATH}":
            "edited by hand: see [address removed] and [address removed]",
        f"3 finding(s): FAILED {_old_failure(old_404, 'slack')}":  # the latest run, shown on the page
            "3 finding(s): FAILED slack: HTTP 404",
    }
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        seed_sprint2_scenario(engine, today=date.today())
        started = datetime.now().replace(microsecond=0)
        with engine.begin() as connection:
            for notification in stored_before:
                connection.execute(text(
                    "INSERT INTO dashboard_check_runs (started_at, finished_at, status, rules, triggered_by, findings, "
                    "new_findings, resolved_findings, notification) VALUES (:at, :at, 'done', 'core_without_supervisor',"
                    " 'cron', 1, 1, 0, :notification)"), {"at": started, "notification": notification})
            connection.execute(text("UPDATE alembic_version SET version_num = '0012'"))
        assert any(SECRET in row[0] for row in _notifications(engine))

        upgrade_database(database_url, backup_cmd="true" if engine.dialect.name == "postgresql" else None)
        assert _notifications(engine) == [(after,) for after in stored_before.values()]

        # The Data quality page shows the latest run's notification (the last row, scrubbed).
        monkeypatch.setenv("SCHEDULER_DATABASE_URL", database_url)
        monkeypatch.delenv("CROSSMARK_BASE_URL", raising=False)
        st.cache_resource.clear()
        st.cache_data.clear()
        page = AppTest.from_function(_data_quality_page, default_timeout=60)
        page.session_state["root"] = str(ROOT)
        page.run()
        shown = [element.value for kind in ("caption", "markdown", "info", "warning", "error")
                 for element in getattr(page, kind)]
        assert not page.exception, page.exception
        # The page shows the text with Markdown escaped (3 finding\(s\)): compared without the backslashes.
        assert any("notification: 3 finding(s): FAILED slack: HTTP 404" in value.replace("\\", "") for value in shown), \
            shown
        assert not any(SECRET in value for value in shown)

        # `check run --notify` against the webhook's secret path answering 404: the output and the row say so only.
        done = run_cli("check", "run", "--notify", "--db", database_url,
                       env={"SLACK_WEBHOOK_URL": url, "NOTIFY_MIN_SEVERITY": "info", "CROSSMARK_BASE_URL": ""})
        assert done.returncode == 0, done.stderr
        assert "FAILED slack: HTTP 404" in done.stdout
        assert SECRET not in done.stdout + done.stderr
        with engine.connect() as connection:
            newest = connection.execute(text("SELECT notification FROM dashboard_check_runs "
                                             "WHERE triggered_by = 'cli'")).scalar_one()
        assert newest.endswith(": FAILED slack: HTTP 404") and SECRET not in newest
    finally:
        st.cache_resource.clear()
        engine.dispose()


def _notifications(engine) -> list[tuple[str]]:  # noqa: ANN001
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT notification FROM dashboard_check_runs ORDER BY id"))]
