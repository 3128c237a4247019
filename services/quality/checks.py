"""Data-quality runs layer: run the rules, keep each finding's history across runs, acknowledge, notify.

A finding's identity is its rule plus the events involved, so the same problem seen again is the same finding:
first seen, last seen, resolved when a run of its rule no longer reports it, reopened (as new) if it comes back.
"""
from __future__ import annotations

import gc
import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, datetime, timedelta
from typing import Callable, Iterable, NamedTuple, Sequence

import pandas as pd
from sqlalchemy import Connection, Engine, bindparam, case, func, insert, select, text, update

from services.domain import input_limits
from services.domain.severity import SEVERITY_ORDER
from services.access.accounts import DEFAULT_ACTIONS_PER_MINUTE, RateLimit, rate_limited_request, require_permission
from services.store.data_version import bump_data_version
from services.errors import ActionRefused, CheckAlreadyRunning, InvalidInput, NotFound
from services.quality.fingerprints import BUCKETS, Cell, Fingerprints, bucket_of, changed_cells, fingerprints_of
from services.quality.fingerprints import store as store_fingerprints
from services.quality.notifications import compose, deliver
from services.quality.incremental import (MAX_CHANGES, OPEN_COLUMNS_AFTER_ID, baseline, complete_rules,
                                          open_findings_in_scope, plan)
from services.quality.rules import RULES, Finding, rule_title, run_rules
from services.quality.scope import Scope
from services.quality.work import (Comment, Escalation, FindingQueue, HistoryKind, Judged, comments_of, due_by,
                                   escalation_candidates, last_judged, mark_escalated, queue_condition,
                                   record_history, seen_last)
from services.reads.read_queries import rows_frame
from services.settings import Settings
from services.store.check_changes import consume, read_changes
from services.store.database import begin_write
from services.store.inserted import inserted_id
from services.store.tables import AuditEntry, CheckRun, FindingHistory, QualityFinding, RunRuleCount

# PostgreSQL advisory lock (two-key form) held while a data-quality run works: this class with the hash of the schema the
# run works in. Advisory locks are database-wide, so two deployments in different schemas of one database (staging and
# production, or parallel test workers) must not take turns: each schema has its own lock.
ADVISORY_LOCK_CLASS = 82_604_106
RUN_LOCK_SQL = "SELECT pg_try_advisory_lock(:lock_class, hashtext(current_schema()))"
RUN_UNLOCK_SQL = "SELECT pg_advisory_unlock(:lock_class, hashtext(current_schema()))"
_BATCH = 5000
_OPEN_FINDINGS = text(f"SELECT identity, id, {OPEN_COLUMNS_AFTER_ID} FROM dashboard_findings "
                      "WHERE rule IN :names AND resolved_at IS NULL").bindparams(bindparam("names", expanding=True))


class FindingView(NamedTuple):  # a named tuple: one per open finding (82,000 at 1,000,000 events), cheap to make
    id: int
    rule: str
    severity: str
    event_number: str | None
    store: str | None
    core_ref: int | None
    supervisor_ref: int | None
    detail: str
    day: date | None
    first_seen: datetime
    acknowledged: bool
    is_new: bool
    refs: tuple[int, ...] = ()
    employee_id: str | None = None
    owner: str | None = None
    due_by: datetime | None = None

    def to_json(self, comments: Sequence[Comment] = ()) -> dict:
        return {"id": self.id, "rule": self.rule, "severity": self.severity, "event_number": self.event_number,
                "store": self.store, "refs": list(self.refs), "core_ref": self.core_ref,
                "supervisor_ref": self.supervisor_ref, "employee_id": self.employee_id, "detail": self.detail,
                "day": self.day.isoformat() if self.day else None, "first_seen": self.first_seen.isoformat(),
                "owner": self.owner, "due_by": self.due_by.isoformat() if self.due_by else None,
                "acknowledged": self.acknowledged, "new": self.is_new,
                "comments": [comment.to_json() for comment in comments]}


@dataclass(frozen=True)
class CheckRunResult:
    run_id: int
    started_at: datetime
    rules: tuple[str, ...]
    new: int
    resolved: int
    notification: str | None
    # Open findings of the run's rules per (rule, severity) after it: in a full run those of `findings`; an incremental
    # run lists in `findings` only what it judged again, and counts every open finding here.
    open_counts: dict[tuple[str, str], int]
    incremental: bool
    full_because: str | None  # an incremental run was asked for and could not be: why (a full run was made)
    # The findings as the caller reads them, made when first asked for: a run stores everything without them, and
    # 87,000 of them at 1,000,000 events (with their comments) take a tenth of a full run that cron does not read.
    _listing: Callable[[], list[FindingView]] = field(repr=False, compare=False)
    _comments_of: Callable[[list[int]], dict[int, list[Comment]]] = field(repr=False, compare=False)

    @cached_property
    def findings(self) -> list[FindingView]:
        return self._listing()

    @cached_property
    def comments(self) -> dict[int, list[Comment]]:
        """finding id -> its comments, oldest first."""
        return self._comments_of([finding.id for finding in self.findings])

    @property
    def open_findings(self) -> int:
        return sum(self.open_counts.values())

    def to_json(self) -> dict:
        return {"run_id": self.run_id, "started_at": self.started_at.isoformat(), "incremental": self.incremental,
                "full_because": self.full_because, "new": self.new, "resolved": self.resolved,
                "open_findings": self.open_findings,
                "open_by_rule": [{"rule": rule, "severity": severity, "open": count}
                                 for (rule, severity), count in sorted(self.open_counts.items())],
                "notification": self.notification,
                "findings": [finding.to_json(self.comments.get(finding.id, ())) for finding in self.findings]}


