"""The journal's and the audit trail's JSON as JSON columns (issue 19): JSONB on PostgreSQL, JSON on SQLite, instead of
text the code wrote with json.dumps and read with json.loads.

- dashboard_operations.request, .events; dashboard_operation_steps.request, .result; dashboard_audit.before, .after.
  Free text stays text (messages, a finding's detail, the comma-separated refs and rule lists).
- Stored text that is valid JSON becomes that value. Text that is not (the switches' audit entries wrote Python's
  "True" / "False"; a row edited by hand or cut short) is kept as a JSON string holding exactly that text, so nothing is
  lost and the readers show it as it was. PostgreSQL decides validity by its own JSON parser (a temporary function
  catches the values `::jsonb` refuses: also JSON with a NUL in its text, "\\u0000", which JSONB cannot hold; the
  journal's reader still reads such a string as the JSON it holds); SQLite by Python's json.loads, which is what reads
  the column there.
- SQLite stores JSON as text either way; the declared type changes by a table copy (`batch_alter_table`), so the
  models describe the tables. The partial indexes of dashboard_operations are dropped before the copy and re-created
  after it, exactly as 0010 made them.

Downgrade turns the columns back into text: a JSON string becomes its text again (so "True" is "True"), any other
value its JSON text (PostgreSQL's formatting of JSONB: keys in its own order).

Frozen: this file's own SQL and types, nothing imported from `services`. Safe to run again: a column already JSON is
left as it is.

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

COLUMNS = {
    "dashboard_operations": ("request", "events"),
    "dashboard_operation_steps": ("request", "result"),
    "dashboard_audit": ("before", "after"),
}
OPERATIONS = "dashboard_operations"
# 0010's partial indexes on dashboard_operations: (name, columns, unique), all WHERE the key is still bound.
PARTIAL_INDEXES = (("uq_dashboard_operations_account_key", ["requested_by", "idempotency_key"], True),
                   ("ix_dashboard_operations_bound_keys", ["finished_at"], False))
BOUND = "key_released_at IS NULL"
TO_JSONB = "dashboard_text_to_jsonb"
_BATCH = 1000


def _columns_of_type(table: str, names: tuple[str, ...], json_type: bool) -> list[str]:
    """Those of `names` whose type is JSON (json_type) or is not yet."""
    types = {column["name"]: column["type"] for column in sa.inspect(op.get_bind()).get_columns(table)}
    return [name for name in names if name in types and isinstance(types[name], sa.JSON) == json_type]


def _as_json_text(value: object) -> str | None:
    """Stored text as JSON text: itself when json.loads reads it, else the text as a JSON string; None to leave the
    value as it is (NULL)."""
    if not isinstance(value, (str, bytes)):
        return None
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return json.dumps(text)
    return text


def _rewrite_sqlite_rows(table: str, columns: list[str], change) -> None:  # noqa: ANN001 - value -> new value or None
    """Set each of `columns` to change(value) where that gives a new value; rows read in id order, a batch at a time
    (only the changed ones are written)."""
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(sa.text(
            f"SELECT id, {', '.join(columns)} FROM {table} WHERE id > :last ORDER BY id LIMIT {_BATCH}"),
            {"last": last_id}).all()
        if not rows:
            return
        for row in rows:
            for position, column in enumerate(columns, start=1):
                new = change(row[position])
                if new is not None and new != row[position]:
                    connection.execute(sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                                       {"value": new, "id": row[0]})
        last_id = rows[-1][0]


def _drop_partial_indexes() -> None:
    present = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(OPERATIONS)}
    for name, _, _ in PARTIAL_INDEXES:
        if name in present:
            op.drop_index(name, table_name=OPERATIONS)


def _create_partial_indexes() -> None:
    bound = sa.text(BOUND)
    for name, columns, unique in PARTIAL_INDEXES:
        op.create_index(name, OPERATIONS, columns, unique=unique, sqlite_where=bound, postgresql_where=bound)


def _sqlite_retype(table: str, columns: list[str], new_type: sa.types.TypeEngine,
                   old_type: sa.types.TypeEngine) -> None:
    if table == OPERATIONS:
        _drop_partial_indexes()
    with op.batch_alter_table(table) as batch:  # a type change: SQLite copies the table
        for column in columns:
            batch.alter_column(column, type_=new_type, existing_type=old_type, existing_nullable=True)
    if table == OPERATIONS:
        _create_partial_indexes()


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"CREATE OR REPLACE FUNCTION {TO_JSONB}(value text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE STRICT "
                   "AS $$ BEGIN RETURN value::jsonb; EXCEPTION WHEN data_exception THEN RETURN to_jsonb(value); "
                   "END $$")
        for table, names in COLUMNS.items():
            columns = _columns_of_type(table, names, json_type=False)
            if columns:  # one ALTER TABLE: the table is rewritten once
                op.execute(f"ALTER TABLE {table} " + ", ".join(
                    f"ALTER COLUMN {column} TYPE JSONB USING {TO_JSONB}({column})" for column in columns))
        op.execute(f"DROP FUNCTION {TO_JSONB}(text)")
        return
    for table, names in COLUMNS.items():
        columns = _columns_of_type(table, names, json_type=False)
        if columns:
            _rewrite_sqlite_rows(table, columns, _as_json_text)
            _sqlite_retype(table, columns, sa.JSON(), sa.Text())


def _unwrapped_string(value: object) -> str | None:
    """A JSON string's text (the text 0016 wrapped, or a switch's "True"); None for any other value."""
    if not isinstance(value, str):
        return None
    try:
        decoded = json.loads(value)
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, str) else None


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, names in COLUMNS.items():
        columns = _columns_of_type(table, names, json_type=True)
        if not columns:
            continue
        if dialect == "postgresql":
            op.execute(f"ALTER TABLE {table} " + ", ".join(
                f"ALTER COLUMN {column} TYPE TEXT USING CASE WHEN jsonb_typeof({column}) = 'string' "
                f"THEN {column} #>> '{{}}' ELSE {column}::text END" for column in columns))
        else:
            _sqlite_retype(table, columns, sa.Text(), sa.JSON())
            _rewrite_sqlite_rows(table, columns, _unwrapped_string)

