"""Server layer: tell Streamlit's front end where the server is, so a page opened at its own path (a link, a reload,
a bookmark of /calendar or /day?...) connects at once.

Without it the front end guesses: for /calendar it first asks /calendar/_stcore/health, gets a 404, waits its 100 ms
retry delay, then asks /_stcore/health. Every page but the first (at /) paid that, about 130 ms of a 250-400 ms page
load (bench/browser_pages.py's timeline, issue 18). The front end reads `window.__streamlit.BACKEND_BASE_URL` when it
is set before its bundle runs, and then asks that one address only.

The page Streamlit serves for every page path (its index.html) gets two things at the top of its <head>: a <meta>
holding the path the server was asked for (relative to `server.baseUrlPath`), and one constant inline script that
takes that path off the end of the address the browser shows. What is left is where the app is mounted, also behind
a proxy that strips a prefix of its own. The script is constant, so the Content-Security-Policy allows it by its hash
(`PIN_SCRIPT_HASH`, dashboard/security_headers.py); when the two paths do not match, it sets nothing and the front
end guesses as before.
"""
from __future__ import annotations

import base64
import hashlib
from html import escape

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SERVED_PATH_META = "st-served-path"
PIN_SCRIPT = (
    "(function(){var meta=document.querySelector('meta[name=\"" + SERVED_PATH_META + "\"]');"
    "if(!meta){return;}var shown=location.pathname,served=meta.content;"
    "if(!served||shown.slice(-served.length)!==served){return;}"
    "window.__streamlit=Object.assign({},window.__streamlit,"
    "{BACKEND_BASE_URL:location.origin+shown.slice(0,shown.length-served.length)+'/'});})();"
)
PIN_SCRIPT_HASH = f"'sha256-{base64.b64encode(hashlib.sha256(PIN_SCRIPT.encode('utf-8')).digest()).decode('ascii')}'"
# Requests that are never a page (Streamlit's own endpoints, its bundles, media, components): passed through as is.
_NOT_PAGES = ("_stcore/", "static/", "media/", "component/", "app/static/", "favicon.png")


def served_path(raw_path: str, base_url_path: str) -> str:
    """The path the browser asked for, relative to where the app is mounted (`server.baseUrlPath`), starting "/"."""
    base = "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""
    if base and (raw_path == base or raw_path.startswith(base + "/")):
        raw_path = raw_path[len(base):]
    return raw_path if raw_path.startswith("/") else "/" + raw_path


def pinned_page(html: bytes, path: str) -> bytes:
    """The page with the served path and the pin script first in its <head> (before Streamlit's own scripts)."""
    marker = html.find(b"<head>")
    if marker < 0:
        return html
    insert = (f'<meta name="{SERVED_PATH_META}" content="{escape(path, quote=True)}">'
              f"<script>{PIN_SCRIPT}</script>").encode("utf-8")
    at = marker + len(b"<head>")
    return html[:at] + insert + html[at:]


class PinnedBaseUrl:
    """Adds the served path and the pin script to every page Streamlit serves (text/html, GET). Page requests are
    passed on without Accept-Encoding, so the page comes back uncompressed to be edited (it is about 8 KB)."""

    def __init__(self, app: ASGIApp, base_url_path: str | None = None) -> None:
        self.app = app
        if base_url_path is None:  # built when the server starts, after Streamlit has read its configuration
            from streamlit import config

            base_url_path = config.get_option("server.baseUrlPath") or ""
        self.base_url_path = base_url_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        path = served_path(raw.decode("latin-1").split("?", 1)[0], self.base_url_path)
        if path.lstrip("/").startswith(_NOT_PAGES):
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": [(name, value) for name, value in scope["headers"]
                                      if name.lower() != b"accept-encoding"]}
        start: Message | None = None
        body: list[bytes] = []

        async def edit(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                is_page = (message["status"] == 200 and headers.get("content-type", "").startswith("text/html")
                           and "content-encoding" not in headers)
                if not is_page:
                    await send(message)
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = pinned_page(b"".join(body), path)
            MutableHeaders(scope=start)["content-length"] = str(len(page))
            await send(start)
            await send({"type": "http.response.body", "body": page, "more_body": False})

        await self.app(scope, receive, edit)
