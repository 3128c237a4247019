"""The DDL of the row triggers that keep the dashboard's derived tables exact (per-day counts, pairing members), for
SQLite and PostgreSQL, in one place."""
from __future__ import annotations

from typing import NamedTuple


def sqlite_trigger(name: str, timing: str, *body: str) -> str:
    """An SQLite AFTER trigger; `timing` is e.g. 'INSERT ON events' or 'UPDATE OF a, b ON events'."""
    return f"CREATE TRIGGER {name} AFTER {timing} BEGIN {' '.join(body)} END"


def sqlite_before_insert_trigger(name: str, table: str, *body: str) -> str:
    """An SQLite BEFORE INSERT trigger: it sees the row an `INSERT OR REPLACE` is about to replace (as `old` in a
    query of `table`), which is deleted without a delete trigger."""
    return f"CREATE TRIGGER {name} BEFORE INSERT ON {table} BEGIN {' '.join(body)} END"


def plpgsql_row_trigger(name: str, table: str, update_columns: str, on_old: str, on_new: str) -> list[str]:
    """A PostgreSQL AFTER row trigger on `table` and its function, both called `name`: `on_old` runs for a deleted or
    replaced row (OLD), `on_new` for an inserted or new one (NEW); updates only of `update_columns` fire it."""
    return [f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP IN ('DELETE', 'UPDATE') THEN {on_old} END IF; "
            f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {on_new} END IF; RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER INSERT OR DELETE OR UPDATE OF {update_columns} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()"]


def drop_plpgsql_row_trigger(name: str, table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name} ON {table}", f"DROP FUNCTION IF EXISTS {name}()"]


def drop_sqlite_triggers(names: tuple[str, ...]) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in names]


class Watched(NamedTuple):
    """A base table a derived table follows: what to do for a deleted or replaced row (OLD) and for an inserted or new
    one (NEW), and the columns whose update matters."""
    table: str  # plural, e.g. 'schedules'
    update_columns: str
    on_old: str
    on_new: str
    # With skip_unchanged (row_triggers): an update that leaves these columns as they were runs `on_new` alone, since
    # `on_old` would redo the same work on the same key (e.g. a schedule moved in time, its event's pair key regrouped
    # once instead of twice). Only where `on_new` alone is complete for such an update.
    key_columns: str | None = None


def _columns(columns: str) -> list[str]:
    return [column.strip() for column in columns.split(",")]


def changed_sql(dialect: str, columns: str) -> str:
    """True when an update changed any of `columns` (NULL-safe: NULL to a value is a change, NULL to NULL is not)."""
    differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
    return " OR ".join(f"OLD.{column} {differs} NEW.{column}" for column in _columns(columns))


def unchanged_sql(dialect: str, columns: str) -> str:
    """True when an update left every one of `columns` as it was (NULL-safe)."""
    same = "IS" if dialect == "sqlite" else "IS NOT DISTINCT FROM"
    return " AND ".join(f"OLD.{column} {same} NEW.{column}" for column in _columns(columns))


def _skipping_triggers(dialect: str, prefix: str, watched: Watched) -> list[str]:
    """The row triggers of one watched table whose updates fire only when a watched column really changed (a write
    of the same values does nothing), and with `key_columns`, run `on_new` alone when those stayed as they were.

    SQLite: `<prefix>_<schedule>_insert|delete|update` (+ `_update_same_key`), each update trigger with a WHEN clause.
    PostgreSQL: a trigger and its function `<prefix>_<schedules>` on inserts and deletes, and another pair
    `<prefix>_<schedules>_update` on updates WHEN a column changed (a WHEN clause may name OLD only in an update
    trigger; a function of its own, so the earlier migrations' drop of `<prefix>_<schedules>()` still works when one
    of them runs again on a database that has these)."""
    table, columns, on_old, on_new, key = watched
    changed = changed_sql(dialect, columns)
    if dialect == "sqlite":
        name = f"{prefix}_{table[:-1]}"
        statements = [sqlite_trigger(f"{name}_insert", f"INSERT ON {table}", on_new),
                      sqlite_trigger(f"{name}_delete", f"DELETE ON {table}", on_old)]
        if key is None:
            return statements + [sqlite_trigger(f"{name}_update", f"UPDATE OF {columns} ON {table} WHEN {changed}",
                                                on_old, on_new)]
        return statements + [
            sqlite_trigger(f"{name}_update", f"UPDATE OF {columns} ON {table} WHEN {changed_sql(dialect, key)}",
                           on_old, on_new),
            sqlite_trigger(f"{name}_update_same_key",
                           f"UPDATE OF {columns} ON {table} WHEN ({unchanged_sql(dialect, key)}) AND ({changed})", on_new)]
    name = f"{prefix}_{table}"
    old_part = on_old if key is None else f"IF NOT ({unchanged_sql(dialect, key)}) THEN {on_old} END IF;"
    return [f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP = 'DELETE' THEN {on_old} END IF; "
            f"IF TG_OP = 'INSERT' THEN {on_new} END IF; RETURN NULL; END $$",
            f"CREATE TRIGGER {name} AFTER INSERT OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
            f"CREATE FUNCTION {name}_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"{old_part} {on_new} RETURN NULL; END $$",
            f"CREATE TRIGGER {name}_update AFTER UPDATE OF {columns} ON {table} FOR EACH ROW WHEN ({changed}) "
            f"EXECUTE FUNCTION {name}_update()"]


def row_triggers(dialect: str, prefix: str, *watched: Watched, skip_unchanged: bool = False) -> list[str]:
    """The row triggers of a derived table on each watched table: on SQLite `<prefix>_<schedule>_insert|delete|update`,
    on PostgreSQL one trigger and function `<prefix>_<schedules>`. `skip_unchanged`: updates that change no watched
    column fire nothing (see _skipping_triggers for the names)."""
    statements: list[str] = []
    for table, columns, on_old, on_new, key in watched:
        if skip_unchanged:
            statements += _skipping_triggers(dialect, prefix, Watched(table, columns, on_old, on_new, key))
        elif dialect == "sqlite":
            statements += [sqlite_trigger(f"{prefix}_{table[:-1]}_insert", f"INSERT ON {table}", on_new),
                           sqlite_trigger(f"{prefix}_{table[:-1]}_delete", f"DELETE ON {table}", on_old),
                           sqlite_trigger(f"{prefix}_{table[:-1]}_update", f"UPDATE OF {columns} ON {table}", on_old,
                                          on_new)]
        else:
            statements += plpgsql_row_trigger(f"{prefix}_{table}", table, columns, on_old, on_new)
    return statements


def drop_row_triggers(dialect: str, prefix: str, *tables: str, skip_unchanged: bool = False) -> list[str]:
    """Drop what row_triggers created on `tables` (with skip_unchanged: the triggers of both kinds, so a database
    still holding the earlier ones is cleared too)."""
    if dialect == "sqlite":
        kinds = ("insert", "delete", "update", "update_same_key") if skip_unchanged else ("insert", "delete", "update")
        return drop_sqlite_triggers(tuple(f"{prefix}_{table[:-1]}_{kind}" for table in tables for kind in kinds))
    statements = []
    for table in tables:
        if skip_unchanged:
            statements += drop_plpgsql_row_trigger(f"{prefix}_{table}_update", table)
        statements += drop_plpgsql_row_trigger(f"{prefix}_{table}", table)
    return statements
