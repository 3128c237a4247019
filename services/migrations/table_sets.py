"""Migration helpers: create or drop a set of the dashboard's own tables as the ORM defines them."""
from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
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


def create_per_day_aggregate(name: str, count_column: str) -> None:
    """A per-day aggregate table: (day, store, event_type) -> count, as services/scheduled_per_day.py maintains."""
    op.create_table(
        name,
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("store", sa.String(100), nullable=False),
        sa.Column("event_type", sa.String(20), nullable=False),
        sa.Column(count_column, sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("day", "store", "event_type"),
    )
