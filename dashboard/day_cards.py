"""Days drawn as people read them: the Day view's cards (one event per card; a CORE's card shows how its Supervisor
stands) and its compact table, and the Calendar's month as a list of days for phones."""
from __future__ import annotations

import hashlib
from typing import Callable, Mapping

import pandas as pd
import streamlit as st

from dashboard.components import page_path, type_badge, when
from dashboard.markdown_text import plain
from services.domain.event_rules import CORE, SUPERVISOR
from services.domain.pairing import (
    SUPERVISOR_AMBIGUOUS, SUPERVISOR_INACTIVE, SUPERVISOR_MISSING, SUPERVISOR_SCHEDULED, SUPERVISOR_UNSTAFFED,
)

# The actions issue plugs a renderer in here: it gets the event row and draws its buttons under the card.
EventActions = Callable[[pd.Series], None]


def whole(ref: object) -> str:
    """A ref as a whole number: a column with gaps holds floats (606002.0)."""
    return "—" if ref is None or pd.isna(ref) else str(int(ref))


def supervisor_line(row: pd.Series) -> None:
    state = row["supervisor_state"]
    if state == SUPERVISOR_SCHEDULED:
        st.success(f"Supervisor {whole(row['supervisor_ref'])} scheduled: {plain(row['supervisor_rep'] or 'unknown rep')}, "
                   f"{when(row['supervisor_at'])}", icon=":material/check_circle:")
    elif state == SUPERVISOR_UNSTAFFED:
        st.warning(f"Supervisor {whole(row['supervisor_ref'])} is Unstaffed", icon=":material/warning:")
    elif state == SUPERVISOR_MISSING:
        st.info("No Supervisor event with this number at this store", icon=":material/info:")
    elif state == SUPERVISOR_AMBIGUOUS:
        st.error("Ambiguous: more than one CORE or Supervisor shares this number at this store",
                 icon=":material/error:")
    elif state == SUPERVISOR_INACTIVE:
        st.caption(f"Supervisor {whole(row['supervisor_ref'])} is neither scheduled nor Unstaffed")


def event_card(row: pd.Series, actions: EventActions | None = None) -> None:
    with st.container(border=True):
        st.markdown(
            f"{type_badge(row['event_type'])} &nbsp;<b>{pd.Timestamp(row['scheduled_at']):%H:%M}</b> · "
            f"{plain(row['rep_name'] or 'unknown rep')}"
            f"<br><span style='font-size:0.95rem'>{plain(row['name'])}</span>"
            f"<br><span style='color:#4b5563;font-size:0.85rem'>ref {row['ref']} · #{plain(row['store_number'])} "
            f"{plain(row['store_name'] or '')} · {plain(row['condition'] or '')}</span>",
            unsafe_allow_html=True)
        if row["event_type"] == CORE:
            supervisor_line(row)
        st.page_link(page_path("timeline"), label="Timeline", icon=":material/timeline:",
                     query_params={"ref": str(row["ref"])},
                     help="What touched this event, and how it stands in Crossmark")
        if actions is not None:
            actions(row)


def event_cards(rows: pd.DataFrame, columns: int, actions: EventActions | None = None) -> None:
    """Cards in time order, left to right then down: one row of columns per `columns` events, so the order holds when
    cards differ in height and when a phone stacks the columns (column-by-column filling would read 1, 3, 5, 2, 4)."""
    records = [row for _, row in rows.iterrows()]
    for start in range(0, len(records), columns):
        cells = st.columns(columns)
        for cell, row in zip(cells, records[start:start + columns]):
            with cell:
                event_card(row, actions=actions)


# --- the Day view's table mode ---------------------------------------------------------------------------------------

SUPERVISOR_FIELDS = ("supervisor_state", "supervisor_ref", "supervisor_at")  # what pair_words reads of a CORE
DAY_TABLE_COLUMNS = ["Time", "Type", "Event", "Ref", "Store", "Store name", "Rep", "Pair"]


def pair_words(row: Mapping, cores_by_supervisor: dict[int, Mapping]) -> str:
    """How an event's pair stands, in words: a CORE names its Supervisor's state; a Supervisor names the CORE of this
    day it belongs to; other types have no pair."""
    if row["event_type"] == CORE:
        state = row["supervisor_state"]
        supervisor = whole(row["supervisor_ref"])
        return {
            SUPERVISOR_SCHEDULED: f"Supervisor {supervisor} scheduled "
                                  + (f"{pd.Timestamp(row['supervisor_at']):%H:%M}" if row["supervisor_at"] is not None
                                     and not pd.isna(row["supervisor_at"]) else ""),
            SUPERVISOR_UNSTAFFED: f"Supervisor {supervisor} is Unstaffed",
            SUPERVISOR_MISSING: "No Supervisor event",
            SUPERVISOR_AMBIGUOUS: "Ambiguous: several COREs or Supervisors share the number",
            SUPERVISOR_INACTIVE: f"Supervisor {supervisor} neither scheduled nor Unstaffed",
        }.get(state, "—").strip()
    if row["event_type"] == SUPERVISOR:
        core = cores_by_supervisor.get(int(row["ref"]))
        return "No CORE of this day pairs with it" if core is None else (
            f"Supervisor of CORE {whole(core['ref'])} ({pd.Timestamp(core['scheduled_at']):%H:%M})")
    return ""


