"""Data-quality rules about people: who holds which events, when, and whether the work was reported (issue 21).

Set-based SQL, a few statements per rule whatever the data size, over dashboard_rep_bookings (every schedule with its
rep, start and its event's type, duration and condition, kept by triggers: services/store/rep_bookings.py) and
employees; an event is read only for a finding's label. Who may work what and the durations come from services/domain
(rep_rules, event_rules), the same tables the staffing actions check before they send anything. An event is *scheduled* when it has a schedules row and a scheduled condition
(event_rules.SCHEDULED_CONDITIONS); the row's employee is its rep and its time the event's. The rules about the future
(double booked, inactive, not qualified, time off) look from the start of today on: past days are history, not work.

Granularity, as a team lead works them: double booking is one finding per rep and day, listing the events (one problem,
solved by moving or reassigning one of them); the others are one finding per event (each is reassigned, moved or
reported on its own, and is due by its own due date). stale_sync is one finding for the database.
"""
from __future__ import annotations

from collections import defaultdict
import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from typing import NamedTuple

from sqlalchemy import Connection, Integer, String, bindparam, text

from services.actions.rep_facts import AVAILABILITY, TIME_OFF, WEEKDAYS, WEEKLY, availability_tables
from services.domain.event_rules import CORE, SCHEDULED_CONDITIONS, SUPERVISOR, EventCondition, store_key
from services.domain.rep_rules import QUALIFIED_TITLES
from services.domain.severity import CRITICAL, WARNING
from services.quality.rules import Finding, _ago, _as_datetime, _at, _Context, _event_finding, _event_label, _when
from services.store.pair_members import EPOCH, seconds_sql
from services.store.rep_bookings import DAY_SECONDS
from services.store.rep_bookings import TABLE as BOOKINGS

UNREPORTED_DAYS = 14  # how far back unreported_work looks
STALE_AFTER = timedelta(hours=24)  # stale_sync: the newest sync older than this
_CONDITIONS = sorted(SCHEDULED_CONDITIONS)
_UNREPORTED_CONDITIONS = sorted(SCHEDULED_CONDITIONS - {EventCondition.SUBMITTED})


def _seconds(moment: datetime) -> int:
    """A moment as whole seconds since EPOCH, rounded up: for a whole-second start, `starts >= moment` and
    `starts < moment` are `starts >= _seconds(moment)` and `starts < _seconds(moment)`."""
    return math.ceil((moment - EPOCH).total_seconds())


def _flagged_branches(dialect: str) -> tuple[list[str], dict[str, str]]:
    """The bookings from today on of inactive reps and of reps who may not work the event's type, one SELECT of (rep,
    ref, starts, ends, inactive, unqualified) each, with their parameters. Each is driven from employees (a few hundred)
    into ix_dashboard_rep_bookings_type: a rep's bookings of one type from today on are one short range of it, so only
    the offending bookings are read, not every booking from today on. The types and titles come from
    rep_rules.QUALIFIED_TITLES (a type not listed there may be worked by anyone; a rep without a title may work none of
    the listed ones). SQLite is held to that order by a CROSS JOIN. PostgreSQL by a LATERAL subquery it cannot flatten
    (OFFSET 0): left to itself it expects most of a type's bookings to be an unqualified rep's (about 3,900 of 4,500
    reps hold no qualifying title) and hash-joins a scan of every booking per type, 0.8 s at 1,000,000 events, where
    the 3,900 seeks find nothing (the events of a type go to the reps who may work them)."""
    def branch(employees: str, on_type: str, inactive: int) -> str:
        bookings = f"b.employee_id = p.id{on_type} AND b.starts >= :today AND b.condition IN :conditions"
        source = (f"CROSS JOIN {BOOKINGS} b ON {bookings} WHERE {employees}" if dialect == "sqlite" else
                  f"CROSS JOIN LATERAL (SELECT * FROM {BOOKINGS} b WHERE {bookings} OFFSET 0) b WHERE {employees}")
        return (f"SELECT b.employee_id AS rep, b.event_ref AS ref, b.starts, b.starts + 60 * b.minutes AS ends, "
                f"{inactive} AS inactive, {1 - inactive} AS unqualified FROM employees p {source} {{flagged_scope}}")

    branches, parameters = [branch("p.is_active = FALSE", "", 1)], {}
    for index, (kind, titles) in enumerate(QUALIFIED_TITLES.items()):
        names = []
        for number, title in enumerate(titles):
            names.append(f":title_{index}_{number}")
            parameters[f"title_{index}_{number}"] = str(title)
        parameters[f"type_{index}"] = str(kind)
        branches.append(branch(f"(p.job_title IS NULL OR p.job_title NOT IN ({', '.join(names)}))",
                               f" AND b.event_type = :type_{index}", 0))
    return branches, parameters


