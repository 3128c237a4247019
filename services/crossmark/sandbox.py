"""Crossmark sandbox layer: a stateful stand-in for the Crossmark planning API (../shared/crossmark-api.md).

`CrossmarkSimulator` answers requests the way the live service does (JSON served as text/html, session cookie,
scheduled-event ids that change on every reschedule, UTC times in replies). The app uses it through
`SandboxTransport` when no CROSSMARK_BASE_URL is configured; the tests' local HTTP fake serves the same simulator, so
the sandbox and the fake behave alike by construction (and one contract test suite runs against both).

Over a database (`database_simulator`), the sandbox reads each event and rep from it at the first request that touches
them (by mPlanID, scheduled-event id, RepID, or a planning list's date range), not all of them up front: an action at
a million events then costs what it costs at ten thousand. What the sandbox itself writes stays in memory.
"""
from __future__ import annotations

import json
import random
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import TypeVar
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import ColumnElement, Engine, select

from services.domain.event_rules import SCHEDULED, UNSTAFFED
from services.store.database import reading
from services.store.tables import Employee, Event, Schedule

PATH_LOGIN = "/login/authenticate"
PATH_USER_INFO = "/users/getUserInfo"
PATH_SCHEDULE = "/planningextcontroller/scheduleMplanEvent"
PATH_UNSCHEDULE = "/planningextcontroller/deleteScheduledMplanEvent"
PATH_CONDITION = "/planningextcontroller/getmPlanLocationCondition"
PATH_PLANNING = "/planningextcontroller/getPlanningMplans"
PATH_QUALIFIED_REPS = "/planningextcontroller/getQualifiedRepsForScheduling"
WRITE_PATHS = frozenset({PATH_SCHEDULE, PATH_UNSCHEDULE})


@dataclass
class SimulatedEvent:
    mplan_id: str
    name: str
    store_id: str
    store_name: str
    start_date: date
    end_date: date
    condition: str = UNSTAFFED
    scheduled_id: str | None = None
    rep_id: str | None = None
    start: datetime | None = None  # aware
    end: datetime | None = None


@dataclass
class SimulatedReply:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=UTF-8"})


def _json(status: int, payload: object, **headers: str) -> SimulatedReply:
    return SimulatedReply(status, json.dumps(payload), {"Content-Type": "text/html; charset=UTF-8", **headers})


Record = TypeVar("Record")


class LazyRecords(MutableMapping[str, Record]):
    """A key -> record map that reads a key from its source at the key's first touch (`fetch`), or every record at
    once (`fetch_all`, after which it is `complete` and reads nothing more). A key read once is never read again: what
    the sandbox changed stays as it left it, and a key the source lacked stays unknown. Without a source it is a plain
    map. Iterating it reads everything first, so only comparisons (`scheduled_state`) and the rep list do."""

    def __init__(self, lock: threading.RLock, fetch: Callable[[set[str]], dict[str, Record]] | None = None,
                 fetch_all: Callable[[], dict[str, Record]] | None = None,
                 stored: Callable[[Record], None] | None = None) -> None:
        """`stored(record)`: told of each record as it comes to be held (read, or set), so an owner can index it."""
        self._lock = lock
        self._fetch, self._fetch_all = fetch, fetch_all
        self._stored = stored
        self._records: dict[str, Record] = {}
        self._absent: set[str] = set()  # asked for and not in the source, or deleted here
        self.complete = fetch is None

    def load(self, keys: Iterable[str]) -> None:
        """Read the keys not yet touched, in one call of the source."""
        with self._lock:
            wanted = {key for key in keys if not self.touched(key)}
            if wanted and not self.complete and self._fetch is not None:
                found = self._fetch(wanted)
                for key in wanted & found.keys():
                    self._hold(key, found[key])
                self._absent.update(wanted - found.keys())

    def merge(self, records: dict[str, Record]) -> None:
        """Records read in bulk (a date range): a key touched before keeps what it holds here."""
        with self._lock:
            for key, record in records.items():
                if not self.touched(key):
                    self._hold(key, record)

    def load_all(self) -> None:
        with self._lock:
            if not self.complete and self._fetch_all is not None:
                self.hold_only(self._fetch_all())

    def hold_only(self, records: dict[str, Record]) -> None:
        """Take these records and read nothing more: a key not here (nor touched before) is unknown from now on."""
        with self._lock:
            self.merge(records)
            self.complete = True

    def touched(self, key: str) -> bool:
        return key in self._records or key in self._absent

    def holding(self, key: str, record: Record) -> bool:
        """Whether `record` is what this map holds under `key` now (reading nothing)."""
        return self._records.get(key) is record

    def _hold(self, key: str, record: Record) -> None:
        self._records[key] = record
        if self._stored is not None:
            self._stored(record)

    def in_memory(self) -> list[Record]:
        """The records read or written so far, reading nothing."""
        with self._lock:
            return list(self._records.values())

    def __getitem__(self, key: str) -> Record:
        self.load((key,))
        return self._records[key]

    def __setitem__(self, key: str, record: Record) -> None:
        with self._lock:
            self._hold(key, record)
            self._absent.discard(key)

    def __delitem__(self, key: str) -> None:
        with self._lock:
            self.load((key,))
            del self._records[key]
            self._absent.add(key)

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(list(self._records))

    def __len__(self) -> int:
        self.load_all()
        return len(self._records)


