"""Benchmark: the service's own overhead for a paired reschedule (CORE + Supervisor) against a zero-latency Crossmark
(the in-process simulator), median and p95 over N actions, on SQLite and optionally PostgreSQL; and what each action
asked of the database (medians per action): statements handed to the driver, commits and pool checkouts, counted on
the acting thread (the in-process simulator's own reads of the database included: per action 2 checkouts, and 4
statements on SQLite, 2 on PostgreSQL, whose driver sends BEGIN itself).

With --before REV, an older commit's code (extracted with `git archive`, run with this file) is measured too, in the
same run: `--rounds` rounds, each running both codes one after the other (this shared machine's speed drifts within
minutes), each run a process of its own on fresh databases; the table gives the medians of the runs' medians and the
ratio of ours to theirs.

With --scale N, the runs act on copies of bench.run's databases of N events instead (data/bench-N.db, and the
PostgreSQL schema bench_N, copied with pg_dump into a schema of this run's own), made once and dropped at the end: the
originals are only read. Each code has copies of its own, which its first run brings to its own head revision (so a
migration's triggers are measured with the code that brings them, and older code runs on the schema it knew). There
the sandbox holds only the pairs acted on (as bench.run's paired reschedules), and each run moves pairs the runs before
it may have moved already (the other Core slot of the same day).

    .venv/bin/python -m bench.paired_actions [--actions 200] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]
                                             [--before main --rounds 3] [--scale 1000000 --data-dir data]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, event, make_url, text

from bench.databases import on_each_database
from bench.run import select_events
from services.crossmark.client import make_crossmark_client
from services.crossmark.sandbox import simulator_from_database
from services.store.database import make_engine
from services.demo.demo_data import seed_demo_data
from services.actions.paired_actions import PairedActions
from services.domain.pairing import SUPERVISOR_SCHEDULED
from services.reads.pairing import supervisors_for_cores
from services.store.schema_admin import upgrade_database
from services.settings import load_settings


def _pairs(engine, today: date, wanted: int) -> list[tuple[int, datetime]]:  # noqa: ANN001
    """The first `wanted` COREs (by ref) scheduled from the day after tomorrow, inside their window, whose Supervisor is
    scheduled too, read
    a page of COREs at a time: at 1,000,000 events pairing every such CORE at once held half a gigabyte."""
    page = max(wanted * 4, 100)
    chosen: list[tuple[int, datetime]] = []
    after_ref = None
    with engine.connect() as connection:
        while len(chosen) < wanted:
            cores = connection.execute(text(
                "SELECT e.project_ref_num, e.project_name, e.location_mvid, e.store_number, s.schedule_datetime "
                "FROM events e JOIN schedules s ON s.event_ref_num = e.project_ref_num "
                "WHERE e.event_type = 'Core' AND s.schedule_datetime > :after AND e.due_datetime > :later "
                # moved the same day, so still inside the event's window (another writer may have moved it out)
                "AND s.schedule_datetime BETWEEN e.start_datetime AND e.due_datetime "
                "AND e.project_ref_num > :after_ref ORDER BY e.project_ref_num LIMIT :page"),
                {"after": datetime.combine(today + timedelta(days=2), datetime.min.time()),
                 "later": datetime.combine(today + timedelta(days=3), datetime.min.time()),
                 "after_ref": -1 if after_ref is None else after_ref, "page": page}).all()
            if not cores:
                break
            matches = supervisors_for_cores(connection, [(r[0], r[1], r[2], r[3]) for r in cores])
            for ref, *_, when in cores:
                when = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
                if matches[ref].state == SUPERVISOR_SCHEDULED and len(chosen) < wanted:
                    chosen.append((ref, when))
            after_ref = cores[-1][0]
    return chosen


ROOT = Path(__file__).resolve().parents[1]
OURS = "this tree"
OWN_NOTE = ("\n\"median\" is the whole action against the in-process Crossmark; \"own\" is the median of each action less "
            "the time the simulator spent answering it (its handler and its own database reads), which a real "
            "Crossmark's reply replaces: the service's own overhead.")


class _SimulatorTime:
    """The time the in-process Crossmark spends answering (its handler, database reads included), summed per action:
    what a real Crossmark's answer would cost instead, so the median without it is the service's own overhead."""

    def __init__(self, simulator) -> None:  # noqa: ANN001 - a CrossmarkSimulator
        self.spent = 0.0
        handle = simulator.handle

        def timed(*arguments, **options):  # noqa: ANN002, ANN003, ANN202 - the simulator's own signature
            started = time.perf_counter()
            try:
                return handle(*arguments, **options)
            finally:
                self.spent += time.perf_counter() - started

        simulator.handle = timed  # the transport calls simulator.handle: the instance attribute shadows the method

    def taken(self) -> float:
        """Milliseconds spent since the last call."""
        spent, self.spent = self.spent, 0.0
        return spent * 1000


class _Counts:
    """Statements, commits and checkouts on one engine, by the thread that made the counter (the acting one)."""

    def __init__(self, engine: Engine) -> None:
        self.thread = threading.get_ident()
        self.statements = self.commits = self.checkouts = 0
        self._hooks = [(engine, "before_cursor_execute", self._statement), (engine, "commit", self._commit),
                       (engine.pool, "checkout", self._checkout)]
        for target, name, hook in self._hooks:
            event.listen(target, name, hook)

    def _statement(self, *_arguments: object) -> None:
        self.statements += threading.get_ident() == self.thread

    def _commit(self, *_arguments: object) -> None:
        self.commits += threading.get_ident() == self.thread

    def _checkout(self, *_arguments: object) -> None:
        self.checkouts += threading.get_ident() == self.thread

    def taken(self) -> tuple[int, int, int]:
        """The counts so far, and back to zero."""
        counts = (self.statements, self.commits, self.checkouts)
        self.statements = self.commits = self.checkouts = 0
        return counts

    def close(self) -> None:
        for target, name, hook in self._hooks:
            event.remove(target, name, hook)


def run(url: str, actions_count: int, existing: bool = False) -> tuple[float, float, int, float, float, float, float]:
    """One code's run on one database: a fresh one seeded here, or (`existing`) a copy of a large one."""
    today = date.today()
    # A copy of a large database (existing) too: brought to this code's head, a no-op after its first run (the backup
    # an upgrade makes of an SQLite file goes beside the copy, into the run's temporary folder).
    upgrade_database(url, confirmed=True)
    engine = make_engine(url)
    settings = load_settings({})
    if not existing:
        seed_demo_data(engine, events=max(4000, actions_count * 12), stores=5, start=today - timedelta(days=10),
                       months=2, today=today)
        simulator = simulator_from_database(engine, settings.crossmark_timezone)
    pairs = _pairs(engine, today, actions_count)
    if existing:  # the pairs acted on, not a million events in memory
        with engine.connect() as connection:
            cores = connection.execute(select_events(pairs)).all()
            supervisors = supervisors_for_cores(connection, cores)
        refs = [ref for ref, _ in pairs] + [match.supervisor.ref for match in supervisors.values() if match.supervisor]
        simulator = simulator_from_database(engine, settings.crossmark_timezone, refs=refs)
    service = PairedActions(engine, lambda: make_crossmark_client(settings, simulator=simulator))
    samples, own, moved = [], [], 0
    statements, commits, checkouts = [], [], []
    counts, crossmark = _Counts(engine), _SimulatorTime(simulator)
    for ref, when in pairs:
        target = when.replace(hour=9, minute=45) if when.hour != 9 else when.replace(hour=10, minute=30)
        counts.taken()
        crossmark.taken()
        started = time.perf_counter()
        result = service.reschedule(ref, target, "bench", key=uuid.uuid4().hex)
        samples.append((time.perf_counter() - started) * 1000)
        own.append(samples[-1] - crossmark.taken())
        for column, value in zip((statements, commits, checkouts), counts.taken()):
            column.append(value)
        moved += result.status == "done"
    counts.close()
    engine.dispose()
    samples.sort()
    return (statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], moved,
            statistics.median(statements), statistics.median(commits), statistics.median(checkouts),
            statistics.median(own))


