"""Health layer: one report of what the dashboard depends on, for GET /healthz, `python -m services health` and the
Operations health page.

Healthy (HTTP 200, exit 0) means this process can serve: the database answers, its schema is current, and Crossmark
answers (or the sandbox stands in). Everything else in the report — age of the last data-quality run, operations
needing attention, switches — is information for people and only turns `status` into "degraded" with a warning: a
stale check run or a queue of operations to look at is work for ops, not a reason for a load balancer to take the
dashboard away. Building the report never raises; each check is bounded in time.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, TypeVar

from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from services.store.database import (deleted_database_files, display_url, file_replaced_under, is_sqlite, is_sqlite_database,
                               shared_engine, sqlite_path)
from services.errors import OpsError
from services.actions.journal import NEEDS_ATTENTION, STUCK
from services.store.schema_admin import head_revision, read_schema_state, require_current_schema
from services.access.switches import DEFAULTS
from services.store.tables import CheckRun, Operation, Switch

DATABASE_TIMEOUT = 3.0  # seconds for every database check together
CROSSMARK_TIMEOUT = 6.0  # seconds for the probe (a login and one user-info call, no retries)
CROSSMARK_PROBE_CACHE_SECONDS = 30.0  # a load balancer polls every few seconds; Crossmark need not see every poll
CHECK_RUN_STALE_AFTER = timedelta(hours=36)  # the checks run daily: one missed run is tolerated, two are not
SWITCHES_TABLE = "dashboard_switches"

T = TypeVar("T")


@dataclass(frozen=True)
class DatabaseCheck:
    reachable: bool
    url: str
    latency_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class SchemaCheck:
    current: bool | None  # None: not known (the database was not reachable)
    revision: str | None = None
    head: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class CrossmarkCheck:
    status: str  # "sandbox", "reachable" or "unreachable"
    url: str | None = None
    latency_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "unreachable"


@dataclass(frozen=True)
class CheckRunAge:
    run_id: int | None = None
    finished_at: str | None = None
    age_seconds: float | None = None  # None: no run has finished yet (or the database was not reachable)


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    status: str  # "ok", "degraded" (healthy, with warnings) or "unhealthy"
    checked_at: str
    database: DatabaseCheck
    schema: SchemaCheck
    crossmark: CrossmarkCheck
    last_check_run: CheckRunAge
    operations_needing_attention: int | None
    switches: dict[str, dict[str, Any]]
    operations_stuck: int | None = None  # automatic retries gave up: listed first on the Operations page
    reasons: list[str] = field(default_factory=list)  # why it is unhealthy
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)


@dataclass
class _DatabaseFacts:
    database: DatabaseCheck
    schema: SchemaCheck = SchemaCheck(current=None)
    last_run: CheckRunAge = CheckRunAge()
    needs_attention: int | None = None
    stuck: int | None = None
    switches: dict[str, dict[str, Any]] = field(default_factory=dict)


def _bounded(work: Callable[[], T], seconds: float) -> tuple[bool, T | None, BaseException | None]:
    """Run `work` in a daemon thread and wait at most `seconds`: (finished, result, error). A thread that overruns is
    left to end on its own (its driver's own timeouts bound it) so a hung database cannot hang the probe."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = work()
        except BaseException as error:  # noqa: BLE001 - reported, never raised: a health check must answer
            outcome["error"] = error

    thread = threading.Thread(target=target, name="health-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        return False, None, None
    return True, outcome.get("result"), outcome.get("error")


def _one_line(error: BaseException) -> str:
    if isinstance(error, OpsError):
        return error.message
    text_ = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"{type(error).__name__}: {text_[0]}" if text_ else type(error).__name__


def _sqlite_file_problem(url: str, engine: Engine | None) -> str | None:
    """A pooled SQLite connection keeps reading a file that was deleted or replaced; look at the path itself (stat
    only: opening the live file outside SQLite would drop this process's locks on it) and at what this process holds."""
    path = sqlite_path(url)
    if path is None:
        return None
    if not path.is_file():
        return f"There is no database at {path}."
    lost = deleted_database_files(path)
    if lost:
        return (f"this process writes to deleted database files ({', '.join(Path(name).name for name in lost)}): "
                "its writes are invisible to other processes and lost at restart; restart it")
    if engine is not None and file_replaced_under(engine):
        # Another file now sits at the path; asking SQLite (never open()) tells a stray file from a restored database.
        if path.stat().st_size and not is_sqlite_database(path):
            return f"{path} is not an SQLite database."
        return f"{path} was replaced after this process opened it; restart the process to use the new file."
    return None


def _database_facts(engine_or_url: Engine | str, now: datetime) -> _DatabaseFacts:
    url = engine_or_url if isinstance(engine_or_url, str) else engine_or_url.url.render_as_string(hide_password=False)
    shown = display_url(url)
    started = time.perf_counter()
    try:
        sqlite = is_sqlite(url)
        if sqlite and (missing := _sqlite_file_problem(url, None)):
            return _DatabaseFacts(DatabaseCheck(False, shown, error=missing))
        # A URL means this process's shared engine: a probe must not connect (or log in) afresh each time.
        engine = shared_engine(url) if isinstance(engine_or_url, str) else engine_or_url
        if sqlite and (problem := _sqlite_file_problem(url, engine)):
            return _DatabaseFacts(DatabaseCheck(False, shown, error=problem))
    except Exception as error:  # noqa: BLE001 - DatabaseUnavailable, NotADatabase, a driver error: all "unreachable"
        return _DatabaseFacts(DatabaseCheck(False, shown, error=_one_line(error)))
    try:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:  # noqa: BLE001
            return _DatabaseFacts(DatabaseCheck(False, shown, error=_one_line(error)))
        facts = _DatabaseFacts(DatabaseCheck(True, shown, latency_ms=round((time.perf_counter() - started) * 1000, 1)))
        head = head_revision()
        try:
            require_current_schema(engine)
            facts.schema = SchemaCheck(current=True, revision=head, head=head)
        except Exception as error:  # noqa: BLE001 - IncompatibleSchema, or a driver error while reading it
            revision = None
            try:
                revision = read_schema_state(engine).revision
            except Exception:  # noqa: BLE001 - already reported above
                pass
            facts.schema = SchemaCheck(current=False, revision=revision, head=head, error=_one_line(error))
            return facts  # our tables may not exist: nothing more to read
        with engine.connect() as connection:
            row = connection.execute(
                select(CheckRun.id, CheckRun.finished_at).where(CheckRun.status == "done",
                                                                CheckRun.finished_at.is_not(None))
                .order_by(CheckRun.finished_at.desc(), CheckRun.id.desc()).limit(1)).first()
            if row is not None:
                facts.last_run = CheckRunAge(run_id=row.id, finished_at=row.finished_at.isoformat(),
                                             age_seconds=max(0.0, round((now - row.finished_at).total_seconds(), 1)))
            counts = dict(connection.execute(select(Operation.status, func.count()).where(
                Operation.status.in_((NEEDS_ATTENTION, STUCK))).group_by(Operation.status)).all())
            facts.needs_attention, facts.stuck = counts.get(NEEDS_ATTENTION, 0), counts.get(STUCK, 0)
            facts.switches = _switches(connection)
        return facts
    except Exception as error:  # noqa: BLE001 - the database went away half-way: report what was learnt
        return _DatabaseFacts(DatabaseCheck(False, shown, error=_one_line(error)))


def _switches(connection) -> dict[str, dict[str, Any]]:  # noqa: ANN001 - Connection
    """Every switch with its value (defaults included) and who changed it last."""
    if not inspect(connection).has_table(SWITCHES_TABLE):
        return {}
    changed = {row.name: row for row in connection.execute(select(Switch.name, Switch.enabled, Switch.changed_by,
                                                                  Switch.changed_at))}
    report: dict[str, dict[str, Any]] = {}
    for name, default in DEFAULTS.items():
        row = changed.get(name)
        report[name] = {"enabled": bool(row.enabled) if row else default,
                        "changed_by": row.changed_by if row else None,
                        "changed_at": row.changed_at.isoformat() if row and row.changed_at else None}
    return report


# --- Crossmark ------------------------------------------------------------------------------------------------------

_crossmark_cache: dict[tuple[str, str | None], tuple[float, CrossmarkCheck]] = {}
_crossmark_lock = threading.Lock()


def probe_client_factory(settings):  # noqa: ANN001, ANN201 - Settings -> Callable[[], CrossmarkClient]
    """The configured client with short timeouts and no retries: a probe must answer quickly, not patiently."""
    from services.crossmark.client import make_crossmark_client

    def make():  # noqa: ANN202
        quick = replace(settings, crossmark_connect_timeout=min(settings.crossmark_connect_timeout, 3.0),
                        crossmark_read_timeout=min(settings.crossmark_read_timeout, 3.0))
        client = make_crossmark_client(quick)
        client.retry_attempts = 1
        return client

    return make


def _probe_crossmark(settings, client_factory) -> CrossmarkCheck:  # noqa: ANN001
    started = time.perf_counter()
    client = None
    try:
        client = client_factory()
        client.user_info()
    except Exception as error:  # noqa: BLE001 - any failure is "unreachable", with its reason
        return CrossmarkCheck("unreachable", settings.crossmark_base_url, error=_one_line(error))
    finally:
        if client is not None and hasattr(client, "close"):
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a broken client must not hide the probe's result
                pass
    return CrossmarkCheck("reachable", settings.crossmark_base_url,
                          latency_ms=round((time.perf_counter() - started) * 1000, 1))


def _crossmark_check(settings, client_factory, cache_seconds: float) -> CrossmarkCheck:  # noqa: ANN001
    if settings.is_sandbox:
        return CrossmarkCheck("sandbox")
    key = (settings.crossmark_base_url, settings.crossmark_username)
    if cache_seconds > 0:
        with _crossmark_lock:
            cached = _crossmark_cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < cache_seconds:
            return cached[1]
    factory = client_factory or probe_client_factory(settings)
    finished, result, error = _bounded(lambda: _probe_crossmark(settings, factory), CROSSMARK_TIMEOUT)
    if not finished:
        result = CrossmarkCheck("unreachable", settings.crossmark_base_url,
                                error=f"no answer within {CROSSMARK_TIMEOUT:g} s")
    elif error is not None:
        result = CrossmarkCheck("unreachable", settings.crossmark_base_url, error=_one_line(error))
    assert result is not None  # otherwise the probe finished without an error, and returned its check
    if cache_seconds > 0:
        with _crossmark_lock:
            _crossmark_cache[key] = (time.monotonic(), result)
    return result


# --- the report -----------------------------------------------------------------------------------------------------


def _scrub(text_: str | None, secrets: list[str]) -> str | None:
    if text_ is None:
        return None
    for secret in secrets:
        text_ = text_.replace(secret, "***")
    return text_


def _secrets_of(settings, url: str) -> list[str]:  # noqa: ANN001
    secrets = [settings.crossmark_password or ""]
    try:
        secrets.append(make_url(url).password or "")
    except Exception:  # noqa: BLE001 - an unparsable URL has no password to hide
        pass
    return [secret for secret in secrets if len(secret) >= 3]


def health_report(settings, engine_or_url: Engine | str, *, crossmark_client_factory=None,  # noqa: ANN001
                  crossmark_cache_seconds: float = 0.0, database_timeout: float = DATABASE_TIMEOUT,
                  now: datetime | None = None) -> HealthReport:
    """Check the database (reachable, schema current), Crossmark (or "sandbox") and the operational figures.

    `engine_or_url`: a URL means this process's shared engine for it (services.store.database.shared_engine, made once,
    never per probe); an Engine is used as is. `crossmark_client_factory` (default: the configured client, short timeouts, no retries)
    makes the client the probe calls `user_info()` on; `crossmark_cache_seconds` > 0 reuses a recent probe result so a
    frequently polled /healthz does not log in to Crossmark on every poll."""
    now = now or datetime.now()  # the database stores naive local wall time
    url = engine_or_url if isinstance(engine_or_url, str) else engine_or_url.url.render_as_string(hide_password=False)
    secrets = _secrets_of(settings, url)
    finished, facts, error = _bounded(lambda: _database_facts(engine_or_url, now), database_timeout)
    if not finished:
        facts = _DatabaseFacts(DatabaseCheck(False, display_url(url), error=f"no answer within {database_timeout:g} s"))
    elif error is not None or facts is None:
        facts = _DatabaseFacts(DatabaseCheck(False, display_url(url), error=_one_line(error or RuntimeError("?"))))
    crossmark = _crossmark_check(settings, crossmark_client_factory, crossmark_cache_seconds)

    database = replace(facts.database, error=_scrub(facts.database.error, secrets))
    schema = replace(facts.schema, error=_scrub(facts.schema.error, secrets))
    crossmark = replace(crossmark, error=_scrub(crossmark.error, secrets))
    reasons: list[str] = []
    if not database.reachable:
        reasons.append(f"database unreachable: {database.error}")
    elif not schema.current:
        reasons.append(f"database schema not current: {schema.error}")
    if not crossmark.ok:
        reasons.append(f"Crossmark unreachable: {crossmark.error}")
    warnings: list[str] = []
    if getattr(settings, "unknown_settings", ()):
        warnings.append(f"unknown setting(s) ignored: {', '.join(settings.unknown_settings)}")
    if database.reachable and schema.current:
        age = facts.last_run.age_seconds
        if age is None:
            warnings.append("no data-quality run has finished yet (python -m services check run)")
        elif age > CHECK_RUN_STALE_AFTER.total_seconds():
            warnings.append(f"the last data-quality run finished {age / 3600:.0f} h ago "
                            f"(more than {CHECK_RUN_STALE_AFTER.total_seconds() / 3600:.0f} h)")
        if facts.stuck:
            warnings.append(f"{facts.stuck} operation(s) stuck after their automatic retries: an admin must Retry now "
                            "or Release them (Operations page)")
        if facts.needs_attention:
            warnings.append(f"{facts.needs_attention} operation(s) need attention and will be retried automatically")
    healthy = not reasons
    return HealthReport(
        healthy=healthy, status="unhealthy" if not healthy else "degraded" if warnings else "ok",
        checked_at=now.replace(microsecond=0).isoformat(), database=database, schema=schema, crossmark=crossmark,
        last_check_run=facts.last_run, operations_needing_attention=facts.needs_attention, switches=facts.switches,
        operations_stuck=facts.stuck,
        reasons=reasons, warnings=warnings)


def current_health(settings) -> HealthReport:  # noqa: ANN001 - Settings
    """What GET /healthz answers now: the one function behind /healthz and the Operations health page, computed at
    each call on the process's shared engine (never a remembered state)."""
    return health_report(settings, settings.database_url, crossmark_cache_seconds=CROSSMARK_PROBE_CACHE_SECONDS)


def run_health_cli(settings, *, crossmark_client_factory=None) -> int:  # noqa: ANN001
    """`python -m services health`: print the report as JSON; exit code 0 when healthy, 1 when not."""
    report = health_report(settings, settings.database_url, crossmark_client_factory=crossmark_client_factory)
    print(report.to_json())
    return 0 if report.healthy else 1
