"""The browser benchmark (issue 18, "Speed people feel"): the Calendar and the Day view (one club) in Chromium, from
navigation to fully drawn, cold (right after a write bumped the data version) and warm, median of 5; and in the same run
the same measurement of a one-line Streamlit page served the same way: the floor this framework allows. Writes
docs/benchmarks-browser.md.

    .venv/bin/python -m bench.browser_pages                        # 1,000,000 demo events (make bench-browser)
    .venv/bin/python -m bench.browser_pages --events 1000 --repeat 1 --out /tmp/b.md   # the smoke test's run

The database is bench/run.py's (built once under data/, kept). Both servers are `streamlit run` with the same flags on
a loopback port; the dashboard's is dashboard/server.py in sandbox mode (reads only). One Chromium context signs in
once (the session cookie), then every measurement is a page load in it: a new Streamlit session, as opening a link is.
"Fully drawn" is the first moment the app is connected, its script not running, nothing stale, no widget still a
placeholder (Streamlit draws a skeleton until a widget's code has loaded) and the page's own content present (the
Calendar's month grid cells; the Day view's events; the floor's line), measured on the page's own clock from the start
of the navigation. The page loads of one round are interleaved (floor, references, Calendar, Day view; cold then
warm), because this shared machine's speed drifts within minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Iterator

from tools.processes import free_loopback_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
USER, PASSWORD = "bench.browser", "bench-browser-Passw0rd"
FLOOR_LINE = "A one-line Streamlit page."
# The floor plus one widget. Streamlit loads each widget's code when a page first shows one (React.lazy, a skeleton
# in its place), and React 18 reveals content that waited for code no sooner than 500 ms after it last drew a
# placeholder (its FALLBACK_THROTTLE_MS): the least any page with a button, a list or a table costs.
WIDGET_PAGE = f"import streamlit as st\nst.write({FLOOR_LINE!r})\nst.button('A button')\n"
# For reference beside the floor: the frame every page of the app has, with no database read — a wide layout, the
# eleven-page navigation with icons, the sidebar's status lines and Sign out button — and a one-line page in it.
FRAME_PAGE = """import streamlit as st

st.set_page_config(page_title="Frame", layout="wide")
TITLES = ("Overview", "Calendar", "Day view", "Event type counts", "Unscheduled", "Data quality", "Operations",
          "Audit", "Event timeline", "Operations health", "Admin")


def one_line_page():
    st.title("A page in the app's frame")
    st.write("One line.")


PAGE_AT_ROOT = globals().get("PAGE_AT_ROOT", one_line_page)
pages = [st.Page(PAGE_AT_ROOT if index == 0 else one_line_page, title=title, icon=":material/dashboard:",
                 url_path=title.lower().replace(" ", "_"), default=index == 0) for index, title in enumerate(TITLES)]
navigation = st.navigation(pages)
with st.sidebar:
    st.warning("**SANDBOX**: nothing is sent to Crossmark.", icon=":material/science:")
    st.text("Database: scheduler.db")
    st.caption("1,000,000 events · 50 stores")
    st.caption("Data synced: just now")
    st.caption("Signed in as **bench** (operator)")
    st.button("Sign out", icon=":material/logout:")
navigation.run()
"""
# For reference beside the Calendar: the app's own pages/calendar.py in that frame, with its two reads answered from
# fixed figures (50 stores, every day of the month busy) and no database, sign-in or switches: what Streamlit's front
# end alone costs to draw this page's widgets. The rest of the Calendar's time is ours.
CALENDAR_WITHOUT_SERVER_WORK = """import sys
from datetime import date, timedelta

sys.path.insert(0, ROOT)
import pandas as pd
import streamlit as st

from dashboard import reads
from services.domain.event_rules import EVENT_TYPES

STORES = pd.DataFrame({"store": [str(482500 + n) for n in range(50)], "store_number": [8100 + n for n in range(50)],
                       "store_name": [f"Sam's Club {n}" for n in range(50)],
                       "location_mvid": [str(482500 + n) for n in range(50)]})


