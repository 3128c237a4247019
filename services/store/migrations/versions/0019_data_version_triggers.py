"""The database bumps the data version when any program writes `events`, `schedules` or `employees` (issue 22, freshness
when the scheduler itself writes): the team's scheduler app and its nightly refresh write these tables without knowing
the stamp the pages' cache is keyed by, so their changes showed only after the cache's TTL.

PostgreSQL: one BEFORE ... FOR EACH STATEMENT trigger per table (INSERT, UPDATE, DELETE, TRUNCATE) calling one function
that bumps once per transaction (a transaction-local setting remembers it). SQLite, which has row triggers only: one
AFTER trigger per table and operation, each one upsert of the stamp's row.

Frozen: this file's own SQL, nothing imported from `services` (services/store/data_version.py holds the current copy
that bulk loads drop and re-create).

Revision ID: 0019
Revises: 0018
"""
from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLES = ("events", "employees", "schedules")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")
FUNCTION = "dashboard_dv_bump"


def _bump(now: str) -> str:
    return ("INSERT INTO dashboard_data_version (id, version, changed_at) VALUES (1, 1, " + now + ") "
            "ON CONFLICT (id) DO UPDATE SET version = dashboard_data_version.version + 1, "
            "changed_at = excluded.changed_at;")


def _create_triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        bump = _bump("datetime('now', 'localtime')")
        return [f"CREATE TRIGGER dashboard_dv_{table}_{operation.lower()} AFTER {operation} ON {table} BEGIN {bump} END"
                for table in TABLES for operation in OPERATIONS]
    function = (f"CREATE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF current_setting('dashboard.data_version_bumped', true) IS DISTINCT FROM 'on' THEN "
                f"{_bump('localtimestamp(0)')} PERFORM set_config('dashboard.data_version_bumped', 'on', true); "
                "END IF; RETURN NULL; END $$")
    return [function] + [f"CREATE TRIGGER dashboard_dv_{table} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE "
                         f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()" for table in TABLES]


def _drop_triggers(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS dashboard_dv_{table}_{operation.lower()}"
                for table in TABLES for operation in OPERATIONS]
    return [f"DROP TRIGGER IF EXISTS dashboard_dv_{table} ON {table}" for table in TABLES] + \
        [f"DROP FUNCTION IF EXISTS {FUNCTION}()"]


def upgrade() -> None:
    """Safe to run again (as the migrations before it): the triggers are dropped where present and created."""
    dialect = op.get_bind().dialect.name
    for statement in _drop_triggers(dialect) + _create_triggers(dialect):
        op.execute(statement)


def downgrade() -> None:
    for statement in _drop_triggers(op.get_bind().dialect.name):
        op.execute(statement)
