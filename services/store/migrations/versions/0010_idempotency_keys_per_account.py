"""Idempotency keys belong to the acting account and to their request (issue 15 §2).

- `request_fingerprint` (sha256 of the canonical request: kind, account, arguments; services/actions/journal.py) is stored with
  every new operation. Operations recorded before this revision keep NULL: when their key is used again, their
  fingerprint is derived from the kind, account and request they recorded (the same canonical form), so an old key
  still answers only for the request it was given for.
- `key_released_at`: `reconcile` releases the keys of operations finished more than the key retention ago (7 days,
  services/journal.KEY_RETENTION). The operation record stays (DESIGN.md §3.3: nothing is lost), keeping its key text;
  only the binding is gone, and the account may use the key again.
- The global UNIQUE on `idempotency_key` (created unnamed by 0003) becomes a unique index on
  (`requested_by`, `idempotency_key`) over the keys still bound (`WHERE key_released_at IS NULL`), so the same key used
  by two accounts is two keys.

Frozen: literal types, nothing imported from `services`. Revision 0003 creates its tables from the current models, so
a database created from scratch already has this shape when it arrives here; each step looks at the table first and
does only what is missing. On SQLite the old constraint has no name: it is dropped through a table copy
(`batch_alter_table`) under a naming convention that gives it one.

Downgrade restores the global UNIQUE; it fails (and is rolled back) if one key is by then used by two accounts, or
again after being released, since the older schema cannot hold that.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLE = "dashboard_operations"
ACCOUNT_KEY_INDEX = "uq_dashboard_operations_account_key"
BOUND_KEYS_INDEX = "ix_dashboard_operations_bound_keys"
BOUND = "key_released_at IS NULL"
OLD_UNIQUE_NAME = "uq_dashboard_operations_idempotency_key"  # the name the naming convention gives the SQLite one
POSTGRESQL_OLD_UNIQUE_NAME = "dashboard_operations_idempotency_key_key"  # PostgreSQL's own name for 0003's
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _state() -> tuple[set[str], Sequence[Mapping[str, Any]], set[str | None]]:
    inspector = sa.inspect(op.get_bind())
    columns = {column["name"] for column in inspector.get_columns(TABLE)}
    key_uniques = [unique for unique in inspector.get_unique_constraints(TABLE)
                   if unique["column_names"] == ["idempotency_key"]]
    indexes = {index["name"] for index in inspector.get_indexes(TABLE)}
    return columns, key_uniques, indexes


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    columns, key_uniques, indexes = _state()
    new_columns = [sa.Column(name, column_type, nullable=True) for name, column_type in
                   (("request_fingerprint", sa.String(64)), ("key_released_at", sa.DateTime()))
                   if name not in columns]
    if dialect == "sqlite":
        if key_uniques or new_columns:
            with op.batch_alter_table(TABLE, naming_convention=NAMING) as batch:
                for unique in key_uniques:
                    batch.drop_constraint(unique["name"] or OLD_UNIQUE_NAME, type_="unique")
                for column in new_columns:
                    batch.add_column(column)
    else:
        for unique in key_uniques:
            op.drop_constraint(unique["name"], TABLE, type_="unique")
        for column in new_columns:
            op.add_column(TABLE, column)
    bound = sa.text(BOUND)
    if ACCOUNT_KEY_INDEX not in indexes:
        op.create_index(ACCOUNT_KEY_INDEX, TABLE, ["requested_by", "idempotency_key"], unique=True,
                        sqlite_where=bound, postgresql_where=bound)
    if BOUND_KEYS_INDEX not in indexes:
        op.create_index(BOUND_KEYS_INDEX, TABLE, ["finished_at"], sqlite_where=bound, postgresql_where=bound)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    columns, key_uniques, indexes = _state()
    for name in (BOUND_KEYS_INDEX, ACCOUNT_KEY_INDEX):
        if name in indexes:
            op.drop_index(name, table_name=TABLE)
    gone = [name for name in ("key_released_at", "request_fingerprint") if name in columns]
    if dialect == "sqlite":
        with op.batch_alter_table(TABLE, naming_convention=NAMING) as batch:
            for name in gone:
                batch.drop_column(name)
            if not key_uniques:
                batch.create_unique_constraint(OLD_UNIQUE_NAME, ["idempotency_key"])
    else:
        for name in gone:
            op.drop_column(TABLE, name)
        if not key_uniques:
            op.create_unique_constraint(POSTGRESQL_OLD_UNIQUE_NAME, TABLE, ["idempotency_key"])
