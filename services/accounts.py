"""Accounts layer: local users with salted scrypt hashes, roles, sign-in lockout, and the permission check that the
pages, the CLI and the paired actions all go through (so a viewer cannot act by any route)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from services.errors import (
    ActionRefused, InvalidInput, LoginRefused, NotFound, PermissionDenied, RateLimitExceeded,
)
from services import input_limits
from services.tables import AuditEntry, LoginAttempt, UserAccount

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
ROLES = (VIEWER, OPERATOR, ADMIN)
RANK = {VIEWER: 0, OPERATOR: 1, ADMIN: 2}
# What each kind of change needs. Reading needs only a viewer.
REQUIRED_ROLE = {"reschedule": OPERATOR, "unschedule": OPERATOR, "schedule_supervisor": OPERATOR, "undo": OPERATOR,
                 "retry": OPERATOR, "acknowledge": OPERATOR, "run_checks": OPERATOR, "sync": OPERATOR,
                 "mark_resolved": ADMIN, "switches": ADMIN, "users": ADMIN}
MAX_FAILURES, FAILURE_WINDOW = 5, timedelta(minutes=15)
PRUNE_BATCH = 1000  # sign-in attempts deleted at most per sign-in: pruning never makes one sign-in slow
MIN_PASSWORD_LENGTH = 10
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


@dataclass(frozen=True)
class User:
    username: str
    role: str

    def may(self, kind: str) -> bool:
        return RANK[self.role] >= RANK[REQUIRED_ROLE.get(kind, VIEWER)]


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}${salt}${digest}".format(**_SCRYPT, salt=base64.b64encode(salt).decode(),
                                                       digest=base64.b64encode(digest).decode())


def verify_password(password: str, stored: str | None) -> bool:
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32, n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate, base64.b64decode(digest))


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


def add_user(engine: Engine, username: str, role: str, password: str | None, now: datetime | None = None) -> User:
    username, role = _check_name(username), _check_role(role)
    now = now or datetime.now().replace(microsecond=0)
    hashed = hash_password(_check_password(password)) if password is not None else None
    try:
        with engine.begin() as connection:
            connection.execute(insert(UserAccount).values(username=username, role=role, password_hash=hashed,
                                                           is_active=True, created_at=now, password_changed_at=now))
    except IntegrityError:
        raise InvalidInput(f"User {username!r} already exists.") from None
    return User(username, role)


def sign_in_from_identity_provider(engine: Engine, username: str, role: str, now: datetime | None = None) -> User:
    """An OIDC sign-in: the identity provider vouches for the name and its claim gives the role. The account is created
    (without a password: it cannot sign in locally) or its role brought up to date, so that the service layer's
    permission check, the rate limit and `users disable` work the same as for local accounts."""
    username, role = _check_name(username), _check_role(role)
    now = now or datetime.now().replace(microsecond=0)
    try:
        return _provision(engine, username, role, now)
    except IntegrityError:  # a first sign-in in two tabs at once: the other one created the account
        return _provision(engine, username, role, now)


def _provision(engine: Engine, username: str, role: str, now: datetime) -> User:
    with engine.begin() as connection:
        row = connection.execute(select(UserAccount.role, UserAccount.is_active)
                                 .where(UserAccount.username == username)).first()
        if row is None:
            connection.execute(insert(UserAccount).values(username=username, role=role, password_hash=None,
                                                           is_active=True, created_at=now))
        elif not row.is_active:
            raise PermissionDenied(f"The account {username!r} is disabled.")
        elif row.role != role:
            connection.execute(update(UserAccount).where(UserAccount.username == username).values(role=role))
        connection.execute(insert(LoginAttempt).values(username=username, at=now, succeeded=True))
        prune_login_attempts(connection, now)  # an identity provider's sign-ins add a row each, as local ones do
    return User(username, role)


def set_password(engine: Engine, username: str, password: str) -> None:
    _check_password(password)
    with engine.begin() as connection:
        done = connection.execute(update(UserAccount).where(UserAccount.username == username).values(
            password_hash=hash_password(password), password_changed_at=datetime.now().replace(microsecond=0)))
    if done.rowcount == 0:
        raise NotFound(f"No user {username!r}.")


def set_active(engine: Engine, username: str, active: bool) -> None:
    with engine.begin() as connection:
        done = connection.execute(update(UserAccount).where(UserAccount.username == username)
                                  .values(is_active=active))
    if done.rowcount == 0:
        raise NotFound(f"No user {username!r}.")


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


def authenticate(engine: Engine, username: str, password: str, now: datetime | None = None) -> User:
    """Local sign-in with a cool-down: after 5 failures within 15 minutes the account waits 15 minutes.

    A name no account can have, or a password no account can have, is refused before anything is written: the attempts
    table only ever holds names that fit it, and each sign-in prunes the attempts whose window is over."""
    now = now or datetime.now().replace(microsecond=0)
    username = _check_name(username)
    input_limits.password(password)
    with engine.begin() as connection:
        failures = connection.execute(
            select(func.count(), func.max(LoginAttempt.at))
            .where(LoginAttempt.username == username, LoginAttempt.succeeded.is_(False),
                   LoginAttempt.at > now - FAILURE_WINDOW,
                   LoginAttempt.id > func.coalesce(  # a successful sign-in starts the count again
                       select(func.max(LoginAttempt.id)).where(LoginAttempt.username == username,
                                                              LoginAttempt.succeeded.is_(True)).scalar_subquery(),
                       0))).one()
        if failures[0] >= MAX_FAILURES:
            wait = max(1, int(((failures[1] + FAILURE_WINDOW) - now).total_seconds() // 60) + 1)
            raise LoginRefused(f"Too many failed sign-ins for {username!r}; try again in {wait} minute(s).")
        row = connection.execute(select(UserAccount).where(UserAccount.username == username)).mappings().first()
        ok = row is not None and row["is_active"] and verify_password(password or "", row["password_hash"])
        connection.execute(insert(LoginAttempt).values(username=username, at=now, succeeded=bool(ok)))
        prune_login_attempts(connection, now)
    if not ok:
        if row is not None and not row["is_active"]:
            raise LoginRefused("This account is disabled; ask an admin.")
        raise LoginRefused("Wrong user name or password.")
    return User(row["username"], row["role"])


def prune_login_attempts(connection: Connection, now: datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete up to `batch` sign-in attempts older than the failure window, which the cool-down no longer counts; keep
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
    add_user(engine, "admin", ADMIN, password)
    return password


DEFAULT_ACTIONS_PER_MINUTE = 10
RATE_WINDOW = timedelta(minutes=1)
# Every change an account asks for counts, by its "<kind> requested" audit entry: an action's is written when its
# operation starts (Journal.start; refused actions are not counted), the others' by `rate_limited_request`.
RATE_LIMITED_KINDS = ("reschedule", "unschedule", "schedule_supervisor", "undo", "retry", "acknowledge", "run_checks")
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
        SQLite serialises write transactions (BEGIN IMMEDIATE, services/database.py); on PostgreSQL a
        transaction-scoped advisory lock on the account makes its next request wait until this one has committed (its
        count then sees this record)."""
        if kind not in RATE_LIMITED_KINDS:
            return
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:lock_class, :account)"),
                               {"lock_class": _RATE_LOCK_CLASS, "account": _account_lock_key(username)})
        recent = connection.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.at > now - RATE_WINDOW, AuditEntry.actor == username,
            AuditEntry.action.in_([requested_action(name) for name in RATE_LIMITED_KINDS]))).scalar_one()
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
        with engine.begin() as connection:
            if rate_limit is not None:
                rate_limit.reserve(connection, username, kind, now)
            connection.execute(insert(AuditEntry).values(at=now, actor=username, operation_id=operation_id,
                                                         action=requested_action(kind), message=message))
            yield connection
    except RateLimitExceeded as refusal:
        with engine.begin() as connection:
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
