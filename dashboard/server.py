"""Server entry point: `streamlit run dashboard/server.py` — the dashboard (dashboard/app.py) plus GET /healthz and
GET /metrics on the same port, through Streamlit's ASGI app (`st.App`, discovered by `streamlit run` as `app`), with
security headers on every response (dashboard/security_headers.py) and the server's address pinned in every page
(dashboard/page_base_url.py)."""
from __future__ import annotations

import hmac
import sys
from contextlib import asynccontextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from prometheus_client import CONTENT_TYPE_LATEST  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, PlainTextResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402
from streamlit import file_util  # noqa: E402

from dashboard.page_base_url import PIN_SCRIPT_HASH, PinnedBaseUrl  # noqa: E402
from dashboard.sign_in_route import SIGN_IN_PATH, sign_in  # noqa: E402
from dashboard.security_headers import SecurityHeaders, inline_script_hashes, security_headers  # noqa: E402

from services.errors import OpsError  # noqa: E402
from services.ops.health import current_health  # noqa: E402
from services.ops.metrics_export import prometheus_text  # noqa: E402
from services.settings import load_settings  # noqa: E402

APP_SCRIPT = Path(__file__).resolve().parent / "app.py"
NO_STORE = {"Cache-Control": "no-store"}


def healthz(request: Request) -> Response:
    """200 when healthy, 503 when not. Anyone gets `{"healthy", "status"}`; the whole report (database path and user,
    Crossmark URL, who changed switches, the queue needing attention, reasons) only with `Authorization: Bearer
    <HEALTH_TOKEN>`. A plain (sync) endpoint: Starlette runs it in a worker thread, so the database and Crossmark probes
    never block the event loop that serves the dashboard."""
    try:
        settings = load_settings()  # the one reader: environment over .streamlit/secrets.toml, as the pages
    except OpsError:
        # Why is the operator's to read (`python -m services health` on the host), not any caller's.
        return JSONResponse({"healthy": False, "status": "unhealthy"}, status_code=503, headers=NO_STORE)
    presented = bearer_token(request)
    if presented is not None and not token_matches(presented, settings.health_token):
        return unauthorized("HEALTH_TOKEN")
    report = current_health(settings)
    status_code = 200 if report.healthy else 503
    if presented is None:
        return JSONResponse({"healthy": report.healthy, "status": report.status}, status_code=status_code,
                            headers=NO_STORE)
    return Response(report.to_json(), status_code=status_code, media_type="application/json", headers=NO_STORE)


def metrics(request: Request) -> Response:
    """The Prometheus exposition; with METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>`."""
    try:
        settings = load_settings()
    except OpsError:
        return PlainTextResponse("The dashboard's configuration is invalid.\n", status_code=503, headers=NO_STORE)
    if settings.metrics_token is not None and not token_matches(bearer_token(request), settings.metrics_token):
        return unauthorized("METRICS_TOKEN")
    return Response(prometheus_text(), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header; None without one (other schemes are not ours)."""
    scheme, _, credentials = request.headers.get("authorization", "").strip().partition(" ")
    return (credentials.strip() or None) if scheme.lower() == "bearer" else None


def token_matches(presented: str | None, expected: str | None) -> bool:
    """In constant time, so the answer's timing does not tell how much of a guess was right."""
    if presented is None or expected is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


def unauthorized(setting: str) -> Response:
    return PlainTextResponse(f"401 Unauthorized: send Authorization: Bearer <{setting}>.\n", status_code=401,
                             headers={**NO_STORE, "WWW-Authenticate": "Bearer"})


def retry_loop_parts(settings):  # noqa: ANN001, ANN201 - Settings -> (engine factory, actions factory)
    """The retry loop's engine and actions, made at each tick from the settings (a database that is down at start-up
    is simply tried again). In the sandbox, the Crossmark client and the process's shared sandbox are made only when
    a pass has an operation to settle (the sandbox then reads from the database only the events that operation
    touches)."""
    from services.actions.action_setup import paired_actions
    from services.crossmark.client import make_crossmark_client
    from services.crossmark.sandbox import shared_simulator
    from services.store.database import shared_engine

    def engine():  # noqa: ANN202
        return shared_engine(settings.database_url)

    def client():  # noqa: ANN202 - CrossmarkClient, asked for by an operation being settled
        simulator = (shared_simulator(engine(), settings.crossmark_timezone, settings.sandbox_write_failure_rate)
                     if settings.is_sandbox else None)
        return make_crossmark_client(settings, simulator=simulator)

    def actions():  # noqa: ANN202
        return paired_actions(settings, engine(), client)

    return engine, actions


def _retry_loop():  # noqa: ANN202 - RetryLoop | None
    """The automatic retries of operations that did not settle, unless RETRY_LOOP=false."""
    from services.actions.retry_loop import RetryLoop

    try:
        settings = load_settings()
    except OpsError:
        return None  # the pages say what is wrong with the configuration
    if not settings.retry_loop:
        return None
    return RetryLoop(*retry_loop_parts(settings)).start()


def _refuse_unsafe_configuration() -> None:
    """Raise UnsafeConfiguration (header sign-in without proof of the proxy); other setting errors are shown on the
    pages, where people can read them."""
    from services.errors import UnsafeConfiguration

    try:
        load_settings()
    except UnsafeConfiguration as error:
        print(f"The dashboard refuses to start: {error}", file=sys.stderr, flush=True)
        raise
    except OpsError:
        pass


@asynccontextmanager
async def lifespan(_app):  # noqa: ANN001, ANN201 - st.App
    """Started and stopped with the server: the retry loop (one process across replicas runs its passes). A
    configuration that would let anyone sign in as anyone stops the server here, before it serves anything."""
    _refuse_unsafe_configuration()
    loop = _retry_loop()
    try:
        yield None
    finally:
        if loop is not None:
            loop.stop()


STREAMLIT_INDEX = Path(file_util.get_static_dir()) / "index.html"  # what Streamlit serves for every page path
app = st.App(APP_SCRIPT, lifespan=lifespan, routes=[Route("/healthz", healthz, methods=["GET"]),
                                                    Route(SIGN_IN_PATH, sign_in, methods=["POST"]),
                                                    Route("/metrics", metrics, methods=["GET"])],
             middleware=[Middleware(SecurityHeaders,
                                    headers=security_headers((*inline_script_hashes(STREAMLIT_INDEX), PIN_SCRIPT_HASH))),
                         Middleware(PinnedBaseUrl)])
