"""Client unit tests for odd replies (an httpx MockTransport stands in for the server: parsing only, no state)."""
from __future__ import annotations

import json
from datetime import date, datetime

import httpx
import pytest

from services.crossmark.client import CrossmarkClient
from services.errors import CrossmarkBadReply, InvalidInput


def _client(handler) -> CrossmarkClient:  # noqa: ANN001
    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login/authenticate":
            return httpx.Response(200, headers={"Set-Cookie": "PHPSESSID=abc; path=/"}, text='{"success": true}')
        return handler(request)

    return CrossmarkClient(base_url="https://cm.test", username="u", password="p",
                           timezone_name="America/Indiana/Indianapolis", transport=httpx.MockTransport(route),
                           retry_initial_wait=0.001)


def _record(mplan: int) -> dict:
    return {"mPlanID": str(mplan), "name": f"60{mplan % 10000:04d}-CORE-X", "storeID": "1", "startDate": "03/01/2026",
            "endDate": "03/05/2026", "scheduleDate": "", "condition": "Unstaffed"}


def test_planning_list_without_a_total_reads_until_a_short_page():
    pages = []

    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start"])
        pages.append(start)
        records = [_record(start + i) for i in range(2)] if start < 4 else [_record(start)]
        return httpx.Response(200, text=json.dumps({"mplans": records}))

    events = _client(handler).planning_events(date(2026, 3, 1), date(2026, 3, 31), page_size=2)
    assert pages == [0, 2, 4] and len(events) == 5


def test_planning_list_with_a_nonsense_total_is_a_bad_reply():
    client = _client(lambda request: httpx.Response(200, text='{"mplans": [], "total": "lots"}'))
    with pytest.raises(CrossmarkBadReply, match="total of 'lots'"):
        client.planning_events(date(2026, 3, 1), date(2026, 3, 2))


def test_reply_times_without_an_offset_are_utc_and_the_spring_gap_is_refused():
    client = _client(lambda request: httpx.Response(404))
    assert client.from_crossmark_time("2026-03-09T14:30:00") == datetime(2026, 3, 9, 10, 30)  # EDT, UTC-4
    assert client.from_crossmark_time("2026-03-07T15:30:00+00:00") == datetime(2026, 3, 7, 10, 30)  # EST, UTC-5
    assert client.to_crossmark_time(datetime(2026, 11, 1, 1, 30)) == "2026-11-01T01:30:00-04:00"  # the repeated hour
    with pytest.raises(InvalidInput, match="does not exist"):
        client.to_crossmark_time(datetime(2026, 3, 8, 2, 30))


def test_condition_reply_without_a_condition_is_a_bad_reply():
    client = _client(lambda request: httpx.Response(200, text='{"ok": 1, "reps": ""}'))
    with pytest.raises(CrossmarkBadReply, match="has no condition"):
        client.event_condition("1", "2")
