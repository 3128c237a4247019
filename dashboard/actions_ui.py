"""Action forms: reschedule / unschedule / schedule-Supervisor / staff / reassign dialogs with a preview, the result
banner and Undo.

Each dialog fixes its idempotency key when it opens, so a double click or a rerun never runs the action twice.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboard import staffing
from dashboard.markdown_text import plain
from dashboard.wiring import get_actions, get_engine, get_settings
from services.access.accounts import User
from services.domain import input_limits
from services.domain.event_rules import supervisor_start
from services.errors import OpsError
from services.actions.executor import ActionResult
from services.actions.plan import REASSIGN, RESCHEDULE, ROLE_LABELS, SCHEDULE_SUPERVISOR, STAFF, UNSCHEDULE, Plan
from services.actions.planners import UNDO_WINDOW
from services.actions.suggestions import Suggestions
from services.domain.event_rules import CORE, CORE_SLOTS
from services.domain.pairing import SUPERVISOR_UNSTAFFED
from services.domain.rep_rules import RuleCheck

RESULT_KEY = "last_action_result"
OPEN_KEY = "open_action_dialog"  # (kind, row) while a dialog is open: it is drawn on every rerun until closed
SUGGESTIONS_KEY = "dialog_suggestions"  # (ref, start) -> Suggestions, read once while a dialog is open
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


def _preview(preview: Callable[[], Plan]) -> Plan | None:
    """Show what the action would do (`preview`: a PairedActions.preview_* call) and return its plan; None (with the
    reason) when it would be refused."""
    try:
        plan = preview()
    except OpsError as refusal:
        st.error(plain(refusal), icon=":material/block:")
        return None
    for event in plan.events:
        label = ROLE_LABELS.get(event.role, "Event")
        where = f"{event.target.start:%a %Y-%m-%d %H:%M}" if event.target.scheduled else "unscheduled"
        st.markdown(f"- {label} **{event.ref}** will be **{where}**"
                    + (f" with **{plain(event.rep_name)}**" if event.rep_name else "")
                    + (f" (now {event.before.describe()})" if event.before.scheduled else ""))
    for warning in plan.warnings:
        st.warning(plain(warning), icon=":material/warning:")
    return plan


PAUSED_KEY = "writes_paused"  # why changes are paused (maintenance, writes off), set by dashboard/app.py each run


def paused_reason() -> str | None:
    return st.session_state.get(PAUSED_KEY)


def action_button(label: str, key: str, icon: str, where=st) -> bool:  # noqa: ANN001 - a container or st
    """A button that starts an action: offered disabled, with the reason, while the switches pause changes (the
    service layer refuses them anyway; this says so before anyone fills in a dialog)."""
    reason = paused_reason()
    return where.button(label, key=key, icon=icon, disabled=reason is not None, help=reason)


def _need_user(kind: str = RESCHEDULE) -> bool:
    if paused_reason():
        st.info(paused_reason())
        return False
    if can(kind):
        return True
    st.info("Your role can look but not change the schedule; ask an operator.")
    return False


def _start_picker(prefix: str, ref: int, suggested: datetime, date_label: str, first: date | None = None,
                  last: date | None = None) -> datetime:
    """A date (within `first`..`last` when given), then a Core time slot or another time; starts at `suggested`."""
    day = st.date_input(date_label, value=suggested.date(), min_value=first, max_value=last, format="YYYY-MM-DD",
                        key=f"{prefix}_day_{ref}")
    slot_labels = [f"{slot:%H:%M}" for slot in CORE_SLOTS] + ["Other time"]
    default = f"{suggested:%H:%M}" if f"{suggested:%H:%M}" in slot_labels else "Other time"
    choice = st.segmented_control("Time", slot_labels, default=default, key=f"{prefix}_slot_{ref}") or default
    chosen_time = (st.time_input("Other time", value=suggested.time(), step=timedelta(minutes=15),
                                 key=f"{prefix}_time_{ref}")
                   if choice == "Other time" else datetime.strptime(choice, "%H:%M").time())
    return datetime.combine(day, chosen_time)


@st.dialog("Reschedule", on_dismiss=_close_dialog)
def reschedule_dialog(row: dict) -> None:
    ref = int(row["ref"])
    current = pd.Timestamp(row["scheduled_at"]).to_pydatetime()
    # A fix from the Data quality page suggests where the event should go (e.g. the CORE's date at rule time).
    suggested = pd.Timestamp(row["suggested_start"]).to_pydatetime() if row.get("suggested_start") else current
    st.markdown(event_label(row))
    new_start = _start_picker("rs", ref, suggested, "New date")
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


def _suggestions(ref: int, start: datetime | None = None) -> Suggestions:
    """Who could work event `ref` at `start` (its own time, or the default one, when None): read once per dialog and
    time, so the reruns of a dialog do not ask Crossmark's qualified list again and again."""
    cache = st.session_state.setdefault(SUGGESTIONS_KEY, {})
    if (ref, start) not in cache:
        cache[(ref, start)] = get_actions().suggest(ref, start)
    return cache[(ref, start)]


