"""Read queries layer: SQL aggregates returned as small pandas DataFrames for the pages (never every row)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, Engine, Integer, String, case, cast, func, literal, or_, select, text, union_all

from services.actions.journal import json_text
from services.errors import InvalidInput
from services.domain.event_rules import CORE, EVENT_TYPES, JUICER, OTHER, UNSTAFFED
from services.reads.pairing import core_of_supervisor, supervisors_for_cores
from services.domain.titles import SUPERVISOR_TITLES
from services.store.tables import (
    DataVersion, Employee, Event, Schedule, ScheduledPerDay, ScheduleStore, UnstaffedPerDay, UnstaffedPerDayAllStores,
    UnstaffedTotal,
)


@dataclass(frozen=True)
class DatabaseSummary:
    events: int
    schedules: int | None  # counted only when asked (`db status`): see database_summary
    employees: int
    stores: int
    first_day: datetime | None
    last_day: datetime | None
    newest_sync: datetime | None
    data_version: int


def database_summary(engine: Engine, *, count_schedules: bool = False) -> DatabaseSummary:
    """Headline counts for the sidebar and `db status`, at a cost that does not grow with the number of events (the
    sidebar reads them on every cold page): the event and store counts from the trigger-kept rows of
    services/store/summary_counts.py (one per store), the first and last days and the newest sync by index seeks. Each
    min/max is its own subquery: SQLite seeks an index only for a lone min() or max(). Schedules are counted (a scan)
    only with `count_schedules` (`db status`; the sidebar does not show them)."""
    from services.store.summary_counts import store_event_counts

    def seek(aggregate):  # noqa: ANN001, ANN202 - a SQL aggregate of one events column
        return select(aggregate).scalar_subquery()

    has_store = (store_event_counts.c.store != "") & (store_event_counts.c.events > 0)
    query = select(
        select(func.coalesce(func.sum(store_event_counts.c.events), 0)).scalar_subquery(),
        select(func.count()).where(has_store).scalar_subquery(),
        (select(func.count()).select_from(Schedule).scalar_subquery() if count_schedules
         else literal(None, Integer)),
        select(func.count()).select_from(Employee).scalar_subquery(),
        seek(func.min(Event.start_datetime)), seek(func.max(Event.due_datetime)), seek(func.max(Event.last_synced)),
        select(DataVersion.version).where(DataVersion.id == 1).scalar_subquery(),
    )
    with engine.connect() as connection:  # one statement: one consistent view
        events, stores, schedules, employees, first_day, last_day, newest_sync, version = connection.execute(query).one()
    return DatabaseSummary(events=int(events), stores=int(stores), first_day=first_day, last_day=last_day,
                           newest_sync=newest_sync, schedules=None if schedules is None else int(schedules),
                           employees=int(employees),
                           data_version=version or 0)


def sync_freshness(newest_sync: datetime | None, now: datetime) -> str:
    """When the data was last synced, for the sidebar: "Dec 08, 2026 09:40 (20 min ago)".

    `last_synced` is stored in Crossmark local time (naive), so `now` must be Crossmark local time too
    (Settings.tz); a time after `now` (clocks apart, a sync stamped ahead) is shown as now, never in the future."""
    if newest_sync is None or pd.isna(newest_sync):
        return "never"
    synced = min(pd.Timestamp(newest_sync).to_pydatetime().replace(tzinfo=None), now.replace(tzinfo=None))
    minutes = int((now.replace(tzinfo=None) - synced).total_seconds() // 60)
    age = ("just now" if minutes < 1 else f"{minutes} min ago" if minutes < 60
           else f"{minutes // 60} h ago" if minutes < 48 * 60 else f"{minutes // 1440} days ago")
    return f"{synced:%b %d, %Y %H:%M} ({age})"


def rows_frame(rows, columns: list[str]) -> pd.DataFrame:  # noqa: ANN001 - result rows
    """A DataFrame of result rows. Plain tuples first: pandas probes every SQLAlchemy Row for namedtuple fields, and each
    probe costs a caught exception (46 ms instead of 5 ms for 9,000 rows)."""
    return pd.DataFrame([tuple(row) for row in rows], columns=columns)


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

    def aggregate_clauses(self, table: type[ScheduledPerDay | UnstaffedPerDay | UnstaffedTotal | UnstaffedPerDayAllStores]
                          = ScheduledPerDay) -> list:
        """The same filter on a pre-aggregated table (ScheduledPerDay, UnstaffedPerDay, UnstaffedTotal, or
        UnstaffedPerDayAllStores when there is no store to filter by: see unstaffed_per_day_table)."""
        clauses: list[ColumnElement[bool]] = []
        if self.event_types is not None:
            clauses.append(table.event_type.in_(self.event_types))
        if self.store:
            if table is UnstaffedPerDayAllStores:
                raise ValueError("UnstaffedPerDayAllStores has every store together: it cannot be filtered by one")
            clauses.append(table.store == self.store)  # type: ignore[union-attr]
        return clauses

    def unstaffed_per_day_table(self) -> type[UnstaffedPerDay | UnstaffedPerDayAllStores]:
        """Where to sum Unstaffed per due day: without a store filter, the all-stores aggregate (a row per type a day
        instead of one per club and type: ~300 a day at 1,000,000 events over 50 clubs), else the club's own rows."""
        return UnstaffedPerDay if self.store else UnstaffedPerDayAllStores


