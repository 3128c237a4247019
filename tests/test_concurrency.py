"""Concurrency (issue 8): paired reschedules from many threads, and Calendar readers while writes happen.

The scenarios live in bench/concurrency.py (also a benchmark: `python -m bench.concurrency`); these tests run them on
fresh databases against the local fake Crossmark over HTTP and hold them to their invariants. Timings are reported by
the benchmark, never asserted (the machine may be busy).
"""
from __future__ import annotations

from pathlib import Path


from bench.concurrency import concurrent_reschedules, readers_during_writes

PAIRS, THREADS = 50, 10
READERS, WRITES = 20, 5


def _failures(result: dict, limit: int = 3) -> str:
    """The first failed actions (with the traceback of an exception) and invariant problems, for assertion messages."""
    lines = [f"{f['ref']} {f['status']}: {f['message']}\n{f.get('traceback', '')}" for f in result["failures"][:limit]]
    return "\n".join(lines + result["problems"][:10])


def _assert_all_moved_together(result: dict) -> None:
    assert result["statuses"] == {"done": PAIRS}, _failures(result)
    assert result["operations"] == {"done": PAIRS}, result["operations"]
    assert result["locks_left"] == 0
    assert set(result["steps"]) == {"ok"}, result["steps"]
    assert result["crossmark_writes"] == 2 * PAIRS  # one schedule call per CORE and per Supervisor, none repeated
    assert result["problems"] == [], _failures(result)
    assert result["invariants"] == {name: True for name in result["invariants"]}, result["invariants"]
    assert result["invariants_hold"]
    assert result["throughput_per_s"] > 0 and result["wall_s"] > 0


def test_concurrent_paired_reschedules_on_postgresql(postgres_schema_url: str) -> None:
    """50 paired reschedules on 50 different pairs from 10 threads: all done, no deadlock, no lock left, each CORE at
    its target with its Supervisor at the rule time, database and Crossmark in agreement, nothing else touched."""
    result = concurrent_reschedules(postgres_schema_url, pairs=PAIRS, threads=THREADS)
    assert result["backend"] == "postgresql"
    _assert_all_moved_together(result)


def test_concurrent_paired_reschedules_on_sqlite(tmp_path: Path) -> None:
    """The same on SQLite, which serialises writers: all must still succeed, waiting for each other (write
    transactions take the write lock at BEGIN IMMEDIATE; see services/store/database.py)."""
    result = concurrent_reschedules(f"sqlite:///{tmp_path / 'scheduler.db'}", pairs=PAIRS, threads=THREADS)
    assert result["backend"] == "sqlite"
    _assert_all_moved_together(result)


def test_calendar_readers_during_writes(database_url: str) -> None:
    """20 readers loop on the Calendar's month and the data-version stamp while a writer moves COREs to other days:
    no error; each read not straddling a write shows exactly its stamp's state; the stamp never goes back; once the
    last write has committed, every reader's next read has the new counts at the new stamp."""
    result = readers_during_writes(database_url, readers=READERS, writes=WRITES)
    assert result["error_count"] == 0, result["errors"]
    assert result["write_statuses"] == {"done": WRITES}, result["write_failures"]
    assert result["reads"] > READERS and result["reads_during_writes"] > 0
    assert result["judged_reads"] > 0  # reads between writes were compared with the writer's view of their stamp
    assert result["wrong_reads"] == 0
    assert result["stamp_regressions"] == 0
    first, last = result["data_version"]
    assert last >= first + WRITES  # every committed write bumped the stamp
    assert result["post_write_reads"] == READERS and result["stale_post_write_reads"] == 0
    assert result["checks"] == {name: True for name in result["checks"]}, result["checks"]
    assert result["checks_hold"]
