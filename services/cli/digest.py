"""`digest weekly | morning`: the weekly data-quality review and the morning readiness, printed, written as HTML or
sent (e-mail with plain text and HTML, Slack with a summary)."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime

from services.cli.arguments import EXIT_FAILED, EXIT_OK, Parents, file_path, iso_date
from services.domain import input_limits
from services.store.database import make_engine


def week_ending(value: str) -> date:
    parsed = iso_date(value)
    if parsed > date.today():
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is after today: a week is reviewed once it "
                                         "has happened")
    return parsed


def morning_day(value: str) -> date:
    parsed = iso_date(value)
    if parsed < date.today():
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is before today: the morning readiness looks "
                                         "ahead")
    return parsed


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common, output = parents.common, parents.output
    digest = commands.add_parser("digest", help="the weekly data-quality review and the morning readiness")
    kinds = digest.add_subparsers(dest="digest_command", required=True, metavar="DIGEST")
    weekly = kinds.add_parser("weekly", parents=[common, output],
                              help="open / new / resolved / overdue findings against the week before, time to fix, "
                                   "the stores with most findings, the oldest critical ones")
    weekly.add_argument("--week-ending", type=week_ending, metavar="YYYY-MM-DD",
                        help="the last day of the 7 reviewed (default: today)")
    morning = kinds.add_parser("morning", parents=[common, output],
                               help="today and tomorrow: Unstaffed due, COREs without a Supervisor, reps off holding "
                                    "events, stale sync, readiness per club")
    morning.add_argument("--date", type=morning_day, metavar="YYYY-MM-DD", help="the first day (default: today)")
    for parser in (weekly, morning):
        parser.add_argument("--out", type=file_path, metavar="FILE.html",
                            help="write the HTML e-mail to this file (created owner-only) instead of printing the text")
        parser.add_argument("--notify", action="store_true",
                            help="send it: e-mail (plain text and HTML) and Slack (a summary), as configured")
    digest.set_defaults(run=run_digest)


def run_digest(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.quality.digests import Digest, morning_readiness, notice, render_html, render_text, weekly_review
    from services.quality.notifications import deliver
    from services.store.file_modes import private_opener
    from services.store.schema_admin import require_current_schema

    now = datetime.now().replace(microsecond=0)
    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
        digest: Digest
        if args.digest_command == "weekly":
            digest = weekly_review(engine, week_ending=args.week_ending, now=now)
        else:
            digest = morning_readiness(engine, settings, day=args.date or now.date(), now=now)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(digest.to_json()))
    elif args.out is None:
        print(render_text(digest, settings.dashboard_url))
    if args.out is not None:
        try:  # a new file is owner-only (it names stores, reps and findings); an existing one keeps its mode
            with open(args.out, "w", encoding="utf-8", opener=private_opener) as file:
                file.write(render_html(digest, settings.dashboard_url))
        except OSError as error:
            print(f"error: cannot write {args.out}: {error.strerror or type(error).__name__}", file=sys.stderr)
            return EXIT_FAILED
        if not args.json:
            print(f"Wrote {args.out}.")
    if args.notify:
        delivery = deliver(notice(digest, settings.dashboard_url), settings)
        print(f"Notification: {delivery.summary()}", file=sys.stderr if args.json else sys.stdout)
        if delivery.failed or not delivery.sent:
            return EXIT_FAILED
    return EXIT_OK
