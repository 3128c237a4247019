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
