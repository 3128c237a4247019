"""POST /auth/sign-in: the local sign-in form is posted to the server itself, which checks the password and sets the
session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS) — a Streamlit script cannot set an HttpOnly cookie. The
page the person came from (`next`) is where they land, signed in; a refusal comes back to it as `?sign_in=<reason>`,
a code the sign-in page turns into words (nothing typed is reflected)."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from services.access.accounts import authenticate
from services.store.database import shared_engine
from services.errors import InvalidInput, LoginRefused, OpsError
from services.access.sessions import COOKIE_NAME, MAX_AGE, start_session
from services.settings import Settings, load_settings

SIGN_IN_PATH = "/auth/sign-in"
FORM_MAX_BYTES = 16384  # a 1,024-character password, percent-encoded, fits


def safe_next(value: str | None) -> str:
    """A path on this site to land on: relative, starting with one '/', no scheme or host ('//evil.example' and
    '/\\evil.example' are other sites to a browser)."""
    value = (value or "/").strip()
    parts = urlsplit(value)
    if (not value.startswith("/") or value.startswith(("//", "/\\")) or parts.scheme or parts.netloc
            or any(character in value for character in "\r\n\t\\") or len(value) > 2000):
        return "/"
    return value


def _with_refusal(path: str, reason: str | None) -> str:
    """`path` with `?sign_in=<reason>` in place of any earlier one (None: without one)."""
    parts = urlsplit(path)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "sign_in"]
    return parts._replace(query=urlencode(query + ([("sign_in", reason)] if reason else []))).geturl()


def _same_origin(request: Request, settings: Settings) -> bool:
    """Login CSRF: a browser says where a form post comes from; only this site's own pages may post here."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser form post (a browser always sends Origin with POST)
    allowed = {f"{request.url.scheme}://{request.headers.get('host', '')}".lower(),
               settings.dashboard_url.rstrip("/").lower()}
    return origin.rstrip("/").lower() in allowed


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


async def sign_in(request: Request) -> Response:
    try:
        settings = load_settings()
    except OpsError:
        return PlainTextResponse("The dashboard's configuration is invalid.\n", status_code=503)
    if settings.auth_mode != "local":
        return PlainTextResponse("Sign-in here is for local accounts; this dashboard signs people in elsewhere.\n",
                                 status_code=404)
    if not _same_origin(request, settings):
        return PlainTextResponse("Sign in from the dashboard's own page.\n", status_code=403)
    body = await request.body()
    if len(body) > FORM_MAX_BYTES:
        return PlainTextResponse("The sign-in form is too large.\n", status_code=413)
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    landing = safe_next(form.get("next"))
    client = request.client.host if request.client else None
    engine = shared_engine(settings.database_url)
    try:
        user = await run_in_threadpool(authenticate, engine, form.get("username", ""), form.get("password", ""),
                                       None, client)
        token = await run_in_threadpool(start_session, engine, user, client)
    except LoginRefused as refusal:
        reason = "throttled" if "Too many" in str(refusal) else "failed"
        return RedirectResponse(_with_refusal(landing, reason), status_code=303)
    except InvalidInput:
        return RedirectResponse(_with_refusal(landing, "invalid"), status_code=303)
    except OpsError:
        return RedirectResponse(_with_refusal(landing, "unavailable"), status_code=303)
    response = RedirectResponse(_with_refusal(landing, None), status_code=303)
    response.set_cookie(COOKIE_NAME, token, max_age=int(MAX_AGE / timedelta(seconds=1)), path="/", httponly=True,
                        samesite="lax", secure=_is_https(request))
    return response
