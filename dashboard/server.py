"""Server entry point: `streamlit run dashboard/server.py` — the dashboard (dashboard/app.py) plus GET /healthz and
GET /metrics on the same port, through Streamlit's ASGI app (`st.App`, discovered by `streamlit run` as `app`)."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from services.errors import OpsError  # noqa: E402
from services.health import health_report  # noqa: E402
from services.metrics_export import CONTENT_TYPE, prometheus_text  # noqa: E402
from services.settings import load_settings  # noqa: E402

APP_SCRIPT = Path(__file__).resolve().parent / "app.py"
CROSSMARK_PROBE_CACHE_SECONDS = 30.0  # a load balancer polls every few seconds; Crossmark need not see every poll
NO_STORE = {"Cache-Control": "no-store"}


def _secrets() -> dict[str, str]:
    """Top-level plain values of .streamlit/secrets.toml, so /healthz checks the database the dashboard uses."""
    try:
        return {name: str(value) for name, value in st.secrets.items() if not isinstance(value, Mapping)}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return {}


def healthz(request: Request) -> Response:
    """200 when healthy, 503 when not, with the report as JSON. A plain (sync) endpoint: Starlette runs it in a worker
    thread, so the database and Crossmark probes never block the event loop that serves the dashboard."""
    try:
        settings = load_settings({**_secrets(), **os.environ})  # the same precedence as dashboard/wiring.py
    except OpsError as error:
        return JSONResponse({"healthy": False, "status": "unhealthy", "reasons": [f"configuration: {error}"]},
                            status_code=503, headers=NO_STORE)
    report = health_report(settings, settings.database_url, crossmark_cache_seconds=CROSSMARK_PROBE_CACHE_SECONDS)
    return Response(report.to_json(), status_code=200 if report.healthy else 503, media_type="application/json",
                    headers=NO_STORE)


def metrics(request: Request) -> Response:
    return Response(prometheus_text(), media_type=CONTENT_TYPE, headers=NO_STORE)


app = st.App(APP_SCRIPT, routes=[Route("/healthz", healthz, methods=["GET"]),
                                 Route("/metrics", metrics, methods=["GET"])])
