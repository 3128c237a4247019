"""Digests layer: the weekly data-quality review and the morning readiness of today and tomorrow, as figures (set-based
SQL on both databases) and as what people read (an HTML e-mail with its plain-text part, a Slack summary).

The weekly review reads the findings and their history (services/quality/work.py) at two moments: the end of the week
and the end of the week before. A finding may have had several occurrences (it resolved and came back): each
"resolved" entry of its history is one past occurrence (from `opened_at` to `at`), and an open finding's current one
runs from its `first_seen`. A finding is *open* at a moment when one of its occurrences had begun before it and had not
ended; *new* in a week when an occurrence began in it (a reopening is new again, as a check run counts it); *resolved*
when an occurrence ended in it; *overdue* when open and past its due-by (the finding's `due_by` for its latest
occurrence; an older one is judged by its rule's SLA from when it began, as the event due date it may have had is not
kept). Rule and severity are the finding's current ones.

The morning readiness gives, for a day and the next, what stands between the clubs and a day of work done: Unstaffed
events due, COREs whose Supervisor is not scheduled, reps holding events on a day they are off, a stale sync. Each
club's readiness is ready / total of its events of the day, where the events of the day are those scheduled that day
(the Day view's) and the Unstaffed ones due that day and not yet past due (the Unscheduled page's "Due today" /
"Due tomorrow"), and an event is ready when it is scheduled, is not a CORE whose Supervisor is not scheduled, and its
rep is not off that day. Both counts come from one GROUP BY over the same rows, so 0 <= ready <= total: the figure is
never negative nor above 100 %.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from urllib.parse import quote

from sqlalchemy import Connection, DateTime, Engine, and_, bindparam, case, func, or_, select, text, union_all

from services.domain.severity import CRITICAL, SEVERITY_ORDER
from services.errors import InvalidInput
from services.quality.notifications import Notice, slack_escape
from services.quality.rules import RULES, SLA_BY_SEVERITY, Finding, rule_title, run_rules
from services.quality.work import HistoryKind, WeeklyFix, comments_of, time_to_fix
from services.reads.read_queries import stores, unscheduled_bucket_totals, unscheduled_buckets
from services.settings import Settings
from services.store.tables import Event, FindingHistory, QualityFinding

TOP_STORES = 5
OLDEST_CRITICAL = 10
LISTED_PER_SECTION = 25  # events listed per section and day in the morning digest; the counts are always whole
STALE_SYNC = timedelta(hours=24)
TIME_OFF_RULE = "rep_time_off_conflict"
DEFAULT_SLA = timedelta(days=7)  # a finding of a rule no longer defined: as work.due_by judges it


# --- what both digests show ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """A store as the pages name it: its number and name, its key (location id, else number) when the number is
    unknown."""
    key: str
    number: int | None
    name: str | None

    @property
    def label(self) -> str:
        shown = f"#{self.number}" if self.number is not None else f"location {self.key}"
        return f"{shown} · {self.name}" if self.name and self.name.strip() else shown


def _store_directory(engine: Engine) -> dict[str, Store]:
    """Every store key -> its number and name, from the pages' own store list (read_queries.stores)."""
    listing = stores(engine)
    directory: dict[str, Store] = {}
    for key, number, name in zip(listing["store"], listing["store_number"], listing["store_name"]):
        if key is not None and str(key) not in directory:
            known = number is not None and number == number  # NaN is not equal to itself: pandas' missing number
            directory[str(key)] = Store(str(key), int(number) if known else None, name if isinstance(name, str) else None)
    return directory


def _named(directory: dict[str, Store], key: str) -> Store:
    return directory.get(str(key), Store(str(key), None, None))


def _store(directory: dict[str, Store], key: str | None) -> Store | None:
    return None if key is None else _named(directory, key)


def day_link(dashboard_url: str, day: date, store: str | None = None) -> str:
    """The Day view of `day` (of one club when `store` is given), as notifications link to it."""
    return f"{dashboard_url}/day?date={day.isoformat()}" + (f"&store={quote(store, safe='')}" if store else "")


# --- the weekly review ---------------------------------------------------------------------------------------------


class WeekFigures(NamedTuple):
    open: int  # at the end of the week
    new: int
    resolved: int
    overdue: int  # open and past due at the end of the week


class RuleWeek(NamedTuple):
    rule: str
    severity: str
    this_week: WeekFigures
    last_week: WeekFigures

    @property
    def title(self) -> str:
        return rule_title(self.rule)


@dataclass(frozen=True)
class StoreFindings:
    store: Store
    open: int


@dataclass(frozen=True)
class OpenCritical:
    """One of the oldest critical findings open at the end of the week."""
    id: int
    rule: str
    detail: str
    store: Store | None
    day: date | None
    open_since: datetime
    owner: str | None
    due_by: datetime | None  # of its latest occurrence
    overdue: bool
    last_comment: str | None

    @property
    def title(self) -> str:
        return rule_title(self.rule)


