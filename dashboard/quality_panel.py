"""The Data quality page's side panel and filters: what a finding's Fix does and on which event, whether it is offered,
who acknowledged it, and the store filter as people type it (pages/data_quality.py draws them)."""
from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import streamlit as st

from dashboard.actions_ui import acting_user, can, toast_after_rerun
from dashboard.components import store_numbers
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
from services.reads.read_queries import event_for_action

SEVERITIES = tuple(severity.value for severity in Severity)  # plain text: the widgets' options
FIXES = {  # rule -> what the Fix button does
    "core_supervisor_unstaffed": "Schedule the Supervisor at rule time",
    "pair_date_mismatch": "Move the Supervisor to the CORE's date at rule time",
    "supervisor_time_off_rule": "Move the Supervisor to the rule time",
    "supervisor_scheduled_core_not": "Unschedule the Supervisor",
}



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
