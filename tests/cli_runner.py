"""Runs the real CLI in a subprocess, as cron or a person would."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    # Tests name their database with --db; a developer's own SCHEDULER_DATABASE_URL must never leak in.
    environment = {key: value for key, value in os.environ.items() if key != "SCHEDULER_DATABASE_URL"}
    environment.setdefault("DASHBOARD_LOG_FILE", "")  # tests keep the developer's log file clean
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "services", *args], cwd=ROOT, env=environment, input=stdin,
                          capture_output=True, text=True, timeout=300)
