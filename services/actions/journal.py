"""Journal layer: the operation records, their Crossmark steps, audit entries and per-event locks.

Each function is one short transaction (one boundary per saga step): what it records survives a crash right after.
A call's step is always committed before the call; its result may wait for the run's next commit (`add_step`'s
`finishing`, `write_step_results` in the local commit), one commit fewer per call.

Idempotency keys belong to the acting account and to their request. An operation stores its key with a fingerprint of
the request (`request_fingerprint`: kind, canonical account name, arguments); the same key from the same account
answers with that operation only for the same request, and another account's same key is another key (a unique index
on account + key). Keys live for KEY_RETENTION after their operation finished: then `reconcile` releases them
(`release_keys`), which sets `key_released_at` and keeps the record, key text included (nothing is lost); the account
may then use the key for a new request. Operations recorded before keys had fingerprints (migration 0010) have none
stored; theirs is derived from the kind, account and request they recorded, the same canonical form.
"""
from __future__ import annotations

import builtins
import hashlib
import json
import os
import socket
import uuid
from dataclasses import dataclass
from enum import StrEnum
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from sqlalchemy import Connection, Engine, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from services.store.database import begin_write
from services.store.tables import AuditEntry, Operation, OperationStep, PairLock



class OperationStatus(StrEnum):
    """An operation's status, as stored in dashboard_operations.status (a StrEnum: equal to its text)."""
    PENDING = "pending"
    APPLYING = "applying"
    DONE = "done"
    REFUSED = "refused"
    COMPENSATED = "compensated"
    NEEDS_ATTENTION = "needs_attention"
    STUCK = "stuck"  # the automatic retries gave up: locked until an admin retries or releases it
    RESOLVED = "resolved"


PENDING, APPLYING, DONE = OperationStatus.PENDING, OperationStatus.APPLYING, OperationStatus.DONE
REFUSED, COMPENSATED = OperationStatus.REFUSED, OperationStatus.COMPENSATED
NEEDS_ATTENTION, STUCK, RESOLVED = OperationStatus.NEEDS_ATTENTION, OperationStatus.STUCK, OperationStatus.RESOLVED
STATUSES = tuple(OperationStatus)
# Keyed by str: status_label looks the stored text up (an OperationStatus is a str, equal to it).
STATUS_LABELS: dict[str, str] = {PENDING: "Pending", APPLYING: "In progress", DONE: "Done", REFUSED: "Refused",
                                 COMPENSATED: "Rolled back", NEEDS_ATTENTION: "Needs attention", STUCK: "Stuck",
                                 RESOLVED: "Resolved"}


class StepStatus(StrEnum):
    """A Crossmark call's status, as stored in dashboard_operation_steps.status: sent, then what came back."""
    SENT = "sent"
    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"  # no answer that says whether it was applied: the executor reads the event back


STEP_SENT, STEP_OK, STEP_FAILED, STEP_UNKNOWN = StepStatus.SENT, StepStatus.OK, StepStatus.FAILED, StepStatus.UNKNOWN
STEP_STATUS_LABELS: dict[str, str] = {STEP_SENT: "Sent", STEP_OK: "OK", STEP_FAILED: "Failed", STEP_UNKNOWN: "Outcome unknown"}


def status_label(status: str | None) -> str:
    """An operation's or a Crossmark call's status as people read it ("needs_attention" -> "Needs attention")."""
    return (STATUS_LABELS.get(status or "") or STEP_STATUS_LABELS.get(status or "")
            or (status or "").replace("_", " ").capitalize())
UNFINISHED = (PENDING, APPLYING)
HOLDING_LOCKS = (PENDING, APPLYING, NEEDS_ATTENTION, STUCK)  # locks live exactly as long as these (invariant 8)
SETTLEABLE = (PENDING, APPLYING, NEEDS_ATTENTION, STUCK)  # what a retry may take (stuck: only when asked to)
# A retry with the same key comes within minutes or hours (a double click, a rerun, a cron job's next attempt); a week
# covers a long weekend's backlog. Keys of operations still needing attention are kept however old they are.
KEY_RETENTION = timedelta(days=7)
KEY_RELEASABLE = (DONE, REFUSED, COMPENSATED, RESOLVED)
# What the planner adds to a request after it was asked: not part of what was asked, so not of its fingerprint.
_DERIVED_REQUEST_FIELDS = ("warnings", "guards")


