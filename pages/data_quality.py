"""Data quality: the latest run, the work queues of open findings with a side panel (history, assign, comment, fix,
acknowledge), time to fix and the trend."""
import streamlit as st

from dashboard import query_state, reads
from dashboard.actions_ui import acting_user, can, draw_open_dialog, result_banner
from dashboard.charts import findings_trend_chart, time_to_fix_chart
from dashboard.components import download_csv, download_excel, listing_cut_note
from dashboard.markdown_text import plain
from dashboard.quality_panel import (EMPTY_QUEUE, SEVERITIES, finding_panel, for_people, store_key,
                                     with_store_names)
from dashboard.selection import selected_row
from dashboard.wiring import get_engine, get_settings
from services.domain import input_limits
from services.errors import InvalidInput, OpsError
from services.quality.checks import FINDINGS_LISTING_LIMIT, run_check
from services.quality.rules import RULES, rule_title
from services.quality.work import QUEUE_LABELS, FindingQueue

st.title("Data quality")
result_banner()

run_column, info_column = st.columns([1, 3], vertical_alignment="center")
if can("run_checks") and run_column.button("Run checks now", type="primary", icon=":material/play_arrow:", key="run_checks"):
    progress = st.progress(0.0, text="Starting…")
    try:
        # Incremental when it can be (what changed since the last complete run; the same findings as a full run).
        outcome = run_check(get_engine(), get_settings(), triggered_by=acting_user() or "dashboard", actor=acting_user(),
                            progress=lambda done, total, name: progress.progress(done / max(total, 1),
                                                                                 text=f"Checking {name}…"),
                            incremental=True)
        progress.progress(1.0, text=f"Run {outcome.run_id}: {outcome.open_findings:,} open, {outcome.new} new, "
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
me = acting_user()
counts = reads.work_counts(me)
queue_counts = {FindingQueue.ALL: counts.open, FindingQueue.MINE: counts.mine,
                FindingQueue.UNASSIGNED: counts.unassigned, FindingQueue.OVERDUE: counts.overdue}
queue = st.segmented_control(
    "View", list(FindingQueue), format_func=lambda q: f"{QUEUE_LABELS[FindingQueue(q)]} ({queue_counts[FindingQueue(q)]:,})",
    required=True, **query_state.bind("view", "dq_queue", lambda: query_state.read_choice("view", list(FindingQueue),
                                                                                          FindingQueue.ALL)))
query_state.remember_bound("view", "dq_queue", None if queue == FindingQueue.ALL else queue)
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
findings = with_store_names(reads.open_findings(rule, severity, store, acknowledged, queue, me), stores)
if findings.empty:
    st.success(EMPTY_QUEUE[FindingQueue(queue)], icon=":material/check_circle:")
else:
    findings = for_people(findings)
    finding = selected_row(
        findings, "id", "dq_table", hide_index=True, width="stretch",
        column_order=["severity", "rule_title", "day", "detail", "owner", "due", "store_number", "store_name"],
        column_config={"severity": "Severity", "rule_title": "Rule",
                       "day": st.column_config.DateColumn("Day", format="ddd MMM DD"), "detail": "Detail",
                       "owner": "Owner", "due": "Due",
                       "store_number": st.column_config.NumberColumn("Store", format="%d"),
                       "store_name": "Store name"})
    listing_cut_note(len(findings), FINDINGS_LISTING_LIMIT, "most severe findings")
    if finding is None:
        st.caption("Select a finding to see its history, assign it, comment on it, fix or acknowledge it.")
    else:
        finding_panel(finding)
    every_finding = lambda: with_store_names(  # noqa: E731 - read when the download is asked for
        reads.open_findings_for_export(rule, severity, store, acknowledged, queue, me), stores)
    export_csv, export_excel = st.columns(2)
    with export_csv:
        download_csv(every_finding, "findings.csv")
    with export_excel:
        download_excel(every_finding, "findings.xlsx", sheet_name="Open findings")

st.header("Time to fix")
fixes = reads.time_to_fix()
if not fixes:
    st.caption("Appears once findings have been resolved: the median days from first seen to resolved, per week.")
else:
    st.plotly_chart(time_to_fix_chart(fixes), config={"displayModeBar": False})

st.header("Trend of open findings by severity")
trend = reads.findings_trend()
if trend["day"].nunique() < 2:
    st.caption("The trend appears once the checks have run on two days.")
else:
    st.plotly_chart(findings_trend_chart(trend), config={"displayModeBar": False})
draw_open_dialog()