def day_table(scheduled: pd.DataFrame) -> pd.DataFrame:
    """Every scheduled event of the day, one line each, in time order (then ref): the table mode's rows, with the
    event's ref as the index so a selection is tied to the event, not to its position."""
    if scheduled.empty:
        return pd.DataFrame(columns=DAY_TABLE_COLUMNS, index=pd.Index([], name="ref"))
    ordered = scheduled.sort_values(["scheduled_at", "ref"], kind="stable")
    # Plain dicts of the few fields the Pair column reads, built from whole columns: a pandas Series per row
    # (iterrows), or to_dict("records") over every column, cost more than the rest of the page's run at a busy club.
    pair_fields = ("event_type", "ref", "scheduled_at", *SUPERVISOR_FIELDS)
    records = [dict(zip(pair_fields, values)) for values in zip(*(ordered[field].tolist() for field in pair_fields))]
    cores_by_supervisor = {int(row["supervisor_ref"]): row for row in records
                           if row["event_type"] == CORE and row["supervisor_ref"] is not None
                           and not pd.isna(row["supervisor_ref"])}
    refs = [int(ref) for ref in ordered["ref"]]
    table = pd.DataFrame({
        "Time": pd.to_datetime(ordered["scheduled_at"]).dt.strftime("%H:%M").tolist(),
        "Type": ordered["event_type"].tolist(),
        "Event": ordered["name"].tolist(),
        "Ref": refs,
        "Store": [None if pd.isna(number) else int(number) for number in ordered["store_number"]],
        "Store name": ordered["store_name"].fillna("").tolist(),
        "Rep": ordered["rep_name"].fillna("unknown rep").tolist(),
        "Pair": [pair_words(row, cores_by_supervisor) for row in records],
    }, index=pd.Index(refs, name="ref"))
    return table


TABLE_ROW_PX = 28  # a compact line: 20+ events in a laptop's window
TABLE_ROWS_SHOWN = 25  # the table scrolls inside itself beyond this many
# Column widths in px: all eight columns fit the main area of a 1440 px wide window beside the sidebar.
TABLE_WIDTHS = {"Time": 50, "Type": 78, "Event": 175, "Ref": 70, "Store": 52, "Store name": 150, "Rep": 120, "Pair": 215}
CHOSEN_REF = "day_table_ref"  # the event whose actions show under the table


def table_key(refs: tuple[int, ...]) -> str:
    """The table widget's key, new whenever the rows change: Streamlit keeps a selection as a row position, and after
    an action or a change of day the same position would be another event. With a new key the chosen event is
    selected again where it now is (selection_default), or nothing is selected when it left the table."""
    return "day_table_" + hashlib.sha256(repr(refs).encode()).hexdigest()[:12]


def event_table(scheduled: pd.DataFrame, actions: EventActions | None = None,
                table: pd.DataFrame | None = None) -> None:
    """The table mode: every scheduled event of the day on one line, in time order; selecting a line shows that
    event's actions under the table, naming the event they act on. `table`: day_table(scheduled), when the page
    has it already (made once per data version: dashboard/reads.derived)."""
    table = day_table(scheduled) if table is None else table
    st.header(f"Events · {len(table)}")
    if table.empty:
        return
    refs = tuple(int(ref) for ref in table.index)
    chosen = st.session_state.get(CHOSEN_REF)
    shown = st.dataframe(
        table, key=table_key(refs), on_select="rerun", selection_mode="single-row", hide_index=True,
        selection_default={"selection": {"rows": [refs.index(chosen)] if chosen in refs else [], "columns": []}},
        row_height=TABLE_ROW_PX, height=(min(len(table), TABLE_ROWS_SHOWN) + 1) * TABLE_ROW_PX + 3, width="stretch",
        column_config={**{name: st.column_config.TextColumn(name, width=width)
                          for name, width in TABLE_WIDTHS.items() if name not in ("Ref", "Store")},
                       "Ref": st.column_config.NumberColumn("Ref", format="%d", width=TABLE_WIDTHS["Ref"]),
                       "Store": st.column_config.NumberColumn("Store", format="%d", width=TABLE_WIDTHS["Store"])})
    rows = shown.selection.rows if shown else []
    chosen = refs[rows[0]] if rows else None
    st.session_state[CHOSEN_REF] = chosen
    if chosen is None:
        st.caption("Select a row to reschedule, reassign or unschedule that event, or to open its timeline.")
        return
    row = scheduled[scheduled["ref"] == chosen].iloc[0]
    with st.container(border=True, key="day_table_actions"):
        st.markdown(f"**{pd.Timestamp(row['scheduled_at']):%H:%M} · {plain(row['event_type'])} · ref {whole(chosen)}**"
                    f" · {plain(row['name'])} · #{plain(row['store_number'])} {plain(row['store_name'] or '')}")
        st.page_link(page_path("timeline"), label="Timeline", icon=":material/timeline:",
                     query_params={"ref": str(chosen)}, help="What touched this event, and how it stands in Crossmark")
        if actions is not None:
            actions(row)


# --- the Calendar's month as a list of days (phones) -----------------------------------------------------------------

PHONE_MAX_WIDTH_PX = 640  # Streamlit stacks columns below this width too


def calendar_layout_style() -> None:
    """Show the month grid on wide screens and the list of days on narrow ones. The server cannot know the screen's
    width, so the page draws both (in containers keyed month_grid and calendar_list) and CSS picks one; the
    Content-Security-Policy allows inline styles (dashboard/security_headers.py)."""
    st.html(f"<style>@media (max-width: {PHONE_MAX_WIDTH_PX}px) {{ .st-key-month_grid {{ display: none; }} }}"
            f"@media (min-width: {PHONE_MAX_WIDTH_PX + 1}px) {{ .st-key-calendar_list {{ display: none; }} }}</style>")
