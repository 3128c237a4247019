"""AppTest (issue 18, look and layout): the Calendar prints no zero counts, marks Unstaffed due still open (▲) and
past due (✕) differently, says an empty month in words and lists the month's days for phones; the Day view's table
mode lists every event of the day in time order with its store number and name, and the chosen row's actions."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from sqlalchemy import text

from tests.test_app_actions import DAY, sprint2  # noqa: F401 - the shared fixture
from tests.month_grid_cells import parse_day_list, parse_grid
from tests.test_app_pages import _texts, empty_url, open_page  # noqa: F401


def _grid(app):  # noqa: ANN001, ANN202
    """The Calendar's month grid as the browser gets it (the st.html block), read back into cells."""
    bodies = [element.proto.body for element in app.get("html") if 'class="mg-grid"' in element.proto.body]
    assert len(bodies) == 1, "no month grid"
    return parse_grid(bodies[0])


def _day_list(app):  # noqa: ANN001, ANN202
    """The Calendar's list of days for phones (its st.html block), read back; None when the page draws none."""
    bodies = [element.proto.body for element in app.get("html") if 'class="mg-list"' in element.proto.body]
    assert len(bodies) <= 1
    return parse_day_list(bodies[0]) if bodies else None


def _day_links(app) -> list[str]:  # noqa: ANN001
    listed = _day_list(app)
    return [] if listed is None else [day.label for day in listed.days]


def _move_due(engine, ref: int, due: datetime) -> None:  # noqa: ANN001
    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET due_datetime = :due WHERE project_ref_num = :ref"),
                           {"due": due, "ref": ref})


def test_calendar_cells_and_day_list_print_no_zero_counts(open_page, sprint2):
    url, _ = sprint2
    app = open_page(url, "calendar", month=f"{DAY:%Y-%m}")
    cells = {cell.day: cell for cell in _grid(app).cells}
    day_cell = cells[DAY.isoformat()]
    assert day_cell.texts["mg-types"] == "C3 S1" and day_cell.texts["mg-total"] == "4"  # no J0 F0 D0 O0
    assert day_cell.href == f"day?date={DAY.isoformat()}"  # each cell opens its day
    shown = [" ".join(cell.texts.values()) for cell in cells.values()]
    assert not any(re.search(r"\b[CJSFDO]0\b|^0$", text) for cell in cells.values() for text in cell.texts.values()), \
        shown
    listed = {day.day: day for day in _day_list(app).days}
    assert listed[DAY.isoformat()].counts == "Core 3 · Supervisor 1"
    assert listed[DAY.isoformat()].href == f"day?date={DAY.isoformat()}"  # each listed day opens its day too
    assert listed[DAY.isoformat()].label.startswith(f"{DAY:%a %b %d}") and "4 scheduled" in listed[DAY.isoformat()].label
    assert "Days not listed have nothing scheduled or due." in _day_list(app).note
    captions = [day.counts for day in listed.values()]
    # the filters come along to the Day view the cell opens
    filtered = open_page(url, "calendar", month=f"{DAY:%Y-%m}", types="Core")
    day_cell = next(cell for cell in _grid(filtered).cells if cell.day == DAY.isoformat())
    assert day_cell.href == f"day?date={DAY.isoformat()}&types=Core" and day_cell.texts["mg-types"] == "C3"
    filtered_day = next(day for day in _day_list(filtered).days if day.day == DAY.isoformat())
    assert filtered_day.href == day_cell.href and filtered_day.counts == "Core 3"  # the list keeps the filters too
    assert not any(re.search(r"\b0 scheduled|\w+ 0\b", label) for label in _day_links(app) + captions)


