"""Read queries layer: SQL aggregates returned as small pandas DataFrames for the pages (never every row)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, String, case, cast, func, select

from services.event_rules import EVENT_TYPES, UNSTAFFED
from services.tables import DataVersion, Employee, Event, Schedule


@dataclass(frozen=True)
class DatabaseSummary:
    events: int
    schedules: int
    employees: int
    stores: int
    first_day: datetime | None
    last_day: datetime | None
    newest_sync: datetime | None
    data_version: int


def database_summary(engine: Engine) -> DatabaseSummary:
    """Headline counts for the landing page and `db status`."""
    with engine.connect() as connection:
        events = connection.execute(select(
            func.count(), func.count(func.distinct(func.coalesce(Event.location_mvid, cast(Event.store_number, String)))),
            func.min(Event.start_datetime), func.max(Event.due_datetime), func.max(Event.last_synced),
        )).one()
        schedules = connection.execute(select(func.count()).select_from(Schedule)).scalar_one()
        employees = connection.execute(select(func.count()).select_from(Employee)).scalar_one()
        version = connection.execute(select(DataVersion.version).where(DataVersion.id == 1)).scalar_one_or_none()
    return DatabaseSummary(events=events[0], stores=events[1], first_day=events[2], last_day=events[3],
                           newest_sync=events[4], schedules=schedules, employees=employees, data_version=version or 0)


def event_counts_by_type(engine: Engine) -> pd.DataFrame:
    """Events per type: total, scheduled, Unstaffed; one row per known type, in display order, zeros included."""
    query = (
        select(
            Event.event_type.label("event_type"),
            func.count().label("total"),
            func.sum(case((Event.is_scheduled.is_(True), 1), else_=0)).label("scheduled"),
            func.sum(case((Event.condition == UNSTAFFED, 1), else_=0)).label("unstaffed"),
        )
        .group_by(Event.event_type)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=["event_type", "total", "scheduled", "unstaffed"])
    order = list(EVENT_TYPES) + sorted(set(frame["event_type"].dropna()) - set(EVENT_TYPES))
    frame = frame.set_index("event_type").reindex(order, fill_value=0).reset_index()
    return frame.astype({"total": int, "scheduled": int, "unstaffed": int})
