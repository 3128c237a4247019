"""Metrics layer: in-process counters and latency samples (Crossmark calls, reads, actions) for /metrics and the
Operations health page."""
from __future__ import annotations

import bisect
import math
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from typing import Callable

_LATENCY_SAMPLES = 2048  # per series; enough for p50/p95 over the last hour of a busy replica
# Timestamped samples for the windowed percentiles (last hour / last day): kept for one day, at most this many per
# series (a few MB at worst); when the cap is reached the day figures cover fewer hours and say so (`Window.since`).
SAMPLE_WINDOW_SECONDS = 24 * 3600.0
_TIMED_SAMPLES = 20_000
# Histogram buckets (upper bounds, seconds) for every latency series: a SELECT on SQLite up to a slow Crossmark call.
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


def series_key(name: str, labels: dict[str, object]) -> SeriesKey:
    return name, tuple(sorted((k, str(v)) for k, v in labels.items()))


@dataclass
class Histogram:
    """Cumulative since the process started (Prometheus semantics): never shrinks, unlike the sample windows."""

    bucket_counts: list[int]  # per bucket in BUCKETS, not cumulative; observations above the last bound only in count
    total: float = 0.0
    count: int = 0

    def add(self, seconds: float) -> None:
        index = bisect.bisect_left(BUCKETS, seconds)  # le semantics: a value equal to a bound falls in that bucket
        if index < len(BUCKETS):
            self.bucket_counts[index] += 1
        self.total += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations <= bound) for every bucket, ending with (+inf, count)."""
        running, out = 0, []
        for bound, observed in zip(BUCKETS, self.bucket_counts):
            running += observed
            out.append((bound, running))
        out.append((math.inf, self.count))
        return out


@dataclass(frozen=True)
class Window:
    """Latency figures of one series over a recent window."""

    samples: int
    p50: float | None
    p95: float | None
    since_seconds: float | None  # age of the oldest sample counted (less than the window when samples were capped)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None without values."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


class MetricsRegistry:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.started_at = time.time()
        self.counters: Counter[SeriesKey] = Counter()
        self.latencies: dict[SeriesKey, deque[float]] = defaultdict(lambda: deque(maxlen=_LATENCY_SAMPLES))
        self.timed_samples: dict[SeriesKey, deque[tuple[float, float]]] = defaultdict(
            lambda: deque(maxlen=_TIMED_SAMPLES))
        self.histograms: dict[SeriesKey, Histogram] = {}

    def count(self, name: str, amount: int = 1, **labels: object) -> None:
        key = series_key(name, labels)
        with self._lock:
            self.counters[key] += amount

    def observe(self, name: str, seconds: float, **labels: object) -> None:
        key = series_key(name, labels)
        now = self._clock()
        with self._lock:
            self.latencies[key].append(seconds)
            samples = self.timed_samples[key]
            samples.append((now, seconds))
            while samples and now - samples[0][0] > SAMPLE_WINDOW_SECONDS:
                samples.popleft()
            histogram = self.histograms.get(key)
            if histogram is None:
                histogram = self.histograms[key] = Histogram([0] * len(BUCKETS))
            histogram.add(seconds)

    def value(self, name: str, **labels: object) -> int:
        return self.counters[series_key(name, labels)]

    # --- reading, for /metrics and the Operations health page -------------------------------------------------------

    def counter_snapshot(self) -> dict[SeriesKey, int]:
        with self._lock:
            return dict(self.counters)

    def histogram_snapshot(self) -> dict[SeriesKey, Histogram]:
        with self._lock:
            return {key: Histogram(list(h.bucket_counts), h.total, h.count) for key, h in self.histograms.items()}

    def _recent(self, name: str, seconds: float) -> tuple[float, list[tuple[dict[str, str], float, float]]]:
        """(now, [(labels, at, value)]) of the series `name` within the last `seconds`, copied under the lock."""
        now = self._clock()
        with self._lock:
            return now, [(dict(labels), at, value) for (series, labels), samples in self.timed_samples.items()
                         if series == name for at, value in samples if now - at <= seconds]

    @staticmethod
    def _figures(now: float, recent: list[tuple[float, float]]) -> Window:
        values = sorted(value for _, value in recent)
        oldest = min((at for at, _ in recent), default=None)
        return Window(samples=len(values), p50=percentile(values, 0.50), p95=percentile(values, 0.95),
                      since_seconds=None if oldest is None else now - oldest)

    def window(self, name: str, seconds: float, **labels: object) -> Window:
        """p50/p95 of the series `name{labels}` over the last `seconds` (labels given must match; others are merged)."""
        wanted = {k: str(v) for k, v in labels.items()}
        now, recent = self._recent(name, seconds)
        return self._figures(now, [(at, value) for series_labels, at, value in recent
                                   if all(series_labels.get(k) == v for k, v in wanted.items())])

    def label_values(self, name: str, label: str) -> list[str]:
        """The values `label` takes in the latency series `name` (e.g. every Crossmark path seen)."""
        with self._lock:
            return sorted({dict(labels).get(label, "") for series, labels in self.timed_samples if series == name})

    def counter_rows(self, name: str) -> list[dict[str, object]]:
        """Every series of the counter `name` as {label: value, ..., "count": n}, sorted by labels."""
        with self._lock:
            series = sorted((labels, value) for (series, labels), value in self.counters.items() if series == name)
        return [{**dict(labels), "count": value} for labels, value in series]

    def latency_rows(self, name: str, label: str, windows: dict[str, float] | None = None) -> list[dict[str, object]]:
        """p50/p95 (ms) and sample counts of the latency series `name` over each window, all series together first
        ({label: "all"}), then one row per value of `label` (one pass over the samples per window)."""
        windows = windows or {"hour": 3600.0, "day": SAMPLE_WINDOW_SECONDS}
        values = self.label_values(name, label)
        rows: dict[str | None, dict[str, object]] = {value: {label: "all" if value is None else value}
                                                     for value in [None, *values]}
        for window_name, seconds in windows.items():
            now, recent = self._recent(name, seconds)
            groups: dict[str | None, list[tuple[float, float]]] = {value: [] for value in rows}
            for series_labels, at, value in recent:
                groups[None].append((at, value))
                groups.setdefault(series_labels.get(label, ""), []).append((at, value))
            for key, row in rows.items():
                figures = self._figures(now, groups.get(key, []))
                row[f"p50 ms ({window_name})"] = None if figures.p50 is None else round(figures.p50 * 1000, 1)
                row[f"p95 ms ({window_name})"] = None if figures.p95 is None else round(figures.p95 * 1000, 1)
                row[f"samples ({window_name})"] = figures.samples
        return list(rows.values())


METRICS = MetricsRegistry()