@contextmanager
def code_trees(before: str | None) -> Iterator[dict[str, Path]]:
    """{label: folder to run this benchmark in}: this tree, and the commit `before` extracted to a temporary folder
    with this file put in it (the older code measured the same way)."""
    trees = {OURS: ROOT}
    with tempfile.TemporaryDirectory() as folder:
        if before is not None:
            archive = subprocess.run(["git", "archive", before], cwd=ROOT, capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
            shutil.copy(Path(__file__), Path(folder) / "bench" / "paired_actions.py")
            trees = {f"before ({before})": Path(folder), **trees}
        yield trees


@contextmanager
def scaled_copies(events: int, data_dir: Path, postgres: str | None) -> Iterator[list[str]]:
    """[--on URL, ...] arguments naming copies of bench.run's databases of `events` events: the SQLite file copied to
    a temporary folder, and the PostgreSQL schema bench_<events> dumped into a schema of its own (pg_dump reads the
    original; psql restores it renamed). Both are removed afterwards."""
    source = data_dir / f"bench-{events}.db"
    if not source.exists():
        raise SystemExit(f"{source} is missing: build it with python -m bench.run first")
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / source.name
        shutil.copyfile(source, copy)
        arguments = ["--on", f"sqlite:///{copy}"]
        if postgres is None:
            yield arguments
            return
        original, schema = f"bench_{events}", f"bench_{events}_paired_{uuid.uuid4().hex[:6]}"
        server = make_url(postgres)
        connection = ["-h", server.host or "localhost", "-p", str(server.port or 5432), "-U", server.username or "postgres",
                      "-d", server.database or "postgres"]
        environment = {**os.environ, **({"PGPASSWORD": server.password} if server.password else {})}
        dump = subprocess.run(["pg_dump", "--no-owner", "-n", original, *connection], capture_output=True,
                              check=True, env=environment).stdout
        try:
            # Every name the dump qualifies with the original schema, renamed; the data holds no such text.
            subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-1", *connection], env=environment, check=True,
                           input=dump.replace(f"{original}.".encode(), f"{schema}.".encode())
                           .replace(f"SCHEMA {original}".encode(), f"SCHEMA {schema}".encode()),
                           capture_output=True)
            subprocess.run(["psql", "-q", *connection, "-c", "VACUUM ANALYZE"], env={
                **environment, "PGOPTIONS": f"-csearch_path={schema}"}, check=True, capture_output=True)
            yield arguments + ["--on", server.update_query_dict({"options": f"-csearch_path={schema}"})
                               .render_as_string(hide_password=False)]
        finally:
            subprocess.run(["psql", "-q", *connection, "-c", f"DROP SCHEMA IF EXISTS {schema} CASCADE"],
                           env=environment, check=True, capture_output=True)


