"""Sync: upsert by Crossmark ids on a real database, safe to run twice, nothing changed by a failed or dry run."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.crossmark.client import CrossmarkClient
from services.crossmark.sandbox import CrossmarkSimulator, SandboxTransport, SimulatedEvent
from services.crossmark.sync import sync_from_crossmark
from services.errors import CrossmarkUnavailable, InvalidInput
from services.settings import DEFAULT_TIMEZONE
from tests.cli_runner import run_cli

FIRST, LAST = date(2026, 12, 1), date(2026, 12, 31)


def _simulator() -> CrossmarkSimulator:
    simulator = CrossmarkSimulator(DEFAULT_TIMEZONE)
    simulator.add_rep("152052", "Dana Reyes")
    simulator.add_rep("152053", "Sam Ortiz")
    for index, (name, start) in enumerate([
        ("612103-Brand-Product Name (250821530146)  - V2-CORE", date(2026, 12, 7)),
        ("612103-Brand-Product Name (250821530146)  - V2-Supervisor", date(2026, 12, 7)),
        ("12-08 8HR-ES1-JUICER-PRODUCTION-SPCLTY", date(2026, 12, 8)),
        ("12.09-Digital Refresh Endcap Screens", date(2026, 12, 9)),
        ("Club Signage Audit", date(2026, 12, 10)),
    ]):
        simulator.add_event(SimulatedEvent(str(31785976 + index), name, "157384", "Sam's Club #8135 - Indianapolis, IN",
                                           start, start + timedelta(days=5)))
    return simulator


def _client(simulator: CrossmarkSimulator) -> CrossmarkClient:
    return CrossmarkClient(base_url="https://sandbox.crossmark.invalid", username="u", password="p",
                           timezone_name=DEFAULT_TIMEZONE, transport=SandboxTransport(simulator), is_sandbox=True)


def _rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def test_sync_inserts_then_is_idempotent_then_follows_changes(engine):
    simulator = _simulator()
    client = _client(simulator)
    core = client.schedule(rep_id="152053", mplan_id="31785976", location_id="157384",
                           start=datetime(2026, 12, 8, 10, 30), duration_minutes=390)

    first = sync_from_crossmark(engine, client, FIRST, LAST, now=datetime(2026, 12, 1, 6, 0))
    assert (first.fetched, first.new, first.updated, first.unchanged, first.missing) == (5, 5, 0, 0, 0)
    assert (first.schedules_added, first.employees_added) == (1, 1)
    events = {row[0]: row[1:] for row in _rows(engine, "SELECT external_id, project_ref_num, event_type, condition, "
                                                       "is_scheduled, store_number, sync_status FROM events")}
    assert events["31785976"] == (31785976, "Core", "Scheduled", True, 8135, "synced")
    assert events["31785977"][1] == "Supervisor" and events["31785978"][1] == "Juicer"
    assert events["31785979"][1] == "Digitals" and events["31785980"][1] == "Other"
    schedules = _rows(engine, "SELECT event_ref_num, employee_id, schedule_datetime, external_id FROM schedules")
    assert len(schedules) == 1 and schedules[0][0] == 31785976 and schedules[0][1] == "CM152053"
    assert str(schedules[0][2]).startswith("2026-12-08 10:30") and schedules[0][3] == core.scheduled_event_id

    before = _rows(engine, "SELECT * FROM events ORDER BY id")
    again = sync_from_crossmark(engine, client, FIRST, LAST, now=datetime(2026, 12, 1, 7, 0))
    assert (again.new, again.updated, again.unchanged, again.schedules_added, again.schedules_changed) == (0, 0, 5, 0, 0)
    after = _rows(engine, "SELECT * FROM events ORDER BY id")
    assert [row[:-5] for row in after] == [row[:-5] for row in before]  # only last_synced moved

    moved = client.schedule(rep_id="152052", mplan_id="31785976", location_id="157384",
                            start=datetime(2026, 12, 9, 11, 0), duration_minutes=390)
    del simulator.events["31785980"]  # gone from Crossmark: marked, never deleted
    third = sync_from_crossmark(engine, client, FIRST, LAST)
    assert (third.unchanged, third.schedules_changed, third.missing, third.missing_refs) == (4, 1, 1, [31785980])
    assert _rows(engine, "SELECT sync_status FROM events WHERE external_id = '31785980'") == [("missing",)]
    assert _rows(engine, "SELECT employee_id, external_id FROM schedules WHERE event_ref_num = 31785976") == \
        [("CM152052", moved.scheduled_event_id)]

    client.unschedule(moved.scheduled_event_id)
    fourth = sync_from_crossmark(engine, client, FIRST, LAST)
    assert fourth.schedules_removed == 1 and fourth.updated == 1
    assert _rows(engine, "SELECT condition, is_scheduled FROM events WHERE external_id = '31785976'") == \
        [("Unstaffed", False)]


def test_dry_run_reports_and_changes_nothing(engine):
    client = _client(_simulator())
    before = _rows(engine, "SELECT COUNT(*) FROM events")
    report = sync_from_crossmark(engine, client, FIRST, LAST, dry_run=True)
    assert report.new == 5 and report.dry_run
    assert _rows(engine, "SELECT COUNT(*) FROM events") == before == [(0,)]
    assert _rows(engine, "SELECT version FROM dashboard_data_version") == [(1,)]


def test_a_failure_while_fetching_leaves_the_database_as_it_was(engine):
    simulator = _simulator()
    sync_from_crossmark(engine, _client(simulator), FIRST, LAST)
    snapshot = _rows(engine, "SELECT * FROM events ORDER BY id")

    class DropsSecondPage(SandboxTransport):
        calls = 0

        def handle_request(self, request):  # noqa: ANN001, ANN201
            if request.url.path.endswith("getPlanningMplans"):
                DropsSecondPage.calls += 1
                if DropsSecondPage.calls >= 2:
                    import httpx
                    raise httpx.ReadError("connection dropped", request=request)
            return super().handle_request(request)

    del simulator.events["31785980"]
    failing = CrossmarkClient(base_url="https://sandbox.crossmark.invalid", username="u", password="p",
                              timezone_name=DEFAULT_TIMEZONE, transport=DropsSecondPage(simulator), retry_attempts=2,
                              retry_initial_wait=0.001)
    with pytest.raises(CrossmarkUnavailable):
        sync_from_crossmark(engine, failing, FIRST, LAST, page_size=2)
    assert DropsSecondPage.calls == 3  # page 1, then page 2 tried twice
    assert _rows(engine, "SELECT * FROM events ORDER BY id") == snapshot


def test_bad_ranges_are_refused(engine):
    client = _client(_simulator())
    with pytest.raises(InvalidInput, match="ends .* before it starts"):
        sync_from_crossmark(engine, client, LAST, FIRST)
    with pytest.raises(InvalidInput, match="at most 366 days"):
        sync_from_crossmark(engine, client, date(2025, 1, 1), date(2026, 12, 31))


def test_cli_sync_names_the_sandbox_and_prints_counts(tmp_path):
    path = tmp_path / "scheduler.db"
    assert run_cli("db", "upgrade", "--db", str(path)).returncode == 0
    assert run_cli("demo", "seed", "--scenario", "sprint2", "--db", str(path)).returncode == 0
    today = date.today()
    result = run_cli("sync", "--db", str(path), "--from", today.isoformat(), "--to", (today + timedelta(days=14)).isoformat())
    assert result.returncode == 0, result.stderr
    assert "Crossmark: SANDBOX" in result.stdout
    assert "5 fetched:" in result.stdout and "0 new" in result.stdout
    again = run_cli("sync", "--db", str(path), "--from", today.isoformat(), "--to", (today + timedelta(days=14)).isoformat())
    assert "5 unchanged" in again.stdout
    bad = run_cli("sync", "--db", str(path), "--from", "2026-12-31", "--to", "2026-12-01")
    assert bad.returncode == 1 and "before it starts" in bad.stderr and "Traceback" not in bad.stderr
