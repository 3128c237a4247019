"""Concurrency (issue 8): paired reschedules from many threads, and Calendar readers while writes happen.

1. `concurrent_reschedules`: N paired reschedules (CORE + Supervisor) on N different pairs from a thread pool, against
   a fresh demo database and the local fake Crossmark over real HTTP (tests/fake_crossmark.py). Reports throughput and
   latency, and checks the invariants afterwards: every action done, each CORE at its target and its Supervisor at the
   rule time on both sides, database and Crossmark agreeing on every touched event, nothing else changed on either
   side, no per-event lock left, every operation done, no step left unresolved.
2. `readers_during_writes`: reader threads loop on the Calendar's month query and the data-version stamp while one
   writer moves COREs (and their Supervisors) to other days of that month. Reports errors (must be none) and reads,
   checks that every read not straddling a write shows exactly the state of the stamp it read, that no reader sees
   the stamp go back, and that once the last write has committed every reader's next read shows the new counts.

    .venv/bin/python -m bench.concurrency [--sqlite] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Without --postgres it runs on a temporary SQLite file; with it, on a private schema that is dropped afterwards
(add --sqlite for both). Each scenario gets its own fresh database.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time as clock_time, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from bench.paired_actions import _pairs
from services.crossmark.client import make_crossmark_client
from services.crossmark.sandbox import simulator_from_database
from services.store.database import make_engine
from services.demo.demo_data import seed_demo_data
from services.domain.event_rules import SupervisorRule, is_scheduled_condition, supervisor_start
from services.actions.paired_actions import PairedActions
from services.domain.pairing import SUPERVISOR_SCHEDULED
from services.reads.pairing import supervisors_for_cores
from services.reads.read_queries import data_version, month_calendar
from services.store.schema_admin import upgrade_database
from services.settings import load_settings
from services.store.tables import Employee, Event, Operation, OperationStep, PairLock, Schedule
from tests.fake_crossmark import FAKE_TIMEZONE, FakeCrossmark

DEFAULT_EVENTS = 5000
DEFAULT_STORES = 4
RULE = SupervisorRule()
ACTOR = "bench.concurrency"


# --- the world: a fresh demo database and the fake Crossmark serving the same state over HTTP -------------------------


@dataclass
class World:
    engine: Engine
    fake: FakeCrossmark
    actions: PairedActions
    today: date


@contextmanager
def _world(database_url: str, events: int, stores: int) -> Iterator[World]:
    """Migrate and seed `database_url` (which must be empty), start the fake Crossmark from it, wire PairedActions
    (one Crossmark client per action, logging in to the fake over HTTP)."""
    today = date.today()
    upgrade_database(database_url, confirmed=True)
    engine = make_engine(database_url)
    fake = None
    try:
        seed_demo_data(engine, events=events, stores=stores, start=today - timedelta(days=10), months=2, today=today)
        fake = FakeCrossmark(simulator_from_database(engine, FAKE_TIMEZONE)).start()
        settings = load_settings({"CROSSMARK_BASE_URL": fake.url, "CROSSMARK_USERNAME": "bench@example.com",
                                  "CROSSMARK_PASSWORD": "bench-crossmark-password",
                                  "CROSSMARK_TIMEZONE": FAKE_TIMEZONE, "CROSSMARK_READ_TIMEOUT": "30"})
        actions = PairedActions(engine, lambda: make_crossmark_client(settings), rule=RULE)
        yield World(engine, fake, actions, today)
    finally:
        if fake is not None:
            fake.stop()
        engine.dispose()


def _as_datetime(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value  # type: ignore[return-value]
    return datetime.fromisoformat(str(value))


def _db_state(engine: Engine) -> dict[int, tuple]:
    """ref -> (mPlanID, condition, start | None, RepID | None, Crossmark scheduled-event id | None, schedule rows)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Event.project_ref_num, Event.external_id, Event.condition, Schedule.schedule_datetime,
                   Employee.external_id, Schedule.external_id)
            .outerjoin(Schedule, Schedule.event_ref_num == Event.project_ref_num)
            .outerjoin(Employee, Employee.id == Schedule.employee_id)).all()
    state: dict[int, tuple] = {}
    for ref, mplan, condition, start, rep, scheduled_id in rows:
        count = (state[ref][5] if ref in state else 0) + (start is not None)
        state[ref] = (str(mplan) if mplan is not None else None, condition, _as_datetime(start),
                      str(rep) if rep is not None else None, str(scheduled_id) if scheduled_id else None, count)
    return state


