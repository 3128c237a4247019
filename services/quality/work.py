"""Findings as owned work: who owns a finding, the conversation about it, its history, when it is due and overdue,
time to fix, and which findings to escalate.

A data-quality run (services/quality/checks.py) opens, resolves and reopens findings; this module is what people do with
them between runs (assign, comment) and what the review reads (history, overdue, time to fix). Assigning and commenting
need an operator, are counted under the account's rate limit and recorded in the audit trail in the same transaction
("assign requested", "comment requested"), like acknowledging.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import Connection, Engine, and_, false, func, insert, or_, select, text, update

from services.access.accounts import (ADMIN, DEFAULT_ACTIONS_PER_MINUTE, OPERATOR, RateLimit, active_user,
                                      rate_limited_request, require_permission)
from services.domain import input_limits
from services.errors import ActionRefused, InvalidInput, NotFound
from services.quality.notifications import FAILURE_MARK
from services.quality.rules import RULES, rule_title
from services.store.data_version import bump_data_version
from services.store.tables import CheckRun, Employee, FindingHistory, QualityFinding, UserAccount

COMMENT_MAX = input_limits.NOTE_MAX


class HistoryKind(StrEnum):
    """What happened to a finding after it was first seen (dashboard_finding_history.kind)."""
    ASSIGNED = "assigned"
    COMMENTED = "commented"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"  # its rule stopped reporting it (a run did this; actor None, or the run's requester)
    REOPENED = "reopened"  # reported again after it was resolved: a new occurrence, same finding, history kept


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: HistoryKind
    actor: str | None  # None: a data-quality run
    text: str | None

    def to_json(self) -> dict:
        return {"at": self.at.isoformat(), "kind": self.kind.value, "by": self.actor, "text": self.text}


@dataclass(frozen=True)
class Comment:
    at: datetime
    author: str
    text: str

    def to_json(self) -> dict:
        return {"at": self.at.isoformat(), "by": self.author, "text": self.text}


@dataclass(frozen=True)
class FindingRecord:
    """One finding as `check show` tells it: what it is, where it stands, and everything that happened to it."""
    id: int
    rule: str
    severity: str
    detail: str
    refs: tuple[int, ...]
    store: str | None
    employee_id: str | None
    day: date | None
    first_seen: datetime  # of the first occurrence (a reopened finding keeps it)
    occurrence_seen: datetime  # when the current (or last) occurrence was first seen
    last_seen: datetime
    resolved_at: datetime | None
    owner: str | None
    assigned_at: datetime | None
    due_by: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledgement_note: str | None
    history: tuple[HistoryEntry, ...]
    employee_name: str | None = None  # the rep's name, for people (employee_id is the scheduler's key)

    @property
    def rep(self) -> str | None:
        """The rep as people read it: "Dana Reyes (US157005)", or the id alone when the rep is gone."""
        if self.employee_id is None:
            return None
        return f"{self.employee_name} ({self.employee_id})" if self.employee_name else self.employee_id

    @property
    def title(self) -> str:
        return rule_title(self.rule)

    @property
    def state(self) -> str:
        return "resolved" if self.resolved_at is not None else "open"

    def overdue(self, now: datetime) -> bool:
        return is_overdue(self.resolved_at, self.due_by, now)

    @property
    def comments(self) -> tuple[Comment, ...]:
        return tuple(Comment(entry.at, entry.actor or "", entry.text or "") for entry in self.history
                     if entry.kind == HistoryKind.COMMENTED)

    def to_json(self, now: datetime) -> dict:
        return {"id": self.id, "rule": self.rule, "title": self.title, "severity": self.severity, "detail": self.detail,
                "refs": list(self.refs), "store": self.store, "employee_id": self.employee_id,
                "employee_name": self.employee_name,
                "day": self.day.isoformat() if self.day else None, "state": self.state,
                "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat(),
                "resolved_at": _iso(self.resolved_at), "owner": self.owner, "assigned_at": _iso(self.assigned_at),
                "due_by": _iso(self.due_by), "overdue": self.overdue(now),
                "acknowledged_by": self.acknowledged_by, "acknowledged_at": _iso(self.acknowledged_at),
                "acknowledgement_note": self.acknowledgement_note,
                "comments": [comment.to_json() for comment in self.comments],
                "history": [entry.to_json() for entry in self.history]}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def is_overdue(resolved_at: datetime | None, due_by: datetime | None, now: datetime) -> bool:
    """Open and past its due-by."""
    return resolved_at is None and due_by is not None and due_by < now


def due_by(rule: str, severity: str, opened: datetime, event_due: datetime | None) -> datetime:
    """When a finding opened at `opened` is due: its rule's SLA for its severity, or the event's due date when that
    comes first (an Unstaffed event due tomorrow cannot wait three days)."""
    spec = RULES.get(rule)
    within = spec.due_within(severity) if spec is not None else timedelta(days=7)
    deadline = opened + within
    return min(deadline, event_due) if event_due is not None else deadline


# --- what people do ------------------------------------------------------------------------------------------------


def assign(engine: Engine, finding_id: int | str, to: str, actor: str, now: datetime | None = None, *,
           actions_per_minute: int = DEFAULT_ACTIONS_PER_MINUTE) -> str:
    """Give an open finding to `to` (an active account; its canonical name is stored). Returns that name."""
    finding_id = input_limits.record_id(finding_id, "A finding id")
    to = input_limits.single_line(to, "The owner", 100)
    if not to:
        raise InvalidInput("Say who the finding goes to (--to NAME: a user of this dashboard).", field="to")
    user = _acting(engine, actor, "assign")
    owner = active_user(engine, to).username  # PermissionDenied names an unknown or disabled account
    now = (now or datetime.now()).replace(microsecond=0)
    with rate_limited_request(engine, RateLimit(actions_per_minute), user.username, "assign", now,
                              message=f"finding {finding_id} to {owner}") as connection:
        row = _open_finding(connection, finding_id)
        if row.owner == owner:
            raise ActionRefused(f"Finding {finding_id} is already assigned to {owner}.")
        connection.execute(update(QualityFinding).where(QualityFinding.id == finding_id)
                           .values(owner=owner, assigned_at=now))
        said = f"Assigned to {owner}" + (f" (was {row.owner})." if row.owner else ".")
        record_history(connection, finding_id, now, HistoryKind.ASSIGNED, user.username, said)
        bump_data_version(connection)
    return owner


def comment(engine: Engine, finding_id: int | str, comment_text: str, actor: str, now: datetime | None = None, *,
            actions_per_minute: int = DEFAULT_ACTIONS_PER_MINUTE) -> None:
    """Add a comment to a finding, open or resolved (a resolved one may still need a word on what was done)."""
    finding_id = input_limits.record_id(finding_id, "A finding id")
    said = input_limits.note(comment_text, "The comment", COMMENT_MAX)
    if not said:
        raise InvalidInput("A comment needs some text.", field="text")
    user = _acting(engine, actor, "comment")
    now = (now or datetime.now()).replace(microsecond=0)
    with rate_limited_request(engine, RateLimit(actions_per_minute), user.username, "comment", now,
                              message=f"finding {finding_id}: {said}") as connection:
        if connection.execute(select(QualityFinding.id).where(QualityFinding.id == finding_id)).first() is None:
            raise NotFound(f"No finding {finding_id}.")
        record_history(connection, finding_id, now, HistoryKind.COMMENTED, user.username, said)
        bump_data_version(connection)


def _acting(engine: Engine, actor: str, kind: str):  # noqa: ANN202 - accounts.User
    if not (actor or "").strip():
        raise ActionRefused("Say who is acting (--user NAME): every change to a finding is recorded with its author.")
    return require_permission(engine, actor, kind)


def _open_finding(connection: Connection, finding_id: int):  # noqa: ANN202 - a Row (owner, resolved_at)
    row = connection.execute(select(QualityFinding.owner, QualityFinding.resolved_at)
                             .where(QualityFinding.id == finding_id)).first()
    if row is None:
        raise NotFound(f"No finding {finding_id}.")
    if row.resolved_at is not None:
        raise ActionRefused(f"Finding {finding_id} is resolved: there is nothing to assign. It keeps its history; "
                            "if its rule reports it again it reopens with its owner.")
    return row


def record_history(connection: Connection, finding_id: int, at: datetime, kind: HistoryKind, actor: str | None,
            said: str | None, opened_at: datetime | None = None) -> None:
    connection.execute(insert(FindingHistory).values(finding_id=finding_id, at=at, kind=kind.value, actor=actor,
                                                     text=said, opened_at=opened_at))


# --- what the review reads -----------------------------------------------------------------------------------------


class Judged(NamedTuple):
    run_id: int
    at: datetime  # the run's `now` (started_at)


def last_judged(connection: Connection, before_run: int | None = None) -> dict[str, Judged]:
    """rule -> the last finished run (before `before_run`) that judged it. A run does not rewrite every open finding it
    sees again (87,000 rows a run at 1M events: seconds of index writes and table bloat on PostgreSQL): an open
    finding was last seen by the last run of its rule, and a resolved one by the last run of its rule before the one that
    resolved it, which the resolving run stores."""
    query = select(CheckRun.id, CheckRun.started_at, CheckRun.rules).where(CheckRun.status == "done")
    if before_run is not None:
        query = query.where(CheckRun.id < before_run)
    judged: dict[str, Judged] = {}
    for run_id, started_at, rules in connection.execute(query.order_by(CheckRun.id.desc()).limit(500)):
        run: Judged | None = None  # made once per run, only if it judged a rule last (not 30 times for 500 runs)
        for rule in (rules or "").split(","):
            if rule and rule not in judged:
                run = run or Judged(run_id, _moment(started_at))
                judged[rule] = run
    return judged


def seen_last(rule: str, stored: datetime, resolved: bool, judged: dict[str, Judged]) -> datetime:
    """When a finding was last seen: stored when it was resolved (or first seen since), else its rule's last run."""
    run = judged.get(rule)
    return stored if resolved or run is None else max(stored, run.at)


