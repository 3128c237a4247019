"""Benchmark: the cost of one /healthz database probe, before and after issue 15, interleaved in one run.

- before: what each probe did until issue 15 — a new engine for the URL (connect, read the catalogue), the report,
  then dispose (on SQLite it also read the file's header with a plain open(), which is what lost writes; that read is
  left out here, so "before" is if anything flattered);
- after: `services.ops.health.health_report` on the process's shared engine (no connect, no catalogue read).

Rounds alternate the two so drift of this shared machine hits both alike; the report gives medians and their ratio.

    .venv/bin/python -m bench.health_probe [--rounds 200] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from services.store.database import dispose_shared_engines, make_engine, shared_engine
from services.ops.health import health_report
from services.store.schema_admin import upgrade_database
from services.settings import Settings


def _probe_before(settings: Settings, url: str) -> None:
    engine = make_engine(url)
    try:
        report = health_report(settings, engine)
    finally:
        engine.dispose()
    assert report.database.reachable


def _probe_after(settings: Settings, url: str) -> None:
    assert health_report(settings, url).database.reachable


def measure(url: str, rounds: int) -> dict[str, float]:
    """Median milliseconds of each way over `rounds` interleaved rounds, and after / before."""
    settings = Settings(database_url=url)
    shared_engine(url)  # the server made it at start-up
    _probe_before(settings, url)
    _probe_after(settings, url)  # warm both paths (imports, the statement cache)
    before: list[float] = []
    after: list[float] = []
    for round_ in range(rounds):
        ways = ((_probe_before, before), (_probe_after, after))
        for probe, times in ways if round_ % 2 == 0 else reversed(ways):
            started = time.perf_counter()
            probe(settings, url)
            times.append((time.perf_counter() - started) * 1000)
    dispose_shared_engines()
    median_before, median_after = statistics.median(before), statistics.median(after)
    return {"before_ms": median_before, "after_ms": median_after, "ratio": median_after / median_before}


def _postgres_schema_url(base: str, schema: str) -> str:
    engine = create_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--postgres", help="also measure on this PostgreSQL database (a scratch schema is used)")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'scheduler.db'}"
        upgrade_database(url)
        rows.append(("SQLite", measure(url, args.rounds)))
    if args.postgres:
        schema = "bench_health_probe"
        url = _postgres_schema_url(args.postgres, schema)
        upgrade_database(url, confirmed=True)
        try:
            rows.append(("PostgreSQL", measure(url, args.rounds)))
        finally:
            engine = create_engine(args.postgres)
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
    print(f"Health probe, median of {args.rounds} interleaved rounds (ms)\n")
    print("| database | before: engine per probe | after: shared engine | after / before |")
    print("|---|---:|---:|---:|")
    for name, figures in rows:
        print(f"| {name} | {figures['before_ms']:.2f} | {figures['after_ms']:.2f} | {figures['ratio']:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