def _flagged_of_days(title_parameters: dict[str, str]) -> str:
    """The bookings of some reps' days (an incremental run's) of an inactive rep or of a rep who may not work the
    event's type: the days are seeks on ix_dashboard_rep_bookings_day, each booking tested against small sets of
    employees; the same judgment as _flagged_branches, which reads from the employees instead (every day from today)."""
    terms = []
    for index in range(len(QUALIFIED_TITLES)):
        names = ", ".join(f":{name}" for name in title_parameters if name.startswith(f"title_{index}_"))
        terms.append(f"(b.event_type = :type_{index} AND b.employee_id NOT IN "
                     f"(SELECT id FROM employees WHERE job_title IN ({names})))")
    return f"""SELECT rep, ref, starts, ends, inactive, unqualified FROM (
        SELECT b.employee_id AS rep, b.event_ref AS ref, b.starts, b.starts + 60 * b.minutes AS ends,
               CASE WHEN b.employee_id IN (SELECT id FROM employees WHERE is_active = FALSE) THEN 1 ELSE 0 END
                   AS inactive,
               CASE WHEN {' OR '.join(terms)} THEN 1 ELSE 0 END AS unqualified
        FROM {BOOKINGS} b
        WHERE b.day >= :today_day AND {{rep_days}} AND b.condition IN :conditions
    ) days_of_reps WHERE inactive = 1 OR unqualified = 1"""


# --- double booked, inactive, not qualified: one pass over the schedules from today on ------------------------------

# The bookings from today on are one range of ix_dashboard_rep_bookings_day, which holds every column read here in
# (day, rep, start) order. Only a rep's day with two or more events that are not Supervisors (exempt from overlaps, and
# never a CORE) can be double booked: those days are counted as the range is read (in index order, without a sort), and
# only their bookings are judged, each day a short range of the same index. An event there overlaps another when an
# earlier one ends after it starts or the next one starts before it ends. Inactive and unqualified reps' bookings are
# found from the employees (_flagged_branches). Only the offending bookings come back, with their employee and event.
_BOOKING_QUERY = """
WITH crowded AS {materialized}(
    SELECT day, employee_id FROM {bookings}
    WHERE {crowded_range} AND condition IN :conditions AND coalesce(event_type, '') <> '{supervisor}'
    GROUP BY day, employee_id HAVING count(*) > 1
), judged AS (
    SELECT b.employee_id AS rep, b.event_ref AS ref, b.event_type AS kind, b.starts, b.starts + 60 * b.minutes AS ends,
           sum(CASE WHEN b.event_type = '{core}' THEN 1 ELSE 0 END)
               OVER (day_part ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS cores,
           max(b.starts + 60 * b.minutes) OVER (day_part ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_end,
           lead(b.starts) OVER day_part AS next_start
    FROM {crowded_bookings}
    WINDOW day_part AS (PARTITION BY b.day, b.employee_id ORDER BY b.starts, b.event_ref)
), flagged AS (
    {flagged}
), offending AS (
    SELECT rep, ref, starts, ends, 1 AS double_booked, 0 AS inactive, 0 AS unqualified FROM judged
    WHERE (kind = '{core}' AND cores > 1) OR earlier_end > starts OR next_start < ends
    UNION ALL
    SELECT rep, ref, starts, ends, 0, inactive, unqualified FROM flagged
)
SELECT o.rep, p.name AS rep_name, p.job_title, o.ref, o.starts, o.ends, max(o.double_booked) AS double_booked,
       max(o.inactive) AS inactive, max(o.unqualified) AS unqualified
FROM offending o JOIN employees p ON p.id = o.rep
GROUP BY o.rep, p.name, p.job_title, o.ref, o.starts, o.ends
ORDER BY o.rep, o.starts, o.ref
"""
# The events of the offending bookings, for their labels: looked up by ref after the statement above rather than joined
# in it. PostgreSQL expects thousands of offending bookings where there are a few (see _flagged_branches) and hashed all
# 1,000,000 events for them: 1.2 s of the statement at 1,000,000 events.
_EVENTS_OF_REFS = text("""
SELECT project_ref_num AS ref, project_name, event_type, location_mvid, store_number, due_datetime AS due
FROM events WHERE project_ref_num IN :refs
""").bindparams(bindparam("refs", expanding=True))
_REFS_PER_QUERY = 1000


