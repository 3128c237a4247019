"""Batches: many actions asked for at once (a rep calling out, every missing Supervisor in a range, the fix of every
finding of a rule, the Unstaffed events a person selected), each item one ordinary operation of the saga.

A batch is a parent record (dashboard_batches) with its items planned up front and stored with it
(dashboard_batch_items). Each item runs as its own operation under a key derived from the batch and the item, so the
saga's guarantees hold per item, and running a batch again with the same key resumes it: items that ran answer with
their operation (nothing is sent twice), the others run. Items run one after another; a failing item does not stop the
others. The rate limit counts a batch as one request of the person; a cap bounds the items of one batch.
"""
from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.access.accounts import rate_limited_request
from services.actions import journal as operation_status
from services.actions.executor import ActionResult, result_of
from services.actions.facts import EventFacts, find_event
from services.actions.paired_actions import PairedActions
from services.actions.plan import REASSIGN, RESCHEDULE, SCHEDULE_SUPERVISOR, STAFF, UNSCHEDULE, ActionKind, Plan
from services.actions.planners import UNDO_WINDOW
from services.actions.suggestions import default_start, suggest_reps
from services.domain import input_limits
from services.domain.event_rules import CORE, SUPERVISOR, supervisor_start
from services.domain.pairing import SUPERVISOR_UNSTAFFED
from services.errors import ActionRefused, InvalidInput, NotFound, OpsError
from services.ops.logging_setup import log_event
from services.reads.pairing import core_of_supervisor, supervisors_for_cores
from services.actions.journal import json_value, read_json, to_json
from services.store.data_version import bump_data_version
from services.store.database import begin_write
from services.store.tables import Batch, BatchItemRow, Event, Schedule

log = logging.getLogger("services.actions")

DEFAULT_MAX_ITEMS = 200
MAX_RANGE_DAYS = 62  # a batch covers at most two months: a wider one is a mistake more often than a plan


class BatchKind(StrEnum):
    REP_OUT = "rep_out"
    STAFF_SUPERVISORS = "staff_supervisors"
    FIX = "fix"
    STAFF_EVENTS = "staff_events"


BATCH_KIND_LABELS = {BatchKind.REP_OUT: "Rep out", BatchKind.STAFF_SUPERVISORS: "Staff missing Supervisors",
                     BatchKind.FIX: "Fix findings", BatchKind.STAFF_EVENTS: "Staff selected events"}


class BatchStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"  # every item done
    PARTIAL = "partial"  # some done, others refused or compensated
    REFUSED = "refused"  # nothing done
    NEEDS_ATTENTION = "needs_attention"  # an item needs attention, is stuck or still running


class RepOutMode(StrEnum):
    UNSCHEDULE = "unschedule"
    REASSIGN_TO = "reassign_to"
    REASSIGN_SUGGESTED = "reassign_suggested"


@dataclass(frozen=True)
class BatchItem:
    """One action of a batch, decided when the batch is planned (a suggested rep included), stored with it."""

    index: int
    kind: ActionKind
    ref: int  # the event acted on (for schedule-Supervisor: the CORE)
    label: str  # the event in words, for the per-item report
    employee_id: str | None = None  # staff / reassign / schedule-Supervisor: who takes it
    employee_name: str | None = None
    start: datetime | None = None  # reschedule: the new time; staff: the time it is staffed at
    note: str | None = None  # why this item is what it is ("top suggestion", "no qualified rep is free")

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "kind": str(self.kind), "ref": self.ref, "label": self.label,
                "employee_id": self.employee_id, "employee_name": self.employee_name,
                "start": self.start.isoformat() if self.start else None, "note": self.note}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> BatchItem:
        return cls(int(value["index"]), ActionKind(value["kind"]), int(value["ref"]), str(value["label"]),
                   value.get("employee_id"), value.get("employee_name"),
                   datetime.fromisoformat(value["start"]) if value.get("start") else None, value.get("note"))

    def describe(self) -> str:
        """What the item does, in words."""
        if self.kind == UNSCHEDULE:
            return f"Unschedule {self.label}"
        if self.kind == RESCHEDULE and self.start is not None:
            return f"Move {self.label} to {self.start:%a %b %d %H:%M}"
        if self.kind == SCHEDULE_SUPERVISOR:
            return f"Staff the Supervisor of {self.label} with {self.employee_name or 'nobody free'}"
        if self.kind == STAFF:
            when = f" at {self.start:%a %b %d %H:%M}" if self.start else ""
            return f"Staff {self.label}{when} with {self.employee_name or 'nobody free'}"
        return f"Give {self.label} to {self.employee_name or 'nobody free'}"


