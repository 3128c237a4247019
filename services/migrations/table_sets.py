"""Migration helpers: create or drop a set of the dashboard's own tables as the ORM defines them."""
from __future__ import annotations

from typing import Sequence

from alembic import op

from services.tables import Base


def create_tables(names: Sequence[str]) -> None:
    bind = op.get_bind()
    for name in names:
        Base.metadata.tables[name].create(bind)


def drop_tables(names: Sequence[str]) -> None:
    bind = op.get_bind()
    for name in reversed(names):
        Base.metadata.tables[name].drop(bind)
