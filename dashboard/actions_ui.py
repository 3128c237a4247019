"""Action forms: reschedule / unschedule / schedule-Supervisor dialogs with a preview, the result banner and Undo.

Each dialog fixes its idempotency key when it opens, so a double click or a rerun never runs the action twice.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard.markdown_text import plain
from dashboard.wiring import get_actions
from services.access.accounts import User
from services.errors import OpsError
from services.actions.plan import RESCHEDULE, ROLE_LABELS, SCHEDULE_SUPERVISOR, UNSCHEDULE, Plan
from services.actions.planners import UNDO_WINDOW
from services.domain.event_rules import CORE, CORE_SLOTS
from services.domain.pairing import SUPERVISOR_UNSTAFFED

RESULT_KEY = "last_action_result"
OPEN_KEY = "open_action_dialog"  # (kind, row) while a dialog is open: it is drawn on every rerun until closed
TOASTS_KEY = "toasts_after_rerun"  # confirmations waiting for the next run: a change is followed by st.rerun()


def _close_dialog() -> None:
    st.session_state.pop(OPEN_KEY, None)


def acting_user() -> str:
    return str(st.session_state.get("acting_user") or "").strip()


def can(kind: str) -> bool:
    """Whether the signed-in user's role allows `kind` (buttons follow it; the service layer checks again)."""
    role = st.session_state.get("acting_role")
    return role is not None and User(acting_user(), role).may(kind)


def _new_key(kind: str, ref: int) -> str:
    key = f"{kind}-{ref}-{uuid.uuid4().hex}"
    st.session_state[f"idempotency_{kind}_{ref}"] = key
    return key


def _key(kind: str, ref: int) -> str:
    return st.session_state.get(f"idempotency_{kind}_{ref}") or _new_key(kind, ref)


def toast_after_rerun(message: str, icon: str = ":material/check_circle:") -> None:
    """Confirm a change with a toast on the next run (a toast drawn just before st.rerun() would be lost with it).
    `message` is drawn as markdown: pass untrusted text through plain()."""
    st.session_state.setdefault(TOASTS_KEY, []).append((message, icon))


def show_pending_toasts() -> None:
    for message, icon in st.session_state.pop(TOASTS_KEY, []):
        st.toast(message, icon=icon)


_RESULT_ICONS = {"done": ":material/check_circle:", "compensated": ":material/undo:",
                 "needs_attention": ":material/report:"}


def _announce(result) -> None:  # noqa: ANN001 - ActionResult
    toast_after_rerun(f"Operation {result.operation_id}: {plain(result.message)}",
                      _RESULT_ICONS.get(result.status, ":material/block:"))


def event_label(row: dict) -> str:
    """Markdown naming the event an action acts on: name, then ref, store number and name, and when it is now."""
    parts = [f"ref {int(row['ref'])}"]
    if pd.notna(row.get("store_number")):
        parts.append(f"store {int(row['store_number'])}"
                     + (f" {plain(row['store_name'])}" if pd.notna(row.get("store_name")) else ""))
    when = row.get("scheduled_at")
    if pd.notna(when):
        parts.append(f"now {pd.Timestamp(when):%a %b %d, %H:%M}")
    return f"**{plain(row['name'])}**  \n" + " · ".join(parts)


def _finish(result) -> None:  # noqa: ANN001 - ActionResult
    st.session_state[RESULT_KEY] = result
    _announce(result)
    _close_dialog()
    st.rerun()


def _preview(preview: Callable[[], Plan]) -> bool:
    """Show what the action would do (`preview`: a PairedActions.preview_* call); False (with the reason) when it
    would be refused."""
    try:
        plan = preview()
    except OpsError as refusal:
        st.error(plain(refusal), icon=":material/block:")
        return False
    for event in plan.events:
        label = ROLE_LABELS.get(event.role, "Event")
        where = f"{event.target.start:%a %Y-%m-%d %H:%M}" if event.target.scheduled else "unscheduled"
        st.markdown(f"- {label} **{event.ref}** will be **{where}**"
                    + (f" (now {event.before.describe()})" if event.before.scheduled else ""))
    for warning in plan.warnings:
        st.warning(plain(warning), icon=":material/warning:")
    return True