def data_version(engine: Engine) -> int:
    """The stamp every write bumps; cached reads are keyed by it so any process's change shows at the next rerun."""
    with engine.connect() as connection:
        return connection.execute(select(DataVersion.version).where(DataVersion.id == 1)).scalar_one_or_none() or 0


def _as_date(value) -> date:  # noqa: ANN001 - SQLite returns 'YYYY-MM-DD' text, PostgreSQL a date
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


# Every distinct location id by a seek per store on the pairing index (location_mvid, project_name) instead of a GROUP BY
# over every event (about 1 s at 1,000,000 events, paid again after every write since reads are cached per version).
_LOCATIONS = text("""
WITH RECURSIVE location(id) AS (
    SELECT min(location_mvid) FROM events
    UNION ALL
    SELECT (SELECT min(e.location_mvid) FROM events e WHERE e.location_mvid > location.id)
    FROM location WHERE location.id IS NOT NULL
)
SELECT location.id,
       (SELECT e.store_number FROM events e WHERE e.location_mvid = location.id LIMIT 1),
       (SELECT e.store_name FROM events e WHERE e.location_mvid = location.id LIMIT 1)
FROM location WHERE location.id IS NOT NULL
""")


def stores(engine: Engine) -> pd.DataFrame:
    """Every store with events: key (location id, else store number), number, name and location id (None for a store
    known only by its number), for the store filters. Events with neither a location id nor a number have no store."""
    without_location = (  # old rows without a location id: keyed by store number
        select(cast(Event.store_number, String), func.max(Event.store_number), func.max(Event.store_name))
        .where(Event.location_mvid.is_(None), Event.store_number.is_not(None)).group_by(Event.store_number))
    with engine.connect() as connection:
        rows = [(*row, row[0]) for row in connection.execute(_LOCATIONS)]
        rows += [(*row, None) for row in connection.execute(without_location)]
    frame = rows_frame(rows, ["store", "store_number", "store_name", "location_mvid"])
    return frame.sort_values(["store_number", "store"], kind="stable", na_position="last").reset_index(drop=True)


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
    """Unstaffed events per due date and type, first_day..last_day inclusive: columns day, event_type, count.

    Read from the trigger-maintained UnstaffedPerDay (or its all-stores sum), like scheduled_per_day."""
    per_day = where.unstaffed_per_day_table()
    query = (
        select(per_day.day, per_day.event_type, func.sum(per_day.unstaffed).label("count"))
        .where(per_day.day >= first_day, per_day.day <= last_day, *where.aggregate_clauses(per_day))
        .group_by(per_day.day, per_day.event_type)
        .having(func.sum(per_day.unstaffed) != 0)
    )
    return _day_frame(engine, query)


