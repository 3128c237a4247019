"""Health report, Prometheus exposition, windowed latency figures, the Operations health page, and /healthz + /metrics
answered by a real `streamlit run dashboard/server.py` (200, then 503 once the database is made unreachable)."""
from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import streamlit as st
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

import services.ops.health as health_module
from services.ops import metrics_export
from services.store.database import make_engine, session_factory
from services.ops.health import CHECK_RUN_STALE_AFTER, health_report, run_health_cli
from services.ops.metrics import BUCKETS, METRICS, MetricsRegistry, percentile
from services.ops.metrics_export import prometheus_text
from services.store.schema_admin import head_revision, upgrade_database
from services.settings import load_settings
from services.store.tables import CheckRun, Operation
from tests.conftest import POSTGRES_URL, POSTGRES_SKIP_REASON, private_database
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_USERNAME, FakeCrossmark
from tools.processes import free_loopback_port, stop_process

ROOT = Path(__file__).resolve().parent.parent


def sandbox_settings(url: str):  # noqa: ANN201 - Settings
    return load_settings({"SCHEDULER_DATABASE_URL": url})


# --- a parser of the text exposition format 0.0.4, strict enough to catch what Prometheus would reject -------------

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE = re.compile(rf"^(?P<name>{_NAME})(?:\{{(?P<labels>.*)\}})? (?P<value>\S+)$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"\s*(,|$)')


def _unescape(value: str) -> str:
    return re.sub(r'\\(\\|"|n)', lambda m: {"\\": "\\", '"': '"', "n": "\n"}[m.group(1)], value)


def _parse_labels(body: str) -> dict[str, str]:
    labels, position = {}, 0
    while position < len(body):
        match = _LABEL.match(body, position)
        assert match, f"bad label set {body!r} at {position}"
        assert match.group(1) not in labels, f"duplicate label {match.group(1)}"
        labels[match.group(1)] = _unescape(match.group(2))
        position = match.end()
    return labels


def parse_exposition(body: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """(family -> type, samples as (name, labels, value)); asserts every line is well formed and every sample
    belongs to a family declared (HELP and TYPE) before it."""
    assert body.endswith("\n")
    types: dict[str, str] = {}
    helps: set[str] = set()
    samples = []
    for line in body.splitlines():
        assert line.strip() == line and line, f"stray whitespace or empty line: {line!r}"
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert re.fullmatch(_NAME, name) and name not in helps
            helps.add(name)
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped") and name not in types
            assert name in helps, f"TYPE before HELP for {name}"
            types[name] = kind
        else:
            assert not line.startswith("#"), line
            match = _SAMPLE.match(line)
            assert match, f"bad sample line {line!r}"
            name = match.group("name")
            family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
            assert family in types, f"{name} has no TYPE line before it"
            value = match.group("value")
            samples.append((name, _parse_labels(match.group("labels") or ""),
                            math.inf if value == "+Inf" else float(value)))
    return types, samples


def _histograms(samples) -> dict[tuple[str, tuple], dict]:  # noqa: ANN001
    """family + labels (without le) -> {"buckets": [(le, count)], "sum": s, "count": n}."""
    out: dict[tuple[str, tuple], dict] = {}
    for name, labels, value in samples:
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix):
                family = name[: -len(suffix)]
                key = (family, tuple(sorted((k, v) for k, v in labels.items() if k != "le")))
                entry = out.setdefault(key, {"buckets": []})
                if suffix == "_bucket":
                    entry["buckets"].append((math.inf if labels["le"] == "+Inf" else float(labels["le"]), value))
                else:
                    entry[suffix[1:]] = value
    return out


# --- exposition ------------------------------------------------------------------------------------------------------


def test_exposition_counters_and_histograms_parse_back_with_cumulative_monotone_buckets():
    registry = MetricsRegistry()
    for _ in range(3):
        registry.count("crossmark_calls", path="/planning/getPlanningEvents", status="200")
    registry.count("crossmark_calls", path="/planning/getPlanningEvents", status="ReadTimeout")
    registry.count("actions", kind="reschedule", status="done")
    registry.count("actions", 2, kind="unschedule", status="needs_attention")
    registry.count("cache_requests", query="summary", result="hit")
    registry.count("cache_requests", query="summary", result="miss")
    observed = [0.001, 0.005, 0.0051, 0.03, 0.2, 0.2, 0.9, 4.0, 10.0, 42.0]  # on a bound, between, above the last
    for seconds in observed:
        registry.observe("crossmark_seconds", seconds, path="/login/authenticate")
    registry.observe("read_query_seconds", 0.002, query="summary")

    types, samples = parse_exposition(prometheus_text(registry))

    assert types["crossmark_calls_total"] == "counter" and types["actions_total"] == "counter"
    assert types["cache_requests_total"] == "counter"
    assert types["crossmark_seconds"] == "histogram" and types["read_query_seconds"] == "histogram"
    values = {(name, tuple(sorted(labels.items()))): value for name, labels, value in samples}
    assert values[("crossmark_calls_total", (("path", "/planning/getPlanningEvents"), ("status", "200")))] == 3
    assert values[("crossmark_calls_total", (("path", "/planning/getPlanningEvents"), ("status", "ReadTimeout")))] == 1
    assert values[("actions_total", (("kind", "unschedule"), ("status", "needs_attention")))] == 2
    assert values[("cache_requests_total", (("query", "summary"), ("result", "hit")))] == 1

    histograms = _histograms(samples)
    crossmark = histograms[("crossmark_seconds", (("path", "/login/authenticate"),))]
    bounds = [bound for bound, _ in crossmark["buckets"]]
    counts = [count for _, count in crossmark["buckets"]]
    assert bounds == [*BUCKETS, math.inf]  # every bucket, in order, ending with +Inf
    assert counts == sorted(counts), "buckets must be cumulative (monotone)"
    assert crossmark["count"] == len(observed) == counts[-1]
    assert crossmark["sum"] == pytest.approx(sum(observed))
    for bound, count in crossmark["buckets"]:
        assert count == sum(1 for seconds in observed if seconds <= bound), bound  # `le` includes the bound
    assert histograms[("read_query_seconds", (("query", "summary"),))]["count"] == 1


def test_label_values_are_escaped_and_names_sanitised():
    registry = MetricsRegistry()
    awkward = 'C:\\temp "quoted"\nsecond line'
    registry.count("odd-name.x", query=awkward)
    registry.observe("2fast", 0.01, **{"bad-label": "v"})
    body = prometheus_text(registry)
    types, samples = parse_exposition(body)
    assert "odd_name_x_total" in types and "_2fast" in types
    (name, labels, value), = [s for s in samples if s[0] == "odd_name_x_total"]
    assert labels == {"query": awkward} and value == 1
    assert 'query="C:\\\\temp \\"quoted\\"\\nsecond line"' in body and "\nsecond line" not in body
    assert any(labels == {"bad_label": "v", "le": "+Inf"} for name, labels, _ in samples if name == "_2fast_bucket")


def test_prometheus_client_writes_the_exposition_from_a_private_registry_and_its_parser_reads_it_back():
    """Counters and histograms with their labels and values, a hostile label value intact, through
    prometheus_client's own parser; the text is generate_latest's, from a CollectorRegistry of our own."""
    registry = MetricsRegistry()
    hostile = 'a "quoted" \\ back\\slash\nand a new line'
    registry.count("crossmark_calls", 3, path="/planning/getPlanningEvents", status="200")
    registry.count("crossmark_calls", path=hostile, status="ReadTimeout")
    for seconds in (0.004, 0.3, 12.0):
        registry.observe("crossmark_seconds", seconds, path=hostile)

    body = prometheus_text(registry)
    families = {family.name: family for family in text_string_to_metric_families(body)}

    calls = families["crossmark_calls"]
    assert calls.type == "counter" and calls.documentation == metrics_export.HELP["crossmark_calls"]
    assert {(s.name, tuple(sorted(s.labels.items())), s.value) for s in calls.samples} == {
        ("crossmark_calls_total", (("path", "/planning/getPlanningEvents"), ("status", "200")), 3.0),
        ("crossmark_calls_total", (("path", hostile), ("status", "ReadTimeout")), 1.0)}
    latency = families["crossmark_seconds"]
    assert latency.type == "histogram" and latency.documentation == metrics_export.HELP["crossmark_seconds"]
    assert {s.labels["path"] for s in latency.samples} == {hostile}  # the value round-trips, escaped and back
    buckets = [(s.labels["le"], s.value) for s in latency.samples if s.name == "crossmark_seconds_bucket"]
    assert buckets == [("0.005", 1.0), ("0.01", 1.0), ("0.025", 1.0), ("0.05", 1.0), ("0.1", 1.0), ("0.25", 1.0),
                       ("0.5", 2.0), ("1.0", 2.0), ("2.5", 2.0), ("5.0", 2.0), ("10.0", 2.0), ("+Inf", 3.0)]
    totals = {s.name: s.value for s in latency.samples if s.name != "crossmark_seconds_bucket"}
    assert totals == {"crossmark_seconds_count": 3.0, "crossmark_seconds_sum": pytest.approx(12.304)}
    assert families["process_start_time_seconds"].type == "gauge"

    # Written by prometheus_client from a collector reading the registry at scrape time ...
    assert body == generate_latest(metrics_export.collector_registry(registry)).decode()
    registry.count("crossmark_calls", path=hostile, status="ReadTimeout")
    assert 'status="ReadTimeout"} 2.0' in prometheus_text(registry)
    # ... and for METRICS, a registry of its own: nothing of ours in prometheus_client's global one.
    METRICS.count("private_registry_test")
    assert metrics_export.PROMETHEUS_REGISTRY is not REGISTRY
    assert "private_registry_test_total" in generate_latest(metrics_export.PROMETHEUS_REGISTRY).decode()
    assert "private_registry_test_total" in prometheus_text()
    assert "private_registry_test" not in generate_latest(REGISTRY).decode()


def test_exposition_of_an_empty_registry_is_still_valid():
    types, samples = parse_exposition(prometheus_text(MetricsRegistry()))
    assert types == {"process_start_time_seconds": "gauge"} and len(samples) == 1


def test_histograms_are_cumulative_since_start_even_when_the_sample_windows_drop_old_samples():
    clock = [0.0]
    registry = MetricsRegistry(clock=lambda: clock[0])
    registry.observe("crossmark_seconds", 0.1, path="/a")
    clock[0] = 2 * 86400.0  # two days later: the timed sample is dropped at the next observation
    registry.observe("crossmark_seconds", 0.2, path="/a")
    assert registry.window("crossmark_seconds", 86400.0).samples == 1
    (_, histogram), = registry.histogram_snapshot().items()
    assert histogram.count == 2 and histogram.total == pytest.approx(0.3)


def test_windowed_p50_p95_over_the_last_hour_and_day():
    clock = [1000.0]
    registry = MetricsRegistry(clock=lambda: clock[0])
    for milliseconds in range(1, 101):  # 2 h ago: 1..100 ms on /old
        registry.observe("crossmark_seconds", milliseconds / 1000, path="/old")
    clock[0] += 2 * 3600
    for milliseconds in (500, 700, 900):  # now: three slow calls on /new
        registry.observe("crossmark_seconds", milliseconds / 1000, path="/new")

    hour = registry.window("crossmark_seconds", 3600)
    assert hour.samples == 3 and hour.p50 == pytest.approx(0.7) and hour.p95 == pytest.approx(0.88)
    day = registry.window("crossmark_seconds", 86400)
    assert day.samples == 103 and day.since_seconds == pytest.approx(7200)
    old = registry.window("crossmark_seconds", 86400, path="/old")
    assert old.p50 == pytest.approx(0.0505) and old.p95 == pytest.approx(0.09505)
    assert registry.window("crossmark_seconds", 3600, path="/old").p50 is None
    rows = registry.latency_rows("crossmark_seconds", "path")
    assert [row["path"] for row in rows] == ["all", "/new", "/old"]
    assert rows[0]["samples (day)"] == 103 and rows[0]["p50 ms (hour)"] == pytest.approx(700)
    assert rows[2]["p50 ms (hour)"] is None and rows[2]["samples (hour)"] == 0
    assert percentile([], 0.5) is None and percentile([3.0], 0.95) == 3.0


def test_the_shared_registry_keeps_its_api():
    before = METRICS.value("health_test_counter", a="1")
    METRICS.count("health_test_counter", a=1)
    METRICS.observe("health_test_seconds", 0.01, a=1)
    assert METRICS.value("health_test_counter", a="1") == before + 1
    assert len(METRICS.latencies[("health_test_seconds", (("a", "1"),))]) >= 1
    assert METRICS.counter_rows("health_test_counter")[0]["a"] == "1"


# --- the health report -----------------------------------------------------------------------------------------------


def test_report_on_a_current_database_in_the_sandbox(engine: Engine, database_url: str):
    report = health_report(sandbox_settings(database_url), database_url)
    assert report.healthy and report.status == "degraded"  # no data-quality run yet: a warning, not a failure
    assert report.database.reachable and report.database.latency_ms is not None
    assert report.schema.current and report.schema.revision == head_revision()
    assert report.crossmark.status == "sandbox"
    assert report.last_check_run.age_seconds is None and report.operations_needing_attention == 0
    assert isinstance(report.switches, dict) and report.reasons == []
    assert any("no data-quality run" in warning for warning in report.warnings)
    data = json.loads(report.to_json())
    assert data["healthy"] is True and data["crossmark"]["status"] == "sandbox"
    assert set(data) >= {"database", "schema", "crossmark", "last_check_run", "operations_needing_attention",
                         "switches", "reasons", "warnings", "status", "checked_at"}


def test_report_figures_check_run_age_attention_and_switches(engine: Engine, database_url: str):
    now = datetime(2026, 3, 10, 12, 0, 0)
    with session_factory(engine).begin() as session:
        for hours, status in ((50, "done"), (2, "done"), (1, "failed")):  # the newest *finished* run counts
            session.add(CheckRun(started_at=now - timedelta(hours=hours, minutes=1),
                                 finished_at=now - timedelta(hours=hours), status=status, rules="all",
                                 triggered_by="test"))
        for index, status in enumerate(("needs_attention", "needs_attention", "done")):
            session.add(Operation(idempotency_key=f"k{index}", kind="reschedule", requested_by="ops",
                                  requested_at=now, status=status, updated_at=now))
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM dashboard_switches"))
        connection.execute(text("INSERT INTO dashboard_switches (name, enabled, changed_by, changed_at) "
                                "VALUES ('maintenance_mode', :on, 'alice', :at), ('crossmark_writes_off', :off, NULL, NULL)"),
                           {"on": True, "off": False, "at": now})

    report = health_report(sandbox_settings(database_url), engine, now=now)

    assert report.healthy and report.status == "degraded"  # attention needed is work for ops, not a 503
    assert report.last_check_run.age_seconds == 2 * 3600
    assert report.operations_needing_attention == 2
    assert any("2 operation(s) need attention" in warning for warning in report.warnings)
    assert not any("data-quality" in warning for warning in report.warnings)
    assert report.switches["maintenance_mode"] == {"enabled": True, "changed_by": "alice",
                                                   "changed_at": "2026-03-10T12:00:00"}
    assert report.switches["crossmark_writes_off"]["enabled"] is False
    assert report.switches["supervisor_follow"] == {"enabled": True, "changed_by": None, "changed_at": None}

    stale = health_report(sandbox_settings(database_url), engine, now=now + CHECK_RUN_STALE_AFTER)
    assert stale.healthy and any("last data-quality run finished 38 h ago" in w for w in stale.warnings)


def test_switches_are_read_defensively(engine: Engine, database_url: str):
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE dashboard_switches"))
    report = health_report(sandbox_settings(database_url), engine)  # a database without the table: no switches
    assert report.healthy and report.switches == {}


def test_missing_garbage_and_deleted_sqlite_files_are_unreachable_and_never_raise(tmp_path: Path):
    missing = tmp_path / "nowhere.db"
    report = health_report(sandbox_settings(str(missing)), f"sqlite:///{missing}")
    assert not report.healthy and report.status == "unhealthy"
    assert report.reasons == [f"database unreachable: There is no database at {missing}."]

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    report = health_report(sandbox_settings(str(garbage)), f"sqlite:///{garbage}")
    assert not report.healthy and "not an SQLite database" in report.reasons[0]

    # A pooled connection keeps reading a deleted file: the report must look at the path, not trust the pool.
    url = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    try:
        assert health_report(sandbox_settings(url), engine).healthy
        (tmp_path / "live.db").rename(tmp_path / "moved.db")
        report = health_report(sandbox_settings(url), engine)
        assert not report.healthy and not report.database.reachable and "There is no database" in report.reasons[0]
    finally:
        engine.dispose()


def test_a_database_not_at_the_current_schema_is_unhealthy(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'blank.db'}"
    blank = sqlite3.connect(tmp_path / "blank.db")  # a valid SQLite file with none of our tables
    blank.execute("CREATE TABLE events (id INTEGER)")
    blank.execute("DROP TABLE events")
    blank.close()
    report = health_report(sandbox_settings(url), url)
    assert report.database.reachable and report.schema.current is False and not report.healthy
    assert "not at the current schema" in report.reasons[0] and "db upgrade" in report.reasons[0]
    assert report.operations_needing_attention is None  # nothing more is read from a database we cannot use


def test_postgresql_schema_dropped_is_unhealthy(postgres_schema_url: str):
    upgrade_database(postgres_schema_url)
    assert health_report(sandbox_settings(postgres_schema_url), postgres_schema_url).healthy
    schema = dict(make_url(postgres_schema_url).query)["options"].split("=", 1)[1]
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))  # empty again (the fixture drops it afterwards)
    admin.dispose()
    report = health_report(sandbox_settings(postgres_schema_url), postgres_schema_url)
    assert not report.healthy and "schema not current" in report.reasons[0]


