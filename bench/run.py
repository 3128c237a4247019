"""The scale benchmark: the pages' reads, a full check run, a paired reschedule and whole page runs at 10,000 / 100,000 /
1,000,000 events, on SQLite and (with --postgres) PostgreSQL, each read side by side with (a) the naive pandas way and
(b) the bare SQL of our own query through the database driver. Writes docs/benchmarks.md.

    .venv/bin/python -m bench.run                                  # SQLite, 10k / 100k / 1M (make bench)
    .venv/bin/python -m bench.run --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python -m bench.run --sizes 10000 --repeat 1 --out /tmp/b.md   # the smoke that `make test` runs
    .venv/bin/python -m bench.run --pages sqlite 1000000           # measure 7 alone: page runs against the floor

Databases are built once with the demo generator (SQLite files under --data-dir, default data/; PostgreSQL schemas
bench_<N>) and reused. Every (database, size) is measured in its own process, so that the peak RSS reported is that of
doing 1-7 at that size; the naive comparison runs after the RSS is taken. What is compared by a ratio target is timed
interleaved, one run of each per round (ours and its bare SQL; with --postgres, reads 1-4 on both databases of the
largest size in one process), because this shared machine's speed drifts within minutes. At the end, each in its own
process and section: the concurrency runs (bench/concurrency.py) and the bulk load with and without the data-version
triggers (bench/bulk_load.py).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time as clock, timedelta
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, event, func, select, text, update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
STORES = 50
MONTHS = 5
CHECK_REPEAT_MAX = 3  # a full check run takes seconds at 1M: fewer repetitions than the reads
PAIRED_ACTIONS = 30
BENCH_USER = "bench.operator"

# (key, label, target in ms at 1M on SQLite or None): the rows of the results table, in order
READS = [
    ("calendar", "1. Calendar month (counts by day and type + warning days)", 50),
    ("day_all", "2. Day view, busiest day, all clubs", 20),
    ("day_club", "2. Day view, busiest day, one club (cards, Supervisors)", 20),
    ("types", "3. Event type counts, a quarter by week", 100),
    ("unscheduled", "4. Unscheduled buckets", 100),
]
OTHERS = [
    ("check_run", "5. Full data-quality check run (stored), nothing changed since the last", 2000),
    ("check_full_changed", "5. Full data-quality check run (stored) after 100 changed events", 2000),
    ("check_incremental", "5. Incremental check run after 100 changed events (`--changed-since last`)", 300),
    ("paired", "6. Paired reschedule, own overhead (in-process Crossmark)", None),
]
# Measure 7, whole page runs under AppTest: (key, label). Each is timed cold (right after a write: the data version
# bumped, as every write does) and warm, interleaved with the floor (bench/floor_page.py, a one-line Streamlit page run
# the same way); the aims are ratios to the floor (issue 22).
PAGES = [
    ("calendar", "Calendar"),
    ("day", "Day view, one club (busiest club of the busiest day)"),
    ("unscheduled", "Unscheduled"),
]
PAGE_AIMS = {"cold": 2.0, "warm": 1.5}  # times the floor
FLOOR_PAGE = ROOT / "bench" / "floor_page.py"
# For reference, not an aim: the app's frame (dashboard/app.py's sign-in check, navigation, switches and sidebar)
# around a one-line page, cold and warm like the pages: how much of a page's run every page pays before its content.
FRAME_FLOOR_PAGE = ROOT / "bench" / "frame_floor_page.py"
FRAME = ("frame", "For reference: the app's frame around a one-line page")


# --- databases ------------------------------------------------------------------------------------------------------

def _months_back(today: date, months: int) -> date:
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def database_url(backend: str, events: int, data_dir: Path, postgres: str | None) -> str:
    if backend == "sqlite":
        return f"sqlite:///{data_dir / f'bench-{events}.db'}"
    url = make_url(postgres).update_query_dict({"options": f"-csearch_path=bench_{events}"})
    return url.render_as_string(hide_password=False)


def build(backend: str, events: int, data_dir: Path, postgres: str | None) -> None:
    """Create (or reuse) the database of `events` demo events; a PostgreSQL schema is dropped and rebuilt if partial."""
    from services.store.database import make_engine
    from services.demo.demo_data import seed_demo_data
    from services.store.schema_admin import upgrade_database
    from services.store.tables import Event

    url = database_url(backend, events, data_dir, postgres)
    if backend == "postgresql":
        admin = create_engine(postgres)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS bench_{events}"))
        admin.dispose()
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(url, confirmed=True)
    engine = make_engine(url)
    with engine.connect() as connection:
        existing = connection.execute(select(func.count()).select_from(Event)).scalar_one()
    if existing not in (0, events):
        raise SystemExit(f"{url} holds {existing:,} events, not {events:,}: remove it and run again")
    if existing == 0:
        today = date.today()
        started = time.perf_counter()
        seed_demo_data(engine, events=events, stores=STORES, start=_months_back(today, 2), months=MONTHS, today=today)
        print(f"  built {backend} with {events:,} events in {time.perf_counter() - started:.0f} s", flush=True)
    if backend == "postgresql":
        # What autovacuum does to a live database: the visibility map lets the covering indexes answer index-only.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


# --- timing ---------------------------------------------------------------------------------------------------------

@dataclass
class Timing:
    median_ms: float
    p95_ms: float

    def as_dict(self) -> dict:
        return {"median_ms": self.median_ms, "p95_ms": self.p95_ms}


def measure(function: Callable[[], object], repeat: int, warmups: int = 1) -> Timing:
    for _ in range(warmups):  # the database's and the OS's caches, the first compile of each statement
        function()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return _timing(samples)


def _timing(samples: list[float]) -> Timing:
    samples = sorted(samples)
    return Timing(statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))])


def measure_interleaved(functions: dict[str, Callable[[], object]], repeat: int, warmups: int = 1) -> dict[str, Timing]:
    """Like `measure`, for things to be compared: one run of each per round, the order rotated every round, so a ratio
    between them is taken under the same machine load. This 2-core machine is shared and its speed drifts by up to 2x
    within minutes; timed one after the other, a ratio measured the drift as much as the code."""
    names = list(functions)
    for _ in range(warmups):
        for name in names:
            functions[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(repeat):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            functions[name]()
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: _timing(values) for name, values in samples.items()}


@contextmanager
def captured_sql(engine: Engine) -> Iterator[list[tuple[str, object]]]:
    """The statements (as the driver receives them, with their parameters) that run on `engine` meanwhile."""
    statements: list[tuple[str, object]] = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def bare_sql(engine: Engine, ours: Callable[[], object]) -> Callable[[], None]:
    """(b): the SQL our function ran, replayed through the driver's own cursor: no SQLAlchemy, no pandas, no app code."""
    with captured_sql(engine) as statements:
        ours()
    raw = engine.raw_connection().driver_connection

    def replay() -> None:
        cursor = raw.cursor()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            cursor.fetchall()
        cursor.close()
        raw.rollback()

    return replay


# --- (a): the naive way, rows into pandas --------------------------------------------------------------------------

def _frame(engine: Engine, sql: str, **parameters: object) -> pd.DataFrame:
    with engine.connect() as connection:
        return pd.read_sql(text(sql), connection, params=parameters)


def _starts(first: date, last: date) -> dict:
    return {"first": datetime.combine(first, clock()), "after": datetime.combine(last + timedelta(days=1), clock())}


SCHEDULED_ROWS = ("SELECT e.*, s.schedule_datetime, s.employee_id FROM schedules s "
                  "JOIN events e ON e.project_ref_num = s.event_ref_num "
                  "WHERE s.schedule_datetime >= :first AND s.schedule_datetime < :after")
