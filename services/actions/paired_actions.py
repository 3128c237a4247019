"""The paired actions: reschedule, unschedule, schedule-Supervisor and undo, in our database and Crossmark together.

Each action is three parts: its facts, loaded in one read (services/actions/facts.py); a pure planner deciding what
changes (services/actions/planners.py); and the one saga executor that runs any plan (services/actions/executor.py:
operation record, locks, Crossmark steps CORE first, read-back, compensation, local commit, reconcile and retry).
`preview_*` runs the same facts and planner without recording or sending anything (a form's confirm step).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection

from services.actions.candidates import SupervisorCandidate, supervisor_candidates
from services.actions.executor import ActionResult, Planner, SagaExecutor
from services.actions.facts import load_event_and_pair, load_supervisor_staffing, load_undo
from services.actions.plan import RESCHEDULE, SCHEDULE_SUPERVISOR, UNDO, UNSCHEDULE, Plan
from services.actions.planners import (
    PlanningContext, plan_reschedule, plan_schedule_supervisor, plan_undo, plan_unschedule,
)
from services.domain import input_limits


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

    def _undoing(self, operation_id: int) -> Planner:
        def planner(connection: Connection, context: PlanningContext) -> Plan:
            facts = load_undo(connection, self.journal, input_limits.record_id(operation_id, "An operation id"),
                              context.planning_for)
            return plan_undo(facts, context)
        return planner


def _fits_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= input_limits.INT_MAX
