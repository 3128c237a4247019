"""A full data-quality run that finds what the last one found leaves it alone (issue 22).

- `dashboard_rule_fingerprints`: per rule, the number of its open findings and a digest of their identities and
  contents, written by the run that last judged the rule whole (services/quality/fingerprints.py).
- Triggers on dashboard_findings delete a rule's fingerprint whenever one of its findings is inserted, deleted, or
  updated in what the fingerprint covers (identity, rule, severity, detail, day, event number, store, CORE and Supervisor
  refs, resolved_at), by any program: a fingerprint that is still there describes the rule's open findings exactly.
  Updates of the people's columns (owner, acknowledgement, notification times) leave it. On PostgreSQL inserts and
  deletes are statement-level triggers over their transition tables (one statement per 5,000 findings a run inserts);
  updates are row-level with a WHEN condition, so a row whose covered columns did not change calls no function.

Frozen: this file's own SQL, nothing imported from `services`.

Revision ID: 0024
Revises: 0023
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

FINGERPRINTS = "dashboard_rule_fingerprints"
COVERED = ("identity", "rule", "severity", "detail", "day", "event_number", "store", "core_ref", "supervisor_ref",
           "resolved_at")
_SQLITE_CHANGED = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in COVERED)
_PG_CHANGED = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in COVERED)
STATEMENTS = {
    "sqlite": {
        "drop": [
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_insert",
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_delete",
            "DROP TRIGGER IF EXISTS dashboard_rf_finding_update",
        ],
        "create": [
            "CREATE TRIGGER dashboard_rf_finding_insert AFTER INSERT ON dashboard_findings BEGIN "
            "DELETE FROM dashboard_rule_fingerprints WHERE rule = NEW.rule; END",
            "CREATE TRIGGER dashboard_rf_finding_delete AFTER DELETE ON dashboard_findings BEGIN "
            "DELETE FROM dashboard_rule_fingerprints WHERE rule = OLD.rule; END",
            f"CREATE TRIGGER dashboard_rf_finding_update AFTER UPDATE OF {', '.join(COVERED)} ON dashboard_findings "
            f"WHEN {_SQLITE_CHANGED} BEGIN "
            "DELETE FROM dashboard_rule_fingerprints WHERE rule IN (OLD.rule, NEW.rule); END",
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
            "DELETE FROM dashboard_rule_fingerprints WHERE rule IN (OLD.rule, NEW.rule); "
            "ELSIF TG_OP = 'TRUNCATE' THEN DELETE FROM dashboard_rule_fingerprints; "
            "ELSE DELETE FROM dashboard_rule_fingerprints WHERE rule IN (SELECT rule FROM changed_findings); "
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
    """Safe on a database created from the current models (which has the table already)."""
    bind = op.get_bind()
    if not sa.inspect(bind).has_table(FINGERPRINTS):
        op.create_table(
            FINGERPRINTS,
            sa.Column("rule", sa.String(50), primary_key=True),
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