def _day_frame(engine: Engine, query) -> pd.DataFrame:  # noqa: ANN001
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    frame = rows_frame(rows, ["day", "event_type", "count"])
    frame["day"] = [_as_date(value) for value in frame["day"]]
    frame["event_type"] = frame["event_type"].fillna(OTHER)
    return frame.astype({"count": int})


UNSTAFFED_DUE = "unstaffed_due"


def month_calendar(engine: Engine, month: date, where: EventFilter = EventFilter()) -> pd.DataFrame:
    """One row per day of the month: scheduled count per type, total, and Unstaffed events due that day.

    Summed in SQL per day (and type) from the two aggregates, then laid out in plain Python: pandas' pivot and reindex
    of a few hundred rows would cost more than the queries themselves."""
    first = month.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    row_of = {day: index for index, day in enumerate(days)}
    column_of: dict[str, int] = {event_type: index for index, event_type in enumerate(EVENT_TYPES)}
    column_of[UNSTAFFED_DUE] = len(EVENT_TYPES)
    counts = [[0] * (len(EVENT_TYPES) + 1) for _ in days]  # per type, then Unstaffed due
    scheduled = (select(ScheduledPerDay.day, ScheduledPerDay.event_type, func.sum(ScheduledPerDay.scheduled))
                 .where(ScheduledPerDay.day >= first, ScheduledPerDay.day <= last, *where.aggregate_clauses())
                 .group_by(ScheduledPerDay.day, ScheduledPerDay.event_type))
    per_day = where.unstaffed_per_day_table()
    unstaffed = (select(per_day.day, literal(UNSTAFFED_DUE), func.sum(per_day.unstaffed))
                 .where(per_day.day >= first, per_day.day <= last, *where.aggregate_clauses(per_day))
                 .group_by(per_day.day))
    with engine.connect() as connection:  # one statement: one round trip, one consistent view of both aggregates
        rows = connection.execute(union_all(scheduled, unstaffed)).all()  # one fetchall, not a fetch per row
    for day, event_type, count in rows:
        column = column_of.get(event_type)
        if column is not None:  # the aggregate stores no type as 'Other', so every row has a known type
            counts[row_of[_as_date(day)]][column] += count
    columns: dict[str, list] = {"day": days}
    for index, event_type in enumerate(EVENT_TYPES):
        columns[event_type] = [row[index] for row in counts]
    columns["total"] = [sum(row[:-1]) for row in counts]
    columns["unstaffed_due"] = [row[-1] for row in counts]
    return pd.DataFrame(columns)


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
    counts = counts.groupby(["period", "event_type", "state"], as_index=False)[["count"]].sum()  # [[...]]: a frame
    counts["event_type"] = pd.Categorical(counts["event_type"], categories=list(EVENT_TYPES), ordered=True)
    return counts.sort_values(["period", "event_type", "state"]).reset_index(drop=True)


PERIODS = ("day", "week", "month")
PERIOD_TITLES = {"day": "Day", "week": "Week starting", "month": "Month"}  # a period's column or axis title


