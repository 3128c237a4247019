"""Journal layer: the operation records, their Crossmark steps, audit entries and per-event locks.

Each function is one short transaction (one boundary per saga step): what it records survives a crash right after.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Connection, Engine, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.tables import AuditEntry, Operation, OperationStep, PairLock

PENDING, APPLYING, DONE = "pending", "applying", "done"
REFUSED, COMPENSATED, NEEDS_ATTENTION, RESOLVED = "refused", "compensated", "needs_attention", "resolved"
STATUSES = (PENDING, APPLYING, DONE, REFUSED, COMPENSATED, NEEDS_ATTENTION, RESOLVED)
UNFINISHED = (PENDING, APPLYING)


def to_json(value: Any) -> str:
    return json.dumps(value, default=lambda item: item.isoformat() if isinstance(item, datetime) else str(item),
                      sort_keys=True)


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


def _record(row: Any) -> OperationRecord:
    return OperationRecord(id=row.id, idempotency_key=row.idempotency_key, kind=row.kind, requested_by=row.requested_by,
                           requested_at=row.requested_at, status=row.status, message=row.message,
                           request=json.loads(row.request or "{}"), events=json.loads(row.events or "[]"),
                           undo_of=row.undo_of, updated_at=row.updated_at, finished_at=row.finished_at)


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

    def find_by_key(self, key: str) -> OperationRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(Operation).where(Operation.idempotency_key == key)).first()
        return _record(row) if row else None

    def record_refused(self, *, key: str, kind: str, actor: str, now: datetime, request: dict, message: str,
                       undo_of: int | None = None) -> OperationRecord:
        """A refused action still leaves its record and an audit entry (nothing lost, DESIGN.md invariant 3)."""
        try:
            with self.engine.begin() as connection:
                operation_id = self._insert(connection, key=key, kind=kind, actor=actor, now=now, request=request,
                                            events=[], status=REFUSED, message=message, undo_of=undo_of, finished=True)
                self._audit(connection, now, actor, operation_id, None, f"{kind} refused", None, None, message)
        except IntegrityError:  # the same key raced in: the first one's record is the answer
            return self.find_by_key(key)  # type: ignore[return-value]
        return self.find(operation_id)  # type: ignore[return-value]

    def start(self, *, key: str, kind: str, actor: str, now: datetime, request: dict, events: list[dict],
              undo_of: int | None = None, also_lock: Sequence[int] = ()) -> OperationRecord:
        """Operation (pending) + locks on its events (and on `also_lock`: events it relies on but does not change)
        + audit entry, committed together before any Crossmark call.

        Raises IntegrityError when the key exists, LockConflict when an event is in another unfinished operation."""
        with self.engine.begin() as connection:
            operation_id = self._insert(connection, key=key, kind=kind, actor=actor, now=now, request=request,
                                        events=events, status=PENDING, message=None, undo_of=undo_of, finished=False)
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

    def done_undo_of(self, operation_id: int) -> OperationRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(Operation).where(Operation.undo_of == operation_id,
                                                             Operation.status.in_((DONE, *UNFINISHED)))).first()
        return _record(row) if row else None

    @staticmethod
    def _insert(connection: Connection, *, key: str, kind: str, actor: str, now: datetime, request: dict,
                events: list[dict], status: str, message: str | None, undo_of: int | None, finished: bool) -> int:
        result = connection.execute(insert(Operation).values(
            idempotency_key=key, kind=kind, requested_by=actor, requested_at=now, status=status, message=message,
            request=to_json(request), events=to_json(events), undo_of=undo_of, updated_at=now,
            finished_at=now if finished else None))
        return result.inserted_primary_key[0]

    @staticmethod
    def _audit(connection: Connection, now: datetime, actor: str, operation_id: int | None, event_ref: int | None,
               action: str, before: str | None, after: str | None, message: str | None) -> None:
        connection.execute(insert(AuditEntry).values(at=now, actor=actor, operation_id=operation_id, event_ref=event_ref,
                                                     action=action, before=before, after=after, message=message))


def as_dict(record: OperationRecord) -> dict:
    return asdict(record)
