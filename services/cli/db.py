"""`db upgrade | downgrade | status`: the schema (services/store/schema_admin.py)."""
from __future__ import annotations

import argparse

from services.cli.arguments import EXIT_OK, Parents
from services.store.database import display_url, make_engine


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common = parents.common
    db = commands.add_parser("db", help="create, adopt, upgrade or downgrade the database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, help_text in (("upgrade", "create a new database or adopt/upgrade an existing scheduler database"),
                            ("downgrade", "remove the dashboard's tables, columns and indexes; keep the scheduler's")):
        action = db_commands.add_parser(name, parents=[common], help=help_text)
        action.add_argument("--yes", action="store_true", help="PostgreSQL: confirm you have a backup")
        action.add_argument("--backup-cmd", metavar="CMD", help="PostgreSQL: command that backs the database up first")
    db_commands.add_parser("status", parents=[common], help="schema revision and row counts")

    db.set_defaults(run=run_db)


def run_db(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    url = settings.database_url
    from services.reads.read_queries import database_summary
    from services.store.schema_admin import downgrade_database, head_revision, read_schema_state, upgrade_database

    if args.db_command == "upgrade":
        result = upgrade_database(url, confirmed=args.yes, backup_cmd=args.backup_cmd)
        if result.backup:
            print(f"Backup: {result.backup} (verified)")
        if result.changed:
            print(f"Upgraded {result.database}: revision {result.from_revision or 'none'} -> {result.to_revision}")
        else:
            print(f"{result.database} is up to date (revision {result.to_revision}).")
        return EXIT_OK
    if args.db_command == "downgrade":
        result = downgrade_database(url, confirmed=args.yes, backup_cmd=args.backup_cmd)
        if result.backup:
            print(f"Backup: {result.backup} (verified)")
        if result.changed:
            print(f"Downgraded {result.database}: removed the dashboard's tables, columns and indexes; "
                  "the scheduler's tables and rows are untouched.")
        else:
            print(f"{result.database} has no dashboard schema to remove.")
        return EXIT_OK
    engine = make_engine(url)
    try:
        state = read_schema_state(engine)
        print(f"Database: {display_url(url)}")
        print(f"Schema revision: {state.revision or 'none'} (current: {head_revision()})")
        if state.revision == head_revision():  # the counts are kept in tables of the current schema (0015)
            summary = database_summary(engine, count_schedules=True)
            print(f"Events: {summary.events}  Schedules: {summary.schedules}  Employees: {summary.employees}  "
                  f"Stores: {summary.stores}")
    finally:
        engine.dispose()
    return EXIT_OK
