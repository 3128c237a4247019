"""The databases a small benchmark runs on: a fresh SQLite file, and, when a PostgreSQL URL is given, a schema of its
own in that database (dropped afterwards)."""
from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text


def on_each_database(run: Callable[[str], tuple[Any, ...]], postgres: str | None) -> list[tuple[Any, ...]]:
    """[("SQLite", *run(url)), ("PostgreSQL", *run(url))]: `run` gets each database's URL."""
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        rows.append(("SQLite", *run(f"sqlite:///{Path(directory) / 'bench.db'}")))
    if postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(postgres)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            rows.append(("PostgreSQL", *run(f"{postgres}?options=-csearch_path%3D{schema}")))
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return rows
