"""ORM tables layer: the existing scheduler's tables (events, schedules, employees), as they are, and ours beside them."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON, BigInteger, Boolean, Date, DateTime, ForeignKey, Index, Integer, SmallInteger, String, Table, Text, false, text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    # Every model here maps one Table (none maps a join or a select), so `Model.__table__` is typed as the Table it is
    # (SQLAlchemy types it as the wider FromClause; this annotation is its maintainers' advice, sqlalchemy#9130).
    __table__: ClassVar[Table]


def json_column_type() -> JSON:
    """A column of JSON values (migration 0016): JSONB on PostgreSQL, JSON text on SQLite. Python's None is SQL NULL
    (`none_as_null`), as in the Text columns these were: an audit entry without a before state has none."""
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


# --- The existing scheduler's tables. Column names and types must stay exactly as teams' databases have them. ---


# Not described here: migration 0008's partial expression index ix_dashboard_events_unstaffed_store_due (on the
# store filter's own expression), which SQLAlchemy cannot reflect on SQLite; tests/test_migrations_frozen.py checks it
# through the database's catalogue instead.
# Typed Any: it is passed as Index(**...) dialect keywords, which mypy would otherwise match against Index's own ones.
_UNUSABLE_SCHEDULE_ID: dict[str, Any] = {  # rule 10's filter, as migration 0007 indexes it (services/quality/rules.py)
    "sqlite_where": text("external_id IS NULL OR (external_id = '' OR external_id GLOB '*[^0-9]*')"),
    "postgresql_where": text("external_id IS NULL OR external_id !~ '^[0-9]+$'"),
}


class Event(Base):
    __tablename__ = "events"
    # The indexes the migrations add (0001, 0002, 0006, 0007, 0015): what the pages' and checks' reads seek by.
    __table_args__ = (
        Index("ix_events_project_name", "project_name"),
        Index("ix_events_window", "start_datetime", "due_datetime"),
        Index("ix_events_event_type", "event_type"),
        Index("ix_events_condition", "condition"),
        Index("ix_dashboard_events_unstaffed_due", "condition", "due_datetime", "event_type", "location_mvid",
              "store_number"),
        Index("ix_dashboard_events_pairing", "location_mvid", "project_name"),
        Index("ix_dashboard_events_ref_store", "project_ref_num", "location_mvid", "store_number"),
        Index("ix_dashboard_events_store_ref", "location_mvid", "store_number", "project_ref_num"),
        Index("ix_dashboard_events_due", "due_datetime"),
        Index("ix_dashboard_events_last_synced", "last_synced"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_name: Mapped[str] = mapped_column(Text, nullable=False)
    project_ref_num: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)
    location_mvid: Mapped[str | None] = mapped_column(Text)
    store_number: Mapped[int | None] = mapped_column(Integer)
    store_name: Mapped[str | None] = mapped_column(Text)
    start_datetime: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    due_datetime: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    estimated_time: Mapped[int | None] = mapped_column(Integer)
    is_scheduled: Mapped[bool | None] = mapped_column(Boolean, default=False)
    event_type: Mapped[str | None] = mapped_column(String(20))
    condition: Mapped[str | None] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    last_synced: Mapped[datetime | None] = mapped_column(DateTime)
    sync_status: Mapped[str | None] = mapped_column(String(20))
    sales_tools_url: Mapped[str | None] = mapped_column(Text)
    parent_event_ref_num: Mapped[int | None] = mapped_column(Integer)


class Employee(Base):
    __tablename__ = "employees"

    id: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    email: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool | None] = mapped_column(Boolean, default=True)
    is_supervisor: Mapped[bool | None] = mapped_column(Boolean, default=False)
    job_title: Mapped[str | None] = mapped_column(String(50))
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime)


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = (  # migrations 0001, 0006 and 0007
        Index("ix_schedules_event_ref_num", "event_ref_num"),
        Index("ix_schedules_schedule_datetime", "schedule_datetime"),
        Index("ix_dashboard_schedules_day", "schedule_datetime", "event_ref_num", "employee_id",
              postgresql_include=["id"]),
        Index("ix_dashboard_schedules_unusable_id", "event_ref_num", **_UNUSABLE_SCHEDULE_ID),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_ref_num: Mapped[int] = mapped_column(Integer, ForeignKey("events.project_ref_num"), nullable=False)
    employee_id: Mapped[str] = mapped_column(String(50), ForeignKey("employees.id"), nullable=False)
    schedule_datetime: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    last_synced: Mapped[datetime | None] = mapped_column(DateTime)
    sync_status: Mapped[str | None] = mapped_column(String(20))


SCHEDULER_TABLES = ("events", "employees", "schedules")  # in foreign-key order

# Columns without which the dashboard cannot work on an existing database. Other columns of the scheduler schema that
# an older database lacks are added (nullable) on upgrade, recorded, and removed again on downgrade.
REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    "events": frozenset({"id", "project_name", "project_ref_num", "location_mvid", "store_number", "start_datetime",
                         "due_datetime", "is_scheduled", "event_type", "condition"}),
    "schedules": frozenset({"id", "event_ref_num", "employee_id", "schedule_datetime"}),
    "employees": frozenset({"id", "name"}),
}


# --- Our own tables. ---


class DataVersion(Base):
    """One row whose `version` every write bumps, so every process and replica knows when cached reads are stale."""

    __tablename__ = "dashboard_data_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime)


class SchemaAdoption(Base):
    """What our migrations added to the scheduler's own tables (columns, indexes), so a downgrade removes exactly that."""

    __tablename__ = "dashboard_schema_adoption"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # "column" or "index"
    table_name: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    revision: Mapped[str] = mapped_column(String(32), nullable=False)


