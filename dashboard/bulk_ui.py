"""Batches on the pages (the Bulk actions page, the Unscheduled page's Staff selected): the preview (a dry run: every
item and exactly what it would do), the confirm under the idempotency key fixed when the preview was made (a double
click or a rerun resumes the same batch, never a second one), the progress bar, the per-item report with links to each
operation and event, and Undo batch.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from dashboard import reads
from dashboard.actions_ui import acting_user, action_button, can, toast_after_rerun
from dashboard.components import page_path, page_url, when_column
from dashboard.markdown_text import plain
from dashboard.selection import selected_row
from dashboard.wiring import get_batches
from services.actions.batches import BATCH_KIND_LABELS, BatchItem, BatchReport, BatchStatus, ItemOutcome, Progress
from services.actions.journal import read_json, status_label
from services.actions.plan import Plan, PlannedEvent
from services.errors import OpsError

# An item's outcome in a dry run (what would happen) or a run (its operation's status), as people read it.
OUTCOME_LABELS = {"would_run": "Will run", "would_refuse": "Will be refused"}
BATCH_STATUS_LABELS = {BatchStatus.RUNNING: "Running", BatchStatus.DONE: "Done", BatchStatus.PARTIAL: "Partly done",
                       BatchStatus.REFUSED: "Refused", BatchStatus.NEEDS_ATTENTION: "Needs attention"}

RunBatch = Callable[[bool, str | None, Progress | None], BatchReport]  # (dry_run, key, progress) -> the report


def outcome_label(status: str) -> str:
    return OUTCOME_LABELS.get(status) or status_label(status)


def batch_status_label(status: str) -> str:
    return BATCH_STATUS_LABELS.get(status, status_label(status))


def batch_kind_label(kind: str) -> str:
    return BATCH_KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def _plan_text(plan: Plan, item: BatchItem) -> str:
    """Where each event of an item's plan goes, and with whom, in words (a plan names the rep of the events it gives
    to someone; schedule-Supervisor's does not, and its item does)."""
    def who(event: PlannedEvent) -> str:
        name = event.rep_name or (item.employee_name if event.target.scheduled and item.employee_id
                                  and event.target.employee_id == item.employee_id else None)
        return f" with {name}" if name else ""
    moves = [f"{event.label} → {event.target.describe()}{who(event)}" for event in plan.events]
    return "; ".join(moves + list(plan.warnings))


def _rules_text(plan: Plan) -> str:
    broken = [f"{check.rep.name}: {result.title.lower()} ({result.strength})"
              for check in plan.checks for result in check.results if not result.passed]
    if broken:
        return "; ".join(broken)
    return "every rule passes" if plan.checks else "—"


def preview_frame(report: BatchReport) -> pd.DataFrame:
    """A dry run's items: what each does, whether it would run, where its events go (with whom) or why it would be
    refused, the rep rules, and the event's timeline."""
    return pd.DataFrame({
        "#": [outcome.item.index for outcome in report.items],
        "What": [outcome.item.describe() for outcome in report.items],
        "Outcome": [outcome_label(outcome.status) for outcome in report.items],
        "Details": [_plan_text(outcome.plan, outcome.item) if outcome.plan is not None else (outcome.refusal or "")
                    for outcome in report.items],
        "Rules": [_rules_text(outcome.plan) if outcome.plan is not None else "—" for outcome in report.items],
        "Timeline": [page_url("timeline", ref=outcome.item.ref) for outcome in report.items],
    }, columns=["#", "What", "Outcome", "Details", "Rules", "Timeline"])


def _operation(outcome: ItemOutcome) -> int | None:
    return outcome.result.operation_id if outcome.result is not None else None


def result_frame(report: BatchReport, undone: bool = False) -> pd.DataFrame:
    """A run's items: what each did (`undone`: the undo of what each did), how it ended, its operation (a link to its
    Crossmark calls on the Operations page) and message, and the event's timeline."""
    operations = [_operation(outcome) for outcome in report.items]
    return pd.DataFrame({
        "#": [outcome.item.index for outcome in report.items],
        "What": [("Undo: " if undone else "") + outcome.item.describe() for outcome in report.items],
        "Outcome": [outcome_label(outcome.status) for outcome in report.items],
        "Operation": [page_url("operations", operation=operation) if operation is not None else None
                      for operation in operations],
        "Message": [(outcome.result.message if outcome.result is not None else outcome.refusal) or ""
                    for outcome in report.items],
        "Timeline": [page_url("timeline", ref=outcome.item.ref) for outcome in report.items],
    }, columns=["#", "What", "Outcome", "Operation", "Message", "Timeline"])


