"""`make bench-smoke`: the batch benchmark (bench/batches.py) runs end to end in small and every item is done."""
from __future__ import annotations

from pathlib import Path

from bench.batches import run


def test_the_batch_benchmark_runs_in_small(tmp_path: Path) -> None:
    per_item, single, done, singles_done = run(f"sqlite:///{tmp_path / 'bench.db'}", 5)
    assert (done, singles_done) == (5, 5) and per_item > 0 and single > 0