def period_label(start: date, period: str) -> str:
    """A period (by its first day) as people read it: "Tue Dec 08, 2026", "Mon Dec 07, 2026" (the week starting
    then), "Dec 2026"."""
    return f"{start:%b %Y}" if period == "month" else f"{start:%a %b %d, %Y}"


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
    """Unstaffed events per urgency bucket and type: bucket, event_type, count (buckets without events are absent).

    Read from the aggregates, so the cost grows neither with the number of events nor with the history or how far
    ahead the data runs. The all-days total per club and type (UnstaffedTotal) splits into Past due (before today),
    the next three days (one short range of the per-day aggregate: today, tomorrow, the day after) and Later (from the
    fourth day on). Of Past due and Later only the side spanning fewer days is summed; the other is the total minus
    the rest. Without a store filter the days are summed from the all-stores aggregate (a row per type a day, whatever
    the number of clubs and events); with one, from that club's own rows (one index range). Today's events due before
    `now` move from Due today to Past due: only those are read (an index range that holds none while windows end at
    23:59, as Crossmark's do), not every event due today. Events without a due date are never urgent."""
    today = now.date()
    later_from = today + timedelta(days=3)
    per_day = where.unstaffed_per_day_table()
    clauses = where.aggregate_clauses(per_day)
    with engine.connect() as connection:
        first_day, last_day = connection.execute(select(  # two index seeks: the days the aggregate spans
            select(func.min(per_day.day)).scalar_subquery(),
            select(func.max(per_day.day)).scalar_subquery())).one()
        sum_past = first_day is None or today - _as_date(first_day) <= _as_date(last_day) - later_from
        summed_bucket, rest_bucket = ((URGENCY_BUCKETS[0], URGENCY_BUCKETS[4]) if sum_past
                                      else (URGENCY_BUCKETS[4], URGENCY_BUCKETS[0]))
        near_bucket = case((per_day.day == today, URGENCY_BUCKETS[1]),
                           (per_day.day == today + timedelta(days=1), URGENCY_BUCKETS[2]),
                           else_=URGENCY_BUCKETS[3])
        event_type = func.coalesce(Event.event_type, OTHER)
        all_days = (select(literal("all days"), literal(None, String), UnstaffedTotal.event_type,
                           func.sum(UnstaffedTotal.unstaffed))
                    .where(*where.aggregate_clauses(UnstaffedTotal))
                    .group_by(UnstaffedTotal.event_type))
        near = (select(literal("near"), near_bucket, per_day.event_type, func.sum(per_day.unstaffed))
                .where(per_day.day >= today, per_day.day < later_from, *clauses)
                .group_by(near_bucket, per_day.event_type))
        summed_days = per_day.day < today if sum_past else per_day.day >= later_from
        summed = (select(literal("summed"), literal(summed_bucket), per_day.event_type, func.sum(per_day.unstaffed))
                  .where(summed_days, *clauses).group_by(per_day.event_type))
        due_before_now = (select(literal("before now"), literal(URGENCY_BUCKETS[0]), event_type, func.count())
                          .where(Event.condition == UNSTAFFED, Event.due_datetime >= _day_start(today),
                                 Event.due_datetime < now, *where.clauses())
                          .group_by(event_type))
        undated = (select(literal("undated"), literal(URGENCY_BUCKETS[4]), event_type, func.count())
                   .where(Event.condition == UNSTAFFED, Event.due_datetime.is_(None), *where.clauses())
                   .group_by(event_type))
        # one statement: one consistent view of the aggregates and today's events
        rows = connection.execute(union_all(all_days, near, summed, due_before_now, undated)).all()
    counts: dict[tuple[str, str], int] = {}

    def add(bucket: str, row_type: str, count: int) -> None:
        counts[(bucket, row_type)] = counts.get((bucket, row_type), 0) + count

    for source, bucket, row_type, count in rows:
        if source == "all days":  # all of it lands in the bucket not summed, less what the other rows place
            add(rest_bucket, row_type, int(count))
        elif source in ("near", "summed"):
            add(rest_bucket, row_type, -int(count))
            add(bucket, row_type, int(count))
        elif source == "before now":  # counted in today's row of the aggregate: past due already
            add(URGENCY_BUCKETS[1], row_type, -int(count))
            add(bucket, row_type, int(count))
        else:  # undated: in no aggregate
            add(bucket, row_type, int(count))
    return pd.DataFrame([(bucket, row_type, count) for (bucket, row_type), count in counts.items() if count != 0],
                        columns=["bucket", "event_type", "count"]).astype({"count": int})


