"""Day view: one date — who is on duty, every scheduled event by type (as cards, or as a compact time-sorted table with
the actions of the chosen row), each CORE's Supervisor, what is still Unstaffed."""
from datetime import date, timedelta
from functools import partial

import streamlit as st

from dashboard import query_state, reads
from dashboard.components import badges, day_per_club, download_csv, filter_bar, whole_number
from dashboard.actions_ui import draw_open_dialog, event_actions, result_banner
from dashboard.day_cards import day_table, event_cards, event_table
from dashboard.markdown_text import plain

DISPLAY_ORDER = ("Juicer", "Freeosk", "Digitals", "Core", "Other")  # Supervisor comes last, collapsed

today = date.today()
PICKER = {"day_picker": lambda day: day}  # the date picker shows the page's day
query_state.page_value("date", "day_view_date", lambda: query_state.read_day(today), PICKER)
LAYOUTS = ("Cards", "Table")
# A day with more events than this opens as the table: ninety cards, each with its buttons, are slow to draw (about
# 2.4 s at one busy club, against 1.3 s for the table: docs/benchmarks-browser.md) and long to scroll. The page's
# layout is "Cards", "Table", or None: the day's own choice (the URL names a layout only when it is not that).
AUTO_TABLE_AFTER = 30
query_state.page_value("view", "day_view_layout",
                       lambda: (query_state.read_choice("view", [layout.lower() for layout in LAYOUTS], None)
                                or "").title() or None)


def shift_day(days: int) -> None:
    query_state.set_value("day_view_date", st.session_state.day_view_date + timedelta(days=days), PICKER)


def pick_day() -> None:
    if st.session_state.day_picker is None:  # the picker was cleared: keep showing the day
        st.session_state.day_picker = st.session_state.day_view_date
    st.session_state.day_view_date = st.session_state.day_picker


def pick_layout() -> None:
    chosen = st.session_state.day_layout or st.session_state.get("day_view_layout_shown")
    st.session_state.day_view_layout = None if chosen == st.session_state.get("day_view_layout_auto") else chosen


header, previous, following = st.columns([6, 1, 1], vertical_alignment="bottom")
previous.button("◀ Previous", on_click=shift_day, args=(-1,), width="stretch", key="day_prev")
following.button("Next ▶", on_click=shift_day, args=(1,), width="stretch", key="day_next")
day = st.session_state.day_view_date
header.title(f"{day:%A, %B %d, %Y}")
result_banner()
picker, store_column, layout_column = st.columns([2, 3, 2], vertical_alignment="bottom")
picker.date_input("Date", key="day_picker", on_change=pick_day, format="YYYY-MM-DD")
query_state.remember("date", "day_view_date", day.isoformat())

with store_column:
    where = filter_bar(reads.store_choices(), with_types=False)
view = reads.day_view(day, where)
scheduled = view.scheduled

automatic = "Table" if len(scheduled) > AUTO_TABLE_AFTER else "Cards"
layout = st.session_state.day_view_layout or automatic
st.session_state.day_view_layout_auto, st.session_state.day_view_layout_shown = automatic, layout
st.session_state.day_layout = layout  # the switch shows the layout in use (drawn without a default)
layout_column.segmented_control("Show events as", LAYOUTS, key="day_layout", required=True, on_change=pick_layout,
                                help="Table: every event of the day on one line, in time order; select a row for its "
                                     f"actions. A day with more than {AUTO_TABLE_AFTER} events opens as the table.")
query_state.remember("view", "day_view_layout", "" if layout == automatic else layout.lower())

duty = st.columns(4)
duty[0].metric("Scheduled", f"{view.scheduled_total:,}")
duty[1].metric("Unstaffed due this day", f"{view.unstaffed_due_total:,}")
if view.listed:
    duty[2].markdown("**Juicer**  \n" + (plain(", ".join(view.juicer_reps)) or "none scheduled"))
    duty[3].markdown("**Lead on duty**  \n" + (plain(", ".join(view.leads_on_duty)) or "none scheduled"))
badges(view.scheduled_by_type)

if not view.listed:
    clubs = view.per_store["store"].nunique()
    st.info(f"{view.scheduled_total:,} events are scheduled and {view.unstaffed_due_total:,} Unstaffed events are due "
            f"on this day across {clubs:,} clubs: too many to list one by one. Pick a club above to see its events, "
            "each CORE's Supervisor and the actions; the CSV below has every scheduled event of the day.",
            icon=":material/store:")
    st.header("The day per club")
    st.dataframe(day_per_club(view.per_store, reads.stores()), hide_index=True, width="stretch",
                 column_config={"Club": whole_number("Club")})
    download_csv(partial(reads.day_events_for_export, day, where), f"events-{day.isoformat()}.csv")
    st.stop()

if scheduled.empty and view.unstaffed_due.empty:
    st.info("Nothing is scheduled or due on this day" + (" at this store." if where.store else "."),
            icon=":material/event_available:")

# Each type's rows by position, from one pass over the column: a boolean mask and a selection per type cost about a
# millisecond each on every run.
positions: dict[str, list[int]] = {}
for position, event_type in enumerate(scheduled["event_type"].tolist()):
    positions.setdefault(event_type, []).append(position)

if layout == "Table":
    with st.container(key="day_events_table"):
        # The table's rows are made once per data version, day and club (~5 ms at a busy club otherwise).
        event_table(scheduled, actions=event_actions,
                    table=reads.derived("day_table", partial(day_table, scheduled), day, where))
else:
    with st.container(key="day_events_cards"):
        for event_type in DISPLAY_ORDER:
            if event_type not in positions:
                continue
            rows = scheduled.iloc[positions[event_type]]
            st.header(f"{event_type} · {len(rows)}")
            event_cards(rows, 2 if event_type == "Core" else 3, actions=event_actions)

if layout == "Cards" and "Supervisor" in positions:  # the table lists them with the rest
    supervisors = scheduled.iloc[positions["Supervisor"]]
    with st.expander(f"Supervisor · {len(supervisors)}", expanded=False):
        st.dataframe(supervisors[["scheduled_at", "ref", "name", "rep_name", "store_number", "condition"]]
                     .rename(columns={"scheduled_at": "Time", "ref": "Ref", "name": "Event", "rep_name": "Rep",
                                      "store_number": "Store", "condition": "Condition"}),
                     hide_index=True, width="stretch", column_config={"Time": st.column_config.DatetimeColumn(format="HH:mm"),
                                                                      "Ref": whole_number("Ref"),
                                                                      "Store": whole_number("Store")})

if not view.unstaffed_due.empty:
    st.header(f"Unstaffed, due this day · {len(view.unstaffed_due)}")
    st.dataframe(view.unstaffed_due.rename(columns={"ref": "Ref", "name": "Event", "event_type": "Type",
                                                    "store_number": "Store", "store_name": "Store name",
                                                    "start_datetime": "Window opens", "due_datetime": "Due"}),
                 hide_index=True, width="stretch", column_config={"Ref": whole_number("Ref"),
                                                                  "Store": whole_number("Store")})
if not scheduled.empty:  # encoded when the download is asked for, not on every run
    download_csv(partial(scheduled.drop, columns=["schedule_id"]), f"events-{day.isoformat()}.csv")
draw_open_dialog()
