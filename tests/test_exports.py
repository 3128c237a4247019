"""Exports stay data (issue 17): no CSV or Excel cell is a formula, refs stay whole numbers, and a page's download
has every row its filters select, read back with the csv module and openpyxl, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from datetime import date, datetime, timedelta

import numpy as np
import openpyxl
import pandas as pd
import pytest
from sqlalchemy import insert

from services.reads.exports import csv_bytes, xlsx_bytes
from services.quality.checks import FINDINGS_LISTING_LIMIT
from services.reads.read_queries import AUDIT_LISTING_LIMIT, UNSCHEDULED_LISTING_LIMIT
from services.store.tables import AuditEntry, CheckRun, Event, QualityFinding
from tests.test_app_pages import open_page  # noqa: F401 - the fixture that opens a page in AppTest

# Text a spreadsheet would run as a formula (OWASP's list), then text that must only survive the trip unchanged.
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
AWKWARD = ['Club "North", aisle 3\nback room', "Café Zürich – 東京 ✓", "a bare CR\r=1+1 inside"]


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def read_xlsx(data: bytes) -> list[tuple[openpyxl.cell.Cell, ...]]:
    return list(openpyxl.load_workbook(io.BytesIO(data)).worksheets[0].iter_rows())


def hostile_frame() -> pd.DataFrame:
    texts = FORMULAS + AWKWARD
    return pd.DataFrame({
        "name": texts,
        "note": [None if index % 4 == 0 else text for index, text in enumerate(reversed(texts))],
        "balance": [-2, -5, 3, 0, -1, 7, 8, -9, 10],  # real numbers, negative ones included
        "ref": [1001999.0, np.nan, 606001.0, 5.0, np.nan, 1.0, 2.0, 3.0, 4.0],  # ints with a gap, as pandas reads them
        "share": [0.5, 1.0, np.nan, 2.25, 0.0, 1.5, 3.0, 4.0, 5.0],  # real fractions stay fractions
        "at": [datetime(2025, 3, 4, 9, 30)] * 8 + [pd.NaT],
    })


def test_csv_puts_a_quote_before_text_a_spreadsheet_would_run_and_keeps_the_rest_exact():
    frame = hostile_frame()
    header, *rows = read_csv(csv_bytes(frame))
    assert header == ["name", "note", "balance", "ref", "share", "at"]
    assert len(rows) == len(frame)
    for row, expected in zip(rows, frame.itertuples(index=False)):
        for cell, text in ((row[0], expected.name), (row[1], expected.note)):
            if pd.isna(text):
                assert cell == ""
            elif text in FORMULAS:
                assert cell == "'" + text
            else:
                assert cell == text
        assert row[2] == str(expected.balance)  # a negative number stays a number: no quote
    assert [row[3] for row in rows] == ["1001999", "", "606001", "5", "", "1", "2", "3", "4"]
    assert [row[4] for row in rows] == ["0.5", "1.0", "", "2.25", "0.0", "1.5", "3.0", "4.0", "5.0"]
    assert [row[5] for row in rows] == ["2025-03-04 09:30:00"] * 8 + [""]


def test_excel_writes_text_as_string_cells_with_the_text_exact_and_numbers_as_numbers():
    frame = hostile_frame()
    data = xlsx_bytes(frame, "Findings")
    header, *rows = read_xlsx(data)
    assert [cell.value for cell in header] == ["name", "note", "balance", "ref", "share", "at"]
    assert len(rows) == len(frame)
    for row, expected in zip(rows, frame.itertuples(index=False)):
        for cell, text in ((row[0], expected.name), (row[1], expected.note)):
            if pd.isna(text):
                assert cell.value is None
                continue
            # A string cell is never evaluated, so the text stays exact (no leading quote; a CR is a line feed, as
            # XML reads it); the quote prefix keeps it text even when someone edits the cell in Excel.
            assert (cell.data_type, cell.value) == ("s", text.replace("\r", "\n"))
            assert cell.quotePrefix == (text in FORMULAS)
        assert (row[2].data_type, row[2].value) == ("n", expected.balance)
    assert [row[3].value for row in rows] == [1001999, None, 606001, 5, None, 1, 2, 3, 4]
    assert all(type(row[3].value) is int for row in rows if row[3].value is not None)
    assert [row[4].value for row in rows] == [0.5, 1, None, 2.25, 0, 1.5, 3, 4, 5]
    assert [row[5].value for row in rows] == [datetime(2025, 3, 4, 9, 30)] * 8 + [None]
    assert all(row[5].is_date for row in rows[:8])
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode("utf-8")
    assert "<f>" not in sheet and "<f " not in sheet  # no formula anywhere in the file itself
    assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames == ["Findings"]


def test_values_that_are_not_plain_become_checked_text_and_xlsx_survives_control_characters():
    class Shown:
        def __str__(self) -> str:
            return "=1+1"

    frame = pd.DataFrame({"detail": [{"ref": 1}, Shown(), "bell\x07"], "day": [date(2025, 1, 2), None, None]})
    rows = read_csv(csv_bytes(frame))[1:]
    assert [row[0] for row in rows] == ["{'ref': 1}", "'=1+1", "bell\x07"]
    assert [row[1] for row in rows] == ["2025-01-02", "", ""]
    cells = read_xlsx(xlsx_bytes(frame, "Sheet"))[1:]
    assert [(row[0].data_type, row[0].value) for row in cells] == [("s", "{'ref': 1}"), ("s", "=1+1"),
                                                                   ("s", "bell\ufffd")]


def test_a_header_that_starts_like_a_formula_is_neutralised_too():
    frame = pd.DataFrame({"=cmd": ["x"], "-total": [1]})
    assert read_csv(csv_bytes(frame))[0] == ["'=cmd", "'-total"]
    header = read_xlsx(xlsx_bytes(frame, "Sheet"))[0]
    assert [(cell.data_type, cell.value) for cell in header] == [("s", "=cmd"), ("s", "-total")]


# --- The pages' downloads ---------------------------------------------------------------------------------------


@pytest.fixture
def downloads(monkeypatch) -> dict[str, Callable[[], bytes]]:
    """What each download button hands the browser, by file name: its bytes, or (deferred) the bytes it makes when
    pressed. Recorded where Streamlit stores them, so nothing in the app is bypassed."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    offered: dict[str, Callable[[], bytes]] = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def recording_add(self, data, mimetype, coordinates, file_name=None, is_for_static_download=False):  # noqa: ANN001
        if is_for_static_download:
            offered[file_name] = lambda: data
        return add(self, data, mimetype, coordinates, file_name=file_name,
                   is_for_static_download=is_for_static_download)

    def recording_add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **options):  # noqa: ANN001
        offered[file_name] = data_callable
        return add_deferred(self, data_callable, mimetype, coordinates, file_name=file_name, **options)

    monkeypatch.setattr(MediaFileManager, "add", recording_add)
    monkeypatch.setattr(MediaFileManager, "add_deferred", recording_add_deferred)
    return offered


