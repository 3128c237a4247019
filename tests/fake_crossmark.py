"""A local fake of the Crossmark planning API over real HTTP, for tests (issue 4, "Local fake server for tests").

`FakeCrossmark` serves a `CrossmarkSimulator` (services/crossmark/sandbox.py: the contract's state and behaviour, not
reimplemented here) from a `ThreadingHTTPServer` on 127.0.0.1 with an ephemeral port, in a daemon thread. It records
every request and can be told to misbehave on the next call(s) to a path:

    with FakeCrossmark() as fake:
        ids = fake.seed_basic()
        fake.inject(PATH_SCHEDULE, "timeout_after")   # act, then answer too late
        ...
        assert fake.writes_sent(PATH_SCHEDULE) == 1 and fake.writes_acted(PATH_SCHEDULE) == 1

Faults (`inject(path, fault, times=1, delay=None)`; consumed in order, one per matching request; `times=None` = always):

| fault | the simulator acts? | what the client gets |
|---|---|---|
| `5xx_before` | no | 503 HTML page |
| `5xx_after` | yes | 500 HTML page |
| `timeout_before` | no | nothing until `delay` (default `timeout_delay`, longer than the client's read timeout), then a 504 |
| `timeout_after` | yes | the real reply, but only after `delay` |
| `ok0` | no | 200 `{"ok": 0, "message": ...}` |
| `missing_id` | yes | the real reply with `MVScheduledEvent.ID` removed |
| `expired_session` | no | 401 "session expired" page (the session itself stays valid, as if it had just been renewed elsewhere) |
| `expired_redirect` | no | 302 to `/login?...` (the other way the service reports an expired session) |
| `slow_reply` | yes, at once | the real reply, held for `delay` (default `slow_delay`) after the simulator acted |
| `late_write` | yes, `delay` late | the request waits `delay` (default `slow_delay`); then the simulator acts, replies |
| `reset` / `reset_before` | no | the connection is aborted (RST) without any reply |
| `reset_after` | yes | the connection is aborted (RST) without any reply |
| `html_error` | no | 200 with an HTML error page |
| `extra_keys` | yes | the real JSON reply with unknown keys added (top level and nested records) |

"Acted" means the simulator carried the request out: it reached the simulator, which answered 2xx and not `ok: 0`.

Where the delay sits matters once it may outlast the client's read timeout (a loaded machine adds its own delay):
- `slow_reply` (like `timeout_after`, which only defaults to a longer delay) acts first: whenever the client gives up,
  the write has already landed, so reading the event back (what the services do with an unknown outcome) sees it. A
  slow reply "as meant" is this one; with `delay` under the read timeout the call is merely slow.
- `late_write` acts only after the delay: if the client gave up meanwhile, the write lands later, possibly after the
  client's read-back found nothing. No client can account for such a write, so only a test that wants exactly that
  uses it (a process killed while its write is on the wire, the write landing after the kill).
There is no `slow` any more: it was `late_write` under a name that promised `slow_reply`, and the stateful chaos test's
rare failures were its late writes (inject() says which to use instead).
"""
from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import date
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from services.crossmark.sandbox import (
    PATH_LOGIN, PATH_PLANNING, WRITE_PATHS, CrossmarkSimulator, SimulatedEvent, SimulatedReply,
)

FAKE_TIMEZONE = "America/Indiana/Indianapolis"
FAKE_USERNAME = "field-ops@example.com"
FAKE_PASSWORD = "Sup3r-S3cret-PW!"  # distinctive, so tests can prove it never leaks

FAULTS = frozenset({"5xx_before", "5xx_after", "timeout_before", "timeout_after", "ok0", "missing_id",
                    "expired_session", "expired_redirect", "slow_reply", "late_write", "reset", "reset_before",
                    "reset_after", "html_error", "extra_keys"})
SLOW_FAULTS = frozenset({"slow_reply", "late_write"})  # delay by default `slow_delay` (the others: `timeout_delay`)
RETIRED_FAULTS = {"slow": "'slow' was split in two: 'slow_reply' (the simulator acts, then the reply is held: a slow "
                          "reply) or 'late_write' (the request is held, then the simulator acts: the write may land "
                          "after the client gave up)"}
MAX_DELAY = 10.0  # every sleep in the server is bounded (and cut short by stop())

