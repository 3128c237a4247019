"""Retry loop layer: the server's background pass over operations that did not settle (DESIGN.md §3.8).

Exactly one process across replicas runs the pass at a time: it holds a row of dashboard_worker_leases, renewed at
every tick and taken over by another process once it expires (a killed server's replica picks the work up within one
lease). On SQLite that is one per database file, which is what several servers on one file need. Each pass is
`PairedActions.reconcile`: the same work as `python -m services reconcile` from cron, which may run beside it (every
operation is claimed atomically, so a pass and a cron run never settle the same one twice).
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError

from services.actions.journal import new_lease_token
from services.ops.logging_setup import log_event
from services.actions.paired_actions import PairedActions
from services.store.database import begin_write
from services.store.tables import WorkerLease

log = logging.getLogger("services.retry_loop")

RETRY_LOOP = "retry_loop"
TICK_SECONDS = 15.0  # how often the holder runs a pass (and how soon a due retry is noticed)
WORKER_LEASE = timedelta(seconds=60)  # several ticks: one slow pass does not hand the loop to another replica


def hold_worker_lease(engine: Engine, name: str, owner: str, now: datetime, lease: timedelta = WORKER_LEASE) -> bool:
    """Take or renew the lease on job `name` for `owner`: True if `owner` holds it until now + lease. One atomic
    UPDATE (free, expired or already ours), else an INSERT for a job never run; a raced INSERT loses cleanly."""
    with begin_write(engine) as connection:
        renewed = connection.execute(update(WorkerLease).where(
            WorkerLease.name == name, (WorkerLease.owner == owner) | (WorkerLease.expires_at < now)).values(
            owner=owner, expires_at=now + lease, renewed_at=now)).rowcount
    if renewed:
        return True
    try:
        with begin_write(engine) as connection:
            connection.execute(insert(WorkerLease).values(name=name, owner=owner, expires_at=now + lease,
                                                          renewed_at=now))
        return True
    except IntegrityError:  # another process holds it (or took it just now)
        return False


def give_up_worker_lease(engine: Engine, name: str, owner: str) -> None:
    with begin_write(engine) as connection:
        connection.execute(update(WorkerLease).where(WorkerLease.name == name, WorkerLease.owner == owner)
                           .values(expires_at=datetime(1970, 1, 1)))


class RetryLoop:
    """A daemon thread: every tick, if this process holds the loop's lease, run one retry pass."""

    def __init__(self, engine: Callable[[], Engine], actions: Callable[[], PairedActions], *,
                 tick_seconds: float = TICK_SECONDS, lease: timedelta = WORKER_LEASE,
                 clock: Callable[[], datetime] = datetime.now) -> None:
        self._engine, self._actions = engine, actions
        self.tick_seconds, self.lease, self.clock = tick_seconds, lease, clock
        self.owner = new_lease_token()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # passes this process ran (for tests and /metrics)

    def run_once(self) -> bool:
        """One tick: True if this process held the lease and ran a pass."""
        if not hold_worker_lease(self._engine(), RETRY_LOOP, self.owner, self.clock(), self.lease):
            return False
        results = self._actions().reconcile(actor="retry loop")
        self.passes += 1
        if results:
            log_event(log, "retry pass", settled=len(results),
                      outcomes={result.operation_id: result.status for result in results})
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as error:  # noqa: BLE001 - a database outage must not end the loop; the next tick retries
                log_event(log, "retry pass failed", level=logging.WARNING, error=f"{type(error).__name__}: {error}")
            self._stop.wait(self.tick_seconds)

    def start(self) -> "RetryLoop":
        self._thread = threading.Thread(target=self._run, name="retry-loop", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            give_up_worker_lease(self._engine(), RETRY_LOOP, self.owner)  # another replica need not wait it out
        except Exception:  # noqa: BLE001 - stopping with the database gone: the lease simply expires
            pass
