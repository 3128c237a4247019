"""The Data quality page's side panel and filters: a finding's facts and history, assigning and commenting, what its Fix
does and on which event, whether it is offered, who acknowledged it, and the store filter as people type it
(pages/data_quality.py draws them)."""
from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import streamlit as st

from dashboard import reads
from dashboard.actions_ui import acting_user, action_button, can, event_label, open_dialog, toast_after_rerun
from dashboard.components import page_path, store_numbers
from dashboard.markdown_text import plain
from dashboard.query_state import UnknownStore, store_for
from dashboard.wiring import get_engine, get_settings
from services.domain import input_limits
from services.errors import InvalidInput, OpsError
from services.domain.event_rules import supervisor_start
from services.actions.plan import RESCHEDULE, SCHEDULE_SUPERVISOR, UNSCHEDULE
from services.domain.severity import Severity
from services.quality.checks import acknowledge
from services.quality.rules import rule_title
from services.quality.work import COMMENT_MAX, FindingQueue, FindingRecord, assign, comment
from services.reads.read_queries import event_for_action

SEVERITIES = tuple(severity.value for severity in Severity)  # plain text: the widgets' options
FIXES = {  # rule -> what the Fix button does
    "core_supervisor_unstaffed": "Schedule the Supervisor at rule time",
    "pair_date_mismatch": "Move the Supervisor to the CORE's date at rule time",
    "supervisor_time_off_rule": "Move the Supervisor to the rule time",
    "supervisor_scheduled_core_not": "Unschedule the Supervisor",
}

EMPTY_QUEUE = {FindingQueue.ALL: "No open findings for these filters.",
               FindingQueue.MINE: "Nothing assigned to you is open for these filters.",
               FindingQueue.UNASSIGNED: "Every open finding for these filters has an owner.",
               FindingQueue.OVERDUE: "Nothing is overdue for these filters."}
STAMP = "%a %b %d, %H:%M"


def for_people(findings: pd.DataFrame) -> pd.DataFrame:
    """The listing as people read it: "Critical", a date for the day, an owner or "Unassigned", and when it is due
    ("Overdue since Tue Dec 01, 09:00" / "Thu Dec 03, 14:00")."""
    findings = findings.copy()
    findings["day"] = pd.to_datetime(findings["day"])
    findings["severity"] = findings["severity"].str.capitalize()
    findings["event_number"] = pd.to_numeric(findings["event_number"], errors="coerce").astype("Int64")
    findings["owner"] = findings["owner"].fillna("Unassigned")
    findings["due"] = [("Overdue since " if overdue else "") + f"{pd.Timestamp(due):{STAMP}}" if pd.notna(due) else ""
                       for due, overdue in zip(findings["due_by"], findings["overdue"])]
    return findings


def finding_panel(finding: pd.Series) -> None:
    """The selected finding, under the listing: what it is, its facts, the day and Fix (left); its owner, a comment,
    the acknowledgement and its history (right; below on a phone)."""
    record = reads.finding_record(int(finding["id"]))
    with st.container(border=True):
        st.markdown(f"**{plain(finding['rule_title'])}** ({plain(finding['severity'])}) — {plain(record.detail)}")
        facts_column, work_column = st.columns(2, gap="large")
        with facts_column:
            facts = [("Store", _store_text(finding)), ("Events", ", ".join(map(str, record.refs)) or "none"),
                     ("First seen", f"{record.first_seen:{STAMP}}"),
                     ("Due by", (f"{record.due_by:{STAMP}}" + (" — overdue" if bool(finding["overdue"]) else ""))
                      if record.due_by else "not set"),
                     ("Owner", record.owner or "Unassigned")]
            if record.rep:
                facts.insert(2, ("Rep", record.rep))
            st.markdown("  \n".join(f"**{label}:** {plain(value)}" for label, value in facts))
            if pd.notna(finding["day"]):
                st.page_link(page_path("day"), label=f"Open the day view ({pd.Timestamp(finding['day']):%a %b %d})",
                             icon=":material/today:", query_params={"date": f"{finding['day']:%Y-%m-%d}"})
            _fix(finding)
        with work_column:
            _assignment(record)
            _comment_box(record)
            acknowledgement(finding)
        _history(record)


def _store_text(finding: pd.Series) -> str:
    if pd.isna(finding.get("store_number")) and not finding.get("store"):
        return "—"
    number = f"#{int(finding['store_number'])}" if pd.notna(finding.get("store_number")) else str(finding["store"])
    name = finding.get("store_name")
    return f"{number} · {name}" if isinstance(name, str) and name else number


def _fix(finding: pd.Series) -> None:
    fix = FIXES.get(finding["rule"])
    target = fix_target(finding) if fix else None
    if target is None:
        return
    st.markdown("Acts on " + event_label(target[1]))
    past = fix_in_the_past(finding, *target)
    if past:
        st.caption(past)
    elif can(RESCHEDULE) and action_button(fix, f"fix_{finding['id']}", ":material/build:"):
        open_dialog(*target)


def _assignment(record: FindingRecord) -> None:
    if not can("assign"):
        return
    people = reads.assignable_people()
    if not people:
        return
    current = people.index(record.owner) if record.owner in people else None
    owner_column, button_column = st.columns([3, 2], vertical_alignment="bottom")
    chosen = owner_column.selectbox("Owner", people, index=current, key=f"dq_owner_{record.id}",
                                    placeholder="Choose a person")
    label = "Assign to me" if chosen is None and acting_user() in people else "Assign"
    if button_column.button(label, key=f"dq_assign_{record.id}", width="stretch",
                            disabled=chosen is not None and chosen == record.owner):
        who = chosen or acting_user()
        try:
            owner = assign(get_engine(), record.id, who, acting_user(),
                           actions_per_minute=get_settings().actions_per_minute)
        except OpsError as error:
            st.error(plain(error))
        else:
            toast_after_rerun(f"Assigned to {owner}: {rule_title(record.rule)}")
            st.rerun()