HTML_503 = "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1>" \
           "<p>The server is temporarily unable to service your request.</p></body></html>"
HTML_500 = "<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1>" \
           "<p>Fatal error: Uncaught exception in PlanningExtController.php on line 812</p></body></html>"
HTML_504 = "<html><body><h1>504 Gateway Time-out</h1></body></html>"
HTML_ERROR_PAGE = "<!DOCTYPE html><html><head><title>MVRetail - Error</title></head><body><div class='error'>" \
                  "<h2>An error has occurred</h2><p>Please contact your administrator. Reference #A1B2C3</p>" \
                  "</div></body></html>"
HTML_SESSION_EXPIRED = "<html><body>Your session has expired. <a href='/login'>Log in again</a></body></html>"


@dataclass
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    json: Any  # the parsed JSON body (login), else None
    cookies: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes  # raw, e.g. to check that `:` went out form-encoded as `%3A`
    fault: str | None = None
    handled: bool = False  # reached the simulator
    acted: bool = False  # ... and the simulator carried it out (2xx, not ok: 0)
    status: int | None = None  # what was sent back; None: no reply (reset) or not yet (still sleeping)
    # time.monotonic() readings, so a test can check the order of events whatever the machine's load
    received_at: float = 0.0  # the request was read
    handled_at: float | None = None  # the simulator handled it
    answered_at: float | None = None  # the reply started going out

    @property
    def is_write(self) -> bool:
        return self.path in WRITE_PATHS


@dataclass
class _Fault:
    kind: str
    remaining: int | None  # None: every time
    delay: float | None


@dataclass(frozen=True)
class SeedIds:
    """What `seed_basic` put into the simulator."""

    rep_ids: tuple[str, ...]
    rep_names: dict[str, str]
    mplan_ids: tuple[str, ...]  # in planning-list order (start date, mPlanID)
    store_ids: dict[str, str]  # mPlanID -> storeID
    first: date  # a window covering every seeded event
    last: date

    @property
    def rep_id(self) -> str:
        return self.rep_ids[0]

    @property
    def mplan_id(self) -> str:
        return self.mplan_ids[0]

    @property
    def store_id(self) -> str:
        return self.store_ids[self.mplan_ids[0]]


def make_simulator(*, timezone_name: str = FAKE_TIMEZONE, username: str | None = FAKE_USERNAME,
                   password: str | None = FAKE_PASSWORD) -> CrossmarkSimulator:
    """A simulator that only accepts the given credentials (the fake's defaults unless told otherwise)."""
    return CrossmarkSimulator(timezone_name, username=username, password=password)