def side_by_side(actions: int, postgres: str | None, before: str | None, rounds: int,
                 databases: Callable[[str], list[str]] | None = None) -> list[tuple]:
    """[(database, code, median, p95, done, statements, commits, checkouts, median without the simulator's answering)]:
    medians over the rounds' runs, each on
    fresh databases, or on `databases(code)` (--on URL arguments: that code's own copies) when given."""
    runs: dict[tuple[str, str], list[list]] = {}
    with code_trees(before) as trees:
        for _round in range(rounds):
            for label, tree in trees.items():
                command = [sys.executable, "-m", "bench.paired_actions", "--actions", str(actions), "--json"]
                where = databases(label) if databases else (["--postgres", postgres] if postgres else [])
                completed = subprocess.run(command + where, cwd=tree, capture_output=True, text=True, check=True)
                for name, *row in json.loads(completed.stdout.strip().splitlines()[-1]):
                    runs.setdefault((name, label), []).append(row)
    return [(name, label, *(statistics.median(row[i] for row in rows) for i in range(7)))
            for (name, label), rows in sorted(runs.items(), key=lambda item: (item[0][0] != "SQLite", item[0][1] == OURS))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=200)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be used (a schema is created)")
    parser.add_argument("--before", metavar="REV", help="also run this commit's code (e.g. main), interleaved")
    parser.add_argument("--rounds", type=int, default=3, help="with --before: runs of each code (default 3)")
    parser.add_argument("--scale", type=int, metavar="EVENTS",
                        help="act on copies of bench.run's databases of this many events (e.g. 1000000)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data", help="with --scale: where bench-N.db is")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one run's rows, for --before
    parser.add_argument("--on", action="append", help=argparse.SUPPRESS)  # with --json: existing databases' URLs
    args = parser.parse_args()
    if args.json:
        print(json.dumps(on_each_database(lambda url: run(url, args.actions), args.postgres) if not args.on else
                         [("SQLite" if url.startswith("sqlite") else "PostgreSQL", *run(url, args.actions, True))
                          for url in args.on]))
        return
    size = f", on copies of the {args.scale:,}-event databases" if args.scale else ""
    print(f"\nPaired reschedule (CORE + Supervisor), zero-latency in-process Crossmark, {args.actions} actions{size}\n")
    if args.scale:
        with ExitStack() as copies:
            made: dict[str, list[str]] = {}

            def databases(code: str) -> list[str]:
                """This code's own copies, made before its first run."""
                if code not in made:
                    made[code] = copies.enter_context(scaled_copies(args.scale, args.data_dir, args.postgres))
                return made[code]

            rows = side_by_side(args.actions, args.postgres, args.before, args.rounds if args.before else 1,
                                databases)
    elif args.before:
        rows = side_by_side(args.actions, args.postgres, args.before, args.rounds)
    if args.before or args.scale:
        theirs = {name: median for name, label, median, *_ in rows if label != OURS}
        if args.before:
            print(f"Medians of {args.rounds} runs of each code, interleaved.\n")
        print("| database | code | median ms | own ms | p95 ms | done | statements | commits | checkouts "
              "| median vs before |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, label, median, p95, moved, statements, commits, checkouts, own in rows:
            ratio = f"{median / theirs[name]:.2f}x" if label == OURS and theirs.get(name) else ""
            print(f"| {name} | {label} | {median:.1f} | {own:.1f} | {p95:.1f} | {moved:.0f} | {statements:.0f} "
                  f"| {commits:.0f} | {checkouts:.0f} | {ratio} |")
        print(OWN_NOTE)
        return
    rows = on_each_database(lambda url: run(url, args.actions), args.postgres)
    print("| database | median ms | own ms | p95 ms | done | statements | commits | checkouts |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, median, p95, moved, statements, commits, checkouts, own in rows:
        print(f"| {name} | {median:.1f} | {own:.1f} | {p95:.1f} | {moved} | {statements:.0f} | {commits:.0f} "
              f"| {checkouts:.0f} |")
    print(OWN_NOTE)


if __name__ == "__main__":
    main()
