"""Unstaffed events per store key and type over all due days, kept exact by triggers (services/store/scheduled_per_day.py),
so the Unscheduled "Past due" bucket (everything due before today) costs the same however much history the database
holds: it is this total minus the days from today on, instead of a sum over every past day (issue 8: cost flat from
10,000 to 1,000,000 events and with years of history).

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UNSTAFFED_TOTALS_TABLE = "dashboard_unstaffed_totals"
# Fill the table, then keep it exact: per dialect, as services/store/scheduled_per_day.py wrote them when frozen.
STATEMENTS = {
    'sqlite': {
        'rebuild': [
            'DELETE FROM dashboard_unstaffed_totals',
            "INSERT INTO dashboard_unstaffed_totals (store, event_type, unstaffed) SELECT coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), COUNT(*) FROM events e WHERE e.condition = 'Unstaffed' AND e.due_datetime IS NOT NULL GROUP BY 1, 2",
        ],
        'create': [
            "CREATE TRIGGER dashboard_ut_event_insert AFTER INSERT ON events BEGIN INSERT INTO dashboard_unstaffed_totals (store, event_type, unstaffed) SELECT coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), coalesce(NEW.event_type, 'Other'), +1 WHERE NEW.condition = 'Unstaffed' AND NEW.due_datetime IS NOT NULL ON CONFLICT (store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_totals.unstaffed + excluded.unstaffed; END",
            "CREATE TRIGGER dashboard_ut_event_delete AFTER DELETE ON events BEGIN INSERT INTO dashboard_unstaffed_totals (store, event_type, unstaffed) SELECT coalesce(OLD.location_mvid, CAST(OLD.store_number AS TEXT), ''), coalesce(OLD.event_type, 'Other'), -1 WHERE OLD.condition = 'Unstaffed' AND OLD.due_datetime IS NOT NULL ON CONFLICT (store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_totals.unstaffed + excluded.unstaffed; END",
            "CREATE TRIGGER dashboard_ut_event_update AFTER UPDATE OF condition, due_datetime, event_type, location_mvid, store_number ON events BEGIN INSERT INTO dashboard_unstaffed_totals (store, event_type, unstaffed) SELECT coalesce(OLD.location_mvid, CAST(OLD.store_number AS TEXT), ''), coalesce(OLD.event_type, 'Other'), -1 WHERE OLD.condition = 'Unstaffed' AND OLD.due_datetime IS NOT NULL ON CONFLICT (store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_totals.unstaffed + excluded.unstaffed; INSERT INTO dashboard_unstaffed_totals (store, event_type, unstaffed) SELECT coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), coalesce(NEW.event_type, 'Other'), +1 WHERE NEW.condition = 'Unstaffed' AND NEW.due_datetime IS NOT NULL ON CONFLICT (store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_totals.unstaffed + excluded.unstaffed; END",
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_ut_event_insert',
            'DROP TRIGGER IF EXISTS dashboard_ut_event_delete',
            'DROP TRIGGER IF EXISTS dashboard_ut_event_update',
        ],
    },
    'postgresql': {
        'rebuild': [
            'DELETE FROM dashboard_unstaffed_totals',
            "INSERT INTO dashboard_unstaffed_totals (store, event_type, unstaffed) SELECT coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), coalesce(e.event_type, 'Other'), COUNT(*) FROM events e WHERE e.condition = 'Unstaffed' AND e.due_datetime IS NOT NULL GROUP BY 1, 2",
        ],
        'create': [
            "CREATE FUNCTION dashboard_ut_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN INSERT INTO dashboard_unstaffed_totals (store, event_type, unstaffed) SELECT coalesce(OLD.location_mvid, CAST(OLD.store_number AS TEXT), ''), coalesce(OLD.event_type, 'Other'), -1 WHERE OLD.condition = 'Unstaffed' AND OLD.due_datetime IS NOT NULL ON CONFLICT (store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_totals.unstaffed + excluded.unstaffed; END IF; IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO dashboard_unstaffed_totals (store, event_type, unstaffed) SELECT coalesce(NEW.location_mvid, CAST(NEW.store_number AS TEXT), ''), coalesce(NEW.event_type, 'Other'), +1 WHERE NEW.condition = 'Unstaffed' AND NEW.due_datetime IS NOT NULL ON CONFLICT (store, event_type) DO UPDATE SET unstaffed = dashboard_unstaffed_totals.unstaffed + excluded.unstaffed; END IF; RETURN NULL; END $$",
            'CREATE TRIGGER dashboard_ut_events AFTER INSERT OR DELETE OR UPDATE OF condition, due_datetime, event_type, location_mvid, store_number ON events FOR EACH ROW EXECUTE FUNCTION dashboard_ut_events()',
        ],
        'drop': [
            'DROP TRIGGER IF EXISTS dashboard_ut_events ON events',
            'DROP FUNCTION IF EXISTS dashboard_ut_events()',
        ],
    },
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        UNSTAFFED_TOTALS_TABLE,
        sa.Column("store", sa.String(100), primary_key=True),
        sa.Column("event_type", sa.String(20), primary_key=True),
        sa.Column("unstaffed", sa.Integer, nullable=False),
    )
    for statement in STATEMENTS[dialect]["rebuild"] + STATEMENTS[dialect]["create"]:
        op.execute(statement)


def downgrade() -> None:
    for statement in STATEMENTS[op.get_bind().dialect.name]["drop"]:
        op.execute(statement)
    op.drop_table(UNSTAFFED_TOTALS_TABLE)
