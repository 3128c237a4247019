"""Table selections tied to an item's id, not its row position.

st.dataframe remembers a selection as row positions. When the listing under it changes (a filter, a re-run of the
checks, an action), the same position names another item. Each run this module compares the listed ids with those of
the run that made the selection: when they differ, it moves the selection to the remembered item's new position, or
clears it when the item is no longer listed (through the dataframe's programmatic selection in Session State).
"""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st


def _digest(ids: list) -> str:
    return hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:16]


def selected_row(frame: pd.DataFrame, id_column: str, key: str, **dataframe_options) -> pd.Series | None:  # noqa: ANN003
    """Draw `frame` as a single-row-selectable dataframe under `key`; the selected row, or None.

    The selection always names the item the person picked, wherever it now sits in the listing, or nothing."""
    ids = list(frame[id_column])
    digest = _digest(ids)
    memory_key = f"{key}__selected"
    remembered = st.session_state.get(memory_key)  # (digest of the listing it was picked in, id)
    if remembered is not None and remembered[0] != digest:
        picked_id = remembered[1]
        rows = [ids.index(picked_id)] if picked_id in ids else []
        st.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    event = st.dataframe(frame, key=key, on_select="rerun", selection_mode="single-row", **dataframe_options)
    rows = list(event.selection.rows) if event else []
    row = frame.iloc[rows[0]] if rows and rows[0] < len(frame) else None
    st.session_state[memory_key] = (digest, None if row is None else row[id_column])
    return row


def selected_rows(frame: pd.DataFrame, id_column: str, key: str, **dataframe_options) -> pd.DataFrame:  # noqa: ANN003
    """Draw `frame` as a multi-row-selectable dataframe under `key`; the selected rows (in listing order).

    As selected_row: the selection follows the items picked, wherever they now sit in the listing; items no longer
    listed drop out of it."""
    ids = list(frame[id_column])
    digest = _digest(ids)
    memory_key = f"{key}__selected"
    remembered = st.session_state.get(memory_key)  # (digest of the listing they were picked in, [ids])
    if remembered is not None and remembered[0] != digest:
        rows = sorted(ids.index(picked_id) for picked_id in remembered[1] if picked_id in ids)
        st.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    event = st.dataframe(frame, key=key, on_select="rerun", selection_mode="multi-row", **dataframe_options)
    rows = sorted(row for row in (event.selection.rows if event else []) if row < len(frame))
    picked = frame.iloc[rows]
    st.session_state[memory_key] = (digest, list(picked[id_column]))
    return picked