@dataclass(frozen=True)
class ItemOutcome:
    """One item in a batch's report: what ran (its action's answer), or, for a dry run, its plan or refusal."""

    item: BatchItem
    result: ActionResult | None = None  # a real run
    plan: Plan | None = None  # a dry run that would go ahead
    refusal: str | None = None  # a dry run that would be refused

    @property
    def status(self) -> str:
        if self.result is not None:
            return self.result.status
        return "would_refuse" if self.refusal else "would_run"

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"item": self.item.index, "kind": str(self.item.kind), "event": self.item.ref,
                                  "what": self.item.describe(), "status": self.status}
        if self.item.note:
            answer["note"] = self.item.note
        if self.result is not None:
            answer.update(self.result.to_json())
        elif self.plan is not None:
            answer["events"] = [{"ref": event.ref, "role": event.role, "before": event.before.to_json(),
                                 "target": event.target.to_json(), "rep_name": event.rep_name}
                                for event in self.plan.events]
            answer["warnings"] = list(self.plan.warnings)
            answer["rules"] = [{"employee_id": check.rep.id, "name": check.rep.name,
                                "results": [{"rule": str(r.rule), "strength": str(r.strength), "passed": r.passed,
                                             "message": r.message} for r in check.results]}
                               for check in self.plan.checks]
        else:
            answer["message"] = self.refusal
        return answer


@dataclass
class BatchReport:
    batch_id: int | None  # None: a dry run (nothing recorded)
    kind: BatchKind
    status: str  # a BatchStatus, or "dry_run"
    items: list[ItemOutcome] = field(default_factory=list)
    requested_by: str | None = None
    requested_at: datetime | None = None
    message: str = ""

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.items:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "kind": str(self.kind), "status": self.status, "counts": self.counts,
                "message": self.message, "requested_by": self.requested_by,
                "requested_at": self.requested_at.isoformat() if self.requested_at else None,
                "items": [outcome.to_json() for outcome in self.items]}


Progress = Callable[[int, int, ItemOutcome], None]  # (items done, items in all, the item just done)


def batch_status(results: Sequence[ActionResult]) -> BatchStatus:
    statuses = [result.status for result in results]
    if any(s in (operation_status.NEEDS_ATTENTION, operation_status.STUCK, operation_status.PENDING,
                 operation_status.APPLYING, "in_progress") for s in statuses):
        return BatchStatus.NEEDS_ATTENTION
    done = sum(1 for s in statuses if s == operation_status.DONE)
    if statuses and done == len(statuses):
        return BatchStatus.DONE
    return BatchStatus.PARTIAL if done else BatchStatus.REFUSED