def month_calendar(month, where):
    last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    days = [month + timedelta(days=offset) for offset in range((last - month).days + 1)]
    columns = {"day": days, **{kind: [(day.day * 7 + index * 13) % 50 + 1 for day in days]
                                for index, kind in enumerate(EVENT_TYPES)}}
    columns["total"] = [sum(columns[kind][row] for kind in EVENT_TYPES) for row in range(len(days))]
    columns["unstaffed_due"] = [day.day % 5 for day in days]
    return pd.DataFrame(columns)


reads.stores = lambda: STORES
reads.month_calendar = month_calendar
PAGE_AT_ROOT = ROOT + "/pages/calendar.py"
"""
QUIET_MS = 250  # drawn counts once it has stayed so for this long (a rerun can start a moment later)
TIMEOUT_MS = 120_000
# Environment variables the app reads: none of the developer's may change what is measured.
APP_ENV_PREFIXES = ("SCHEDULER_", "CROSSMARK_", "AUTH_", "SUPERVISOR_", "SESSION_", "ACTIONS_", "DASHBOARD_",
                    "SLACK_", "SMTP_", "NOTIFY_", "STREAMLIT_")
AIM = {"warm": 1.5, "cold": 2.0}  # times the floor (issue 18)

# Polled in the page on every animation frame: performance.now() at the first moment the page counted as drawn, once
# it has stayed drawn for QUIET_MS (any busy moment starts the wait again); false until then.
_DRAWN = """([selector, quietMs]) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const drawn = app !== null
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && document.querySelector('[data-stale="true"]') === null
        && document.querySelector('[data-testid="stStatusWidget"]') === null
        && document.querySelector('[data-testid="stSkeleton"]') === null
        && document.querySelector(selector) !== null;
    const now = performance.now();
    if (!drawn) { window.__benchDrawnSince = null; return false; }
    if (window.__benchDrawnSince == null) { window.__benchDrawnSince = now; }
    return now - window.__benchDrawnSince >= quietMs ? window.__benchDrawnSince : false;
}"""


@contextmanager
def served(script: str, database_url: str, log_path: Path, health_path: str) -> Iterator[str]:
    """`streamlit run script` on a free loopback port (the e2e harness's flags), until it answers `health_path`."""
    import httpx

    port = free_loopback_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(APP_ENV_PREFIXES)}
    env.update({"SCHEDULER_DATABASE_URL": database_url, "DASHBOARD_LOG_FILE": "", "PYTHONUNBUFFERED": "1"})
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.address",
             "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{script} exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(url + health_path, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{script} did not answer {health_path} within 120 s:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(process)


# The Day view's events are there: the table's grid drawn on its canvas, or the cards (pages/day.py's containers).
DAY_DRAWN = ".st-key-day_events_table [data-testid='stDataFrame'] canvas, .st-key-day_events_cards"


def drawn_ms(page, url: str, selector: str) -> float:  # noqa: ANN001 - a Playwright page
    """Milliseconds from the start of navigating to `url` until the page is drawn (see _DRAWN)."""
    page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
    handle = page.wait_for_function(_DRAWN, arg=[selector, QUIET_MS], polling="raf", timeout=TIMEOUT_MS)
    return float(handle.json_value())


def prepare(database_url: str) -> tuple[date, str]:
    """The benchmark's account (with a password, to sign in in the browser) and the Day view's day and club: the
    busiest day of the coming week and its busiest club (bench/run.py's choice)."""
    from sqlalchemy import func, select

    from bench.run import _busiest
    from services.access.accounts import OPERATOR, SETUP, add_user
    from services.store.database import make_engine
    from services.store.tables import UserAccount

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            exists = connection.execute(select(func.count()).select_from(UserAccount)
                                        .where(UserAccount.username == USER)).scalar_one()
        if not exists:
            add_user(engine, USER, OPERATOR, PASSWORD, by=SETUP)
        return _busiest(engine, date.today())
    finally:
        engine.dispose()