def _remote_state(fake: FakeCrossmark) -> dict[str, tuple | None]:
    """mPlanID -> (start, RepID, scheduled-event id) in the fake's simulator, or None when not scheduled there."""
    return {mplan: (value[1], str(value[0]) if value[0] is not None else None, str(value[2])) if value else None
            for mplan, value in fake.simulator.scheduled_state().items()}


def _placement(db: tuple) -> tuple | None:
    """The database side in the remote side's shape: (start, RepID, scheduled-event id) or None."""
    return (db[2], db[3], db[4]) if db[2] is not None else None


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[int(share * (len(ordered) - 1))] if ordered else 0.0


def _pair_rows(engine: Engine, today: date, wanted: int) -> list[dict]:
    """CORE events with a scheduled Supervisor (bench.paired_actions._pairs), with both events' windows and times."""
    chosen = _pairs(engine, today, wanted)
    if not chosen:
        return []
    refs = [ref for ref, _ in chosen]
    with engine.connect() as connection:
        cores = {row.project_ref_num: row for row in connection.execute(
            select(Event.project_ref_num, Event.project_name, Event.location_mvid, Event.store_number,
                   Event.start_datetime, Event.due_datetime).where(Event.project_ref_num.in_(refs)))}
        matches = supervisors_for_cores(connection, [(r.project_ref_num, r.project_name, r.location_mvid,
                                                      r.store_number) for r in cores.values()])
        sup_refs = [match.supervisor.ref for match in matches.values() if match.supervisor is not None]
        sups = {row.project_ref_num: row for row in connection.execute(
            select(Event.project_ref_num, Event.start_datetime, Event.due_datetime)
            .where(Event.project_ref_num.in_(sup_refs)))}
    pairs = []
    for ref, when in chosen:
        match = matches[ref]
        assert match.state == SUPERVISOR_SCHEDULED and match.supervisor is not None, (ref, match)
        sup = sups[match.supervisor.ref]
        pairs.append({"core": ref, "supervisor": match.supervisor.ref, "core_at": when,
                      "supervisor_at": _as_datetime(match.supervisor.scheduled_at),
                      "window": (max(_as_datetime(cores[ref].start_datetime), _as_datetime(sup.start_datetime)),
                                 min(_as_datetime(cores[ref].due_datetime), _as_datetime(sup.due_datetime)))})
    return pairs


def _timed_reschedule(actions: PairedActions, ref: int, target: datetime, actor: str) -> dict:
    started = time.perf_counter()
    try:
        result = actions.reschedule(ref, target, actor, key=f"concurrency-{uuid.uuid4().hex}")
        outcome = {"status": result.status, "message": result.message, "operation_id": result.operation_id}
    except Exception as exc:  # recorded, not swallowed: the caller reports it as an error
        outcome = {"status": f"error: {type(exc).__name__}", "message": str(exc),
                   "traceback": traceback.format_exc(), "operation_id": None}
    outcome.update(ref=ref, target=target, ms=(time.perf_counter() - started) * 1000)
    return outcome


# --- 1. paired reschedules from a thread pool ------------------------------------------------------------------------


def _same_day_target(when: datetime) -> datetime:
    """Another time on the CORE's day (as bench.paired_actions does); the Supervisor follows at CORE + the offset."""
    return when.replace(hour=9, minute=45) if when.hour != 9 else when.replace(hour=10, minute=30)


