"""Settings layer: the one place that reads configuration (environment variables)."""
from __future__ import annotations

import logging
import ipaddress
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.domain.event_rules import SupervisorRule
from services.domain.severity import CRITICAL, SEVERITIES
from services.errors import ConfigurationError, UnsafeConfiguration

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "data" / "scheduler.db"
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_SQLITE_PATH}"
DEFAULT_TIMEZONE = "America/Indiana/Indianapolis"
# Where Streamlit looks for secrets (its `secrets.files` default); a later file wins, the environment wins over both.
SECRETS_FILES = (Path("~/.streamlit/secrets.toml"), Path(".streamlit/secrets.toml"))
# Every setting the dashboard reads, from the environment or secrets.toml. A name of ours not listed is a typo or a
# setting of another version: it is named in a warning, so "I set it and nothing happened" has an answer.
KNOWN_SETTINGS = frozenset({
    "SCHEDULER_DATABASE_URL", "CROSSMARK_BASE_URL", "CROSSMARK_USERNAME", "CROSSMARK_PASSWORD", "CROSSMARK_TIMEZONE",
    "CROSSMARK_CONNECT_TIMEOUT", "CROSSMARK_READ_TIMEOUT", "CROSSMARK_SESSION_LIFE", "CROSSMARK_SANDBOX_FAILURE_RATE",
    "DASHBOARD_URL", "DASHBOARD_LOG_FILE", "SLACK_WEBHOOK_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME",
    "SMTP_PASSWORD", "SMTP_FROM", "SMTP_TO", "SMTP_STARTTLS", "NOTIFY_MIN_SEVERITY", "NOTIFY_ONLY_NEW", "NOTIFY_SUPPRESS_HOURS", "AUTH_MODE",
    "AUTH_TRUSTED_HEADER", "AUTH_PROXY_SECRET", "AUTH_PROXY_SECRET_HEADER", "AUTH_TRUSTED_PROXIES",
    "AUTH_MAX_SESSION_HOURS", "AUTH_ROLES_CLAIM", "AUTH_ROLE_MAP", "SESSION_IDLE_MINUTES", "ACTIONS_PER_MINUTE",
    "SUPERVISOR_RULE_MODE", "SUPERVISOR_OFFSET_MINUTES", "SUPERVISOR_FIXED_TIME", "RETRY_FIRST_SECONDS",
    "RETRY_MAX_SECONDS", "RETRY_MIN_ATTEMPTS", "RETRY_MIN_HOURS", "RETRY_LOOP", "HEALTH_TOKEN", "METRICS_TOKEN",
    "BATCH_MAX_ITEMS"})
# Environment variables with these prefixes are taken to be meant for us (others belong to the rest of the system).
MIN_TOKEN_LENGTH = 16  # HEALTH_TOKEN, METRICS_TOKEN
SETTING_PREFIXES = ("SCHEDULER_", "CROSSMARK_", "DASHBOARD_", "SLACK_", "SMTP_", "NOTIFY_", "AUTH_", "SESSION_",
                    "ACTIONS_", "SUPERVISOR_", "RETRY_", "BATCH_")

