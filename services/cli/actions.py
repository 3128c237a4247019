"""Paired actions and their journal: `reschedule`, `unschedule`, `schedule-supervisor`, `undo`, `reconcile`,
`retry`, `operations`."""
from __future__ import annotations

import argparse
import json
from datetime import timedelta

from services.cli.arguments import EXIT_OK, MAX_LIMIT, MAX_OLDER_THAN, Parents, checked, employee, event_ref, iso_minute, whole
from services.cli.crossmark import exit_code, print_result
from services.actions.journal import STATUSES
from services.cli.crossmark import crossmark_label
from services.domain import input_limits
from services.store.database import make_engine


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common, user, output, keyed = parents.common, parents.user, parents.output, parents.keyed
    reschedule = commands.add_parser("reschedule", parents=[common, user, output, keyed],
                                     help="move an event (a CORE takes its scheduled Supervisor along)")
    reschedule.add_argument("--event", type=event_ref, required=True, metavar="REF")
    reschedule.add_argument("--to", type=iso_minute, required=True, metavar="YYYY-MM-DDTHH:MM")
    unschedule = commands.add_parser("unschedule", parents=[common, user, output, keyed],
                                     help="unschedule an event (a CORE takes its scheduled Supervisor along)")
    unschedule.add_argument("--event", type=event_ref, required=True, metavar="REF")
    supervisor = commands.add_parser("schedule-supervisor", parents=[common, user, output, keyed],
                                     help="schedule the Unstaffed Supervisor of a scheduled CORE")
    supervisor.add_argument("--core", type=checked(lambda value: input_limits.event_ref(value, "A CORE ref")),
                            required=True, metavar="REF")
    supervisor.add_argument("--employee", type=employee, required=True, metavar="ID")
    undo = commands.add_parser("undo", parents=[common, user, output, keyed],
                               help="undo an action finished < 5 minutes ago")
    undo.add_argument("--operation", type=whole("An operation id"), required=True, metavar="ID")
    reconcile = commands.add_parser("reconcile", parents=[common, output],
                                    help="one pass of the automatic retries: settle operations whose run is gone or "
                                         "whose retry is due (for cron, or when no server runs)")
    reconcile.add_argument("--older-than", type=whole("The age in seconds", MAX_OLDER_THAN), default=120, metavar="SECONDS",
                           help="operations recorded before leases existed: only those untouched this long (default 120)")
    retry = commands.add_parser("retry", parents=[common, user, output],
                                help="retry now, ignoring the backoff: one operation, or every one not settled")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--operation", type=whole("An operation id"), metavar="ID")
    which.add_argument("--all", action="store_true", help="every unfinished, needing-attention or stuck operation")
    operations = commands.add_parser("operations", parents=[common, output], help="the operations journal")
    operations.add_argument("--status", choices=STATUSES)
    operations.add_argument("--limit", type=whole("The limit", MAX_LIMIT), default=50)
    for command in (reschedule, unschedule, supervisor, undo, reconcile, retry, operations):
        command.set_defaults(run=run_action)


def run_action(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
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
                    print_result(result, False, where)
            return max([exit_code(r.status) if r.status in ("needs_attention", "stuck", "in_progress") else EXIT_OK
                        for r in results], default=EXIT_OK)
        if args.command == "reschedule":
            result = actions.reschedule(args.event, args.to, args.user, args.key)
        elif args.command == "unschedule":
            result = actions.unschedule(args.event, args.user, args.key)
        elif args.command == "schedule-supervisor":
            result = actions.schedule_supervisor(args.core, args.employee, args.user, args.key)
        else:
            result = actions.undo(args.operation, args.user, args.key)
        print_result(result, args.json, where)
        return exit_code(result.status)
    finally:
        engine.dispose()