@dataclass(frozen=True)
class WeeklyReview:
    week_start: date
    week_ending: date
    cut: datetime  # "the end of the week": midnight after week_ending, or now when the week is not over
    rules: tuple[RuleWeek, ...]  # per rule and severity, the most severe first
    # Time to fix is counted per calendar week (Monday to Sunday), as on the Data quality page: the review shows the
    # calendar week that holds most of its seven days (the one its middle day is in) and the week before.
    fix_week: date  # that week's Monday
    fix_this_week: WeeklyFix | None  # None: nothing resolved that week
    fix_last_week: WeeklyFix | None
    top_stores: tuple[StoreFindings, ...]
    oldest_critical: tuple[OpenCritical, ...]

    def totals(self, severity: str | None = None) -> tuple[WeekFigures, WeekFigures]:
        """This week's and last week's figures summed over the rules (of one severity, when given)."""
        chosen = [row for row in self.rules if severity is None or row.severity == severity]
        return (WeekFigures(*(sum(row.this_week[index] for row in chosen) for index in range(4))),
                WeekFigures(*(sum(row.last_week[index] for row in chosen) for index in range(4))))

    def to_json(self) -> dict:
        def fix(week: WeeklyFix | None) -> dict | None:
            return None if week is None else {"week": week.week.isoformat(), "resolved": week.resolved,
                                              "median_days": week.median_days}

        return {"week_start": self.week_start.isoformat(), "week_ending": self.week_ending.isoformat(),
                "cut": self.cut.isoformat(),
                "rules": [{"rule": row.rule, "title": row.title, "severity": row.severity,
                           "this_week": row.this_week._asdict(), "last_week": row.last_week._asdict()}
                          for row in self.rules],
                "time_to_fix": {"this_week": fix(self.fix_this_week), "last_week": fix(self.fix_last_week)},
                "top_stores": [{"store": item.store.key, "store_number": item.store.number,
                                "store_name": item.store.name, "open": item.open} for item in self.top_stores],
                "oldest_critical": [{"id": item.id, "rule": item.rule, "detail": item.detail,
                                     "store": item.store.key if item.store else None,
                                     "day": item.day.isoformat() if item.day else None,
                                     "open_since": item.open_since.isoformat(), "owner": item.owner,
                                     "due_by": item.due_by.isoformat() if item.due_by else None,
                                     "overdue": item.overdue, "last_comment": item.last_comment}
                                    for item in self.oldest_critical]}


def weekly_review(engine: Engine, *, week_ending: date | None = None, now: datetime) -> WeeklyReview:
    """The week of 7 days ending on `week_ending` (default: today) against the 7 days before."""
    week_ending = week_ending if week_ending is not None else now.date()
    if week_ending > now.date():
        raise InvalidInput(f"The week cannot end after today ({now.date().isoformat()}): "
                           f"{week_ending.isoformat()} has not happened yet.", field="week_ending")
    week_start = week_ending - timedelta(days=6)
    start = datetime.combine(week_start, time.min)
    cut = min(start + timedelta(days=7), now)
    before = start - timedelta(days=7)
    occurrence = _occurrences()
    finding = QualityFinding.__table__
    joined = occurrence.join(finding, finding.c.id == occurrence.c.finding_id)

    def open_at(moment: datetime):  # noqa: ANN202 - a SQL condition
        return and_(occurrence.c.opened < moment, or_(occurrence.c.closed.is_(None), occurrence.c.closed >= moment))

    def overdue_at(moment: datetime):  # noqa: ANN202
        latest = occurrence.c.opened == finding.c.first_seen  # its due_by is this occurrence's
        return and_(open_at(moment), or_(and_(latest, finding.c.due_by < moment),
                                         and_(~latest, occurrence.c.opened < _sla_deadline_before(moment))))

    def within(column, first: datetime, last: datetime):  # noqa: ANN001, ANN202
        return and_(column >= first, column < last)

    def count(condition):  # noqa: ANN001, ANN202 - a SQL aggregate
        return func.sum(case((condition, 1), else_=0))

    relevant = and_(occurrence.c.opened < cut, or_(occurrence.c.closed.is_(None), occurrence.c.closed >= before))
    counts = (select(finding.c.rule, finding.c.severity,
                     count(open_at(cut)), count(within(occurrence.c.opened, start, cut)),
                     count(within(occurrence.c.closed, start, cut)), count(overdue_at(cut)),
                     count(open_at(start)), count(within(occurrence.c.opened, before, start)),
                     count(within(occurrence.c.closed, before, start)), count(overdue_at(start)))
              .select_from(joined).where(relevant).group_by(finding.c.rule, finding.c.severity))
    top = (select(finding.c.store, func.count().label("open")).select_from(joined)
           .where(open_at(cut), finding.c.store.is_not(None))
           .group_by(finding.c.store).order_by(func.count().desc(), finding.c.store).limit(TOP_STORES))
    oldest = (select(finding.c.id, finding.c.rule, finding.c.detail, finding.c.store, finding.c.day,
                     occurrence.c.opened, finding.c.owner, finding.c.due_by, count(overdue_at(cut)))
              .select_from(joined).where(open_at(cut), finding.c.severity == CRITICAL.value)
              .group_by(finding.c.id, finding.c.rule, finding.c.detail, finding.c.store, finding.c.day,
                        occurrence.c.opened, finding.c.owner, finding.c.due_by)
              .order_by(occurrence.c.opened, finding.c.id).limit(OLDEST_CRITICAL))
    with engine.connect() as connection:  # one snapshot for all of it
        rows = connection.execute(counts).all()
        top_rows = connection.execute(top).all()
        oldest_rows = connection.execute(oldest).all()
        comments = comments_of(connection, [row[0] for row in oldest_rows])
    directory = _store_directory(engine) if top_rows or oldest_rows else {}
    rules = sorted((RuleWeek(rule, severity, WeekFigures(*map(int, figures[:4])), WeekFigures(*map(int, figures[4:])))
                    for rule, severity, *figures in rows if any(figures)),
                   key=lambda row: (SEVERITY_ORDER.get(row.severity, len(SEVERITY_ORDER)), row.title))
    middle = week_start + timedelta(days=3)  # its calendar week holds at least four of the review's seven days
    fix_week = middle - timedelta(days=middle.weekday())
    fixes = {fixed.week: fixed for fixed in time_to_fix(engine, weeks=2, today=middle)}
    return WeeklyReview(
        week_start, week_ending, cut, tuple(rules), fix_week, fixes.get(fix_week), fixes.get(fix_week - timedelta(days=7)),
        tuple(StoreFindings(_named(directory, key), int(number)) for key, number in top_rows),
        tuple(OpenCritical(finding_id, rule, detail, _store(directory, store), _as_day(day), _as_moment(opened), owner,
                           _as_moment(due) if due is not None else None, bool(overdue),
                           comments[finding_id][-1].text if comments.get(finding_id) else None)
              for finding_id, rule, detail, store, day, opened, owner, due, overdue in oldest_rows))


