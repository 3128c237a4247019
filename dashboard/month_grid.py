"""The Calendar's month as an HTML grid (weeks × weekdays), built from plain data (no Streamlit, no database).

The month used to be a plotly heatmap; the browser spent ~1.9 s loading and drawing plotly for 42 cells (issue 18).
HTML draws with the page, and every cell is a link to its day. `month_grid` returns the cells as data, which the
tests compare with plain SQL counts; `month_grid_html` only lays that data out."""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from html import escape
from urllib.parse import urlencode

import pandas as pd

from dashboard.charts import (
    DARK_TEXT, MUTED_TEXT, PAST_DUE_MARK, PAST_DUE_RED, SCALE_HIGH, SCALE_LOW, TYPE_LETTERS, UPCOMING_MARK,
    WARNING_AMBER, WEEKDAYS, ZERO_FILL, readable_text_colour, scale_colour, unstaffed_mark, unstaffed_words,
)
from services.domain.event_rules import EVENT_TYPES

# One week's row and the weekday names above the first: six weeks, the page's heading and filters fit in a 1000 px
# high window (tests/e2e/test_calendar_day_layout.py).
WEEK_ROW_PX, WEEKDAY_ROW_PX = 84, 24


@dataclass(frozen=True)
class DayCell:
    """One day of the month as its cell shows it."""
    day: date
    total: int  # scheduled events
    per_type: dict[str, int]  # the types with at least one event that day, in EVENT_TYPES order (no zeros)
    unstaffed_due: int
    mark: str  # UPCOMING_MARK, PAST_DUE_MARK or "" (charts.unstaffed_mark)
    is_today: bool
    background: str
    text_colour: str

    @property
    def letters(self) -> str:
        """"C4 J1 S3": the cell's per-type line."""
        return " ".join(f"{TYPE_LETTERS[event_type]}{count}" for event_type, count in self.per_type.items())

    def title(self, today: date | None) -> str:
        """The hover: the day, its total, every type with events in words and the Unstaffed due."""
        lines = [f"{self.day:%a %b %d}{' (today)' if self.is_today else ''}: {self.total} scheduled",
                 *(f"{event_type}: {count}" for event_type, count in self.per_type.items())]
        if self.mark:
            lines.append(unstaffed_words(self.day, self.unstaffed_due, today))
        return "\n".join(lines)


@dataclass(frozen=True)
class Week:
    number: int  # ISO week number, as the team counts weeks
    days: tuple[DayCell | None, ...]  # Monday to Sunday; None for days of the neighbouring months


@dataclass(frozen=True)
class MonthGrid:
    month: date
    today: date | None
    weeks: tuple[Week, ...]
    busiest: int  # the highest day total: the colour scale runs from 0 to it

    @property
    def cells(self) -> list[DayCell]:
        return [cell for week in self.weeks for cell in week.days if cell is not None]


def month_grid(month_table: pd.DataFrame, month: date, today: date | None = None) -> MonthGrid:
    """The month's cells from services.reads.read_queries.month_calendar's frame (day, one column per type, total,
    unstaffed_due): colour by scheduled count, dark or white text by contrast, Unstaffed due marked ▲ while its day
    is today or later and ✕ once it has passed; a day with nothing scheduled is muted."""
    # Plain dicts per day: a pandas row lookup (.loc) per cell cost more than the rest of the grid together.
    by_day = {row["day"]: row for row in month_table.to_dict("records")}
    busiest = max((int(row["total"]) for row in by_day.values()), default=0)
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        days: list[DayCell | None] = []
        for day in week:
            row = by_day.get(day)
            if day.month != month.month or row is None:
                days.append(None)
                continue
            total, unstaffed = int(row["total"]), int(row["unstaffed_due"])
            background = ZERO_FILL if total == 0 else scale_colour(total / max(busiest, 1))
            days.append(DayCell(
                day=day, total=total, unstaffed_due=unstaffed, mark=unstaffed_mark(day, unstaffed, today),
                per_type={event_type: int(row[event_type]) for event_type in EVENT_TYPES if int(row[event_type])},
                is_today=day == today, background=background,
                text_colour=MUTED_TEXT if total == 0 else readable_text_colour(background)))
        weeks.append(Week(number=week[0].isocalendar().week, days=tuple(days)))
    return MonthGrid(month=month, today=today, weeks=tuple(weeks), busiest=busiest)


def day_link(day: date, store: str | None, event_types: tuple[str, ...] | None) -> str:
    """The cell's link to its Day view, keeping the filters (relative: it works under any base path)."""
    params = {"date": day.isoformat(), **({"store": store} if store else {}),
              **({"types": ",".join(event_types)} if event_types else {})}
    return "day?" + urlencode(params)


# Marks are badges (dark on amber, white on red) rather than coloured glyphs: an amber ▲ on a pale cell would not
# reach the 4.5:1 contrast axe asks of text.
_MARK_STYLE = {UPCOMING_MARK: f"background:{WARNING_AMBER};color:{DARK_TEXT}",
               PAST_DUE_MARK: f"background:{PAST_DUE_RED};color:#ffffff"}
_MARK_CLASS = {UPCOMING_MARK: "mg-upcoming", PAST_DUE_MARK: "mg-past-due"}

