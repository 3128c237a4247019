"""Unscheduled: Unstaffed events by urgency (the same figures as the Overview tiles), each linked to its day."""
import streamlit as st

from dashboard import query_state, reads
from dashboard.components import download_csv, filter_bar, page_url
from services.read_queries import URGENCY_BUCKETS, unscheduled_bucket_totals

st.title("Unscheduled events")
st.caption("Events whose condition is Unstaffed, by how soon they are due.")
where = filter_bar(reads.stores())
totals = unscheduled_bucket_totals(reads.unscheduled_buckets(where))

tiles = st.columns(len(URGENCY_BUCKETS))
for tile, bucket in zip(tiles, URGENCY_BUCKETS):
    tile.metric(bucket, f"{totals[bucket]:,}", border=True)

bucket = st.segmented_control("Show", URGENCY_BUCKETS, key="unscheduled_bucket",
                              default=query_state.read_choice("bucket", URGENCY_BUCKETS, None))
query_state.write(bucket=bucket)
events = reads.unscheduled_events(bucket, where)
shown_total = int(totals[bucket]) if bucket else int(totals.sum())
if events.empty:
    st.success("Nothing Unstaffed here.", icon=":material/check_circle:")
else:
    events = events.assign(day=[page_url("day", date=f"{due:%Y-%m-%d}") for due in events["due_datetime"]])
    if len(events) < shown_total:
        st.caption(f"Showing the {len(events):,} most urgent of {shown_total:,}; the CSV has the same rows.")
    st.dataframe(
        events, hide_index=True, width="stretch",
        column_order=["bucket", "due_datetime", "event_type", "ref", "name", "store_number", "store_name", "day"],
        column_config={
            "bucket": "Urgency", "due_datetime": st.column_config.DatetimeColumn("Due", format="ddd MMM D, HH:mm"),
            "event_type": "Type", "ref": st.column_config.NumberColumn("Ref", format="%d"), "name": "Event",
            "store_number": st.column_config.NumberColumn("Store", format="%d"), "store_name": "Store name",
            "day": st.column_config.LinkColumn("Day view", display_text="Open day"),
        })
    download_csv(events.drop(columns=["day"]), "unscheduled-events.csv")
