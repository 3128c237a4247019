"""Migration 0016 (issue 19): the journal's and the audit trail's JSON in JSON columns (JSONB on PostgreSQL).

A database at 0015 holding the text the code wrote before (json.dumps with sorted keys), and text that is not JSON (a
switch's audit entry "True", a row cut short, an empty string), upgrades to 0016 and reads back the same values: the
operations' requests and events, and the exact cells the Audit and Operations pages and the audit export show. A
downgrade gives the text back. New writes show the same cells the text columns did. On SQLite and PostgreSQL."""
from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import Engine, inspect, select, text

from services.actions.journal import Journal, to_json
from services.reads.exports import csv_bytes
from services.reads.read_queries import audit_frame, operation_steps_frame
from services.store.database import make_engine
from services.store.schema_admin import _alembic_config
from services.store.tables import AuditEntry, Operation, OperationStep

NOW = datetime(2026, 12, 1, 9, 0)
UNPLACED = {"scheduled": False, "start": None, "employee_id": None, "rep_id": None, "scheduled_event_id": None}
PLACED = {"scheduled": True, "start": "2026-12-08T10:30:00", "employee_id": "US157001", "rep_id": "4711",
          "scheduled_event_id": "880001"}
REQUEST = {"ref": 606001, "to": "2026-12-08T10:30:00", "note": "café ☕ — \"quoted\", 1.5 hours",
           "guards": {"606002": UNPLACED}, "warnings": []}
EVENTS = [{"ref": 606001, "role": "core", "name": "606001-CORE-Super Pretzel", "event_type": "Core", "duration": 390,
           "before": UNPLACED, "target": PLACED, "after": PLACED}]
STEP_REQUEST = {"RepID": "4711", "mPlanID": "31001", "LocationID": "157384", "Start": "2026-12-08T10:30:00",
                "minutes": 390}
# JSON PostgreSQL's JSONB cannot hold (a NUL in text): 0016 keeps it there as a JSON string of the text, which the
# journal's reader still reads as the JSON it holds.
WITH_NUL = {"ref": 606001, "note": "a\x00b"}


def old_text(value: object) -> str:
    """What the journal wrote into the text columns before 0016 (journal.to_json)."""
    return json.dumps(value, sort_keys=True)


# (operation id, request, events) as stored text; None is NULL.
OPERATIONS = ((1, old_text(REQUEST), old_text(EVENTS)), (2, "not json {", ""), (3, None, None),
              (4, old_text(WITH_NUL), "[]"))
# (step id, operation id, request, result)
STEPS = ((1, 1, old_text(STEP_REQUEST), old_text(PLACED)), (2, 1, '{"cut": ', None))
# (audit id, action, before, after, message)
AUDIT = ((1, "reschedule requested", None, None, old_text(REQUEST)),
         (2, "reschedule: core", old_text(UNPLACED), old_text(PLACED), None),
         (3, "switch writes_off", "False", "True", "Crossmark writes off: on"),
         (4, "note", "", '{"cut": ', None),
         (5, "note", "5", "[]", None))


def cells(frame: pd.DataFrame, *columns: str) -> list[tuple]:
    """The frame's cells in these columns, row by row; a missing one (None, or NaN in a text column) as None."""
    return [tuple(None if pd.isna(value) else value for value in row) for row in frame[list(columns)].itertuples(
        index=False, name=None)]


def _migrate(engine: Engine, how: str, revision: str) -> None:
    with engine.begin() as connection:
        getattr(command, how)(_alembic_config(connection), revision)


@pytest.fixture
def at_0015(database_url: str):
    """A database at revision 0015 whose journal and audit trail hold the rows above, as text."""
    engine = make_engine(database_url, must_exist=False)
    _migrate(engine, "upgrade", "0015")
    with engine.begin() as connection:
        for operation_id, request, events in OPERATIONS:
            connection.execute(text(
                "INSERT INTO dashboard_operations (id, idempotency_key, kind, requested_by, requested_at, status, "
                "request, events, updated_at) VALUES (:id, :key, 'reschedule', 'dana', :now, 'done', :request, "
                ":events, :now)"), {"id": operation_id, "key": f"k{operation_id}", "now": NOW, "request": request,
                                    "events": events})
        for step_id, operation_id, request, result in STEPS:
            connection.execute(text(
                "INSERT INTO dashboard_operation_steps (id, operation_id, seq, event_ref, role, action, purpose, "
                "request, result, status, created_at) VALUES (:id, :operation, :id, 606001, 'core', 'schedule', "
                "'forward', :request, :result, 'ok', :now)"),
                {"id": step_id, "operation": operation_id, "request": request, "result": result, "now": NOW})
        for audit_id, action, before, after, message in AUDIT:
            connection.execute(text(
                'INSERT INTO dashboard_audit (id, at, actor, operation_id, action, "before", "after", message) '
                "VALUES (:id, :now, 'dana', 1, :action, :before, :after, :message)"),
                {"id": audit_id, "now": NOW, "action": action, "before": before, "after": after, "message": message})
    yield engine
    engine.dispose()


