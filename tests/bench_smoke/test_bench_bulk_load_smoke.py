"""`make bench-smoke`: the bulk-load benchmark (bench/bulk_load.py) runs end to end in small, on SQLite (and on
PostgreSQL when TEST_DATABASE_URL is set): every figure measured, the stamp moved once by a load, the report written."""
from __future__ import annotations

from bench.bulk_load import WRITE_BLOCKS, WRITES_PER_BLOCK, report, run
from tests.conftest import POSTGRES_URL


def test_the_bulk_load_benchmark_runs_in_small() -> None:
    rows = [("SQLite", run(None, 500, 1))] + ([("PostgreSQL", run(POSTGRES_URL, 500, 1))] if POSTGRES_URL else [])
    for _, figures in rows:
        assert figures.version_bumps == 1  # bulk_load bumps once, whatever the number of rows
        assert min(figures.load_without_s, figures.load_with_s, figures.write_without_ms, figures.write_with_ms) > 0
    text = report(rows, 500, 1)
    assert f"{WRITE_BLOCKS // 2 * WRITES_PER_BLOCK} without" in text
    assert all(f"| {name} | " in text for name, _ in rows)
