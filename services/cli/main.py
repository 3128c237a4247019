"""CLI layer: `python -m services ...` calls the same service functions as the pages, with clear one-line errors."""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Callable, NoReturn, Sequence

from services.domain import input_limits
from services.store.database import display_url, make_engine
from services.errors import InvalidInput, OpsError
from services.actions.journal import STATUSES
from services.settings import load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NEEDS_ATTENTION, EXIT_FINDINGS = 0, 1, 2, 3, 4
EXIT_IN_PROGRESS = 4  # actions (not check runs): the key's operation is still running; its result comes later


FIRST_YEAR, LAST_YEAR = 1900, 2199  # dates people mean; date arithmetic near year 1 or 9999 would overflow


def _in_years(value: str, parsed: date) -> None:
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is outside the years {FIRST_YEAR}-{LAST_YEAR}")


def _iso_date(value: str) -> date:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is not a date in the form YYYY-MM-DD") from None
    _in_years(value, parsed)
    return parsed


def _iso_minute(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is not a date and time in the form "
                                         "YYYY-MM-DDTHH:MM") from None
    if parsed.tzinfo is not None:
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)}: give local wall time without an offset")
    _in_years(value, parsed)
    return parsed.replace(second=0, microsecond=0)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error told in one line on stderr (exit 2): what was wrong, and where the usage is."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())} (usage: {self.prog} --help)\n")