LINK_COLUMNS = {  # the batch tables' columns: the sentences get the room, the links and statuses little
    "#": st.column_config.NumberColumn("#", format="%d", width=40),
    "What": st.column_config.TextColumn("What", width="large"),
    "Outcome": st.column_config.TextColumn("Outcome", width=110),
    "Status": st.column_config.TextColumn("Status", width=110),
    "Timeline": st.column_config.LinkColumn("Timeline", display_text="Open", width=70),
    "Operation": st.column_config.LinkColumn("Operation", display_text=r"operation=(\d+)", width=90),
}


def counts_text(report: BatchReport) -> str:
    counts = report.counts
    return ", ".join(f"{count} {outcome_label(status).lower()}" for status, count in sorted(counts.items())) or "none"


@dataclass(frozen=True)
class BatchPreview:
    """A dry run shown to the person, with what they chose for it and the key its confirm runs under."""

    choices: Hashable  # the form's values when the preview was made: anything else needs a new preview
    report: BatchReport
    key: str


@dataclass(frozen=True)
class BatchOutcome:
    """The last batch run (or undone) from a page, shown until dismissed."""

    report: BatchReport
    undone: bool = False


def _preview_key(name: str) -> str:
    return f"bulk_preview_{name}"


def _result_key(scope: str) -> str:
    return f"bulk_result_{scope}"


def _progress_bar(what: str) -> Progress:
    bar = st.progress(0.0, text=f"{what}…")

    def progress(done: int, total: int, outcome: ItemOutcome) -> None:
        bar.progress(done / total if total else 1.0,
                     text=plain(f"{done} of {total}: {outcome.item.describe()} — {outcome_label(outcome.status)}"))
    return progress


def _finished(scope: str, report: BatchReport, undone: bool) -> None:
    st.session_state[_result_key(scope)] = BatchOutcome(report, undone)
    what = "Undo of batch" if undone else "Batch"
    toast_after_rerun(f"{what} {report.batch_id}: {batch_status_label(report.status)} ({plain(counts_text(report))})",
                      ":material/check_circle:" if report.status == BatchStatus.DONE else ":material/report:")
    st.rerun()


def batch_flow(name: str, scope: str, choices: Hashable, run: RunBatch, *, confirm_label: str = "Run the batch",
               empty: str = "Nothing to do: no event matches.") -> None:
    """Preview → every item → confirm → progress → the report (shown by show_result(scope)). `choices`: what the form
    asked (a changed form needs a new preview); `run(dry_run, key, progress)` runs the batch."""
    preview: BatchPreview | None = st.session_state.get(_preview_key(name))
    if st.button("Preview", key=f"bulk_{name}_preview", icon=":material/preview:",
                 help="Lists every item and what it would do; nothing is sent or recorded."):
        try:
            report = run(True, None, None)
        except OpsError as refusal:
            st.error(plain(refusal), icon=":material/block:")
            st.session_state.pop(_preview_key(name), None)
            return
        preview = BatchPreview(choices, report, f"{name}-{uuid.uuid4().hex}")  # the key of this preview's confirm
        st.session_state[_preview_key(name)] = preview
    if preview is None:
        st.caption("Preview first: nothing changes until you confirm what it lists.")
        return
    if preview.choices != choices:
        st.info("The choices changed since the preview: preview again to see what they would do.",
                icon=":material/preview:")
        return
    report = preview.report
    if not report.items:
        st.info(empty, icon=":material/check_circle:")
        return
    will_run = report.counts.get("would_run", 0)
    st.markdown(f"**{len(report.items)} item(s)**: {plain(counts_text(report))}. Nothing has been sent yet.")
    with st.container(key=f"bulk_{name}_items"):
        st.dataframe(preview_frame(report), hide_index=True, width="stretch", column_config=LINK_COLUMNS)
    if not will_run:
        st.warning("Every item would be refused (the table says why); there is nothing to run.",
                   icon=":material/block:")
        return
    if not can("batch"):
        st.info("Your role can look but not change the schedule; ask an operator.")
        return
    if action_button(f"{confirm_label} ({len(report.items)} item{'s' if len(report.items) != 1 else ''})",
                     f"bulk_{name}_go", ":material/play_arrow:"):
        progress = _progress_bar("Running the batch")
        try:
            done = run(False, preview.key, progress)
        except OpsError as refusal:
            st.error(plain(refusal), icon=":material/block:")
            return
        st.session_state.pop(_preview_key(name), None)
        _finished(scope, done, undone=False)


