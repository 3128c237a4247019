"""A full data-quality run merges only the findings it found different (issue 22).

- `dashboard_findings.bucket`: each finding's cell among its rule's 256 (a CRC-32 of its identity, written by the run
  that inserts it; NULL for the findings already there, filled by the first full run), and an index of the open
  findings by rule and bucket.
- `dashboard_rule_fingerprints`: per rule and bucket, the number of its open findings and a digest of their identities
  and contents, written by the run that last merged the cell (services/quality/fingerprints.py).
- Triggers on dashboard_findings delete a cell's fingerprint whenever one of its findings is inserted, deleted, or
  updated in what the fingerprint covers (identity, rule, severity, detail, day, event number, store, CORE and Supervisor
  refs, resolved_at, bucket), by any program; every fingerprint of the rule when the finding has no bucket. A
  fingerprint that is still there describes its cell's open findings exactly. Updates of the people's columns (owner,
  acknowledgement, notification times) leave it. On PostgreSQL inserts and deletes are statement-level triggers over
  their transition tables (one statement per 5,000 findings a run inserts); updates are row-level with a WHEN
  condition, so a row whose covered columns did not change calls no function.

Frozen: this file's own SQL, nothing imported from `services`.

Revision ID: 0025
Revises: 0024
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

FINGERPRINTS = "dashboard_rule_fingerprints"
FINDINGS = "dashboard_findings"
CELL_INDEX = "ix_dashboard_findings_cell"
COVERED = ("identity", "rule", "severity", "detail", "day", "event_number", "store", "core_ref", "supervisor_ref",
           "resolved_at", "bucket")
_SQLITE_CHANGED = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in COVERED)
_PG_CHANGED = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in COVERED)


def _forget(row: str) -> str:
    """The fingerprints a finding row touches: its cell's, or its rule's every one when it has no bucket."""
    return f"(rule = {row}.rule AND ({row}.bucket IS NULL OR bucket = {row}.bucket))"


STATEMENTS = {
    "sqlite": {
        "drop": [
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_insert",
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_delete",
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_update",
        ],
        "create": [
            "CREATE TRIGGER dashboard_rf_finding_insert AFTER INSERT ON dashboard_findings BEGIN "
            f"DELETE FROM dashboard_rule_fingerprints WHERE {_forget('NEW')}; END",
            "CREATE TRIGGER dashboard_rf_finding_delete AFTER DELETE ON dashboard_findings BEGIN "
            f"DELETE FROM dashboard_rule_fingerprints WHERE {_forget('OLD')}; END",
            f"CREATE TRIGGER dashboard_rf_finding_update AFTER UPDATE OF {', '.join(COVERED)} ON dashboard_findings "
            f"WHEN {_SQLITE_CHANGED} BEGIN "
            f"DELETE FROM dashboard_rule_fingerprints WHERE {_forget('OLD')} OR {_forget('NEW')}; END",
        ],
    },
    "postgresql": {
        "drop": [
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_insert ON dashboard_findings",
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_delete ON dashboard_findings",
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_update ON dashboard_findings",
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_truncate ON dashboard_findings",
            "DROP FUNCTION IF EXISTS dashboard_rf_forget()",
        ],
        "create": [
            "CREATE FUNCTION dashboard_rf_forget() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_LEVEL = 'ROW' THEN "
            f"DELETE FROM dashboard_rule_fingerprints WHERE {_forget('OLD')} OR {_forget('NEW')}; "
            "ELSIF TG_OP = 'TRUNCATE' THEN DELETE FROM dashboard_rule_fingerprints; "
            "ELSE DELETE FROM dashboard_rule_fingerprints f USING changed_findings c "
            "WHERE f.rule = c.rule AND (c.bucket IS NULL OR f.bucket = c.bucket); "
            "END IF; RETURN NULL; END $$",
            "CREATE TRIGGER dashboard_rf_finding_insert AFTER INSERT ON dashboard_findings "
            "REFERENCING NEW TABLE AS changed_findings FOR EACH STATEMENT EXECUTE FUNCTION dashboard_rf_forget()",
            "CREATE TRIGGER dashboard_rf_finding_delete AFTER DELETE ON dashboard_findings "
            "REFERENCING OLD TABLE AS changed_findings FOR EACH STATEMENT EXECUTE FUNCTION dashboard_rf_forget()",
            f"CREATE TRIGGER dashboard_rf_finding_update AFTER UPDATE OF {', '.join(COVERED)} ON dashboard_findings "
            f"FOR EACH ROW WHEN ({_PG_CHANGED}) EXECUTE FUNCTION dashboard_rf_forget()",
            "CREATE TRIGGER dashboard_rf_finding_truncate AFTER TRUNCATE ON dashboard_findings "
            "FOR EACH STATEMENT EXECUTE FUNCTION dashboard_rf_forget()",
        ],
    },
}


def upgrade() -> None:
    """Safe on a database created from the current models (which has the table, column and index already)."""
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "bucket" not in {column["name"] for column in inspector.get_columns(FINDINGS)}:
        op.add_column(FINDINGS, sa.Column("bucket", sa.SmallInteger))
    if CELL_INDEX not in {index["name"] for index in inspector.get_indexes(FINDINGS)}:
        op.create_index(CELL_INDEX, FINDINGS, ["rule", "bucket"], sqlite_where=sa.text("resolved_at IS NULL"),
                        postgresql_where=sa.text("resolved_at IS NULL"))
    if not inspector.has_table(FINGERPRINTS):
        op.create_table(
            FINGERPRINTS,
            sa.Column("rule", sa.String(50), primary_key=True),
            sa.Column("bucket", sa.SmallInteger, primary_key=True, autoincrement=False),
            sa.Column("run_id", sa.Integer, nullable=False),
            sa.Column("findings", sa.Integer, nullable=False),
            sa.Column("digest", sa.String(32), nullable=False),
        )
    statements = STATEMENTS[bind.dialect.name]
    for statement in (*statements["drop"], *statements["create"]):
        op.execute(statement)


def downgrade() -> None:
    for statement in STATEMENTS[op.get_bind().dialect.name]["drop"]:
        op.execute(statement)
    op.drop_table(FINGERPRINTS)
    op.drop_index(CELL_INDEX, table_name=FINDINGS)
    with op.batch_alter_table(FINDINGS) as batch:
        batch.drop_column("bucket")
