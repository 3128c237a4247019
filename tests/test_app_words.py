"""AppTest: the words and numbers people read (issue 18) — statuses and kinds in plain words, no raw JSON on Audit
and Operations, refs as whole numbers, named months, a seven-day week (the shell and Data quality:
test_app_words_shell.py)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from sqlalchemy import insert

from services.store.tables import AuditEntry, Operation, OperationStep
from tests.test_app_pages import open_page  # noqa: F401 - the fixture that opens a page in AppTest

PLACEMENT = {"scheduled": True, "start": "2026-12-08T10:00:00", "employee_id": "US157005", "rep_id": "4711",
             "scheduled_event_id": "99001"}


def _column_configs(table) -> dict:  # noqa: ANN001 - an AppTest Dataframe
    return json.loads(table.proto.columns or "{}")


def _whole(config: dict) -> bool:
    return config.get("type_config", {}).get("format") == "%d"


def _journal_rows(engine) -> None:  # noqa: ANN001
    now = datetime.now().replace(microsecond=0)
    request = {"ref": 606001, "to": "2026-12-08T10:00:00"}
    with engine.begin() as connection:
        operation_id = connection.execute(insert(Operation).values(
            idempotency_key="words-1", kind="schedule_supervisor", requested_by="op1", requested_at=now,
            status="needs_attention", message="Crossmark did not answer", request=json.dumps(request),
            events=json.dumps([{"ref": 606001, "role": "core", "before": PLACEMENT, "after": PLACEMENT}]),
            updated_at=now).returning(Operation.id)).scalar_one()
        connection.execute(insert(OperationStep).values(
            operation_id=operation_id, seq=1, event_ref=606001, role="core", action="schedule", purpose="forward",
            request=json.dumps({"Start": "2026-12-08T10:00:00", "RepID": "4711"}), result=json.dumps(PLACEMENT),
            status="ok", created_at=now))
        connection.execute(insert(AuditEntry), [
            {"at": now, "actor": "op1", "operation_id": operation_id, "event_ref": None,
             "action": "schedule_supervisor requested", "before": None, "after": None, "message": json.dumps(request)},
            {"at": now, "actor": "op1", "operation_id": operation_id, "event_ref": 606001,
             "action": "schedule_supervisor: core", "before": json.dumps({"scheduled": False}),
             "after": json.dumps(PLACEMENT), "message": None}])


def _cells(frame) -> list[str]:  # noqa: ANN001 - a DataFrame
    return [str(value) for column in frame.columns for value in frame[column].tolist()]


def test_audit_and_operations_put_json_into_words(open_page, engine, database_url):  # noqa: F811
    _journal_rows(engine)
    audit = open_page(database_url, "audit")
    trail = audit.dataframe[0].value
    assert not [cell for cell in _cells(trail) if cell.lstrip().startswith(("{", "["))]
    assert {"before", "after", "message"}.isdisjoint(trail.columns)
    assert any("not scheduled → scheduled" in cell for cell in trail["detail"])
    assert any(cell.startswith("Requested: Schedule Supervisor") for cell in trail["what"])
    assert str(trail["event"].dtype) == "Int64" and 606001 in trail["event"].dropna().tolist()
    assert _whole(_column_configs(audit.dataframe[0])["event"])

    operations = open_page(database_url, "operations")
    assert any("Schedule Supervisor" in warning.value for warning in operations.warning)
    journal = next(frame for frame in operations.dataframe if frame.key == "ops_table").value
    assert journal["kind"].tolist() == ["Schedule Supervisor"] and journal["status"].tolist() == ["Needs attention"]
    assert operations.selectbox(key="ops_status").options[1:] == ["Pending", "In progress", "Done", "Refused",
                                                                  "Rolled back", "Needs attention", "Stuck",
                                                                  "Resolved"]
    operations.session_state["ops_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    operations.run()
    steps = operations.dataframe[-1]
    assert not [cell for cell in _cells(steps.value) if cell.lstrip().startswith(("{", "["))]
    assert steps.value["status"].tolist() == ["OK"]
    assert "schedule at" in steps.value["call"].iloc[0] and "Crossmark now has it scheduled" in steps.value["result"].iloc[0]
    assert _whole(_column_configs(steps)["event"])


def test_event_refs_are_whole_numbers_on_the_day_view(open_page, demo_database):  # noqa: F811
    app = open_page(demo_database.url, "day", date=(demo_database.today + timedelta(days=7)).isoformat(),
                    store="157384")
    with_refs = [frame for frame in app.dataframe if "Ref" in frame.value.columns]
    assert with_refs
    for frame in with_refs:
        assert _whole(_column_configs(frame)["Ref"])


def test_month_labels_name_the_month_and_the_week_is_seven_days(open_page, demo_database):  # noqa: F811
    today = demo_database.today
    first = today.replace(day=1)
    app = open_page(demo_database.url, "type_counts", period="month",
                    **{"from": first.isoformat(), "to": (first + timedelta(days=40)).isoformat()})
    months = app.dataframe[0].value["Month"].tolist()
    assert months and all(re.fullmatch(r"[A-Z][a-z]{2} \d{4}", month) for month in months)
    assert months[0] == f"{first:%b %Y}"

    overview = open_page(demo_database.url, "overview")
    last = today + timedelta(days=6)
    assert overview.caption[0].value.startswith(f"{today:%A %b %d} – {last:%A %b %d, %Y}")


