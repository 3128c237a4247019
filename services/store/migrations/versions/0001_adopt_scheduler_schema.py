"""Create the scheduler schema on a new database, or adopt an existing one: our tables, missing columns, indexes.

Revision ID: 0001
Revises:
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OUR_TABLES = ("dashboard_schema_adoption", "dashboard_data_version")

# The scheduler's own tables as the dashboard knew them when this revision was frozen (issue 19): created on a new
# database, and on an existing one the source of the columns it lacks.
SCHEDULER_METADATA = sa.MetaData()
EVENTS = sa.Table('events', SCHEDULER_METADATA,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_name', sa.Text(), nullable=False),
    sa.Column('project_ref_num', sa.Integer(), nullable=False),
    sa.Column('location_mvid', sa.Text(), nullable=True),
    sa.Column('store_number', sa.Integer(), nullable=True),
    sa.Column('store_name', sa.Text(), nullable=True),
    sa.Column('start_datetime', sa.DateTime(), nullable=False),
    sa.Column('due_datetime', sa.DateTime(), nullable=False),
    sa.Column('estimated_time', sa.Integer(), nullable=True),
    sa.Column('is_scheduled', sa.Boolean(), nullable=True),
    sa.Column('event_type', sa.String(length=20), nullable=True),
    sa.Column('condition', sa.String(length=20), nullable=True),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('last_synced', sa.DateTime(), nullable=True),
    sa.Column('sync_status', sa.String(length=20), nullable=True),
    sa.Column('sales_tools_url', sa.Text(), nullable=True),
    sa.Column('parent_event_ref_num', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_ref_num'),
    sa.UniqueConstraint('external_id'),
)
EMPLOYEES = sa.Table('employees', SCHEDULER_METADATA,
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=120), nullable=True),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=True),
    sa.Column('is_supervisor', sa.Boolean(), nullable=True),
    sa.Column('job_title', sa.String(length=50), nullable=True),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
)
SCHEDULES = sa.Table('schedules', SCHEDULER_METADATA,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_ref_num', sa.Integer(), nullable=False),
    sa.Column('employee_id', sa.String(length=50), nullable=False),
    sa.Column('schedule_datetime', sa.DateTime(), nullable=False),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('last_synced', sa.DateTime(), nullable=True),
    sa.Column('sync_status', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['event_ref_num'], ['events.project_ref_num'], ),
    sa.ForeignKeyConstraint(['employee_id'], ['employees.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
)
SCHEDULER_TABLES = (EVENTS, EMPLOYEES, SCHEDULES)  # in foreign-key order

# Columns without which the dashboard cannot work on an existing database. Other columns of the scheduler schema that
# an older database lacks are added (nullable) on upgrade, recorded, and removed again on downgrade.
REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    "events": frozenset({"id", "project_name", "project_ref_num", "location_mvid", "store_number", "start_datetime",
                         "due_datetime", "is_scheduled", "event_type", "condition"}),
    "schedules": frozenset({"id", "event_ref_num", "employee_id", "schedule_datetime"}),
    "employees": frozenset({"id", "name"}),
}
ADOPTION = sa.table("dashboard_schema_adoption", sa.column("kind", sa.String), sa.column("table_name", sa.String),
                    sa.column("name", sa.String), sa.column("revision", sa.String))
DATA_VERSION = sa.table("dashboard_data_version", sa.column("id", sa.Integer), sa.column("version", sa.Integer),
                        sa.column("changed_at", sa.DateTime))

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
    op.create_table('dashboard_schema_adoption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('table_name', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('dashboard_data_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    added: list[dict[str, str]] = []

    for table in SCHEDULER_TABLES:
        name = table.name
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
        op.bulk_insert(ADOPTION, added)
    op.bulk_insert(DATA_VERSION, [{"id": 1, "version": 1, "changed_at": datetime.now().replace(microsecond=0)}])


def downgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(ADOPTION.c.kind, ADOPTION.c.table_name, ADOPTION.c.name)
                        .where(ADOPTION.c.revision == revision)).all()
    for kind, table_name, name in rows:  # indexes first: SQLite cannot drop an indexed column
        if kind == "index":
            op.drop_index(name, table_name=table_name)
    for kind, table_name, name in rows:
        if kind == "column":
            op.drop_column(table_name, name)
    for name in reversed(OUR_TABLES):
        op.drop_table(name)