def show_result(scope: str) -> None:
    """The last batch run or undone from this page: its status, each item's outcome with links, Undo batch."""
    outcome: BatchOutcome | None = st.session_state.get(_result_key(scope))
    if outcome is None:
        return
    report = outcome.report
    head = (f"{'Undo of batch' if outcome.undone else 'Batch'} {report.batch_id} — {batch_kind_label(report.kind)}: "
            f"{batch_status_label(report.status)}. {plain(report.message)}")
    {BatchStatus.DONE: st.success, BatchStatus.PARTIAL: st.warning}.get(report.status, st.error)(
        head, icon=":material/dynamic_feed:")
    with st.container(key=f"bulk_result_{scope}"):
        st.dataframe(result_frame(report, outcome.undone), hide_index=True, width="stretch",
                     column_config=LINK_COLUMNS)
    with st.container(horizontal=True):
        st.page_link(page_path("operations"), label=f"Batch {report.batch_id} in the journal",
                     icon=":material/history:", query_params={"batch": str(report.batch_id)})
        done = [item for item in report.items if item.status == "done"]
        if not outcome.undone and done and can("undo") and action_button(
                f"Undo batch {report.batch_id}", f"bulk_undo_{scope}", ":material/undo:"):
            progress = _progress_bar(f"Undoing batch {report.batch_id}")
            try:
                undone = get_batches().undo(int(report.batch_id or 0), acting_user(), progress=progress)
            except OpsError as refusal:
                st.error(plain(refusal), icon=":material/block:")
            else:
                _finished(scope, undone, undone=True)
        if st.button("Dismiss", key=f"bulk_dismiss_{scope}"):
            del st.session_state[_result_key(scope)]
            st.rerun()


# --- the Operations journal's batches --------------------------------------------------------------------------------

def _item_text(item_json: object) -> str:
    value = read_json(item_json, {})
    try:
        return BatchItem.from_json(value).describe()
    except (KeyError, TypeError, ValueError):  # a row edited by hand: show what is there rather than stop the page
        return str(value.get("label") or "") if isinstance(value, dict) else ""


def batch_items_table(items: pd.DataFrame) -> pd.DataFrame:
    """One batch's items for the journal: what each does, its event and store, its operation (a link to its Crossmark
    calls), how it ended."""
    operations = [None if pd.isna(operation) else int(operation) for operation in items["operation"]]
    return pd.DataFrame({
        "#": items["item"].astype("int64"),
        "What": [_item_text(value) for value in items["item_json"]],
        "Store": items["store_number"].astype("Int64"),
        "Operation": [page_url("operations", operation=operation) if operation else None for operation in operations],
        "Status": [status_label(status) if isinstance(status, str) else "Not run yet" for status in items["status"]],
        "Message": items["message"].fillna(""),
        "Timeline": [page_url("timeline", ref=int(ref)) for ref in items["event"]],
    })


def batches_table(batches: pd.DataFrame) -> pd.DataFrame:
    """Batches as the journal lists them: one row each, with how many of its items ended how."""
    return pd.DataFrame({
        "Batch": batches["batch"].astype("int64"), "When": batches["requested_at"],
        "Kind": [batch_kind_label(kind) for kind in batches["kind"]],
        "Status": [batch_status_label(status) for status in batches["status"]],
        "Items": batches["items"], "Done": batches["done"], "Refused": batches["refused"],
        "Rolled back": batches["compensated"], "Needs attention": batches["needs_attention"],
        "Not run": batches["not_run"], "By": batches["by"], "Message": batches["message"].fillna(""),
    })


def batch_journal(actor: str | None, since: date | None, linked: int | None) -> bool:
    """The Operations journal's batches: a row per batch with its status and counts; the batch selected (or linked
    with ?batch=ID, whatever the filters) with its items beneath, each an operation of the journal. False when
    there is no batch to list."""
    listed = reads.batches(actor, since)
    if linked is not None and linked not in set(listed["batch"]):
        listed = pd.concat([reads.batches(None, None, linked), listed], ignore_index=True)
    if listed.empty:
        return False
    st.subheader(f"Batches · {len(listed)}")
    st.caption("Many actions asked for at once (Bulk actions, Staff selected): each batch with how its items ended. "
               "Select one to see its items; each item is an operation of the journal below.")
    table = batches_table(listed)
    row = selected_row(table, "Batch", "ops_batches", hide_index=True, width="stretch", column_config={
        "Batch": st.column_config.NumberColumn("Batch", format="%d"), "When": when_column("When")})
    chosen = int(row["Batch"]) if row is not None else linked
    if chosen is None:
        return True
    items = reads.batch_items(chosen)
    kinds = dict(zip(listed["batch"], listed["kind"]))
    kind = f" ({batch_kind_label(str(kinds[chosen]))})" if chosen in kinds else ""
    st.markdown(f"**Batch {chosen}{kind}: {len(items)} item(s)**")
    with st.container(key="ops_batch_items"):
        st.dataframe(batch_items_table(items), hide_index=True, width="stretch",
                     column_config={**LINK_COLUMNS, "Store": st.column_config.NumberColumn("Store", format="%d")})
    return True
