"""Batches: `batch rep-out`, `batch staff-supervisors`, `batch fix`, `batch show`, `batch undo`."""
from __future__ import annotations

import argparse
import json
import sys

from services.cli.actions import wired_actions
from services.cli.arguments import EXIT_FAILED, EXIT_NEEDS_ATTENTION, EXIT_OK, Parents, checked, employee, iso_date, whole
from services.cli.crossmark import crossmark_label
from services.domain import input_limits
from services.store.database import make_engine


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common, user, output, keyed = parents.common, parents.user, parents.output, parents.keyed
    batch = commands.add_parser("batch", parents=[common], help="many actions at once: a rep out, missing "
                                "Supervisors, a rule's findings (each item one operation; --dry-run shows the plan)")
    kinds = batch.add_subparsers(dest="batch_command", required=True, metavar="BATCH")
    dry = argparse.ArgumentParser(add_help=False)
    dry.add_argument("--dry-run", action="store_true", help="print every item, its target and its rule results; "
                     "send and record nothing")
    rep_out = kinds.add_parser("rep-out", parents=[common, user, output, keyed, dry],
                               help="every event a rep holds in a date range: unschedule or reassign them")
    rep_out.add_argument("--employee", type=employee, required=True, metavar="ID", help="the rep who is out")
    rep_out.add_argument("--from", dest="first", type=iso_date, required=True, metavar="YYYY-MM-DD")
    rep_out.add_argument("--to", dest="last", type=iso_date, required=True, metavar="YYYY-MM-DD")
    how = rep_out.add_mutually_exclusive_group(required=True)
    how.add_argument("--unschedule", action="store_true", help="unschedule them (a CORE takes its Supervisor along)")
    how.add_argument("--reassign-to", type=employee, metavar="ID", help="give them all to this rep")
    how.add_argument("--reassign-suggested", action="store_true", help="give each to its top suggested rep")
    supervisors = kinds.add_parser("staff-supervisors", parents=[common, user, output, keyed, dry],
                                   help="staff every Unstaffed Supervisor of a scheduled CORE in a date range, at the "
                                        "rule time, with the top suggested lead")
    supervisors.add_argument("--from", dest="first", type=iso_date, required=True, metavar="YYYY-MM-DD")
    supervisors.add_argument("--to", dest="last", type=iso_date, required=True, metavar="YYYY-MM-DD")
    fix = kinds.add_parser("fix", parents=[common, user, output, keyed, dry],
                           help="the fix each finding of a data-quality rule offers")
    fix.add_argument("--rule", type=checked(lambda value: input_limits.single_line(value, "The rule", 100,
                                                                                   required=True)),
                     required=True, metavar="RULE")
    fix.add_argument("--from", dest="first", type=iso_date, metavar="YYYY-MM-DD")
    fix.add_argument("--to", dest="last", type=iso_date, metavar="YYYY-MM-DD")
    show = kinds.add_parser("show", parents=[common, output], help="a batch and each item's operation")
    show.add_argument("batch_id", type=whole("A batch id"), metavar="ID")
    undo = kinds.add_parser("undo", parents=[common, user, output], help="undo a batch's done items, last first "
                            "(each within the undo window)")
    undo.add_argument("batch_id", type=whole("A batch id"), metavar="ID")
    for command in (batch, rep_out, supervisors, fix, show, undo):
        command.set_defaults(run=run_batch)


def run_batch(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.actions.batches import Batches, RepOutMode

    engine = make_engine(settings.database_url)
    try:
        with wired_actions(settings, engine) as (actions, _where):
            batches = Batches(actions, max_items=settings.batch_max_items)
            as_json = getattr(args, "json", False)
            if not as_json:
                print(crossmark_label(settings))
            progress = None if as_json else _print_progress
            command = args.batch_command
            if command == "rep-out":
                mode = (RepOutMode.UNSCHEDULE if args.unschedule else
                        RepOutMode.REASSIGN_TO if args.reassign_to else RepOutMode.REASSIGN_SUGGESTED)
                report = batches.rep_out(args.employee, args.first, args.last, mode, args.user,
                                         reassign_to=args.reassign_to, key=args.key, dry_run=args.dry_run,
                                         progress=progress)
            elif command == "staff-supervisors":
                report = batches.staff_supervisors(args.first, args.last, args.user, key=args.key,
                                                   dry_run=args.dry_run, progress=progress)
            elif command == "fix":
                report = batches.fix(args.rule, args.first, args.last, args.user, key=args.key,
                                     dry_run=args.dry_run, progress=progress)
            elif command == "show":
                report = batches.show(args.batch_id)
            else:
                report = batches.undo(args.batch_id, args.user, progress=progress)
            if as_json:
                print(json.dumps(report.to_json()))
            else:
                _print_report(report, listed=command in ("show",) or report.batch_id is None)
            if report.status in ("needs_attention",):
                return EXIT_NEEDS_ATTENTION
            return EXIT_FAILED if report.status == "refused" and report.items else EXIT_OK
    finally:
        engine.dispose()


def _print_progress(done: int, total: int, outcome) -> None:  # noqa: ANN001 - ItemOutcome
    print(f"[{done}/{total}] {outcome.item.describe()}: {outcome.status.upper()}"
          + (f" (operation {outcome.result.operation_id})" if outcome.result and outcome.result.operation_id else ""))
    sys.stdout.flush()


def _print_report(report, listed: bool) -> None:  # noqa: ANN001 - BatchReport
    from services.actions.batches import BATCH_KIND_LABELS

    title = BATCH_KIND_LABELS.get(report.kind, str(report.kind))
    if report.batch_id is None:
        print(f"{title}, dry run: {report.message.removeprefix('Dry run: ')}")
    else:
        print(f"Batch {report.batch_id} — {title}: {report.status.upper()}. {report.message}")
    for outcome in report.items if listed else [o for o in report.items if o.status != "done"]:
        line = f"  {outcome.item.index:>3}. {outcome.item.describe()}: {outcome.status}"
        if outcome.result is not None:
            line += f" — operation {outcome.result.operation_id}: {outcome.result.message}"
        elif outcome.plan is not None:
            targets = "; ".join(f"{event.label} → {event.target.describe()}"
                                + (f" with {event.rep_name}" if event.rep_name else "") for event in outcome.plan.events)
            line += f" — {targets}" + (f" ({' '.join(outcome.plan.warnings)})" if outcome.plan.warnings else "")
            for check in outcome.plan.checks:
                broken = [r for r in check.results if not r.passed]
                line += (f"\n       rules for {check.rep.name}: " +
                         ("all passed" if not broken else "; ".join(f"{r.strength} {r.rule}: {r.message}"
                                                                    for r in broken)))
        elif outcome.refusal:
            line += f" — {outcome.refusal}"
        print(line)
    if report.items and not listed:
        print(f"Every item: python -m services batch show {report.batch_id}")
