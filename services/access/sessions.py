"""Signed-in sessions that survive a reload, a bookmark and a new tab, across replicas: a random token in an HttpOnly
cookie, its SHA-256 in dashboard_sessions (migration 0014). Sign out, disabling the account and a password change
revoke it; SESSION_IDLE_MINUTES without activity ends it. The raw token exists only in the browser's cookie."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from services.access.accounts import User
from services.store.database import begin_write
from services.store.tables import DashboardSession, UserAccount

COOKIE_NAME = "dashboard_session"
TOKEN_BYTES = 32
# A session's last activity is written at most this often: a page rerun is not a database write each time.
TOUCH_EVERY = timedelta(seconds=60)
MAX_AGE = timedelta(days=30)  # a session ends after this however active it is (and the cookie with it)


@dataclass(frozen=True)
class SessionCheck:
    """A session token's state: the account it signs in, or why it does not (shown to the person)."""

    user: User | None
    ended: str | None = None  # "idle", "revoked", "disabled", "unknown"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(engine: Engine, user: User, client: str | None, now: datetime | None = None) -> str:
    """A new session for `user` (just authenticated); returns the token for the cookie (never stored)."""
    now = now or datetime.now().replace(microsecond=0)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with begin_write(engine) as connection:
        connection.execute(insert(DashboardSession).values(
            token_hash=_digest(token), username=user.username, created_at=now, last_seen_at=now,
            client=(client or None) and client[:64]))
    return token


def check_session(engine: Engine, token: str | None, idle: timedelta, now: datetime | None = None) -> SessionCheck:
    """The account a cookie's token signs in, if the session is live: not revoked, active within `idle`, younger than
    MAX_AGE, its account enabled. An idle session is revoked here, so it cannot come back."""
    if not token or len(token) > 200:
        return SessionCheck(None, "unknown" if token else None)
    now = now or datetime.now().replace(microsecond=0)
    digest = _digest(token)
    with engine.connect() as connection:
        row = connection.execute(
            select(DashboardSession.username, DashboardSession.created_at, DashboardSession.last_seen_at,
                   DashboardSession.revoked_at, UserAccount.role, UserAccount.is_active)
            .join(UserAccount, UserAccount.username == DashboardSession.username, isouter=True)
            .where(DashboardSession.token_hash == digest)).first()
    if row is None:
        return SessionCheck(None, "unknown")
    if row.revoked_at is not None:
        return SessionCheck(None, "revoked")
    if row.role is None or not row.is_active:
        revoke_session(engine, token, now)
        return SessionCheck(None, "disabled")
    if now - row.last_seen_at > idle or now - row.created_at > MAX_AGE:
        revoke_session(engine, token, now)
        return SessionCheck(None, "idle")
    if now - row.last_seen_at >= TOUCH_EVERY:
        with begin_write(engine) as connection:
            connection.execute(update(DashboardSession).where(DashboardSession.token_hash == digest,
                                                               DashboardSession.revoked_at.is_(None))
                               .values(last_seen_at=now))
    return SessionCheck(User(row.username, row.role))


def revoke_session(engine: Engine, token: str | None, now: datetime | None = None) -> None:
    """End one session (sign out): its cookie no longer signs anyone in, on any replica."""
    if not token:
        return
    now = now or datetime.now().replace(microsecond=0)
    with begin_write(engine) as connection:
        connection.execute(update(DashboardSession).where(DashboardSession.token_hash == _digest(token),
                                                           DashboardSession.revoked_at.is_(None))
                           .values(revoked_at=now))
