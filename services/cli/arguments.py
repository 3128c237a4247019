"""CLI arguments: exit codes, argparse with one-line usage errors, and the argument types the command groups share
(dates, refs, names, paths); each refuses bad input as a usage error (exit 2) before anything is done."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable, NoReturn, TypeVar

from services.domain import input_limits
from services.errors import InvalidInput


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NEEDS_ATTENTION, EXIT_FINDINGS = 0, 1, 2, 3, 4
EXIT_IN_PROGRESS = 4  # actions (not check runs): the key's operation is still running; its result comes later


FIRST_YEAR, LAST_YEAR = 1900, 2199  # dates people mean; date arithmetic near year 1 or 9999 would overflow


def in_years(value: str, parsed: date) -> None:
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is outside the years {FIRST_YEAR}-{LAST_YEAR}")


def iso_date(value: str) -> date:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is not a date in the form YYYY-MM-DD") from None
    in_years(value, parsed)
    return parsed


def iso_minute(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is not a date and time in the form "
                                         "YYYY-MM-DDTHH:MM") from None
    if parsed.tzinfo is not None:
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)}: give local wall time without an offset")
    in_years(value, parsed)
    return parsed.replace(second=0, microsecond=0)


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error told in one line on stderr (exit 2): what was wrong, and where the usage is."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {' '.join(message.split())} (usage: {self.prog} --help)\n")


Parsed = TypeVar("Parsed")


def checked(check: Callable[[str], Parsed]) -> Callable[[str], Parsed]:
    """An argparse type from an input_limits check: its InvalidInput becomes a usage error (exit 2, nothing done)."""

    def parse(value: str) -> Parsed:
        try:
            return check(value)
        except InvalidInput as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def whole(what: str, high: int = input_limits.INT_MAX) -> Callable[[str], int]:
    """A whole number from 1 to `high` (ids and refs: the database's 32-bit INTEGER), written with ASCII digits."""
    return checked(lambda value: input_limits.whole_number(value, what, high=high))


def positive_int(value: str) -> int:
    """A count (events, stores, months): a whole number from 1 up, in ASCII digits; the service sets its own maximum."""
    text = value.strip()
    digits = text[1:] if text.startswith("-") else text
    if digits.isascii() and digits.isdigit() and (text.startswith("-") or not digits.strip("0")):
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} must be 1 or more")
    return whole("A count")(value)


event_ref = checked(input_limits.event_ref)
user_name = checked(input_limits.user_name)
employee = checked(input_limits.employee_id)
note = checked(lambda value: input_limits.note(value, "The note"))
rule_list = checked(lambda value: input_limits.single_line(value, "The rule list", input_limits.RULES_MAX))
NAME_MAX, PATH_MAX = 255, 4096  # bytes in one file name and in a whole path (Linux); longer ones are OSErrors


def file_path(value: str) -> str:
    """A file path the operating system can take: a longer one is a usage error here, not an OSError later."""
    encoded = os.fsencode(value)
    if len(encoded) >= PATH_MAX or any(len(name) > NAME_MAX for name in encoded.split(b"/")):
        raise argparse.ArgumentTypeError(f"{input_limits.shown(value)} is too long for a file path (at most {NAME_MAX} "
                                         f"bytes a name, {PATH_MAX} in all)")
    return value


def database_argument(value: str) -> str:
    """--db: a URL, or an SQLite file path (also inside an sqlite:/// URL) the operating system can take."""
    if value.startswith("sqlite:"):
        file_path(value.partition(":///")[2] or value)
    elif "://" not in value:
        file_path(value)
    return value


MAX_LIMIT = 100_000  # operations --limit: rows printed
MAX_OLDER_THAN = 10 * 366 * 24 * 3600  # reconcile --older-than: ten years, in seconds


def months_before(today: date, months: int) -> date:
    """The first day of the month `months` months before today's month."""
    index = today.year * 12 + (today.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Parents:
    """Argument groups the commands share: --db, --user, --json, --key."""
    common: argparse.ArgumentParser
    user: argparse.ArgumentParser
    output: argparse.ArgumentParser
    keyed: argparse.ArgumentParser


def shared_parents() -> Parents:
    common = Parser(add_help=False)
    common.add_argument("--db", type=database_argument, metavar="URL", help="database URL or SQLite file path (default: SCHEDULER_DATABASE_URL "
                                                    "or data/scheduler.db)")
    user = Parser(add_help=False)
    user.add_argument("--user", type=user_name, required=True, metavar="NAME", help="who is acting (recorded in the journal and audit)")
    output = Parser(add_help=False)
    output.add_argument("--json", action="store_true", help="print one JSON object")
    keyed = Parser(add_help=False)
    # Not checked here: the action records a refused attempt with a bad key (nothing lost), then says why.
    keyed.add_argument("--key", metavar="K", help="idempotency key (1-100 characters): the same key twice runs the "
                                                  "action once")

    return Parents(common, user, output, keyed)
