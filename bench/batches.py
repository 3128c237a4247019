"""Benchmark: a batch's own overhead per item (issue 20: aim ≤ 30 ms on SQLite and PostgreSQL), against a zero-latency
Crossmark (the in-process simulator), side by side with single reassigns in the same run.

A rep holding N events (15 minutes each, spread over the days ahead) is out: `batch rep-out --reassign-to` gives every
one to another rep — N operations, each planned (rep rules, the rep's day), written and committed as a single action is.

    .venv/bin/python -m bench.batches [--items 200] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import insert

from bench.databases import on_each_database
from services.actions.batches import Batches, RepOutMode
from services.actions.paired_actions import PairedActions
from services.crossmark.client import make_crossmark_client
from services.crossmark.sandbox import simulator_from_database
from services.demo.demo_data import seed_demo_data
from services.settings import load_settings
from services.store.database import begin_write, make_engine
from services.store.schema_admin import upgrade_database
from services.store.tables import Employee, Event, Schedule

OUT, COVER = "BENCHOUT", "BENCHCOVER"
PER_DAY = 5


def _held_events(engine, today: date, count: int) -> tuple[date, date]:  # noqa: ANN001 - Engine
    """`count` Other events held by the rep who is out, PER_DAY a day from the day after tomorrow; the days spanned."""
    first = today + timedelta(days=2)
    with begin_write(engine) as connection:
        connection.execute(insert(Employee), [
            {"id": OUT, "name": "Bench Out", "job_title": "Event Specialist", "is_active": True,
             "external_id": "990001"},
            {"id": COVER, "name": "Bench Cover", "job_title": "Event Specialist", "is_active": True,
             "external_id": "990002"}])
        rows, schedules = [], []
        for n in range(count):
            ref = 9_000_001 + n
            day = first + timedelta(days=n // PER_DAY)
            window = datetime.combine(day, datetime.min.time())
            rows.append({"project_name": f"{ref}-Other-Bench item {n}", "project_ref_num": ref,
                         "location_mvid": "990", "store_number": 990, "store_name": "Bench club",
                         "start_datetime": window, "due_datetime": window + timedelta(hours=23, minutes=59),
                         "estimated_time": 15, "is_scheduled": True, "event_type": "Other", "condition": "Scheduled",
                         "external_id": f"99{ref}"})
            schedules.append({"event_ref_num": ref, "employee_id": OUT, "external_id": f"98{ref}",
                              "schedule_datetime": window + timedelta(hours=9, minutes=30 * (n % PER_DAY))})
        connection.execute(insert(Event), rows)
        connection.execute(insert(Schedule), schedules)
    return first, first + timedelta(days=(count - 1) // PER_DAY)


def run(url: str, items: int) -> tuple[float, float, int, int]:
    """(ms per batch item, median ms of a single reassign, items done, singles done)."""
    upgrade_database(url, confirmed=True)
    engine = make_engine(url)
    today = date.today()
    seed_demo_data(engine, events=4000, stores=5, start=today - timedelta(days=10), months=2, today=today)
    first, last = _held_events(engine, today, items)
    settings = load_settings({})
    simulator = simulator_from_database(engine, settings.crossmark_timezone)
    actions = PairedActions(engine, lambda: make_crossmark_client(settings, simulator=simulator))
    started = time.perf_counter()
    report = Batches(actions, max_items=items).rep_out(OUT, first, last, RepOutMode.REASSIGN_TO, "bench",
                                                       reassign_to=COVER)
    per_item = (time.perf_counter() - started) * 1000 / max(len(report.items), 1)
    done = sum(1 for outcome in report.items if outcome.status == "done")
    singles: list[float] = []
    singles_done = 0
    for outcome in report.items[: min(50, len(report.items))]:  # the same kind of action one at a time, back again
        started = time.perf_counter()
        result = actions.reassign(outcome.item.ref, OUT, "bench", key=uuid.uuid4().hex)
        singles.append((time.perf_counter() - started) * 1000)
        singles_done += result.status == "done"
    engine.dispose()
    return per_item, statistics.median(singles) if singles else 0.0, done, singles_done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be used (a schema is created)")
    args = parser.parse_args()
    rows = on_each_database(lambda url: run(url, args.items), args.postgres)
    print(f"\nBatch rep-out --reassign-to, {args.items} items, zero-latency in-process Crossmark (aim: ≤ 30 ms an item)\n")
    print("| database | ms per batch item | median ms, single reassign | ratio | items done | singles done |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, per_item, single, done, singles_done in rows:
        ratio = per_item / single if single else float("nan")
        print(f"| {name} | {per_item:.1f} | {single:.1f} | {ratio:.2f} | {done} | {singles_done} |")


if __name__ == "__main__":
    main()
