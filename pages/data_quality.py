"""Data quality: the latest run, open findings with drill-down, fixes and acknowledgements, and the trend."""
import pandas as pd
import streamlit as st

from dashboard import reads
from dashboard.actions_ui import acting_user, action_button, can, draw_open_dialog, event_label, open_dialog, result_banner
from dashboard.charts import findings_trend_chart
from dashboard.components import download_csv, download_excel, listing_cut_note, page_path
from dashboard.markdown_text import plain
from dashboard.quality_panel import (FIXES, SEVERITIES, acknowledgement, fix_in_the_past, fix_target, store_key,
                                     with_store_names)
from dashboard.selection import selected_row
from dashboard.wiring import get_engine, get_settings
from services.domain import input_limits
from services.errors import InvalidInput, OpsError
from services.actions.plan import RESCHEDULE
from services.quality.checks import FINDINGS_LISTING_LIMIT, run_check
from services.quality.rules import RULES, rule_title

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
    # What people read: "Critical"; an event number as a whole number, blank for a finding about no one event.
    findings["severity"] = findings["severity"].str.capitalize()
    findings["event_number"] = pd.to_numeric(findings["event_number"], errors="coerce").astype("Int64")
    finding = selected_row(
        findings, "id", "dq_table", hide_index=True, width="stretch",
        column_order=["severity", "rule_title", "day", "detail", "event_number", "store_number", "store_name",
                      "first_seen", "acknowledged_by", "acknowledged_at", "note"],
        column_config={"severity": "Severity", "rule_title": "Rule",
                       "day": st.column_config.DateColumn("Day", format="ddd MMM DD"),
                       "detail": "Detail", "event_number": st.column_config.NumberColumn("Event number", format="%d"),
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
