"""Event type counts: scheduled vs Unstaffed per type per day, week or month over a chosen range."""
from datetime import date, timedelta

import streamlit as st

from dashboard import query_state, reads
from dashboard.charts import type_counts_chart
from dashboard.components import download_csv, filter_bar
from dashboard.markdown_text import plain
from services.errors import OpsError
from services.reads.read_queries import PERIOD_TITLES, PERIODS, period_label

today = date.today()
st.title("Event type counts")
st.caption("Scheduled events count on their scheduled date; Unstaffed events on their due date.")

range_column, period_column = st.columns([3, 2])
chosen = range_column.date_input("Range", format="YYYY-MM-DD", **query_state.bind(
    ("from", "to"), "counts_range", lambda: query_state.read_range(today - timedelta(days=30), 60)))
period = period_column.segmented_control("Per", PERIODS, **query_state.bind(
    "period", "counts_period", lambda: query_state.read_choice("period", PERIODS, "week"))) or "week"
where = filter_bar(reads.store_choices())

if not isinstance(chosen, (tuple, list)) or len(chosen) != 2:
    st.info("Choose the last day of the range too.")
    st.stop()
first_day, last_day = chosen
if (last_day - first_day).days > 3 * 366:
    st.error("Choose a range of at most three years.")
    st.stop()
query_state.remember_bound(("from", "to"), "counts_range", (first_day.isoformat(), last_day.isoformat()))
query_state.remember_bound("period", "counts_period", period)

try:
    counts = reads.type_counts(first_day, last_day, period, where)
except OpsError as error:
    st.error(plain(error))
    st.stop()

if counts.empty:
    st.info("No scheduled or Unstaffed events in this range for these filters.", icon=":material/event_available:")
else:
    st.plotly_chart(type_counts_chart(counts, period), config={"displayModeBar": False})
table = (counts.pivot_table(index="period", columns=["state", "event_type"], values="count", aggfunc="sum",
                            fill_value=0, observed=True)
         if not counts.empty else counts)
if not counts.empty:
    table.columns = [f"{event_type} {state.lower()}" for state, event_type in table.columns]
    table = table.reset_index()
    table["period"] = [period_label(start, period) for start in table["period"]]  # "Dec 2026", not 2026-12-01
    table = table.rename(columns={"period": PERIOD_TITLES[period]})
    st.dataframe(table, hide_index=True, width="stretch")
download_csv(counts, f"event-type-counts-{first_day}-{last_day}-{period}.csv")
