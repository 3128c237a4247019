"""Notifications delivered to a real local HTTP server (Slack webhook) and a real local SMTP server (aiosmtpd)."""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from services.notifications import compose, deliver
from services.settings import load_settings


@dataclass(frozen=True)
class Item:
    rule: str
    detail: str
    day: date | None


ITEMS = [Item("pair_date_mismatch", f"CORE {600000 + i} and its Supervisor are on different dates", date(2026, 11, 24))
         for i in range(7)] + [Item("operation_needs_attention", "Operation 12 needs attention", None)]


@pytest.fixture
def webhook():
    received: list[dict] = []
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(json.loads(body))
            self.send_response(status["code"])
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, status
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
    assert delivery.failed[0].startswith("slack: HTTPStatusError") and "500" in delivery.failed[0]
    assert delivery.failed[1].startswith("email: SMTPNotSupportedError")  # the server offers no STARTTLS
    assert "FAILED slack" in delivery.summary()


def test_nothing_configured_sends_nothing():
    assert deliver(compose(ITEMS, 1, "http://dash"), load_settings({})).summary() == "no channel configured"
