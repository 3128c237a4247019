"""Accounts, roles, lockout, rate limit and switches: through the service layer and the CLI."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.access.accounts import (
    ADMIN, OPERATOR, SETUP, SIGN_IN_FAILED, VIEWER, ProviderIdentity, add_user, authenticate, authorizer,
    bootstrap_admin, set_active, sign_in_from_identity_provider,
)
from services.crossmark.client import make_crossmark_client
from services.crossmark.sandbox import simulator_from_database
from services.demo.demo_data import seed_sprint2_scenario
from services.errors import InvalidInput, LoginRefused, PermissionDenied
from services.actions.paired_actions import PairedActions
from services.access.passwords import check_password, hash_password
from services.settings import load_settings
from services.access.switches import MAINTENANCE, SUPERVISOR_FOLLOW, WRITES_OFF, current_switches, set_switch
from tests.cli_runner import run_cli

DAY = date.today() + timedelta(days=7)
PASSWORD = "correct horse battery"
ISSUER = "https://idp.example.com/"


def at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY, datetime.min.time()).replace(hour=hour, minute=minute)


def test_passwords_are_salted_argon2id_hashes_only(engine):
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and first != second and PASSWORD not in first
    assert check_password(PASSWORD, first).matches and not check_password("wrong password", first).matches
    add_user(engine, "alice", OPERATOR, PASSWORD, by=SETUP)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM dashboard_users")).scalar_one()
    assert PASSWORD not in stored and check_password(PASSWORD, stored).matches
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        add_user(engine, "bob", VIEWER, "short", by=SETUP)
    with pytest.raises(InvalidInput, match="already exists"):
        add_user(engine, "alice", VIEWER, PASSWORD, by=SETUP)
    with pytest.raises(InvalidInput, match="Unknown role"):
        add_user(engine, "carol", "boss", PASSWORD, by=SETUP)


def test_lockout_after_five_failures_in_fifteen_minutes(engine):
    add_user(engine, "alice", OPERATOR, PASSWORD, by=SETUP)
    now = datetime(2026, 11, 22, 9, 0)
    assert authenticate(engine, "alice", PASSWORD, now).role == OPERATOR
    for minute in range(5):
        with pytest.raises(LoginRefused, match="Wrong user name or password"):
            authenticate(engine, "alice", "nope", now + timedelta(minutes=minute))
    with pytest.raises(LoginRefused, match="Too many failed sign-ins; try again in"):
        authenticate(engine, "alice", PASSWORD, now + timedelta(minutes=5))  # even the right password waits
    assert authenticate(engine, "alice", PASSWORD, now + timedelta(minutes=20)).username == "alice"
    set_active(engine, "alice", False, by=SETUP)
    with pytest.raises(LoginRefused) as refused:
        authenticate(engine, "alice", PASSWORD, now + timedelta(minutes=21))
    assert str(refused.value) == SIGN_IN_FAILED  # disabled reads like any other failure


def test_first_admin_is_created_once_with_a_random_password(engine):
    password = bootstrap_admin(engine)
    assert password and len(password) >= 12
    assert authenticate(engine, "admin", password).role == ADMIN
    assert bootstrap_admin(engine) is None


def test_identity_provider_sign_in_provisions_the_account_and_follows_the_claim(engine):
    email = "Olga.Ops+field@Example.com"
    olga = ProviderIdentity(ISSUER, "sub-olga-1", email, email_verified=True)
    assert sign_in_from_identity_provider(engine, olga, OPERATOR).role == OPERATOR
    with engine.connect() as connection:
        row = connection.execute(text("SELECT username, role, password_hash, is_active, oidc_issuer, oidc_subject "
                                      "FROM dashboard_users")).one()
    assert (row.username, row.role, row.password_hash, bool(row.is_active)) == (email.lower(), OPERATOR, None, True)
    assert (row.oidc_issuer, row.oidc_subject) == (ISSUER, "sub-olga-1")
    name = email.lower()
    with pytest.raises(LoginRefused, match="Wrong user name or password"):
        authenticate(engine, name, "")  # no local password: only the identity provider signs this person in
    authorize = authorizer(engine)
    authorize(name, "reschedule")  # the service layer's check accepts the provisioned operator
    with pytest.raises(PermissionDenied, match="needs the admin role"):
        authorize(name, "mark_resolved")

    # the claim changed at the provider, and so did the address: the (issuer, subject) pair is the same person
    moved = ProviderIdentity(ISSUER, "sub-olga-1", "olga@new.example.com", email_verified=True)
    assert sign_in_from_identity_provider(engine, moved, VIEWER).role == VIEWER
    with pytest.raises(PermissionDenied, match="is a viewer"):
        authorize(name, "reschedule")
    set_active(engine, name, False, by=SETUP)
    with pytest.raises(PermissionDenied, match="is disabled"):
        sign_in_from_identity_provider(engine, olga, ADMIN)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT role FROM dashboard_users")).scalar_one() == VIEWER  # unchanged
    for identity, role, message in ((ProviderIdentity("", "s"), VIEWER, "issuer"),
                                    (ProviderIdentity(ISSUER, ""), VIEWER, "subject"),
                                    (ProviderIdentity(ISSUER, "s\x00"), VIEWER, "subject"),
                                    (ProviderIdentity(ISSUER, "s2", "ok@example.com", True), "boss", "Unknown role")):
        with pytest.raises(InvalidInput, match=message):
            sign_in_from_identity_provider(engine, identity, role)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM dashboard_users")).scalar_one() == 1


@pytest.fixture
def actions_for(engine):
    seed_sprint2_scenario(engine, today=date.today())
    for name, role in (("vic", VIEWER), ("olga", OPERATOR), ("ada", ADMIN)):
        add_user(engine, name, role, PASSWORD, by=SETUP)
    settings = load_settings({})
    simulator = simulator_from_database(engine, settings.crossmark_timezone)

    def make(limit: int = 10) -> PairedActions:
        return PairedActions(engine, lambda: make_crossmark_client(settings, simulator=simulator),
                             authorize=authorizer(engine, limit))
    return make


@pytest.mark.parametrize(("user", "allowed"), [("vic", False), ("olga", True), ("ada", True), ("ghost", False)])
def test_role_matrix_for_actions(actions_for, user, allowed):
    actions = actions_for()
    results = [actions.reschedule(606999, at(9, 45), user), actions.unschedule(606001, user),
               actions.schedule_supervisor(608001, "US157005", user)]
    if allowed:
        assert [r.status for r in results] == ["done", "done", "done"], [r.message for r in results]
    else:
        assert {r.status for r in results} == {"refused"}
        assert all(("is a viewer" in r.message) or ("is not a user" in r.message) for r in results)


def test_mark_resolved_needs_an_admin_and_the_rate_limit_holds(actions_for, engine):
    actions = actions_for(limit=2)
    assert actions.reschedule(606999, at(9, 45), "olga").status == "done"
    assert actions.reschedule(606999, at(10, 30), "olga").status == "done"
    third = actions.reschedule(606999, at(11, 0), "olga")
    assert third.status == "refused" and "the limit is 2" in third.message


def test_switches_refuse_actions_and_turn_off_the_supervisor_follow(actions_for, engine):
    actions = actions_for()
    assert current_switches(engine) == {MAINTENANCE: False, WRITES_OFF: False, SUPERVISOR_FOLLOW: True}
    set_switch(engine, MAINTENANCE, True, "ada")
    refused = actions.reschedule(606001, at(11), "olga")
    assert refused.status == "refused" and "Maintenance mode is on" in refused.message
    set_switch(engine, MAINTENANCE, False, "ada")
    set_switch(engine, WRITES_OFF, True, "ada")
    assert "kill switch" in actions.unschedule(606001, "olga").message
    set_switch(engine, WRITES_OFF, False, "ada")
    set_switch(engine, SUPERVISOR_FOLLOW, False, "ada")
    alone = actions.reschedule(606001, at(11), "olga")
    assert alone.status == "done" and [e.ref for e in alone.events] == [606001]
    assert "follow is switched off" in alone.warnings[0]
    with engine.connect() as connection:
        audited = connection.execute(text("SELECT COUNT(*) FROM dashboard_audit WHERE action LIKE 'switch %'")).scalar()
    assert audited == 5
    with pytest.raises(PermissionDenied, match="olga is an operator; switches needs the admin role"):
        set_switch(engine, MAINTENANCE, True, "olga")


def test_users_cli_reads_the_password_from_stdin_and_the_cli_checks_roles(tmp_path):
    path = tmp_path / "scheduler.db"
    assert run_cli("db", "upgrade", "--db", str(path)).returncode == 0
    assert run_cli("demo", "seed", "--scenario", "sprint2", "--db", str(path)).returncode == 0
    added = run_cli("users", "add", "vic", "--role", "viewer", "--db", str(path), stdin=PASSWORD + "\n")
    assert added.returncode == 0 and "Added vic (viewer)" in added.stdout
    short = run_cli("users", "add", "bob", "--role", "viewer", "--db", str(path), stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    listed = run_cli("users", "list", "--db", str(path))
    assert "vic" in listed.stdout and "viewer" in listed.stdout and PASSWORD not in listed.stdout
    refused = run_cli("reschedule", "--db", str(path), "--event", "606001", "--to", f"{at(11):%Y-%m-%dT%H:%M}",
                      "--user", "vic", "--json")
    assert refused.returncode == 1 and "needs the operator role" in refused.stdout
    assert run_cli("users", "disable", "vic", "--db", str(path)).returncode == 0
    disabled = run_cli("unschedule", "--db", str(path), "--event", "606001", "--user", "vic")
    assert disabled.returncode == 1 and "disabled" in disabled.stdout
    boot = run_cli("users", "bootstrap", "--db", str(path))
    assert "Accounts exist already" in boot.stdout


def test_cli_actions_write_structured_log_lines_without_secrets(tmp_path):
    path, log_file = tmp_path / "scheduler.db", tmp_path / "dashboard.jsonl"
    env = {"DASHBOARD_LOG_FILE": str(log_file), "CROSSMARK_PASSWORD": "Very-Secret-Password-1"}
    assert run_cli("db", "upgrade", "--db", str(path)).returncode == 0
    assert run_cli("demo", "seed", "--scenario", "sprint2", "--db", str(path)).returncode == 0
    assert run_cli("users", "add", "olga", "--role", "operator", "--db", str(path), stdin=PASSWORD + "\n").returncode == 0
    done = run_cli("reschedule", "--db", str(path), "--event", "606001", "--to", f"{at(11):%Y-%m-%dT%H:%M}",
                   "--user", "olga", env=env)
    assert done.returncode == 0 and "{" not in done.stderr  # stderr stays for people
    import json as json_module

    lines = [json_module.loads(line) for line in log_file.read_text().splitlines()]
    finished = [line for line in lines if line["message"] == "action done"]
    assert finished and finished[0]["operation_id"] == 1 and finished[0]["events"] == [606001, 606002]
    assert any(line["message"] == "pairing decision" and line["supervisor_state"] == "scheduled" for line in lines)
    assert "Very-Secret-Password-1" not in log_file.read_text() and PASSWORD not in log_file.read_text()
