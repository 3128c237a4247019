"""`check run | ack | rules`: the data-quality checks."""
from __future__ import annotations

import argparse
import json

from services.cli.arguments import EXIT_FINDINGS, EXIT_OK, Parents, checked, note, rule_list, user_name, whole
from services.cli.crossmark import crossmark_label
from services.domain import input_limits
from services.domain.severity import CRITICAL, WARNING
from services.store.database import make_engine

comment_text = checked(lambda value: input_limits.note(value, "The comment"))


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common, user, output = parents.common, parents.user, parents.output
    check = commands.add_parser("check", help="data-quality checks")
    check_commands = check.add_subparsers(dest="check_command", required=True, metavar="ACTION")
    check_run = check_commands.add_parser("run", parents=[common, output], help="run the rules and store the findings")
    check_run.add_argument("--rules", type=rule_list, metavar="A,B", help="only these rules (default: all)")
    check_run.add_argument("--changed-since", type=_last, metavar="last",
                           help="incremental: judge again only what changed since the last complete run (the same "
                                "findings as a full run; a full run is made, saying why, when that is not possible)")
    check_run.add_argument("--notify", action="store_true", help="send new critical findings by Slack / e-mail")
    check_run.add_argument("--fail-on", choices=[CRITICAL.value, WARNING.value],
                           help=f"exit {EXIT_FINDINGS} when a finding at or above this severity is open")
    check_ack = check_commands.add_parser("ack", parents=[common, user], help="acknowledge an open finding")
    check_ack.add_argument("--finding", type=whole("A finding id"), required=True, metavar="ID")
    check_ack.add_argument("--note", type=note, required=True)
    check_assign = check_commands.add_parser("assign", parents=[common, user], help="give a finding to a person")
    check_assign.add_argument("--finding", type=whole("A finding id"), required=True, metavar="ID")
    check_assign.add_argument("--to", type=user_name, required=True, metavar="NAME",
                              help="a user of this dashboard (python -m services users list)")
    check_comment = check_commands.add_parser("comment", parents=[common, user], help="comment on a finding")
    check_comment.add_argument("--finding", type=whole("A finding id"), required=True, metavar="ID")
    check_comment.add_argument("--text", type=comment_text, required=True)
    check_show = check_commands.add_parser("show", parents=[common, output],
                                           help="a finding: first seen, owner, due-by, comments, history, resolution")
    check_show.add_argument("finding", type=whole("A finding id"), metavar="ID")
    check_commands.add_parser("rules", parents=[common], help="list the rules")

    check.set_defaults(run=run_check)


def _last(value: str) -> str:
    if value.strip().lower() != "last":
        raise argparse.ArgumentTypeError(
            f"{value!r}: only 'last' (changes since the last complete run, which the change log holds)")
    return "last"


def run_check(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.domain.severity import SEVERITY_ORDER
    from services.quality.checks import acknowledge, parse_rule_names, run_check
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
        if args.check_command in ("assign", "comment", "show"):
            return _finding_work(engine, args, settings)
        names = parse_rule_names(args.rules)
        client = None
        if not settings.is_sandbox:
            from services.crossmark.client import make_crossmark_client
            client = make_crossmark_client(settings)
        try:
            result = run_check(engine, settings, rules=names, notify=args.notify, crossmark_client=client,
                               triggered_by="cli", incremental=args.changed_since is not None)
        finally:
            if client is not None:
                client.close()
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(crossmark_label(settings) + ("" if client is not None else " — crossmark_drift not checked"))
        if result.full_because:
            print(f"Not incremental ({result.full_because}): a full run was made.")
        kind = f"Incremental run {result.run_id} ({len(result.findings)} finding(s) judged again)" \
            if result.incremental else f"Run {result.run_id}"
        print(f"{kind}: {result.open_findings} open finding(s), {result.new} new, {result.resolved} resolved.")
        for (rule_name, severity), count in sorted(result.open_counts.items(),
                                                   key=lambda item: (SEVERITY_ORDER[item[0][1]], item[0][0])):
            print(f"  {severity:<9} {rule_name:<32} {count}")
        if result.notification:
            print(f"Notification: {result.notification}")
    if args.fail_on:
        threshold = SEVERITY_ORDER[args.fail_on]
        if any(SEVERITY_ORDER[severity] <= threshold and count for (_, severity), count in result.open_counts.items()):
            return EXIT_FINDINGS
    return EXIT_OK


def _finding_work(engine, args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Engine, Settings
    from datetime import datetime

    from services.quality.work import assign, comment, finding_record

    if args.check_command == "assign":
        owner = assign(engine, args.finding, args.to, args.user, actions_per_minute=settings.actions_per_minute)
        print(f"Finding {args.finding} assigned to {owner}.")
    elif args.check_command == "comment":
        comment(engine, args.finding, args.text, args.user, actions_per_minute=settings.actions_per_minute)
        print(f"Comment added to finding {args.finding}.")
    else:
        record, now = finding_record(engine, args.finding), datetime.now()
        if args.json:
            print(json.dumps(record.to_json(now)))
        else:
            print(show_text(record, now))
    return EXIT_OK


def show_text(record, now) -> str:  # noqa: ANN001 - work.FindingRecord, datetime
    """`check show` for people: what it is, where it stands, then its history line by line."""
    stamp = "%Y-%m-%d %H:%M"
    state = (f"resolved {record.resolved_at:{stamp}}" if record.resolved_at is not None
             else "OPEN, OVERDUE" if record.overdue(now) else "open")
    lines = [f"Finding {record.id}: {record.title} ({record.severity}) — {state}",
             f"  {record.detail}",
             f"  Events: {', '.join(map(str, record.refs)) or 'none'}" + (f" · store {record.store}" if record.store
                                                                         else "")
             + (f" · rep {record.rep}" if record.rep else ""),
             f"  First seen {record.first_seen:{stamp}}, last seen {record.last_seen:{stamp}}",
             f"  Owner: {record.owner or 'nobody'}" + (f" (since {record.assigned_at:{stamp}})" if record.assigned_at
                                                       else ""),
             f"  Due by: {record.due_by:{stamp}}" if record.due_by is not None else "  Due by: not set"]
    if record.acknowledged_by:
        lines.append(f"  Acknowledged by {record.acknowledged_by} {record.acknowledged_at:{stamp}}: "
                     f"{record.acknowledgement_note or ''}")
    lines.append("History:" if record.history else "History: nothing yet")
    for entry in record.history:
        lines.append(f"  {entry.at:{stamp}}  {entry.kind.value:<12} {entry.actor or 'check run'}: {entry.text or ''}")
    return "\n".join(lines)
