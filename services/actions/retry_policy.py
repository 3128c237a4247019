"""Retry policy layer: when an operation that did not settle (unfinished after a crash, or needing attention) is tried
again, and when the retries give up (`stuck`).

Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): attempt n waits a
random time between 0 and min(cap, base * 2**n), so operations that failed together (one Crossmark outage) do not come
back together. An operation becomes stuck only when both limits are passed: at least `min_attempts` attempts and at
least `min_span` since its first failure, so a short burst of attempts cannot give up on a long outage.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from services.errors import ConfigurationError


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=10)
    min_attempts: int = 8
    min_span: timedelta = timedelta(hours=6)

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base or self.min_attempts < 1 or self.min_span < timedelta(0):
            raise ConfigurationError("A retry policy needs 0 < base <= cap, at least one attempt and a span >= 0.")

    def delay(self, attempts_made: int, draw: Callable[[], float] = random.random) -> timedelta:
        """How long to wait before the next attempt, after `attempts_made` attempts (full jitter; at least 1 s)."""
        # The ceiling doubles from 2 x base, so the first retry comes after about `base` on average.
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** min(attempts_made + 1, 30))
        return timedelta(seconds=max(1.0, draw() * ceiling))

    def gives_up(self, attempts_made: int, first_failure: datetime, now: datetime) -> bool:
        """Whether an operation that has just failed its `attempts_made`-th attempt is stuck."""
        return attempts_made >= self.min_attempts and now - first_failure >= self.min_span


def policy_from_settings(base_seconds: float, cap_seconds: float, min_attempts: int, min_span_hours: float
                         ) -> RetryPolicy:
    return RetryPolicy(timedelta(seconds=base_seconds), timedelta(seconds=cap_seconds), min_attempts,
                       timedelta(hours=min_span_hours))
