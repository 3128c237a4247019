"""CLI `demo seed` (run in process, tests/cli_runner.py) on real databases; what `make run` does the first time and
every time after."""
from __future__ import annotations

from sqlalchemy import create_engine, text

from tests.cli_runner import run_cli


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        value = connection.execute(text(sql)).scalar_one()
    engine.dispose()
    return value


def test_first_run_seeds_and_later_runs_leave_the_data_alone(tmp_path):
    path = tmp_path / "scheduler.db"
    url = f"sqlite:///{path}"
    assert run_cli("db", "upgrade", "--db", str(path)).returncode == 0

    first = run_cli("demo", "seed", "--if-empty", "--db", str(path), "--today", "2026-11-22", "--events", "1200")
    assert first.returncode == 0, first.stderr
    assert "Seeded sqlite:///" in first.stdout and "1200 events" in first.stdout
    assert "core_supervisor_unstaffed" in first.stdout
    assert _count(url, "SELECT COUNT(*) FROM events") == 1200
    # Two months before today to two months after, by default.
    assert _count(url, "SELECT COUNT(*) FROM events WHERE start_datetime < '2026-09-01'") == 0
    assert _count(url, "SELECT COUNT(*) FROM events WHERE start_datetime >= '2026-11-01'") > 0
    assert _count(url, "SELECT COUNT(*) FROM events WHERE due_datetime >= '2027-01-15'") > 0
    assert _count(url, "SELECT COUNT(*) FROM events WHERE due_datetime >= '2027-01-01'") < 1200 // 4

    second = run_cli("demo", "seed", "--if-empty", "--db", str(path))
    assert second.returncode == 0 and "already holds 1200 events; not seeding" in second.stdout
    refused = run_cli("demo", "seed", "--db", str(path))
    assert refused.returncode == 1 and "only writes into an empty database" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _count(url, "SELECT COUNT(*) FROM events") == 1200


def test_sprint2_scenario_and_refusals(tmp_path):
    path = tmp_path / "scheduler.db"
    url = f"sqlite:///{path}"
    not_upgraded = run_cli("demo", "seed", "--scenario", "sprint2", "--db", str(path))
    assert not_upgraded.returncode == 1 and "There is no database at" in not_upgraded.stderr

    assert run_cli("db", "upgrade", "--db", str(path)).returncode == 0
    seeded = run_cli("demo", "seed", "--scenario", "sprint2", "--db", str(path), "--today", "2026-11-22")
    assert seeded.returncode == 0, seeded.stderr
    assert _count(url, "SELECT COUNT(*) FROM events WHERE project_ref_num IN (606001, 606002, 606999, 608001, 608002)") == 5
    assert _count(url, "SELECT COUNT(*) FROM schedules WHERE event_ref_num = 606002 "
                       "AND schedule_datetime LIKE '2026-11-29 12:30%'") == 1
    again = run_cli("demo", "seed", "--scenario", "sprint2", "--db", str(path))
    assert again.returncode == 1 and "Traceback" not in again.stderr

    bad = run_cli("demo", "seed", "--db", str(tmp_path / "other.db"), "--stores", "0")
    assert bad.returncode == 2 and "must be 1 or more" in bad.stderr
