"""The rate limit counts the account, atomically (issue 15 §3), on real SQLite and PostgreSQL databases against the
local HTTP fake of Crossmark.

The limit counts the canonical account name the permission check returns (" op1", "op1 " and "op1" are one account,
and the journal records "op1"); counting and recording a request are one write transaction, so concurrent actions of
one account cannot all pass; retries, acknowledgements and check runs asked for by a person count too. A refused
action still leaves its operation record (DESIGN.md §3.3).
"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bench.concurrency import _pair_rows, _same_day_target, _world
from services.access.accounts import SETUP, ADMIN, OPERATOR, add_user, authorizer, list_users
from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.errors import PermissionDenied, RateLimitExceeded
from services.actions.paired_actions import PairedActions
from services.quality.checks import acknowledge, open_findings, run_check
from services.settings import load_settings
from services.store.tables import AuditEntry, CheckRun, Operation, QualityFinding
from tests.cli_runner import run_cli
from tests.paired_world import DAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

PASSWORD = "long-enough-password"
THREADS = 8


def _accounts(engine, *accounts: tuple[str, str]) -> None:  # noqa: ANN001
    known = {user["username"] for user in list_users(engine)}
    for name, role in accounts:
        if name not in known:
            add_user(engine, name, role, PASSWORD, by=SETUP)


def _limited(world: PairedWorld, limit: int) -> PairedActions:
    _accounts(world.engine, ("op1", OPERATOR), ("op2", OPERATOR))
    return world.make_actions(authorize=authorizer(world.engine, limit))


def _audit_actions(engine, actor: str) -> list[str]:  # noqa: ANN001
    with engine.connect() as connection:
        return list(connection.execute(select(AuditEntry.action).where(AuditEntry.actor == actor)
                                       .order_by(AuditEntry.id)).scalars())


# --- one account, however its name is typed ------------------------------------------------------------------------


def test_white_space_variants_of_a_name_are_one_account_and_the_journal_records_it(world):
    actions = _limited(world, 2)
    first = actions.reschedule(606999, at(DAY, 9, 45), " op1")
    world.check(first, status="done")
    world.arm()
    second = actions.reschedule(606999, at(DAY, 10, 30), "op1 ")
    world.check(second, status="done")
    world.arm()
    third = actions.reschedule(606001, at(DAY, 11), "op1")
    world.check(third, status="refused")
    assert "op1 has made 2 change(s) in the last minute (the limit is 2" in third.message
    assert world.writes_of(world.mark) == []
    with world.engine.connect() as connection:
        recorded = connection.execute(select(Operation.requested_by, Operation.status).order_by(Operation.id)).all()
    assert recorded == [("op1", "done"), ("op1", "done"), ("op1", "refused")]  # the canonical name, every time
    assert _audit_actions(world.engine, " op1") == [] and _audit_actions(world.engine, "op1 ") == []
    world.arm()
    other = actions.reschedule(606001, at(DAY, 11), "op2")  # the limit is per account
    world.check(other, status="done")


def test_a_replay_of_a_key_is_not_counted_and_a_refusal_is_recorded(world):
    actions = _limited(world, 1)
    first = actions.reschedule(606999, at(DAY, 9, 45), "op1", key="only-once")
    world.check(first, status="done")
    world.arm()
    assert actions.reschedule(606999, at(DAY, 9, 45), "op1", key="only-once").operation_id == first.operation_id
    world.arm()
    refused = actions.unschedule(606001, "op1", key="second")
    world.check(refused, status="refused")  # its own record and its "refused" audit entry: nothing lost
    assert "the limit is 1" in refused.message
    assert actions.unschedule(606001, "op1", key="second").operation_id == refused.operation_id


# --- atomic: count and record in one write transaction ---------------------------------------------------------------


def test_concurrent_actions_of_one_account_at_a_limit_of_one_let_exactly_one_pass(database_url):
    """Eight paired reschedules of eight different pairs by one account at once, at a limit of 1 a minute: exactly one
    is carried out (two Crossmark writes); the seven others are refused by the rate limit, each with its record."""
    with _world(database_url, events=800, stores=2) as bench_world:
        engine = bench_world.engine
        _accounts(engine, ("op1", OPERATOR))
        actions = PairedActions(engine, bench_world.actions.client_factory, rule=bench_world.actions.rule,
                                authorize=authorizer(engine, 1))
        pairs = _pair_rows(engine, bench_world.today, THREADS)
        assert len(pairs) == THREADS
        barrier = threading.Barrier(THREADS)
        outcomes: dict[int, object] = {}

        def act(index: int) -> None:
            pair = pairs[index]
            barrier.wait()
            try:
                outcomes[index] = actions.reschedule(pair["core"], _same_day_target(pair["core_at"]), "op1")
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                outcomes[index] = error

        threads = [threading.Thread(target=act, args=(index,)) for index in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(outcomes) == THREADS and not [o for o in outcomes.values() if isinstance(o, Exception)], outcomes
        statuses = Counter(outcome.status for outcome in outcomes.values())
        assert statuses == {"done": 1, "refused": THREADS - 1}, [o.message for o in outcomes.values()]
        assert all("the limit is 1" in o.message for o in outcomes.values() if o.status == "refused")
        assert bench_world.fake.writes_sent() == 2  # the one CORE and its Supervisor
        with engine.connect() as connection:
            recorded = Counter(connection.execute(select(Operation.requested_by, Operation.status)).all())
        assert recorded == {("op1", "done"): 1, ("op1", "refused"): THREADS - 1}


# --- retries, acknowledgements and check runs count too ------------------------------------------------------------


def test_retry_is_rate_limited(world):
    actions = _limited(world, 1)
    world.arm({2: ["5xx_after", ("planning", "5xx_before", 3)]})
    stuck = actions.reschedule(606001, at(DAY, 11), "op1")
    world.check(stuck, status="needs_attention")
    world.arm()
    with pytest.raises(RateLimitExceeded, match="op1 has made 1 change.*the limit is 1"):
        actions.retry(stuck.operation_id, " op1")
    assert world.fake.requests[world.mark:] == []  # Crossmark not even read
    assert world.operation(stuck.operation_id)["status"] == "needs_attention"
    assert _audit_actions(world.engine, "op1")[-1] == "retry refused"

    retried = actions.retry(stuck.operation_id, "op2")  # another account: within its own limit
    world.check(retried, status="compensated")  # the CORE had been put back; the Supervisor's write is undone
    assert "retry requested" in _audit_actions(world.engine, "op2")
    world.arm()
    refused = actions.reschedule(606999, at(DAY, 9, 45), "op2")  # and that retry counts for op2
    world.check(refused, status="refused")
    assert "op2 has made 1 change(s)" in refused.message


def _checks_world(engine, limit: int):  # noqa: ANN001, ANN202
    seed_sprint2_scenario(engine, today=date.today())
    _accounts(engine, ("alice", OPERATOR), ("ada", ADMIN))
    settings = load_settings({"ACTIONS_PER_MINUTE": str(limit)})
    run_check(engine, settings)  # cron's run: no account, not counted
    return settings, [int(finding_id) for finding_id in open_findings(engine)["id"]]


def test_acknowledgements_are_rate_limited_per_account(engine):
    settings, findings = _checks_world(engine, 1)
    assert len(findings) >= 2
    acknowledge(engine, findings[0], " alice", "known", actions_per_minute=1)
    with pytest.raises(RateLimitExceeded, match="alice has made 1 change.*the limit is 1"):
        acknowledge(engine, findings[1], "alice ", "known too", actions_per_minute=1)
    with engine.connect() as connection:
        acknowledged = dict(connection.execute(select(QualityFinding.id, QualityFinding.acknowledged_by)
                                               .where(QualityFinding.id.in_(findings[:2]))).all())
    assert acknowledged == {findings[0]: "alice", findings[1]: None}
    assert _audit_actions(engine, "alice") == ["acknowledge requested", "acknowledge refused"]
    acknowledge(engine, findings[1], "ada", "known too", actions_per_minute=1)  # another account


def test_check_runs_asked_for_by_a_person_are_rate_limited(engine):
    settings, _ = _checks_world(engine, 2)
    first = run_check(engine, settings, actor=" alice")
    with pytest.raises(PermissionDenied, match="not a user"):
        run_check(engine, settings, actor="nobody")
    acknowledge(engine, int(open_findings(engine)["id"].iloc[0]), "alice", "known", actions_per_minute=2)
    with pytest.raises(RateLimitExceeded, match="alice has made 2 change.*the limit is 2"):
        run_check(engine, settings, actor="alice")  # a run and an acknowledgement already: the third is refused
    run_check(engine, settings)  # cron's runs are not a person's
    with engine.connect() as connection:
        runs = connection.execute(select(CheckRun.triggered_by).order_by(CheckRun.id)).scalars().all()
    assert runs == ["cli", "alice", "cli"] and first.run_id == 2
    assert _audit_actions(engine, "alice") == ["run_checks requested", "acknowledge requested", "run_checks refused"]


def test_actions_retries_acknowledgements_and_check_runs_share_one_count(world):
    actions = _limited(world, 3)
    settings = load_settings({"ACTIONS_PER_MINUTE": "3"})
    assert actions.reschedule(606999, at(DAY, 9, 45), "op1").status == "done"
    run_check(world.engine, settings, actor="op1")
    acknowledge(world.engine, int(open_findings(world.engine)["id"].iloc[0]), "op1", "known", actions_per_minute=3)
    world.arm()
    refused = actions.reschedule(606001, at(DAY, 11), "op1")
    world.check(refused, status="refused")
    assert "op1 has made 3 change(s)" in refused.message
    with world.engine.connect() as connection:
        counted = connection.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.actor == "op1", AuditEntry.action.like("% requested"),
            AuditEntry.at > datetime.now() - timedelta(minutes=1))).scalar_one()
    assert counted == 3


def test_the_cli_acknowledgement_counts_under_the_configured_limit(tmp_path):
    path = str(tmp_path / "scheduler.db")
    assert run_cli("db", "upgrade", "--db", path).returncode == 0
    assert run_cli("demo", "seed", "--scenario", "sprint2", "--db", path).returncode == 0
    assert run_cli("users", "add", "alice", "--role", "operator", "--db", path, stdin=PASSWORD + "\n").returncode == 0
    assert run_cli("check", "run", "--db", path).returncode == 0
    engine = make_engine(f"sqlite:///{path}")
    try:
        first, second = (int(finding_id) for finding_id in open_findings(engine)["id"].iloc[:2])
    finally:
        engine.dispose()
    limited = {"ACTIONS_PER_MINUTE": "1"}
    acknowledged = run_cli("check", "ack", "--finding", str(first), "--note", "known", "--user", "alice", "--db", path,
                           env=limited)
    assert acknowledged.returncode == 0, acknowledged.stderr
    refused = run_cli("check", "ack", "--finding", str(second), "--note", "known", "--user", "alice", "--db", path,
                      env=limited)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: alice has made 1 change(s) in the last minute (the limit is 1, counting actions, retries, "
        "acknowledgements and check runs); wait a moment and try again."]
