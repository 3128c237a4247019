"""App entry point: `streamlit run dashboard/app.py` — navigation, sidebar status, and a clear stop on setup errors."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard.wiring import get_engine, get_settings  # noqa: E402
from services.database import display_url  # noqa: E402
from services.errors import OpsError  # noqa: E402

st.set_page_config(page_title="Field events", page_icon=":material/event:", layout="wide")

try:
    settings = get_settings()
    get_engine()
except OpsError as error:
    st.error(f"The dashboard cannot open its database: {error}")
    st.stop()

with st.sidebar:
    st.caption(f"Database: `{display_url(settings.database_url)}`")
    if settings.is_sandbox:
        st.warning("SANDBOX — no Crossmark URL configured; nothing is sent to Crossmark.", icon=":material/science:")

pages = [st.Page(ROOT / "pages" / "home.py", title="Home", icon=":material/home:", default=True)]
st.navigation(pages).run()
