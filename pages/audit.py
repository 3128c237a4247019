"""Audit: who did what to which event, with the before and after state."""
from datetime import date, timedelta
from functools import partial

import pandas as pd
import streamlit as st

from dashboard import reads
from dashboard.components import download_csv, listing_cut_note, page_path, page_url, when_column, whole_number
from dashboard.markdown_text import plain
from services.domain import input_limits
from services.errors import InvalidInput
from services.reads.read_queries import AUDIT_LISTING_LIMIT
from services.reads.timeline import audit_text, people_in

st.title("Audit trail")
actor_column, event_column, since_column = st.columns(3)
actor_text = actor_column.text_input("Who", key="audit_actor", max_chars=input_limits.USER_NAME_MAX)
event_text = event_column.text_input("Event ref", key="audit_event", max_chars=len(str(input_limits.INT_MAX)))
since = since_column.date_input("Since", value=date.today() - timedelta(days=30), format="YYYY-MM-DD", key="audit_since")
try:
    actor = input_limits.single_line(actor_text, "The name in Who", input_limits.USER_NAME_MAX) or None
except InvalidInput as refusal:
    st.warning(f"{plain(refusal)} Showing everyone.", icon=":material/filter_alt_off:")
    actor = None
event_ref = None
if (event_text or "").strip():
    try:
        event_ref = input_limits.event_ref(event_text)
    except InvalidInput as refusal:
        st.warning(f"{plain(refusal)} Showing all events.", icon=":material/filter_alt_off:")
trail = reads.audit(actor, event_ref, since)
if event_ref is not None:
    st.page_link(page_path("timeline"), label=f"Timeline of event {event_ref}", icon=":material/timeline:",
                 query_params={"ref": str(event_ref)})
if trail.empty:
    st.info("Nothing recorded for these filters.", icon=":material/policy:")
else:
    timelines = [page_url("timeline", ref=int(ref)) if pd.notna(ref) else None for ref in trail["event"]]
    names = reads.employee_names(people_in(*trail["before"], *trail["after"], *trail["message"]))
    # What each entry recorded (before / after states, a request) in words, never as JSON; reps by name.
    texts = [audit_text(row.action, row.before, row.after, row.message,
                        int(row.event) if pd.notna(row.event) else None, names) for row in trail.itertuples()]
    shown = pd.DataFrame({"at": trail["at"], "actor": trail["actor"],
                          "operation": trail["operation"].astype("Int64"), "event": trail["event"].astype("Int64"),
                          "store_number": trail["store_number"].astype("Int64"), "store_name": trail["store_name"],
                          "what": [text[0] for text in texts], "detail": [text[2] for text in texts],
                          "timeline": timelines})
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "at": when_column("When"), "actor": "Who", "operation": whole_number("Operation"),
        "event": whole_number("Event"),
        "store_number": whole_number("Store"), "store_name": "Store name", "what": "What", "detail": "Details",
        "timeline": st.column_config.LinkColumn("Timeline", display_text="Open timeline")})
listing_cut_note(len(trail), AUDIT_LISTING_LIMIT, "newest entries")
download_csv(partial(reads.audit_for_export, actor, event_ref, since), "audit.csv")