class CrossmarkSimulator:
    """The service's state and behaviour, independent of transport. Thread-safe."""

    def __init__(self, timezone_name: str, *, username: str | None = None, password: str | None = None,
                 first_scheduled_id: int = 50_000_000, write_failure_rate: float = 0.0, seed: int = 0,
                 database: DatabaseRecords | None = None) -> None:
        self.tz = ZoneInfo(timezone_name)
        self.username, self.password = username, password  # None: any non-empty credentials are accepted
        self._lock = threading.RLock()
        self._database = database
        # Every scheduled-event id an event held when it was read or set, or was given here: which event holds an id
        # (checked against the event on use: an id the event gave up is stale), and the highest number among them. A
        # new id and an unschedule then cost the same whatever the number of events read (they scanned them all).
        self._by_scheduled_id: dict[str, SimulatedEvent] = {}
        self._highest_held = 0
        self.events: LazyRecords[SimulatedEvent] = LazyRecords(
            self._lock, database.events if database else None, database.all_events if database else None,
            stored=self._index)
        self.reps: LazyRecords[str] = LazyRecords(
            self._lock, database.reps if database else None, database.all_reps if database else None)
        self._ranges_read: list[tuple[date, date]] = []  # planning-list date ranges already read from the database
        # mPlanID -> the RepIDs Crossmark qualifies for it; an mPlan not listed qualifies every known rep.
        self.qualified: dict[str, set[str]] = {}
        self.sessions: set[str] = set()
        self.failures: list[str] = []  # "fail on demand": the next N writes answer 503 without acting
        self.write_failure_rate = write_failure_rate  # or this share of all writes, at random (demos)
        self._random = random.Random(seed)
        self._next_id = first_scheduled_id

    # --- state set-up ----------------------------------------------------------------------------------------

    def add_rep(self, rep_id: str, name: str) -> None:
        self.reps[str(rep_id)] = name

    def add_event(self, event: SimulatedEvent) -> None:
        self.events[event.mplan_id] = event

    def _index(self, event: SimulatedEvent) -> None:
        """Note the scheduled-event id an event holds as it comes to be held, or is given one here."""
        scheduled_id = event.scheduled_id
        if scheduled_id:
            self._by_scheduled_id[scheduled_id] = event
            if scheduled_id.isdigit():
                self._highest_held = max(self._highest_held, int(scheduled_id))

    def load_everything(self, refs: Iterable[int] | None = None) -> None:
        """Read the database now, every event (or only the events `refs`) and every rep, and nothing afterwards: a
        snapshot of it, as the tests' fake Crossmark mirrors it."""
        database = self._database
        if database is None:
            return
        with self._lock:
            self.events.hold_only(database.all_events() if refs is None else database.events_with_refs(list(refs)))
            self.reps.load_all()

    def expire_sessions(self) -> None:
        with self._lock:
            self.sessions.clear()

    def fail_next_writes(self, count: int = 1) -> None:
        """Make the next `count` schedule/unschedule calls fail with a 503 before acting (demos of failure handling)."""
        with self._lock:
            self.failures.extend(["503"] * count)

    def scheduled_state(self) -> dict[str, tuple[str | None, datetime, str] | None]:
        """mPlanID -> (rep id, local naive start, scheduled-event id) or None: for comparing with the database. The
        rep id is None for a schedule loaded from the database whose employee has no Crossmark id."""
        with self._lock:  # (a scheduled id and a start are set together and cleared together)
            return {m: ((e.rep_id, e.start.astimezone(self.tz).replace(tzinfo=None), e.scheduled_id)
                        if e.scheduled_id and e.start is not None else None) for m, e in self.events.items()}

    # --- request handling --------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, *, query: dict[str, str], form: dict[str, str], body: bytes,
               cookies: dict[str, str]) -> SimulatedReply:
        with self._lock:
            if path == PATH_LOGIN and method == "POST":
                return self._login(body)
            if cookies.get("PHPSESSID") not in self.sessions:
                return SimulatedReply(401, "<html><body>Session expired. <a href='/login'>Log in</a></body></html>")
            if path in WRITE_PATHS and (self.failures or self._random.random() < self.write_failure_rate):
                if self.failures:
                    self.failures.pop(0)
                return SimulatedReply(503, "<html><body><h1>503 Service Unavailable</h1></body></html>")
            if path == PATH_USER_INFO:
                return _json(200, {"firstName": "Sandbox", "lastName": "User", "success": True})
            if path == PATH_SCHEDULE and method == "POST":
                return self._schedule(form)
            if path == PATH_UNSCHEDULE and method == "POST":
                return self._unschedule(form)
            if path == PATH_CONDITION and method == "POST":
                return self._condition(form)
            if path == PATH_PLANNING and method == "GET":
                return self._planning(query)
            if path == PATH_QUALIFIED_REPS and method == "GET":
                return self._qualified_reps(query)
            return SimulatedReply(404, "<html><body><h1>404 Not Found</h1></body></html>")

    def _login(self, body: bytes) -> SimulatedReply:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"success": False, "message": "Bad request"})
        user, password = str(payload.get("UserID") or ""), str(payload.get("Password") or "")
        accepted = (user == self.username and password == self.password) if self.username is not None \
            else bool(user and password)
        if not accepted:
            return _json(401, {"success": False, "message": "Invalid credentials"})
        token = secrets.token_hex(16)
        self.sessions.add(token)
        return _json(200, {"success": True, "redirectUrl": "/planning/"}, **{"Set-Cookie": f"PHPSESSID={token}; path=/"})

    def _schedule(self, form: dict[str, str]) -> SimulatedReply:
        event = self.events.get(form.get("mPlanID", ""))
        if event is None:
            return _json(200, {"ok": 0, "message": f"Unknown mPlan {form.get('mPlanID')!r}"})
        rep_id = form.get("RepID", "")
        if rep_id not in self.reps:
            return _json(200, {"ok": 0, "message": f"Unknown rep {rep_id!r}"})
        if form.get("LocationID") != event.store_id:
            return _json(200, {"ok": 0, "message": "Location does not match the mPlan"})
        try:
            start, end = datetime.fromisoformat(form["Start"]), datetime.fromisoformat(form["End"])
        except (KeyError, ValueError):
            return _json(200, {"ok": 0, "message": "Invalid Start/End"})
        if start.tzinfo is None or end <= start:
            return _json(200, {"ok": 0, "message": "Start/End need an offset and End after Start"})
        self._next_id = self._new_scheduled_id()
        event.scheduled_id, event.rep_id = str(self._next_id), rep_id
        self._index(event)
        event.start, event.end, event.condition = start, end, SCHEDULED
        utc = timezone.utc
        return _json(200, {"ok": 1, "MVScheduledEvent": {
            "ID": self._next_id, "Start": start.astimezone(utc).isoformat(), "End": end.astimezone(utc).isoformat(),
            "RepID": int(rep_id) if rep_id.isdigit() else rep_id, "mPlanID": int(event.mplan_id)
            if event.mplan_id.isdigit() else event.mplan_id, "LocationID": event.store_id, "IsDeleted": "0"},
            "repName": self.reps[rep_id]})

    def _new_scheduled_id(self) -> int:
        """The first number above every id this sandbox issued or has held that no schedule in the database has: ids
        grow, as Crossmark's do, and never collide with one the database knows (another process's sandbox may have
        stored some since, so the database is asked each time: one index seek). A simulator without a database counts
        from its first id."""
        if self._database is None:
            return self._next_id + 1
        return self._database.free_scheduled_id(max(self._next_id, self._highest_held) + 1)

    def _scheduled_as(self, scheduled_id: str) -> SimulatedEvent | None:
        """The event whose current scheduled-event id this is: among those read so far, else the database's event with
        this schedule id if it was not read yet (one read in memory holds its own id, whatever the database says)."""
        def held() -> SimulatedEvent | None:
            event = self._by_scheduled_id.get(scheduled_id)
            if event is None or event.scheduled_id != scheduled_id or not self.events.holding(event.mplan_id, event):
                return None  # not held, or no longer: the event gave the id up, or was deleted or replaced
            return event

        event = held()
        if event is None and scheduled_id and self._database is not None and not self.events.complete:
            mplan_id = self._database.mplan_scheduled_as(scheduled_id)
            if mplan_id is not None and not self.events.touched(mplan_id):
                self.events.load((mplan_id,))
                event = held()
        return event

    def _unschedule(self, form: dict[str, str]) -> SimulatedReply:
        scheduled_id = form.get("id", "")
        event = self._scheduled_as(scheduled_id)
        if event is None:
            return _json(200, {"ok": 0, "message": f"No scheduled event {scheduled_id!r}"})
        if self._database is not None and scheduled_id.isdigit():  # an id Crossmark retired is never issued again
            self._next_id = max(self._next_id, int(scheduled_id))
        event.scheduled_id = event.rep_id = event.start = event.end = None
        event.condition = UNSTAFFED
        return _json(200, {"ok": 1})

    def _condition(self, form: dict[str, str]) -> SimulatedReply:
        event = self.events.get(form.get("mPlanID", ""))
        if event is None or form.get("storeID") != event.store_id:
            return _json(200, {"ok": 0, "message": "Not found"})
        return _json(200, {"ok": 1, "reps": self.reps.get(event.rep_id or "", ""), "condition": event.condition,
                           "key": f"{event.mplan_id}_{event.store_id}", "workStatus": ""})

    def _planning(self, query: dict[str, str]) -> SimulatedReply:
        try:
            first = date.fromisoformat(query["intervalStart"])
            last = date.fromisoformat(query["intervalEnd"])
            start, limit = int(query.get("start", "0")), int(query.get("limit", "100"))
            terms = json.loads(query.get("searchFields") or "{}").get("searchTerms", {})
        except (KeyError, ValueError):
            return SimulatedReply(400, "<html><body>Bad request</body></html>")
        conditions = _term_values(terms, "condition")
        mplan_ids = _term_values(terms, "mPlanID")
        if mplan_ids is not None:
            self.events.load(mplan_ids)
        else:
            self._read_range(first, last)
        matching = sorted(
            (e for e in self.events.in_memory()
             if e.start_date <= last and e.end_date >= first
             and (conditions is None or e.condition in conditions)
             and (mplan_ids is None or e.mplan_id in mplan_ids)),
            key=lambda e: (e.start_date, e.mplan_id))
        page = matching[start:start + limit]
        self.reps.load(e.rep_id or "" for e in page)
        return _json(200, {"mplans": [self._planning_record(e) for e in page], "total": len(matching)})

    def _read_range(self, first: date, last: date) -> None:
        """Every database event whose window meets first..last, once per range (the pages of one list ask again)."""
        if self._database is None or self.events.complete or any(
                before <= first and last <= after for before, after in self._ranges_read):
            return
        self.events.merge(self._database.events_between(first, last))
        self._ranges_read.append((first, last))

    def _qualified_reps(self, query: dict[str, str]) -> SimulatedReply:
        mplan_id = query.get("mPlanID") or ""
        try:
            start, limit = int(query.get("start", "0")), int(query.get("limit", "100"))
        except ValueError:
            return SimulatedReply(400, "<html><body>Bad request</body></html>")
        if mplan_id not in self.events:
            return _json(200, {"reps": [], "total": 0})
        allowed = self.qualified.get(mplan_id)
        reps = []
        for rep_id, name in self.reps.items():  # every rep, read at once: their number does not grow with the events
            if allowed is None or rep_id in allowed:
                first, _, last = name.partition(" ")
                reps.append({"ID": int(rep_id) if rep_id.isdigit() else rep_id, "FirstName": first,
                             "LastName": last, "Timezone": str(self.tz)})
        reps.sort(key=lambda rep: (str(rep["LastName"]), str(rep["FirstName"]), str(rep["ID"])))
        return _json(200, {"reps": reps[start:start + limit], "total": len(reps)})

    def _planning_record(self, event: SimulatedEvent) -> dict[str, object]:
        local = event.start.astimezone(self.tz) if event.start else None
        return {"mPlanID": event.mplan_id, "name": event.name, "storeID": event.store_id, "storeName": event.store_name,
                "startDate": event.start_date.strftime("%m/%d/%Y"), "endDate": event.end_date.strftime("%m/%d/%Y"),
                "scheduleDate": local.strftime("%m/%d/%Y %I:%M:%S %p") if local else "",
                "condition": event.condition, "staffedReps": self.reps.get(event.rep_id or "", ""),
                "scheduleRepID": event.rep_id or "", "scheduleEventID": event.scheduled_id or "",
                "salesTools": [{"salesToolURL": f"https://crossmark.example/tools/{event.mplan_id}.pdf"}]}


