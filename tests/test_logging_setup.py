"""Structured logs: JSON lines to stderr and a rotating file, idempotent set-up, and no secret ever written."""
from __future__ import annotations

import json
import logging
import logging.handlers
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from services.ops import logging_setup
from services.errors import ConfigurationError
from services.ops.logging_setup import (DEFAULT_LOG_FILE, RedactingFilter, configure_logging, log_event,
                                    log_file_from_env)
from services.settings import Settings

PASSWORD = "Zq7-Crossmark-Pw!42"
SMTP_PASSWORD = "smtp-Pw-9Xk3#"
WEBHOOK = "https://hooks.slack.com/services/T0DEMO01/B0DEMO02/XyZSlackToken123"
COOKIE = "ph5s3ss10nDeadBeef4242"
BEARER = "tok-Abc123.def456"
SECRETS = (PASSWORD, SMTP_PASSWORD, WEBHOOK, COOKIE, BEARER, quote(PASSWORD, safe=""), quote_plus(PASSWORD),
           "XyZSlackToken123")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back so other tests see the logging they expect."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {name: logging.getLogger(name).level for name in ("httpcore", "httpx", "hpack", "services")}
    yield
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(saved_level)
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)


def _settings() -> Settings:
    return Settings(crossmark_password=PASSWORD, smtp_password=SMTP_PASSWORD, slack_webhook_url=WEBHOOK)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _our_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_dashboard_logging", False)]


def test_every_line_is_one_json_object_with_the_extra_fields(tmp_path, capsys):
    log_file = tmp_path / "logs" / "dashboard.jsonl"
    configure_logging(_settings(), log_file=log_file)
    log = logging.getLogger("services.paired_actions")
    log_event(log, "action finished", operation_id=42, path="/schedule", status="succeeded", duration_ms=17,
              event_ref=606001, rule="offset +120")
    log.warning("supervisor missing for core %s\nsecond line", 606002, extra={"event_ref": 606002})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("crossmark failure")
    logging.getLogger("services.paired_actions.detail").debug("below INFO: not written")

    stderr_lines = _lines(capsys.readouterr().err)
    file_lines = _lines(log_file.read_text(encoding="utf-8"))
    assert stderr_lines == file_lines and len(file_lines) == 3
    first, second, third = file_lines
    assert {key: first[key] for key in ("level", "logger", "message")} == {
        "level": "INFO", "logger": "services.paired_actions", "message": "action finished"}
    assert {key: first[key] for key in ("operation_id", "path", "status", "duration_ms", "event_ref", "rule")} == {
        "operation_id": 42, "path": "/schedule", "status": "succeeded", "duration_ms": 17, "event_ref": 606001,
        "rule": "offset +120"}
    assert datetime.fromisoformat(first["ts"]).tzinfo is not None
    assert second["level"] == "WARNING" and second["message"] == "supervisor missing for core 606002\nsecond line"
    assert second["event_ref"] == 606002
    assert third["level"] == "ERROR" and "ValueError: boom" in third["exception"]
    assert log_file.read_text(encoding="utf-8").count("\n") == 3  # one object per line, newlines escaped


def test_log_event_keeps_fields_named_like_record_attributes():
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log = logging.getLogger("services.test_fields")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log_event(log, "renamed", name="core", message="x", status="ok")
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)
    assert (records[0].name_, records[0].message_, records[0].status) == ("core", "x", "ok")
    assert records[0].funcName == "test_log_event_keeps_fields_named_like_record_attributes"