def identity_of(finding: Finding) -> str:
    """Rule + events. A finding about a rep also names the rep (two reps can hold the same events: a reassigned event
    is another rep's problem); a rule with one finding for the whole database is the rule alone."""
    refs = ",".join(str(ref) for ref in finding.refs)
    if refs:
        value = f"{finding.rule}:{refs}"
    elif finding.rule in RULES and RULES[finding.rule].one_finding:
        value = finding.rule
    else:
        value = f"{finding.rule}:{finding.event_number}@{finding.store}:{finding.detail}"
    if finding.employee_id is not None:
        value = f"{value}@{finding.employee_id}"
    return value if len(value) <= 255 else f"{finding.rule}:sha1:{hashlib.sha1(value.encode()).hexdigest()}"


def parse_rule_names(raw: str | None) -> list[str] | None:
    if raw is None or not raw.strip():
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = [name for name in names if name not in RULES]
    if unknown:
        raise InvalidInput(f"Unknown rule(s): {', '.join(unknown)}. Rules: {', '.join(RULES)}.")
    return names


def run_check(engine: Engine, settings: Settings, *, rules: Iterable[str] | None = None, triggered_by: str = "cli",
              notify: bool = False, crossmark_client=None, now: datetime | None = None,  # noqa: ANN001
              progress: Callable[[int, int, str], None] | None = None, actor: str | None = None,
              incremental: bool = False) -> CheckRunResult:
    """One data-quality run. With `actor` (a person asking, e.g. on the Data quality page) the run needs the
    run_checks permission, is recorded under the account's canonical name and counts under its rate limit
    (settings.actions_per_minute); without one (cron, the CLI) it is recorded as `triggered_by`.

    `incremental`: judge again only what changed since the last complete run (services/quality/incremental.py), with
    the same findings a full run would store; when that is not possible a full run is made and the result says why.
    Only a run of every rule can be incremental."""
    user = require_permission(engine, actor, "run_checks") if actor is not None else None
    names = list(rules) if rules is not None else list(RULES)
    unknown = [name for name in names if name not in RULES]
    if unknown:
        raise InvalidInput(f"Unknown rule(s): {', '.join(unknown)}. Rules: {', '.join(RULES)}.")
    if crossmark_client is None and "crossmark_drift" in names:
        if rules is not None:
            raise InvalidInput("crossmark_drift needs Crossmark: set CROSSMARK_BASE_URL (the sandbox is not compared).")
        names.remove("crossmark_drift")  # only when Crossmark is configured (the caller passes a client)
    if incremental and not complete_rules(names):
        raise InvalidInput("An incremental run judges every rule: leave out --rules (or run them in full).")
    now = (now or datetime.now()).replace(microsecond=0)
    with engine.connect() as lock_connection:
        if engine.dialect.name == "postgresql":
            got = lock_connection.execute(text(RUN_LOCK_SQL), {"lock_class": ADVISORY_LOCK_CLASS}).scalar()
            lock_connection.commit()
            if not got:
                raise CheckAlreadyRunning("Another data-quality run is in progress; this one did not start.")
        try:
            return _run_locked(engine, settings, names, user.username if user else triggered_by, notify,
                               crossmark_client, now, progress, counted=user is not None, incremental=incremental)
        finally:
            if engine.dialect.name == "postgresql":
                lock_connection.execute(text(RUN_UNLOCK_SQL), {"lock_class": ADVISORY_LOCK_CLASS})
                lock_connection.commit()


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a run makes its findings. A run at 1,000,000 events allocates
    hundreds of thousands of tuples that live until it ends; each allocation burst sets off a full collection that walks
    all of them again (about 1 s of a 5 s run, measured). The findings hold no reference cycles, so reference counting
    still frees everything; the collector is switched back on afterwards, unless it was already off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _run_locked(engine: Engine, settings: Settings, names: list[str], triggered_by: str, notify: bool,
                crossmark_client, now: datetime, progress, counted: bool = False,  # noqa: ANN001
                incremental: bool = False) -> CheckRunResult:
    # A run asked for by a person is counted under the rate limit in the transaction that records it.
    opening = rate_limited_request(engine, RateLimit(settings.actions_per_minute), triggered_by, "run_checks", now,
                                   message=",".join(names)) if counted else begin_write(engine)
    supervisor_rule = settings.supervisor_rule.describe()[:200]
    with opening as connection:
        run_id = inserted_id(connection.execute(insert(CheckRun).values(
            started_at=now, status="running", rules=",".join(names), triggered_by=triggered_by,
            supervisor_rule=supervisor_rule)))
    complete = complete_rules(names)
    scope, full_because = None, None
    try:
        with _without_cyclic_gc():
            with engine.connect() as connection:  # one snapshot: the change log first, then the rules
                # A complete run consumes the change log rows it read (a partial one leaves them: it did not judge
                # every rule). The log is read before the rules: a write after it is left for the next run.
                changes = read_changes(connection, MAX_CHANGES if incremental else None) if complete else None
                if incremental and changes is not None:
                    planned = plan(connection, changes, baseline(connection, supervisor_rule), now)
                    scope, full_because = (planned, None) if isinstance(planned, Scope) else (None, planned)
                    if scope is None:  # a full run after all: it consumes the whole log, not the rows planned over
                        changes = read_changes(connection, None)
                findings = run_rules(connection, now=now, rule=settings.supervisor_rule, names=names,
                                     crossmark_client=crossmark_client, progress=progress, scope=scope,
                                     ordered=False, beside=engine)
            if progress is not None:
                progress(1, 1, "saving the findings")
            merged = _merge(engine, run_id, names, findings, now, triggered_by, scope,
                            changes.sequence_numbers if changes is not None else [])
    except Exception as error:
        with begin_write(engine) as connection:
            connection.execute(update(CheckRun).where(CheckRun.id == run_id).values(
                status="failed", finished_at=datetime.now().replace(microsecond=0),
                error=f"{type(error).__name__}: {error}"[:2000]))
        raise
    listing = _once(merged.views)
    notification = None
    if notify:
        notification = _notify(engine, settings, run_id, listing(), now)

    def comments(ids: list[int]) -> dict[int, list[Comment]]:
        with engine.connect() as connection:
            return comments_of(connection, ids)
    return CheckRunResult(run_id, now, tuple(names), merged.new, merged.resolved, notification, merged.open_counts,
                          scope is not None, full_because, listing, comments)