def bump(database_url: str) -> None:
    """A write, as far as the caches can tell: the data version moves on, so the next page run reads afresh."""
    from services.store.data_version import bump_data_version
    from services.store.database import make_engine

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            bump_data_version(connection)
    finally:
        engine.dispose()


def measure(database_url: str, repeat: int, work_dir: Path) -> dict:
    from playwright.sync_api import sync_playwright

    day, club = prepare(database_url)
    floor_script = work_dir / "floor_page.py"
    floor_script.write_text(f"import streamlit as st\nst.write({FLOOR_LINE!r})\n")
    frame_script = work_dir / "frame_page.py"
    frame_script.write_text(FRAME_PAGE)
    widget_script = work_dir / "widget_page.py"
    widget_script.write_text(WIDGET_PAGE)
    static_calendar_script = work_dir / "calendar_without_server_work.py"
    static_calendar_script.write_text(f"ROOT = {str(ROOT)!r}\n" + CALENDAR_WITHOUT_SERVER_WORK
                                      + FRAME_PAGE.replace("import streamlit as st\n", "", 1))
    pages = {  # name: (server, path, what shows the page is drawn)
        "floor": ("floor", "/", '[data-testid="stMarkdownContainer"] p'),
        "widget": ("widget", "/", '[data-testid="stButton"] button'),
        "frame": ("frame", "/", '[data-testid="stMain"] h1'),
        "calendar_static": ("calendar_static", "/", ".st-key-month_grid a.mg-cell"),
        "calendar": ("app", "/calendar", ".st-key-month_grid a.mg-cell"),
        # as it opens: a club-day this busy (over pages/day.py's AUTO_TABLE_AFTER events) is shown as the table
        "day": ("app", f"/day?date={day.isoformat()}&store={club}", DAY_DRAWN),
        # the same club and day as cards (a card with its buttons per event), asked for in the link
        "day_cards": ("app", f"/day?date={day.isoformat()}&store={club}&view=cards", DAY_DRAWN),
    }
    samples: dict[str, dict[str, list[float]]] = {name: {"cold": [], "warm": []} for name in pages}
    with ExitStack() as stack:
        servers = {
            "app": stack.enter_context(served("dashboard/server.py", database_url, work_dir / "app.log", "/healthz")),
            "frame": stack.enter_context(served(str(frame_script), database_url, work_dir / "frame.log",
                                                "/_stcore/health")),
            "floor": stack.enter_context(served(str(floor_script), database_url, work_dir / "floor.log",
                                                "/_stcore/health")),
            "widget": stack.enter_context(served(str(widget_script), database_url, work_dir / "widget.log",
                                                 "/_stcore/health")),
            "calendar_static": stack.enter_context(served(str(static_calendar_script), database_url,
                                                          work_dir / "calendar_static.log", "/_stcore/health")),
        }
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        stack.callback(browser.close)
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        page.goto(servers["app"] + "/", timeout=TIMEOUT_MS)
        page.get_by_role("textbox", name="User name").fill(USER)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text(f"Signed in as {USER}").wait_for(timeout=TIMEOUT_MS)
        for server, path, selector in pages.values():  # once each, unmeasured: servers and caches started
            drawn_ms(page, servers[server] + path, selector)
        for round_number in range(1, repeat + 1):
            print(f"  round {round_number} of {repeat}", file=sys.stderr, flush=True)
            for name, (server, path, selector) in pages.items():
                bump(database_url)
                samples[name]["cold"].append(drawn_ms(page, servers[server] + path, selector))
                samples[name]["warm"].append(drawn_ms(page, servers[server] + path, selector))
    return {"day": day.isoformat(), "club": club, "repeat": repeat, "samples": samples,
            "median_ms": {name: {state: statistics.median(values) for state, values in by_state.items()}
                          for name, by_state in samples.items()}}


