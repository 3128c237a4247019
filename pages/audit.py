"""Audit: who did what to which event, with the before and after state."""
from datetime import date, timedelta

import streamlit as st

from dashboard import reads
from dashboard.components import download_csv

st.title("Audit trail")
actor_column, event_column, since_column = st.columns(3)
actor = actor_column.text_input("Who", key="audit_actor").strip() or None
event_text = event_column.text_input("Event ref", key="audit_event").strip()
since = since_column.date_input("Since", value=date.today() - timedelta(days=30), format="YYYY-MM-DD", key="audit_since")
event_ref = None
if event_text:
    if event_text.isdigit():
        event_ref = int(event_text)
    else:
        st.warning(f"An event ref is a whole number, not {event_text!r}; showing all events.")
trail = reads.audit(actor, event_ref, since)
if trail.empty:
    st.info("Nothing recorded for these filters.", icon=":material/policy:")
else:
    st.dataframe(trail, hide_index=True, width="stretch", column_config={
        "at": st.column_config.DatetimeColumn("When", format="MMM D, HH:mm:ss"),
        "operation": st.column_config.NumberColumn("Operation", format="%d"),
        "event": st.column_config.NumberColumn("Event", format="%d")})
download_csv(trail, "audit.csv")