PAUSED_KEY = "writes_paused"  # why changes are paused (maintenance, writes off), set by dashboard/app.py each run


def paused_reason() -> str | None:
    return st.session_state.get(PAUSED_KEY)


def action_button(label: str, key: str, icon: str, where=st) -> bool:  # noqa: ANN001 - a container or st
    """A button that starts an action: offered disabled, with the reason, while the switches pause changes (the
    service layer refuses them anyway; this says so before anyone fills in a dialog)."""
    reason = paused_reason()
    return where.button(label, key=key, icon=icon, disabled=reason is not None, help=reason)


def _need_user() -> bool:
    if paused_reason():
        st.info(paused_reason())
        return False
    if can(RESCHEDULE):
        return True
    st.info("Your role can look but not change the schedule; ask an operator.")
    return False


@st.dialog("Reschedule", on_dismiss=_close_dialog)
def reschedule_dialog(row: dict) -> None:
    ref = int(row["ref"])
    current = pd.Timestamp(row["scheduled_at"]).to_pydatetime()
    # A fix from the Data quality page suggests where the event should go (e.g. the CORE's date at rule time).
    suggested = pd.Timestamp(row["suggested_start"]).to_pydatetime() if row.get("suggested_start") else current
    st.markdown(event_label(row))
    day = st.date_input("New date", value=suggested.date(), format="YYYY-MM-DD", key=f"rs_day_{ref}")
    slot_labels = [f"{slot:%H:%M}" for slot in CORE_SLOTS] + ["Other time"]
    default = f"{suggested:%H:%M}" if f"{suggested:%H:%M}" in slot_labels else "Other time"
    choice = st.segmented_control("Time", slot_labels, default=default, key=f"rs_slot_{ref}") or default
    chosen_time = (st.time_input("Other time", value=suggested.time(), step=timedelta(minutes=15),
                                 key=f"rs_time_{ref}")
                   if choice == "Other time" else datetime.strptime(choice, "%H:%M").time())
    new_start = datetime.combine(day, chosen_time)
    if new_start == current:  # moving it where it is would be refused: no preview, nothing to confirm yet
        st.info(f"Now {current:%a %b %d, %H:%M} — choose a new date or time.", icon=":material/schedule:")
        return
    if not _preview(lambda: get_actions().preview_reschedule(ref, new_start)) or not _need_user():
        return
    if st.button("Confirm reschedule", type="primary", key=f"rs_go_{ref}"):
        with st.spinner("Moving the events in Crossmark and in our database…"):
            _finish(get_actions().reschedule(ref, new_start, acting_user(), key=_key(RESCHEDULE, ref)))


@st.dialog("Unschedule", on_dismiss=_close_dialog)
def unschedule_dialog(row: dict) -> None:
    ref = int(row["ref"])
    st.markdown(event_label(row))
    if not _preview(lambda: get_actions().preview_unschedule(ref)) or not _need_user():
        return
    confirmed = st.checkbox("Yes, unschedule (the condition goes back to Unstaffed)", key=f"us_ok_{ref}")
    if st.button("Unschedule", type="primary", disabled=not confirmed, key=f"us_go_{ref}"):
        with st.spinner("Unscheduling in Crossmark and in our database…"):
            _finish(get_actions().unschedule(ref, acting_user(), key=_key(UNSCHEDULE, ref)))


