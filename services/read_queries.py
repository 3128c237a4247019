"""Read queries layer: SQL aggregates returned as small pandas DataFrames for the pages (never every row)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import Engine, String, case, cast, func, select

from services.errors import InvalidInput
from services.event_rules import CORE, EVENT_TYPES, JUICER, OTHER, UNSTAFFED
from services.pairing import supervisors_for_cores
from services.tables import DataVersion, Employee, Event, Schedule, ScheduledPerDay


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


# --- Shared filters and helpers -----------------------------------------------------------------------------------


def store_key_column():  # noqa: ANN201 - a SQL expression
    """The store an event belongs to, in SQL: its location id, else its store number (event_rules.store_key)."""
    return func.coalesce(Event.location_mvid, cast(Event.store_number, String))


@dataclass(frozen=True)
class EventFilter:
    """What the pages let people narrow by: event types (None = all) and one store key (see `stores()`)."""

    event_types: tuple[str, ...] | None = None
    store: str | None = None

    def clauses(self) -> list:
        clauses = []
        if self.event_types is not None:
            clauses.append(Event.event_type.in_(self.event_types))
        if self.store:
            clauses.append(store_key_column() == self.store)
        return clauses

    def aggregate_clauses(self) -> list:
        """The same filter on the pre-aggregated ScheduledPerDay table."""
        clauses = []
        if self.event_types is not None:
            clauses.append(ScheduledPerDay.event_type.in_(self.event_types))
        if self.store:
            clauses.append(ScheduledPerDay.store == self.store)
        return clauses


def data_version(engine: Engine) -> int:
    """The stamp every write bumps; cached reads are keyed by it so any process's change shows at the next rerun."""
    with engine.connect() as connection:
        return connection.execute(select(DataVersion.version).where(DataVersion.id == 1)).scalar_one_or_none() or 0


def _as_date(value) -> date:  # noqa: ANN001 - SQLite returns 'YYYY-MM-DD' text, PostgreSQL a date
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def stores(engine: Engine) -> pd.DataFrame:
    """Every store with events: key (location id, else store number), number and name, for the store filters."""
    key = store_key_column()
    query = (select(key.label("store"), func.max(Event.store_number).label("store_number"),
                    func.max(Event.store_name).label("store_name"))
             .group_by(key).order_by(func.max(Event.store_number)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=["store", "store_number", "store_name"])


# --- Scheduled and Unstaffed counts per day and type (Calendar, Overview, Event type counts) -----------------------


def scheduled_per_day(engine: Engine, first_day: date, last_day: date, where: EventFilter = EventFilter()) -> pd.DataFrame:
    """Scheduled events per schedule date and type, first_day..last_day inclusive: columns day, event_type, count.

    Read from the trigger-maintained ScheduledPerDay (a few hundred rows a month) instead of joining every schedule
    of the month to its event; tests check both ways agree."""
    query = (
        select(ScheduledPerDay.day, ScheduledPerDay.event_type, func.sum(ScheduledPerDay.scheduled).label("count"))
        .where(ScheduledPerDay.day >= first_day, ScheduledPerDay.day <= last_day, *where.aggregate_clauses())
        .group_by(ScheduledPerDay.day, ScheduledPerDay.event_type)
        .having(func.sum(ScheduledPerDay.scheduled) != 0)
    )
    return _day_frame(engine, query)


def unstaffed_due_per_day(engine: Engine, first_day: date, last_day: date, where: EventFilter = EventFilter()) -> pd.DataFrame:
    """Unstaffed events per due date and type, first_day..last_day inclusive: columns day, event_type, count."""
    day = func.date(Event.due_datetime)
    query = (
        select(day.label("day"), Event.event_type, func.count().label("count"))
        .where(Event.condition == UNSTAFFED,
               Event.due_datetime >= _day_start(first_day),
               Event.due_datetime < _day_start(last_day + timedelta(days=1)),
               *where.clauses())
        .group_by(day, Event.event_type)
    )
    return _day_frame(engine, query)


def _day_frame(engine: Engine, query) -> pd.DataFrame:  # noqa: ANN001
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=["day", "event_type", "count"])
    frame["day"] = [_as_date(value) for value in frame["day"]]
    frame["event_type"] = frame["event_type"].fillna(OTHER)
    return frame.astype({"count": int})


