"""Sign-in for the app: local accounts (default), a trusted proxy header, or OIDC through st.login; idle expiry."""
from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from dashboard.markdown_text import plain
from dashboard.wiring import get_engine, get_settings
from services.domain import input_limits
from services.access.accounts import RANK, ProviderIdentity, User, active_user, sign_in_from_identity_provider
from services.errors import OpsError
from services.access.proxy_sign_in import ProxiedRequest, proxied_user_name
from services.access.sessions import COOKIE_NAME, check_session, revoke_session

SESSION_KEY = "auth"
MESSAGE_KEY = "auth_message"
IDLE_MESSAGE = "Your session expired after a while without activity; sign in again."


def client_address() -> str:
    """Where this session's connection comes from, for the per-client sign-in throttle. Streamlit reports this host
    as None; behind a proxy it is the address the proxy forwards (uvicorn trusts X-Forwarded-For from
    FORWARDED_ALLOW_IPS, by default 127.0.0.1)."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "127.0.0.1"  # AppTest gives no real address


def _idle(state: dict) -> bool:
    return datetime.now() - state["last_seen"] > timedelta(minutes=get_settings().session_idle_minutes)


SESSION_ENDED = {"idle": IDLE_MESSAGE, "disabled": "This account is disabled; ask an admin.",
                 "revoked": None, "unknown": None}  # signed out (here or in another tab): just the sign-in page
SIGN_IN_REFUSED = {"failed": "Wrong user name or password, or the account is disabled.",
                   "throttled": "Too many failed sign-ins; try again in 15 minutes.",
                   "invalid": "That user name or password cannot be right (see the rules for accounts); try again.",
                   "unavailable": "Signing in is not possible right now (the database did not answer); try again."}


def _session_token() -> str | None:
    token = st.context.cookies.get(COOKIE_NAME)
    return token if isinstance(token, str) and token else None


def _local_user() -> User | None:
    token = _session_token()
    if token is not None:  # the browser's session cookie (set by POST /auth/sign-in) decides, on every rerun
        idle = timedelta(minutes=get_settings().session_idle_minutes)
        try:
            check = check_session(get_engine(), token, idle)
        except OpsError as error:
            st.session_state[MESSAGE_KEY] = str(error)
            return None
        if check.user is None:
            st.session_state.pop(SESSION_KEY, None)
            if SESSION_ENDED.get(check.ended):
                st.session_state[MESSAGE_KEY] = SESSION_ENDED[check.ended]
            return None
        st.session_state[SESSION_KEY] = {"username": check.user.username, "last_seen": datetime.now()}
        return check.user
    # No cookie: a session signed in by the test harness (AppTest has no cookies), kept in this session only.
    state = st.session_state.get(SESSION_KEY)
    if not state:
        return None
    if _idle(state):
        st.session_state.pop(SESSION_KEY, None)
        st.session_state[MESSAGE_KEY] = IDLE_MESSAGE
        return None
    try:
        user = active_user(get_engine(), state["username"])  # a disabled account stops at the next rerun
    except OpsError as error:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state[MESSAGE_KEY] = str(error)
        return None
    state["last_seen"] = datetime.now()
    return user


def _header_user() -> User | None:
    settings = get_settings()
    headers = st.context.headers
    request = ProxiedRequest(user_values=tuple(headers.get_all(settings.auth_trusted_header)),
                             secret_values=tuple(headers.get_all(settings.auth_proxy_secret_header)),
                             client_address=st.context.ip_address)
    try:
        return active_user(get_engine(), proxied_user_name(request, settings))
    except OpsError as error:
        st.session_state[MESSAGE_KEY] = str(error)
        return None


def _claim_time(name: str) -> datetime | None:
    value = st.user.get(name)
    return datetime.fromtimestamp(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _oidc_user() -> User | None:
    settings = get_settings()
    if not st.user.get("is_logged_in"):  # .get: under AppTest st.user has no such key
        return None
    issued = _claim_time("iat")  # when the provider issued the token whose claims (roles) st.user holds
    if issued is None or datetime.now() - issued > timedelta(hours=settings.auth_max_session_hours):
        st.session_state.pop(SESSION_KEY, None)
        st.session_state[MESSAGE_KEY] = (f"Your sign-in is more than {settings.auth_max_session_hours:g} hours old; "
                                         "sign in again so that your role is checked again.")
        st.session_state["oidc_expired"] = True  # the sign-in page ends the old provider session first
        return None
    state = st.session_state.get(SESSION_KEY)
    if state and _idle(state):
        st.session_state.pop(SESSION_KEY, None)
        st.session_state[MESSAGE_KEY] = IDLE_MESSAGE
        st.session_state["oidc_expired"] = True
        return None
    try:
        if state:
            user = active_user(get_engine(), state["username"])  # provisioned in this session; disabled stops here
            state["last_seen"] = datetime.now()
            return user
        claims = st.user.get(settings.auth_roles_claim) or []
        claims = [claims] if isinstance(claims, str) else list(claims)
        roles = [role for claim, role in settings.auth_role_map if claim in claims]
        identity = ProviderIdentity(issuer=str(st.user.get("iss") or ""), subject=str(st.user.get("sub") or ""),
                                    email=str(st.user.get("email") or "") or None,
                                    email_verified=st.user.get("email_verified") is True)
        if not roles:
            st.session_state[MESSAGE_KEY] = (f"{identity.account_name()} has no role for this dashboard (no "
                                             f"{settings.auth_roles_claim} claim that maps to one); ask an admin.")
            return None
        user = sign_in_from_identity_provider(get_engine(), identity, max(roles, key=RANK.__getitem__),
                                              client=client_address())
    except OpsError as error:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state[MESSAGE_KEY] = str(error)
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


def _sign_in_again() -> None:
    """End the provider session whose sign-in is too old or idle; the page then offers a fresh sign-in."""
    st.session_state.pop("oidc_expired", None)
    st.logout()


def sign_in_page() -> None:
    """Shown instead of the pages until someone signs in."""
    _, middle, _ = st.columns([1, 1.2, 1])
    with middle:
        st.title("Field events")
        st.caption("Schedule, pairs and data quality of the club events. Sign in to continue.")
        message = st.session_state.pop(MESSAGE_KEY, None)
        if message:
            st.warning(plain(message, 500))  # it may repeat a name from a header or an identity provider
        mode = get_settings().auth_mode
        if mode == "oidc":
            if not _oidc_configured():
                st.error("AUTH_MODE is oidc but .streamlit/secrets.toml has no complete [auth] section (redirect_uri, "
                         "cookie_secret, client_id, client_secret, server_metadata_url); see "
                         ".streamlit/secrets.toml.example.")
            elif st.session_state.get("oidc_expired"):
                st.button("Sign in again", type="primary", on_click=_sign_in_again)
            elif st.user.get("is_logged_in"):  # known to the identity provider but refused here: offer another account
                st.button("Sign out", on_click=st.logout)
            else:
                st.button("Sign in", type="primary", on_click=st.login)
            return
        if mode == "header":
            st.info("Sign-in is handled by the company's sign-in proxy in front of this dashboard.")
            return
        refusal = SIGN_IN_REFUSED.get(str(st.query_params.get("sign_in", "")))
        if refusal:
            st.error(refusal)
        st.html(_sign_in_form(_here()))


def _here() -> str:
    """The page and its state the person opened, to land on after signing in (without a previous refusal code)."""
    from urllib.parse import urlencode, urlsplit

    path = urlsplit(st.context.url or "/").path or "/"
    query = [(key, value) for key, value in st.query_params.items() if key != "sign_in"]
    return path + (f"?{urlencode(query)}" if query else "")


def _sign_in_form(landing: str) -> str:
    """The sign-in form as plain HTML: posted to the server (dashboard/sign_in_route.py), which sets the HttpOnly
    session cookie and sends the browser back to `landing`."""
    from html import escape

    from dashboard.sign_in_route import SIGN_IN_PATH

    return f"""