def unscheduled_bucket_totals(buckets: pd.DataFrame) -> pd.Series:
    """Totals per bucket, in urgency order, zeros included; the Overview tiles and the Unscheduled page share it."""
    # Summed in plain Python: a pandas groupby and reindex of a dozen rows cost ~1 ms on every run of the page.
    totals = dict.fromkeys(URGENCY_BUCKETS, 0)
    for bucket, count in zip(buckets["bucket"].tolist(), buckets["count"].tolist()):
        if bucket in totals:
            totals[bucket] += int(count)
    return pd.Series(totals, dtype=int)


# The pages list at most this many rows; their downloads read every row the filters select (dashboard/reads.py).
UNSCHEDULED_LISTING_LIMIT = 500
OPERATIONS_LISTING_LIMIT = 1000
AUDIT_LISTING_LIMIT = 2000


def _bucket_clauses(now: datetime, bucket: str) -> list:
    """An urgency bucket as a range of due times (what _urgency_case gives it), so the listing seeks to its first event:
    compared with the CASE, it walked every Unstaffed event due before it (about 23,000 before "Later" at 1,000,000)."""
    edges = _bucket_edges(now)
    position = URGENCY_BUCKETS.index(bucket)
    if position == len(URGENCY_BUCKETS) - 1:  # Later: from the fourth day on, and every event without a due time
        return [or_(Event.due_datetime >= edges[-1], Event.due_datetime.is_(None))]
    clauses = [Event.due_datetime < edges[position]]
    if position > 0:
        clauses.append(Event.due_datetime >= edges[position - 1])
    return clauses


def unscheduled_events(engine: Engine, now: datetime, bucket: str | None = None, where: EventFilter = EventFilter(),
                       limit: int = UNSCHEDULED_LISTING_LIMIT) -> pd.DataFrame:
    """The Unstaffed events themselves (most urgent first, at most `limit`), with their bucket, for the listing."""
    if bucket is not None and bucket not in URGENCY_BUCKETS:
        raise InvalidInput(f"Unknown urgency {bucket!r}; choose one of: {', '.join(URGENCY_BUCKETS)}.")
    urgency = _urgency_case(now)
    query = (select(urgency.label("bucket"), Event.project_ref_num.label("ref"), Event.project_name.label("name"),
                    Event.event_type, Event.store_number, Event.store_name, Event.start_datetime, Event.due_datetime)
             .where(Event.condition == UNSTAFFED, *where.clauses())
             .order_by(Event.due_datetime, Event.project_ref_num).limit(limit))
    if bucket is not None:
        query = query.where(*_bucket_clauses(now, bucket))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return rows_frame(rows, ["bucket", "ref", "name", "event_type", "store_number", "store_name",
                                       "start_datetime", "due_datetime"])


# --- One day (Day view) ---------------------------------------------------------------------------------------------

# A national day holds thousands of events (about 5,400 at 1,000,000 events over 50 clubs): nobody reads that many
# cards, and building them takes seconds. Above this many events (scheduled, or Unstaffed due) the Day view gives the
# day per club and type from the per-day aggregates and asks for a club; the CSV export still has every event.
DAY_VIEW_LIMIT = 300


@dataclass(frozen=True)
class DayView:
    day: date
    scheduled: pd.DataFrame  # every event scheduled that day, with each CORE's Supervisor state (empty if not listed)
    unstaffed_due: pd.DataFrame  # Unstaffed events due that day (empty if not listed)
    leads_on_duty: list[str]
    juicer_reps: list[str]
    scheduled_by_type: dict[str, int]  # the day's full counts, listed or not
    unstaffed_due_total: int
    per_store: pd.DataFrame  # store, event_type, scheduled, unstaffed_due: the day per club, from the aggregates
    listed: bool = True  # False when the day is over DAY_VIEW_LIMIT: only the counts and per_store are filled

    @property
    def scheduled_total(self) -> int:
        return sum(self.scheduled_by_type.values())


DAY_COLUMNS = ["ref", "name", "event_type", "condition", "store_number", "store_name", "location_mvid",
               "scheduled_at", "rep_name", "rep_title", "schedule_id", "crossmark_schedule_id"]
