"""The facts an action is planned from, loaded in one read: typed values, no dicts, nothing decided here.

Each loader reads what its planner needs on one connection (one snapshot on PostgreSQL's default isolation per
statement; the executor plans again under the operation's locks and acts only if both plans agree).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, select

from services.actions.journal import Journal, OperationRecord
from services.actions.plan import Placement, PlannedEvent
from services.actions.rep_facts import find_rep
from services.domain.event_rules import CORE, SUPERVISOR, default_duration_minutes
from services.domain.pairing import SUPERVISOR_AMBIGUOUS
from services.domain.rep_rules import Rep
from services.errors import NotFound
from services.ops.logging_setup import log_event
from services.reads.pairing import core_of_supervisor, supervisor_of_core, supervisors_for_cores
from services.store.tables import Employee, Event, Schedule

log = logging.getLogger("services.actions")


@dataclass(frozen=True)
class EventFacts:
    """One event as our database has it: its Crossmark ids, its window and where it stands."""

    ref: int
    name: str
    event_type: str
    mplan_id: str | None  # events.external_id
    location_id: str | None  # events.location_mvid
    store_number: int | None
    window_start: datetime
    window_end: datetime
    estimated_minutes: int | None
    placement: Placement

    @property
    def duration(self) -> int:
        return self.estimated_minutes or default_duration_minutes(self.event_type)

    def planned(self, role: str, target: Placement, before: Placement | None = None,
                rep_name: str | None = None) -> PlannedEvent:
        """This event in a plan: from `before` (its placement, unless given) to `target` (with `rep_name`, the
        target's rep, when the action gives the event to someone)."""
        return PlannedEvent(ref=self.ref, role=role, name=self.name, event_type=self.event_type,
                            mplan_id=str(self.mplan_id), location_id=str(self.location_id), duration=self.duration,
                            window_start=self.window_start, window_end=self.window_end,
                            before=self.placement if before is None else before, target=target, rep_name=rep_name)


@dataclass(frozen=True)
class CoreSupervisor:
    """A CORE's Supervisor by the pairing rule (same number, same store): its state (services.domain.pairing's
    SUPERVISOR_*), the one Supervisor when there is exactly one, and the counts an ambiguous pair is explained by."""

    state: str
    supervisor: EventFacts | None
    cores_with_number: int
    supervisors_with_number: int


@dataclass(frozen=True)
class EventAndPair:
    """Reschedule's and unschedule's facts: the event, and the other half of its pair when it has one."""

    event: EventFacts
    supervisor: CoreSupervisor | None = None  # the event is a CORE
    core: EventFacts | None = None  # the event is a Supervisor with exactly one CORE


@dataclass(frozen=True)
class SupervisorStaffing:
    """Schedule-Supervisor's facts: the CORE, its Supervisor by the pairing rule, and the employee asked for."""

    core: EventFacts
    pair: CoreSupervisor | None  # None when the event is not a CORE
    employee_id: str
    employee: Rep | None


@dataclass(frozen=True)
class UndoFacts:
    """Undo's facts: the operation undone as recorded, and where everything it touched or relied on stands now."""

    operation_id: int
    original: OperationRecord | None
    already_undone: bool
    # Every event of the original with the placement it recorded reaching (`after`; its `before` if none).
    changed: tuple[tuple[PlannedEvent, Placement], ...] = ()
    guards: dict[int, Placement] = field(default_factory=dict)  # the original's guards, as it recorded them
    events: dict[int, EventFacts] = field(default_factory=dict)  # the original's events that still exist
    core_of: dict[int, int | None] = field(default_factory=dict)  # Supervisor events: their one CORE
    supervisor_of: dict[int, int | None] = field(default_factory=dict)  # CORE events: their one Supervisor
    current: dict[int, Placement] = field(default_factory=dict)  # every ref above, as our database has it now


# A schedule row's placement columns, in the order _placement takes them: when, with whom (employees.id and the rep's
# Crossmark id), under which scheduled-event id.
_PLACEMENT_COLUMNS = (Schedule.schedule_datetime, Schedule.employee_id, Employee.external_id, Schedule.external_id)


def _placement(start: datetime | None, employee_id: str | None, rep_id: object, scheduled_event_id: object
               ) -> Placement:
    """The placement a schedule row's _PLACEMENT_COLUMNS give (all None, from an outer join: unscheduled)."""
    if start is None:
        return Placement(False)
    return Placement(True, start, employee_id, str(rep_id) if rep_id is not None else None,
                     str(scheduled_event_id) if scheduled_event_id is not None else None)


# Built once (a statement built per call is keyed by SQLAlchemy on every execution; see journal.py's constants).
_PLACEMENTS = (select(Schedule.event_ref_num, Schedule.id, *_PLACEMENT_COLUMNS)
               .outerjoin(Employee, Employee.id == Schedule.employee_id)
               .where(Schedule.event_ref_num.in_(bindparam("refs", expanding=True))).order_by(Schedule.id))
_PLACEMENTS_LOCKED = _PLACEMENTS.with_for_update(of=Schedule)
_EVENT = (select(Event.project_ref_num, Event.project_name, Event.event_type, Event.external_id, Event.location_mvid,
                 Event.store_number, Event.start_datetime, Event.due_datetime, Event.estimated_time,
                 *_PLACEMENT_COLUMNS)
          .outerjoin(Schedule, Schedule.event_ref_num == Event.project_ref_num)
          .outerjoin(Employee, Employee.id == Schedule.employee_id)
          .where(Event.project_ref_num == bindparam("ref")).order_by(Schedule.id).limit(1))


def placement_in_database(connection: Connection, ref: int) -> Placement:
    """Where our database has the event: its first schedule row (by id), or unscheduled."""
    row = connection.execute(select(*_PLACEMENT_COLUMNS).outerjoin(Employee, Employee.id == Schedule.employee_id)
                             .where(Schedule.event_ref_num == ref).order_by(Schedule.id)).first()
    return Placement(False) if row is None else _placement(*row)


class StoredPlacement(NamedTuple):
    """Where our database has an event (placement_in_database's answer) and the ids of its schedule rows, by id."""

    placement: Placement
    schedule_ids: tuple[int, ...]


def placements_in_database(connection: Connection, refs: Sequence[int], *, lock: bool = False
                           ) -> dict[int, StoredPlacement]:
    """placement_in_database for every ref in one statement, with the schedule rows' ids; `lock`: the schedule rows
    are locked FOR UPDATE on PostgreSQL (the local commit checks and then writes them; SQLite's write transaction
    holds the whole database already). Refs without a schedule row are unscheduled."""
    query = _PLACEMENTS_LOCKED if lock and connection.dialect.name == "postgresql" else _PLACEMENTS
    rows: dict[int, list[Any]] = {}
    for row in connection.execute(query, {"refs": list(refs)}).all():
        rows.setdefault(row[0], []).append(row)
    stored = {}
    for ref in refs:
        found = rows.get(ref)
        if not found:
            stored[ref] = StoredPlacement(Placement(False), ())
            continue
        stored[ref] = StoredPlacement(_placement(*found[0][2:]), tuple(row[1] for row in found))
    return stored


def find_event(connection: Connection, ref: int) -> EventFacts | None:
    """The event and its placement (its first schedule row by id, as placement_in_database) in one statement: a
    paired action plans from two events twice (before its locks and under them), and on PostgreSQL each statement is
    a round trip."""
    row = connection.execute(_EVENT, {"ref": ref}).first()
    if row is None:
        return None
    return EventFacts(ref=row.project_ref_num, name=row.project_name, event_type=row.event_type or "",
                      mplan_id=row.external_id, location_id=row.location_mvid, store_number=row.store_number,
                      window_start=row.start_datetime, window_end=row.due_datetime,
                      estimated_minutes=row.estimated_time, placement=_placement(row[9], row[10], row[11], row[12]))


def load_event(connection: Connection, ref: int) -> EventFacts:
    event = find_event(connection, ref)
    if event is None:
        raise NotFound(f"No event with ref {ref}.")
    return event


def core_supervisor(connection: Connection, core: EventFacts) -> CoreSupervisor:
    """The CORE's Supervisor by the pairing rule, with its facts read in the same statement (on PostgreSQL each
    statement is a round trip, and a paired action pairs twice: before its locks and under them)."""
    match, rows = supervisor_of_core(connection, (core.ref, core.name, core.location_id, core.store_number))
    log_event(log, "pairing decision", core_ref=core.ref, supervisor_state=match.state,
              supervisor_ref=match.supervisor.ref if match.supervisor else None)
    supervisor = _facts_of(rows) if match.supervisor is not None else None
    return CoreSupervisor(match.state, supervisor, match.cores_with_number, match.supervisors_with_number)


def _facts_of(rows: Sequence[Any]) -> EventFacts:
    """An event's facts from its candidate rows (services/reads/pairing.FACTS_COLUMNS; one per schedule row), as
    find_event reads them: the placement of its first schedule row by id."""
    row = min(rows, key=lambda row: (row.schedule_id is None, row.schedule_id or 0))
    return EventFacts(ref=row.project_ref_num, name=row.project_name, event_type=row.event_type or "",
                      mplan_id=row.mplan_id, location_id=row.location_mvid, store_number=row.store_number,
                      window_start=row.start_datetime, window_end=row.due_datetime,
                      estimated_minutes=row.estimated_time,
                      placement=_placement(row.schedule_datetime, row.employee_id, row.rep_external_id,
                                           row.schedule_external_id))


def load_event_and_pair(connection: Connection, ref: int) -> EventAndPair:
    event = load_event(connection, ref)
    if event.event_type == CORE:
        return EventAndPair(event, supervisor=core_supervisor(connection, event))
    if event.event_type == SUPERVISOR:
        core_ref = core_of_supervisor(connection, ref)
        return EventAndPair(event, core=load_event(connection, core_ref) if core_ref is not None else None)
    return EventAndPair(event)


def load_supervisor_staffing(connection: Connection, core_ref: int, employee_id: str) -> SupervisorStaffing:
    core = load_event(connection, core_ref)
    pair = core_supervisor(connection, core) if core.event_type == CORE else None
    employee = find_rep(connection, employee_id)
    return SupervisorStaffing(core, pair, employee_id, employee)


def load_undo(connection: Connection, journal: Journal, operation_id: int, planning_for: int | None) -> UndoFacts:
    """`planning_for`: the undo operation being planned again under its own locks (its pending record is not
    "another undo of the same operation")."""
    original = journal.find(operation_id)
    if original is None:
        return UndoFacts(operation_id, None, False)
    already_undone = journal.done_undo_of(operation_id, excluding=planning_for) is not None
    changed = []
    for value in original.events:
        event = PlannedEvent.from_json(value)
        changed.append((event, Placement.from_json(value["after"]) if value.get("after") else event.before))
    guards = {int(ref): Placement.from_json(value) for ref, value in (original.request.get("guards") or {}).items()}
    events: dict[int, EventFacts] = {}
    core_of: dict[int, int | None] = {}
    supervisor_of: dict[int, int | None] = {}
    for event, _after in changed:
        facts = find_event(connection, event.ref)
        if facts is None:
            continue
        events[event.ref] = facts
        if event.event_type == SUPERVISOR:
            core_of[event.ref] = core_of_supervisor(connection, event.ref)
        elif event.event_type == CORE:
            match = supervisors_for_cores(connection, [(facts.ref, facts.name, facts.location_id,
                                                        facts.store_number)])[facts.ref]
            supervisor_of[event.ref] = match.supervisor.ref if match.supervisor is not None and \
                match.state != SUPERVISOR_AMBIGUOUS else None
    refs = {event.ref for event, _ in changed} | set(guards) | \
        {ref for ref in (*core_of.values(), *supervisor_of.values()) if ref is not None}
    current = {ref: placement_in_database(connection, ref) for ref in refs}
    return UndoFacts(operation_id, original, already_undone, tuple(changed), guards, events, core_of, supervisor_of,
                     current)