UNSTAFFED_ROWS = "SELECT * FROM events WHERE condition = 'Unstaffed' AND due_datetime >= :first AND due_datetime < :after"


def naive_calendar(engine: Engine, month: date) -> pd.DataFrame:
    last = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    scheduled = _frame(engine, SCHEDULED_ROWS, **_starts(month, last))
    unstaffed = _frame(engine, UNSTAFFED_ROWS, **_starts(month, last))
    scheduled["day"] = pd.to_datetime(scheduled["schedule_datetime"]).dt.date
    table = scheduled.pivot_table(index="day", columns="event_type", values="id", aggfunc="count").fillna(0)
    table["unstaffed_due"] = unstaffed.groupby(pd.to_datetime(unstaffed["due_datetime"]).dt.date)["id"].count()
    return table


def naive_day(engine: Engine, day: date, store: str | None) -> pd.DataFrame:
    where = " AND e.location_mvid = :store" if store else ""
    day_rows = _frame(engine, "SELECT e.*, s.schedule_datetime, m.name AS rep_name, m.job_title FROM schedules s "
                      "JOIN events e ON e.project_ref_num = s.event_ref_num LEFT JOIN employees m ON m.id = s.employee_id "
                      "WHERE s.schedule_datetime >= :first AND s.schedule_datetime < :after" + where,
                      **_starts(day, day), **({"store": store} if store else {}))
    supervisors = _frame(engine, "SELECT e.*, s.schedule_datetime FROM events e LEFT JOIN schedules s "
                         "ON s.event_ref_num = e.project_ref_num WHERE e.event_type = 'Supervisor'"
                         + (" AND e.location_mvid = :store" if store else ""), **({"store": store} if store else {}))
    unstaffed = _frame(engine, UNSTAFFED_ROWS.replace("events", "events e") + where, **_starts(day, day),
                       **({"store": store} if store else {}))
    for frame in (day_rows, supervisors):
        frame["number"] = frame["project_name"].str[:6]
    cores = day_rows[day_rows["event_type"] == "Core"]
    paired = cores.merge(supervisors, on=["location_mvid", "number"], how="left", suffixes=("", "_supervisor"))
    return pd.concat([paired, unstaffed], ignore_index=True)


def naive_types(engine: Engine, first: date, last: date) -> pd.DataFrame:
    scheduled = _frame(engine, SCHEDULED_ROWS, **_starts(first, last))
    unstaffed = _frame(engine, UNSTAFFED_ROWS, **_starts(first, last))
    scheduled["week"] = pd.to_datetime(scheduled["schedule_datetime"]).dt.to_period("W").dt.start_time
    unstaffed["week"] = pd.to_datetime(unstaffed["due_datetime"]).dt.to_period("W").dt.start_time
    return pd.concat([scheduled.groupby(["week", "event_type"]).size().rename("Scheduled"),
                      unstaffed.groupby(["week", "event_type"]).size().rename("Unstaffed")], axis=1)


def naive_unscheduled(engine: Engine, now: datetime) -> pd.Series:
    unstaffed = _frame(engine, "SELECT * FROM events WHERE condition = 'Unstaffed'")
    due = pd.to_datetime(unstaffed["due_datetime"])
    today = datetime.combine(now.date(), clock())
    edges = [now, today + timedelta(days=1), today + timedelta(days=2), today + timedelta(days=3)]
    labels = ["Past due", "Due today", "Due tomorrow", "Due within 3 days"]
    unstaffed["bucket"] = np.select([due < edge for edge in edges], labels, default="Later")
    return unstaffed.groupby(["bucket", "event_type"]).size()


# --- one (database, size): measured in its own process ---------------------------------------------------------------

def _busiest(engine: Engine, today: date) -> tuple[date, str]:
    """The busiest day of the coming week, and the club with the most events on it."""
    from services.reads.read_queries import scheduled_per_day

    week = scheduled_per_day(engine, today, today + timedelta(days=7))
    day = week.groupby("day")["count"].sum().idxmax()
    with engine.connect() as connection:
        store = connection.execute(text(
            "SELECT store FROM dashboard_scheduled_per_day WHERE day = :day GROUP BY store ORDER BY SUM(scheduled) DESC "
            "LIMIT 1"), {"day": day}).scalar_one()
    return day, store


def _paired_reschedules(engine: Engine, today: date, count: int) -> Timing:
    from bench.paired_actions import _pairs
    from services.crossmark.client import make_crossmark_client
    from services.crossmark.sandbox import simulator_from_database
    from services.actions.paired_actions import PairedActions
    from services.reads.pairing import supervisors_for_cores
    from services.settings import load_settings

    pairs = _pairs(engine, today, count)
    with engine.connect() as connection:
        names = connection.execute(select_events(pairs)).all()
        supervisors = supervisors_for_cores(connection, names)
    refs = [ref for ref, _ in pairs] + [match.supervisor.ref for match in supervisors.values()]
    settings = load_settings({})
    simulator = simulator_from_database(engine, settings.crossmark_timezone, refs=refs)
    service = PairedActions(engine, lambda: make_crossmark_client(settings, simulator=simulator))
    moves = iter(pairs)

    def one() -> None:
        ref, when = next(moves)
        target = when.replace(hour=9, minute=45) if when.hour != 9 else when.replace(hour=10, minute=30)
        result = service.reschedule(ref, target, "bench", key=uuid.uuid4().hex)
        if result.status != "done":
            raise RuntimeError(f"reschedule of {ref} ended {result.status}: {result.message}")

    return measure(one, repeat=len(pairs) - 2, warmups=2)


def _check_runs_after_changes(engine: Engine, settings, clock: list[datetime], repeat: int,  # noqa: ANN001
                              incremental: bool) -> Timing:
    """Check runs, incremental (`check run --changed-since last`) or full, each after 100 events changed: 50 schedules
    moved a day later and 50 events' conditions changed (Unstaffed and back), written outside the timing; the clock one
    minute on each time (its windows are part of the run; `clock` holds the last run's `now`, shared by the measures, as
    an incremental run cannot build on a complete run from its future). An incremental run must have been incremental. A full run
    then finds of several rules something other than what is open (moved pairs, Unstaffed events), and merges those
    rules finding by finding (services/quality/fingerprints.py). Afterwards every change is undone (the schedules
    moved back, the conditions flipped again), so the database the later measures and the next `make bench` read holds
    the data it was built with: schedules moved day after day left their events' windows, and the paired reschedules of
    measure 6 were refused."""
    from services.quality.checks import run_check

    with engine.connect() as connection:
        refs = list(connection.execute(text(
            "SELECT event_ref_num FROM schedules WHERE schedule_datetime > :now ORDER BY event_ref_num LIMIT 5000"),
            {"now": clock[0]}).scalars())
    from services.store.tables import Schedule

    randomness = random.Random(22)
    moment = clock  # a shared list: the next measure's clock starts where this one's ended
    schedules = Schedule.__table__

    moved: list[tuple[int, datetime]] = []  # (schedule id, its time before), in the order written
    flipped: list[int] = []

    def flip(connection, refs: list[int]) -> None:  # noqa: ANN001 - a Connection
        for ref in refs:
            connection.execute(text("UPDATE events SET condition = CASE WHEN condition = 'Unstaffed' THEN "
                                    "'Scheduled' ELSE 'Unstaffed' END WHERE project_ref_num = :ref"), {"ref": ref})

    def change() -> None:
        chosen = randomness.sample(refs, 100)
        with engine.begin() as connection:  # typed: stored as the app stores times
            for schedule_id, at in connection.execute(select(schedules.c.id, schedules.c.schedule_datetime).where(
                    schedules.c.event_ref_num.in_(chosen[:50]))).all():
                connection.execute(update(schedules).where(schedules.c.id == schedule_id).values(
                    schedule_datetime=at + timedelta(days=1)))
                moved.append((schedule_id, at))
            flip(connection, chosen[50:])
            flipped.extend(chosen[50:])

    def undo() -> None:
        with engine.begin() as connection:
            for schedule_id, at in reversed(moved):  # a schedule moved twice ends at its first time
                connection.execute(update(schedules).where(schedules.c.id == schedule_id).values(
                    schedule_datetime=at))
            flip(connection, flipped)  # each flip undone by a second one, whatever the order

    def one() -> None:
        moment[0] += timedelta(minutes=1)
        result = run_check(engine, settings, now=moment[0], triggered_by="bench", incremental=incremental)
        if result.incremental != incremental:
            raise RuntimeError(f"the incremental check run was a full one: {result.full_because}")

    samples = []
    try:
        for _ in range(max(3, min(repeat, 15 if incremental else CHECK_REPEAT_MAX))):
            change()
            started = time.perf_counter()
            one()
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        undo()
    return _timing(samples)


