"""Logging layer: JSON lines to stderr and a rotating file, with secrets masked in every record before it is written."""
from __future__ import annotations

import hashlib
import json
import logging
import logging.handlers
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from services.errors import ConfigurationError
from services.store.file_modes import make_private_folder, private_opener
from services.settings import PROJECT_ROOT, Settings

DEFAULT_LOG_FILE = PROJECT_ROOT / "data" / "logs" / "dashboard.jsonl"
LOG_FILE_ENV = "DASHBOARD_LOG_FILE"
MAX_BYTES = 10 * 1024 * 1024
BACKUP_COUNT = 5
MASK = "***"
_CONFIGURE_LOCK = threading.Lock()

# Settings whose values are secrets: masked wherever they appear, whatever logged them.
SECRET_SETTINGS = {"CROSSMARK_PASSWORD": "crossmark_password", "SMTP_PASSWORD": "smtp_password",
                   "SLACK_WEBHOOK_URL": "slack_webhook_url", "HEALTH_TOKEN": "health_token",
                   "METRICS_TOKEN": "metrics_token", "AUTH_PROXY_SECRET": "auth_proxy_secret"}
# httpcore logs response headers (Set-Cookie: PHPSESSID=...) at DEBUG, hpack logs every HTTP/2 header, and httpx's INFO
# line repeats the full URL of every call (a Slack webhook URL is itself a secret) that our own crossmark log already
# records. Pinned, so a root logger at DEBUG never turns them on.
NOISY_LOGGERS = {"httpcore": logging.WARNING, "hpack": logging.WARNING, "httpx": logging.WARNING}
# Shorter secrets are not masked by value: masking every "abc" would garble the logs; the patterns below still apply.
MIN_SECRET_LENGTH = 4

_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_SECRET_FIELD = re.compile(r"password|passwd|secret|token|cookie|authorization|webhook|api_?key", re.IGNORECASE)
_QUOTED_OR_BARE = r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s&,;}\])'\"]+)"
# A bytes literal's b prefix (httpcore prints headers as (b'name', b'value')); only when a quote follows it.
_BYTES_PREFIX = r"(?-i:b(?=['\"]))?"
# What joins a header name to its value: "Name: v", "name=v", JSON "name": "v", or a tuple ('name', 'v').
_HEADER_SEPARATOR = r"(?:['\"]?\s*[:=]\s*|['\"]\s*,\s*)" + _BYTES_PREFIX + r"['\"]?"
# (pattern, replacement); None: the value is masked by _mask_password_value, which keeps its quotes.
_PATTERNS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    # Cookie values, as httpcore prints them ((b'Set-Cookie', b'PHPSESSID=...')) or as a header line.
    (re.compile(r"(PHPSESSID=)[^;,\s'\"&]+", re.IGNORECASE), rf"\g<1>{MASK}"),
    (re.compile(r"(\b(?:set-)?cookie\b" + _HEADER_SEPARATOR + r")[^'\"\r\n]+", re.IGNORECASE), rf"\g<1>{MASK}"),
    # Authorization headers in any spelling, and bare bearer tokens.
    (re.compile(r"(\b(?:proxy-)?authorization\b" + _HEADER_SEPARATOR + r")[^'\"\r\n]+", re.IGNORECASE),
     rf"\g<1>{MASK}"),
    (re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), rf"\g<1>{MASK}"),
    # Password fields: JSON / Python reprs ("Password": "x"), form bodies (Password=x&...), key=value text.
    (re.compile(r"((?<![\w-])[\"']?[\w-]*(?:password|passwd|pwd)[\"']?\s*[:=]\s*" + _BYTES_PREFIX + ")"
                + _QUOTED_OR_BARE, re.IGNORECASE), None),
    # A password inside a URL (postgresql://user:pw@host) and the secret path of any Slack webhook.
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/\s@'\"]+:)[^@/\s'\"]+(@)", re.IGNORECASE), rf"\g<1>{MASK}\g<2>"),
    (re.compile(r"(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s'\"<>]+", re.IGNORECASE), rf"\g<1>{MASK}"),
)