def _occurrences():  # noqa: ANN202 - a subquery (finding_id, opened, closed)
    """Every occurrence of every finding: the past ones from the history's "resolved" entries, the current one of each
    open finding from the finding itself (closed NULL)."""
    history, finding = FindingHistory.__table__, QualityFinding.__table__
    return union_all(
        select(history.c.finding_id.label("finding_id"), history.c.opened_at.label("opened"),
               history.c.at.label("closed"))
        .where(history.c.kind == HistoryKind.RESOLVED.value, history.c.opened_at.is_not(None)),
        select(finding.c.id, finding.c.first_seen, finding.c.resolved_at).where(finding.c.resolved_at.is_(None)),
    ).subquery("occurrence")


def _sla_deadline_before(moment: datetime):  # noqa: ANN202 - a SQL expression
    """The moment before which an occurrence must have begun to be past its rule's SLA at `moment` (per rule and
    severity; rule.due_within)."""
    finding = QualityFinding.__table__
    own = [(finding.c.rule == name, moment - spec.sla) for name, spec in RULES.items() if spec.sla is not None]
    by_severity = [(and_(finding.c.rule.in_(list(RULES)), finding.c.severity == severity), moment - within)
                   for severity, within in SLA_BY_SEVERITY.items()]
    return case(*own, *by_severity, else_=moment - DEFAULT_SLA)


def _as_moment(value: object) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def _as_day(value: object) -> date | None:
    """A finding's day: SQLite hands back the stored text, PostgreSQL a date."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- the morning readiness -----------------------------------------------------------------------------------------


class SupervisorGap(NamedTuple):
    """A CORE scheduled on the day whose Supervisor is not scheduled, with the Day view's Supervisor state."""
    ref: int
    name: str
    at: datetime
    store: Store | None
    rep: str | None
    state: str  # missing, unstaffed, ambiguous (two or more of either at its number and store), inactive


class UnstaffedDue(NamedTuple):
    ref: int
    name: str
    event_type: str
    store: Store | None
    due: datetime


class DayOff(NamedTuple):
    """An event held by a rep on a day they are off (a finding of rep_time_off_conflict)."""
    refs: tuple[int, ...]
    store: Store | None
    employee_id: str | None
    detail: str


class ClubReadiness(NamedTuple):
    store: Store
    events: int  # scheduled that day + Unstaffed due that day (not past due)
    ready: int
    unstaffed_due: int
    supervisor_gaps: int
    rep_off: int

    @property
    def scheduled(self) -> int:
        return self.events - self.unstaffed_due

    @property
    def percent(self) -> int:
        """Ready as a whole percentage, rounded down (100 only when every event is ready); 0..100."""
        return self.ready * 100 // self.events if self.events else 100


@dataclass(frozen=True)
class ReadinessDay:
    day: date
    unstaffed_due: int
    unstaffed_listed: tuple[UnstaffedDue, ...]  # the first LISTED_PER_SECTION, soonest due first
    supervisor_gaps: int
    supervisor_listed: tuple[SupervisorGap, ...]
    days_off: tuple[DayOff, ...]
    clubs: tuple[ClubReadiness, ...]  # the least ready first

    @property
    def scheduled(self) -> int:
        return sum(club.scheduled for club in self.clubs)

    @property
    def events(self) -> int:
        return sum(club.events for club in self.clubs)

    @property
    def ready(self) -> int:
        return sum(club.ready for club in self.clubs)


@dataclass(frozen=True)
class MorningReadiness:
    day: date
    now: datetime
    days: tuple[ReadinessDay, ReadinessDay]  # the day and the next
    past_due: int  # Unstaffed events already past due now (the Unscheduled page's "Past due")
    newest_sync: datetime | None

    @property
    def sync_stale(self) -> bool:
        return self.newest_sync is None or self.now - self.newest_sync > STALE_SYNC

    def to_json(self) -> dict:
        def store(value: Store | None) -> dict | None:
            return None if value is None else {"store": value.key, "store_number": value.number,
                                               "store_name": value.name}

        return {"day": self.day.isoformat(), "now": self.now.isoformat(), "past_due": self.past_due,
                "newest_sync": self.newest_sync.isoformat() if self.newest_sync else None,
                "sync_stale": self.sync_stale,
                "days": [{"day": one.day.isoformat(), "events": one.events, "ready": one.ready,
                          "unstaffed_due": one.unstaffed_due,
                          "unstaffed_listed": [{"ref": e.ref, "name": e.name, "event_type": e.event_type,
                                                "store": store(e.store), "due": e.due.isoformat()}
                                               for e in one.unstaffed_listed],
                          "supervisor_gaps": one.supervisor_gaps,
                          "supervisor_listed": [{"ref": g.ref, "name": g.name, "at": g.at.isoformat(),
                                                 "store": store(g.store), "rep": g.rep, "state": g.state}
                                                for g in one.supervisor_listed],
                          "days_off": [
                              {"refs": list(off.refs), "store": store(off.store), "employee_id": off.employee_id,
                               "detail": off.detail} for off in one.days_off],
                          "clubs": [{**(store(club.store) or {}), "events": club.events, "ready": club.ready,
                                     "percent": club.percent, "scheduled": club.scheduled,
                                     "unstaffed_due": club.unstaffed_due, "supervisor_gaps": club.supervisor_gaps,
                                     "rep_off": club.rep_off} for club in one.clubs]}
                         for one in self.days]}