class Batches:
    """Batches over the paired actions: plan, dry run, run (and resume), show, undo."""

    def __init__(self, actions: PairedActions, *, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        self.actions = actions
        self.engine = actions.engine
        self.max_items = max_items
        # Items run without the per-action rate limit: the batch counts once (its own reservation) and the cap
        # bounds its items.
        self.item_actions = copy.copy(actions)
        self.item_actions.rate_limit = None

    # --- the three batches ------------------------------------------------------------------------------------------

    def rep_out(self, employee_id: str, first: date, last: date, mode: RepOutMode, actor: str, *,
                reassign_to: str | None = None, key: str | None = None, dry_run: bool = False,
                progress: Progress | None = None) -> BatchReport:
        """Every event the rep holds from `first` to `last`, unscheduled (pairs kept together: a CORE's unschedule
        takes its Supervisor along) or given to one rep or to the top suggestion for each."""
        employee_id = input_limits.employee_id(employee_id)
        _check_range(first, last)
        if mode == RepOutMode.REASSIGN_TO:
            if not reassign_to:
                raise InvalidInput("Say who takes the events over (--reassign-to ID).")
            reassign_to = input_limits.employee_id(reassign_to)
            if reassign_to == employee_id:
                raise InvalidInput("The rep who is out cannot take their own events over.")
        request = {"employee": employee_id, "from": first.isoformat(), "to": last.isoformat(), "mode": str(mode),
                   **({"reassign_to": reassign_to} if reassign_to else {})}
        return self._batch(BatchKind.REP_OUT, actor, key, request, dry_run, progress,
                           lambda connection: self._rep_out_items(connection, employee_id, first, last, mode,
                                                                  reassign_to))

    def staff_supervisors(self, first: date, last: date, actor: str, *, key: str | None = None,
                          dry_run: bool = False, progress: Progress | None = None) -> BatchReport:
        """Every Unstaffed Supervisor of a CORE scheduled from `first` to `last`, at the rule time, to the top
        suggested lead."""
        _check_range(first, last)
        request = {"from": first.isoformat(), "to": last.isoformat()}
        return self._batch(BatchKind.STAFF_SUPERVISORS, actor, key, request, dry_run, progress,
                           lambda connection: self._supervisor_items(connection, first, last))

    def fix(self, rule: str, first: date | None, last: date | None, actor: str, *, key: str | None = None,
            dry_run: bool = False, progress: Progress | None = None) -> BatchReport:
        """The fix each open finding of a data-quality rule offers (findings judged now, from our database)."""
        from services.quality.fixes import FIXABLE_RULES, finding_fixes

        if rule not in FIXABLE_RULES:
            raise InvalidInput(f"Rule {input_limits.shown(rule)!r} offers no fix; rules with a fix: "
                               f"{', '.join(FIXABLE_RULES)}.")
        if (first is None) != (last is None):
            raise InvalidInput("Give both --from and --to, or neither.")
        if first is not None and last is not None:
            _check_range(first, last)
        request = {"rule": rule, **({"from": first.isoformat(), "to": last.isoformat()} if first and last else {})}

        def items(connection: Connection) -> list[BatchItem]:
            planned = []
            for fix in finding_fixes(connection, rule, self.actions.rule, self.actions.clock(), first, last):
                event = find_event(connection, fix.ref)
                item = BatchItem(0, fix.kind, fix.ref, _label(event) if event else f"event {fix.ref}", start=fix.start,
                                 note=fix.label)
                planned.append(self._with_lead(connection, item) if fix.kind == SCHEDULE_SUPERVISOR else item)
            return self._numbered(planned)
        return self._batch(BatchKind.FIX, actor, key, request, dry_run, progress, items)

    def staff_events(self, refs: Sequence[int], actor: str, *, key: str | None = None, dry_run: bool = False,
                     progress: Progress | None = None) -> BatchReport:
        """Each Unstaffed event of `refs` at its default start (the first Core time slot still ahead in its window)
        with the top suggestion that breaks no rule and does not clash with an earlier pick of this batch. A CORE
        takes its Supervisor along (staff does), so a Supervisor whose CORE is among `refs` is no item of its own; a
        Supervisor beside its scheduled CORE is staffed at the rule time with the top suggested lead."""
        wanted = list(dict.fromkeys(input_limits.event_ref(ref) for ref in refs))
        if not wanted:
            raise InvalidInput("Choose at least one Unstaffed event to staff.")
        return self._batch(BatchKind.STAFF_EVENTS, actor, key, {"events": wanted}, dry_run, progress,
                           lambda connection: self._staff_items(connection, wanted))

    # --- show and undo ----------------------------------------------------------------------------------------------

    def show(self, batch_id: int) -> BatchReport:
        batch_id = input_limits.record_id(batch_id, "A batch id")
        with self.engine.connect() as connection:
            batch = connection.execute(select(Batch).where(Batch.id == batch_id)).first()
            if batch is None:
                raise NotFound(f"No batch {batch_id}.")
            rows = connection.execute(select(BatchItemRow).where(BatchItemRow.batch_id == batch_id)
                                      .order_by(BatchItemRow.item_index)).all()
        items = [BatchItem.from_json(read_json(row.item, {})) for row in rows]
        outcomes = []
        for item, row in zip(items, rows):
            record = self.actions.journal.find(row.operation_id) if row.operation_id else None
            outcomes.append(ItemOutcome(item, result=result_of(record) if record else None,
                                        refusal=None if record else "not run yet"))
        return BatchReport(batch.id, BatchKind(batch.kind), batch.status, outcomes, batch.requested_by,
                           batch.requested_at, batch.message or "")

    def undo(self, batch_id: int, actor: str, *, progress: Progress | None = None) -> BatchReport:
        """Undo every done item of a batch, last first, each within the undo window (an item past it, or moved
        since, is refused and says why; the others are still undone)."""
        report = self.show(batch_id)
        if report.status == BatchStatus.RUNNING:
            raise ActionRefused(f"Batch {batch_id} is still running; undo it when it has finished.")
        done = [outcome for outcome in reversed(report.items)
                if outcome.result is not None and outcome.result.status == operation_status.DONE]
        if not done:
            raise ActionRefused(f"Batch {batch_id} has no done item to undo.")
        outcomes: list[ItemOutcome] = []
        for position, outcome in enumerate(done, 1):
            assert outcome.result is not None and outcome.result.operation_id is not None
            result = self.item_actions.undo(outcome.result.operation_id, actor,
                                            key=f"undo-batch-{batch_id}-{outcome.item.index}")
            outcomes.append(ItemOutcome(outcome.item, result=result))
            if progress is not None:
                progress(position, len(done), outcomes[-1])
        status = batch_status([o.result for o in outcomes if o.result is not None])
        message = (f"Undo of batch {batch_id}: {sum(1 for o in outcomes if o.status == 'done')} of {len(outcomes)} "
                   f"item(s) undone (undo is offered for {UNDO_WINDOW.seconds // 60} minutes after each item).")
        return BatchReport(batch_id, report.kind, status, outcomes, actor, self.actions.clock(), message)

    # --- running ---------------------------------------------------------------------------------------------------

    def _batch(self, kind: BatchKind, actor: str, key: str | None, request: dict[str, Any], dry_run: bool,
               progress: Progress | None, plan_items: Callable[[Connection], list[BatchItem]]) -> BatchReport:
        account = self.actions.authorize(actor, "batch")
        who = getattr(account, "username", None) or (actor or "").strip()
        if key is not None:
            key = input_limits.idempotency_key(key)
        existing = self._find(who, key) if key and not dry_run else None
        if existing is not None:
            if existing.kind != kind or read_json(existing.request, {}) != request:
                raise InvalidInput(f"The key {key!r} belongs to batch {existing.id} ({existing.kind}, asked with "
                                   "other arguments); use a new key for a new batch.")
            items = self._stored_items(existing.id)
            log_event(log, "batch resume", batch_id=existing.id, items=len(items))
            return self._run(existing.id, kind, who, items, progress)
        with self.engine.connect() as connection:
            items = plan_items(connection)
        if len(items) > self.max_items:
            raise InvalidInput(f"This batch has {len(items)} items; at most {self.max_items} fit in one batch "
                               "(BATCH_MAX_ITEMS). Narrow the date range.")
        if dry_run:
            return BatchReport(None, kind, "dry_run", [self._preview(item) for item in items], who,
                               self.actions.clock(), f"Dry run: {len(items)} item(s); nothing was sent.")
        now = self.actions.clock()
        try:
            with rate_limited_request(self.engine, self.actions.rate_limit, who, "batch", now,
                                      message=to_json({"kind": str(kind), **request})) as connection:
                batch_id = connection.execute(insert(Batch).values(
                    idempotency_key=key or f"batch-{uuid.uuid4().hex}", kind=str(kind), requested_by=who,
                    requested_at=now, status=BatchStatus.RUNNING, request=json_value(request),
                    message=f"{len(items)} item(s) planned").returning(Batch.id)).scalar_one()
                if items:
                    connection.execute(insert(BatchItemRow), [
                        {"batch_id": batch_id, "item_index": item.index, "kind": str(item.kind),
                         "event_ref": item.ref, "item": json_value(item.to_json())} for item in items])
        except IntegrityError:  # the same key raced in: resume that batch
            existing = self._find(who, key) if key else None
            if existing is None:
                raise
            return self._run(existing.id, kind, who, self._stored_items(existing.id), progress)
        log_event(log, "batch start", batch_id=batch_id, kind=str(kind), items=len(items), actor=who)
        return self._run(batch_id, kind, who, items, progress)

    def _run(self, batch_id: int, kind: BatchKind, who: str, items: list[BatchItem],
             progress: Progress | None) -> BatchReport:
        outcomes: list[ItemOutcome] = []
        for position, item in enumerate(items, 1):
            result = self._run_item(batch_id, item, who)
            outcomes.append(ItemOutcome(item, result=result))
            if progress is not None:
                progress(position, len(items), outcomes[-1])
        status = batch_status([o.result for o in outcomes if o.result is not None]) if items else BatchStatus.DONE
        counts = BatchReport(batch_id, kind, status, outcomes).counts
        message = f"{len(items)} item(s): " + ", ".join(f"{count} {name}" for name, count in sorted(counts.items()))
        with begin_write(self.engine) as connection:
            connection.execute(update(Batch).where(Batch.id == batch_id).values(
                status=status, finished_at=self.actions.clock(), message=message))
            bump_data_version(connection)  # the pages' cached reads (the Operations page's batches) see it at once
        log_event(log, "batch end", batch_id=batch_id, status=str(status), counts=counts)
        with self.engine.connect() as connection:
            batch = connection.execute(select(Batch).where(Batch.id == batch_id)).one()
        return BatchReport(batch_id, kind, status, outcomes, who, batch.requested_at, message)

    def _run_item(self, batch_id: int, item: BatchItem, who: str) -> ActionResult:
        with self.engine.connect() as connection:
            recorded = connection.execute(select(BatchItemRow.operation_id).where(
                BatchItemRow.batch_id == batch_id, BatchItemRow.item_index == item.index)).scalar()
        if recorded is not None:  # ran before this resume: its operation answers (the retry loop settles it)
            record = self.actions.journal.find(recorded)
            if record is not None:
                return result_of(record)
        key = f"batch-{batch_id}-item-{item.index}"  # derived from the batch and the item: a resume reuses it
        try:
            result = self._act(item, who, key)
        except OpsError as refused:  # what the executor did not record itself (e.g. a refused key)
            result = ActionResult(None, "refused", str(refused))
        if result.operation_id is not None:
            with begin_write(self.engine) as connection:
                connection.execute(update(BatchItemRow).where(
                    BatchItemRow.batch_id == batch_id, BatchItemRow.item_index == item.index)
                    .values(operation_id=result.operation_id))
        return result

    def _act(self, item: BatchItem, who: str, key: str) -> ActionResult:
        actions = self.item_actions
        if item.kind == UNSCHEDULE:
            return actions.unschedule(item.ref, who, key)
        if item.kind == RESCHEDULE and item.start is not None:
            return actions.reschedule(item.ref, item.start, who, key)
        if item.employee_id is None:  # recorded as a refused operation like any other refusal (invariant 3)
            reason = item.note or "No qualified rep is free for this event."

            def refuse(_connection: Connection, _context: object) -> Plan:
                raise ActionRefused(reason)
            return actions.run(item.kind, who, key, {"ref": item.ref, "batch_item": item.index}, refuse)
        if item.kind == SCHEDULE_SUPERVISOR:
            return actions.schedule_supervisor(item.ref, item.employee_id, who, key)
        if item.kind == STAFF and item.start is not None:
            return actions.staff(item.ref, item.employee_id, item.start, who, key)
        return actions.reassign(item.ref, item.employee_id, who, key)

    def _preview(self, item: BatchItem) -> ItemOutcome:
        actions = self.actions
        try:
            if item.kind == UNSCHEDULE:
                plan = actions.preview_unschedule(item.ref)
            elif item.kind == RESCHEDULE and item.start is not None:
                plan = actions.preview_reschedule(item.ref, item.start)
            elif item.employee_id is None:
                return ItemOutcome(item, refusal=item.note or "No qualified rep is free for this event.")
            elif item.kind == SCHEDULE_SUPERVISOR:
                plan = actions.preview_schedule_supervisor(item.ref, item.employee_id)
            elif item.kind == STAFF and item.start is not None:
                plan = actions.preview_staff(item.ref, item.employee_id, item.start)
            else:
                plan = actions.preview_reassign(item.ref, item.employee_id)
        except OpsError as refused:
            return ItemOutcome(item, refusal=str(refused))
        return ItemOutcome(item, plan=plan)

    def _find(self, who: str, key: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(select(Batch).where(Batch.requested_by == who,
                                                          Batch.idempotency_key == key)).first()

    def _stored_items(self, batch_id: int) -> list[BatchItem]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(BatchItemRow.item).where(BatchItemRow.batch_id == batch_id)
                                      .order_by(BatchItemRow.item_index)).scalars().all()
        return [BatchItem.from_json(read_json(row, {})) for row in rows]

    # --- planning the items ----------------------------------------------------------------------------------------

    @staticmethod
    def _numbered(items: list[BatchItem]) -> list[BatchItem]:
        return [BatchItem(index, item.kind, item.ref, item.label, item.employee_id, item.employee_name, item.start,
                          item.note) for index, item in enumerate(items, 1)]

    def _rep_out_items(self, connection: Connection, employee_id: str, first: date, last: date, mode: RepOutMode,
                       reassign_to: str | None) -> list[BatchItem]:
        held = connection.execute(
            select(Event.project_ref_num).join(Schedule, Schedule.event_ref_num == Event.project_ref_num)
            .where(Schedule.employee_id == employee_id,
                   Schedule.schedule_datetime >= datetime.combine(first, time.min),
                   Schedule.schedule_datetime < datetime.combine(last + timedelta(days=1), time.min))
            .order_by(Schedule.schedule_datetime, Event.project_ref_num)).scalars().all()
        events = [event for event in (find_event(connection, ref) for ref in held) if event is not None]
        items: list[BatchItem] = []
        if mode == RepOutMode.UNSCHEDULE:
            held_refs = set(held)
            for event in events:
                # A Supervisor whose CORE the rep also holds goes with that CORE's unschedule (one operation).
                if event.event_type == SUPERVISOR and core_of_supervisor(connection, event.ref) in held_refs:
                    continue
                items.append(BatchItem(0, UNSCHEDULE, event.ref, _label(event)))
            return self._numbered(items)
        if mode == RepOutMode.REASSIGN_TO:
            assert reassign_to is not None
            from services.actions.rep_facts import find_rep
            rep = find_rep(connection, reassign_to)
            if rep is None:
                raise InvalidInput(f"No employee with id {reassign_to!r} to take the events over.")
            return self._numbered([BatchItem(0, REASSIGN, event.ref, _label(event), rep.id, rep.name)
                                   for event in events])
        picks: dict[str, list[tuple[datetime, datetime, str]]] = {}
        for event in events:
            start = event.placement.start
            assert start is not None
            items.append(self._suggested(connection, event, start, REASSIGN, event.ref, picks,
                                         exclude=(employee_id,)))
        return self._numbered(items)

    def _supervisor_items(self, connection: Connection, first: date, last: date) -> list[BatchItem]:
        cores = connection.execute(
            select(Event.project_ref_num, Event.project_name, Event.location_mvid, Event.store_number)
            .join(Schedule, Schedule.event_ref_num == Event.project_ref_num)
            .where(Event.event_type == CORE, Schedule.schedule_datetime >= datetime.combine(first, time.min),
                   Schedule.schedule_datetime < datetime.combine(last + timedelta(days=1), time.min))
            .order_by(Schedule.schedule_datetime, Event.project_ref_num)).all()
        matches = supervisors_for_cores(connection, [(ref, name, mvid, number) for ref, name, mvid, number in cores])
        items = []
        for ref, *_ in cores:
            match = matches.get(ref)
            if match is None or match.state != SUPERVISOR_UNSTAFFED or match.supervisor is None:
                continue
            core = find_event(connection, ref)
            if core is None:
                continue
            items.append(self._with_lead(connection, BatchItem(0, SCHEDULE_SUPERVISOR, ref, _label(core))))
        return self._numbered(items)

    def _staff_items(self, connection: Connection, refs: list[int]) -> list[BatchItem]:
        now = self.actions.clock()
        wanted = set(refs)
        picks: dict[str, list[tuple[datetime, datetime, str]]] = {}
        items: list[BatchItem] = []
        for ref in refs:
            event = find_event(connection, ref)
            if event is None:  # planned as a refusal, so the report names it (nothing is sent for it)
                items.append(BatchItem(0, STAFF, ref, f"event {ref}", note=f"No event with ref {ref}."))
                continue
            if event.event_type == SUPERVISOR:
                core_ref = core_of_supervisor(connection, ref)
                if core_ref in wanted:
                    continue  # staffed along with its CORE
                core = find_event(connection, core_ref) if core_ref is not None else None
                if core is not None and core.placement.scheduled:
                    items.append(self._with_lead(connection, BatchItem(0, SCHEDULE_SUPERVISOR, core.ref,
                                                                       _label(core))))
                    continue
            if event.placement.scheduled:
                items.append(BatchItem(0, STAFF, ref, _label(event), note=f"Event {ref} is already scheduled "
                                       f"({event.placement.describe()}); nothing will be sent for it."))
                continue
            try:
                start = default_start(event, now)
            except InvalidInput as no_slot:
                items.append(BatchItem(0, STAFF, ref, _label(event), note=f"{no_slot} Staff it on its own."))
                continue
            items.append(replace(self._suggested(connection, event, start, STAFF, ref, picks), start=start))
        return self._numbered(items)

    def _with_lead(self, connection: Connection, item: BatchItem) -> BatchItem:
        """A schedule-Supervisor item with the top suggested lead for the CORE's Supervisor at the rule time."""
        core = find_event(connection, item.ref)
        if core is None or not core.placement.scheduled or core.placement.start is None:
            return item
        match = supervisors_for_cores(connection, [(core.ref, core.name, core.location_id, core.store_number)])
        supervisor = match[core.ref].supervisor
        if supervisor is None:
            return item
        supervisor_event = find_event(connection, supervisor.ref)
        if supervisor_event is None:
            return item
        at = supervisor_start(core.placement.start, self.actions.rule)
        return self._suggested(connection, supervisor_event, at, SCHEDULE_SUPERVISOR, core.ref, {},
                               label=item.label)

    def _suggested(self, connection: Connection, event: EventFacts, start: datetime, kind: ActionKind, ref: int,
                   picks: dict[str, list[tuple[datetime, datetime, str]]], *, exclude: Sequence[str] = (),
                   label: str | None = None) -> BatchItem:
        """An item for the top suggestion that breaks no rule and does not clash with an earlier pick of this batch
        (the suggestions cannot see picks not yet made)."""
        end = start + timedelta(minutes=event.duration)
        qualified, unchecked = self.actions.crossmark_qualified(event)  # a failure never blocks: our data ranks alone
        for suggestion in suggest_reps(connection, event, start, self.actions.clock(), exclude=exclude,
                                       crossmark_rep_ids=qualified):
            if not suggestion.allowed:
                break  # ranked: no later one is allowed either
            taken = picks.get(suggestion.rep.id, [])
            if event.event_type != SUPERVISOR and any(
                    kind_taken != SUPERVISOR and (first < end and start < last
                                                  or (event.event_type == CORE and kind_taken == CORE
                                                      and first.date() == start.date()))
                    for first, last, kind_taken in taken):
                continue
            picks.setdefault(suggestion.rep.id, []).append((start, end, event.event_type))
            return BatchItem(0, kind, ref, label or _label(event), suggestion.rep.id, suggestion.rep.name,
                             note="top suggestion: " + "; ".join((*suggestion.reasons,
                                                                   unchecked or "qualified in Crossmark")))
        return BatchItem(0, kind, ref, label or _label(event), note="No qualified rep is free for this event at "
                         f"{start:%a %b %d %H:%M}; nothing will be sent for it.")


def _label(event: EventFacts) -> str:
    kinds: dict[str, str] = {CORE: "CORE", SUPERVISOR: "Supervisor"}
    kind = kinds.get(event.event_type, f"{event.event_type} event")
    when = f" on {event.placement.start:%a %b %d %H:%M}" if event.placement.start else ""
    return f"{kind} {event.ref} ({event.name}){when}"


def _check_range(first: date, last: date) -> None:
    if last < first:
        raise InvalidInput(f"The range ends ({last}) before it starts ({first}).")
    if (last - first).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"A batch covers at most {MAX_RANGE_DAYS} days ({first}..{last} is "
                           f"{(last - first).days}).")
