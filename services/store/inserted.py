"""The primary key of the row one INSERT wrote, typed."""
from __future__ import annotations

from sqlalchemy import CursorResult


def inserted_id(result: CursorResult) -> int:
    """The id of the single row an `insert(...).values(...)` just wrote.

    SQLAlchemy types `inserted_primary_key` as optional: it is None when the statement gave back no key row (not an
    INSERT of one row). Every caller here inserts exactly one row into a table with an integer key, so None would be a
    bug; it is said plainly instead of a TypeError on `None[0]`."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the INSERT gave back no primary key")
    return key[0]