def finding_record(engine: Engine, finding_id: int | str) -> FindingRecord:
    finding_id = input_limits.record_id(finding_id, "A finding id")
    table = QualityFinding.__table__
    with engine.connect() as connection:
        row = connection.execute(select(table).where(table.c.id == finding_id)).mappings().first()
        if row is None:
            raise NotFound(f"No finding {finding_id}.")
        history = tuple(HistoryEntry(_moment(entry.at), HistoryKind(entry.kind), entry.actor, entry.text)
                        for entry in connection.execute(
                            select(FindingHistory.at, FindingHistory.kind, FindingHistory.actor, FindingHistory.text)
                            .where(FindingHistory.finding_id == finding_id)
                            # By time: migration 0018 backfilled every resolution before every acknowledgement.
                            .order_by(FindingHistory.at, FindingHistory.id)))
        earliest = connection.execute(select(func.min(FindingHistory.opened_at))
                                      .where(FindingHistory.finding_id == finding_id)).scalar()
        rep_name = connection.execute(select(Employee.name).where(Employee.id == row["employee_id"])).scalar() \
            if row["employee_id"] else None
        judged = last_judged(connection) if row["resolved_at"] is None else {}
    occurrence = _moment(row["first_seen"])
    first_seen = min(occurrence, _moment(earliest)) if earliest is not None else occurrence
    refs = tuple(int(ref) for ref in (row["refs"] or "").split(",") if ref.strip().isdigit())
    day = row["day"]
    return FindingRecord(
        row["id"], row["rule"], row["severity"], row["detail"], refs, row["store"], row["employee_id"],
        date.fromisoformat(day[:10]) if isinstance(day, str) else day, first_seen, occurrence,
        seen_last(row["rule"], _moment(row["last_seen"]), row["resolved_at"] is not None, judged),
        _maybe(row["resolved_at"]), row["owner"], _maybe(row["assigned_at"]),
        _maybe(row["due_by"]), row["acknowledged_by"], _maybe(row["acknowledged_at"]), row["acknowledgement_note"],
        history, rep_name)


