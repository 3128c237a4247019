"""Operations health: the /healthz report (its reasons and details for admins only), p50/p95 of read-query and
Crossmark latencies, action and call counts."""
from datetime import datetime

import streamlit as st

from dashboard.components import when
from dashboard.markdown_text import plain
from dashboard.wiring import get_settings
from services.access.accounts import ADMIN
from services.ops.health import HealthReport, current_health
from services.actions.journal import STATUSES, status_label
from services.ops.metrics import METRICS
from services.actions.plan import kind_label
from services.access.switches import LABELS as SWITCH_LABELS


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _iso_when(text: str | None) -> str:
    """An ISO time from the health report (it is JSON for /healthz) as people read it: Tue Dec 08, 10:30."""
    return when(datetime.fromisoformat(text)) if text else "—"


def _words(rows: list[dict]) -> list[dict]:
    """Metric labels in words: an action's kind and status as the Operations page names them, read queries without
    underscores ("month calendar", not month_calendar)."""
    def word(label: str, value: object) -> object:
        if label == "kind":
            return kind_label(str(value))
        if label == "status" and str(value) in STATUSES:
            return status_label(str(value))
        return value.replace("_", " ") if label == "query" and isinstance(value, str) else value

    return [{label.capitalize(): word(label, value) for label, value in row.items()} for row in rows]


def _table(rows: list[dict], empty: str) -> None:
    if rows:
        st.dataframe(_words(rows), hide_index=True, width="stretch")
    else:
        st.caption(empty)


st.title("Operations health")
started = datetime.fromtimestamp(METRICS.started_at)
st.caption(f"The same checks as `GET /healthz`; figures below are this server process's since {when(started)} "
           "(each replica counts its own; `GET /metrics` has them for Prometheus).")
if st.button("Check again", icon=":material/refresh:"):
    st.rerun()


def _status(report: HealthReport, with_reasons: bool) -> None:
    def why(texts: list[str]) -> str:
        return (": " + plain("; ".join(texts))) if with_reasons and texts else ""

    if not report.healthy:
        st.error("**Unhealthy** (/healthz answers 503)" + why(report.reasons), icon=":material/error:")
    elif report.warnings:
        st.warning("**Healthy, with warnings** (/healthz answers 200)" + why(report.warnings),
                   icon=":material/warning:")
    else:
        st.success("**Healthy** (/healthz answers 200)", icon=":material/check_circle:")


def _details(report: HealthReport) -> None:
    """What anonymous /healthz callers do not get either (issue 17): where the database and Crossmark are, the queue
    needing attention, who changed the switches."""
    database, crossmark, check_run, attention = st.columns(4)
    # Help texts are Markdown too: an error may quote what the database or Crossmark answered.
    database.metric("Database", "reachable" if report.database.reachable else "unreachable",
                    help=plain(report.database.error or report.database.url), border=True)
    crossmark_help = report.crossmark.error or report.crossmark.url  # neither for the sandbox
    crossmark.metric("Crossmark", report.crossmark.status, help=plain(crossmark_help) if crossmark_help else None,
                     border=True)
    check_run.metric("Last data-quality run", _age(report.last_check_run.age_seconds),
                     help=(f"Finished {_iso_when(report.last_check_run.finished_at)}"
                           if report.last_check_run.finished_at else None),
                     border=True)
    attention.metric("Operations needing attention",
                     "?" if report.operations_needing_attention is None else report.operations_needing_attention,
                     border=True)
    st.caption(f"Schema revision {plain(report.schema.revision or '?')} (current: {plain(report.schema.head or '?')})"
               f" · checked {_iso_when(report.checked_at)}")
    if report.switches:
        st.caption("Switches: " + " · ".join(f"{plain(SWITCH_LABELS.get(name, name))} **{'on' if s['enabled'] else 'off'}**"
                                             + (f" ({plain(s['changed_by'])})" if s.get("changed_by") else "")
                                             for name, s in report.switches.items()))


report = current_health(get_settings())  # what /healthz answers now, from the same function
is_admin = st.session_state.get("acting_role") == ADMIN  # set by dashboard/app.py for the signed-in account
_status(report, with_reasons=is_admin)
if is_admin:
    _details(report)
else:
    st.caption("The reasons and details of this report (database, Crossmark, the queue needing attention, switches) "
               "are shown to admins.")

st.header("Latency")
st.markdown("**Read queries** (queries that reached the database; cache hits are not timed)")
_table(METRICS.latency_rows("read_query_seconds", "query"), "No read queries in this process yet.")
st.markdown("**Crossmark calls**")
_table(METRICS.latency_rows("crossmark_seconds", "path"), "No Crossmark calls in this process yet.")

st.header("Counts")
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
