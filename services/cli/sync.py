"""`sync --from D --to D`: Crossmark's planning list into the database."""
from __future__ import annotations

import argparse
import sys

from services.cli.arguments import EXIT_OK, Parents, iso_date
from services.cli.crossmark import crossmark_label
from services.store.database import make_engine


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common = parents.common
    sync = commands.add_parser("sync", parents=[common], help="pull Crossmark's planning list into the database")
    sync.add_argument("--from", dest="first", type=iso_date, required=True, metavar="YYYY-MM-DD")
    sync.add_argument("--to", dest="last", type=iso_date, required=True, metavar="YYYY-MM-DD")
    sync.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    sync.set_defaults(run=run_sync)


def run_sync(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.crossmark.client import make_crossmark_client
    from services.crossmark.sync import sync_from_crossmark
    from services.store.schema_admin import require_current_schema

    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
        print(crossmark_label(settings))

        def show_progress(done: int, total: int) -> None:
            if not sys.stderr.isatty():
                return
            width = 30
            filled = int(width * done / total) if total else width
            print(f"\r  fetching [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}", end="",
                  file=sys.stderr, flush=True)

        with make_crossmark_client(settings, engine) as client:
            report = sync_from_crossmark(engine, client, args.first, args.last, dry_run=args.dry_run,
                                         on_fetch=show_progress)
        if sys.stderr.isatty():
            print(file=sys.stderr)
    finally:
        engine.dispose()
    prefix = "Dry run, nothing changed: would be " if report.dry_run else ""
    print(f"{prefix}{report.fetched} fetched: {report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
          f"{report.missing} missing from Crossmark (marked, not deleted)")
    print(f"Schedules: {report.schedules_added} added, {report.schedules_changed} changed, "
          f"{report.schedules_removed} removed; employees added: {report.employees_added}")
    if report.missing_refs:
        shown = ", ".join(str(ref) for ref in report.missing_refs[:20])
        print(f"Missing refs: {shown}" + (" ..." if len(report.missing_refs) > 20 else ""))
    for line in report.skipped[:20]:
        print(f"Skipped {line}")
    return EXIT_OK