def select_events(pairs: list[tuple[int, datetime]]):  # noqa: ANN201 - a select of (ref, name, mvid, store number)
    from services.store.tables import Event

    return select(Event.project_ref_num, Event.project_name, Event.location_mvid, Event.store_number).where(
        Event.project_ref_num.in_([ref for ref, _ in pairs]))


def _page_runs(url: str, day: date, store: str, repeat: int) -> dict:
    """Whole runs of the Calendar, the Day view of one club and the Unscheduled page through Streamlit's AppTest,
    signed in, cold and warm, and of the floor (a one-line page) run the same way: {"floor": Timing, page: {"cold":
    Timing, "warm": Timing}}.

    Cold is what a person sees after a write: the run follows a real bump of the data version (what every write does:
    services/store/data_version.py), so every read keyed by it misses. Warm follows an untimed run of the same page.
    Each AppTest is one session rerun again and again, as a person clicking in an open page. The runs are interleaved,
    one of each per round in a rotating order, because this shared machine's speed drifts within minutes."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from services.store.data_version import bump_data_version
    from services.store.database import begin_write, make_engine

    os.environ["SCHEDULER_DATABASE_URL"] = url
    for name in ("CROSSMARK_BASE_URL", "AUTH_MODE"):
        os.environ.pop(name, None)
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = make_engine(url)
    queries = {"calendar": {}, "day": {"date": day.isoformat(), "store": store}, "unscheduled": {}}
    apps = {"floor": AppTest.from_file(str(FLOOR_PAGE), default_timeout=300),
            "frame": AppTest.from_file(str(FRAME_FLOOR_PAGE), default_timeout=300)}
    apps["frame"].session_state["auth"] = {"username": BENCH_USER, "last_seen": datetime.now()}
    for page, _ in PAGES:
        app = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=300)
        app.session_state["auth"] = {"username": BENCH_USER, "last_seen": datetime.now()}
        for key, value in queries[page].items():
            app.query_params[key] = value
        app.switch_page(str(ROOT / "pages" / f"{page}.py"))
        apps[page] = app

    def run(page: str) -> float:
        app = apps[page]
        if page != "floor":
            app.session_state["auth"] = {"username": BENCH_USER, "last_seen": datetime.now()}
        started = time.perf_counter()
        app.run()
        elapsed = (time.perf_counter() - started) * 1000
        if app.exception:
            raise RuntimeError(f"the {page} page failed: {app.exception}")
        return elapsed

    def write() -> None:
        with begin_write(engine) as connection:
            bump_data_version(connection)

    runs = [("floor", "warm")] + [(page, kind) for page, _ in [*PAGES, FRAME] for kind in ("cold", "warm")]
    for page, _ in runs:  # the first runs: imports, the engine, the schema check
        run(page)
    samples: dict[tuple[str, str], list[float]] = {entry: [] for entry in runs}
    for round_number in range(repeat):
        shift = round_number % len(runs)
        for page, kind in runs[shift:] + runs[:shift]:
            if kind == "cold":
                write()
            else:
                run(page)
            samples[(page, kind)].append(run(page))
    engine.dispose()
    result: dict = {"floor": _timing(samples[("floor", "warm")]).as_dict()}
    for page, _ in [*PAGES, FRAME]:
        result[page] = {kind: _timing(samples[(page, kind)]).as_dict() for kind in ("cold", "warm")}
    result["compile"] = _compile_times(repeat)
    return result


def _compile_times(repeat: int) -> dict[str, float]:
    """What AppTest pays on every run that a served app does not: it compiles dashboard/app.py and the page's script
    again each time (Streamlit's server keeps their bytecode). Median ms of compile() per script, interleaved."""
    scripts = {"app": ROOT / "dashboard" / "app.py", **{page: ROOT / "pages" / f"{page}.py" for page, _ in PAGES}}
    sources = {name: path.read_text() for name, path in scripts.items()}
    timings = measure_interleaved({name: (lambda name=name: compile(sources[name], str(scripts[name]), "exec"))
                                   for name in scripts}, max(repeat, 5))
    return {name: timing.median_ms for name, timing in timings.items()}


def our_reads(engine: Engine, today: date) -> dict[str, Callable[[], object]]:
    """Reads 1-4 as the pages make them: the month, the busiest day of the coming week (all clubs, its busiest club),
    a quarter's type counts by week, the Unscheduled buckets at 10:00 today."""
    from services.reads.read_queries import EventFilter, day_view, month_calendar, type_counts, unscheduled_buckets

    day, store = _busiest(engine, today)
    quarter = (today - timedelta(days=45), today + timedelta(days=45))
    now = datetime.combine(today, clock(10, 0))
    return {
        "calendar": lambda: month_calendar(engine, today),
        "day_all": lambda: day_view(engine, day),
        "day_club": lambda: day_view(engine, day, EventFilter(store=store)),
        "types": lambda: type_counts(engine, *quarter, "week"),
        "unscheduled": lambda: unscheduled_buckets(engine, now),
    }


def measure_side_by_side(events: int, data_dir: Path, postgres: str, repeat: int) -> dict:
    """Reads 1-4 on the SQLite and the PostgreSQL database of `events` events in one process, interleaved: the
    PostgreSQL-within-2x target is judged on these ratios, not on two runs minutes apart."""
    from services.store.database import make_engine

    from services.store.scheduled_per_day import BULK_LOADED_TABLES

    today = date.today()
    engines = {backend: make_engine(database_url(backend, events, data_dir, postgres))
               for backend in ("sqlite", "postgresql")}
    # What autovacuum would have done after measures 5-7 wrote (this server runs without it): with the visibility
    # map cleared by those writes, PostgreSQL's index-only scans of the aggregates fetched every row from the heap
    # (the Calendar month 4 ms in its own section, 11.5 ms here).
    with engines["postgresql"].connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE " + ", ".join(BULK_LOADED_TABLES)))
    reads = {backend: our_reads(engine, today) for backend, engine in engines.items()}
    result: dict = {"events": events, "reads": {}}
    for key, _, _ in READS:
        timings = measure_interleaved({backend: reads[backend][key] for backend in engines}, repeat)
        result["reads"][key] = {backend: timing.as_dict() for backend, timing in timings.items()}
    for engine in engines.values():
        engine.dispose()
    return result


def ensure_bench_user(engine: Engine) -> None:
    """The operator account the benchmark acts as (actions refuse a user the dashboard does not know)."""
    from services.access.accounts import SETUP, OPERATOR, add_user
    from services.store.tables import UserAccount

    with engine.connect() as connection:
        has_user = connection.execute(select(func.count()).select_from(UserAccount)
                                      .where(UserAccount.username == BENCH_USER)).scalar_one()
    if not has_user:
        add_user(engine, BENCH_USER, OPERATOR, None, by=SETUP)


def measure_one(backend: str, events: int, data_dir: Path, postgres: str | None, repeat: int) -> dict:
    from services.store.database import make_engine
    from services.quality.checks import run_check
    from services.reads.read_queries import day_view
    from services.settings import load_settings

    url = database_url(backend, events, data_dir, postgres)
    engine = make_engine(url)
    today = date.today()
    now = datetime.combine(today, clock(10, 0))
    ensure_bench_user(engine)
    day, store = _busiest(engine, today)
    quarter = (today - timedelta(days=45), today + timedelta(days=45))
    ours = our_reads(engine, today)
    result: dict = {"backend": backend, "events": events, "busy_day": day.isoformat(), "club": store,
                    "day_all_listed": day_view(engine, day).listed, "ours": {}, "naive": {}, "bare": {}}
    for key, function in ours.items():  # ours and (b) side by side: their ratio is a target
        timings = measure_interleaved({"ours": function, "bare": bare_sql(engine, function)}, repeat)
        result["ours"][key], result["bare"][key] = timings["ours"].as_dict(), timings["bare"].as_dict()

    settings = load_settings({})
    run_check(engine, settings, now=now, triggered_by="bench")  # the first run stores the whole history
    check = measure(lambda: run_check(engine, settings, now=now, triggered_by="bench"), min(repeat, CHECK_REPEAT_MAX),
                    warmups=0)
    result["ours"]["check_run"] = check.as_dict()
    check_clock = [now]  # the check runs' `now`, a minute on for each run
    result["ours"]["check_full_changed"] = _check_runs_after_changes(engine, settings, check_clock, repeat,
                                                                     incremental=False).as_dict()
    result["ours"]["check_incremental"] = _check_runs_after_changes(engine, settings, check_clock, repeat,
                                                                    incremental=True).as_dict()
    result["ours"]["paired"] = _paired_reschedules(engine, today, PAIRED_ACTIONS).as_dict()
    result["pages"] = _page_runs(url, day, store, repeat)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux

    naive: dict[str, Callable[[], object]] = {
        "calendar": lambda: naive_calendar(engine, today.replace(day=1)),
        "day_all": lambda: naive_day(engine, day, None),
        "day_club": lambda: naive_day(engine, day, store),
        "types": lambda: naive_types(engine, *quarter),
        "unscheduled": lambda: naive_unscheduled(engine, now),
    }
    naive_repeat = max(1, min(repeat, 5))  # seconds each at 1M
    for key, function in naive.items():
        result["naive"][key] = measure(function, naive_repeat).as_dict()
    engine.dispose()
    return result


# --- the report -----------------------------------------------------------------------------------------------------

WHAT_WAS_DONE = """## What was done to get here (issue 8)

Found with `EXPLAIN QUERY PLAN`, cProfile and this benchmark, at 1,000,000 events on SQLite:

- **Unstaffed counts were a scan.** The Calendar's warning days, the Event type counts and the Unscheduled buckets
  counted Unstaffed events by due date on a covering index: about 100,000 index entries at 1M, so the cost grew with the
  data (Unscheduled 128 ms). Migration 0006 adds `dashboard_unstaffed_per_day` (due day, store, type), kept exact by
  triggers like `dashboard_scheduled_per_day` (migration 0002); the buckets read whole days from it and only today's
  own Unstaffed events, to split them at the current time. The reads are now index range scans over a bounded number
  of aggregate rows, whatever the size.
- **A national day was read whole.** The busiest day at 50 clubs holds about 5,400 scheduled events and 1,500
  Unstaffed ones; the Day view read and paired them all (451 ms) to draw thousands of cards nobody reads. Above 300
  events it now shows the day per club and type from the two aggregates (one index range each) and asks for a club;
  the CSV export still has every event.
- **One club's day scanned the national day.** The store filter was checked after reading each of the day's 5,400
  event rows. Migration 0006 adds covering indexes (schedules by time with event ref and employee; events by ref with
  location and store number): the club's ~150 schedules are picked out on the indexes before any row is read.
- **pandas probed every SQLAlchemy Row.** `pd.DataFrame(rows)` looks for namedtuple fields on each row, and each probe
  is a caught exception: 46 ms instead of 5 ms for 9,000 rows. Rows become plain tuples first (`rows_frame`).
- **The Calendar month was shaped with pivot/reindex** (more time than its two queries): it is summed per day in SQL
  and laid out in plain Python.
- **The store list grouped every event** (1 s at 1M, paid again after every write since reads are cached by data
  version): it is now one index seek per location id (a recursive CTE), 3 ms.
- **Pairing built its condition as expression objects**, which cost more than running it: it is SQL text with bound
  parameters.
- **A check run rewrote every open finding** (82,000 UPDATEs at 1M) to mark it seen: one set-based UPDATE now, and only
  findings whose detail changed are rewritten.
- **SQLite and concurrent actions:** the concurrency run found that a write transaction that read first failed at once
  with "database is locked" when another wrote meanwhile (a deferred BEGIN cannot upgrade its lock, and SQLite does not
  wait in that case). Write transactions now take the lock at `BEGIN IMMEDIATE` and wait for each other.
- **The check run's pairing pass worked on every event** (about 3 s of a 5.5 s run at 1M): a table scan, a pattern
  match on 700,000 names for the event number, 700,000 schedule seeks and a sort of 700,000 rows into (number, store)
  groups. Migration 0007 adds `dashboard_pair_members`: every CORE and Supervisor with its pairing key and latest
  schedule, kept exact by triggers on `events` and `schedules` (the key computed in SQL exactly as
  `event_rules.pairing_key` does; `tests/test_pair_members.py` checks the table against Python after every kind of
  write). Its covering index lists the members in key order, so the rules group them without a sort and without
  reading events or schedules: about 1 s for the pass at 1M.
- **Rule 10 pattern-matched every schedule's Crossmark id** (0.36 s at 1M for 4,500 hits): migration 0007 adds a
  partial index of exactly the schedules it reports (same condition), 0.04 s.
- **The history merge read every finding ever stored** for the run's rules, with its detail text: it reads the open
  ones and looks up resolved ones by identity only when they are reported again, so it does not slow down as the
  history grows. Findings and their views are named tuples (82,000 of each per run at 1M; a frozen dataclass costs 4x
  as much to make).
- **One club's day probed every event of the national day** (about 14 ms of SQL on SQLite and 25-36 ms on
  PostgreSQL at 1M): the store is on the event, so the day's 5,400 schedules were walked and each one's event looked
  up to test its store. A first fix split the store key on PostgreSQL into its two cases (a hash join of two
  index-only scans, 5 ms). Migration 0008 replaces it on both backends with `dashboard_schedule_stores`: every
  schedule with its event's store key and time, kept exact by triggers on `events` and `schedules`
  (`tests/test_schedule_stores.py` checks it against the base tables after every kind of write, an SQLite
  `INSERT OR REPLACE` included). The club's ~150 schedules of a day are one range of its (store, time) index: 0.9 ms
  of SQL on SQLite. The club's Unstaffed due come from a partial index on the store filter's own expression, instead of
  reading the day's 1,500 Unstaffed events nationally (PostgreSQL: 2.3 to 0.1 ms).
- **Supervisors were looked up by a hundred OR'd index ranges** (one per CORE, on location id and name prefix):
  PostgreSQL spent 2 ms planning it and 15 ms running it. The lookup now reads `dashboard_pair_members` by its key,
  one term per store with the event numbers as an IN list (2.5 ms on PostgreSQL, 0.7 ms on SQLite). Since that table
  holds the key exactly as `pairing_key` computes it, it also finds a Supervisor whose location id is only white space,
  which the old lookup missed.
- **The Day view spent more time in pandas than in SQL** (about 13 ms of 23 on one club's day): masks, column
  assignment and `astype` on frames of 150 rows. It now works on plain tuples and builds each frame once; the two
  per-day aggregate reads are one statement (every statement is a round trip on PostgreSQL).
- **A club known only by its store number lost its Supervisors in the Day view** (found by the test added for the
  split): the pairing lookup received pandas' NaN for the missing location id and looked for the store "nan". It now
  receives None.
- **The reported peak RSS was the benchmark's own.** At 1M it read 708 MB, all of it from choosing the 30 pairs for
  measure 6: the harness paired every CORE scheduled after tomorrow (150,000) at once. It now pages through COREs
  until it has its pairs: 290 MB.
- **A check run spent about a second in Python's cyclic garbage collector**: its hundreds of thousands of short-lived
  tuples set off full collections again and again. The run pauses the collector while it makes its findings and
  restores it afterwards, also on failure (`tests/test_quality_checks.py`); the findings hold no cycles, so reference
  counting frees them. Measured interleaved in one process: 4.7 s against 5.3 s.
- **The rules about people looked up the event of every schedule from today on** (issue 21: the whole check run
  went from 456 to 783 ms at 100k on SQLite when they came). Migration 0020 adds `dashboard_rep_bookings`: every
  schedule with its rep, day, start and its event's type, duration and condition, kept exact by triggers on `events`
  and `schedules` (`tests/test_rep_bookings.py`: random writes by the engine and by a raw driver connection). The
  rules read ranges of its (day, rep, start, ...) covering index, in the order a rep's day is judged (no sort), and
  read an event only for a finding. Full stored check run at 100k, medians of 9 interleaved in one run on a loaded
  2-core machine (load 6-14; absolute times about twice the quiet ones), before the rules (8aa428c) / with them
  (f4c71af) / with the table: SQLite 941 / 1577 / 1143 ms, PostgreSQL 1756 / 2356 / 2108 ms. What is left is mostly
  the rules' own work (about 35,000 bookings from today grouped per rep and day, each rep's activity and title
  tested) and storing the 423 unreported-work findings the demo data has. A paired reschedule, 30 interleaved:
  SQLite 82 ms before, 87 ms after; PostgreSQL 231 / 219 ms: the triggers' write cost is within the noise.
- **Ratios were measured minutes apart.** This shared machine's speed drifts by up to 2x within minutes (the same code
  and database gave the Calendar 4.1, 8.4 and 11.0 ms in three runs), so ours/(b) and PostgreSQL/SQLite, timed one
  after the other, measured the drift as much as the code. Both are now timed interleaved, one run of each per round:
  ours with its bare SQL, and reads 1-4 on both 1M databases in one process (the side-by-side table).
- **A page's rerun asked again for what had not changed** (issue 22, measure 7). Each cached read first read the
  data version (three to five times a page), the switches were read fresh, Streamlit hashed each read's arguments (a
  date and an EventFilter: ~0.25 ms a read) and the Store list's labels and numbers were rebuilt from its frame. The
  version is now read once per run (again after a commit in the same process), the switches and the Store list are
  cached by it (a switch change bumps it) and a read's cache key is its arguments' text: a warm rerun sends two
  statements, the version and the signed-in account (`tests/test_app_rerun_cost.py`). Each run also rebuilt what only
  a new version changes: the Calendar's month grid (colours and links, ~4 ms), the Day view's table rows (`iterrows`
  and `to_dict("records")` over a busy club's ~150 events: ~5-10 ms) and its CSV (encoded on every run; now when the
  download is asked for), Unscheduled's totals (a pandas groupby) and its 500 day links (one `page_url` each); and
  twelve `st.Page` objects (a path resolved on disk each). The grid and the table rows are made once per version and
  arguments (`reads.derived`), the rest in plain Python or once per process. At 1M, interleaved before/after runs of
  `--pages`: Calendar 58.6 → 42.8 ms cold, 34.5 → 20.1 ms warm; Day view (one club) 97.8 → 51.9 / 70.9 → 24.9 ms;
  Unscheduled 74.2 → 53.6 / 40.2 → 20.9 ms, against a floor of 2.4-2.7 ms.
- **An incremental check run on PostgreSQL sent a statement per store and OR'd terms per day** (issue 22, measure
  5: 379 ms at 1M against 300). It looked up the open findings of its pairing keys one store at a time (50 of its 93
  statements), with the rule in the SQL: on a findings table whose statistics predate the findings (autovacuum is off
  here, and the benchmark's ANALYZE runs before the first check run) PostgreSQL read every finding of the rules
  instead of seeking the keys. The reps' days were one OR'd term per day, twice in the double-booking statement: 65 ms
  of planning for 70 days. The pairing keys, 635 of them, went as 1,300 bound parameters in three statements, which
  psycopg parses on every execution. Now each pairing key and rep's day is one seek (`scope.seek_each`), driven on
  PostgreSQL by arrays unnested and joined LATERAL (OFFSET 0 keeps the planner from turning the seeks into a hash join
  over the table) and on SQLite by one JSON list (`json_each`; a VALUES list of named parameters cost more in
  SQLAlchemy's compiler than the seeks); the double-booking and pairing passes select the scope's rows by the ids
  those seeks find; lists of refs and identities are one array parameter each on PostgreSQL (`scope.any_of`). 44-48
  statements a run instead of 93-98. SQLite is also told to read a rule's open findings from the partial index of
  open findings (it chose the index on `resolved_at`: every open finding). Interleaved old/new runs, one of each per
  round, 21 rounds, at load 4-5 on this 2-core machine: PostgreSQL 428 → 289 ms (0.68×; per-round ratio 0.59),
  SQLite 527 → 340 ms (0.64×).

- **Cold reads at 1M summed or looked up more rows than the page shows** (issue 22). The Unscheduled buckets summed
  every club's row of each day on one side of today (about 14,000 at 1M) and counted every event due today to split
  it at the current time: 1M÷10k 2.25× (SQLite), 1.63× (PostgreSQL). Migration 0022 adds
  `dashboard_unstaffed_per_day_all_stores` (Unstaffed per due day and type, every club together, kept by triggers):
  without a store filter the days are summed from it, with one from that club's rows by a new (store, day) index, and
  of today's events only those due before now are read. Interleaved in one process: SQLite 21.2 → 8.5 ms at 1M,
  1M÷10k 0.96×; PostgreSQL 33.0 → 21.6 ms, 1M÷10k 1.07×. The Calendar's month summed ~9,300 rows of the scheduled
  aggregate by a table lookup each and a sort; a covering index in GROUP BY order (day, type, count) makes its SQL
  1.2 ms instead of 11.3 ms at 1M on SQLite (month_calendar on PostgreSQL 23.5 → 11.8 ms). The Unscheduled listing
  of one bucket tested the urgency CASE on every Unstaffed event due before it; it is now a range of due times
  ("Due within 3 days" at 1M: 251 → 44 ms). These were measured on a machine at load 7-12 (other work running).

- **A full check run re-derived pairs and states that had not changed** (issue 22). It grouped all 700,000 pairing
  members into 350,000 keys and scanned every event for the schedule-state rule on every run. Migration 0023 adds
  `dashboard_pair_keys` (each key's refs, schedules and what can be judged without the supervisor time rule, grouped
  again by triggers when a member changes; the same-day pairs indexed by gap and Supervisor time, since the rule time
  is a setting) and `dashboard_state_drift` (the drifting events, kept by triggers on `events` and `schedules`):
  the rules read the 41,500 judged keys, the same-day pairs off the rule time and 6,119 events. On PostgreSQL the rules
  about people hash-joined scans of every booking (and of all 1,000,000 events) where seeks find a handful, and its
  JIT then compiled the statement for 2.8 s: LATERAL seeks it cannot flatten, the events read by ref afterwards, no
  JIT in the rules' transaction. Full stored run at 1M, before/after interleaved, 6 runs each, load 2: SQLite 3,944
  -> 3,073 ms, PostgreSQL 5,397 -> 2,446 ms. A write transaction moving a schedule or flipping a condition at 100k on
  SQLite: 2.7 -> 3.6 ms with the new triggers.
- **A full check run then still rebuilt and compared 87,000 findings that had not changed** (issue 22): reading the
  open findings back and comparing them one by one was a third of the run. Migration 0025 splits each rule's findings
  into 256 cells by a CRC-32 of their identity and stores a fingerprint per cell (the number of open findings and a
  BLAKE2 digest of their identities and everything a run would rewrite, `dashboard_rule_fingerprints`, kept honest by
  triggers on `dashboard_findings`): a full run reads back and merges only the cells whose fingerprint differs. The
  steps that are nearly all database work (reps' bookings, schedule state, schedule ids, unreported work) run on a
  second connection in a thread while the pairing rules build their findings in Python; the duplicated pairing keys'
  members are one statement; the pairing loop makes each schedule moment's text once; findings are no longer sorted
  before the merge keys them by identity. Full stored run at 1M, nothing changed, 13bd293 against this interleaved
  (3 rounds of 3 runs, load about 2 from other work): SQLite 2,994 -> 1,775 ms, PostgreSQL 2,772 -> 1,632 ms.

Still missed (the **no** rows above, if any), and why:

- **Measure 7's aims (cold ≤ 2×, warm ≤ 1.5× the floor) are out of reach under AppTest.** The report now shows the
  app's frame around a one-line page (`bench/frame_floor_page.py`) beside the pages: on its own it is 5-8× the floor,
  warm, so no page of this app can meet the warm aim under AppTest whatever its content. Measured as the script
  thread's CPU time (less hurt by the machine's load than wall time), medians of 9 at 1M on SQLite: floor 0.9 ms,
  frame 8.6 ms, Calendar 14.5 ms warm / 38.6 ms cold, Day view (one club) 21.0 / 50.3 ms, Unscheduled 18.7 / 48.2 ms.
  The floor, one `st.write`, runs in 2-4 ms. Before any page content, a run of the app costs several times that:
  AppTest compiles `app.py` and the page on every run (it keeps no script cache; ~2 ms), the sign-in check's cookie
  lookup goes through AppTest's mocked runtime (~3 ms, nothing in production), the account and the data version are
  two round trips (~1.5 ms), and the frame (two `set_page_config`, the navigation, the sidebar's six elements) and
  each of the page's 30-40 elements cost ~0.2 ms apiece in Streamlit. Cold adds the page's reads at 1M (now, SQL alone
  on SQLite): the Calendar's month (~2 ms) and Store list (~6 ms with its labels), the Unscheduled buckets (~8 ms) and
  listing (~10-25 ms: 500 rows looked up), one club's day (~8 ms), and what the page builds from them once per version
  (the month grid, the day's table).
- **The Calendar month within 1.5x of its bare SQL** (issue 8's target): about 2x. Migration 0022's covering index made
  the Calendar's SQL several times faster (1.5 ms at 1M on SQLite); what the Calendar adds, about 1.5 ms of Python
  building the month's frame, did not shrink with it, so the ratio rose while the Calendar got faster.
- **Near their limits**, and can tip with this shared machine's load: the paired reschedule on PostgreSQL (≤ 20 ms;
  17.6 ms median here with a p95 of 24.6 ms, 18.9 ms in a quiet interleaved run, 28.8 ms at load 3-4) and the full
  check runs (1.5-1.8 s against 2 s).
- **Growth from 10k to 1M for 1-4**, within every target: the Calendar, the type counts and the Unscheduled buckets
  read ranges of the per-day aggregates, whose rows grow with the data until every (day, club, type) has events, and
  the Unscheduled buckets also read today's own Unstaffed events (about 1,500 at 1M) to split them at the current
  time. None of them grows with the length of the history any more: the "Past due" bucket summed every past day of
  the Unstaffed aggregate; it is now the all-days total per club and type (migration 0009,
  `dashboard_unstaffed_totals`, kept by triggers) minus the days from today on, one range of the aggregate.
- **The check run grows linearly** (10x per 10x from 100k to 1M): its cost is the number of events and findings
  (87,000 at 1M, from the demo generator's anomaly rates), not a missing index. Its largest part at 1M is Python:
  making the 87,000 findings (about 0.6 s) and fingerprinting them (about 0.3 s of CPU).
"""

def _machine() -> dict:
    memory_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal:")), 0) if Path("/proc/meminfo").exists() else 0
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    import sqlite3

    libraries = {name: version(name) for name in ("streamlit", "pandas", "SQLAlchemy", "psycopg", "numpy")}
    return {"cpus": os.cpu_count(), "memory_gib": memory_kb / 1024 / 1024, "cpu": cpu,
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version, **libraries}


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def _ratio(ours: float, other: float | None) -> str:
    return "—" if not other else f"{ours / other:.2f}×"


def render(results: list[dict], machine: dict, repeat: int, postgres_version: str | None,
           side_by_side: dict | None = None) -> str:
    lines = ["# Benchmarks", "",
             f"Generated by `python -m bench.run` on {date.today():%Y-%m-%d}: {machine['cpus']} CPUs ({machine['cpu']}), "
             f"{machine['memory_gib']:.1f} GiB memory; Python {machine['python']}, SQLite {machine['sqlite']}"
             + (f", PostgreSQL {postgres_version}" if postgres_version else "")
             + f"; streamlit {machine['streamlit']}, pandas {machine['pandas']}, numpy {machine['numpy']}, "
               f"SQLAlchemy {machine['SQLAlchemy']}, psycopg {machine['psycopg']}.", "",
             f"Median and p95 in milliseconds over {repeat} runs after a warm-up (naive pandas: at most 5 runs; check "
             f"run: at most {CHECK_REPEAT_MAX}). Demo data: {STORES} clubs, {MONTHS} months around today. "
             "**(a)** reads the rows into pandas and groups there; **(b)** runs the SQL our function sends, through the "
             "driver's cursor, with no SQLAlchemy, pandas or app code. ours/(a) below 1 means ours is faster.", ""]
    for result in results:
        ours, naive, bare = result["ours"], result["naive"], result["bare"]
        title = "SQLite" if result["backend"] == "sqlite" else "PostgreSQL"
        lines += [f"## {result['events']:,} events, {title}", "",
                  f"Busy day: {result['busy_day']} (all clubs {'listed' if result['day_all_listed'] else 'over the listing limit: per-club counts'}); "
                  f"club {result['club']}. Peak RSS of the process doing 1–7: **{result['peak_rss_mb']:.0f} MB**.", "",
                  "| measure | ours median | ours p95 | (a) naive pandas | (b) bare SQL | ours/(a) | ours/(b) |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for key, label, _ in READS:
            mine = ours[key]["median_ms"]
            lines.append(f"| {label} | {_ms(mine)} | {_ms(ours[key]['p95_ms'])} | {_ms(naive[key]['median_ms'])} | "
                         f"{_ms(bare[key]['median_ms'])} | {_ratio(mine, naive[key]['median_ms'])} | "
                         f"{_ratio(mine, bare[key]['median_ms'])} |")
        for key, label, _ in OTHERS:
            if key in ours:  # a report rendered from results saved before the measure existed lacks it
                lines.append(f"| {label} | {_ms(ours[key]['median_ms'])} | {_ms(ours[key]['p95_ms'])} | | | | |")
        lines.append("")
        lines += _page_table(result)
    lines += _scaling(results)
    lines += _side_by_side(side_by_side)
    lines += _targets(results, side_by_side)
    lines += [WHAT_WAS_DONE]
    return "\n".join(lines) + "\n"


def _page_table(result: dict) -> list[str]:
    """Measure 7 of one (database, size): each page cold and warm beside the floor, and their ratios to it."""
    pages = result.get("pages")
    if not pages:  # results saved before measure 7 had a floor
        return []
    floor = pages["floor"]["median_ms"]
    lines = [f"7. Whole page runs under AppTest, interleaved with the floor (a one-line Streamlit page run the same "
             f"way): **{_ms(floor)} ms** median (p95 {_ms(pages['floor']['p95_ms'])}). Cold: right after a write "
             "(the data version bumped); warm: after a run of the same page. Aims: cold ≤ "
             f"{PAGE_AIMS['cold']:g}×, warm ≤ {PAGE_AIMS['warm']:g}× the floor.", "",
             "| 7. page run | cold median | cold p95 | warm median | warm p95 | cold ÷ floor | warm ÷ floor |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for key, label in [*PAGES, FRAME]:
        if key not in pages:  # results saved before the frame was measured
            continue
        cold, warm = pages[key]["cold"], pages[key]["warm"]
        lines.append(f"| {label} | {_ms(cold['median_ms'])} | {_ms(cold['p95_ms'])} | {_ms(warm['median_ms'])} | "
                     f"{_ms(warm['p95_ms'])} | {_ratio(cold['median_ms'], floor)} | {_ratio(warm['median_ms'], floor)} |")
    if FRAME[0] in pages:
        frame, compiled = pages[FRAME[0]], pages.get("compile", {})
        lines += ["", "Where a page's run goes (medians, ms): the floor; the frame above it (the app's sign-in check, "
                  "navigation, switches and sidebar, AppTest's compiling of dashboard/app.py); the page's own part "
                  "above the frame (its script, reads and elements). Of these, AppTest compiles dashboard/app.py "
                  f"({_ms(compiled.get('app'))} ms) and the page's script on every run, which a served app does not "
                  "(its script cache keeps the bytecode).", "",
                  "| 7. page run | floor | frame | page's own | frame ÷ floor | AppTest's compile of app + page |",
                  "|---|---:|---:|---:|---:|---:|"]
        for key, label in PAGES:
            for kind in ("cold", "warm"):
                own = pages[key][kind]["median_ms"] - frame[kind]["median_ms"]
                compile_ms = (compiled["app"] + compiled[key]) if key in compiled and "app" in compiled else None
                lines.append(f"| {label}, {kind} | {_ms(floor)} | {_ms(frame[kind]['median_ms'] - floor)} | "
                             f"{_ms(own)} | {_ratio(frame[kind]['median_ms'], floor)} | {_ms(compile_ms)} |")
    return lines + [""]


def _page_aims(result: dict) -> list[tuple[str, str, bool]]:
    """The target rows of measure 7: each page, cold and warm, as a ratio to the floor of the same run."""
    pages = result.get("pages")
    if not pages:
        return []
    floor = pages["floor"]["median_ms"]
    rows = []
    for key, label in PAGES:
        for kind, aim in PAGE_AIMS.items():
            value = pages[key][kind]["median_ms"]
            rows.append((f"7. {label} page run, {kind}, ≤ {aim:g}× the floor ({_ms(floor)} ms)",
                         f"{_ms(value)} ms = {value / floor:.2f}×", value <= aim * floor))
    return rows


def _scaling(results: list[dict]) -> list[str]:
    sizes = sorted({r["events"] for r in results})
    if len(sizes) < 2:
        return []
    lines = ["## Cost against size (ours, median ms)", "",
             "| measure | " + " | ".join(f"{s:,} {b}" for b in ("SQLite", "PostgreSQL") for s in sizes
                                          if any(r["events"] == s and r["backend"] == _backend(b) for r in results))
             + " | 1M÷10k SQLite |", "|---|" + "---:|" * (sum(1 for _ in results) + 1)]
    order = sorted(results, key=lambda r: (r["backend"] != "sqlite", r["events"]))
    sqlite = {r["events"]: r for r in results if r["backend"] == "sqlite"}
    for key, label, _ in READS + OTHERS[:3]:
        if any(key not in r["ours"] for r in order):
            continue
        growth = (f"{sqlite[sizes[-1]]['ours'][key]['median_ms'] / sqlite[sizes[0]]['ours'][key]['median_ms']:.1f}×"
                  if sizes[0] in sqlite and sizes[-1] in sqlite else "—")
        lines.append(f"| {label} | " + " | ".join(_ms(r["ours"][key]["median_ms"]) for r in order) + f" | {growth} |")
    lines.append("| Peak RSS, MB | " + " | ".join(f"{r['peak_rss_mb']:.0f}" for r in order) + " | |")
    return lines + [""]


def _side_by_side(side_by_side: dict | None) -> list[str]:
    if not side_by_side:
        return []
    lines = [f"## PostgreSQL and SQLite side by side, {side_by_side['events']:,} events", "",
             "Reads 1–4 on both databases in one process, one run of each per round, so that the ratio is taken under "
             "the same machine load (median ms).", "",
             "| measure | SQLite | PostgreSQL | PostgreSQL/SQLite |", "|---|---:|---:|---:|"]
    for key, label, _ in READS:
        sqlite, postgres = (side_by_side["reads"][key][backend]["median_ms"] for backend in ("sqlite", "postgresql"))
        lines.append(f"| {label} | {_ms(sqlite)} | {_ms(postgres)} | {postgres / sqlite:.2f}× |")
    return lines + [""]


def _backend(title: str) -> str:
    return "sqlite" if title == "SQLite" else "postgresql"


def _targets(results: list[dict], side_by_side: dict | None = None) -> list[str]:
    largest = max(r["events"] for r in results)
    sqlite = next((r for r in results if r["backend"] == "sqlite" and r["events"] == largest), None)
    if sqlite is None:
        return []
    postgres = next((r for r in results if r["backend"] == "postgresql" and r["events"] == largest), None)
    ours = sqlite["ours"]
    rows = []
    for key, label, target in READS + OTHERS:
        if target is not None and key in ours:
            value = ours[key]["median_ms"]
            rows.append((f"{label} ≤ {target:,} ms", _ms(value), value <= target))
    for key, label, target in OTHERS:  # the check runs' targets hold on PostgreSQL too (issue 22)
        if target is not None and postgres is not None and key in postgres["ours"]:
            value = postgres["ours"][key]["median_ms"]
            rows.append((f"{label} ≤ {target:,} ms, PostgreSQL", _ms(value), value <= target))
    calendar = ours["calendar"]["median_ms"]
    speedup = sqlite["naive"]["calendar"]["median_ms"] / calendar
    rows.append(("Calendar month ≥ 20× faster than (a)", f"{speedup:.0f}×", speedup >= 20))
    overhead = calendar / sqlite["bare"]["calendar"]["median_ms"]
    rows.append(("Calendar month within 1.5× of (b)", f"{overhead:.2f}×", overhead <= 1.5))
    rows.append(("Peak RSS ≤ 600 MB", f"{sqlite['peak_rss_mb']:.0f} MB", sqlite["peak_rss_mb"] <= 600))
    rows += _page_aims(sqlite)
    if side_by_side is not None and side_by_side["events"] == largest:
        for key, label, _ in READS:
            both = side_by_side["reads"][key]
            ratio = both["postgresql"]["median_ms"] / both["sqlite"]["median_ms"]
            rows.append((f"PostgreSQL within 2× of SQLite (side by side): {label}", f"{ratio:.2f}×", ratio <= 2))
    elif postgres is not None:  # a report rendered from a run without the side-by-side measurement
        for key, label, _ in READS:
            ratio = postgres["ours"][key]["median_ms"] / ours[key]["median_ms"]
            rows.append((f"PostgreSQL within 2× of SQLite: {label}", f"{ratio:.2f}×", ratio <= 2))
    return ([f"## Targets at {largest:,} events (SQLite unless named)", "", "| target | measured | met |", "|---|---:|---|"]
            + [f"| {label} | {value} | {'yes' if met else '**no**'} |" for label, value, met in rows] + [""])


def _postgres_version(url: str | None) -> str | None:
    if not url:
        return None
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text("SHOW server_version")).scalar_one()
    engine.dispose()
    return str(value)


def _section(title: str, module_args: list[str]) -> str:
    """A report section from another benchmark module run in its own process (`python -m MODULE ...`)."""
    print(module_args[0], flush=True)
    child = subprocess.run([sys.executable, "-m", *module_args], cwd=ROOT, capture_output=True, text=True)
    if child.returncode != 0:
        print(child.stderr[-6000:], file=sys.stderr)
        raise SystemExit(f"the {module_args[0]} run failed (exit {child.returncode})")
    return f"\n## {title}\n" + child.stdout.strip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated event counts")
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may hold bench_<N> schemas")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-concurrency", action="store_true",
                        help="skip the concurrency runs (python -m bench.concurrency) at the end")
    parser.add_argument("--no-bulk-load", action="store_true",
                        help="skip the bulk-load run (python -m bench.bulk_load) at the end")
    parser.add_argument("--no-sandbox-cli", action="store_true",
                        help="skip the CLI reschedules on the sandbox at the smallest and largest size "
                             "(python -m bench.sandbox_cli) at the end")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="write the report again from a previous run's results (saved next to --out as .json)")
    parser.add_argument("--pages", nargs=2, metavar=("BACKEND", "EVENTS"),
                        help="measure 7 alone (the page runs against the floor) on the database of EVENTS events, "
                             "and print its table; it writes to that database (each cold run bumps the data version)")
    parser.add_argument("--measure", nargs=2, metavar=("BACKEND", "EVENTS"), help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=2, metavar=("BACKEND", "EVENTS"), help=argparse.SUPPRESS)
    parser.add_argument("--side-by-side", type=int, metavar="EVENTS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:
        build(args.build[0], int(args.build[1]), args.data_dir, args.postgres)
        return 0
    if args.measure:
        print(json.dumps(measure_one(args.measure[0], int(args.measure[1]), args.data_dir, args.postgres,
                                     args.repeat)))
        return 0
    if args.pages:
        backend, events = args.pages[0], int(args.pages[1])
        url = database_url(backend, events, args.data_dir, args.postgres)
        engine = create_engine(url)
        ensure_bench_user(engine)
        day, store = _busiest(engine, date.today())
        engine.dispose()
        pages = _page_runs(url, day, store, args.repeat)
        print("\n".join(_page_table({"pages": pages}) + [f"Day view: {day}, club {store}; {args.repeat} rounds."]))
        return 0
    if args.side_by_side:
        print(json.dumps(measure_side_by_side(args.side_by_side, args.data_dir, args.postgres, args.repeat)))
        return 0
    if args.render:
        saved = json.loads(args.render.read_text())
        report = render(saved["results"], saved["machine"], saved["repeat"], saved["postgres"],
                        saved.get("side_by_side")) + saved["concurrency"] + saved.get("sandbox_cli", "") + saved.get("bulk_load", "")
        args.out.write_text(report)
        print(report)
        return 0
    try:
        sizes = [int(size.replace("_", "")) for size in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes must be comma-separated whole numbers, not {args.sizes!r}")
    if any(size < 1000 for size in sizes) or args.repeat < 1:
        parser.error("each size must be at least 1000 events and --repeat at least 1")
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    results = []
    for backend in backends:
        for size in sizes:
            common = ["--data-dir", str(args.data_dir), "--repeat", str(args.repeat)]
            common += ["--postgres", args.postgres] if args.postgres else []
            print(f"{backend}, {size:,} events", flush=True)
            subprocess.run([sys.executable, "-m", "bench.run", "--build", backend, str(size), *common], cwd=ROOT,
                           check=True)
            child = subprocess.run([sys.executable, "-m", "bench.run", "--measure", backend, str(size), *common],
                                   cwd=ROOT, capture_output=True, text=True)
            if child.returncode != 0:
                print(child.stderr[-6000:], file=sys.stderr)
                raise SystemExit(f"measuring {backend} at {size:,} events failed (exit {child.returncode})")
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    side_by_side = None
    if args.postgres:
        print(f"side by side, {max(sizes):,} events", flush=True)
        child = subprocess.run([sys.executable, "-m", "bench.run", "--side-by-side", str(max(sizes)), "--data-dir",
                                str(args.data_dir), "--repeat", str(args.repeat), "--postgres", args.postgres],
                               cwd=ROOT, capture_output=True, text=True)
        if child.returncode != 0:
            print(child.stderr[-6000:], file=sys.stderr)
            raise SystemExit(f"the side-by-side run failed (exit {child.returncode})")
        side_by_side = json.loads(child.stdout.strip().splitlines()[-1])
    machine, postgres_version = _machine(), _postgres_version(args.postgres)
    postgres_option = ["--postgres", args.postgres] if args.postgres else []
    concurrency_report = "" if args.no_concurrency else _section(
        "Concurrency (`python -m bench.concurrency`)", ["bench.concurrency", "--sqlite", *postgres_option])
    sandbox_cli_report = "" if args.no_sandbox_cli or len(sizes) < 2 else _section(
        "The CLI on the sandbox (`python -m bench.sandbox_cli`)",
        ["bench.sandbox_cli", "--sizes", f"{min(sizes)},{max(sizes)}", "--data-dir", str(args.data_dir)])
    bulk_load_report = "" if args.no_bulk_load else _section(
        "Bulk load and the data-version triggers (`python -m bench.bulk_load`)", ["bench.bulk_load", *postgres_option])
    report = render(results, machine, args.repeat, postgres_version, side_by_side) + concurrency_report + \
        sandbox_cli_report + bulk_load_report
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"results": results, "machine": machine, "repeat": args.repeat, "postgres": postgres_version,
         "side_by_side": side_by_side, "concurrency": concurrency_report, "sandbox_cli": sandbox_cli_report,
         "bulk_load": bulk_load_report}, indent=1))
    args.out.write_text(report)
    print(report)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
