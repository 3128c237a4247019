"""Crossmark client layer: one httpx-based client, one method per planning-API call, typed results and errors.

Retries (tenacity, exponential backoff with jitter): reads on any transport failure or 5xx; writes only when the
request never reached the server (connection refused, DNS, connect timeout). A write whose reply was lost raises
CrossmarkUnknownOutcome: the caller reads the event back instead of resending (../shared/DESIGN.md invariant 4).
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from services.crossmark.sandbox import (
    PATH_CONDITION, PATH_LOGIN, PATH_PLANNING, PATH_QUALIFIED_REPS, PATH_SCHEDULE, PATH_UNSCHEDULE, PATH_USER_INFO,
)
from services.errors import (
    CrossmarkAuthError, CrossmarkBadReply, CrossmarkRejected, CrossmarkUnavailable, CrossmarkUnknownOutcome,
    InvalidInput,
)
from services.domain.event_rules import CONDITIONS
from services.ops.metrics import METRICS

log = logging.getLogger("services.crossmark")

EXCERPT_CHARS = 160
# Failures where the request provably never reached the server: safe to repeat even for a write.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True)
class ScheduledEvent:
    """Crossmark's MVScheduledEvent: `scheduled_event_id` is what unscheduling needs (store the latest one)."""

    scheduled_event_id: str
    mplan_id: str
    rep_id: str
    location_id: str
    start: datetime  # naive local wall time of the Crossmark zone
    end: datetime
    rep_name: str | None = None


@dataclass(frozen=True)
class ConditionReply:
    """Crossmark's answer to "what condition is this mPlan in at this store" (the condition as Crossmark words it)."""

    mplan_id: str
    store_id: str
    condition: str
    reps: str
    key: str


@dataclass(frozen=True)
class QualifiedRep:
    """A rep Crossmark would let us schedule for an event (getQualifiedRepsForScheduling)."""
    rep_id: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class PlanningEvent:
    mplan_id: str
    name: str
    store_id: str
    store_name: str | None
    start_date: date | None
    end_date: date | None
    scheduled_at: datetime | None  # naive local
    condition: str | None
    staffed_reps: tuple[str, ...]
    rep_id: str | None
    scheduled_event_id: str | None
    sales_tools_url: str | None


class _RetryableStatus(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response


def excerpt(text: str) -> str:
    """A short, single-line excerpt of a reply body for error messages."""
    flat = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text or "")).strip()
    return flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else "")


