"""Issue 17, a real `streamlit run dashboard/server.py`: security headers on every response (the dashboard's pages,
/healthz, /metrics, Streamlit's own routes and static assets); /healthz details only with HEALTH_TOKEN, /metrics only
with METRICS_TOKEN when it is set."""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest

from services.errors import ConfigurationError
from tests.migrated_template import migrate_new_database
from services.settings import load_settings
from tests.test_health_metrics import RunningServer, parse_exposition

HEALTH_TOKEN = "health-token-0123456789abcdef"
METRICS_TOKEN = "metrics-token-0123456789abcdef"
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("server-security")
    url = f"sqlite:///{directory / 'scheduler.db'}"
    migrate_new_database(url)
    running = RunningServer(url, directory / "server.log",
                            {"HEALTH_TOKEN": HEALTH_TOKEN, "METRICS_TOKEN": METRICS_TOKEN})
    try:
        assert running.wait_until_up().status_code == 200
        yield running
    finally:
        running.stop()


def _policy(response: httpx.Response) -> dict[str, list[str]]:
    header = response.headers.get("content-security-policy")
    assert header, f"{response.request.url} has no Content-Security-Policy"
    assert len(response.headers.get_list("content-security-policy")) == 1
    return {directive.split()[0]: directive.split()[1:] for directive in header.split(";") if directive.strip()}


def _assert_security_headers(response: httpx.Response) -> dict[str, list[str]]:
    for name, value in HEADERS.items():
        assert response.headers.get_list(name) == [value], f"{response.request.url}: {name}"
    policy = _policy(response)
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert "'unsafe-eval'" not in policy["script-src"] and "'unsafe-inline'" not in policy["script-src"]
    assert policy["connect-src"] == ["'self'"]
    return policy


def test_every_response_carries_the_security_headers(server: RunningServer):
    index = server.get("/")
    assert index.status_code == 200 and "<html" in index.text.lower()
    policy = _assert_security_headers(index)
    # The one inline script of Streamlit's page is allowed by its hash, which must be the hash of what is served.
    inline = re.findall(r"<script>(.*?)</script>", index.text, re.DOTALL)
    assert inline, "Streamlit's index.html has no inline script any more: drop the hash from the policy"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy["script-src"]

    script = re.search(r'src="\./(static/js/index\.[^"]+\.js)"', index.text).group(1)
    stylesheet = re.search(r'href="\./(static/css/[^"]+\.css)"', index.text).group(1)
    responses = {
        "a page path": server.get("/calendar"),
        "a page path with a query": server.get("/day?date=2026-11-24"),
        "/healthz": server.get("/healthz"),
        "/healthz with its token": server.get("/healthz", token=HEALTH_TOKEN),
        "/metrics refused": server.get("/metrics"),
        "/metrics": server.get("/metrics", token=METRICS_TOKEN),
        "a script": server.get(f"/{script}"),
        "a stylesheet": server.get(f"/{stylesheet}"),
        "the favicon": server.get("/favicon.png"),
        "Streamlit's health": server.get("/_stcore/health"),
        "Streamlit's host config": server.get("/_stcore/host-config"),
        "a missing file": server.get("/static/js/no-such-file.js"),
    }
    for what, response in responses.items():
        assert response.status_code in (200, 401, 404), f"{what}: {response.status_code}"
        assert _assert_security_headers(response) == policy, what
    assert responses["a script"].status_code == 200 and "javascript" in responses["a script"].headers["content-type"]


def test_healthz_tells_anonymous_callers_the_status_only(server: RunningServer):
    anonymous = server.get("/healthz")
    assert anonymous.status_code == 200 and anonymous.json() == {"healthy": True, "status": "degraded"}
    assert "scheduler.db" not in anonymous.text

    full = server.get("/healthz", token=HEALTH_TOKEN)
    assert full.status_code == 200
    report = full.json()
    assert report["status"] == "degraded" and report["database"]["url"].endswith("scheduler.db")
    assert report["operations_needing_attention"] == 0 and "switches" in report and report["warnings"]

    for wrong in (HEALTH_TOKEN[:-1], METRICS_TOKEN, HEALTH_TOKEN + "x", "é"):
        refused = httpx.get(server.base + "/healthz", headers={"Authorization": f"Bearer {wrong}".encode()},
                            timeout=15)
        assert refused.status_code == 401, wrong
        assert refused.headers["www-authenticate"] == "Bearer" and "scheduler.db" not in refused.text
        assert len(refused.text) < 100
    # No token, or another scheme (a proxy's Basic credentials, say): not a token of ours, the anonymous answer.
    for headers, auth in (({"Authorization": "Bearer"}, None), ({}, ("ops", "pw"))):
        other = httpx.get(server.base + "/healthz", headers=headers, auth=auth, timeout=15)
        assert other.status_code == 200 and other.json() == {"healthy": True, "status": "degraded"}


def test_metrics_need_the_metrics_token_when_one_is_set(server: RunningServer):
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": f"Bearer {HEALTH_TOKEN}"},
                    {"Authorization": f"Basic {METRICS_TOKEN}"}):
        refused = httpx.get(server.base + "/metrics", headers=headers, timeout=15)
        assert refused.status_code == 401, headers
        assert refused.text == "401 Unauthorized: send Authorization: Bearer <METRICS_TOKEN>.\n"
        assert "process_start_time_seconds" not in refused.text
    allowed = server.get("/metrics", token=METRICS_TOKEN)
    assert allowed.status_code == 200
    types, _ = parse_exposition(allowed.text)
    assert types["process_start_time_seconds"] == "gauge"
    assert "Traceback" not in server.log.read_text()


@pytest.mark.parametrize("name", ["HEALTH_TOKEN", "METRICS_TOKEN"])
def test_a_guessable_token_is_refused_at_start(name: str):
    for weak in ("secret", "short-token-15c", "with a space in the middle", "non-ascii-tökén-0123456789"):
        with pytest.raises(ConfigurationError, match=name):
            load_settings({name: weak})
    assert getattr(load_settings({name: "a" * 16}), name.lower()) == "a" * 16
    assert getattr(load_settings({}), name.lower()) is None
    assert name not in repr(load_settings({name: "b" * 16})) and "b" * 16 not in repr(load_settings({name: "b" * 16}))

