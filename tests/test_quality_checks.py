"""Data-quality runs: history across runs, acknowledgement, notifications recorded on the run, the advisory lock,
the CLI, and the Data quality page."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from services.demo.demo_data import seed_sprint2_scenario
from services.access.accounts import SETUP, add_user
from services.errors import ActionRefused, CheckAlreadyRunning, InvalidInput, PermissionDenied
from services.quality.checks import ADVISORY_LOCK_CLASS, acknowledge, open_findings, run_check, trend
from services.quality.work import finding_record
from services.settings import load_settings
from tests.cli_runner import run_cli
from tests.conftest import private_database
from tests.test_app_pages import _texts, open_page  # noqa: F401 - the shared AppTest fixture

TODAY = date.today()
NOW = datetime.combine(TODAY, datetime.min.time()).replace(hour=8)


def _identities(result) -> set[tuple[str, int | None, int | None]]:  # noqa: ANN001
    return {(f.rule, f.core_ref, f.supervisor_ref) for f in result.findings}


def test_sprint2_history_across_three_runs(engine):
    seed_sprint2_scenario(engine, today=TODAY)
    settings = load_settings({})
    first = run_check(engine, settings, now=NOW)
    assert {("core_without_supervisor", 606999, None), ("core_supervisor_unstaffed", 608001, 608002)} <= \
        _identities(first)
    assert not [f for f in first.findings if 606001 in (f.core_ref, f.supervisor_ref)]
    assert first.new == len(first.findings) and first.resolved == 0

    second = run_check(engine, settings, now=NOW + timedelta(hours=1))
    assert second.new == 0 and second.resolved == 0 and _identities(second) == _identities(first)
    unstaffed = next(f for f in second.findings if f.rule == "core_supervisor_unstaffed")
    assert unstaffed.first_seen == NOW  # the same finding, first seen in run 1

    with engine.begin() as connection:  # someone schedules 608002: the finding resolves on the next run
        connection.execute(text("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime, external_id) "
                                "VALUES (608002, 'US157005', :when, '77777777')"),
                           {"when": datetime.combine(TODAY + timedelta(days=7), datetime.min.time()).replace(hour=13,
                                                                                                            minute=30)})
        connection.execute(text("UPDATE events SET condition = 'Scheduled', is_scheduled = TRUE "
                                "WHERE project_ref_num = 608002"))
        # and 606999 moves: its finding stays open (same identity) with a new detail and day
        connection.execute(text("UPDATE schedules SET schedule_datetime = :when WHERE event_ref_num = 606999"),
                           {"when": datetime.combine(TODAY + timedelta(days=8), datetime.min.time()).replace(hour=11)})
    third = run_check(engine, settings, now=NOW + timedelta(hours=2))
    moved = next(f for f in third.findings if f.rule == "core_without_supervisor" and f.core_ref == 606999)
    assert moved.first_seen == NOW and moved.day == TODAY + timedelta(days=8) and not moved.is_new
    with engine.connect() as connection:  # every open finding was seen by this run, with what this run found
        open_rows = connection.execute(text("SELECT id, detail, day FROM dashboard_findings "
                                            "WHERE resolved_at IS NULL")).all()
    assert set(open_findings(engine)["last_seen"]) == {third.started_at}
    assert {finding_record(engine, row.id).last_seen for row in open_rows} == {third.started_at}
    assert {(row.id, row.detail, str(row.day)[:10] if row.day else None) for row in open_rows} == \
        {(f.id, f.detail, f.day.isoformat() if f.day else None) for f in third.findings}
    assert third.resolved == 1 and ("core_supervisor_unstaffed", 608001, 608002) not in _identities(third)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT resolved_at, last_run_id FROM dashboard_findings "
                                      "WHERE rule = 'core_supervisor_unstaffed'")).one()
    assert row[1] == second.run_id and row[0] is not None
    counts = trend(engine)
    assert sorted(counts["run_id"].unique()) == [first.run_id, second.run_id, third.run_id]


def test_a_run_pauses_the_cyclic_garbage_collector_and_always_restores_it(engine, monkeypatch):
    """The collector is off while the rules make their findings (a full collection per allocation burst cost about 1 s
    of a run at 1,000,000 events), and back as it was afterwards: on after a run, on after a failed run, still off
    for a caller that had switched it off."""
    import gc

    import services.quality.checks as quality_checks

    seed_sprint2_scenario(engine, today=date.today())
    seen: list[bool] = []
    run_check(engine, load_settings({}), progress=lambda *_: seen.append(gc.isenabled()))
    assert seen and not any(seen) and gc.isenabled()

    def failing_merge(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk full")

    monkeypatch.setattr(quality_checks, "_merge", failing_merge)
    with pytest.raises(RuntimeError, match="disk full"):
        run_check(engine, load_settings({}))
    assert gc.isenabled()
    monkeypatch.undo()
    gc.disable()
    try:
        run_check(engine, load_settings({}))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_acknowledgement_lasts_until_the_finding_resolves(engine):
    seed_sprint2_scenario(engine, today=TODAY)
    settings = load_settings({})
    run_check(engine, settings, now=NOW)
    add_user(engine, "alice", "operator", "a-long-enough-password", by=SETUP)
    add_user(engine, "vic", "viewer", "a-long-enough-password", by=SETUP)
    finding = open_findings(engine, rule="core_without_supervisor").iloc[0]
    with pytest.raises(PermissionDenied, match="vic is a viewer"):
        acknowledge(engine, int(finding["id"]), "vic", "looks fine")
    with pytest.raises(InvalidInput, match="needs a note"):
        acknowledge(engine, int(finding["id"]), "alice", " ")
    with pytest.raises(ActionRefused, match="Say who"):
        acknowledge(engine, int(finding["id"]), "", "known")
    acknowledge(engine, int(finding["id"]), "alice", "Supervisor arrives in next week's feed")
    again = run_check(engine, settings, now=NOW + timedelta(hours=1))
    view = next(f for f in again.findings if f.rule == "core_without_supervisor")
    assert view.acknowledged
    assert open_findings(engine, acknowledged=True)["acknowledged_by"].tolist() == ["alice"]


def test_unknown_rules_are_refused(engine):
    with pytest.raises(InvalidInput, match="Unknown rule"):
        run_check(engine, load_settings({}), rules=["no_such_rule"])
    with pytest.raises(InvalidInput, match="crossmark_drift needs Crossmark"):
        run_check(engine, load_settings({}), rules=["crossmark_drift"])


def test_notification_failure_is_recorded_and_never_fails_the_run(engine):
    seed_sprint2_scenario(engine, today=TODAY)
    settings = load_settings({"SLACK_WEBHOOK_URL": "http://127.0.0.1:9/hook", "NOTIFY_MIN_SEVERITY": "warning"})
    result = run_check(engine, settings, now=NOW, notify=True)
    assert result.notification == "2 new finding(s): FAILED slack: connection failed"  # never the webhook's URL
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT status, notification FROM dashboard_check_runs WHERE id = :i"),
                                    {"i": result.run_id}).one()
    assert stored[0] == "done" and stored[1] == result.notification
    retried = run_check(engine, settings, now=NOW + timedelta(hours=1), notify=True)
    assert retried.new == 0  # not new any more, but never delivered: tried again (tests/test_findings_work.py)
    assert retried.notification == "2 new finding(s): FAILED slack: connection failed"


SCHEMA_RUN_LOCK = "SELECT pg_advisory_lock(:k, hashtext(current_schema()))"
SCHEMA_RUN_UNLOCK = "SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"


def test_two_runs_at_once_do_not_both_run_on_postgresql(postgres_schema_url):
    from services.store.database import make_engine
    from services.store.schema_admin import upgrade_database

    upgrade_database(postgres_schema_url)
    engine = make_engine(postgres_schema_url)
    holder = create_engine(postgres_schema_url)
    with holder.connect() as connection:
        connection.execute(text(SCHEMA_RUN_LOCK), {"k": ADVISORY_LOCK_CLASS})
        with pytest.raises(CheckAlreadyRunning, match="Another data-quality run is in progress"):
            run_check(engine, load_settings({}), now=NOW)
        connection.execute(text(SCHEMA_RUN_UNLOCK), {"k": ADVISORY_LOCK_CLASS})
    assert run_check(engine, load_settings({}), now=NOW).run_id >= 1
    engine.dispose()
    holder.dispose()


def test_a_run_in_another_schema_does_not_block_this_one_on_postgresql(postgres_schema_url, tmp_path):
    """Advisory locks are database-wide: the run lock is per schema, so a deployment in another schema of the same
    database (or a parallel test worker) in the middle of its checks does not stop this one's."""
    import threading

    from services.store.database import make_engine
    from services.store.schema_admin import upgrade_database

    upgrade_database(postgres_schema_url)
    engine = make_engine(postgres_schema_url)
    with private_database("postgresql", tmp_path) as other_url:
        upgrade_database(other_url)
        other_engine = make_engine(other_url)
        inside, release = threading.Event(), threading.Event()

        def hold_the_run(done: int, total: int, name: str) -> None:  # called while the other run holds its lock
            inside.set()
            release.wait(30)

        other_run = threading.Thread(target=run_check, args=(other_engine, load_settings({})),
                                     kwargs={"now": NOW, "progress": hold_the_run})
        other_run.start()
        try:
            assert inside.wait(30), "the other schema's run never started"
            assert run_check(engine, load_settings({}), now=NOW).run_id >= 1
        finally:
            release.set()
            other_run.join(30)
        other_engine.dispose()
    engine.dispose()