@st.dialog("Schedule the Supervisor", on_dismiss=_close_dialog)
def schedule_supervisor_dialog(row: dict) -> None:
    core_ref = int(row["ref"])
    st.markdown("CORE " + event_label(row))
    try:
        candidates = get_actions().supervisor_candidates(core_ref)
    except OpsError as error:
        st.error(plain(error))
        return
    if not candidates:
        st.error("No active Club Supervisor or Lead Event Specialist with a Crossmark rep id was found.")
        return
    labels = {c.employee_id: f"{c.name} — {c.job_title}" + (f" ({c.reason})" if c.reason else "")
              for c in candidates}
    employee_id = st.selectbox("Employee", list(labels), format_func=labels.get, key=f"ss_emp_{core_ref}")
    if not _preview(lambda: get_actions().preview_schedule_supervisor(core_ref, employee_id)) or not _need_user():
        return
    if st.button("Schedule Supervisor", type="primary", key=f"ss_go_{core_ref}"):
        with st.spinner("Scheduling in Crossmark and in our database…"):
            _finish(get_actions().schedule_supervisor(core_ref, employee_id, acting_user(),
                                                      key=_key(SCHEDULE_SUPERVISOR, core_ref)))


def open_dialog(kind: str, row: dict) -> None:
    _new_key(kind, int(row["ref"]))  # a new submission gets a new key; reruns inside the dialog keep it
    st.session_state[OPEN_KEY] = (kind, row)


def draw_open_dialog() -> None:
    """Call once per page run, after the buttons: draws the dialog that is open, if any."""
    opened = st.session_state.get(OPEN_KEY)
    if opened is not None:
        kind, row = opened
        {RESCHEDULE: reschedule_dialog, UNSCHEDULE: unschedule_dialog,
         SCHEDULE_SUPERVISOR: schedule_supervisor_dialog}[kind](row)


def event_actions(row: pd.Series) -> None:
    """Buttons under a scheduled event's card (the Day view's hook)."""
    if not can(RESCHEDULE):
        return
    ref = int(row["ref"])
    # One row of buttons sized to their labels (three equal columns inside a card cut the labels short).
    with st.container(horizontal=True):
        if action_button("Reschedule", f"btn_rs_{ref}", ":material/schedule:"):
            open_dialog(RESCHEDULE, row.to_dict())
        if action_button("Unschedule", f"btn_us_{ref}", ":material/event_busy:"):
            open_dialog(UNSCHEDULE, row.to_dict())
        if row.get("event_type") == CORE and row.get("supervisor_state") == SUPERVISOR_UNSTAFFED:
            if action_button("Schedule Supervisor", f"btn_ss_{ref}", ":material/person_add:"):
                open_dialog(SCHEDULE_SUPERVISOR, row.to_dict())


def result_banner() -> None:
    """The last action's outcome, with its operation id and, for 5 minutes, an Undo button."""
    show_pending_toasts()
    result = st.session_state.get(RESULT_KEY)
    if result is None:
        return
    text = f"Operation {result.operation_id}: {plain(result.message)}"  # it may quote Crossmark or a note
    if result.status == "done":
        st.success(text, icon=":material/check_circle:")
        age = datetime.now() - (result.finished_at or datetime.now())
        if result.kind != "undo" and age < UNDO_WINDOW and can("undo"):
            if st.button(f"Undo operation {result.operation_id}", icon=":material/undo:", key="undo_last"):
                undo_key = st.session_state.setdefault(f"undo_key_{result.operation_id}", uuid.uuid4().hex)
                st.session_state[RESULT_KEY] = get_actions().undo(result.operation_id, acting_user(),
                                                                  key=undo_key)
                _announce(st.session_state[RESULT_KEY])
                st.rerun()
    elif result.status == "compensated":
        st.warning(text, icon=":material/undo:")
    elif result.status == "needs_attention":
        st.error(text, icon=":material/report:")
    else:
        st.error(text, icon=":material/block:")
    if st.button("Dismiss", key="dismiss_result"):
        del st.session_state[RESULT_KEY]
        st.rerun()
