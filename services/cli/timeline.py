"""`timeline --event REF`: one event's history, and its state here and in Crossmark."""
from __future__ import annotations

import argparse
import json

from services.cli.arguments import EXIT_OK, Parents, event_ref
from services.cli.crossmark import crossmark_label
from services.store.database import make_engine


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common, output = parents.common, parents.output
    timeline = commands.add_parser("timeline", parents=[common, output],
                                   help="one event's history and its state in our database and, read live, in Crossmark")
    timeline.add_argument("--event", type=event_ref, required=True, metavar="REF")

    timeline.set_defaults(run=run_timeline)


def run_timeline(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    """`timeline --event REF`: what touched the event, and where it stands in our database and in Crossmark (read live;
    the sandbox reads this one event from our database, and is labelled)."""
    from services.crossmark.client import make_crossmark_client
    from services.crossmark.sandbox import database_simulator
    from services.store.schema_admin import require_current_schema
    from services.reads.timeline import event_timeline

    engine = make_engine(settings.database_url)
    try:
        require_current_schema(engine)
        simulator = database_simulator(engine, settings.crossmark_timezone) if settings.is_sandbox else None
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
