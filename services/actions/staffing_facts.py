"""The facts staff and reassign are planned from (services/actions/planners.py), loaded in one read: the event and its
pair, the rep asked for with their day, and — when a CORE's Supervisor is Unstaffed — the lead who takes it (the one
asked for, or the top suggestion that breaks no rule).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from services.actions.facts import CoreSupervisor, EventFacts, core_supervisor, load_event
from services.actions.rep_facts import RepDay, find_rep, rep_days
from services.actions.suggestions import suggest_reps
from services.domain.event_rules import CORE, SUPERVISOR, SupervisorRule, supervisor_start
from services.domain.pairing import SUPERVISOR_UNSTAFFED
from services.reads.pairing import core_of_supervisor


@dataclass(frozen=True)
class StaffingFacts:
    """Staff's facts: the Unstaffed event, the other half of its pair, the rep asked for and the Supervisor's lead."""

    event: EventFacts
    start: datetime
    employee_id: str
    rep: RepDay | None  # None: no such employee
    pair: CoreSupervisor | None = None  # the event is a CORE
    core: EventFacts | None = None  # the event is a Supervisor with exactly one CORE
    lead_employee_id: str | None = None  # the Supervisor's lead as asked for (None: the top suggestion)
    lead: RepDay | None = None  # the lead asked for, or the top suggestion with no rule broken (None: nobody)
    lead_suggested: bool = False  # `lead` is the top suggestion, not asked for


@dataclass(frozen=True)
class ReassignFacts:
    """Reassign's facts: the scheduled event and the rep asked for, with their day."""

    event: EventFacts
    employee_id: str
    rep: RepDay | None


def _rep_day(connection: Connection, employee_id: str, day_of: datetime) -> RepDay | None:
    rep = find_rep(connection, employee_id)
    return None if rep is None else rep_days(connection, [rep], day_of.date())[rep.id]


def load_staffing(connection: Connection, ref: int, employee_id: str, start: datetime,
                  lead_employee_id: str | None, rule: SupervisorRule, now: datetime, *,
                  lead_crossmark_ids: set[str] | None = None) -> StaffingFacts:
    """`lead_crossmark_ids`: the RepIDs Crossmark qualifies for the CORE's Supervisor (None: not checked), for the
    top suggestion when no lead is asked for."""
    event = load_event(connection, ref)
    rep = _rep_day(connection, employee_id, start)
    if event.event_type == SUPERVISOR:
        core_ref = core_of_supervisor(connection, ref)
        core = load_event(connection, core_ref) if core_ref is not None else None
        return StaffingFacts(event, start, employee_id, rep, core=core)
    if event.event_type != CORE:
        return StaffingFacts(event, start, employee_id, rep)
    pair = core_supervisor(connection, event)
    lead, suggested = None, False
    if pair.state == SUPERVISOR_UNSTAFFED and pair.supervisor is not None:
        if lead_employee_id is not None:
            lead = _rep_day(connection, lead_employee_id, start)
        else:
            at = supervisor_start(start, rule)
            top = next((s for s in suggest_reps(connection, pair.supervisor, at, now,
                                                crossmark_rep_ids=lead_crossmark_ids) if s.allowed), None)
            if top is not None:
                lead, suggested = rep_days(connection, [top.rep], at.date())[top.rep.id], True
    return StaffingFacts(event, start, employee_id, rep, pair=pair, lead_employee_id=lead_employee_id, lead=lead,
                         lead_suggested=suggested)


def load_reassign(connection: Connection, ref: int, employee_id: str) -> ReassignFacts:
    event = load_event(connection, ref)
    start = event.placement.start or event.window_start
    return ReassignFacts(event, employee_id, _rep_day(connection, employee_id, start))