def _checked(check: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse type from an input_limits check: its InvalidInput becomes a usage error (exit 2, nothing done)."""

    def parse(value: str) -> object:
        try:
            return check(value)
        except InvalidInput as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def _whole(what: str, high: int = input_limits.INT_MAX) -> Callable[[str], object]:
    """A whole number from 1 to `high` (ids and refs: the database's 32-bit INTEGER), written with ASCII digits."""
    return _checked(lambda value: input_limits.whole_number(value, what, high=high))


def _positive_int(value: str) -> int:
    """A count (events, stores, months): a whole number from 1 up, in ASCII digits; the service sets its own maximum."""
    text = value.strip()
    digits = text[1:] if text.startswith("-") else text
    if digits.isascii() and digits.isdigit() and (text.startswith("-") or not digits.strip("0")):
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} must be 1 or more")
    return _whole("A count")(value)  # type: ignore[return-value]


_event_ref = _checked(input_limits.event_ref)
_user_name = _checked(input_limits.user_name)
_employee = _checked(input_limits.employee_id)
_note = _checked(lambda value: input_limits.note(value, "The note"))
_rules = _checked(lambda value: input_limits.single_line(value, "The rule list", input_limits.RULES_MAX))
NAME_MAX, PATH_MAX = 255, 4096  # bytes in one file name and in a whole path (Linux); longer ones are OSErrors


def _path(value: str) -> str:
    """A file path the operating system can take: a longer one is a usage error here, not an OSError later."""
    encoded = os.fsencode(value)
    if len(encoded) >= PATH_MAX or any(len(name) > NAME_MAX for name in encoded.split(b"/")):
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is too long for a file path (at most {NAME_MAX} "
                                         f"bytes a name, {PATH_MAX} in all)")
    return value


def _database(value: str) -> str:
    """--db: a URL, or an SQLite file path (also inside an sqlite:/// URL) the operating system can take."""
    if value.startswith("sqlite:"):
        _path(value.partition(":///")[2] or value)
    elif "://" not in value:
        _path(value)
    return value


MAX_LIMIT = 100_000  # operations --limit: rows printed
MAX_OLDER_THAN = 10 * 366 * 24 * 3600  # reconcile --older-than: ten years, in seconds


def _months_before(today: date, months: int) -> date:
    """The first day of the month `months` months before today's month."""
    index = today.year * 12 + (today.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--db", type=_database, metavar="URL", help="database URL or SQLite file path (default: SCHEDULER_DATABASE_URL "
                                                    "or data/scheduler.db)")
    parser = _Parser(prog="python -m services", description="Field-event ops dashboard: command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="create, adopt, upgrade or downgrade the database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, help_text in (("upgrade", "create a new database or adopt/upgrade an existing scheduler database"),
                            ("downgrade", "remove the dashboard's tables, columns and indexes; keep the scheduler's")):
        action = db_commands.add_parser(name, parents=[common], help=help_text)
        action.add_argument("--yes", action="store_true", help="PostgreSQL: confirm you have a backup")
        action.add_argument("--backup-cmd", metavar="CMD", help="PostgreSQL: command that backs the database up first")
    db_commands.add_parser("status", parents=[common], help="schema revision and row counts")

    demo = commands.add_parser("demo", help="demo data")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    seed = demo_commands.add_parser("seed", parents=[common], help="write realistic demo data into an empty database")
    seed.add_argument("--events", type=_positive_int, default=3000, help="number of events (default 3000)")
    seed.add_argument("--stores", type=_positive_int, default=5, help="number of clubs (default 5)")
    seed.add_argument("--start", type=_iso_date, help="first day (default: the 1st of the month two months ago)")
    seed.add_argument("--months", type=_positive_int, default=5,
                      help="how many months to cover (default 5: two months back to two months ahead)")
    seed.add_argument("--seed", type=int, default=42, help="random seed; the same seed gives the same data")
    seed.add_argument("--today", type=_iso_date, help="the day taken as today (default: today)")
    seed.add_argument("--scenario", choices=["sprint2"], help="write only the named fixed acceptance scenario")
    seed.add_argument("--if-empty", action="store_true", help="do nothing (and succeed) when events already exist")

    user = _Parser(add_help=False)
    user.add_argument("--user", type=_user_name, required=True, metavar="NAME", help="who is acting (recorded in the journal and audit)")
    output = _Parser(add_help=False)
    output.add_argument("--json", action="store_true", help="print one JSON object")
    keyed = _Parser(add_help=False)
    # Not checked here: the action records a refused attempt with a bad key (nothing lost), then says why.
    keyed.add_argument("--key", metavar="K", help="idempotency key (1-100 characters): the same key twice runs the "
                                                  "action once")

    reschedule = commands.add_parser("reschedule", parents=[common, user, output, keyed],
                                     help="move an event (a CORE takes its scheduled Supervisor along)")
    reschedule.add_argument("--event", type=_event_ref, required=True, metavar="REF")
    reschedule.add_argument("--to", type=_iso_minute, required=True, metavar="YYYY-MM-DDTHH:MM")
    unschedule = commands.add_parser("unschedule", parents=[common, user, output, keyed],
                                     help="unschedule an event (a CORE takes its scheduled Supervisor along)")
    unschedule.add_argument("--event", type=_event_ref, required=True, metavar="REF")
    supervisor = commands.add_parser("schedule-supervisor", parents=[common, user, output, keyed],
                                     help="schedule the Unstaffed Supervisor of a scheduled CORE")
    supervisor.add_argument("--core", type=_checked(lambda value: input_limits.event_ref(value, "A CORE ref")),
                            required=True, metavar="REF")
    supervisor.add_argument("--employee", type=_employee, required=True, metavar="ID")
    undo = commands.add_parser("undo", parents=[common, user, output, keyed],
                               help="undo an action finished < 5 minutes ago")
    undo.add_argument("--operation", type=_whole("An operation id"), required=True, metavar="ID")
    reconcile = commands.add_parser("reconcile", parents=[common, output],
                                    help="one pass of the automatic retries: settle operations whose run is gone or "
                                         "whose retry is due (for cron, or when no server runs)")
    reconcile.add_argument("--older-than", type=_whole("The age in seconds", MAX_OLDER_THAN), default=120, metavar="SECONDS",
                           help="operations recorded before leases existed: only those untouched this long (default 120)")
    retry = commands.add_parser("retry", parents=[common, user, output],
                                help="retry now, ignoring the backoff: one operation, or every one not settled")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--operation", type=_whole("An operation id"), metavar="ID")
    which.add_argument("--all", action="store_true", help="every unfinished, needing-attention or stuck operation")
    operations = commands.add_parser("operations", parents=[common, output], help="the operations journal")
    operations.add_argument("--status", choices=STATUSES)
    operations.add_argument("--limit", type=_whole("The limit", MAX_LIMIT), default=50)
    timeline = commands.add_parser("timeline", parents=[common, output],
                                   help="one event's history and its state in our database and, read live, in Crossmark")
    timeline.add_argument("--event", type=_event_ref, required=True, metavar="REF")

    users = commands.add_parser("users", help="local accounts (password read from standard input)")
    users_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    # Account changes are made by an admin (--user, checked and audited) or, without --user, by the host's operator
    # (recorded as host:<login>): whoever runs this holds the database's credentials.
    changer = argparse.ArgumentParser(add_help=False)
    changer.add_argument("--user", type=_user_name, default=None, metavar="ADMIN",
                         help="the admin making the change (default: the host's operator, recorded as host:<login>)")
    users_add = users_commands.add_parser("add", parents=[common, changer], help="add an account")
    users_add.add_argument("name", type=_user_name)
    users_add.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    for name, help_text in (("disable", "disable an account"), ("enable", "enable an account"),
                            ("passwd", "set a new password")):
        users_commands.add_parser(name, parents=[common, changer], help=help_text).add_argument("name",
                                                                                            type=_user_name)
    users_role = users_commands.add_parser("role", parents=[common, changer], help="change an account's role")
    users_role.add_argument("name", type=_user_name)
    users_role.add_argument("role", choices=["viewer", "operator", "admin"])
    users_commands.add_parser("list", parents=[common], help="list accounts")
    users_commands.add_parser("bootstrap", parents=[common],
                              help="on a database without accounts, create 'admin' with a random password")

    commands.add_parser("health", parents=[common], help="health report as JSON; exit code 0 healthy, 1 not")
    backup = commands.add_parser("backup", parents=[common],
                                 help="back the database up (SQLite: verified copy; PostgreSQL: pg_dump)")
    backup.add_argument("--out", type=_path, metavar="PATH",
                        help="a new file, or an existing directory (default: <db>.backup-YYYYmmdd-HHMMSS next to the "
                             "SQLite file; PostgreSQL: <db>[-<schema>]-YYYYmmdd-HHMMSS.dump here)")
    restore = commands.add_parser("restore", parents=[common],
                                  help="replace the database with a backup (a safety backup is taken first)")
    restore.add_argument("path", type=_path, metavar="PATH", help="the backup file to restore from")
    restore.add_argument("--yes", action="store_true", help="confirm: the database's current contents are replaced")

    check = commands.add_parser("check", help="data-quality checks")
    check_commands = check.add_subparsers(dest="check_command", required=True, metavar="ACTION")
    check_run = check_commands.add_parser("run", parents=[common, output], help="run the rules and store the findings")
    check_run.add_argument("--rules", type=_rules, metavar="A,B", help="only these rules (default: all)")
    check_run.add_argument("--notify", action="store_true", help="send new critical findings by Slack / e-mail")
    check_run.add_argument("--fail-on", choices=["critical", "warning"],
                           help=f"exit {EXIT_FINDINGS} when a finding at or above this severity is open")
    check_ack = check_commands.add_parser("ack", parents=[common, user], help="acknowledge an open finding")
    check_ack.add_argument("--finding", type=_whole("A finding id"), required=True, metavar="ID")
    check_ack.add_argument("--note", type=_note, required=True)
    check_commands.add_parser("rules", parents=[common], help="list the rules")

    sync = commands.add_parser("sync", parents=[common], help="pull Crossmark's planning list into the database")
    sync.add_argument("--from", dest="first", type=_iso_date, required=True, metavar="YYYY-MM-DD")
    sync.add_argument("--to", dest="last", type=_iso_date, required=True, metavar="YYYY-MM-DD")
    sync.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(database_url=args.db)
        from services.ops.logging_setup import configure_logging

        configure_logging(settings, stderr_level="CRITICAL")
        if args.command == "db":
            return _run_db(args, settings.database_url)
        if args.command == "demo":
            return _run_demo_seed(args, settings)
        if args.command == "sync":
            return _run_sync(args, settings)
        if args.command == "check":
            return _run_check(args, settings)
        if args.command == "users":
            return _run_users(args, settings)
        if args.command == "backup":
            from services.store.backups import run_backup_cli

            return run_backup_cli(args.out, settings)
        if args.command == "restore":
            from services.store.backups import run_restore_cli

            return run_restore_cli(args.path, args.yes, settings)
        if args.command == "health":
            from services.ops.health import run_health_cli

            return run_health_cli(settings)
        if args.command in ("reschedule", "unschedule", "schedule-supervisor", "undo", "reconcile", "operations",
                            "retry"):
            return _run_action(args, settings)
        if args.command == "timeline":
            return _run_timeline(args, settings)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
    parser.error("unknown command")
    return EXIT_USAGE


def _run_db(args: argparse.Namespace, url: str) -> int:
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


def _run_demo_seed(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
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
            start = args.start or _months_before(today, 2)

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


def crossmark_label(settings) -> str:  # noqa: ANN001 - Settings
    """How CLI output names the Crossmark it talks to: the sandbox is always labelled as such."""
    if settings.is_sandbox:
        return "Crossmark: SANDBOX (in-process stand-in; nothing is sent to Crossmark)"
    return f"Crossmark: {settings.crossmark_base_url}"


def _run_sync(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
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


def _exit_code(status: str) -> int:
    return {"done": EXIT_OK, "needs_attention": EXIT_NEEDS_ATTENTION, "stuck": EXIT_NEEDS_ATTENTION,
            "in_progress": EXIT_IN_PROGRESS}.get(status, EXIT_FAILED)


def _print_result(result, as_json: bool, crossmark: str) -> None:  # noqa: ANN001 - ActionResult
    if as_json:
        print(json.dumps({**result.to_json(), "crossmark": crossmark}))
        return
    print(f"Operation {result.operation_id}: {result.status.upper()} — {result.message}")
    for event in result.events:
        print(f"  {event['role']:<10} {event['ref']}: {event['before'] or 'unscheduled'} -> "
              f"{event['after'] or 'unscheduled'}")


def _run_action(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.crossmark.client import make_crossmark_client
    from services.crossmark.sandbox import simulator_from_database
    from services.actions.action_setup import paired_actions
    from services.store.schema_admin import require_current_schema

    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
        simulator = (simulator_from_database(engine, settings.crossmark_timezone,
                                             write_failure_rate=settings.sandbox_write_failure_rate)
                     if settings.is_sandbox else None)
        actions = paired_actions(settings, engine, lambda: make_crossmark_client(settings, simulator=simulator))
        label = crossmark_label(settings)
        where = "sandbox" if settings.is_sandbox else str(settings.crossmark_base_url)
        if not getattr(args, "json", False):
            print(label)
        if args.command == "operations":
            records = actions.journal.list(args.status, args.limit)
            if args.json:
                print(json.dumps([{"operation_id": r.id, "kind": r.kind, "status": r.status, "by": r.requested_by,
                                   "at": r.requested_at.isoformat(), "message": r.message} for r in records]))
            for record in records if not args.json else []:
                print(f"{record.id:>6}  {record.requested_at:%Y-%m-%d %H:%M}  {record.kind:<20} {record.status:<16} "
                      f"{record.requested_by:<12} {record.message or ''}")
            return EXIT_OK
        if args.command in ("reconcile", "retry"):
            if args.command == "reconcile":
                results = actions.reconcile(older_than=timedelta(seconds=args.older_than))
            else:
                results = actions.retry_all(args.user) if args.all else [actions.retry(args.operation, args.user)]
            if args.json:
                print(json.dumps({"reconciled" if args.command == "reconcile" else "retried":
                                  [result.to_json() for result in results], "crossmark": where}))
            else:
                print(f"{len(results)} operation(s) settled." if results else "Nothing to settle.")
                for result in results:
                    print(f"Operation {result.operation_id}: {result.previous_status} -> {result.status}")
                    _print_result(result, False, where)
            return max([_exit_code(r.status) if r.status in ("needs_attention", "stuck", "in_progress") else EXIT_OK
                        for r in results], default=EXIT_OK)
        if args.command == "reschedule":
            result = actions.reschedule(args.event, args.to, args.user, args.key)
        elif args.command == "unschedule":
            result = actions.unschedule(args.event, args.user, args.key)
        elif args.command == "schedule-supervisor":
            result = actions.schedule_supervisor(args.core, args.employee, args.user, args.key)
        else:
            result = actions.undo(args.operation, args.user, args.key)
        _print_result(result, args.json, where)
        return _exit_code(result.status)
    finally:
        engine.dispose()


def _run_timeline(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    """`timeline --event REF`: what touched the event, and where it stands in our database and in Crossmark (read live;
    the sandbox is built from our database for this one event, and labelled)."""
    from services.crossmark.client import make_crossmark_client
    from services.crossmark.sandbox import simulator_from_database
    from services.store.schema_admin import require_current_schema
    from services.reads.timeline import event_timeline

    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
        simulator = (simulator_from_database(engine, settings.crossmark_timezone, refs=[args.event])
                     if settings.is_sandbox else None)
        timeline = event_timeline(engine, args.event,
                                  client_factory=lambda: make_crossmark_client(settings, simulator=simulator))
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({**timeline.to_json(),
                          "crossmark_target": "sandbox" if settings.is_sandbox else str(settings.crossmark_base_url)}))
        return EXIT_OK
    event, remote = timeline.event, timeline.crossmark
    print(crossmark_label(settings))
    print(f"Event {event.ref}: {event.name}")
    print(f"  {event.event_type} · {event.store} · window {event.window} · condition {event.condition or '—'}"
          + (" · same number and store: " + ", ".join(f"{other.event_type} {other.ref}" for other in event.counterparts)
             if event.counterparts else ""))
    verdict = {True: "agree", False: "DISAGREE: " + ", ".join(timeline.differences), None: "not compared"}
    width = max(len("Database"), len(remote.label))
    print(f"{'Database':<{width}}: {timeline.database.describe()}")
    print(f"{remote.label:<{width}}: {remote.standing.describe() if remote.standing else remote.problem} "
          f"({verdict[timeline.agree]})")
    print(f"Timeline: {len(timeline.entries)} entr{'y' if len(timeline.entries) == 1 else 'ies'}")
    for entry in timeline.entries:
        operation = f"op {entry.operation_id}" if entry.operation_id is not None else ""
        print(f"  {entry.at:%Y-%m-%d %H:%M:%S}  {entry.kind:<9} {operation:<9} {entry.status or '':<15} "
              f"{entry.who or '':<12} {entry.summary}" + (f" — {entry.detail}" if entry.detail else ""))
    if timeline.older_operations_unsearched:
        print("  (refused and undone requests are looked up among the latest operations only; older ones show when "
              "they changed the event)")
    return EXIT_OK


def _run_check(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.quality.checks import SEVERITY_ORDER, acknowledge, parse_rule_names, run_check
    from services.quality.rules import RULES
    from services.store.schema_admin import require_current_schema

    if args.check_command == "rules":
        for rule in RULES.values():
            print(f"{rule.name:<32} {rule.severity:<9} {rule.description}")
        return EXIT_OK
    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
        if args.check_command == "ack":
            acknowledge(engine, args.finding, args.user, args.note, actions_per_minute=settings.actions_per_minute)
            print(f"Finding {args.finding} acknowledged by {args.user}.")
            return EXIT_OK
        names = parse_rule_names(args.rules)
        client = None
        if not settings.is_sandbox:
            from services.crossmark.client import make_crossmark_client
            client = make_crossmark_client(settings)
        try:
            result = run_check(engine, settings, rules=names, notify=args.notify, crossmark_client=client,
                               triggered_by="cli")
        finally:
            if client is not None:
                client.close()
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(crossmark_label(settings) + ("" if client is not None else " — crossmark_drift not checked"))
        print(f"Run {result.run_id}: {len(result.findings)} open finding(s), {result.new} new, {result.resolved} resolved.")
        counts = Counter((f.severity, f.rule) for f in result.findings)
        for (severity, rule), count in sorted(counts.items(), key=lambda item: (SEVERITY_ORDER[item[0][0]], item[0][1])):
            print(f"  {severity:<9} {rule:<32} {count}")
        if result.notification:
            print(f"Notification: {result.notification}")
    if args.fail_on:
        threshold = SEVERITY_ORDER[args.fail_on]
        if any(SEVERITY_ORDER[f.severity] <= threshold for f in result.findings):
            return EXIT_FINDINGS
    return EXIT_OK


def read_password(prompt: str = "Password") -> str:
    """Twice on a terminal (never echoed); one line when piped, so it can be scripted. Never a command-line argument."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(f"{prompt}: ")
        if first != getpass.getpass(f"{prompt} again: "):
            raise InvalidInput("The two passwords differ; nothing was changed.")
        return first
    line = sys.stdin.readline(input_limits.PASSWORD_MAX + 2)  # a longer line is refused (_check_password), not read whole
    if not line:
        raise InvalidInput("No password on standard input (pipe one line, or run it in a terminal).")
    return line.rstrip("\r\n")


def _run_users(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.access import accounts
    from services.store.schema_admin import require_current_schema

    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
        if args.users_command == "list":
            for user in accounts.list_users(engine):
                state = "active" if user["is_active"] else "disabled"
                print(f"{user['username']:<24} {user['role']:<9} {state:<9} since {user['created_at']:%Y-%m-%d}")
        elif args.users_command == "bootstrap":
            password = accounts.bootstrap_admin(engine)
            if password is None:
                print("Accounts exist already; nothing to do.")
            else:
                print("Created the first account: user 'admin', password (shown once, keep it safe):")
                print(f"    {password}")
                print("Change it with: .venv/bin/python -m services users passwd admin")
        else:
            by = args.user or accounts.HostOperator.current()
            if args.users_command == "add":
                accounts.add_user(engine, args.name, args.role, read_password(), by=by)
                print(f"Added {args.name} ({args.role}).")
            elif args.users_command == "passwd":
                accounts.set_password(engine, args.name, read_password("New password"), by=by)
                print(f"Password of {args.name} changed.")
            elif args.users_command == "role":
                accounts.set_role(engine, args.name, args.role, by=by)
                print(f"{args.name} is now {'an' if args.role[0] in 'aeiou' else 'a'} {args.role}.")
            else:
                accounts.set_active(engine, args.name, args.users_command == "enable", by=by)
                print(f"{args.name} {args.users_command}d.")
    finally:
        engine.dispose()
    return EXIT_OK