def test_postgresql_unreachable_server_is_reported_with_the_password_hidden():
    url = "postgresql+psycopg://ops:Hunter2-secret@127.0.0.1:1/nowhere"
    report = health_report(sandbox_settings(url), url)
    assert not report.healthy and not report.database.reachable
    assert "Hunter2-secret" not in report.to_json() and "***" in report.database.url


def test_a_hung_database_check_is_bounded(monkeypatch, tmp_path: Path):
    def hang(engine_or_url, now):  # noqa: ANN001, ANN202
        time.sleep(5)

    monkeypatch.setattr(health_module, "_database_facts", hang)
    started = time.monotonic()
    report = health_report(sandbox_settings(str(tmp_path / "x.db")), str(tmp_path / "x.db"), database_timeout=0.3)
    assert time.monotonic() - started < 2
    assert not report.healthy and "no answer within 0.3 s" in report.reasons[0]


# --- Crossmark reachability (a real local HTTP fake, the default probe client) ---------------------------------------


def live_settings(url: str, crossmark_url: str, password: str = FAKE_PASSWORD):  # noqa: ANN201
    return load_settings({"SCHEDULER_DATABASE_URL": url, "CROSSMARK_BASE_URL": crossmark_url,
                          "CROSSMARK_USERNAME": FAKE_USERNAME, "CROSSMARK_PASSWORD": password})


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    upgrade_database(url)
    return url