def _once(make: Callable[[], list[FindingView]]) -> Callable[[], list[FindingView]]:
    made: list[list[FindingView]] = []

    def listing() -> list[FindingView]:
        if not made:
            made.append(make())
        return made[0]
    return listing


class _Merged(NamedTuple):
    views: Callable[[], list[FindingView]]  # makes the listing (only if asked for)
    new: int
    resolved: int
    open_counts: dict[tuple[str, str], int]


def _merge(engine: Engine, run_id: int, names: list[str], findings: list[Finding], now: datetime, triggered_by: str,
           scope: Scope | None = None, consumed: Sequence[int] = ()) -> _Merged:
    """One transaction: upsert every finding by identity, resolve the open ones of these rules not seen, count, and
    delete the change log rows the run read (`consumed`).

    A full run reads the open findings of the rules it merges (at 1,000,000 events up to 87,000 of them), not those of
    the rules whose fingerprint says nothing changed; an incremental one (`scope`) only those in its scope, and resolves
    only those. Of the resolved history only the rows whose identity is reported
    again are looked up, so the run does not slow down as the history grows."""
    reported = {identity_of(finding): finding for finding in findings}
    table = QualityFinding.__table__
    with begin_write(engine) as connection:
        # A full run merges finding by finding only the cells of its rules whose fingerprint differs from the stored
        # one (services/quality/fingerprints.py); in the others nothing is new, resolved or changed.
        fingerprints: Fingerprints | None = None
        merged: set[Cell] = set()
        if scope is not None:  # an incremental run: what is in its scope
            current = reported
            # Untyped (text): the driver's values as they are, not each timestamp parsed by SQLAlchemy's SQLite
            # processors (0.5 s at 1M); the few read further are parsed below (_as_moment, _as_day).
            open_rows = open_findings_in_scope(connection, scope, names, now)
        else:
            fingerprints = fingerprints_of(reported, names)
            merged = changed_cells(connection, fingerprints)
            buckets = fingerprints.buckets
            current = {identity: finding for identity, finding in reported.items()
                       if (finding.rule, buckets[identity]) in merged}
            open_rows = _open_rows_of_cells(connection, merged)
        unseen = [identity for identity in current if identity not in open_rows]
        resolved_rows: dict[str, tuple] = {}  # identity -> (id, owner, first_seen, resolved_at) of one reported again
        for start in range(0, len(unseen), _BATCH):
            for row in connection.execute(text(
                    f"SELECT identity, id, owner, first_seen, resolved_at, {OPEN_COLUMNS_AFTER_ID} "
                    "FROM dashboard_findings WHERE identity IN :identities").bindparams(
                        bindparam("identities", expanding=True)), {"identities": unseen[start:start + _BATCH]}):
                if row[4] is None:  # open, outside an incremental run's scope: seen again, as it is
                    open_rows[row[0]] = (row[1], *row[5:])
                else:
                    resolved_rows[row[0]] = tuple(row[1:5])
        unseen = [identity for identity in unseen if identity not in open_rows]
        # New findings get their ids in the rules' order, each rule's by refs (the findings come unsorted: run_rules
        # ordered=False), as people read them: finding 1 of a first run is the first rule's first finding.
        unseen.sort(key=lambda identity: (_RULE_ORDER.get(current[identity].rule, len(_RULE_ORDER)),
                                          current[identity].refs, current[identity].detail))
        inserts, reopen, changed, reopened_history = [], [], [], []
        for identity in unseen:
            finding = current[identity]
            values = {"severity": finding.severity, "detail": finding.detail, "day": finding.day,
                      "last_seen": now, "last_run_id": run_id,
                      "due_by": due_by(finding.rule, finding.severity, now, finding.due),
                      "bucket": fingerprints.buckets[identity] if fingerprints is not None else bucket_of(identity)}
            if identity in resolved_rows:  # it came back: a new occurrence, not acknowledged any more; owner kept
                finding_id, _, first_seen, resolved_at = resolved_rows[identity]
                reopen.append({"_id": finding_id, **values, **_placing(finding), "first_seen": now,
                               "first_run_id": run_id,
                               "resolved_at": None, "acknowledged_by": None, "acknowledged_at": None,
                               "acknowledgement_note": None})
                reopened_history.append({"finding_id": finding_id, "at": now, "kind": HistoryKind.REOPENED.value,
                                         "actor": None, "opened_at": None,
                                         "text": f"Reported again by run {run_id} (it was first seen "
                                                 f"{_as_moment(first_seen):%Y-%m-%d %H:%M} and resolved "
                                                 f"{_as_moment(resolved_at):%Y-%m-%d %H:%M})."})
            else:
                inserts.append({"identity": identity, "rule": finding.rule, "event_number": finding.event_number,
                                "store": finding.store, "core_ref": finding.core_ref,
                                "supervisor_ref": finding.supervisor_ref, "refs": ",".join(map(str, finding.refs)),
                                "employee_id": finding.employee_id, "first_seen": now, "first_run_id": run_id,
                                **values})
        for identity, (finding_id, severity, detail, day, *_, number, store, core_ref, supervisor_ref) in \
                open_rows.items():
            again = current.get(identity)
            if again is not None and (severity != again.severity or detail != again.detail
                                      or _as_day(day) != again.day or number != again.event_number
                                      or store != again.store or core_ref != again.core_ref
                                      or supervisor_ref != again.supervisor_ref):
                changed.append({"_id": finding_id, "severity": again.severity, "detail": again.detail,
                                "day": again.day, **_placing(again)})
        gone = [row[0] for identity, row in open_rows.items() if identity not in current]
        # A resolved finding was last seen by its rule's last run before this one (runs do not rewrite the open
        # findings they see again: work.last_judged).
        judged = last_judged(connection, before_run=run_id)
        gone_by_rule: dict[str, list[int]] = {}
        for identity, open_row in open_rows.items():
            if identity not in current:
                gone_by_rule.setdefault(_rule_of(identity), []).append(open_row[0])
        for rule, ids in gone_by_rule.items():
            seen = judged.get(rule)
            values = {"resolved_at": now} if seen is None else {"resolved_at": now, "last_seen": seen.at,
                                                               "last_run_id": seen.run_id}
            for start in range(0, len(ids), _BATCH):
                connection.execute(update(table).where(table.c.id.in_(ids[start:start + _BATCH])).values(values))
        # Each resolution says so in the finding's history (with when this occurrence was first seen: time to fix)
        # and in the audit trail; each reopening in the history.
        resolved_history = [{"finding_id": row[0], "at": now, "kind": HistoryKind.RESOLVED.value, "actor": None,
                             "text": f"Its rule no longer reports it (run {run_id}).", "opened_at": _as_moment(row[4])}
                            for identity, row in open_rows.items() if identity not in current]
        for rows in (resolved_history, reopened_history):
            for start in range(0, len(rows), _BATCH):
                connection.execute(insert(FindingHistory), rows[start:start + _BATCH])
        audit = [{"at": now, "actor": triggered_by, "operation_id": None, "event_ref": None,
                  "action": "finding resolved", "before": None, "after": None,
                  "message": f"finding {row[0]} ({rule_title(_rule_of(identity))}) resolved by run {run_id}"}
                 for identity, row in open_rows.items() if identity not in current]
        for start in range(0, len(audit), _BATCH):
            connection.execute(insert(AuditEntry), audit[start:start + _BATCH])
        inserted: dict[str, int] = {}  # identity -> id of the new rows (RETURNING: no read-back of every finding)
        for start in range(0, len(inserts), _BATCH):
            inserted.update((identity, finding_id) for finding_id, identity in connection.execute(
                insert(table).returning(table.c.id, table.c.identity), inserts[start:start + _BATCH]))
        for batch, columns in ((reopen, ("severity", "detail", "day", "last_seen", "last_run_id", "first_seen",
                                         "first_run_id", "resolved_at", "acknowledged_by", "acknowledged_at",
                                         "acknowledgement_note", "bucket", *_PLACING)),
                               (changed, ("severity", "detail", "day", *_PLACING))):
            statement = update(table).where(table.c.id == bindparam("_id")).values(
                {column: bindparam(column) for column in columns})
            for start in range(0, len(batch), _BATCH):
                connection.execute(statement, batch[start:start + _BATCH])
        new_identities = set(unseen)  # inserted, or reopened (its acknowledgement was cleared)
        if scope is None:
            counts = Counter((f.rule, f.severity) for f in reported.values())
        else:  # what the last runs of these rules counted, and what this one changed
            severities = {identity: row[1] for identity, row in open_rows.items()}
            counts = _carried_counts(connection, names, run_id, judged, [
                *(((current[identity].rule, current[identity].severity), 1) for identity in unseen),
                *(((_rule_of(identity), severity), -1) for identity, severity in severities.items()
                  if identity not in current),
                *(change for identity, severity in severities.items()
                  if identity in current and current[identity].severity != severity
                  for change in (((_rule_of(identity), severity), -1), ((_rule_of(identity),
                                                                          current[identity].severity), 1)))])
        new_counts = Counter((current[identity].rule, current[identity].severity) for identity in unseen)
        if counts:
            connection.execute(insert(RunRuleCount), [
                {"run_id": run_id, "rule": rule, "severity": severity, "open_findings": count,
                 "new_findings": new_counts[(rule, severity)]} for (rule, severity), count in counts.items()])
        connection.execute(update(CheckRun).where(CheckRun.id == run_id).values(
            status="done", finished_at=datetime.now().replace(microsecond=0), findings=sum(counts.values()),
            new_findings=len(new_identities), resolved_findings=len(gone), incremental=scope is not None))
        if fingerprints is not None:
            _fill_buckets(connection, merged)
            # After the run's own writes, whose triggers deleted the fingerprints of the cells they touched.
            store_fingerprints(connection, run_id, fingerprints, merged)
        consume(connection, list(consumed))
        bump_data_version(connection)

    def views() -> list[FindingView]:
        """The listing: the open rows of the cells not merged are read only now, when someone asks for it."""
        if fingerprints is not None and len(merged) < len(fingerprints.cells):
            with engine.connect() as reading:
                open_rows.update({identity: row for identity, row in _open_rows(reading, names).items()
                                  if identity not in open_rows})
        return _views(reported, new_identities, inserted, resolved_rows, open_rows, now)
    return _Merged(views, len(new_identities), len(gone), dict(counts))


