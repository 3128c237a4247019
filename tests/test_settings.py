"""Settings: defaults give a working local setup; bad values get a specific message."""
from datetime import time

import pytest

from services.errors import ConfigurationError
from services.settings import DEFAULT_DATABASE_URL, load_settings, normalise_database_url


def test_defaults_are_the_local_sqlite_file_and_the_sandbox():
    settings = load_settings({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.database_url.endswith("data/scheduler.db")
    assert settings.is_sandbox
    assert settings.crossmark_timezone == "America/Indiana/Indianapolis"
    assert (settings.supervisor_rule.mode, settings.supervisor_rule.offset_minutes) == ("offset", 120)


def test_environment_and_cli_override():
    env = {"SCHEDULER_DATABASE_URL": "postgresql://u@h/db", "CROSSMARK_BASE_URL": "https://cm.example/",
           "CROSSMARK_PASSWORD": "s3cret!", "SUPERVISOR_RULE_MODE": "fixed", "SUPERVISOR_FIXED_TIME": "12:15"}
    settings = load_settings(env)
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.crossmark_base_url == "https://cm.example"
    assert not settings.is_sandbox
    assert settings.supervisor_rule.fixed_time == time(12, 15)
    assert "s3cret!" not in repr(settings)
    assert load_settings(env, database_url="/tmp/x.db").database_url == "sqlite:////tmp/x.db"


@pytest.mark.parametrize(("env", "message"), [
    ({"SUPERVISOR_RULE_MODE": "sometimes"}, "SUPERVISOR_RULE_MODE must be 'offset' or 'fixed'"),
    ({"SUPERVISOR_OFFSET_MINUTES": "two hours"}, "SUPERVISOR_OFFSET_MINUTES must be a whole number"),
    ({"SUPERVISOR_OFFSET_MINUTES": "5000"}, "between -720 and 720"),
    ({"SUPERVISOR_FIXED_TIME": "25:00"}, "SUPERVISOR_FIXED_TIME must be HH:MM"),
    ({"CROSSMARK_TIMEZONE": "Mars/Olympus"}, "not a known time zone"),
])
def test_bad_settings_are_named(env, message):
    with pytest.raises(ConfigurationError, match=message):
        load_settings(env)


def test_plain_paths_become_sqlite_urls(tmp_path):
    assert normalise_database_url(str(tmp_path / "a.db")) == f"sqlite:///{tmp_path / 'a.db'}"
    with pytest.raises(ConfigurationError):
        normalise_database_url("  ")


def test_crossmark_timeouts_and_sandbox_failure_rate():
    settings = load_settings({"CROSSMARK_CONNECT_TIMEOUT": "2.5", "CROSSMARK_READ_TIMEOUT": "45",
                              "CROSSMARK_SANDBOX_FAILURE_RATE": "0.25"})
    assert (settings.crossmark_connect_timeout, settings.crossmark_read_timeout) == (2.5, 45.0)
    assert settings.sandbox_write_failure_rate == 0.25
    assert (load_settings({}).crossmark_connect_timeout, load_settings({}).crossmark_read_timeout) == (5.0, 30.0)
    with pytest.raises(ConfigurationError, match="CROSSMARK_READ_TIMEOUT must be a number of seconds"):
        load_settings({"CROSSMARK_READ_TIMEOUT": "soon"})
    with pytest.raises(ConfigurationError, match="CROSSMARK_CONNECT_TIMEOUT must be between"):
        load_settings({"CROSSMARK_CONNECT_TIMEOUT": "0"})
    with pytest.raises(ConfigurationError, match="CROSSMARK_SANDBOX_FAILURE_RATE must be from 0 to 1"):
        load_settings({"CROSSMARK_SANDBOX_FAILURE_RATE": "2"})