# The day's scheduled events (the Day view's: every schedules row of the two days), each CORE with its Supervisor's
# state as services/domain/pairing.match_supervisors decides it, here in SQL over the trigger-kept pairing members
# (one index range per CORE's key): no key or no Supervisor is missing; two or more COREs or Supervisors at the key
# are ambiguous; else the one Supervisor is scheduled, Unstaffed, or neither (inactive).
_DAY_EVENTS = """
WITH scheduled AS (
    SELECT s.event_ref_num AS ref, s.schedule_datetime AS at, e.event_type, e.project_name, s.employee_id,
           coalesce(e.location_mvid, CAST(e.store_number AS TEXT)) AS store, m.num, m.store AS key_store
    FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num
    LEFT JOIN dashboard_pair_members m ON m.ref = s.event_ref_num
    WHERE s.schedule_datetime >= :start AND s.schedule_datetime < :end
), day_events AS (
    SELECT sc.ref, sc.at, sc.event_type, sc.project_name, sc.employee_id, sc.store,
           CASE WHEN sc.at < :second_day THEN 0 ELSE 1 END AS slot,
           CASE WHEN sc.event_type = 'Core' THEN
               CASE WHEN sc.num IS NULL THEN 'missing' ELSE (
                   SELECT CASE WHEN sum(CASE WHEN k.event_type = 'Supervisor' THEN 1 ELSE 0 END) = 0 THEN 'missing'
                               WHEN sum(CASE WHEN k.event_type = 'Supervisor' THEN 1 ELSE 0 END) > 1
                                    OR sum(CASE WHEN k.event_type = 'Core' THEN 1 ELSE 0 END) > 1 THEN 'ambiguous'
                               WHEN max(CASE WHEN k.event_type = 'Supervisor' THEN k.at END) IS NOT NULL
                                    THEN 'scheduled'
                               WHEN max(CASE WHEN k.event_type = 'Supervisor' THEN k.unstaffed END) = 1
                                    THEN 'unstaffed'
                               ELSE 'inactive' END
                   FROM dashboard_pair_members k WHERE k.num = sc.num AND k.store = sc.key_store) END
           END AS supervisor
    FROM scheduled sc
)
"""

# Per club and day: the scheduled events and the Unstaffed ones still due, each ready or not, counted in one GROUP BY.
_READINESS = _DAY_EVENTS + """
, population AS (
    SELECT slot, store, 0 AS unstaffed, CASE WHEN supervisor <> 'scheduled' THEN 1 ELSE 0 END AS gap,
           CASE WHEN ref IN :off THEN 1 ELSE 0 END AS off
    FROM day_events
    UNION ALL
    SELECT CASE WHEN due_datetime < :second_day THEN 0 ELSE 1 END, coalesce(location_mvid, CAST(store_number AS TEXT)),
           1, 0, 0
    FROM events WHERE condition = 'Unstaffed' AND due_datetime >= :due_from AND due_datetime < :end
)
SELECT slot, store, count(*), sum(CASE WHEN unstaffed = 0 AND gap = 0 AND off = 0 THEN 1 ELSE 0 END),
       sum(unstaffed), sum(gap), sum(off)
FROM population GROUP BY slot, store
"""

_SUPERVISOR_GAPS = _DAY_EVENTS + """
SELECT d.ref, d.project_name, d.at, d.store, p.name, d.supervisor
FROM day_events d LEFT JOIN employees p ON p.id = d.employee_id
WHERE d.slot = :slot AND d.supervisor <> 'scheduled'
ORDER BY d.at, d.ref LIMIT :listed
"""

_UNSTAFFED_DUE = """
SELECT project_ref_num, project_name, coalesce(event_type, 'Other'), coalesce(location_mvid, CAST(store_number AS TEXT)),
       due_datetime
FROM events WHERE condition = 'Unstaffed' AND due_datetime >= :due_from AND due_datetime < :due_to
ORDER BY due_datetime, project_ref_num LIMIT :listed
"""

def _query(sql: str, datetimes: tuple[str, ...], expanding: tuple[str, ...] = ()):  # noqa: ANN202 - a TextClause
    """`sql` with its datetime parameters typed (SQLite compares the stored text) and its lists expanding."""
    return text(sql).bindparams(*(bindparam(name, type_=DateTime()) for name in datetimes),
                                *(bindparam(name, expanding=True) for name in expanding))


_WINDOW = ("start", "end", "second_day")


def morning_readiness(engine: Engine, settings: Settings, *, day: date, now: datetime) -> MorningReadiness:
    """What stands between the clubs and `day` and the next day being worked, as of `now` (naive local time)."""
    if day < now.date():
        raise InvalidInput(f"The morning readiness looks ahead: {day.isoformat()} is before today "
                           f"({now.date().isoformat()}).", field="day")
    days = (day, day + timedelta(days=1))
    start = datetime.combine(day, time.min)
    second_day, end = start + timedelta(days=1), start + timedelta(days=2)
    with engine.connect() as connection:  # one snapshot
        days_off = _days_off(connection, settings, now, days)
        off_refs = sorted({ref for found in days_off.values() for finding in found for ref in finding.refs})
        clubs = club_readiness(connection, day, now, off_refs)
        window = {"start": start, "end": end, "second_day": second_day}
        gaps = [connection.execute(_query(_SUPERVISOR_GAPS, _WINDOW),
                                   {**window, "slot": slot, "listed": LISTED_PER_SECTION}).all() for slot in (0, 1)]
        unstaffed = [connection.execute(_query(_UNSTAFFED_DUE, ("due_from", "due_to")), {
            "due_from": max(datetime.combine(one, time.min), now), "due_to": datetime.combine(one, time.min)
            + timedelta(days=1), "listed": LISTED_PER_SECTION}).all() for one in days]
        newest_sync = connection.execute(select(func.max(Event.last_synced))).scalar()
    past_due = int(unscheduled_bucket_totals(unscheduled_buckets(engine, now))["Past due"])
    directory = _store_directory(engine)
    readiness_days = []
    for slot, one in enumerate(days):
        clubs_of_day = sorted((club._replace(store=_named(directory, club.store.key)) for club in clubs[one]),
                              key=lambda club: (club.percent, -club.events, club.store.label))
        readiness_days.append(ReadinessDay(
            one, sum(club.unstaffed_due for club in clubs_of_day),
            tuple(UnstaffedDue(int(ref), name, event_type, _store(directory, store), _as_moment(due))
                  for ref, name, event_type, store, due in unstaffed[slot]),
            sum(club.supervisor_gaps for club in clubs_of_day),
            tuple(SupervisorGap(int(ref), name, _as_moment(at), _store(directory, store), rep, state)
                  for ref, name, at, store, rep, state in gaps[slot]),
            tuple(
                DayOff(finding.refs, _store(directory, finding.store), finding.employee_id, finding.detail)
                for finding in days_off[one]),
            tuple(clubs_of_day)))
    return MorningReadiness(day, now, (readiness_days[0], readiness_days[1]), past_due,
                            _as_moment(newest_sync) if newest_sync is not None else None)


