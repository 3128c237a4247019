"""The client against the local fake over real HTTP, one fault at a time (issue 4; ../shared/crossmark-api.md).

Reads are retried; a write is sent at most once unless it provably never reached the server, and a write whose
reply was lost raises CrossmarkUnknownOutcome so the caller reads the event back (DESIGN.md §3, invariant 4).
"""
from __future__ import annotations

import logging
import socket
from datetime import datetime

import pytest

from services.crossmark.client import CrossmarkClient
from services.crossmark.sandbox import (
    PATH_CONDITION, PATH_LOGIN, PATH_PLANNING, PATH_SCHEDULE, PATH_UNSCHEDULE, PATH_USER_INFO,
)
from services.errors import (
    CrossmarkAuthError, CrossmarkBadReply, CrossmarkError, CrossmarkRejected, CrossmarkUnavailable,
    CrossmarkUnknownOutcome,
)
from services.ops.metrics import METRICS
from tests.fake_crossmark import FAKE_PASSWORD, FakeCrossmark, SeedIds

START = datetime(2026, 3, 9, 10, 30)
READ_FAULTS = ["5xx_before", "5xx_after", "reset_before", "reset_after", "timeout_before", "timeout_after"]
LOST_REPLY_FAULTS = ["5xx_before", "5xx_after", "timeout_before", "timeout_after", "reset_before", "reset_after"]


@pytest.fixture
def ids(fake_crossmark: FakeCrossmark) -> SeedIds:
    return fake_crossmark.seed_basic()


@pytest.fixture
def client(fake_crossmark: FakeCrossmark, crossmark_client_for) -> CrossmarkClient:
    return crossmark_client_for(fake_crossmark.url)


def _schedule(client: CrossmarkClient, ids: SeedIds, start: datetime = START):
    return client.schedule(rep_id=ids.rep_id, mplan_id=ids.mplan_id, location_id=ids.store_id, start=start,
                           duration_minutes=60)


def _condition(client: CrossmarkClient, ids: SeedIds) -> str:
    return client.event_condition(ids.mplan_id, ids.store_id).condition


def _assert_carries_status_and_excerpt(error: CrossmarkError, status: int, fragment: str) -> None:
    assert error.status == status and str(status) in repr(error.details)
    assert fragment in error.excerpt
    assert 0 < len(error.excerpt) <= 161 and "\n" not in error.excerpt and "<" not in error.excerpt
    assert error.path and str(error)


# --- reads: retried, and they succeed -------------------------------------------------------------------------


@pytest.mark.parametrize("fault", READ_FAULTS)
def test_a_read_is_retried_after_a_transient_fault_and_succeeds(fake_crossmark, client, ids, fault):
    fake_crossmark.inject(PATH_CONDITION, fault, times=2, delay=0.7)
    assert _condition(client, ids) == "Unstaffed"
    reads = fake_crossmark.requests_to(PATH_CONDITION)
    assert len(reads) == 3 and [r.fault for r in reads] == [fault, fault, None]
    assert reads[-1].status == 200


def test_the_planning_list_is_retried_page_by_page(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_PLANNING, "5xx_before")
    fake_crossmark.inject(PATH_PLANNING, "reset_after")
    events = client.planning_events(ids.first, ids.last, page_size=2)
    assert len(events) == 5
    pages = fake_crossmark.planning_pages()
    assert [(p.query["start"], p.fault) for p in pages] == [("0", "5xx_before"), ("0", "reset_after"), ("0", None),
                                                            ("2", None), ("4", None)]


def test_a_slow_reply_within_the_timeout_is_just_slow(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_CONDITION, "slow_reply", delay=0.2)
    fake_crossmark.inject(PATH_SCHEDULE, "slow_reply", delay=0.2)
    assert _condition(client, ids) == "Unstaffed"
    assert _schedule(client, ids).start == START
    assert len(fake_crossmark.requests_to(PATH_CONDITION)) == 1
    assert (fake_crossmark.writes_sent(), fake_crossmark.writes_acted()) == (1, 1)


def test_a_read_that_keeps_failing_is_unavailable_with_status_and_excerpt(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_CONDITION, "5xx_before", times=None)
    with pytest.raises(CrossmarkUnavailable, match="answered 503") as caught:
        _condition(client, ids)
    _assert_carries_status_and_excerpt(caught.value, 503, "Service Unavailable")
    assert len(fake_crossmark.requests_to(PATH_CONDITION)) == 3  # retry_attempts


def test_a_read_that_keeps_timing_out_is_unavailable(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_PLANNING, "timeout_before", times=None, delay=0.7)
    with pytest.raises(CrossmarkUnavailable, match="did not answer .*ReadTimeout") as caught:
        client.planning_events(ids.first, ids.last)
    assert caught.value.path == PATH_PLANNING
    assert len(fake_crossmark.planning_pages()) == 3


