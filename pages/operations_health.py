"""Operations health: the /healthz report, p50/p95 of read-query and Crossmark latencies, action and call counts."""
from datetime import datetime

import streamlit as st

from dashboard.markdown_text import plain
from dashboard.wiring import get_settings
from services.health import current_health
from services.metrics import METRICS


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _table(rows: list[dict], empty: str) -> None:
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.caption(empty)


st.title("Operations health")
started = datetime.fromtimestamp(METRICS.started_at)
st.caption(f"The same checks as `GET /healthz`; figures below are this server process's since {started:%b %d %H:%M} "
           "(each replica counts its own; `GET /metrics` has them for Prometheus).")
if st.button("Check again", icon=":material/refresh:"):
    st.rerun()

report = current_health(get_settings())  # what /healthz answers now, from the same function
if not report.healthy:
    st.error("**Unhealthy** (/healthz answers 503): " + plain("; ".join(report.reasons)), icon=":material/error:")
elif report.warnings:
    st.warning("**Healthy, with warnings** (/healthz answers 200): " + plain("; ".join(report.warnings)),
               icon=":material/warning:")
else:
    st.success("**Healthy** (/healthz answers 200)", icon=":material/check_circle:")

database, crossmark, check_run, attention = st.columns(4)
database.metric("Database", "reachable" if report.database.reachable else "unreachable",
                help=report.database.error or report.database.url, border=True)
crossmark.metric("Crossmark", report.crossmark.status, help=report.crossmark.error or report.crossmark.url,
                 border=True)
check_run.metric("Last data-quality run", _age(report.last_check_run.age_seconds),
                 help=report.last_check_run.finished_at, border=True)
attention.metric("Operations needing attention",
                 "?" if report.operations_needing_attention is None else report.operations_needing_attention,
                 border=True)
st.caption(f"Schema revision {report.schema.revision or '?'} (current: {report.schema.head or '?'}) · "
           f"checked {report.checked_at}")
if report.switches:
    st.caption("Switches: " + " · ".join(f"{name} **{'on' if s['enabled'] else 'off'}**"
                                         + (f" ({s['changed_by']})" if s.get("changed_by") else "")
                                         for name, s in report.switches.items()))

st.subheader("Latency")
st.markdown("**Read queries** (queries that reached the database; cache hits are not timed)")
_table(METRICS.latency_rows("read_query_seconds", "query"), "No read queries in this process yet.")
st.markdown("**Crossmark calls**")
_table(METRICS.latency_rows("crossmark_seconds", "path"), "No Crossmark calls in this process yet.")

st.subheader("Counts")
actions, calls = st.columns(2)
with actions:
    st.markdown("**Actions** by kind and status")
    _table(METRICS.counter_rows("actions"), "No actions in this process yet.")
with calls:
    st.markdown("**Crossmark calls** by path and status")
    _table(METRICS.counter_rows("crossmark_calls"), "No Crossmark calls in this process yet.")
cache = METRICS.counter_rows("cache_requests")
hits = sum(int(row["count"]) for row in cache if row.get("result") == "hit")
if cache:
    st.caption(f"Read cache: {hits:,} hits of {sum(int(row['count']) for row in cache):,} lookups")
