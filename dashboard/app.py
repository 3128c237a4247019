"""App entry point: `streamlit run dashboard/app.py` — navigation, sidebar status, and a clear stop on setup errors."""
from __future__ import annotations

import os
import sys
from datetime import datetime

# This runs on every rerun: os.path's string work, not Path.resolve(), which stats every folder of the path.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from dashboard import reads  # noqa: E402
from dashboard.auth import current_user, header_sign_out_notice, sign_in_page, sign_out  # noqa: E402
from dashboard.components import PAGE_FILES, PAGE_ROLES, database_problem, navigation_pages  # noqa: E402
from dashboard.markdown_text import plain  # noqa: E402
from services.access.switches import MAINTENANCE, WRITES_OFF  # noqa: E402
from dashboard.wiring import get_engine, get_settings  # noqa: E402
from services.store.database import display_url, short_database_name  # noqa: E402
from services.reads.read_queries import sync_freshness  # noqa: E402
from services.access.accounts import ADMIN  # noqa: E402
from services.errors import OpsError  # noqa: E402

reads.begin_run()  # this run reads the data version once, whatever number of reads it makes

# An emoji icon is drawn from a data: URI; a :material/...: one would be fetched from fonts.gstatic.com, which the
# Content-Security-Policy (dashboard/security_headers.py) does not allow and an internal network may not reach.
st.set_page_config(page_title="Field events", page_icon="📅", layout="wide")

try:
    settings = get_settings()
except OpsError as error:
    st.error(f"The dashboard's settings cannot be used: {plain(error)}")
    st.stop()
try:
    get_engine()
except OpsError as error:  # the command that fixes it for admins only (a session signed in before it broke)
    st.error(database_problem(error, for_admin=st.session_state.get("acting_role") == ADMIN))
    st.stop()

user = current_user()
if user is None:
    # Register the pages (hidden) so the link someone opened is still the page they land on after signing in.
    st.navigation(navigation_pages(PAGE_FILES), position="hidden")
    st.set_page_config(page_title="Sign in · Field events")
    sign_in_page()
    st.stop()
st.session_state["acting_user"] = user.username  # what every action records as its author
st.session_state["acting_role"] = user.role

navigation = st.navigation(navigation_pages(key for key in PAGE_FILES if user.may(PAGE_ROLES.get(key, "view"))))
st.set_page_config(page_title=f"{navigation.title} · Field events")  # the browser tab names the page
switches = reads.switches()
# Read once per run; the action buttons of every page are drawn disabled with this reason (dashboard/actions_ui.py).
st.session_state["writes_paused"] = (
    "Maintenance mode is on: changes are paused for a deployment." if switches[MAINTENANCE]
    else "Crossmark writes are switched off: changes are paused." if switches[WRITES_OFF] else None)
if switches[MAINTENANCE]:
    st.warning("Maintenance mode: changes are paused for a deployment. Reading works as usual.",
               icon=":material/construction:")
elif switches[WRITES_OFF]:
    st.warning("Crossmark writes are switched off: changes are paused, reading works as usual.",
               icon=":material/block:")

with st.sidebar:
    if settings.is_sandbox:
        st.warning("**SANDBOX** — no Crossmark URL is configured; nothing is sent to Crossmark.",
                   icon=":material/science:")
    else:
        st.text(f"Crossmark: {settings.crossmark_base_url}")
    summary = reads.summary()
    st.text("Database: " + (display_url(settings.database_url) if user.may(PAGE_ROLES["admin"])  # full URL: admins
                            else short_database_name(settings.database_url)))
    st.caption(f"{summary.events:,} events · {summary.stores} stores")
    # last_synced is Crossmark local time: compared with now there, never shown in the future
    st.caption("Data synced: " + sync_freshness(summary.newest_sync, datetime.now(settings.tz)))
    st.caption(f"Signed in as **{plain(user.username)}** ({user.role})")
    st.button("Sign out", on_click=sign_out, key="sign_out", icon=":material/logout:")
    notice = header_sign_out_notice()
    if notice:
        st.info(notice)

navigation.run()