def _term_values(terms: dict, key: str) -> set[str] | None:
    term = terms.get(key)
    if not term:
        return None
    values: set[str] = set()
    for item in term.get("items", []):
        raw = item.get("value", [])
        values.update(str(v) for v in (raw if isinstance(raw, list) else [raw]))
    return values


class SandboxTransport(httpx.BaseTransport):
    """An httpx transport that answers from a CrossmarkSimulator in-process: nothing leaves the machine."""

    def __init__(self, simulator: CrossmarkSimulator) -> None:
        self.simulator = simulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        form = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        cookies = {}
        for part in request.headers.get("cookie", "").split(";"):
            if "=" in part:
                name, value = part.strip().split("=", 1)
                cookies[name] = value
        reply = self.simulator.handle(request.method, request.url.path, query=dict(request.url.params), form=form,
                                      body=body, cookies=cookies)
        return httpx.Response(reply.status, headers=reply.headers, content=reply.body.encode(), request=request)


class DatabaseRecords:
    """What a sandbox over the database reads, each an indexed query: events by mPlanID, by ref, by a schedule's id or
    by a date range, reps by RepID, and every one of either when a snapshot or the rep list asks."""

    def __init__(self, engine: Engine, tz: ZoneInfo) -> None:
        self.engine, self.tz = engine, tz

    def events(self, mplan_ids: set[str]) -> dict[str, SimulatedEvent]:
        return self._events(Event.external_id.in_(sorted(mplan_ids)))

    def events_with_refs(self, refs: list[int]) -> dict[str, SimulatedEvent]:
        return self._events(Event.project_ref_num.in_(refs))

    def events_between(self, first: date, last: date) -> dict[str, SimulatedEvent]:
        """The events whose window meets first..last (whole days, as the planning list filters)."""
        return self._events(Event.start_datetime < datetime.combine(last + timedelta(days=1), time.min),
                            Event.due_datetime >= datetime.combine(first, time.min))

    def all_events(self) -> dict[str, SimulatedEvent]:
        return self._events()

    def mplan_scheduled_as(self, scheduled_id: str) -> str | None:
        with reading(self.engine) as connection:
            return connection.execute(
                select(Event.external_id).join(Schedule, Schedule.event_ref_num == Event.project_ref_num)
                .where(Schedule.external_id == scheduled_id, *_IN_CROSSMARK)).scalars().first()

    def reps(self, rep_ids: set[str]) -> dict[str, str]:
        return self._reps(Employee.external_id.in_(sorted(rep_ids)))

    def all_reps(self) -> dict[str, str]:
        return self._reps(Employee.external_id.is_not(None))

    def free_scheduled_id(self, candidate: int) -> int:
        """`candidate`, or the first number after it found that no schedule's id is: taken numbers are skipped in
        doubling steps, so a run of n taken ids costs about log2(n) index seeks (a max over every schedule's id would
        read them all)."""
        step = 1
        with reading(self.engine) as connection:
            while connection.execute(select(Schedule.id).where(Schedule.external_id == str(candidate))).first():
                candidate, step = candidate + step, step * 2
        return candidate

    def _reps(self, condition: ColumnElement[bool]) -> dict[str, str]:
        with reading(self.engine) as connection:
            return {str(rep_id): name for rep_id, name in connection.execute(
                select(Employee.external_id, Employee.name).where(condition))}

    def _events(self, *conditions: ColumnElement[bool]) -> dict[str, SimulatedEvent]:
        """Each event with its schedule and rep: a Crossmark event (mPlanID and location) only. An event with two
        schedule rows (a drift) takes the last one read, as the sandbox always has."""
        events: dict[str, SimulatedEvent] = {}
        with reading(self.engine) as connection:
            rows = connection.execute(
                select(Event.external_id, Event.project_name, Event.location_mvid, Event.store_name,
                       Event.start_datetime, Event.due_datetime, Event.condition, Event.estimated_time,
                       Schedule.external_id, Schedule.schedule_datetime, Employee.external_id)
                .outerjoin(Schedule, Schedule.event_ref_num == Event.project_ref_num)
                .outerjoin(Employee, Employee.id == Schedule.employee_id)
                .where(*_IN_CROSSMARK, *conditions))
            for (mplan_id, name, store_id, store_name, start, due, condition, minutes, scheduled_id, scheduled_at,
                 rep_id) in rows:
                event = SimulatedEvent(str(mplan_id), name, str(store_id), store_name or "", start.date(), due.date(),
                                       condition or UNSTAFFED)
                if scheduled_at is not None and scheduled_id:
                    aware = scheduled_at.replace(tzinfo=self.tz)
                    event.scheduled_id, event.rep_id = str(scheduled_id), str(rep_id) if rep_id else None
                    event.start, event.end = aware, aware + timedelta(minutes=minutes or 15)
                events[event.mplan_id] = event
        return events


