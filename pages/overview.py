"""Overview: the seven days from today at a glance, with links to the pages that go deeper."""
import streamlit as st

from dashboard import reads
from dashboard.charts import TYPE_COLOURS
from dashboard.components import page_path
from services.reads.read_queries import URGENCY_BUCKETS, EventFilter

overview = reads.week_overview(EventFilter())

st.title("This week")
st.caption(f"{overview.first_day:%A %b %d} – {overview.last_day:%A %b %d, %Y} · seven days from today")

st.header("Unstaffed events at risk")
tiles = st.columns(4)
for tile, bucket in zip(tiles, URGENCY_BUCKETS[:4]):
    with tile.container(border=True):
        st.metric(bucket, f"{overview.urgency[bucket]:,}")
        st.page_link(page_path("unscheduled"), label="See them", icon=":material/arrow_forward:",
                     query_params={"bucket": bucket})

st.header("Scheduled and Unstaffed by type")
type_tiles = st.columns(6)
for tile, row in zip(type_tiles, overview.per_type.itertuples()):
    with tile.container(border=True):
        st.markdown(f"<span style='color:{TYPE_COLOURS[row.event_type]};font-weight:700'>{row.event_type}</span>",
                    unsafe_allow_html=True)
        st.metric(f"{row.event_type} scheduled", f"{row.scheduled:,}", label_visibility="collapsed")
        st.caption(f"scheduled · {row.unstaffed:,} Unstaffed due")

left, right = st.columns([2, 3])
with left:
    st.header("Busiest days")
    if overview.busiest_days.empty:
        st.info("Nothing is scheduled in these seven days.")
    for row in overview.busiest_days.itertuples():
        st.page_link(page_path("day"), label=f"{row.day:%a %b %d} — {row.scheduled} scheduled",
                     icon=":material/today:", query_params={"date": row.day.isoformat()})
with right:
    st.header("Go deeper")
    st.page_link(page_path("calendar"), label="Month calendar", icon=":material/calendar_month:")
    st.page_link(page_path("type_counts"), label="Event type counts over time", icon=":material/bar_chart:")
    st.page_link(page_path("unscheduled"), label="All Unstaffed events by urgency", icon=":material/event_busy:")
