"""Settings layer: the one place that reads configuration (environment variables)."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "data" / "scheduler.db"
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_SQLITE_PATH}"
DEFAULT_TIMEZONE = "America/Indiana/Indianapolis"


@dataclass(frozen=True)
class SupervisorRule:
    """When a Supervisor is scheduled relative to its CORE: `offset` minutes after the CORE start, or a `fixed` time of day."""

    mode: str = "offset"
    offset_minutes: int = 120
    fixed_time: time = time(12, 0)

    def describe(self) -> str:
        if self.mode == "fixed":
            return f"fixed at {self.fixed_time:%H:%M}"
        return f"CORE start + {self.offset_minutes} min"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    crossmark_base_url: str | None = None
    crossmark_username: str | None = None
    crossmark_password: str | None = field(default=None, repr=False)
    crossmark_timezone: str = DEFAULT_TIMEZONE
    crossmark_connect_timeout: float = 5.0
    crossmark_read_timeout: float = 30.0
    crossmark_session_life: float = 3600.0
    sandbox_write_failure_rate: float = 0.0
    supervisor_rule: SupervisorRule = SupervisorRule()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.crossmark_timezone)

    @property
    def is_sandbox(self) -> bool:
        """No Crossmark URL configured: the embedded sandbox stands in, and every screen says so."""
        return not self.crossmark_base_url


def normalise_database_url(value: str) -> str:
    """Accept a SQLAlchemy URL or a plain path to an SQLite file (the common case for existing scheduler databases)."""
    value = value.strip()
    if not value:
        raise ConfigurationError("The database URL is empty.")
    if "://" in value:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # The project's driver is psycopg 3; a bare postgresql:// URL would ask SQLAlchemy for psycopg2.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def _parse_supervisor_rule(env: Mapping[str, str]) -> SupervisorRule:
    mode = env.get("SUPERVISOR_RULE_MODE", "offset").strip().lower()
    if mode not in ("offset", "fixed"):
        raise ConfigurationError(f"SUPERVISOR_RULE_MODE must be 'offset' or 'fixed', not {mode!r}.")
    raw_offset = env.get("SUPERVISOR_OFFSET_MINUTES", "120").strip()
    if not re.fullmatch(r"-?\d+", raw_offset):
        raise ConfigurationError(f"SUPERVISOR_OFFSET_MINUTES must be a whole number of minutes, not {raw_offset!r}.")
    offset = int(raw_offset)
    if not -720 <= offset <= 720:
        raise ConfigurationError(f"SUPERVISOR_OFFSET_MINUTES must be between -720 and 720, not {offset}.")
    raw_fixed = env.get("SUPERVISOR_FIXED_TIME", "12:00").strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", raw_fixed)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ConfigurationError(f"SUPERVISOR_FIXED_TIME must be HH:MM (24 h), not {raw_fixed!r}.")
    return SupervisorRule(mode=mode, offset_minutes=offset, fixed_time=time(int(match.group(1)), int(match.group(2))))


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, not {raw!r}.") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low:g} and {high:g} seconds, not {value:g}.")
    return value


def _fraction(env: Mapping[str, str], name: str) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number from 0 to 1, not {raw!r}.") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigurationError(f"{name} must be from 0 to 1, not {value:g}.")
    return value


def load_settings(env: Mapping[str, str] | None = None, database_url: str | None = None) -> Settings:
    """Read settings from the environment; `database_url` (a CLI `--db`) overrides SCHEDULER_DATABASE_URL."""
    env = os.environ if env is None else env
    url = database_url or env.get("SCHEDULER_DATABASE_URL") or DEFAULT_DATABASE_URL
    tz_name = env.get("CROSSMARK_TIMEZONE", DEFAULT_TIMEZONE).strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"CROSSMARK_TIMEZONE {tz_name!r} is not a known time zone (e.g. America/Indiana/Indianapolis).") from None
    return Settings(
        database_url=normalise_database_url(url),
        crossmark_base_url=(env.get("CROSSMARK_BASE_URL") or "").strip().rstrip("/") or None,
        crossmark_username=env.get("CROSSMARK_USERNAME") or None,
        crossmark_password=env.get("CROSSMARK_PASSWORD") or None,
        crossmark_timezone=tz_name,
        crossmark_connect_timeout=_seconds(env, "CROSSMARK_CONNECT_TIMEOUT", 5.0, 0.1, 120),
        crossmark_read_timeout=_seconds(env, "CROSSMARK_READ_TIMEOUT", 30.0, 0.1, 600),
        crossmark_session_life=_seconds(env, "CROSSMARK_SESSION_LIFE", 3600.0, 60, 86400),
        sandbox_write_failure_rate=_fraction(env, "CROSSMARK_SANDBOX_FAILURE_RATE"),
        supervisor_rule=_parse_supervisor_rule(env),
    )
