"""One reader of settings for the app, its server routes and the CLI (issue 15 §5): every setting works from
`.streamlit/secrets.toml`, the environment wins, unknown names are warned about; files the dashboard creates are
private (0600, folders 0700)."""
from __future__ import annotations

import logging
import os
import stat
import subprocess
from datetime import time
from pathlib import Path

import pytest

from services.store.backups import backup_database
from services.ops.health import health_report
from services.ops.logging_setup import configure_logging, log_file_from_env
from services.store.schema_admin import upgrade_database
from services.settings import KNOWN_SETTINGS, SETTING_PREFIXES, load_settings
from tests.cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent

# Every setting, a value that is not its default (as TOML), and what it must change in Settings.
SETTING_EFFECTS = {
    "SCHEDULER_DATABASE_URL": ('"postgresql://ops@db.internal/scheduler"',
                               lambda s: s.database_url == "postgresql+psycopg://ops@db.internal/scheduler"),
    "CROSSMARK_BASE_URL": ('"https://cm.example/"', lambda s: s.crossmark_base_url == "https://cm.example"),
    "CROSSMARK_USERNAME": ('"svc-user"', lambda s: s.crossmark_username == "svc-user"),
    "CROSSMARK_PASSWORD": ('"pw-from-secrets"', lambda s: s.crossmark_password == "pw-from-secrets"),
    "CROSSMARK_TIMEZONE": ('"America/Chicago"', lambda s: s.crossmark_timezone == "America/Chicago"),
    "CROSSMARK_CONNECT_TIMEOUT": ("7", lambda s: s.crossmark_connect_timeout == 7.0),
    "CROSSMARK_READ_TIMEOUT": ("45", lambda s: s.crossmark_read_timeout == 45.0),
    "CROSSMARK_SESSION_LIFE": ("1800", lambda s: s.crossmark_session_life == 1800.0),
    "CROSSMARK_SANDBOX_FAILURE_RATE": ("0.25", lambda s: s.sandbox_write_failure_rate == 0.25),
    "DASHBOARD_URL": ('"https://ops.example.com/"', lambda s: s.dashboard_url == "https://ops.example.com"),
    "SLACK_WEBHOOK_URL": ('"https://hooks.example/x"', lambda s: s.slack_webhook_url == "https://hooks.example/x"),
    "SMTP_HOST": ('"mail.example"', lambda s: s.smtp_host == "mail.example"),
    "SMTP_PORT": ("2525", lambda s: s.smtp_port == 2525),
    "SMTP_USERNAME": ('"mailer"', lambda s: s.smtp_username == "mailer"),
    "SMTP_PASSWORD": ('"mail-pw"', lambda s: s.smtp_password == "mail-pw"),
    "SMTP_FROM": ('"ops@example.com"', lambda s: s.smtp_from == "ops@example.com"),
    "SMTP_TO": ('"a@example.com, b@example.com"', lambda s: s.smtp_to == ("a@example.com", "b@example.com")),
    "SMTP_STARTTLS": ("false", lambda s: s.smtp_starttls is False),
    "NOTIFY_MIN_SEVERITY": ('"warning"', lambda s: s.notify_min_severity == "warning"),
    "NOTIFY_ONLY_NEW": ("false", lambda s: s.notify_only_new is False),
    "NOTIFY_SUPPRESS_HOURS": ("6", lambda s: s.notify_suppress_hours == 6),
    "AUTH_MODE": ('"oidc"', lambda s: s.auth_mode == "oidc"),
    "AUTH_TRUSTED_HEADER": ('"X-Auth-User"', lambda s: s.auth_trusted_header == "X-Auth-User"),
    "AUTH_PROXY_SECRET": ('"0123456789abcdef-proxy"', lambda s: s.auth_proxy_secret == "0123456789abcdef-proxy"),
    "AUTH_PROXY_SECRET_HEADER": ('"X-Edge-Secret"', lambda s: s.auth_proxy_secret_header == "X-Edge-Secret"),
    "AUTH_TRUSTED_PROXIES": ('"10.0.4.0/24, ::1"', lambda s: [str(n) for n in s.auth_trusted_proxies]
                             == ["10.0.4.0/24", "::1/128"]),
    "AUTH_MAX_SESSION_HOURS": ("8", lambda s: s.auth_max_session_hours == 8.0),
    "AUTH_ROLES_CLAIM": ('"groups"', lambda s: s.auth_roles_claim == "groups"),
    "AUTH_ROLE_MAP": ('"ops=operator"', lambda s: s.auth_role_map == (("ops", "operator"),)),
    "SESSION_IDLE_MINUTES": ("15", lambda s: s.session_idle_minutes == 15),
    "ACTIONS_PER_MINUTE": ("3", lambda s: s.actions_per_minute == 3),
    "BATCH_MAX_ITEMS": ("30", lambda s: s.batch_max_items == 30),
    "SUPERVISOR_RULE_MODE": ('"fixed"', lambda s: s.supervisor_rule.mode == "fixed"),
    "SUPERVISOR_OFFSET_MINUTES": ("90", lambda s: s.supervisor_rule.offset_minutes == 90),
    "SUPERVISOR_FIXED_TIME": ('"12:15"', lambda s: s.supervisor_rule.fixed_time == time(12, 15)),
    "RETRY_FIRST_SECONDS": ("10", lambda s: s.retry_first_seconds == 10.0),
    "RETRY_MAX_SECONDS": ("120", lambda s: s.retry_max_seconds == 120.0),
    "RETRY_MIN_ATTEMPTS": ("3", lambda s: s.retry_min_attempts == 3),
    "RETRY_MIN_HOURS": ("1.5", lambda s: s.retry_min_hours == 1.5),
    "RETRY_LOOP": ("false", lambda s: s.retry_loop is False),
    "HEALTH_TOKEN": ('"health-token-0123456789"', lambda s: s.health_token == "health-token-0123456789"),
    "METRICS_TOKEN": ('"metrics-token-0123456789"', lambda s: s.metrics_token == "metrics-token-0123456789"),
    "DASHBOARD_LOG_FILE": ('"/var/log/ops/dashboard.jsonl"', None),  # read by the logging setup, checked below
}


