"""Server layer: security headers on every HTTP response of the dashboard's server (an ASGI middleware for st.App).

The Content-Security-Policy allows what Streamlit's own front end needs (found by loading every page in Chromium with
the policy on, tests/e2e/test_security_headers.py) and nothing else: images only from the app itself or data: URIs,
so a name rendered as Markdown or HTML cannot make browsers fetch a remote image (a tracking pixel, or a probe of the
internal network); scripts only from the app, plus the one inline script of Streamlit's index.html, by its hash; no
framing of the app by any site (clickjacking).
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def inline_script_hashes(index_html: Path) -> tuple[str, ...]:
    """CSP hash sources ('sha256-...') of the inline scripts of the page Streamlit serves for every page path, read
    from the installed file so an upgrade of Streamlit that changes them keeps working."""
    try:
        page = index_html.read_text(encoding="utf-8")
    except OSError:
        return ()
    return tuple(f"'sha256-{base64.b64encode(hashlib.sha256(body.encode('utf-8')).digest()).decode('ascii')}'"
                 for body in INLINE_SCRIPT.findall(page))


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    directives = {
        "default-src": "'self'",
        # 'wasm-unsafe-eval': Streamlit's protobuf reader (long.js) compiles a tiny WebAssembly module for 64-bit
        # arithmetic; it allows WebAssembly only, not eval() of JavaScript.
        "script-src": " ".join(("'self'", "'wasm-unsafe-eval'", *script_hashes)),
        # Streamlit and its components (emotion, plotly, the data grid) set styles inline, in style attributes and
        # in <style> elements they create at run time: there is no nonce or hash for those.
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data:",
        "font-src": "'self' data:",
        "connect-src": "'self'",  # fetches and the WebSocket (/_stcore/stream) to the app's own origin
        "worker-src": "'self' blob:",
        "frame-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


def security_headers(script_hashes: Iterable[str] = ()) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(script_hashes),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",  # frame-ancestors 'none' for browsers older than CSP level 2
    }


class SecurityHeaders:
    """Sets `headers` on every HTTP response (replacing a value a route set itself); WebSockets pass untouched.
    A plain ASGI middleware, not BaseHTTPMiddleware: responses stream through as they are sent."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
