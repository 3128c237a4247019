"""Metrics export layer: the in-process METRICS in the Prometheus text exposition format 0.0.4, for GET /metrics.

Every counter `name{labels}` becomes `name_total{labels}`; every latency series `name{labels}` becomes a histogram
`name_bucket{labels,le}`, `name_sum`, `name_count` (cumulative since the process started). Figures are per server
process: with several replicas, Prometheus scrapes each one and sums.
"""
from __future__ import annotations

import math
import re

from services.ops.metrics import METRICS, MetricsRegistry, SeriesKey

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# HELP text of the series we know about; any other series is exported with a generic line.
HELP = {
    "crossmark_calls": "Crossmark HTTP calls by path and status (HTTP status or transport error name).",
    "crossmark_seconds": "Duration of Crossmark HTTP calls by path, in seconds.",
    "actions": "Paired actions by kind and final status.",
    "read_query_seconds": "Duration of dashboard read queries that reached the database, by query, in seconds.",
    "cache_requests": "Dashboard read cache lookups by query and result (hit or miss).",
}

_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_:]")
_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str) -> str:
    cleaned = _NAME_CHARS.sub("_", name) or "_"
    return cleaned if not cleaned[0].isdigit() else "_" + cleaned


def label_name(name: str) -> str:
    cleaned = _LABEL_CHARS.sub("_", name) or "_"
    cleaned = cleaned if not cleaned[0].isdigit() else "_" + cleaned
    return cleaned if not cleaned.startswith("__") else "_" + cleaned.lstrip("_")  # __* is reserved


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(pairs: tuple[tuple[str, str], ...], extra: tuple[tuple[str, str], ...] = ()) -> str:
    if not pairs and not extra:
        return ""
    body = ",".join(f'{label_name(k)}="{escape_label_value(v)}"' for k, v in (*pairs, *extra))
    return "{" + body + "}"


def _by_family(series: dict[SeriesKey, object]) -> dict[str, list[tuple[tuple[tuple[str, str], ...], object]]]:
    families: dict[str, list] = {}
    for (name, labels), value in sorted(series.items()):
        families.setdefault(name, []).append((labels, value))
    return families


def prometheus_text(registry: MetricsRegistry = METRICS) -> str:
    """The registry's counters and latency histograms as Prometheus text (one trailing newline)."""
    lines = ["# HELP process_start_time_seconds Start time of the server process since the Unix epoch, in seconds "
             "(the counters below restart from zero with it).",
             "# TYPE process_start_time_seconds gauge",
             f"process_start_time_seconds {format_value(round(registry.started_at, 3))}"]
    for name, series in _by_family(registry.counter_snapshot()).items():
        base = metric_name(name)
        family = base if base.endswith("_total") else base + "_total"
        # Format 0.0.4 (as the official Python client writes it): HELP/TYPE name the samples, `_total` included.
        lines.append(f"# HELP {family} {escape_help(HELP.get(name, f'Count of {name}.'))}")
        lines.append(f"# TYPE {family} counter")
        for labels, value in series:
            lines.append(f"{family}{_labels(labels)} {format_value(value)}")
    for name, series in _by_family(registry.histogram_snapshot()).items():
        family = metric_name(name)
        lines.append(f"# HELP {family} {escape_help(HELP.get(name, f'Distribution of {name}.'))}")
        lines.append(f"# TYPE {family} histogram")
        for labels, histogram in series:
            labels = tuple((k, v) for k, v in labels if k != "le")  # `le` belongs to the bucket lines
            for bound, cumulative in histogram.cumulative():
                lines.append(f"{family}_bucket{_labels(labels, (('le', format_bound(bound)),))} {cumulative}")
            lines.append(f"{family}_sum{_labels(labels)} {format_value(histogram.total)}")
            lines.append(f"{family}_count{_labels(labels)} {histogram.count}")
    return "\n".join(lines) + "\n"


def format_bound(bound: float) -> str:
    """Bucket bounds as Prometheus clients write them: 0.005, 1.0, +Inf."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))