class _Booked(NamedTuple):
    """An offending booking with its rep and its event: what a finding about it says."""
    rep: str
    rep_name: str | None
    job_title: str | None
    ref: int
    starts: int
    ends: int
    double_booked: int
    inactive: int
    unqualified: int
    project_name: str | None
    event_type: str | None
    location_mvid: str | None
    store_number: object
    due: object


def _with_events(connection: Connection, rows: list) -> list[_Booked]:
    refs = sorted({int(row.ref) for row in rows})
    events: dict[int, tuple] = {}
    for start in range(0, len(refs), _REFS_PER_QUERY):
        for ref, *event in connection.execute(_EVENTS_OF_REFS, {"refs": refs[start:start + _REFS_PER_QUERY]}):
            events[int(ref)] = tuple(event)
    # A booking's event always exists (the triggers keep no booking without one), as the inner join said before.
    return [_Booked(*row, *events[int(row.ref)]) for row in rows if int(row.ref) in events]


def _crowded_bookings(dialect: str) -> dict[str, str]:
    """The judged bookings of the crowded rep-days, per dialect: on SQLite a join it runs as seeks of the day index. On
    PostgreSQL the crowded days are computed once (MATERIALIZED) and each is a LATERAL seek it cannot flatten (OFFSET 0):
    left to itself it hash-joined a parallel scan of all 715,000 bookings with the crowded days, each worker grouping
    them again (1.2 s of the statement at 1,000,000 events, against 0.4 s for 20,000 seeks)."""
    judged = (f"b.day = c.day AND b.employee_id = c.employee_id AND b.condition IN :conditions "
              f"AND coalesce(b.event_type, '') <> '{SUPERVISOR}'")
    if dialect == "sqlite":
        return {"materialized": "", "crowded_bookings": f"crowded c JOIN {BOOKINGS} b ON {judged}"}
    return {"materialized": "MATERIALIZED ",
            "crowded_bookings": f"crowded c CROSS JOIN LATERAL (SELECT * FROM {BOOKINGS} b WHERE {judged} OFFSET 0) b"}