class _PerDayStoreType:
    """The key of the per-day aggregates: a date, a store key (location id, else store number) and an event type."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    store: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(20), primary_key=True)


class ScheduledPerDay(_PerDayStoreType, Base):
    """Scheduled events per schedule date, store key and type; kept exact by database triggers (migration 0002)."""

    __tablename__ = "dashboard_scheduled_per_day"
    # Every club's counts of a range of days by day and type from the index alone, in GROUP BY order (migration 0022):
    # by the primary key each of a month's ~9,000 rows at 1,000,000 events was a lookup in the table, then sorted (the
    # Calendar's month: 11 ms at 1M on SQLite, 1.2 ms with it).
    __table_args__ = (Index("ix_dashboard_scheduled_per_day_type", "day", "event_type", "scheduled"),)

    scheduled: Mapped[int] = mapped_column(Integer, nullable=False)


class UnstaffedPerDay(_PerDayStoreType, Base):
    """Unstaffed events per due date, store key and type; kept exact by database triggers (migration 0006)."""

    __tablename__ = "dashboard_unstaffed_per_day"
    # One club's days as one range, read from the index alone (migration 0022): by the primary key a club's days were
    # every club's rows of those days, filtered.
    __table_args__ = (Index("ix_dashboard_unstaffed_per_day_store", "store", "day", "event_type", "unstaffed"),)

    unstaffed: Mapped[int] = mapped_column(Integer, nullable=False)


class UnstaffedPerDayAllStores(Base):
    """Unstaffed events per due date and type, all stores together; kept exact by database triggers (migration 0022).
    What every club's rows of a day add up to, in at most one row per type: the reads without a store filter sum a
    range of days from it, at a cost that does not grow with the number of clubs or events."""

    __tablename__ = "dashboard_unstaffed_per_day_all_stores"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    unstaffed: Mapped[int] = mapped_column(Integer, nullable=False)


class UnstaffedTotal(Base):
    """Unstaffed events with a due date per store key and type, over all days; kept exact by database triggers
    (migration 0009). The Unscheduled "Past due" bucket reads it instead of summing every past day."""

    __tablename__ = "dashboard_unstaffed_totals"

    store: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(20), primary_key=True)
    unstaffed: Mapped[int] = mapped_column(Integer, nullable=False)


class PairMember(Base):
    """Every CORE and Supervisor with its pairing key and latest schedule; kept exact by database triggers
    (migration 0007, services/store/pair_members.py). The pairing rules group it in key order instead of every event."""

    __tablename__ = "dashboard_pair_members"
    __table_args__ = (Index("ix_dashboard_pair_members_key", "num", "store", "event_type", "ref", "at", "unstaffed"),)

    ref: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # events.project_ref_num
    num: Mapped[str] = mapped_column(String(6), nullable=False)  # the 6-digit event number
    store: Mapped[str] = mapped_column(Text, nullable=False)  # the store key: location id, else store number
    event_type: Mapped[str] = mapped_column(String(20), nullable=False)  # Core | Supervisor
    unstaffed: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # 1 when the condition is Unstaffed
    at: Mapped[int | None] = mapped_column(BigInteger)  # latest schedule, seconds since 0001-01-01; NULL: none


class PairKey(Base):
    """Every pairing key (event number, store) of dashboard_pair_members with what the pairing rules judge it by; kept
    exact by database triggers on that table (migration 0023, services/store/pair_keys.py). A full run reads only the
    keys that offend: the judged kind, and the same-day pairs off the rule time, as ranges of the (kind, gap) and (kind,
    time of day) indexes."""

    __tablename__ = "dashboard_pair_keys"
    __table_args__ = (Index("ix_dashboard_pair_keys_gap", "kind", "gap"),
                      Index("ix_dashboard_pair_keys_time", "kind", "sup_time"))

    num: Mapped[str] = mapped_column(String(6), primary_key=True)  # the 6-digit event number
    store: Mapped[str] = mapped_column(Text, primary_key=True)  # the store key
    core_first: Mapped[int | None] = mapped_column(Integer)  # the lowest and highest CORE ref (equal: one CORE)
    core_last: Mapped[int | None] = mapped_column(Integer)
    sup_first: Mapped[int | None] = mapped_column(Integer)  # the lowest and highest Supervisor ref
    sup_last: Mapped[int | None] = mapped_column(Integer)
    core_at: Mapped[int | None] = mapped_column(BigInteger)  # the COREs' latest schedule, seconds since 0001-01-01
    sup_at: Mapped[int | None] = mapped_column(BigInteger)  # the Supervisors' latest schedule
    sup_unstaffed: Mapped[int | None] = mapped_column(SmallInteger)  # 1 when a Supervisor is Unstaffed
    kind: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # pair_keys.KIND_*
    gap: Mapped[int | None] = mapped_column(BigInteger)  # same-day pair: Supervisor start - CORE start, seconds
    sup_time: Mapped[int | None] = mapped_column(Integer)  # same-day pair: the Supervisor's time of day, seconds


class StateDrift(Base):
    """The events whose condition, is_scheduled flag and schedules rows disagree (rule 9); kept by database triggers
    (migration 0023, services/store/state_drift.py), so the rule reads these instead of every event."""

    __tablename__ = "dashboard_state_drift"

    ref: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # events.project_ref_num


class ScheduleStore(Base):
    """Every schedule with its event's store key; kept exact by database triggers (migration 0008,
    services/store/schedule_stores.py). One club's Day view reads its day as one range of the (store, time) index."""

    __tablename__ = "dashboard_schedule_stores"
    __table_args__ = (Index("ix_dashboard_schedule_stores_store_time", "store", "schedule_datetime", "schedule_id"),)

    schedule_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # schedules.id
    store: Mapped[str] = mapped_column(Text, nullable=False)  # the store key: location id, else store number
    schedule_datetime: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # schedules.schedule_datetime


