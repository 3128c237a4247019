"""Pairing queries: finds each CORE's Supervisor (same event number, same store) in the database, set-based; the rules
that decide from what is found are in services/domain/pairing.py."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, DateTime, select, text

from services.domain.event_rules import SUPERVISOR, PairingKey, pairing_key
from services.domain.pairing import PairedEvent, SupervisorMatch, match_supervisors, only_core
from services.store.pair_members import key_condition
from services.store.tables import Event

_KEYS_PER_QUERY = 300  # keeps the OR of index seeks well under every driver's parameter limit


def _candidates(connection: Connection, keys: list[PairingKey]) -> list[tuple[PairingKey, PairedEvent]]:
    """Every CORE and Supervisor of `keys`, each with its pairing key."""
    # Seeks on the pairing members' key index (number, store): the trigger-kept table already holds each CORE's and
    # Supervisor's key exactly as pairing_key computes it (migration 0007), so a Supervisor is found whatever its name
    # or location id look like (white space, a blank id falling back to the store number). SQL text with bound
    # parameters: building the same condition as expression objects cost more than running it.
    if not keys:
        return []
    condition, parameters = key_condition(keys)
    query = text(
        "SELECT e.project_ref_num, e.project_name, e.event_type, e.condition, e.location_mvid, e.store_number, "
        "s.schedule_datetime, m.name, m.id FROM dashboard_pair_members pm "
        "JOIN events e ON e.project_ref_num = pm.ref "
        "LEFT OUTER JOIN schedules s ON s.event_ref_num = e.project_ref_num "
        "LEFT OUTER JOIN employees m ON m.id = s.employee_id "
        f"WHERE {condition}"
    ).columns(schedule_datetime=DateTime)  # typed, so SQLite's text datetimes come back as datetime
    wanted = set(keys)
    found = []
    for ref, name, event_type, condition, mvid, store_number, scheduled_at, rep_name, rep_id in \
            connection.execute(query, parameters):
        key = pairing_key(name, mvid, store_number)
        if key is not None and key in wanted:
            found.append((key, PairedEvent(ref, name, event_type, condition, scheduled_at, rep_name, rep_id)))
    return found


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
