"""Cached reads: every page's query goes through here, keyed by the database's data-version stamp.

Any write (by this process, the CLI, or another replica; and, by database triggers, any other program's write to events,
schedules or employees: services/store/data_version.py) bumps the stamp, so the next rerun misses the cache and reads
fresh data; the TTL only bounds memory and staleness of time-relative figures.
"""
from __future__ import annotations

import itertools
import threading
import time
import weakref
from datetime import date, datetime
from typing import Callable, Iterable, TypeVar

import pandas as pd
import streamlit as st
from sqlalchemy import Engine, event

from dashboard.components import StoreChoices
from dashboard.wiring import get_engine
from services.quality import checks as quality_checks
from services.quality import work as finding_work
from services.reads import batches as batch_reads
from services.reads import read_queries
from services.reads.exports import EXPORT_ROW_LIMIT
from services.ops.metrics import METRICS
from services.access.switches import current_switches
from services.reads.read_queries import EventFilter

_QUERIES: dict[str, Callable] = {
    "summary": read_queries.database_summary,
    "stores": read_queries.stores,
    "month_calendar": read_queries.month_calendar,
    "day_view": read_queries.day_view,
    "type_counts": read_queries.type_counts,
    "unscheduled_buckets": read_queries.unscheduled_buckets,
    "unscheduled_events": read_queries.unscheduled_events,
    "week_overview": read_queries.week_overview,
    "operations": read_queries.operations_frame,
    "operation_steps": read_queries.operation_steps_frame,
    "audit": read_queries.audit_frame,
    "employee_names": read_queries.employee_names,
    "reps": batch_reads.reps,
    "open_findings": quality_checks.open_findings,
    "findings_trend": quality_checks.daily_trend,
    "latest_run": quality_checks.latest_run,
    "run_summary": quality_checks.run_summary,
    "finding_record": finding_work.finding_record,
    "work_counts": finding_work.work_counts,
    "time_to_fix": finding_work.time_to_fix,
    "assignable_people": finding_work.assignable_people,
    # Read fresh on every run before: every change of a switch bumps the data version (services/access/switches.py).
    "switches": current_switches,
}


T = TypeVar("T")
_miss = threading.local()  # set by _cached's body, which runs only on a cache miss (in the calling thread)
# The data version read by this script run (its thread), with the process's commit count when it was read: one read of
# the stamp per run instead of one per query. It is read again after any commit in this process (an action run by the
# page itself), and forgotten at the start of every run (begin_run).
_run = threading.local()
_commits = itertools.count(1)
_last_commit = 0
_counted_engines: weakref.WeakSet[Engine] = weakref.WeakSet()  # the engines whose commits _count_commit counts


def _count_commit(_connection) -> None:  # noqa: ANN001 - a SQLAlchemy Connection
    global _last_commit
    _last_commit = next(_commits)


def begin_run() -> None:
    """Called first thing in every script run (dashboard/app.py) and fragment run: the next read reads the data version
    again, so a write by any process since the last run shows."""
    _run.version = None


