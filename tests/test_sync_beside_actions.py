"""A sync running beside a paired action must never write back a state older than what the action left (DESIGN.md
§3, invariants 1 and 7). The stateful chaos test (tests/test_paired_actions_stateful.py) found these sequences; each is
pinned here deterministically: the sync reads Crossmark's planning list, waits while the action runs, then applies what
it read."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from services.crossmark.sync import sync_from_crossmark
from tests.paired_world import DAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures
from tests.test_paired_actions_stateful import WINDOW, ReadThenWait


@contextmanager
def sync_paused_after_reading(world: PairedWorld) -> Iterator[None]:
    """Run a sync that reads Crossmark on entry and applies what it read on exit (the body runs in between)."""
    fetched, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def sync() -> None:
        try:
            with world.make_client() as client:
                sync_from_crossmark(world.engine, ReadThenWait(client, fetched, go), *WINDOW)
        except BaseException as error:  # noqa: BLE001 - reported on the test's thread
            errors.append(error)
            fetched.set()

    syncing = threading.Thread(target=sync)
    syncing.start()
    try:
        assert fetched.wait(10), "the sync never read Crossmark"
        yield
    finally:
        go.set()
        syncing.join(30)
    assert not syncing.is_alive() and errors == []


def test_a_sync_that_read_before_a_compensation_keeps_the_new_scheduled_event_id(world: PairedWorld) -> None:
    """The CORE is moved in Crossmark, the Supervisor's move is refused (ok: 0), so the CORE is put back: same
    placement, but Crossmark gave it a new scheduled-event id, which the compensation writes into our row. A sync that
    read the planning list before all this must not write the old id back: our row would then name a scheduled event
    Crossmark no longer has (invariant 1), with no operation left to settle it."""
    old_id = world.remote(606001).scheduled_id
    with sync_paused_after_reading(world):
        world.arm({2: "ok0"})
        result = world.actions.reschedule(606001, at(DAY, 9, 45), "alice", key="move")
        assert result.status == "compensated", result
        assert world.remote(606001).scheduled_id != old_id  # the premise: the compensation renewed the id
        world.agree()
    world.agree()  # without the compensation's audit entry, our row is back at the old id
    restored = [entry for entry in world.audit(result.operation_id) if entry["action"].endswith(" restored")]
    assert [entry["event_ref"] for entry in restored] == [606001]
    assert "new scheduled-event id" in (restored[0]["message"] or "")


def test_a_sync_that_read_before_an_action_does_not_undo_it(world: PairedWorld) -> None:
    """Sync reads Crossmark's planning list; CORE 606001 is moved to 09:45 (done: both sides agree, the Supervisor
    followed); then sync applies what it read: our database must not go back to 10:30 / 12:30 while Crossmark has
    09:45 / 11:45, with no operation left to settle it."""
    with sync_paused_after_reading(world):
        result = world.actions.reschedule(606001, at(DAY, 9, 45), "alice", key="move")
        assert result.status == "done", result
        world.agree()
    assert (world.remote(606001).start, world.remote(606002).start) == (at(DAY, 9, 45), at(DAY, 11, 45))
    world.agree()
