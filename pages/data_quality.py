"""Data quality: the latest run, open findings with drill-down, fixes and acknowledgements, and the trend."""
from functools import partial

import streamlit as st

from dashboard import reads
from dashboard.actions_ui import acting_user, action_button, can, draw_open_dialog, open_dialog, result_banner
from dashboard.charts import findings_trend_chart
from dashboard.components import download_csv, download_excel, listing_cut_note, page_path
from dashboard.markdown_text import plain
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



def fix_in_the_past(finding) -> str | None:  # noqa: ANN001 - a findings row
    """Why a finding's Fix is not offered: it would schedule or move something into the past (the service refuses
    that anyway; the page does not offer it). None when the fix is possible."""
    from datetime import date, datetime

    import pandas as pd

    core_ref = finding.get("core_ref")
    if finding["rule"] in ("core_supervisor_unstaffed", "pair_date_mismatch", "supervisor_time_off_rule") \
            and pd.notna(core_ref):
        core = event_for_action(get_engine(), int(core_ref))
        if core is not None and core["scheduled_at"] is not None:
            target = supervisor_start(pd.Timestamp(core["scheduled_at"]).to_pydatetime(),
                                      get_settings().supervisor_rule)
            return "No fix offered: the rule time is in the past." if target < datetime.now() else None
    day = finding.get("day")
    if day is not None and pd.notna(day) and str(day)[:10] < date.today().isoformat():
        return "No fix offered: this is in the past."
    return None


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

st.subheader("Open findings")
rule_column, severity_column, store_column, ack_column = st.columns(4)
rule = rule_column.selectbox("Rule", [None, *RULES], format_func=lambda r: rule_title(r) if r else "All rules",
                             key="dq_rule")
severity = severity_column.selectbox("Severity", [None, *SEVERITIES], format_func=lambda s: s.capitalize() if s else "All",
                                     key="dq_sev")
store_text = store_column.text_input("Store", key="dq_store", placeholder="location id", max_chars=input_limits.STORE_MAX)
try:
    store = input_limits.single_line(store_text, "The store", input_limits.STORE_MAX) or None
except InvalidInput as refusal:
    st.warning(f"{plain(refusal)} Showing every store.", icon=":material/filter_alt_off:")
    store = None
ack_choice = ack_column.selectbox("Acknowledged", ["All", "Not acknowledged", "Acknowledged"], key="dq_ack")
acknowledged = {"All": None, "Not acknowledged": False, "Acknowledged": True}[ack_choice]
findings = reads.open_findings(rule, severity, store, acknowledged)
if findings.empty:
    st.success("No open findings for these filters.", icon=":material/check_circle:")
else:
    picked = st.dataframe(findings, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                          key="dq_table", column_order=["severity", "rule_title", "day", "detail", "event_number",
                                                        "store", "first_seen", "acknowledged_by", "note"],
                          column_config={"severity": "Severity", "rule_title": "Rule", "day": "Day",
                                         "detail": "Detail", "event_number": "Event number", "store": "Store",
                                         "first_seen": st.column_config.DatetimeColumn("First seen",
                                                                                       format="MMM D, HH:mm"),
                                         "acknowledged_by": "Acknowledged by", "note": "Note"})
    rows = picked.selection.rows if picked else []
    if rows:
        finding = findings.iloc[rows[0]]
        with st.container(border=True):
            st.markdown(f"**{plain(rule_title(finding['rule']))}** ({plain(finding['severity'])}) — "
                        f"{plain(finding['detail'])}")
            links, fix_column = st.columns(2)
            if finding["day"] is not None:
                links.page_link(page_path("day"), label="Open the day view", icon=":material/today:",
                                query_params={"date": str(finding["day"])})
            fix = FIXES.get(finding["rule"])
            past = fix_in_the_past(finding)
            if fix and past:
                fix_column.caption(past)
            elif fix and can(RESCHEDULE) and action_button(fix, f"fix_{finding['id']}", ":material/build:",
                                                           where=fix_column):
                if finding["rule"] == "core_supervisor_unstaffed":
                    open_dialog(SCHEDULE_SUPERVISOR, event_for_action(get_engine(), int(finding["core_ref"])))
                elif finding["rule"] == "supervisor_scheduled_core_not":
                    open_dialog(UNSCHEDULE, event_for_action(get_engine(), int(finding["supervisor_ref"])))
                else:
                    core = event_for_action(get_engine(), int(finding["core_ref"]))
                    supervisor = event_for_action(get_engine(), int(finding["supervisor_ref"]))
                    supervisor["suggested_start"] = supervisor_start(core["scheduled_at"], get_settings().supervisor_rule)
                    open_dialog(RESCHEDULE, supervisor)
            note = (st.text_input("Acknowledge with a note", key=f"ack_note_{finding['id']}",
                                  max_chars=input_limits.NOTE_MAX) if can("acknowledge") else "")
            if can("acknowledge") and st.button("Acknowledge", key=f"ack_{finding['id']}", icon=":material/done:"):
                try:
                    acknowledge(get_engine(), int(finding["id"]), acting_user(), input_limits.note(note, "The note"),
                                actions_per_minute=get_settings().actions_per_minute)
                except OpsError as error:
                    st.error(plain(error))
                else:
                    st.rerun()
    listing_cut_note(len(findings), FINDINGS_LISTING_LIMIT, "most severe findings")
    every_finding = partial(reads.open_findings_for_export, rule, severity, store, acknowledged)
    export_csv, export_excel = st.columns(2)
    with export_csv:
        download_csv(every_finding, "findings.csv")
    with export_excel:
        download_excel(every_finding, "findings.xlsx", sheet_name="Open findings")

st.subheader("Trend of open findings per rule")
trend = reads.findings_trend()
if trend["run_id"].nunique() < 2:
    st.caption("The trend appears after two runs.")
else:
    st.plotly_chart(findings_trend_chart(trend.assign(rule=[rule_title(name) for name in trend["rule"]])),
                    config={"displayModeBar": False})
draw_open_dialog()
