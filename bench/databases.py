"""The databases a small benchmark runs on: a fresh SQLite file, and, when a PostgreSQL URL is given, a schema of its
own in that database (dropped afterwards)."""
from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text


@contextmanager
def fresh_database(postgres: str | None = None) -> Iterator[str]:
    """The URL of an empty database: a new SQLite file, or with a PostgreSQL URL a new schema there, dropped after."""
    if postgres is None:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{Path(directory) / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def on_each_database(run: Callable[[str], tuple[Any, ...]], postgres: str | None) -> list[tuple[Any, ...]]:
    """[("SQLite", *run(url)), ("PostgreSQL", *run(url))]: `run` gets each database's URL."""
    rows = []
    with fresh_database() as url:
        rows.append(("SQLite", *run(url)))
    if postgres:
        with fresh_database(postgres) as url:
            rows.append(("PostgreSQL", *run(url)))
    return rows