def test_a_login_that_keeps_failing_is_unavailable(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_LOGIN, "5xx_before", times=None)
    with pytest.raises(CrossmarkUnavailable) as caught:
        _condition(client, ids)
    _assert_carries_status_and_excerpt(caught.value, 503, "Service Unavailable")
    assert fake_crossmark.logins() == 3 and fake_crossmark.requests_to(PATH_CONDITION) == []


def test_an_html_error_page_is_a_bad_reply_for_reads(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_CONDITION, "html_error")
    with pytest.raises(CrossmarkBadReply, match="not JSON") as caught:
        _condition(client, ids)
    _assert_carries_status_and_excerpt(caught.value, 200, "An error has occurred")
    fake_crossmark.inject(PATH_PLANNING, "html_error")
    with pytest.raises(CrossmarkBadReply):
        client.planning_events(ids.first, ids.last)
    fake_crossmark.inject(PATH_USER_INFO, "html_error")
    with pytest.raises(CrossmarkBadReply):
        client.user_info()
    assert len(fake_crossmark.requests_to(PATH_CONDITION)) == 1  # a 2xx is an answer: not retried


def test_ok_0_on_a_read_is_rejected(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_CONDITION, "ok0")
    with pytest.raises(CrossmarkRejected) as caught:
        _condition(client, ids)
    _assert_carries_status_and_excerpt(caught.value, 200, "injected ok: 0")


def test_json_served_as_text_html_with_extra_keys_parses(fake_crossmark, client, ids):
    for path in (PATH_SCHEDULE, PATH_CONDITION, PATH_PLANNING, PATH_LOGIN):
        fake_crossmark.inject(path, "extra_keys")
    scheduled = _schedule(client, ids)
    assert scheduled.start == START and scheduled.scheduled_event_id.isdigit()
    assert _condition(client, ids) == "Scheduled"
    events = client.planning_events(ids.first, ids.last)
    assert len(events) == 5 and events[0].scheduled_event_id == scheduled.scheduled_event_id
    assert fake_crossmark.pending_faults() == 0
    assert all(r.status == 200 for r in fake_crossmark.requests)


def test_an_expired_session_reported_by_a_redirect_is_renewed(fake_crossmark, client, ids):
    _condition(client, ids)
    fake_crossmark.inject(PATH_CONDITION, "expired_redirect")
    assert _condition(client, ids) == "Unstaffed"
    assert [r.path for r in fake_crossmark.requests] == [PATH_LOGIN, PATH_CONDITION, PATH_CONDITION, PATH_LOGIN,
                                                         PATH_CONDITION]


# --- writes: sent once, unknown outcome when the reply is lost ------------------------------------------------


@pytest.mark.parametrize("fault", LOST_REPLY_FAULTS)
def test_a_schedule_whose_reply_is_lost_is_an_unknown_outcome_sent_once(fake_crossmark, client, ids, fault):
    fake_crossmark.inject(PATH_SCHEDULE, fault, times=None)  # would fail every resend too
    with pytest.raises(CrossmarkUnknownOutcome, match="read it back|read the event back"):
        _schedule(client, ids)
    assert fake_crossmark.writes_sent(PATH_SCHEDULE) == 1  # never resent
    acted = fault.endswith("_after")
    assert fake_crossmark.writes_acted(PATH_SCHEDULE) == (1 if acted else 0)
    # resolved by reading back, as the caller must
    fake_crossmark.clear_faults()
    assert _condition(client, ids) == ("Scheduled" if acted else "Unstaffed")
    assert fake_crossmark.writes_sent() == 1


@pytest.mark.parametrize("fault", LOST_REPLY_FAULTS)
def test_an_unschedule_whose_reply_is_lost_is_an_unknown_outcome_sent_once(fake_crossmark, client, ids, fault):
    scheduled = _schedule(client, ids)
    fake_crossmark.inject(PATH_UNSCHEDULE, fault, times=None)
    with pytest.raises(CrossmarkUnknownOutcome):
        client.unschedule(scheduled.scheduled_event_id)
    assert fake_crossmark.writes_sent(PATH_UNSCHEDULE) == 1
    acted = fault.endswith("_after")
    assert fake_crossmark.writes_acted(PATH_UNSCHEDULE) == (1 if acted else 0)
    fake_crossmark.clear_faults()
    assert _condition(client, ids) == ("Unstaffed" if acted else "Scheduled")


def test_a_write_that_reports_5xx_carries_status_and_excerpt(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_SCHEDULE, "5xx_after")
    with pytest.raises(CrossmarkUnknownOutcome, match="answered 500") as caught:
        _schedule(client, ids)
    _assert_carries_status_and_excerpt(caught.value, 500, "Internal Server Error")


