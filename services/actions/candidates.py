"""Who could take a CORE's Supervisor event: qualified, active leads with a Crossmark rep id, best first."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from services.actions.facts import load_event
from services.domain.event_rules import CORE
from services.domain.titles import SUPERVISOR_TITLES, JobTitle
from services.store.tables import Employee, Event, Schedule


@dataclass(frozen=True)
class SupervisorCandidate:
    employee_id: str
    name: str
    job_title: str
    reason: str  # why they rank where they do, in words ("" when nothing sets them apart)


def supervisor_candidates(engine: Engine, core_ref: int) -> list[SupervisorCandidate]:
    """Qualified employees for a CORE's Supervisor, best first: the CORE's rep if a lead, leads working a Core that
    day at that store, then Club Supervisors (those who have worked at the store first)."""
    with engine.connect() as connection:
        core = load_event(connection, core_ref)
        placement = core.placement
        qualified = connection.execute(select(Employee.id, Employee.name, Employee.job_title)
                                       .where(Employee.job_title.in_(SUPERVISOR_TITLES),
                                              Employee.external_id.is_not(None),
                                              Employee.is_active.is_not(False))).all()
        employees = [SupervisorCandidate(row.id, row.name, row.job_title or "", "") for row in qualified]
        day = placement.start.date() if placement.start else None
        store_refs = select(Event.project_ref_num).where(Event.location_mvid == core.location_id)
        leads_that_day: set[str] = set()
        if day is not None:
            leads_that_day = set(connection.execute(
                select(Schedule.employee_id).join(Event, Event.project_ref_num == Schedule.event_ref_num)
                .where(Event.event_type == CORE, Event.location_mvid == core.location_id,
                       Schedule.schedule_datetime >= datetime.combine(day, datetime.min.time()),
                       Schedule.schedule_datetime < datetime.combine(day + timedelta(days=1), datetime.min.time())
                       )).scalars())
        worked_here = set(connection.execute(select(Schedule.employee_id)
                                             .where(Schedule.event_ref_num.in_(store_refs))).scalars())

    def rank(employee: SupervisorCandidate) -> tuple[bool, bool, bool, bool, str]:
        return (employee.employee_id != placement.employee_id, employee.employee_id not in leads_that_day,
                employee.job_title != JobTitle.CLUB_SUPERVISOR, employee.employee_id not in worked_here, employee.name)

    def reason(employee_id: str) -> str:
        if employee_id == placement.employee_id:
            return "the CORE's rep"
        if employee_id in leads_that_day:
            return "working a Core here that day"
        return "has worked at this store" if employee_id in worked_here else ""

    return [replace(e, reason=reason(e.employee_id)) for e in sorted(employees, key=rank)]
