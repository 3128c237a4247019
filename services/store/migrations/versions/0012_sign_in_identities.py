"""Sign-in hardening (issue 17).

- `oidc_issuer`, `oidc_subject` on dashboard_users, unique together: an identity-provider account is found by the
  issuer and subject of its ID token, never by a name or an e-mail the provider lets people choose.
- `client` on dashboard_login_attempts with an index on (client, at): failed sign-ins are counted per client address
  beside per account, so one person cannot lock an account out for everybody.
- Password hashes move from scrypt to argon2id at each account's next successful sign-in (no schema change:
  `password_hash` is a String(255) and holds either form).

Frozen: literal types, nothing imported from `services`. Revisions 0003/0005 create their tables from the current
models, so a database created from scratch may already have these columns when it arrives here: each step looks first.

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

USERS, ATTEMPTS = "dashboard_users", "dashboard_login_attempts"
IDENTITY_INDEX = "uq_dashboard_users_oidc_identity"
CLIENT_INDEX = "ix_dashboard_login_attempts_client_at"
NEW_COLUMNS = {USERS: (("oidc_issuer", sa.String(500)), ("oidc_subject", sa.String(255))),
               ATTEMPTS: (("client", sa.String(64)),)}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in NEW_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        missing = [sa.Column(name, column_type, nullable=True) for name, column_type in columns if name not in present]
        if missing:
            with op.batch_alter_table(table) as batch:  # plain ADD COLUMNs: no table copy on SQLite
                for column in missing:
                    batch.add_column(column)
    if IDENTITY_INDEX not in {index["name"] for index in inspector.get_indexes(USERS)}:
        op.create_index(IDENTITY_INDEX, USERS, ["oidc_issuer", "oidc_subject"], unique=True)
    if CLIENT_INDEX not in {index["name"] for index in inspector.get_indexes(ATTEMPTS)}:
        op.create_index(CLIENT_INDEX, ATTEMPTS, ["client", "at"])


def downgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if CLIENT_INDEX in {index["name"] for index in inspector.get_indexes(ATTEMPTS)}:
        op.drop_index(CLIENT_INDEX, table_name=ATTEMPTS)
    if IDENTITY_INDEX in {index["name"] for index in inspector.get_indexes(USERS)}:
        op.drop_index(IDENTITY_INDEX, table_name=USERS)
    for table, columns in NEW_COLUMNS.items():
        present = {column["name"] for column in inspector.get_columns(table)}
        with op.batch_alter_table(table) as batch:
            for name, _ in reversed(columns):
                if name in present:
                    batch.drop_column(name)