def club_readiness(connection: Connection, day: date, now: datetime, off_refs: list[int]
                   ) -> dict[date, list[ClubReadiness]]:
    """Each club's readiness on `day` and the next, as of `now`, the events in `off_refs` held by a rep who is off
    (stores by their key only): one GROUP BY over the day's events."""
    start = datetime.combine(day, time.min)
    rows = connection.execute(_query(_READINESS, (*_WINDOW, "due_from"), ("off",)), {
        "start": start, "second_day": start + timedelta(days=1), "end": start + timedelta(days=2),
        # an Unstaffed event already past due is no longer the day's work (the digest counts it apart)
        "due_from": max(start, now), "off": off_refs}).all()
    clubs: dict[date, list[ClubReadiness]] = {day: [], day + timedelta(days=1): []}
    for slot, store, events, ready, unstaffed_due, gap, off in rows:
        clubs[day + timedelta(days=int(slot))].append(ClubReadiness(
            Store(str(store), None, None), int(events), int(ready), int(unstaffed_due), int(gap), int(off)))
    return clubs


def _days_off(connection: Connection, settings: Settings, now: datetime, days: tuple[date, ...]
              ) -> dict[date, list[Finding]]:
    """The findings of rep_time_off_conflict on these days, per day (the rule's logic, not a copy of it)."""
    found: dict[date, list[Finding]] = {one: [] for one in days}
    for finding in run_rules(connection, now=now, rule=settings.supervisor_rule, names=[TIME_OFF_RULE]):
        if finding.day in found:
            found[finding.day].append(finding)
    return found


# --- what people read: plain text, HTML e-mail, Slack ---------------------------------------------------------------
# Every string from the data (event, store and rep names, details, comments, owners) is escaped where it is placed:
# html.escape in the HTML, slack_escape in Slack; the plain text carries it as it is (no markup to escape from).

Digest = WeeklyReview | MorningReadiness
_STAMP = "%Y-%m-%d %H:%M"
_FIGURES = ("open", "new", "resolved", "overdue")


def _span(review: WeeklyReview) -> str:
    return f"{review.week_start:%a %b %d} – {review.week_ending:%a %b %d, %Y}"


def _fix(week: WeeklyFix | None) -> str:
    return f"{week.median_days:g} days ({week.resolved} resolved)" if week is not None else "nothing resolved"


def _cut_note(review: WeeklyReview) -> str:
    if review.cut.date() > review.week_ending:
        return "at the end of the week"
    return f"as of {review.cut:{_STAMP}} (the week is not over)"


def _days_phrase(readiness: MorningReadiness) -> str:
    first, second = readiness.days
    return f"{first.day:%a %b %d} and {second.day:%a %b %d, %Y}"


def _percent(ready: int, events: int) -> str:
    return f"{ready * 100 // events} %" if events else "—"


def _sync_note(readiness: MorningReadiness) -> str:
    if readiness.newest_sync is None:
        return "No event was ever synced from Crossmark: the figures may be out of date."
    when = f"{readiness.newest_sync:{_STAMP}}"
    if readiness.sync_stale:
        return f"STALE: the newest sync from Crossmark is {when}, more than 24 hours ago; the figures may be out of date."
    return f"Last sync from Crossmark: {when}."


def subject(digest: Digest) -> str:
    if isinstance(digest, WeeklyReview):
        this, last = digest.totals()
        return (f"[field events] weekly data-quality review {digest.week_start:%b %d}–{digest.week_ending:%b %d}: "
                f"{this.open} open, {this.new} new, {this.resolved} resolved, {this.overdue} overdue")
    first = digest.days[0]
    return (f"[field events] morning readiness {first.day:%a %b %d}: {first.ready} of {first.events} events ready"
            + (", sync STALE" if digest.sync_stale else ""))


def render_text(digest: Digest, dashboard_url: str) -> str:
    """The plain-text part of the e-mail, and what the CLI prints."""
    return _weekly_text(digest, dashboard_url) if isinstance(digest, WeeklyReview) else \
        _morning_text(digest, dashboard_url)


def _weekly_text(review: WeeklyReview, dashboard_url: str) -> str:
    this, last = review.totals()
    lines = [f"Weekly data-quality review: {_span(review)}, against the 7 days before.",
             f"Open and overdue {_cut_note(review)}.", "",
             f"{'':<10}{'this week':>11}{'last week':>11}"]
    lines += [f"{name.capitalize():<10}{this[index]:>11}{last[index]:>11}" for index, name in enumerate(_FIGURES)]
    lines += ["", "By rule and severity (this week / last week):"]
    if not review.rules:
        lines.append("  no findings in these two weeks")
    for row in review.rules:
        figures = "  ".join(f"{name} {row.this_week[index]}/{row.last_week[index]}"
                            for index, name in enumerate(_FIGURES))
        lines.append(f"  {row.severity:<9} {row.title:<44} {figures}")
    lines += ["", "Time to fix (median days from first seen to resolved):",
              f"  week of {review.fix_week:%b %d}: {_fix(review.fix_this_week)}; "
              f"week before: {_fix(review.fix_last_week)}",
              "", "Stores with the most open findings:"]
    lines += [f"  {item.store.label}: {item.open}" for item in review.top_stores] or ["  none"]
    lines += ["", "Oldest open critical findings:"]
    if not review.oldest_critical:
        lines.append("  none")
    for item in review.oldest_critical:
        due = f"due {item.due_by:{_STAMP}}" if item.due_by is not None else "no due-by"
        lines.append(f"  Finding {item.id} · {item.title} · open since {item.open_since:{_STAMP}} · "
                     f"owner {item.owner or 'nobody'} · {due}" + (" · OVERDUE" if item.overdue else ""))
        lines.append(f"    {item.detail}")
        if item.last_comment:
            lines.append(f"    Last comment: {item.last_comment}")
        where = [item.store.label] if item.store else []
        if item.day is not None:
            where.append(f"day {item.day.isoformat()}: {day_link(dashboard_url, item.day)}")
        if where:
            lines.append("    " + " · ".join(where))
    lines += ["", f"Review: {dashboard_url}/data_quality"]
    return "\n".join(lines)


