"""How much a paired reschedule asks of the database: its commits, statements and pool checkouts, pinned (issue 22).

On PostgreSQL each statement is a round trip and each checkout a BEGIN and a ROLLBACK or COMMIT more (and a ping, for
a connection that sat unused over a second: none within an action), so these counts are what the action's own overhead
is made of. They are counts, not times: a change that adds a round trip
fails here, on SQLite and PostgreSQL alike, and must say why in the numbers below. The durability points they must
keep are checked as well: the operation is committed before the first Crossmark call, and each call's step record
before that call.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, create_engine, event, select, text

from services.actions.facts import core_supervisor, find_event
from services.demo.demo_data import seed_demo_data
from services.domain.event_rules import CORE, SUPERVISOR
from services.reads.read_queries import data_version
from services.store import database
from services.store.tables import Operation, OperationStep
from tests.conftest import POSTGRES_URL
from tests.paired_world import DAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures
from tests.test_pair_keys_and_state_drift import count_row_writes

# Per paired reschedule (CORE + Supervisor, both scheduled), by dialect. Statements as the driver is handed them (an
# executemany is one); SQLite's count includes its BEGIN / BEGIN IMMEDIATE (PostgreSQL's driver sends BEGIN itself),
# PostgreSQL's the local commit's lock on the events' rows (SQLite's write transaction holds the whole file).
COMMITS = 3  # the operation with its locks and its first call's step; the second call's step with the first call's
CHECKOUTS = 4  # result; the local commit with the second's. Checkouts: those three and the first plan's read.
# Was 35 / 32: each event and its placement are now read in one statement (4 fewer: two events, planned twice), the
# plan under the locks reuses the first plan's switches (1), the operation is written applying with its first step
# (no UPDATE after it: 1), the local commit checks the lease in the UPDATE that finishes the operation (1) and writes
# the status's audit entry with the events' (1), and leaves the data version's bump to the triggers on the events it
# writes (1). The first plan's read runs in autocommit on PostgreSQL (no BEGIN, ROLLBACK or DEALLOCATE ALL: commands
# the driver sends itself, not counted here). PostgreSQL's local commit reads the events' state with their lock and
# leaves out the UPDATE of events already in their target state (a reschedule's two stay Scheduled: 1 fewer; SQLite's
# UPDATE says so in its WHERE clause and matches no row); and each plan reads the Supervisor's facts in the statement
# that pairs it with its CORE (2 fewer: was 26 / 23).
STATEMENTS = {"sqlite": 24, "postgresql": 20}


@dataclass
class Traffic:
    """What one thread asked of an engine: statements, commits and pool checkouts, and the statements' text."""

    statements: list[str] = field(default_factory=list)
    commits: int = 0
    checkouts: int = 0
    pings: int = 0  # SELECT 1 sent to check a pooled connection before it is handed out


@contextmanager
def traffic_of_this_thread(engine: Engine) -> Iterator[Traffic]:
    """Count this thread's traffic only: the fake Crossmark's server thread reads the same database."""
    thread = threading.get_ident()
    seen = Traffic()

    def statement(_connection, _cursor, text, _parameters, _context, _many):  # noqa: ANN001 - SQLAlchemy's hook
        if threading.get_ident() == thread:
            seen.statements.append(text)

    def commit(_connection):  # noqa: ANN001
        if threading.get_ident() == thread:
            seen.commits += 1

    def checkout(*_arguments):  # noqa: ANN002
        if threading.get_ident() == thread:
            seen.checkouts += 1

    hooks = [(engine, "before_cursor_execute", statement), (engine, "commit", commit),
             (engine.pool, "checkout", checkout)]
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    dialect = engine.dialect
    ping = dialect.do_ping

    def counted_ping(dbapi_connection):  # noqa: ANN001, ANN202 - the dialect's own signature
        if threading.get_ident() == thread:
            seen.pings += 1
        return ping(dbapi_connection)

    dialect.do_ping = counted_ping  # type: ignore[method-assign] - the instance attribute shadows the method
    try:
        yield seen
    finally:
        del dialect.do_ping
        for target, name, hook in hooks:
            event.remove(target, name, hook)


def test_a_paired_reschedule_commits_three_times_in_a_pinned_number_of_statements(world: PairedWorld,
                                                                                    monkeypatch: pytest.MonkeyPatch):
    # Every pooled connection counts as just used (the world was set up within the minute): a ping here would be one
    # per checkout, as pool_pre_ping sent (4 more round trips on PostgreSQL).
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 60.0)
    version = data_version(world.engine)
    with count_row_writes(world.engine, "events") as rewrites:
        with traffic_of_this_thread(world.engine) as traffic:
            result = world.actions.reschedule(606001, at(DAY + timedelta(days=1), 11), "alice")
        rewritten = rewrites()
    world.check(result, status="done")  # and the journal, the audit and both systems are as after any action
    assert data_version(world.engine) > version  # announced to every process's cached reads (by the triggers)
    assert [event.ref for event in result.events] == [606001, 606002]
    assert (traffic.commits, traffic.checkouts, traffic.pings) == (COMMITS, CHECKOUTS, 0), traffic
    assert len(traffic.statements) == STATEMENTS[world.engine.dialect.name], "\n".join(traffic.statements)
    # Both events stay Scheduled: their rows are not written again (a new row version and every row trigger on events
    # fired for nothing); the schedules' rows carry the change.
    assert rewritten == {}