def _plain(item: Any) -> str:
    return item.isoformat() if isinstance(item, datetime) else str(item)


def to_json(value: Any) -> str:
    """JSON text of a value (datetimes as ISO text, keys sorted): an audit message holding a request, and the form the
    journal's JSON columns were written in before they were JSON (migration 0016), which json_text reproduces."""
    return json.dumps(value, default=_plain, sort_keys=True)


def json_value(value: Any) -> Any:
    """A value as a JSON column stores it: dicts, lists, text, numbers, booleans, None (datetimes as ISO text), with
    each NUL character as U+FFFD. PostgreSQL's JSONB cannot hold a NUL in text, and a refused request is journaled as it
    was asked, bad input (a NUL typed into a note) included; the same on SQLite, so both databases hold the same."""
    return None if value is None else _without_nul(json.loads(to_json(value)))


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    return value


def json_text(value: Any) -> str | None:
    """What a JSON column holds as the text the pages and exports show (an audit entry's before / after cell): the
    JSON text to_json writes, a string as its own text (a switch's "True"; text migration 0016 found that was not
    JSON), None for NULL. The same cells as when these columns were text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def request_fingerprint(kind: str, actor: str, request: dict) -> str:
    """sha256 (hex) of the canonical JSON of what was asked: the kind, the canonical account name and the arguments."""
    asked = {name: value for name, value in request.items() if name not in _DERIVED_REQUEST_FIELDS}
    canonical = json.dumps({"kind": kind, "actor": actor, "request": asked}, default=_plain, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class OperationRecord:
    id: int
    idempotency_key: str
    kind: str
    requested_by: str
    requested_at: datetime
    status: str
    message: str | None
    request: dict
    events: list[dict]
    undo_of: int | None
    updated_at: datetime
    finished_at: datetime | None
    request_fingerprint: str | None = None  # None: recorded before migration 0010 (see `fingerprint`)
    key_released_at: datetime | None = None
    lease_owner: str | None = None  # the run holding the operation (see Journal.claim)
    lease_expires_at: datetime | None = None
    attempts: int = 0  # automatic or asked-for retries made so far
    next_attempt_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """The stored fingerprint, or for an operation recorded before there were any, the one derived from what it
        recorded (its request JSON still holds the arguments it was asked with)."""
        return self.request_fingerprint or request_fingerprint(self.kind, self.requested_by, self.request)


def read_json(value: Any, empty: Any) -> Any:
    """A JSON column's value as the type it should hold (`empty`'s), or `empty` when it is missing, unreadable or of
    another type: a row edited by hand or cut short must not stop a page or a retry pass from reading the rest.

    Takes what the column gives (a dict, a list, ...) and JSON text alike: a raw SQL query on SQLite returns the text,
    and a JSON string that holds JSON text (written as text into the column) is read as that JSON."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value) if value else empty
        except (ValueError, RecursionError):
            return empty
    return value if isinstance(value, type(empty)) else empty


def operation_record(row: Any) -> OperationRecord:
    """An OperationRecord from a full row of dashboard_operations (`select(Operation)`)."""
    return OperationRecord(id=row.id, idempotency_key=row.idempotency_key, kind=row.kind, requested_by=row.requested_by,
                           requested_at=row.requested_at, status=row.status, message=row.message,
                           request=read_json(row.request, {}),
                           events=[event for event in read_json(row.events, []) if isinstance(event, dict)],
                           undo_of=row.undo_of, updated_at=row.updated_at, finished_at=row.finished_at,
                           request_fingerprint=row.request_fingerprint, key_released_at=row.key_released_at,
                           lease_owner=row.lease_owner, lease_expires_at=row.lease_expires_at,
                           attempts=row.attempts or 0, next_attempt_at=row.next_attempt_at)


class LockConflict(Exception):
    def __init__(self, event_ref: int, operation_id: int | None) -> None:
        super().__init__(event_ref, operation_id)
        self.event_ref, self.operation_id = event_ref, operation_id


class LeaseLost(Exception):
    """This run no longer holds its operation's lease (it ran past the lease, and reconcile or the retry loop took the
    operation): it must not call Crossmark or record anything more for it."""


