"""Server entry point: `streamlit run dashboard/server.py` — the dashboard (dashboard/app.py) plus GET /healthz and
GET /metrics on the same port, through Streamlit's ASGI app (`st.App`, discovered by `streamlit run` as `app`)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from services.errors import OpsError  # noqa: E402
from services.health import current_health  # noqa: E402
from services.metrics_export import CONTENT_TYPE, prometheus_text  # noqa: E402
from services.settings import load_settings  # noqa: E402

APP_SCRIPT = Path(__file__).resolve().parent / "app.py"
NO_STORE = {"Cache-Control": "no-store"}


def healthz(request: Request) -> Response:
    """200 when healthy, 503 when not, with the report as JSON. A plain (sync) endpoint: Starlette runs it in a worker
    thread, so the database and Crossmark probes never block the event loop that serves the dashboard."""
    try:
        settings = load_settings()  # the one reader: environment over .streamlit/secrets.toml, as the pages
    except OpsError as error:
        return JSONResponse({"healthy": False, "status": "unhealthy", "reasons": [f"configuration: {error}"]},
                            status_code=503, headers=NO_STORE)
    report = current_health(settings)
    return Response(report.to_json(), status_code=200 if report.healthy else 503, media_type="application/json",
                    headers=NO_STORE)


def metrics(request: Request) -> Response:
    return Response(prometheus_text(), media_type=CONTENT_TYPE, headers=NO_STORE)


app = st.App(APP_SCRIPT, routes=[Route("/healthz", healthz, methods=["GET"]),
                                 Route("/metrics", metrics, methods=["GET"])])
