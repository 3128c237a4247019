"""One contract suite, two backends: the in-process sandbox (SandboxTransport) and the local fake over real HTTP.

Every test drives the same calls through a CrossmarkClient and asserts the same results on both, so the sandbox the
app runs on by default behaves like the service the fake stands in for (../shared/crossmark-api.md).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from urllib.parse import parse_qs

import httpx
import pytest

from services.crossmark.client import SANDBOX_BASE_URL, ConditionReply, CrossmarkClient, ScheduledEvent
from services.crossmark.sandbox import (
    PATH_CONDITION, PATH_LOGIN, PATH_PLANNING, PATH_SCHEDULE, PATH_UNSCHEDULE, PATH_USER_INFO, CrossmarkSimulator,
    SandboxTransport,
)
from services.errors import CrossmarkAuthError, CrossmarkRejected, InvalidInput
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_USERNAME, SeedIds, make_simulator, seed_basic

AFTER_DST = datetime(2026, 3, 9, 10, 30)  # Monday after the 8 March 2026 change: EDT, -04:00
BEFORE_DST = datetime(2026, 3, 7, 10, 30)  # Saturday before it: EST, -05:00


@dataclass(frozen=True)
class Sent:
    """One request as the backend received it (the same shape for both backends)."""

    method: str
    path: str
    form: dict[str, str]
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]


class RecordingSandboxTransport(SandboxTransport):
    """The sandbox transport, recording what reaches it (the fake server records on its own)."""

    def __init__(self, simulator: CrossmarkSimulator) -> None:
        super().__init__(simulator)
        self.sent: list[Sent] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        form = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        self.sent.append(Sent(request.method, request.url.path, form, dict(request.url.params), body,
                              {k.lower(): v for k, v in request.headers.items()}))
        return super().handle_request(request)


@dataclass
class Backend:
    name: str
    simulator: CrossmarkSimulator
    ids: SeedIds
    make_client: Callable[..., CrossmarkClient]  # (**overrides) -> a fresh client on this backend
    sent: Callable[[], list[Sent]]

    def paths(self) -> list[str]:
        return [s.path for s in self.sent()]


@pytest.fixture(params=["sandbox", "http"])
def backend(request: pytest.FixtureRequest, crossmark_client_for) -> Backend:
    if request.param == "sandbox":
        simulator = make_simulator()
        ids = seed_basic(simulator)
        transport = RecordingSandboxTransport(simulator)
        return Backend("sandbox", simulator, ids,
                       lambda **kw: crossmark_client_for(SANDBOX_BASE_URL, transport=transport, is_sandbox=True, **kw),
                       lambda: list(transport.sent))
    fake = request.getfixturevalue("fake_crossmark")
    ids = fake.seed_basic()
    return Backend("http", fake.simulator, ids, lambda **kw: crossmark_client_for(fake.url, **kw),
                   lambda: [Sent(r.method, r.path, r.form, r.query, r.body, r.headers) for r in fake.requests])


def _schedule(client: CrossmarkClient, ids: SeedIds, start: datetime, *, rep_id: str | None = None,
              minutes: int = 60) -> ScheduledEvent:
    return client.schedule(rep_id=rep_id or ids.rep_id, mplan_id=ids.mplan_id, location_id=ids.store_id, start=start,
                           duration_minutes=minutes)


def test_login_is_lazy_and_the_session_is_kept(backend: Backend):
    client = backend.make_client()
    assert backend.sent() == []  # constructing a client sends nothing
    assert "logged_in=False" in repr(client)

    info = client.user_info()
    assert info.get("success") is True
    client.event_condition(backend.ids.mplan_id, backend.ids.store_id)
    assert backend.paths() == [PATH_LOGIN, PATH_USER_INFO, PATH_CONDITION]
    login = backend.sent()[0]
    assert login.method == "POST" and login.headers["content-type"] == "application/json"
    assert json.loads(login.body) == {"UserType": "MVEntityUser", "UserID": FAKE_USERNAME, "Password": FAKE_PASSWORD,
                                      "Timezone": "America/Indiana/Indianapolis"}
    assert "logged_in=True" in repr(client)


def test_planning_calls_carry_browser_like_headers(backend: Backend):
    client = backend.make_client()
    client.event_condition(backend.ids.mplan_id, backend.ids.store_id)
    call = backend.sent()[-1]
    base = client.base_url
    assert call.headers["x-requested-with"] == "XMLHttpRequest"
    assert call.headers["origin"] == base and call.headers["referer"] == f"{base}/planning/"
    assert call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert call.form == {"mPlanID": backend.ids.mplan_id, "storeID": backend.ids.store_id}


def test_schedule_gives_a_new_scheduled_event_id_every_time(backend: Backend):
    client, ids = backend.make_client(), backend.ids
    first = _schedule(client, ids, AFTER_DST)
    assert isinstance(first, ScheduledEvent)
    assert (first.mplan_id, first.rep_id, first.location_id) == (ids.mplan_id, ids.rep_id, ids.store_id)
    assert first.rep_name == ids.rep_names[ids.rep_id] and first.scheduled_event_id.isdigit()

    moved = _schedule(client, ids, AFTER_DST.replace(day=10, hour=9, minute=0))  # reschedule: same call, new time
    reassigned = _schedule(client, ids, AFTER_DST.replace(day=10, hour=9, minute=0), rep_id=ids.rep_ids[1])
    assert len({first.scheduled_event_id, moved.scheduled_event_id, reassigned.scheduled_event_id}) == 3
    assert int(moved.scheduled_event_id) == int(first.scheduled_event_id) + 1
    assert reassigned.rep_id == ids.rep_ids[1] and reassigned.rep_name == ids.rep_names[ids.rep_ids[1]]
    # the service holds the latest id, time and rep: what the database must store
    assert backend.simulator.scheduled_state()[ids.mplan_id] == (
        ids.rep_ids[1], datetime(2026, 3, 10, 9, 0), reassigned.scheduled_event_id)
    condition = client.event_condition(ids.mplan_id, ids.store_id)
    assert condition == ConditionReply(ids.mplan_id, ids.store_id, "Scheduled", ids.rep_names[ids.rep_ids[1]],
                                       f"{ids.mplan_id}_{ids.store_id}")


@pytest.mark.parametrize(("local_start", "offset"), [(AFTER_DST, "-04:00"), (BEFORE_DST, "-05:00")])
def test_times_go_out_local_with_a_colon_offset_and_come_back_local(backend: Backend, local_start: datetime,
                                                                    offset: str):
    client, ids = backend.make_client(), backend.ids
    result = _schedule(client, ids, local_start, minutes=90)

    sent = [s for s in backend.sent() if s.path == PATH_SCHEDULE][-1]
    assert sent.form == {"ClassName": "MVScheduledmPlan", "RepID": ids.rep_id, "mPlanID": ids.mplan_id,
                         "LocationID": ids.store_id, "Start": f"{local_start:%Y-%m-%d}T10:30:00{offset}",
                         "End": f"{local_start:%Y-%m-%d}T12:00:00{offset}", "hash": "", "v": "3.0.1",
                         "PlanningOverride": "true"}
    encoded = f"Start={local_start:%Y-%m-%d}T10%3A30%3A00{offset.replace(':', '%3A')}".encode()
    assert encoded in sent.body  # the whole value form-encoded, `:` as %3A
    assert sent.headers["content-type"].startswith("application/x-www-form-urlencoded")

    # the service answered in UTC; the client hands back naive local wall time
    utc_hours = 10 + 4 if offset == "-04:00" else 10 + 5
    stored = backend.simulator.events[ids.mplan_id].start
    assert stored.astimezone(timezone.utc).replace(tzinfo=None) == local_start.replace(hour=utc_hours)
    assert (result.start, result.end) == (local_start, local_start.replace(hour=12, minute=0))
    assert result.start.tzinfo is None


def test_unschedule_returns_the_event_to_unstaffed(backend: Backend):
    client, ids = backend.make_client(), backend.ids
    scheduled = _schedule(client, ids, AFTER_DST)
    client.unschedule(scheduled.scheduled_event_id)

    assert [s.form for s in backend.sent() if s.path == PATH_UNSCHEDULE] == [{"id": scheduled.scheduled_event_id}]
    condition = client.event_condition(ids.mplan_id, ids.store_id)
    assert (condition.condition, condition.reps) == ("Unstaffed", "")
    assert backend.simulator.scheduled_state()[ids.mplan_id] is None
    (event,) = client.planning_events(ids.first, ids.last, mplan_id=ids.mplan_id)
    assert (event.condition, event.scheduled_at, event.rep_id, event.scheduled_event_id) == ("Unstaffed", None, None,
                                                                                              None)
    with pytest.raises(CrossmarkRejected, match="refused to unschedule"):
        client.unschedule(scheduled.scheduled_event_id)  # the id is gone


def test_planning_events_reads_every_page_and_filters_by_mplan(backend: Backend):
    client, ids = backend.make_client(), backend.ids
    scheduled = _schedule(client, ids, AFTER_DST)
    progress: list[tuple[int, int]] = []

    events = client.planning_events(ids.first, ids.last, page_size=2, on_page=lambda n, total: progress.append((n,
                                                                                                               total)))
    assert [e.mplan_id for e in events] == list(ids.mplan_ids)
    assert progress == [(2, 5), (4, 5), (5, 5)]
    pages = [s for s in backend.sent() if s.path == PATH_PLANNING]
    assert [(p.method, p.query["start"], p.query["limit"], p.query["page"]) for p in pages] == [
        ("GET", "0", "2", "1"), ("GET", "2", "2", "2"), ("GET", "4", "2", "3")]
    assert pages[0].query["intervalStart"] == "2026-03-01" and pages[0].query["intervalEnd"] == "2026-03-31"

    first = events[0]
    assert (first.name, first.store_id, first.start_date, first.end_date) == (
        "612103-Acme-Trail Mix 12oz (250821530146)  - V2-CORE", ids.store_id, date(2026, 3, 2), date(2026, 3, 13))
    assert (first.condition, first.scheduled_at, first.rep_id, first.scheduled_event_id, first.staffed_reps) == (
        "Scheduled", AFTER_DST, ids.rep_id, scheduled.scheduled_event_id, (ids.rep_names[ids.rep_id],))
    assert first.sales_tools_url and first.sales_tools_url.endswith(f"{ids.mplan_id}.pdf")
    assert all(e.condition == "Unstaffed" and e.scheduled_at is None for e in events[1:])

    one = client.planning_events(ids.first, ids.last, mplan_id=ids.mplan_ids[3], page_size=2)
    assert [e.mplan_id for e in one] == [ids.mplan_ids[3]]
    assert len([s for s in backend.sent() if s.path == PATH_PLANNING]) == 4  # one more page for the single mPlan
    assert client.planning_events(date(2027, 1, 1), date(2027, 1, 31), page_size=2) == []


def test_an_expired_session_is_renewed_once_and_the_call_succeeds(backend: Backend):
    client, ids = backend.make_client(), backend.ids
    client.event_condition(ids.mplan_id, ids.store_id)

    backend.simulator.expire_sessions()
    assert client.event_condition(ids.mplan_id, ids.store_id).condition == "Unstaffed"  # a read
    backend.simulator.expire_sessions()
    scheduled = _schedule(client, ids, AFTER_DST)  # a write: refused before acting, so repeating it is safe
    assert backend.paths() == [PATH_LOGIN, PATH_CONDITION, PATH_CONDITION, PATH_LOGIN, PATH_CONDITION,
                               PATH_SCHEDULE, PATH_LOGIN, PATH_SCHEDULE]
    assert int(scheduled.scheduled_event_id) == 50_000_001  # exactly one write took effect
    assert backend.simulator.scheduled_state()[ids.mplan_id][2] == scheduled.scheduled_event_id


def test_the_session_life_is_renewed_before_it_runs_out(backend: Backend):
    now = [1000.0]
    client = backend.make_client(session_life_seconds=60, clock=lambda: now[0])
    client.event_condition(backend.ids.mplan_id, backend.ids.store_id)
    now[0] += 59
    client.event_condition(backend.ids.mplan_id, backend.ids.store_id)
    now[0] += 2
    client.event_condition(backend.ids.mplan_id, backend.ids.store_id)
    assert backend.paths() == [PATH_LOGIN, PATH_CONDITION, PATH_CONDITION, PATH_LOGIN, PATH_CONDITION]


def test_bad_credentials_are_an_auth_error(backend: Backend):
    client = backend.make_client(password="not-the-password")
    with pytest.raises(CrossmarkAuthError, match="refused the login") as caught:
        client.event_condition(backend.ids.mplan_id, backend.ids.store_id)
    assert caught.value.status == 401 and "Invalid credentials" in caught.value.excerpt
    assert backend.paths() == [PATH_LOGIN]  # no retry of a refused login, and the call itself never went out
    assert "not-the-password" not in str(caught.value) + repr(caught.value) + repr(client)

    missing = backend.make_client(password=None)
    with pytest.raises(CrossmarkAuthError, match="not configured"):
        missing.user_info()
    assert backend.paths() == [PATH_LOGIN]


def test_unknown_mplan_is_rejected(backend: Backend):
    client, ids = backend.make_client(), backend.ids
    with pytest.raises(CrossmarkRejected, match="Unknown mPlan") as caught:
        client.schedule(rep_id=ids.rep_id, mplan_id="99999999", location_id=ids.store_id, start=AFTER_DST,
                        duration_minutes=60)
    assert caught.value.status == 200 and '"ok": 0' in caught.value.excerpt
    with pytest.raises(CrossmarkRejected, match="no condition for mPlan 99999999"):
        client.event_condition("99999999", ids.store_id)
    with pytest.raises(CrossmarkRejected, match="Unknown rep"):
        client.schedule(rep_id="1", mplan_id=ids.mplan_id, location_id=ids.store_id, start=AFTER_DST,
                        duration_minutes=60)
    assert all(state is None for state in backend.simulator.scheduled_state().values())


@pytest.mark.parametrize("bad_id", ["123_456", "", "abc"])
def test_an_id_that_is_not_a_scheduled_event_id_is_refused_without_a_request(backend: Backend, bad_id: str):
    client = backend.make_client()
    with pytest.raises(InvalidInput, match="legacy" if "_" in bad_id else "not a Crossmark scheduled-event id"):
        client.unschedule(bad_id)
    assert backend.sent() == []


def test_invalid_schedule_input_is_refused_without_a_request(backend: Backend):
    client, ids = backend.make_client(), backend.ids
    with pytest.raises(InvalidInput, match="RepID"):
        client.schedule(rep_id="", mplan_id=ids.mplan_id, location_id=ids.store_id, start=AFTER_DST,
                        duration_minutes=60)
    with pytest.raises(InvalidInput, match="duration"):
        _schedule(client, ids, AFTER_DST, minutes=0)
    assert backend.sent() == []


def _scenario(client: CrossmarkClient, simulator: CrossmarkSimulator, ids: SeedIds) -> list[object]:
    """A sequence of calls whose results must be identical on every backend."""
    results: list[object] = [client.user_info()]
    results.append(_schedule(client, ids, BEFORE_DST))
    results.append(_schedule(client, ids, AFTER_DST, rep_id=ids.rep_ids[1]))
    results.append(client.event_condition(ids.mplan_id, ids.store_id))
    simulator.expire_sessions()
    results.append(client.planning_events(ids.first, ids.last, page_size=2))
    client.unschedule(results[2].scheduled_event_id)
    results.append(client.event_condition(ids.mplan_id, ids.store_id))
    for failing in (lambda: client.unschedule("123"), lambda: client.event_condition("1", "2")):
        try:
            failing()
        except CrossmarkRejected as error:
            results.append((type(error).__name__, error.status, error.excerpt))
    results.append(simulator.scheduled_state())
    return results


def test_the_sandbox_and_the_fake_server_answer_the_same_sequence_alike(fake_crossmark, crossmark_client_for):
    sandbox_simulator = make_simulator()
    sandbox = crossmark_client_for(SANDBOX_BASE_URL, transport=SandboxTransport(sandbox_simulator), is_sandbox=True)
    over_sandbox = _scenario(sandbox, sandbox_simulator, seed_basic(sandbox_simulator))
    over_http = _scenario(crossmark_client_for(fake_crossmark.url), fake_crossmark.simulator,
                          fake_crossmark.seed_basic())
    assert over_sandbox == over_http
    assert len(over_http) == 9
    assert FAKE_PASSWORD.encode() in fake_crossmark.requests[0].body  # the real credentials went to the fake