def _open_rows(connection: Connection, names: Sequence[str]) -> dict[str, tuple]:
    """identity -> (id, OPEN_COLUMNS_AFTER_ID...) of the open findings of these rules."""
    if not names:
        return {}
    return {row[0]: row[1:] for row in connection.execute(_OPEN_FINDINGS, {"names": list(names)})}


_OPEN_FINDINGS_OF_BUCKETS = text(
    f"SELECT identity, id, {OPEN_COLUMNS_AFTER_ID} FROM dashboard_findings "
    "WHERE rule = :rule AND bucket IN :buckets AND resolved_at IS NULL").bindparams(
        bindparam("buckets", expanding=True))


def _open_rows_of_cells(connection: Connection, cells: set[Cell]) -> dict[str, tuple]:
    """The open findings of these cells: a rule all of whose cells are merged is read whole (with the findings that
    have no bucket yet: only a rule whose every fingerprint is gone can have them, see fingerprints.py), the others a
    few cells at a time from ix_dashboard_findings_cell."""
    by_rule: dict[str, list[int]] = {}
    for rule, bucket in sorted(cells):
        by_rule.setdefault(rule, []).append(bucket)
    whole = [rule for rule, buckets in by_rule.items() if len(buckets) == BUCKETS]
    rows = _open_rows(connection, whole)
    for rule, buckets in by_rule.items():
        if len(buckets) < BUCKETS:
            rows.update((row[0], row[1:]) for row in connection.execute(
                _OPEN_FINDINGS_OF_BUCKETS, {"rule": rule, "buckets": buckets}))
    return rows