def seed_basic(simulator: CrossmarkSimulator) -> SeedIds:
    """Two reps and five unstaffed events in early March 2026 (around the US DST change of 8 March)."""
    reps = {"152052": "Dana Whitfield", "152053": "Luis Ortega"}
    for rep_id, name in reps.items():
        simulator.add_rep(rep_id, name)
    rows = [
        ("31785976", "612103-Acme-Trail Mix 12oz (250821530146)  - V2-CORE", "157384", "Kroger #512", 2, 13),
        ("31785977", "612103-Acme-Trail Mix 12oz (250821530146)  - V2-Supervisor", "157384", "Kroger #512", 2, 13),
        ("31785980", "606001-CORE-Super Pretzel King Size", "157390", "Meijer #88", 4, 12),
        ("31785981", "03.05-Digital Refresh Spring Endcap", "157391", "Kroger #77", 5, 6),
        ("31785990", "03-09 8HR-ES1-JUICER-PRODUCTION-SPCLTY", "157399", "Kroger #512 Juicer", 9, 11),
    ]
    for mplan_id, name, store_id, store_name, first_day, last_day in rows:
        simulator.add_event(SimulatedEvent(mplan_id, name, store_id, store_name, date(2026, 3, first_day),
                                           date(2026, 3, last_day)))
    return SeedIds(rep_ids=tuple(reps), rep_names=dict(reps), mplan_ids=tuple(r[0] for r in rows),
                   store_ids={r[0]: r[2] for r in rows}, first=date(2026, 3, 1), last=date(2026, 3, 31))


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck in a sleep never blocks shutdown
    block_on_close = False

    def __init__(self, fake: "FakeCrossmark") -> None:
        self.fake = fake
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request, client_address):  # noqa: ANN001 - socketserver signature
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # noqa: ANN001
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_open_connections(self) -> None:
        """Close every kept-alive connection, so clients see the server gone (connection refused next time)."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):  # noqa: ANN001
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, OSError)):
            return  # a client that gave up (timeout) leaves a broken pipe behind: expected
        self.fake.server_errors.append(repr(error))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the live service
    timeout = 5  # idle kept-alive connections end on their own
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms per reply
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests read `requests` instead
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    # --- one request --------------------------------------------------------------------------------------------

    def _serve(self) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        content_type = self.headers.get("Content-Type", "")
        form: dict[str, str] = {}
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        payload = None
        if body and "json" in content_type:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
        cookies: dict[str, str] = {}
        try:
            jar = SimpleCookie(self.headers.get("Cookie", ""))
            cookies = {name: morsel.value for name, morsel in jar.items()}
        except CookieError:
            pass
        fault = fake._take_fault(split.path)
        # The world the request was sent to: a test that swaps the simulator (PairedWorld.restart, each example of the
        # stateful test) must not receive a late_write held from the one before.
        simulator = fake.simulator
        record = RecordedRequest(
            method=self.command, path=split.path,
            query={k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()},
            form=form, json=payload, cookies=cookies, headers={k.lower(): v for k, v in self.headers.items()},
            body=body, fault=fault.kind if fault else None, received_at=time.monotonic())
        fake._record(record)
        kind = fault.kind if fault else None
        delay = fake._delay_for(fault)

        if kind == "5xx_before":
            return self._reply(record, SimulatedReply(503, HTML_503))
        if kind == "timeout_before":
            fake._sleep(delay)
            return self._reply(record, SimulatedReply(504, HTML_504))  # the client has long given up
        if kind == "ok0":
            return self._reply(record, _json_reply(200, {"ok": 0, "message": "The operation could not be completed "
                                                                             "(injected ok: 0)."}))
        if kind == "expired_session":
            return self._reply(record, SimulatedReply(401, HTML_SESSION_EXPIRED))
        if kind == "expired_redirect":
            reply = SimulatedReply(302, "", {"Content-Type": "text/html; charset=UTF-8",
                                             "Location": f"{fake.url}/login?redirect=%2Fplanning%2F"})
            return self._reply(record, reply)
        if kind in ("reset", "reset_before"):
            return self._reset(record)
        if kind == "html_error":
            return self._reply(record, SimulatedReply(200, HTML_ERROR_PAGE))
        if kind == "late_write":
            fake._sleep(delay)  # before the simulator sees it: the write lands late if the client gave up meanwhile

        reply = simulator.handle(self.command, split.path, query=record.query, form=form, body=body, cookies=cookies)
        fake._mark_handled(record, reply)

        if kind == "5xx_after":
            return self._reply(record, SimulatedReply(500, HTML_500))
        if kind in ("timeout_after", "slow_reply"):
            fake._sleep(delay)  # after the simulator acted: a client that gives up has a write it can read back
            return self._reply(record, reply)
        if kind == "reset_after":
            return self._reset(record)
        if kind == "missing_id":
            reply = _rewrite_json(reply, _drop_scheduled_id)
        elif kind == "extra_keys":
            reply = _rewrite_json(reply, _add_extra_keys)
        return self._reply(record, reply)

    def _reply(self, record: RecordedRequest, reply: SimulatedReply) -> None:
        data = reply.body.encode("utf-8")
        record.answered_at = time.monotonic()
        record.status = reply.status  # before writing: the client may look at the record as soon as it has the reply
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            record.status = None  # the client is gone (it timed out): nothing was delivered
            self.close_connection = True

    def _reset(self, record: RecordedRequest) -> None:
        """Abort the connection (RST, no reply at all)."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # drop the makefile() reference, so close() really closes the socket (RST)
            sock.close()
        except OSError:
            pass


def _json_reply(status: int, payload: object) -> SimulatedReply:
    return SimulatedReply(status, json.dumps(payload))


def _rewrite_json(reply: SimulatedReply, change) -> SimulatedReply:  # noqa: ANN001
    try:
        payload = json.loads(reply.body)
    except ValueError:
        return reply
    change(payload)
    return SimulatedReply(reply.status, json.dumps(payload), dict(reply.headers))