TOP_SUGGESTION = ""  # the Supervisor lead list's first option: whoever the action finds best when it runs


def _pick_rep(prefix: str, ref: int, suggestions: Suggestions, label: str, choice_key: str) -> RuleCheck | None:
    """The ranked reps as a small table, then the rep list (the top one breaking no rule chosen first); the chosen
    rep's rule results, or None when nobody can be offered. `choice_key` names the list: a new time is a new list,
    so its choice starts again from the top rep at that time."""
    if suggestions.crossmark_note:
        st.caption(f"Crossmark's list of qualified reps: {plain(suggestions.crossmark_note)}; ranked from our data.")
    if not suggestions.ranked:
        st.warning("No active rep who may work this event type has a Crossmark rep id.", icon=":material/person_off:")
        return None
    st.dataframe(staffing.suggestions_table(suggestions), hide_index=True, width="stretch",
                 key=f"{prefix}_suggestions_{ref}", height=min(len(suggestions.ranked), 6) * 35 + 38,
                 column_config={"Rep": st.column_config.TextColumn("Rep", width=140),
                                "Job title": st.column_config.TextColumn("Job title", width=140),
                                "Verdict": st.column_config.TextColumn("Verdict", width=130)})
    by_id = {suggestion.rep.id: suggestion for suggestion in suggestions.ranked}
    employee_id = st.selectbox(label, list(by_id), index=staffing.top_allowed(suggestions.ranked),
                               format_func=lambda choice: staffing.rep_choice_label(by_id[choice]),
                               key=f"{prefix}_rep_{choice_key}")
    return by_id[employee_id].check


def _show_rules(checks: list[RuleCheck]) -> None:
    """Every rule the choice breaks, in words; every rule's result behind an expander."""
    for check in checks:
        for result in staffing.broken_rules(check):
            (st.error if result in check.hard_failures else st.warning)(
                plain(staffing.rule_line(result, marked=False)), icon=":material/rule:")
    with st.expander("Every rule checked"):
        for check in checks:
            st.markdown(f"**{plain(check.rep.name)}**  \n" + "  \n".join(
                plain(staffing.rule_line(result)) for result in check.results))


def _confirm_with_override(kind: str, ref: int, prefix: str, checks: list[RuleCheck],
                           preview: Callable[[str | None], Plan], run: Callable[[str | None, str], ActionResult],
                           confirm_label: str, working: str) -> None:
    """The preview, the override box when only soft rules are broken (a reason makes the confirm possible), and the
    confirm, which runs the action under the dialog's idempotency key."""
    _show_rules(checks)
    hard = any(check.hard_failures for check in checks)
    soft = any(check.soft_failures for check in checks)
    override = None
    if soft and not hard:
        override = st.text_input(
            "Override reason", key=f"{prefix}_override_{ref}", max_chars=input_limits.NOTE_MAX,
            placeholder="why this goes ahead anyway (recorded with the operation and in the audit trail)",
            help="The rules above marked 'can be overridden' yield to a reason; it is recorded.").strip() or None
        if override is None:
            st.info("Only rules that yield to a reason are broken: give one in the override box to go ahead.",
                    icon=":material/edit_note:")
            return
    if _preview(lambda: preview(override)) is None or not _need_user(kind):
        return
    if st.button(confirm_label, type="primary", key=f"{prefix}_go_{ref}"):
        with st.spinner(working):
            _finish(run(override, _key(kind, ref)))