def _moment(value: object) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def _maybe(value: object) -> datetime | None:
    return None if value is None else _moment(value)


def comments_of(connection: Connection, finding_ids: list[int]) -> dict[int, list[Comment]]:
    """The comments on these findings, oldest first (a run's JSON carries them). A run lists every open finding (87,000
    at 1,000,000 events) and few have comments: for many ids, every comment is read by the (kind, at) index and kept
    when it is about one of them, instead of 87 lookups of 1,000 ids each (0.75 s of a run at 1M)."""
    query = (select(FindingHistory.finding_id, FindingHistory.at, FindingHistory.actor, FindingHistory.text)
             .where(FindingHistory.kind == HistoryKind.COMMENTED.value).order_by(FindingHistory.id))
    if len(finding_ids) > _COMMENT_LOOKUP_IDS:
        wanted = set(finding_ids)
        rows = [row for row in connection.execute(query) if row[0] in wanted]
    else:
        rows = list(connection.execute(query.where(FindingHistory.finding_id.in_(finding_ids)))) if finding_ids else []
    found: dict[int, list[Comment]] = {}
    for finding_id, at, actor, said in rows:
        found.setdefault(finding_id, []).append(Comment(_moment(at), actor or "", said or ""))
    return found


_COMMENT_LOOKUP_IDS = 1000  # up to this many finding ids, their comments are looked up by id