def month_calendar(engine: Engine, month: date, where: EventFilter = EventFilter()) -> pd.DataFrame:
    """One row per day of the month: scheduled count per type, total, and Unstaffed events due that day."""
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    days = pd.Index([first + timedelta(days=offset) for offset in range((last - first).days + 1)], name="day")
    scheduled = scheduled_per_day(engine, first, last, where)
    table = (scheduled.pivot_table(index="day", columns="event_type", values="count", aggfunc="sum")
             .reindex(index=days, columns=list(EVENT_TYPES)).fillna(0).astype(int))
    table["total"] = table[list(EVENT_TYPES)].sum(axis=1)
    unstaffed = unstaffed_due_per_day(engine, first, last, where).groupby("day")["count"].sum()
    table["unstaffed_due"] = unstaffed.reindex(days).fillna(0).astype(int)
    return table.reset_index()


def type_counts(engine: Engine, first_day: date, last_day: date, period: str,
                where: EventFilter = EventFilter()) -> pd.DataFrame:
    """Scheduled (by schedule date) and Unstaffed (by due date) per type per day, week (Mon) or month, long form."""
    if period not in PERIODS:
        raise InvalidInput(f"The period must be one of {', '.join(PERIODS)}, not {period!r}.")
    if last_day < first_day:
        raise InvalidInput(f"The range ends ({last_day}) before it starts ({first_day}).")
    frames = []
    for state, frame in (("Scheduled", scheduled_per_day(engine, first_day, last_day, where)),
                         ("Unstaffed", unstaffed_due_per_day(engine, first_day, last_day, where))):
        frames.append(frame.assign(state=state))
    counts = pd.concat(frames, ignore_index=True)
    counts["period"] = [_period_start(day, period) for day in counts["day"]]
    counts = counts.groupby(["period", "event_type", "state"], as_index=False)["count"].sum()
    counts["event_type"] = pd.Categorical(counts["event_type"], categories=list(EVENT_TYPES), ordered=True)
    return counts.sort_values(["period", "event_type", "state"]).reset_index(drop=True)


PERIODS = ("day", "week", "month")


def _period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


# --- Unscheduled (Unstaffed) events by urgency ----------------------------------------------------------------------

URGENCY_BUCKETS = ("Past due", "Due today", "Due tomorrow", "Due within 3 days", "Later")


def _bucket_edges(now: datetime) -> list[datetime]:
    """Upper edges of the first four buckets: now, end of today, end of tomorrow, end of the day after tomorrow."""
    today = _day_start(now.date())
    return [now, today + timedelta(days=1), today + timedelta(days=2), today + timedelta(days=3)]


def _urgency_case(now: datetime):  # noqa: ANN202
    edges = _bucket_edges(now)
    return case(*((Event.due_datetime < edge, label) for edge, label in zip(edges, URGENCY_BUCKETS)),
                else_=URGENCY_BUCKETS[-1])


def unscheduled_buckets(engine: Engine, now: datetime, where: EventFilter = EventFilter()) -> pd.DataFrame:
    """Unstaffed events per urgency bucket and type (all five buckets, zeros included): bucket, event_type, count."""
    bucket = _urgency_case(now)
    query = (select(bucket.label("bucket"), Event.event_type, func.count().label("count"))
             .where(Event.condition == UNSTAFFED, *where.clauses())
             .group_by(bucket, Event.event_type))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = pd.DataFrame(rows, columns=["bucket", "event_type", "count"]).astype({"count": int})
    frame["event_type"] = frame["event_type"].fillna(OTHER)
    return frame


def unscheduled_bucket_totals(buckets: pd.DataFrame) -> pd.Series:
    """Totals per bucket, in urgency order, zeros included; the Overview tiles and the Unscheduled page share it."""
    return buckets.groupby("bucket")["count"].sum().reindex(list(URGENCY_BUCKETS), fill_value=0).astype(int)


def unscheduled_events(engine: Engine, now: datetime, bucket: str | None = None, where: EventFilter = EventFilter(),
                       limit: int = 500) -> pd.DataFrame:
    """The Unstaffed events themselves (most urgent first, at most `limit`), with their bucket, for the listing."""
    if bucket is not None and bucket not in URGENCY_BUCKETS:
        raise InvalidInput(f"Unknown urgency {bucket!r}; choose one of: {', '.join(URGENCY_BUCKETS)}.")
    urgency = _urgency_case(now)
    query = (select(urgency.label("bucket"), Event.project_ref_num.label("ref"), Event.project_name.label("name"),
                    Event.event_type, Event.store_number, Event.store_name, Event.start_datetime, Event.due_datetime)
             .where(Event.condition == UNSTAFFED, *where.clauses())
             .order_by(Event.due_datetime, Event.project_ref_num).limit(limit))
    if bucket is not None:
        query = query.where(urgency == bucket)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=["bucket", "ref", "name", "event_type", "store_number", "store_name",
                                       "start_datetime", "due_datetime"])