def test_crossmark_reachable_refused_and_down(sqlite_url: str):
    with FakeCrossmark() as fake:
        report = health_report(live_settings(sqlite_url, fake.url), sqlite_url)
        assert report.healthy and report.crossmark.status == "reachable" and report.crossmark.url == fake.url
        assert fake.logins() == 1 and len(fake.requests_to("/users/getUserInfo")) == 1

        wrong = "Wrong-Pass-Word-42"
        report = health_report(live_settings(sqlite_url, fake.url, password=wrong), sqlite_url)
        assert not report.healthy and report.crossmark.status == "unreachable"
        assert report.reasons[0].startswith("Crossmark unreachable: Crossmark refused the login")
        assert wrong not in report.to_json() and FAKE_PASSWORD not in report.to_json()

        fake.inject("/users/getUserInfo", "5xx_before")  # no retries in a probe: one 503 is enough
        report = health_report(live_settings(sqlite_url, fake.url), sqlite_url)
        assert not report.healthy and "503" in report.crossmark.error
        url = fake.url
    report = health_report(live_settings(sqlite_url, url), sqlite_url)  # the fake is stopped: connection refused
    assert not report.healthy and "unreachable" in report.reasons[0] and report.database.reachable


def test_crossmark_probe_results_are_reused_within_the_cache_window(sqlite_url: str, monkeypatch):
    monkeypatch.setattr(health_module, "_crossmark_cache", {})
    with FakeCrossmark() as fake:
        settings = live_settings(sqlite_url, fake.url)
        for _ in range(3):
            assert health_report(settings, sqlite_url, crossmark_cache_seconds=60).crossmark.status == "reachable"
        assert fake.logins() == 1
        health_report(settings, sqlite_url)  # no cache: probes again
        assert fake.logins() == 2


