"""Pre-computed pairing layer: every CORE and Supervisor with its pairing key and latest schedule, kept exact by
database triggers (migration 0007).

Why: the seven pairing rules group every CORE and Supervisor by (event number, store). Computed on the fly at 1,000,000
events that is a table scan, a pattern match on 700,000 names, 700,000 schedule seeks and a sort of 700,000 rows: about
3 s of a check run on SQLite. The triggers keep `dashboard_pair_members` equal to

    SELECT e.project_ref_num, <event number of e.project_name>, <store key of e>, e.event_type,
           e.condition = 'Unstaffed', max(<seconds of s.schedule_datetime>)
    FROM events e LEFT JOIN schedules s ON s.event_ref_num = e.project_ref_num
    WHERE e.event_type IN ('Core', 'Supervisor') AND <both keys are known> GROUP BY e.project_ref_num

whoever writes (this app, the CLI, or the scheduler itself). Its index (key, type, ref, time, unstaffed) lists the
members already in key order, so the rules group them without a sort and without reading events or schedules.

The SQL here computes the key exactly as `event_rules.pairing_key` does in Python (tests/test_quality_rules.py checks
the awkward names: leading white space, a seventh digit, blank location ids, the store-number fallback).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.store.trigger_sql import Watched, drop_row_triggers, row_triggers

TABLE = "dashboard_pair_members"
KEY_INDEX = "ix_dashboard_pair_members_key"
_EVENT_COLUMNS = "project_ref_num, project_name, location_mvid, store_number, event_type, condition"
_SCHEDULE_COLUMNS = "schedule_datetime, event_ref_num"

# Everything Python's str.strip() and the regex \s treat as white space: the SQL key trims exactly these, so it agrees
# with event_rules.pairing_key.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
              "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
# Schedule times are kept as whole seconds since 0001-01-01 (always positive, a multiple of a day at midnight), so the
# rules' date and time-of-day comparisons are integer arithmetic on both backends.
EPOCH = datetime(1, 1, 1)
_EPOCH_SHIFT = int((datetime(1970, 1, 1) - EPOCH).total_seconds())


def whitespace_literal(dialect: str) -> str:
    """WHITESPACE as a SQL expression of character codes (trigger bodies cannot take bound parameters)."""
    codes = [ord(character) for character in WHITESPACE]
    if dialect == "sqlite":
        return f"char({', '.join(map(str, codes))})"
    return "(" + " || ".join(f"chr({code})" for code in codes) + ")"


def event_number_sql(dialect: str, name: str, whitespace: str) -> str:
    """The 6-digit event number of `name` (leading white space ignored, a 7th digit disqualifies), else NULL."""
    trimmed = f"ltrim({name}, {whitespace})"
    if dialect == "postgresql":
        return f"CASE WHEN {trimmed} ~ '^[0-9]{{6}}([^0-9]|$)' THEN substr({trimmed}, 1, 6) END"
    six = "[0-9]" * 6
    # Nearly every name starts with its digits: test the name as it is first and only trim when that fails.
    return (f"CASE WHEN {name} GLOB '{six}[^0-9]*' OR {name} GLOB '{six}' THEN substr({name}, 1, 6) "
            f"WHEN {trimmed} GLOB '{six}[^0-9]*' OR {trimmed} GLOB '{six}' THEN substr({trimmed}, 1, 6) END")


def store_sql(dialect: str, location_mvid: str, store_number: str, whitespace: str) -> str:
    """Crossmark's location id (trimmed, blank = none), falling back to the store number: event_rules.store_key."""
    trim = "btrim" if dialect == "postgresql" else "trim"
    return f"coalesce(nullif({trim}({location_mvid}, {whitespace}), ''), CAST({store_number} AS TEXT))"


def seconds_sql(dialect: str, column: str) -> str:
    """A naive timestamp as whole seconds since 0001-01-01."""
    if dialect == "postgresql":
        return f"(CAST(floor(extract(epoch FROM {column})) AS BIGINT) + {_EPOCH_SHIFT})"
    return f"(CAST(strftime('%s', {column}) AS INTEGER) + {_EPOCH_SHIFT})"