def test_the_file_rotates_at_10_mb_keeping_5(tmp_path, monkeypatch):
    log_file = tmp_path / "dashboard.jsonl"
    configure_logging({}, log_file=log_file)
    files = [h for h in _our_handlers() if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert len(files) == 1
    assert (files[0].maxBytes, files[0].backupCount, Path(files[0].baseFilename)) == (10 * 1024 * 1024, 5, log_file)

    monkeypatch.setattr(logging_setup, "MAX_BYTES", 2_000)  # the same handler, small enough to see it rotate
    configure_logging({}, log_file=log_file)
    for number in range(200):
        log_event("services.rotation", "line", number=number)
    rotated = sorted(tmp_path.glob("dashboard.jsonl*"))
    assert [p.name for p in rotated] == ["dashboard.jsonl", *[f"dashboard.jsonl.{n}" for n in range(1, 6)]]
    for path in rotated:
        assert all(line["message"] == "line" for line in _lines(path.read_text(encoding="utf-8")))


def test_the_log_file_comes_from_dashboard_log_file(tmp_path, capsys):
    assert log_file_from_env({}) == DEFAULT_LOG_FILE
    assert DEFAULT_LOG_FILE.parts[-3:] == ("data", "logs", "dashboard.jsonl")
    assert log_file_from_env({"DASHBOARD_LOG_FILE": ""}) is None
    assert log_file_from_env({"DASHBOARD_LOG_FILE": str(tmp_path / "x.jsonl")}) == tmp_path / "x.jsonl"

    configure_logging({"DASHBOARD_LOG_FILE": str(tmp_path / "env.jsonl")})
    log_event("services.env", "to the file named by the environment")
    assert _lines((tmp_path / "env.jsonl").read_text())[0]["message"] == "to the file named by the environment"

    configure_logging({"DASHBOARD_LOG_FILE": ""})
    assert [type(h).__name__ for h in _our_handlers()] == ["_StderrHandler"]
    log_event("services.env", "stderr only")
    assert _lines(capsys.readouterr().err)[-1]["message"] == "stderr only"


def test_configuring_twice_adds_no_duplicate_handlers(tmp_path, capsys):
    other = logging.NullHandler()
    logging.getLogger().addHandler(other)
    log_file = tmp_path / "dashboard.jsonl"
    first = configure_logging(_settings(), log_file=log_file)
    handlers = _our_handlers()
    for _ in range(3):  # as every Streamlit rerun does: the same handlers stay, the file is not reopened
        assert configure_logging(_settings(), log_file=log_file) is first
    assert _our_handlers() == handlers and len(handlers) == 2 and other in logging.getLogger().handlers
    log_event("services.once", "written once")
    assert [line["message"] for line in _lines(capsys.readouterr().err)] == ["written once"]
    assert [line["message"] for line in _lines(log_file.read_text())] == ["written once"]

    moved = tmp_path / "moved.jsonl"  # a different configuration replaces ours, still without duplicates
    configure_logging(_settings(), log_file=moved, level="WARNING")
    assert len(_our_handlers()) == 2 and not set(_our_handlers()) & set(handlers)
    assert logging.getLogger().level == logging.WARNING
    log_event("services.once", "to the new file", level=logging.WARNING)
    assert [line["message"] for line in _lines(moved.read_text())] == ["to the new file"]
    assert [line["message"] for line in _lines(log_file.read_text())] == ["written once"]
    logging.getLogger().removeHandler(other)


def test_bad_level_or_unwritable_file_is_a_configuration_error(tmp_path):
    with pytest.raises(ConfigurationError, match="Log level 'LOUD'"):
        configure_logging({}, log_file=tmp_path / "x.jsonl", level="LOUD")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigurationError, match="Cannot write the log file .*DASHBOARD_LOG_FILE"):
        configure_logging({}, log_file=tmp_path / "a-file" / "x.jsonl")