@dataclass(frozen=True)
class AuditedChange:
    """One audit entry about an event (Journal.audit_events writes several in one statement)."""

    now: datetime
    actor: str
    operation_id: int
    event_ref: int | None  # None: about the operation (its status), not one event
    action: str
    before: Any
    after: Any
    message: str | None = None


@dataclass(frozen=True)
class StepResult:
    """What came back from a Crossmark call recorded as step `step_id`, waiting to be written with the run's next
    commit (the next step's record, or the local commit): one commit fewer per call, and the call's record was
    committed before it was made, so reconcile still knows of it after a crash (it reads the event back)."""

    step_id: int
    status: str
    result: dict
    finished_at: datetime


def _process_space() -> str:
    """Names the set of processes this one can see by pid: the kernel's boot and this pid namespace. Two containers
    with one hostname, or one host after a reboot, get different names, so a pid is only ever judged where it means
    the same process."""
    parts = []
    for source in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(os.readlink(source) if source.endswith("/pid") else open(source).read().strip())
        except OSError:
            parts.append("?")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


PROCESS_SPACE = _process_space()


def new_lease_token() -> str:
    """A lease owner: host, process and process space (to tell whether it still runs), and a token for this run."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{PROCESS_SPACE}:{uuid.uuid4().hex[:12]}"


def lease_owner_gone(owner: str | None) -> bool:
    """Whether the process that holds a lease is known to have ended: only for a process this one can see (same
    process space) that no longer exists. Anything uncertain is "not gone": the lease then simply runs out."""
    try:
        _host, pid, space, _token = (owner or "").rsplit(":", 3)
        pid_number = int(pid)
    except ValueError:
        return False
    if space != PROCESS_SPACE or pid_number == os.getpid() or pid_number <= 0:
        return False
    try:
        os.kill(pid_number, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


class Journal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def find(self, operation_id: int) -> OperationRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(Operation).where(Operation.id == operation_id)).first()
        return operation_record(row) if row else None

    def find_by_key(self, actor: str, key: str, connection: Connection | None = None) -> OperationRecord | None:
        """The operation `actor`'s key `key` is bound to (a released key is bound to nothing); on `connection` when
        given (the executor reads the key, the switches and the plan's facts on one connection)."""
        asked = {"actor": actor, "key": key}
        if connection is not None:
            row = connection.execute(_BY_KEY, asked).first()
        else:
            with self.engine.connect() as own:
                row = own.execute(_BY_KEY, asked).first()
        return operation_record(row) if row else None

    def record_refused(self, *, key: str, kind: str, actor: str, now: datetime, request: dict, message: str,
                       undo_of: int | None = None, fingerprint: str | None = None) -> OperationRecord:
        """A refused action still leaves its record and an audit entry (nothing lost, DESIGN.md invariant 3).

        If the account's key raced in meanwhile, nothing is written and the record holding the key is returned: the
        caller compares its fingerprint, since the racer may have asked for something else."""
        try:
            with begin_write(self.engine) as connection:
                record = self._insert(connection, key=key, kind=kind, actor=actor, now=now, request=request,
                                      events=[], status=REFUSED, message=message, undo_of=undo_of, finished=True,
                                      fingerprint=fingerprint)
                self._audit(connection, now, actor, record.id, None, f"{kind} refused", None, None, message)
        except IntegrityError:
            raced = self.find_by_key(actor, key)
            if raced is None:
                raise
            return raced
        return record

    def start(self, *, key: str, kind: str, actor: str, now: datetime, request: dict, events: list[dict],
              undo_of: int | None = None, also_lock: Sequence[int] = (), fingerprint: str | None = None,
              reserve: Callable[[Connection], None] | None = None, lease_owner: str | None = None,
              lease: timedelta = timedelta(minutes=10), applying: bool = False,
              under_locks: Callable[[Connection, OperationRecord], None] | None = None) -> OperationRecord:
        """Operation (pending) + locks on its events (and on `also_lock`: events it relies on but does not change)
        + audit entry, committed together before any Crossmark call.

        `reserve` runs first in the same write transaction (the rate limit: it counts the account's recent requests
        and raises at the limit), so that counting and recording this one cannot be split by a concurrent request.
        Raises IntegrityError when the account's key exists, LockConflict when an event is in another unfinished
        operation, and what `reserve` raises. `under_locks(connection, record)` runs last in the same transaction,
        the locks taken (the executor plans again there and records its first call, or ends the operation refused);
        the record returned is the one inserted, as `under_locks` found it. `applying`: the operation is written as
        applying, not pending, because `under_locks` records its first call (insert_step) before this commits.

        Three statements on the way that succeeds (each one a round trip on PostgreSQL): the operation's INSERT
        carries its lease and gives back the row it wrote (RETURNING: the record, without reading it again), one
        INSERT takes every lock, one the audit entry."""
        with begin_write(self.engine) as connection:
            if reserve is not None:
                reserve(connection)
            record = self._insert(connection, key=key, kind=kind, actor=actor, now=now, request=request,
                                  events=events, status=APPLYING if applying else PENDING, message=None,
                                  undo_of=undo_of, finished=False,
                                  fingerprint=fingerprint, lease_owner=lease_owner,
                                  lease_expires_at=now + lease if lease_owner is not None else None)
            refs = list(dict.fromkeys([event["ref"] for event in events] + list(also_lock)))
            # One INSERT for every lock, skipping those someone holds (ON CONFLICT DO NOTHING) and naming those it
            # took: a lock another operation is taking at this moment makes PostgreSQL wait for that transaction,
            # then skip ours if it committed, as the unique index made the one-by-one inserts wait before. The rows
            # go in ascending ref order, the same for every operation, so two operations taking overlapping locks at
            # once wait for each other in one direction only (in the order given, a CORE-first and a
            # Supervisor-first operation deadlocked on PostgreSQL's unique index; found by the stateful chaos test).
            taken = set(connection.execute(_LOCK[connection.dialect.name], [
                {"event_ref": ref, "operation_id": record.id, "locked_at": now} for ref in sorted(refs)]
            ).scalars()) if refs else set()
            for ref in refs:  # a lock someone holds is named as the caller listed the events (the acted-on first)
                if ref not in taken:
                    holder = connection.execute(select(PairLock.operation_id)
                                                .where(PairLock.event_ref == ref)).scalar_one_or_none()
                    raise LockConflict(ref, holder)
            self._audit(connection, now, actor, record.id, None, f"{kind} requested", None, None, to_json(request))
            if under_locks is not None:
                under_locks(connection, record)
        return record

    def add_step(self, operation_id: int, *, event_ref: int, role: str, action: str, purpose: str, request: dict,
                 now: datetime, lease_owner: str | None = None, lease: timedelta | None = None,
                 finishing: Sequence[StepResult] = ()) -> int:
        """Record a Crossmark call about to be made. With `lease_owner`, the operation's lease is renewed to `now +
        lease` in the same commit (a lease longer than the longest call then covers the call), and LeaseLost is
        raised, recording nothing, if this run no longer holds it. `finishing`: results of this run's earlier calls
        not yet written, committed with this record.

        One UPDATE renews the lease and moves the operation from pending to applying (the first call does), one
        INSERT numbers and writes the step (its seq counted in the same statement) and gives back its id."""
        with begin_write(self.engine) as connection:
            step_id = self.record_step(connection, operation_id, event_ref=event_ref, role=role, action=action,
                                       purpose=purpose, request=request, now=now, lease_owner=lease_owner, lease=lease)
            self.write_step_results(connection, finishing)
            return step_id

    @classmethod
    def record_step(cls, connection: Connection, operation_id: int, *, event_ref: int, role: str, action: str,
                    purpose: str, request: dict, now: datetime, lease_owner: str | None = None,
                    lease: timedelta | None = None) -> int:
        """add_step inside the caller's transaction."""
        if lease_owner is not None and lease is not None:
            if not connection.execute(_RENEW, {"operation": operation_id, "owner": lease_owner, "now": now,
                                               "expires": now + lease}).rowcount:
                raise LeaseLost(operation_id)
        else:
            connection.execute(_TOUCH, {"operation": operation_id, "now": now})
        return cls.insert_step(connection, operation_id, event_ref=event_ref, role=role, action=action,
                               purpose=purpose, request=request, now=now)

    @staticmethod
    def insert_step(connection: Connection, operation_id: int, *, event_ref: int, role: str, action: str,
                    purpose: str, request: dict, now: datetime) -> int:
        """The step's row alone, inside the caller's transaction: for the first call, recorded in the transaction that
        wrote the operation (start's `under_locks`), already applying and with the lease it was written with."""
        return connection.execute(_INSERT_STEP, {
            "operation_id": operation_id, "step_of": operation_id, "event_ref": event_ref, "role": role, "action": action, "purpose": purpose,
            "request": json_value(request), "status": STEP_SENT, "created_at": now}).scalar_one()

    def finish_step(self, step_id: int, status: str, result: dict, now: datetime) -> None:
        self.finish_steps([StepResult(step_id, status, result, now)])

    def finish_steps(self, results: Sequence[StepResult]) -> None:
        """Write results of Crossmark calls in a commit of their own (a run that ends without another commit)."""
        if results:
            with begin_write(self.engine) as connection:
                self.write_step_results(connection, results)

    @staticmethod
    def write_step_results(connection: Connection, results: Sequence[StepResult]) -> None:
        """Inside the caller's transaction: each call's status and result (one statement, executemany)."""
        if not results:
            return
        connection.execute(_STEP_RESULT, [{"step_id": done.step_id, "step_status": done.status,
                                           "step_result": json_value(done.result), "step_finished": done.finished_at}
                                          for done in results])

    def steps(self, operation_id: int) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(OperationStep).where(OperationStep.operation_id == operation_id)
                                      .order_by(OperationStep.seq)).mappings().all()
        return [dict(row) for row in rows]

    def finish(self, connection: Connection, operation_id: int, *, status: str, message: str, events: list[dict],
               actor: str, now: datetime, release_locks: bool | None = None,
               next_attempt_at: datetime | None = None, attempts: int | None = None, held_by: str | None = None,
               audited: Sequence[AuditedChange] = ()) -> OperationRecord | None:
        """Final status (or needs_attention / stuck with the next retry), inside the caller's transaction (which also
        holds the local change, if any). The lease is given up; the locks are released unless the status holds them.
        Returns the record as written (RETURNING: the answer needs no read after the commit), None if it is gone.

        `held_by`: only if this run still holds the operation's lease, checked by this same UPDATE (which then holds
        the row to the commit, so a claim cannot take it in between); if it does not, LeaseLost is raised and the
        caller's transaction must roll back. `audited`: entries about the change written before the status's own,
        in the same INSERT."""
        values: dict[str, Any] = {"operation": operation_id, "to_status": status, "to_message": message,
                                  "to_events": json_value(events), "now": now, "next_attempt": next_attempt_at}
        if held_by is not None:
            values["owner"] = held_by
        if attempts is not None:
            values["to_attempts"] = attempts
        row = connection.execute(_FINISH[held_by is not None, attempts is not None], values).first()
        if row is None and held_by is not None:
            raise LeaseLost(operation_id)
        if release_locks if release_locks is not None else status not in HOLDING_LOCKS:
            connection.execute(_UNLOCK, {"operation": operation_id})
        self.audit_events(connection, [*audited, AuditedChange(now=now, actor=actor, operation_id=operation_id,
                                                               event_ref=None, action=status, before=None, after=None,
                                                               message=message)])
        return operation_record(row) if row is not None else None

    def claim(self, operation_id: int, *, owner: str, now: datetime, lease: timedelta,
              statuses: Sequence[str] = SETTLEABLE) -> OperationRecord | None:
        """Take an operation whose lease has expired, that has none, or whose holder is known to have ended
        (lease_owner_gone): one atomic UPDATE, so of two processes reaching for it (reconcile, the retry loop, an
        admin's Retry now) exactly one gets it. None: it is still running under a live lease, or no longer in
        `statuses`."""
        current = self.find(operation_id)
        if current is None:
            return None
        free = or_(Operation.lease_owner.is_(None), Operation.lease_expires_at.is_(None),
                   Operation.lease_expires_at < now)
        if lease_owner_gone(current.lease_owner):
            free = or_(free, Operation.lease_owner == current.lease_owner)
        with begin_write(self.engine) as connection:
            taken = connection.execute(update(Operation).where(
                Operation.id == operation_id, Operation.status.in_(statuses), free).values(
                lease_owner=owner, lease_expires_at=now + lease, updated_at=now)).rowcount
        return self.find(operation_id) if taken else None

    def release_lease(self, operation_id: int, owner: str) -> None:
        with begin_write(self.engine) as connection:
            connection.execute(update(Operation).where(Operation.id == operation_id, Operation.lease_owner == owner)
                               .values(lease_owner=None, lease_expires_at=None))

    def due_for_retry(self, now: datetime, *, abandoned_before: datetime, limit: int = 100) -> list[OperationRecord]:
        """What the retry loop (and `reconcile`) takes now: operations needing attention whose next attempt is due,
        and unfinished ones whose run is gone (lease expired; or, recorded before leases, untouched since
        `abandoned_before`). Stuck ones wait for a person."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(Operation).where(or_(
                (Operation.status == NEEDS_ATTENTION)
                & (Operation.next_attempt_at.is_(None) | (Operation.next_attempt_at <= now)),
                Operation.status.in_(UNFINISHED)
                & ((Operation.lease_expires_at < now)
                   | (Operation.lease_expires_at.is_(None) & (Operation.updated_at <= abandoned_before))),
            )).order_by(Operation.id).limit(limit)).all()
            # Running under a live lease, but its process is known to have ended (killed on this host): no need to
            # wait out the lease. Few rows: the operations running right now.
            live = connection.execute(select(Operation).where(Operation.status.in_(UNFINISHED),
                                                              Operation.lease_expires_at >= now)).all()
        orphans = [row for row in live if lease_owner_gone(row.lease_owner)]
        return sorted((operation_record(row) for row in [*rows, *orphans]), key=lambda record: record.id)[:limit]

    def settleable(self, limit: int = 1000) -> list[OperationRecord]:
        """Every operation a `retry --all` looks at: unfinished, needing attention or stuck."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(Operation).where(Operation.status.in_(SETTLEABLE))
                                      .order_by(Operation.id).limit(limit)).all()
        return [operation_record(row) for row in rows]

    def audit_event(self, connection: Connection, *, now: datetime, actor: str, operation_id: int, event_ref: int,
                    action: str, before: Any, after: Any, message: str | None = None) -> None:
        self._audit(connection, now, actor, operation_id, event_ref, action, json_value(before), json_value(after),
                    message)

    @staticmethod
    def audit_events(connection: Connection, entries: Sequence[AuditedChange]) -> None:
        """audit_event for several entries, in one statement (executemany)."""
        if entries:
            connection.execute(_AUDIT, [
                {"at": entry.now, "actor": entry.actor, "operation_id": entry.operation_id,
                 "event_ref": entry.event_ref, "action": entry.action, "before": json_value(entry.before),
                 "after": json_value(entry.after), "message": entry.message} for entry in entries])

    def audit(self, *, now: datetime, actor: str, operation_id: int | None, action: str, message: str) -> None:
        with begin_write(self.engine) as connection:
            self._audit(connection, now, actor, operation_id, None, action, None, None, message)

    def list(self, status: str | None = None, limit: int = 200) -> list[OperationRecord]:
        query = select(Operation).order_by(Operation.id.desc()).limit(limit)
        if status:
            query = query.where(Operation.status == status)
        with self.engine.connect() as connection:
            return [operation_record(row) for row in connection.execute(query).all()]

    def release_keys(self, *, older_than: datetime, now: datetime, actor: str = "reconcile") -> int:
        """Release the idempotency keys of operations that finished (done, refused, compensated, resolved) at or before
        `older_than`: their records stay as they are, with `key_released_at` set, and their accounts may use the keys
        again. Keys of operations unfinished or needing attention stay bound. Returns how many were released."""
        with begin_write(self.engine) as connection:
            released = connection.execute(update(Operation).where(
                Operation.key_released_at.is_(None), Operation.finished_at <= older_than,
                Operation.status.in_(KEY_RELEASABLE)).values(key_released_at=now)).rowcount
            if released:
                self._audit(connection, now, actor, None, None, "keys released", None, None,
                            f"{released} idempotency key(s) of operations finished by {older_than:%Y-%m-%d %H:%M} "
                            "released (the operations are kept)")
        return released

    def done_undo_of(self, operation_id: int, excluding: int | None = None) -> OperationRecord | None:
        """An undo of `operation_id` that is done or running (other than the operation `excluding`)."""
        query = select(Operation).where(Operation.undo_of == operation_id, Operation.status.in_((DONE, *UNFINISHED)))
        if excluding is not None:
            query = query.where(Operation.id != excluding)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return operation_record(row) if row else None

    @staticmethod
    def _insert(connection: Connection, *, key: str, kind: str, actor: str, now: datetime, request: dict,
                events: builtins.list[dict], status: str, message: str | None, undo_of: int | None, finished: bool,
                fingerprint: str | None, lease_owner: str | None = None,
                lease_expires_at: datetime | None = None) -> OperationRecord:
        # builtins.list: in this class `list` names Journal.list. RETURNING the whole row: the record as written.
        row = connection.execute(_INSERT_OPERATION, dict(
            idempotency_key=key, kind=kind, requested_by=actor, requested_at=now, status=status, message=message,
            request=json_value(request), events=json_value(events), undo_of=undo_of, updated_at=now,
            finished_at=now if finished else None, lease_owner=lease_owner, lease_expires_at=lease_expires_at,
            request_fingerprint=fingerprint or request_fingerprint(kind, actor, request))).one()
        return operation_record(row)

    @staticmethod
    def _audit(connection: Connection, now: datetime, actor: str, operation_id: int | None, event_ref: int | None,
               action: str, before: Any, after: Any, message: str | None) -> None:
        connection.execute(_AUDIT, {"at": now, "actor": actor, "operation_id": operation_id, "event_ref": event_ref,
                                    "action": action, "before": before, "after": after, "message": message})