def test_a_custom_client_factory_is_used_and_its_failure_reported(sqlite_url: str):
    class Broken:
        def user_info(self):  # noqa: ANN202
            raise RuntimeError("boom")

        def close(self) -> None:
            pass

    report = health_report(live_settings(sqlite_url, "http://127.0.0.1:9"), sqlite_url,
                           crossmark_client_factory=Broken)
    assert not report.healthy and report.crossmark.error == "RuntimeError: boom"


def test_run_health_cli_prints_json_and_sets_the_exit_code(sqlite_url: str, tmp_path: Path, capsys):
    assert run_health_cli(sandbox_settings(sqlite_url)) == 0
    assert json.loads(capsys.readouterr().out)["healthy"] is True
    assert run_health_cli(sandbox_settings(str(tmp_path / "missing.db"))) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["healthy"] is False and "There is no database" in out["reasons"][0]


# --- the page ----------------------------------------------------------------------------------------------------------


def _navigation_app() -> None:
    import sys as _sys
    from pathlib import Path as _Path

    import streamlit as _st

    root = _Path(_st.session_state["root"])
    if str(root) not in _sys.path:
        _sys.path.insert(0, str(root))
    _st.navigation([_st.Page(root / "pages" / "operations_health.py", title="Operations health")]).run()


def _operations_health_page(sqlite_url: str, monkeypatch, role: str) -> AppTest:
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("CROSSMARK_BASE_URL", raising=False)
    st.cache_resource.clear()
    app = AppTest.from_function(_navigation_app, default_timeout=30)
    app.session_state["root"] = str(ROOT)
    app.session_state["acting_role"] = role  # as dashboard/app.py sets it for the signed-in account
    app.run()
    assert not app.exception, app.exception
    return app


