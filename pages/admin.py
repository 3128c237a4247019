"""Admin: the switches (audited, read by every process at its next rerun) and the accounts."""
import streamlit as st

from dashboard.actions_ui import acting_user, can
from dashboard.markdown_text import plain
from dashboard.wiring import get_engine
from services.accounts import list_users, set_active
from services.errors import OpsError
from services.switches import LABELS, current_switches, set_switch

st.title("Admin")
if not can("switches"):
    st.error("Only admins can change switches and accounts.")
    st.stop()

st.subheader("Switches")
switches = current_switches(get_engine())
for name, label in LABELS.items():
    wanted = st.toggle(label, value=switches[name], key=f"switch_{name}")
    if wanted != switches[name]:
        set_switch(get_engine(), name, wanted, acting_user())
        st.rerun()
st.caption("Every change is written to the audit trail and takes effect in every app process at its next rerun.")

st.subheader("Accounts")
st.caption("Add accounts and set passwords with `python -m services users add NAME --role ROLE` (password on stdin).")
for user in list_users(get_engine()):
    name_column, role_column, state_column = st.columns([3, 2, 2], vertical_alignment="center")
    name_column.markdown(f"**{plain(user['username'])}**")
    role_column.markdown(user["role"])
    if user["username"] == acting_user():
        state_column.caption("you")
        continue
    active = state_column.toggle("active", value=bool(user["is_active"]), key=f"active_{user['username']}")
    if active != bool(user["is_active"]):
        try:
            set_active(get_engine(), user["username"], active)
        except OpsError as error:
            st.error(plain(error))
        else:
            st.rerun()
