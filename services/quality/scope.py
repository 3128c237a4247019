"""What an incremental data-quality run re-judges (services/quality/incremental.py works it out from the change log);
the rules (rules.py, rep_findings.py) restrict their SQL to it. None of it is needed by a full run."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import BindParameter, bindparam

from services.store.pair_members import key_condition
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

    def bookings_condition(self, alias: str = "") -> tuple[str, dict[str, object]]:
        """SQL selecting the rows of dashboard_rep_bookings (named `alias` in the query, if it is) of `rep_days`, with
        its parameters.

        PostgreSQL: by their schedule ids, found by one seek per rep's day (seek_each). The days' OR'd terms of
        rep_day_condition cost more to plan than to run there (65 of 110 ms at 1M events for 70 days, twice in the
        rules' statement), and a semi-join on (day, rep) is sized so far off that the planner reads every booking;
        a set of ids is sized as what it is (a few per rep's day) and read by the primary key. SQLite plans the OR'd
        terms in no time, each a seek."""
        prefix = f"{alias}." if alias else ""
        if self.dialect != "postgresql":
            return self.rep_day_condition(f"{prefix}day", f"{prefix}employee_id")
        if not self.rep_days:
            return "1 = 0", {}
        (found, parameters), = seek_each(self.dialect, BOOKINGS, "schedule_id", sorted(
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

    def key_conditions(self, alias: str, per_statement: int) -> Iterator[tuple[str, dict[str, object]]]:
        """SQL selecting the rows of dashboard_pair_members (named `alias`) of `keys`, with its parameters: one
        statement's condition on PostgreSQL (by ref, found by one seek per key, as bookings_condition does), one per
        `per_statement` keys on SQLite (pair_members.key_condition)."""
        keys = sorted(self.keys)
        if self.dialect != "postgresql":
            for batch in batches(keys, per_statement):
                condition, by_key = key_condition(batch, alias)
                yield condition, dict(by_key)
            return
        if keys:
            (found, probes), = seek_each(self.dialect, "dashboard_pair_members", "ref", keys,
                                         (("num", "VARCHAR"), ("store", "TEXT")), "scope_")
            yield f"{alias}.ref IN ({found})", probes


def seek_each(dialect: str, table: str, columns: str, probes: Sequence[tuple], matches: Sequence[tuple[str, str]],
              prefix: str = "") -> Iterator[tuple[str, dict[str, object]]]:
    """SELECTs (SQL and parameters) of `columns` (unqualified) from the rows of `table` whose `matches` columns equal
    one of `probes` (each a tuple of values in the order of `matches`: (column, SQL type)), each probe one seek on an
    index of those columns, whatever the planner's statistics say. Nothing for no probes.

    PostgreSQL, one statement: the probes as one array per column (a few parameters whatever their number), unnested,
    each row joined LATERAL to its own seek. OFFSET 0 keeps the planner from flattening the seeks into a join, which it
    plans as a hash join over the whole table when the table's statistics are stale (a findings table a run has just
    filled: 55 ms instead of 3 at 100k events, measured). SQLite, a statement per IN_LIST_SIZE probes: a VALUES list it
    loops over, seeking each (its planner has no statistics that could make it scan instead)."""
    names = [f"{prefix}probe{index}" for index in range(len(matches))]
    if not probes:
        return
    if dialect == "postgresql":
        arrays = ", ".join(f"CAST(:{name} AS {sql_type}[])" for name, (_, sql_type) in zip(names, matches))
        condition = " AND ".join(f"{column} = probes.{name}" for name, (column, _) in zip(names, matches))
        yield (f"SELECT found.* FROM unnest({arrays}) AS probes({', '.join(names)}) CROSS JOIN LATERAL "
               f"(SELECT {columns} FROM {table} WHERE {condition} OFFSET 0) found",
               {name: [probe[index] for probe in probes] for index, name in enumerate(names)})
        return
    condition = " AND ".join(f"found.{column} = probes.{name}" for name, (column, _) in zip(names, matches))
    for batch in batches(probes):
        rows: list[str] = []
        parameters: dict[str, object] = {}
        for number, probe in enumerate(batch):
            row_names = [f"{name}_{number}" for name in names]
            parameters.update(zip(row_names, probe))
            rows.append(f"({', '.join(':' + name for name in row_names)})")
        yield (f"WITH probes({', '.join(names)}) AS (VALUES {', '.join(rows)}) "
               f"SELECT {columns} FROM probes JOIN {table} found ON {condition}", parameters)


def batches(items: Sequence[Item], size: int = IN_LIST_SIZE) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