_STYLE = f"""<style>
.mg-grid {{ display:grid; grid-template-columns:44px repeat(7, minmax(0, 1fr)); gap:4px;
  grid-template-rows:{WEEKDAY_ROW_PX}px; grid-auto-rows:{WEEK_ROW_PX}px; font-size:12px; line-height:1.3; }}
.mg-grid .mg-head {{ align-self:end; text-align:center; color:{MUTED_TEXT};
  font-weight:600; }}
.mg-week {{ display:flex; align-items:center; justify-content:flex-end; padding-right:4px; color:{MUTED_TEXT}; }}
.mg-cell {{ position:relative; display:flex; flex-direction:column; align-items:center; justify-content:center;
  border-radius:4px; text-decoration:none !important; border:1px solid transparent; }}
.mg-cell:hover, .mg-cell:focus-visible {{ outline:2px solid #1565c0; outline-offset:1px; }}
.mg-empty {{ border:1px dashed #9aa0a6; }}
.mg-today {{ border:2px solid {DARK_TEXT}; }}
.mg-total {{ font-size:16px; font-weight:700; }}
.mg-mark {{ position:absolute; top:4px; right:4px; border-radius:8px; padding:0 5px; font-size:11px;
  font-weight:700; }}
.mg-scale {{ display:flex; align-items:center; gap:6px; justify-content:flex-end; color:{MUTED_TEXT};
  font-size:12px; margin-top:4px; }}
.mg-scale span.mg-bar {{ width:120px; height:10px; border-radius:2px;
  background:linear-gradient(to right, {SCALE_LOW}, {SCALE_HIGH}); }}
</style>"""


def _cell_html(cell: DayCell, grid: MonthGrid, store: str | None, event_types: tuple[str, ...] | None) -> str:
    classes = " ".join(["mg-cell", *(["mg-empty"] if not cell.total else []), *(["mg-today"] if cell.is_today else [])])
    counts = (f'<span class="mg-total">{cell.total}</span><span class="mg-types">{cell.letters}</span>'
              if cell.total else "")
    mark = (f'<span class="mg-mark {_MARK_CLASS[cell.mark]}" style="{_MARK_STYLE[cell.mark]}">'
            f'{cell.mark} {cell.unstaffed_due}</span>' if cell.mark else "")
    title = escape(cell.title(grid.today))
    return (f'<a class="{classes}" href="{escape(day_link(cell.day, store, event_types))}" '
            f'data-day="{cell.day.isoformat()}" title="{title}" '
            f'style="background:{cell.background};color:{cell.text_colour}">'
            f'<span class="mg-day"><b>{cell.day.day}</b>{" · today" if cell.is_today else ""}</span>{counts}{mark}</a>')


def month_grid_html(grid: MonthGrid, store: str | None = None, event_types: tuple[str, ...] | None = None) -> str:
    """The grid as one HTML block: weekday names, then a row per week (its ISO number, then Monday to Sunday), and
    the colour scale under it when anything is scheduled. Cells hold only numbers, type letters and marks; the store
    and types reach the page only inside an escaped, URL-encoded link."""
    parts = [_STYLE, '<div class="mg-grid" role="group" aria-label="' + f"{grid.month:%B %Y}" + '">',
             '<span class="mg-head"></span>', *(f'<span class="mg-head">{name}</span>' for name in WEEKDAYS)]
    for week in grid.weeks:
        parts.append(f'<span class="mg-week">Wk {week.number}</span>')
        parts.extend('<span></span>' if cell is None else _cell_html(cell, grid, store, event_types)
                     for cell in week.days)
    parts.append("</div>")
    if grid.busiest:
        parts.append(f'<div class="mg-scale">Scheduled a day: <span>0</span><span class="mg-bar"></span>'
                     f'<span>{grid.busiest}</span></div>')
    return "".join(parts)


_LIST_STYLE = f"""<style>
.mg-list {{ list-style:none; margin:0; padding:0 !important; }}
.mg-list li {{ padding:6px 0; border-bottom:1px solid #e6e9ef; }}
.mg-list a {{ font-weight:600; }}
.mg-list .mg-counts {{ display:block; color:{MUTED_TEXT}; font-size:14px; }}
.mg-list-note {{ color:{MUTED_TEXT}; font-size:14px; margin-top:6px; }}
</style>"""


def month_day_list_html(grid: MonthGrid, store: str | None = None,
                        event_types: tuple[str, ...] | None = None) -> str:
    """The month for a phone: one line per day with anything scheduled or due, the date (a link to its Day view,
    keeping the filters, as the grid's cells), the total, the types that are not zero and the Unstaffed due marked as
    on the grid (▲ still open, ✕ past due). One HTML block: a widget per day (a page link and a caption each) made
    the month about sixty elements for the browser to draw on every Calendar load, where the grid is one."""
    items = []
    for cell in grid.cells:
        if not cell.total and not cell.unstaffed_due:
            continue
        label = (f"{cell.day:%a %b %d}{' · today' if cell.is_today else ''} · "
                 + (f"{cell.total:,} scheduled" if cell.total else "nothing scheduled"))
        counts = [f"{event_type} {count}" for event_type, count in cell.per_type.items()]
        if cell.mark:
            counts.append(unstaffed_words(cell.day, cell.unstaffed_due, grid.today))
        items.append(f'<li data-day="{cell.day.isoformat()}"><a href="{escape(day_link(cell.day, store, event_types))}">'
                     f'{escape(label)}</a><span class="mg-counts">{escape(" · ".join(counts))}</span></li>')
    if not items:
        return ""
    return (_LIST_STYLE + f'<ul class="mg-list" aria-label="Days of {grid.month:%B %Y}">' + "".join(items) + "</ul>"
            + '<p class="mg-list-note">Days not listed have nothing scheduled or due.</p>')