# Measured once, when the cold page's server time was cut (not re-measured by each run): whole page runs under AppTest
# at 1,000,000 events, median of 5, the code before and after, two alternating rounds on the shared 2-core machine.
WHAT_WAS_DONE = """## What was cut from a cold page (issue 22)

A cold page run (the first after any write) re-read the sidebar's "N events · M stores · Data synced", which counted
every event: about 0.4 s at 1M on a quiet machine. Migration 0015 keeps those counts in trigger-kept rows (events per
store: services/store/summary_counts.py) and reads the first/last day and the newest sync by index
seeks: `database_summary` went from 1,693 ms to 1.2 ms at 1M (median of 7, same figures). The Unscheduled buckets sum
only the shorter of the Past due and Later sides (the other is the total minus the rest): 164 ms to 31 ms at 1M.

| Page run under AppTest at 1M (server time) | Before: cold | Before: warm | After: cold | After: warm |
|---|---:|---:|---:|---:|
| Calendar | 512–739 ms | 56–97 ms | 104–118 ms | 71–100 ms |
| Day view, one club | 909–1,035 ms | 209–284 ms | 295–343 ms | 280–298 ms |

Cold now costs about what warm does. What remained between these pages and the floor was drawing, not reading: the
Calendar's plotly heatmap (built in ~65 ms on the server, drawn after the script ends in the browser) and the Day view's
cards (~90 cards with their action buttons for one busy club: ~230 ms of the server run and most of the browser's).

The Calendar's month is now an HTML grid (dashboard/month_grid.py), drawn with the page: plotly no longer loads. It
went from 5.0× / 8.9× the floor (cold / warm; the run of 2026-12-02 16:07, median of 5) to 3.4× / 3.6× (16:55,
median of 3), and now costs what the app's lightest pages cost (Audit, Overview: ~1.2–1.3 s warm against ~1.2–1.4 s for the Calendar,
measured together): what is left is the app's own cost per page (sign-in check, navigation, sidebar), not the month.

Then py-spy on the real server (not AppTest) showed where that per-page cost went: Streamlit's default full garbage
collection after every script run (`runner.postScriptGC`), whose cost grows with the whole heap — here the sandbox's
in-memory copy of the 1M-event database (which the server's retry loop builds; issue 22 makes it lazy). With
`postScriptGC = false` (.streamlit/config.toml) the Calendar went from ~1.4 s to ~0.8 s and the Day view as it opens
from ~1.5 s to ~1.0 s (17:36 run, median of 3). The server's retry loop now builds that sandbox only when a pass has
an operation to settle (dashboard/server.py): the Day view as cards went from ~2.1 s to ~1.3 s warm (17:50 run).

## Where a page load's time went on 2026-12-02 evening, and what is left

Marks taken in Chromium on every animation frame (connected, script running, script finished, first skeleton, month
grid in the DOM, last skeleton gone), the server's own script time printed from dashboard/app.py, py-spy on the real
server; each figure below a median over 4-10 loads, warm unless said.

- **Connecting.** Opened at its own path (`/calendar`, `/day?...`), Streamlit's front end first asked
  `/calendar/_stcore/health`, got a 404, waited its 100 ms retry delay, then asked `/_stcore/health`: connected at
  287-341 ms from navigation against 205-216 ms for the floor at `/`. Every page now carries the server's address
  (dashboard/page_base_url.py): connected at 200-250 ms, as the floor. All pages but the first gain this.
- **The Calendar's server run** (app.py to the end of the page) was 95-120 ms warm: the phone's list of days was
  about sixty widgets (31 page links and captions, 25 ms of the run and as many elements to draw) and the grid looked
  up each day with pandas `.loc`. The list is now one HTML block built from the grid's cells, the grid reads dicts:
  the run is 26-32 ms (the Overview 29-92 ms, Audit 23-39 ms).
- **What is left is Streamlit's front end.** Every widget's code (button, multiselect, selectbox, HTML block, metric,
  date input, table) is loaded the first time a page shows one, behind a skeleton (React.lazy inside a Suspense per
  element), and React 18.3.1 shows content that waited for code no sooner than 500 ms after it last drew a skeleton
  (its FALLBACK_THROTTLE_MS). The Calendar's elements all arrive at once when its script ends; its skeletons then stay
  300-450 ms. One widget type alone costs nothing measurable (the floor plus one button: ~1.0× the floor), six do.
  The row "the Calendar's page with fixed figures" is this app's own pages/calendar.py in the same frame with its two
  reads answered from fixed data, no database, sign-in or switches: it costs within ~150 ms of the real Calendar
  in the same run, so the page's content in the browser, not the server, is what stands above the warm aim. Preloading
  the widgets' code (`<link rel="modulepreload">` for the Calendar's chunks) was tried and changed nothing measurable:
  the reveal throttle, not the download, is the wait.
- **The Day view as cards** (90 cards of one busy club, ~270 buttons) runs 1.2-1.9 s on the server and then shows
  skeletons for its buttons until 3.4-5.2 s; this is why such a club-day opens as the table (pages/day.py,
  AUTO_TABLE_AFTER), which is drawn in about the Calendar's time.

So the cold aim (≤ 2×) is met by the Calendar and about met by the Day view as it opens; the warm aim (≤ 1.5×) cannot
be met by a page that shows these controls on Streamlit 1.67 without changing its front end: the same page with no
server work at all does not meet it.
"""