def test_an_unschedule_writes_the_event_whose_state_changes(world: PairedWorld):
    """The other side of the above: a Supervisor unscheduled is written Unstaffed and not scheduled."""
    with count_row_writes(world.engine, "events") as rewrites:
        result = world.actions.unschedule(606002, "alice")
        assert rewrites() == {"events": 1}
    world.check(result, status="done")
    assert world.db(606002).scheduled is False  # (world.db checks the condition and the flag agree)


def test_every_durability_point_is_committed_before_its_crossmark_call(world: PairedWorld):
    """At each write Crossmark receives, what another connection sees: the operation, its locks, and the step record
    of this very call (the earlier call's result with it)."""
    seen: list[tuple[str, list[tuple[int, str, str]]]] = []

    def look(_path: str) -> None:
        with world.engine.connect() as connection:  # another connection: only what was committed
            status = connection.execute(select(Operation.status)).scalars().all()
            steps = connection.execute(select(OperationStep.event_ref, OperationStep.action, OperationStep.status)
                                       .order_by(OperationStep.seq)).all()
        seen.append((status[-1], [tuple(step) for step in steps]))

    world.arm({1: look, 2: look})
    result = world.actions.reschedule(606001, at(DAY + timedelta(days=1), 11), "alice")
    world.check(result, status="done")
    assert seen == [
        ("applying", [(606001, "schedule", "sent")]),
        ("applying", [(606001, "schedule", "ok"), (606002, "schedule", "sent")]),
    ]
    assert [(step["event_ref"], step["status"]) for step in world.steps(result.operation_id)] == [
        (606001, "ok"), (606002, "ok")]  # the last call's result came with the local commit


def test_a_pooled_connection_the_server_dropped_while_unused_is_replaced_when_checked_out(postgres_schema_url: str,
                                                                                        monkeypatch: pytest.MonkeyPatch):
    """No ping within a second of a connection's last use (above), but after a pause the ping is still sent: a
    connection the server ended meanwhile (a restart, an idle timeout) is replaced, never handed out."""
    engine = database.make_engine(postgres_schema_url)
    admin = create_engine(POSTGRES_URL or "")
    try:
        with engine.connect() as connection:
            first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one()
        monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)  # the pooled connection has sat long enough
        with engine.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    finally:
        admin.dispose()
        engine.dispose()


def test_the_supervisor_read_with_its_pairing_has_the_facts_find_event_reads(engine: Engine):
    """core_supervisor reads the Supervisor's facts in its pairing statement: for every CORE of the demo data, and a
    Supervisor holding two schedule rows (the first by id is its placement, as find_event says) or none, the facts are
    exactly find_event's."""
    seed_demo_data(engine, events=400, stores=2, start=date.today(), months=1, today=date.today())
    start = datetime.combine(date.today() + timedelta(days=1), datetime.min.time())
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO employees (id, name, external_id) VALUES ('US009901', 'Lead', NULL)"))
        for ref, event_type, name in ((997201, CORE, "771201-Core"), (997202, SUPERVISOR, "771201-Supervisor"),
                                      (997203, CORE, "771202-Core"), (997204, SUPERVISOR, "771202-Supervisor")):
            connection.execute(text(
                "INSERT INTO events (project_name, project_ref_num, location_mvid, start_datetime, due_datetime, "
                "is_scheduled, event_type, condition, external_id, estimated_time) VALUES (:name, :ref, 'LOC-FX-1', "
                ":start, :due, FALSE, :type, 'Unstaffed', :mplan, 30)"),
                {"name": name, "ref": ref, "start": start, "due": start + timedelta(days=3), "type": event_type,
                 "mplan": f"M{ref}"})
        for schedule_id, hour in ((9_300_002, 12), (9_300_001, 13)):  # the later-written row has the lower id
            connection.execute(text("INSERT INTO schedules (id, event_ref_num, employee_id, schedule_datetime, "
                                    "external_id) VALUES (:id, 997202, 'US009901', :at, :external)"),
                               {"id": schedule_id, "at": start + timedelta(hours=hour), "external": str(schedule_id)})
    with engine.connect() as connection:
        cores = list(connection.execute(text("SELECT project_ref_num FROM events WHERE event_type = 'Core'")).scalars())
        compared = 0
        for ref in cores:
            pair = core_supervisor(connection, find_event(connection, ref))
            if pair.supervisor is not None:
                assert pair.supervisor == find_event(connection, pair.supervisor.ref), ref
                compared += 1
        twice = core_supervisor(connection, find_event(connection, 997201)).supervisor
        never = core_supervisor(connection, find_event(connection, 997203)).supervisor
    assert compared > 10
    assert twice is not None and twice.placement.start == start + timedelta(hours=13)
    assert twice.placement.scheduled_event_id == "9300001" and twice.mplan_id == "M997202"
    assert never is not None and not never.placement.scheduled and never.estimated_minutes == 30
