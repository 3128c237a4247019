"""Idempotency keys bound to their account and their request (issue 15 §2), on real SQLite and PostgreSQL databases
against the local HTTP fake of Crossmark.

The same key with the same request by the same account answers with the first operation and sends nothing again; the
same key with a different request is refused (IdempotencyKeyReused: CLI exit 1, one line on stderr), recording and
sending nothing; another account's same key is its own key. Keys are released by `reconcile` after the retention, the
records kept. Migration 0010 upgrades a database holding operations recorded before keys had fingerprints.
"""
from __future__ import annotations

import json
import os
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from services.access.accounts import SETUP, OPERATOR, add_user, list_users
from services.crossmark.client import make_crossmark_client
from services.crossmark.sandbox import simulator_from_database
from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.errors import IdempotencyKeyReused
from services.actions.journal import KEY_RETENTION, Journal, read_json, request_fingerprint
from services.actions.paired_actions import PairedActions
from services.store.schema_admin import head_revision, upgrade_database
from services.settings import load_settings
from services.store.tables import AuditEntry, Base, Operation
from tests.cli_runner import run_cli
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME
from tests.paired_world import DAY, TODAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

MIGRATIONS = Path(__file__).resolve().parent.parent / "services" / "store" / "migrations"


def _cli_env(world: PairedWorld) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CROSSMARK_", "SCHEDULER_"))}
    env.update(CROSSMARK_BASE_URL=world.fake.url, CROSSMARK_USERNAME=FAKE_USERNAME, CROSSMARK_PASSWORD=FAKE_PASSWORD,
               CROSSMARK_TIMEZONE=FAKE_TIMEZONE)
    return env


def _operators(world: PairedWorld, *names: str) -> None:
    known = {user["username"] for user in list_users(world.engine)}
    for name in names:  # the CLI acts only for active accounts whose role allows it
        if name not in known:
            add_user(world.engine, name, OPERATOR, "long-enough-password", by=SETUP)


def _cli(world: PairedWorld, *args: str):  # noqa: ANN202 - CompletedProcess
    return run_cli(*args, "--db", world.url, env=_cli_env(world))


def _last_json(completed) -> dict:  # noqa: ANN001
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --- the issue's reproduction, through the CLI ---------------------------------------------------------------------


def test_a_key_reused_by_its_account_for_another_request_is_refused_and_nothing_is_sent(world):
    """reschedule 606001 --key k1, then unschedule 608001 --key k1 by the same account: exit 1 with one line naming the
    key and the first operation; 608001 untouched on both sides, no Crossmark write, nothing recorded. Repeating the
    first command answers with its operation, sending nothing again."""
    _operators(world, "alice")
    first = _cli(world, "reschedule", "--event", "606001", "--to", f"{at(DAY, 11):%Y-%m-%dT%H:%M}", "--key", "k1",
                 "--user", "alice", "--json")
    assert first.returncode == 0, first.stderr
    done = _last_json(first)
    assert done["status"] == "done"
    world.arm()
    before = world.snapshot()

    reused = _cli(world, "unschedule", "--event", "608001", "--key", "k1", "--user", "alice")

    assert reused.returncode == 1, (reused.stdout, reused.stderr)
    lines = reused.stderr.strip().splitlines()
    assert lines == [f"error: The idempotency key 'k1' of alice already belongs to operation {done['operation_id']} "
                     "(reschedule, done), a different request; nothing was done. Use a new key for a new action."]
    assert "Traceback" not in reused.stderr and "DONE" not in reused.stdout
    assert world.writes_of(world.mark) == []  # nothing sent to Crossmark
    assert world.snapshot() == before and world.db(608001).scheduled  # 608001 untouched, in both places
    world.agree()
    assert world.operation_ids() == [done["operation_id"]]  # nothing recorded that could collide

    again = _cli(world, "reschedule", "--event", "606001", "--to", f"{at(DAY, 11):%Y-%m-%dT%H:%M}", "--key", "k1",
                 "--user", "alice", "--json")
    assert again.returncode == 0, again.stderr
    assert _last_json(again)["operation_id"] == done["operation_id"] and _last_json(again)["status"] == "done"
    assert world.writes_of(world.mark) == [] and world.operation_ids() == [done["operation_id"]]