class RepBooking(Base):
    """Every schedule with its rep, day, start, and its event's type, duration and condition; kept exact by database
    triggers (migration 0020, services/store/rep_bookings.py). The rules about people read a range of the (day, rep,
    start, ...) index instead of looking up the event of every schedule from today on."""

    __tablename__ = "dashboard_rep_bookings"
    __table_args__ = (
        Index("ix_dashboard_rep_bookings_day", "day", "employee_id", "starts", "event_ref", "event_type", "minutes",
              "condition"),
        Index("ix_dashboard_rep_bookings_rep", "employee_id", "starts"),
        # A rep's bookings of one type from a day on, with their condition: rep_not_qualified and
        # rep_inactive_with_events read only the offending ones (migration 0021).
        Index("ix_dashboard_rep_bookings_type", "employee_id", "event_type", "starts", "condition"),
    )

    schedule_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # schedules.id
    employee_id: Mapped[str] = mapped_column(String(50), nullable=False)  # schedules.employee_id
    event_ref: Mapped[int] = mapped_column(Integer, nullable=False)  # schedules.event_ref_num
    day: Mapped[int] = mapped_column(Integer, nullable=False)  # schedule_datetime's day, days since 0001-01-01
    starts: Mapped[int] = mapped_column(BigInteger, nullable=False)  # schedule_datetime, seconds since 0001-01-01
    event_type: Mapped[str | None] = mapped_column(String(20))  # events.event_type
    minutes: Mapped[int] = mapped_column(Integer, nullable=False)  # events.estimated_time, else the type's default
    condition: Mapped[str | None] = mapped_column(String(20))  # events.condition


