"""Server entry point: `streamlit run dashboard/server.py` — the dashboard (dashboard/app.py) plus GET /healthz and
GET /metrics on the same port, through Streamlit's ASGI app (`st.App`, discovered by `streamlit run` as `app`)."""
from __future__ import annotations

import sys
from contextlib import asynccontextmanager
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


def _retry_loop():  # noqa: ANN202 - RetryLoop | None
    """The automatic retries of operations that did not settle, unless RETRY_LOOP=false. Its engine and actions are
    made at each tick from the settings, so a database that is down at start-up is simply tried again."""
    from services.action_setup import paired_actions
    from services.crossmark_client import make_crossmark_client
    from services.crossmark_sandbox import shared_simulator
    from services.database import shared_engine
    from services.retry_loop import RetryLoop

    try:
        settings = load_settings()
    except OpsError:
        return None  # the pages say what is wrong with the configuration
    if not settings.retry_loop:
        return None

    def engine():  # noqa: ANN202
        return shared_engine(settings.database_url)

    def actions():  # noqa: ANN202
        simulator = (shared_simulator(engine(), settings.crossmark_timezone, settings.sandbox_write_failure_rate)
                     if settings.is_sandbox else None)
        return paired_actions(settings, engine(), lambda: make_crossmark_client(settings, simulator=simulator))

    return RetryLoop(engine, actions).start()


@asynccontextmanager
async def lifespan(_app):  # noqa: ANN001, ANN201 - st.App
    """Started and stopped with the server: the retry loop (one process across replicas runs its passes)."""
    loop = _retry_loop()
    try:
        yield None
    finally:
        if loop is not None:
            loop.stop()


app = st.App(APP_SCRIPT, lifespan=lifespan, routes=[Route("/healthz", healthz, methods=["GET"]),
                                 Route("/metrics", metrics, methods=["GET"])])