def booking_findings(context: _Context) -> list[Finding]:
    """rep_double_booked, rep_inactive_with_events and rep_not_qualified, from one statement."""
    flagged, title_parameters = _flagged_branches(context.sql.dialect)
    today = _today(context)
    parameters: dict[str, object] = {**title_parameters, "today_day": today // DAY_SECONDS, "today": today,
                                     "conditions": _CONDITIONS}
    union = "\n    UNION ALL\n    ".join(flagged)

    def offending(crowded_range: str, flagged: str, lists: dict[str, list] | None = None,
                  values: dict[str, object] | None = None) -> list:
        query = text(_BOOKING_QUERY.format(bookings=BOOKINGS, core=CORE, supervisor=SUPERVISOR, crowded_range=crowded_range,
                                           flagged=flagged, **_crowded_bookings(context.sql.dialect))).bindparams(
            *(bindparam(name, expanding=True) for name in ("conditions", *(lists or {}))))
        return list(context.connection.execute(query, {**parameters, **(lists or {}), **(values or {})}))

    scope = context.scope
    if scope is None:
        rows = offending("day >= :today_day", union.format(flagged_scope=""))
    else:  # the reps' days of the scope, then every day of its reps (an employee changed), each row once
        rows = []
        if scope.rep_days:
            condition, pairs = scope.bookings_condition()
            rows += offending(f"day >= :today_day AND {condition}", _flagged_of_days(title_parameters).format(
                rep_days=scope.bookings_condition("b")[0]), values=pairs)
        if scope.reps:
            seen = {(row.rep, row.ref) for row in rows}
            rows += [row for row in offending("employee_id IN :all_days_reps AND starts >= :today",
                                              union.format(flagged_scope="AND p.id IN :all_days_reps"),
                                              {"all_days_reps": sorted(scope.reps)})
                     if (row.rep, row.ref) not in seen]
    rows = _with_events(context.connection, rows)
    wanted = context.wanted
    findings: list[Finding] = []
    double_booked: dict[tuple[str, date], list] = defaultdict(list)
    for row in rows:
        if row.double_booked:
            double_booked[(row.rep, _at(row.starts).date())].append(row)
        if row.inactive and "rep_inactive_with_events" in wanted:
            findings.append(_booking_finding(
                "rep_inactive_with_events", row,
                f"{row.rep_name} ({row.rep}) is inactive or terminated but holds {_booked(row)}: reassign the event "
                "or unschedule it."))
        if row.unqualified and "rep_not_qualified" in wanted:
            titles = " or ".join(QUALIFIED_TITLES.get(row.event_type or "", ()))
            findings.append(_booking_finding(
                "rep_not_qualified", row,
                f"{row.rep_name} ({row.rep}, {row.job_title or 'no job title'}) holds {_booked(row)}: a "
                f"{row.event_type} event needs a {titles}; reassign it."))
    if "rep_double_booked" in wanted:
        findings.extend(_double_booked_finding(rep, day, events) for (rep, day), events in double_booked.items())
    return findings


def _today(context: _Context) -> int:
    """The start of today, in seconds since EPOCH: the rules about the future look from there on."""
    return _seconds(datetime.combine(context.now.date(), time.min))


def _booked(row) -> str:  # noqa: ANN001 - a row of the booking query
    store = store_key(row.location_mvid, row.store_number)
    return f"{_event_label(row.event_type, row.ref, row.project_name, store)} {_span(row)}"


def _span(row) -> str:  # noqa: ANN001 - a row with starts and ends (seconds since EPOCH)
    return f"{_when(_at(row.starts))}–{str(_at(row.ends))[11:16]}"


def _booking_finding(rule: str, row, detail: str) -> Finding:  # noqa: ANN001 - a row of the booking query
    return _event_finding(rule, CRITICAL, row.ref, row.event_type, row.project_name,
                          store_key(row.location_mvid, row.store_number), detail, _at(row.starts).date(),
                          employee_id=row.rep, due=_as_datetime(row.due))


def _double_booked_finding(rep: str, day: date, rows: list) -> Finding:
    listing = "; ".join(_booked(row) for row in rows)
    stores = {store_key(row.location_mvid, row.store_number) for row in rows}
    detail = (f"{rows[0].rep_name} ({rep}) is double-booked on {day:%Y-%m-%d}: {listing}. A rep works at most one "
              "CORE a day and one event at a time (Supervisor events aside): move one or give it to another rep.")
    return Finding("rep_double_booked", CRITICAL, None, stores.pop() if len(stores) == 1 else None, None, None,
                   tuple(sorted(int(row.ref) for row in rows)), detail, day, rep,
                   min(_as_datetime(row.due) for row in rows))


# --- time off: the scheduler's availability tables, when present ----------------------------------------------------


def _day_seconds_sql(dialect: str, value: str, days_after: int = 0) -> str:
    """The start of a date of a table that is not ours, `days_after` days on, in seconds since EPOCH. On SQLite the
    scheduler may have stored '2026-12-10' or '2026-12-10 00:00:00': date() reads both, as services/actions/rep_facts.py
    does."""
    day = f"date({value})" if dialect == "sqlite" else f"CAST({value} AS DATE)"
    return f"({seconds_sql(dialect, day)} + {days_after * DAY_SECONDS})"


def _day_text_sql(dialect: str, value: str) -> str:
    return f"date({value})" if dialect == "sqlite" else f"CAST(CAST({value} AS DATE) AS TEXT)"


