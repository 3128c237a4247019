"""CLI layer: `python -m services ...` calls the same service functions as the pages, with clear one-line errors.
Each command group is a module here that adds its parsers and sets its handler (`run`); this one parses and
dispatches."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from services.cli import actions, batch, check, db, demo, digest, ops, sync, timeline, users
from services.cli.arguments import EXIT_FAILED, Parser, shared_parents
from services.errors import OpsError
from services.settings import load_settings

GROUPS = (db, demo, actions, batch, timeline, users, ops, check, digest, sync)  # in the order `--help` lists them


def build_parser() -> argparse.ArgumentParser:
    parents = shared_parents()
    parser = Parser(prog="python -m services", description="Field-event ops dashboard: command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(commands, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(database_url=args.db)
        from services.ops.logging_setup import configure_logging

        configure_logging(settings, stderr_level="CRITICAL")
        return args.run(args, settings)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