def test_the_issues_two_accounts_have_two_keys_so_bobs_unschedule_is_carried_out(world):
    """The issue's exact commands (alice, then bob with the same key): bob's key is his own, so his unschedule is a new
    operation that is carried out (before the fix he was told alice's operation was his, and 608001 stayed put)."""
    _operators(world, "alice", "bob")
    first = _cli(world, "reschedule", "--event", "606001", "--to", f"{at(DAY, 11):%Y-%m-%dT%H:%M}", "--key", "k1",
                 "--user", "alice", "--json")
    assert first.returncode == 0, first.stderr
    world.arm()
    second = _cli(world, "unschedule", "--event", "608001", "--key", "k1", "--user", "bob", "--json")
    assert second.returncode == 0, second.stderr
    bobs = _last_json(second)
    assert bobs["status"] == "done" and bobs["operation_id"] != _last_json(first)["operation_id"]
    assert [event["ref"] for event in bobs["events"]] == [608001]
    assert not world.db(608001).scheduled and not world.remote(608001).scheduled
    assert len(world.writes_of(world.mark)) == 1  # 608001's unschedule (its Supervisor is not scheduled)
    world.agree()
    operation = world.operation(bobs["operation_id"])
    assert (operation["requested_by"], operation["idempotency_key"], operation["kind"]) == ("bob", "k1", "unschedule")


# --- the service layer ---------------------------------------------------------------------------------------------


def test_same_key_same_request_answers_with_the_first_operation_and_sends_nothing(world):
    first = world.actions.reschedule(606001, at(DAY, 11), "alice", key="k1")
    world.check(first, status="done")
    world.arm()
    again = world.actions.reschedule(606001, at(DAY, 11), "alice", key="k1")
    assert (again.operation_id, again.status, again.message) == (first.operation_id, "done", first.message)
    assert world.writes_of(world.mark) == [] and world.operation_count() == 1
    operation = world.operation(first.operation_id)
    assert operation["request_fingerprint"] == request_fingerprint("reschedule", "alice",
                                                                   {"ref": 606001, "to": at(DAY, 11).isoformat()})


@pytest.mark.parametrize("other", ["another time", "another event", "another kind"])
def test_same_key_another_request_is_refused_with_the_key_and_the_first_operation(world, other):
    first = world.actions.reschedule(606001, at(DAY, 11), "alice", key="k1")
    world.check(first, status="done")
    world.arm()
    before = world.snapshot()
    with pytest.raises(IdempotencyKeyReused) as refused:
        if other == "another time":
            world.actions.reschedule(606001, at(DAY, 10, 30), "alice", key="k1")
        elif other == "another event":
            world.actions.reschedule(608001, at(DAY, 11), "alice", key="k1")
        else:
            world.actions.unschedule(606001, "alice", key="k1")
    assert (refused.value.key, refused.value.operation_id) == ("k1", first.operation_id)
    assert f"already belongs to operation {first.operation_id}" in str(refused.value)
    assert world.writes_of(world.mark) == [] and world.snapshot() == before
    assert world.operation_count() == 1


def test_the_same_key_of_another_account_is_its_own_key(world):
    alices = world.actions.reschedule(606001, at(DAY, 11), "alice", key="shared")
    world.check(alices, status="done")
    world.arm()
    bobs = world.actions.reschedule(606001, at(DAY, 10, 30), "bob", key="shared")
    world.check(bobs, status="done")
    assert bobs.operation_id != alices.operation_id
    assert world.db(606001).start == at(DAY, 10, 30)
    world.arm()
    assert world.actions.reschedule(606001, at(DAY, 11), "alice", key="shared").operation_id == alices.operation_id
    assert world.actions.reschedule(606001, at(DAY, 10, 30), "bob", key="shared").operation_id == bobs.operation_id
    assert world.writes_of(world.mark) == [] and world.operation_count() == 2