def _fill_buckets(connection: Connection, cells: set[Cell]) -> None:
    """Give the open findings without a bucket theirs (those written before migration 0024, or by another program): they
    are only in rules merged whole."""
    rules = sorted({rule for rule, _ in cells})
    if not rules:
        return
    missing = connection.execute(text(
        "SELECT id, identity FROM dashboard_findings WHERE rule IN :rules AND bucket IS NULL AND resolved_at IS NULL"
    ).bindparams(bindparam("rules", expanding=True)), {"rules": rules}).all()
    table = QualityFinding.__table__
    statement = update(table).where(table.c.id == bindparam("_id")).values(bucket=bindparam("bucket"))
    for start in range(0, len(missing), _BATCH):
        connection.execute(statement, [{"_id": finding_id, "bucket": bucket_of(identity)}
                                       for finding_id, identity in missing[start:start + _BATCH]])


def _views(current: dict[str, Finding], new_identities: set[str], inserted: dict[str, int],
           resolved_rows: dict[str, tuple], open_rows: dict[str, tuple], now: datetime) -> list[FindingView]:
    """The run's findings as the caller reads them, most severe first."""
    views = []
    for identity, finding in current.items():
        if identity in new_identities:
            finding_id, first_seen, acknowledged = inserted.get(identity) or resolved_rows[identity][0], now, False
            owner = resolved_rows[identity][1] if identity in resolved_rows else None
            due = due_by(finding.rule, finding.severity, now, finding.due)
        else:
            row = open_rows.get(identity)
            if row is None:  # resolved by another run since (the listing is read when first asked for)
                continue
            finding_id, _, _, _, first_seen, acknowledged_by, owner, due, *_ = row
            acknowledged = acknowledged_by is not None
        views.append(FindingView(finding_id, finding.rule, finding.severity, finding.event_number, finding.store,
                                 finding.core_ref, finding.supervisor_ref, finding.detail, finding.day,
                                 _as_moment(first_seen), acknowledged, identity in new_identities, finding.refs,
                                 finding.employee_id, owner, _as_moment(due) if due is not None else None))
    # Refs and rep last: a rule's findings come in the order its queries gave them (run_rules(ordered=False)).
    views.sort(key=lambda v: (SEVERITY_ORDER[v.severity], v.rule, v.detail, v.refs, v.employee_id or ""))
    return views