def overdue_condition(now: datetime):  # noqa: ANN201 - a SQL condition on dashboard_findings
    return and_(QualityFinding.resolved_at.is_(None), QualityFinding.due_by < now)


class FindingQueue(StrEnum):
    """The review's work queues of open findings (the Data quality page's views)."""
    ALL = "all"
    MINE = "mine"
    UNASSIGNED = "unassigned"
    OVERDUE = "overdue"


QUEUE_LABELS = {FindingQueue.ALL: "All open", FindingQueue.MINE: "My findings",
                FindingQueue.UNASSIGNED: "Unassigned", FindingQueue.OVERDUE: "Overdue"}


def queue_condition(queue: FindingQueue, me: str | None, now: datetime) -> tuple:
    """The SQL conditions (on open findings) of a work queue; "mine" without a person is empty."""
    if queue == FindingQueue.MINE:
        return (QualityFinding.owner == (me or ""),) if me else (false(),)
    if queue == FindingQueue.UNASSIGNED:
        return (QualityFinding.owner.is_(None),)
    if queue == FindingQueue.OVERDUE:
        return (QualityFinding.due_by < now,)
    return ()


def assignable_people(engine: Engine) -> list[str]:
    """Who a finding can be given to: active accounts that may work findings (operators and admins)."""
    with engine.connect() as connection:
        return list(connection.execute(select(UserAccount.username).where(
            UserAccount.is_active.is_(True), UserAccount.role.in_([OPERATOR.value, ADMIN.value]))
            .order_by(UserAccount.username)).scalars())


@dataclass(frozen=True)
class WorkCounts:
    """The review's queue at a glance: open, yours, unassigned, overdue."""
    open: int
    mine: int
    unassigned: int
    overdue: int


def work_counts(engine: Engine, me: str | None, now: datetime) -> WorkCounts:
    table = QualityFinding.__table__
    is_open = table.c.resolved_at.is_(None)
    with engine.connect() as connection:
        row = connection.execute(select(
            func.count(),
            func.count().filter(table.c.owner == (me or "")),
            func.count().filter(table.c.owner.is_(None)),
            func.count().filter(table.c.due_by < now)).where(is_open)).one()
    return WorkCounts(*(int(value or 0) for value in row))


@dataclass(frozen=True)
class WeeklyFix:
    week: date  # the Monday of the week the findings were resolved in
    resolved: int
    median_days: float  # from first seen to resolved


