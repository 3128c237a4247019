"""Metrics layer: in-process counters and latency samples (Crossmark calls, reads, actions) for /metrics later."""
from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque

_LATENCY_SAMPLES = 2048  # per series; enough for p50/p95 over the last hour of a busy replica


class MetricsRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
        self.latencies: dict[tuple[str, tuple[tuple[str, str], ...]], deque[float]] = defaultdict(
            lambda: deque(maxlen=_LATENCY_SAMPLES))

    def count(self, name: str, amount: int = 1, **labels: object) -> None:
        key = (name, tuple(sorted((k, str(v)) for k, v in labels.items())))
        with self._lock:
            self.counters[key] += amount

    def observe(self, name: str, seconds: float, **labels: object) -> None:
        key = (name, tuple(sorted((k, str(v)) for k, v in labels.items())))
        with self._lock:
            self.latencies[key].append(seconds)

    def value(self, name: str, **labels: object) -> int:
        return self.counters[(name, tuple(sorted((k, str(v)) for k, v in labels.items())))]


METRICS = MetricsRegistry()
