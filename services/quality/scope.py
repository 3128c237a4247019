"""What an incremental data-quality run re-judges (services/quality/incremental.py works it out from the change log);
the rules (rules.py, rep_findings.py) restrict their SQL to it. None of it is needed by a full run."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

Item = TypeVar("Item")
IN_LIST_SIZE = 500  # values per IN list: far below every driver's limit on bound parameters


@dataclass(frozen=True)
class Scope:
    """The keys an incremental run judges again; a rule reports what it finds among them, and the run resolves the open
    findings among them that it did not report again.

    - `keys`: pairing keys (event number, store) for the seven pairing rules;
    - `refs`: events, for the rules about one event (Unstaffed by due date, schedule state, schedule ids, unreported
      work), besides the time windows each one moved over since `since`;
    - `rep_days` and `reps`: for the rules about a rep's bookings from today on, the reps' days (any rep of `rep_days`
      on any day of it: a superset that keeps the SQL to two IN lists) and every day of `reps` (an employee changed).
    - `since`: the `now` of the complete run this one builds on: the time windows run from there to this run's now."""

    since: datetime
    keys: frozenset[tuple[str, str]]
    refs: frozenset[int]
    rep_days: frozenset[tuple[str, int]]
    reps: frozenset[str]

    @property
    def day_reps(self) -> list[str]:
        return sorted({rep for rep, _ in self.rep_days})

    @property
    def days(self) -> list[int]:
        return sorted({day for _, day in self.rep_days})


def batches(items: Sequence[Item], size: int = IN_LIST_SIZE) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
