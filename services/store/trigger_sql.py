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


def row_triggers(dialect: str, prefix: str, *watched: Watched) -> list[str]:
    """The row triggers of a derived table on each watched table: on SQLite `<prefix>_<schedule>_insert|delete|update`,
    on PostgreSQL one trigger and function `<prefix>_<schedules>`."""
    statements: list[str] = []
    for table, columns, on_old, on_new in watched:
        if dialect == "sqlite":
            statements += [sqlite_trigger(f"{prefix}_{table[:-1]}_insert", f"INSERT ON {table}", on_new),
                           sqlite_trigger(f"{prefix}_{table[:-1]}_delete", f"DELETE ON {table}", on_old),
                           sqlite_trigger(f"{prefix}_{table[:-1]}_update", f"UPDATE OF {columns} ON {table}", on_old,
                                          on_new)]
        else:
            statements += plpgsql_row_trigger(f"{prefix}_{table}", table, columns, on_old, on_new)
    return statements


def drop_row_triggers(dialect: str, prefix: str, *tables: str) -> list[str]:
    """Drop what row_triggers created on `tables`."""
    if dialect == "sqlite":
        return drop_sqlite_triggers(tuple(f"{prefix}_{table[:-1]}_{kind}" for table in tables
                                          for kind in ("insert", "delete", "update")))
    return [statement for table in tables for statement in drop_plpgsql_row_trigger(f"{prefix}_{table}", table)]
