"""Pairing queries: finds each CORE's Supervisor (same event number, same store) in the database, set-based; the rules
that decide from what is found are in services/domain/pairing.py."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, DateTime, Row, select, text

from services.domain.event_rules import SUPERVISOR, PairingKey, pairing_key
from services.domain.pairing import PairedEvent, SupervisorMatch, match_supervisors, only_core
from services.store.pair_members import key_condition
from services.store.tables import Event

_KEYS_PER_QUERY = 300  # keeps the OR of index seeks well under every driver's parameter limit


# What a candidate row may carry besides its pairing columns (candidate_rows' `facts`): the columns an action's facts
# of the event are made of (services/actions/facts.find_event's), so the Supervisor an action pairs with is read with
# its pairing, in the same statement.
FACTS_COLUMNS = ("e.external_id AS mplan_id, e.start_datetime, e.due_datetime, e.estimated_time, s.id AS schedule_id, "
                 "s.employee_id, m.external_id AS rep_external_id, s.external_id AS schedule_external_id")


def candidate_rows(connection: Connection, keys: list[PairingKey], facts: bool = False
                   ) -> list[tuple[PairingKey, PairedEvent, Row]]:
    """Every CORE and Supervisor of `keys`, each with its pairing key and its row (one per schedule row; with
    `facts`, FACTS_COLUMNS too)."""
    # Seeks on the pairing members' key index (number, store): the trigger-kept table already holds each CORE's and
    # Supervisor's key exactly as pairing_key computes it (migration 0007), so a Supervisor is found whatever its name
    # or location id look like (white space, a blank id falling back to the store number). SQL text with bound
    # parameters: building the same condition as expression objects cost more than running it.
    if not keys:
        return []
    condition, parameters = key_condition(keys)
    query = text(
        "SELECT e.project_ref_num, e.project_name, e.event_type, e.condition, e.location_mvid, e.store_number, "
        f"s.schedule_datetime, m.name, m.id{', ' + FACTS_COLUMNS if facts else ''} FROM dashboard_pair_members pm "
        "JOIN events e ON e.project_ref_num = pm.ref "
        "LEFT OUTER JOIN schedules s ON s.event_ref_num = e.project_ref_num "
        "LEFT OUTER JOIN employees m ON m.id = s.employee_id "
        f"WHERE {condition}"
    ).columns(schedule_datetime=DateTime, **({"start_datetime": DateTime, "due_datetime": DateTime} if facts else {}))
    # typed, so SQLite's text datetimes come back as datetime
    wanted = set(keys)
    found = []
    for row in connection.execute(query, parameters):
        ref, name, event_type, condition, mvid, store_number, scheduled_at, rep_name, rep_id = row[:9]
        key = pairing_key(name, mvid, store_number)
        if key is not None and key in wanted:
            found.append((key, PairedEvent(ref, name, event_type, condition, scheduled_at, rep_name, rep_id), row))
    return found


def _candidates(connection: Connection, keys: list[PairingKey]) -> list[tuple[PairingKey, PairedEvent]]:
    """Every CORE and Supervisor of `keys`, each with its pairing key."""
    return [(key, event) for key, event, _row in candidate_rows(connection, keys)]


def supervisor_of_core(connection: Connection, core: tuple[int, str, str | None, int | None]
                       ) -> tuple[SupervisorMatch, list[Row]]:
    """supervisors_for_cores for one CORE (ref, project_name, location_mvid, store_number), and the candidate rows
    (with FACTS_COLUMNS) of the Supervisor it found, if any: one statement."""
    key = pairing_key(*core[1:])
    candidates = candidate_rows(connection, [key], facts=True) if key is not None else []
    match = match_supervisors({core[0]: key}, [(found, event) for found, event, _row in candidates])[core[0]]
    rows = [row for _key, event, row in candidates if match.supervisor is not None and event.ref == match.supervisor.ref]
    return match, rows


def supervisors_for_cores(connection: Connection, cores: Iterable[tuple[int, str, str | None, int | None]]
                          ) -> dict[int, SupervisorMatch]:
    """For each CORE (ref, project_name, location_mvid, store_number): its Supervisor's state, by the pairing rule."""
    wanted = {ref: pairing_key(name, location_mvid, store_number) for ref, name, location_mvid, store_number in cores}
    lookups = list(dict.fromkeys(key for key in wanted.values() if key is not None))  # the distinct keys, in order
    candidates = []
    for start in range(0, len(lookups), _KEYS_PER_QUERY):
        candidates += _candidates(connection, lookups[start:start + _KEYS_PER_QUERY])
    return match_supervisors(wanted, candidates)


def core_of_supervisor(connection: Connection, supervisor_ref: int) -> int | None:
    """The ref of the one CORE a Supervisor belongs to (same number, same store), or None (none, or ambiguous)."""
    row = connection.execute(select(Event.project_name, Event.location_mvid, Event.store_number)
                             .where(Event.project_ref_num == supervisor_ref, Event.event_type == SUPERVISOR)).first()
    key = pairing_key(*row) if row is not None else None
    if key is None:
        return None
    return only_core(key, _candidates(connection, [key]))
