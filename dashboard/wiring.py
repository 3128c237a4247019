"""Cached wiring of the app: settings (environment over .streamlit/secrets.toml) and one engine per process."""
from __future__ import annotations

import streamlit as st
from sqlalchemy import Engine

from services.store.database import shared_engine
from services.store.schema_admin import require_current_schema
from services.settings import Settings, load_settings


@st.cache_resource(show_spinner=False)
def get_settings() -> Settings:
    from services.ops.logging_setup import configure_logging

    settings = load_settings()  # the same reader as /healthz and the CLI
    configure_logging(settings)  # JSON lines to stderr and data/logs/dashboard.jsonl, secrets masked
    return settings


def _release_engine(engine: Engine) -> None:
    """When the cache lets the engine go (st.cache_resource.clear(), e.g. a test moving to another database, or
    Streamlit's clear-cache request), close its pooled connections: otherwise they stay open on that database for the
    process's life. dispose() gives the engine a new, empty pool, so /healthz and the retry loop, which share this
    engine (shared_engine), keep working and connect again at their next use; connections checked out at that moment
    are not closed under them."""
    engine.dispose()


@st.cache_resource(show_spinner=False, on_release=_release_engine)
def get_engine() -> Engine:
    """The process's engine (shared with /healthz); refuses a database whose schema is not current."""
    engine = shared_engine(get_settings().database_url)
    require_current_schema(engine)
    return engine


def _sandbox_simulator():  # noqa: ANN202 - CrossmarkSimulator
    """One sandbox state per server process, initialised from the database (shared by every session and by the
    server's retry loop)."""
    from services.crossmark.sandbox import shared_simulator

    settings = get_settings()
    return shared_simulator(get_engine(), settings.crossmark_timezone, settings.sandbox_write_failure_rate)


def crossmark_client():  # noqa: ANN201 - CrossmarkClient
    """A new client per action (httpx clients are cheap; sessions are not shared between users)."""
    from services.crossmark.client import make_crossmark_client

    settings = get_settings()
    return make_crossmark_client(settings, simulator=_sandbox_simulator() if settings.is_sandbox else None)


def get_actions():  # noqa: ANN201 - PairedActions
    from services.actions.action_setup import paired_actions

    return paired_actions(get_settings(), get_engine(), crossmark_client)


def get_batches():  # noqa: ANN201 - Batches
    """Batches over this session's paired actions, capped by the configured BATCH_MAX_ITEMS."""
    from services.actions.batches import Batches

    return Batches(get_actions(), max_items=get_settings().batch_max_items)
