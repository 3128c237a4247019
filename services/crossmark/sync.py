"""Sync layer: pull Crossmark's planning list for a date range and upsert events, schedules and employees by their
Crossmark ids — never delete-and-reload.

One transaction per run: every page is fetched first, then everything is applied in one transaction, so a bad reply
or a dropped connection leaves the database exactly as it was, and running it twice changes nothing the second time.
Events that Crossmark no longer lists in the range are marked `sync_status = 'missing'` (never deleted) and reported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable

from sqlalchemy import Connection, Engine, delete, insert, select, update

from services.crossmark.client import CrossmarkClient, PlanningEvent
from services.store.data_version import bump_data_version
from services.errors import InvalidInput
from services.domain.event_rules import classify_event_type, default_duration_minutes, is_scheduled_condition
from services.store.tables import AuditEntry, Employee, Event, PairLock, Schedule

MAX_RANGE_DAYS = 366
_CHUNK = 500
SYNCED, MISSING = "synced", "missing"


@dataclass
class SyncReport:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    schedules_added: int = 0
    schedules_changed: int = 0
    schedules_removed: int = 0
    employees_added: int = 0
    skipped: list[str] = field(default_factory=list)  # records we could not use, with the reason
    missing_refs: list[int] = field(default_factory=list)
    dry_run: bool = False


def _store_number(store_name: str | None) -> int | None:
    match = re.search(r"#\s*(\d+)", store_name or "")
    return int(match.group(1)) if match else None


def _event_fields(record: PlanningEvent) -> dict[str, object]:
    event_type = classify_event_type(record.name)
    assert record.start_date is not None and record.end_date is not None  # _apply keeps only records with both
    return {
        "project_name": record.name,
        "location_mvid": record.store_id,
        "store_name": record.store_name,
        "start_datetime": datetime.combine(record.start_date, time.min),
        "due_datetime": datetime.combine(record.end_date, time(23, 59)),
        "event_type": event_type,
        "condition": record.condition,
        "is_scheduled": is_scheduled_condition(record.condition) and record.scheduled_at is not None,
        "sales_tools_url": record.sales_tools_url,
    }


def sync_from_crossmark(engine: Engine, client: CrossmarkClient, first: date, last: date, *, dry_run: bool = False,
                        now: datetime | None = None,
                        on_fetch: Callable[[int, int], None] | None = None, page_size: int = 200) -> SyncReport:
    """Upsert first..last from Crossmark; `dry_run` computes the same report and rolls everything back."""
    if last < first:
        raise InvalidInput(f"The range ends ({last}) before it starts ({first}).")
    if (last - first).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"Sync at most {MAX_RANGE_DAYS} days at a time ({first}..{last} is {(last - first).days}).")
    # `now` is also when the read began: an action that changed an event since then wins over what we read.
    now = (now or datetime.now()).replace(microsecond=0)
    records = client.planning_events(first, last, on_page=on_fetch, page_size=page_size)  # all network I/O before the transaction
    report = SyncReport(fetched=len(records), dry_run=dry_run)

    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            _apply(connection, records, first, last, now, report)
            if dry_run:
                transaction.rollback()
            else:
                bump_data_version(connection)
                transaction.commit()
        except BaseException:
            transaction.rollback()
            raise
    return report


def _apply(connection: Connection, records: list[PlanningEvent], first: date, last: date, now: datetime,
           report: SyncReport) -> None:
    usable: dict[str, PlanningEvent] = {}
    for record in records:
        if not record.mplan_id or not record.name or record.start_date is None or record.end_date is None:
            report.skipped.append(f"mPlan {record.mplan_id or '?'}: missing id, name or dates")
            continue
        usable[record.mplan_id] = record

    existing: dict[str, dict] = {}
    ids = list(usable)
    for start in range(0, len(ids), _CHUNK):
        query = select(Event).where(Event.external_id.in_(ids[start:start + _CHUNK]))
        if connection.dialect.name == "postgresql":
            # Held until we commit: a paired action's local commit (which locks the same rows) waits for us, or has
            # committed already and is seen below. On SQLite the write lock does the same.
            query = query.with_for_update()
        for found in connection.execute(query).mappings():
            existing[found["external_id"]] = dict(found)
    acted_on = _acted_on_since(connection, [row["project_ref_num"] for row in existing.values()], now)
    employees = _employees_by_rep(connection, usable.values(), now, report)

    for mplan_id, record in usable.items():
        fields = _event_fields(record)
        row = existing.get(mplan_id)
        if row is not None and row["project_ref_num"] in acted_on:
            # What we read may be older than what a paired action did since (or is doing now): writing it would undo
            # the action in our database while Crossmark keeps it (invariants 1 and 7). The next sync takes it.
            report.skipped.append(f"event {row['project_ref_num']}: a paired action changed it while the sync was "
                                  "reading; left as it is")
            continue
        if row is None:
            ref = _new_ref(connection, mplan_id)
            connection.execute(insert(Event).values(
                project_ref_num=ref, external_id=mplan_id, store_number=_store_number(record.store_name),
                estimated_time=default_duration_minutes(str(fields["event_type"])), last_synced=now,
                sync_status=SYNCED, **fields))
            report.new += 1
        else:
            ref = row["project_ref_num"]
            changed = {name: value for name, value in fields.items() if row.get(name) != value}
            if row.get("sync_status") != SYNCED:
                changed["sync_status"] = SYNCED
            connection.execute(update(Event).where(Event.id == row["id"]).values(last_synced=now, **changed))
            if changed:
                report.updated += 1
            else:
                report.unchanged += 1
        _sync_schedule(connection, ref, record, employees, now, report)

    _mark_missing(connection, set(usable), first, last, now, report)


def _acted_on_since(connection: Connection, refs: list[int], since: datetime) -> set[int]:
    """Events a paired action holds now (a lock) or changed since `since` (an audit entry naming the event)."""
    acted: set[int] = set()
    for start in range(0, len(refs), _CHUNK):
        chunk = refs[start:start + _CHUNK]
        acted.update(connection.execute(select(PairLock.event_ref).where(PairLock.event_ref.in_(chunk))).scalars())
        audited = connection.execute(select(AuditEntry.event_ref).distinct().where(
            AuditEntry.event_ref.in_(chunk), AuditEntry.at >= since)).scalars()
        acted.update(ref for ref in audited if ref is not None)  # IN matches no NULL: the test narrows the type
    return acted


def _new_ref(connection: Connection, mplan_id: str) -> int:
    """project_ref_num for an event new to us: its numeric mPlanID, or the next free number if that is taken."""
    if mplan_id.isdigit():
        taken = connection.execute(select(Event.id).where(Event.project_ref_num == int(mplan_id))).first()
        if taken is None:
            return int(mplan_id)
    highest = connection.execute(select(Event.project_ref_num).order_by(Event.project_ref_num.desc()).limit(1)).scalar()
    return (highest or 0) + 1


def _employees_by_rep(connection: Connection, records, now: datetime, report: SyncReport) -> dict[str, str]:  # noqa: ANN001
    """RepID -> employees.id, adding employees Crossmark knows and we do not (by RepID, never by name)."""
    reps = {record.rep_id: (record.staffed_reps[0] if record.staffed_reps else f"Rep {record.rep_id}")
            for record in records if record.rep_id}
    known: dict[str, str] = {}
    if reps:
        rows = connection.execute(select(Employee.external_id, Employee.id).where(Employee.external_id.in_(list(reps))))
        # IN matches no NULL: `if rep_id is not None` only narrows the nullable column's type.
        known = {rep_id: employee_id for rep_id, employee_id in rows if rep_id is not None}
    for rep_id, name in reps.items():
        if rep_id in known:
            continue
        employee_id = f"CM{rep_id}"
        connection.execute(insert(Employee).values(id=employee_id, name=name, external_id=rep_id, is_active=True,
                                                   is_supervisor=False, created_at=now))
        known[rep_id] = employee_id
        report.employees_added += 1
    return known


def _sync_schedule(connection: Connection, ref: int, record: PlanningEvent, employees: dict[str, str],
                   now: datetime, report: SyncReport) -> None:
    current = connection.execute(select(Schedule).where(Schedule.event_ref_num == ref)).mappings().all()
    scheduled = record.scheduled_at is not None and is_scheduled_condition(record.condition)
    if not scheduled:
        if current:
            connection.execute(delete(Schedule).where(Schedule.event_ref_num == ref))
            report.schedules_removed += len(current)
        return
    employee_id = employees.get(record.rep_id or "")
    if employee_id is None:
        report.skipped.append(f"mPlan {record.mplan_id}: scheduled without a RepID; schedule not recorded")
        return
    values = {"employee_id": employee_id, "schedule_datetime": record.scheduled_at,
              "external_id": record.scheduled_event_id}
    if not current:
        connection.execute(insert(Schedule).values(event_ref_num=ref, last_synced=now, sync_status=SYNCED, **values))
        report.schedules_added += 1
        return
    keep, *extra = current
    if extra:  # one event has one schedule in Crossmark; duplicates here were drift
        connection.execute(delete(Schedule).where(Schedule.id.in_([row["id"] for row in extra])))
        report.schedules_removed += len(extra)
    if any(keep[name] != value for name, value in values.items()):
        report.schedules_changed += 1
    connection.execute(update(Schedule).where(Schedule.id == keep["id"])
                       .values(last_synced=now, sync_status=SYNCED, **values))


def _mark_missing(connection: Connection, seen: set[str], first: date, last: date, now: datetime,
                  report: SyncReport) -> None:
    window_start, window_end = datetime.combine(first, time.min), datetime.combine(last + timedelta(days=1), time.min)
    candidates = connection.execute(
        select(Event.id, Event.project_ref_num, Event.external_id, Event.sync_status)
        .where(Event.external_id.is_not(None), Event.start_datetime < window_end, Event.due_datetime >= window_start)
    ).all()
    gone = [(row.id, row.project_ref_num) for row in candidates if row.external_id not in seen]
    for start in range(0, len(gone), _CHUNK):
        chunk = gone[start:start + _CHUNK]
        connection.execute(update(Event).where(Event.id.in_([event_id for event_id, _ in chunk]))
                           .values(sync_status=MISSING, last_synced=now))
    report.missing = len(gone)
    report.missing_refs = sorted(ref for _, ref in gone)