def test_operations_health_page_under_navigation(sqlite_url: str, monkeypatch):
    METRICS.observe("read_query_seconds", 0.004, query="summary")
    METRICS.observe("crossmark_seconds", 0.120, path="/users/getUserInfo")
    METRICS.count("actions", kind="reschedule", status="done")
    METRICS.count("crossmark_calls", path="/users/getUserInfo", status="200")
    app = _operations_health_page(sqlite_url, monkeypatch, "admin")
    try:
        assert [title.value for title in app.title] == ["Operations health"]
        metrics = {metric.label: metric.value for metric in app.metric}
        assert metrics["Database"] == "reachable" and metrics["Crossmark"] == "sandbox"
        assert metrics["Last data-quality run"] == "never" and metrics["Operations needing attention"] == "0"
        assert "Healthy, with warnings" in app.warning[0].value and "no data-quality run" in app.warning[0].value
        frames = [frame.value for frame in app.dataframe]
        read = frames[0]
        # column headers and labels in words (issue 18): "Query", a kind as the Operations page names it
        assert read.iloc[0]["Query"] == "all" and "summary" in set(read["Query"])
        assert read.loc[read["Query"] == "summary", "Samples (hour)"].iloc[0] >= 1
        assert "/users/getUserInfo" in set(frames[1]["Path"])
        assert "Reschedule" in set(frames[2]["Kind"]) and "200" in set(frames[3]["Status"])
        switches = next(caption.value for caption in app.caption if caption.value.startswith("Switches:"))
        assert "Maintenance mode" in switches and "maintenance_mode" not in switches, switches
    finally:
        st.cache_resource.clear()


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_the_operations_health_page_shows_the_details_to_admins_only(sqlite_url: str, monkeypatch, role: str):
    """Below admin, the status as anonymous /healthz callers get it; not where the database or Crossmark are, the
    queue needing attention, who changed the switches, or the reasons (they name paths)."""
    app = _operations_health_page(sqlite_url, monkeypatch, role)
    try:
        assert [warning.value for warning in app.warning] == ["**Healthy, with warnings** (/healthz answers 200)"]
        assert [metric.label for metric in app.metric] == []  # Database, Crossmark, last run, attention: admins'
        shown = " ".join(str(element.value) for kind in ("caption", "markdown", "warning", "error", "success")
                         for element in getattr(app, kind))
        assert "shown to admins" in shown
        assert make_url(sqlite_url).database not in shown and "Switches" not in shown and "Schema revision" not in shown
    finally:
        st.cache_resource.clear()


