"""Day view cards: one event per card; a CORE's card shows how its Supervisor stands (and, later, its actions)."""
from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from dashboard.components import page_path, type_badge, when
from dashboard.markdown_text import plain
from services.pairing import (
    SUPERVISOR_AMBIGUOUS, SUPERVISOR_INACTIVE, SUPERVISOR_MISSING, SUPERVISOR_SCHEDULED, SUPERVISOR_UNSTAFFED,
)

# The actions issue plugs a renderer in here: it gets the event row and draws its buttons under the card.
EventActions = Callable[[pd.Series], None]


def whole(ref: object) -> str:
    """A ref as a whole number: a column with gaps holds floats (606002.0)."""
    return "—" if ref is None or pd.isna(ref) else str(int(ref))


def supervisor_line(row: pd.Series) -> None:
    state = row["supervisor_state"]
    if state == SUPERVISOR_SCHEDULED:
        st.success(f"Supervisor {whole(row['supervisor_ref'])} scheduled: {plain(row['supervisor_rep'] or 'unknown rep')}, "
                   f"{when(row['supervisor_at'])}", icon=":material/check_circle:")
    elif state == SUPERVISOR_UNSTAFFED:
        st.warning(f"Supervisor {whole(row['supervisor_ref'])} is Unstaffed", icon=":material/warning:")
    elif state == SUPERVISOR_MISSING:
        st.info("No Supervisor event with this number at this store", icon=":material/info:")
    elif state == SUPERVISOR_AMBIGUOUS:
        st.error("Ambiguous: more than one CORE or Supervisor shares this number at this store",
                 icon=":material/error:")
    elif state == SUPERVISOR_INACTIVE:
        st.caption(f"Supervisor {whole(row['supervisor_ref'])} is neither scheduled nor Unstaffed")


def event_card(row: pd.Series, actions: EventActions | None = None) -> None:
    with st.container(border=True):
        st.markdown(
            f"{type_badge(row['event_type'])} &nbsp;<b>{pd.Timestamp(row['scheduled_at']):%H:%M}</b> · "
            f"{plain(row['rep_name'] or 'unknown rep')}"
            f"<br><span style='font-size:0.95rem'>{plain(row['name'])}</span>"
            f"<br><span style='color:#4b5563;font-size:0.85rem'>ref {row['ref']} · #{plain(row['store_number'])} "
            f"{plain(row['store_name'] or '')} · {plain(row['condition'] or '')}</span>",
            unsafe_allow_html=True)
        if row["event_type"] == "Core":
            supervisor_line(row)
        st.page_link(page_path("timeline"), label="Timeline", icon=":material/timeline:",
                     query_params={"ref": str(row["ref"])},
                     help="What touched this event, and how it stands in Crossmark")
        if actions is not None:
            actions(row)
