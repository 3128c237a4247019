"""Accounts layer: accounts and roles, local sign-in with lockouts, identity-provider accounts keyed on (issuer,
subject), audited account changes that need an admin, and the permission check that the pages, the CLI and the paired
actions all go through (so a viewer cannot act by any route)."""
from __future__ import annotations

import getpass
import hashlib
import logging
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from services.errors import (
    ActionRefused, InvalidInput, LoginRefused, NotFound, PermissionDenied, RateLimitExceeded,
)
from services.domain import input_limits
from services.access.passwords import check_password, hash_password
from services.store.database import begin_write
from services.store.tables import AuditEntry, BatchItemRow, DashboardSession, LoginAttempt, UserAccount

class Role(StrEnum):
    """An account's role, as stored in dashboard_users.role, least to most allowed."""
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN
ROLES = tuple(Role)
# Keyed by str: a User's role is the text read from dashboard_users.role (a Role is a str, so Role keys match it).
RANK: dict[str, int] = {VIEWER: 0, OPERATOR: 1, ADMIN: 2}
# What each kind of change needs. Reading needs only a viewer.
REQUIRED_ROLE = {"reschedule": OPERATOR, "unschedule": OPERATOR, "schedule_supervisor": OPERATOR, "undo": OPERATOR,
                 "staff": OPERATOR, "reassign": OPERATOR, "batch": OPERATOR, "retry": OPERATOR, "acknowledge": OPERATOR, "run_checks": OPERATOR, "sync": OPERATOR,
                 "assign": OPERATOR, "comment": OPERATOR,
                 "mark_resolved": ADMIN, "switches": ADMIN, "users": ADMIN}
FAILURE_WINDOW = timedelta(minutes=15)
# Failed sign-ins within FAILURE_WINDOW that make the next attempt wait until the window has passed:
MAX_FAILURES = 5  # for one account from one client (the lockout a person meets after mistyping)
MAX_CLIENT_FAILURES = 20  # from one client, whatever names it tries (one person guessing across accounts)
MAX_ACCOUNT_FAILURES = 100  # for one account from all clients together (a guess spread over many addresses)
PRUNE_BATCH = 1000  # sign-in attempts deleted at most per sign-in: pruning never makes one sign-in slow
MIN_PASSWORD_LENGTH = 10
SIGN_IN_FAILED = "Wrong user name or password, or the account is disabled."  # the one message for every failure
TOO_MANY_FAILURES = "Too many failed sign-ins; try again in {minutes} minute(s)."

log = logging.getLogger("services.accounts")  # a stable name (log settings filter by it), not the module path


@dataclass(frozen=True)
class User:
    username: str
    role: str

    def may(self, kind: str) -> bool:
        return RANK[self.role] >= RANK[REQUIRED_ROLE.get(kind, VIEWER)]


@dataclass(frozen=True)
class HostOperator:
    """Someone at the host's shell running `python -m services users ...` without `--user`: they hold the database's
    credentials (and could change the table directly), so they may manage accounts; the audit trail records their
    operating-system account as `host:NAME`."""

    os_user: str

    @classmethod
    def current(cls) -> HostOperator:
        try:
            return cls(getpass.getuser())
        except (KeyError, OSError):  # no name for this uid (a container)
            return cls("unknown")

    def __str__(self) -> str:
        return f"host:{self.os_user}"[:100]


SETUP = HostOperator("setup")  # account changes made by set-up code (the demo seed, tests, benchmarks)
AccountChanger = str | HostOperator  # a dashboard account's name (must be an active admin) or the host's operator


def _check_name(username: str) -> str:
    return input_limits.user_name(username)


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; roles are {', '.join(ROLES)}.")
    return role


def _check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    return input_limits.password(password)


def _changer(engine: Engine, by: AccountChanger) -> str:
    """The name an account change is recorded under, once the changer is known to be allowed to make it."""
    if isinstance(by, HostOperator):
        return str(by)
    return require_permission(engine, by, "users").username


def _record_account_change(connection: Connection, now: datetime, changer: str, action: str, message: str) -> None:
    connection.execute(insert(AuditEntry).values(at=now, actor=changer, action=action, message=message))
    log.info("account change: %s (%s) by %s", action, message, changer,
             extra={"account_action": action, "actor": changer})