_RULE_ORDER = {name: index for index, name in enumerate(RULES)}
_PLACING = ("event_number", "store", "core_ref", "supervisor_ref")  # where a finding is: its key and the events' roles


def _placing(finding: Finding) -> dict:
    return {"event_number": finding.event_number, "store": finding.store, "core_ref": finding.core_ref,
            "supervisor_ref": finding.supervisor_ref}


def _carried_counts(connection: Connection, names: list[str], run_id: int, judged: dict[str, Judged],
                    changes: list[tuple[tuple[str, str], int]]) -> Counter:
    """Open findings per (rule, severity) after an incremental run: what each rule's last run counted, plus what this
    run opened, resolved and moved between severities. Only runs open or resolve findings, so that is exact, and it
    costs a few rows instead of a count of every open finding (130 ms on PostgreSQL at 1M events, where the partial
    index is not read alone on a table every run writes). Counted in SQL when a rule has no run to carry from.
    `judged`: work.last_judged before this run, as the merge read it."""
    if any(name not in judged for name in names):
        return _open_counts(connection, names)
    counts: Counter = Counter()
    runs = sorted({judged[name].run_id for name in names})
    for run_of, rule, severity, count in connection.execute(
            select(RunRuleCount.run_id, RunRuleCount.rule, RunRuleCount.severity, RunRuleCount.open_findings)
            .where(RunRuleCount.run_id.in_(runs), RunRuleCount.rule.in_(names))):
        if judged[rule].run_id == run_of:
            counts[(rule, severity)] += int(count)
    for key, step in changes:
        counts[key] += step
    return Counter({key: count for key, count in counts.items() if count > 0})


def _open_counts(connection: Connection, names: list[str]) -> Counter:
    """Open findings of these rules per (rule, severity), counted in SQL (an incremental run did not read them all)."""
    return Counter({(rule, severity): int(count) for rule, severity, count in connection.execute(text(
        "SELECT rule, severity, count(*) FROM dashboard_findings WHERE resolved_at IS NULL AND rule IN :names "
        "GROUP BY rule, severity").bindparams(bindparam("names", expanding=True)), {"names": names})})


def _as_day(value):  # noqa: ANN001, ANN202 - SQLite may return the stored date as text
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _as_moment(value: object) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def _rule_of(identity: str) -> str:
    return identity.split(":", 1)[0]