# --- the real server ---------------------------------------------------------------------------------------------------


class RunningServer:
    def __init__(self, url: str, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_loopback_port()
        self.base = f"http://127.0.0.1:{self.port}"
        inherited = {name: value for name, value in os.environ.items()
                     if name not in ("CROSSMARK_BASE_URL", "HEALTH_TOKEN", "METRICS_TOKEN")}
        env = {**inherited, "SCHEDULER_DATABASE_URL": url, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
               **(env or {})}
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard/server.py", "--server.port", str(self.port),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)

    def get(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.get(self.base + path, timeout=15, headers=headers)

    def wait_until_up(self, timeout: float = 60.0) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited early:\n{self.log.read_text()}"
            try:
                return self.get("/healthz")
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"/healthz did not answer within {timeout:g} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self._log_file.closed:
            return
        stop_process(self.process)
        self._log_file.close()


@pytest.fixture
def server_for(tmp_path: Path):
    servers: list[RunningServer] = []

    def start(url: str, env: dict[str, str] | None = None) -> RunningServer:
        server = RunningServer(url, tmp_path / f"server-{len(servers)}.log", env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


HEALTH_TOKEN = "health-token-for-the-monitoring-system"


def test_real_server_answers_healthz_and_metrics_then_503_when_the_database_goes_away(tmp_path: Path, server_for):
    """Without METRICS_TOKEN /metrics is open; /healthz answers everyone the status, HEALTH_TOKEN holders the report."""
    database = tmp_path / "scheduler.db"
    url = f"sqlite:///{database}"
    upgrade_database(url)
    server = server_for(url, {"HEALTH_TOKEN": HEALTH_TOKEN})

    response = server.wait_until_up()
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"healthy": True, "status": "degraded"}  # anonymous: no details (no check run yet)
    response = server.get("/healthz", token=HEALTH_TOKEN)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["healthy"] is True and report["database"]["reachable"] is True
    assert report["schema"]["current"] is True and report["crossmark"]["status"] == "sandbox"
    assert report["operations_needing_attention"] == 0 and isinstance(report["switches"], dict)
    assert report["last_check_run"]["age_seconds"] is None

    metrics = server.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"] == CONTENT_TYPE_LATEST
    types, _ = parse_exposition(metrics.text)
    assert types["process_start_time_seconds"] == "gauge"
    page = server.get("/")  # the dashboard itself is still served on the same port
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert server.get("/_stcore/health").text == "ok"

    database.rename(tmp_path / "moved-away.db")
    gone = server.get("/healthz")
    assert gone.status_code == 503, gone.text
    assert gone.json() == {"healthy": False, "status": "unhealthy"}  # no path for anonymous callers
    gone = server.get("/healthz", token=HEALTH_TOKEN)
    assert gone.status_code == 503 and gone.json()["healthy"] is False
    assert gone.json()["reasons"] == [f"database unreachable: There is no database at {database}."]

    database.write_bytes(b"garbage" * 1000)
    garbage = server.get("/healthz", token=HEALTH_TOKEN)
    assert garbage.status_code == 503 and "not an SQLite database" in garbage.json()["reasons"][0]

    database.unlink()
    (tmp_path / "moved-away.db").rename(database)
    assert server.get("/healthz").status_code == 200  # recovers without a restart
    server.stop()
    assert "Traceback" not in server.log.read_text()


def test_real_server_on_postgresql_503_when_the_schema_is_dropped(tmp_path: Path, server_for):
    if POSTGRES_URL is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    with private_database("postgresql", tmp_path) as url:
        upgrade_database(url)
        server = server_for(url, {"HEALTH_TOKEN": HEALTH_TOKEN})
        assert server.wait_until_up().status_code == 200
        schema = dict(make_url(url).query)["options"].split("=", 1)[1]
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        response = server.get("/healthz", token=HEALTH_TOKEN)
        assert response.status_code == 503 and "schema not current" in response.json()["reasons"][0]
        server.stop()


def test_the_server_runs_the_retry_loop_and_gives_its_lease_up_when_stopped(tmp_path: Path, server_for):
    """dashboard/server.py starts the retry loop with the app (st.App lifespan): the server's process holds the
    `retry_loop` worker lease while it runs and gives it up when stopped, so another replica takes over at once."""
    database = tmp_path / "scheduler.db"
    url = f"sqlite:///{database}"
    upgrade_database(url)
    server = server_for(url)
    assert server.wait_until_up().status_code == 200

    def lease() -> tuple | None:
        with sqlite3.connect(database) as connection:
            return connection.execute("SELECT owner, expires_at FROM dashboard_worker_leases "
                                      "WHERE name = 'retry_loop'").fetchone()

    deadline = time.monotonic() + 30
    while lease() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    held = lease()
    assert held is not None, "the server did not take the retry loop's lease"
    assert f":{server.process.pid}:" in held[0]  # host:pid:process-space:token of the server process
    assert datetime.fromisoformat(held[1]) > datetime.now()
    server.stop()
    assert datetime.fromisoformat(lease()[1]) < datetime(2000, 1, 1)  # given up, not left to expire
