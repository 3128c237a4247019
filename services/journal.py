"""Journal layer: the operation records, their Crossmark steps, audit entries and per-event locks.

Each function is one short transaction (one boundary per saga step): what it records survives a crash right after.

Idempotency keys belong to the acting account and to their request. An operation stores its key with a fingerprint of
the request (`request_fingerprint`: kind, canonical account name, arguments); the same key from the same account
answers with that operation only for the same request, and another account's same key is another key (a unique index
on account + key). Keys live for KEY_RETENTION after their operation finished: then `reconcile` releases them
(`release_keys`), which sets `key_released_at` and keeps the record, key text included (nothing is lost); the account
may then use the key for a new request. Operations recorded before keys had fingerprints (migration 0010) have none
stored; theirs is derived from the kind, account and request they recorded, the same canonical form.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from sqlalchemy import Connection, Engine, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.tables import AuditEntry, Operation, OperationStep, PairLock

PENDING, APPLYING, DONE = "pending", "applying", "done"
REFUSED, COMPENSATED, NEEDS_ATTENTION, RESOLVED = "refused", "compensated", "needs_attention", "resolved"
STATUSES = (PENDING, APPLYING, DONE, REFUSED, COMPENSATED, NEEDS_ATTENTION, RESOLVED)
UNFINISHED = (PENDING, APPLYING)
# A retry with the same key comes within minutes or hours (a double click, a rerun, a cron job's next attempt); a week
# covers a long weekend's backlog. Keys of operations still needing attention are kept however old they are.
KEY_RETENTION = timedelta(days=7)
KEY_RELEASABLE = (DONE, REFUSED, COMPENSATED, RESOLVED)
# What the planner adds to a request after it was asked: not part of what was asked, so not of its fingerprint.
_DERIVED_REQUEST_FIELDS = ("warnings", "guards")


def _plain(item: Any) -> str:
    return item.isoformat() if isinstance(item, datetime) else str(item)


def to_json(value: Any) -> str:
    return json.dumps(value, default=_plain, sort_keys=True)


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

    @property
    def fingerprint(self) -> str:
        """The stored fingerprint, or for an operation recorded before there were any, the one derived from what it
        recorded (its request JSON still holds the arguments it was asked with)."""
        return self.request_fingerprint or request_fingerprint(self.kind, self.requested_by, self.request)


def _record(row: Any) -> OperationRecord:
    return OperationRecord(id=row.id, idempotency_key=row.idempotency_key, kind=row.kind, requested_by=row.requested_by,
                           requested_at=row.requested_at, status=row.status, message=row.message,
                           request=json.loads(row.request or "{}"), events=json.loads(row.events or "[]"),
                           undo_of=row.undo_of, updated_at=row.updated_at, finished_at=row.finished_at,
                           request_fingerprint=row.request_fingerprint, key_released_at=row.key_released_at)


class LockConflict(Exception):
    def __init__(self, event_ref: int, operation_id: int | None) -> None:
        super().__init__(event_ref, operation_id)
        self.event_ref, self.operation_id = event_ref, operation_id


class Journal:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def find(self, operation_id: int) -> OperationRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(Operation).where(Operation.id == operation_id)).first()
        return _record(row) if row else None

    def find_by_key(self, actor: str, key: str) -> OperationRecord | None:
        """The operation `actor`'s key `key` is bound to (a released key is bound to nothing)."""
        with self.engine.connect() as connection:
            row = connection.execute(select(Operation).where(
                Operation.requested_by == actor, Operation.idempotency_key == key,
                Operation.key_released_at.is_(None))).first()
        return _record(row) if row else None

    def record_refused(self, *, key: str, kind: str, actor: str, now: datetime, request: dict, message: str,
                       undo_of: int | None = None, fingerprint: str | None = None) -> OperationRecord:
        """A refused action still leaves its record and an audit entry (nothing lost, DESIGN.md invariant 3).

        If the account's key raced in meanwhile, nothing is written and the record holding the key is returned: the
        caller compares its fingerprint, since the racer may have asked for something else."""
        try:
            with self.engine.begin() as connection:
                operation_id = self._insert(connection, key=key, kind=kind, actor=actor, now=now, request=request,
                                            events=[], status=REFUSED, message=message, undo_of=undo_of, finished=True,
                                            fingerprint=fingerprint)
                self._audit(connection, now, actor, operation_id, None, f"{kind} refused", None, None, message)
        except IntegrityError:
            raced = self.find_by_key(actor, key)
            if raced is None:
                raise
            return raced
        return self.find(operation_id)  # type: ignore[return-value]

    def start(self, *, key: str, kind: str, actor: str, now: datetime, request: dict, events: list[dict],
              undo_of: int | None = None, also_lock: Sequence[int] = (), fingerprint: str | None = None,
              reserve: Callable[[Connection], None] | None = None) -> OperationRecord:
        """Operation (pending) + locks on its events (and on `also_lock`: events it relies on but does not change)
        + audit entry, committed together before any Crossmark call.

        `reserve` runs first in the same write transaction (the rate limit: it counts the account's recent requests
        and raises at the limit), so that counting and recording this one cannot be split by a concurrent request.
        Raises IntegrityError when the account's key exists, LockConflict when an event is in another unfinished
        operation, and what `reserve` raises."""
        with self.engine.begin() as connection:
            if reserve is not None:
                reserve(connection)
            operation_id = self._insert(connection, key=key, kind=kind, actor=actor, now=now, request=request,
                                        events=events, status=PENDING, message=None, undo_of=undo_of, finished=False,
                                        fingerprint=fingerprint)
            for ref in [event["ref"] for event in events] + [ref for ref in also_lock]:
                holder = connection.execute(select(PairLock.operation_id)
                                            .where(PairLock.event_ref == ref)).scalar_one_or_none()
                if holder is not None:
                    raise LockConflict(ref, holder)
                try:
                    # A savepoint: another operation may insert the same lock between our look and our insert
                    # (PostgreSQL then fails ours once theirs commits); that is a conflict, not a crash.
                    with connection.begin_nested():
                        connection.execute(insert(PairLock).values(event_ref=ref, operation_id=operation_id,
                                                                   locked_at=now))
                except IntegrityError:
                    holder = connection.execute(select(PairLock.operation_id)
                                                .where(PairLock.event_ref == ref)).scalar_one_or_none()
                    raise LockConflict(ref, holder) from None
            self._audit(connection, now, actor, operation_id, None, f"{kind} requested", None, None, to_json(request))
        return self.find(operation_id)  # type: ignore[return-value]

    def add_step(self, operation_id: int, *, event_ref: int, role: str, action: str, purpose: str, request: dict,
                 now: datetime) -> int:
        with self.engine.begin() as connection:
            seq = connection.execute(select(func.count()).select_from(OperationStep)
                                     .where(OperationStep.operation_id == operation_id)).scalar_one() + 1
            result = connection.execute(insert(OperationStep).values(
                operation_id=operation_id, seq=seq, event_ref=event_ref, role=role, action=action, purpose=purpose,
                request=to_json(request), status="sent", created_at=now))
            # The first Crossmark call moves the operation from pending to applying, in the same commit.
            connection.execute(update(Operation).where(Operation.id == operation_id).values(
                updated_at=now, status=case((Operation.status == PENDING, APPLYING), else_=Operation.status)))
            return result.inserted_primary_key[0]

    def finish_step(self, step_id: int, status: str, result: dict, now: datetime) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(OperationStep).where(OperationStep.id == step_id)
                               .values(status=status, result=to_json(result), finished_at=now))

    def steps(self, operation_id: int) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(OperationStep).where(OperationStep.operation_id == operation_id)
                                      .order_by(OperationStep.seq)).mappings().all()
        return [dict(row) for row in rows]

    def finish(self, connection: Connection, operation_id: int, *, status: str, message: str, events: list[dict],
               actor: str, now: datetime, release_locks: bool = True) -> None:
        """Final status, inside the caller's transaction (which also holds the local change, if any)."""
        connection.execute(update(Operation).where(Operation.id == operation_id).values(
            status=status, message=message, events=to_json(events), updated_at=now, finished_at=now))
        if release_locks:
            connection.execute(delete(PairLock).where(PairLock.operation_id == operation_id))
        self._audit(connection, now, actor, operation_id, None, status, None, None, message)

    def audit_event(self, connection: Connection, *, now: datetime, actor: str, operation_id: int, event_ref: int,
                    action: str, before: Any, after: Any, message: str | None = None) -> None:
        self._audit(connection, now, actor, operation_id, event_ref, action, to_json(before), to_json(after), message)

    def audit(self, *, now: datetime, actor: str, operation_id: int | None, action: str, message: str) -> None:
        with self.engine.begin() as connection:
            self._audit(connection, now, actor, operation_id, None, action, None, None, message)

    def unfinished(self, older_than: datetime) -> list[OperationRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(Operation).where(Operation.status.in_(UNFINISHED),
                                                              Operation.updated_at <= older_than)
                                      .order_by(Operation.id)).all()
        return [_record(row) for row in rows]

    def list(self, status: str | None = None, limit: int = 200) -> list[OperationRecord]:
        query = select(Operation).order_by(Operation.id.desc()).limit(limit)
        if status:
            query = query.where(Operation.status == status)
        with self.engine.connect() as connection:
            return [_record(row) for row in connection.execute(query).all()]

    def release_keys(self, *, older_than: datetime, now: datetime, actor: str = "reconcile") -> int:
        """Release the idempotency keys of operations that finished (done, refused, compensated, resolved) at or before
        `older_than`: their records stay as they are, with `key_released_at` set, and their accounts may use the keys
        again. Keys of operations unfinished or needing attention stay bound. Returns how many were released."""
        with self.engine.begin() as connection:
            released = connection.execute(update(Operation).where(
                Operation.key_released_at.is_(None), Operation.finished_at <= older_than,
                Operation.status.in_(KEY_RELEASABLE)).values(key_released_at=now)).rowcount
            if released:
                self._audit(connection, now, actor, None, None, "keys released", None, None,
                            f"{released} idempotency key(s) of operations finished by {older_than:%Y-%m-%d %H:%M} "
                            "released (the operations are kept)")
        return released

    def done_undo_of(self, operation_id: int) -> OperationRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(Operation).where(Operation.undo_of == operation_id,
                                                             Operation.status.in_((DONE, *UNFINISHED)))).first()
        return _record(row) if row else None

    @staticmethod
    def _insert(connection: Connection, *, key: str, kind: str, actor: str, now: datetime, request: dict,
                events: list[dict], status: str, message: str | None, undo_of: int | None, finished: bool,
                fingerprint: str | None) -> int:
        result = connection.execute(insert(Operation).values(
            idempotency_key=key, kind=kind, requested_by=actor, requested_at=now, status=status, message=message,
            request=to_json(request), events=to_json(events), undo_of=undo_of, updated_at=now,
            finished_at=now if finished else None,
            request_fingerprint=fingerprint or request_fingerprint(kind, actor, request)))
        return result.inserted_primary_key[0]

    @staticmethod
    def _audit(connection: Connection, now: datetime, actor: str, operation_id: int | None, event_ref: int | None,
               action: str, before: str | None, after: str | None, message: str | None) -> None:
        connection.execute(insert(AuditEntry).values(at=now, actor=actor, operation_id=operation_id, event_ref=event_ref,
                                                     action=action, before=before, after=after, message=message))


def as_dict(record: OperationRecord) -> dict:
    return asdict(record)