def test_refused_records_keep_their_key_and_undo_keys_still_work(world):
    past = at(TODAY - timedelta(days=1), 10, 30)
    refused = world.actions.reschedule(606001, past, "alice", key="k-refused")
    world.check(refused, status="refused")
    assert world.actions.reschedule(606001, past, "alice", key="k-refused").operation_id == refused.operation_id
    with pytest.raises(IdempotencyKeyReused):
        world.actions.reschedule(606001, at(DAY, 11), "alice", key="k-refused")
    assert world.operation_count() == 1

    done = world.actions.reschedule(606001, at(DAY, 11), "alice")  # a generated key
    world.check(done, status="done")
    world.arm()
    undone = world.actions.undo(done.operation_id, "alice")  # undo generates its own key
    world.check(undone, status="done")
    assert world.db(606001).start == at(DAY, 10, 30) and world.operation_count() == 3
    with pytest.raises(IdempotencyKeyReused):  # an explicit key of another request cannot name the undo
        world.actions.undo(done.operation_id, "alice", key="k-refused")


class _LateJournal(Journal):
    """The journal as seen by an action whose key raced in: the first look finds nothing (another request with the
    same key commits between that look and our insert)."""

    def __init__(self, engine) -> None:  # noqa: ANN001
        super().__init__(engine)
        self.blind = 1

    def find_by_key(self, actor: str, key: str, connection=None):  # noqa: ANN001, ANN201
        if self.blind:
            self.blind -= 1
            return None
        return super().find_by_key(actor, key, connection)


def test_a_raced_key_is_checked_against_its_request_on_the_start_and_on_the_refusal_path(world):
    first = world.actions.reschedule(606001, at(DAY, 11), "alice", key="k1")
    world.check(first, status="done")
    world.arm()
    before = world.snapshot()
    for attempt in (lambda actions: actions.reschedule(608001, at(DAY, 11), "alice", key="k1"),  # start's insert
                    lambda actions: actions.reschedule(608001, at(TODAY - timedelta(days=1), 11), "alice",
                                                       key="k1")):  # refused: record_refused's insert
        actions = world.make_actions()
        actions.journal = _LateJournal(world.engine)
        with pytest.raises(IdempotencyKeyReused) as refused:
            attempt(actions)
        assert refused.value.operation_id == first.operation_id
    actions = world.make_actions()
    actions.journal = _LateJournal(world.engine)
    assert actions.reschedule(606001, at(DAY, 11), "alice", key="k1").operation_id == first.operation_id
    assert world.writes_of(world.mark) == [] and world.snapshot() == before and world.operation_count() == 1
    assert world.locks() == {}


def test_concurrent_uses_of_one_key_make_one_operation(world):
    """Six threads, one account, one key, three different requests (two threads each): one operation is made and
    carried out; the threads with its request get its answer, the others IdempotencyKeyReused."""
    requests = [(606001, at(DAY, 11)), (608001, at(DAY, 11)), (606001, at(DAY, 9, 45))] * 2
    barrier = threading.Barrier(len(requests))
    outcomes: dict[int, object] = {}

    def attempt(index: int) -> None:
        ref, when = requests[index]
        barrier.wait()
        try:
            outcomes[index] = world.actions.reschedule(ref, when, "alice", key="raced")
        except IdempotencyKeyReused as refused:
            outcomes[index] = refused

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == len(requests), outcomes
    [operation_id] = world.operation_ids()
    operation = world.operation(operation_id)
    winner = (operation["request"]["ref"], datetime.fromisoformat(operation["request"]["to"]))
    for index, outcome in outcomes.items():
        if requests[index] == winner:
            assert not isinstance(outcome, Exception) and outcome.operation_id == operation_id, outcome
        else:
            assert isinstance(outcome, IdempotencyKeyReused) and outcome.operation_id == operation_id, outcome
    assert operation["status"] == "done" and world.locks() == {}
    assert len(world.writes_of(world.mark)) == len(operation["events"])  # the winner's events, each once
    world.agree()
    world.pairs_together()


