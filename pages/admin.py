"""Admin: the switches (audited, read by every process at its next rerun) and the accounts."""
import streamlit as st

from dashboard.actions_ui import acting_user, can, show_pending_toasts, toast_after_rerun
from dashboard.markdown_text import plain
from dashboard.wiring import get_engine
from services.access.accounts import ROLES, list_users, set_active, set_role
from services.errors import OpsError
from services.access.switches import LABELS, current_switches, last_changes, set_switch

st.title("Admin")
show_pending_toasts()
if not can("switches"):
    st.error("Only admins can change switches and accounts.")
    st.stop()

st.header("Switches")
switches = current_switches(get_engine())
changes = last_changes(get_engine())
for name, label in LABELS.items():
    wanted = st.toggle(label, value=switches[name], key=f"switch_{name}")
    changed_by, changed_at = changes.get(name, (None, None))
    if changed_by and changed_at:
        st.caption(f"Last changed by {plain(changed_by)} on {changed_at:%a %b %d, %H:%M}")
    if wanted != switches[name]:
        set_switch(get_engine(), name, wanted, acting_user())
        toast_after_rerun(f"{label}: {'on' if wanted else 'off'}")
        st.rerun()
st.caption("Every change is written to the audit trail and takes effect in every app process at its next rerun.")

st.header("Accounts")
st.caption("Add accounts and set passwords with `python -m services users add NAME --role ROLE` (password on stdin). "
           "Every change here is checked for the admin role again and written to the audit trail.")
for user in list_users(get_engine()):
    name_column, role_column, state_column = st.columns([3, 2, 2], vertical_alignment="center")
    name_column.markdown(f"**{plain(user['username'])}**")
    if user["username"] == acting_user():
        role_column.markdown(user["role"])
        state_column.caption("you")
        continue
    role = role_column.selectbox("Role", ROLES, index=ROLES.index(user["role"]), key=f"role_{user['username']}",
                                 label_visibility="collapsed")
    active = state_column.toggle("active", value=bool(user["is_active"]), key=f"active_{user['username']}")
    if role == user["role"] and active == bool(user["is_active"]):
        continue
    try:
        if role != user["role"]:
            set_role(get_engine(), user["username"], role, by=acting_user())
            toast_after_rerun(f"{plain(user['username'])} is now {role}")
        if active != bool(user["is_active"]):
            set_active(get_engine(), user["username"], active, by=acting_user())
            toast_after_rerun(f"{plain(user['username'])} is now {'active' if active else 'disabled'}")
    except OpsError as error:
        st.error(plain(error))
    else:
        st.rerun()