def add_user(engine: Engine, username: str, role: str, password: str | None, *, by: AccountChanger,
             now: datetime | None = None) -> User:
    username, role = _check_name(username), _check_role(role)
    now = now or datetime.now().replace(microsecond=0)
    hashed = hash_password(_check_password(password)) if password is not None else None
    changer = _changer(engine, by)
    try:
        with begin_write(engine) as connection:
            connection.execute(insert(UserAccount).values(username=username, role=role, password_hash=hashed,
                                                           is_active=True, created_at=now, password_changed_at=now))
            _record_account_change(connection, now, changer, "user added", f"{username} as {role}")
    except IntegrityError:
        raise InvalidInput(f"User {username!r} already exists.") from None
    return User(username, role)


def _update_account(engine: Engine, username: str, by: AccountChanger, action: str, message: str,
                    now: datetime | None = None, **values: object) -> None:
    """One audited change of one account's row, refused if it would leave no active admin."""
    now = now or datetime.now().replace(microsecond=0)
    changer = _changer(engine, by)
    with begin_write(engine) as connection:
        row = connection.execute(select(UserAccount.role, UserAccount.is_active)
                                 .where(UserAccount.username == username).with_for_update()).first()
        if row is None:
            raise NotFound(f"No user {input_limits.shown(username)}.")
        losing_admin = row.role == ADMIN and row.is_active and (
            values.get("is_active") is False or values.get("role", ADMIN) != ADMIN)
        if losing_admin:
            others = connection.execute(select(func.count()).select_from(UserAccount).where(
                UserAccount.role == ADMIN, UserAccount.is_active.is_(True), UserAccount.username != username)
            ).scalar_one()
            if not others:
                raise ActionRefused(f"{username} is the last active admin; make another account an admin first.")
        connection.execute(update(UserAccount).where(UserAccount.username == username).values(**values))
        if values.get("is_active") is False or "password_hash" in values:
            # a disabled account, or a password someone else may have known: every signed-in browser signs in again
            connection.execute(update(DashboardSession).where(DashboardSession.username == username,
                                                              DashboardSession.revoked_at.is_(None))
                               .values(revoked_at=now))
        _record_account_change(connection, now, changer, action, message)


def set_password(engine: Engine, username: str, password: str, *, by: AccountChanger) -> None:
    _check_password(password)
    now = datetime.now().replace(microsecond=0)
    _update_account(engine, username, by, "password changed", username, now,
                    password_hash=hash_password(password), password_changed_at=now)


def set_active(engine: Engine, username: str, active: bool, *, by: AccountChanger) -> None:
    _update_account(engine, username, by, "user enabled" if active else "user disabled", username, is_active=active)


def set_role(engine: Engine, username: str, role: str, *, by: AccountChanger) -> None:
    role = _check_role(role)
    _update_account(engine, username, by, "role changed", f"{username} to {role}", role=role)


def list_users(engine: Engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(UserAccount.username, UserAccount.role, UserAccount.is_active,
                                         UserAccount.created_at).order_by(UserAccount.username)).mappings().all()
    return [dict(row) for row in rows]


def active_user(engine: Engine, username: str) -> User:
    """The account behind a name, if it exists and is active (the CLI's --user and every page rerun check this)."""
    name = (username or "").strip()
    # A name no account can have (NUL bytes, 5,000 characters) is not looked up: PostgreSQL would refuse the query.
    row = None
    if input_limits.is_user_name(name):
        with engine.connect() as connection:
            row = connection.execute(select(UserAccount.username, UserAccount.role, UserAccount.is_active)
                                     .where(UserAccount.username == name)).first()
    if row is None:
        raise PermissionDenied(f"{input_limits.shown(username)} is not a user of this dashboard (add one with: "
                               "python -m services users add NAME --role ROLE).")
    if not row.is_active:
        raise PermissionDenied(f"The account {username!r} is disabled.")
    return User(row.username, row.role)


# --- identity-provider accounts -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderIdentity:
    """Who an identity provider says signed in: its issuer and subject (the stable key), and the e-mail it vouches for
    only when `email_verified` is true."""

    issuer: str
    subject: str
    email: str | None = None
    email_verified: bool = False

    def account_name(self) -> str:
        """The name an account provisioned for this identity gets: the verified e-mail, lower-cased; otherwise the
        subject made into a user name (never `preferred_username` or an unverified e-mail, which people choose)."""
        email = (self.email or "").strip().lower()
        if self.email_verified and input_limits.is_user_name(email):
            return email
        host = urlsplit(self.issuer).hostname or "idp"
        name = re.sub(r"[^A-Za-z0-9._+-]+", "-", self.subject).strip("-")[:60] or "subject"
        return f"{name}@{host}"[:100]