def concurrent_reschedules(database_url: str, pairs: int = 50, threads: int = 10, *, events: int = DEFAULT_EVENTS,
                           stores: int = DEFAULT_STORES) -> dict:
    """`pairs` paired reschedules on as many different pairs (each with its own idempotency key, a target on the same
    day) from a ThreadPoolExecutor(`threads`), on a fresh database (`database_url` must be empty)."""
    with _world(database_url, events, stores) as world:
        engine, fake = world.engine, world.fake
        chosen = _pair_rows(engine, world.today, pairs)
        if len(chosen) < pairs:
            raise RuntimeError(f"only {len(chosen)} CORE/Supervisor pairs found for {pairs}; seed more events")
        db_before, remote_before = _db_state(engine), _remote_state(fake)
        version_before = data_version(engine)
        off_rule_before = sum(p["supervisor_at"] != supervisor_start(p["core_at"], RULE) for p in chosen)
        for pair in chosen:
            pair["target"] = _same_day_target(pair["core_at"])

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="reschedule") as pool:
            outcomes = list(pool.map(lambda p: _timed_reschedule(world.actions, p["core"], p["target"], ACTOR),
                                     chosen))
        wall = time.perf_counter() - started

        db_after, remote_after = _db_state(engine), _remote_state(fake)
        writes_sent = [request for request in list(fake.requests) if request.is_write]
        with engine.connect() as connection:
            operations = Counter(connection.execute(select(Operation.status)).scalars())
            locks_left = connection.execute(select(func.count()).select_from(PairLock)).scalar_one()
            steps = Counter(connection.execute(select(OperationStep.status)).scalars())
        version_after = data_version(engine)

        problems: list[str] = []
        touched: set[int] = set()
        for pair in chosen:
            core, sup = pair["core"], pair["supervisor"]
            touched |= {core, sup}
            sup_target = supervisor_start(pair["target"], RULE)
            for ref, target, before_at in ((core, pair["target"], pair["core_at"]),
                                           (sup, sup_target, pair["supervisor_at"])):
                db = db_after[ref]
                remote = remote_after.get(db[0]) if db[0] else None
                if db[2] != target:
                    problems.append(f"event {ref}: database start {db[2]}, expected {target} (was {before_at})")
                if _placement(db) != remote:
                    problems.append(f"event {ref}: database {_placement(db)} but Crossmark {remote}")
                if not is_scheduled_condition(db[1]) or db[5] != 1:
                    problems.append(f"event {ref}: condition {db[1]!r} with {db[5]} schedule row(s)")
                if db[3] != db_before[ref][3]:
                    problems.append(f"event {ref}: rep changed from {db_before[ref][3]} to {db[3]}")
            core_at, sup_at = db_after[core][2], db_after[sup][2]
            if core_at is None or sup_at is None or sup_at != supervisor_start(core_at, RULE):
                problems.append(f"pair {core}/{sup}: Supervisor at {sup_at}, CORE at {core_at} "
                                f"(rule: {RULE.describe()})")
        collateral = [ref for ref, before in db_before.items() if ref not in touched and db_after.get(ref) != before]
        touched_mplans = {db_before[ref][0] for ref in touched}
        collateral += [mplan for mplan, before in remote_before.items()
                       if mplan not in touched_mplans and remote_after.get(mplan) != before]
        pair_problems = list(problems)
        if collateral:
            problems.append(f"{len(collateral)} untouched event(s) changed: {collateral[:10]}")
        statuses = Counter(outcome["status"] for outcome in outcomes)
        done = statuses.get("done", 0)
        invariants = {
            "all_done": done == pairs,
            "pairs_moved_together_and_agree": not pair_problems,
            "untouched_unchanged": not collateral,
            "no_locks_left": locks_left == 0,
            "operations_all_done": set(operations) <= {"done"} and sum(operations.values()) == pairs,
            "no_step_unresolved": not (set(steps) - {"ok"}),
            "stamp_bumped_per_action": version_after - version_before >= done,
            # exactly once: one schedule call per moved event, each carried out by Crossmark
            "one_crossmark_write_per_event": len(writes_sent) == len(touched)
            and all(request.acted for request in writes_sent),
            "fake_server_healthy": not fake.server_errors,
        }
        latencies = [outcome["ms"] for outcome in outcomes]
        return {
            "backend": engine.dialect.name,
            "pairs": pairs,
            "threads": threads,
            "events": events,
            "wall_s": wall,
            "throughput_per_s": done / wall if wall else 0.0,
            "median_ms": statistics.median(latencies),
            "p95_ms": _percentile(latencies, 0.95),
            "max_ms": max(latencies),
            "statuses": dict(statuses),
            "operations": dict(operations),
            "steps": dict(steps),
            "locks_left": locks_left,
            "crossmark_writes": len(writes_sent),
            "off_rule_pairs_before": off_rule_before,
            "data_version": (version_before, version_after),
            "invariants": invariants,
            "invariants_hold": all(invariants.values()),
            "problems": problems,
            "failures": [o for o in outcomes if o["status"] != "done"],
        }