SUPERVISOR_COLUMNS = ["supervisor_state", "supervisor_ref", "supervisor_rep", "supervisor_at"]
UNSTAFFED_DUE_COLUMNS = ["ref", "name", "event_type", "store_number", "store_name", "start_datetime", "due_datetime"]


def _day_counts(connection, day: date, where: EventFilter) -> dict[tuple[str, str], list[int]]:  # noqa: ANN001
    """The day per (store, type) from the two aggregates: [scheduled, Unstaffed due]. One statement for both: on
    PostgreSQL every statement is a round trip."""
    scheduled = (select(ScheduledPerDay.store, ScheduledPerDay.event_type, ScheduledPerDay.scheduled, literal(0))
                 .where(ScheduledPerDay.day == day, ScheduledPerDay.scheduled != 0, *where.aggregate_clauses()))
    unstaffed = (select(UnstaffedPerDay.store, UnstaffedPerDay.event_type, literal(0), UnstaffedPerDay.unstaffed)
                 .where(UnstaffedPerDay.day == day, UnstaffedPerDay.unstaffed != 0,
                        *where.aggregate_clauses(UnstaffedPerDay)))
    counts: dict[tuple[str, str], list[int]] = {}
    for store, event_type, scheduled_count, unstaffed_count in connection.execute(union_all(scheduled, unstaffed)).all():
        total = counts.setdefault((store, event_type), [0, 0])
        total[0] += scheduled_count
        total[1] += unstaffed_count
    return counts


def day_view(engine: Engine, day: date, where: EventFilter = EventFilter(), limit: int | None = DAY_VIEW_LIMIT
             ) -> DayView:
    """What is scheduled on `day` (each CORE with its Supervisor state), the Unstaffed due that day and who is on duty;
    over `limit` events (None: no limit) only the counts per club and type, which the aggregates give at once.

    The rows are worked on as plain tuples and each frame is built once: on a club's day of ~150 events, pandas'
    per-operation overhead (masks, column assignment, astype) cost more than all of the SQL."""
    with engine.connect() as connection:
        counts = _day_counts(connection, day, where)
        by_type: dict[str, int] = {}
        for (_, type_name), (scheduled_count, _) in counts.items():
            if scheduled_count:
                by_type[type_name] = by_type.get(type_name, 0) + scheduled_count
        unstaffed_total = sum(unstaffed for _, unstaffed in counts.values())
        per_store = _per_store_frame(counts)
        if limit is not None and max(sum(by_type.values()), unstaffed_total) > limit:
            return DayView(day, pd.DataFrame(columns=DAY_COLUMNS + SUPERVISOR_COLUMNS),
                           pd.DataFrame(columns=UNSTAFFED_DUE_COLUMNS), [], [], by_type, unstaffed_total, per_store,
                           listed=False)
        scheduled_rows, unstaffed = _day_events(connection, day, where)
    title, rep, event_type = (DAY_COLUMNS.index(column) for column in ("rep_title", "rep_name", "event_type"))
    leads = sorted({row[rep] for row in scheduled_rows if row[title] in SUPERVISOR_TITLES and row[rep] is not None})
    juicers = sorted({row[rep] for row in scheduled_rows if row[event_type] == JUICER and row[rep] is not None})
    return DayView(day, _scheduled_frame(scheduled_rows), unstaffed, leads, juicers, by_type, unstaffed_total,
                   per_store)


def _per_store_frame(counts: dict[tuple[str, str], list[int]]) -> pd.DataFrame:
    """store, event_type, scheduled, unstaffed_due: one row per (store, type) of the day, in store and type order."""
    keys = sorted(counts)
    if not keys:  # typed like a filled frame, so callers can sum and compare either
        return pd.DataFrame(columns=["store", "event_type", "scheduled", "unstaffed_due"]).astype(
            {"scheduled": "int64", "unstaffed_due": "int64"})
    return pd.DataFrame({"store": [store for store, _ in keys], "event_type": [event_type for _, event_type in keys],
                         "scheduled": pd.Series([counts[key][0] for key in keys], dtype="int64"),
                         "unstaffed_due": pd.Series([counts[key][1] for key in keys], dtype="int64")})


