"""Shared fixtures: every database test runs on a real SQLite file and, when TEST_DATABASE_URL is set, on PostgreSQL."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from services.store.database import make_engine
from tests.migrated_template import migrate_new_database

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "").strip() or None
POSTGRES_SKIP_REASON = "PostgreSQL tests skipped: TEST_DATABASE_URL is not set (CI sets it; see README)"


def pytest_sessionstart(session: pytest.Session) -> None:
    """A configured but unreachable PostgreSQL fails the run: it must never turn into a silent skip."""
    if POSTGRES_URL is None:
        return
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure here must stop the run loudly
        pytest.exit(f"TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", returncode=3)


@contextmanager
def private_database(kind: str, directory: Path) -> Iterator[str]:
    """A URL of an empty database of `kind`: a new SQLite file in `directory`, or a fresh PostgreSQL schema that is
    dropped afterwards (connections get it as their search_path)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'scheduler.db'}"
        return
    if POSTGRES_URL is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_schema_url(tmp_path: Path) -> Iterator[str]:
    with private_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a private schema on the test PostgreSQL server."""
    with private_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to our head revision."""
    migrate_new_database(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class DemoDatabase:
    url: str
    engine: Engine
    today: date


def _months_back(today: date, months: int) -> date:
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDatabase]:
    """Read-only demo data as `make run` seeds it (relative to today), plus the sprint2 scenario, per backend."""
    from services.demo.demo_data import seed_demo_data, seed_sprint2_scenario

    today = date.today()
    with private_database(request.param, tmp_path_factory.mktemp("demo")) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        seed_demo_data(engine, start=_months_back(today, 2), months=5, today=today)
        seed_sprint2_scenario(engine, today=today)
        try:
            yield DemoDatabase(url, engine, today)
        finally:
            engine.dispose()


# --- Crossmark: the local fake server over real HTTP, and clients with small timeouts (issue 4) ---


@pytest.fixture
def fake_crossmark():
    """A FakeCrossmark (tests/fake_crossmark.py) on 127.0.0.1 with an ephemeral port; unseeded (call seed_basic())."""
    from tests.fake_crossmark import FakeCrossmark

    with FakeCrossmark() as fake:
        yield fake


@pytest.fixture
def crossmark_client_for():
    """Factory: `crossmark_client_for(base_url, **overrides)` -> a CrossmarkClient with small timeouts (connect 1 s,
    read 0.5 s) and fast retries, logging in with the fake's credentials unless told otherwise. Closed afterwards."""
    from services.crossmark.client import CrossmarkClient
    from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME

    clients = []

    def make(base_url: str, **overrides):
        options = dict(username=FAKE_USERNAME, password=FAKE_PASSWORD, timezone_name=FAKE_TIMEZONE,
                       connect_timeout=1.0, read_timeout=0.5, retry_attempts=3, retry_initial_wait=0.01)
        options.update(overrides)
        client = CrossmarkClient(base_url=base_url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(autouse=True)
def _independent_logging():
    """The app configures logging (JSON to stderr) when AppTest runs it in-process: undo that after every test, so
    no test sees another's handlers."""
    import logging

    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_dashboard_logging", None)]:
        root.removeHandler(handler)
        handler.close()
