"""Store layer: every pairing key (event number, store) with what the pairing rules judge it by, kept by database
triggers on dashboard_pair_members (migration 0023).

Why: the seven pairing rules grouped all of dashboard_pair_members on every full run (700,000 members into 350,000 keys
at 1,000,000 events: 0.85 s of SQL) to find the 48,000 keys that offend, although a write changes one or two keys. The
triggers keep `dashboard_pair_keys` equal to

    SELECT num, store, <first and last CORE ref>, <first and last Supervisor ref>, <CORE's latest schedule>,
           <Supervisor's latest schedule>, <a Supervisor is Unstaffed>, <kind>, <gap>, <Supervisor's time of day>
    FROM dashboard_pair_members GROUP BY num, store

(after a write to a member, the keys of its old and new row are grouped again: a seek on the members' key index each;
the one key once when the write kept it, and nothing when the write changed none of the member's columns).
`kind` is what of a key can be decided without the supervisor time rule (a setting): KIND_JUDGED, a key some rule may
report whatever the rule time (no CORE or no Supervisor, duplicates, one scheduled and the other not, or on different
days); KIND_SAME_DAY, one CORE and one Supervisor both scheduled on one day, reported only when the Supervisor is not at
the rule time (`gap`, its start minus the CORE's, for the offset rule; `sup_time`, its time of day, for the fixed one);
KIND_HEALTHY otherwise. A full run reads the KIND_JUDGED range of the (kind, gap) index and the two ranges of KIND_SAME_DAY
on either side of the rule's gap (or time of day): only the keys that offend.
"""
from __future__ import annotations

from services.store.trigger_sql import Watched, drop_row_triggers, row_triggers

TABLE = "dashboard_pair_keys"
GAP_INDEX = "ix_dashboard_pair_keys_gap"
TIME_INDEX = "ix_dashboard_pair_keys_time"
KIND_HEALTHY, KIND_JUDGED, KIND_SAME_DAY = 0, 1, 2
DAY_SECONDS = 86_400
COLUMNS = ("num, store, core_first, core_last, sup_first, sup_last, core_at, sup_at, sup_unstaffed, kind, gap, "
           "sup_time")
_MEMBER_COLUMNS = "ref, num, store, event_type, unstaffed, at"

# One key's (or every key's) aggregates, as the pairing rules read them before this table.
_GROUPED = """SELECT num, store,
    min(CASE WHEN event_type = 'Core' THEN ref END) AS core_first,
    max(CASE WHEN event_type = 'Core' THEN ref END) AS core_last,
    min(CASE WHEN event_type = 'Supervisor' THEN ref END) AS sup_first,
    max(CASE WHEN event_type = 'Supervisor' THEN ref END) AS sup_last,
    max(CASE WHEN event_type = 'Core' THEN at END) AS core_at,
    max(CASE WHEN event_type = 'Supervisor' THEN at END) AS sup_at,
    max(CASE WHEN event_type = 'Supervisor' THEN unstaffed END) AS sup_unstaffed
FROM dashboard_pair_members {where} GROUP BY num, store"""

_SAME_DAY_PAIR = (f"k.core_first = k.core_last AND k.sup_first = k.sup_last AND k.core_at IS NOT NULL "
                  f"AND k.sup_at IS NOT NULL AND k.core_at / {DAY_SECONDS} = k.sup_at / {DAY_SECONDS}")
_JUDGED = ("k.core_first IS NULL OR k.sup_first IS NULL OR k.core_first <> k.core_last OR k.sup_first <> k.sup_last "
           "OR (k.core_at IS NOT NULL AND k.sup_at IS NULL AND k.sup_unstaffed = 1) "
           "OR (k.core_at IS NULL AND k.sup_at IS NOT NULL) "
           f"OR (k.core_at IS NOT NULL AND k.sup_at IS NOT NULL AND k.core_at / {DAY_SECONDS} <> k.sup_at / {DAY_SECONDS})")


def _insert_grouped(where: str) -> str:
    return (f"INSERT INTO {TABLE} ({COLUMNS}) "
            "SELECT k.num, k.store, k.core_first, k.core_last, k.sup_first, k.sup_last, k.core_at, k.sup_at, "
            f"k.sup_unstaffed, CASE WHEN {_JUDGED} THEN {KIND_JUDGED} WHEN {_SAME_DAY_PAIR} THEN {KIND_SAME_DAY} "
            f"ELSE {KIND_HEALTHY} END, "
            f"CASE WHEN {_SAME_DAY_PAIR} THEN k.sup_at - k.core_at END, "
            f"CASE WHEN {_SAME_DAY_PAIR} THEN k.sup_at % {DAY_SECONDS} END "
            f"FROM ({_GROUPED.format(where=where)}) k")


def _regroup(row: str) -> str:
    """The key of a member row (OLD or NEW) grouped again: its row replaced, or gone with its last member."""
    return (f"DELETE FROM {TABLE} WHERE num = {row}.num AND store = {row}.store; "
            f"{_insert_grouped(f'WHERE num = {row}.num AND store = {row}.store')};")


def create_trigger_statements(dialect: str) -> list[str]:
    """Since migration 0024: a member's update that changes none of its columns regroups nothing, and one that keeps its
    key (a schedule moved: its `at`) regroups that key once, not twice."""
    return row_triggers(dialect, "dashboard_pk",
                        Watched("dashboard_pair_members", _MEMBER_COLUMNS, _regroup("OLD"), _regroup("NEW"),
                                key_columns="num, store"), skip_unchanged=True)


def drop_trigger_statements(dialect: str) -> list[str]:
    return drop_row_triggers(dialect, "dashboard_pk", "dashboard_pair_members", skip_unchanged=True)


def rebuild_statements(dialect: str) -> list[str]:  # noqa: ARG001 - the same SQL on both backends
    """Recompute every key from dashboard_pair_members (at adoption and after bulk loads, after that table)."""
    return [f"DELETE FROM {TABLE}", _insert_grouped("")]
