"""The saga executor: runs any `Plan` in our database and Crossmark together, and settles what a crash left.

No transaction spans the two systems, so every action is a saga (DESIGN.md §3). The executor knows nothing of
reschedule or unschedule: a planner (services/actions/planners.py) says which events go where; the executor
1. checks the switches and plans; a refusal is recorded and nothing is sent;
2. writes the operation with locks on its events and guards, plans again under the locks (refused in that same
   transaction if anything moved: no lost update) and records the first call's step, and commits all of it before the
   first Crossmark call;
3. drives each event to its target in Crossmark in the plan's order (a CORE first), recording one step per call,
   committed before the call (a call's result goes with the next commit: the next step, or the local commit); a
   write whose reply was lost is resolved by reading the event back, never by resending;
4. if a step fails, drives the events already changed back to where they were (compensation);
5. when every remote step succeeded, commits the local change, the audit entries and the final status in one
   transaction that locks the rows and checks they still hold what was planned; if that fails, compensates.
`reconcile` and `retry` finish or undo operations a crash or a fault left unsettled, by reading Crossmark.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, Sequence

from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from services.access.accounts import RateLimit, rate_limited_request
from services.access.switches import MAINTENANCE, SUPERVISOR_FOLLOW, WRITES_OFF, switches_on
from services.actions import journal as status
from services.actions.facts import StoredPlacement, placement_in_database, placements_in_database
from services.actions.journal import (
    AuditedChange, Journal, LeaseLost, LockConflict, OperationRecord, StepResult, new_lease_token, request_fingerprint,
)
from services.actions.plan import Placement, Plan, PlannedEvent
from services.actions.planners import PlanningContext
from services.actions.retry_policy import RetryPolicy
from services.crossmark.client import CrossmarkClient
from services.domain import input_limits
from services.domain.event_rules import EventCondition, SupervisorRule
from services.errors import (
    ActionRefused, ConcurrentEdit, CrossmarkError, CrossmarkUnknownOutcome, IdempotencyKeyReused, InvalidInput,
    NotFound, OpsError, RateLimitExceeded,
)
from services.ops.logging_setup import log_event
from services.ops.metrics import METRICS
from services.store.data_version import bump_data_version
from services.store.database import begin_write, reading
from services.store.tables import Event, Schedule

log = logging.getLogger("services.actions")

# An operation recorded before leases (migration 0011) and untouched this long is taken as abandoned by a crash.
RECONCILE_AFTER = timedelta(minutes=2)
LEASE_MARGIN = timedelta(seconds=60)  # on top of the longest possible Crossmark call (the local commit, a slow disk)
IN_PROGRESS = "in_progress"  # an answer, not an operation status: the key's operation is still running
_NEWLY_STUCK = "ops_dashboard_newly_stuck"  # connection.info key: alerts go out after the commit, not inside it

# A planner as the executor calls it: facts read on the connection, decided in the context. Called twice per action:
# before the operation is recorded and again under its locks (`context.planning_for` then names the operation).
Planner = Callable[[Connection, PlanningContext], Plan]


@dataclass(frozen=True)
class EventOutcome:
    """One event of an action's answer: where it stood and where it stands now (ISO start, None for unscheduled)."""

    ref: int
    role: str
    before: str | None
    after: str | None
    before_employee: str | None = None  # who held it (employees.id), None when unscheduled
    after_employee: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"ref": self.ref, "role": self.role, "before": self.before, "after": self.after,
                "before_employee": self.before_employee, "after_employee": self.after_employee}