def _timed(query: str, read: Callable, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
    engine = get_engine()  # outside the timing: the first call opens the pool and checks the schema
    started = time.perf_counter()
    try:
        return read(engine, *args, **kwargs)
    finally:
        METRICS.observe("read_query_seconds", time.perf_counter() - started, query=query)


def _run_version() -> int:
    engine = get_engine()
    if engine not in _counted_engines:  # event.contains costs ~0.1 ms: asked once per engine
        if not event.contains(engine, "commit", _count_commit):
            event.listen(engine, "commit", _count_commit)
        _counted_engines.add(engine)
    remembered = getattr(_run, "version", None)
    if remembered is not None and remembered[1] == _last_commit:
        return remembered[0]
    seen = _last_commit
    version = _timed("data_version", read_queries.data_version)
    _run.version = (version, seen)
    return version


# The cache key is the query's arguments as text (`key`): Streamlit hashes every argument not named with a leading
# underscore, and hashing a date and an EventFilter its way cost more than the query's own cache lookup (~0.25 ms a
# read). Every argument of a query is a date, datetime, number, string, None or a tuple or frozen dataclass of those,
# whose repr names it exactly.
@st.cache_data(ttl=300, max_entries=512, show_spinner=False)
def _cached(version: int, query: str, key: str, _args: tuple, _kwargs: tuple):  # noqa: ANN202 - the query's result
    _miss.flag = True
    return _timed(query, _QUERIES[query], *_args, **dict(_kwargs))


def _read(query: str, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
    version = _run_version()
    _miss.flag = False
    ordered = tuple(sorted(kwargs.items()))
    result = _cached(version, query, repr((args, ordered)), args, ordered)
    METRICS.count("cache_requests", query=query, result="miss" if _miss.flag else "hit")
    return result


@st.cache_data(ttl=300, max_entries=256, show_spinner=False)
def _derived_cached(version: int, name: str, key: str, _make: Callable[[], T]) -> T:
    return _make()


def derived(name: str, make: Callable[[], T], *key: object) -> T:
    """What `make` builds from this version's reads, made once per data version and `key` (the arguments of the reads
    it uses, and anything else it depends on; the same kinds of values as a query's arguments): for a page's parts
    that cost more to build than to fetch, such as the Calendar's month grid."""
    return _derived_cached(_run_version(), name, repr(key), make)


def now_minute() -> datetime:
    """Now, to the minute: time-relative reads stay cacheable within a minute."""
    return datetime.now().replace(second=0, microsecond=0)


def summary() -> read_queries.DatabaseSummary:
    return _read("summary")


def stores() -> pd.DataFrame:
    return _read("stores")


def store_choices() -> StoreChoices:
    """The Store list's options, labels and numbers, made once per data version rather than on every run, from the
    same cached read as stores() (a page showing both, such as the Day view of every club, read the store list twice
    after each write)."""
    return derived("store_choices", lambda: StoreChoices.of(stores()))


def switches() -> dict[str, bool]:
    return _read("switches")


def month_calendar(month: date, where: EventFilter) -> pd.DataFrame:
    return _read("month_calendar", month, where)


def day_view(day: date, where: EventFilter) -> read_queries.DayView:
    return _read("day_view", day, where)


# Reads for downloads run when the download is asked for and are not cached (an export can be large). Where a page
# lists only the first rows, its download reads every row the same filters select, up to EXPORT_ROW_LIMIT.


def day_events_for_export(day: date, where: EventFilter) -> pd.DataFrame:
    """Every event scheduled on the day (a day holds a few thousand at most: no row limit)."""
    return _timed("day_events_for_export", read_queries.day_events_for_export, day, where)


def unscheduled_events_for_export(bucket: str | None, where: EventFilter) -> pd.DataFrame:
    return _timed("unscheduled_events_for_export", read_queries.unscheduled_events, now_minute(), bucket, where,
                  limit=EXPORT_ROW_LIMIT)


def operations_for_export(status: str | None, actor: str | None, since: date | None) -> pd.DataFrame:
    return _timed("operations_for_export", read_queries.operations_frame, status=status, actor=actor, since=since,
                  limit=EXPORT_ROW_LIMIT)


def audit_for_export(actor: str | None, event_ref: int | None, since: date | None) -> pd.DataFrame:
    return _timed("audit_for_export", read_queries.audit_frame, actor=actor, event_ref=event_ref, since=since,
                  limit=EXPORT_ROW_LIMIT)


def open_findings_for_export(rule: str | None, severity: str | None, store: str | None,
                             acknowledged: bool | None, queue: str = finding_work.FindingQueue.ALL,
                             me: str | None = None) -> pd.DataFrame:
    return _timed("open_findings_for_export", quality_checks.open_findings, rule=rule, severity=severity, store=store,
                  acknowledged=acknowledged, queue=queue, me=me, now=now_minute(), limit=EXPORT_ROW_LIMIT)


def type_counts(first_day: date, last_day: date, period: str, where: EventFilter) -> pd.DataFrame:
    return _read("type_counts", first_day, last_day, period, where)


def unscheduled_buckets(where: EventFilter) -> pd.DataFrame:
    return _read("unscheduled_buckets", now_minute(), where)


def unscheduled_events(bucket: str | None, where: EventFilter) -> pd.DataFrame:
    return _read("unscheduled_events", now_minute(), bucket, where)


def week_overview(where: EventFilter) -> read_queries.WeekOverview:
    return _read("week_overview", now_minute(), where)


def operations(status: str | None, actor: str | None, since: date | None) -> pd.DataFrame:
    return _read("operations", status=status, actor=actor, since=since)


def operation_steps(operation_id: int) -> pd.DataFrame:
    return _read("operation_steps", operation_id)


def audit(actor: str | None, event_ref: int | None, since: date | None) -> pd.DataFrame:
    return _read("audit", actor=actor, event_ref=event_ref, since=since)


def employee_names(ids: Iterable[str]) -> dict[str, str]:
    """Names of the reps the journal and audit entries on screen name (read_queries.employee_names)."""
    return _read("employee_names", tuple(sorted(set(ids))))


def open_findings(rule: str | None, severity: str | None, store: str | None, acknowledged: bool | None,
                  queue: str = finding_work.FindingQueue.ALL, me: str | None = None) -> pd.DataFrame:
    return _read("open_findings", rule=rule, severity=severity, store=store, acknowledged=acknowledged,
                 queue=queue, me=me, now=now_minute())


def finding_record(finding_id: int) -> finding_work.FindingRecord:
    return _read("finding_record", finding_id)


def work_counts(me: str | None) -> finding_work.WorkCounts:
    return _read("work_counts", me, now_minute())


def time_to_fix() -> list[finding_work.WeeklyFix]:
    return _read("time_to_fix", today=now_minute().date())


def assignable_people() -> list[str]:
    return _read("assignable_people")


def findings_trend() -> pd.DataFrame:
    return _read("findings_trend")


def latest_run() -> dict | None:
    return _read("latest_run")


def run_summary(run_id: int) -> pd.DataFrame:
    return _read("run_summary", run_id)


# Batches are read uncached: a few indexed rows, and a batch that is running right now (another operator's) shows its
# progress at each rerun.


def batches(actor: str | None, since: date | None, batch_id: int | None = None) -> pd.DataFrame:
    return _timed("batches", batch_reads.batches_frame, actor=actor, since=since, batch_id=batch_id)


def batch_items(batch_id: int) -> pd.DataFrame:
    return _timed("batch_items", batch_reads.batch_items_frame, batch_id)


def operation_batches(operation_ids: Iterable[int]) -> dict[int, int]:
    return _timed("operation_batches", batch_reads.operation_batches, operation_ids)


def reps() -> pd.DataFrame:
    """Everyone a batch can name, active first (services/reads/batches.py)."""
    return _read("reps")