<style>
  .sign-in {{ display: grid; gap: 0.75rem; padding: 1rem; border: 1px solid rgba(49, 51, 63, 0.2);
              border-radius: 0.5rem; font-family: "Source Sans Pro", sans-serif; }}
  .sign-in label {{ display: grid; gap: 0.25rem; font-size: 0.875rem; }}
  .sign-in input {{ font: inherit; font-size: 1rem; padding: 0.5rem 0.75rem; border: 1px solid rgba(49, 51, 63, 0.2);
                    border-radius: 0.5rem; background: #f0f2f6; }}
  .sign-in button {{ font: inherit; padding: 0.5rem; border: 0; border-radius: 0.5rem; background: #13395f;
                     color: #fff; cursor: pointer; }}
  .sign-in button:focus-visible, .sign-in input:focus-visible {{ outline: 2px solid #1c83e1; outline-offset: 2px; }}
</style>
<form class="sign-in" method="post" action="{escape(SIGN_IN_PATH)}">
  <input type="hidden" name="next" value="{escape(landing, quote=True)}">
  <label>User name<input name="username" autocomplete="username" required maxlength="{input_limits.USER_NAME_MAX}"
    autofocus></label>
  <label>Password<input name="password" type="password" autocomplete="current-password" required
    maxlength="{input_limits.PASSWORD_MAX}"></label>
  <button type="submit">Sign in</button>
</form>"""


def sign_out() -> None:
    st.session_state.pop(SESSION_KEY, None)
    revoke_session(get_engine(), _session_token())  # the cookie no longer signs anyone in, on any replica
    mode = get_settings().auth_mode
    if mode == "oidc":
        st.logout()
    elif mode == "header":
        st.session_state["header_sign_out"] = True  # the sidebar explains: the proxy's session is what signs out


def header_sign_out_notice() -> str | None:
    """In header mode this app cannot end the session: the proxy signs people in on every request."""
    if st.session_state.pop("header_sign_out", False):
        return ("You are signed in by the company's sign-in proxy: to sign out, use the proxy's sign-out page (or "
                "close the browser), then this dashboard asks the proxy again.")
    return None