def _comment_box(record: FindingRecord) -> None:
    if not can("comment"):
        return
    said = st.text_area("Comment", key=f"dq_comment_{record.id}", max_chars=COMMENT_MAX, height=80,
                        placeholder="What you found, who you called, what is next")
    if st.button("Add comment", key=f"dq_comment_add_{record.id}", icon=":material/chat:"):
        try:
            comment(get_engine(), record.id, said, acting_user(), actions_per_minute=get_settings().actions_per_minute)
        except OpsError as error:
            st.error(plain(error))
        else:
            st.session_state.pop(f"dq_comment_{record.id}", None)
            toast_after_rerun("Comment added")
            st.rerun()


HISTORY_WORDS = {"assigned": "Assigned", "commented": "Comment", "acknowledged": "Acknowledged",
                 "resolved": "Resolved", "reopened": "Reopened"}


def _history(record: FindingRecord) -> None:
    """Oldest first: first seen, then each thing that happened (comments as plain text, whatever they hold)."""
    lines = [f"{record.first_seen:{STAMP}} · **First seen** by a check run"]
    lines += [f"{entry.at:{STAMP}} · **{HISTORY_WORDS.get(entry.kind.value, entry.kind.value)}** by "
              f"{plain(entry.actor or 'a check run')}" + (f": {plain(entry.text)}" if entry.text else "")
              for entry in record.history]
    with st.expander(f"History ({len(lines)})", expanded=len(lines) > 1):
        st.markdown("  \n".join(lines))


def store_key(text: str, stores: pd.DataFrame) -> str | None:
    """The store key findings are filed under, for what people type: a store number (as on the receipts) or a
    location id. None for an empty filter; InvalidInput, naming what was typed, for a store we do not know."""
    text = input_limits.single_line(text, "The store", input_limits.STORE_MAX)
    if not text:
        return None
    try:
        return store_for(text, store_numbers(stores))
    except UnknownStore:
        raise InvalidInput(f"No store has the number or location id \u201c{text}\u201d.") from None
    except InvalidInput as refusal:  # a number several locations share: the message says so
        raise InvalidInput(f"Store \u201c{text}\u201d: {refusal}.") from None


def with_store_names(findings: pd.DataFrame, stores: pd.DataFrame) -> pd.DataFrame:
    """Findings with their store's number and name (findings keep the store key: location id, else number)."""
    names = stores[["store", "store_number", "store_name"]].drop_duplicates("store")
    return findings.merge(names.astype({"store": str}), how="left", on="store")


def fix_target(finding: pd.Series) -> tuple[str, dict] | None:
    """What a finding's Fix does: the action and the event it acts on (None when the rule has no fix, or the event is
    gone). A rescheduled Supervisor carries where the fix moves it (the CORE's date at rule time)."""
    rule = finding["rule"]
    engine = get_engine()
    if rule not in FIXES:
        return None
    if rule == "supervisor_scheduled_core_not":
        kind, target = UNSCHEDULE, event_for_action(engine, int(finding["supervisor_ref"]))
    else:
        core = event_for_action(engine, int(finding["core_ref"]))
        if core is None or pd.isna(core["scheduled_at"]):
            return None
        if rule == "core_supervisor_unstaffed":
            kind, target = SCHEDULE_SUPERVISOR, core
        else:
            kind, target = RESCHEDULE, event_for_action(engine, int(finding["supervisor_ref"]))
            if target is not None:
                target["suggested_start"] = supervisor_start(pd.Timestamp(core["scheduled_at"]).to_pydatetime(),
                                                             get_settings().supervisor_rule)
    if target is None:
        return None
    return kind, {**target, "store_number": finding["store_number"], "store_name": finding["store_name"]}


def fix_in_the_past(finding: pd.Series, kind: str, target: dict) -> str | None:
    """Why a finding's Fix is not offered: it would schedule or move something into the past (the service refuses
    that anyway; the page does not offer it). None when the fix is possible."""
    if kind == SCHEDULE_SUPERVISOR:
        when = supervisor_start(pd.Timestamp(target["scheduled_at"]).to_pydatetime(), get_settings().supervisor_rule)
    else:
        when = target.get("suggested_start")
    if when is not None and when < datetime.now():
        return "No fix offered: the rule time is in the past."
    if pd.notna(finding["day"]) and pd.Timestamp(finding["day"]).date() < date.today():
        return "No fix offered: this is in the past."
    return None


def acknowledgement(finding: pd.Series) -> None:
    """Who acknowledged the finding, when, and their note (as plain text); else the note box and the button."""
    if pd.notna(finding["acknowledged_by"]):
        st.markdown(f"Acknowledged by **{plain(finding['acknowledged_by'])}** on "
                    f"{pd.Timestamp(finding['acknowledged_at']):%a %b %d, %H:%M}")
        if pd.notna(finding["note"]):
            st.text(f"Note: {finding['note']}")
        return
    if not can("acknowledge"):
        return
    note = st.text_input("Acknowledge with a note", key=f"ack_note_{finding['id']}", max_chars=input_limits.NOTE_MAX)
    if st.button("Acknowledge", key=f"ack_{finding['id']}", icon=":material/done:"):
        try:
            acknowledge(get_engine(), int(finding["id"]), acting_user(), input_limits.note(note, "The note"),
                        actions_per_minute=get_settings().actions_per_minute)
        except OpsError as error:
            st.error(plain(error))
        else:
            toast_after_rerun(f"Acknowledged: {plain(rule_title(finding['rule']))}")
            st.rerun()
