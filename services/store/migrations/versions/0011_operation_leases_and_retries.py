"""Leases and automatic retries for operations (issue 16).

- `lease_owner`, `lease_expires_at` on dashboard_operations: the process running an operation holds a lease, renewed
  before every Crossmark call and longer than the longest call; reconcile and the retry loop take an operation only
  when its lease has expired (one atomic UPDATE), so they never settle an operation that is still running.
- `attempts`, `next_attempt_at` (indexed): automatic retries with backoff; `stuck` after the last one.
- dashboard_worker_leases: one row per job that exactly one process runs across replicas (the retry loop).

Frozen: literal types, nothing imported from `services`. Revision 0003 creates its tables from the current models, so
a database created from scratch may already have these columns when it arrives here: each step looks first.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = "dashboard_operations"
NEXT_ATTEMPT_INDEX = "ix_dashboard_operations_next_attempt_at"
LEASES = "dashboard_worker_leases"
COLUMNS = (("lease_owner", sa.String(200)), ("lease_expires_at", sa.DateTime()), ("attempts", sa.Integer()),
           ("next_attempt_at", sa.DateTime()))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = {column["name"] for column in inspector.get_columns(TABLE)}
    missing = [sa.Column(name, column_type, nullable=True) for name, column_type in COLUMNS if name not in present]
    if missing:
        with op.batch_alter_table(TABLE) as batch:  # plain ADD COLUMNs: no table copy on SQLite
            for column in missing:
                batch.add_column(column)
    if NEXT_ATTEMPT_INDEX not in {index["name"] for index in inspector.get_indexes(TABLE)}:
        op.create_index(NEXT_ATTEMPT_INDEX, TABLE, ["next_attempt_at"])
    if not inspector.has_table(LEASES):
        op.create_table(LEASES,
                        sa.Column("name", sa.String(50), primary_key=True),
                        sa.Column("owner", sa.String(200), nullable=False),
                        sa.Column("expires_at", sa.DateTime(), nullable=False),
                        sa.Column("renewed_at", sa.DateTime(), nullable=False))


def downgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table(LEASES):
        op.drop_table(LEASES)
    if NEXT_ATTEMPT_INDEX in {index["name"] for index in inspector.get_indexes(TABLE)}:
        op.drop_index(NEXT_ATTEMPT_INDEX, table_name=TABLE)
    present = {column["name"] for column in inspector.get_columns(TABLE)}
    with op.batch_alter_table(TABLE) as batch:
        for name, _ in reversed(COLUMNS):
            if name in present:
                batch.drop_column(name)
