"""Operations: the journal of paired actions (batches with their items grouped), each one's Crossmark steps, and the
queue of those needing attention."""
from datetime import date, timedelta
from functools import partial

import pandas as pd
import streamlit as st

from dashboard import bulk_ui, query_state, reads
from dashboard.actions_ui import acting_user, can, result_banner
from dashboard.components import download_csv, listing_cut_note, page_path, when, when_column, whole_number
from dashboard.markdown_text import plain
from dashboard.wiring import get_actions
from services.domain import input_limits
from services.errors import InvalidInput, OpsError
from services.actions.journal import NEEDS_ATTENTION, STATUSES, STUCK, read_json, status_label
from services.actions.plan import kind_label
from services.reads.read_queries import OPERATIONS_LISTING_LIMIT
from services.reads.timeline import people_in, step_detail, step_summary

st.title("Operations")
st.caption("Every action, its Crossmark calls in order, and what it ended as.")
result_banner()


def settle_queue(status: str, title: str, explain: str) -> None:
    """Operations that did not settle, each with what happened and, for those who may, Retry now and Release."""
    queue = reads.operations(status, None, None)
    if queue.empty:
        return
    st.header(f"{title} · {len(queue)}")
    st.caption(explain)
    for row in queue.itertuples():
        with st.container(border=True):
            message = (f"Operation {row.operation} ({plain(kind_label(row.kind))}, {plain(row.by)}, "
                       f"{when(row.requested_at)}): {plain(row.message)}")
            (st.error if status == STUCK else st.warning)(message, icon=":material/report:")
            retry, note, release = st.columns([1, 3, 1], vertical_alignment="bottom")
            if not can("retry"):
                continue
            if retry.button("Retry now", key=f"retry_{row.operation}", icon=":material/refresh:"):
                try:
                    st.session_state["last_action_result"] = get_actions().retry(row.operation, acting_user())
                except OpsError as error:
                    st.error(plain(error))
                else:
                    st.rerun()
            if not can("mark_resolved"):
                continue
            text = note.text_input("How it was put right", key=f"note_{row.operation}",
                                   placeholder="note (required)", max_chars=input_limits.NOTE_MAX)
            if release.button("Release", key=f"resolve_{row.operation}", icon=":material/lock_open:",
                              help="Ends the operation as resolved and unlocks its events: only when both systems "
                                   "agree again (put right by hand) or it does not matter."):
                try:
                    resolution = input_limits.note(text, "The note")
                    st.session_state["last_action_result"] = get_actions().release(row.operation, acting_user(),
                                                                                   resolution)
                except OpsError as error:
                    st.error(plain(error))
                else:
                    st.rerun()


settle_queue(STUCK, "Stuck", "The automatic retries gave up on these; their events stay locked until an admin "
             "retries (once Crossmark answers again) or releases them with a note.")
settle_queue(NEEDS_ATTENTION, "Waiting for an automatic retry", "Our database and Crossmark did not agree when these "
             "ended; they are retried automatically with growing pauses (the message says when). Retry now skips "
             "the wait.")

st.header("Journal")
status_column, user_column, since_column = st.columns(3)
status = status_column.selectbox("Status", [None, *STATUSES], format_func=lambda s: status_label(s) if s else "All",
                                 key="ops_status")
user_text = user_column.text_input("By", key="ops_user", max_chars=input_limits.USER_NAME_MAX)
try:
    user = input_limits.single_line(user_text, "The name in By", input_limits.USER_NAME_MAX) or None
except InvalidInput as refusal:
    st.warning(f"{plain(refusal)} Showing everyone.", icon=":material/filter_alt_off:")
    user = None
since = since_column.date_input("Since", value=date.today() - timedelta(days=30), format="YYYY-MM-DD", key="ops_since")
journal = reads.operations(status, user, since)
# Links from a batch's report: ?batch=ID opens that batch's items, ?operation=ID that operation's steps.
linked_batch = query_state.read_record_id("batch", "A batch id")
linked_operation = query_state.read_record_id("operation", "An operation id")
if bulk_ui.batch_journal(user, since, linked_batch) and not journal.empty:
    st.subheader(f"Operations · {len(journal)}")
if journal.empty:
    st.info("No operations match.", icon=":material/history:")
else:
    batch_of = reads.operation_batches(int(operation) for operation in journal["operation"])
    shown = journal.assign(kind=[kind_label(kind) for kind in journal["kind"]],
                           status=[status_label(status) for status in journal["status"]],
                           undo_of=journal["undo_of"].astype("Int64"),
                           batch=pd.array([batch_of.get(int(operation)) for operation in journal["operation"]],
                                          dtype="Int64"))
    picked = st.dataframe(shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                          key="ops_table", column_config={
                              "operation": st.column_config.NumberColumn("Operation", format="%d"),
                              "requested_at": when_column("When"),
                              "kind": "Action", "status": "Status", "by": "By", "message": "Message",
                              "finished_at": when_column("Finished"),
                              "undo_of": st.column_config.NumberColumn("Undo of", format="%d"),
                              "batch": st.column_config.NumberColumn("Batch", format="%d")})
    rows = picked.selection.rows if picked else []
    operation_id = int(journal.iloc[rows[0]]["operation"]) if rows else linked_operation
    if operation_id is not None:
        st.subheader(f"Operation {operation_id}: steps")
        steps = reads.operation_steps(operation_id)
        requests = [read_json(request, {}) for request in steps["request"]]
        results = [read_json(result, {}) for result in steps["result"]]
        names = reads.employee_names(people_in(*requests, *results))
        # Each Crossmark call and its answer in words (the request and result are stored as JSON); reps by name.
        st.dataframe(pd.DataFrame({
            "step": steps["step"], "at": steps["at"], "event": steps["event"].astype("Int64"),
            "call": [step_summary(row.call, row.purpose, request, names)
                     for row, request in zip(steps.itertuples(), requests)],
            "status": [status_label(status) for status in steps["status"]],
            "result": [step_detail(status, result, names) for status, result in zip(steps["status"], results)],
            # the event's store last: the call, its status and answer are what this table is read for
            "store_number": steps["store_number"].astype("Int64"), "store_name": steps["store_name"]}),
            hide_index=True, width="stretch", column_config={
                "step": whole_number("Step"), "at": when_column("When"), "event": whole_number("Event"),
                "store_number": whole_number("Store"), "store_name": "Store name", "call": "Crossmark call",
                "status": "Status", "result": "Answer"})
        with st.container(horizontal=True):
            for ref in dict.fromkeys(int(ref) for ref in steps["event"].dropna()):
                st.page_link(page_path("timeline"), label=f"Timeline of event {ref}", icon=":material/timeline:",
                             query_params={"ref": str(ref)})
    else:
        st.caption("Select an operation to see its Crossmark steps.")
    listing_cut_note(len(journal), OPERATIONS_LISTING_LIMIT, "newest operations")
    download_csv(partial(reads.operations_for_export, status, user, since), "operations.csv")
