"""Untrusted text in Chromium (issue 17): events, a store, reps and a check run named with a phishing link, remote
images (Markdown and HTML) pointing at a local server, emphasis, a colour directive and bare URLs are shown as that
text on the Day view, Calendar, Unscheduled, Data quality and Timeline pages and in a crafted ?date= link: no link to
evil.example, no image from the local server (which is asked for nothing), and the names readable as typed."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from tests.e2e.conftest import DAY
from tests.markdown_checks import WORD_JOINER, add_hostile_check_run, hostile_name, hostile_short_name, make_names_hostile


@pytest.fixture(scope="module")
def image_server() -> Iterator[tuple[int, list[str]]]:
    """A local HTTP server standing for the attacker's: its port, and the paths anyone asked it for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            asked.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], asked
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def hostile(app, image_server) -> tuple[str, str, int, list[str]]:  # noqa: ANN001 - RunningApp
    """The app's database with every event, store and rep named with markup (images on the local server), and a check
    run by such a name; (name, short name, the image server's port, what it was asked for)."""
    port, asked = image_server
    name, short = hostile_name(f"127.0.0.1:{port}"), hostile_short_name(f"127.0.0.1:{port}")
    make_names_hostile(app.engine, DAY, name, short)
    add_hostile_check_run(app.engine, name, short)
    return name, short, port, asked


def _assert_shown_as_text(dashboard, port: int, *texts: str) -> None:  # noqa: ANN001 - Dashboard
    """No link to evil.example, no image from the local server, no colour, maths or icon drawn from the names; each of
    `texts` readable on the page as it was typed (the word joiners that break URLs are invisible)."""
    page = dashboard.page
    dashboard.wait_idle()
    assert page.locator('a[href*="evil.example"]').count() == 0, page.locator('a[href*="evil.example"]').first.evaluate(
        "a => a.outerHTML")
    assert page.locator(f'img[src*=":{port}"], img[src*="attacker"]').count() == 0
    assert page.locator('[data-testid="stMarkdownContainer"] :is(.stMarkdownColoredText, .katex, img)').count() == 0
    shown = dashboard.main.inner_text().replace(WORD_JOINER, "")
    for text in texts:
        assert text in shown, f"{text!r} is not shown on {page.url}:\n{shown}"


def test_hostile_names_and_links_are_shown_as_text(app, dashboard, hostile):
    name, short, port, asked = hostile
    dashboard.sign_in()

    dashboard.navigate(f"/day?date={DAY.isoformat()}")  # day cards, Juicer and lead lists, the Supervisor line
    dashboard.see("Juicer · 1")
    _assert_shown_as_text(dashboard, port, f"606001-CORE-Super Pretzel King Size {name}", f"Jade Monroe {short}",
                          f"Tom Alvarez {short}")

    dashboard.navigate(f"/calendar?month={DAY:%Y-%m}&types={quote(name)}")  # the link repeats what it was given
    dashboard.see("in the link")
    _assert_shown_as_text(dashboard, port, name[:100])

    dashboard.navigate("/unscheduled")
    dashboard.select_table_row("unscheduled_table", lambda row: "608002" in row)
    _assert_shown_as_text(dashboard, port, f"608001-Supervisor-Product With Unscheduled Supervisor {name}")

    dashboard.navigate("/data_quality")  # who ran the checks, and what the notification said
    dashboard.see("Latest run")
    _assert_shown_as_text(dashboard, port, f"by {short}", f"notification: {name}")

    dashboard.navigate("/timeline?ref=606001")  # the event's name, store and the rep in both systems
    dashboard.see("History")
    _assert_shown_as_text(dashboard, port, f"606001-CORE-Super Pretzel King Size {name}", name)

    dashboard.navigate(f"/day?date={quote(name)}")  # a crafted link: the bad-parameter warning repeats it
    dashboard.see("in the link")
    _assert_shown_as_text(dashboard, port, f"date={name[:55]}…")

    dashboard.page.wait_for_timeout(500)  # an image the page did ask for would have been fetched by now
    assert asked == [], f"the page fetched {asked} from the image server"