# --- the statements of an action's way, built once ------------------------------------------------------------------
# Each is a constant with bound parameters, not a statement built per call: SQLAlchemy derives a statement's cache key
# from its whole structure on every execution of a new object (a 14-column INSERT ... RETURNING cost about 0.8 ms of
# CPU to build and key, against 0.09 ms executed as a constant), and a paired reschedule executes some 25 of them.

_ROW = tuple(Operation.__table__.c)  # RETURNING the whole row: the record as written, without reading it again
_BY_KEY = select(Operation).where(Operation.requested_by == bindparam("actor"),
                                  Operation.idempotency_key == bindparam("key"), Operation.key_released_at.is_(None))
_INSERT_OPERATION = insert(Operation).returning(*_ROW)
# INSERT INTO the locks ... ON CONFLICT DO NOTHING RETURNING the refs taken, by dialect (both have it; SQLAlchemy
# spells it per dialect), for every lock at once (executemany: one INSERT of several rows).
_LOCK = {name: dialect.insert(PairLock).on_conflict_do_nothing(index_elements=[PairLock.event_ref])
         .returning(PairLock.event_ref) for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))}
_UNLOCK = delete(PairLock).where(PairLock.operation_id == bindparam("operation"))
_AUDIT = insert(AuditEntry)
# A step's call about to be made: the operation touched (and moved from pending to applying), with its lease renewed
# when the run holds one (no row: it does not, LeaseLost); the step numbered in the same INSERT.
_APPLYING = case((Operation.status == PENDING, APPLYING), else_=Operation.status)
_RENEW = update(Operation).where(Operation.id == bindparam("operation"), Operation.lease_owner == bindparam("owner")) \
    .values(updated_at=bindparam("now"), status=_APPLYING, lease_expires_at=bindparam("expires"))