# --- One day (Day view) ---------------------------------------------------------------------------------------------

LEAD_TITLES = ("Lead Event Specialist", "Club Supervisor")


@dataclass(frozen=True)
class DayView:
    day: date
    scheduled: pd.DataFrame  # one row per scheduled event that day, with the CORE's Supervisor state
    unstaffed_due: pd.DataFrame  # Unstaffed events due that day
    leads_on_duty: list[str]
    juicer_reps: list[str]


DAY_COLUMNS = ["ref", "name", "event_type", "condition", "store_number", "store_name", "location_mvid",
               "scheduled_at", "rep_name", "rep_title", "schedule_id", "crossmark_schedule_id"]
SUPERVISOR_COLUMNS = ["supervisor_state", "supervisor_ref", "supervisor_rep", "supervisor_at"]


def day_view(engine: Engine, day: date, where: EventFilter = EventFilter()) -> DayView:
    """Everything scheduled on `day` (with each CORE's Supervisor state), the Unstaffed due that day, who is on duty."""
    scheduled_query = (
        select(Event.project_ref_num, Event.project_name, Event.event_type, Event.condition, Event.store_number,
               Event.store_name, Event.location_mvid, Schedule.schedule_datetime, Employee.name, Employee.job_title,
               Schedule.id, Schedule.external_id)
        .select_from(Schedule)
        .join(Event, Event.project_ref_num == Schedule.event_ref_num)
        .outerjoin(Employee, Employee.id == Schedule.employee_id)
        .where(Schedule.schedule_datetime >= _day_start(day),
               Schedule.schedule_datetime < _day_start(day + timedelta(days=1)), *where.clauses())
        .order_by(Schedule.schedule_datetime, Event.project_ref_num)
    )
    unstaffed_query = (
        select(Event.project_ref_num, Event.project_name, Event.event_type, Event.store_number, Event.store_name,
               Event.start_datetime, Event.due_datetime)
        .where(Event.condition == UNSTAFFED, Event.due_datetime >= _day_start(day),
               Event.due_datetime < _day_start(day + timedelta(days=1)), *where.clauses())
        .order_by(Event.due_datetime, Event.project_ref_num)
    )
    with engine.connect() as connection:
        scheduled = pd.DataFrame(connection.execute(scheduled_query).all(), columns=DAY_COLUMNS)
        cores = scheduled[scheduled["event_type"] == CORE]
        matches = supervisors_for_cores(connection, cores[["ref", "name", "location_mvid", "store_number"]]
                                        .itertuples(index=False, name=None))
        unstaffed = pd.DataFrame(connection.execute(unstaffed_query).all(),
                                 columns=["ref", "name", "event_type", "store_number", "store_name", "start_datetime",
                                          "due_datetime"])
    supervisor_rows = []
    for ref in scheduled["ref"]:
        match = matches.get(ref)
        if match is None:
            supervisor_rows.append((None, None, None, None))
        else:
            supervisor = match.supervisor
            supervisor_rows.append((match.state, supervisor.ref if supervisor else None,
                                    supervisor.rep_name if supervisor else None,
                                    supervisor.scheduled_at if supervisor else None))
    scheduled[SUPERVISOR_COLUMNS] = pd.DataFrame(supervisor_rows, columns=SUPERVISOR_COLUMNS, index=scheduled.index,
                                                 dtype=object)
    scheduled["event_type"] = scheduled["event_type"].fillna(OTHER)
    leads = sorted(set(scheduled.loc[scheduled["rep_title"].isin(LEAD_TITLES), "rep_name"].dropna()))
    juicers = sorted(set(scheduled.loc[scheduled["event_type"] == JUICER, "rep_name"].dropna()))
    return DayView(day=day, scheduled=scheduled, unstaffed_due=unstaffed, leads_on_duty=leads, juicer_reps=juicers)


# --- Overview: today and the next 7 days ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekOverview:
    first_day: date
    last_day: date
    per_type: pd.DataFrame  # event_type, scheduled, unstaffed (Unstaffed due in the window)
    busiest_days: pd.DataFrame  # day, scheduled (top 3)
    urgency: pd.Series  # Unstaffed per urgency bucket (same figures as the Unscheduled page)