def _morning_text(readiness: MorningReadiness, dashboard_url: str) -> str:
    lines = [f"Morning readiness: {_days_phrase(readiness)} (as of {readiness.now:{_STAMP}}).", _sync_note(readiness),
             f"Unstaffed events already past due: {readiness.past_due}.", "",
             "Readiness of a club = its events of the day that are ready / all its events of the day: scheduled, no "
             "CORE without a scheduled Supervisor, the rep not off; Unstaffed events due that day count as not ready."]
    for one in readiness.days:
        lines += ["", f"== {one.day:%A %b %d}: {one.ready} of {one.events} events ready ({_percent(one.ready, one.events)})"]
        lines.append("Clubs (least ready first):" if one.clubs else "No events scheduled or due at any club.")
        for club in one.clubs:
            lines.append(f"  {club.store.label}: {club.ready}/{club.events} ready ({club.percent} %) · "
                         f"{club.unstaffed_due} Unstaffed due · {club.supervisor_gaps} CORE(s) without a scheduled "
                         f"Supervisor · {club.rep_off} held by a rep who is off · "
                         f"{day_link(dashboard_url, one.day, club.store.key)}")
        lines.append(f"Unstaffed events due: {one.unstaffed_due}")
        lines += [f"  {event.due:%H:%M} {event.event_type} {event.ref} {event.name} · "
                  f"{event.store.label if event.store else '?'}" for event in one.unstaffed_listed]
        lines += _more(one.unstaffed_due, len(one.unstaffed_listed))
        lines.append(f"COREs whose Supervisor is not scheduled: {one.supervisor_gaps}")
        lines += [f"  {gap.at:%H:%M} CORE {gap.ref} {gap.name} · {gap.store.label if gap.store else '?'} · rep "
                  f"{gap.rep or '?'} · Supervisor {gap.state}" for gap in one.supervisor_listed]
        lines += _more(one.supervisor_gaps, len(one.supervisor_listed))
        lines.append(f"Reps on time off holding events: {len(one.days_off)}")
        lines += [f"  {off.detail}" for off in one.days_off[:LISTED_PER_SECTION]]
        lines += _more(len(one.days_off), min(len(one.days_off), LISTED_PER_SECTION))
        lines.append(f"Day view: {day_link(dashboard_url, one.day)}")
    return "\n".join(lines)


def _more(total: int, listed: int) -> list[str]:
    return [f"  … and {total - listed} more (see the Day view)"] if total > listed else []


# HTML: one self-contained e-mail, inline styles only (mail programs drop <style> and never run scripts), tables for
# layout, no image or font fetched from anywhere.
_FONT = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
_SEVERITY_COLOURS = {"critical": ("#b42318", "#fee4e2"), "warning": ("#b54708", "#fef0c7"),
                     "info": ("#175cd3", "#d1e9ff")}
_CELL = "padding:6px 8px;border-bottom:1px solid #eaecf0;vertical-align:top;font-size:13px;color:#101828"
_HEAD = "padding:6px 8px;border-bottom:2px solid #d0d5dd;text-align:left;font-size:12px;color:#475467;font-weight:600"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _link(url: str, label: str) -> str:
    return f'<a href="{_e(url)}" style="color:#175cd3;text-decoration:none">{_e(label)}</a>'


def _badge(severity: str) -> str:
    colour, background = _SEVERITY_COLOURS.get(severity, ("#344054", "#f2f4f7"))
    return (f'<span style="display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;'
            f'color:{colour};background:{background}">{_e(severity.capitalize())}</span>')


def _table(headers: list[str], rows: list[list[str]], numeric: frozenset[int] = frozenset(),
           nowrap: frozenset[int] = frozenset()) -> str:
    """A table of cells already in HTML (escape the data before); columns in `numeric` right-aligned, those in
    `numeric` and `nowrap` kept on one line."""
    def align(index: int) -> str:
        return (";text-align:right" if index in numeric else "") + (
            ";white-space:nowrap" if index in numeric | nowrap else "")

    head = "".join(f'<th style="{_HEAD}{align(index)};white-space:nowrap">{_e(header)}</th>'
                   for index, header in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td style="{_CELL}{align(index)}">{cell}</td>' for index, cell in enumerate(row))
                   + "</tr>" for row in rows)
    return (f'<table role="presentation" cellspacing="0" cellpadding="0" style="border-collapse:collapse;width:100%;'
            f'margin:4px 0 12px">{"<tr>" + head + "</tr>"}{body}</table>')


def _tiles(tiles: list[tuple[str, str, str]]) -> str:
    """A row of figures: (label, the figure, a line under it), each already in HTML."""
    cells = "".join(
        f'<td style="padding:4px;width:{100 // len(tiles)}%"><div style="border:1px solid #eaecf0;border-radius:8px;'
        f'padding:10px 12px;background:#fcfcfd"><div style="font-size:12px;color:#475467">{label}</div>'
        f'<div style="font-size:24px;font-weight:700;color:#101828;line-height:1.3">{figure}</div>'
        f'<div style="font-size:12px;color:#667085">{under}</div></div></td>' for label, figure, under in tiles)
    return f'<table role="presentation" cellspacing="0" cellpadding="0" style="width:100%"><tr>{cells}</tr></table>'


def _section(title: str) -> str:
    return f'<h2 style="font-size:16px;color:#101828;margin:20px 0 6px">{_e(title)}</h2>'


def _note(text_html: str, colour: str = "#475467") -> str:
    return f'<p style="font-size:13px;color:{colour};margin:4px 0 8px">{text_html}</p>'