def time_to_fix(engine: Engine, *, weeks: int = 12, today: date | None = None) -> list[WeeklyFix]:
    """Per week (Monday to Sunday) of the last `weeks`, how many findings were resolved and the median days each had
    been open, from its occurrence's first seen to its resolution (aggregated in SQL, on both databases)."""
    today = today or date.today()
    since = datetime.combine(today - timedelta(days=today.weekday() + 7 * (weeks - 1)), datetime.min.time())
    if engine.dialect.name == "postgresql":
        week = "date_trunc('week', at)::date"
        days = "extract(epoch FROM at - opened_at) / 86400.0"
    else:
        week = "date(at, 'weekday 0', '-6 days')"  # the Monday on or before `at`
        days = "julianday(at) - julianday(opened_at)"
    query = text(f"""
        WITH fixes AS (
            SELECT {week} AS week, {days} AS days FROM dashboard_finding_history
            WHERE kind = 'resolved' AND at >= :since AND opened_at IS NOT NULL
        ), ranked AS (
            SELECT week, days, row_number() OVER (PARTITION BY week ORDER BY days) AS position,
                   count(*) OVER (PARTITION BY week) AS resolved
            FROM fixes
        )
        SELECT week, max(resolved), avg(days) FROM ranked
        WHERE position IN ((resolved + 1) / 2, (resolved + 2) / 2)
        GROUP BY week ORDER BY week
    """)
    with engine.connect() as connection:
        rows = connection.execute(query, {"since": since}).all()
    return [WeeklyFix(date.fromisoformat(str(week)[:10]), int(resolved), round(float(median), 2))
            for week, resolved, median in rows]


# --- escalation ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Escalation:
    """What one run escalates: findings new at or above the notify severity, and findings overdue for their SLA, each
    once (see escalation_candidates)."""
    new: tuple[int, ...]
    overdue: tuple[int, ...]

    def __bool__(self) -> bool:
        return bool(self.new or self.overdue)


def escalation_candidates(connection: Connection, *, new_ids: list[int], severities: tuple[str, ...],
                          now: datetime, suppress: timedelta, repeat_open: bool = False,
                          overdue_severities: tuple[str, ...] | None = None) -> Escalation:
    """New findings (this run's `new_ids`, and those an earlier run failed to deliver; or every open one with
    `repeat_open`) at these severities that were not notified within the suppression window (a rule that flaps,
    resolving and reopening, is not notified again until the window has passed), and open findings overdue that were
    not notified as overdue for this occurrence, nor within the window."""
    table = QualityFinding.__table__
    quiet_since = now - suppress
    not_lately = or_(table.c.notified_at.is_(None), table.c.notified_at < quiet_since)
    new: list[int] = []
    if repeat_open:
        new = list(connection.execute(select(table.c.id).where(
            table.c.resolved_at.is_(None), table.c.severity.in_(severities))).scalars())
    else:
        for start in range(0, len(new_ids), 1000):
            new += connection.execute(select(table.c.id).where(
                table.c.id.in_(new_ids[start:start + 1000]), table.c.severity.in_(severities), not_lately)).scalars()
        new += _undelivered(connection, severities, suppress)
    overdue = list(connection.execute(select(table.c.id).where(
        overdue_condition(now), table.c.severity.in_(overdue_severities or severities),
        or_(table.c.overdue_notified_at.is_(None),
            and_(table.c.overdue_notified_at < table.c.first_seen, table.c.overdue_notified_at < quiet_since)))
        .order_by(table.c.id)).scalars())
    return Escalation(tuple(sorted(set(new))), tuple(overdue))


def _undelivered(connection: Connection, severities: tuple[str, ...], suppress: timedelta) -> list[int]:
    """Open findings whose occurrence a run found new and meant to escalate, but no channel took its message: not
    escalated since the occurrence began, nor suppressed then (escalated within the window before it)."""
    table = QualityFinding.__table__
    failed_runs = select(CheckRun.id).where(CheckRun.notification.contains(FAILURE_MARK))
    return [finding_id for finding_id, first_seen, notified_at in connection.execute(
        select(table.c.id, table.c.first_seen, table.c.notified_at).where(
            table.c.resolved_at.is_(None), table.c.severity.in_(severities), table.c.first_run_id.in_(failed_runs),
            or_(table.c.notified_at.is_(None), table.c.notified_at < table.c.first_seen)))
        if notified_at is None or _moment(notified_at) < _moment(first_seen) - suppress]


def mark_escalated(connection: Connection, escalation: Escalation, now: datetime) -> None:
    table = QualityFinding.__table__
    for ids, column in ((escalation.new, "notified_at"), (escalation.overdue, "overdue_notified_at")):
        for start in range(0, len(ids), 1000):
            connection.execute(update(table).where(table.c.id.in_(ids[start:start + 1000])).values({column: now}))
