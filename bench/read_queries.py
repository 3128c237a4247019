"""Benchmark of the read side: the pages' queries on a large demo database (median and p95 of repeated runs).

    .venv/bin/python -m bench.read_queries --events 1000000 [--db PATH] [--repeat 15]

Builds the database with the demo generator the first time (kept under data/bench-<N>.db, reused afterwards).
"""
from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable

from sqlalchemy import func, select

from services.database import make_engine
from services.demo_data import seed_demo_data
from services.read_queries import (
    EventFilter, day_view, month_calendar, scheduled_per_day, type_counts, unscheduled_buckets,
)
from services.schema_admin import upgrade_database
from services.tables import Event

ROOT = Path(__file__).resolve().parent.parent


def _months_back(today: date, months: int) -> date:
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def build(path: Path, events: int, stores: int, today: date) -> None:
    url = f"sqlite:///{path}"
    upgrade_database(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        existing = connection.execute(select(func.count()).select_from(Event)).scalar_one()
    if existing == 0:
        started = time.perf_counter()
        seed_demo_data(engine, events=events, stores=stores, start=_months_back(today, 2), months=5, today=today,
                       progress=lambda done, total: print(f"\r  seeding {done:,}/{total:,}", end="", flush=True))
        print(f"\n  seeded {events:,} events in {time.perf_counter() - started:.1f} s")
    engine.dispose()


def measure(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    function()  # warm-up: caches of the database and the OS
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]


def bench_database(description: str, repeat: int) -> tuple[argparse.Namespace, Path, date]:
    """The benchmarks' shared options (--events, --stores, --db, --repeat) and their database, built once and reused."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--repeat", type=int, default=repeat)
    args = parser.parse_args()
    today = date.today()
    path = args.db or ROOT / "data" / f"bench-{args.events}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    build(path, args.events, args.stores, today)
    upgrade_database(f"sqlite:///{path}")  # a database built by an older version gets the current schema
    return args, path, today


def main() -> None:
    args, path, today = bench_database(__doc__, repeat=15)
    engine = make_engine(f"sqlite:///{path}")
    now = datetime.combine(today, datetime.min.time()) + timedelta(hours=10)
    busiest = scheduled_per_day(engine, today, today + timedelta(days=7)).groupby("day")["count"].sum().idxmax()
    cases = {
        "Calendar month (counts by day and type + warning days)": lambda: month_calendar(engine, today),
        "Calendar month, Core only": lambda: month_calendar(engine, today, EventFilter(event_types=("Core",))),
        f"Day view ({busiest})": lambda: day_view(engine, busiest),
        "Event type counts, a quarter, per week": lambda: type_counts(engine, today - timedelta(days=45),
                                                                     today + timedelta(days=45), "week"),
        "Unscheduled buckets": lambda: unscheduled_buckets(engine, now),
    }
    print(f"\n{args.events:,} events, SQLite, median / p95 of {args.repeat} runs after a warm-up\n")
    print("| query | median ms | p95 ms |\n|---|---:|---:|")
    for name, function in cases.items():
        median, p95 = measure(function, args.repeat)
        print(f"| {name} | {median:.1f} | {p95:.1f} |")
    engine.dispose()


if __name__ == "__main__":
    main()