def _scheduled_frame(rows: list[tuple]) -> pd.DataFrame:
    """The day's rows (DAY_COLUMNS then SUPERVISOR_COLUMNS) as a frame; the Supervisor columns stay objects, so a
    Supervisor ref shows as 612103, not 612103.0, next to COREs without one."""
    if not rows:
        return pd.DataFrame(columns=DAY_COLUMNS + SUPERVISOR_COLUMNS)
    columns = list(zip(*rows))
    data: dict[str, object] = dict(zip(DAY_COLUMNS, columns))
    for name, values in zip(SUPERVISOR_COLUMNS, columns[len(DAY_COLUMNS):]):
        data[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _day_events(connection, day: date, where: EventFilter) -> tuple[list[tuple], pd.DataFrame]:  # noqa: ANN001
    """The day's scheduled events as tuples (DAY_COLUMNS, then SUPERVISOR_COLUMNS) and its Unstaffed due as a frame."""
    start, end = _day_start(day), _day_start(day + timedelta(days=1))
    if where.store:
        # One club's ~100 schedules among the day's thousands: one range of the store-keyed schedules (migration 0008)
        # instead of walking the whole day and looking up every schedule's event to test its store.
        club_schedules = select(ScheduleStore.schedule_id).where(
            ScheduleStore.store == where.store, ScheduleStore.schedule_datetime >= start,
            ScheduleStore.schedule_datetime < end)
        chosen = (Schedule.id.in_(club_schedules), *EventFilter(event_types=where.event_types).clauses())
    else:
        chosen = (Schedule.schedule_datetime >= start, Schedule.schedule_datetime < end, *where.clauses())
    scheduled_query = (
        select(Event.project_ref_num, Event.project_name, Event.event_type, Event.condition, Event.store_number,
               Event.store_name, Event.location_mvid, Schedule.schedule_datetime, Employee.name, Employee.job_title,
               Schedule.id, Schedule.external_id)
        .select_from(Schedule)
        .join(Event, Event.project_ref_num == Schedule.event_ref_num)
        .outerjoin(Employee, Employee.id == Schedule.employee_id)
        .where(*chosen)
        .order_by(Schedule.schedule_datetime, Event.project_ref_num)
    )
    unstaffed_query = (
        select(Event.project_ref_num, Event.project_name, Event.event_type, Event.store_number, Event.store_name,
               Event.start_datetime, Event.due_datetime)
        .where(Event.condition == UNSTAFFED, Event.due_datetime >= start, Event.due_datetime < end, *where.clauses())
        .order_by(Event.due_datetime, Event.project_ref_num)
    )
    rows = [tuple(row) for row in connection.execute(scheduled_query).all()]
    matches = supervisors_for_cores(connection, [(ref, name, location_mvid, number)
                                                 for ref, name, event_type, _, number, _, location_mvid, *_ in rows
                                                 if event_type == CORE])
    unstaffed = rows_frame(connection.execute(unstaffed_query).all(), UNSTAFFED_DUE_COLUMNS)
    scheduled = []
    for ref, name, event_type, *rest in rows:
        match = matches.get(ref)
        supervisor = match.supervisor if match is not None else None
        scheduled.append((ref, name, OTHER if event_type is None else event_type, *rest,
                          match.state if match is not None else None, supervisor.ref if supervisor else None,
                          supervisor.rep_name if supervisor else None, supervisor.scheduled_at if supervisor else None))
    return scheduled, unstaffed


def day_events_for_export(engine: Engine, day: date, where: EventFilter = EventFilter()) -> pd.DataFrame:
    """Every event scheduled on `day`, with its Supervisor state: the Day view's CSV (no listing limit)."""
    return day_view(engine, day, where, limit=None).scheduled.drop(columns=["schedule_id"])


# --- Overview: the seven days from today ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekOverview:
    first_day: date  # today
    last_day: date  # today + 6: seven days, both included
    per_type: pd.DataFrame  # event_type, scheduled, unstaffed (Unstaffed due in the window)
    busiest_days: pd.DataFrame  # day, scheduled (top 3)
    urgency: pd.Series  # Unstaffed per urgency bucket (same figures as the Unscheduled page)


def week_overview(engine: Engine, now: datetime, where: EventFilter = EventFilter()) -> WeekOverview:
    first, last = now.date(), now.date() + timedelta(days=6)  # seven days, today included
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
                     since: date | None = None, limit: int = OPERATIONS_LISTING_LIMIT) -> pd.DataFrame:
    from services.store.tables import Operation

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
    return rows_frame(rows, ["operation", "requested_at", "kind", "status", "by", "message", "undo_of",
                                       "finished_at"])


