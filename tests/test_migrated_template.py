"""tests/migrated_template.py: a copy of the migrated template is the same database as a real upgrade of a new file
(schema from SQLite's catalogue, every row of every table but the data version's migration time, the journal mode, the file's owner-only mode), so the tests
that take it test what `upgrade_database` makes."""
from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from services.store.database import make_engine
from services.store.schema_admin import head_revision, read_schema_state, upgrade_database
from tests.migrated_template import migrate_new_database
from tests.schema_fingerprint import schema_fingerprint


def _rows(path: Path) -> dict[str, list]:
    connection = sqlite3.connect(path)
    try:
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {name: sorted(connection.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in names}
    finally:
        connection.close()


def _journal_mode(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        connection.close()


def test_a_copy_of_the_template_is_what_a_real_upgrade_makes(tmp_path: Path):
    real, copied = tmp_path / "real.db", tmp_path / "copied.db"
    upgrade_database(f"sqlite:///{real}")
    migrate_new_database(f"sqlite:///{copied}")
    migrate_new_database(f"sqlite:///{tmp_path / 'second.db'}")  # the second copy comes from the same template

    engines = [make_engine(f"sqlite:///{path}") for path in (real, copied, tmp_path / "second.db")]
    try:
        fingerprints = [schema_fingerprint(engine) for engine in engines]
        assert fingerprints[0]["objects"], "the real upgrade made no schema: the comparison would be empty"
        assert fingerprints[1] == fingerprints[0] and fingerprints[2] == fingerprints[0]
        assert read_schema_state(engines[1]).revision == head_revision()
    finally:
        for engine in engines:
            engine.dispose()
    rows = _rows(real)
    assert rows["alembic_version"] == [(head_revision(),)]
    copied_rows = _rows(copied)
    # The one row a migration stamps with its own time: the data version's changed_at (the template's is older).
    stamped = "dashboard_data_version"
    assert [row[:2] for row in copied_rows.pop(stamped)] == [row[:2] for row in rows.pop(stamped)] == [(1, 1)]
    assert copied_rows == rows
    assert _journal_mode(copied) == _journal_mode(real) == "wal"
    assert stat.S_IMODE(copied.stat().st_mode) == stat.S_IMODE(real.stat().st_mode) == 0o600


def test_an_existing_file_is_upgraded_not_replaced(tmp_path: Path):
    path = tmp_path / "kept.db"
    upgrade_database(f"sqlite:///{path}")
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE kept_marker (note TEXT)")
    connection.execute("INSERT INTO kept_marker VALUES ('mine')")
    connection.commit()
    connection.close()
    migrate_new_database(f"sqlite:///{path}")
    assert _rows(path)["kept_marker"] == [("mine",)]