def test_a_write_to_a_closed_port_is_retried_then_unavailable(fake_crossmark, client, ids):
    assert _condition(client, ids) == "Unstaffed"  # logged in while the server was up
    before = METRICS.value("crossmark_calls", path=PATH_SCHEDULE, status="ConnectError")
    fake_crossmark.stop()  # the port is closed: connections are refused, so nothing can reach a server
    with pytest.raises(CrossmarkUnavailable, match="nothing was sent") as caught:
        _schedule(client, ids)
    assert caught.value.path == PATH_SCHEDULE
    assert METRICS.value("crossmark_calls", path=PATH_SCHEDULE, status="ConnectError") - before == 3  # retried
    assert fake_crossmark.writes_sent() == 0
    assert fake_crossmark.simulator.scheduled_state()[ids.mplan_id] is None


def test_a_port_nobody_listens_on_is_unavailable_even_for_the_login(crossmark_client_for):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = crossmark_client_for(f"http://127.0.0.1:{port}")
    with pytest.raises(CrossmarkUnavailable, match="unreachable"):
        client.unschedule("50000001")


def test_ok_0_on_a_write_is_rejected_and_nothing_happened(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_SCHEDULE, "ok0")
    with pytest.raises(CrossmarkRejected, match="refused to schedule mPlan") as caught:
        _schedule(client, ids)
    _assert_carries_status_and_excerpt(caught.value, 200, "injected ok: 0")
    assert (fake_crossmark.writes_sent(), fake_crossmark.writes_acted()) == (1, 0)
    assert _condition(client, ids) == "Unstaffed"


def test_a_schedule_reply_without_an_id_is_an_unknown_outcome(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_SCHEDULE, "missing_id")
    with pytest.raises(CrossmarkUnknownOutcome, match="without a scheduled-event id") as caught:
        _schedule(client, ids)
    _assert_carries_status_and_excerpt(caught.value, 200, '"ok": 1')
    assert (fake_crossmark.writes_sent(), fake_crossmark.writes_acted()) == (1, 1)
    # the read-back finds what happened, including the id the reply left out
    (event,) = client.planning_events(ids.first, ids.last, mplan_id=ids.mplan_id)
    assert event.condition == "Scheduled" and event.scheduled_event_id == "50000001"


def test_an_html_error_page_on_a_write_is_an_unknown_outcome(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_SCHEDULE, "html_error")
    with pytest.raises(CrossmarkUnknownOutcome, match="not JSON") as caught:
        _schedule(client, ids)
    _assert_carries_status_and_excerpt(caught.value, 200, "An error has occurred")
    assert fake_crossmark.writes_sent() == 1

    scheduled = _schedule(client, ids)
    fake_crossmark.inject(PATH_UNSCHEDULE, "html_error")  # not a success, though it is a 2xx: the event is still on
    with pytest.raises(CrossmarkUnknownOutcome, match="not JSON"):
        client.unschedule(scheduled.scheduled_event_id)
    assert _condition(client, ids) == "Scheduled"
    assert fake_crossmark.writes_sent(PATH_UNSCHEDULE) == 1


def test_an_expired_session_on_a_write_renews_it_and_writes_exactly_once(fake_crossmark, client, ids):
    _condition(client, ids)
    fake_crossmark.inject(PATH_SCHEDULE, "expired_session")
    scheduled = _schedule(client, ids)
    assert [r.path for r in fake_crossmark.requests] == [PATH_LOGIN, PATH_CONDITION, PATH_SCHEDULE, PATH_LOGIN,
                                                         PATH_SCHEDULE]
    assert (fake_crossmark.writes_sent(), fake_crossmark.writes_acted()) == (2, 1)  # the refused one did nothing
    assert fake_crossmark.simulator.scheduled_state()[ids.mplan_id][2] == scheduled.scheduled_event_id


def test_a_session_refused_again_after_a_fresh_login_is_an_auth_error(fake_crossmark, client, ids):
    fake_crossmark.inject(PATH_SCHEDULE, "expired_session", times=None)
    with pytest.raises(CrossmarkAuthError, match="right after a fresh login") as caught:
        _schedule(client, ids)
    _assert_carries_status_and_excerpt(caught.value, 401, "session has expired")
    assert (fake_crossmark.logins(), fake_crossmark.writes_sent(), fake_crossmark.writes_acted()) == (2, 2, 0)


# --- secrets, logs, metrics -------------------------------------------------------------------------------------


