"""Issue 18 (speed people feel), dashboard/page_base_url.py: every page the real server sends says which path it was
asked for and carries the constant script that turns that into the server's address, so Streamlit's front end connects
at once instead of first trying /<page>/_stcore/health, failing, and waiting its retry delay (about 130 ms of each
page load). The script's arithmetic, and the connection it saves, are checked in Chromium
(tests/e2e/test_page_base_url.py)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit import file_util

from dashboard.page_base_url import PIN_SCRIPT, PIN_SCRIPT_HASH, SERVED_PATH_META, pinned_page, served_path
from tests.migrated_template import migrate_new_database
from tests.test_health_metrics import RunningServer

STATIC = Path(file_util.get_static_dir())
META = re.compile(r'<meta name="' + SERVED_PATH_META + r'" content="([^"]*)">')


def test_the_served_path_is_relative_to_where_the_app_is_mounted():
    assert served_path("/calendar", "") == "/calendar"
    assert served_path("/", "") == "/"
    assert served_path("/ops/calendar", "ops") == "/calendar"
    assert served_path("/ops/calendar", "/ops/") == "/calendar"
    assert served_path("/ops", "ops") == "/"
    assert served_path("/opsx/calendar", "ops") == "/opsx/calendar"  # only a whole segment is the base


def test_the_page_gets_the_meta_and_script_first_in_its_head_with_the_path_escaped():
    page = pinned_page(b"<html><head><title>Streamlit</title></head><body></body></html>", '/x"><img src=y>')
    text = page.decode()
    assert text.startswith(f'<html><head><meta name="{SERVED_PATH_META}" content="/x&quot;&gt;&lt;img src=y&gt;">'
                           f"<script>{PIN_SCRIPT}</script><title>")
    assert "<img" not in text
    assert pinned_page(b"no head here", "/calendar") == b"no head here"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("page-base-url")
    url = f"sqlite:///{directory / 'scheduler.db'}"
    migrate_new_database(url)
    running = RunningServer(url, directory / "server.log")
    try:
        assert running.wait_until_up().status_code == 200
        yield running
    finally:
        running.stop()


def test_every_page_the_server_sends_names_its_path_and_carries_the_allowed_script(server: RunningServer):
    for path, served in (("/", "/"), ("/calendar", "/calendar"), ("/day?date=2026-11-24&store=8135", "/day"),
                         ("/timeline?ref=606001", "/timeline")):
        # httpx asks for gzip, as browsers do: the page still comes back whole and edited
        response = httpx.get(server.base + path, headers={"Accept-Encoding": "gzip"}, timeout=15)
        assert response.status_code == 200 and "content-encoding" not in response.headers, path
        assert int(response.headers["content-length"]) == len(response.content), path
        assert META.findall(response.text) == [served], path
        assert response.text.count(f"<script>{PIN_SCRIPT}</script>") == 1, path
        assert response.text.index(PIN_SCRIPT) < response.text.index('type="module"'), path  # before Streamlit's
        assert PIN_SCRIPT_HASH in response.headers["content-security-policy"], path
    hostile = httpx.get(server.base + '/calendar%22%3E%3Cimg%20src=x%3E', timeout=15)
    assert hostile.status_code == 200 and "<img src=x>" not in hostile.text
    assert META.findall(hostile.text) == ["/calendar%22%3E%3Cimg%20src=x%3E"]  # as the browser shows it, as data


def test_streamlit_s_own_files_and_endpoints_pass_untouched(server: RunningServer):
    index = server.get("/").text
    script = re.search(r'src="\./(static/js/index\.[^"]+\.js)"', index).group(1)
    served = httpx.get(f"{server.base}/{script}", timeout=15)
    assert served.status_code == 200 and served.content == (STATIC / script).read_bytes()
    health = server.get("/_stcore/health")
    assert health.status_code == 200 and SERVED_PATH_META not in health.text
    assert SERVED_PATH_META not in server.get("/healthz").text
    # a page asked for by a POST (only the sign-in form posts) is not edited: the sign-in route answers it
    assert SERVED_PATH_META not in httpx.post(server.base + "/calendar", timeout=15).text


def test_under_a_base_url_path_the_served_path_leaves_the_base_out(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    migrate_new_database(url)
    running = RunningServer(url, tmp_path / "server.log", {"STREAMLIT_SERVER_BASE_URL_PATH": "ops"})
    try:
        running.wait_until_up()
        page = running.get("/ops/calendar")
        assert page.status_code == 200 and META.findall(page.text) == ["/calendar"]
    finally:
        running.stop()
