"""`health`, `backup`, `restore`: running the dashboard."""
from __future__ import annotations

import argparse

from services.cli.arguments import Parents, file_path


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common = parents.common
    health = commands.add_parser("health", parents=[common], help="health report as JSON; exit code 0 healthy, 1 not")
    backup = commands.add_parser("backup", parents=[common],
                                 help="back the database up (SQLite: verified copy; PostgreSQL: pg_dump)")
    backup.add_argument("--out", type=file_path, metavar="PATH",
                        help="a new file, or an existing directory (default: <db>.backup-YYYYmmdd-HHMMSS next to the "
                             "SQLite file; PostgreSQL: <db>[-<schema>]-YYYYmmdd-HHMMSS.dump here)")
    restore = commands.add_parser("restore", parents=[common],
                                  help="replace the database with a backup (a safety backup is taken first)")
    restore.add_argument("path", type=file_path, metavar="PATH", help="the backup file to restore from")
    restore.add_argument("--yes", action="store_true", help="confirm: the database's current contents are replaced")

    health.set_defaults(run=run_health)
    backup.set_defaults(run=run_backup)
    restore.set_defaults(run=run_restore)


def run_health(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.ops.health import run_health_cli

    return run_health_cli(settings)


def run_backup(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.store.backups import run_backup_cli

    return run_backup_cli(args.out, settings)


def run_restore(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
    from services.store.backups import run_restore_cli

    return run_restore_cli(args.path, args.yes, settings)