class CrossmarkClient:
    """The Crossmark planning API. Not shared between threads: make one per worker (httpx.Client is not fork-safe)."""

    def __init__(self, *, base_url: str, username: str | None, password: str | None, timezone_name: str,
                 connect_timeout: float = 5.0, read_timeout: float = 30.0, session_life_seconds: float = 3600.0,
                 retry_attempts: int = 3, retry_initial_wait: float = 0.5, transport: httpx.BaseTransport | None = None,
                 is_sandbox: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.__password = password  # name-mangled and never in repr, logs or errors
        self.tz = ZoneInfo(timezone_name)
        self.timezone_name = timezone_name
        self.is_sandbox = is_sandbox
        self.session_life_seconds = session_life_seconds
        self.retry_attempts = max(1, retry_attempts)
        self.retry_initial_wait = retry_initial_wait
        self._clock = clock
        self._logged_in_at: float | None = None
        self._http = httpx.Client(
            base_url=self.base_url, transport=transport, follow_redirects=False,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"x-requested-with": "XMLHttpRequest", "Origin": self.base_url,
                     "Referer": f"{self.base_url}/planning/", "User-Agent": "field-events-dashboard/1.0"})

    def longest_call_seconds(self) -> float:
        """An upper bound on one call of this client: a login and the call, then (session expired) a second login
        and the call again, each with all its attempts, each attempt bounded by the connect and read timeouts, plus
        the waits between attempts (capped at 8 s). An operation's lease must be longer than this."""
        timeout = self._http.timeout
        per_attempt = (timeout.connect or 0.0) + (timeout.read or 0.0)
        one_request = self.retry_attempts * per_attempt + (self.retry_attempts - 1) * (8.0 + self.retry_initial_wait)
        return 4 * one_request

    def __repr__(self) -> str:
        return (f"CrossmarkClient(base_url={self.base_url!r}, username={self.username!r}, "
                f"sandbox={self.is_sandbox}, logged_in={self._logged_in_at is not None})")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "CrossmarkClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the calls ---------------------------------------------------------------------------------------------

    def login(self) -> None:
        if not self.username or not self.__password:
            raise CrossmarkAuthError("Crossmark credentials are not configured (CROSSMARK_USERNAME / "
                                     "CROSSMARK_PASSWORD).", path=PATH_LOGIN)
        self._http.cookies.clear()
        self._logged_in_at = None
        response = self._attempt("POST", PATH_LOGIN, write=False, json={
            "UserType": "MVEntityUser", "UserID": self.username, "Password": self.__password,
            "Timezone": self.timezone_name})
        payload = _maybe_json(response.text)
        refused = response.status_code in (401, 403) or (isinstance(payload, dict) and payload.get("success") is False)
        if refused:
            raise CrossmarkAuthError(f"Crossmark refused the login for user {self.username!r}.",
                                     status=response.status_code, excerpt=excerpt(response.text), path=PATH_LOGIN)
        if response.status_code >= 500:  # still 5xx after the retries: the service is down, not answering oddly
            raise CrossmarkUnavailable(f"Crossmark answered {response.status_code} to the login.",
                                       status=response.status_code, excerpt=excerpt(response.text), path=PATH_LOGIN)
        if not response.is_success or not self._http.cookies.get("PHPSESSID"):
            raise CrossmarkBadReply(f"Crossmark login answered {response.status_code} without a session cookie.",
                                    status=response.status_code, excerpt=excerpt(response.text), path=PATH_LOGIN)
        self._logged_in_at = self._clock()

    def user_info(self) -> dict[str, Any]:
        """A cheap "am I logged in" probe."""
        response = self._call("POST", PATH_USER_INFO, write=False)
        return self._json_object(response, PATH_USER_INFO)

    def schedule(self, *, rep_id: str, mplan_id: str, location_id: str, start: datetime,
                 duration_minutes: int) -> ScheduledEvent:
        """Schedule (or reschedule, or reassign) one event. `start` is naive local wall time."""
        for name, value in (("RepID", rep_id), ("mPlanID", mplan_id), ("LocationID", location_id)):
            if not str(value or "").strip():
                raise InvalidInput(f"Cannot schedule in Crossmark without {name}.", field=name)
        if duration_minutes <= 0:
            raise InvalidInput(f"The duration must be positive, not {duration_minutes} minutes.")
        form = {"ClassName": "MVScheduledmPlan", "RepID": str(rep_id), "mPlanID": str(mplan_id),
                "LocationID": str(location_id), "Start": self.to_crossmark_time(start),
                "End": self.to_crossmark_time(start + timedelta(minutes=duration_minutes)),
                "hash": "", "v": "3.0.1", "PlanningOverride": "true"}
        response = self._call("POST", PATH_SCHEDULE, write=True, data=form)
        payload = self._json_object(response, PATH_SCHEDULE, write=True)
        if _is_not_ok(payload):
            raise CrossmarkRejected(f"Crossmark refused to schedule mPlan {mplan_id}: "
                                    f"{payload.get('message') or excerpt(response.text)}",
                                    status=response.status_code, excerpt=excerpt(response.text), path=PATH_SCHEDULE)
        scheduled = payload.get("MVScheduledEvent")
        if not isinstance(scheduled, dict) or not str(scheduled.get("ID") or "").strip():
            raise CrossmarkUnknownOutcome(
                f"Crossmark answered the schedule of mPlan {mplan_id} without a scheduled-event id; read it back.",
                status=response.status_code, excerpt=excerpt(response.text), path=PATH_SCHEDULE)
        return ScheduledEvent(
            scheduled_event_id=str(scheduled["ID"]), mplan_id=str(scheduled.get("mPlanID") or mplan_id),
            rep_id=str(scheduled.get("RepID") or rep_id), location_id=str(scheduled.get("LocationID") or location_id),
            start=self.from_crossmark_time(scheduled.get("Start")) or start,
            end=self.from_crossmark_time(scheduled.get("End")) or start + timedelta(minutes=duration_minutes),
            rep_name=payload.get("repName"))

    def unschedule(self, scheduled_event_id: str) -> None:
        value = str(scheduled_event_id or "").strip()
        if not value.isdigit():
            raise InvalidInput(f"{scheduled_event_id!r} is not a Crossmark scheduled-event id" +
                               (" (a legacy <mPlanID>_<storeID> id: read the event first)" if "_" in value else "")
                               + "; it cannot be unscheduled remotely.", field="scheduled_event_id")
        response = self._call("POST", PATH_UNSCHEDULE, write=True, data={"id": value})
        payload = _maybe_json(response.text)
        if payload is None and response.text.strip():  # an HTML error page is not a success: read the event back
            self._json_object(response, PATH_UNSCHEDULE, write=True)
        if isinstance(payload, dict) and _is_not_ok(payload):
            raise CrossmarkRejected(f"Crossmark refused to unschedule {value}: "
                                    f"{payload.get('message') or excerpt(response.text)}",
                                    status=response.status_code, excerpt=excerpt(response.text), path=PATH_UNSCHEDULE)

    def event_condition(self, mplan_id: str, store_id: str) -> ConditionReply:
        response = self._call("POST", PATH_CONDITION, write=False, data={"mPlanID": str(mplan_id),
                                                                          "storeID": str(store_id)})
        payload = self._json_object(response, PATH_CONDITION)
        if not _is_not_ok(payload) and not payload.get("condition"):
            raise CrossmarkBadReply(f"Crossmark's condition reply for mPlan {mplan_id} has no condition.",
                                    status=response.status_code, excerpt=excerpt(response.text), path=PATH_CONDITION)
        if _is_not_ok(payload):
            raise CrossmarkRejected(f"Crossmark has no condition for mPlan {mplan_id} at store {store_id}.",
                                    status=response.status_code, excerpt=excerpt(response.text), path=PATH_CONDITION)
        return ConditionReply(str(mplan_id), str(store_id), str(payload["condition"]), str(payload.get("reps") or ""),
                              str(payload.get("key") or f"{mplan_id}_{store_id}"))

    def planning_events(self, first: date, last: date, *, mplan_id: str | None = None,
                        page_size: int = 200, on_page: Callable[[int, int], None] | None = None) -> list[PlanningEvent]:
        """Every planning event in first..last (all conditions, all pages), or the one mPlan asked for."""
        terms: dict[str, Any] = {"condition": {"name": "condition", "title": "Conditions", "items": [
            {"id": 11, "value": list(CONDITIONS), "displayValue": list(CONDITIONS), "exactmatch": True,
             "allActive": False}]}}
        if mplan_id is not None:
            terms["mPlanID"] = {"name": "mPlanID", "items": [{"value": [str(mplan_id)], "exactmatch": True}]}
        events: list[PlanningEvent] = []
        start, total, page = 0, None, 1
        while total is None or start < total:
            params = {"_dc": str(int(time.time() * 1000)), "intervalStart": first.isoformat(),
                      "intervalEnd": last.isoformat(), "showAllActive": "false",
                      "searchFields": json.dumps({"searchTerms": terms}), "searchFilter": "", "page": str(page),
                      "start": str(start), "limit": str(page_size),
                      "sort": json.dumps([{"property": "startDate", "direction": "ASC"}])}
            response = self._call("GET", PATH_PLANNING, write=False, params=params)
            payload = self._json_object(response, PATH_PLANNING)
            records = payload.get("mplans")
            if not isinstance(records, list):
                raise CrossmarkBadReply("Crossmark's planning list has no 'mplans' list.", status=response.status_code,
                                        excerpt=excerpt(response.text), path=PATH_PLANNING)
            raw_total = payload.get("total")
            if raw_total is not None and not str(raw_total).strip().isdigit():
                raise CrossmarkBadReply(f"Crossmark's planning list has a total of {raw_total!r}.",
                                        status=response.status_code, excerpt=excerpt(response.text), path=PATH_PLANNING)
            events.extend(self._planning_event(record) for record in records if isinstance(record, dict))
            # Without a total, keep reading while pages come back full.
            total = int(raw_total) if raw_total is not None else (
                len(events) + 1 if len(records) == page_size else len(events))
            if on_page is not None:
                on_page(len(events), total)
            if not records:
                break  # the total promised more than the pages hold: stop rather than loop forever
            start += len(records)
            page += 1
        return events

    def qualified_reps(self, mplan_id: str, store_id: str, *, page_size: int = 500) -> list[QualifiedRep]:
        """The reps Crossmark qualifies for one event (all pages). A read: safe to retry; callers never let its
        failure block an action."""
        reps: dict[str, QualifiedRep] = {}
        start, page = 0, 1
        while True:
            params = {"_dc": str(int(time.time() * 1000)), "mPlanID": str(mplan_id), "storeID": str(store_id),
                      "page": str(page), "start": str(start), "limit": str(page_size),
                      "sort": json.dumps([{"property": "LastName", "direction": "ASC"}])}
            response = self._call("GET", PATH_QUALIFIED_REPS, write=False, params=params)
            payload = self._json_object(response, PATH_QUALIFIED_REPS)
            records = payload.get("reps", payload.get("data"))  # some deployments answer under "data"
            if not isinstance(records, list):
                raise CrossmarkBadReply("Crossmark's qualified reps reply has no 'reps' (or 'data') list.",
                                        status=response.status_code, excerpt=excerpt(response.text),
                                        path=PATH_QUALIFIED_REPS)
            before = len(reps)
            for record in records:
                if isinstance(record, dict) and str(record.get("ID") or "").strip():
                    rep_id = str(record["ID"]).strip()
                    reps[rep_id] = QualifiedRep(rep_id, str(record.get("FirstName") or ""),
                                                str(record.get("LastName") or ""))
            raw_total = payload.get("total")
            total = int(str(raw_total)) if str(raw_total or "").strip().isdigit() else None
            # Stop on a short page, on the promised total, or when a page adds nobody new (a server that ignores
            # `start` would otherwise be read forever).
            if len(records) < page_size or len(reps) == before or (total is not None and len(reps) >= total):
                return list(reps.values())
            start += len(records)
            page += 1

    # --- time conversion -----------------------------------------------------------------------------------------

    def to_crossmark_time(self, local: datetime) -> str:
        """Naive local wall time -> `2025-09-30T09:00:00-04:00` (DST-correct for the configured zone)."""
        aware = local.replace(tzinfo=self.tz) if local.tzinfo is None else local.astimezone(self.tz)
        if local.tzinfo is None and aware.astimezone(ZoneInfo("UTC")).astimezone(self.tz).replace(tzinfo=None) != local:
            raise InvalidInput(f"{local:%Y-%m-%d %H:%M} does not exist in {self.timezone_name} (the clocks skip it "
                               "when daylight saving time starts).", field="start")
        return aware.replace(microsecond=0).isoformat(timespec="seconds")

    def from_crossmark_time(self, value: object) -> datetime | None:
        """`2025-09-30T13:00:00+00:00` (UTC, or any offset) -> naive local wall time; None when absent/unreadable."""
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:  # the contract: replies are UTC
            parsed = parsed.replace(tzinfo=ZoneInfo("UTC"))
        return parsed.astimezone(self.tz).replace(tzinfo=None)

    # --- plumbing ----------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, write: bool, **kwargs: Any) -> httpx.Response:
        if self._logged_in_at is None or self._clock() - self._logged_in_at > self.session_life_seconds:
            self.login()
        response = self._attempt(method, path, write=write, **kwargs)
        if _session_expired(response):
            # An expired session is refused before the service acts, so one repeat after a fresh login is safe,
            # writes included.
            log.info("crossmark session expired; logging in again", extra={"path": path})
            self.login()
            response = self._attempt(method, path, write=write, **kwargs)
            if _session_expired(response):
                raise CrossmarkAuthError("Crossmark refused the session right after a fresh login.",
                                         status=response.status_code, excerpt=excerpt(response.text), path=path)
        if response.status_code >= 500:
            kind = CrossmarkUnknownOutcome if write else CrossmarkUnavailable
            raise kind(f"Crossmark answered {response.status_code} to {path}"
                       + ("; the write may or may not have happened: read it back." if write else "."),
                       status=response.status_code, excerpt=excerpt(response.text), path=path)
        if response.status_code >= 400:
            raise CrossmarkRejected(f"Crossmark answered {response.status_code} to {path}.",
                                    status=response.status_code, excerpt=excerpt(response.text), path=path)
        return response

    def _attempt(self, method: str, path: str, *, write: bool, **kwargs: Any) -> httpx.Response:
        def retryable(error: BaseException) -> bool:
            if write:
                return isinstance(error, _NEVER_SENT)
            return isinstance(error, (httpx.TransportError, _RetryableStatus))

        retrying = Retrying(stop=stop_after_attempt(self.retry_attempts),
                            wait=wait_exponential_jitter(multiplier=self.retry_initial_wait, max=8,
                                                         jitter=self.retry_initial_wait),
                            retry=retry_if_exception(retryable), reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    response = self._send(method, path, **kwargs)
                    if not write and response.status_code >= 500:
                        raise _RetryableStatus(response)
                    return response
        except _RetryableStatus as failure:
            return failure.response  # reads: the last 5xx after the retries, turned into an error by _call
        except _NEVER_SENT as error:
            raise CrossmarkUnavailable(f"Crossmark is unreachable ({type(error).__name__}: {error}); nothing was sent.",
                                       path=path) from None
        except httpx.TransportError as error:
            if write:
                raise CrossmarkUnknownOutcome(
                    f"The reply to {path} was lost ({type(error).__name__}); the write may or may not have "
                    "happened: read it back.", path=path) from None
            raise CrossmarkUnavailable(f"Crossmark did not answer {path} ({type(error).__name__}).", path=path) from None
        raise AssertionError("unreachable")  # pragma: no cover - Retrying either returns or raises

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        started = time.perf_counter()
        status: str = "error"
        try:
            response = self._http.request(method, path, **kwargs)
            status = str(response.status_code)
            return response
        except httpx.TransportError as error:
            status = type(error).__name__
            raise
        finally:
            elapsed = time.perf_counter() - started
            METRICS.count("crossmark_calls", path=path, status=status)
            METRICS.observe("crossmark_seconds", elapsed, path=path)
            log.info("crossmark %s %s -> %s in %.0f ms", method, path, status, elapsed * 1000,
                     extra={"method": method, "path": path, "status": status, "duration_ms": round(elapsed * 1000)})

    def _json_object(self, response: httpx.Response, path: str, write: bool = False) -> dict[str, Any]:
        payload = _maybe_json(response.text)
        if not isinstance(payload, dict):
            kind = CrossmarkUnknownOutcome if write else CrossmarkBadReply
            raise kind(f"Crossmark answered {response.status_code} to {path} with something that is not JSON"
                       + ("; read the event back." if write else "."),
                       status=response.status_code, excerpt=excerpt(response.text), path=path)
        return payload

    def _planning_event(self, record: dict[str, Any]) -> PlanningEvent:
        tools = record.get("salesTools")
        tool_url = next((str(t.get("salesToolURL")) for t in tools if isinstance(t, dict) and t.get("salesToolURL")),
                        None) if isinstance(tools, list) else None
        reps = tuple(r.strip() for r in str(record.get("staffedReps") or "").split(",") if r.strip())
        return PlanningEvent(
            mplan_id=str(record.get("mPlanID") or ""), name=str(record.get("name") or ""),
            store_id=str(record.get("storeID") or ""), store_name=record.get("storeName"),
            start_date=_us_date(record.get("startDate")), end_date=_us_date(record.get("endDate")),
            scheduled_at=_us_datetime(record.get("scheduleDate")), condition=record.get("condition"),
            staffed_reps=reps, rep_id=str(record.get("scheduleRepID") or "") or None,
            scheduled_event_id=str(record.get("scheduleEventID") or "") or None, sales_tools_url=tool_url)


def _maybe_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _is_not_ok(payload: dict[str, Any]) -> bool:
    return "ok" in payload and str(payload.get("ok")) in ("0", "False", "false")


def _session_expired(response: httpx.Response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.is_redirect and "/login" in response.headers.get("location", "")


def _us_date(value: object) -> date | None:
    try:
        return datetime.strptime(str(value), "%m/%d/%Y").date()
    except ValueError:
        return None


def _us_datetime(value: object) -> datetime | None:
    try:
        return datetime.strptime(str(value).strip(), "%m/%d/%Y %I:%M:%S %p")
    except ValueError:
        return None


SANDBOX_BASE_URL = "https://sandbox.crossmark.invalid"


def make_crossmark_client(settings, engine=None, simulator=None) -> CrossmarkClient:  # noqa: ANN001 - Settings, Engine
    """The configured client: the real service when CROSSMARK_BASE_URL is set, else the in-process sandbox
    (over the database, or the given simulator so several clients share one sandbox state)."""
    common = dict(timezone_name=settings.crossmark_timezone, connect_timeout=settings.crossmark_connect_timeout,
                  read_timeout=settings.crossmark_read_timeout, session_life_seconds=settings.crossmark_session_life)
    if not settings.is_sandbox:
        return CrossmarkClient(base_url=settings.crossmark_base_url, username=settings.crossmark_username,
                               password=settings.crossmark_password, **common)
    from services.crossmark.sandbox import CrossmarkSimulator, SandboxTransport, database_simulator

    if simulator is None:
        rate = settings.sandbox_write_failure_rate
        simulator = (database_simulator(engine, settings.crossmark_timezone, write_failure_rate=rate)
                     if engine is not None else CrossmarkSimulator(settings.crossmark_timezone, write_failure_rate=rate))
    return CrossmarkClient(base_url=SANDBOX_BASE_URL, username="sandbox", password="sandbox",
                           transport=SandboxTransport(simulator), is_sandbox=True, **common)
