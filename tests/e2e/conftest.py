"""E2E harness: the real app (`streamlit run dashboard/server.py`) on a free loopback port, against a fresh SQLite
database and the local fake Crossmark (tests/fake_crossmark.py, real HTTP), driven by Debian's Chromium via Playwright.

- Everything here is marked `e2e`; without /usr/bin/chromium the whole directory is skipped with a reason (-rs).
- `app` (one per test module): database + fake Crossmark + app process; stopped afterwards. A module sets
  `E2E_DEMO_EVENTS = N` to add N demo events around the sprint2 scenario (default: the sprint2 scenario only).
  `running_app(database_url, directory)` builds the same on any database (e.g. PostgreSQL); `app.restart()` stops and
  starts the server on its port, `app.another_server()` runs a second server process on the same database.
- `open_dashboard(width, height)` / `dashboard`: a fresh browser context and a `Dashboard` helper (sign in, navigate in
  the session, wait for Streamlit to settle, read tables, run axe). On failure each page's screenshot and HTML, and the
  app's log, are kept under test-results/<test>/.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tools.processes import free_loopback_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
RESULTS_DIR = ROOT / "test-results"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SKIP_REASON = "e2e tests skipped: /usr/bin/chromium not found (apt-get install chromium)"

TODAY = date.today()
DAY = TODAY + timedelta(days=7)  # the sprint2 scenario's day (services.demo.demo_data.seed_sprint2_scenario)
PASSWORD = "e2e-Passw0rd-not-secret"
HEALTH_TOKEN = "e2e-health-token-0123456789"
OPERATOR, VIEWER, ADMIN = "olive.operator", "victor.viewer", "ada.admin"
ACCOUNTS = ((OPERATOR, "operator"), (VIEWER, "viewer"), (ADMIN, "admin"))
SPRINT2_REFS = (606001, 606002, 606999, 608001, 608002)

STARTUP_TIMEOUT = 60.0  # seconds for `streamlit run` to answer /healthz
TIMEOUT_MS = 20_000  # Playwright: every wait is bounded by this unless a call says otherwise
QUIET_MS = 250  # Streamlit counts as settled after this long idle with nothing stale
# Environment variables the app reads: none of the developer's may leak into the app under test.
APP_ENV_PREFIXES = ("SCHEDULER_", "CROSSMARK_", "AUTH_", "SUPERVISOR_", "SESSION_", "ACTIONS_", "DASHBOARD_",
                    "SLACK_", "SMTP_", "NOTIFY_", "STREAMLIT_")


def _skip_reason() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return SKIP_REASON
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "e2e tests skipped: Playwright for Python is not installed (make install-dev)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _skip_reason()
    for item in items:
        if E2E_DIR not in Path(str(item.path)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[Any]:
    """Keep each phase's report on the item, so fixtures can tell in their teardown whether the test failed."""
    report = yield
    setattr(item, f"e2e_report_{report.when}", report)
    return report


def _failed(item: pytest.Item) -> bool:
    return any(getattr(getattr(item, f"e2e_report_{when}", None), "failed", False) for when in ("setup", "call"))


# --- the fake Crossmark, with faults aimed at the n-th write --------------------------------------------------------

