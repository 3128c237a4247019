"""`check run | ack | rules`: the data-quality checks."""
from __future__ import annotations

import argparse
import json
from collections import Counter

from services.cli.arguments import EXIT_FINDINGS, EXIT_OK, Parents, note, rule_list, whole
from services.cli.crossmark import crossmark_label
from services.domain.severity import CRITICAL, WARNING
from services.store.database import make_engine


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common, user, output = parents.common, parents.user, parents.output
    check = commands.add_parser("check", help="data-quality checks")
    check_commands = check.add_subparsers(dest="check_command", required=True, metavar="ACTION")
    check_run = check_commands.add_parser("run", parents=[common, output], help="run the rules and store the findings")
    check_run.add_argument("--rules", type=rule_list, metavar="A,B", help="only these rules (default: all)")
    check_run.add_argument("--notify", action="store_true", help="send new critical findings by Slack / e-mail")
    check_run.add_argument("--fail-on", choices=[CRITICAL.value, WARNING.value],
                           help=f"exit {EXIT_FINDINGS} when a finding at or above this severity is open")
    check_ack = check_commands.add_parser("ack", parents=[common, user], help="acknowledge an open finding")
    check_ack.add_argument("--finding", type=whole("A finding id"), required=True, metavar="ID")
    check_ack.add_argument("--note", type=note, required=True)
    check_commands.add_parser("rules", parents=[common], help="list the rules")

    check.set_defaults(run=run_check)


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
        for (severity, rule_name), count in sorted(counts.items(),
                                                   key=lambda item: (SEVERITY_ORDER[item[0][0]], item[0][1])):
            print(f"  {severity:<9} {rule_name:<32} {count}")
        if result.notification:
            print(f"Notification: {result.notification}")
    if args.fail_on:
        threshold = SEVERITY_ORDER[args.fail_on]
        if any(SEVERITY_ORDER[f.severity] <= threshold for f in result.findings):
            return EXIT_FINDINGS
    return EXIT_OK
