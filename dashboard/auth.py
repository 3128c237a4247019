"""Sign-in for the app: local accounts (default), a trusted proxy header, or OIDC through st.login; idle expiry."""
from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from dashboard.markdown_text import plain
from dashboard.wiring import get_engine, get_settings
from services import input_limits
from services.accounts import RANK, User, active_user, authenticate, sign_in_from_identity_provider
from services.errors import OpsError

SESSION_KEY = "auth"


def _local_user() -> User | None:
    state = st.session_state.get(SESSION_KEY)
    if not state:
        return None
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    if datetime.now() - state["last_seen"] > idle:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state["auth_message"] = "Your session expired after a while without activity; sign in again."
        return None
    try:
        user = active_user(get_engine(), state["username"])  # a disabled account stops at the next rerun
    except OpsError as error:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state["auth_message"] = str(error)
        return None
    state["last_seen"] = datetime.now()
    return user


def _header_user() -> User | None:
    settings = get_settings()
    name = (st.context.headers.get(settings.auth_trusted_header) or "").strip()
    if not name:
        st.session_state["auth_message"] = f"No {settings.auth_trusted_header} header from the proxy."
        return None
    try:
        return active_user(get_engine(), input_limits.user_name(name, f"The {settings.auth_trusted_header} header"))
    except OpsError as error:
        st.session_state["auth_message"] = str(error)
        return None


def _oidc_user() -> User | None:
    settings = get_settings()
    if not st.user.get("is_logged_in"):  # .get: under AppTest st.user has no such key
        return None
    name = str(st.user.get("email") or st.user.get("preferred_username") or st.user.get("sub") or "").strip()
    state = st.session_state.get(SESSION_KEY)
    try:
        if state and state["username"] == name:
            return active_user(get_engine(), name)  # provisioned in this session; a disabled account stops here
        claims = st.user.get(settings.auth_roles_claim) or []
        claims = [claims] if isinstance(claims, str) else list(claims)
        roles = [role for claim, role in settings.auth_role_map if claim in claims]
        if not roles:
            st.session_state["auth_message"] = (f"{name} has no role for this dashboard (no {settings.auth_roles_claim} "
                                                "claim that maps to one); ask an admin.")
            return None
        user = sign_in_from_identity_provider(get_engine(), name, max(roles, key=RANK.__getitem__))
    except OpsError as error:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state["auth_message"] = str(error)
        return None
    st.session_state[SESSION_KEY] = {"username": user.username, "last_seen": datetime.now()}
    return user


def current_user() -> User | None:
    mode = get_settings().auth_mode
    return {"local": _local_user, "header": _header_user, "oidc": _oidc_user}[mode]()


def _oidc_configured() -> bool:
    try:
        section = st.secrets.get("auth") or {}
    except FileNotFoundError:  # no secrets file at all
        return False
    return all(section.get(key) for key in ("redirect_uri", "cookie_secret", "client_id", "client_secret",
                                            "server_metadata_url"))


def sign_in_page() -> None:
    """Shown instead of the pages until someone signs in."""
    _, middle, _ = st.columns([1, 1.2, 1])
    with middle:
        st.title("Field events")
        st.caption("Schedule, pairs and data quality of the club events. Sign in to continue.")
        message = st.session_state.pop("auth_message", None)
        if message:
            st.warning(plain(message, 500))  # it may repeat a name from a header or an identity provider
        mode = get_settings().auth_mode
        if mode == "oidc":
            if not _oidc_configured():
                st.error("AUTH_MODE is oidc but .streamlit/secrets.toml has no complete [auth] section (redirect_uri, "
                         "cookie_secret, client_id, client_secret, server_metadata_url); see "
                         ".streamlit/secrets.toml.example.")
            elif st.user.get("is_logged_in"):  # known to the identity provider but refused here: offer another account
                st.button("Sign out", on_click=st.logout)
            else:
                st.button("Sign in", type="primary", on_click=st.login)
            return
        if mode == "header":
            st.error("Sign-in is handled by the proxy in front of this dashboard.")
            return
        with st.form("sign_in"):
            username = st.text_input("User name", key="sign_in_user", max_chars=input_limits.USER_NAME_MAX)
            password = st.text_input("Password", type="password", key="sign_in_password",
                                     max_chars=input_limits.PASSWORD_MAX)
            submitted = st.form_submit_button("Sign in", type="primary", width="stretch")
        if submitted:
            try:
                user = authenticate(get_engine(), username, password)
            except OpsError as error:
                st.error(plain(error))
                return
            st.session_state[SESSION_KEY] = {"username": user.username, "last_seen": datetime.now()}
            st.rerun()


def sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)
    if get_settings().auth_mode == "oidc":
        st.logout()
