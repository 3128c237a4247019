"""The planners: one pure function per action, from its facts (services/actions/facts.py) to a `Plan`, or a refusal.

No database, no Crossmark, no clock of their own: everything they decide by is an argument, so they are tested
exhaustively without either (tests/test_planners.py). A refusal is an `ActionRefused`/`NotFound` whose message says
what to do instead; the executor records it and sends nothing.

The pair rule lives here: a CORE takes its scheduled Supervisor along (to the Supervisor rule's time, on the CORE's
date); a Supervisor moves only on its CORE's date; the half of a pair an action relies on without changing it is a
guard, checked unchanged when the change is committed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from services.actions.facts import CoreSupervisor, EventAndPair, EventFacts, SupervisorStaffing, UndoFacts
from services.actions.staffing_facts import ReassignFacts, StaffingFacts
from services.actions.suggestions import assignment_for
from services.actions.journal import OperationStatus
from services.actions.plan import (
    ROLE_CORE, ROLE_SINGLE, ROLE_SUPERVISOR, UNSCHEDULED, Placement, Plan, PlannedEvent,
)
from services.domain.event_rules import CORE, SUPERVISOR, SupervisorRule, supervisor_start
from services.domain.pairing import (
    SUPERVISOR_AMBIGUOUS, SUPERVISOR_MISSING, SUPERVISOR_SCHEDULED, SUPERVISOR_UNSTAFFED,
)
from services.domain.rep_rules import RuleCheck, check_assignment
from services.domain.titles import SUPERVISOR_TITLES
from services.errors import ActionRefused, NotFound

UNDO_WINDOW = timedelta(minutes=5)



@dataclass(frozen=True)
class PlanningContext:
    """What a plan depends on besides the facts: the time now, the Supervisor rule, the follow switch."""

    now: datetime
    rule: SupervisorRule = SupervisorRule()
    supervisor_follow: bool = True
    planning_for: int | None = None  # the operation whose plan is made again under its locks (None: before them)


def plan_reschedule(facts: EventAndPair, new_start: datetime, context: PlanningContext) -> Plan:
    event = facts.event
    before = event.placement
    if not before.scheduled:
        raise ActionRefused(f"Event {event.ref} is not scheduled, so there is nothing to reschedule; schedule it "
                            "first.")
    if new_start == before.start:
        raise ActionRefused(f"Event {event.ref} is already scheduled at {new_start:%Y-%m-%d %H:%M}.")
    _check_time(event, new_start, "the new time", context.now)
    _require_remote_ids(event, before, need_scheduled_id=False)
    planned = [event.planned(_role(event), replace(before, start=new_start, scheduled_event_id=None))]
    warnings: list[str] = []
    guards: dict[int, Placement] = {}
    if facts.supervisor is not None:
        supervisor, warning, guards = _supervisor_to_move(event, facts.supervisor, context)
        if supervisor is not None:
            supervisor_at = supervisor_start(new_start, context.rule)
            _require_same_day(supervisor.ref, supervisor_at, new_start)
            _check_time(supervisor, supervisor_at, f"Supervisor {supervisor.ref}'s new time", context.now)
            _require_remote_ids(supervisor, supervisor.placement, need_scheduled_id=False)
            planned.append(supervisor.planned(ROLE_SUPERVISOR, replace(supervisor.placement, start=supervisor_at,
                                                                       scheduled_event_id=None)))
        if warning:
            warnings.append(warning)
    elif facts.core is not None:
        core = facts.core.placement
        guards = {facts.core.ref: core}  # the CORE is relied on (its date): locked and checked unchanged
        if core.scheduled and core.start is not None and core.start.date() != new_start.date():
            raise ActionRefused(
                f"Supervisor {event.ref} belongs to CORE {facts.core.ref}, scheduled on {core.start:%Y-%m-%d}; a "
                f"Supervisor moves only on its CORE's date. To move both, reschedule CORE {facts.core.ref} (its "
                "Supervisor follows).")
    return Plan(tuple(planned), tuple(warnings), guards)


def plan_unschedule(facts: EventAndPair, context: PlanningContext) -> Plan:
    event = facts.event
    if not event.placement.scheduled:
        raise ActionRefused(f"Event {event.ref} is not scheduled; there is nothing to unschedule.")
    _require_remote_ids(event, event.placement, need_scheduled_id=True)
    planned = [event.planned(_role(event), UNSCHEDULED)]
    warnings: list[str] = []
    guards: dict[int, Placement] = {}
    if facts.supervisor is not None:
        supervisor, warning, guards = _supervisor_to_move(event, facts.supervisor, context)
        if supervisor is not None:
            _require_remote_ids(supervisor, supervisor.placement, need_scheduled_id=True)
            planned.append(supervisor.planned(ROLE_SUPERVISOR, UNSCHEDULED))
        if warning:
            warnings.append(warning)
    elif facts.core is not None:
        guards = {facts.core.ref: facts.core.placement}
        if facts.core.placement.scheduled:
            warnings.append(f"CORE {facts.core.ref} stays scheduled; its Supervisor {event.ref} will be Unstaffed "
                            "(schedule one again with Schedule Supervisor).")
    return Plan(tuple(planned), tuple(warnings), guards)


def plan_schedule_supervisor(facts: SupervisorStaffing, context: PlanningContext) -> Plan:
    core = facts.core
    if facts.pair is None:
        raise ActionRefused(f"Event {core.ref} is a {core.event_type}, not a CORE.")
    if not core.placement.scheduled or core.placement.start is None:
        raise ActionRefused(f"CORE {core.ref} is not scheduled; schedule the CORE first.")
    pair = facts.pair
    if pair.state == SUPERVISOR_MISSING:
        raise ActionRefused(f"CORE {core.ref} has no Supervisor event at its store to schedule.")
    if pair.state == SUPERVISOR_AMBIGUOUS:
        raise ActionRefused(_ambiguous_message(core.ref, pair))
    supervisor = pair.supervisor
    if supervisor is None or pair.state != SUPERVISOR_UNSTAFFED:
        raise ActionRefused(f"Supervisor {supervisor.ref if supervisor else '?'} of CORE {core.ref} is not Unstaffed "
                            f"(it is {pair.state}); nothing to schedule.")
    employee = facts.employee
    if employee is None:
        raise ActionRefused(f"No employee with id {facts.employee_id!r}.")
    if not employee.active:
        raise ActionRefused(f"{employee.name} ({employee.id}) is not active.")
    if employee.job_title not in SUPERVISOR_TITLES:
        raise ActionRefused(f"{employee.name} is a {employee.job_title or 'employee without a title'}; a "
                            f"Supervisor event needs a {' or '.join(SUPERVISOR_TITLES)}.")
    if not employee.rep_id:
        raise ActionRefused(f"{employee.name} has no Crossmark rep id (RepID); they cannot be scheduled there.")
    start = supervisor_start(core.placement.start, context.rule)
    _require_same_day(supervisor.ref, start, core.placement.start)
    _check_time(supervisor, start, "the Supervisor's time", context.now)
    target = Placement(True, start, employee.id, employee.rep_id)
    _require_remote_ids(supervisor, target, need_scheduled_id=False)
    return Plan((supervisor.planned(ROLE_SUPERVISOR, target, rep_name=employee.name),), (), {core.ref: core.placement})


def plan_undo(facts: UndoFacts, context: PlanningContext) -> Plan:
    """Take every event the operation changed back to where it was, if nothing moved since and no pair splits."""
    operation_id, original = facts.operation_id, facts.original
    if original is None:
        raise NotFound(f"No operation {operation_id}.")
    if original.status != OperationStatus.DONE:
        raise ActionRefused(f"Operation {operation_id} is {original.status}; only a finished (done) action can "
                            "be undone.")
    if original.finished_at is None or context.now - original.finished_at > UNDO_WINDOW:
        raise ActionRefused(f"Operation {operation_id} finished more than {UNDO_WINDOW.seconds // 60} minutes "
                            "ago; undo is no longer offered — make a new change instead.")
    if facts.already_undone:
        raise ActionRefused(f"Operation {operation_id} has already been undone.")
    guards: dict[int, Placement] = {}
    for ref, expected in facts.guards.items():
        current = guards[ref] = facts.current[ref]
        if not current.same_placement(expected):
            raise ActionRefused(f"Event {ref}, the other half of the pair, changed since operation {operation_id} "
                                f"(now {current.describe()}); undo refused.")
    planned: list[PlannedEvent] = []
    for event, after in facts.changed:
        current = facts.current[event.ref]
        # Placement only: a later action that was compensated leaves the same placement under a new Crossmark
        # id, which is no change for undo (the plan starts from `current`, id included).
        if not current.same_placement(after):
            raise ActionRefused(f"{event.label} changed since operation {operation_id} "
                                f"(now {current.describe()}); undo refused.")
        if after.same_placement(event.before):
            continue
        target = replace(event.before, scheduled_event_id=None) if event.before.scheduled else UNSCHEDULED
        if target.scheduled and target.start is not None:
            facts_now = facts.events.get(event.ref)
            if facts_now is None:
                raise NotFound(f"No event with ref {event.ref}.")
            _check_time(facts_now, target.start, "the earlier time", context.now)
        planned.append(replace(event, before=current, target=target, rep_name=None))
    if not planned:
        raise ActionRefused(f"Operation {operation_id} changed nothing; there is nothing to undo.")
    guards.update(_pairs_kept_after_undo(facts, planned))
    return Plan(tuple(planned), (), guards)


OVERRIDE_HOW = "--override REASON (on the pages: the override box)"


def plan_staff(facts: StaffingFacts, context: PlanningContext, override: str | None = None) -> Plan:
    """An Unstaffed event to a rep at a time inside its window, every rep rule checked. A CORE takes its Supervisor
    along: a scheduled one moves by the rule; an Unstaffed one is staffed at the rule time to the lead asked for (or
    the top suggestion that breaks no rule)."""
    event, start = facts.event, facts.start
    if event.placement.scheduled:
        raise ActionRefused(f"Event {event.ref} is already scheduled ({event.placement.describe()}); use Reassign to "
                            "give it to someone else or Reschedule to move it.")
    if facts.rep is None:
        raise ActionRefused(f"No employee with id {facts.employee_id!r}.")
    rep = facts.rep.rep
    warnings: list[str] = []
    check = check_assignment(assignment_for(event, start), rep, facts.rep.bookings, facts.rep.day_off, context.now)
    warnings += _rules_or_refuse(check, override)
    target = Placement(True, start, rep.id, rep.rep_id)
    _require_remote_ids(event, target, need_scheduled_id=False)
    planned = [event.planned(ROLE_SUPERVISOR if event.event_type == SUPERVISOR else _role(event), target,
                             rep_name=rep.name)]
    guards: dict[int, Placement] = {}
    if facts.core is not None:  # a Supervisor: only beside its scheduled CORE, on the CORE's date
        core = facts.core.placement
        guards[facts.core.ref] = core
        if not core.scheduled or core.start is None:
            raise ActionRefused(f"Supervisor {event.ref} belongs to CORE {facts.core.ref}, which is not scheduled; "
                                f"staff CORE {facts.core.ref} first (its Supervisor is staffed along).")
        if core.start.date() != start.date():
            raise ActionRefused(f"Supervisor {event.ref} belongs to CORE {facts.core.ref}, scheduled on "
                                f"{core.start:%Y-%m-%d}; a Supervisor works on its CORE's date.")
    checks = [check]
    if facts.pair is not None:
        supervisor_plan, warning, guards, lead_check = _supervisor_with_staffed_core(facts, context, override)
        planned += supervisor_plan
        warnings += warning
        checks += [lead_check] if lead_check is not None else []
    return Plan(tuple(planned), tuple(warnings), guards, tuple(checks))


def plan_reassign(facts: ReassignFacts, context: PlanningContext, override: str | None = None) -> Plan:
    """A scheduled event to another rep at the same time (Crossmark: the same schedule call with the new RepID)."""
    event, before = facts.event, facts.event.placement
    if not before.scheduled or before.start is None:
        raise ActionRefused(f"Event {event.ref} is not scheduled, so there is no rep to replace; use Staff.")
    if facts.rep is None:
        raise ActionRefused(f"No employee with id {facts.employee_id!r}.")
    rep = facts.rep.rep
    if rep.id == before.employee_id:
        raise ActionRefused(f"{rep.name} already works event {event.ref}.")
    check = check_assignment(assignment_for(event, before.start), rep, facts.rep.bookings, facts.rep.day_off,
                             context.now, time_kept=True)
    warnings = _rules_or_refuse(check, override)
    target = replace(before, employee_id=rep.id, rep_id=rep.rep_id, scheduled_event_id=None)
    _require_remote_ids(event, target, need_scheduled_id=False)
    return Plan((event.planned(_role(event) if event.event_type != SUPERVISOR else ROLE_SUPERVISOR, target,
                               rep_name=rep.name),), tuple(warnings), {}, (check,))


# --- rules shared by the planners ------------------------------------------------------------------------------------


def _rules_or_refuse(check: RuleCheck, override: str | None) -> list[str]:
    """Refuse when a rule is broken and not overridden; the warnings that record what an override set aside."""
    refusal = check.refusal(override, OVERRIDE_HOW)
    if refusal is not None:
        raise ActionRefused(refusal)
    return [f"Overridden ({override.strip()}): {result.message}" for result in check.overridden(override)
            if override is not None]


def _supervisor_with_staffed_core(facts: StaffingFacts, context: PlanningContext, override: str | None
                                  ) -> tuple[list[PlannedEvent], list[str], dict[int, Placement], RuleCheck | None]:
    """What a CORE being staffed does to its Supervisor: moves a scheduled one by the rule, staffs an Unstaffed one
    (then with the lead's rule results)."""
    pair, core = facts.pair, facts.event
    assert pair is not None
    if pair.state == SUPERVISOR_UNSTAFFED and pair.supervisor is not None:
        supervisor = pair.supervisor
        if not context.supervisor_follow:
            return [], [f"Automatic Supervisor follow is switched off: Supervisor {supervisor.ref} stays Unstaffed."], \
                {supervisor.ref: supervisor.placement}, None
        if facts.lead is None:
            if facts.lead_employee_id is not None:
                raise ActionRefused(f"No employee with id {facts.lead_employee_id!r} (the Supervisor's lead).")
            return [], [f"No qualified lead is free for Supervisor {supervisor.ref}; it stays Unstaffed (schedule "
                        "one with Schedule Supervisor)."], {supervisor.ref: supervisor.placement}, None
        at = supervisor_start(facts.start, context.rule)
        _require_same_day(supervisor.ref, at, facts.start)
        lead = facts.lead.rep
        check = check_assignment(assignment_for(supervisor, at), lead, facts.lead.bookings, facts.lead.day_off,
                                 context.now)
        warnings = _rules_or_refuse(check, override)
        if facts.lead_suggested:
            warnings.append(f"Supervisor {supervisor.ref} goes to {lead.name}, the top suggestion.")
        target = Placement(True, at, lead.id, lead.rep_id)
        _require_remote_ids(supervisor, target, need_scheduled_id=False)
        return [supervisor.planned(ROLE_SUPERVISOR, target, rep_name=lead.name)], warnings, {}, check
    supervisor_event, warning, guards = _supervisor_to_move(core, pair, context)
    if supervisor_event is None:
        return [], [warning] if warning else [], guards, None
    at = supervisor_start(facts.start, context.rule)
    _require_same_day(supervisor_event.ref, at, facts.start)
    if supervisor_event.placement.start == at:
        return [], [], {supervisor_event.ref: supervisor_event.placement}, None
    _check_time(supervisor_event, at, f"Supervisor {supervisor_event.ref}'s new time", context.now)
    _require_remote_ids(supervisor_event, supervisor_event.placement, need_scheduled_id=False)
    return [supervisor_event.planned(ROLE_SUPERVISOR, replace(supervisor_event.placement, start=at,
                                                              scheduled_event_id=None))], [], {}, None




def _supervisor_to_move(core: EventFacts, pair: CoreSupervisor, context: PlanningContext
                        ) -> tuple[EventFacts | None, str | None, dict[int, Placement]]:
    """The CORE's scheduled Supervisor that moves with it (or None), a warning, and the guard on a Supervisor left
    alone."""
    if pair.state == SUPERVISOR_AMBIGUOUS:
        raise ActionRefused(_ambiguous_message(core.ref, pair))
    supervisor = pair.supervisor
    if pair.state == SUPERVISOR_MISSING or supervisor is None:
        return None, f"CORE {core.ref} has no Supervisor event; it moves alone.", {}
    if pair.state != SUPERVISOR_SCHEDULED:
        return None, f"Supervisor {supervisor.ref} is not scheduled; it is left alone.", \
            {supervisor.ref: supervisor.placement}
    if not context.supervisor_follow:
        return None, (f"Automatic Supervisor follow is switched off: Supervisor {supervisor.ref} stays where it "
                      "is."), {supervisor.ref: supervisor.placement}
    return supervisor, None, {}


def _pairs_kept_after_undo(facts: UndoFacts, planned: list[PlannedEvent]) -> dict[int, Placement]:
    """Refuse an undo that would split a pair: after it, every scheduled Supervisor must have its CORE scheduled on
    the same date, and a CORE moved or unscheduled must not leave its scheduled Supervisor behind. Returns the
    guards: the other halves it relies on without changing them."""
    operation_id = facts.operation_id
    final = {event.ref: event.target for event in planned}
    guards: dict[int, Placement] = {}

    def placement(ref: int) -> Placement:
        if ref in final:
            return final[ref]
        guards[ref] = guards.get(ref) or facts.current[ref]
        return guards[ref]

    for event in planned:
        if event.event_type == SUPERVISOR:
            core_ref = facts.core_of.get(event.ref)
            if core_ref is None or not event.target.scheduled or event.target.start is None:
                continue
            core = placement(core_ref)
            if not core.scheduled or core.start is None or core.start.date() != event.target.start.date():
                raise ActionRefused(
                    f"Undoing operation {operation_id} would put Supervisor {event.ref} back on "
                    f"{event.target.start:%Y-%m-%d} while its CORE {core_ref} is {core.describe()}; undo refused "
                    f"(move CORE {core_ref} instead, or schedule the Supervisor on the CORE's day).")
        elif event.event_type == CORE:
            supervisor_ref = facts.supervisor_of.get(event.ref)
            if supervisor_ref is None:
                continue
            supervisor = placement(supervisor_ref)
            if supervisor.scheduled and supervisor.start is not None and (
                    not event.target.scheduled or event.target.start is None
                    or event.target.start.date() != supervisor.start.date()):
                raise ActionRefused(
                    f"Undoing operation {operation_id} would take CORE {event.ref} to {event.target.describe()} "
                    f"while its Supervisor {supervisor_ref} stays at {supervisor.describe()}; undo refused.")
    return guards


def _role(event: EventFacts) -> str:
    return ROLE_CORE if event.event_type == CORE else ROLE_SINGLE


def _ambiguous_message(core_ref: int, pair: CoreSupervisor) -> str:
    return (f"CORE {core_ref} is ambiguous: {pair.cores_with_number} CORE(s) and {pair.supervisors_with_number} "
            "Supervisor(s) share its number at its store. Fix the duplicates first (see Data quality).")


def _check_time(event: EventFacts, start: datetime, what: str, now: datetime) -> None:
    if start < now:
        raise ActionRefused(f"{what.capitalize()} for event {event.ref} ({start:%Y-%m-%d %H:%M}) is in the past.")
    if not event.window_start <= start <= event.window_end:
        raise ActionRefused(f"{what.capitalize()} for event {event.ref} ({start:%Y-%m-%d %H:%M}) is outside its "
                            f"window {event.window_start:%Y-%m-%d %H:%M} – {event.window_end:%Y-%m-%d %H:%M}.")


def _require_same_day(supervisor_ref: int, supervisor_at: datetime, core_at: datetime) -> None:
    if supervisor_at.date() != core_at.date():
        raise ActionRefused(f"The Supervisor rule puts Supervisor {supervisor_ref} at {supervisor_at:%Y-%m-%d %H:%M}, "
                            f"not on the CORE's date ({core_at:%Y-%m-%d}); choose an earlier CORE time.")


def _require_remote_ids(event: EventFacts, placement: Placement, need_scheduled_id: bool) -> None:
    missing = []
    if not event.mplan_id:
        missing.append("mPlanID (events.external_id)")
    if not event.location_id:
        missing.append("LocationID (events.location_mvid)")
    if placement.scheduled and not placement.rep_id:
        missing.append("the rep's RepID (employees.external_id)")
    if need_scheduled_id and not str(placement.scheduled_event_id or "").isdigit():
        missing.append("the Crossmark scheduled-event id (schedules.external_id)"
                       + (f", found the legacy id {placement.scheduled_event_id!r}"
                          if placement.scheduled_event_id else ""))
    if missing:
        raise ActionRefused(f"Event {event.ref} lacks what Crossmark needs: {', '.join(missing)}.")
