"""The fake's delay faults (tests/fake_crossmark.py) do what their names say, on a machine under any load.

Where a fault's delay sits decides whether a client that gives up can still account for its write:
- `slow_reply` acts, then holds the reply: when the client gives up, the write has landed and reading the event back
  sees it (what the services do with an unknown outcome);
- `late_write` holds the request, then acts: the write lands after the client gave up and after its read-back saw
  nothing. That was the old `slow`, which the stateful chaos test used as a slow reply: under load its holds outlasted
  the clients' 0.1 s read timeout, and the late writes showed up as disagreements no product could prevent.

Two kinds of checks: the order of events inside the fake (its own monotonic timestamps: exact whatever the load), and
what a client sees, with margins of a second or more between the client's read timeout and the fault's delay.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest

from services.crossmark.client import CrossmarkClient
from services.crossmark.sandbox import PATH_CONDITION, PATH_SCHEDULE
from services.errors import CrossmarkUnknownOutcome
from tests.fake_crossmark import FakeCrossmark, RecordedRequest, SeedIds, make_simulator

START = datetime(2026, 3, 9, 10, 30)


@pytest.fixture
def ids(fake_crossmark: FakeCrossmark) -> SeedIds:
    return fake_crossmark.seed_basic()


def schedule(client: CrossmarkClient, ids: SeedIds) -> object:
    return client.schedule(rep_id=ids.rep_id, mplan_id=ids.mplan_id, location_id=ids.store_id, start=START,
                           duration_minutes=60)


def scheduled_in_crossmark(fake: FakeCrossmark, ids: SeedIds) -> bool:
    return fake.simulator.scheduled_state()[ids.mplan_id] is not None


def read_back(client: CrossmarkClient, ids: SeedIds) -> datetime | None:
    """Where the event stands, read as the executor reads an unknown outcome back (the planning list, one mPlan)."""
    (record,) = client.planning_events(ids.first, ids.last, mplan_id=ids.mplan_id)
    return record.scheduled_at


def the_write(fake: FakeCrossmark) -> RecordedRequest:
    (write,) = fake.requests_to(PATH_SCHEDULE)
    return write


def wait_until(condition, seconds: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


# --- slow_reply: the simulator acts first -----------------------------------------------------------------------------


def test_a_slow_reply_acts_at_once_and_holds_only_the_reply(fake_crossmark, crossmark_client_for, ids):
    delay = 0.3
    fake_crossmark.inject(PATH_SCHEDULE, "slow_reply", delay=delay)
    client = crossmark_client_for(fake_crossmark.url, read_timeout=5.0)
    assert schedule(client, ids).start == START
    write = the_write(fake_crossmark)
    assert write.fault == "slow_reply" and write.acted and write.status == 200
    assert write.handled_at is not None and write.answered_at is not None
    assert write.handled_at - write.received_at < delay  # handled on arrival (old `slow`: only after the delay)
    assert write.answered_at - write.handled_at >= delay  # then the reply was held
    assert (fake_crossmark.writes_sent(), fake_crossmark.writes_acted()) == (1, 1)


def test_a_slow_reply_past_the_read_timeout_leaves_a_write_the_client_can_read_back(fake_crossmark,
                                                                                    crossmark_client_for, ids):
    """The reply is held 3 s, the client gives up after 1 s: by then the write has landed (the fake acts on arrival),
    so the read-back finds it. With the old `slow` (sleep, then act) the read-back found nothing and the write landed
    2 s later: a write the client could never account for."""
    fake_crossmark.inject(PATH_SCHEDULE, "slow_reply", delay=3.0)
    client = crossmark_client_for(fake_crossmark.url, read_timeout=1.0)
    with pytest.raises(CrossmarkUnknownOutcome):
        schedule(client, ids)
    assert the_write(fake_crossmark).acted and the_write(fake_crossmark).status is None  # acted; no reply delivered
    assert scheduled_in_crossmark(fake_crossmark, ids)
    assert read_back(client, ids) == START
    assert (fake_crossmark.writes_sent(), fake_crossmark.writes_acted()) == (1, 1)  # no resend


def test_while_a_slow_reply_is_held_the_write_has_already_landed(fake_crossmark, crossmark_client_for, ids):
    """Seen from outside while the client still waits: the simulator has the change, the client no reply yet."""
    fake_crossmark.inject(PATH_SCHEDULE, "slow_reply", delay=1.0)
    client = crossmark_client_for(fake_crossmark.url, read_timeout=5.0)
    answers: list[object] = []
    waiting = threading.Thread(target=lambda: answers.append(schedule(client, ids)))
    waiting.start()
    try:
        wait_until(lambda: fake_crossmark.requests_to(PATH_SCHEDULE) and the_write(fake_crossmark).handled)
        assert the_write(fake_crossmark).status is None and answers == []  # the reply is still held
        assert scheduled_in_crossmark(fake_crossmark, ids)
    finally:
        waiting.join(10)
    assert not waiting.is_alive() and len(answers) == 1 and answers[0].start == START


def test_slow_reply_and_late_write_default_to_the_slow_delay(crossmark_client_for):
    with FakeCrossmark(slow_delay=0.2, timeout_delay=3.0) as fake:
        ids = fake.seed_basic()
        client = crossmark_client_for(fake.url, read_timeout=5.0)
        fake.inject(PATH_CONDITION, "slow_reply")
        fake.inject(PATH_CONDITION, "late_write")
        for _ in range(2):
            assert client.event_condition(ids.mplan_id, ids.store_id).condition == "Unstaffed"
        held = [r.answered_at - r.received_at for r in fake.requests_to(PATH_CONDITION)]
        assert [r.fault for r in fake.requests_to(PATH_CONDITION)] == ["slow_reply", "late_write"]
        assert all(0.2 <= seconds < 3.0 for seconds in held), held


# --- late_write: the request is held, then the simulator acts ------------------------------------------------------


def test_a_late_write_lands_after_the_client_gave_up_and_read_back(fake_crossmark, crossmark_client_for, ids):
    """The explicitly named race: the client gives up after 0.2 s and reads back (nothing there); the write lands
    at 1.5 s. Only tests that want exactly this (a write on the wire as the process dies) use `late_write`."""
    fake_crossmark.inject(PATH_SCHEDULE, "late_write", delay=1.5)
    client = crossmark_client_for(fake_crossmark.url, read_timeout=0.2)
    with pytest.raises(CrossmarkUnknownOutcome):
        schedule(client, ids)
    assert read_back(client, ids) is None  # what a read-back sees: not scheduled
    write = the_write(fake_crossmark)
    assert not write.handled
    wait_until(lambda: write.handled)
    assert write.acted and scheduled_in_crossmark(fake_crossmark, ids)  # ... and yet it landed
    assert write.handled_at - write.received_at >= 1.5


def test_a_late_write_lands_in_the_world_it_was_sent_to(fake_crossmark, crossmark_client_for, ids):
    """A test that swaps the simulator while a late write is held (PairedWorld.restart: each example of the stateful
    test on one shared fake) does not get the write in its fresh world."""
    fake_crossmark.inject(PATH_SCHEDULE, "late_write", delay=0.5)
    client = crossmark_client_for(fake_crossmark.url, read_timeout=0.1)
    with pytest.raises(CrossmarkUnknownOutcome):
        schedule(client, ids)
    sent_to = fake_crossmark.simulator
    fake_crossmark.simulator = make_simulator()
    fresh = fake_crossmark.seed_basic()
    write = the_write(fake_crossmark)
    wait_until(lambda: write.handled)
    assert write.acted and sent_to.scheduled_state()[ids.mplan_id] is not None
    assert fake_crossmark.simulator.scheduled_state()[fresh.mplan_id] is None


def test_slow_is_retired_with_a_pointer_to_both_meanings(fake_crossmark):
    with pytest.raises(ValueError, match="slow_reply.*late_write"):
        fake_crossmark.inject(PATH_SCHEDULE, "slow")
    assert fake_crossmark.pending_faults() == 0