def test_cli_check_run_json_and_fail_on(tmp_path):
    path = tmp_path / "scheduler.db"
    assert run_cli("db", "upgrade", "--db", str(path)).returncode == 0
    assert run_cli("demo", "seed", "--scenario", "sprint2", "--db", str(path)).returncode == 0
    result = run_cli("check", "run", "--db", str(path), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"run_id", "started_at", "incremental", "full_because", "new", "resolved", "open_findings",
                            "open_by_rule", "notification", "findings"}
    assert payload["incremental"] is False and payload["open_findings"] == len(payload["findings"])
    assert sum(row["open"] for row in payload["open_by_rule"]) == len(payload["findings"])
    rules = {(f["rule"], f["core_ref"], f["supervisor_ref"]) for f in payload["findings"]}
    assert ("core_supervisor_unstaffed", 608001, 608002) in rules and ("core_without_supervisor", 606999, None) in rules
    assert set(payload["findings"][0]) == {"id", "rule", "severity", "event_number", "store", "refs", "core_ref",
                                           "supervisor_ref", "employee_id", "detail", "day", "first_seen", "owner",
                                           "due_by", "acknowledged", "new", "comments"}
    assert run_cli("check", "run", "--db", str(path), "--fail-on", "warning").returncode == 4
    assert run_cli("check", "run", "--db", str(path), "--fail-on", "critical").returncode == 0
    bad = run_cli("check", "run", "--db", str(path), "--rules", "nope")
    assert bad.returncode == 1 and "Unknown rule(s): nope" in bad.stderr
    finding_id = 1
    refused = run_cli("check", "ack", "--db", str(path), "--finding", str(finding_id), "--user", "alice", "--note", "ok")
    assert refused.returncode == 1 and "'alice' is not a user" in refused.stderr
    assert run_cli("users", "add", "alice", "--role", "operator", "--db", str(path),
                   stdin="a-long-enough-password\n").returncode == 0
    ack = run_cli("check", "ack", "--db", str(path), "--finding", str(finding_id), "--user", "alice", "--note", "ok")
    assert ack.returncode == 0 and "acknowledged by alice" in ack.stdout