def _fake_class():  # noqa: ANN202 - imported late: the skip must work even if the app's imports do not
    from services.crossmark.sandbox import WRITE_PATHS
    from tests.fake_crossmark import FakeCrossmark

    class E2EFakeCrossmark(FakeCrossmark):
        """FakeCrossmark that can fail the n-th write from now on. The app runs in its own process, so a test cannot
        wrap its client the way tests/paired_world.py does; the server counts the writes instead."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._writes_seen = 0
            self._aimed: dict[int, str] = {}

        def fail_write(self, nth: int, fault: str) -> None:
            """The `nth` write (schedule or unschedule) from now on gets `fault` (see tests/fake_crossmark.py)."""
            with self._lock:
                self._aimed[self._writes_seen + nth] = fault

        def _take_fault(self, path: str):  # noqa: ANN202
            if path in WRITE_PATHS:
                with self._lock:
                    self._writes_seen += 1
                    fault = self._aimed.pop(self._writes_seen, None)
                if fault:
                    self.inject(path, fault)
            return super()._take_fault(path)

    return E2EFakeCrossmark


# --- the app under test ---------------------------------------------------------------------------------------------

@dataclass
class RunningApp:
    """The app process and what it talks to, with reads of both sides for assertions."""

    url: str
    database_url: str
    engine: Any  # sqlalchemy Engine
    fake: Any  # E2EFakeCrossmark
    process: subprocess.Popen
    log_path: Path
    mplan: dict[int, str] = field(default_factory=dict)  # event ref -> Crossmark mPlanID
    app_env: dict[str, str] = field(default_factory=dict)  # what the server's environment adds to the harness's

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def restart(self) -> None:
        """Stop the server process and start a new one on the same port (same database, Crossmark and environment),
        as a deployment or a crash-and-restart would; returns once it answers /healthz."""
        stop_process(self.process)
        self.process = launch_app(self.database_url, self.fake.url, self.log_path, self.app_env, port=self.port)
        _wait_healthy(self.url, self.process, self.log_path)

    @contextmanager
    def another_server(self, name: str = "server2") -> Iterator["RunningApp"]:
        """A second server process (a replica) on a free port, on the same database and fake Crossmark; stopped
        afterwards. The RunningApp it yields shares this one's engine and fake."""
        port = free_loopback_port()
        log_path = self.log_path.with_name(f"{name}.log")
        process = launch_app(self.database_url, self.fake.url, log_path, self.app_env, port=port)
        other = replace(self, url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
        try:
            _wait_healthy(other.url, process, log_path)
            yield other
        finally:
            stop_process(process)

    # the database side: (start, rep id) of an event's schedule, None when it is not scheduled
    def db(self, ref: int) -> tuple[datetime, str] | None:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT s.schedule_datetime, e.external_id FROM schedules s "
                "LEFT JOIN employees e ON e.id = s.employee_id WHERE s.event_ref_num = :ref"), {"ref": ref}).all()
            condition = connection.execute(text("SELECT condition FROM events WHERE project_ref_num = :ref"),
                                           {"ref": ref}).scalar_one()
        assert len(rows) <= 1, f"event {ref} has {len(rows)} schedule rows"
        if not rows:
            assert condition == "Unstaffed", f"event {ref} has no schedule but condition {condition!r}"
            return None
        start, rep = rows[0]
        start = start if isinstance(start, datetime) else datetime.fromisoformat(str(start))
        return start, str(rep)

    # the Crossmark side, as the fake's simulator holds it
    def remote(self, ref: int) -> tuple[datetime, str] | None:
        state = self.fake.simulator.scheduled_state()[self.mplan[ref]]
        return None if state is None else (state[1], str(state[0]))

    def assert_agree(self, *refs: int) -> None:
        """Invariant 1: the same placement (scheduled or not, start, rep) in our database and in Crossmark."""
        for ref in refs or SPRINT2_REFS:
            assert self.db(ref) == self.remote(ref), f"event {ref}: database {self.db(ref)}, Crossmark {self.remote(ref)}"

    def operations(self) -> list:
        from services.actions.journal import Journal

        return Journal(self.engine).list()

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:  # noqa: A002 - as subprocess
        """`python -m services ...` against this app's database and fake Crossmark, as a person would run it
        (`input`: its standard input, e.g. a password for `users add`)."""
        env = _app_environment(self.database_url, self.fake.url)
        return subprocess.run([sys.executable, "-m", "services", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120, input=input)

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _app_environment(database_url: str, crossmark_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(APP_ENV_PREFIXES)}
    env.update({
        "SCHEDULER_DATABASE_URL": database_url,
        "CROSSMARK_BASE_URL": crossmark_url,
        "CROSSMARK_USERNAME": "e2e@example.com",  # the fake accepts any credentials (simulator_from_database)
        "CROSSMARK_PASSWORD": "e2e-crossmark-password",
        "CROSSMARK_TIMEZONE": "America/Indiana/Indianapolis",
        "CROSSMARK_READ_TIMEOUT": "10",
        "DASHBOARD_LOG_FILE": "",  # no log file in data/; the app's stderr goes to the test's log instead
        "PYTHONUNBUFFERED": "1",
        "HEALTH_TOKEN": HEALTH_TOKEN,  # /healthz answers anyone with the status only; the tests read the details
    })
    return env


def _months_back(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def launch_app(database_url: str, crossmark_url: str, log_path: Path, app_env: Mapping[str, str] | None = None,
               port: int | None = None) -> subprocess.Popen:
    """Start `streamlit run dashboard/server.py` on 127.0.0.1:`port` (a free one by default) against the database
    and Crossmark, its output appended to `log_path`; not waited for (see _wait_healthy)."""
    port = port or free_loopback_port()
    with log_path.open("a") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/server.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env={**_app_environment(database_url, crossmark_url), **(app_env or {})},
            stdout=log, stderr=subprocess.STDOUT)


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    import httpx

    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited with {process.returncode} before answering /healthz:\n"
                        + log_path.read_text(errors="replace")[-4000:], pytrace=False)
        try:
            reply = httpx.get(f"{url}/healthz", timeout=5)
            if reply.status_code == 200:
                return
            last = f"{reply.status_code} {reply.text[:500]}"
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(0.2)
    pytest.fail(f"the app did not become healthy within {STARTUP_TIMEOUT:.0f} s (last: {last}):\n"
                + log_path.read_text(errors="replace")[-4000:], pytrace=False)


