"""Signed-in browser sessions (issue 18): dashboard_sessions holds the SHA-256 of each session cookie's random token,
the account, when it started and was last active, and when it was revoked (sign out, account disabled, password
changed, idle). Sessions therefore survive a reload and work across replicas, and revoking one ends it everywhere.

Frozen: literal types, nothing imported from `services`. A database created from the current models may already have
the table when it arrives here: it is created only if missing.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = "dashboard_sessions"
INDEX = "ix_dashboard_sessions_username"


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(TABLE):
        op.create_table(TABLE,
                        sa.Column("token_hash", sa.String(64), primary_key=True),
                        sa.Column("username", sa.String(100), nullable=False),
                        sa.Column("created_at", sa.DateTime(), nullable=False),
                        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
                        sa.Column("revoked_at", sa.DateTime(), nullable=True),
                        sa.Column("client", sa.String(64), nullable=True))
    if INDEX not in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(TABLE)}:
        op.create_index(INDEX, TABLE, ["username", "revoked_at"])


def downgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        op.drop_table(TABLE)
