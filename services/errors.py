"""Domain errors: one small tree, carrying fields, so pages and the CLI can show a specific message."""
from __future__ import annotations


class OpsError(Exception):
    """Base of every expected, user-facing failure. Anything else is a bug."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigurationError(OpsError):
    """A setting has a value we cannot use."""


class UnsafeConfiguration(ConfigurationError):
    """Settings that would open the dashboard to anyone (header sign-in with no proof of the proxy): the server
    refuses to start with them, rather than showing an error page."""


class DatabaseUnavailable(OpsError):
    """The database URL does not lead to a database we can open."""


class NotADatabase(OpsError):
    """The file exists but is not an SQLite database."""


class IncompatibleSchema(OpsError):
    """An existing scheduler database lacks columns the dashboard needs."""


class BackupFailed(OpsError):
    """A backup could not be written or did not verify; nothing was changed."""


class MigrationFailed(OpsError):
    """A schema change failed; its transaction was rolled back."""


class InvalidInput(OpsError):
    """A value given by a person (CLI flag, form field, query parameter) is not acceptable."""


class DatabaseNotEmpty(OpsError):
    """Demo data is only written into a database that does not already hold the same rows."""


class CrossmarkError(OpsError):
    """A Crossmark call failed; carries the HTTP status (if any) and a short excerpt of the reply."""

    def __init__(self, message: str, *, status: int | None = None, excerpt: str = "", path: str = "", **details: object):
        if status is not None and f"HTTP {status}" not in message:
            message = f"{message} [HTTP {status}{': ' + excerpt if excerpt else ''}]"
        super().__init__(message, status=status, excerpt=excerpt, path=path, **details)
        self.status, self.excerpt, self.path = status, excerpt, path


class CrossmarkAuthError(CrossmarkError):
    """Crossmark refused the credentials (or kept refusing the session after a fresh login)."""


class CrossmarkUnavailable(CrossmarkError):
    """Crossmark could not be reached (connection refused, DNS, repeated 5xx on a read): nothing was done there."""


class CrossmarkRejected(CrossmarkError):
    """Crossmark answered and said no (`ok: 0`, a 4xx): the request was not carried out."""


class CrossmarkBadReply(CrossmarkError):
    """Crossmark answered 2xx with something we cannot read (HTML page, missing MVScheduledEvent or ID)."""


class CrossmarkUnknownOutcome(CrossmarkError):
    """A write was sent but its reply was lost (read timeout, reset, 5xx): read the event's state back to decide;
    never resend it blindly."""


class ActionRefused(OpsError):
    """A paired action was refused before anything was sent (validation, conflict, permissions)."""


class ConcurrentEdit(OpsError):
    """The database changed under an action between its validation and its commit."""


class NotFound(OpsError):
    """An id given by a person names nothing."""


class CheckAlreadyRunning(OpsError):
    """Another data-quality run holds the lock (PostgreSQL advisory lock)."""


class LoginRefused(OpsError):
    """Wrong user name or password, a disabled account, or a cool-down after repeated failures."""


class PermissionDenied(OpsError):
    """The acting user's role does not allow this."""


class IdempotencyKeyReused(OpsError):
    """An idempotency key this account already used for a different request: nothing was recorded or sent. Carries
    the key and the id of the operation the key belongs to."""

    def __init__(self, message: str, *, key: str, operation_id: int, **details: object) -> None:
        super().__init__(message, key=key, operation_id=operation_id, **details)
        self.key, self.operation_id = key, operation_id


class RateLimitExceeded(ActionRefused):
    """The acting account made as many changes in the last minute as the rate limit allows; nothing was done."""

    def __init__(self, message: str, *, username: str, recent: int, limit: int, **details: object) -> None:
        super().__init__(message, username=username, recent=recent, limit=limit, **details)
        self.username, self.recent, self.limit = username, recent, limit