@st.dialog("Staff", width="large", on_dismiss=_close_dialog)
def staff_dialog(row: dict) -> None:
    ref = int(row["ref"])
    st.markdown(event_label(row))
    actions = get_actions()
    try:
        event = _suggestions(ref).event
        pair = staffing.staffing_pair(get_engine(), ref)
    except OpsError as error:
        st.error(plain(error))
        return
    rule = get_settings().supervisor_rule
    now = actions.clock()
    first, last = max(event.window_start.date(), now.date()), event.window_end.date()
    st.caption(f"Window {event.window_start:%a %b %d, %H:%M} – {event.window_end:%a %b %d, %H:%M}")
    if last < first:
        st.error(f"Event {ref}'s window has closed; it cannot be staffed.", icon=":material/event_busy:")
        return
    suggested = staffing.staff_start(event, pair, now, rule) or datetime.combine(first, CORE_SLOTS[0])
    start = _start_picker("st", ref, min(max(suggested, datetime.combine(first, time.min)),
                                         datetime.combine(last, time.max)), "Date", first, last)
    try:
        suggestions = _suggestions(ref, start)
    except OpsError as error:
        st.error(plain(error))
        return
    check = _pick_rep("st", ref, suggestions, "Rep", f"{ref}_{start:%Y%m%d%H%M}")
    if check is None:
        return
    checks, lead_id = [check], None
    supervisor = pair.unstaffed_supervisor
    if supervisor is not None:  # the CORE takes its Unstaffed Supervisor along, at the rule time, to a lead
        lead_at = supervisor_start(start, rule)
        leads = _suggestions(supervisor.ref, lead_at).ranked
        top = next((lead for lead in leads if lead.allowed), None)
        by_id = {lead.rep.id: lead for lead in leads}
        top_label = f"Top suggestion ({top.rep.name})" if top else "Top suggestion (nobody is free: it stays Unstaffed)"
        lead_id = st.selectbox(
            "Supervisor lead", [TOP_SUGGESTION, *by_id], key=f"st_lead_{ref}_{lead_at:%Y%m%d%H%M}",
            format_func=lambda choice: top_label if choice == TOP_SUGGESTION
            else staffing.rep_choice_label(by_id[choice]),
            help=f"Supervisor {supervisor.ref} is Unstaffed: it is staffed with the CORE, at {lead_at:%H:%M}.") or None
        if lead_id is not None:
            checks.append(by_id[lead_id].check)
    employee_id = check.rep.id
    _confirm_with_override(
        STAFF, ref, "st", checks,
        lambda override: actions.preview_staff(ref, employee_id, start, supervisor_employee_id=lead_id,
                                               override=override),
        lambda override, key: actions.staff(ref, employee_id, start, acting_user(), key,
                                            supervisor_employee_id=lead_id, override=override),
        "Confirm staff", "Staffing in Crossmark and in our database…")


@st.dialog("Reassign", width="large", on_dismiss=_close_dialog)
def reassign_dialog(row: dict) -> None:
    ref = int(row["ref"])
    holder = row.get("rep_name")
    st.markdown(event_label(row) + (f" · with {plain(holder)}" if isinstance(holder, str) and holder else ""))
    actions = get_actions()
    try:
        suggestions = _suggestions(ref)  # at the event's own time; its current rep is left out
    except OpsError as error:
        st.error(plain(error))
        return
    check = _pick_rep("ra", ref, suggestions, "New rep", str(ref))
    if check is None:
        return
    employee_id = check.rep.id
    _confirm_with_override(
        REASSIGN, ref, "ra", [check],
        lambda override: actions.preview_reassign(ref, employee_id, override=override),
        lambda override, key: actions.reassign(ref, employee_id, acting_user(), key, override=override),
        "Confirm reassign", "Reassigning in Crossmark and in our database…")


def open_dialog(kind: str, row: dict) -> None:
    _new_key(kind, int(row["ref"]))  # a new submission gets a new key; reruns inside the dialog keep it
    st.session_state.pop(SUGGESTIONS_KEY, None)  # a dialog opened again reads who is free afresh
    st.session_state[OPEN_KEY] = (kind, row)


def draw_open_dialog() -> None:
    """Call once per page run, after the buttons: draws the dialog that is open, if any."""
    opened = st.session_state.get(OPEN_KEY)
    if opened is not None:
        kind, row = opened
        {RESCHEDULE: reschedule_dialog, UNSCHEDULE: unschedule_dialog,
         SCHEDULE_SUPERVISOR: schedule_supervisor_dialog, STAFF: staff_dialog, REASSIGN: reassign_dialog}[kind](row)


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
        if can(REASSIGN) and action_button("Reassign", f"btn_ra_{ref}", ":material/swap_horiz:"):
            open_dialog(REASSIGN, row.to_dict())
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
