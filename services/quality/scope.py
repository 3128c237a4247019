"""What an incremental data-quality run re-judges (services/quality/incremental.py works it out from the change log);
the rules (rules.py, rep_findings.py) restrict their SQL to it. None of it is needed by a full run."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import BindParameter, bindparam

from services.store.rep_bookings import TABLE as BOOKINGS

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
    dialect: str  # the database the scope's SQL is written for: "sqlite" or "postgresql"

    def bookings_condition(self, alias: str = "") -> tuple[str, dict[str, object]]:
        """SQL selecting the rows of dashboard_rep_bookings (named `alias` in the query, if it is) of `rep_days`, with
        its parameters: by their schedule ids, found by one seek per rep's day (seek_each), read by the primary key.

        One OR'd term per day cost more to plan than to run on PostgreSQL (65 of 110 ms at 1M events for 70 days,
        twice in the rules' statement), and a semi-join on (day, rep) is sized so far off there that the planner reads
        every booking; a set of ids is sized as what it is (a few per rep's day)."""
        prefix = f"{alias}." if alias else ""
        found, parameters = seek_each(self.dialect, BOOKINGS, "schedule_id", sorted(
            (day, rep) for rep, day in self.rep_days), (("day", "INTEGER"), ("employee_id", "VARCHAR")), "scope_")
        return f"{prefix}schedule_id IN ({found})", parameters

    def any_of(self, column: str, name: str, sql_type: str) -> tuple[str, list[BindParameter]]:
        """SQL true when `column` is one of the list bound as `name`, and the binds it needs. PostgreSQL: one array
        parameter. psycopg parses the text of every statement it sends (a statement of more than 4 kB is not cached),
        and an IN list of a thousand parameters cost more there, in SQLAlchemy and psycopg, than the seeks it asks
        for. SQLite: an IN list (a statement per `in_batches` of the values)."""
        if self.dialect == "postgresql":
            return f"{column} = ANY(CAST(:{name} AS {sql_type}[]))", []
        return f"{column} IN :{name}", [bindparam(name, expanding=True)]

    def in_batches(self, items: Sequence[Item]) -> Iterator[Sequence[Item]]:
        """`items` as the lists `any_of` binds: all at once on PostgreSQL, IN_LIST_SIZE at a time on SQLite."""
        if self.dialect == "postgresql":
            if items:
                yield items
            return
        yield from batches(items)

    def key_condition(self, alias: str) -> tuple[str, dict[str, object]]:
        """SQL selecting the rows of dashboard_pair_members (named `alias`) of `keys`, with its parameters: by ref,
        found by one seek per key (as bookings_condition). One statement of two parameters, where a key condition of
        OR'd terms (pair_members.key_condition) took three of 1,300 at 1M events."""
        found, parameters = seek_each(self.dialect, "dashboard_pair_members", "ref", sorted(self.keys),
                                      (("num", "VARCHAR"), ("store", "TEXT")), "scope_")
        return f"{alias}.ref IN ({found})", parameters


def seek_each(dialect: str, table: str, columns: str, probes: Sequence[tuple], matches: Sequence[tuple[str, str]],
              prefix: str = "") -> tuple[str, dict[str, object]]:
    """A SELECT (SQL and parameters) of `columns` (unqualified) from the rows of `table` whose `matches` columns equal
    one of `probes` (each a tuple of values in the order of `matches`: (column, SQL type); dates are compared as the
    ISO text SQLite stores), each probe one seek on an index of those columns, whatever the planner's statistics say.
    The SQL's text is the same whatever the probes (none selects nothing): a parameter or two, compiled once.

    PostgreSQL: the probes as one array per column, unnested, each row joined LATERAL to its own seek. OFFSET 0 keeps
    the planner from flattening the seeks into a join, which it plans as a hash join over the whole table when the
    table's statistics are stale (a findings table a run has just filled: 55 ms instead of 3 at 100k events,
    measured). SQLite: the probes as one JSON list it loops over (json_each), seeking each; a VALUES list of named
    parameters cost more in SQLAlchemy's compiler than the seeks (two parameters a probe, a new text each run)."""
    names = [f"{prefix}probe{index}" for index in range(len(matches))]
    if dialect == "postgresql":
        arrays = ", ".join(f"CAST(:{name} AS {sql_type}[])" for name, (_, sql_type) in zip(names, matches))
        condition = " AND ".join(f"{column} = probes.{name}" for name, (column, _) in zip(names, matches))
        return (f"SELECT found.* FROM unnest({arrays}) AS probes({', '.join(names)}) CROSS JOIN LATERAL "
                f"(SELECT {columns} FROM {table} WHERE {condition} OFFSET 0) found",
                {name: [probe[index] for probe in probes] for index, name in enumerate(names)})
    values = ", ".join(f"json_extract(value, '$[{index}]')" for index in range(len(matches)))
    condition = " AND ".join(f"found.{column} = probes.{name}" for name, (column, _) in zip(names, matches))
    listed = json.dumps([[value.isoformat() if isinstance(value, date) else value for value in probe]
                         for probe in probes])
    return (f"WITH probes({', '.join(names)}) AS (SELECT {values} FROM json_each(:{prefix}probes)) "
            f"SELECT {columns} FROM probes JOIN {table} found ON {condition}", {f"{prefix}probes": listed})


def batches(items: Sequence[Item], size: int = IN_LIST_SIZE) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
