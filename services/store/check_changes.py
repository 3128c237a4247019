"""Change log layer: what changed since the last data-quality run, written by database triggers (migration 0021), so an
incremental run (`check run --changed-since last`) re-judges only what a change can have touched.

Why: a full run at 1,000,000 events re-derives every pair and every rep's day (seconds), although between two runs a
few hundred events change. The triggers write one row per changed row of `events`, `schedules` and `employees`, whoever
writes (this app, the CLI, or the scheduler itself):

- an event inserted, deleted, or updated in a column a rule reads: its ref with its pairing key (event number and store,
  computed in SQL exactly as pair_members does), for the row before and the row after, so the key it left is judged too;
- a schedule inserted, deleted or updated (event, rep, time, scheduled-event id): its event's ref with its rep and day,
  before and after, so the rep's day it left is judged too;
- an employee inserted, deleted or updated in id, name, job title or activity: the employee (every day of theirs).

SQLite's INSERT OR REPLACE, which deletes without a delete trigger, is logged by the insert trigger (before the insert:
the row it replaces, then the new one). An update that changes none of those columns writes nothing (the nightly refresh rewrites every event with the same
values). A row with nothing in it means "everything": a bulk load (which drops the triggers) or the migration that
created the log; the next run is then a full one.

Rows are deleted by the complete run (full or incremental) that read them, by their sequence numbers: a row committed
while a run works (PostgreSQL hands out sequence numbers before commit) is left for the next run.

Migration 0021 holds its own frozen copy of this SQL; this module is what `bulk_load` drops and re-creates.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

from services.store.pair_members import event_number_sql, seconds_sql, store_sql, whitespace_literal
from services.store.trigger_sql import drop_sqlite_triggers, sqlite_trigger

TABLE = "dashboard_check_changes"
DAY_SECONDS = 86_400
# The columns whose change can change a finding (the rules' SQL and their details read them).
EVENT_COLUMNS = ("project_ref_num", "project_name", "location_mvid", "store_number", "event_type", "condition",
                 "is_scheduled", "start_datetime", "due_datetime", "estimated_time", "external_id")
SCHEDULE_COLUMNS = ("event_ref_num", "employee_id", "schedule_datetime", "external_id")
EMPLOYEE_COLUMNS = ("id", "name", "job_title", "is_active")
_WATCHED = (("events", EVENT_COLUMNS), ("schedules", SCHEDULE_COLUMNS), ("employees", EMPLOYEE_COLUMNS))
SQLITE_TRIGGERS = tuple(f"dashboard_cc_{table[:-1]}_{operation}" for table, _ in _WATCHED
                        for operation in ("insert", "delete", "update"))


def _log_event(dialect: str, row: str, source: str = "") -> str:
    whitespace = whitespace_literal(dialect)
    return (f"INSERT INTO {TABLE} (event_ref, num, store) SELECT {row}.project_ref_num, "
            f"{event_number_sql(dialect, f'{row}.project_name', whitespace)}, "
            f"{store_sql(dialect, f'{row}.location_mvid', f'{row}.store_number', whitespace)}{source};")


def _log_schedule(dialect: str, row: str, source: str = "") -> str:
    return (f"INSERT INTO {TABLE} (event_ref, employee_id, day) SELECT {row}.event_ref_num, {row}.employee_id, "
            f"{seconds_sql(dialect, f'{row}.schedule_datetime')} / {DAY_SECONDS}{source};")


def _log_employee(row: str, source: str = "") -> str:
    return f"INSERT INTO {TABLE} (employee_id) SELECT {row}.id{source};"


def _body(dialect: str, table: str, row: str, source: str = "") -> str:
    if table == "events":
        return _log_event(dialect, row, source)
    if table == "schedules":
        return _log_schedule(dialect, row, source)
    return _log_employee(row, source)


# SQLite's INSERT OR REPLACE deletes the row it replaces without firing a delete trigger (as with the derived tables):
# before an insert, the rows it may replace (same key) are logged as they are.
_REPLACED = {"events": "old.project_ref_num = NEW.project_ref_num OR old.id = NEW.id",
             "schedules": "old.id = NEW.id OR old.external_id = NEW.external_id",
             "employees": "old.id = NEW.id OR old.external_id = NEW.external_id"}


def _changed(columns: tuple[str, ...], dialect: str) -> str:
    different = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    return " OR ".join(f"OLD.{name} {different} NEW.{name}" for name in columns)


def create_trigger_statements(dialect: str) -> list[str]:
    statements = []
    for table, columns in _WATCHED:
        singular = table[:-1]
        if dialect == "sqlite":
            statements += [
                f"CREATE TRIGGER dashboard_cc_{singular}_insert BEFORE INSERT ON {table} BEGIN "
                f"{_body(dialect, table, 'old', f' FROM {table} old WHERE {_REPLACED[table]}')} "
                f"{_body(dialect, table, 'NEW')} END",
                sqlite_trigger(f"dashboard_cc_{singular}_delete", f"DELETE ON {table}", _body(dialect, table, "OLD")),
                sqlite_trigger(f"dashboard_cc_{singular}_update",
                               f"UPDATE OF {', '.join(columns)} ON {table} WHEN {_changed(columns, dialect)}",
                               _body(dialect, table, "OLD"), _body(dialect, table, "NEW")),
            ]
            continue
        function = f"dashboard_cc_{table}"
        statements += [
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP IN ('DELETE', 'UPDATE') THEN {_body(dialect, table, 'OLD')} END IF; "
            f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_body(dialect, table, 'NEW')} END IF; RETURN NULL; END $$",
            f"CREATE TRIGGER {function} AFTER INSERT OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()",
            f"CREATE TRIGGER {function}_update AFTER UPDATE OF {', '.join(columns)} ON {table} FOR EACH ROW "
            f"WHEN ({_changed(columns, dialect)}) EXECUTE FUNCTION {function}()",
        ]
    return statements


def drop_trigger_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return drop_sqlite_triggers(SQLITE_TRIGGERS)
    return [statement for table, _ in _WATCHED for statement in (
        f"DROP TRIGGER IF EXISTS dashboard_cc_{table} ON {table}",
        f"DROP TRIGGER IF EXISTS dashboard_cc_{table}_update ON {table}",
        f"DROP FUNCTION IF EXISTS dashboard_cc_{table}()")]


def rebuild_statements(dialect: str) -> list[str]:
    """After a bulk load (the triggers were down): forget the rows there are and say "everything"."""
    return [f"DELETE FROM {TABLE}", f"INSERT INTO {TABLE} (event_ref) VALUES (NULL)"]


# --- reading and consuming ------------------------------------------------------------------------------------------


@dataclass
class Changes:
    """What the log holds: the refs, pairing keys, reps' days and reps that changed, and the rows' sequence numbers."""

    sequence_numbers: list[int] = field(default_factory=list)
    refs: set[int] = field(default_factory=set)
    keys: set[tuple[str, str]] = field(default_factory=set)  # (event number, store)
    rep_days: set[tuple[str, int]] = field(default_factory=set)  # (employee id, days since 0001-01-01)
    reps: set[str] = field(default_factory=set)  # every day of these reps
    everything: bool = False  # a bulk load or the log's creation: only a full run can follow

    def __len__(self) -> int:
        return len(self.sequence_numbers)


def read_changes(connection: Connection, limit: int | None) -> Changes:
    """The log's rows, at most `limit` of them (more: `everything`, since a full run is then cheaper than the rows); with
    no limit (a full run, which judges everything anyway) only their sequence numbers."""
    changes = Changes()
    if limit is None:
        changes.everything = True
        changes.sequence_numbers = [int(seq) for seq in connection.execute(text(f"SELECT seq FROM {TABLE}")).scalars()]
        return changes
    rows = connection.execute(text(f"SELECT seq, event_ref, num, store, employee_id, day FROM {TABLE} ORDER BY seq "
                                   "LIMIT :limit"), {"limit": limit + 1}).all()
    if len(rows) > limit:
        changes.everything = True
    for seq, ref, number, store, employee_id, day in rows:
        changes.sequence_numbers.append(int(seq))
        if ref is None and employee_id is None:
            changes.everything = True
            continue
        if ref is not None:
            changes.refs.add(int(ref))
        if number is not None and store is not None:
            changes.keys.add((str(number), str(store)))
        if employee_id is not None:
            if ref is None:
                changes.reps.add(str(employee_id))
            elif day is not None:
                changes.rep_days.add((str(employee_id), int(day)))
    return changes


def consume(connection: Connection, sequence_numbers: list[int]) -> None:
    """Delete the rows a complete run read: by runs of consecutive numbers, so a row numbered in a gap (committed after
    the run read the log) stays for the next run."""
    numbers = sorted(sequence_numbers)
    start = 0
    for index in range(1, len(numbers) + 1):
        if index == len(numbers) or numbers[index] != numbers[index - 1] + 1:
            if index > start:
                connection.execute(text(f"DELETE FROM {TABLE} WHERE seq BETWEEN :low AND :high"),
                                   {"low": numbers[start], "high": numbers[index - 1]})
            start = index


def log_everything(connection: Connection) -> None:
    """Say "everything changed" (the triggers could not see a change): the next run is a full one."""
    connection.execute(text(f"INSERT INTO {TABLE} (event_ref) VALUES (NULL)"))