def _days_off_branches(dialect: str, present: Iterable[str]) -> list[str]:
    """One SELECT of (kind, rep, ref, starts, condition, first day, last day, reason) per table present. Time off and
    unavailable days are few: each is read with its rep's bookings of its own days, a range of
    ix_dashboard_rep_bookings_rep. A weekday off holds for every week, so that one reads the bookings from today on."""
    def day_text(value: str) -> str:
        return _day_text_sql(dialect, value)

    def bookings_of_days(days_off: str, first: str, last: str) -> str:
        """The rep's bookings from the start of `first` to the end of `last`, columns of the table `days_off`."""
        return (f"{BOOKINGS} b ON b.employee_id = {days_off}.employee_id "
                f"AND b.starts >= {_day_seconds_sql(dialect, f'{days_off}.{first}')} "
                f"AND b.starts < {_day_seconds_sql(dialect, f'{days_off}.{last}', 1)}")

    branches = []
    if TIME_OFF in present:
        branches.append(f"""
            SELECT 'time off' AS kind, b.employee_id AS rep, b.event_ref AS ref, b.starts, b.condition,
                   {day_text('t.start_date')} AS first_day, {day_text('t.end_date')} AS last_day, CAST(t.reason AS TEXT) AS reason
            FROM {TIME_OFF} t JOIN {bookings_of_days('t', 'start_date', 'end_date')}
            WHERE b.starts >= :today""")
    if AVAILABILITY in present:
        branches.append(f"""
            SELECT 'unavailable', b.employee_id, b.event_ref, b.starts, b.condition, {day_text('a."date"')},
                   {day_text('a."date"')}, CAST(a.reason AS TEXT)
            FROM {AVAILABILITY} a JOIN {bookings_of_days('a', '"date"', '"date"')}
            WHERE a.is_available = FALSE AND b.starts >= :today""")
    if WEEKLY in present:
        # WEEKDAYS runs Monday to Sunday, as days since EPOCH (a Monday) do modulo 7.
        by_weekday = " ".join(f"WHEN {index} THEN w.{name}" for index, name in enumerate(WEEKDAYS))
        branches.append(f"""
            SELECT 'weekly', b.employee_id, b.event_ref, b.starts, b.condition, NULL, NULL, NULL
            FROM {BOOKINGS} b JOIN {WEEKLY} w ON w.employee_id = b.employee_id
            WHERE b.starts >= :today AND (CASE b.day % 7 {by_weekday} END) = FALSE""")
    return branches


def time_off_findings(context: _Context) -> list[Finding]:
    """rep_time_off_conflict: one statement over the tables present (none present: no finding, no error)."""
    branches = _days_off_branches(context.sql.dialect, availability_tables(context.connection))
    if not branches:
        return []
    query = text(f"""
        WITH off AS ({' UNION ALL '.join(branches)})
        SELECT o.kind, o.rep, p.name AS rep_name, o.ref, o.starts, o.first_day, o.last_day, o.reason, e.project_name,
               e.event_type, e.location_mvid, e.store_number, e.due_datetime AS due
        FROM off o JOIN events e ON e.project_ref_num = o.ref JOIN employees p ON p.id = o.rep
        WHERE o.condition IN :conditions
        ORDER BY o.ref, o.rep, o.kind
    """).bindparams(bindparam("conditions", expanding=True))
    by_event: dict[tuple[int, str], list] = defaultdict(list)
    for row in context.connection.execute(query, {"today": _today(context), "conditions": _CONDITIONS}):
        by_event[(int(row.ref), row.rep)].append(row)
    findings = []
    for (ref, rep), rows in by_event.items():
        first = rows[0]
        at = _at(first.starts)
        store = store_key(first.location_mvid, first.store_number)
        reasons = "; ".join(dict.fromkeys(_day_off(row, at) for row in rows))
        detail = (f"{first.rep_name} ({rep}) holds {_event_label(first.event_type, ref, first.project_name, store)} "
                  f"at {_when(at)} but {reasons}: give the event to another rep or move it.")
        findings.append(_event_finding("rep_time_off_conflict", CRITICAL, ref, first.event_type, first.project_name,
                                       store, detail, at.date(), employee_id=rep, due=_as_datetime(first.due)))
    return findings


