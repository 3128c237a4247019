"""Metrics export layer: the in-process METRICS in the Prometheus text exposition format, for GET /metrics, written by
prometheus_client (a custom collector reads METRICS at each scrape; METRICS and its p50/p95 windows stay as they are).

Every counter `name{labels}` becomes `name_total{labels}`; every latency series `name{labels}` becomes a histogram
`name_bucket{labels,le}`, `name_sum`, `name_count` (cumulative since the process started). Figures are per server
process: with several replicas, Prometheus scrapes each one and sums.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TypeVar

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from services.ops.metrics import BUCKETS, METRICS, MetricsRegistry, SeriesKey

# HELP text of the series we know about; any other series is exported with a generic line.
HELP = {
    "crossmark_calls": "Crossmark HTTP calls by path and status (HTTP status or transport error name).",
    "crossmark_seconds": "Duration of Crossmark HTTP calls by path, in seconds.",
    "actions": "Paired actions by kind and final status.",
    "read_query_seconds": "Duration of dashboard read queries that reached the database, by query, in seconds.",
    "cache_requests": "Dashboard read cache lookups by query and result (hit or miss).",
}
# Bucket bounds as the Python client writes them for its own histograms: 0.005, 1.0, +Inf.
_BOUNDS = [*(floatToGoString(bound) for bound in BUCKETS), "+Inf"]

# A series' value: a count (counters) or a Histogram (latencies); _by_family hands back the type it was given.
_Value = TypeVar("_Value")

_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_:]")
_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str) -> str:
    """A name valid in the classic character set (the client would otherwise write `2fast` as `_fast`, or refuse it
    with PROMETHEUS_LEGACY_NAME_VALIDATION set)."""
    cleaned = _NAME_CHARS.sub("_", name) or "_"
    return cleaned if not cleaned[0].isdigit() else "_" + cleaned


def label_name(name: str) -> str:
    cleaned = _LABEL_CHARS.sub("_", name) or "_"
    cleaned = cleaned if not cleaned[0].isdigit() else "_" + cleaned
    return cleaned if not cleaned.startswith("__") else "_" + cleaned.lstrip("_")  # __* is reserved


def _by_family(series: Mapping[SeriesKey, _Value], drop: str | None = None,
               ) -> dict[str, tuple[list[str], list[tuple[list[str], _Value]]]]:
    """name -> (label names, [(label values in that order, value)]), label names sanitised; a series without one of
    its family's labels gets "" for it (in Prometheus an empty label value is the same as no label)."""
    grouped: dict[str, list[tuple[dict[str, str], _Value]]] = {}
    for (name, labels), value in sorted(series.items()):
        grouped.setdefault(name, []).append(({label_name(k): v for k, v in labels if k != drop}, value))
    families = {}
    for name, rows in grouped.items():
        names = sorted({k for labels, _ in rows for k in labels})
        families[name] = (names, [([labels.get(k, "") for k in names], value) for labels, value in rows])
    return families


class MetricsCollector(Collector):
    """Reads a MetricsRegistry at each scrape (collect), through its snapshots: nothing is kept between scrapes."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("process_start_time_seconds",
                                "Start time of the server process since the Unix epoch, in seconds "
                                "(the counters below restart from zero with it).",
                                value=round(self.registry.started_at, 3))
        for name, (labels, rows) in _by_family(self.registry.counter_snapshot()).items():
            counter = CounterMetricFamily(metric_name(name), HELP.get(name, f"Count of {name}."), labels=labels)
            for values, count in rows:
                counter.add_metric(values, count)
            yield counter
        # `le` belongs to the bucket lines: a series' own `le` label is left out.
        for name, (labels, histograms) in _by_family(self.registry.histogram_snapshot(), drop="le").items():
            family = HistogramMetricFamily(metric_name(name), HELP.get(name, f"Distribution of {name}."),
                                           labels=labels)
            for values, histogram in histograms:
                cumulative = [count for _, count in histogram.cumulative()]
                family.add_metric(values, list(zip(_BOUNDS, cumulative)), histogram.total)
            yield family


def collector_registry(registry: MetricsRegistry) -> CollectorRegistry:
    """A private CollectorRegistry (not prometheus_client's global one) holding only the collector of `registry`."""
    collectors = CollectorRegistry()
    collectors.register(MetricsCollector(registry))
    return collectors


PROMETHEUS_REGISTRY = collector_registry(METRICS)


def prometheus_text(registry: MetricsRegistry = METRICS) -> str:
    """The registry's counters and latency histograms as Prometheus text (prometheus_client's generate_latest; its
    CONTENT_TYPE_LATEST is the matching content type)."""
    collectors = PROMETHEUS_REGISTRY if registry is METRICS else collector_registry(registry)
    return generate_latest(collectors).decode("utf-8")
