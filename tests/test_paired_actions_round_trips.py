"""How much a paired reschedule asks of the database: its commits, statements and pool checkouts, pinned (issue 22).

On PostgreSQL each statement is a round trip and each checkout a ping, a BEGIN and a ROLLBACK or COMMIT more, so these
counts are what the action's own overhead is made of. They are counts, not times: a change that adds a round trip
fails here, on SQLite and PostgreSQL alike, and must say why in the numbers below. The durability points they must
keep are checked as well: the operation is committed before the first Crossmark call, and each call's step record
before that call.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, event, select

from services.reads.read_queries import data_version
from services.store.tables import Operation, OperationStep
from tests.paired_world import DAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

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
# the driver sends itself, not counted here).
STATEMENTS = {"sqlite": 26, "postgresql": 23}


@dataclass
class Traffic:
    """What one thread asked of an engine: statements, commits and pool checkouts, and the statements' text."""

    statements: list[str] = field(default_factory=list)
    commits: int = 0
    checkouts: int = 0


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
    try:
        yield seen
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)


def test_a_paired_reschedule_commits_three_times_in_a_pinned_number_of_statements(world: PairedWorld):
    version = data_version(world.engine)
    with traffic_of_this_thread(world.engine) as traffic:
        result = world.actions.reschedule(606001, at(DAY + timedelta(days=1), 11), "alice")
    world.check(result, status="done")  # and the journal, the audit and both systems are as after any action
    assert data_version(world.engine) > version  # announced to every process's cached reads (by the triggers)
    assert [event.ref for event in result.events] == [606001, 606002]
    assert (traffic.commits, traffic.checkouts) == (COMMITS, CHECKOUTS), traffic
    assert len(traffic.statements) == STATEMENTS[world.engine.dialect.name], "\n".join(traffic.statements)


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
