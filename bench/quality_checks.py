"""Benchmark: a full data-quality run (all rules, one call) and a stored run (rules + history merge) on a large demo
database; median of repeated runs.

    .venv/bin/python -m bench.quality_checks --events 1000000 [--db PATH] [--repeat 3]
"""
from __future__ import annotations

import statistics
import time
from datetime import datetime

from bench.read_queries import bench_database
from services.database import make_engine
from services.quality_checks import run_check
from services.quality_rules import run_rules
from services.settings import load_settings


def main() -> None:
    args, path, today = bench_database(__doc__, repeat=3)
    engine = make_engine(f"sqlite:///{path}")
    settings = load_settings({})
    now = datetime.combine(today, datetime.min.time())
    samples, count = [], 0
    for _ in range(args.repeat):
        started = time.perf_counter()
        with engine.connect() as connection:
            count = len(run_rules(connection, now=now, rule=settings.supervisor_rule))
        samples.append(time.perf_counter() - started)
    started = time.perf_counter()
    stored = run_check(engine, settings, now=now, triggered_by="bench")
    stored_seconds = time.perf_counter() - started
    engine.dispose()
    print(f"\n{args.events:,} events, SQLite\n")
    print("| what | seconds | findings |\n|---|---:|---:|")
    print(f"| all rules, one call (median of {args.repeat}) | {statistics.median(samples):.2f} | {count:,} |")
    print(f"| stored run: rules + history merge (run {stored.run_id}) | {stored_seconds:.2f} | {len(stored.findings):,} |")


if __name__ == "__main__":
    main()
