"""`python -m services` as a real process: every command group answers --help, and a real command works end to end
(interpreter start, services/__main__.py, exit status, output, nothing on stderr, the log file). Everything else about
the CLI runs main(argv) in the test's process (tests/cli_runner.py), which is many times faster; the last test holds
that runner to the process's answers."""
from __future__ import annotations

import json
import logging
import os
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from services.access.accounts import OPERATOR, SETUP, add_user
from services.cli.main import GROUPS
from services.demo.demo_data import seed_sprint2_scenario
from services.store.database import make_engine
from services.store.schema_admin import upgrade_database
from tests.cli_runner import run_cli, run_cli_process

TODAY = date.today()


# One command of each command group (a module of services/cli) whose --help is read as a process.
HELP = {"db": ("db",), "demo": ("demo", "seed"), "actions": ("unschedule",), "batch": ("batch", "rep-out"),
        "timeline": ("timeline",),
        "users": ("users",), "ops": ("health",), "check": ("check", "run"), "digest": ("digest", "weekly"),
        "sync": ("sync",)}


def test_every_command_group_has_its_smoke_test():
    assert sorted(HELP) == sorted(group.__name__.rsplit(".", 1)[-1] for group in GROUPS)


@pytest.mark.parametrize("group", list(HELP))
def test_the_command_group_answers_help_as_a_process(group: str):
    usage = run_cli_process(*HELP[group], "--help")
    assert usage.returncode == 0, usage.stderr
    assert usage.stdout.startswith(f"usage: python -m services {' '.join(HELP[group])} ") and usage.stderr == ""


@pytest.fixture
def sprint2_file(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'scheduler.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    seed_sprint2_scenario(engine, today=TODAY)
    add_user(engine, "olga", OPERATOR, "long-enough-password", by=SETUP)
    engine.dispose()
    return url


def test_a_paired_action_end_to_end_as_a_process(sprint2_file: str, tmp_path: Path):
    """An unschedule in the sandbox, as cron or a person runs it: the answer on stdout, nothing on stderr, the JSON log
    lines in the log file, and the pair unscheduled in the database."""
    log_file = tmp_path / "cli.jsonl"
    done = run_cli_process("unschedule", "--event", "606001", "--user", "olga", "--db", sprint2_file,
                           env={"DASHBOARD_LOG_FILE": str(log_file)})
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "DONE — Done: CORE 606001 → unscheduled; Supervisor 606002 → unscheduled" in done.stdout
    assert done.stderr == ""  # the JSON log lines go to the log file, never to a person's terminal
    logged = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert logged and all({"ts", "level", "logger", "message"} <= set(line) for line in logged)
    engine = make_engine(sprint2_file)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM schedules WHERE event_ref_num IN (606001, 606002)")
                                  ).scalar_one() == 0
    engine.dispose()


def test_in_process_runs_answer_as_the_process_does_and_leave_this_process_as_they_found_it(sprint2_file: str,
                                                                                            tmp_path: Path):
    """tests/cli_runner.run_cli, which the other CLI tests use: the same exit code and output as `python -m services`,
    the environment it was given applied during the call only, and the environment, working directory, standard input
    and root logger (handlers, levels) of this process as they were."""
    root = logging.getLogger()
    before = (dict(os.environ), os.getcwd(), sys.stdin, list(root.handlers), root.level)
    answers = {}
    for name, args in {"done": ("users", "list", "--db", sprint2_file), "usage": ("reschedule", "--event", "x"),
                       "failed": ("db", "status", "--db", str(tmp_path / "absent.db"))}.items():
        in_process, answers[name] = run_cli(*args), run_cli_process(*args)
        assert (in_process.returncode, in_process.stdout, in_process.stderr) == \
            (answers[name].returncode, answers[name].stdout, answers[name].stderr), args
    assert answers["done"].returncode == 0 and answers["done"].stdout.startswith("olga ")
    usage = answers["usage"]  # a usage error: exit 2, one line saying where the usage is
    assert usage.returncode == 2 and usage.stdout == "" and usage.stderr.count("\n") == 1
    assert "(usage: python -m services reschedule --help)" in usage.stderr
    failed = answers["failed"]  # a failure: exit 1, one line, no traceback
    assert failed.returncode == 1 and failed.stderr.startswith("error: There is no database at")
    assert "Traceback" not in failed.stderr
    refused = run_cli("db", "status", "--db", sprint2_file, env={"SUPERVISOR_RULE_MODE": "weekly"})
    assert refused.returncode == 1 and "SUPERVISOR_RULE_MODE must be 'offset' or 'fixed'" in refused.stderr
    assert (dict(os.environ), os.getcwd(), sys.stdin, list(root.handlers), root.level) == before