def _column_types(engine: Engine) -> dict[str, str]:
    inspector = inspect(engine)
    return {f"{table}.{column['name']}": type(column["type"]).__name__.upper()
            for table in ("dashboard_operations", "dashboard_operation_steps", "dashboard_audit")
            for column in inspector.get_columns(table)
            if column["name"] in ("request", "events", "result", "before", "after")}


def test_stored_text_reads_back_the_same_after_the_upgrade(at_0015: Engine):
    engine = at_0015
    _migrate(engine, "upgrade", "0016")

    json_type = "JSONB" if engine.dialect.name == "postgresql" else "JSON"
    assert set(_column_types(engine).values()) == {json_type}
    journal = Journal(engine)
    first, second, third, fourth = (journal.find(operation_id) for operation_id in (1, 2, 3, 4))
    assert (first.request, first.events) == (REQUEST, EVENTS)
    assert (fourth.request, fourth.events) == (WITH_NUL, [])
    # Not JSON, or nothing: the readers' empty values, as before (journal.read_json).
    assert (second.request, second.events, third.request, third.events) == ({}, [], {}, [])

    # The pages' and the export's cells are the stored text, character for character.
    trail = audit_frame(engine, since=date(2026, 1, 1))  # the newest (highest id) first
    assert cells(trail, "before", "after")[::-1] == [(before, after) for _, _, before, after, _ in AUDIT]
    export = csv_bytes(audit_frame(engine)).decode()
    assert '"{""cut"": "' in export and ",False,True," in export and old_text(PLACED).replace('"', '""') in export
    steps = operation_steps_frame(engine, 1)
    assert cells(steps, "request", "result") == [(request, result) for _, _, request, result in STEPS]

    # What the columns hold now: JSON values; text that was not JSON is a JSON string of exactly that text.
    with engine.connect() as connection:
        stored = dict(connection.execute(select(AuditEntry.id, AuditEntry.before)).all())
        step_requests = dict(connection.execute(select(OperationStep.id, OperationStep.request)).all())
        operations = dict(connection.execute(select(Operation.id, Operation.events)).all())
    assert stored == {1: None, 2: UNPLACED, 3: "False", 4: "", 5: 5}
    assert step_requests == {1: STEP_REQUEST, 2: '{"cut": '}
    assert operations == {1: EVENTS, 2: "", 3: None, 4: []}


def test_a_downgrade_gives_the_text_back(at_0015: Engine):
    engine = at_0015
    _migrate(engine, "upgrade", "0016")
    _migrate(engine, "downgrade", "0015")

    assert "JSON" not in "".join(_column_types(engine).values())
    with engine.connect() as connection:
        audit = {row[0]: row[1:] for row in connection.execute(
            text('SELECT id, "before", "after" FROM dashboard_audit ORDER BY id'))}
        operations = {row[0]: row[1:] for row in connection.execute(
            text("SELECT id, request, events FROM dashboard_operations ORDER BY id"))}
    # Text that was not JSON, exactly; JSON as JSON text (PostgreSQL orders a JSONB object's keys its own way).
    assert audit[3] == ("False", "True") and audit[4] == ("", '{"cut": ') and audit[1] == (None, None)
    assert (json.loads(audit[2][0]), json.loads(audit[2][1])) == (UNPLACED, PLACED)
    assert json.loads(audit[5][0]) == 5 and json.loads(audit[5][1]) == []
    assert operations[2] == ("not json {", "") and operations[3] == (None, None)
    assert json.loads(operations[4][0]) == WITH_NUL
    assert (json.loads(operations[1][0]), json.loads(operations[1][1])) == (REQUEST, EVENTS)


def test_new_entries_show_the_cells_the_text_columns_did(engine: Engine):
    """The journal writes JSON values now; the Audit page and its export still show the text it used to store."""
    after = {**PLACED, "start": datetime(2026, 12, 8, 10, 30)}  # a datetime is stored as ISO text, as before
    with engine.begin() as connection:
        Journal(engine).audit_event(connection, now=NOW, actor="dana", operation_id=None, event_ref=606001,
                                    action="reschedule: core", before=UNPLACED, after=after)
    (row,) = cells(audit_frame(engine, since=date(2026, 1, 1)), "before", "after")
    assert row == (to_json(UNPLACED), to_json(after)) == (old_text(UNPLACED), old_text(PLACED))


def test_a_nul_in_a_refused_request_is_journaled_as_u_fffd(engine: Engine):
    """JSONB holds no NUL in text; the journal records what was asked (bad input included) with U+FFFD in its place,
    on both databases."""
    journal = Journal(engine)
    record = journal.record_refused(key="k-nul", kind="reschedule", actor="dana", now=NOW, request=WITH_NUL,
                                    message="The note contains a NUL byte")
    assert journal.find(record.id).request == {"ref": 606001, "note": "a\ufffdb"}
