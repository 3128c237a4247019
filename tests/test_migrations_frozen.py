"""Issue 19, frozen migrations: every revision holds its own tables and SQL, so changing services/ cannot rewrite
history; the models describe exactly what the migrations build (alembic's compare_metadata finds nothing to do), on a
new database and on an adopted scheduler database, on SQLite and PostgreSQL; and a database upgraded one revision at a
time, as releases upgrade it, ends with the same schema (tables, indexes, constraints, triggers, functions) as one
upgraded straight to head."""
from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from services.store.database import make_engine
from services.store.schema_admin import MIGRATIONS_DIR, _alembic_config, upgrade_database
from services.store.tables import Base
from tests.conftest import private_database
from tests.legacy_scheduler import create_legacy_scheduler_database
from tests.schema_fingerprint import schema_fingerprint

VERSIONS = sorted((MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
# Imports a frozen revision may make: Alembic, SQLAlchemy and the standard library, nothing of the app.
ALLOWED_IMPORTS = {"__future__", "alembic", "sqlalchemy", "datetime", "json", "re", "warnings", "typing"}
# Migration 0008's partial index on an expression (the store filter's own), which SQLAlchemy cannot reflect on SQLite:
# left out of the comparison with the models and checked in the database's catalogue instead (below).
EXPRESSION_INDEX = "ix_dashboard_events_unstaffed_store_due"


def _upgrade(url: str) -> None:
    upgrade_database(url, confirmed=True, backup_cmd="true" if url.startswith("postgresql") else None)


def _differences(url: str) -> list:
    def compared(_object, name, _type, _reflected, _compare_to) -> bool:  # noqa: ANN001
        return name not in ("alembic_version", EXPRESSION_INDEX)

    engine = make_engine(url)
    try:
        with engine.connect() as connection, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
            context = MigrationContext.configure(connection, opts={
                "compare_type": True, "compare_server_default": True, "include_object": compared})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _fingerprint(url: str) -> dict:
    engine = make_engine(url)
    try:
        return schema_fingerprint(engine)
    finally:
        engine.dispose()


def _shape(difference) -> tuple:  # noqa: ANN001 - one entry of compare_metadata's answer
    """(what, table, column or constraint) of a difference, for comparing with a list written by hand."""
    entry = difference[0] if isinstance(difference, list) else difference
    if entry[0] in ("modify_type", "modify_nullable"):
        return entry[0], entry[2], entry[3]
    if entry[0] in ("add_constraint", "remove_constraint"):
        constraint = entry[1]
        return entry[0], constraint.table.name, tuple(column.name for column in constraint.columns)
    return entry[0], getattr(entry[1], "name", str(entry[1]))  # a table or index added or removed


def test_no_revision_imports_the_app():
    for path in VERSIONS:
        for node in ast.walk(ast.parse(path.read_text())):
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for module in modules:
                assert module.split(".")[0] in ALLOWED_IMPORTS, f"{path.name} imports {module}"


def test_a_new_database_is_what_the_models_say(database_url):
    upgrade_database(database_url)
    assert _differences(database_url) == []
    fingerprint = str(_fingerprint(database_url))
    assert EXPRESSION_INDEX in fingerprint


def test_an_adopted_scheduler_database_is_what_the_models_say_but_for_the_scheduler_s_own_columns(database_url):
    create_legacy_scheduler_database(database_url)
    _upgrade(database_url)
    differences = {_shape(difference) for difference in _differences(database_url)}
    if database_url.startswith("postgresql"):
        assert differences == set()
        return
    # The scheduler created these tables itself (tests/legacy_scheduler.py, as its SQLite app does): its TIMESTAMP
    # columns, its INTEGER PRIMARY KEYs (nullable to SQLite's reflection) and no UNIQUE on external_id. Adoption
    # leaves the scheduler's own columns and constraints as they are (README: "Pointing at an existing scheduler
    # database"); everything of ours, and every index we add to their tables, matches the models.
    assert differences == {
        ("modify_type", "events", "start_datetime"), ("modify_type", "events", "due_datetime"),
        ("modify_type", "events", "last_synced"), ("modify_type", "schedules", "schedule_datetime"),
        ("modify_type", "schedules", "last_synced"),
        ("modify_nullable", "events", "id"), ("modify_nullable", "schedules", "id"),
        ("modify_nullable", "employees", "id"),
        ("add_constraint", "events", ("external_id",)), ("add_constraint", "schedules", ("external_id",)),
        ("add_constraint", "employees", ("external_id",)),
    }


@pytest.mark.parametrize("adopted", [False, True], ids=["new", "adopted"])
def test_one_revision_at_a_time_ends_where_upgrade_head_does(database_url, tmp_path: Path, adopted: bool):
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    (tmp_path / "step").mkdir()
    with private_database(kind, tmp_path / "step") as stepwise_url:
        if adopted:
            create_legacy_scheduler_database(database_url)
            create_legacy_scheduler_database(stepwise_url)
        _upgrade(database_url)

        revisions = [script.revision for script in
                     reversed(list(ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()))]
        assert revisions[0] == "0001" and len(revisions) == len(VERSIONS)
        engine = make_engine(stepwise_url, must_exist=False)
        try:
            for revision in revisions:  # each in its own transaction, as one release after another
                with engine.begin() as connection:
                    command.upgrade(_alembic_config(connection), revision)
        finally:
            engine.dispose()

        assert _fingerprint(stepwise_url) == _fingerprint(database_url)