def _page(title: str, subtitle: str, body: str, dashboard_url: str, footer_link: tuple[str, str]) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title></head>'
            f'<body style="margin:0;padding:0;background:#f2f4f7;{_FONT}">'
            f'<table role="presentation" cellspacing="0" cellpadding="0" style="width:100%;background:#f2f4f7">'
            f'<tr><td style="padding:24px 12px"><table role="presentation" cellspacing="0" cellpadding="0" '
            f'style="max-width:760px;width:100%;margin:0 auto;background:#ffffff;border-radius:12px;'
            f'border:1px solid #eaecf0"><tr><td style="padding:24px 28px">'
            f'<div style="font-size:12px;color:#667085;text-transform:uppercase;letter-spacing:.06em">Field events</div>'
            f'<h1 style="font-size:22px;color:#101828;margin:4px 0 2px">{_e(title)}</h1>'
            f'<div style="font-size:14px;color:#475467;margin-bottom:12px">{subtitle}</div>{body}'
            f'<p style="font-size:13px;margin:20px 0 0">{_link(*footer_link)}</p>'
            f'</td></tr></table><p style="text-align:center;font-size:11px;color:#98a2b3;margin:12px 0 0">'
            f'Sent by the field-event ops dashboard ({_e(dashboard_url)})</p></td></tr></table></body></html>')


def render_html(digest: Digest, dashboard_url: str) -> str:
    """The digest as a self-contained HTML e-mail (also what `digest ... --out FILE.html` writes)."""
    return _weekly_html(digest, dashboard_url) if isinstance(digest, WeeklyReview) else \
        _morning_html(digest, dashboard_url)


def _change(this: int, last: int, more_is_better: bool) -> str:
    """How a figure moved since last week, green when for the better, red when for the worse."""
    if this == last:
        return _e(f"same as last week ({last:,})")
    colour = "#067647" if (this > last) == more_is_better else "#b42318"
    arrow = "▲" if this > last else "▼"
    return f'<span style="color:{colour}">{_e(f"{arrow} {abs(this - last):,} from {last:,} last week")}</span>'


def _weekly_html(review: WeeklyReview, dashboard_url: str) -> str:
    this, last = review.totals()
    body = [_tiles([(name.capitalize(), f"{this[index]:,}", _change(this[index], last[index], name == "resolved"))
                    for index, name in enumerate(_FIGURES)]),
            _note(_e(f"Open and overdue {_cut_note(review)}; new and resolved during the week."))]
    body.append(_section("By rule and severity"))
    if review.rules:
        def pair(now_value: int, before: int) -> str:
            return f'<b>{now_value:,}</b> <span style="color:#98a2b3">/ {before:,}</span>'

        body.append(_table(["Rule", "Severity", "Open", "New", "Resolved", "Overdue"],
                           [[_e(row.title), _badge(row.severity),
                             *(pair(row.this_week[index], row.last_week[index]) for index in range(4))]
                            for row in review.rules], numeric=frozenset({2, 3, 4, 5})))
        body.append(_note("Each figure: this week / last week."))
    else:
        body.append(_note("No findings in these two weeks."))
    body.append(_section("Time to fix"))
    body.append(_table(["Week", "Median days from first seen to resolved"],
                       [[_e(f"Week of {review.fix_week:%b %d}"), _e(_fix(review.fix_this_week))],
                        [_e(f"Week of {review.fix_week - timedelta(days=7):%b %d}"), _e(_fix(review.fix_last_week))]]))
    body.append(_section("Stores with the most open findings"))
    body.append(_table(["Store", "Open findings"], [[_e(item.store.label), f"{item.open:,}"]
                                                     for item in review.top_stores], numeric=frozenset({1}))
                if review.top_stores else _note("No open finding names a store."))
    body.append(_section("Oldest open critical findings"))
    if review.oldest_critical:
        rows = []
        for item in review.oldest_critical:
            due = "—" if item.due_by is None else _e(f"{item.due_by:%b %d %H:%M}")
            if item.overdue:
                due = f'<span style="color:#b42318;font-weight:600">{due}<br>overdue</span>'
            what = f"<b>{_e(item.title)}</b><br>{_e(item.detail)}"
            if item.last_comment:
                what += f'<br><span style="color:#475467">Last comment: {_e(item.last_comment)}</span>'
            rows.append([_e(f"{item.open_since:%b %d %H:%M}"), what, _e(item.store.label) if item.store else "—",
                         _e(item.owner or "nobody"), due,
                         _link(day_link(dashboard_url, item.day), f"{item.day:%b %d}") if item.day else "—"])
        body.append(_table(["Open since", "Finding", "Store", "Owner", "Due", "Day"], rows,
                           nowrap=frozenset({0, 4, 5})))
    else:
        body.append(_note("No critical finding is open."))
    return _page("Weekly data-quality review", _e(f"{_span(review)}, against the 7 days before"), "".join(body),
                 dashboard_url, (f"{dashboard_url}/data_quality", "Open the Data quality page"))


def _bar(percent: int) -> str:
    colour = "#12b76a" if percent >= 90 else "#f79009" if percent >= 60 else "#f04438"
    return (f'<div style="background:#eaecf0;border-radius:4px;height:8px;width:110px;display:inline-block;'
            f'vertical-align:middle"><div style="background:{colour};width:{percent}%;height:8px;border-radius:4px">'
            f'</div></div> <b>{percent} %</b>')