def _notify(engine: Engine, settings: Settings, run_id: int, views: list[FindingView], now: datetime) -> str:
    """Escalate, in one message: this run's new findings at or above NOTIFY_MIN_SEVERITY, and the open ones of its
    rules overdue for their SLA whatever their severity (an owner who let a warning run past its due-by is told), each
    once; a finding notified within NOTIFY_SUPPRESS_HOURS is not notified again (a flapping rule). Marked as notified
    only when a channel took the message, so nothing is lost while none works."""
    threshold = SEVERITY_ORDER[settings.notify_min_severity]
    severities = tuple(name for name, rank in SEVERITY_ORDER.items() if rank <= threshold)
    by_id = {view.id: view for view in views}
    with engine.connect() as connection:
        escalation = escalation_candidates(connection, new_ids=[view.id for view in views if view.is_new],
                                           severities=severities, now=now,
                                           suppress=timedelta(hours=settings.notify_suppress_hours),
                                           repeat_open=not settings.notify_only_new,
                                           overdue_severities=tuple(SEVERITY_ORDER))
    # Only this run's rules: a run of some rules does not escalate the others' findings it did not look at.
    new = [by_id[finding_id] for finding_id in escalation.new if finding_id in by_id]
    overdue = [by_id[finding_id] for finding_id in escalation.overdue if finding_id in by_id]
    if not new and not overdue:
        summary = f"nothing to notify (no new or overdue findings at or above {settings.notify_min_severity})"
    else:
        delivery = deliver(compose(new, run_id, settings.dashboard_url, overdue=overdue), settings)
        counted = [f"{len(found)} {what}" for found, what in ((new, "new"), (overdue, "overdue")) if found]
        summary = f"{' and '.join(counted)} finding(s): " + delivery.summary()
        if delivery.sent:
            with begin_write(engine) as connection:
                mark_escalated(connection, Escalation(tuple(v.id for v in new), tuple(v.id for v in overdue)), now)
    with begin_write(engine) as connection:
        connection.execute(update(CheckRun).where(CheckRun.id == run_id).values(notification=summary))
    return summary


def acknowledge(engine: Engine, finding_id: int, actor: str, note: str, now: datetime | None = None, *,
                actions_per_minute: int = DEFAULT_ACTIONS_PER_MINUTE) -> None:
    """Acknowledge an open finding, as the account behind `actor` (its canonical name is recorded), counted under
    its rate limit in the same transaction."""
    if not (actor or "").strip():
        raise ActionRefused("Say who acknowledges the finding.")
    finding_id = input_limits.record_id(finding_id, "A finding id")
    note = input_limits.note(note, "The acknowledgement note")
    user = require_permission(engine, actor, "acknowledge")
    if not note:
        raise InvalidInput("An acknowledgement needs a note (why it is acceptable, or what is being done).")
    now = (now or datetime.now()).replace(microsecond=0)
    with rate_limited_request(engine, RateLimit(actions_per_minute), user.username, "acknowledge", now,
                              message=f"finding {finding_id}: {note}") as connection:
        row = connection.execute(select(QualityFinding.resolved_at).where(QualityFinding.id == finding_id)).first()
        if row is None:
            raise NotFound(f"No finding {finding_id}.")
        if row.resolved_at is not None:
            raise ActionRefused(f"Finding {finding_id} is already resolved.")
        connection.execute(update(QualityFinding).where(QualityFinding.id == finding_id).values(
            acknowledged_by=user.username, acknowledged_at=now, acknowledgement_note=note))
        # In the history too: a reopening clears the acknowledgement from the finding, not from what happened to it.
        record_history(connection, finding_id, now, HistoryKind.ACKNOWLEDGED, user.username, note)
        bump_data_version(connection)


# --- reads for the Data quality page ---------------------------------------------------------------------------


