"""Input limits layer: what a value typed by a person (CLI flag, form field, query parameter) must be to fit the
database's columns, checked before anything is read or written. Each refusal is one InvalidInput line that says what was
wrong; the CLI, the pages and the services share these checks, so the same value gets the same answer everywhere."""
from __future__ import annotations

import re
import unicodedata

from services.errors import InvalidInput

INT_MAX = 2_147_483_647  # PostgreSQL INTEGER (32-bit): the type of every id and ref column (events.project_ref_num, ...)
USER_NAME_MAX = 100  # dashboard_users.username, dashboard_operations.requested_by, dashboard_audit.actor: String(100)
KEY_MAX = 100  # dashboard_operations.idempotency_key: String(100)
EMPLOYEE_ID_MAX = 50  # employees.id: String(50)
STORE_MAX = 100  # dashboard_findings.store, the aggregates' store key: String(100)
NOTE_MAX = 1000  # notes and reasons: Text columns, but a note is a sentence or two, shown on one line of a table
PASSWORD_MAX = 1024  # never stored; it bounds what the sign-in form and scrypt take (a pass phrase fits many times over)
RULES_MAX = 1000  # a comma-separated list of rule names
SHOWN_MAX = 40  # how much of a refused value a message repeats

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: "²".isdigit() is True, and int() reads "١٢" as 12
_USER_NAME = re.compile(r"[A-Za-z0-9._@+-]{2,100}")  # e-mail addresses from an identity provider fit
USER_NAME_RULE = "2-100 letters, digits, . _ @ + -"
_MULTI_LINE = frozenset("\n\r\t")


def shown(value: object, limit: int = SHOWN_MAX) -> str:
    """A refused value as a message repeats it: quoted, control characters escaped, cut to `limit` characters."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


def whole_number(value: str | int, what: str, *, low: int = 1, high: int = INT_MAX) -> int:
    """`value` (text as typed, or an int) as a whole number from `low` to `high`; InvalidInput otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidInput(f"{what} must be a whole number, not {shown(value)}.", value=value)
    if isinstance(value, str):
        digits = value.strip()
        if not _DIGITS.fullmatch(digits):
            raise InvalidInput(f"{what} must be a whole number written with the digits 0-9, not {shown(value)}.",
                               value=value)
        significant = digits.lstrip("0") or "0"
        if len(significant) > len(str(high)):  # never convert a thousand digits just to say they are too many
            raise InvalidInput(f"{what} must be from {low} to {high}; {shown(value)} is out of range.", value=value)
        number = int(significant)
    else:
        number = value
    if not low <= number <= high:
        raise InvalidInput(f"{what} must be from {low} to {high}; {shown(value)} is out of range.", value=value)
    return number


def event_ref(value: str | int, what: str = "An event ref") -> int:
    return whole_number(value, what)


def record_id(value: str | int, what: str) -> int:
    """An operation, finding or other row id: a positive 32-bit integer like the column that holds it."""
    return whole_number(value, what)


def _check_characters(text: str, what: str, *, multi_line: bool) -> None:
    if "\x00" in text:
        raise InvalidInput(f"{what} contains a NUL byte (\\x00), which cannot be stored; type it as plain text.")
    for character in text:
        if unicodedata.category(character) == "Cc" and not (multi_line and character in _MULTI_LINE):
            raise InvalidInput(f"{what} contains the control character {character!r}; type it as plain text.")


def single_line(value: str | None, what: str, limit: int, *, required: bool = False) -> str:
    """Text for a name, key, id or filter: stripped, without control characters, at most `limit` characters."""
    text = (value or "").strip()
    _check_characters(text, what, multi_line=False)
    if len(text) > limit:
        raise InvalidInput(f"{what} has {len(text):,} characters; at most {limit} fit.", limit=limit)
    if required and not text:
        raise InvalidInput(f"{what} is empty.")
    return text


def note(value: str | None, what: str = "The note", limit: int = NOTE_MAX) -> str:
    """Free text (a note, a reason, a comment): stripped, line breaks and tabs allowed, at most `limit` characters."""
    text = (value or "").strip()
    _check_characters(text, what, multi_line=True)
    if len(text) > limit:
        raise InvalidInput(f"{what} has {len(text):,} characters; at most {limit} fit.", limit=limit)
    return text


def user_name(value: str | None, what: str = "The user name") -> str:
    """An account name: stripped, 2-100 of letters, digits and . _ @ + - (what an account can be created with)."""
    text = (value or "").strip()
    if not _USER_NAME.fullmatch(text):
        raise InvalidInput(f"{shown(text)} is not a valid user name ({USER_NAME_RULE}).", field=what)
    return text


def is_user_name(value: str) -> bool:
    """Whether an account could have this (already stripped) name; nothing else is worth looking up."""
    return bool(_USER_NAME.fullmatch(value))


def idempotency_key(value: str | None) -> str:
    return single_line(value, "The idempotency key", KEY_MAX, required=True)


def employee_id(value: str | None) -> str:
    return single_line(value, "The employee id", EMPLOYEE_ID_MAX, required=True)


def password(value: str | None) -> str:
    """A password as typed: at most PASSWORD_MAX characters, no NUL byte (nothing that cannot be typed again)."""
    text = value or ""
    if "\x00" in text:
        raise InvalidInput("The password contains a NUL byte (\\x00); choose one you can type.")
    if len(text) > PASSWORD_MAX:
        raise InvalidInput(f"The password has {len(text):,} characters; at most {PASSWORD_MAX} are accepted.")
    return text
