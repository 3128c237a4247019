"""Test world for the paired-action fault tests: the sprint2 scenario in a real database, the same state served by the
local HTTP fake of Crossmark, a PairedActions wired to it, and the invariant checks (DESIGN.md §3) on both sides.

Faults are aimed at the n-th Crossmark *write* of an action (`world.arm({2: "ok0"})`: the second write answers ok: 0),
by a thin wrapper around the real client that calls `FakeCrossmark.inject` just before that write goes out.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from services.crossmark.client import CrossmarkClient
from services.crossmark.sandbox import PATH_PLANNING, PATH_SCHEDULE, PATH_UNSCHEDULE, simulator_from_database
from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.domain.event_rules import supervisor_start
from services.actions.executor import ActionResult
from services.actions.paired_actions import PairedActions
from tests.migrated_template import migrate_new_database
from services.settings import SupervisorRule
from services.store.tables import AuditEntry, Employee, Event, Operation, OperationStep, PairLock, Schedule
from tests.conftest import private_database
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME, FakeCrossmark

TODAY = date.today()
DAY = TODAY + timedelta(days=7)  # the sprint2 COREs' date; windows run TODAY+4 .. TODAY+11
RULE = SupervisorRule()
REFS = (606001, 606002, 606999, 608001, 608002)
PAIRS = ((606001, 606002), (608001, 608002))
FINAL = ("done", "refused", "compensated", "needs_attention")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute)


@dataclass(frozen=True)
class Side:
    """Where one event stands on one side: scheduled or not, when, which rep (RepID), which scheduled-event id."""

    scheduled: bool
    start: datetime | None = None
    rep_id: str | None = None
    scheduled_id: str | None = None

    @property
    def placement(self) -> tuple:
        return (self.scheduled, self.start, self.rep_id)


class HookedClient:
    """The real CrossmarkClient, with a hook called just before each write (schedule / unschedule) is sent."""

    def __init__(self, client: CrossmarkClient, before_write: Callable[[str], None]) -> None:
        self._client, self._before_write = client, before_write

    def schedule(self, **arguments: Any):  # noqa: ANN201
        self._before_write(PATH_SCHEDULE)
        return self._client.schedule(**arguments)

    def unschedule(self, scheduled_event_id: str) -> None:
        self._before_write(PATH_UNSCHEDULE)
        return self._client.unschedule(scheduled_event_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __enter__(self) -> "HookedClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()


Hook = str | tuple | Callable[[str], None]


@dataclass
class PairedWorld:
    engine: Engine
    fake: FakeCrossmark
    read_timeout: float = 0.5
    rule: SupervisorRule = RULE
    actions: PairedActions = field(init=False)
    hooks: dict[int, list[Hook]] = field(default_factory=dict)
    writes: int = 0  # writes attempted through our clients since the last arm()
    mark: int = 0  # how many requests the fake had received at the last arm()
    step_mark: int = 0  # the highest step id at the last arm()
    url: str = ""  # the database URL (for subprocesses)
    mplan: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.actions = self.make_actions()

    # --- wiring -----------------------------------------------------------------------------------------------

    def make_client(self) -> CrossmarkClient:
        return CrossmarkClient(base_url=self.fake.url, username=FAKE_USERNAME, password=FAKE_PASSWORD,
                               timezone_name=FAKE_TIMEZONE, connect_timeout=1.0, read_timeout=self.read_timeout,
                               retry_attempts=3, retry_initial_wait=0.01)

    def client_factory(self) -> HookedClient:
        return HookedClient(self.make_client(), self._before_write)

    def make_actions(self, **options: Any) -> PairedActions:
        return PairedActions(self.engine, self.client_factory, rule=self.rule, **options)

    def arm(self, hooks: dict[int, Hook | list[Hook]] | None = None) -> None:
        """Hooks for the next action's writes, by 1-based index: a fault name (injected on that write's path), a
        (fault, delay) tuple, ("planning", fault, times) to break the read-back, or a callable(path)."""
        self.writes = 0
        self.mark = len(self.fake.requests)
        with self.engine.connect() as connection:
            self.step_mark = max(connection.execute(select(OperationStep.id)).scalars().all(), default=0)
        self.hooks = {n: list(h) if isinstance(h, list) else [h] for n, h in (hooks or {}).items()}

    def _before_write(self, path: str) -> None:
        self.writes += 1
        for hook in self.hooks.pop(self.writes, []):
            if callable(hook):
                hook(path)
            elif isinstance(hook, tuple) and hook[0] == "planning":
                self.fake.inject(PATH_PLANNING, hook[1], times=hook[2] if len(hook) > 2 else 3)
            elif isinstance(hook, tuple):
                self.fake.inject(path, hook[0], delay=hook[1])
            else:
                self.fake.inject(path, hook)

    # --- the two sides --------------------------------------------------------------------------------------------

    def db(self, ref: int) -> Side:
        with self.engine.connect() as connection:
            event = connection.execute(select(Event.condition, Event.is_scheduled)
                                       .where(Event.project_ref_num == ref)).one()
            rows = connection.execute(select(Schedule.schedule_datetime, Employee.external_id, Schedule.external_id)
                                      .outerjoin(Employee, Employee.id == Schedule.employee_id)
                                      .where(Schedule.event_ref_num == ref)).all()
        assert len(rows) <= 1, f"event {ref} has {len(rows)} schedule rows"
        if not rows:
            assert (event.condition, bool(event.is_scheduled)) == ("Unstaffed", False), (ref, tuple(event))
            return Side(False)
        assert (event.condition, bool(event.is_scheduled)) == ("Scheduled", True), (ref, tuple(event))
        start, rep, scheduled_id = rows[0]
        return Side(True, start, str(rep) if rep is not None else None, str(scheduled_id) if scheduled_id else None)

    def remote(self, ref: int) -> Side:
        state = self.fake.simulator.scheduled_state()[self.mplan[ref]]
        if state is None:
            return Side(False)
        rep, start, scheduled_id = state
        return Side(True, start, str(rep), str(scheduled_id))

    def both(self, ref: int) -> tuple[Side, Side]:
        return self.db(ref), self.remote(ref)

    def snapshot(self) -> dict[int, tuple]:
        """Placements (no scheduled-event ids: a compensation legitimately renews those) on both sides."""
        return {ref: (self.db(ref).placement, self.remote(ref).placement) for ref in REFS}

    def agree(self, *refs: int) -> None:
        """Invariant 1: same scheduled state, time, rep and Crossmark scheduled-event id in both places."""
        for ref in refs or REFS:
            db, remote = self.both(ref)
            assert db == remote, f"event {ref}: database {db} but Crossmark {remote}"

    def pairs_together(self, side: str = "both", exclude: set[int] | frozenset[int] = frozenset()) -> None:
        """Invariant 2 as a state property: a scheduled Supervisor sits at the rule time of its scheduled CORE."""
        readers = {"db": [self.db], "remote": [self.remote], "both": [self.db, self.remote]}[side]
        for read in readers:
            for core_ref, sup_ref in PAIRS:
                if {core_ref, sup_ref} & set(exclude):
                    continue
                core, sup = read(core_ref), read(sup_ref)
                if sup.scheduled:
                    assert core.scheduled, f"Supervisor {sup_ref} scheduled without its CORE ({read.__name__})"
                    assert sup.start == supervisor_start(core.start, self.rule), \
                        f"Supervisor {sup_ref} at {sup.start}, CORE {core_ref} at {core.start} ({read.__name__})"

    def restart(self) -> None:
        """Back to the sprint2 scenario on both sides (same fake server, a fresh simulator), nothing recorded."""
        reset_database(self.engine)
        seed_sprint2_scenario(self.engine, today=TODAY)
        self.fake.clear_faults()
        self.fake.server_errors.clear()
        self.mplan = {}
        self.mirror_to_crossmark(REFS)

    def mirror_to_crossmark(self, refs: Iterable[int]) -> None:
        """Give the fake Crossmark what the database holds now (a fresh simulator; rows a test added included), learn
        the mPlanIDs of `refs`, forget the requests so far and disarm the hooks."""
        simulator = simulator_from_database(self.engine, FAKE_TIMEZONE)
        simulator.username, simulator.password = FAKE_USERNAME, FAKE_PASSWORD
        self.fake.simulator = simulator
        with self.engine.connect() as connection:
            self.mplan.update({ref: str(mplan) for ref, mplan in connection.execute(
                select(Event.project_ref_num, Event.external_id).where(Event.project_ref_num.in_(list(refs))))})
        self.fake.clear_requests()
        self.arm()

    # --- the journal ----------------------------------------------------------------------------------------------

    def operation(self, operation_id: int) -> dict:
        with self.engine.connect() as connection:
            row = connection.execute(select(Operation).where(Operation.id == operation_id)).mappings().one()
        return {**row, "events": row["events"] or [], "request": row["request"] or {}}  # JSON columns: decoded

    def steps(self, operation_id: int) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(OperationStep).where(OperationStep.operation_id == operation_id)
                                      .order_by(OperationStep.seq)).mappings().all()
        return [dict(row) for row in rows]

    def step_summary(self, operation_id: int) -> list[tuple]:
        """(event_ref, action, purpose, status) per step, in order."""
        return [(s["event_ref"], s["action"], s["purpose"], s["status"]) for s in self.steps(operation_id)]

    def audit(self, operation_id: int) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(AuditEntry).where(AuditEntry.operation_id == operation_id)
                                      .order_by(AuditEntry.id)).mappings().all()
        return [dict(row) for row in rows]

    def locks(self) -> dict[int, int]:
        with self.engine.connect() as connection:
            return dict(connection.execute(select(PairLock.event_ref, PairLock.operation_id)).all())

    def operation_ids(self) -> list[int]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(Operation.id).order_by(Operation.id)).scalars())

    def operation_count(self) -> int:
        with self.engine.connect() as connection:
            return len(connection.execute(select(Operation.id)).all())

    def execute(self, sql: str, **parameters: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(text(sql), parameters)

    def refuse_local_changes(self) -> None:
        """Triggers that make every UPDATE of `events`, and of schedules' times, fail: the final local commit of any
        action then fails (a reschedule leaves its events' rows as they are and moves its schedules; the compensation
        touches only schedules' Crossmark ids and the journal, so it still works)."""
        self.refuse_updates("events")
        self.refuse_updates("schedules", "schedule_datetime")

    def refuse_updates(self, table: str, columns: str | None = None) -> None:
        """A trigger that makes every UPDATE of `table` (that sets one of `columns`, if given) fail (the journal's own
        tables stay writable)."""
        of = f" OF {columns}" if columns else ""
        if self.engine.dialect.name == "sqlite":
            self.execute(f"CREATE TRIGGER refuse_{table}_updates BEFORE UPDATE{of} ON {table} "
                         f"BEGIN SELECT RAISE(ABORT, '{table} are read-only (test trigger)'); END")
        else:
            self.execute(f"CREATE OR REPLACE FUNCTION refuse_{table}_updates() RETURNS trigger LANGUAGE plpgsql AS "
                         f"$$ BEGIN RAISE EXCEPTION '{table} are read-only (test trigger)'; END $$")
            self.execute(f"CREATE TRIGGER refuse_{table}_updates BEFORE UPDATE{of} ON {table} "
                         f"FOR EACH ROW EXECUTE FUNCTION refuse_{table}_updates()")

    def move_behind_our_back(self, ref: int, start: datetime) -> None:
        """Another writer (the legacy scheduler, say) moves an event in Crossmark and in the database alike."""
        event = self.fake.simulator.events[self.mplan[ref]]
        with self.fake.simulator._lock:  # noqa: SLF001
            length = event.end - event.start
            event.start = start.replace(tzinfo=self.fake.simulator.tz)
            event.end = event.start + length
        self.execute("UPDATE schedules SET schedule_datetime = :start WHERE event_ref_num = :ref", start=start, ref=ref)

    # --- the invariants, after one action ----------------------------------------------------------------------

    def writes_of(self, first_request: int = 0) -> list:
        """Write requests the fake received since request number `first_request` (minus those refused for an
        expired session before acting, which the client legitimately repeats after a fresh login)."""
        with self.fake._lock:  # noqa: SLF001 - a consistent copy
            requests = list(self.fake.requests[first_request:])
        return [r for r in requests if r.is_write and r.fault not in ("expired_session", "expired_redirect")]

    def check(self, result: ActionResult, *, status: str | None = None, refs: tuple[int, ...] = REFS) -> dict:
        """Invariants 1-4 for one finished action; returns its operation row. Checks, on both sides:
        1. agreement (unless needs_attention, which must then hold its locks and say what is where);
        3. one operation record with a final status, its steps, and its audit entries;
        4. each write request the fake received is one recorded write step, at most one forward write per event."""
        if status is not None:
            assert result.status == status, f"expected {status}, got {result.status}: {result.message}"
        assert result.status in FINAL, result
        operation = self.operation(result.operation_id)
        assert operation["status"] == result.status and operation["finished_at"] is not None
        steps = self.steps(result.operation_id)
        audit = self.audit(result.operation_id)
        locks = self.locks()
        planned = [e["ref"] for e in operation["events"]]
        if result.status == "needs_attention":
            assert "NEEDS ATTENTION" in (operation["message"] or "")
            assert all(locks.get(ref) == result.operation_id for ref in planned), (locks, planned)
            untouched = [ref for ref in refs if ref not in planned]
            if untouched:  # agree() with no refs would check every event, the unsettled ones too
                self.agree(*untouched)
        else:
            assert result.operation_id not in locks.values(), f"locks left behind: {locks}"
            self.agree(*refs)
        # 3. nothing lost
        actions = [entry["action"] for entry in audit]
        if result.status == "refused":
            assert steps == [] and planned == [] and len(audit) == 1 and actions[0].endswith("refused"), audit
            assert operation["message"] == result.message and result.message
        else:
            assert actions[0].endswith("requested") and actions[-1] == result.status, actions
            assert all(s["status"] != "sent" and s["finished_at"] is not None for s in steps), steps
            per_event = [entry for entry in audit if entry["event_ref"] is not None]
            # "... restored": a compensation put back a row someone else wrote meanwhile (recorded, not hidden)
            restored = [e["event_ref"] for e in per_event if e["action"].endswith(" restored")]
            changes = [e for e in per_event if not e["action"].endswith(" restored")]
            assert set(restored) <= set(planned), per_event
            if result.status == "done":
                assert restored == [] and sorted(e["event_ref"] for e in changes) == sorted(planned), per_event
            else:
                assert changes == [], "a compensated / unresolved action changed no event in our database"
        # 4. exactly once: one request per recorded write step; an unknown outcome is read back, never resent
        write_steps = [s for s in steps if s["action"] in ("schedule", "unschedule")]
        sent = self.writes_of(self.mark)
        new_writes = [s for s in write_steps if s["id"] > self.step_mark]
        assert len(sent) == len(new_writes), f"{len(sent)} write requests for {len(new_writes)} write steps"
        forward = [s["event_ref"] for s in write_steps if s["purpose"] == "forward"]
        compensating = [s["event_ref"] for s in new_writes if s["purpose"] == "compensate"]
        assert len(forward) == len(set(forward)) and set(forward) <= set(planned), steps
        assert len(compensating) == len(set(compensating)) and set(compensating) <= set(forward), steps
        for step, following in zip(steps, steps[1:] + [None]):
            if step["action"] in ("schedule", "unschedule") and step["status"] == "unknown":
                assert following is not None and (following["event_ref"], following["action"]) == \
                    (step["event_ref"], "read_back"), f"unknown outcome not read back: {steps}"
        return operation


def reset_database(engine: Engine) -> None:
    """Empty what a previous test wrote (one migrated database per module and backend keeps the suite fast)."""
    with engine.begin() as connection:
        for table in ("events", "schedules"):  # PairedWorld.refuse_updates
            if engine.dialect.name == "sqlite":
                connection.execute(text(f"DROP TRIGGER IF EXISTS refuse_{table}_updates"))
            else:
                connection.execute(text(f"DROP TRIGGER IF EXISTS refuse_{table}_updates ON {table}"))
        for table in ("dashboard_batch_items", "dashboard_batches", "dashboard_operation_steps",
                      "dashboard_operations", "dashboard_audit", "dashboard_event_locks", "schedules", "events"):
            connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """(url, engine) of a migrated database per module and backend (PostgreSQL: a private schema)."""
    with private_database(request.param, tmp_path_factory.mktemp("paired")) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        try:
            yield url, engine
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeCrossmark]:
    """One local HTTP fake per module; each test gets a fresh simulator on it (`PairedWorld.restart`). Short timeouts
    keep the matrix fast: `timeout_*` faults hold a reply twice the clients' read timeout, `slow_reply` and `late_write` ones a fifth of it."""
    with FakeCrossmark(timeout_delay=0.5, slow_delay=0.05) as fake:
        yield fake


@pytest.fixture
def world(migrated: tuple[str, Engine], fake_server: FakeCrossmark) -> Iterator[PairedWorld]:
    """The sprint2 scenario in the database and in the fake Crossmark (real HTTP), in agreement; nothing recorded."""
    url, engine = migrated
    paired = PairedWorld(engine, fake_server, read_timeout=0.25, url=url)
    paired.restart()
    paired.agree()
    yield paired
    assert fake_server.server_errors == [], fake_server.server_errors