def week_overview(engine: Engine, now: datetime, where: EventFilter = EventFilter()) -> WeekOverview:
    first, last = now.date(), now.date() + timedelta(days=7)
    scheduled = scheduled_per_day(engine, first, last, where)
    unstaffed = unstaffed_due_per_day(engine, first, last, where)
    per_type = pd.DataFrame({
        "scheduled": scheduled.groupby("event_type")["count"].sum(),
        "unstaffed": unstaffed.groupby("event_type")["count"].sum(),
    }).reindex(list(EVENT_TYPES)).fillna(0).astype(int).rename_axis("event_type").reset_index()
    per_day = scheduled.groupby("day")["count"].sum()
    busiest = (per_day.sort_values(ascending=False, kind="stable").head(3).rename("scheduled")
               .rename_axis("day").reset_index())
    urgency = unscheduled_bucket_totals(unscheduled_buckets(engine, now, where))
    return WeekOverview(first, last, per_type, busiest, urgency)


# --- The journal and the audit trail (Operations and Audit pages) ---------------------------------------------------


def operations_frame(engine: Engine, *, status: str | None = None, actor: str | None = None,
                     since: date | None = None, limit: int = 1000) -> pd.DataFrame:
    from services.tables import Operation

    query = (select(Operation.id, Operation.requested_at, Operation.kind, Operation.status, Operation.requested_by,
                    Operation.message, Operation.undo_of, Operation.finished_at)
             .order_by(Operation.id.desc()).limit(limit))
    if status:
        query = query.where(Operation.status == status)
    if actor:
        query = query.where(Operation.requested_by == actor)
    if since:
        query = query.where(Operation.requested_at >= _day_start(since))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=["operation", "requested_at", "kind", "status", "by", "message", "undo_of",
                                       "finished_at"])


def operation_steps_frame(engine: Engine, operation_id: int) -> pd.DataFrame:
    from services.tables import OperationStep

    query = (select(OperationStep.seq, OperationStep.created_at, OperationStep.event_ref, OperationStep.role,
                    OperationStep.action, OperationStep.purpose, OperationStep.status, OperationStep.request,
                    OperationStep.result)
             .where(OperationStep.operation_id == operation_id).order_by(OperationStep.seq))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=["step", "at", "event", "role", "call", "purpose", "status", "request", "result"])


def audit_frame(engine: Engine, *, actor: str | None = None, event_ref: int | None = None, since: date | None = None,
                limit: int = 2000) -> pd.DataFrame:
    from services.tables import AuditEntry

    query = (select(AuditEntry.at, AuditEntry.actor, AuditEntry.operation_id, AuditEntry.event_ref, AuditEntry.action,
                    AuditEntry.before, AuditEntry.after, AuditEntry.message)
             .order_by(AuditEntry.id.desc()).limit(limit))
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if event_ref is not None:
        query = query.where(AuditEntry.event_ref == event_ref)
    if since:
        query = query.where(AuditEntry.at >= _day_start(since))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=["at", "actor", "operation", "event", "action", "before", "after", "message"])


def core_needing_supervisor(engine: Engine, supervisor_ref: int) -> dict | None:
    """For an Unstaffed Supervisor: its scheduled CORE ({ref, name}) when there is exactly one, else None."""
    from services.pairing import core_of_supervisor

    with engine.connect() as connection:
        core_ref = core_of_supervisor(connection, supervisor_ref)
        if core_ref is None:
            return None
        row = connection.execute(select(Event.project_ref_num, Event.project_name)
                                 .join(Schedule, Schedule.event_ref_num == Event.project_ref_num)
                                 .where(Event.project_ref_num == core_ref)).first()
    return {"ref": row[0], "name": row[1]} if row is not None else None


def event_for_action(engine: Engine, ref: int) -> dict | None:
    """The fields an action dialog shows for one event (ref, name, type, scheduled_at), or None."""
    with engine.connect() as connection:
        row = connection.execute(select(Event.project_ref_num, Event.project_name, Event.event_type,
                                        Schedule.schedule_datetime)
                                 .outerjoin(Schedule, Schedule.event_ref_num == Event.project_ref_num)
                                 .where(Event.project_ref_num == ref)).first()
    if row is None:
        return None
    return {"ref": row[0], "name": row[1], "event_type": row[2], "scheduled_at": row[3]}
