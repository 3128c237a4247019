"""A test's new database, migrated to our head revision, without paying for the migrations every time on SQLite.

`upgrade_database` runs Alembic over every migration: about 0.2 s per new SQLite file, and the suite makes several
hundred of them. The first new SQLite database of a test process is migrated for real into a template file; every
later one is a byte copy of that file, created owner-only as `upgrade_database` creates it. A freshly migrated file
holds only what the migrations wrote, so the copy is the same database: `tests/test_migrated_template.py` compares a
copy's schema (tables, indexes, triggers) and every row with a real upgrade's.

On PostgreSQL (a private schema) and for any database that already exists this is `upgrade_database` itself: a schema
cannot be copied, and upgrading an existing database is what the migration tests are about (they call
`upgrade_database` directly).
"""
from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import threading
from pathlib import Path

from services.store.database import sqlite_path
from services.store.schema_admin import head_revision, upgrade_database

_lock = threading.Lock()
_template: Path | None = None


def _sqlite_template() -> Path:
    """The process's migrated template file (made on first use, removed when the process ends)."""
    global _template
    with _lock:
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="migrated-template-"))
            atexit.register(shutil.rmtree, folder, True)
            path = folder / f"head-{head_revision()}.db"
            upgrade_database(f"sqlite:///{path}")
            # Everything into the main file, so that the file alone is the whole database (a WAL-mode file's recent
            # commits may still sit in its -wal file).
            connection = sqlite3.connect(path)
            try:
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()
            _template = path
        return _template


def migrate_new_database(url: str) -> None:
    """Bring the test's database at `url` to our head revision: a copy of the template for a new SQLite file,
    `upgrade_database` otherwise."""
    path = sqlite_path(url)
    if path is None or path.exists() or not path.parent.is_dir():
        upgrade_database(url)
        return
    template = _sqlite_template()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # owner-only, as upgrade_database makes it
    with os.fdopen(descriptor, "wb") as copy, template.open("rb") as source:
        shutil.copyfileobj(source, copy)
