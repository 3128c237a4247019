"""Unscheduled: Unstaffed events by urgency (the same figures as the Overview tiles), each linked to its day; Staff on
a selected event, Staff selected (a batch) on several."""
from functools import partial

import pandas as pd
import streamlit as st

from dashboard import bulk_ui, query_state, reads
from dashboard.actions_ui import (
    acting_user, action_button, can, draw_open_dialog, event_label, open_dialog, result_banner,
)
from dashboard.components import download_csv, filter_bar, page_path, page_url
from dashboard.selection import selected_rows
from dashboard.wiring import get_batches, get_engine
from services.reads.exports import EXPORT_ROW_LIMIT
from services.actions.plan import SCHEDULE_SUPERVISOR, STAFF
from services.reads.read_queries import URGENCY_BUCKETS, core_needing_supervisor, unscheduled_bucket_totals

st.title("Unscheduled events")
st.caption("Events whose condition is Unstaffed, by how soon they are due. Select a row to act on it, or several "
           "to staff them together.")
result_banner()
bulk_ui.show_result("unscheduled")
where = filter_bar(reads.store_choices())
totals = unscheduled_bucket_totals(reads.unscheduled_buckets(where))

tiles = st.columns(len(URGENCY_BUCKETS))
for tile, bucket in zip(tiles, URGENCY_BUCKETS):
    tile.metric(bucket, f"{totals[bucket]:,}", border=True)

bucket = st.segmented_control("Show", URGENCY_BUCKETS, **query_state.bind(
    "bucket", "unscheduled_bucket", lambda: query_state.read_choice("bucket", URGENCY_BUCKETS, None)))
query_state.remember_bound("bucket", "unscheduled_bucket", bucket)
events = reads.unscheduled_events(bucket, where)
shown_total = int(totals[bucket]) if bucket else int(totals.sum())
if events.empty:
    st.success("Nothing Unstaffed here.", icon=":material/check_circle:")
else:
    # One vectorised format for the listing's (up to 500) links: page_url per row cost ~1 ms a run.
    events = events.assign(day=page_url("day") + "?date=" + pd.to_datetime(events["due_datetime"]).dt.strftime("%Y-%m-%d"))
    if len(events) < shown_total:
        exported = "all of them" if shown_total <= EXPORT_ROW_LIMIT else f"the {EXPORT_ROW_LIMIT:,} most urgent"
        st.caption(f"Showing the {len(events):,} most urgent of {shown_total:,}; the CSV has {exported}.")
    picked = selected_rows(
        events, "ref", "unscheduled_table", hide_index=True, width="stretch",
        column_order=["bucket", "due_datetime", "event_type", "ref", "name", "store_number", "store_name", "day"],
        column_config={
            "bucket": "Urgency", "due_datetime": st.column_config.DatetimeColumn("Due", format="ddd MMM D, HH:mm"),
            "event_type": "Type", "ref": st.column_config.NumberColumn("Ref", format="%d"), "name": "Event",
            "store_number": st.column_config.NumberColumn("Store", format="%d"), "store_name": "Store name",
            "day": st.column_config.LinkColumn("Day view", display_text="Open day"),
        })
    row = picked.iloc[0] if len(picked) == 1 else None
    if len(picked) > 1:
        refs = [int(ref) for ref in picked["ref"]]
        with st.container(border=True, key="unscheduled_selected"):
            st.markdown(f"**{len(refs)} events selected**")
            if can("batch"):
                st.caption("Staff selected gives each event its first Core time slot still ahead and the top "
                           "suggested rep who breaks no rule (a CORE takes its Supervisor along). The preview lists "
                           "who gets what; nothing changes until you confirm.")
                bulk_ui.batch_flow("staff_selected", "unscheduled", tuple(refs),
                                   lambda dry_run, key, progress: get_batches().staff_events(
                                       refs, acting_user(), key=key, dry_run=dry_run, progress=progress),
                                   confirm_label="Staff selected")
    if row is not None:
        with st.container(border=True):
            st.markdown(event_label(row.to_dict()) + f" · due {row['due_datetime']:%a %b %d, %H:%M}")
            if can(STAFF) and action_button("Staff", "unscheduled_staff", ":material/person_add:"):
                open_dialog(STAFF, row.to_dict())
            core = core_needing_supervisor(get_engine(), int(row["ref"])) if row["event_type"] == "Supervisor" else None
            if core is not None and can(SCHEDULE_SUPERVISOR) and action_button(
                    f"Schedule this Supervisor (CORE {int(core['ref'])} is scheduled)",
                    "unscheduled_schedule_supervisor", ":material/person_add:"):
                # the CORE is at the Supervisor's store: the dialog names both
                open_dialog(SCHEDULE_SUPERVISOR, {**core, "store_number": row["store_number"],
                                                  "store_name": row["store_name"]})
            st.page_link(page_path("day"), label="Open its day", icon=":material/today:",
                         query_params={"date": f"{row['due_datetime']:%Y-%m-%d}"})
    download_csv(partial(reads.unscheduled_events_for_export, bucket, where), "unscheduled-events.csv")
draw_open_dialog()