def render(result: dict, events: int, machine: dict) -> str:
    median = result["median_ms"]
    lines = [
        "# Browser benchmark: pages people open, against the framework's floor (issue 18)",
        "",
        f"Written by `make bench-browser` (`python -m bench.browser_pages`) on {datetime.now():%Y-%m-%d %H:%M}: "
        f"{events:,} demo events (SQLite), Chromium {machine.get('chromium', '')}, median of {result['repeat']} page "
        "loads each, from the start of navigation to fully drawn (connected, script finished, nothing stale, no "
        "widget placeholder left, the page's content present; see bench/browser_pages.py). Cold: right after a write bumped the data version. "
        "The floor is a one-line Streamlit page served the same way. Ratios are within this one run (the machine is "
        "shared: absolute times drift).",
        "",
        f"Day view: {result['day']}, club {result['club']} (the busiest day of the coming week and its busiest club).",
        "",
        "| Page | Cold | Warm | Cold ÷ floor | Warm ÷ floor | Aim (cold / warm) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    floor = median["floor"]
    lines.append(f"| One-line Streamlit page (floor) | {floor['cold']:.0f} ms | {floor['warm']:.0f} ms | 1.00× | 1.00× | |")
    for name, label in (("widget", "For reference: the floor plus one button (a widget's code loaded on first use)"),
                        ("frame", "For reference: the app's frame (navigation, sidebar), one line, no reads"),
                        ("calendar_static", "For reference: the Calendar's page with fixed figures, no database or sign-in"),
                        ("calendar", "Calendar (month)"), ("day", "Day view, one club, as it opens"),
                        ("day_cards", "Day view, one club, as cards (?view=cards)")):
        if name not in median:  # a report written before this page was measured
            continue
        cold, warm = median[name]["cold"] / floor["cold"], median[name]["warm"] / floor["warm"]
        verdict = "met" if cold <= AIM["cold"] and warm <= AIM["warm"] else "not met"
        aim = "" if label.startswith("For reference") else f"≤ {AIM['cold']:g}× / ≤ {AIM['warm']:g}×: {verdict}"
        lines.append(f"| {label} | {median[name]['cold']:.0f} ms | {median[name]['warm']:.0f} ms | {cold:.2f}× | "
                     f"{warm:.2f}× | {aim} |")
    lines += ["", "Machine: " + ", ".join(f"{key} {value}" for key, value in machine.items()), "", WHAT_WAS_DONE]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-browser.md")
    args = parser.parse_args(argv)
    if args.events < 1000 or args.repeat < 1:
        parser.error("--events must be at least 1000 and --repeat at least 1")
    from bench.run import _machine, build, database_url

    build("sqlite", args.events, args.data_dir, None)
    url = database_url("sqlite", args.events, args.data_dir, None)
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as work_dir:
        result = measure(url, args.repeat, Path(work_dir))
    machine = _machine()
    machine["chromium"] = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    report = render(result, args.events, machine)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    args.out.with_suffix(".json").write_text(json.dumps({"events": args.events, **result}, indent=1))
    print(report)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