def _latest_schedule(dialect: str, ref: str) -> str:
    return (f"(SELECT max({seconds_sql(dialect, 's.schedule_datetime')}) FROM schedules s "
            f"WHERE s.event_ref_num = {ref})")


def _member_select(dialect: str, row: str) -> str:
    """The member row of one events row (NEW) or, with row 'e', of every event: nothing unless it is a CORE or a
    Supervisor whose number and store are both known."""
    whitespace = whitespace_literal(dialect)
    source = "" if row != "e" else " FROM events e"
    return (f"SELECT ref, num, store, event_type, unstaffed, at FROM ("
            f"SELECT {row}.project_ref_num AS ref, {event_number_sql(dialect, f'{row}.project_name', whitespace)} AS num, "
            f"{store_sql(dialect, f'{row}.location_mvid', f'{row}.store_number', whitespace)} AS store, "
            f"{row}.event_type AS event_type, CASE WHEN {row}.condition = 'Unstaffed' THEN 1 ELSE 0 END AS unstaffed, "
            f"{_latest_schedule(dialect, f'{row}.project_ref_num')} AS at{source} "
            f"WHERE {row}.event_type IN ('Core', 'Supervisor')) member "
            "WHERE num IS NOT NULL AND store IS NOT NULL")


def _insert_member(dialect: str, row: str) -> str:
    return f"INSERT INTO {TABLE} (ref, num, store, event_type, unstaffed, at) {_member_select(dialect, row)};"


def _delete_member(row: str) -> str:
    return f"DELETE FROM {TABLE} WHERE ref = {row}.project_ref_num;"


def _refresh_at(dialect: str, row: str) -> str:
    """After a schedules row (OLD or NEW) changed: its event's latest schedule again."""
    return (f"UPDATE {TABLE} SET at = {_latest_schedule(dialect, f'{row}.event_ref_num')} "
            f"WHERE ref = {row}.event_ref_num;")


def create_trigger_statements(dialect: str) -> list[str]:
    """Since migration 0024: an update of an event or a schedule that changes none of the columns a member is made of
    does nothing (a sync or an action writing an event's condition as it was), and a schedule moved in time refreshes
    its event's member once, not twice."""
    return row_triggers(dialect, "dashboard_pm",
                        Watched("events", _EVENT_COLUMNS, _delete_member("OLD"), _insert_member(dialect, "NEW")),
                        Watched("schedules", _SCHEDULE_COLUMNS, _refresh_at(dialect, "OLD"),
                                _refresh_at(dialect, "NEW"), key_columns="event_ref_num"), skip_unchanged=True)


def drop_trigger_statements(dialect: str) -> list[str]:
    return drop_row_triggers(dialect, "dashboard_pm", "events", "schedules", skip_unchanged=True)


def key_condition(keys: Iterable[tuple[str, str]], alias: str = "pm") -> tuple[str, dict[str, str]]:
    """SQL text and its bound parameters selecting the members of the (event number, store) keys: one term per store
    with its numbers as an IN list, so every key is a seek on the key index and one club's keys are one term (which
    PostgreSQL plans in a fraction of the time a hundred OR'd terms take). Empty keys select nothing."""
    numbers_by_store: dict[str, list[str]] = {}
    for number, store in keys:
        numbers_by_store.setdefault(store, []).append(number)
    terms, parameters = [], {}
    for store_index, (store, numbers) in enumerate(numbers_by_store.items()):
        parameters[f"store{store_index}"] = store
        names = [f"number{store_index}_{index}" for index in range(len(numbers))]
        parameters.update(zip(names, numbers))
        terms.append(f"({alias}.store = :store{store_index} AND {alias}.num IN ({', '.join(':' + n for n in names)}))")
    return (" OR ".join(terms) or "1 = 0"), parameters


def rebuild_statements(dialect: str) -> list[str]:
    """Recompute every member from the base tables (at adoption and after bulk loads)."""
    return [f"DELETE FROM {TABLE}", _insert_member(dialect, "e").rstrip(";")]