def _findings(count: int, severity: str, run_id: int, now: datetime, first_id: int) -> list[dict]:
    return [{"identity": f"test:{severity}:{index}", "rule": "core_supervisor_unstaffed", "severity": severity,
             "event_number": "606001", "store": "157384", "refs": "[]", "detail": f"finding {index}",
             "core_ref": None if index % 3 == 0 else 1001999 + index, "supervisor_ref": None,
             "day": now.date(), "first_seen": now, "last_seen": now, "first_run_id": run_id, "last_run_id": run_id,
             "acknowledged_by": "admin" if index == 1 else None,
             "acknowledgement_note": FORMULAS[0] if index == 1 else None} for index in range(first_id, first_id + count)]


def test_findings_downloads_have_every_filtered_finding_and_no_formula(open_page, downloads, engine,  # noqa: F811
                                                                       database_url):
    """More open findings than the table lists: both downloads have each one the severity filter selects."""
    now = datetime.now().replace(microsecond=0)
    warnings = FINDINGS_LISTING_LIMIT + 3
    with engine.begin() as connection:
        run_id = connection.execute(insert(CheckRun).values(
            started_at=now, finished_at=now, status="done", rules="core_supervisor_unstaffed", triggered_by="test",
            findings=warnings + 2).returning(CheckRun.id)).scalar_one()
        connection.execute(insert(QualityFinding), _findings(warnings, "warning", run_id, now, 0)
                           + _findings(2, "info", run_id, now, warnings))
    app = open_page(database_url, "data_quality")
    app.selectbox(key="dq_sev").set_value("warning").run()
    assert not app.exception, app.exception
    assert any(f"{FINDINGS_LISTING_LIMIT:,} most severe findings" in caption.value for caption in app.caption)

    header, *rows = read_csv(downloads["findings.csv"]())
    assert len(rows) == warnings
    by_detail = {row[header.index("detail")]: dict(zip(header, row)) for row in rows}
    assert {row["severity"] for row in by_detail.values()} == {"warning"}
    assert by_detail["finding 1"]["note"] == "'" + FORMULAS[0]
    assert by_detail["finding 0"]["core_ref"] == "" and by_detail["finding 2"]["core_ref"] == "1002001"

    sheet_header, *cells = read_xlsx(downloads["findings.xlsx"]())
    assert len(cells) == warnings
    names = [cell.value for cell in sheet_header]
    note = next(row[names.index("note")] for row in cells if row[names.index("detail")].value == "finding 1")
    assert (note.data_type, note.value) == ("s", FORMULAS[0])
    assert {type(row[names.index("core_ref")].value) for row in cells} == {int, type(None)}