@dataclass
class ActionResult:
    operation_id: int | None
    status: str
    message: str
    events: list[EventOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kind: str = ""
    finished_at: datetime | None = None
    previous_status: str | None = None  # a retry's answer: the status the operation had before it

    def to_json(self) -> dict[str, object]:
        answer: dict[str, object] = {"operation_id": self.operation_id, "status": self.status,
                                     "message": self.message, "events": [e.to_json() for e in self.events],
                                     "warnings": self.warnings}
        if self.previous_status is not None:
            answer["previous_status"] = self.previous_status
        return answer


class _StepFailed(Exception):
    """The Crossmark call did not happen (refused, unreachable, or read back as not applied)."""


class _StepUndetermined(Exception):
    """We cannot tell where the event stands in Crossmark (read-back failed or showed a third state)."""


@dataclass(frozen=True)
class _Run:
    """One run of an operation: the lease it holds (set with the operation, renewed before each later Crossmark call)
    and whether it is a retry.

    `unrecorded`: results of its forward Crossmark calls not written yet. Each goes into the run's next commit (the
    next call's step record, or the local commit) instead of a commit of its own: the durability points stay (the
    operation is committed before the first call, each call's record before that call), and a crash that loses a
    result leaves its step "sent", which reconcile settles by reading the event back, as after a crash in the call."""

    token: str
    lease: timedelta
    retrying: bool
    unrecorded: list[StepResult] = field(default_factory=list, compare=False)

    def renewal(self) -> dict:
        return {"lease_owner": self.token, "lease": self.lease} if self.token else {}


def _iso(placement: dict | None) -> str | None:
    return placement.get("start") if placement and placement.get("scheduled") else None


def _employee(placement: dict | None) -> str | None:
    return placement.get("employee_id") if placement and placement.get("scheduled") else None


def result_of(record: OperationRecord, warnings: list[str] | None = None) -> ActionResult:
    def outcome(event: dict) -> EventOutcome:
        after = event.get("after") if event.get("after") is not None else event.get("before")
        return EventOutcome(event["ref"], event["role"], _iso(event.get("before")), _iso(after),
                            _employee(event.get("before")), _employee(after))

    events = [outcome(e) for e in record.events]
    return ActionResult(record.id, record.status, record.message or "", events,
                        warnings or list(record.request.get("warnings", [])), record.kind, record.finished_at)



class SagaExecutor:
    """Runs plans over one database and one Crossmark client factory (dependency injection)."""

    def __init__(self, engine: Engine, client_factory: Callable[[], CrossmarkClient], *,
                 rule: SupervisorRule = SupervisorRule(), clock: Callable[[], datetime] = datetime.now,
                 authorize: Callable[[str, str], object] | None = None, rate_limit: RateLimit | None = None,
                 retry_policy: RetryPolicy = RetryPolicy(),
                 alert_stuck: Callable[[OperationRecord], None] | None = None) -> None:
        """`authorize(actor, kind)` refuses with an OpsError, or returns the acting account (an object with a
        `username`, or the name) whose canonical name is recorded and counted; services.access.accounts.authorizer
        gives one that also carries the rate limit (`rate_limit`, unless given here). `rule`: the Supervisor rule
        planners are given."""
        self.engine = engine
        self.client_factory = client_factory
        self.rule = rule
        self.clock = lambda: clock().replace(microsecond=0)
        self.authorize = authorize or _require_actor
        self.rate_limit = rate_limit if rate_limit is not None else getattr(authorize, "rate_limit", None)
        self.journal = Journal(engine)
        self.retry_policy = retry_policy
        self.alert_stuck = alert_stuck  # told once, when an operation becomes stuck

    # --- running an action ------------------------------------------------------------------------------------

    def run(self, kind: str, actor: str, key: str | None, request: dict, planner: Planner,
             undo_of: int | None = None) -> ActionResult:
        log_event(log, "action start", kind=kind, actor=actor, request=request)
        result = self._run_action(kind, actor, key, request, planner, undo_of)
        METRICS.count("actions", kind=kind, status=result.status)
        log_event(log, f"action {result.status}", kind=kind, actor=actor, operation_id=result.operation_id,
                  status=result.status, detail=result.message, events=[e.ref for e in result.events],
                  warnings=result.warnings)
        return result

    def _run_action(self, kind: str, actor: str, key: str | None, request: dict,
                    planner: Planner, undo_of: int | None) -> ActionResult:
        now = self.clock()
        # Keys belong to the acting account, so the account is known before the key is looked up; a refusal of the
        # account is recorded (under the name as given) only when the key is not already bound.
        refusal: OpsError | None = None
        try:
            who = self._account(actor, kind)
        except OpsError as refused:
            who, refusal = _recordable_name(actor), refused
        fingerprint = request_fingerprint(kind, who, request)
        if key is not None and not (0 < len(key.strip()) <= input_limits.KEY_MAX):
            # Nothing lost (invariant 3): the refusal is recorded under a key of its own, since this one cannot be.
            return self._refuse(uuid.uuid4().hex, kind, who, now, request,
                                f"The idempotency key must be 1 to {input_limits.KEY_MAX} characters (it has "
                                f"{len(key.strip())}); nothing was done.", undo_of, fingerprint)
        key = (key or uuid.uuid4().hex).strip()
        # The key, the switches and the plan's facts: one read connection (one pool checkout; no transaction around
        # it on PostgreSQL, see `reading`). Closed before any write below: on an SQLite database in rollback-journal
        # mode a reader left open would block the writer.
        plan: Plan | None = None
        with reading(self.engine) as connection:
            existing = self.journal.find_by_key(who, key, connection)
            if existing is None:
                try:
                    if refusal is not None:
                        raise refusal
                    context = self._context(connection)
                    plan = planner(connection, context)
                except OpsError as refused:
                    refusal = refused
        if existing is not None:  # a double click, a rerun, a CLI retry: the first answer, nothing sent again
            return self._first_answer(existing, key, fingerprint)
        if plan is None:
            assert refusal is not None  # the plan was refused: nothing else leaves it unset
            return self._refuse(key, kind, who, now, request, str(refusal), undo_of, fingerprint)
        request = {**request, "warnings": list(plan.warnings)}
        if plan.guards:
            request["guards"] = {str(ref): placement.to_json() for ref, placement in plan.guards.items()}
        rate_limit = self.rate_limit
        reserve = (lambda connection: rate_limit.reserve(connection, who, kind, now)) if rate_limit else None
        with self.client_factory() as client:
            # The client first: its longest call sets the lease the operation is recorded with.
            run = _Run(new_lease_token(), self._lease(client), retrying=False)
            locked = _UnderLocks()
            try:
                record = self.journal.start(key=key, kind=kind, actor=who, now=now, request=request,
                                            events=[event.to_json() for event in plan.events], undo_of=undo_of,
                                            also_lock=list(plan.guards), fingerprint=fingerprint, reserve=reserve,
                                            lease_owner=run.token, lease=run.lease, applying=bool(plan.events),
                                            under_locks=lambda connection, started: self._plan_under_locks(
                                                connection, started, plan, planner, context, run, who, locked))
            except IntegrityError:  # the account's key raced in since we looked: its record answers, if it is ours
                raced = self.journal.find_by_key(who, key)
                if raced is not None:
                    return self._first_answer(raced, key, fingerprint)
                raise
            except LockConflict as conflict:
                return self._refuse(key, kind, who, now, request, self._lock_message(conflict), undo_of, fingerprint)
            except RateLimitExceeded as limited:
                return self._refuse(key, kind, who, now, request, str(limited), undo_of, fingerprint)
            if locked.refused is not None:
                return result_of(locked.refused)
            return self._execute(record, client, run, plan.events, who, list(plan.warnings), locked.first_step)

    def _plan_under_locks(self, connection: Connection, record: OperationRecord, plan: Plan, planner: Planner,
                          context: PlanningContext, run: "_Run", actor: str, locked: "_UnderLocks") -> None:
        """Inside the transaction that records the operation and takes its locks, before it commits.

        The first plan was made before the locks were taken: another action may have finished on these events in
        between. Plan again under the locks and act only if nothing moved (invariant 7, no lost update); if something
        did, the operation ends refused in this same commit. Otherwise the first Crossmark call's step is recorded in
        it too: the operation, its locks and the record of its first call are committed together before that call
        (one commit and one pool checkout for all three, where there were three commits and checkouts).

        The facts are read again, not the switches: the plan under the locks is made in the first plan's context (its
        time and switches). The locks guard events, not switches; a switch turned a moment later would find the
        action running just the same."""
        try:
            moved = plan.difference(planner(connection, replace(context, planning_for=record.id)))
        except OpsError as refused:
            moved = str(refused).rstrip(".")
        if moved:
            locked.refused = self.journal.finish(
                connection, record.id, status=status.REFUSED, events=record.events, actor=actor, now=self.clock(),
                message=f"The event changed since you looked: {moved}. Nothing was sent; look again and retry.")
            return
        if plan.events:
            first = plan.events[0]
            action, request = _step_request(first, first.before, first.target)
            # The operation was written in this transaction, applying and with its lease: only the step to insert.
            locked.first_step = self.journal.insert_step(connection, record.id, event_ref=first.ref, role=first.role,
                                                         action=action, purpose="forward", request=request,
                                                         now=self.clock())

    def _plan(self, planner: Planner, *, preview: bool = False) -> Plan:
        """Read the switches and plan, on one read connection: a refusal raises (maintenance, kill switch, or the
        planner's own). A preview shows the plan whatever the switches that pause changes say (the form says they are
        paused)."""
        with reading(self.engine) as connection:
            return planner(connection, self._context(connection, preview=preview))

    def _context(self, connection: Connection, *, preview: bool = False) -> PlanningContext:
        """The switches read, the time now: what a plan is made in (a refusal raises: maintenance, kill switch)."""
        switches = switches_on(connection)
        if switches[MAINTENANCE] and not preview:
            raise ActionRefused("Maintenance mode is on: actions are paused (an admin switches it off).")
        if switches[WRITES_OFF] and not preview:
            raise ActionRefused("Crossmark writes are switched off (kill switch): reading goes on, changes wait.")
        return PlanningContext(self.clock(), self.rule, bool(switches[SUPERVISOR_FOLLOW]))

    def _answer(self, operation_id: int, warnings: list[str] | None = None) -> ActionResult:
        """The answer of an operation this run recorded (read back: its final status and message)."""
        record = self.journal.find(operation_id)
        if record is None:  # written by this run; gone only if someone deleted it from the journal meanwhile
            raise NotFound(f"Operation {operation_id} is no longer in the journal.")
        return result_of(record, warnings)

    def _lock_message(self, conflict: LockConflict) -> str:
        """Why an event is locked, truthfully: still running, waiting for its automatic retry (when), or stuck."""
        holder = self.journal.find(conflict.operation_id) if conflict.operation_id is not None else None
        where = f"Event {conflict.event_ref} is part of operation {conflict.operation_id}"
        if holder is None or holder.status in status.UNFINISHED:
            return f"{where}, which is still running; try again in a moment (see Operations)."
        if holder.status == status.NEEDS_ATTENTION:
            when = f"at {holder.next_attempt_at:%H:%M}" if holder.next_attempt_at else "shortly"
            return f"{where}, which is waiting to be retried automatically {when}; see Operations."
        if holder.status == status.STUCK:
            return (f"{where}, which is stuck after its automatic retries; an admin can Retry now or Release it on "
                    "the Operations page.")
        return f"{where} ({holder.status}); try again."

    def _account(self, actor: str, kind: str) -> str:
        """The canonical name of the account acting (what the permission check returns), else the name as given."""
        account = self.authorize(actor, kind)
        name = getattr(account, "username", account)
        return name if isinstance(name, str) and name else (actor or "").strip()

    def _refuse(self, key: str, kind: str, who: str, now: datetime, request: dict, message: str,
                undo_of: int | None, fingerprint: str) -> ActionResult:
        """Record the refusal (nothing lost), unless the account's key raced in: then that record answers."""
        record = self.journal.record_refused(key=key, kind=kind, actor=who, now=now, request=request, message=message,
                                             undo_of=undo_of, fingerprint=fingerprint)
        return self._first_answer(record, key, fingerprint)

    @staticmethod
    def _first_answer(record: OperationRecord, key: str, fingerprint: str) -> ActionResult:
        """The answer of the operation the key is bound to, if it was asked for this same request; a key used for
        another request is refused, recording and sending nothing (the client must not believe it happened). While
        that operation still runs, the answer says so (`in_progress`), not its passing status."""
        if record.fingerprint == fingerprint:
            if record.status in status.UNFINISHED:
                return replace(result_of(record), status=IN_PROGRESS,
                               message=f"Operation {record.id} with this key is still running (started "
                                       f"{record.requested_at:%H:%M:%S}); its result will be on the Operations page.")
            return result_of(record)
        raise IdempotencyKeyReused(
            f"The idempotency key {key!r} of {record.requested_by} already belongs to operation {record.id} "
            f"({record.kind.replace('_', ' ')}, {record.status}), a different request; nothing was done. "
            "Use a new key for a new action.", key=key, operation_id=record.id)

    def _execute(self, record: OperationRecord, client: CrossmarkClient, run: "_Run", events: Sequence[PlannedEvent],
                 actor: str, warnings: list[str], first_step: int | None) -> ActionResult:
        """Drive the events in order (the first one's step already recorded, as `first_step`), then commit."""
        done: list[tuple[PlannedEvent, Placement]] = []
        try:
            for index, event in enumerate(events):
                try:
                    done.append((event, self._drive(record.id, run, client, event, event.before, event.target,
                                                    "forward", defer_result=True,
                                                    step=first_step if index == 0 else None)))
                except _StepFailed as failure:
                    return self._compensate(record, run, client, done, actor, f"{event.label} could not be "
                                            f"changed in Crossmark: {failure}", warnings)
                except _StepUndetermined as unknown:
                    return self._compensate(record, run, client, done, actor, f"{event.label}: {unknown}",
                                            warnings, undetermined=event)
            try:
                finished = self._commit_local(record, run, done, actor, warnings)
            except (ConcurrentEdit, SQLAlchemyError) as failure:
                reason = str(failure) if isinstance(failure, ConcurrentEdit) else \
                    f"the database refused the change ({type(failure).__name__})"
                return self._compensate(record, run, client, done, actor, f"Crossmark was changed but {reason}",
                                        warnings)
        except LeaseLost:
            self._record_results(run)  # what this run's calls got back is still part of the journal
            return self._lost_lease_answer(record)
        return result_of(finished, warnings) if finished is not None else self._answer(record.id, warnings)

    def _record_results(self, run: "_Run") -> None:
        """Write the results of this run's calls still waiting for a commit, in one of their own."""
        if run.unrecorded:
            self.journal.finish_steps(run.unrecorded)
            run.unrecorded.clear()

    def _lease(self, client: CrossmarkClient) -> timedelta:
        """Longer than the longest call this client can make, so a lease renewed before each call never lapses
        while the call is in flight (and reconcile never takes a running operation)."""
        longest = getattr(client, "longest_call_seconds", None)
        seconds = longest() if callable(longest) else 600.0
        return timedelta(seconds=seconds) + LEASE_MARGIN

    def _lost_lease_answer(self, record: OperationRecord) -> ActionResult:
        """This run ran past its lease and another took the operation over: say where it stands, touch nothing."""
        current = self.journal.find(record.id) or record
        log_event(log, "lease lost", operation_id=record.id, status=current.status)
        result = result_of(current)
        if current.status in status.UNFINISHED:
            return replace(result, status=IN_PROGRESS, message=f"Operation {record.id} took longer than its lease and "
                           "was taken over by reconcile or the retry loop; see Operations for its result.")
        return result

    def _drive(self, operation_id: int, run: "_Run", client: CrossmarkClient, event: PlannedEvent,
               current: Placement, goal: Placement, purpose: str, *, defer_result: bool = False,
               step: int | None = None) -> Placement:
        """One Crossmark write taking `event` from `current` to `goal`; returns where it now stands there.
        `defer_result`: a success is written with the run's next commit (run.unrecorded), not in one of its own.
        `step`: the call's step, when it was recorded already (with the operation)."""
        if step is None:
            action, request = _step_request(event, current, goal)
            step = self._add_step(operation_id, run, event_ref=event.ref, role=event.role, action=action,
                                  purpose=purpose, request=request)
        try:
            if goal.scheduled:
                # Why the ignore below: Placement.start is optional, but a scheduled one (planned, or read) always has it.
                scheduled = client.schedule(rep_id=str(goal.rep_id), mplan_id=event.mplan_id,
                                            location_id=event.location_id, start=goal.start,  # type: ignore[arg-type]
                                            duration_minutes=event.duration)
                reached = replace(goal, start=scheduled.start, scheduled_event_id=scheduled.scheduled_event_id)
            else:
                client.unschedule(str(current.scheduled_event_id))
                reached = Placement(False)
            result = StepResult(step, status.STEP_OK, reached.to_json(), self.clock())
            if defer_result:
                run.unrecorded.append(result)
            else:
                self.journal.finish_steps([result])
            return reached
        except CrossmarkUnknownOutcome as lost:
            self.journal.finish_step(step, status.STEP_UNKNOWN, {"error": str(lost), "status": lost.status}, self.clock())
            remote = self._read_back(operation_id, run, client, event)
            if remote.same_placement(goal):
                return replace(goal, start=remote.start, scheduled_event_id=remote.scheduled_event_id)
            if remote.same_placement(current):
                raise _StepFailed(f"{lost} — read back: not applied") from None
            raise _StepUndetermined(f"Crossmark shows {remote.describe()}, neither {current.describe()} nor "
                                    f"{goal.describe()}") from None
        except (CrossmarkError, InvalidInput) as failure:
            self.journal.finish_step(step, status.STEP_FAILED, {"error": str(failure),
                                                      "status": getattr(failure, "status", None)}, self.clock())
            raise _StepFailed(str(failure)) from None

    def _read_back(self, operation_id: int, run: "_Run", client: CrossmarkClient, event: PlannedEvent) -> Placement:
        step = self._add_step(operation_id, run, event_ref=event.ref, role=event.role, action="read_back",
                              purpose="resolve", request={"mPlanID": event.mplan_id})
        try:
            placement = self.remote_placement(client, event)
        except CrossmarkError as failure:
            self.journal.finish_step(step, status.STEP_FAILED, {"error": str(failure)}, self.clock())
            raise _StepUndetermined(f"the outcome is unknown and reading it back failed: {failure}") from None
        self.journal.finish_step(step, status.STEP_OK, placement.to_json(), self.clock())
        return placement

    def _add_step(self, operation_id: int, run: "_Run", *, event_ref: int, role: str, action: str, purpose: str,
                  request: dict) -> int:
        """Record a call about to be made (renewing the lease), with the results of the run's earlier calls."""
        step = self.journal.add_step(operation_id, event_ref=event_ref, role=role, action=action, purpose=purpose,
                                     request=request, now=self.clock(), finishing=tuple(run.unrecorded),
                                     **run.renewal())
        run.unrecorded.clear()  # committed with the record
        return step

    @staticmethod
    def remote_placement(client: CrossmarkClient, event: PlannedEvent) -> Placement:
        records = client.planning_events(event.window_start.date() - timedelta(days=1),
                                         event.window_end.date() + timedelta(days=1), mplan_id=event.mplan_id)
        record = next((r for r in records if r.mplan_id == event.mplan_id), None)
        if record is None or record.scheduled_at is None or not record.scheduled_event_id:
            return Placement(False)
        return Placement(True, record.scheduled_at, None, record.rep_id, record.scheduled_event_id)

    def _compensate(self, record: OperationRecord, run: "_Run", client: CrossmarkClient,
                    done: list[tuple[PlannedEvent, Placement]], actor: str, reason: str, warnings: list[str],
                    undetermined: PlannedEvent | None = None,
                    found_back: list[tuple[PlannedEvent, Placement]] | None = None,
                    remote: dict[int, Placement] | None = None) -> ActionResult:
        """Drive back what this operation changed (reverse order); what cannot be restored needs attention.

        Only what is still where this operation put it is driven back (read back first, unless `remote` already
        holds a fresh read): an event found elsewhere was moved by someone else meanwhile, and undoing that would be
        a lost update; it is left as it is and said so. `found_back`: events already back in place in Crossmark
        (their current ids to record)."""
        try:
            self._record_results(run)  # the forward calls' results first: compensation's records follow them
        except SQLAlchemyError as failure:  # the database refuses writes: driving Crossmark back matters more
            log_event(log, "step results not recorded", level=logging.ERROR, operation_id=record.id,
                      error=f"{type(failure).__name__}: {failure}")
        problems: list[str] = []
        notes: list[str] = []
        restored: list[tuple[PlannedEvent, Placement]] = list(found_back or [])
        for event, reached in reversed(done):
            try:
                now_there = (remote or {}).get(event.ref) or self._read_back(record.id, run, client, event)
            except _StepUndetermined as failure:
                problems.append(f"{event.label} may be at {reached.describe()} in Crossmark but "
                                f"{event.before.describe()} in our database ({failure})")
                continue
            if now_there.same_placement(event.before):  # back already (a lost reply of an earlier compensation)
                restored.append((event, replace(event.before, start=now_there.start,
                                                scheduled_event_id=now_there.scheduled_event_id)))
                continue
            if not now_there.same_placement(reached):
                # Someone else moved it meanwhile: not ours to undo (that would be a lost update).
                with self.engine.connect() as connection:
                    ours = placement_in_database(connection, event.ref)
                if now_there.same_placement(ours):  # both systems agree on their placement: settled, say so
                    notes.append(f"{event.label} was moved by someone else to {now_there.describe()} meanwhile; "
                                 "both systems agree, so it is left there")
                    restored.append((event, replace(ours, scheduled_event_id=now_there.scheduled_event_id)))
                else:
                    problems.append(f"{event.label} is at {now_there.describe()} in Crossmark, which this operation "
                                    f"did not set: left as it is (our database has {ours.describe()})")
                continue
            try:
                back = self._drive(record.id, run, client, event, replace(reached, scheduled_event_id=(
                    now_there.scheduled_event_id or reached.scheduled_event_id)), event.before, "compensate")
                restored.append((event, back))
            except (_StepFailed, _StepUndetermined) as failure:
                problems.append(f"{event.label} is at {reached.describe()} in Crossmark but "
                                f"{event.before.describe()} in our database ({failure})")
        if notes:
            reason = f"{reason}. " + "; ".join(notes)
        if undetermined is not None:
            problems.append(f"{undetermined.label}: its state in Crossmark is unknown; our database has "
                            f"{undetermined.before.describe()}")
        events = [e.to_json(after=e.before) for e in self._events_of(record)]
        now = self.clock()
        try:
            self._record_compensation(record, run, restored, problems, events, actor, reason, now)
        except SQLAlchemyError as failure:
            # Our database refuses this too: the operation must still end (not stay "applying"), for a person to see.
            message = (f"{reason}. NEEDS ATTENTION: Crossmark was driven back, but our database refused to record it "
                       f"({type(failure).__name__}); " + ("; ".join(problems) or "check the events' Crossmark ids"))
            with begin_write(self.engine) as connection:
                self._finish_unsettled(connection, record, run, message, events, actor, now)
                bump_data_version(connection)
                newly_stuck = connection.info.pop(_NEWLY_STUCK, [])
            self._announce_stuck(newly_stuck)
        return self._answer(record.id, warnings)

    def _finish_unsettled(self, connection: Connection, record: OperationRecord, run: "_Run", message: str,
                          events: list[dict], actor: str, now: datetime) -> str:
        """End a run that could not restore agreement: needs attention with its next automatic attempt, or stuck
        when the retry policy gives up (then the alert goes out, once). Locks stay. Returns the status."""
        attempts = record.attempts + (1 if run.retrying else 0)
        if record.status == status.STUCK or (run.retrying and self.retry_policy.gives_up(attempts, record.requested_at,
                                                                                         now)):
            self.journal.finish(connection, record.id, status=status.STUCK, events=events, actor=actor, now=now,
                                attempts=attempts, message=f"{message}. STUCK after {attempts} attempt(s): an "
                                "admin must Retry now or Release it (Operations page).")
            if record.status != status.STUCK:
                connection.info.setdefault(_NEWLY_STUCK, []).append(record.id)
            return status.STUCK
        next_at = now + self.retry_policy.delay(attempts)
        self.journal.finish(connection, record.id, status=status.NEEDS_ATTENTION, events=events, actor=actor, now=now,
                            attempts=attempts, next_attempt_at=next_at,
                            message=f"{message}. It will be retried automatically at {next_at:%H:%M:%S}.")
        return status.NEEDS_ATTENTION

    def _record_compensation(self, record: OperationRecord, run: "_Run", restored: list[tuple[PlannedEvent, Placement]],
                             problems: list[str], events: list[dict], actor: str, reason: str, now: datetime) -> None:
        with begin_write(self.engine) as connection:
            # Compensation may leave new scheduled-event ids in Crossmark: keep ours current (invariant 1). Each
            # `back` was read or written in Crossmark just now, so nothing is written here that Crossmark lacks.
            for event, back in restored:
                current = placement_in_database(connection, event.ref)
                if not current.same_placement(back):
                    # Our row was written meanwhile (a sync copying Crossmark's half-changed state, say); Crossmark
                    # holds `back` again, so must we (invariant 1), and the overwrite is recorded.
                    _write_placement(connection, event.ref, back, now)
                    self.journal.audit_event(connection, now=now, actor=actor, operation_id=record.id,
                                             event_ref=event.ref, action=f"{record.kind}: {event.role} restored",
                                             before=current.to_json(), after=back.to_json())
                elif back.scheduled and back.scheduled_event_id \
                        and back.scheduled_event_id != current.scheduled_event_id:
                    # Same placement under a new Crossmark id. Audited like any change of ours: a sync that read
                    # Crossmark before this compensation skips events with an audit entry since it began reading, and
                    # would otherwise write the old id back (our row naming a scheduled event Crossmark no longer has).
                    connection.execute(update(Schedule).where(Schedule.event_ref_num == event.ref)
                                       .values(external_id=back.scheduled_event_id))
                    self.journal.audit_event(connection, now=now, actor=actor, operation_id=record.id,
                                             event_ref=event.ref,
                                             action=f"{record.kind}: {event.role} restored",
                                             before=current.to_json(), after=back.to_json(),
                                             message="Crossmark holds the same placement under a new scheduled-event "
                                                     "id")
            if problems:
                self._finish_unsettled(connection, record, run, f"{reason}. NEEDS ATTENTION: " + "; ".join(problems),
                                       events, actor, now)
            else:
                message = f"{reason}. Undone: nothing changed in Crossmark or in our database."
                self.journal.finish(connection, record.id, status=status.COMPENSATED, message=message,
                                    events=events, actor=actor, now=now)
            bump_data_version(connection)
            newly_stuck = connection.info.pop(_NEWLY_STUCK, [])
        self._announce_stuck(newly_stuck)

    def _announce_stuck(self, operation_ids: list[int]) -> None:
        for operation_id in operation_ids:
            stuck = self.journal.find(operation_id)
            if stuck is None or stuck.status != status.STUCK:  # its transaction did not commit after all
                continue
            log_event(log, "operation stuck", level=logging.ERROR, operation_id=operation_id, message=stuck.message)
            METRICS.count("operations_stuck")
            if self.alert_stuck is not None:
                try:
                    self.alert_stuck(stuck)
                except Exception as failure:  # noqa: BLE001 - an alert channel failing must not undo the record
                    log_event(log, "stuck alert failed", level=logging.ERROR, operation_id=operation_id,
                              error=f"{type(failure).__name__}: {failure}")

    def _commit_local(self, record: OperationRecord, run: "_Run", done: list[tuple[PlannedEvent, Placement]],
                      actor: str, warnings: list[str]) -> OperationRecord | None:
        """The local change, the audit entries, the results of the run's last calls and the final status: one
        transaction, rows locked, state checked. Returns the record as finished (None if it vanished meanwhile).

        Few statements, since on PostgreSQL each is a round trip: the event rows locked in one, the schedule rows
        locked and read (every placement) in one, then the writes grouped by kind (executemany where values differ per
        row; the audit entries of the events and of the status in one INSERT). The lease is checked by the UPDATE that
        finishes the operation (LeaseLost rolls everything back). A run that lost its lease and finds a conflict (the
        run that took it over may have finished the change) sends nothing either: the compensation's first step
        record checks the lease. The events written with the final status are those the run holds: nobody else
        writes them while it holds the lease."""
        now = self.clock()
        guards = _guards(record)
        with begin_write(self.engine) as connection:
            refs = list(dict.fromkeys([event.ref for event, _ in done] + list(guards)))
            states = None
            if connection.dialect.name == "postgresql":
                # The events' rows first, then their schedules', as every writer here takes them: no lock cycle. The
                # lock reads their state too, so an event already in its target state is not written at all.
                states = {ref: (condition, is_scheduled) for ref, condition, is_scheduled
                          in connection.execute(_LOCK_EVENTS, {"refs": refs})}
            stored = placements_in_database(connection, refs, lock=True)
            conflict = _changed_meanwhile(done, guards, stored)
            if conflict is not None:
                raise ConcurrentEdit(conflict)
            _write_placements(connection, [(event.ref, reached, stored[event.ref].schedule_ids)
                                           for event, reached in done], now, states)
            self.journal.write_step_results(connection, run.unrecorded)
            after = {event.ref: reached for event, reached in done}
            events = [e.to_json(after=after.get(e.ref, e.before)) for e in map(PlannedEvent.from_json, record.events)]
            finished = self.journal.finish(
                connection, record.id, status=status.DONE, message=_done_message(done, warnings), events=events,
                actor=actor, now=now, held_by=run.token or None, audited=[
                    AuditedChange(now=now, actor=actor, operation_id=record.id, event_ref=event.ref,
                                  action=f"{record.kind}: {event.role}", before=event.before.to_json(),
                                  after=reached.to_json()) for event, reached in done])
            if not done:
                # Otherwise the schedules' write above bumped it: the database's own triggers on events and schedules
                # (migration 0019) announce every write to them, ours too, once per transaction on PostgreSQL.
                bump_data_version(connection)
        run.unrecorded.clear()  # committed
        return finished

    def _events_of(self, record: OperationRecord) -> list[PlannedEvent]:
        fresh = self.journal.find(record.id) or record
        return [PlannedEvent.from_json(value) for value in fresh.events]

    # --- reconcile, retry, resolve ----------------------------------------------------------------------------

    def reconcile(self, *, older_than: timedelta = RECONCILE_AFTER, actor: str = "reconcile") -> list[ActionResult]:
        """One pass of the retry work (what the server's retry loop runs; `python -m services reconcile` for cron):
        every operation whose run is gone (lease expired) or whose automatic retry is due is taken (atomically, so
        never one that is still running) and settled by reading Crossmark: finished where every event reached its
        target, driven back otherwise; what still cannot agree waits for its next attempt or, after the last, is
        stuck. Then the idempotency keys of operations finished more than KEY_RETENTION ago are released.

        `older_than` applies only to operations recorded before leases existed (no lease: untouched this long)."""
        now = self.clock()
        results = []
        for record in self.journal.due_for_retry(now, abandoned_before=now - older_than):
            outcome = self._take_and_settle(record, actor, statuses=(*status.UNFINISHED, status.NEEDS_ATTENTION))
            if outcome is not None:
                results.append(outcome)
        now = self.clock()
        released = self.journal.release_keys(older_than=now - status.KEY_RETENTION, now=now, actor=actor)
        if released:
            log_event(log, "idempotency keys released", released=released, retention_days=status.KEY_RETENTION.days)
        return results

    def retry(self, operation_id: int, actor: str) -> ActionResult:
        """Retry now, ignoring the backoff: read Crossmark and restore agreement if possible. For an operation that is
        unfinished (its run gone), needs attention, or is stuck; one still running under its lease is refused."""
        record = self.journal.find(input_limits.record_id(operation_id, "An operation id"))
        if record is None:
            raise NotFound(f"No operation {operation_id}.")
        if record.status not in status.SETTLEABLE:
            raise ActionRefused(f"Operation {operation_id} is {record.status}; only unfinished operations or those "
                                "needing attention or stuck can be retried.")
        who = self._account(actor, "retry")
        # Counted under the rate limit and audited ("retry requested") before Crossmark is read.
        with rate_limited_request(self.engine, self.rate_limit, who, "retry", self.clock(), operation_id=operation_id):
            pass
        outcome = self._take_and_settle(record, who, statuses=status.SETTLEABLE)
        if outcome is None:
            raise ActionRefused(f"Operation {operation_id} is still running (its lease runs to "
                                f"{record.lease_expires_at:%H:%M:%S}); it needs no retry yet." if record.lease_expires_at
                                else f"Operation {operation_id} is being settled by another process right now.")
        return outcome

    def retry_all(self, actor: str) -> list[ActionResult]:
        """`retry --all`: retry now every operation that is unfinished (run gone), needs attention or is stuck."""
        who = self._account(actor, "retry")
        with rate_limited_request(self.engine, self.rate_limit, who, "retry", self.clock(), operation_id=None):
            pass
        results = []
        for record in self.journal.settleable():
            outcome = self._take_and_settle(record, who, statuses=status.SETTLEABLE)
            if outcome is not None:
                results.append(outcome)
        return results

    def _take_and_settle(self, record: OperationRecord, actor: str, *, statuses: tuple[str, ...]
                         ) -> ActionResult | None:
        """Claim the operation's lease (None if another run holds it) and settle it as a retry attempt."""
        token = new_lease_token()
        with self.client_factory() as client:
            lease = self._lease(client)
            claimed = self.journal.claim(record.id, owner=token, now=self.clock(), lease=lease, statuses=statuses)
            if claimed is None:
                return None
            try:
                result = self._settle(claimed, _Run(token, lease, retrying=True), client, actor)
            except LeaseLost:
                result = self._lost_lease_answer(claimed)
            except BaseException:
                self.journal.release_lease(record.id, token)  # a bug or an interrupt: let the next pass take it
                raise
        return replace(result, previous_status=record.status)

    def mark_resolved(self, operation_id: int, actor: str, note: str) -> ActionResult:
        """Release an operation that needs attention or is stuck, with a note saying how it was put right: it ends
        `resolved` and its locks go (an admin's word that both systems agree, or that it does not matter)."""
        record = self.journal.find(input_limits.record_id(operation_id, "An operation id"))
        if record is None:
            raise NotFound(f"No operation {operation_id}.")
        if record.status not in (status.NEEDS_ATTENTION, status.STUCK):
            raise ActionRefused(f"Operation {operation_id} is {record.status}, not needing attention or stuck.")
        note = input_limits.note(note, "The resolution note")
        if not note:
            raise InvalidInput("Say how it was resolved (a note is required).")
        who = self._account(actor, "mark_resolved")  # recorded under the account's canonical name
        now = self.clock()
        with begin_write(self.engine) as connection:
            self.journal.finish(connection, operation_id, status=status.RESOLVED,
                                message=f"{record.message} — marked resolved by {who}: {note}",
                                events=record.events, actor=who, now=now)
            bump_data_version(connection)
        return self._answer(operation_id)

    release = mark_resolved  # "Release with a note" on the Operations page

    def _settle(self, record: OperationRecord, run: _Run, client: CrossmarkClient, actor: str) -> ActionResult:
        """Read every event of the operation back and restore agreement: finish it if every event reached its target
        ("already where it should be" is success), else drive back what this operation moved."""
        events = self._events_of(record)
        try:
            remote = {event.ref: self._read_back(record.id, run, client, event) for event in events}
        except _StepUndetermined as failure:
            now = self.clock()
            with begin_write(self.engine) as connection:
                self._finish_unsettled(connection, record, run, f"Could not read Crossmark to settle it: {failure}",
                                       [e.to_json() for e in events], actor, now)
                newly_stuck = connection.info.pop(_NEWLY_STUCK, [])
            self._announce_stuck(newly_stuck)
            return self._answer(record.id)
        at_target = [e for e in events if remote[e.ref].same_placement(e.target)]
        reached = [(e, replace(e.target, start=remote[e.ref].start, scheduled_event_id=remote[e.ref].scheduled_event_id))
                   for e in at_target]
        if len(at_target) == len(events):
            try:
                self._commit_local(record, run, reached, actor, [])
                return self._answer(record.id)
            except (ConcurrentEdit, SQLAlchemyError) as failure:
                return self._compensate(record, run, client, reached, actor, f"A retry found the change made in "
                                        f"Crossmark but {failure}", [], remote=remote)
        # Whatever is not back where it was: driven back if it is where this operation put it, left (and said so)
        # if someone else put it elsewhere. Back in place, but maybe under a new scheduled-event id (an earlier
        # compensation whose reply was lost): our rows must get that id too (invariant 1).
        moved = [(e, e.target) for e in events if not remote[e.ref].same_placement(e.before)]
        back = [(e, replace(e.before, start=remote[e.ref].start, scheduled_event_id=remote[e.ref].scheduled_event_id))
                for e in events if remote[e.ref].same_placement(e.before) and remote[e.ref].scheduled]
        reason = "The operation did not finish" if record.status in status.UNFINISHED else "Retry"
        return self._compensate(record, run, client, moved, actor, reason, [], found_back=back, remote=remote)



# --- helpers ---------------------------------------------------------------------------------------------------------


def _recordable_name(actor: str | None) -> str:
    """The name an account refusal is recorded under: what was typed, without control characters and cut to the
    column's 100 characters (a refused name need not be a valid one, but the record must fit)."""
    text = "".join(character for character in (actor or "") if character.isprintable()).strip()
    return text[:input_limits.USER_NAME_MAX].strip() or "?"



@dataclass
class _UnderLocks:
    """What planning again under the locks decided (SagaExecutor._plan_under_locks): the operation refused (its
    record as finished), or the step recorded for its first Crossmark call."""

    refused: OperationRecord | None = None
    first_step: int | None = None


def _step_request(event: PlannedEvent, current: Placement, goal: Placement) -> tuple[str, dict]:
    """The Crossmark call taking `event` from `current` to `goal`, as its step records it: (action, request)."""
    if goal.scheduled:
        return "schedule", {"RepID": goal.rep_id, "mPlanID": event.mplan_id, "LocationID": event.location_id,
                            "Start": goal.start.isoformat() if goal.start else None, "minutes": event.duration}
    return "unschedule", {"id": current.scheduled_event_id}


def _guards(record: OperationRecord) -> dict[int, Placement]:
    return {int(ref): Placement.from_json(value) for ref, value in (record.request.get("guards") or {}).items()}


def _require_actor(actor: str, kind: str) -> None:
    if not (actor or "").strip():
        raise ActionRefused("Say who is acting (--user NAME): every action is recorded with its author.")



def _write_placement(connection: Connection, ref: int, placement: Placement, now: datetime) -> None:
    if placement.scheduled:
        existing = connection.execute(select(Schedule.id).where(Schedule.event_ref_num == ref)
                                      .order_by(Schedule.id)).scalars().all()
        values = {"schedule_datetime": placement.start, "employee_id": placement.employee_id,
                  "external_id": placement.scheduled_event_id, "last_synced": now, "sync_status": "pushed"}
        if existing:
            connection.execute(update(Schedule).where(Schedule.id == existing[0]).values(**values))
        else:
            connection.execute(insert(Schedule).values(event_ref_num=ref, **values))
        connection.execute(update(Event).where(Event.project_ref_num == ref)
                           .values(condition=EventCondition.SCHEDULED, is_scheduled=True))
    else:
        connection.execute(delete(Schedule).where(Schedule.event_ref_num == ref))
        connection.execute(update(Event).where(Event.project_ref_num == ref)
                           .values(condition=EventCondition.UNSTAFFED, is_scheduled=False))



def _write_placements(connection: Connection, changes: list[tuple[int, Placement, tuple[int, ...]]],
                      now: datetime, states: dict[int, tuple[str | None, bool | None]] | None = None) -> None:
    """_write_placement for several events whose schedule rows (ids, oldest first) were just read under lock: the
    same rows written, in a statement per kind of write rather than per event. `states`: the events' condition and
    is_scheduled as read under lock (PostgreSQL), so those already in their target state get no statement at all;
    without it, the statement itself leaves them out."""
    updates = [{"schedule_row": ids[0], "schedule_at": placement.start, "schedule_rep": placement.employee_id,
                "schedule_external": placement.scheduled_event_id, "synced": now}
               for _ref, placement, ids in changes if placement.scheduled and ids]
    if updates:
        connection.execute(_SCHEDULE_UPDATE, updates)
    inserts = [{"event_ref_num": ref, "schedule_datetime": placement.start, "employee_id": placement.employee_id,
                "external_id": placement.scheduled_event_id, "last_synced": now, "sync_status": "pushed"}
               for ref, placement, ids in changes if placement.scheduled and not ids]
    if inserts:
        connection.execute(insert(Schedule), inserts)
    scheduled = [ref for ref, placement, _ids in changes if placement.scheduled]
    unscheduled = [ref for ref, placement, _ids in changes if not placement.scheduled]
    if unscheduled:
        connection.execute(delete(Schedule).where(Schedule.event_ref_num.in_(unscheduled)))
    for refs, condition in ((scheduled, EventCondition.SCHEDULED), (unscheduled, EventCondition.UNSTAFFED)):
        flag = condition == EventCondition.SCHEDULED
        if states is not None:
            refs = [ref for ref in refs if states.get(ref) != (condition, flag)]
        if refs:
            connection.execute(_EVENTS_CONDITION, {"refs": refs, "to_condition": condition, "to_scheduled": flag})


# The local commit's statements, built once (a statement built per call is keyed by SQLAlchemy on every execution).
_LOCK_EVENTS = select(Event.project_ref_num, Event.condition, Event.is_scheduled).where(
    Event.project_ref_num.in_(bindparam("refs", expanding=True))).with_for_update()
_SCHEDULE_UPDATE = update(Schedule).where(Schedule.id == bindparam("schedule_row")).values(
    schedule_datetime=bindparam("schedule_at"), employee_id=bindparam("schedule_rep"),
    external_id=bindparam("schedule_external"), last_synced=bindparam("synced"), sync_status="pushed")
# Only the events whose state changes: a reschedule or a reassign leaves an event Scheduled, and rewriting its row with
# the same values would cost a new row version and fire every row trigger on events for nothing (about 1.5 ms of a
# paired reschedule at 1,000,000 events on PostgreSQL). The schedules' write announces the change (data version).
_EVENTS_CONDITION = update(Event).where(
    Event.project_ref_num.in_(bindparam("refs", expanding=True)),
    Event.condition.is_distinct_from(bindparam("to_condition")) | Event.is_scheduled.is_distinct_from(
        bindparam("to_scheduled"))).values(condition=bindparam("to_condition"), is_scheduled=bindparam("to_scheduled"))


def _changed_meanwhile(done: list[tuple[PlannedEvent, Placement]], guards: dict[int, Placement],
                       stored: dict[int, StoredPlacement]) -> str | None:
    """What no longer holds in our database of what the plan was made against (its events, the pairs' other halves),
    in words; None when everything does."""
    for event, _reached in done:
        current = stored[event.ref].placement
        if not (current.same_placement(event.before)
                and (current.scheduled_event_id or None) == (event.before.scheduled_event_id or None)):
            return (f"{event.label} changed in our database meanwhile (now {current.describe()}, expected "
                    f"{event.before.describe()})")
    for ref, expected in guards.items():
        current = stored[ref].placement
        if not current.unchanged_from(expected):
            return (f"Event {ref}, the other half of the pair, changed in our database meanwhile (now "
                    f"{current.describe()}, expected {expected.describe()})")
    return None


def _done_message(done: list[tuple[PlannedEvent, Placement]], warnings: list[str]) -> str:
    parts = [f"{event.label} → {event.reached_text(reached)}" for event, reached in done]
    return "Done: " + "; ".join(parts) + (" (" + " ".join(warnings) + ")" if warnings else "")
