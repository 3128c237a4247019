"""The paired actions: reschedule, unschedule, schedule-Supervisor, staff, reassign and undo, in our database and Crossmark together.

Each action is three parts: its facts, loaded in one read (services/actions/facts.py); a pure planner deciding what
changes (services/actions/planners.py); and the one saga executor that runs any plan (services/actions/executor.py:
operation record, locks, Crossmark steps CORE first, read-back, compensation, local commit, reconcile and retry).
`preview_*` runs the same facts and planner without recording or sending anything (a form's confirm step).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import Connection

import httpx

from services.actions.candidates import SupervisorCandidate, supervisor_candidates
from services.actions.executor import ActionResult, Planner, SagaExecutor
from services.actions.facts import (
    EventFacts, core_supervisor, find_event, load_event, load_event_and_pair, load_supervisor_staffing, load_undo,
)
from services.actions.plan import (
    REASSIGN, RESCHEDULE, ROLE_SUPERVISOR, SCHEDULE_SUPERVISOR, STAFF, UNDO, UNSCHEDULE, Plan,
)
from services.actions.planners import (
    PlanningContext, plan_reassign, plan_reschedule, plan_schedule_supervisor, plan_staff, plan_undo, plan_unschedule,
)
from services.actions.staffing_facts import load_reassign, load_staffing
from services.actions.suggestions import Suggestions, default_start, suggest_reps
from services.domain import input_limits
from services.domain.event_rules import CORE
from services.domain.pairing import SUPERVISOR_UNSTAFFED
from services.errors import CrossmarkError, OpsError
from services.ops.logging_setup import log_event

log = logging.getLogger("services.actions")


class PairedActions(SagaExecutor):
    """The paired actions over one database and one Crossmark client factory (dependency injection)."""

    # Each action checks its arguments against the columns first (input_limits): a ref out of PostgreSQL's INTEGER
    # range or an over-long id is a recorded refusal with a clear message, never a driver DataError.

    def reschedule(self, ref: int, new_start: datetime, actor: str, key: str | None = None) -> ActionResult:
        return self.run(RESCHEDULE, actor, key, {"ref": ref, "to": new_start.isoformat()},
                        self._rescheduling(ref, new_start))

    def unschedule(self, ref: int, actor: str, key: str | None = None) -> ActionResult:
        return self.run(UNSCHEDULE, actor, key, {"ref": ref}, self._unscheduling(ref))

    def schedule_supervisor(self, core_ref: int, employee_id: str, actor: str, key: str | None = None) -> ActionResult:
        return self.run(SCHEDULE_SUPERVISOR, actor, key, {"core": core_ref, "employee": employee_id},
                        self._scheduling_supervisor(core_ref, employee_id))

    def staff(self, ref: int, employee_id: str, start: datetime, actor: str, key: str | None = None, *,
              supervisor_employee_id: str | None = None, override: str | None = None) -> ActionResult:
        """An Unstaffed event to a rep at `start`; a CORE takes its Supervisor along (staffed to
        `supervisor_employee_id`, or the top suggestion, when Unstaffed; moved by the rule when scheduled)."""
        request = {"ref": ref, "employee": employee_id, "at": start.isoformat(),
                   **({"supervisor_employee": supervisor_employee_id} if supervisor_employee_id else {}),
                   **({"override": override} if override else {})}
        return self.run(STAFF, actor, key, request, self._staffing(ref, employee_id, start, supervisor_employee_id,
                                                                  override, self._lead_qualification(
                                                                      ref, employee_id, start, supervisor_employee_id,
                                                                      override, actor, key)))

    def reassign(self, ref: int, employee_id: str, actor: str, key: str | None = None, *,
                 override: str | None = None) -> ActionResult:
        """A scheduled event to another rep at the same time."""
        request = {"ref": ref, "employee": employee_id, **({"override": override} if override else {})}
        return self.run(REASSIGN, actor, key, request, self._reassigning(ref, employee_id, override))

    def undo(self, operation_id: int, actor: str, key: str | None = None) -> ActionResult:
        return self.run(UNDO, actor, key or f"undo-{operation_id}-{uuid.uuid4().hex}", {"operation": operation_id},
                        self._undoing(operation_id), undo_of=operation_id if _fits_integer(operation_id) else None)

    # What an action would do, for the confirm step of a form: the same refusals as the action, nothing recorded.

    def preview_reschedule(self, ref: int, new_start: datetime) -> Plan:
        return self._plan(self._rescheduling(ref, new_start), preview=True)

    def preview_unschedule(self, ref: int) -> Plan:
        return self._plan(self._unscheduling(ref), preview=True)

    def preview_schedule_supervisor(self, core_ref: int, employee_id: str) -> Plan:
        return self._plan(self._scheduling_supervisor(core_ref, employee_id), preview=True)

    def preview_staff(self, ref: int, employee_id: str, start: datetime, *, supervisor_employee_id: str | None = None,
                      override: str | None = None) -> Plan:
        lead_ids = self._lead_qualification(ref, employee_id, start, supervisor_employee_id, override)
        return self._plan(self._staffing(ref, employee_id, start, supervisor_employee_id, override, lead_ids),
                          preview=True)

    def preview_reassign(self, ref: int, employee_id: str, *, override: str | None = None) -> Plan:
        return self._plan(self._reassigning(ref, employee_id, override), preview=True)

    def suggest(self, ref: int, start: datetime | None = None) -> Suggestions:
        """Ranked reps for an event at `start` (its current time, or the first Core slot left in its window), each
        with its reasons and every rule's result; Crossmark's qualified list, when it can be read, drops the reps it
        does not qualify."""
        ref = input_limits.event_ref(ref)
        now = self.clock()
        with self.engine.connect() as connection:
            event = load_event(connection, ref)
        at = start or default_start(event, now)
        crossmark_ids, note = self.crossmark_qualified(event)
        with self.engine.connect() as connection:
            exclude = [event.placement.employee_id] if event.placement.employee_id else []
            ranked = suggest_reps(connection, event, at, now, exclude=exclude, crossmark_rep_ids=crossmark_ids)
        return Suggestions(event, at, tuple(ranked), note)

    def _lead_qualification(self, ref: int, employee_id: str, start: datetime, supervisor_employee_id: str | None,
                            override: str | None, actor: str | None = None, key: str | None = None
                            ) -> set[str] | None:
        """When staffing a CORE picks its Unstaffed Supervisor's lead itself: the RepIDs Crossmark qualifies for that
        Supervisor (None when not asked, not readable, or not needed). Asked only when the staffing would go ahead
        with a lead of its own choosing (a plan from our data first), so a refusal still sends nothing at all."""
        if supervisor_employee_id or not _fits_integer(ref):
            return None
        if key and actor and self.journal.find_by_key(actor.strip(), key.strip()) is not None:
            return None  # a resubmitted key answers with its operation and sends nothing, not even a read
        try:
            plan = self._plan(self._staffing(ref, employee_id, start, None, override), preview=True)
        except OpsError:
            return None  # refused anyway: the action says why, nothing is asked of Crossmark
        if not any(event.role == ROLE_SUPERVISOR and not event.before.scheduled for event in plan.events):
            return None
        with self.engine.connect() as connection:
            event = find_event(connection, ref)
            if event is None or event.event_type != CORE or event.placement.scheduled:
                return None
            pair = core_supervisor(connection, event)
        if pair.state != SUPERVISOR_UNSTAFFED or pair.supervisor is None:
            return None
        return self.crossmark_qualified(pair.supervisor)[0]

    def crossmark_qualified(self, event: EventFacts) -> tuple[set[str] | None, str | None]:
        """The RepIDs Crossmark qualifies for the event, or None and why not (its failure never blocks)."""
        if not event.mplan_id or not event.location_id:
            return None, "not checked with Crossmark: the event has no Crossmark ids"
        try:
            with self.client_factory() as client:
                return {rep.rep_id for rep in client.qualified_reps(event.mplan_id, event.location_id)}, None
        except (CrossmarkError, httpx.HTTPError) as failure:  # never blocks: our own data still ranks
            log_event(log, "qualified reps unavailable", ref=event.ref, error=f"{type(failure).__name__}: {failure}")
            return None, f"not checked with Crossmark ({failure})"

    def supervisor_candidates(self, core_ref: int) -> list[SupervisorCandidate]:
        return supervisor_candidates(self.engine, input_limits.event_ref(core_ref, "A CORE ref"))

    # --- each action as a planner: its facts, then its plan ---------------------------------------------------------

    @staticmethod
    def _rescheduling(ref: int, new_start: datetime) -> Planner:
        def planner(connection: Connection, context: PlanningContext) -> Plan:
            return plan_reschedule(load_event_and_pair(connection, input_limits.event_ref(ref)), new_start, context)
        return planner

    @staticmethod
    def _unscheduling(ref: int) -> Planner:
        def planner(connection: Connection, context: PlanningContext) -> Plan:
            return plan_unschedule(load_event_and_pair(connection, input_limits.event_ref(ref)), context)
        return planner

    @staticmethod
    def _scheduling_supervisor(core_ref: int, employee_id: str) -> Planner:
        def planner(connection: Connection, context: PlanningContext) -> Plan:
            facts = load_supervisor_staffing(connection, input_limits.event_ref(core_ref, "A CORE ref"),
                                             input_limits.employee_id(employee_id))
            return plan_schedule_supervisor(facts, context)
        return planner

    @staticmethod
    def _staffing(ref: int, employee_id: str, start: datetime, supervisor_employee_id: str | None,
                  override: str | None, lead_crossmark_ids: set[str] | None = None) -> Planner:
        def planner(connection: Connection, context: PlanningContext) -> Plan:
            reason = input_limits.note(override, "The override reason") or None
            lead = input_limits.employee_id(supervisor_employee_id) if supervisor_employee_id else None
            facts = load_staffing(connection, input_limits.event_ref(ref), input_limits.employee_id(employee_id),
                                  start, lead, context.rule, context.now, lead_crossmark_ids=lead_crossmark_ids)
            return plan_staff(facts, context, reason)
        return planner

    @staticmethod
    def _reassigning(ref: int, employee_id: str, override: str | None) -> Planner:
        def planner(connection: Connection, context: PlanningContext) -> Plan:
            reason = input_limits.note(override, "The override reason") or None
            facts = load_reassign(connection, input_limits.event_ref(ref), input_limits.employee_id(employee_id))
            return plan_reassign(facts, context, reason)
        return planner

    def _undoing(self, operation_id: int) -> Planner:
        def planner(connection: Connection, context: PlanningContext) -> Plan:
            facts = load_undo(connection, self.journal, input_limits.record_id(operation_id, "An operation id"),
                              context.planning_for)
            return plan_undo(facts, context)
        return planner


def _fits_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= input_limits.INT_MAX