def latest_run(engine: Engine) -> dict | None:
    with engine.connect() as connection:
        row = connection.execute(select(CheckRun).where(CheckRun.status == "done")
                                 .order_by(CheckRun.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


FINDINGS_LISTING_LIMIT = 5000  # the page lists at most this many; its downloads read every finding the filters select


def open_findings(engine: Engine, *, rule: str | None = None, severity: str | None = None,
                  store: str | None = None, acknowledged: bool | None = None, queue: str = FindingQueue.ALL,
                  me: str | None = None, now: datetime | None = None,
                  limit: int = FINDINGS_LISTING_LIMIT) -> pd.DataFrame:
    """The open findings the filters select, most severe first. `queue` narrows them to a work queue (work.FindingQueue:
    `me`'s, unassigned, overdue at `now`); each row says its owner, due-by and whether it is overdue at `now`."""
    table = QualityFinding.__table__
    now = now or datetime.now()
    query = (select(table.c.id, table.c.severity, table.c.rule, table.c.event_number, table.c.store, table.c.core_ref,
                    table.c.supervisor_ref, table.c.day, table.c.detail, table.c.owner, table.c.due_by,
                    case((table.c.due_by < now, True), else_=False).label("overdue"), table.c.first_seen,
                    table.c.last_seen, table.c.acknowledged_by, table.c.acknowledged_at, table.c.acknowledgement_note)
             .where(table.c.resolved_at.is_(None), *queue_condition(FindingQueue(queue), me, now))
             .order_by(case(*((table.c.severity == name, rank) for name, rank in SEVERITY_ORDER.items()), else_=9),
                       table.c.rule, table.c.day, table.c.id).limit(limit))
    if rule:
        query = query.where(table.c.rule == rule)
    if severity:
        query = query.where(table.c.severity == severity)
    if store:
        query = query.where(table.c.store == store)
    if acknowledged is not None:
        query = query.where(table.c.acknowledged_by.is_not(None) if acknowledged else table.c.acknowledged_by.is_(None))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        judged = last_judged(connection)
    findings = rows_frame(rows, ["id", "severity", "rule", "event_number", "store", "core_ref", "supervisor_ref",
                                 "day", "detail", "owner", "due_by", "overdue", "first_seen", "last_seen",
                                 "acknowledged_by", "acknowledged_at", "note"])
    findings["last_seen"] = [seen_last(rule, seen, False, judged)  # open: seen by its rule's last run
                             for rule, seen in zip(findings["rule"], findings["last_seen"])]
    findings["overdue"] = findings["overdue"].astype(bool)
    findings.insert(3, "rule_title", [rule_title(name) for name in findings["rule"]])  # what people read
    return findings


def trend(engine: Engine, runs: int = 20) -> pd.DataFrame:
    """Open findings per rule and severity at the end of each of the last `runs` runs (aggregated in SQL)."""
    last_runs = select(CheckRun.id).where(CheckRun.status == "done").order_by(CheckRun.id.desc()).limit(runs)
    with engine.connect() as connection:
        run_ids = list(connection.execute(last_runs).scalars())
        if not run_ids:
            return pd.DataFrame(columns=["run_id", "started_at", "rule", "severity", "open_findings"])
        rows = connection.execute(
            select(RunRuleCount.run_id, CheckRun.started_at, RunRuleCount.rule, RunRuleCount.severity,
                   func.sum(RunRuleCount.open_findings).label("open_findings"))
            .join(CheckRun, CheckRun.id == RunRuleCount.run_id).where(RunRuleCount.run_id.in_(run_ids))
            .group_by(RunRuleCount.run_id, CheckRun.started_at, RunRuleCount.rule, RunRuleCount.severity)
            .order_by(RunRuleCount.run_id)).all()
    return rows_frame(rows, ["run_id", "started_at", "rule", "severity", "open_findings"])


def daily_trend(engine: Engine, runs: int = 60) -> pd.DataFrame:
    """Open findings per day and severity over the last `runs` finished runs: for each day and rule, what the day's last
    run that checked that rule found (0 when it found nothing). A run of only some rules (`check run --rule X`) thus
    leaves the other rules' figures of that day as their last full check said, instead of dropping them to 0.

    Columns: day (a date), severity, open_findings; every severity of every day is present."""
    last_runs = (select(CheckRun.id, CheckRun.started_at, CheckRun.rules).where(CheckRun.status == "done")
                 .order_by(CheckRun.id.desc()).limit(runs))
    with engine.connect() as connection:
        run_rows = connection.execute(last_runs).all()
        counts = connection.execute(
            select(RunRuleCount.run_id, RunRuleCount.rule, RunRuleCount.severity, RunRuleCount.open_findings)
            .where(RunRuleCount.run_id.in_([row.id for row in run_rows]))).all() if run_rows else []
    by_run_rule: dict[tuple[int, str], list[tuple[str, int]]] = {}
    for run_id, rule, severity, open_count in counts:
        by_run_rule.setdefault((run_id, rule), []).append((severity, open_count))
    latest: dict[tuple[date, str], int] = {}  # (day, rule) -> the day's last run that checked the rule
    for run_id, started_at, rules in sorted(run_rows, key=lambda row: row.id):
        for rule in filter(None, (rules or "").split(",")):
            latest[(started_at.date(), rule)] = run_id
    totals: dict[tuple[date, str], int] = {}
    days = sorted({day for day, _ in latest})
    for day in days:
        for severity in SEVERITY_ORDER:
            totals[(day, severity)] = 0
    for (day, rule), run_id in latest.items():
        for severity, open_count in by_run_rule.get((run_id, rule), []):
            totals[(day, severity)] = totals.get((day, severity), 0) + int(open_count)
    return pd.DataFrame([(day, severity, count) for (day, severity), count in sorted(totals.items())],
                        columns=["day", "severity", "open_findings"])


def run_summary(engine: Engine, run_id: int) -> pd.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(select(RunRuleCount.rule, RunRuleCount.severity, RunRuleCount.open_findings,
                                         RunRuleCount.new_findings).where(RunRuleCount.run_id == run_id)
                                  .order_by(RunRuleCount.rule)).all()
    return rows_frame(rows, ["rule", "severity", "open", "new"])
