"""Paired actions and their journal: `reschedule`, `unschedule`, `schedule-supervisor`, `staff`, `reassign`,
`suggest`, `undo`, `reconcile`, `retry`, `operations`."""
from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
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
    override = argparse.ArgumentParser(add_help=False)
    override.add_argument("--override", type=checked(lambda value: input_limits.note(value, "The override reason")),
                          metavar="REASON", help="go ahead although a soft rule (one CORE a day, overlaps, time off, "
                          "Core slots) is broken; the reason is recorded with the operation and in the audit trail")
    staff = commands.add_parser("staff", parents=[common, user, output, keyed, override],
                                help="staff an Unstaffed event: a rep at a time inside its window (a CORE takes its "
                                     "Supervisor along)")
    staff.add_argument("--event", type=event_ref, required=True, metavar="REF")
    staff.add_argument("--employee", type=employee, required=True, metavar="ID")
    staff.add_argument("--at", type=iso_minute, required=True, metavar="YYYY-MM-DDTHH:MM")
    staff.add_argument("--supervisor-employee", type=employee, metavar="ID",
                       help="the lead for the CORE's Unstaffed Supervisor (default: the top suggestion)")
    reassign = commands.add_parser("reassign", parents=[common, user, output, keyed, override],
                                   help="give a scheduled event to another rep at the same time")
    reassign.add_argument("--event", type=event_ref, required=True, metavar="REF")
    reassign.add_argument("--employee", type=employee, required=True, metavar="ID")
    suggest = commands.add_parser("suggest", parents=[common, output],
                                  help="ranked reps for an event and a time, with their reasons and every rule's result")
    suggest.add_argument("--event", type=event_ref, required=True, metavar="REF")
    suggest.add_argument("--at", type=iso_minute, metavar="YYYY-MM-DDTHH:MM",
                         help="default: the event's time, else the first Core slot left in its window")
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
    for command in (reschedule, unschedule, supervisor, staff, reassign, suggest, undo, reconcile, retry, operations):
        command.set_defaults(run=run_action)


@contextmanager
def wired_actions(settings, engine) -> Iterator[tuple]:  # noqa: ANN001 - Settings, Engine
    """The paired actions as configured, on the configured Crossmark (or the sandbox over the database, which reads
    only the events and reps an action touches), and where they act ("sandbox" or the Crossmark URL)."""
    from services.crossmark.client import make_crossmark_client
    from services.crossmark.sandbox import database_simulator
    from services.actions.action_setup import paired_actions
    from services.store.schema_admin import require_current_schema

    require_current_schema(engine)
    simulator = (database_simulator(engine, settings.crossmark_timezone, settings.sandbox_write_failure_rate)
                 if settings.is_sandbox else None)
    yield (paired_actions(settings, engine, lambda: make_crossmark_client(settings, simulator=simulator)),
           "sandbox" if settings.is_sandbox else str(settings.crossmark_base_url))


def run_action(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    engine = make_engine(settings.database_url)
    try:
        with wired_actions(settings, engine) as (actions, where):
            return _run_action(args, actions, where, settings)
    finally:
        engine.dispose()


def _run_action(args: argparse.Namespace, actions, where: str, settings) -> int:  # noqa: ANN001
    if not getattr(args, "json", False):
        print(crossmark_label(settings))
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
    if args.command == "suggest":
        suggestions = actions.suggest(args.event, args.at)
        if args.json:
            print(json.dumps(suggestions.to_json()))
        else:
            print_suggestions(suggestions)
        return EXIT_OK
    if args.command == "reschedule":
        result = actions.reschedule(args.event, args.to, args.user, args.key)
    elif args.command == "unschedule":
        result = actions.unschedule(args.event, args.user, args.key)
    elif args.command == "schedule-supervisor":
        result = actions.schedule_supervisor(args.core, args.employee, args.user, args.key)
    elif args.command == "staff":
        result = actions.staff(args.event, args.employee, args.at, args.user, args.key,
                               supervisor_employee_id=args.supervisor_employee, override=args.override)
    elif args.command == "reassign":
        result = actions.reassign(args.event, args.employee, args.user, args.key, override=args.override)
    else:
        result = actions.undo(args.operation, args.user, args.key)
    print_result(result, args.json, where)
    return exit_code(result.status)


def print_suggestions(suggestions) -> None:  # noqa: ANN001 - services.actions.suggestions.Suggestions
    event = suggestions.event
    print(f"Reps for {event.event_type} event {event.ref} ({event.name}) at {suggestions.start:%Y-%m-%d %H:%M}, "
          "best first:")
    print(f"Qualified in Crossmark: {suggestions.crossmark_note or 'checked; only reps Crossmark qualifies are listed'}")
    if not suggestions.ranked:
        print("Nobody qualified and active with a Crossmark rep id.")
    for rank, suggestion in enumerate(suggestions.ranked, 1):
        verdict = "ok" if suggestion.allowed else (
            "refused" if suggestion.check.hard_failures else "needs --override")
        print(f"{rank:>3}. {suggestion.rep.name} ({suggestion.rep.id}, {suggestion.rep.job_title or 'no title'}) — "
              f"{verdict}; {'; '.join(suggestion.reasons)}")
        for result in (*suggestion.check.hard_failures, *suggestion.check.soft_failures):
            print(f"       {result.strength} rule {result.rule}: {result.message}")
