"""A database's whole schema as plain comparable data: tables and columns, indexes (with their SQL), constraints,
triggers and trigger functions, from the database's own catalogue (not SQLAlchemy's reflection, which skips expression
indexes and triggers). Two databases built by different paths (a direct `upgrade head`, or one revision at a time)
must give the same fingerprint."""
from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Engine

_SPACE = re.compile(r"\s+")


def _normal(sql: str | None, schema: str | None = None) -> str:
    sql = _SPACE.sub(" ", sql or "").strip()
    if schema:
        sql = sql.replace(f'"{schema}".', "").replace(f"{schema}.", "")
    return sql


def schema_fingerprint(engine: Engine) -> dict[str, list]:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(text(
                "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                "ORDER BY type, name")).all()
            return {"objects": [[kind, name, table, _normal(sql)] for kind, name, table, sql in rows]}
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        columns = connection.execute(text(
            "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = :schema ORDER BY table_name, column_name"),
            {"schema": schema}).all()
        indexes = connection.execute(text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = :schema ORDER BY indexname"),
            {"schema": schema}).all()
        constraints = connection.execute(text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = :schema ORDER BY c.conname"),
            {"schema": schema}).all()
        triggers = connection.execute(text(
            "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = r.relnamespace WHERE n.nspname = :schema AND NOT t.tgisinternal "
            "ORDER BY t.tgname"), {"schema": schema}).all()
        functions = connection.execute(text(
            "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = :schema ORDER BY p.proname"), {"schema": schema}).all()
    return {
        "columns": [[table, name, kind, length, nullable, _normal(default, schema)]
                    for table, name, kind, length, nullable, default in columns],
        "indexes": [[table, name, _normal(definition, schema)] for table, name, definition in indexes],
        "constraints": [[_normal(table, schema), name, _normal(definition, schema)]
                        for table, name, definition in constraints],
        "triggers": [[name, _normal(definition, schema)] for name, definition in triggers],
        "functions": [[name, _normal(source, schema)] for name, source in functions],
    }