def _day_off(row, at: datetime) -> str:  # noqa: ANN001 - a row of the time-off query
    because = f" ({row.reason})" if row.reason else ""
    if row.kind == "weekly":
        return f"does not work on {at:%A}s (weekly availability)"
    if row.kind == "unavailable":
        return f"is marked unavailable that day{because}"
    return f"is on time off {str(row.first_day)[:10]} – {str(row.last_day)[:10]}{because}"


# --- unreported work and the last sync ------------------------------------------------------------------------------


def unreported_findings(context: _Context) -> list[Finding]:
    """unreported_work: events scheduled in the last UNREPORTED_DAYS days, ended before now, not Submitted (a range of
    ix_dashboard_rep_bookings_day, its days' bounds first)."""
    now = context.now
    query = f"""
        SELECT b.employee_id AS rep, p.name AS rep_name, b.event_ref AS ref, b.starts, b.condition, e.project_name,
               e.event_type, e.location_mvid, e.store_number, e.due_datetime AS due
        FROM {BOOKINGS} b JOIN events e ON e.project_ref_num = b.event_ref JOIN employees p ON p.id = b.employee_id
        WHERE b.day >= :since_day AND b.day <= :now_day AND b.starts >= :since
          AND b.starts < :now AND b.condition IN :conditions AND b.starts + 60 * b.minutes <= :ended_by {{scoped}}
    """
    since, until = _seconds(now - timedelta(days=UNREPORTED_DAYS)), _seconds(now)
    parameters = {"since_day": since // DAY_SECONDS, "now_day": until // DAY_SECONDS, "since": since, "now": until,
                  "ended_by": int((now - EPOCH).total_seconds()), "conditions": _UNREPORTED_CONDITIONS}
    lists = ["conditions"]
    scope = context.scope
    if scope is not None:
        # The scope's events and reps, what ended since the run this one builds on, and the window's first day (what
        # is about to leave it, so that an open finding that left it is resolved).
        lists += ["refs", "reps"]
        parameters.update(refs=sorted(scope.refs), reps=sorted(scope.reps), previous_now=_seconds(scope.since))
        query = query.format(scoped="AND (b.event_ref IN :refs OR b.employee_id IN :reps "
                                    "OR b.starts + 60 * b.minutes > :previous_now OR b.day = :since_day)")
    else:
        query = query.format(scoped="")
    findings = []
    # Typed: an empty list is then a typed empty IN on PostgreSQL (an untyped one compares the reps with integers).
    types: dict[str, Integer | String] = {"conditions": String(), "refs": Integer(), "reps": String()}
    for row in context.connection.execute(
            text(query).bindparams(*(bindparam(name, expanding=True, type_=types[name]) for name in lists)), parameters):
        at = _at(row.starts)
        store = store_key(row.location_mvid, row.store_number)
        detail = (f"{_event_label(row.event_type, row.ref, row.project_name, store)} was worked by {row.rep_name} "
                  f"({row.rep}) at {_when(at)} and is still {row.condition}, not Submitted: ask {row.rep_name} to "
                  "report it in Crossmark, or check its state there.")
        findings.append(_event_finding("unreported_work", WARNING, row.ref, row.event_type, row.project_name, store,
                                       detail, at.date(), employee_id=row.rep, due=_as_datetime(row.due)))
    return findings


def stale_sync_findings(context: _Context) -> list[Finding]:
    """stale_sync: the newest events.last_synced (the end of ix_dashboard_events_last_synced) older than STALE_AFTER.
    No event with a sync time (an empty database, or one the sync never ran on): nothing to call stale, no finding."""
    newest = context.connection.execute(text("SELECT max(last_synced) FROM events")).scalar()
    if newest is None:
        return []
    newest = _as_datetime(newest)
    age = context.now - newest
    if age <= STALE_AFTER:
        return []
    detail = (f"The newest sync of any event was at {_when(newest)}, {_ago(age)} ago: the data may be out of date. "
              "Check that the sync job runs (`python -m services sync`) and that Crossmark answers.")
    return [Finding("stale_sync", WARNING, None, None, None, None, (), detail, None)]