def test_the_password_never_appears_in_logs_errors_or_reprs(fake_crossmark, crossmark_client_for, ids, caplog):
    caplog.set_level(logging.DEBUG)  # root: httpx, httpcore, services.* and everything else
    for name in ("httpx", "httpcore", "services", "services.crossmark"):
        caplog.set_level(logging.DEBUG, logger=name)
    client = crossmark_client_for(fake_crossmark.url)
    errors: list[CrossmarkError] = []

    def collect(call) -> None:  # noqa: ANN001
        try:
            call()
        except CrossmarkError as error:
            errors.append(error)

    _schedule(client, ids)
    fake_crossmark.simulator.expire_sessions()
    collect(lambda: _condition(client, ids))  # renews the session: a second login with the password
    fake_crossmark.inject(PATH_LOGIN, "5xx_after", times=None)
    fake_crossmark.simulator.expire_sessions()
    collect(lambda: _condition(client, ids))
    fake_crossmark.clear_faults()
    collect(lambda: _condition(client, ids))  # logs in again (the session cookie went with the failed login)
    for fault in ("5xx_after", "timeout_after", "html_error", "ok0", "missing_id"):
        fake_crossmark.inject(PATH_SCHEDULE, fault)
        collect(lambda: _schedule(client, ids))
    wrong = crossmark_client_for(fake_crossmark.url, password=FAKE_PASSWORD[::-1] + "!")
    collect(wrong.user_info)
    fake_crossmark.stop()
    collect(lambda: crossmark_client_for(fake_crossmark.url).user_info())

    assert len(errors) == 8, [repr(e) for e in errors]
    assert sum(1 for r in fake_crossmark.requests if FAKE_PASSWORD.encode() in r.body) >= 3  # it did go out
    texts = [caplog.text, repr(client), str(client), repr(wrong)]
    texts += [part for error in errors for part in (str(error), repr(error), repr(error.details), repr(error.args))]
    texts += [str(record.__dict__) for record in caplog.records]
    for text in texts:
        assert FAKE_PASSWORD not in text and FAKE_PASSWORD[::-1] not in text
    assert any("crossmark POST /login/authenticate -> 200" in r.getMessage() for r in caplog.records)


def test_every_call_is_logged_with_method_path_status_and_duration_and_counted(fake_crossmark, client, ids, caplog):
    caplog.set_level(logging.INFO, logger="services.crossmark")

    def count(path: str, status: str) -> int:
        return METRICS.value("crossmark_calls", path=path, status=status)

    def samples(path: str) -> int:
        return len(METRICS.latencies[("crossmark_seconds", (("path", path),))])

    before = {key: count(*key) for key in [(PATH_LOGIN, "200"), (PATH_CONDITION, "200"), (PATH_CONDITION, "503"),
                                           (PATH_SCHEDULE, "ReadTimeout"), (PATH_SCHEDULE, "200")]}
    condition_samples = samples(PATH_CONDITION)
    fake_crossmark.inject(PATH_CONDITION, "5xx_before")
    fake_crossmark.inject(PATH_SCHEDULE, "timeout_after", delay=0.7)
    _condition(client, ids)
    with pytest.raises(CrossmarkUnknownOutcome):
        _schedule(client, ids)

    calls = [r for r in caplog.records if r.name == "services.crossmark" and hasattr(r, "duration_ms")]
    assert [(r.method, r.path, r.status) for r in calls] == [
        ("POST", PATH_LOGIN, "200"), ("POST", PATH_CONDITION, "503"), ("POST", PATH_CONDITION, "200"),
        ("POST", PATH_SCHEDULE, "ReadTimeout")]
    assert all(isinstance(r.duration_ms, int) and r.duration_ms >= 0 for r in calls)
    assert calls[-1].duration_ms >= 450  # the read timeout
    assert all(f"{r.method} {r.path} -> {r.status} in" in r.getMessage() for r in calls)
    assert {key: count(*key) - value for key, value in before.items()} == {
        (PATH_LOGIN, "200"): 1, (PATH_CONDITION, "200"): 1, (PATH_CONDITION, "503"): 1,
        (PATH_SCHEDULE, "ReadTimeout"): 1, (PATH_SCHEDULE, "200"): 0}
    assert samples(PATH_CONDITION) - condition_samples == 2


def test_the_fake_itself_stays_healthy(fake_crossmark, client, ids):
    """The server survives clients that give up mid-reply, and stops promptly with handlers still sleeping."""
    fake_crossmark.inject(PATH_SCHEDULE, "timeout_before", delay=5)
    with pytest.raises(CrossmarkUnknownOutcome):
        _schedule(client, ids)
    assert _condition(client, ids) == "Unstaffed"
    started = datetime.now()
    fake_crossmark.stop()
    assert (datetime.now() - started).total_seconds() < 2
    assert fake_crossmark.server_errors == []
    assert fake_crossmark.simulator.scheduled_state()[ids.mplan_id] is None  # woken early, it still did not act
    with pytest.raises(ValueError, match="unknown fault"):
        fake_crossmark.inject(PATH_SCHEDULE, "meteor")