def sign_in_from_identity_provider(engine: Engine, identity: ProviderIdentity, role: str,
                                   now: datetime | None = None, client: str | None = None) -> User:
    """An OIDC sign-in: the identity provider vouches for (issuer, subject) and its claim gives the role. The account
    of that identity is found by the pair and its role brought up to date, or created without a password (it cannot
    sign in locally), so that the service layer's permission check, the rate limit and `users disable` work the same
    as for local accounts. An identity is never attached to an account that has a password or another identity."""
    role = _check_role(role)
    issuer = input_limits.single_line(identity.issuer, "The issuer", 500, required=True)
    subject = input_limits.single_line(identity.subject, "The subject", 255, required=True)
    identity = ProviderIdentity(issuer, subject, identity.email, identity.email_verified)
    now = now or datetime.now().replace(microsecond=0)
    try:
        return _provision(engine, identity, role, now, client)
    except IntegrityError:  # a first sign-in in two tabs at once: the other one created the account
        return _provision(engine, identity, role, now, client)


def _provision(engine: Engine, identity: ProviderIdentity, role: str, now: datetime, client: str | None) -> User:
    with begin_write(engine) as connection:
        row = connection.execute(select(UserAccount.username, UserAccount.role, UserAccount.is_active).where(
            UserAccount.oidc_issuer == identity.issuer, UserAccount.oidc_subject == identity.subject)).first()
        if row is None:
            username = identity.account_name()
            taken = connection.execute(select(UserAccount.password_hash, UserAccount.oidc_subject, UserAccount.role,
                                              UserAccount.is_active).where(UserAccount.username == username)).first()
            if taken is None:
                connection.execute(insert(UserAccount).values(
                    username=username, role=role, password_hash=None, is_active=True, created_at=now,
                    oidc_issuer=identity.issuer, oidc_subject=identity.subject))
                _record_account_change(connection, now, username, "user added", f"{username} as {role} at first "
                                       f"sign-in through {identity.issuer}")
            elif taken.password_hash is None and taken.oidc_subject is None and identity.email_verified:
                # an account provisioned by e-mail before identities were recorded: the verified address is its name
                connection.execute(update(UserAccount).where(UserAccount.username == username).values(
                    oidc_issuer=identity.issuer, oidc_subject=identity.subject))
            else:
                log.warning("identity-provider sign-in refused: %s from %s would take the existing account %s",
                            identity.subject, identity.issuer, username)
                raise PermissionDenied(f"An account named {username} already exists here and belongs to someone "
                                       "else; ask an admin.")
            row = connection.execute(select(UserAccount.username, UserAccount.role, UserAccount.is_active)
                                     .where(UserAccount.username == username)).one()
        if not row.is_active:
            raise PermissionDenied(f"The account {row.username!r} is disabled.")
        if row.role != role:
            connection.execute(update(UserAccount).where(UserAccount.username == row.username).values(role=role))
            _record_account_change(connection, now, row.username, "role changed",
                                   f"{row.username} to {role} by the identity provider's claim")
        connection.execute(insert(LoginAttempt).values(username=row.username, at=now, succeeded=True, client=client))
        prune_login_attempts(connection, now)  # an identity provider's sign-ins add a row each, as local ones do
    log.info("sign-in: %s through %s", row.username, identity.issuer, extra={"actor": row.username})
    return User(row.username, role)


# --- local sign-in --------------------------------------------------------------------------------------------------


def _failures(connection: Connection, now: datetime, *conditions) -> tuple[int, datetime | None]:  # noqa: ANN002
    """Failed attempts within the window matching `conditions` (after the latest success matching them), and the
    newest one's time."""
    latest_success = select(func.max(LoginAttempt.id)).where(LoginAttempt.succeeded.is_(True), *conditions)
    count, newest = connection.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            LoginAttempt.succeeded.is_(False), LoginAttempt.at > now - FAILURE_WINDOW, *conditions,
            LoginAttempt.id > func.coalesce(latest_success.scalar_subquery(), 0))).one()
    return count, newest


def _same_client(client: str | None):  # noqa: ANN202 - a SQL condition
    return LoginAttempt.client.is_(None) if client is None else LoginAttempt.client == client


def _throttled(connection: Connection, username: str, client: str | None, now: datetime) -> datetime | None:
    """When the attempt's wait ends, if one of the three lockouts applies to it."""
    limits = ((MAX_FAILURES, (LoginAttempt.username == username, _same_client(client))),
              (MAX_CLIENT_FAILURES, (_same_client(client),)),
              (MAX_ACCOUNT_FAILURES, (LoginAttempt.username == username,)))
    for limit, conditions in limits:
        count, newest = _failures(connection, now, *conditions)
        if count >= limit:
            assert newest is not None  # at least `limit` (> 0) failures were counted, so one is the newest
            return newest + FAILURE_WINDOW
    return None