class CheckChange(Base):
    """What changed since the last complete data-quality run, one row per changed row of events, schedules or
    employees, written by database triggers (migration 0021, services/store/check_changes.py); an incremental run
    re-judges only what these can have touched. A row with nothing in it means "everything" (the next run is full)."""

    __tablename__ = "dashboard_check_changes"
    __table_args__ = {"sqlite_autoincrement": True}  # never reuse a number: runs delete the rows they read by number

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=True)
    event_ref: Mapped[int | None] = mapped_column(Integer)
    num: Mapped[str | None] = mapped_column(String(6))  # the event's pairing key: event number ...
    store: Mapped[str | None] = mapped_column(Text)  # ... and store
    employee_id: Mapped[str | None] = mapped_column(String(50))  # a schedule's rep (with day), or an employee (alone)
    day: Mapped[int | None] = mapped_column(Integer)  # a schedule's day, days since 0001-01-01


# --- The paired actions' journal (migration 0003) ---


class Operation(Base):
    """One attempted action (reschedule, unschedule, schedule-supervisor, undo): written before Crossmark is called.

    Its idempotency key belongs to the acting account (unique per account, migration 0010) together with a fingerprint
    of the request; `reconcile` releases the keys of operations finished more than a retention ago
    (`key_released_at`), which keeps the record and frees the key for a new request (services/actions/journal.py)."""

    __tablename__ = "dashboard_operations"
    __table_args__ = (
        # Only keys still bound (not released) are unique: a released key may be used again by its account.
        Index("uq_dashboard_operations_account_key", "requested_by", "idempotency_key", unique=True,
              sqlite_where=text("key_released_at IS NULL"), postgresql_where=text("key_released_at IS NULL")),
        # What `reconcile` looks through for keys to release: the bound keys by finishing time.
        Index("ix_dashboard_operations_bound_keys", "finished_at",
              sqlite_where=text("key_released_at IS NULL"), postgresql_where=text("key_released_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(100), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    request: Mapped[dict[str, Any] | None] = mapped_column(json_column_type())  # what was asked
    events: Mapped[list[dict[str, Any]] | None] = mapped_column(json_column_type())  # [{ref, role, before, after, ...}]
    undo_of: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)  # heartbeat: reconcile leaves live ones
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # sha256 of the canonical request (kind, account, arguments); NULL on operations recorded before migration 0010,
    # whose fingerprint is derived from their kind, account and request when their key is used again.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    key_released_at: Mapped[datetime | None] = mapped_column(DateTime)  # set by reconcile after the key retention
    # The process running the operation holds a lease (migration 0011), renewed before every Crossmark call and always
    # longer than the longest call: reconcile and the retry loop take an operation only once its lease has expired.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Automatic retries (services/actions/retry_policy.py): how many were made, and when the next one is due.
    attempts: Mapped[int | None] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)


class OperationStep(Base):
    """One Crossmark call of an operation (or its read-back or compensation), with its request and result."""

    __tablename__ = "dashboard_operation_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operation_id: Mapped[int] = mapped_column(Integer, ForeignKey("dashboard_operations.id"), nullable=False, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    event_ref: Mapped[int] = mapped_column(Integer, nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    action: Mapped[str] = mapped_column(String(20), nullable=False)  # schedule, unschedule, read_back, ...
    purpose: Mapped[str] = mapped_column(String(20), nullable=False)  # forward or compensate
    request: Mapped[dict[str, Any] | None] = mapped_column(json_column_type())  # what was sent
    result: Mapped[dict[str, Any] | None] = mapped_column(json_column_type())  # the placement reached, or the error
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # journal.StepStatus
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    """Who did what to which event, with the before and after state."""

    __tablename__ = "dashboard_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    actor: Mapped[str] = mapped_column(String(100), nullable=False)
    operation_id: Mapped[int | None] = mapped_column(Integer, index=True)
    event_ref: Mapped[int | None] = mapped_column(Integer, index=True)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    # JSON: an event's placement before and after (journal.Journal.audit_event), or a switch's state as text ("True").
    before: Mapped[Any | None] = mapped_column(json_column_type())
    after: Mapped[Any | None] = mapped_column(json_column_type())
    message: Mapped[str | None] = mapped_column(Text)


class WorkerLease(Base):
    """A job that exactly one process runs at a time across replicas (the retry loop): whoever holds an unexpired
    lease runs it, renewing it each pass; when that process dies, another takes the lease once it expires."""

    __tablename__ = "dashboard_worker_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    renewed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class PairLock(Base):
    """An event taking part in an unfinished operation: a second action on it is refused (works across processes)."""

    __tablename__ = "dashboard_event_locks"

    event_ref: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[int] = mapped_column(Integer, nullable=False)
    locked_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


# --- Data-quality checks (migration 0004) ---


class CheckRun(Base):
    __tablename__ = "dashboard_check_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # running, done, failed
    rules: Mapped[str] = mapped_column(Text, nullable=False)  # comma-separated rule names that ran
    triggered_by: Mapped[str] = mapped_column(String(100), nullable=False)
    findings: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    new_findings: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    resolved_findings: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    notification: Mapped[str | None] = mapped_column(Text)  # what was sent, or why it failed
    error: Mapped[str | None] = mapped_column(Text)
    # Migration 0021: an incremental run re-judged only what changed since the complete run before it (whose `now`,
    # started_at, and Supervisor rule it builds on: a run under another rule cannot be built on).
    incremental: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    supervisor_rule: Mapped[str | None] = mapped_column(String(200))


class RunRuleCount(Base):
    """Open findings per rule and severity at the end of each run: the weekly review's trend."""

    __tablename__ = "dashboard_run_rule_counts"

    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("dashboard_check_runs.id"), primary_key=True)
    rule: Mapped[str] = mapped_column(String(50), primary_key=True)
    severity: Mapped[str] = mapped_column(String(10), primary_key=True)
    open_findings: Mapped[int] = mapped_column(Integer, nullable=False)
    new_findings: Mapped[int] = mapped_column(Integer, nullable=False)


