"""Benchmark: the service's own overhead for a paired reschedule (CORE + Supervisor) against a zero-latency Crossmark
(the in-process simulator), median and p95 over N actions, on SQLite and optionally PostgreSQL.

    .venv/bin/python -m bench.paired_actions [--actions 200] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]
"""
from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import text

from bench.databases import on_each_database
from services.crossmark.client import make_crossmark_client
from services.crossmark.sandbox import simulator_from_database
from services.store.database import make_engine
from services.demo.demo_data import seed_demo_data
from services.actions.paired_actions import PairedActions
from services.domain.pairing import SUPERVISOR_SCHEDULED
from services.reads.pairing import supervisors_for_cores
from services.store.schema_admin import upgrade_database
from services.settings import load_settings


def _pairs(engine, today: date, wanted: int) -> list[tuple[int, datetime]]:  # noqa: ANN001
    """The first `wanted` COREs (by ref) scheduled from the day after tomorrow whose Supervisor is scheduled too, read
    a page of COREs at a time: at 1,000,000 events pairing every such CORE at once held half a gigabyte."""
    page = max(wanted * 4, 100)
    chosen: list[tuple[int, datetime]] = []
    after_ref = None
    with engine.connect() as connection:
        while len(chosen) < wanted:
            cores = connection.execute(text(
                "SELECT e.project_ref_num, e.project_name, e.location_mvid, e.store_number, s.schedule_datetime "
                "FROM events e JOIN schedules s ON s.event_ref_num = e.project_ref_num "
                "WHERE e.event_type = 'Core' AND s.schedule_datetime > :after AND e.due_datetime > :later "
                "AND e.project_ref_num > :after_ref ORDER BY e.project_ref_num LIMIT :page"),
                {"after": datetime.combine(today + timedelta(days=2), datetime.min.time()),
                 "later": datetime.combine(today + timedelta(days=3), datetime.min.time()),
                 "after_ref": -1 if after_ref is None else after_ref, "page": page}).all()
            if not cores:
                break
            matches = supervisors_for_cores(connection, [(r[0], r[1], r[2], r[3]) for r in cores])
            for ref, *_, when in cores:
                when = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
                if matches[ref].state == SUPERVISOR_SCHEDULED and len(chosen) < wanted:
                    chosen.append((ref, when))
            after_ref = cores[-1][0]
    return chosen


def run(url: str, actions_count: int) -> tuple[float, float, int]:
    upgrade_database(url, confirmed=True)
    engine = make_engine(url)
    today = date.today()
    seed_demo_data(engine, events=max(4000, actions_count * 12), stores=5, start=today - timedelta(days=10), months=2,
                   today=today)
    settings = load_settings({})
    simulator = simulator_from_database(engine, settings.crossmark_timezone)
    service = PairedActions(engine, lambda: make_crossmark_client(settings, simulator=simulator))
    samples, moved = [], 0
    for ref, when in _pairs(engine, today, actions_count):
        target = when.replace(hour=9, minute=45) if when.hour != 9 else when.replace(hour=10, minute=30)
        started = time.perf_counter()
        result = service.reschedule(ref, target, "bench", key=uuid.uuid4().hex)
        samples.append((time.perf_counter() - started) * 1000)
        moved += result.status == "done"
    engine.dispose()
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=200)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be used (a schema is created)")
    args = parser.parse_args()
    rows = on_each_database(lambda url: run(url, args.actions), args.postgres)
    print(f"\nPaired reschedule (CORE + Supervisor), zero-latency in-process Crossmark, {args.actions} actions\n")
    print("| database | median ms | p95 ms | done |\n|---|---:|---:|---:|")
    for name, median, p95, moved in rows:
        print(f"| {name} | {median:.1f} | {p95:.1f} | {moved} |")


if __name__ == "__main__":
    main()