def authenticate(engine: Engine, username: str, password: str, now: datetime | None = None,
                 client: str | None = None) -> User:
    """Local sign-in. Every failure says the same (SIGN_IN_FAILED) and costs the same (an unknown name is checked
    against a dummy hash), so neither the message nor the timing tells which names exist or are disabled.

    Lockouts, each for the rest of the 15-minute window: 5 failures for one account from one client (`client`: the
    address the attempt came from; None counts as one unknown client), 20 from one client whatever the names, 100 for
    one account from everywhere. So one person cannot lock `admin` out for everybody else.

    A name no account can have, or a password no account can have, is refused before anything is written: the attempts
    table only ever holds names that fit it, and each sign-in prunes the attempts whose window is over. A successful
    sign-in on a legacy (scrypt) hash stores an argon2id hash of the same password."""
    now = now or datetime.now().replace(microsecond=0)
    username = _check_name(username)
    input_limits.password(password)
    client = client[:64] if client else None
    with begin_write(engine) as connection:
        wait_until = _throttled(connection, username, client, now)
        if wait_until is not None:
            log.warning("sign-in throttled: %s from %s", username, client or "an unknown client",
                        extra={"actor": username})
            minutes = max(1, int((wait_until - now).total_seconds() // 60) + 1)
            raise LoginRefused(TOO_MANY_FAILURES.format(minutes=minutes))
        row = connection.execute(select(UserAccount).where(UserAccount.username == username)).mappings().first()
        checked = check_password(password or "", row["password_hash"] if row is not None else None)
        ok = checked.matches and row is not None and bool(row["is_active"])
        connection.execute(insert(LoginAttempt).values(username=username, at=now, succeeded=ok, client=client))
        if ok and checked.needs_rehash:
            connection.execute(update(UserAccount).where(UserAccount.username == username)
                               .values(password_hash=hash_password(password)))
        prune_login_attempts(connection, now)
    if not ok or row is None:  # (ok is false when there is no row; the second test says so to the type checker)
        reason = "unknown name" if row is None else ("disabled" if not row["is_active"] else "wrong password")
        log.warning("sign-in failed: %s from %s (%s)", username, client or "an unknown client", reason,
                    extra={"actor": username})
        raise LoginRefused(SIGN_IN_FAILED)
    log.info("sign-in: %s from %s", username, client or "an unknown client", extra={"actor": username})
    return User(row["username"], row["role"])


def prune_login_attempts(connection: Connection, now: datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete up to `batch` sign-in attempts older than the failure window, which the lockouts no longer count; keep
    each name's latest success (authenticate counts failures only after it). Returns how many were deleted.

    Called in every sign-in's transaction, so the table holds about one window of attempts plus one row per account,
    however many names are tried. On PostgreSQL, rows another sign-in is deleting are skipped, not waited for."""
    newer = aliased(LoginAttempt)
    superseded = select(newer.id).where(newer.username == LoginAttempt.username, newer.succeeded.is_(True),
                                        newer.id > LoginAttempt.id).exists()
    doomed = (select(LoginAttempt.id)
              .where(LoginAttempt.at < now - FAILURE_WINDOW, or_(LoginAttempt.succeeded.is_(False), superseded))
              .order_by(LoginAttempt.id).limit(batch).with_for_update(skip_locked=True))
    return connection.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(doomed))).rowcount


def bootstrap_admin(engine: Engine) -> str | None:
    """On a database without accounts, create `admin` with a random password and return it (shown once)."""
    with engine.connect() as connection:
        if connection.execute(select(func.count()).select_from(UserAccount)).scalar_one():
            return None
    password = secrets.token_urlsafe(12)
    add_user(engine, "admin", ADMIN, password, by=HostOperator.current())
    return password


DEFAULT_ACTIONS_PER_MINUTE = 10
RATE_WINDOW = timedelta(minutes=1)
# Every change an account asks for counts, by its "<kind> requested" audit entry: an action's is written when its
# operation starts (Journal.start; refused actions are not counted), the others' by `rate_limited_request`.
RATE_LIMITED_KINDS = ("reschedule", "unschedule", "schedule_supervisor", "undo", "staff", "reassign", "batch",
                      "retry", "acknowledge", "run_checks", "assign", "comment")
_RATE_LOCK_CLASS = 82_604_107  # PostgreSQL advisory lock class (two-key form) of the per-account rate limit


def requested_action(kind: str) -> str:
    """The audit action that records one request of `kind` (what the rate limit counts)."""
    return f"{kind} requested"


def _account_lock_key(username: str) -> int:
    return int.from_bytes(hashlib.sha256(username.encode()).digest()[:4], "big", signed=True)


@dataclass(frozen=True)
class RateLimit:
    """At most `per_minute` changes per account in any minute, counted by the account's canonical name."""

    per_minute: int = DEFAULT_ACTIONS_PER_MINUTE

    def reserve(self, connection: Connection, username: str, kind: str, now: datetime) -> None:
        """Raise RateLimitExceeded if `username` asked for `per_minute` changes in the minute before `now`.

        Runs inside the write transaction that then records this request, so counting and recording are one step:
        SQLite serialises write transactions (BEGIN IMMEDIATE, services/store/database.py); on PostgreSQL a
        transaction-scoped advisory lock on the account makes its next request wait until this one has committed (its
        count then sees this record)."""
        if kind not in RATE_LIMITED_KINDS:
            return
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:lock_class, :account)"),
                               {"lock_class": _RATE_LOCK_CLASS, "account": _account_lock_key(username)})
        # A batch counts once (its own "batch requested" entry): the operations of its items do not.
        of_a_batch = exists().where(BatchItemRow.operation_id == AuditEntry.operation_id)
        recent = connection.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.at > now - RATE_WINDOW, AuditEntry.actor == username,
            AuditEntry.action.in_([requested_action(name) for name in RATE_LIMITED_KINDS]), ~of_a_batch)).scalar_one()
        if recent >= self.per_minute:
            raise RateLimitExceeded(f"{username} has made {recent} change(s) in the last minute (the limit is "
                                    f"{self.per_minute}, counting actions, retries, acknowledgements and check runs); "
                                    "wait a moment and try again.", username=username, recent=recent,
                                    limit=self.per_minute)


