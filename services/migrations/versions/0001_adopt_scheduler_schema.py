"""Create the scheduler schema on a new database, or adopt an existing one: our tables, missing columns, indexes.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

from services.tables import REQUIRED_COLUMNS, SCHEDULER_TABLES, Base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OUR_TABLES = ("dashboard_schema_adoption", "dashboard_data_version")

# (name, table, columns, unique): the indexes the pages' queries need (see the foundation issue).
INDEXES = (
    ("ix_events_project_name", "events", ("project_name",), False),
    ("ux_events_project_ref_num", "events", ("project_ref_num",), True),
    ("ix_events_window", "events", ("start_datetime", "due_datetime"), False),
    ("ix_events_event_type", "events", ("event_type",), False),
    ("ix_events_condition", "events", ("condition",), False),
    ("ix_schedules_event_ref_num", "schedules", ("event_ref_num",), False),
    ("ix_schedules_schedule_datetime", "schedules", ("schedule_datetime",), False),
)


def _already_indexed(inspector: sa.Inspector, table: str, columns: tuple[str, ...], unique: bool) -> bool:
    """An existing index or unique constraint on exactly these columns already serves (no duplicate index)."""
    for index in inspector.get_indexes(table):
        if tuple(index["column_names"]) == columns and (index.get("unique") or not unique):
            return True
    return any(tuple(constraint["column_names"]) == columns for constraint in inspector.get_unique_constraints(table))


def upgrade() -> None:
    bind = op.get_bind()
    existing_tables = set(sa.inspect(bind).get_table_names())
    for name in OUR_TABLES:
        Base.metadata.tables[name].create(bind)
    adoption = Base.metadata.tables["dashboard_schema_adoption"]
    added: list[dict[str, str]] = []

    for name in SCHEDULER_TABLES:
        table = Base.metadata.tables[name]
        if name not in existing_tables:
            # A new database: the table is the scheduler's from now on, so a downgrade keeps it.
            table.create(bind)
            continue
        present = {column["name"] for column in sa.inspect(bind).get_columns(name)}
        for column in table.columns:
            if column.name not in present and column.name not in REQUIRED_COLUMNS[name]:
                op.add_column(name, sa.Column(column.name, column.type, nullable=True))
                added.append({"kind": "column", "table_name": name, "name": column.name, "revision": revision})

    inspector = sa.inspect(bind)
    for index_name, table_name, columns, unique in INDEXES:
        if not _already_indexed(inspector, table_name, columns, unique):
            op.create_index(index_name, table_name, list(columns), unique=unique)
            added.append({"kind": "index", "table_name": table_name, "name": index_name, "revision": revision})

    if added:
        op.bulk_insert(adoption, added)
    op.bulk_insert(Base.metadata.tables["dashboard_data_version"],
                   [{"id": 1, "version": 1, "changed_at": datetime.now().replace(microsecond=0)}])


def downgrade() -> None:
    bind = op.get_bind()
    adoption = Base.metadata.tables["dashboard_schema_adoption"]
    rows = bind.execute(sa.select(adoption.c.kind, adoption.c.table_name, adoption.c.name)
                        .where(adoption.c.revision == revision)).all()
    for kind, table_name, name in rows:  # indexes first: SQLite cannot drop an indexed column
        if kind == "index":
            op.drop_index(name, table_name=table_name)
    for kind, table_name, name in rows:
        if kind == "column":
            op.drop_column(table_name, name)
    for name in reversed(OUR_TABLES):
        op.drop_table(name)
