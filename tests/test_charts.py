"""Chart builders: pure functions; contrast, markers and muted zero days are checked on the figure itself."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard.charts import (
    TYPE_COLOURS, UNSTAFFED_LEGEND, WARNING_AMBER, ZERO_FILL, calendar_heatmap, contrast_ratio, scale_colour,
    type_counts_chart, unstaffed_words,
)
from services.event_rules import EVENT_TYPES


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


def test_heatmap_layout_markers_zero_days_and_text_contrast():
    table = _month({2: {"Core": 4, "Supervisor": 3, "Juicer": 1}, 3: {"Core": 20}, 10: {"Digitals": 2}}, {3: 2, 20: 1})
    figure = calendar_heatmap(table, date(2026, 2, 1), today=date(2026, 2, 10))
    heatmap, day_points, upcoming, past_due = figure.data
    # February 2026 starts on a Sunday: four full weeks plus the first (partial) week.
    assert len(heatmap.z) == 5 and heatmap.customdata[0][6] == "2026-02-01" and heatmap.z[0][0] is None
    assert heatmap.z[1][1] == 20 and heatmap.z[1][0] == 8  # Mon Feb 2 (8) and Tue Feb 3 (20)
    assert heatmap.showscale is True
    assert upcoming.marker.color == WARNING_AMBER and upcoming.marker.symbol == "triangle-up"
    assert len(day_points.customdata) == 28
    dashed = [shape for shape in figure.layout.shapes if shape.line.dash == "dash"]
    assert len(dashed) == 28 - 3  # every day without scheduled events is outlined as empty
    peak = 20
    for annotation in figure.layout.annotations:
        parts = annotation.text.split("<b>")
        total = int(parts[2].split("</b>")[0]) if len(parts) > 2 else 0
        background = ZERO_FILL if total == 0 else scale_colour(total / peak)
        assert contrast_ratio(annotation.font.color, background) >= 4.5, annotation.text
    feb_2 = next(a for a in figure.layout.annotations if a.text.startswith("<b>2</b>"))
    assert feb_2.text.endswith("<br>C4 J1 S3")
    assert any("today" in a.text for a in figure.layout.annotations if a.text.startswith("<b>10</b>"))


def test_heatmap_prints_no_zero_counts():
    table = _month({2: {"Core": 4, "Supervisor": 3}, 3: {"Core": 20}}, {})
    figure = calendar_heatmap(table, date(2026, 2, 1), today=date(2026, 2, 10))
    texts = {a.text.split("</b>")[0].removeprefix("<b>"): a.text for a in figure.layout.annotations}
    assert texts["2"].endswith("<br>C4 S3") and "0" not in texts["2"].split("<br>")[-1]
    assert texts["3"].endswith("<br>C20")
    assert texts["5"] == "<b>5</b>"  # a day with nothing: its number only, no 0 and no C0 J0 ...


def test_heatmap_marks_unstaffed_due_still_open_and_past_due_differently():
    table = _month({}, {3: 2, 10: 4, 20: 1})
    figure = calendar_heatmap(table, date(2026, 2, 1), today=date(2026, 2, 10))
    _, _, upcoming, past_due = figure.data
    assert list(upcoming.customdata) == ["2026-02-10", "2026-02-20"]  # today and later: ▲
    assert list(past_due.customdata) == ["2026-02-03"]  # its due day has passed: ✕
    assert upcoming.marker.symbol == "triangle-up" and past_due.marker.symbol != upcoming.marker.symbol
    assert past_due.marker.color != upcoming.marker.color
    assert "Feb 03: ✕ 2 Unstaffed past due" in past_due.text and "Feb 20: ▲ 1 Unstaffed due" in upcoming.text
    assert "▲" in UNSTAFFED_LEGEND and "✕" in UNSTAFFED_LEGEND and "past due" in UNSTAFFED_LEGEND
    assert unstaffed_words(date(2026, 2, 9), 3, date(2026, 2, 10)) == "✕ 3 Unstaffed past due"
    assert unstaffed_words(date(2026, 2, 10), 3, date(2026, 2, 10)) == "▲ 3 Unstaffed due"
    assert unstaffed_words(date(2026, 2, 11), 0, date(2026, 2, 10)) == ""


def test_heatmap_of_an_empty_month_draws_no_colour_bar_and_no_zeros():
    figure = calendar_heatmap(_month({}, {}), date(2026, 2, 1))
    heatmap, _, upcoming, past_due = figure.data
    assert {z for row in heatmap.z for z in row if z is not None} == {0}
    assert heatmap.showscale is False  # not a 0–1 scale of nothing: the page says the month is empty
    assert len(upcoming.x) == 0 and len(past_due.x) == 0
    assert all(shape.line.dash == "dash" for shape in figure.layout.shapes)
    assert all(annotation.text.count("<br>") == 0 for annotation in figure.layout.annotations)


def test_six_week_month_fits_the_heatmap_in_a_laptop_window():
    # August 2026 spans six weeks (Sat 1st to Mon 31st): the tallest month
    figure = calendar_heatmap(_month({}, {}, month=date(2026, 8, 1)), date(2026, 8, 1))
    assert len(figure.data[0].z) == 6 and figure.layout.height <= 580


def test_type_counts_chart_stacks_scheduled_and_unstaffed_separately():
    counts = pd.DataFrame({"period": [date(2026, 11, 2)] * 3, "event_type": ["Core", "Juicer", "Core"],
                           "state": ["Scheduled", "Scheduled", "Unstaffed"], "count": [5, 2, 1]})
    figure = type_counts_chart(counts, "week")
    names = {trace.name: (trace.offsetgroup, list(trace.y), trace.marker.color) for trace in figure.data}
    assert names == {"Core · Scheduled": ("Scheduled", [5], TYPE_COLOURS["Core"]),
                     "Juicer · Scheduled": ("Scheduled", [2], TYPE_COLOURS["Juicer"]),
                     "Core · Unstaffed": ("Unstaffed", [1], TYPE_COLOURS["Core"])}
    assert figure.layout.xaxis.title.text == "Week starting"
