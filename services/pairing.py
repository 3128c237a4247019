"""Pairing layer: finds each CORE's Supervisor (same event number, same store) in the database, set-based."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import Connection, and_, or_, select

from services.event_rules import CORE, SUPERVISOR, UNSTAFFED, PairingKey, pairing_key
from services.tables import Employee, Event, Schedule

# How a CORE's Supervisor stands; the day view colours them and the actions decide by them.
SUPERVISOR_SCHEDULED = "scheduled"
SUPERVISOR_UNSTAFFED = "unstaffed"
SUPERVISOR_MISSING = "missing"
SUPERVISOR_AMBIGUOUS = "ambiguous"
SUPERVISOR_INACTIVE = "inactive"  # Canceled, Expired, ...: exists but is neither scheduled nor work to do

_NUMBERS_PER_QUERY = 400  # keeps the OR of index range scans well under every driver's parameter limit


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


def _candidates(connection: Connection, numbers: list[str]) -> list[PairedEvent | tuple]:
    # A range on project_name ("612103" <= name < "612104") is an index range scan; the exact pairing rule is applied
    # afterwards in Python, so "6121030..." falling into the range does no harm.
    ranges = [and_(Event.project_name >= number, Event.project_name < str(int(number) + 1).zfill(6)) for number in numbers]
    query = (
        select(Event.project_ref_num, Event.project_name, Event.event_type, Event.condition, Event.location_mvid,
               Event.store_number, Schedule.schedule_datetime, Employee.name, Employee.id)
        .outerjoin(Schedule, Schedule.event_ref_num == Event.project_ref_num)
        .outerjoin(Employee, Employee.id == Schedule.employee_id)
        .where(Event.event_type.in_((CORE, SUPERVISOR)), or_(*ranges))
    )
    return connection.execute(query).all()


def supervisors_for_cores(connection: Connection, cores: Iterable[tuple[int, str, str | None, int | None]]
                          ) -> dict[int, SupervisorMatch]:
    """For each CORE (ref, project_name, location_mvid, store_number): its Supervisor's state, by the pairing rule."""
    wanted: dict[int, PairingKey | None] = {ref: pairing_key(name, mvid, number) for ref, name, mvid, number in cores}
    numbers = sorted({key.event_number for key in wanted.values() if key is not None})
    by_key: dict[PairingKey, dict[str, dict[int, PairedEvent]]] = defaultdict(lambda: {CORE: {}, SUPERVISOR: {}})
    for start in range(0, len(numbers), _NUMBERS_PER_QUERY):
        for row in _candidates(connection, numbers[start:start + _NUMBERS_PER_QUERY]):
            ref, name, event_type, condition, mvid, store_number, scheduled_at, rep_name, rep_id = row
            key = pairing_key(name, mvid, store_number)
            if key is None:
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