# --- 2. Calendar readers while a writer moves events -------------------------------------------------------------


def _calendar_key(frame) -> tuple:  # noqa: ANN001 - a DataFrame
    return tuple(tuple(int(v) if not isinstance(v, date) else v for v in row)
                 for row in frame.itertuples(index=False, name=None))


def _cross_day_moves(world: World, writes: int) -> tuple[date, list[tuple[int, datetime]]]:
    """`writes` (CORE ref, target) moves to another day of one month, both days in that month and in both events'
    windows, later than tomorrow: each changes the month's per-day counts. Returns (month, moves)."""
    earliest = world.today + timedelta(days=2)
    by_month: dict[date, list[tuple[int, datetime]]] = {}
    for pair in _pair_rows(world.engine, world.today, 400):
        when, (first, last) = pair["core_at"], pair["window"]
        month = when.date().replace(day=1)
        days = [first.date() + timedelta(days=n) for n in range((last.date() - first.date()).days + 1)]
        days = [d for d in days if d != when.date() and d >= earliest and d.replace(day=1) == month]
        if days:
            target = datetime.combine(days[-1], clock_time(10, 0))
            if supervisor_start(target, RULE) <= last and supervisor_start(target, RULE).date() == target.date():
                by_month.setdefault(month, []).append((pair["core"], target))
    month, moves = max(by_month.items(), key=lambda item: len(item[1]), default=(None, []))
    if month is None or len(moves) < writes:
        raise RuntimeError(f"only {len(moves)} cross-day moves in one month for {writes} writes; seed more events")
    return month, moves[:writes]


