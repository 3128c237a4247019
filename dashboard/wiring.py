"""Cached wiring of the app: settings (environment, then .streamlit/secrets.toml) and one engine per process."""
from __future__ import annotations

import os

import streamlit as st
from sqlalchemy import Engine

from services.database import make_engine
from services.schema_admin import require_current_schema
from services.settings import Settings, load_settings

SETTING_NAMES = ("SCHEDULER_DATABASE_URL", "CROSSMARK_BASE_URL", "CROSSMARK_USERNAME", "CROSSMARK_PASSWORD",
                 "CROSSMARK_TIMEZONE", "SUPERVISOR_RULE_MODE", "SUPERVISOR_OFFSET_MINUTES", "SUPERVISOR_FIXED_TIME")


def _secrets() -> dict[str, str]:
    try:
        return {name: str(st.secrets[name]) for name in SETTING_NAMES if name in st.secrets}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):  # no secrets.toml: environment only
        return {}


@st.cache_resource(show_spinner=False)
def get_settings() -> Settings:
    from services.logging_setup import configure_logging

    settings = load_settings({**_secrets(), **os.environ})
    configure_logging(settings)  # JSON lines to stderr and data/logs/dashboard.jsonl, secrets masked
    return settings


@st.cache_resource(show_spinner=False)
def get_engine() -> Engine:
    """One engine (connection pool) per server process; refuses a database whose schema is not current."""
    engine = make_engine(get_settings().database_url)
    require_current_schema(engine)
    return engine


@st.cache_resource(show_spinner=False)
def _sandbox_simulator():  # noqa: ANN202 - CrossmarkSimulator
    """One sandbox state per server process, initialised from the database (shared by every session)."""
    from services.crossmark_sandbox import simulator_from_database

    settings = get_settings()
    return simulator_from_database(get_engine(), settings.crossmark_timezone,
                                   write_failure_rate=settings.sandbox_write_failure_rate)


def crossmark_client():  # noqa: ANN201 - CrossmarkClient
    """A new client per action (httpx clients are cheap; sessions are not shared between users)."""
    from services.crossmark_client import make_crossmark_client

    settings = get_settings()
    return make_crossmark_client(settings, simulator=_sandbox_simulator() if settings.is_sandbox else None)


def get_actions():  # noqa: ANN201 - PairedActions
    from services.accounts import authorizer
    from services.paired_actions import PairedActions

    settings = get_settings()
    return PairedActions(get_engine(), crossmark_client, rule=settings.supervisor_rule,
                         authorize=authorizer(get_engine(), settings.actions_per_minute))