def _morning_html(readiness: MorningReadiness, dashboard_url: str) -> str:
    body = [_note(_e(_sync_note(readiness)), "#b42318" if readiness.sync_stale else "#475467")]
    if readiness.sync_stale:
        body[0] = (f'<div style="border:1px solid #fda29b;background:#fef3f2;border-radius:8px;padding:8px 12px;'
                   f'margin:8px 0">{body[0]}</div>')
    body.append(_note(_e(f"Unstaffed events already past due: {readiness.past_due:,}. A club's readiness is its "
                         "events of the day that are ready (scheduled, no CORE without a scheduled Supervisor, the "
                         "rep not off) out of all of them, the Unstaffed ones due that day included.")))
    for one in readiness.days:
        body.append(_section(f"{one.day:%A, %B %d}"))
        off = (f"{len(one.days_off):,}", "time off or unavailable")
        body.append(_tiles([("Ready", _e(_percent(one.ready, one.events)), _e(f"{one.ready:,} of {one.events:,} events")),
                            ("Unstaffed due", f"{one.unstaffed_due:,}", "not yet past due"),
                            ("CORE without Supervisor", f"{one.supervisor_gaps:,}", "Supervisor not scheduled"),
                            ("Reps off holding events", off[0], off[1])]))
        if one.clubs:
            body.append(_table(["Club", "Readiness", "Ready", "Unstaffed due", "No Supervisor", "Rep off", "Day view"],
                               [[_e(club.store.label), _bar(club.percent), f"{club.ready:,} / {club.events:,}",
                                 f"{club.unstaffed_due:,}", f"{club.supervisor_gaps:,}", f"{club.rep_off:,}",
                                 _link(day_link(dashboard_url, one.day, club.store.key), "Open")]
                                for club in one.clubs], numeric=frozenset({2, 3, 4, 5}), nowrap=frozenset({1, 6})))
        else:
            body.append(_note("No events scheduled or due at any club."))
        if one.unstaffed_listed:
            body.append(_note(f"<b>Unstaffed, due {_e(f'{one.day:%a %b %d}')}</b>", "#101828"))
            body.append(_table(["Due", "Type", "Event", "Store"],
                               [[_e(f"{event.due:%H:%M}"), _e(event.event_type), _e(f"{event.ref} · {event.name}"),
                                 _e(event.store.label) if event.store else "—"] for event in one.unstaffed_listed]))
            body += [_note(_e(line.strip())) for line in _more(one.unstaffed_due, len(one.unstaffed_listed))]
        if one.supervisor_listed:
            body.append(_note("<b>COREs whose Supervisor is not scheduled</b>", "#101828"))
            body.append(_table(["CORE at", "Event", "Store", "Rep", "Supervisor"],
                               [[_e(f"{gap.at:%H:%M}"), _e(f"{gap.ref} · {gap.name}"),
                                 _e(gap.store.label) if gap.store else "—", _e(gap.rep or "?"), _e(gap.state)]
                                for gap in one.supervisor_listed]))
            body += [_note(_e(line.strip())) for line in _more(one.supervisor_gaps, len(one.supervisor_listed))]
        if one.days_off:
            body.append(_note("<b>Reps on time off holding events</b>", "#101828"))
            body.append(_table(["Store", "What"], [[_e(off.store.label) if off.store else "—", _e(off.detail)]
                                                   for off in one.days_off[:LISTED_PER_SECTION]]))
    first = readiness.days[0].day
    return _page("Morning readiness", _e(f"{_days_phrase(readiness)} · as of {readiness.now:%H:%M}"), "".join(body),
                 dashboard_url, (day_link(dashboard_url, first), f"Open the Day view of {first:%a %b %d}"))


def slack_summary(digest: Digest, dashboard_url: str) -> str:
    """A few lines for Slack (mrkdwn): the headline figures and links, the data escaped with slack_escape."""
    return _weekly_slack(digest, dashboard_url) if isinstance(digest, WeeklyReview) else \
        _morning_slack(digest, dashboard_url)


def _slack_link(url: str, label: str) -> str:
    return f"<{url}|{slack_escape(label)}>"


def _weekly_slack(review: WeeklyReview, dashboard_url: str) -> str:
    this, last = review.totals()
    critical, critical_before = review.totals(CRITICAL)
    lines = [f"*Weekly data-quality review* · {slack_escape(_span(review))}",
             " · ".join(f"{name.capitalize()} *{this[index]:,}* ({last[index]:,})" for index, name in enumerate(_FIGURES))
             + " _(last week in brackets)_",
             f"Critical open: *{critical.open:,}* ({critical_before.open:,})",
             f"Time to fix, week of {review.fix_week:%b %d}: {_fix(review.fix_this_week)}; "
             f"week before: {_fix(review.fix_last_week)}"]
    if review.top_stores:
        lines.append("Most open findings: " + ", ".join(f"{slack_escape(item.store.label)} ({item.open:,})"
                                                       for item in review.top_stores))
    if review.oldest_critical:
        oldest = review.oldest_critical[0]
        label = f"finding {oldest.id}, {oldest.title}, open since {oldest.open_since:%b %d}"
        lines.append("Oldest critical: " + (_slack_link(day_link(dashboard_url, oldest.day), label) if oldest.day
                                            else slack_escape(label)))
    lines.append(_slack_link(f"{dashboard_url}/data_quality", "Open the Data quality page"))
    return "\n".join(lines)


def _morning_slack(readiness: MorningReadiness, dashboard_url: str) -> str:
    lines = [f"*Morning readiness* · {slack_escape(_days_phrase(readiness))}"]
    if readiness.sync_stale:
        lines.append(f":warning: {slack_escape(_sync_note(readiness))}")
    for one in readiness.days:
        off = f"{len(one.days_off):,}"
        lines.append(f"*{one.day:%a %b %d}*: {one.ready:,} of {one.events:,} events ready "
                     f"({_percent(one.ready, one.events)}) · {one.unstaffed_due:,} Unstaffed due · "
                     f"{one.supervisor_gaps:,} CORE(s) without a scheduled Supervisor · reps off holding events: {off}")
        least = [club for club in one.clubs if club.ready < club.events][:3]
        if least:
            lines.append("Least ready: " + ", ".join(
                _slack_link(day_link(dashboard_url, one.day, club.store.key), club.store.label)
                + f" {club.percent} % ({club.ready}/{club.events})" for club in least))
    lines.append(f"Unstaffed already past due: {readiness.past_due:,}")
    return "\n".join(lines)


def notice(digest: Digest, dashboard_url: str) -> Notice:
    """The digest to deliver: e-mail with plain text and HTML, Slack with the summary."""
    return Notice(subject(digest), render_text(digest, dashboard_url), render_html(digest, dashboard_url),
                  slack_summary(digest, dashboard_url))
