"""Chart builders and the Calendar's month grid: pure functions; contrast, marks and muted zero days are checked on
the cells and on the HTML the browser gets."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard.charts import (
    DARK_TEXT, PAST_DUE_RED, TYPE_COLOURS, UNSTAFFED_LEGEND, WARNING_AMBER, WEEKDAYS, ZERO_FILL, contrast_ratio,
    scale_colour, type_counts_chart, unstaffed_words,
)
from dashboard.month_grid import WEEK_ROW_PX, WEEKDAY_ROW_PX, day_link, month_grid, month_grid_html
from services.domain.event_rules import EVENT_TYPES
from tests.month_grid_cells import parse_grid


def _month(days_with_counts: dict[int, dict[str, int]], unstaffed: dict[int, int], month=date(2026, 2, 1)) -> pd.DataFrame:
    rows = []
    for day_number in range(1, 29):
        counts = {t: days_with_counts.get(day_number, {}).get(t, 0) for t in EVENT_TYPES}
        rows.append({"day": month.replace(day=day_number), **counts, "total": sum(counts.values()),
                     "unstaffed_due": unstaffed.get(day_number, 0)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_type_colours_carry_white_text_readably(event_type):
    assert contrast_ratio(TYPE_COLOURS[event_type], "#ffffff") >= 4.5


def test_contrast_ratio_known_values():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1.0)


def test_month_grid_cells_colours_marks_and_text_contrast():
    table = _month({2: {"Core": 4, "Supervisor": 3, "Juicer": 1}, 3: {"Core": 20}, 10: {"Digitals": 2}}, {3: 2, 20: 1})
    grid = month_grid(table, date(2026, 2, 1), today=date(2026, 2, 10))
    # February 2026 starts on a Sunday: four full weeks plus the first (partial) week, Monday first.
    assert len(grid.weeks) == 5 and grid.weeks[0].days[6].day == date(2026, 2, 1) and grid.weeks[0].days[0] is None
    assert [week.number for week in grid.weeks] == [5, 6, 7, 8, 9]  # ISO weeks
    assert grid.weeks[1].days[1].total == 20 and grid.weeks[1].days[0].total == 8  # Mon Feb 2 (8) and Tue Feb 3 (20)
    assert grid.busiest == 20 and len(grid.cells) == 28
    for cell in grid.cells:
        assert cell.background == (ZERO_FILL if cell.total == 0 else scale_colour(cell.total / 20))
        assert contrast_ratio(cell.text_colour, cell.background) >= 4.5, cell
    cells = {cell.day.day: cell for cell in grid.cells}
    assert cells[2].letters == "C4 J1 S3" and cells[2].per_type == {"Core": 4, "Juicer": 1, "Supervisor": 3}
    assert [day for day, cell in cells.items() if cell.is_today] == [10]
    assert {day: cell.mark for day, cell in cells.items() if cell.mark} == {3: "✕", 20: "▲"}
    assert cells[3].title(date(2026, 2, 10)) == "Tue Feb 03: 20 scheduled\nCore: 20\n✕ 2 Unstaffed past due"


def test_month_grid_html_shows_the_cells_links_and_outlines():
    table = _month({2: {"Core": 4, "Supervisor": 3, "Juicer": 1}, 3: {"Core": 20}, 10: {"Digitals": 2}}, {3: 2, 20: 1})
    shown = parse_grid(month_grid_html(month_grid(table, date(2026, 2, 1), today=date(2026, 2, 10)),
                                       store="157384", event_types=("Core", "Juicer")))
    assert shown.heads == list(WEEKDAYS) and shown.weeks == ["Wk 5", "Wk 6", "Wk 7", "Wk 8", "Wk 9"]
    assert [cell.day for cell in shown.cells] == [f"2026-02-{day:02d}" for day in range(1, 29)]
    cells = {int(cell.day[-2:]): cell for cell in shown.cells}
    assert cells[2].texts == {"mg-day": "2", "mg-total": "8", "mg-types": "C4 J1 S3"}
    assert cells[2].href == "day?date=2026-02-02&store=157384&types=Core%2CJuicer"  # the filters come along
    assert "background:" + scale_colour(8 / 20) in cells[2].style
    assert [day for day, cell in cells.items() if "mg-empty" in cell.classes] == \
        [day for day in range(1, 29) if day not in (2, 3, 10)]  # every day without scheduled events is dashed
    assert [day for day, cell in cells.items() if "mg-today" in cell.classes] == [10]
    assert cells[10].texts["mg-day"] == "10 · today"
    assert cells[3].texts["mg-mark"] == "✕ 2" and cells[20].texts["mg-mark"] == "▲ 1"
    assert cells[3].title == "Tue Feb 03: 20 scheduled\nCore: 20\n✕ 2 Unstaffed past due"
    assert shown.scale


def test_month_grid_prints_no_zero_counts():
    table = _month({2: {"Core": 4, "Supervisor": 3}, 3: {"Core": 20}}, {})
    cells = {int(cell.day[-2:]): cell for cell in parse_grid(month_grid_html(month_grid(table, date(2026, 2, 1))))
             .cells}
    assert cells[2].texts["mg-types"] == "C4 S3" and cells[3].texts["mg-types"] == "C20"
    assert cells[5].texts == {"mg-day": "5"}  # a day with nothing: its number only, no 0 and no C0 J0 ...
    assert "0 scheduled" not in cells[2].title and "Juicer" not in cells[2].title


def test_month_grid_marks_unstaffed_due_still_open_and_past_due_differently():
    grid = month_grid(_month({}, {3: 2, 10: 4, 20: 1}), date(2026, 2, 1), today=date(2026, 2, 10))
    assert {cell.day.isoformat(): cell.mark for cell in grid.cells if cell.mark} == {
        "2026-02-03": "✕", "2026-02-10": "▲", "2026-02-20": "▲"}  # today and later ▲, passed ✕
    shown = {cell.day: cell for cell in parse_grid(month_grid_html(grid)).cells}
    html = month_grid_html(grid)
    assert html.count('class="mg-mark mg-upcoming"') == 2 and html.count('class="mg-mark mg-past-due"') == 1
    assert shown["2026-02-20"].title.endswith("▲ 1 Unstaffed due")
    assert "▲" in UNSTAFFED_LEGEND and "✕" in UNSTAFFED_LEGEND and "past due" in UNSTAFFED_LEGEND
    assert unstaffed_words(date(2026, 2, 9), 3, date(2026, 2, 10)) == "✕ 3 Unstaffed past due"
    assert unstaffed_words(date(2026, 2, 10), 3, date(2026, 2, 10)) == "▲ 3 Unstaffed due"
    assert unstaffed_words(date(2026, 2, 11), 0, date(2026, 2, 10)) == ""


def test_marks_are_readable_badges():
    # dark on amber and white on red: an amber glyph on a pale cell would fail axe's contrast check
    assert contrast_ratio(DARK_TEXT, WARNING_AMBER) >= 4.5 and contrast_ratio("#ffffff", PAST_DUE_RED) >= 4.5


def test_month_grid_of_an_empty_month_draws_no_scale_and_no_zeros():
    grid = month_grid(_month({}, {}), date(2026, 2, 1))
    assert grid.busiest == 0 and {cell.total for cell in grid.cells} == {0}
    shown = parse_grid(month_grid_html(grid))
    assert not shown.scale  # not a 0–0 scale of nothing: the page says the month is empty
    assert all(cell.classes == {"mg-cell", "mg-empty"} and set(cell.texts) == {"mg-day"} for cell in shown.cells)


def test_six_week_month_fits_the_grid_in_a_laptop_window():
    # August 2026 spans six weeks (Sat 1st to Mon 31st): the tallest month
    grid = month_grid(_month({}, {}, month=date(2026, 8, 1)), date(2026, 8, 1))
    assert len(grid.weeks) == 6 and WEEKDAY_ROW_PX + 6 * (WEEK_ROW_PX + 4) <= 580


def test_day_links_escape_what_the_url_brought():
    link = day_link(date(2026, 2, 2), 'x"><script>', None)
    assert link == "day?date=2026-02-02&store=x%22%3E%3Cscript%3E"
    html = month_grid_html(month_grid(_month({2: {"Core": 1}}, {}), date(2026, 2, 1)), store='x"><i>')
    assert "<i>" not in html and 'href="day?date=2026-02-02&amp;store=x%22%3E%3Ci%3E"' in html


def test_type_counts_chart_stacks_scheduled_and_unstaffed_separately():
    counts = pd.DataFrame({"period": [date(2026, 11, 2)] * 3, "event_type": ["Core", "Juicer", "Core"],
                           "state": ["Scheduled", "Scheduled", "Unstaffed"], "count": [5, 2, 1]})
    figure = type_counts_chart(counts, "week")
    names = {trace.name: (trace.offsetgroup, list(trace.y), trace.marker.color) for trace in figure.data}
    assert names == {"Core · Scheduled": ("Scheduled", [5], TYPE_COLOURS["Core"]),
                     "Juicer · Scheduled": ("Scheduled", [2], TYPE_COLOURS["Juicer"]),
                     "Core · Unstaffed": ("Unstaffed", [1], TYPE_COLOURS["Core"])}
    assert figure.layout.xaxis.title.text == "Week starting"