@pytest.fixture(scope="module")
def app_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """What the app's environment adds to the harness's: a module's E2E_APP_ENV, or a module's own fixture of this
    name when the values are only known at run time (a server's port, a file's path)."""
    return dict(getattr(request.module, "E2E_APP_ENV", {}))


@contextmanager
def running_app(database_url: str, directory: Path, *, demo_events: int = 0,
                app_env: Mapping[str, str] | None = None) -> Iterator[RunningApp]:
    """An empty database at `database_url` (a new SQLite file, or a private PostgreSQL schema) migrated and filled
    with the sprint2 scenario (plus `demo_events` demo events), an operator, a viewer and an admin; the fake Crossmark
    serving the same state; and `streamlit run dashboard/server.py` pointed at both (logging to `directory`/app.log).
    Stopped afterwards."""
    from sqlalchemy import select

    from services.access.accounts import SETUP, add_user
    from services.crossmark.sandbox import simulator_from_database
    from services.store.database import make_engine
    from services.demo.demo_data import seed_demo_data, seed_sprint2_scenario
    from tests.migrated_template import migrate_new_database
    from services.store.tables import Event
    from tests.fake_crossmark import FAKE_TIMEZONE

    migrate_new_database(database_url)
    engine = make_engine(database_url)
    if demo_events:
        seed_demo_data(engine, events=demo_events, stores=3, start=_months_back(TODAY, 1), months=3, today=TODAY)
    seed_sprint2_scenario(engine, today=TODAY)
    for username, role in ACCOUNTS:
        add_user(engine, username, role, PASSWORD, by=SETUP)
    with engine.connect() as connection:
        mplan = {ref: str(mplan_id) for ref, mplan_id in connection.execute(
            select(Event.project_ref_num, Event.external_id).where(Event.project_ref_num.in_(SPRINT2_REFS)))}

    fake = _fake_class()(simulator_from_database(engine, FAKE_TIMEZONE)).start()
    port = free_loopback_port()
    log_path = directory / "app.log"
    log_path.write_text("")
    process = launch_app(database_url, fake.url, log_path, app_env, port=port)
    running = RunningApp(f"http://127.0.0.1:{port}", database_url, engine, fake, process, log_path, mplan,
                         dict(app_env or {}))
    try:
        _wait_healthy(running.url, process, log_path)
        yield running
    finally:
        stop_process(running.process)  # the one running now: a test may have restarted it
        fake.stop()
        engine.dispose()


@pytest.fixture(scope="module")
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        app_env: dict[str, str]) -> Iterator[RunningApp]:
    """A fresh SQLite database (the sprint2 scenario, optional demo data, an operator, a viewer and an admin), the fake
    Crossmark serving the same state, and `streamlit run dashboard/server.py` pointed at both; stopped afterwards."""
    directory = tmp_path_factory.mktemp("e2e-app")
    with running_app(f"sqlite:///{directory / 'scheduler.db'}", directory,
                     demo_events=int(getattr(request.module, "E2E_DEMO_EVENTS", 0)), app_env=app_env) as running:
        yield running


# --- the browser ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def e2e_browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


