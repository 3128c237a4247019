"""AppTest (issue 20): batches on the pages, against a real database (the sprint2 scenario plus an Unstaffed CORE and
its Unstaffed Supervisor) and the sandbox Crossmark. The Bulk actions page: a rep out previewed item by item, confirmed
under the key fixed by the preview, reported per item with links, undone; missing Supervisors staffed; a rule's
findings fixed. The Unscheduled page's Staff selected. The Operations journal grouping batch items under their batch."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from services.actions.journal import Journal
from services.store.tables import Batch, BatchItemRow
from tests.test_app_pages import APP, _texts, open_page, signed_in_as  # noqa: F401 - open_page is a fixture
from tests.test_app_staffing import (  # noqa: F401 - world is a fixture
    CORE, DANA, FIRST_SLOT, SUPERVISOR, TOM, _select_unscheduled, _shown, assert_crossmark_agrees, placement,
    world,
)

DAY = date.today() + timedelta(days=7)
EMPTY_SELECTION = {"rows": [], "columns": [], "cells": []}


@pytest.fixture
def open_bulk(open_page):  # noqa: ANN001, ANN201 - the page matrix's opener (tests/test_app_pages.py)
    """The Bulk actions page, signed in as `role`."""
    return lambda url, role="operator": open_page(url, "bulk_actions", role)


def _table(app, columns: list[str]):  # noqa: ANN001, ANN202 - AppTest
    """The (last) dataframe whose first columns are `columns`."""
    frames = [frame.value for frame in app.dataframe if list(frame.value.columns)[:len(columns)] == columns]
    assert frames, [list(frame.value.columns) for frame in app.dataframe]
    return frames[-1]


def _batches(engine) -> list[tuple]:  # noqa: ANN001
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(Batch.id, Batch.kind, Batch.status, Batch.idempotency_key, Batch.requested_by).order_by(Batch.id))]


def _rep_out(app, employee: str, first: date, last: date):  # noqa: ANN001, ANN202
    app.selectbox(key="bulk_rep").set_value(employee).run()
    app.date_input(key="bulk_rep_from").set_value(first).run()
    app.date_input(key="bulk_rep_to").set_value(last).run()
    return app


def test_rep_out_from_preview_to_confirm_to_undo(open_bulk, world):
    url, engine = world
    app = _rep_out(open_bulk(url), DANA, DAY, DAY)
    assert not [b for b in app.button if b.key == "bulk_rep_out_go"]  # nothing to confirm before a preview
    app.button(key="bulk_rep_out_preview").click().run()
    preview = _table(app, ["#", "What", "Outcome", "Details"])
    # Dana holds CORE 606001: one item, which takes its Supervisor (Tom's) along.
    assert list(preview["What"]) == [f"Unschedule CORE 606001 (606001-CORE-Super Pretzel King Size) on "
                                     f"{datetime.combine(DAY, time(10, 30)):%a %b %d %H:%M}"]
    assert list(preview["Outcome"]) == ["Will run"]
    assert list(preview["Details"]) == ["CORE 606001 → unscheduled; Supervisor 606002 → unscheduled"]
    assert Journal(engine).list() == [] and _batches(engine) == []  # a preview sends and records nothing
    key = app.session_state["bulk_preview_rep_out"].key

    app.button(key="bulk_rep_out_go").click().run()
    assert not app.exception, app.exception
    assert _shown(app.success)[0].startswith("Batch 1 — Rep out: Done.")
    report = _table(app, ["#", "What", "Outcome", "Operation"])
    assert list(report["Outcome"]) == ["Done"] and list(report["Operation"]) == ["operations?operation=1"]
    assert list(report["Timeline"]) == ["timeline?ref=606001"]
    assert placement(engine, 606001) is None and placement(engine, 606002) is None
    assert_crossmark_agrees(url, engine, 606001, 606002)
    # The batch ran under the key the preview fixed; its item is operation 1, under a key derived from it.
    assert _batches(engine) == [(1, "rep_out", "done", key, "test-operator")]
    assert [(o.id, o.kind, o.status, o.idempotency_key) for o in Journal(engine).list()] == [
        (1, "unschedule", "done", "batch-1-item-1")]
    assert "bulk_rep_out_go" not in {b.key for b in app.button}  # a second click has nothing to run again

    app.button(key="bulk_undo_bulk").click().run()
    assert _shown(app.success)[0].startswith("Undo of batch 1 — Rep out: Done.")
    assert list(_table(app, ["#", "What", "Outcome"])["What"])[0].startswith("Undo: Unschedule CORE 606001")
    assert placement(engine, 606001) == (datetime.combine(DAY, time(10, 30)), DANA)
    assert placement(engine, 606002) == (datetime.combine(DAY, time(12, 30)), TOM)
    assert_crossmark_agrees(url, engine, 606001, 606002)
    assert "bulk_undo_bulk" not in {b.key for b in app.button}


def test_a_changed_form_needs_a_new_preview_and_a_bad_range_says_why(open_bulk, world):
    url, engine = world
    app = _rep_out(open_bulk(url), DANA, DAY, DAY)
    app.button(key="bulk_rep_out_preview").click().run()
    assert "bulk_rep_out_go" in {b.key for b in app.button}
    app.radio(key="bulk_mode").set_value("reassign_suggested").run()
    assert "bulk_rep_out_go" not in {b.key for b in app.button}
    assert any("preview again" in info for info in _shown(app.info))
    app.date_input(key="bulk_rep_to").set_value(DAY - timedelta(days=1)).run()
    app.button(key="bulk_rep_out_preview").click().run()
    assert any("ends" in error and "before it starts" in error for error in _shown(app.error))
    assert "bulk_rep_out_go" not in {b.key for b in app.button} and _batches(engine) == []


def test_rep_out_to_the_top_suggestions_names_who_gets_what_and_every_rule(open_bulk, world):
    url, engine = world
    app = _rep_out(open_bulk(url), "US157002", DAY, DAY)  # Marcus holds CORE 606999 at 11:00
    app.radio(key="bulk_mode").set_value("reassign_suggested").run()
    app.button(key="bulk_rep_out_preview").click().run()
    preview = _table(app, ["#", "What", "Outcome", "Details"])
    [what], [details], [rules] = preview["What"], preview["Details"], preview["Rules"]
    assert what.startswith("Give CORE 606999") and " to " in what
    taker = what.rsplit(" to ", 1)[1]
    assert details == f"CORE 606999 → {DAY:%Y-%m-%d} 11:00 with {taker}" and rules == "every rule passes"
    app.button(key="bulk_rep_out_go").click().run()
    assert _shown(app.success)[0].startswith("Batch 1 — Rep out: Done.")
    assert placement(engine, 606999)[0] == datetime.combine(DAY, time(11, 0))
    assert placement(engine, 606999)[1] != "US157002"
    assert_crossmark_agrees(url, engine, 606999)


def test_staff_missing_supervisors_and_fix_a_rules_findings(open_bulk, world):
    url, engine = world
    app = open_bulk(url)
    app.segmented_control(key="bulk_kind").set_value("Staff missing Supervisors").run()
    app.date_input(key="bulk_supervisors_from").set_value(DAY).run()
    app.date_input(key="bulk_supervisors_to").set_value(DAY).run()
    app.button(key="bulk_supervisors_preview").click().run()
    preview = _table(app, ["#", "What", "Outcome", "Details"])
    assert list(preview["What"]) == ["Staff the Supervisor of CORE 608001 (608001-CORE-Product With Unscheduled "
                                     f"Supervisor) on {datetime.combine(DAY, time(11, 30)):%a %b %d %H:%M} with "
                                     "Tom Alvarez"]  # the top lead: he worked at this store lately
    app.button(key="bulk_supervisors_go").click().run()
    assert _shown(app.success)[0].startswith("Batch 1 — Staff missing Supervisors: Done.")
    assert placement(engine, 608002) == (datetime.combine(DAY, time(13, 30)), TOM)
    assert_crossmark_agrees(url, engine, 608001, 608002)

    fix = open_bulk(url)
    fix.segmented_control(key="bulk_kind").set_value("Fix a rule's findings").run()
    fix.selectbox(key="bulk_rule").set_value("core_supervisor_unstaffed").run()
    fix.button(key="bulk_fix_preview").click().run()
    assert any("no open finding with a fix" in info for info in _shown(fix.info))  # staffed just now
    assert "bulk_fix_go" not in {b.key for b in fix.button}


def test_staff_selected_on_the_unscheduled_page(open_page, world):
    url, engine = world
    app = open_page(url, "unscheduled", role="operator")
    frame = next(table for table in app.dataframe if table.key == "unscheduled_table").value
    refs = list(frame["ref"])
    app.session_state["unscheduled_table"] = {"selection": {**EMPTY_SELECTION, "rows": sorted(
        refs.index(ref) for ref in (CORE, SUPERVISOR, 608002))}}
    app.run()
    assert not [b for b in app.button if b.key == "unscheduled_staff"]  # one event's actions: for one row
    assert any(line == "**3 events selected**" for line in _texts(app.markdown))
    app.button(key="bulk_staff_selected_preview").click().run()
    preview = _table(app, ["#", "What", "Outcome", "Details"])
    # CORE 609001 takes its selected Supervisor along (one item); 608002 is staffed beside its scheduled CORE.
    assert list(preview["What"]) == [
        f"Staff the Supervisor of CORE 608001 (608001-CORE-Product With Unscheduled Supervisor) on "
        f"{datetime.combine(DAY, time(11, 30)):%a %b %d %H:%M} with Tom Alvarez",
        f"Staff CORE {CORE} ({CORE}-CORE-Staffing Demo Cookies) at {FIRST_SLOT:%a %b %d %H:%M} with Dana Whitfield",
    ]  # in the listing's order: 608002, 609001 (609002 goes with its CORE)
    assert set(preview["Outcome"]) == {"Will run"}
    app.button(key="bulk_staff_selected_go").click().run()
    assert not app.exception, app.exception
    assert _shown(app.success)[0].startswith("Batch 1 — Staff selected events: Done.")
    assert placement(engine, CORE) == (FIRST_SLOT, DANA)
    assert placement(engine, SUPERVISOR)[0] == FIRST_SLOT + timedelta(hours=2)
    assert placement(engine, 608002) == (datetime.combine(DAY, time(13, 30)), TOM)
    assert_crossmark_agrees(url, engine, CORE, SUPERVISOR, 608001, 608002)
    # the staffed events left the listing, and with them the selection
    listed = set(next(table for table in app.dataframe if table.key == "unscheduled_table").value["ref"]) \
        if any(table.key == "unscheduled_table" for table in app.dataframe) else set()
    assert not listed & {CORE, SUPERVISOR, 608002}


def test_the_operations_journal_groups_a_batchs_items_under_it(open_bulk, open_page, world):
    url, engine = world
    app = _rep_out(open_bulk(url), "US157005", DAY, DAY)  # Tom: Supervisor 606002 alone
    app.button(key="bulk_rep_out_preview").click().run()
    app.button(key="bulk_rep_out_go").click().run()
    single = open_page(url, "day", role="operator", date=DAY.isoformat())  # and one action outside any batch
    single.button(key="btn_us_606999").click().run()
    single.checkbox(key="us_ok_606999").check().run()
    single.button(key="us_go_606999").click().run()

    operations = open_page(url, "operations", role="operator")
    batches = _table(operations, ["Batch", "When", "Kind", "Status", "Items", "Done"])
    assert list(batches[["Batch", "Kind", "Status", "Items", "Done", "Refused"]].itertuples(index=False,
                                                                                           name=None)) == [
        (1, "Rep out", "Done", 1, 1, 0)]
    journal = _table(operations, ["operation", "requested_at", "kind"])
    assert {int(operation): None if pd.isna(batch) else int(batch)
            for operation, batch in zip(journal["operation"], journal["batch"])} == {2: None, 1: 1}
    assert not [line for line in _texts(operations.markdown) if line.startswith("**Batch 1 (Rep out)")]

    linked = open_page(url, "operations", role="operator", batch="1")  # the report's link
    items = _table(linked, ["#", "What", "Store"])
    assert list(items["What"]) == [f"Unschedule Supervisor 606002 (606001-Supervisor-Super Pretzel King Size) on "
                                   f"{datetime.combine(DAY, time(12, 30)):%a %b %d %H:%M}"]
    assert list(items["Status"]) == ["Done"] and list(items["Operation"]) == ["operations?operation=1"]
    steps = open_page(url, "operations", role="operator", operation="1")
    assert "Operation 1: steps" in _texts(steps.subheader)
    with engine.connect() as connection:
        assert connection.execute(select(BatchItemRow.operation_id)).scalars().all() == [1]


def test_items_that_would_be_refused_say_why_and_nothing_is_offered_to_run(open_bulk, world):
    url, engine = world
    app = _rep_out(open_bulk(url), "US157002", DAY, DAY)  # Marcus's CORE 606999 to Dana, who works CORE 606001
    app.radio(key="bulk_mode").set_value("reassign_to").run()
    assert "bulk_rep_out_preview" not in {b.key for b in app.button}  # first say who takes over
    app.selectbox(key="bulk_to").set_value(DANA).run()
    app.button(key="bulk_rep_out_preview").click().run()
    preview = _table(app, ["#", "What", "Outcome", "Details"])
    assert list(preview["Outcome"]) == ["Will be refused"]
    assert "Dana Whitfield already works CORE 606001" in preview["Details"][0]
    assert any("Every item would be refused" in warning for warning in _shown(app.warning))
    assert "bulk_rep_out_go" not in {b.key for b in app.button}
    assert _batches(engine) == [] and Journal(engine).list() == []