def readers_during_writes(database_url: str, readers: int = 20, writes: int = 10, *, events: int = DEFAULT_EVENTS,
                          stores: int = DEFAULT_STORES, pause: float = 0.02) -> dict:
    """`readers` threads loop on (data_version, month_calendar, data_version) while one writer thread performs
    `writes` paired reschedules moving COREs to another day of that month (`database_url` must be empty).

    Checks: no reader error; a read whose stamp was the same before and after shows exactly the calendar the writer
    saw at that stamp (straddling reads are counted, not judged); a reader never sees the stamp go back; after the
    last write committed (and the stamp changed), every reader's next read shows the fresh month at the final stamp."""
    with _world(database_url, events, stores) as world:
        engine = world.engine
        month, moves = _cross_day_moves(world, writes)
        version0 = data_version(engine)
        expected: dict[int, tuple] = {version0: _calendar_key(month_calendar(engine, month))}
        writes_done = threading.Event()
        start_gate = threading.Barrier(readers + 1)
        write_results: list[dict] = []
        writer_errors: list[str] = []

        def writer() -> None:
            try:
                start_gate.wait()
                for ref, target in moves:
                    outcome = _timed_reschedule(world.actions, ref, target, f"{ACTOR}.writer")
                    write_results.append(outcome)
                    # Only this thread writes, so the state at the new stamp is stable until its next write.
                    version = data_version(engine)
                    expected[version] = _calendar_key(month_calendar(engine, month))
                    time.sleep(pause)  # let readers see each state
            except Exception:  # reported; the readers are released below either way
                writer_errors.append(traceback.format_exc())
            finally:
                writes_done.set()

        def reader() -> dict:
            log: list[tuple] = []  # (after_writes, v1, calendar, v2, ms)
            errors: list[str] = []
            start_gate.wait()
            while True:
                after_writes = writes_done.is_set()
                try:
                    v1 = data_version(engine)
                    started = time.perf_counter()
                    calendar = _calendar_key(month_calendar(engine, month))
                    ms = (time.perf_counter() - started) * 1000
                    v2 = data_version(engine)
                    log.append((after_writes, v1, calendar, v2, ms))
                except Exception as exc:  # every error is a failure of the scenario
                    errors.append(f"{type(exc).__name__}: {exc}")
                    if len(errors) > 50:
                        break
                if after_writes:
                    break
            return {"log": log, "errors": errors}

        started = time.perf_counter()
        writer_thread = threading.Thread(target=writer, name="writer")
        writer_thread.start()
        with ThreadPoolExecutor(max_workers=readers, thread_name_prefix="reader") as pool:
            futures = [pool.submit(reader) for _ in range(readers)]
            results = [future.result() for future in futures]
        writer_thread.join()
        wall = time.perf_counter() - started

        final_version = data_version(engine)
        final_calendar = _calendar_key(month_calendar(engine, month))
        errors = [error for result in results for error in result["errors"]] + writer_errors
        reads = [entry for result in results for entry in result["log"]]
        during = [entry for entry in reads if not entry[0]]
        after = [entry for entry in reads if entry[0]]
        sandwiched = [entry for entry in during if entry[1] == entry[3]]
        judged = [entry for entry in sandwiched if entry[1] in expected]
        wrong = [entry for entry in judged if entry[2] != expected[entry[1]]]
        regressions = sum(1 for result in results for a, b in zip(result["log"], result["log"][1:])
                          if b[1] < a[3] or a[3] < a[1])
        stale_after = [entry for entry in after if (entry[1], entry[3]) != (final_version, final_version)
                       or entry[2] != final_calendar]
        statuses = Counter(outcome["status"] for outcome in write_results)
        calendars = [expected[v] for v in sorted(expected)]
        checks = {
            "no_errors": not errors,
            "writes_all_done": statuses.get("done", 0) == writes,
            "every_write_changed_counts": len(calendars) == writes + 1
            and all(a != b for a, b in zip(calendars, calendars[1:])),
            "stamp_increased": final_version > version0,
            "final_matches_writer_view": expected.get(final_version) == final_calendar,
            "reads_match_their_stamp": not wrong,
            "stamp_never_goes_back": regressions == 0,
            "every_reader_converged": len(after) == readers and not stale_after,
            "fake_server_healthy": not world.fake.server_errors,
        }
        latencies = [entry[4] for entry in reads]
        return {
            "backend": engine.dialect.name,
            "readers": readers,
            "writes": writes,
            "month": month.strftime("%Y-%m"),
            "wall_s": wall,
            "reads": len(reads),
            "reads_during_writes": len(during),
            "reads_per_s": len(reads) / wall if wall else 0.0,
            "read_median_ms": statistics.median(latencies) if latencies else 0.0,
            "read_p95_ms": _percentile(latencies, 0.95),
            "judged_reads": len(judged),
            "straddling_reads": len(during) - len(sandwiched),
            "unjudged_reads": len(sandwiched) - len(judged),
            "wrong_reads": len(wrong),
            "stamp_regressions": regressions,
            "versions_seen": len({entry[1] for entry in reads} | {entry[3] for entry in reads}),
            "data_version": (version0, final_version),
            "post_write_reads": len(after),
            "stale_post_write_reads": len(stale_after),
            "write_statuses": dict(statuses),
            "write_median_ms": statistics.median([o["ms"] for o in write_results]) if write_results else 0.0,
            "errors": errors[:20],
            "error_count": len(errors),
            "write_failures": [o for o in write_results if o["status"] != "done"],
            "checks": checks,
            "checks_hold": all(checks.values()),
        }


