"""`make bench-smoke`: the sandbox CLI benchmark (bench/sandbox_cli.py) runs end to end in small, this tree beside the
commit it started from, and reports every run (figures are not judged here: `make bench`'s sizes are)."""
from __future__ import annotations

import re
from pathlib import Path

from bench.sandbox_cli import OURS, measure, render


def test_the_sandbox_cli_benchmark_runs_both_codes_at_two_sizes(tmp_path: Path) -> None:
    runs = measure([1_000, 2_000], rounds=1, before="HEAD", data_dir=tmp_path)
    assert sorted((run.code, run.events) for run in runs) == [
        ("before (HEAD)", 1_000), ("before (HEAD)", 2_000), (OURS, 1_000), (OURS, 2_000)]
    assert all(run.seconds > 0 and run.peak_mib > 20 for run in runs)  # a whole Python process was measured
    report = render(runs, rounds=1)
    for code in ("before (HEAD)", OURS):
        assert re.search(rf"\| {re.escape(code)} \| 2,000 \| \d+\.\d\d \| \d+ \|", report), report
        assert re.search(rf"\| {re.escape(code)} \| \d+\.\d\d× \| \d+\.\d\d× \|", report), report