def test_unscheduled_download_has_every_event_of_the_chosen_urgency(open_page, downloads, engine,  # noqa: F811
                                                                    database_url):
    """More Past due events than the table lists: the CSV has each of them, names neutralised, refs whole."""
    due = datetime.combine(date.today() - timedelta(days=2), datetime.min.time()).replace(hour=12)
    past_due = UNSCHEDULED_LISTING_LIMIT + 4

    def event(ref: int, due_at: datetime, name: str) -> dict:
        return {"project_name": name, "project_ref_num": ref, "location_mvid": "157384",
                "store_number": None if ref % 2 else 8135, "store_name": "Indianapolis", "start_datetime": due_at,
                "due_datetime": due_at, "is_scheduled": False, "event_type": "Juicer", "condition": "Unstaffed"}

    with engine.begin() as connection:
        connection.execute(insert(Event), [event(700000 + index, due, FORMULAS[index % len(FORMULAS)])
                                           for index in range(past_due)]
                           + [event(800000 + index, due + timedelta(days=30), "later") for index in range(3)])
    app = open_page(database_url, "unscheduled", bucket="Past due")
    assert any(f"of {past_due:,}; the CSV has all of them" in caption.value for caption in app.caption)

    header, *rows = read_csv(downloads["unscheduled-events.csv"]())
    assert len(rows) == past_due
    assert {row[header.index("bucket")] for row in rows} == {"Past due"}
    assert sorted(int(row[header.index("ref")]) for row in rows) == list(range(700000, 700000 + past_due))
    assert {row[header.index("store_number")] for row in rows} == {"8135", ""}
    assert {row[header.index("name")] for row in rows} == {"'" + text for text in FORMULAS}


def test_audit_download_has_every_entry_the_filters_select(open_page, downloads, engine, database_url):  # noqa: F811
    at = datetime.now().replace(microsecond=0)
    entries = AUDIT_LISTING_LIMIT + 2
    with engine.begin() as connection:
        connection.execute(insert(AuditEntry), [
            {"at": at, "actor": "admin", "operation_id": None, "event_ref": None if index % 2 else 606000 + index,
             "action": "note", "before": None, "after": None, "message": "@SUM(A1)"} for index in range(entries)])
    app = open_page(database_url, "audit")
    app.text_input(key="audit_actor").set_value("admin").run()  # signing in recorded an account change by another
    assert any(f"{AUDIT_LISTING_LIMIT:,} newest entries" in caption.value for caption in app.caption)
    header, *rows = read_csv(downloads["audit.csv"]())
    assert len(rows) == entries
    assert {row[header.index("message")] for row in rows} == {"'@SUM(A1)"}
    assert {row[header.index("event")] for row in rows if row[header.index("event")]} == {
        str(606000 + index) for index in range(0, entries, 2)}