def operation_steps_frame(engine: Engine, operation_id: int) -> pd.DataFrame:
    from services.store.tables import OperationStep

    query = (select(OperationStep.seq, OperationStep.created_at, OperationStep.event_ref, Event.store_number,
                    Event.store_name, OperationStep.role, OperationStep.action, OperationStep.purpose,
                    OperationStep.status, OperationStep.request, OperationStep.result)
             .outerjoin(Event, Event.project_ref_num == OperationStep.event_ref)
             .where(OperationStep.operation_id == operation_id).order_by(OperationStep.seq))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    # The request and result as JSON text (journal.json_text), as the page reads them.
    return rows_frame([(*row[:-2], json_text(row[-2]), json_text(row[-1])) for row in rows],
                      ["step", "at", "event", "store_number", "store_name", "role", "call", "purpose", "status",
                       "request", "result"])


def audit_frame(engine: Engine, *, actor: str | None = None, event_ref: int | None = None, since: date | None = None,
                limit: int = AUDIT_LISTING_LIMIT) -> pd.DataFrame:
    from services.store.tables import AuditEntry

    query = (select(AuditEntry.at, AuditEntry.actor, AuditEntry.operation_id, AuditEntry.event_ref, Event.store_number,
                    Event.store_name, AuditEntry.action, AuditEntry.before, AuditEntry.after, AuditEntry.message)
             .outerjoin(Event, Event.project_ref_num == AuditEntry.event_ref)
             .order_by(AuditEntry.id.desc()).limit(limit))
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if event_ref is not None:
        query = query.where(AuditEntry.event_ref == event_ref)
    if since:
        query = query.where(AuditEntry.at >= _day_start(since))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    # Before and after as JSON text (journal.json_text): the cells the page reads and the exports write.
    return rows_frame([(*row[:7], json_text(row[7]), json_text(row[8]), row[9]) for row in rows],
                      ["at", "actor", "operation", "event", "store_number", "store_name", "action", "before", "after",
                       "message"])


def employee_names(engine: Engine, ids: Iterable[str]) -> dict[str, str]:
    """Our name of each employee among `ids`, keyed by what the journal records of a rep: our employee id
    (employees.id) and Crossmark's rep id (employees.external_id); ids no employee has are left out."""
    wanted = sorted({str(value) for value in ids if value not in (None, "") and len(str(value)) <= 100})
    names: dict[str, str] = {}
    with engine.connect() as connection:
        for start in range(0, len(wanted), 500):  # bounded IN lists (SQLite's variable limit)
            chunk = set(wanted[start:start + 500])
            for employee_id, external_id, name in connection.execute(
                    select(Employee.id, Employee.external_id, Employee.name)
                    .where(or_(Employee.id.in_(sorted(chunk)), Employee.external_id.in_(sorted(chunk))))):
                names.update({key: name for key in (employee_id, external_id) if key in chunk})
    return names


def core_needing_supervisor(engine: Engine, supervisor_ref: int) -> dict | None:
    """For an Unstaffed Supervisor: its scheduled CORE ({ref, name}) when there is exactly one, else None."""
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
