"""Landing page: headline counts from the database."""
import streamlit as st

from dashboard.wiring import get_engine
from services.read_queries import database_summary, event_counts_by_type

engine = get_engine()
summary = database_summary(engine)

st.title("Field events")
if summary.events == 0:
    st.info("The database holds no events yet. Load demo data with `python -m services demo seed`, or sync from Crossmark.")
else:
    st.caption(f"{summary.first_day:%b %d, %Y} – {summary.last_day:%b %d, %Y}")
columns = st.columns(4)
columns[0].metric("Events", f"{summary.events:,}")
columns[1].metric("Schedules", f"{summary.schedules:,}")
columns[2].metric("Employees", f"{summary.employees:,}")
columns[3].metric("Stores", f"{summary.stores:,}")

counts = event_counts_by_type(engine)
st.subheader("Events by type")
st.dataframe(counts.rename(columns={"event_type": "Type", "total": "Events", "scheduled": "Scheduled",
                                    "unstaffed": "Unstaffed"}), hide_index=True, width="stretch")