_TOUCH = update(Operation).where(Operation.id == bindparam("operation")).values(updated_at=bindparam("now"),
                                                                                status=_APPLYING)
_INSERT_STEP = insert(OperationStep).values(seq=select(func.count() + 1).select_from(OperationStep).where(
    OperationStep.operation_id == bindparam("step_of")).scalar_subquery()).returning(OperationStep.id)
_STEP_RESULT = update(OperationStep).where(OperationStep.id == bindparam("step_id")).values(
    status=bindparam("step_status"), result=bindparam("step_result"), finished_at=bindparam("step_finished"))


def _finish_statement(held: bool, counting: bool) -> Any:
    """finish's UPDATE: only while `owner` holds the lease (`held`), and setting `attempts` (`counting`)."""
    where = [Operation.id == bindparam("operation")] + ([Operation.lease_owner == bindparam("owner")] if held else [])
    return update(Operation).where(*where).values(
        status=bindparam("to_status"), message=bindparam("to_message"), events=bindparam("to_events"),
        updated_at=bindparam("now"), finished_at=bindparam("now"), lease_owner=None, lease_expires_at=None,
        next_attempt_at=bindparam("next_attempt"), **({"attempts": bindparam("to_attempts")} if counting else {})
    ).returning(*_ROW)


_FINISH = {(held, counting): _finish_statement(held, counting) for held in (False, True) for counting in (False, True)}