_IN_CROSSMARK = (Event.external_id.is_not(None), Event.location_mvid.is_not(None))


def database_simulator(engine: Engine, timezone_name: str, write_failure_rate: float = 0.0) -> CrossmarkSimulator:
    """A sandbox over the database: each event and rep read from it at the first request that touches it."""
    return CrossmarkSimulator(timezone_name, write_failure_rate=write_failure_rate,
                              database=DatabaseRecords(engine, ZoneInfo(timezone_name)))


def simulator_from_database(engine: Engine, timezone_name: str, write_failure_rate: float = 0.0,
                            refs: Iterable[int] | None = None) -> CrossmarkSimulator:
    """A simulator holding what the database holds now, read at once: events with Crossmark ids, their schedules, reps
    with RepIDs (only the events `refs` when given: a benchmark on a million events needs a few pairs, not all of
    them). The tests' fake Crossmark mirrors the database with it; the app and the CLI use `database_simulator`."""
    simulator = database_simulator(engine, timezone_name, write_failure_rate)
    simulator.load_everything(refs)
    return simulator


_shared_simulators: dict[tuple[str, str, float], CrossmarkSimulator] = {}
_shared_simulators_lock = threading.Lock()


def shared_simulator(engine: Engine, timezone_name: str, write_failure_rate: float = 0.0) -> CrossmarkSimulator:
    """The process's one sandbox for a database (reading from it as requests touch its events): the pages and the
    server's retry loop must see one Crossmark, as they would the real one."""
    key = (engine.url.render_as_string(hide_password=False), timezone_name, write_failure_rate)
    with _shared_simulators_lock:
        simulator = _shared_simulators.get(key)
        if simulator is None:
            simulator = _shared_simulators[key] = database_simulator(engine, timezone_name, write_failure_rate)
        return simulator
