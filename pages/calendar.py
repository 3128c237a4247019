"""Calendar: the month as a grid of days coloured by scheduled events (HTML, dashboard/month_grid.py); each day is a
link to its Day view. On a phone the
month reads as a list of days instead (the server cannot know the screen's width: both are drawn and a CSS media query
shows one, see dashboard/day_cards.py's calendar_layout_style)."""
from datetime import date, timedelta

import streamlit as st

from dashboard import query_state, reads
from dashboard.charts import UNSTAFFED_LEGEND
from dashboard.components import badges, filter_bar, page_path
from dashboard.day_cards import calendar_layout_style
from dashboard.month_grid import month_day_list_html, month_grid, month_grid_html
from services.domain.event_rules import EVENT_TYPES

today = date.today()
query_state.page_value("month", "calendar_month", lambda: query_state.read_month(today))


def shift_month(months: int) -> None:
    current = st.session_state.calendar_month
    index = current.year * 12 + current.month - 1 + months
    st.session_state.calendar_month = date(index // 12, index % 12 + 1, 1)


def this_month() -> None:
    st.session_state.calendar_month = today.replace(day=1)


header, previous, current, following = st.columns([6, 1, 1, 1], vertical_alignment="bottom")
previous.button("◀ Prev", on_click=shift_month, args=(-1,), width="stretch", key="month_prev")
current.button("Today", on_click=this_month, width="stretch", key="month_today")
following.button("Next ▶", on_click=shift_month, args=(1,), width="stretch", key="month_next")
month = st.session_state.calendar_month
header.title(f"{month:%B %Y}")

where = filter_bar(reads.store_choices())
query_state.remember("month", "calendar_month", f"{month:%Y-%m}")

table = reads.month_calendar(month, where)
nothing = table["total"].sum() == 0 and table["unstaffed_due"].sum() == 0
if nothing:
    st.info(f"Nothing is scheduled or due in {month:%B %Y}"
            + (" for these filters." if where.event_types or where.store else ".")
            + " Try another month or clear the filters.", icon=":material/event_available:")

calendar_layout_style()
# The grid comes right under the filters so the whole month fits in the window; the month's figures follow it.
# A cell's link loads the Day view as a new page (Streamlit has no in-app navigation for links in HTML); the session
# survives through its cookie and the link carries the filters.


def month_html() -> tuple[str, str]:
    grid = month_grid(table, month, today)
    return (month_grid_html(grid, where.store, where.event_types),
            month_day_list_html(grid, where.store, where.event_types))


# Built once per data version, month, filters and day (~4 ms of colours and links a run otherwise).
grid_html, day_list = reads.derived("month_html", month_html, month, where, today)
with st.container(key="month_grid"):
    st.html(grid_html)
if day_list:
    with st.container(key="calendar_list"):
        st.html(day_list)

if not nothing:
    st.caption("Each cell: the day, scheduled events, and per type (C Core, J Juicer, S Supervisor, F Freeosk, "
               "D Digitals, O Other; types with none are left out). " + UNSTAFFED_LEGEND
               + " Click a day to open it; hover for its breakdown.")
metrics = st.columns(4)
metrics[0].metric("Scheduled this month", f"{int(table['total'].sum()):,}")
metrics[1].metric("Busiest day", f"{table.loc[table['total'].idxmax(), 'day']:%a %b %d}" if table["total"].any() else "—")
metrics[2].metric("Unstaffed due this month", f"{int(table['unstaffed_due'].sum()):,}")
metrics[3].metric("Days with Unstaffed due", f"{int((table['unstaffed_due'] > 0).sum())}")
badges({event_type: int(table[event_type].sum()) for event_type in EVENT_TYPES})
last_day = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


@st.fragment
def open_a_day() -> None:
    """Picking a day changes nothing else on the page: only this part runs again, not the month's reads and grid."""
    picker, go = st.columns([2, 1], vertical_alignment="bottom")
    picked = picker.date_input("Open a day", value=today if month <= today <= last_day else month,
                               format="YYYY-MM-DD", key="calendar_day_picker")
    if go.button("Open day view", icon=":material/today:", key="open_day"):
        st.switch_page(page_path("day"), query_params={"date": picked.isoformat()})


open_a_day()
