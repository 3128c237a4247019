"""`demo seed`: demo data at any scale, or the fixed acceptance scenario."""
from __future__ import annotations

import argparse
import sys
from datetime import date

from services.cli.arguments import EXIT_OK, Parents, iso_date, months_before, positive_int
from services.store.database import display_url, make_engine


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common = parents.common
    demo = commands.add_parser("demo", help="demo data")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    seed = demo_commands.add_parser("seed", parents=[common], help="write realistic demo data into an empty database")
    seed.add_argument("--events", type=positive_int, default=3000, help="number of events (default 3000)")
    seed.add_argument("--stores", type=positive_int, default=5, help="number of clubs (default 5)")
    seed.add_argument("--start", type=iso_date, help="first day (default: the 1st of the month two months ago)")
    seed.add_argument("--months", type=positive_int, default=5,
                      help="how many months to cover (default 5: two months back to two months ahead)")
    seed.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same data")
    seed.add_argument("--today", type=iso_date, help="the day taken as today (default: today)")
    seed.add_argument("--scenario", choices=["sprint2"], help="write only the named fixed acceptance scenario")
    seed.add_argument("--if-empty", action="store_true", help="do nothing (and succeed) when events already exist")

    demo.set_defaults(run=run_demo_seed)


def run_demo_seed(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.demo.demo_data import seed_demo_data, seed_sprint2_scenario
    from services.reads.read_queries import database_summary
    from services.store.schema_admin import require_current_schema

    today = args.today or date.today()
    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
        if args.scenario == "sprint2":
            report = seed_sprint2_scenario(engine, today=today, rule=settings.supervisor_rule)
        else:
            existing = database_summary(engine).events
            if args.if_empty and existing:
                print(f"{display_url(settings.database_url)} already holds {existing} events; not seeding.")
                return EXIT_OK
            start = args.start or months_before(today, 2)

            show = sys.stderr.isatty() or args.events >= 100_000

            def show_progress(done: int, total: int) -> None:
                if show:
                    print(f"\r  {done:>9,} / {total:,} events", end="", file=sys.stderr, flush=True)

            report = seed_demo_data(engine, events=args.events, stores=args.stores, start=start, months=args.months,
                                    seed=args.seed, today=today, rule=settings.supervisor_rule, progress=show_progress)
            if show:
                print(file=sys.stderr)
    finally:
        engine.dispose()
    print(f"Seeded {display_url(settings.database_url)}: {report.events} events, {report.schedules} schedules, "
          f"{report.employees} employees.")
    if report.anomalies:
        print("Injected data-quality anomalies: " + ", ".join(f"{name} {count}" for name, count in report.anomalies.items()))
    return EXIT_OK
