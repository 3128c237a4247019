"""Benchmark: what the data-version triggers (issue 22, freshness when the scheduler itself writes; migration 0019)
cost. A bulk load of 100,000 demo events (`demo seed`, through `bulk_load`) into a database without them (as at
revision 0018) and into one with them, interleaved round by round in one run, each into a fresh database; medians and
their ratio (aim: near 1, since `bulk_load` drops the triggers and bumps once). Beside it, on the loaded database,
single-row writes of the scheduler's kind (an UPDATE of one event, its own transaction) with and without the triggers,
interleaved in blocks: what each of the scheduler's writes pays for the bump.

    .venv/bin/python -m bench.bulk_load [--events 100000] [--rounds 5] [--postgres postgresql+psycopg://...]
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, text

from bench.databases import fresh_database
from services.demo.demo_data import seed_demo_data
from services.store.data_version import create_trigger_statements, drop_trigger_statements
from services.store.database import begin_write, make_engine
from services.store.schema_admin import upgrade_database

STORES = 50
MONTHS = 5
WRITE_BLOCKS = 10  # blocks of single-row writes, alternately with and without the triggers
WRITES_PER_BLOCK = 50


@dataclass(frozen=True)
class BulkLoadFigures:
    load_without_s: float  # median seconds of the bulk load without the data-version triggers
    load_with_s: float  # ... with them
    write_without_ms: float  # median ms of one single-row write without the triggers
    write_with_ms: float  # ... with them
    version_bumps: int  # how far the stamp moved during one load with the triggers (1: once, at the end)

    @property
    def load_ratio(self) -> float:
        return self.load_with_s / self.load_without_s

    @property
    def write_ratio(self) -> float:
        return self.write_with_ms / self.write_without_ms


def _execute(engine: Engine, statements: list[str]) -> None:
    with begin_write(engine) as connection:
        for statement in statements:
            connection.execute(text(statement))


def _version(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT version FROM dashboard_data_version WHERE id = 1")).scalar_one())


def _load(url: str, events: int, with_triggers: bool) -> tuple[float, int, Engine]:
    """(seconds of the load, stamp moves during it, the engine on the loaded database)."""
    upgrade_database(url, confirmed=True, backup_cmd="true" if url.startswith("postgresql") else None)
    engine = make_engine(url)
    if not with_triggers:
        _execute(engine, drop_trigger_statements(engine.dialect.name))
    today = date.today()
    before = _version(engine)
    started = time.perf_counter()
    seed_demo_data(engine, events=events, stores=min(STORES, max(1, events // 1000)),
                   start=today.replace(day=1) - timedelta(days=60), months=MONTHS, today=today)
    return time.perf_counter() - started, _version(engine) - before, engine


def _single_row_writes(engine: Engine) -> tuple[list[float], list[float]]:
    """Seconds of each single-row UPDATE of an event (its own transaction), without and with the triggers."""
    dialect = engine.dialect.name
    with engine.connect() as connection:
        refs = list(connection.execute(text("SELECT project_ref_num FROM events ORDER BY project_ref_num LIMIT :n"),
                                       {"n": WRITE_BLOCKS * WRITES_PER_BLOCK}).scalars())
    timings: dict[bool, list[float]] = {False: [], True: []}
    present = True  # as the load left them
    for block in range(WRITE_BLOCKS):
        with_triggers = block % 2 == 0
        if with_triggers != present:
            _execute(engine, (create_trigger_statements if with_triggers else drop_trigger_statements)(dialect))
            present = with_triggers
        for ref in refs[block * WRITES_PER_BLOCK:(block + 1) * WRITES_PER_BLOCK]:
            started = time.perf_counter()
            with engine.begin() as connection:  # last_synced: a column no derived table's trigger watches
                connection.execute(text("UPDATE events SET last_synced = :now WHERE project_ref_num = :ref"),
                                   {"now": datetime.now(), "ref": ref})
            timings[with_triggers].append(time.perf_counter() - started)
    return timings[False], timings[True]


def run(postgres: str | None, events: int, rounds: int) -> BulkLoadFigures:
    """The figures on SQLite, or on PostgreSQL when its URL is given."""
    loads: dict[bool, list[float]] = {False: [], True: []}
    writes: dict[bool, list[float]] = {False: [], True: []}
    bumps = 0
    for round_number in range(rounds):
        for with_triggers in (round_number % 2 == 0, round_number % 2 != 0):  # alternate which goes first
            with fresh_database(postgres) as url:
                seconds, moved, engine = _load(url, events, with_triggers)
                try:
                    loads[with_triggers].append(seconds)
                    if with_triggers:
                        bumps = moved
                        without, with_ = _single_row_writes(engine)
                        writes[False] += without
                        writes[True] += with_
                finally:
                    engine.dispose()
    return BulkLoadFigures(load_without_s=statistics.median(loads[False]), load_with_s=statistics.median(loads[True]),
                           write_without_ms=statistics.median(writes[False]) * 1000,
                           write_with_ms=statistics.median(writes[True]) * 1000, version_bumps=bumps)


def report(rows: list[tuple[str, BulkLoadFigures]], events: int, rounds: int) -> str:
    lines = [f"Bulk load of {events:,} demo events (`demo seed`, through `bulk_load`), each into a fresh database, "
             f"without and with the data-version triggers, interleaved, median of {rounds}; single-row UPDATEs of an "
             f"event (each its own transaction), {WRITE_BLOCKS // 2 * WRITES_PER_BLOCK} without and as many with, "
             "interleaved in blocks, median. Aim: the bulk load's ratio near 1.", "",
             "| database | load s, without | load s, with | ratio | stamp moves in a load | single-row write ms, "
             "without | with | ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, figures in rows:
        lines.append(f"| {name} | {figures.load_without_s:.2f} | {figures.load_with_s:.2f} | {figures.load_ratio:.2f}× "
                     f"| {figures.version_bumps} | {figures.write_without_ms:.3f} | {figures.write_with_ms:.3f} | "
                     f"{figures.write_ratio:.2f}× |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be used (schemas are created)")
    args = parser.parse_args()
    rows = [("SQLite", run(None, args.events, args.rounds))]
    if args.postgres:
        rows.append(("PostgreSQL", run(args.postgres, args.events, args.rounds)))
    print(report(rows, args.events, args.rounds))


if __name__ == "__main__":
    main()
