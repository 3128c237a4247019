"""Store layer: the events whose condition, is_scheduled flag and schedules rows disagree, kept by database triggers
(migration 0023).

Why: rule 9 (schedule_state_drift) looked at every event, one EXISTS probe of schedules each where the condition and the
flag agree: a scan of 1,000,000 events, 0.5 to 1 s of a full check run, for a few thousand findings. The triggers keep
`dashboard_state_drift` holding the refs of

    SELECT e.project_ref_num FROM events e WHERE <drifting(e)>

(drift_sql: the scheduled conditions of event_rules.SCHEDULED_CONDITIONS as migration 0023 froze them), whoever writes
(this app, the CLI, or the scheduler itself): after a write to an event or a schedule, the state of that event is
judged again. The rule reads these refs and judges each again on the base tables (an index seek each), so a ref held a
moment too long (an SQLite `INSERT OR REPLACE` that replaces another event's row deletes it without a delete trigger)
is never reported; and an `INSERT OR REPLACE` into schedules that moves a schedule away from an event files that
event's ref before the insert (the one write the row triggers do not see), so no drift goes missing either.
"""
from __future__ import annotations

from services.domain.event_rules import SCHEDULED_CONDITIONS
from services.store.trigger_sql import Watched, drop_row_triggers, row_triggers, sqlite_before_insert_trigger

TABLE = "dashboard_state_drift"
_EVENT_COLUMNS = "project_ref_num, condition, is_scheduled"
_SCHEDULE_COLUMNS = "event_ref_num"
_REPLACED_TRIGGER = "dashboard_sd_schedule_replace"


def drift_sql(event: str) -> str:
    """True when the condition, the is_scheduled flag and the presence of a schedules row of `event` disagree (rule 9).
    The EXISTS runs only where the condition and the flag agree (OR short-circuits), as an index-only seek."""
    conditions = ", ".join(f"'{condition}'" for condition in sorted(SCHEDULED_CONDITIONS))
    flag = f"CASE WHEN {event}.is_scheduled THEN 1 ELSE 0 END"
    return (f"(CASE WHEN {event}.condition IN ({conditions}) THEN 1 ELSE 0 END <> {flag} "
            f"OR {flag} <> CASE WHEN EXISTS (SELECT 1 FROM schedules s WHERE s.event_ref_num = {event}.project_ref_num) "
            "THEN 1 ELSE 0 END)")


def _judge(ref: str) -> str:
    """The event `ref` judged again: held when it drifts, else not."""
    return (f"DELETE FROM {TABLE} WHERE ref = {ref}; "
            f"INSERT INTO {TABLE} (ref) SELECT e.project_ref_num FROM events e "
            f"WHERE e.project_ref_num = {ref} AND {drift_sql('e')};")


def create_trigger_statements(dialect: str) -> list[str]:
    # Since migration 0024: an update that changes none of the watched columns judges nothing again, and one that
    # keeps the event's ref judges it once (the NEW side's judgement replaces its row anyway).
    statements = row_triggers(dialect, "dashboard_sd",
                              Watched("events", _EVENT_COLUMNS, f"DELETE FROM {TABLE} WHERE ref = OLD.project_ref_num;",
                                      _judge("NEW.project_ref_num"), key_columns="project_ref_num"),
                              Watched("schedules", _SCHEDULE_COLUMNS, _judge("OLD.event_ref_num"),
                                      _judge("NEW.event_ref_num")), skip_unchanged=True)
    if dialect == "sqlite":  # the event a replaced schedules row leaves: held, and judged again when the rule reads it
        statements.append(sqlite_before_insert_trigger(
            _REPLACED_TRIGGER, "schedules",
            f"INSERT OR IGNORE INTO {TABLE} (ref) SELECT old.event_ref_num FROM schedules old "
            "WHERE (old.id = NEW.id OR old.external_id = NEW.external_id) AND old.event_ref_num <> NEW.event_ref_num;"))
    return statements


def drop_trigger_statements(dialect: str) -> list[str]:
    statements = drop_row_triggers(dialect, "dashboard_sd", "events", "schedules", skip_unchanged=True)
    if dialect == "sqlite":
        statements.append(f"DROP TRIGGER IF EXISTS {_REPLACED_TRIGGER}")
    return statements


def rebuild_statements(dialect: str) -> list[str]:  # noqa: ARG001 - the same SQL on both backends
    """Recompute every row from the base tables (at adoption and after bulk loads)."""
    return [f"DELETE FROM {TABLE}",
            f"INSERT INTO {TABLE} (ref) SELECT e.project_ref_num FROM events e WHERE {drift_sql('e')}"]