def test_data_quality_page_runs_shows_and_fixes(open_page, tmp_path):  # noqa: F811
    from services.store.database import make_engine
    from services.store.schema_admin import upgrade_database

    url = f"sqlite:///{tmp_path / 'dq.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    seed_sprint2_scenario(engine, today=TODAY)
    app = open_page(url, "data_quality")
    assert any("No check has run yet" in i for i in _texts(app.info))
    app.button(key="run_checks").click().run()
    assert not app.exception
    table = app.dataframe[-1].value if len(app.dataframe) > 1 else app.dataframe[0].value
    findings = open_findings(engine)
    assert {"core_supervisor_unstaffed", "core_without_supervisor"} <= set(findings["rule"])
    warning_tile = next(m for m in app.metric if m.label == "Warning")
    assert int(warning_tile.value) == int((findings["severity"] == "warning").sum())
    assert len(table) >= 1
    engine.dispose()


def test_the_daily_trend_keeps_each_rules_last_check_of_the_day(engine):
    """One point per day and severity: each rule counts as the day's last run that checked it said, so a run of one rule
    later that day does not drop the other rules' findings to 0; every severity of every day is present."""
    from services.quality.checks import daily_trend
    from services.quality.rules import RULES

    seed_sprint2_scenario(engine, today=NOW.date())
    settings = load_settings({})
    first = run_check(engine, settings, now=NOW - timedelta(days=1))
    second = run_check(engine, settings, now=NOW)
    some_rule = sorted({f.rule for f in second.findings})[0]
    run_check(engine, settings, rules=[some_rule], now=NOW + timedelta(hours=1))  # later that day: one rule only
    daily = daily_trend(engine)
    assert sorted(set(daily["day"])) == [NOW.date() - timedelta(days=1), NOW.date()]
    assert set(daily["severity"]) == {"critical", "warning", "info"} and len(daily) == 6

    def per_severity(findings) -> dict[str, int]:  # noqa: ANN001
        totals = {"critical": 0, "warning": 0, "info": 0}
        for finding in findings:
            totals[finding.severity] += 1
        return totals

    for day, run in ((NOW.date() - timedelta(days=1), first), (NOW.date(), second)):
        figures = dict(daily[daily["day"] == day][["severity", "open_findings"]].itertuples(index=False))
        assert figures == per_severity(run.findings), (day, figures)
    assert set(RULES) >= {f.rule for f in second.findings}


def test_the_trend_chart_draws_one_line_per_severity_over_days():
    import pandas as pd

    from dashboard.charts import findings_trend_chart

    trend = pd.DataFrame([(date(2026, 12, 1), "critical", 4), (date(2026, 12, 1), "warning", 2),
                          (date(2026, 12, 1), "info", 0), (date(2026, 12, 2), "critical", 3),
                          (date(2026, 12, 2), "warning", 5), (date(2026, 12, 2), "info", 1)],
                         columns=["day", "severity", "open_findings"])
    figure = findings_trend_chart(trend)
    lines = {trace.name: (list(pd.to_datetime(trace.x).date), list(trace.y)) for trace in figure.data}
    assert lines == {"Critical": ([date(2026, 12, 1), date(2026, 12, 2)], [4, 3]),
                     "Warning": ([date(2026, 12, 1), date(2026, 12, 2)], [2, 5]),
                     "Info": ([date(2026, 12, 1), date(2026, 12, 2)], [0, 1])}
    assert len({trace.line.color for trace in figure.data}) == 3