def test_noisy_http_loggers_stay_pinned_even_at_debug(tmp_path):
    configure_logging({}, log_file=tmp_path / "x.jsonl", level="DEBUG")
    assert logging.getLogger().level == logging.DEBUG
    for name in ("httpcore", "httpx", "hpack"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING


# --- secrets ---------------------------------------------------------------------------------------------------------


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked"


def test_secrets_are_masked_in_messages_arguments_fields_and_tracebacks(tmp_path, capsys, caplog):
    log_file = tmp_path / "dashboard.jsonl"
    configure_logging(_settings(), log_file=log_file)
    log = logging.getLogger("services.crossmark")
    log.info(f"login failed with password {PASSWORD} for field-ops")
    log.info("posting %s to %s", {"UserID": "ops", "Password": "an-unknown-pw-1"}, WEBHOOK)
    log.info("request headers Cookie: PHPSESSID=%s; lang=en and Authorization: Bearer %s", COOKIE, BEARER)
    log.info('body {"UserType": "MVEntityUser", "Password": "another-pw-2"}')
    log.info("form body b'UserID=ops&Password=%s'", quote_plus(PASSWORD))
    log.info("smtp login with %r", SMTP_PASSWORD)
    log_event(log, "extra fields", detail=f"sent {PASSWORD}", password="field-named-password-3",
              headers={"Cookie": f"PHPSESSID={COOKIE}", "Accept": "application/json"}, webhook=WEBHOOK,
              attempts=[f"PHPSESSID={COOKIE}", 3], status="failed")
    try:
        raise RuntimeError(f"Crossmark said no to {PASSWORD} with cookie PHPSESSID={COOKIE}")
    except RuntimeError:
        log.exception("login crashed")
    logging.getLogger("services.notifications").warning("slack webhook %s answered 404", WEBHOOK)

    err = capsys.readouterr().err
    written = log_file.read_text(encoding="utf-8")
    # caplog's handler was there before ours: it sees the records masked too.
    others = caplog.text + "".join(str(vars(record)) for record in caplog.records)
    _assert_no_secret(err, written, others)
    for unknown in ("an-unknown-pw-1", "another-pw-2", "field-named-password-3"):
        assert unknown not in err and unknown not in written and unknown not in others
    lines = _lines(written)
    assert len(lines) == 9 and lines == _lines(err)
    # What is not secret stays readable.
    assert lines[0]["message"] == "login failed with password *** for field-ops"
    assert lines[1]["message"] == "posting {'UserID': 'ops', 'Password': '***'} to ***"
    assert lines[2]["message"] == "request headers Cookie: ***"  # a header's value runs to the end of the line
    fields = lines[6]
    assert fields["password"] == "***" and fields["status"] == "failed" and fields["detail"] == "sent ***"
    assert fields["headers"] == {"Cookie": "***", "Accept": "application/json"}
    assert fields["attempts"] == ["PHPSESSID=***", 3]
    assert "RuntimeError: Crossmark said no to ***" in lines[7]["exception"]


class _CookieServer(BaseHTTPRequestHandler):
    """Answers every GET with a session cookie (as Crossmark's login does) and echoes what it was sent."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = json.dumps({"cookie": self.headers.get("Cookie"), "authorization": self.headers.get("Authorization")})
        self.send_response(200)
        self.send_header("Set-Cookie", f"PHPSESSID={COOKIE}; path=/; HttpOnly")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *_args) -> None:  # noqa: ANN002 - keep the test output quiet
        pass


@pytest.fixture
def cookie_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CookieServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _request_with_cookie(base_url: str) -> None:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {BEARER}"}) as client:
        first = client.get("/login")
        assert client.cookies.get("PHPSESSID") == COOKIE
        second = client.get("/planning", params={"webhook": WEBHOOK})  # the cookie goes back to the server
        assert second.json()["cookie"] == f"PHPSESSID={COOKIE}" and first.status_code == 200


def test_http_debug_logs_never_show_the_cookie(cookie_server, tmp_path, capsys):
    log_file = tmp_path / "dashboard.jsonl"
    configure_logging(_settings(), log_file=log_file, level="DEBUG")
    _request_with_cookie(cookie_server)
    pinned = _lines(capsys.readouterr().err)
    assert not [line for line in pinned if line["logger"].startswith(("httpcore", "httpx"))]

    # Someone turns the HTTP libraries' own debug logging on: their lines are written, masked.
    for name in ("httpcore", "httpx"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    _request_with_cookie(cookie_server)
    err = capsys.readouterr().err
    written = log_file.read_text(encoding="utf-8")
    _assert_no_secret(err, written)
    lines = _lines(written)
    headers = [line["message"] for line in lines if "receive_response_headers.complete" in line["message"]]
    assert len(headers) == 2 and all("Set-Cookie', b'***'" in message for message in headers)
    assert any(line["logger"] == "httpx" and "HTTP Request: GET" in line["message"] for line in lines)


def test_the_crossmark_password_and_session_never_reach_the_logs(fake_crossmark, crossmark_client_for, tmp_path,
                                                                 capsys):
    from tests.fake_crossmark import FAKE_PASSWORD

    log_file = tmp_path / "dashboard.jsonl"
    configure_logging({"CROSSMARK_PASSWORD": FAKE_PASSWORD, "DASHBOARD_LOG_FILE": str(log_file)}, level="DEBUG")
    for name in ("httpcore", "httpx"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    fake_crossmark.seed_basic()
    client = crossmark_client_for(fake_crossmark.url)
    client.user_info()
    sessions = {request.cookies["PHPSESSID"] for request in fake_crossmark.requests if "PHPSESSID" in request.cookies}
    assert sessions and any(FAKE_PASSWORD.encode() in request.body for request in fake_crossmark.requests)
    err, written = capsys.readouterr().err, log_file.read_text(encoding="utf-8")
    assert "crossmark POST /login/authenticate -> 200" in written  # our own call log is there
    for text in (err, written):
        assert FAKE_PASSWORD not in text and quote(FAKE_PASSWORD, safe="") not in text
        assert not [session for session in sessions if session in text]


@pytest.mark.parametrize("raw, kept", [
    ("(b'Set-Cookie', b'PHPSESSID=abc123xyz; path=/')", "(b'Set-Cookie', b'***')"),
    ("Cookie: PHPSESSID=abc123xyz", "Cookie: ***"),
    ("headers={'authorization': 'Basic dXNlcjpwYXNz'}", "headers={'authorization': '***'}"),
    ("Authorization: Bearer abc.def", "Authorization: ***"),
    ('{"UserID": "ops", "Password": "hunter22"}', '{"UserID": "ops", "Password": "***"}'),
    ("UserID=ops&Password=hunter22&x=1", "UserID=ops&Password=***&x=1"),
    ("password: bob", "password: ***"),
    ("postgresql://ops:hunter22@db/scheduler", "postgresql://ops:***@db/scheduler"),
    ("https://hooks.slack.com/services/T1/B2/secretpart", "https://hooks.slack.com/services/***"),
    # Ordinary words stay as they are.
    ("password authentication failed for user ops", "password authentication failed for user ops"),
    ("the session cookie went with the failed login", "the session cookie went with the failed login"),
    ("crossmark POST /login/authenticate -> 200 in 12 ms", "crossmark POST /login/authenticate -> 200 in 12 ms"),
])
def test_the_redacting_patterns(raw, kept):
    assert RedactingFilter().redact(raw) == kept


def test_short_secret_values_are_not_masked_everywhere():
    redactor = RedactingFilter(["abc", "", None, "long-enough"])
    assert redactor.redact("abc long-enough") == "abc ***"


def test_the_proxy_secret_of_header_sign_in_is_masked_too(tmp_path, capsys):
    secret = "proxy-secret-0123456789abcdef"
    configure_logging(replace(_settings(), auth_mode="header", auth_proxy_secret=secret),
                      log_file=tmp_path / "dashboard.jsonl")
    logging.getLogger("services.proxy_sign_in").warning("request headers X-Proxy-Secret: %s", secret)
    err = capsys.readouterr().err
    assert secret not in err and secret not in (tmp_path / "dashboard.jsonl").read_text(encoding="utf-8")
    assert "X-Proxy-Secret: ***" in err
