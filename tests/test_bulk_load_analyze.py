"""A bulk load (demo seed, services.store.scheduled_per_day.bulk_load) refreshes the planner's statistics of the tables
it wrote, and on PostgreSQL of those only: a bare ANALYZE took every table of the whole database, other schemas and
applications included, and deadlocked with another schema's migration running at the same time (seen in CI)."""
from __future__ import annotations

import time
import uuid
from datetime import date

from sqlalchemy import create_engine, text

from services.demo.demo_data import seed_demo_data
from services.store.database import make_engine
from services.store.schema_admin import upgrade_database
from tests.conftest import POSTGRES_URL


def _last_analyze(connection, schema: str, table: str):  # noqa: ANN001, ANN202
    connection.execute(text("SELECT pg_stat_clear_snapshot()"))
    return connection.execute(text("SELECT last_analyze FROM pg_stat_user_tables WHERE schemaname = :schema "
                                   "AND relname = :table"), {"schema": schema, "table": table}).scalar_one_or_none()


def test_a_bulk_load_analyzes_its_own_tables_and_no_other_schema_s(postgres_schema_url):
    ours = postgres_schema_url.rsplit("search_path%3D", 1)[-1].rsplit("search_path=", 1)[-1]
    other = f"other_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{other}"'))
            connection.execute(text(f'CREATE TABLE "{other}".neighbour (id integer)'))
            connection.execute(text(f'INSERT INTO "{other}".neighbour VALUES (1)'))
        upgrade_database(postgres_schema_url)
        engine = make_engine(postgres_schema_url)
        try:
            today = date(2026, 12, 2)
            seed_demo_data(engine, events=50, stores=2, start=today.replace(day=1), months=1, today=today)
        finally:
            engine.dispose()
        with admin.connect() as connection:
            deadline = time.monotonic() + 10  # statistics reach other sessions within about a second
            while _last_analyze(connection, ours, "events") is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _last_analyze(connection, ours, "events") is not None, "the load's own tables were not analyzed"
            assert _last_analyze(connection, ours, "dashboard_pair_members") is not None
            assert _last_analyze(connection, other, "neighbour") is None, "another schema's table was analyzed"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{other}" CASCADE'))
        admin.dispose()
