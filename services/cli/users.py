"""`users add | disable | enable | passwd | role | list | bootstrap`: local accounts."""
from __future__ import annotations

import argparse
import sys

from services.cli.arguments import EXIT_OK, Parents, user_name
from services.domain import input_limits
from services.errors import InvalidInput
from services.store.database import make_engine


def add_commands(commands: argparse._SubParsersAction, parents: Parents) -> None:
    common = parents.common
    users = commands.add_parser("users", help="local accounts (password read from standard input)")
    users_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    # Account changes are made by an admin (--user, checked and audited) or, without --user, by the host's operator
    # (recorded as host:<login>): whoever runs this holds the database's credentials.
    changer = argparse.ArgumentParser(add_help=False)
    changer.add_argument("--user", type=user_name, default=None, metavar="ADMIN",
                         help="the admin making the change (default: the host's operator, recorded as host:<login>)")
    users_add = users_commands.add_parser("add", parents=[common, changer], help="add an account")
    users_add.add_argument("name", type=user_name)
    users_add.add_argument("--role", required=True, choices=["viewer", "operator", "admin"])
    for name, help_text in (("disable", "disable an account"), ("enable", "enable an account"),
                            ("passwd", "set a new password")):
        users_commands.add_parser(name, parents=[common, changer], help=help_text).add_argument("name",
                                                                                            type=user_name)
    users_role = users_commands.add_parser("role", parents=[common, changer], help="change an account's role")
    users_role.add_argument("name", type=user_name)
    users_role.add_argument("role", choices=["viewer", "operator", "admin"])
    users_commands.add_parser("list", parents=[common], help="list accounts")
    users_commands.add_parser("bootstrap", parents=[common],
                              help="on a database without accounts, create 'admin' with a random password")

    users.set_defaults(run=run_users)


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


def run_users(args: argparse.Namespace, settings) -> int:  # noqa: ANN001 - Settings
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
