"""Data quality: the latest run, open findings with drill-down, fixes and acknowledgements, and the trend."""
from datetime import date, datetime

import pandas as pd
import streamlit as st

from dashboard import reads
from dashboard.actions_ui import (acting_user, action_button, can, draw_open_dialog, event_label, open_dialog,
                                  result_banner, toast_after_rerun)
from dashboard.charts import findings_trend_chart
from dashboard.components import download_csv, download_excel, listing_cut_note, page_path
from dashboard.markdown_text import plain
from dashboard.selection import selected_row
from dashboard.wiring import get_engine, get_settings
from services import input_limits
from services.errors import InvalidInput, OpsError
from services.event_rules import supervisor_start
from services.paired_actions import RESCHEDULE, SCHEDULE_SUPERVISOR, UNSCHEDULE
from services.quality_checks import FINDINGS_LISTING_LIMIT, acknowledge, run_check
from services.quality_rules import RULES, rule_title
from services.read_queries import event_for_action

SEVERITIES = ("critical", "warning", "info")
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
    if text in set(stores["store"].astype(str)):
        return text
    by_number = stores[stores["store_number"].astype("Int64").astype(str) == text]
    if not by_number.empty:
        return str(by_number["store"].iloc[0])
    raise InvalidInput(f"No store has the number or location id \u201c{text}\u201d.")


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


st.title("Data quality")
result_banner()

run_column, info_column = st.columns([1, 3], vertical_alignment="center")
if can("run_checks") and run_column.button("Run checks now", type="primary", icon=":material/play_arrow:", key="run_checks"):
    progress = st.progress(0.0, text="Starting…")
    try:
        outcome = run_check(get_engine(), get_settings(), triggered_by=acting_user() or "dashboard", actor=acting_user(),
                            progress=lambda done, total, name: progress.progress(done / max(total, 1),
                                                                                 text=f"Checking {name}…"))
        progress.progress(1.0, text=f"Run {outcome.run_id}: {len(outcome.findings)} open, {outcome.new} new, "
                                    f"{outcome.resolved} resolved")
    except OpsError as error:
        st.error(plain(error))

latest = reads.latest_run()
if latest is None:
    info_column.info("No check has run yet. " + ("Run one now." if can("run_checks") else
                                                 "Ask an operator to run one, or an admin to schedule the checks."))
    st.stop()
info_column.caption(f"Latest run {latest['id']} at {latest['started_at']:%a %b %d %H:%M} by {plain(latest['triggered_by'])}: "
                    f"{latest['findings']} open, {latest['new_findings']} new, {latest['resolved_findings']} resolved"
                    + (f" · notification: {plain(latest['notification'])}" if latest.get("notification") else ""))

summary = reads.run_summary(latest["id"])
tiles = st.columns(3)
for tile, severity in zip(tiles, SEVERITIES):
    rows = summary[summary["severity"] == severity]
    new = int(rows["new"].sum())
    tile.metric(severity.capitalize(), f"{int(rows['open'].sum()):,}", f"{new:,} new" if new else None,
                delta_color="inverse", border=True)
with st.expander("By rule", expanded=False):
    st.dataframe(summary.assign(rule=[rule_title(name) for name in summary["rule"]],
                                severity=summary["severity"].str.capitalize()),
                 hide_index=True, width="stretch", column_config={"rule": "Rule", "severity": "Severity",
                                                                  "open": "Open", "new": "New"})

st.header("Open findings")
rule_column, severity_column, store_column, ack_column = st.columns(4)
rule = rule_column.selectbox("Rule", [None, *RULES], format_func=lambda r: rule_title(r) if r else "All rules",
                             key="dq_rule")
severity = severity_column.selectbox("Severity", [None, *SEVERITIES], format_func=lambda s: s.capitalize() if s else "All",
                                     key="dq_sev")
store_text = store_column.text_input("Store", key="dq_store", placeholder="store number or location id",
                                     max_chars=input_limits.STORE_MAX)
stores = reads.stores()
try:
    store = store_key(store_text, stores)
except InvalidInput as refusal:
    st.warning(f"{plain(refusal)} Showing every store.", icon=":material/filter_alt_off:")
    store = None
ack_choice = ack_column.selectbox("Acknowledged", ["All", "Not acknowledged", "Acknowledged"], key="dq_ack")
acknowledged = {"All": None, "Not acknowledged": False, "Acknowledged": True}[ack_choice]
findings = with_store_names(reads.open_findings(rule, severity, store, acknowledged), stores)
if findings.empty:
    st.success("No open findings for these filters.", icon=":material/check_circle:")
else:
    findings["day"] = pd.to_datetime(findings["day"])
    finding = selected_row(
        findings, "id", "dq_table", hide_index=True, width="stretch",
        column_order=["severity", "rule_title", "day", "detail", "event_number", "store_number", "store_name",
                      "first_seen", "acknowledged_by", "acknowledged_at", "note"],
        column_config={"severity": "Severity", "rule_title": "Rule",
                       "day": st.column_config.DateColumn("Day", format="ddd MMM DD"),
                       "detail": "Detail", "event_number": "Event number",
                       "store_number": st.column_config.NumberColumn("Store", format="%d"), "store_name": "Store name",
                       "first_seen": st.column_config.DatetimeColumn("First seen", format="MMM DD, HH:mm"),
                       "acknowledged_by": "Acknowledged by",
                       "acknowledged_at": st.column_config.DatetimeColumn("Acknowledged", format="MMM DD, HH:mm"),
                       "note": "Note"})
    if finding is not None:
        with st.container(border=True):
            st.markdown(f"**{plain(finding['rule_title'])}** ({plain(finding['severity'])}) — "
                        f"{plain(finding['detail'])}")
            fix = FIXES.get(finding["rule"])
            target = fix_target(finding) if fix else None
            if target is not None:
                st.markdown("Acts on " + event_label(target[1]))
            links, fix_column = st.columns(2)
            if pd.notna(finding["day"]):
                links.page_link(page_path("day"), label="Open the day view", icon=":material/today:",
                                query_params={"date": f"{finding['day']:%Y-%m-%d}"})
            past = fix_in_the_past(finding, *target) if target is not None else None
            if past:
                fix_column.caption(past)
            elif target is not None and can(RESCHEDULE) and action_button(fix, f"fix_{finding['id']}",
                                                                          ":material/build:", where=fix_column):
                open_dialog(*target)
            acknowledgement(finding)
    listing_cut_note(len(findings), FINDINGS_LISTING_LIMIT, "most severe findings")
    every_finding = lambda: with_store_names(  # noqa: E731 - read when the download is asked for
        reads.open_findings_for_export(rule, severity, store, acknowledged), stores)
    export_csv, export_excel = st.columns(2)
    with export_csv:
        download_csv(every_finding, "findings.csv")
    with export_excel:
        download_excel(every_finding, "findings.xlsx", sheet_name="Open findings")

st.header("Trend of open findings by severity")
trend = reads.findings_trend()
if trend["day"].nunique() < 2:
    st.caption("The trend appears once the checks have run on two days.")
else:
    st.plotly_chart(findings_trend_chart(trend), config={"displayModeBar": False})
draw_open_dialog()