def test_unstaffed_marks_read_still_open_and_past_due_differently(open_page, sprint2):
    url, engine = sprint2
    # 608002 (Unstaffed) due today+11: still open, ▲
    app = open_page(url, "calendar", month=f"{date.today() + timedelta(days=11):%Y-%m}")
    due_day = date.today() + timedelta(days=11)
    marks = {cell.day: cell.texts.get("mg-mark") for cell in _grid(app).cells if "mg-mark" in cell.texts}
    assert marks == {due_day.isoformat(): "▲ 1"}
    assert next(day.counts for day in _day_list(app).days if day.day == due_day.isoformat()).endswith(
        "▲ 1 Unstaffed due")
    assert any("▲ amber" in caption and "✕ red" in caption and "past due" in caption for caption in _texts(app.caption))

    # due forty days ago: past due, ✕, not ▲
    past = date.today() - timedelta(days=40)
    _move_due(engine, 608002, datetime.combine(past, datetime.min.time()).replace(hour=18))
    app = open_page(url, "calendar", month=f"{past:%Y-%m}")
    marks = {cell.day: cell.texts.get("mg-mark") for cell in _grid(app).cells if "mg-mark" in cell.texts}
    assert marks == {past.isoformat(): "✕ 1"}
    assert next(day.counts for day in _day_list(app).days if day.day == past.isoformat()).endswith(
        "✕ 1 Unstaffed past due")


def test_an_empty_month_says_so_and_draws_no_colour_bar(open_page, empty_url):
    app = open_page(empty_url, "calendar", month="2026-02")
    assert any("Nothing is scheduled or due in February 2026" in info for info in _texts(app.info))
    grid = _grid(app)
    assert not grid.scale and len(grid.cells) == 28
    assert all(set(cell.texts) == {"mg-day"} and "mg-empty" in cell.classes for cell in grid.cells)
    assert _day_links(app) == []


def test_day_table_lists_every_event_in_time_order_with_store_number_and_name(open_page, sprint2):
    url, _ = sprint2
    app = open_page(url, "day", role="operator", date=DAY.isoformat(), view="table")
    assert app.segmented_control(key="day_layout").value == "Table"
    assert app.query_params["view"] == "table"
    table = app.dataframe[0].value
    assert list(table.columns) == ["Time", "Type", "Event", "Ref", "Store", "Store name", "Rep", "Pair"]
    assert list(table["Ref"]) == [606001, 606999, 608001, 606002]  # 10:30, 11:00, 11:30, 12:30
    assert list(table["Time"]) == sorted(table["Time"])
    assert set(table["Store"]) == {8135} and all("Sam's Club" in name for name in table["Store name"])
    pairs = dict(zip(table["Ref"], table["Pair"]))
    assert pairs[606001].startswith("Supervisor 606002 scheduled")
    assert pairs[606002].startswith("Supervisor of CORE 606001")
    assert pairs[608001] == "Supervisor 608002 is Unstaffed" and pairs[606999] == "No Supervisor event"
    assert not any(button.key and button.key.startswith("btn_") for button in app.button)  # no row chosen yet

    # choosing a row shows that event's actions, named
    from dashboard.day_cards import table_key

    refs = tuple(table["Ref"])
    app.session_state[table_key(refs)] = {"selection": {"rows": [refs.index(608001)], "columns": []}}
    app.run()
    assert {button.key for button in app.button if button.key and button.key.startswith("btn_")} == {
        "btn_rs_608001", "btn_us_608001", "btn_ra_608001", "btn_ss_608001"}
    assert any("ref 608001" in markdown for markdown in _texts(app.markdown))

    # back to cards: the choice is in the URL, and the cards come back
    app.segmented_control(key="day_layout").set_value("Cards").run()
    assert "view" not in app.query_params
    assert any(markdown.startswith("<span") and "ref 606001" in markdown for markdown in _texts(app.markdown))


def test_day_cards_read_left_to_right_in_time_order(open_page, sprint2):
    url, _ = sprint2
    app = open_page(url, "day", role="operator", date=DAY.isoformat())
    cores = [int(match) for markdown in _texts(app.markdown) for match in re.findall(r"ref (\d+) ·", markdown)]
    assert cores == [606001, 606999, 608001]  # 10:30, 11:00, 11:30: first row left, first row right, second row
    # headings in order: the day (h1), then one h2 per type; no h3 straight under the h1
    assert [header.value for header in app.header][:1] == ["Core · 3"] and len(app.subheader) == 0
