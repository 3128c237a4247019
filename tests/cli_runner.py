"""Runs the CLI as cron or a person would: `run_cli` calls `services.cli.main.main(argv)` in this process (fast: no
interpreter start and no imports per call); `run_cli_process` runs `python -m services` as a real process, for the
entry point itself (tests/test_cli_entry_point.py) and for tests that need a separate process (crashes, races).

Both answer a subprocess.CompletedProcess (args, returncode, stdout, stderr), so a test reads either the same way."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Tests name their database with --db; a developer's own SCHEDULER_DATABASE_URL must never leak in.
DROPPED = ("SCHEDULER_DATABASE_URL",)
# The process-wide state one in-process run borrows (environment, working directory, standard streams, the root
# logger) is restored after it; runs from several threads of a test take turns.
_IN_PROCESS = threading.Lock()


def _environment(env: Mapping[str, str] | None, unset_prefixes: tuple[str, ...]) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()
                   if key not in DROPPED and not key.startswith(unset_prefixes)}
    environment.setdefault("DASHBOARD_LOG_FILE", "")  # tests keep the developer's log file clean
    environment.update(env or {})
    return environment


def run_cli_process(*args: str, env: Mapping[str, str] | None = None, stdin: str | None = None,
                    cwd: Path = ROOT, unset_prefixes: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`python -m services ARGS` in a new process (the project on its path wherever `cwd` is)."""
    environment = _environment(env, unset_prefixes)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "services", *args], cwd=cwd, env=environment, input=stdin,
                          capture_output=True, text=True, timeout=300)


@contextlib.contextmanager
def _borrowed_environment(environment: dict[str, str]) -> Iterator[None]:
    """os.environ is exactly `environment` inside (settings are read from it at each call), as before after. Only the
    variables that differ are touched: threads of the test (a fake server) never see an emptied environment."""
    saved = dict(os.environ)
    for key in saved.keys() - environment.keys():
        del os.environ[key]
    os.environ.update({key: value for key, value in environment.items() if saved.get(key) != value})
    try:
        yield
    finally:
        for key in os.environ.keys() - saved.keys():
            del os.environ[key]
        os.environ.update({key: value for key, value in saved.items() if os.environ.get(key) != value})


@contextlib.contextmanager
def _own_logging() -> Iterator[None]:
    """main() configures the root logger (our JSON handlers, its level, pinned library loggers): undone afterwards,
    so no handler (or its open log file) of one run is left for the next run or the next test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from services.ops.logging_setup import NOISY_LOGGERS

    pinned = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    handler_levels = {handler: handler.level for handler in handlers}
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
        root.handlers[:] = handlers
        for handler, handler_level in handler_levels.items():
            handler.setLevel(handler_level)
        root.setLevel(level)
        for name, pinned_level in pinned.items():
            logging.getLogger(name).setLevel(pinned_level)


def _exit_status(code: object, stderr: io.StringIO) -> int:
    """What the interpreter makes of SystemExit(code): None is 0, a number is itself, anything else is printed, 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=stderr)
    return 1


def run_cli(*args: str, env: Mapping[str, str] | None = None, stdin: str | None = None, cwd: Path = ROOT,
            unset_prefixes: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """`python -m services ARGS`, run in this process: main(argv) with the environment of run_cli_process (`env` on top
    of this process's, without SCHEDULER_DATABASE_URL and variables starting with `unset_prefixes`), `cwd` as the
    working directory (where .streamlit/secrets.toml is read), `stdin` as standard input (empty when None), standard
    output and error captured. An exception main() lets out is printed as the interpreter would (a traceback, exit 1),
    so a test that says "no traceback" still can fail."""
    from services.cli.main import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with _IN_PROCESS:
        saved_stdin, saved_cwd = sys.stdin, os.getcwd()
        try:
            with _borrowed_environment(_environment(env, unset_prefixes)), _own_logging(), \
                    contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                sys.stdin = io.StringIO(stdin or "")
                os.chdir(cwd)
                try:
                    returncode = main(list(args))
                except SystemExit as done:
                    returncode = _exit_status(done.code, stderr)
                except Exception:  # noqa: BLE001 - what `python -m services` would print before exiting 1
                    traceback.print_exc(file=stderr)
                    returncode = 1
        finally:
            sys.stdin = saved_stdin
            os.chdir(saved_cwd)
    return subprocess.CompletedProcess(["python", "-m", "services", *args], returncode, stdout.getvalue(),
                                       stderr.getvalue())