# --- retention: reconcile releases old keys, keeping the records ---------------------------------------------------


def test_reconcile_releases_keys_after_the_retention_and_keeps_the_records(world):
    old = world.actions.reschedule(606001, at(DAY, 11), "alice", key="old")
    recent = world.actions.unschedule(608001, "alice", key="recent")
    assert (old.status, recent.status) == ("done", "done")
    now = datetime.now().replace(microsecond=0)
    world.execute("UPDATE dashboard_operations SET finished_at = :then WHERE id = :id",
                  then=now - KEY_RETENTION - timedelta(hours=1), id=old.operation_id)
    world.execute("UPDATE dashboard_operations SET finished_at = :then WHERE id = :id",
                  then=now - KEY_RETENTION + timedelta(hours=1), id=recent.operation_id)

    assert world.actions.reconcile() == []

    released = world.operation(old.operation_id)
    assert released["key_released_at"] is not None
    assert (released["idempotency_key"], released["status"], released["requested_by"]) == ("old", "done", "alice")
    assert world.operation(recent.operation_id)["key_released_at"] is None
    with world.engine.connect() as connection:
        audited = connection.execute(select(AuditEntry.message).where(AuditEntry.action == "keys released")).all()
    assert len(audited) == 1 and "1 idempotency key(s)" in audited[0][0]

    world.arm()
    reused = world.actions.reschedule(606001, at(DAY, 10, 30), "alice", key="old")  # a released key: a new request
    world.check(reused, status="done")
    assert reused.operation_id not in (old.operation_id, recent.operation_id) and world.operation_count() == 3
    with pytest.raises(IdempotencyKeyReused):
        world.actions.reschedule(606001, at(DAY, 11), "alice", key="recent")
    assert world.actions.reconcile() == [] and world.operation(reused.operation_id)["key_released_at"] is None


def test_keys_of_operations_needing_attention_are_not_released(world):
    world.arm({2: ["5xx_after", ("planning", "5xx_before", 3)]})
    stuck = world.actions.reschedule(606001, at(DAY, 11), "alice", key="stuck")
    world.check(stuck, status="needs_attention")
    world.execute("UPDATE dashboard_operations SET finished_at = :then, updated_at = :then",
                  then=datetime.now() - 2 * KEY_RETENTION)
    world.actions.reconcile()
    assert world.operation(stuck.operation_id)["key_released_at"] is None
    assert world.actions.reschedule(606001, at(DAY, 11), "alice", key="stuck").operation_id == stuck.operation_id


# --- migration 0010 on a database holding operations recorded before it ----------------------------------------------


def _operations_table_of_revision_0003(metadata: sa.MetaData) -> sa.Table:
    """dashboard_operations as revision 0003 created it up to revision 0009 (a global UNIQUE key)."""
    return sa.Table(
        "dashboard_operations", metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(100), unique=True, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("request", sa.Text),
        sa.Column("events", sa.Text),
        sa.Column("undo_of", sa.Integer),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
    )


