"""Data-version layer: the stamp every write bumps, so cached reads in every process know they are stale.

Our own code bumps it in each writing transaction (bump_data_version). The team's scheduler app writes the same
`events`, `schedules` and `employees` (its own reschedules, its nightly refresh from Crossmark) and knows nothing of the
stamp, so the database bumps it too, by triggers on those three tables (migration 0019): a write by any program shows
on every page at its next rerun, not after the cache's TTL.

- PostgreSQL: a statement-level trigger per table (INSERT, UPDATE, DELETE, TRUNCATE) whose function bumps once per
  transaction: a transaction-local setting remembers the bump (and is rolled back with it, savepoints included), so a
  refresh of 100,000 single-row statements bumps once instead of rewriting the stamp's row 100,000 times (each rewrite
  of one row in one transaction costs more than the last). BEFORE the statement: the stamp's row is locked before the
  statement's own rows, so two writers wait for each other there instead of each holding rows the other wants.
- SQLite has row triggers only, and no way for SQL to know its transaction: one upsert of the stamp's row per written
  row (about 1.5-2 µs a row, beside the derived tables' own triggers; bench/bulk_load.py measures it). A fingerprint
  read per rerun instead cannot be both sound and cheap: counts and largest ids miss an UPDATE in place, and anything
  that sees one reads every row.

`bulk_load` (services/store/scheduled_per_day.py) drops these triggers with the derived tables' ones and bumps once
at the end. Migration 0019 holds its own frozen copy of this SQL.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from services.store.tables import SCHEDULER_TABLES, DataVersion
from services.store.trigger_sql import drop_sqlite_triggers, sqlite_trigger

TABLE = "dashboard_data_version"
POSTGRES_FUNCTION = "dashboard_dv_bump"
# The transaction-local setting that says this transaction has bumped already (PostgreSQL).
BUMPED_SETTING = "dashboard.data_version_bumped"
_TRIGGERED = [(table, operation) for table in SCHEDULER_TABLES for operation in ("INSERT", "UPDATE", "DELETE")]
SQLITE_TRIGGERS = tuple(f"dashboard_dv_{table}_{operation.lower()}" for table, operation in _TRIGGERED)


def bump_data_version(connection: Connection) -> None:
    """Call inside the writing transaction: the bump commits (or rolls back) with the change it announces."""
    now = datetime.now().replace(microsecond=0)
    table = DataVersion.__table__
    result = connection.execute(update(table).where(table.c.id == 1).values(version=table.c.version + 1,
                                                                            changed_at=now))
    if result.rowcount == 0:
        connection.execute(table.insert().values(id=1, version=1, changed_at=now))


def _bump_sql(now: str) -> str:
    """The stamp's row one higher (created if missing), changed now: one statement, so a trigger body can hold it."""
    return (f"INSERT INTO {TABLE} (id, version, changed_at) VALUES (1, 1, {now}) "
            f"ON CONFLICT (id) DO UPDATE SET version = {TABLE}.version + 1, changed_at = excluded.changed_at;")


def _postgres_trigger(table: str) -> str:
    return f"dashboard_dv_{table}"


def create_trigger_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        bump = _bump_sql("datetime('now', 'localtime')")
        return [sqlite_trigger(name, f"{operation} ON {table}", bump)
                for name, (table, operation) in zip(SQLITE_TRIGGERS, _TRIGGERED)]
    function = (f"CREATE FUNCTION {POSTGRES_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF current_setting('{BUMPED_SETTING}', true) IS DISTINCT FROM 'on' THEN "
                f"{_bump_sql('localtimestamp(0)')} PERFORM set_config('{BUMPED_SETTING}', 'on', true); "
                "END IF; RETURN NULL; END $$")
    return [function] + [f"CREATE TRIGGER {_postgres_trigger(table)} BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE "
                         f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {POSTGRES_FUNCTION}()"
                         for table in SCHEDULER_TABLES]


def drop_trigger_statements(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return drop_sqlite_triggers(SQLITE_TRIGGERS)
    return [f"DROP TRIGGER IF EXISTS {_postgres_trigger(table)} ON {table}" for table in SCHEDULER_TABLES] + \
        [f"DROP FUNCTION IF EXISTS {POSTGRES_FUNCTION}()"]