def _mask_password_value(match: re.Match[str]) -> str:
    value = match.group(2)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return f"{match.group(1)}{value[0]}{MASK}{value[0]}"
    return f"{match.group(1)}{MASK}"


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, extra fields, exception and stack text (mutating the record, so
    every handler after this one sees it masked too). Knows the configured secrets' values and the usual shapes of
    passwords, cookies, Authorization headers and webhook URLs."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        variants: set[str] = set()
        for secret in secrets:
            if not secret or len(secret) < MIN_SECRET_LENGTH:
                continue
            # The forms a value takes on its way out: as is, URL-encoded in a form body, escaped in JSON or a repr.
            variants.update({secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
                             repr(secret)[1:-1]})
        self._literals = sorted(variants, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for literal in self._literals:
            text = text.replace(literal, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement if replacement is not None else _mask_password_value, text)
        return text

    def _redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {key: MASK if _SECRET_FIELD.search(str(key)) and value[key] else self._redact_value(value[key])
                    for key in value}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._redact_value(item) for item in value]
        if value is None or isinstance(value, (bool, int, float)):
            return value
        text = str(value)
        masked = self.redact(text)
        return value if masked == text else masked

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record: log its template instead
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRIBUTES or key.startswith("_"):
                continue
            if _SECRET_FIELD.search(key) and value:
                setattr(record, key, MASK)
            else:
                setattr(record, key, self._redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        # The live exception would carry its unmasked message to any handler that reads it; formatters use the masked
        # text instead (logging.Formatter prints exc_text whenever it is set).
        record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        record._redacted = True
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO 8601, local offset), level, logger, message, then every `extra` field."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key in _STANDARD_ATTRIBUTES or key.startswith("_"):
                continue
            payload[f"{key}_" if key in payload else key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (Streamlit and pytest replace it after start-up)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # noqa: ANN201 - a text stream
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001 - StreamHandler.__init__ assigns it
        pass


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Log files are created 0600, the first and every rotated one: they record who did what, and when."""

    def _open(self):  # noqa: ANN202 - a text stream
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors, opener=private_opener)


def _secrets_and_env(settings_or_env: Settings | Mapping[str, str] | None) -> tuple[list[str | None],
                                                                                    Mapping[str, str]]:
    if isinstance(settings_or_env, Settings):
        return [getattr(settings_or_env, field) for field in SECRET_SETTINGS.values()], os.environ
    env = os.environ if settings_or_env is None else settings_or_env
    return [env.get(name) for name in SECRET_SETTINGS], env


def log_file_from_env(env: Mapping[str, str]) -> Path | None:
    """DASHBOARD_LOG_FILE: unset -> data/logs/dashboard.jsonl; empty -> no file (stderr only); else that path."""
    raw = env.get(LOG_FILE_ENV)
    if raw is None:
        return DEFAULT_LOG_FILE
    raw = raw.strip()
    return Path(raw).expanduser().resolve() if raw else None


def configure_logging(settings_or_env: Settings | Mapping[str, str] | None = None, *, log_file: Path | None = None,
                      level: str | int = "INFO", stderr_level: str | None = None) -> RedactingFilter:
    """Send every log record, as JSON lines with secrets masked, to stderr and to a rotating file (10 MB x 5).

    Idempotent: a call with the same configuration changes nothing (Streamlit runs the app script on every rerun);
    a different one replaces our handlers, never adds more; handlers others added are left alone.
    `log_file` overrides DASHBOARD_LOG_FILE. Returns the filter, so a caller can mask text it shows elsewhere."""
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    if not isinstance(numeric, int):
        raise ConfigurationError(f"Log level {level!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL.")
    secrets, env = _secrets_and_env(settings_or_env)
    path = log_file if log_file is not None else log_file_from_env(env)
    # Identifies a configuration without keeping the secrets themselves anywhere but in the filter.
    wanted = (str(path), MAX_BYTES, BACKUP_COUNT, sorted(secret for secret in secrets if secret))
    key = hashlib.sha256(repr(wanted).encode()).hexdigest()
    root = logging.getLogger()
    with _CONFIGURE_LOCK:
        ours = [handler for handler in root.handlers if getattr(handler, "_dashboard_logging", None)]
        if len(ours) == (2 if path is not None else 1) and all(
                getattr(h, "_dashboard_logging", None) == key for h in ours):
            redactor = next(f for f in ours[0].filters if isinstance(f, RedactingFilter))
        else:
            redactor = _install_handlers(root, ours, path, RedactingFilter(secrets), key)
        root.setLevel(numeric)
        for name, pinned in NOISY_LOGGERS.items():
            logging.getLogger(name).setLevel(pinned)
        # The CLI keeps stderr for people (one-line errors) and sends the JSON lines to the file only.
        for handler in root.handlers:
            if isinstance(handler, _StderrHandler):
                handler.setLevel(logging.getLevelName(stderr_level.upper()) if stderr_level else logging.NOTSET)
    return redactor


def _install_handlers(root: logging.Logger, old: list[logging.Handler], path: Path | None, redactor: RedactingFilter,
                      key: str) -> RedactingFilter:
    handlers: list[logging.Handler] = [_StderrHandler()]
    if path is not None:
        try:
            make_private_folder(path.parent)
            handlers.append(_PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT,
                                                        encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(f"Cannot write the log file {path}: {exc.strerror or exc}. Set {LOG_FILE_ENV} to "
                                     "a writable path, or to an empty value to log to stderr only.") from None
    for handler in old:
        root.removeHandler(handler)
        handler.close()
    formatter = JsonLinesFormatter()
    for position, handler in enumerate(handlers):
        handler._dashboard_logging = key  # type: ignore[attr-defined]  # our mark on a stdlib handler (see getattr)
        handler.addFilter(redactor)
        handler.setFormatter(formatter)
        # First in line: the filter masks the record itself, so handlers someone else added see it masked as well.
        root.handlers.insert(position, handler)
    return redactor


def log_event(logger: logging.Logger | str, message: str, /, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log `message` with structured fields (operation_id=..., status=..., duration_ms=...) as top-level JSON keys."""
    target = logging.getLogger(logger) if isinstance(logger, str) else logger
    # A field named like a LogRecord attribute ("name", "message", ...) would make logging raise: keep it, renamed.
    extra = {(f"{key}_" if key in _STANDARD_ATTRIBUTES else key): value for key, value in fields.items()}
    target.log(level, message, extra=extra, stacklevel=2)