def _alembic(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _schema(engine: sa.Engine) -> tuple[set[str], list[list[str]], set[str]]:
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        return ({column["name"] for column in inspector.get_columns("dashboard_operations")},
                [unique["column_names"] for unique in inspector.get_unique_constraints("dashboard_operations")],
                {index["name"] for index in inspector.get_indexes("dashboard_operations")})


OLD_ROWS = [
    {"idempotency_key": "k1", "kind": "reschedule", "requested_by": "alice", "status": "done",
     "request": {"ref": 606001, "to": "TARGET", "warnings": []}, "message": "Done: CORE 606001"},
    {"idempotency_key": "k2", "kind": "unschedule", "requested_by": "bob", "status": "refused",
     "request": {"ref": 608002}, "message": "Event 608002 is not scheduled"},
]


def test_migration_0010_upgrades_a_database_holding_old_operations(database_url):
    target = at(DAY, 11).isoformat()
    upgrade_database(database_url)
    engine = make_engine(database_url)
    try:
        seed_sprint2_scenario(engine, today=date.today())
        for name in ("alice", "bob"):
            add_user(engine, name, OPERATOR, "long-enough-password", by=SETUP)
        # Back to the table as revisions 0003-0009 had it, holding operations recorded then.
        with engine.begin() as connection:
            Base.metadata.tables["dashboard_operation_steps"].drop(connection)
            Base.metadata.tables["dashboard_operations"].drop(connection)
            old = _operations_table_of_revision_0003(sa.MetaData())
            old.create(connection)
            Base.metadata.tables["dashboard_operation_steps"].create(connection)
            when = datetime.now().replace(microsecond=0) - timedelta(hours=1)
            connection.execute(old.insert(), [  # ids 1 and 2, from the table's own sequence
                {**row, "request": json.dumps(row["request"]).replace("TARGET", target), "events": "[]",
                 "requested_at": when, "updated_at": when, "finished_at": when} for row in OLD_ROWS])
            connection.execute(text("UPDATE alembic_version SET version_num = '0009'"))
        assert _schema(engine)[1] == [["idempotency_key"]]
        # The request is text up to revision 0015 and JSON from 0016 on: compared as the value it holds.
        kept = select(Operation.id, Operation.idempotency_key, Operation.kind, Operation.requested_by, Operation.status,
                      Operation.request).order_by(Operation.id)

        def rows_kept(connection) -> list[tuple]:  # noqa: ANN001
            return [(*row[:-1], read_json(row[-1], {})) for row in connection.execute(kept)]

        with engine.connect() as connection:
            before = rows_kept(connection)

        result = upgrade_database(database_url, backup_cmd="true" if engine.dialect.name == "postgresql" else None)

        assert (result.from_revision, result.to_revision) == ("0009", head_revision())
        columns, uniques, indexes = _schema(engine)
        assert {"request_fingerprint", "key_released_at"} <= columns
        assert ["idempotency_key"] not in uniques
        assert {"uq_dashboard_operations_account_key", "ix_dashboard_operations_bound_keys"} <= indexes
        with engine.connect() as connection:
            after = rows_kept(connection)
            added = connection.execute(select(Operation.request_fingerprint, Operation.key_released_at)).all()
        assert after == before and added == [(None, None), (None, None)]  # every row kept; fingerprints derived

        journal = Journal(engine)
        assert journal.find_by_key("alice", "k1").fingerprint == request_fingerprint(
            "reschedule", "alice", {"ref": 606001, "to": target})
        settings = load_settings({})
        simulator = simulator_from_database(engine, settings.crossmark_timezone)
        actions = PairedActions(engine, lambda: make_crossmark_client(settings, simulator=simulator))
        assert actions.reschedule(606001, at(DAY, 11), "alice", key="k1").operation_id == 1  # same request: its answer
        assert actions.unschedule(608002, "bob", key="k2").operation_id == 2
        with pytest.raises(IdempotencyKeyReused) as reused:
            actions.unschedule(608001, "alice", key="k1")
        assert reused.value.operation_id == 1
        carol = actions.unschedule(608001, "bob", key="k1")  # bob's k1 is not alice's
        assert carol.status == "done" and carol.operation_id == 3
        with pytest.raises(IntegrityError), engine.begin() as connection:  # unique per account
            connection.execute(sa.insert(Operation).values(
                idempotency_key="k1", kind="undo", requested_by="alice", requested_at=when, status="refused",
                updated_at=when))

        # Down to 0009 gives the old table back (the global UNIQUE), then up again.
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM dashboard_audit"))
            connection.execute(text("DELETE FROM dashboard_operation_steps"))
            connection.execute(text("DELETE FROM dashboard_operations WHERE id = 3"))
        with engine.begin() as connection:
            command.downgrade(_alembic(connection), "0009")
        columns, uniques, _ = _schema(engine)
        assert "request_fingerprint" not in columns and uniques == [["idempotency_key"]]
        assert upgrade_database(database_url, confirmed=True).to_revision == head_revision()
        with engine.connect() as connection:
            assert rows_kept(connection) == before
    finally:
        engine.dispose()
