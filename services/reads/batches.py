"""Batches as the Operations and Bulk actions pages list them: each batch with its items' outcomes counted in SQL, one
batch's items with the operation that ran each, and which batch an operation of the journal belongs to."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

import pandas as pd
from sqlalchemy import ColumnElement, Engine, case, func, select

from services.actions.journal import COMPENSATED, DONE, NEEDS_ATTENTION, REFUSED, STUCK
from services.reads.read_queries import rows_frame
from services.store.tables import Batch, BatchItemRow, Employee, Event, Operation

BATCHES_LISTING_LIMIT = 50  # the newest batches on the Operations page; each opens to its items
BATCH_COLUMNS = ["batch", "requested_at", "kind", "status", "by", "message", "finished_at", "items", "done", "refused",
                 "compensated", "needs_attention", "not_run"]
ITEM_COLUMNS = ["item", "kind", "event", "event_name", "store_number", "store_name", "item_json", "operation",
                "status", "message", "finished_at"]


def _counted(status: str) -> ColumnElement[int]:
    """How many of a batch's items ended as `status` (by their operation's status)."""
    return func.coalesce(func.sum(case((Operation.status == status, 1), else_=0)), 0)


def batches_frame(engine: Engine, *, actor: str | None = None, since: date | None = None,
                  batch_id: int | None = None, limit: int = BATCHES_LISTING_LIMIT) -> pd.DataFrame:
    """The newest batches (or the one asked for), each with how many items it has and how they ended (by their
    operations: done, refused, rolled back, needing attention or stuck, not run yet)."""
    counts = (select(BatchItemRow.batch_id, func.count().label("items"), _counted(DONE).label("done"),
                     _counted(REFUSED).label("refused"), _counted(COMPENSATED).label("compensated"),
                     func.coalesce(func.sum(case((Operation.status.in_((NEEDS_ATTENTION, STUCK)), 1), else_=0)),
                                   0).label("needs_attention"),
                     func.coalesce(func.sum(case((BatchItemRow.operation_id.is_(None), 1), else_=0)),
                                   0).label("not_run"))
              .outerjoin(Operation, Operation.id == BatchItemRow.operation_id)
              .group_by(BatchItemRow.batch_id).subquery())
    query = (select(Batch.id, Batch.requested_at, Batch.kind, Batch.status, Batch.requested_by, Batch.message,
                    Batch.finished_at, *(func.coalesce(counts.c[name], 0) for name in BATCH_COLUMNS[7:]))
             .outerjoin(counts, counts.c.batch_id == Batch.id).order_by(Batch.id.desc()).limit(limit))
    if actor:
        query = query.where(Batch.requested_by == actor)
    if since:
        query = query.where(Batch.requested_at >= datetime.combine(since, time.min))
    if batch_id is not None:
        query = query.where(Batch.id == batch_id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = rows_frame(rows, BATCH_COLUMNS)
    return frame.astype({name: "int64" for name in BATCH_COLUMNS[7:]}) if not frame.empty else frame


def batch_items_frame(engine: Engine, batch_id: int) -> pd.DataFrame:
    """One batch's items in order: what each was planned to do (`item_json`, services.actions.batches.BatchItem), its
    event, and the operation that ran it with its status and message (none yet: not run)."""
    query = (select(BatchItemRow.item_index, BatchItemRow.kind, BatchItemRow.event_ref, Event.project_name,
                    Event.store_number, Event.store_name, BatchItemRow.item, BatchItemRow.operation_id,
                    Operation.status, Operation.message, Operation.finished_at)
             .outerjoin(Event, Event.project_ref_num == BatchItemRow.event_ref)
             .outerjoin(Operation, Operation.id == BatchItemRow.operation_id)
             .where(BatchItemRow.batch_id == batch_id).order_by(BatchItemRow.item_index))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return rows_frame(rows, ITEM_COLUMNS)


def operation_batches(engine: Engine, operation_ids: Iterable[int]) -> dict[int, int]:
    """Operation id -> the batch it ran an item of, for the operations given that did."""
    wanted = sorted({int(operation_id) for operation_id in operation_ids})
    if not wanted:
        return {}
    with engine.connect() as connection:
        rows = connection.execute(select(BatchItemRow.operation_id, BatchItemRow.batch_id)
                                  .where(BatchItemRow.operation_id.in_(wanted))).all()
    return {int(operation_id): int(batch_id) for operation_id, batch_id in rows if operation_id is not None}


def reps(engine: Engine) -> pd.DataFrame:
    """Everyone a batch can name (the rep who is out, the rep who takes over): id, name, job title, active; active
    first, then by name."""
    query = (select(Employee.id, Employee.name, Employee.job_title, Employee.is_active)
             .order_by(case((Employee.is_active.is_(False), 1), else_=0), Employee.name, Employee.id))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return rows_frame(rows, ["id", "name", "job_title", "active"])
