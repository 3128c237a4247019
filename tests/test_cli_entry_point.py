"""`python -m services` as a real process, one smoke test per command group: its --help and one real command work end
to end (interpreter start, services/__main__.py, exit status, output, nothing on stderr). Everything else about the
CLI runs main(argv) in the test's process (tests/cli_runner.py), which is many times faster."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from services.access.accounts import OPERATOR, SETUP, add_user
from services.cli.main import GROUPS
from services.demo.demo_data import seed_sprint2_scenario
from services.store.database import make_engine
from services.store.schema_admin import upgrade_database
from tests.cli_runner import run_cli_process

TODAY = date.today()


@dataclass(frozen=True)
class GroupSmoke:
    """One command group (a module of services/cli): the command whose --help is read, and one real command (run on
    the sprint2 scenario with an operator "olga", in the sandbox) with a phrase its output must hold."""

    help_command: tuple[str, ...]
    command: tuple[str, ...]
    says: str


SMOKES = {
    "db": GroupSmoke(("db",), ("db", "status"), "Schema revision: "),
    "demo": GroupSmoke(("demo", "seed"), ("demo", "seed", "--if-empty"), "already holds 5 events; not seeding"),
    "actions": GroupSmoke(("unschedule",), ("unschedule", "--event", "606001", "--user", "olga"),
                          "DONE — Done: CORE 606001 → unscheduled; Supervisor 606002 → unscheduled"),
    "timeline": GroupSmoke(("timeline",), ("timeline", "--event", "606001"), "Event 606001: 606001-CORE"),
    "users": GroupSmoke(("users",), ("users", "list"), "olga"),
    "ops": GroupSmoke(("health",), ("health",), '"healthy": true'),
    "check": GroupSmoke(("check", "run"), ("check", "run"), "core_supervisor_unstaffed"),
    "sync": GroupSmoke(("sync",), ("sync", "--from", TODAY.isoformat(), "--to", (TODAY + timedelta(days=14)).isoformat()),
                       "5 fetched"),
}


def test_every_command_group_has_its_smoke_test():
    assert sorted(SMOKES) == sorted(group.__name__.rsplit(".", 1)[-1] for group in GROUPS)


@pytest.fixture
def sprint2_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    seed_sprint2_scenario(engine, today=TODAY)
    add_user(engine, "olga", OPERATOR, "long-enough-password", by=SETUP)
    engine.dispose()
    return url


@pytest.mark.parametrize("group", list(SMOKES))
def test_the_command_group_runs_as_a_process(group: str, sprint2_file: str):
    smoke = SMOKES[group]
    usage = run_cli_process(*smoke.help_command, "--help")
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith(f"usage: python -m services {' '.join(smoke.help_command)} ") and usage.stderr == ""

    done = run_cli_process(*smoke.command, "--db", sprint2_file)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert smoke.says in done.stdout, done.stdout
    assert done.stderr == ""  # the JSON log lines go to the log file, never to a person's terminal
    if group == "actions":  # the action was carried out, not only reported
        engine = make_engine(sprint2_file)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM schedules WHERE event_ref_num IN (606001, 606002)")
                                      ).scalar_one() == 0
        engine.dispose()


def test_a_usage_error_and_a_failure_exit_with_their_codes_as_a_process(tmp_path: Path):
    usage = run_cli_process("reschedule", "--event", "x")
    assert usage.returncode == 2 and usage.stdout == ""
    assert usage.stderr.count("\n") == 1 and "(usage: python -m services reschedule --help)" in usage.stderr
    missing = run_cli_process("db", "status", "--db", str(tmp_path / "absent.db"))
    assert missing.returncode == 1 and missing.stderr.startswith("error: There is no database at")
    assert "Traceback" not in missing.stderr