log = logging.getLogger(__name__)


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
    dashboard_url: str = "http://localhost:8501"
    slack_webhook_url: str | None = field(default=None, repr=False)
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str | None = None
    smtp_to: tuple[str, ...] = ()
    smtp_starttls: bool = True
    notify_min_severity: str = CRITICAL.value
    notify_only_new: bool = True
    notify_suppress_hours: int = 24  # a finding escalated within this many hours is not escalated again (flapping)
    auth_mode: str = "local"  # local accounts, a trusted proxy header, or OIDC through st.login
    auth_trusted_header: str = "X-Forwarded-User"
    # Header mode's proof that a request came through the proxy: a secret the proxy adds in its own header, and/or the
    # addresses the proxy connects from. The app refuses to start in header mode with neither (UnsafeConfiguration).
    auth_proxy_secret: str | None = field(default=None, repr=False)
    auth_proxy_secret_header: str = "X-Proxy-Secret"
    auth_trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    auth_max_session_hours: float = 12.0  # roles from an identity-provider sign-in older than this are not trusted
    auth_roles_claim: str = "roles"
    auth_role_map: tuple[tuple[str, str], ...] = ()  # claim value -> role
    session_idle_minutes: int = 60
    actions_per_minute: int = 10
    batch_max_items: int = 200  # items one batch may hold (a batch counts once under actions_per_minute)
    supervisor_rule: SupervisorRule = SupervisorRule()
    # Automatic retries of operations that did not settle (services/actions/retry_policy.py): full-jitter backoff from about
    # `retry_first_seconds`, doubling up to `retry_max_seconds`; stuck after both `retry_min_attempts` attempts and
    # `retry_min_hours`. `retry_loop`: whether the server runs the retry loop (one process across replicas does).
    retry_first_seconds: float = 30.0
    retry_max_seconds: float = 600.0
    retry_min_attempts: int = 8
    retry_min_hours: float = 6.0
    retry_loop: bool = True
    # Bearer tokens of the monitoring system: HEALTH_TOKEN shows /healthz's details (anonymous callers get the status
    # only); METRICS_TOKEN, when set, is required by /metrics (unset, /metrics stays open).
    health_token: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)
    unknown_settings: tuple[str, ...] = ()  # names present in the environment or secrets.toml that are not settings

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


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float,
             unit: str = "seconds") -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of {unit}, not {raw!r}.") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low:g} and {high:g} {unit}, not {value:g}.")
    return value


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"\d+", raw) or not low <= int(raw) <= high:
        raise ConfigurationError(f"{name} must be a whole number from {low} to {high}, not {raw!r}.")
    return int(raw)


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}.")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = env.get(name, "").strip().lower() or default
    if raw not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, not {raw!r}.")
    return raw


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`AUTH_TRUSTED_PROXIES="127.0.0.1,10.0.4.0/24,::1"`: addresses or networks the proxy connects from."""
    networks = []
    for item in (part.strip() for part in raw.split(",") if part.strip()):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigurationError(f"AUTH_TRUSTED_PROXIES entries are addresses or networks (10.0.4.7, 10.0.4.0/24), "
                                     f"not {item[:60]!r}.") from None
    return tuple(networks)


def _header_name(env: Mapping[str, str], name: str, default: str) -> str:
    value = (env.get(name) or default).strip()
    if not re.fullmatch(r"[A-Za-z0-9-]{1,100}", value):
        raise ConfigurationError(f"{name} must be an HTTP header name (letters, digits and dashes), not {value[:60]!r}.")
    return value


def check_sign_in_safety(settings: Settings) -> Settings:
    """Refuse a configuration that would let anyone sign in as anyone: header mode trusts a header any client can
    send unless the request is proven to come through the proxy (a shared secret, or the proxy's address)."""
    if settings.auth_mode == "header" and not (settings.auth_proxy_secret or settings.auth_trusted_proxies):
        raise UnsafeConfiguration(
            "AUTH_MODE=header needs proof that a request came through the sign-in proxy: set AUTH_PROXY_SECRET (a "
            "secret the proxy sends in the AUTH_PROXY_SECRET_HEADER header) and/or AUTH_TRUSTED_PROXIES (the "
            "addresses the proxy connects from). Without either, anyone who reaches the dashboard could name "
            "themselves admin; see README.md, Security.")
    if settings.auth_proxy_secret is not None and len(settings.auth_proxy_secret) < 16:
        raise UnsafeConfiguration("AUTH_PROXY_SECRET must have at least 16 characters (e.g. `openssl rand -hex 32`).")
    return settings


def _token(env: Mapping[str, str], name: str) -> str | None:
    """A bearer token a monitoring system sends; short ones are refused, since anyone may guess at /healthz."""
    value = (env.get(name) or "").strip() or None
    if value is not None and not re.fullmatch(r"[\x21-\x7e]{%d,}" % MIN_TOKEN_LENGTH, value):
        # Printable ASCII without spaces: what an Authorization header carries intact and compare_digest accepts.
        raise ConfigurationError(f"{name} must be at least {MIN_TOKEN_LENGTH} printable ASCII characters without "
                                 "spaces (e.g. `openssl rand -hex 32`).")
    return value


def _role_map(raw: str) -> tuple[tuple[str, str], ...]:
    """`AUTH_ROLE_MAP="ops-admins=admin,ops-staff=operator,managers=viewer"`: an identity provider's group -> role."""
    pairs = []
    for item in (part.strip() for part in raw.split(",") if part.strip()):
        claim, _, role = item.partition("=")
        if not claim.strip() or role.strip() not in ("viewer", "operator", "admin"):
            raise ConfigurationError(f"AUTH_ROLE_MAP entries are GROUP=viewer|operator|admin, not {item!r}.")
        pairs.append((claim.strip(), role.strip()))
    return tuple(pairs)


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


def read_secrets_files(files: tuple[Path, ...] = SECRETS_FILES) -> dict[str, str]:
    """Top-level plain values of the secrets.toml files (tables such as [auth] are st.login's, not settings)."""
    values: dict[str, str] = {}
    for name in files:
        path = name.expanduser()
        if not path.is_file():
            continue
        try:
            with path.open("rb") as handle:
                data = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"Cannot read {path}: {exc}") from None
        for key, value in data.items():
            if isinstance(value, dict):
                continue
            values[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


_warned_unknown: set[frozenset[str]] = set()
_warned_lock = threading.Lock()


def unknown_settings(env: Mapping[str, str], secrets: Mapping[str, str] | None = None) -> list[str]:
    """Names that look like settings of ours (a known prefix in the environment, any top-level key in secrets.toml)
    but are not one: `CROSSMARK_PASSWROD` is a typo that would otherwise be silently ignored."""
    names = {name for name in env if name.startswith(SETTING_PREFIXES)} | set(secrets or ())
    return sorted(name for name in names - KNOWN_SETTINGS if not name.startswith("STREAMLIT_"))


def load_settings(env: Mapping[str, str] | None = None, database_url: str | None = None) -> Settings:
    """The one reader of settings, for the app, its server routes (/healthz) and the CLI.

    `env=None` reads the environment over `.streamlit/secrets.toml` (the environment wins); a mapping is used as
    given (tests). `database_url` (a CLI `--db`) overrides SCHEDULER_DATABASE_URL. Unknown names are warned about."""
    unknown: list[str] = []
    if env is None:
        secrets = read_secrets_files()
        env = {**secrets, **os.environ}
        unknown = unknown_settings(os.environ, secrets)
        if unknown:
            with _warned_lock:  # once per process and set of names: /healthz reads settings at every probe
                first = frozenset(unknown) not in _warned_unknown
                _warned_unknown.add(frozenset(unknown))
            if first:
                log.warning("unknown setting(s) ignored: %s (known settings are listed in README.md, Configuration)",
                            ", ".join(unknown))
    url = database_url or env.get("SCHEDULER_DATABASE_URL") or DEFAULT_DATABASE_URL
    tz_name = env.get("CROSSMARK_TIMEZONE", DEFAULT_TIMEZONE).strip() or DEFAULT_TIMEZONE
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"CROSSMARK_TIMEZONE {tz_name!r} is not a known time zone (e.g. America/Indiana/Indianapolis).") from None
    return check_sign_in_safety(Settings(
        database_url=normalise_database_url(url),
        crossmark_base_url=(env.get("CROSSMARK_BASE_URL") or "").strip().rstrip("/") or None,
        crossmark_username=env.get("CROSSMARK_USERNAME") or None,
        crossmark_password=env.get("CROSSMARK_PASSWORD") or None,
        crossmark_timezone=tz_name,
        crossmark_connect_timeout=_seconds(env, "CROSSMARK_CONNECT_TIMEOUT", 5.0, 0.1, 120),
        crossmark_read_timeout=_seconds(env, "CROSSMARK_READ_TIMEOUT", 30.0, 0.1, 600),
        crossmark_session_life=_seconds(env, "CROSSMARK_SESSION_LIFE", 3600.0, 60, 86400),
        sandbox_write_failure_rate=_fraction(env, "CROSSMARK_SANDBOX_FAILURE_RATE"),
        dashboard_url=(env.get("DASHBOARD_URL") or "http://localhost:8501").strip().rstrip("/"),
        slack_webhook_url=(env.get("SLACK_WEBHOOK_URL") or "").strip() or None,
        smtp_host=(env.get("SMTP_HOST") or "").strip() or None,
        smtp_port=_whole(env, "SMTP_PORT", 587, 1, 65535),
        smtp_username=env.get("SMTP_USERNAME") or None,
        smtp_password=env.get("SMTP_PASSWORD") or None,
        smtp_from=(env.get("SMTP_FROM") or "").strip() or None,
        smtp_to=tuple(a.strip() for a in (env.get("SMTP_TO") or "").split(",") if a.strip()),
        smtp_starttls=_flag(env, "SMTP_STARTTLS", True),
        notify_min_severity=_choice(env, "NOTIFY_MIN_SEVERITY", tuple(s.value for s in SEVERITIES),
                                    CRITICAL.value),
        notify_only_new=_flag(env, "NOTIFY_ONLY_NEW", True),
        notify_suppress_hours=_whole(env, "NOTIFY_SUPPRESS_HOURS", 24, 0, 24 * 30),
        auth_mode=_choice(env, "AUTH_MODE", ("local", "header", "oidc"), "local"),
        auth_trusted_header=_header_name(env, "AUTH_TRUSTED_HEADER", "X-Forwarded-User"),
        auth_proxy_secret=env.get("AUTH_PROXY_SECRET") or None,
        auth_proxy_secret_header=_header_name(env, "AUTH_PROXY_SECRET_HEADER", "X-Proxy-Secret"),
        auth_trusted_proxies=_networks(env.get("AUTH_TRUSTED_PROXIES", "")),
        auth_max_session_hours=_seconds(env, "AUTH_MAX_SESSION_HOURS", 12.0, 0.1, 24 * 30, unit="hours"),
        auth_roles_claim=(env.get("AUTH_ROLES_CLAIM") or "roles").strip(),
        auth_role_map=_role_map(env.get("AUTH_ROLE_MAP", "")),
        session_idle_minutes=_whole(env, "SESSION_IDLE_MINUTES", 60, 1, 24 * 60),
        actions_per_minute=_whole(env, "ACTIONS_PER_MINUTE", 10, 1, 1000),
        batch_max_items=_whole(env, "BATCH_MAX_ITEMS", 200, 1, 2000),
        supervisor_rule=_parse_supervisor_rule(env),
        retry_first_seconds=_seconds(env, "RETRY_FIRST_SECONDS", 30.0, 1, 3600),
        retry_max_seconds=_seconds(env, "RETRY_MAX_SECONDS", 600.0, 1, 86400),
        retry_min_attempts=_whole(env, "RETRY_MIN_ATTEMPTS", 8, 1, 1000),
        retry_min_hours=_seconds(env, "RETRY_MIN_HOURS", 6.0, 0, 24 * 30, unit="hours"),
        retry_loop=_flag(env, "RETRY_LOOP", True),
        health_token=_token(env, "HEALTH_TOKEN"),
        metrics_token=_token(env, "METRICS_TOKEN"),
        unknown_settings=tuple(unknown),
    ))
