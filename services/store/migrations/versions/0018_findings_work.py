"""Findings as owned work (issue 21): each finding's rep, due-by, owner and notification marks on dashboard_findings;
dashboard_finding_history, one row per thing that happened to a finding after it was first seen (assigned, commented,
acknowledged, resolved, reopened).

Backfilled: a resolved finding gets its "resolved" entry (with when that occurrence was first seen, for time to fix),
an acknowledged one its "acknowledged" entry, and an open one its due-by: first seen plus a day (critical), three days
(warning) or a week (info), the SLAs of the rules at this revision.

Frozen: literal types and SQL, nothing imported from `services`. A database created from the current models may already
have the columns and the table when it arrives here: each is added only if missing.

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_NEW_COLUMNS = (("employee_id", sa.String(50)), ("due_by", sa.DateTime()), ("owner", sa.String(100)),
                ("assigned_at", sa.DateTime()), ("notified_at", sa.DateTime()), ("overdue_notified_at", sa.DateTime()))
_SLA_DAYS = (("critical", 1), ("warning", 3), ("info", 7))


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    present = {column["name"] for column in inspector.get_columns("dashboard_findings")}
    added = [name for name, _ in _NEW_COLUMNS if name not in present]
    with op.batch_alter_table("dashboard_findings") as batch:
        for name, column_type in _NEW_COLUMNS:
            if name in added:
                batch.add_column(sa.Column(name, column_type, nullable=True))
    indexes = {index["name"] for index in inspector.get_indexes("dashboard_findings")}
    if "ix_dashboard_findings_owner" not in indexes:
        op.create_index("ix_dashboard_findings_owner", "dashboard_findings", ["owner"])
    if "due_by" in added:
        for severity, days in _SLA_DAYS:
            due = (f"first_seen + interval '{days} day'" if bind.dialect.name == "postgresql"
                   else f"datetime(first_seen, '+{days} day')")
            op.execute(f"UPDATE dashboard_findings SET due_by = {due} "
                       f"WHERE due_by IS NULL AND severity = '{severity}'")
    if not inspector.has_table("dashboard_finding_history"):
        op.create_table("dashboard_finding_history",
                        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
                        sa.Column("finding_id", sa.Integer(), nullable=False),
                        sa.Column("at", sa.DateTime(), nullable=False),
                        sa.Column("kind", sa.String(20), nullable=False),
                        sa.Column("actor", sa.String(100), nullable=True),
                        sa.Column("text", sa.Text(), nullable=True),
                        sa.Column("opened_at", sa.DateTime(), nullable=True))
        op.create_index("ix_dashboard_finding_history_finding", "dashboard_finding_history", ["finding_id", "id"])
        op.create_index("ix_dashboard_finding_history_kind_at", "dashboard_finding_history", ["kind", "at"])
        op.execute("INSERT INTO dashboard_finding_history (finding_id, at, kind, actor, text, opened_at) "
                   "SELECT id, resolved_at, 'resolved', NULL, 'Its rule no longer reports it.', first_seen "
                   "FROM dashboard_findings WHERE resolved_at IS NOT NULL")
        op.execute("INSERT INTO dashboard_finding_history (finding_id, at, kind, actor, text, opened_at) "
                   "SELECT id, acknowledged_at, 'acknowledged', acknowledged_by, acknowledgement_note, NULL "
                   "FROM dashboard_findings WHERE acknowledged_at IS NOT NULL")


def downgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("dashboard_finding_history"):
        op.drop_table("dashboard_finding_history")
    indexes = {index["name"] for index in inspector.get_indexes("dashboard_findings")}
    if "ix_dashboard_findings_owner" in indexes:
        op.drop_index("ix_dashboard_findings_owner", table_name="dashboard_findings")
    present = {column["name"] for column in inspector.get_columns("dashboard_findings")}
    with op.batch_alter_table("dashboard_findings") as batch:
        for name, _ in reversed(_NEW_COLUMNS):
            if name in present:
                batch.drop_column(name)
