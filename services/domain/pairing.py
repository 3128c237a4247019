"""Pairing layer: finds each CORE's Supervisor (same event number, same store) in the database, set-based."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import Connection, DateTime, Row, select, text

from services.domain.event_rules import CORE, SUPERVISOR, UNSTAFFED, PairingKey, pairing_key
from services.store.pair_members import key_condition
from services.store.tables import Event

# How a CORE's Supervisor stands; the day view colours them and the actions decide by them.
SUPERVISOR_SCHEDULED = "scheduled"
SUPERVISOR_UNSTAFFED = "unstaffed"
SUPERVISOR_MISSING = "missing"
SUPERVISOR_AMBIGUOUS = "ambiguous"
SUPERVISOR_INACTIVE = "inactive"  # Canceled, Expired, ...: exists but is neither scheduled nor work to do

_KEYS_PER_QUERY = 300  # keeps the OR of index seeks well under every driver's parameter limit


@dataclass(frozen=True)
class PairedEvent:
    ref: int
    project_name: str
    event_type: str
    condition: str | None
    scheduled_at: datetime | None
    rep_name: str | None
    rep_id: str | None


@dataclass(frozen=True)
class SupervisorMatch:
    state: str
    supervisor: PairedEvent | None = None
    cores_with_number: int = 1
    supervisors_with_number: int = 0


def _candidates(connection: Connection, keys: list[PairingKey]) -> Sequence[Row]:
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
    return connection.execute(query, parameters).all()


def supervisors_for_cores(connection: Connection, cores: Iterable[tuple[int, str, str | None, int | None]]
                          ) -> dict[int, SupervisorMatch]:
    """For each CORE (ref, project_name, location_mvid, store_number): its Supervisor's state, by the pairing rule."""
    wanted: dict[int, PairingKey | None] = {}
    lookups: dict[PairingKey, None] = {}  # the distinct keys, in order
    for ref, name, location_mvid, store_number in cores:
        key = wanted[ref] = pairing_key(name, location_mvid, store_number)
        if key is not None:
            lookups[key] = None
    by_key: dict[PairingKey, dict[str, dict[int, PairedEvent]]] = defaultdict(lambda: {CORE: {}, SUPERVISOR: {}})
    pending = list(lookups)
    for start in range(0, len(pending), _KEYS_PER_QUERY):
        for row in _candidates(connection, pending[start:start + _KEYS_PER_QUERY]):
            ref, name, event_type, condition, mvid, store_number, scheduled_at, rep_name, rep_id = row
            key = pairing_key(name, mvid, store_number)
            if key is None or key not in lookups:
                continue
            by_key[key][event_type][ref] = PairedEvent(ref, name, event_type, condition, scheduled_at, rep_name, rep_id)

    matches: dict[int, SupervisorMatch] = {}
    for ref, key in wanted.items():
        group = by_key.get(key) if key is not None else None
        supervisors = list(group[SUPERVISOR].values()) if group else []
        core_count = max(len(group[CORE]), 1) if group else 1
        if not supervisors:
            matches[ref] = SupervisorMatch(SUPERVISOR_MISSING, None, core_count, 0)
        elif len(supervisors) > 1 or core_count > 1:
            matches[ref] = SupervisorMatch(SUPERVISOR_AMBIGUOUS, None, core_count, len(supervisors))
        else:
            supervisor = supervisors[0]
            if supervisor.scheduled_at is not None:
                state = SUPERVISOR_SCHEDULED
            elif supervisor.condition == UNSTAFFED:
                state = SUPERVISOR_UNSTAFFED
            else:
                state = SUPERVISOR_INACTIVE
            matches[ref] = SupervisorMatch(state, supervisor, core_count, 1)
    return matches


def core_of_supervisor(connection: Connection, supervisor_ref: int) -> int | None:
    """The ref of the one CORE a Supervisor belongs to (same number, same store), or None (none, or ambiguous)."""
    row = connection.execute(select(Event.project_name, Event.location_mvid, Event.store_number)
                             .where(Event.project_ref_num == supervisor_ref, Event.event_type == SUPERVISOR)).first()
    key = pairing_key(*row) if row is not None else None
    if key is None:
        return None
    cores = {ref for ref, name, event_type, _, mvid, number, *_ in _candidates(connection, [key])
             if event_type == CORE and pairing_key(name, mvid, number) == key}
    return next(iter(cores)) if len(cores) == 1 else None
