"""The browser benchmark (bench/browser_pages.py, `make bench-browser`) runs end to end on a tiny database with one
repetition, so it cannot rot: both servers start, the browser signs in, every page is drawn cold and warm, the report is
written. Not timed: only that each figure was measured."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import browser_pages

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not os.access(browser_pages.CHROMIUM, os.X_OK),
                                reason="browser benchmark smoke skipped: /usr/bin/chromium not found")


def test_the_browser_benchmark_measures_every_page_and_writes_its_report(tmp_path):
    # As `make bench-browser` runs it: its own process. In this one, the browser tests' session-wide Playwright may
    # already be running, and Playwright's sync API refuses to start inside a running asyncio loop.
    out = tmp_path / "benchmarks-browser.md"
    run = subprocess.run([sys.executable, "-m", "bench.browser_pages", "--events", "1000", "--repeat", "1",
                          "--data-dir", str(tmp_path), "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    result = json.loads(out.with_suffix(".json").read_text())
    assert result["events"] == 1000 and result["repeat"] == 1
    for page in ("floor", "widget", "frame", "calendar_static", "calendar", "day", "day_cards"):
        for state in ("cold", "warm"):
            samples = result["samples"][page][state]
            assert len(samples) == 1 and samples[0] > 0, (page, state)
    report = out.read_text()
    for row in ("One-line Streamlit page (floor)", "For reference: the floor plus one button (a widget's code loaded on first use)",
                "Calendar (month)", "Day view, one club, as it opens",
                "Day view, one club, as cards (?view=cards)"):
        assert f"| {row} |" in report
    assert (tmp_path / "bench-1000.db").exists()  # the database is bench/run.py's, built by its builder