class Dashboard:
    """One browser page on the app, and what the journeys do with it."""

    def __init__(self, page: Any, app: RunningApp) -> None:
        self.page, self.app = page, app

    # --- waiting for Streamlit ------------------------------------------------------------------------------

    def wait_idle(self, quiet_ms: int = QUIET_MS, timeout: int = TIMEOUT_MS) -> None:
        """Until the app is connected, its script is not running, no element is stale and nothing has changed that
        for `quiet_ms` (a rerun can start a moment after the click that asked for it)."""
        self.page.evaluate("() => { window.__e2eQuietSince = null; }")
        self.page.wait_for_function(
            """(quietMs) => {
                const app = document.querySelector('[data-testid="stApp"]');
                const busy = !app
                    || app.getAttribute('data-test-connection-state') !== 'CONNECTED'
                    || app.getAttribute('data-test-script-state') !== 'notRunning'
                    || document.querySelector('[data-stale="true"]') !== null
                    || document.querySelector('[data-testid="stStatusWidget"]') !== null;
                const now = performance.now();
                if (busy) { window.__e2eQuietSince = null; return false; }
                if (window.__e2eQuietSince === null) { window.__e2eQuietSince = now; }
                return now - window.__e2eQuietSince >= quietMs;
            }""", arg=quiet_ms, polling=50, timeout=timeout)

    def see(self, text: str | re.Pattern, *, within: Any = None, timeout: int = TIMEOUT_MS) -> Any:
        """The first visible element with `text`, waiting for it."""
        from playwright.sync_api import expect

        locator = (within or self.main).get_by_text(text).first
        expect(locator).to_be_visible(timeout=timeout)
        return locator

    @property
    def main(self) -> Any:
        return self.page.locator('[data-testid="stMain"]')

    @property
    def sidebar(self) -> Any:
        return self.page.locator('[data-testid="stSidebar"]')

    @property
    def dialog(self) -> Any:
        return self.page.get_by_role("dialog")

    def key(self, widget_key: str) -> Any:
        """The element Streamlit renders for the widget with this key (its container has class st-key-<key>)."""
        return self.page.locator(f".st-key-{widget_key}")

    # --- sign-in and navigation -----------------------------------------------------------------------------

    def sign_in(self, username: str = OPERATOR, password: str = PASSWORD) -> "Dashboard":
        self.page.goto(self.app.url + "/")
        self.page.get_by_role("textbox", name="User name").fill(username)
        self.page.get_by_role("textbox", name="Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.see(re.compile(rf"Signed in as {re.escape(username)}"), within=self.page.locator("body"))
        self.wait_idle()
        return self

    def navigate(self, path: str) -> "Dashboard":
        """Go to `path` (e.g. /day?date=2026-11-29) inside this Streamlit session, as the browser's back/forward do.

        page.goto() would load the page again: a new Streamlit session, signed out, and after signing in the app
        shows Overview whatever the URL said (see the report of issue 9)."""
        self.page.evaluate("(path) => { history.pushState({}, '', path);"
                           " window.dispatchEvent(new PopStateEvent('popstate', {state: {}})); }", path)
        self.page.wait_for_url(re.compile(re.escape(path.split("?")[0]) + r"(\?|$)"))
        self.wait_idle()
        return self

    def open_from_sidebar(self, title: str) -> "Dashboard":
        self.sidebar.get_by_role("link", name=title, exact=True).click()
        self.wait_idle()
        return self

    # --- tables (st.dataframe draws on a canvas; glide-data-grid keeps an accessible table beside it) -----------

    def table(self, target: str | Any) -> Any:
        """The st.dataframe with this widget key, or inside this locator."""
        scope = self.key(target) if isinstance(target, str) else target
        return scope.locator('[data-testid="stDataFrame"]').first

    def table_rows(self, target: str | Any, until: Callable[[list[list[str]]], bool] | None = None,
                   timeout: int = TIMEOUT_MS) -> list[list[str]]:
        """The rendered body rows of an st.dataframe (by widget key or locator), as cell texts. The grid fills its
        accessible table a moment after it draws, and again after a rerun changed its data: with `until`, wait
        (bounded) for rows that satisfy it; without, for at least one row."""
        table = self.table(target)
        until = until or bool
        deadline = time.monotonic() + timeout / 1000
        while True:
            rows = table.evaluate(
                """(grid) => Array.from(grid.querySelectorAll('table tbody tr'))
                       .map(row => Array.from(row.querySelectorAll('td, th')).map(cell => cell.innerText.trim()))""")
            if until(rows) or time.monotonic() > deadline:
                return rows
            self.page.wait_for_timeout(100)

    def select_table_row(self, target: str | Any, predicate: Callable[[list[str]], bool]) -> list[str]:
        """Tick the selection checkbox of the first row matching `predicate`: a click on the canvas where the
        checkbox is drawn (the row-marker column, first from the left; the header and each row are equally tall)."""
        rows = self.table_rows(target, until=lambda rows: any(predicate(row) for row in rows))
        index = next((i for i, row in enumerate(rows) if predicate(row)), None)
        assert index is not None, f"no matching row: {rows}"
        table = self.table(target)
        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        rendered = table.evaluate("(grid) => grid.querySelectorAll('table tr').length")
        # a grid holding a few rows is exactly as tall as they are (plus its 1 px borders)
        row_height = round(box["height"] / rendered) if rendered <= 10 else 35
        self.page.mouse.click(box["x"] + 16, box["y"] + row_height * (index + 1) + row_height / 2)
        self.wait_idle()
        return rows[index]

    # --- layout and accessibility ---------------------------------------------------------------------------

    def horizontal_overflow(self) -> list[str]:
        """What scrolls sideways: the document (scrollWidth beyond the window) or Streamlit's own scroll containers
        (the app view and the main area scroll inside the page, so the document alone would not show it)."""
        return self.page.evaluate(
            """() => {
                const problems = [];
                const root = document.documentElement;
                if (root.scrollWidth > window.innerWidth + 1) {
                    problems.push(`document: scrollWidth ${root.scrollWidth} > innerWidth ${window.innerWidth}`);
                }
                for (const id of ['stAppViewContainer', 'stMain', 'stMainBlockContainer', 'stDialog']) {
                    for (const element of document.querySelectorAll(`[data-testid="${id}"]`)) {
                        if (element.scrollWidth > element.clientWidth + 1) {
                            problems.push(`${id}: scrollWidth ${element.scrollWidth} > clientWidth ${element.clientWidth}`);
                        }
                    }
                }
                return problems;
            }""")

    def assert_reachable(self, locator: Any) -> None:
        """Scrolled to, `locator` is visible and lies inside the viewport horizontally."""
        from playwright.sync_api import expect

        expect(locator).to_be_visible()
        locator.scroll_into_view_if_needed()
        box = locator.bounding_box()
        width = self.page.evaluate("() => window.innerWidth")
        assert box is not None and box["x"] >= -1 and box["x"] + box["width"] <= width + 1, \
            f"{locator} lies outside the {width}px viewport: {box}"

    def axe(self, source: str, options: dict | None = None) -> list[dict]:
        """axe-core's violations on the current page (injected from `source`)."""
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            # Evaluated through DevTools: the app's Content-Security-Policy refuses an inline <script> tag.
            self.page.evaluate(f"(() => {{ {source}\n }})()")
        return self.page.evaluate(
            """async (options) => {
                const result = await axe.run(document, options);
                return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 300),
                                              summary: (n.failureSummary || '').slice(0, 400),
                                              data: n.any.map(a => a.data).filter(Boolean)}))}));
            }""", options or {})


@pytest.fixture
def open_dashboard(request: pytest.FixtureRequest, app: RunningApp, e2e_browser: Any
                   ) -> Iterator[Callable[..., Dashboard]]:
    """Factory: a Dashboard on a new browser context (a new Streamlit session) with the given viewport, on `app` or
    on the `server` given (e.g. a second server process). On failure, every page's screenshot and HTML and each
    server's log are saved under test-results/<test>/."""
    contexts: list[Any] = []
    opened: list[Dashboard] = []

    def open_one(width: int = 1280, height: int = 900, server: RunningApp | None = None, **options: Any) -> Dashboard:
        context = e2e_browser.new_context(viewport={"width": width, "height": height}, locale="en-US", **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        dashboard = Dashboard(context.new_page(), server or app)
        opened.append(dashboard)
        return dashboard

    yield open_one
    if _failed(request.node):
        folder = RESULTS_DIR / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        for number, dashboard in enumerate(opened, start=1):
            try:
                dashboard.page.screenshot(path=str(folder / f"page{number}.png"), full_page=True, timeout=10_000)
                (folder / f"page{number}.html").write_text(dashboard.page.content())
                (folder / f"page{number}.url").write_text(dashboard.page.url + "\n")
            except Exception as error:  # the page may be gone; keep what can be kept  # noqa: BLE001
                (folder / f"page{number}.error").write_text(repr(error))
        (folder / "app.log").write_text(app.log_tail(400))
        for server in {d.app.log_path: d.app for d in opened if d.app.log_path != app.log_path}.values():
            (folder / f"{server.log_path.parent.name}-{server.log_path.name}").write_text(server.log_tail(400))
    for context in contexts:
        context.close()


@pytest.fixture
def dashboard(open_dashboard: Callable[..., Dashboard]) -> Dashboard:
    """A desktop-sized page, not signed in."""
    return open_dashboard()


@pytest.fixture(scope="session")
def axe_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """axe-core 4 (axe.min.js) from the npm registry, fetched with `npm pack` into a temporary directory."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("accessibility test skipped: npm is not installed (apt-get install npm) to fetch axe-core")
    directory = tmp_path_factory.mktemp("axe-core")
    packed = subprocess.run([npm, "pack", "axe-core@4", "--silent", "--pack-destination", str(directory)],
                            cwd=directory, capture_output=True, text=True, timeout=180)
    tarballs = sorted(directory.glob("axe-core-*.tgz"))
    if packed.returncode != 0 or not tarballs:
        pytest.fail(f"npm pack axe-core@4 failed ({packed.returncode}): {packed.stderr[-2000:]}", pytrace=False)
    with tarfile.open(tarballs[-1]) as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None, "axe-core's package has no axe.min.js"
        return member.read().decode("utf-8")