@pytest.fixture
def project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with an empty .streamlit/, a HOME without secrets and none of our variables set."""
    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / ".streamlit").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _secrets(folder: Path, body: str) -> None:
    (folder / ".streamlit" / "secrets.toml").write_text(body + "\n[auth]\nclient_id = \"not a setting\"\n")


def test_every_known_setting_has_a_test_here():
    assert set(SETTING_EFFECTS) == set(KNOWN_SETTINGS)


@pytest.mark.parametrize("name", sorted(SETTING_EFFECTS))
def test_each_setting_takes_effect_from_secrets_toml(project_dir: Path, name: str):
    value, effect = SETTING_EFFECTS[name]
    _secrets(project_dir, f"{name} = {value}")
    settings = load_settings()
    assert settings.unknown_settings == ()
    if effect is not None:
        assert effect(settings), f"{name} = {value} in secrets.toml did not take effect"
    else:
        assert log_file_from_env({**os.environ, name: value.strip('"')}) == Path(value.strip('"'))
    assert effect is None or not effect(load_settings({})), f"{name}: the test value is the default"


def test_the_environment_wins_and_unknown_names_are_named(project_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture):
    _secrets(project_dir, 'ACTIONS_PER_MINUTE = 3\nCROSSMARK_PASSWROD = "typo"\nSMTP_PORT = 2525')
    monkeypatch.setenv("ACTIONS_PER_MINUTE", "7")
    monkeypatch.setenv("SESSION_IDLE_MINUTS", "5")  # a typo in the environment
    monkeypatch.setenv("PATHEXT_UNRELATED", "x")  # not one of our prefixes: none of our business
    with caplog.at_level(logging.WARNING, logger="services.settings"):
        settings = load_settings()
    assert settings.actions_per_minute == 7 and settings.smtp_port == 2525
    assert settings.unknown_settings == ("CROSSMARK_PASSWROD", "SESSION_IDLE_MINUTS")
    assert any("CROSSMARK_PASSWROD" in record.getMessage() for record in caplog.records)
    report = health_report(settings, f"sqlite:///{project_dir / 'absent.db'}")
    assert "unknown setting(s) ignored: CROSSMARK_PASSWROD, SESSION_IDLE_MINUTS" in report.warnings


def test_readme_documents_every_setting():
    readme = (ROOT / "README.md").read_text()
    configuration = readme[readme.index("## Configuration"):]
    configuration = configuration[:configuration.index("\n## ", 3)]
    missing = [name for name in sorted(KNOWN_SETTINGS) if f"`{name}`" not in configuration]
    assert missing == [], f"README's Configuration section does not list {missing}"


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """The CLI in process, working in `cwd` (whose .streamlit/secrets.toml it reads), none of our settings in its
    environment."""
    return run_cli(*args, cwd=cwd, unset_prefixes=SETTING_PREFIXES)


def test_the_cli_reads_the_same_secrets_toml(project_dir: Path):
    database = project_dir / "from-secrets.db"
    _secrets(project_dir, f'SCHEDULER_DATABASE_URL = "{database}"')
    assert _cli(project_dir, "db", "upgrade").returncode == 0
    status = _cli(project_dir, "db", "status")
    assert status.returncode == 0, status.stderr
    assert str(database) in status.stdout


# --- private files ----------------------------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_its_backups_and_logs_are_created_private(tmp_path: Path):
    os.umask(0o022)  # a usual umask: files would be world-readable without our care
    database = tmp_path / "scheduler.db"
    upgrade_database(f"sqlite:///{database}")
    assert _mode(database) == 0o600
    for companion in (tmp_path / "scheduler.db-wal", tmp_path / "scheduler.db-shm"):
        if companion.exists():
            assert _mode(companion) == 0o600, companion.name

    backup = backup_database(f"sqlite:///{database}")
    assert backup.path is not None and _mode(backup.path) == 0o600

    log_file = tmp_path / "logs" / "nested" / "dashboard.jsonl"
    try:
        configure_logging({}, log_file=log_file)
        logging.getLogger("test").warning("a line")
        assert _mode(log_file) == 0o600
        assert _mode(log_file.parent) == _mode(log_file.parent.parent) == 0o700  # data/ made on the way too
    finally:
        configure_logging({"DASHBOARD_LOG_FILE": ""})  # back to stderr only: no test writes into data/logs
