"""Sign-in that cannot be forged (issue 17): the proxy header needs proof of the proxy, identity-provider accounts are
keyed on (issuer, subject), local failures all read and cost the same, one client cannot lock an account out for
everyone, argon2id with an upgrade path from scrypt, and account changes that need an admin and are audited."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from services.access import passwords
from services.access.accounts import (
    ADMIN, MAX_ACCOUNT_FAILURES, MAX_CLIENT_FAILURES, MAX_FAILURES, OPERATOR, SETUP, SIGN_IN_FAILED, VIEWER,
    HostOperator, ProviderIdentity, add_user, authenticate, set_active, set_password, set_role,
    sign_in_from_identity_provider,
)
from services.errors import ActionRefused, LoginRefused, NotFound, PermissionDenied, UnsafeConfiguration
from services.access.passwords import check_password, legacy_scrypt_hash
from services.access.proxy_sign_in import NO_PERSON, NOT_THROUGH_THE_PROXY, ProxiedRequest, proxied_user_name
from services.settings import load_settings
from tests.cli_runner import run_cli

PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 22, 9, 0)
ISSUER = "https://idp.example.com/"
SECRET = "a-proxy-secret-of-32-characters!"


# --- local sign-in ----------------------------------------------------------------------------------------------


def _refusal(engine, name: str, password: str, when: datetime = NOW, client: str | None = None) -> str:  # noqa: ANN001
    with pytest.raises(LoginRefused) as refused:
        authenticate(engine, name, password, when, client=client)
    return str(refused.value)


def test_every_failed_sign_in_reads_the_same(engine):
    add_user(engine, "alice", OPERATOR, PASSWORD, by=SETUP)
    add_user(engine, "dora", OPERATOR, PASSWORD, by=SETUP)
    set_active(engine, "dora", False, by=SETUP)
    add_user(engine, "idp.person@example.com", OPERATOR, None, by=SETUP)  # no password: an identity-provider account
    messages = {_refusal(engine, "nobody", PASSWORD, client="10.0.0.1"),
                _refusal(engine, "alice", "wrong password", client="10.0.0.2"),
                _refusal(engine, "dora", PASSWORD, client="10.0.0.3"),  # the right password of a disabled account
                _refusal(engine, "idp.person@example.com", PASSWORD, client="10.0.0.4")}
    assert messages == {SIGN_IN_FAILED}


class CountingHasher:
    """Counts the argon2 verifications a sign-in does (the work whose timing would tell names apart)."""

    def __init__(self, real) -> None:  # noqa: ANN001
        self.real, self.verified = real, 0

    def verify(self, stored: str, password: str) -> bool:
        self.verified += 1
        return self.real.verify(stored, password)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.real, name)


def test_an_unknown_name_costs_one_argon2_verification_like_a_wrong_password(engine, monkeypatch):
    add_user(engine, "alice", OPERATOR, PASSWORD, by=SETUP)
    counting = CountingHasher(passwords.HASHER)
    monkeypatch.setattr(passwords, "HASHER", counting)
    work = {}
    for case, name in (("unknown name", "nobody-here"), ("wrong password", "alice")):
        counting.verified = 0
        _refusal(engine, name, "not the password")
        work[case] = counting.verified
    assert work == {"unknown name": 1, "wrong password": 1}


def test_one_client_cannot_lock_an_account_out_for_everyone(engine):
    add_user(engine, "admin", ADMIN, PASSWORD, by=SETUP)
    attacker, colleague = "10.9.9.9", "10.0.0.5"
    for minute in range(MAX_FAILURES):
        assert _refusal(engine, "admin", "guess", NOW + timedelta(minutes=minute), attacker) == SIGN_IN_FAILED
    assert "Too many failed sign-ins" in _refusal(engine, "admin", PASSWORD, NOW + timedelta(minutes=6), attacker)
    # the real admin, elsewhere, signs in at once
    assert authenticate(engine, "admin", PASSWORD, NOW + timedelta(minutes=6), client=colleague).role == ADMIN


def test_one_client_spraying_names_is_throttled(engine):
    add_user(engine, "alice", OPERATOR, PASSWORD, by=SETUP)
    sprayer = "10.6.6.6"
    for index in range(MAX_CLIENT_FAILURES):
        _refusal(engine, f"name{index}", "guess", NOW + timedelta(seconds=index), sprayer)
    # even a right password from that client waits; the same account from another client does not
    assert "Too many failed sign-ins" in _refusal(engine, "alice", PASSWORD, NOW + timedelta(minutes=1), sprayer)
    assert authenticate(engine, "alice", PASSWORD, NOW + timedelta(minutes=1), client="10.0.0.8").username == "alice"
    assert authenticate(engine, "alice", PASSWORD, NOW + timedelta(minutes=20), client=sprayer).username == "alice"


def test_a_guess_spread_over_many_clients_locks_the_account(engine):
    add_user(engine, "alice", OPERATOR, PASSWORD, by=SETUP)
    with engine.begin() as connection:  # MAX_ACCOUNT_FAILURES failures from as many addresses, in the window
        connection.execute(text("INSERT INTO dashboard_login_attempts (username, at, succeeded, client) "
                                "VALUES (:name, :at, :ok, :client)"),
                           [{"name": "alice", "at": NOW - timedelta(minutes=5), "ok": False, "client": f"10.1.{i}.1"}
                            for i in range(MAX_ACCOUNT_FAILURES)])
    assert "Too many failed sign-ins" in _refusal(engine, "alice", PASSWORD, NOW, "10.0.0.8")
    assert authenticate(engine, "alice", PASSWORD, NOW + timedelta(minutes=11), client="10.0.0.8")


def test_sign_ins_failures_and_lockouts_are_logged_without_the_password(engine, caplog):
    add_user(engine, "alice", OPERATOR, PASSWORD, by=SETUP)
    caplog.set_level(logging.INFO, logger="services.accounts")
    authenticate(engine, "alice", PASSWORD, NOW, client="10.0.0.1")
    for minute in range(MAX_FAILURES + 1):
        with pytest.raises(LoginRefused):
            authenticate(engine, "alice", "secret-guess-xyz", NOW + timedelta(minutes=minute), client="10.0.0.1")
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("sign-in: alice from 10.0.0.1") for m in messages), messages
    assert any(m.startswith("sign-in failed: alice from 10.0.0.1 (wrong password)") for m in messages), messages
    assert any(m.startswith("sign-in throttled: alice from 10.0.0.1") for m in messages), messages
    assert not any(PASSWORD in m or "secret-guess-xyz" in m for m in messages)


# --- passwords ----------------------------------------------------------------------------------------------------


def test_a_scrypt_hash_still_signs_in_and_is_rehashed_as_argon2id(engine):
    add_user(engine, "alice", OPERATOR, PASSWORD, by=SETUP)
    with engine.begin() as connection:
        connection.execute(text("UPDATE dashboard_users SET password_hash = :hash"),
                           {"hash": legacy_scrypt_hash(PASSWORD)})

    def stored() -> str:
        with engine.connect() as connection:
            return connection.execute(text("SELECT password_hash FROM dashboard_users")).scalar_one()

    assert _refusal(engine, "alice", "wrong password") == SIGN_IN_FAILED
    assert stored().startswith("scrypt$")  # a failed sign-in changes nothing
    assert authenticate(engine, "alice", PASSWORD, NOW + timedelta(minutes=1)).username == "alice"
    assert stored().startswith("$argon2id$") and check_password(PASSWORD, stored()).matches
    assert authenticate(engine, "alice", PASSWORD, NOW + timedelta(minutes=2)).username == "alice"


def test_corrupt_or_foreign_hashes_never_match():
    for stored in (None, "", "plain-text-password", "scrypt$1$2", "$argon2id$v=19$m=1,t=1,p=1$bad$bad",
                   "bcrypt$whatever"):
        assert check_password(PASSWORD, stored).matches is False


# --- account changes ----------------------------------------------------------------------------------------------


def _audit(engine) -> list[tuple[str, str, str]]:  # noqa: ANN001
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT actor, action, message FROM dashboard_audit WHERE action LIKE 'user %' OR action IN "
            "('role changed', 'password changed') ORDER BY id"))]


def test_account_changes_need_an_admin_and_are_audited_with_who_made_them(engine, caplog):
    caplog.set_level(logging.INFO, logger="services.accounts")
    add_user(engine, "ada", ADMIN, PASSWORD, by=SETUP)
    add_user(engine, "olga", OPERATOR, PASSWORD, by="ada")
    before = _audit(engine)
    for change in (lambda: add_user(engine, "mallory", ADMIN, PASSWORD, by="olga"),
                   lambda: set_role(engine, "olga", ADMIN, by="olga"),
                   lambda: set_active(engine, "ada", False, by="olga"),
                   lambda: set_password(engine, "ada", "olga-knows-this-one", by="olga"),
                   lambda: set_role(engine, "olga", ADMIN, by="ghost")):
        with pytest.raises(PermissionDenied):
            change()
    assert _audit(engine) == before  # a refused change leaves no trace but the refusal
    set_role(engine, "olga", VIEWER, by="ada")
    set_password(engine, "olga", "a-brand-new-password", by="ada")
    set_active(engine, "olga", False, by="ada")
    set_active(engine, "olga", True, by=HostOperator("root"))
    assert _audit(engine) == [("host:setup", "user added", "ada as admin"), ("ada", "user added", "olga as operator"),
                              ("ada", "role changed", "olga to viewer"), ("ada", "password changed", "olga"),
                              ("ada", "user disabled", "olga"), ("host:root", "user enabled", "olga")]
    assert authenticate(engine, "olga", "a-brand-new-password").role == VIEWER
    logged = [record.getMessage() for record in caplog.records if record.getMessage().startswith("account change")]
    assert "account change: role changed (olga to viewer) by ada" in logged
    assert not any("a-brand-new-password" in record.getMessage() for record in caplog.records)
    with pytest.raises(NotFound):
        set_active(engine, "nobody", False, by="ada")


def test_the_last_active_admin_cannot_be_disabled_or_demoted(engine):
    add_user(engine, "ada", ADMIN, PASSWORD, by=SETUP)
    for change in (lambda: set_active(engine, "ada", False, by=SETUP), lambda: set_role(engine, "ada", VIEWER, by="ada")):
        with pytest.raises(ActionRefused, match="last active admin"):
            change()
    add_user(engine, "bert", ADMIN, PASSWORD, by="ada")
    set_role(engine, "ada", OPERATOR, by="bert")  # another admin remains
    with pytest.raises(ActionRefused, match="last active admin"):
        set_active(engine, "bert", False, by="bert")


def test_the_users_cli_checks_the_admin_it_names_and_records_the_host_operator(tmp_path):
    path = tmp_path / "scheduler.db"
    assert run_cli("db", "upgrade", "--db", str(path)).returncode == 0
    assert run_cli("users", "add", "ada", "--role", "admin", "--db", str(path), stdin=PASSWORD + "\n").returncode == 0
    assert run_cli("users", "add", "olga", "--role", "operator", "--user", "ada", "--db", str(path),
                   stdin=PASSWORD + "\n").returncode == 0
    refused = run_cli("users", "role", "olga", "admin", "--user", "olga", "--db", str(path))
    assert refused.returncode == 1 and "olga is an operator; users needs the admin role" in refused.stderr
    changed = run_cli("users", "role", "olga", "viewer", "--user", "ada", "--db", str(path))
    assert changed.returncode == 0 and "olga is now a viewer" in changed.stdout
    bad = run_cli("users", "role", "olga", "boss", "--db", str(path))
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    from services.store.database import make_engine

    engine = make_engine(f"sqlite:///{path}")
    try:
        actors = [actor for actor, _, _ in _audit(engine)]
    finally:
        engine.dispose()
    assert actors[0].startswith("host:") and actors[1:] == ["ada", "ada"]


# --- identity-provider accounts -----------------------------------------------------------------------------------


def _accounts(engine) -> dict[str, tuple]:  # noqa: ANN001
    with engine.connect() as connection:
        return {row.username: (row.role, row.password_hash is not None, row.oidc_issuer, row.oidc_subject)
                for row in connection.execute(text("SELECT * FROM dashboard_users"))}


def test_a_provider_identity_never_takes_a_local_account(engine):
    add_user(engine, "admin", ADMIN, PASSWORD, by=SETUP)
    # the provider lets people choose preferred_username and an unverified e-mail: neither names the account
    chooser = ProviderIdentity(ISSUER, "admin", email="admin", email_verified=False)
    with pytest.raises(PermissionDenied, match="already exists here and belongs to someone else"):
        sign_in_from_identity_provider(engine, ProviderIdentity(ISSUER, "x", "Admin", email_verified=True), VIEWER)
    user = sign_in_from_identity_provider(engine, chooser, VIEWER)
    assert user.username == "admin@idp.example.com" and user.role == VIEWER
    assert _accounts(engine)["admin"][:2] == (ADMIN, True)  # the local admin is untouched
    assert authenticate(engine, "admin", PASSWORD).role == ADMIN
    # a verified e-mail equal to a password account's name is refused too, not attached
    add_user(engine, "ann@example.com", OPERATOR, PASSWORD, by=SETUP)
    with pytest.raises(PermissionDenied, match="belongs to someone else"):
        sign_in_from_identity_provider(engine, ProviderIdentity(ISSUER, "sub-ann", "ANN@example.com", True), ADMIN)
    assert _accounts(engine)["ann@example.com"][:2] == (OPERATOR, True)


def test_the_account_follows_issuer_and_subject(engine):
    first = sign_in_from_identity_provider(engine, ProviderIdentity(ISSUER, "u-1", "Pat@Example.com", True), OPERATOR)
    assert first.username == "pat@example.com"
    # the same subject from another issuer is another person
    other = sign_in_from_identity_provider(engine, ProviderIdentity("https://other.example/", "u-1"), VIEWER)
    assert other.username == "u-1@other.example"
    # a subject that looks like Pat's address, or Pat's address unverified, does not reach Pat's account
    lookalike = sign_in_from_identity_provider(engine, ProviderIdentity("https://other.example/", "pat@example.com"),
                                               ADMIN)
    assert lookalike.username == "pat-example.com@other.example"
    spoof = sign_in_from_identity_provider(engine, ProviderIdentity(ISSUER, "u-2", "pat@example.com", False), VIEWER)
    assert spoof.username == "u-2@idp.example.com"
    assert _accounts(engine)["pat@example.com"] == (OPERATOR, False, ISSUER, "u-1")


def test_an_account_provisioned_by_e_mail_before_identities_is_attached_by_its_verified_address(engine):
    add_user(engine, "lee@example.com", OPERATOR, None, by=SETUP)  # what the earlier provisioning left
    user = sign_in_from_identity_provider(engine, ProviderIdentity(ISSUER, "lee-sub", "lee@example.com", True), ADMIN)
    assert (user.username, user.role) == ("lee@example.com", ADMIN)
    assert _accounts(engine)["lee@example.com"] == (ADMIN, False, ISSUER, "lee-sub")
    with pytest.raises(PermissionDenied, match="belongs to someone else"):  # now taken by that identity
        sign_in_from_identity_provider(engine, ProviderIdentity(ISSUER, "other", "lee@example.com", True), ADMIN)


# --- header mode --------------------------------------------------------------------------------------------------


def _header_settings(**env: str):  # noqa: ANN202
    return load_settings({"AUTH_MODE": "header", **env})


def test_header_mode_refuses_to_start_without_proof_of_the_proxy():
    with pytest.raises(UnsafeConfiguration, match="AUTH_PROXY_SECRET"):
        load_settings({"AUTH_MODE": "header"})
    with pytest.raises(UnsafeConfiguration, match="at least 16 characters"):
        load_settings({"AUTH_MODE": "header", "AUTH_PROXY_SECRET": "short"})
    with pytest.raises(Exception, match="AUTH_TRUSTED_PROXIES entries"):
        load_settings({"AUTH_MODE": "header", "AUTH_TRUSTED_PROXIES": "10.0.0.0/8,not-an-address"})
    assert load_settings({"AUTH_MODE": "header", "AUTH_TRUSTED_PROXIES": "10.0.0.0/8"}).auth_trusted_proxies
    assert load_settings({"AUTH_MODE": "local"}).auth_mode == "local"  # the other modes need neither


@pytest.mark.parametrize(("request_", "expected"), [
    (ProxiedRequest(("ann",), (SECRET,), "10.0.0.7"), "ann"),
    (ProxiedRequest(("ann",), (), "10.0.0.7"), NOT_THROUGH_THE_PROXY),  # straight to the app
    (ProxiedRequest(("ann",), ("a-proxy-secret-of-32-characters?",), "10.0.0.7"), NOT_THROUGH_THE_PROXY),
    (ProxiedRequest(("ann",), (SECRET, SECRET), "10.0.0.7"), NOT_THROUGH_THE_PROXY),
    (ProxiedRequest(("ann", "admin"), (SECRET,), "10.0.0.7"), NOT_THROUGH_THE_PROXY),  # the user header twice
    (ProxiedRequest(("ann, admin",), (SECRET,), "10.0.0.7"), NOT_THROUGH_THE_PROXY),  # ... merged by a proxy
    (ProxiedRequest((), (SECRET,), "10.0.0.7"), NO_PERSON),
    (ProxiedRequest(("  ",), (SECRET,), "10.0.0.7"), NO_PERSON),
])
def test_the_proxy_secret_decides(request_, expected):
    settings = _header_settings(AUTH_PROXY_SECRET=SECRET)
    if expected == "ann":
        assert proxied_user_name(request_, settings) == "ann"
    else:
        with pytest.raises(LoginRefused) as refused:
            proxied_user_name(request_, settings)
        assert str(refused.value) == expected
        assert "X-Forwarded-User" not in str(refused.value) and "X-Proxy-Secret" not in str(refused.value)


@pytest.mark.parametrize(("address", "trusted"), [
    ("10.0.4.7", True), ("::ffff:10.0.4.7", True), (None, True), ("10.0.5.7", False), ("2001:db8::1", False),
    ("garbage", False)])
def test_trusted_proxy_addresses_decide(address, trusted):
    settings = _header_settings(AUTH_TRUSTED_PROXIES="10.0.4.0/24, 127.0.0.1")  # None is this host (Streamlit)
    request_ = ProxiedRequest(("ann",), (), address)
    if trusted:
        assert proxied_user_name(request_, settings) == "ann"
    else:
        with pytest.raises(LoginRefused, match="did not come through"):
            proxied_user_name(request_, settings)


def test_with_both_configured_both_are_required():
    settings = _header_settings(AUTH_PROXY_SECRET=SECRET, AUTH_TRUSTED_PROXIES="10.0.4.0/24")
    assert proxied_user_name(ProxiedRequest(("ann",), (SECRET,), "10.0.4.1"), settings) == "ann"
    for request_ in (ProxiedRequest(("ann",), (SECRET,), "10.0.9.1"), ProxiedRequest(("ann",), (), "10.0.4.1")):
        with pytest.raises(LoginRefused):
            proxied_user_name(request_, settings)
