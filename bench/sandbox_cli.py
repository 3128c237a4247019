"""Benchmark: a paired reschedule through the CLI on the sandbox (`python -m services reschedule`, no
CROSSMARK_BASE_URL) at 10,000 and at 1,000,000 events, side by side in one run (issue 22: the 1M run within 1.5× of
the 10k run). Each run is a whole process, as an ops person starts it: its wall time, and its peak RSS read from the
kernel (wait4). With --before REV, the same runs of an older commit's code (extracted with `git archive`) are
interleaved with ours on the same databases, round by round, since this shared machine's speed drifts within minutes.

    .venv/bin/python -m bench.sandbox_cli [--sizes 10000,1000000] [--rounds 5] [--before main] [--data-dir data]

Databases are built once with the demo generator, as `make bench` builds them (bench/run.py), and reused. Each run
moves one CORE and its scheduled Supervisor between 09:45 and 10:30 of their day, so the databases stay as they were.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select

from bench.paired_actions import _pairs
from bench.run import BENCH_USER, ROOT, build, database_url, ensure_bench_user
from services.store.database import make_engine
from services.store.tables import Schedule

OURS = "this tree"


@dataclass(frozen=True)
class Run:
    code: str
    events: int
    seconds: float
    peak_mib: float


@contextmanager
def code_trees(before: str | None) -> Iterator[dict[str, Path]]:
    """{label: folder to run `python -m services` in}: this tree, and the commit `before` extracted to a temporary
    folder (its code only: it runs on the same databases)."""
    trees = {OURS: ROOT}
    with tempfile.TemporaryDirectory() as folder:
        if before is not None:
            archive = subprocess.run(["git", "archive", before], cwd=ROOT, capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
            trees = {f"before ({before})": Path(folder), **trees}
        yield trees


def _scheduled_at(url: str, ref: int) -> datetime:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            value = connection.execute(select(Schedule.schedule_datetime)
                                       .where(Schedule.event_ref_num == ref)).scalar_one()
    finally:
        engine.dispose()
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def reschedule_once(tree: Path, url: str, ref: int) -> tuple[float, float]:
    """One `python -m services reschedule` of the CORE `ref` (to the other of its two slots) in its own process, on
    the sandbox: (wall seconds, peak RSS in MiB). Fails unless the action is done."""
    when = _scheduled_at(url, ref)
    target = when.replace(hour=9, minute=45) if (when.hour, when.minute) != (9, 45) else when.replace(hour=10, minute=30)
    env = {name: value for name, value in os.environ.items() if not name.startswith("CROSSMARK_")}
    env["PYTHONPATH"] = str(tree)
    command = [sys.executable, "-m", "services", "reschedule", "--db", url, "--event", str(ref),
               "--to", f"{target:%Y-%m-%dT%H:%M}", "--user", BENCH_USER, "--json"]
    with tempfile.TemporaryFile("w+") as output, tempfile.TemporaryFile("w+") as errors:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=tree, env=env, stdout=output, stderr=errors, text=True)
        # wait4 rather than Popen.wait: the kernel's peak RSS of this one child (RUSAGE_CHILDREN would be the
        # largest of every child so far)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        errors.seek(0)
        printed, complaint = output.read(), errors.read()
    if child.returncode != 0:
        raise RuntimeError(f"reschedule of {ref} exited {child.returncode}: {complaint[-2000:]}")
    result = json.loads(printed.strip().splitlines()[-1])
    if result.get("status") != "done" or result.get("crossmark") != "sandbox":
        raise RuntimeError(f"reschedule of {ref} ended {result.get('status')} on {result.get('crossmark')}: "
                           f"{result.get('message')}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def measure(sizes: list[int], rounds: int, before: str | None, data_dir: Path) -> list[Run]:
    """Every (code, size) once per round, interleaved; a first round unmeasured (file cache, .pyc files)."""
    refs = {}
    for size in sizes:
        build("sqlite", size, data_dir, None)
        url = database_url("sqlite", size, data_dir, None)
        engine = make_engine(url)
        try:
            ensure_bench_user(engine)
            (ref, _), = _pairs(engine, date.today(), 1)
        finally:
            engine.dispose()
        refs[size] = (url, ref)
    runs = []
    with code_trees(before) as trees:
        for round_number in range(rounds + 1):
            for size, (url, ref) in refs.items():
                for code, tree in trees.items():
                    seconds, peak = reschedule_once(tree, url, ref)
                    if round_number:
                        runs.append(Run(code, size, seconds, peak))
    return runs


def render(runs: list[Run], rounds: int) -> str:
    """The markdown table: per code and size the median wall time and peak RSS, and each code's ratio of its largest
    size to its smallest."""
    codes = list(dict.fromkeys(run.code for run in runs))
    sizes = sorted({run.events for run in runs})
    lines = [f"Median of {rounds} runs each, interleaved (a warm-up round first). Whole process: start-up, imports, "
             "the action (CORE + Supervisor, written to the sandbox and committed), exit.", "",
             "| code | events | wall s (median) | peak RSS MiB (median) |", "|---|---:|---:|---:|"]
    medians: dict[tuple[str, int], tuple[float, float]] = {}
    for code in codes:
        for size in sizes:
            mine = [run for run in runs if run.code == code and run.events == size]
            medians[code, size] = (statistics.median(r.seconds for r in mine), statistics.median(r.peak_mib for r in mine))
            lines.append(f"| {code} | {size:,} | {medians[code, size][0]:.2f} | {medians[code, size][1]:.0f} |")
    lines += ["", f"| code | wall {sizes[-1]:,} / {sizes[0]:,} | peak RSS {sizes[-1]:,} / {sizes[0]:,} |",
              "|---|---:|---:|"]
    for code in codes:
        (small_s, small_mib), (large_s, large_mib) = medians[code, sizes[0]], medians[code, sizes[-1]]
        lines.append(f"| {code} | {large_s / small_s:.2f}× | {large_mib / small_mib:.2f}× |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,1000000", help="comma-separated event counts (at least two)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", metavar="REV", help="also run this commit's code (e.g. main), interleaved")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    args = parser.parse_args(argv)
    try:
        sizes = sorted(int(size.replace("_", "")) for size in args.sizes.split(","))
    except ValueError:
        parser.error(f"--sizes must be comma-separated whole numbers, not {args.sizes!r}")
    if len(sizes) < 2 or sizes[0] < 1000 or args.rounds < 1:
        parser.error("give at least two sizes of at least 1000 events, and --rounds of at least 1")
    print(render(measure(sizes, args.rounds, args.before, args.data_dir), args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