@contextmanager
def rate_limited_request(engine: Engine, rate_limit: RateLimit | None, username: str, kind: str, now: datetime, *,
                         operation_id: int | None = None, message: str | None = None) -> Iterator[Connection]:
    """A write transaction for one request of `username` that is not an operation of its own (a retry, an
    acknowledgement, a check run): counted under the rate limit and recorded (audit "<kind> requested") in the same
    transaction, which the caller's own writes join. A refusal is audited ("<kind> refused") and raised."""
    try:
        with begin_write(engine) as connection:
            if rate_limit is not None:
                rate_limit.reserve(connection, username, kind, now)
            connection.execute(insert(AuditEntry).values(at=now, actor=username, operation_id=operation_id,
                                                         action=requested_action(kind), message=message))
            yield connection
    except RateLimitExceeded as refusal:
        with begin_write(engine) as connection:
            connection.execute(insert(AuditEntry).values(at=now, actor=username, operation_id=operation_id,
                                                         action=f"{kind} refused", message=str(refusal)))
        raise


class Authorizer:
    """The paired actions' permission hook. Called with (actor, kind), it returns the active account behind `actor`
    if its role allows `kind` (the account's canonical name is what the journal records and the rate limit counts);
    its `rate_limit` is applied where each request is recorded (Journal.start, `rate_limited_request`)."""

    def __init__(self, engine: Engine, actions_per_minute: int = DEFAULT_ACTIONS_PER_MINUTE) -> None:
        self.engine = engine
        self.rate_limit = RateLimit(actions_per_minute)

    def __call__(self, actor: str, kind: str) -> User:
        if not (actor or "").strip():
            raise ActionRefused("Say who is acting: every action is recorded with its author.")
        return require_permission(self.engine, actor, kind)


def authorizer(engine: Engine, actions_per_minute: int = DEFAULT_ACTIONS_PER_MINUTE) -> Authorizer:
    """The permission hook and rate limit of the paired actions (an active account whose role allows the action)."""
    return Authorizer(engine, actions_per_minute)


def require_permission(engine: Engine, actor: str, kind: str) -> User:
    """The active account behind `actor` (with its canonical name), if its role allows `kind`; PermissionDenied
    otherwise."""
    user = active_user(engine, actor)
    if not user.may(kind):
        article = "an" if user.role[0] in "aeiou" else "a"
        raise PermissionDenied(f"{user.username} is {article} {user.role}; {kind.replace('_', ' ')} needs the "
                               f"{REQUIRED_ROLE[kind]} role or higher.")
    return user