def _drop_scheduled_id(payload: Any) -> None:
    if isinstance(payload, dict) and isinstance(payload.get("MVScheduledEvent"), dict):
        payload["MVScheduledEvent"].pop("ID", None)


def _add_extra_keys(payload: Any) -> None:
    if not isinstance(payload, dict):
        return
    payload.update({"debugToken": "x9f3", "serverTime": "2026-03-01T00:00:00+00:00", "warnings": [],
                    "meta": {"version": "3.0.2", "node": "web-07"}})
    if isinstance(payload.get("MVScheduledEvent"), dict):
        payload["MVScheduledEvent"].update({"CreatedBy": 4411, "Notes": None, "Duration": "PT1H"})
    for record in payload.get("mplans") or []:
        if isinstance(record, dict):
            record.update({"projectColor": "#ff8800", "isLocked": False, "extra": {"a": 1}})


class FakeCrossmark:
    """The Crossmark planning API on a real local HTTP port, backed by a CrossmarkSimulator, with fault injection."""

    def __init__(self, simulator: CrossmarkSimulator | None = None, *, timeout_delay: float = 1.0,
                 slow_delay: float = 0.15) -> None:
        self.simulator = simulator if simulator is not None else make_simulator()
        self.timeout_delay = timeout_delay  # for timeout_*: must exceed the client's read timeout
        self.slow_delay = slow_delay  # for slow_reply / late_write: under the client's read timeout, merely slow
        self.requests: list[RecordedRequest] = []
        self.server_errors: list[str] = []  # unexpected exceptions inside handlers (tests may assert it is empty)
        self._faults: dict[str, deque[_Fault]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"FakeCrossmark(url={self.url!r}, requests={len(self.requests)})"

    # --- life cycle ---------------------------------------------------------------------------------------------

    def start(self) -> "FakeCrossmark":
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-crossmark-{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (later connections are refused). Wakes handlers that are sleeping."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.drop_open_connections()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def __enter__(self) -> "FakeCrossmark":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- set-up ----------------------------------------------------------------------------------------------

    def seed_basic(self) -> SeedIds:
        return seed_basic(self.simulator)

    def inject(self, path: str, fault: str, times: int | None = 1, *, delay: float | None = None) -> None:
        """Misbehave on the next `times` requests to `path` (None: on every one) in the way `fault` names."""
        if fault in RETIRED_FAULTS:
            raise ValueError(RETIRED_FAULTS[fault])
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; one of {sorted(FAULTS)}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        with self._lock:
            self._faults.setdefault(path, deque()).append(_Fault(fault, times, delay))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending_faults(self, path: str | None = None) -> int:
        with self._lock:
            queues = [self._faults.get(path, deque())] if path else list(self._faults.values())
            return sum(1 for queue in queues for _ in queue)

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- assertions ------------------------------------------------------------------------------------------

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def logins(self) -> int:
        return len(self.requests_to(PATH_LOGIN))

    def writes_sent(self, path: str | None = None) -> int:
        """Write requests that reached the server (whatever happened to them)."""
        with self._lock:
            return sum(1 for r in self.requests if r.is_write and (path is None or r.path == path))

    def writes_acted(self, path: str | None = None) -> int:
        """Write requests the simulator actually carried out: the count that must never exceed one per action."""
        with self._lock:
            return sum(1 for r in self.requests if r.is_write and r.acted and (path is None or r.path == path))

    def planning_pages(self) -> list[RecordedRequest]:
        return self.requests_to(PATH_PLANNING)

    # --- used by the handler ---------------------------------------------------------------------------------

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            if not queue:
                return None
            fault = queue[0]
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.popleft()
            return fault

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _mark_handled(self, record: RecordedRequest, reply: SimulatedReply) -> None:
        ok = True
        try:
            payload = json.loads(reply.body)
            if isinstance(payload, dict) and "ok" in payload and str(payload["ok"]) in ("0", "False", "false"):
                ok = False
        except ValueError:
            pass
        with self._lock:
            record.handled_at = time.monotonic()
            record.handled = True
            record.acted = 200 <= reply.status < 300 and ok

    def _delay_for(self, fault: _Fault | None) -> float:
        if fault is None:
            return 0.0
        default = self.slow_delay if fault.kind in SLOW_FAULTS else self.timeout_delay
        return max(0.0, min(MAX_DELAY, fault.delay if fault.delay is not None else default))

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)
