"""Bad input reaching the services directly (not through the CLI's or the pages' own checks) is refused with a clear
message, recorded where an action was attempted, and changes nothing; no driver error escapes (issue 15 §4). Runs on
SQLite and PostgreSQL, where an out-of-range INTEGER or a NUL byte would otherwise be a DataError."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.access.accounts import SETUP, ProviderIdentity, add_user, authorizer, sign_in_from_identity_provider
from services.crossmark.client import make_crossmark_client
from services.crossmark.sandbox import simulator_from_database
from services.demo.demo_data import seed_sprint2_scenario
from services.errors import InvalidInput
from services.actions.paired_actions import PairedActions
from services.quality.checks import acknowledge, run_check
from services.settings import load_settings
from services.store.tables import LoginAttempt

TODAY = date.today()
TOO_BIG = 2 ** 31  # one more than PostgreSQL's INTEGER holds
PASSWORD = "a-long-enough-password"


def _count(engine, sql: str) -> int:  # noqa: ANN001
    with engine.connect() as connection:
        return connection.execute(text(sql)).scalar_one()


@pytest.fixture
def actions(engine) -> PairedActions:  # noqa: ANN001
    seed_sprint2_scenario(engine, today=TODAY)
    add_user(engine, "olive", "operator", PASSWORD, by=SETUP)
    add_user(engine, "ada", "admin", PASSWORD, by=SETUP)
    settings = load_settings({})
    simulator = simulator_from_database(engine, settings.crossmark_timezone)
    return PairedActions(engine, lambda: make_crossmark_client(settings, simulator=simulator),
                         authorize=authorizer(engine))


@pytest.mark.parametrize("call", [
    lambda a: a.reschedule(TOO_BIG, datetime.combine(TODAY + timedelta(days=8), datetime.min.time()), "olive"),
    lambda a: a.unschedule(10 ** 20, "olive"),
    lambda a: a.schedule_supervisor(TOO_BIG, "US157005", "olive"),
    lambda a: a.schedule_supervisor(606001, "E" * 500, "olive"),
    lambda a: a.undo(TOO_BIG, "olive"),
], ids=["reschedule", "unschedule", "schedule-supervisor core", "schedule-supervisor employee", "undo"])
def test_out_of_range_refs_are_recorded_refusals_not_driver_errors(actions: PairedActions, call):  # noqa: ANN001
    schedules = _count(actions.engine, "SELECT COUNT(*) FROM schedules")
    result = call(actions)
    assert result.status == "refused"
    assert "out of range" in result.message or "at most" in result.message or "characters" in result.message
    assert _count(actions.engine, "SELECT COUNT(*) FROM dashboard_operations WHERE status = 'refused'") == 1
    assert _count(actions.engine, "SELECT COUNT(*) FROM schedules") == schedules


def test_a_refused_actor_name_is_recorded_cut_to_the_column(actions: PairedActions):
    result = actions.unschedule(606001, "x" * 5000 + "\x00")
    assert result.status == "refused" and "not a user" in result.message
    with actions.engine.connect() as connection:
        recorded = connection.execute(text("SELECT requested_by FROM dashboard_operations")).scalar_one()
    assert recorded == "x" * 100


def test_retry_and_mark_resolved_refuse_bad_ids_and_notes(actions: PairedActions):
    with pytest.raises(InvalidInput, match="out of range"):
        actions.retry(TOO_BIG, "olive")
    with pytest.raises(InvalidInput, match="out of range"):
        actions.mark_resolved(TOO_BIG, "ada", "fixed by hand")
    with actions.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO dashboard_operations (idempotency_key, kind, requested_by, requested_at, status, updated_at) "
            "VALUES ('k', 'reschedule', 'olive', :now, 'needs_attention', :now)"), {"now": datetime(2026, 1, 1)})
        operation_id = connection.execute(text("SELECT id FROM dashboard_operations")).scalar_one()
    with pytest.raises(InvalidInput, match="NUL|control"):
        actions.mark_resolved(operation_id, "ada", "fixed\x00")
    result = actions.mark_resolved(operation_id, "  ada ", "fixed by hand")
    assert result.status == "resolved" and "marked resolved by ada:" in result.message
    assert _count(actions.engine, "SELECT COUNT(*) FROM dashboard_audit WHERE actor = '  ada '") == 0


def test_acknowledge_refuses_bad_ids_and_notes_before_writing(actions: PairedActions):
    engine = actions.engine
    run_check(engine, load_settings({}))
    finding = _count(engine, "SELECT MIN(id) FROM dashboard_findings")
    audit = _count(engine, "SELECT COUNT(*) FROM dashboard_audit")
    with pytest.raises(InvalidInput, match="out of range"):
        acknowledge(engine, TOO_BIG, "olive", "looked at it")
    with pytest.raises(InvalidInput, match="NUL|control"):
        acknowledge(engine, finding, "olive", "looked\x00at it")
    with pytest.raises(InvalidInput, match="1,?000|at most"):
        acknowledge(engine, finding, "olive", "n" * 5000)
    assert _count(engine, "SELECT COUNT(*) FROM dashboard_findings WHERE acknowledged_by IS NOT NULL") == 0
    assert _count(engine, "SELECT COUNT(*) FROM dashboard_audit") == audit


def test_identity_provider_sign_ins_prune_old_attempts(engine):  # noqa: ANN001
    old = datetime(2026, 1, 1, 8, 0)
    with engine.begin() as connection:
        connection.execute(LoginAttempt.__table__.insert(), [
            {"username": f"someone{i}", "at": old, "succeeded": False} for i in range(50)])
    sign_in_from_identity_provider(engine, ProviderIdentity("https://idp.example.com/", "ann", "ann@example.com", True),
                                   "viewer", now=old + timedelta(days=1))
    assert _count(engine, "SELECT COUNT(*) FROM dashboard_login_attempts WHERE succeeded = false") == 0


def test_the_journal_reads_an_operation_whose_json_was_cut_short_or_edited_by_hand(engine):  # noqa: ANN001
    """One operation row with unreadable JSON must not stop the Operations page, a retry pass or a timeline."""
    from services.actions.journal import Journal

    cut_short = '{"ref": 6060'
    # SQLite stores what it is given; PostgreSQL's JSONB refuses text that is not JSON, so there such a row exists only
    # as migration 0016 left one: the text as a JSON string.
    request = cut_short if engine.dialect.name == "sqlite" else json.dumps(cut_short)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO dashboard_operations (idempotency_key, kind, requested_by, requested_at, status, request, "
            "events, updated_at) VALUES ('k', 'reschedule', 'olive', :at, 'needs_attention', :request, "
            "'[1, \"x\", {\"ref\": 606001}]', :at)"), {"at": datetime(2026, 1, 1), "request": request})
    (record,) = Journal(engine).list()
    assert record.request == {} and record.events == [{"ref": 606001}]
    assert Journal(engine).find(record.id) == record