# --- the command line --------------------------------------------------------------------------------------------


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A private schema on the PostgreSQL server at `url` (dropped afterwards): a URL whose connections use it."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def sqlite_file() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{Path(directory) / 'concurrency.db'}"


def fresh_database(kind: str, postgres: str | None = None):  # noqa: ANN201 - a context manager yielding a URL
    return postgres_schema(postgres) if kind == "PostgreSQL" else sqlite_file()  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be used (private schemas are created)")
    parser.add_argument("--sqlite", action="store_true", help="also run on SQLite (the default without --postgres)")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--threads", type=int, default=10)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--writes", type=int, default=10)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS)
    args = parser.parse_args()
    kinds = (["SQLite"] if args.sqlite or not args.postgres else []) + (["PostgreSQL"] if args.postgres else [])
    reschedules, reads = [], []
    for kind in kinds:
        with fresh_database(kind, args.postgres) as url:
            reschedules.append((kind, concurrent_reschedules(url, args.pairs, args.threads, events=args.events)))
        with fresh_database(kind, args.postgres) as url:
            reads.append((kind, readers_during_writes(url, args.readers, args.writes, events=args.events)))

    print(f"\nPaired reschedules (CORE + Supervisor) on {args.pairs} different pairs from {args.threads} threads, "
          f"fake Crossmark over local HTTP, {args.events:,} events\n")
    print("| database | wall s | actions/s | median ms | p95 ms | max ms | statuses | locks left | invariants |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---|")
    for kind, r in reschedules:
        failed = [name for name, ok in r["invariants"].items() if not ok]
        print(f"| {kind} | {r['wall_s']:.2f} | {r['throughput_per_s']:.1f} | {r['median_ms']:.0f} | {r['p95_ms']:.0f} "
              f"| {r['max_ms']:.0f} | {_counts(r['statuses'])} | {r['locks_left']} | "
              f"{'hold' if not failed else 'FAILED: ' + ', '.join(failed)} |")
    print(f"\n{args.readers} Calendar readers (data_version + month_calendar + data_version) while one writer makes "
          f"{args.writes} cross-day paired reschedules\n")
    print("| database | wall s | reads | reads/s | read median ms | read p95 ms | judged / straddling | errors | "
          "stale after last write | writes | checks |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---|---|")
    for kind, r in reads:
        failed = [name for name, ok in r["checks"].items() if not ok]
        print(f"| {kind} | {r['wall_s']:.2f} | {r['reads']} | {r['reads_per_s']:.0f} | {r['read_median_ms']:.0f} | "
              f"{r['read_p95_ms']:.0f} | {r['judged_reads']} / {r['straddling_reads']} | {r['error_count']} | "
              f"{r['stale_post_write_reads']} of {r['post_write_reads']} | {_counts(r['write_statuses'])} | "
              f"{'hold' if not failed else 'FAILED: ' + ', '.join(failed)} |")
    for kind, r in reschedules:
        if r["failures"]:
            print(f"\n{kind}: {len(r['failures'])} action(s) not done; the first:")
            for failure in r["failures"][:3]:
                print(f"- CORE {failure['ref']}: {failure['status']}: {failure['message'].splitlines()[0][:300]}")
            tracebacks = [f["traceback"] for f in r["failures"] if f.get("traceback")]
            if tracebacks:  # where the first exception came from in our code
                frames = [line for line in tracebacks[0].splitlines() if "/services/" in line]
                print("  raised from:\n  " + "\n  ".join(frames[:8]))
        for problem in r["problems"][:8]:
            print(f"{kind}: {problem}")
    for kind, r in reads:
        for error in r["errors"][:5]:
            print(f"{kind} reader/writer error: {error}")
        for failure in r["write_failures"][:5]:
            print(f"{kind} write {failure['ref']} {failure['status']}: {failure['message']}")


def _counts(counter: dict) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(counter.items())) or "-"


if __name__ == "__main__":
    main()
