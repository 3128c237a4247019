"""Chart builders: pure functions, DataFrame in, plotly Figure out (no Streamlit, no database); and the colours and
Unstaffed marks the Calendar's month grid (dashboard/month_grid.py) shares with them."""
from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go

from services.domain.event_rules import EVENT_TYPES
from services.reads.read_queries import PERIOD_TITLES

# Type colours agreed with the team; each carries white text at a contrast of at least 4.5:1 (tested).
TYPE_COLOURS = {"Core": "#c62828", "Juicer": "#2e7d32", "Supervisor": "#6a1b9a", "Freeosk": "#b34700",
                "Digitals": "#1565c0", "Other": "#5f6368"}
TYPE_LETTERS = {"Core": "C", "Juicer": "J", "Supervisor": "S", "Freeosk": "F", "Digitals": "D", "Other": "O"}
WARNING_AMBER = "#f59e0b"
# The month grid's scale stops at a mid blue so that dark cell text keeps a contrast of at least 4.5:1 on every cell
# (a scale running to deep blue has a middle band where neither dark nor white text reaches 4.5:1).
SCALE_LOW, SCALE_HIGH = "#eef3fa", "#6f9bd1"
DARK_TEXT, LIGHT_TEXT, MUTED_TEXT = "#1b1f24", "#ffffff", "#4b5563"
ZERO_FILL = "#f7f7f8"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(channel):02x}" for channel in rgb)


def relative_luminance(hex_colour: str) -> float:
    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (linear(channel) for channel in _rgb(hex_colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def scale_colour(fraction: float) -> str:
    """The month grid's colour at `fraction` (0..1) of the way from the lowest to the highest count."""
    fraction = min(max(fraction, 0.0), 1.0)
    low, high = _rgb(SCALE_LOW), _rgb(SCALE_HIGH)
    return _hex(tuple(low[i] + (high[i] - low[i]) * fraction for i in range(3)))


def readable_text_colour(background: str) -> str:
    return DARK_TEXT if contrast_ratio(DARK_TEXT, background) >= contrast_ratio(LIGHT_TEXT, background) else LIGHT_TEXT


PAST_DUE_RED = "#b3261e"
UPCOMING_MARK, PAST_DUE_MARK = "▲", "✕"
# The legend of the two marks, in words: the page prints it under the month grid and the phone list uses the same marks.
UNSTAFFED_LEGEND = (f"{UPCOMING_MARK} amber: Unstaffed events due that day, still open (today or later). "
                    f"{PAST_DUE_MARK} red: Unstaffed events whose due day has passed (past due).")

def unstaffed_mark(day: date, unstaffed: int, today: date | None) -> str:
    """How a day's Unstaffed due reads: ▲ while its due day is today or later, ✕ once it has passed, nothing at 0."""
    if not unstaffed:
        return ""
    return PAST_DUE_MARK if today is not None and day < today else UPCOMING_MARK


def unstaffed_words(day: date, unstaffed: int, today: date | None) -> str:
    """A day's Unstaffed due with its mark: "▲ 2 Unstaffed due", "✕ 2 Unstaffed past due", "" at 0."""
    mark = unstaffed_mark(day, unstaffed, today)
    return f"{mark} {unstaffed} Unstaffed {'past due' if mark == PAST_DUE_MARK else 'due'}" if mark else ""


def type_counts_chart(counts: pd.DataFrame, period: str) -> go.Figure:
    """Stacked bars per period: one stack for Scheduled and one for Unstaffed, coloured by type."""
    figure = go.Figure()
    hover = "%b %Y" if period == "month" else "%a %b %d, %Y"  # a month is named, not its first day
    for state in ("Scheduled", "Unstaffed"):
        subset = counts[counts["state"] == state]
        for event_type in EVENT_TYPES:
            rows = subset[subset["event_type"] == event_type]
            if rows.empty:
                continue
            figure.add_trace(go.Bar(
                x=rows["period"], y=rows["count"], name=f"{event_type} · {state}", offsetgroup=state,
                legendgroup=state, legendgrouptitle_text=state, marker_color=TYPE_COLOURS[event_type],
                marker_pattern_shape="" if state == "Scheduled" else "/", marker_line_color="#ffffff",
                hovertemplate=f"{event_type} · {state}<br>%{{x|{hover}}}: %{{y}}<extra></extra>",
            ))
    figure.update_layout(barmode="relative", height=460, margin=dict(l=10, r=10, t=30, b=10),
                         xaxis_title=PERIOD_TITLES[period], yaxis_title="Events", legend=dict(groupclick="toggleitem"))
    if period == "month":
        figure.update_xaxes(tickformat="%b %Y", dtick="M1")
    return figure


SEVERITY_COLOURS = {"critical": "#c62828", "warning": "#b34700", "info": "#1565c0"}  # red, dark orange, blue
SEVERITY_DASHES = {"critical": "solid", "warning": "dash", "info": "dot"}  # told apart without colour, too


def findings_trend_chart(trend: pd.DataFrame) -> go.Figure:
    """Open findings per severity, one point per day (the weekly review's trend).

    `trend` is services.quality.checks.daily_trend's frame (day, severity, open_findings)."""
    per_day = (trend.assign(day=pd.to_datetime(trend["day"])).pivot_table(
        index="day", columns="severity", values="open_findings", aggfunc="sum", fill_value=0))
    figure = go.Figure()
    for severity, colour in SEVERITY_COLOURS.items():
        counts = per_day[severity] if severity in per_day else pd.Series(0, index=per_day.index)
        figure.add_trace(go.Scatter(
            x=counts.index, y=counts.values, mode="lines+markers", name=severity.capitalize(),
            line=dict(color=colour, width=3, dash=SEVERITY_DASHES[severity]), marker=dict(color=colour, size=8),
            hovertemplate=f"{severity.capitalize()}<br>%{{x|%a %b %d}}: %{{y}} open<extra></extra>"))
    figure.update_layout(height=360, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="Open findings",
                         xaxis_title="Day", legend=dict(orientation="h", yanchor="top", y=-0.25),
                         yaxis=dict(rangemode="tozero"))
    figure.update_xaxes(tickformat="%a %b %d", dtick=86_400_000)
    return figure


def time_to_fix_chart(fixes: list) -> go.Figure:  # noqa: ANN001 - services.quality.work.WeeklyFix values
    """Median days from first seen to resolved, per week the findings were resolved in (bars), with how many."""
    weeks = [pd.Timestamp(fix.week) for fix in fixes]
    figure = go.Figure(go.Bar(
        x=weeks, y=[fix.median_days for fix in fixes], marker_color="#1565c0",
        customdata=[fix.resolved for fix in fixes], text=[f"{fix.median_days:.1f}" for fix in fixes],
        textposition="outside",
        hovertemplate="Week of %{x|%b %d}<br>median %{y:.1f} days to fix<br>%{customdata} resolved<extra></extra>"))
    figure.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), yaxis_title="Median days to fix",
                         xaxis_title="Week resolved", yaxis=dict(rangemode="tozero"))
    figure.update_xaxes(tickformat="%b %d", dtick=7 * 86_400_000)
    return figure