class RuleFingerprint(Base):
    """What the open findings of one cell of a rule (dashboard_findings.bucket) were when a run last merged it (migration
    0025): their number and a digest of their identities and contents. A full run merges finding by finding only the
    cells whose fingerprint differs (services/quality/fingerprints.py). Triggers on dashboard_findings delete a cell's
    row when any program opens, resolves, rewrites or deletes one of its findings (every row of the rule for a finding
    without a bucket)."""

    __tablename__ = "dashboard_rule_fingerprints"

    rule: Mapped[str] = mapped_column(String(50), primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    run_id: Mapped[int] = mapped_column(Integer, nullable=False)  # the run that merged it
    findings: Mapped[int] = mapped_column(Integer, nullable=False)
    digest: Mapped[str] = mapped_column(String(32), nullable=False)


class QualityFinding(Base):
    """One finding with a stable identity (rule + events) across runs: first/last seen, resolved, acknowledged."""

    __tablename__ = "dashboard_findings"
    # An incremental run finds the open findings of what changed by these (migration 0021): a pairing key's, a rep's
    # day's, and a rule's days (the ones a time window moved over).
    __table_args__ = (Index("ix_dashboard_findings_key", "store", "event_number"),
                      Index("ix_dashboard_findings_rep_day", "employee_id", "day"),
                      # The open ones by rule, day and severity: counted per run, a rule's open findings (of past
                      # days), without visiting the resolved history or the 87,000 open rows of other rules.
                      Index("ix_dashboard_findings_open", "rule", "day", "severity", "resolved_at",
                            sqlite_where=text("resolved_at IS NULL"), postgresql_where=text("resolved_at IS NULL")),
                      # The open ones of a few cells of a rule (migration 0025): what a full run merges.
                      Index("ix_dashboard_findings_cell", "rule", "bucket",
                            sqlite_where=text("resolved_at IS NULL"), postgresql_where=text("resolved_at IS NULL")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    identity: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    rule: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    severity: Mapped[str] = mapped_column(String(10), nullable=False)
    event_number: Mapped[str | None] = mapped_column(String(10))
    store: Mapped[str | None] = mapped_column(String(100))
    core_ref: Mapped[int | None] = mapped_column(Integer)
    supervisor_ref: Mapped[int | None] = mapped_column(Integer)
    refs: Mapped[str] = mapped_column(Text, nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False)
    day: Mapped[date | None] = mapped_column(Date)
    first_seen: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    first_run_id: Mapped[int] = mapped_column(Integer, nullable=False)
    last_run_id: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime)
    acknowledgement_note: Mapped[str | None] = mapped_column(Text)
    # Findings as work (migration 0018): the rep it is about, when it is due, who owns it, what was notified.
    employee_id: Mapped[str | None] = mapped_column(String(50))
    due_by: Mapped[datetime | None] = mapped_column(DateTime)  # overdue after this, while open
    owner: Mapped[str | None] = mapped_column(String(100), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime)  # escalated as new (kept across reopenings)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(DateTime)  # escalated as overdue, this occurrence
    # Migration 0025: the finding's cell among its rule's (services/quality/fingerprints.bucket_of); NULL when written
    # before it, or by another program.
    bucket: Mapped[int | None] = mapped_column(SmallInteger)


class FindingHistory(Base):
    """What happened to a finding after it was first seen (migration 0018): assigned, commented, acknowledged,
    resolved (with when that occurrence was first seen: time to fix), reopened."""

    __tablename__ = "dashboard_finding_history"
    __table_args__ = (Index("ix_dashboard_finding_history_finding", "finding_id", "id"),
                      Index("ix_dashboard_finding_history_kind_at", "kind", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    finding_id: Mapped[int] = mapped_column(Integer, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)  # a work.HistoryKind
    actor: Mapped[str | None] = mapped_column(String(100))  # None: a data-quality run
    text: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)  # "resolved": when this occurrence was first seen


# --- Accounts and switches (migration 0005) ---


class UserAccount(Base):
    """An account: role, active flag, and either a local password (argon2id; older scrypt hashes until the next
    sign-in) or the identity-provider identity (issuer, subject) it was provisioned for (migration 0012)."""

    __tablename__ = "dashboard_users"
    __table_args__ = (Index("uq_dashboard_users_oidc_identity", "oidc_issuer", "oidc_subject", unique=True),)

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(String(255))  # None for header/OIDC identities
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    oidc_issuer: Mapped[str | None] = mapped_column(String(500))  # `iss` of an identity-provider account
    oidc_subject: Mapped[str | None] = mapped_column(String(255))  # its `sub`: the pair names the person


class LoginAttempt(Base):
    """One sign-in attempt, kept about one failure window: the lockouts count them by account, by client and by both."""

    __tablename__ = "dashboard_login_attempts"
    __table_args__ = (Index("ix_dashboard_login_attempts_client_at", "client", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    succeeded: Mapped[bool] = mapped_column(Boolean, nullable=False)
    client: Mapped[str | None] = mapped_column(String(64))  # the address the attempt came from (None: not known)


class DashboardSession(Base):
    """A signed-in browser session (migration 0014): the SHA-256 of the token in its HttpOnly cookie, never the token."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_username", "username", "revoked_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)  # sign out, disable, password change, idle
    client: Mapped[str | None] = mapped_column(String(64))  # the address it was started from


class Switch(Base):
    """An admin switch (maintenance mode, Crossmark writes off, Supervisor follow), read by every process per rerun."""

    __tablename__ = "dashboard_switches"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    changed_by: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[datetime | None] = mapped_column(DateTime)


class StoreEventCount(Base):
    """Events per store, kept exact by triggers (services/store/summary_counts.py, migration 0015): the sidebar's counts."""
    __tablename__ = "dashboard_store_event_counts"

    store: Mapped[str] = mapped_column(Text, primary_key=True)
    events: Mapped[int] = mapped_column(Integer, nullable=False)


class Batch(Base):
    """A batch of actions asked for at once (services/actions/batches.py, migration 0017): rep out, staff missing
    Supervisors, fix a rule's findings. Its key belongs to the acting account, like an operation's."""

    __tablename__ = "dashboard_batches"
    __table_args__ = (Index("uq_dashboard_batches_account_key", "requested_by", "idempotency_key", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), nullable=False)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(100), nullable=False)
    requested_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    request: Mapped[Any] = mapped_column(json_column_type(), nullable=True)  # the batch's arguments
    message: Mapped[str | None] = mapped_column(Text)


class BatchItemRow(Base):
    """One item of a batch, planned up front (what it does, as JSON), and the operation that ran it once it has."""

    __tablename__ = "dashboard_batch_items"
    __table_args__ = (Index("ix_dashboard_batch_items_operation", "operation_id"),)

    batch_id: Mapped[int] = mapped_column(Integer, ForeignKey("dashboard_batches.id"), primary_key=True)
    item_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    event_ref: Mapped[int] = mapped_column(Integer, nullable=False)
    item: Mapped[Any] = mapped_column(json_column_type(), nullable=False)  # services.actions.batches.BatchItem
    operation_id: Mapped[int | None] = mapped_column(Integer)
