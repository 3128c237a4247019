"""What an incremental data-quality run re-judges (services/quality/incremental.py works it out from the change log);
the rules (rules.py, rep_findings.py) restrict their SQL to it. None of it is needed by a full run."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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
    - `rep_days` and `reps`: for the rules about a rep's bookings from today on, the reps' days and every day of `reps`
      (an employee changed).
    - `since`: the `now` of the complete run this one builds on: the time windows run from there to this run's now."""

    since: datetime
    keys: frozenset[tuple[str, str]]
    refs: frozenset[int]
    rep_days: frozenset[tuple[str, int]]
    reps: frozenset[str]

    def rep_day_condition(self, day: str, rep: str, as_value: Callable[[int], object] = int
                          ) -> tuple[str, dict[str, object]]:
        """SQL selecting the rows of `rep_days` by their `day` and `rep` columns, with its parameters: one term per
        day with its reps as an IN list (each pair a seek on a (day, rep) index; the days as `as_value` makes them)."""
        reps_by_day: dict[int, list[str]] = {}
        for rep_id, day_number in sorted(self.rep_days):
            reps_by_day.setdefault(day_number, []).append(rep_id)
        terms, parameters = [], {}
        for index, (day_number, reps) in enumerate(reps_by_day.items()):
            parameters[f"scope_day{index}"] = as_value(day_number)
            names = [f"scope_rep{index}_{number}" for number in range(len(reps))]
            parameters.update(zip(names, reps))
            terms.append(f"({day} = :scope_day{index} AND {rep} IN ({', '.join(':' + name for name in names)}))")
        return "(" + (" OR ".join(terms) or "1 = 0") + ")", parameters


def batches(items: Sequence[Item], size: int = IN_LIST_SIZE) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
