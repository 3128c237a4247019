"""Incremental data-quality runs: judge again only what changed since the last complete run, with the same findings a
full run would have (issue 22).

The change log (services/store/check_changes.py) lists the events, pairing keys, reps' days and reps written since the
last complete run read it. From it and from the time that passed since that run, `plan` works out a Scope: the pairing
keys, events and reps' days whose findings can have changed. The rules judge only those (run_rules(scope=...)); the run
then resolves the open findings in the scope it did not report again (`open_findings_in_scope` finds them by index),
and leaves every other open finding as it is: nothing it depends on changed.

What time alone changes is part of the scope: Unstaffed events whose due date the clock passed since (their rule goes
from "due within 3 days" to "within 24 hours" to "past due"), COREs whose Supervisor is Unstaffed near their start
(critical from 24 h before), the reps' days that became the past, and the events entering or leaving the 14 days of
unreported work. The rules that are cheap whatever the size (operations needing attention, Crossmark drift, reps' days
off, stale sync) are judged whole in every run.

An incremental run is not possible, and a full run is made instead (saying why), when there was no complete run yet
under the same Supervisor rule, when the log says "everything" (a bulk load, or the migration that created it), when it
holds more than MAX_CHANGES rows (a full run is then cheaper), or when the clock went back.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import BindParameter, Connection, DateTime, bindparam, text

from services.domain.event_rules import UNSTAFFED
from services.quality.rep_findings import UNREPORTED_DAYS
from services.quality.rules import BOOKING_RULES, PAIR_RULES, RULES, UNSTAFFED_RULES
from services.quality.scope import Scope, batches, seek_each
from services.store.check_changes import Changes
from services.store.pair_members import EPOCH

MAX_CHANGES = 20_000  # change-log rows an incremental run takes on; with more, a full run is about as quick
# The rules an incremental run judges within its scope; every other rule is judged whole in every run.
EVENT_RULES = (*UNSTAFFED_RULES, "schedule_state_drift", "schedule_without_crossmark_id")
INCREMENTAL_RULES = (*PAIR_RULES, *EVENT_RULES, *BOOKING_RULES, "unreported_work")
# How far from a CORE's start its Supervisor's rule time can be: the days around the last and this run's `now` whose
# core_supervisor_unstaffed findings time may have changed.
_RULE_TIME_MARGIN = timedelta(hours=12)  # SUPERVISOR_OFFSET_MINUTES is at most 720 either way


@dataclass(frozen=True)
class Baseline:
    """The complete run an incremental run builds on."""
    run_id: int
    now: datetime


def complete_rules(names: Iterable[str]) -> bool:
    """Whether a run of these rules judges every rule (crossmark_drift aside: it needs Crossmark), so that it can read
    and consume the change log and an incremental run can build on it."""
    return set(RULES) - {"crossmark_drift"} <= set(names)


def baseline(connection: Connection, supervisor_rule: str) -> Baseline | None:
    """The last complete run that finished, if it judged under this Supervisor rule."""
    rows = connection.execute(text(
        "SELECT id, started_at, rules, supervisor_rule FROM dashboard_check_runs WHERE status = 'done' "
        "ORDER BY id DESC LIMIT 200")).all()
    for run_id, started_at, rules, rule in rows:
        if complete_rules(filter(None, (rules or "").split(","))):
            if rule != supervisor_rule:
                return None
            moment = datetime.fromisoformat(started_at) if isinstance(started_at, str) else started_at
            return Baseline(int(run_id), moment)
    return None


def plan(connection: Connection, changes: Changes, previous: Baseline | None, now: datetime) -> Scope | str:
    """The scope of an incremental run at `now`, or why there cannot be one (a sentence)."""
    if previous is None:
        return "no complete run under this Supervisor rule to build on"
    if changes.everything:
        return ("the change log says everything changed (a bulk load, a first run, or more than "
                f"{MAX_CHANGES:,} changes)")
    if now < previous.now:
        return f"the clock is before the last complete run's ({previous.now:%Y-%m-%d %H:%M})"
    refs = sorted(changes.refs)
    today = (datetime.combine(now.date(), time.min) - EPOCH).days
    keys = set(changes.keys)
    rep_days = {(rep, day) for rep, day in changes.rep_days if day >= today}
    for batch in batches(refs):
        keys.update((str(number), str(store)) for number, store in connection.execute(text(
            "SELECT num, store FROM dashboard_pair_members WHERE ref IN :refs").bindparams(
                bindparam("refs", expanding=True)), {"refs": list(batch)}))
        for rep, at in connection.execute(text(
                "SELECT employee_id, schedule_datetime FROM schedules WHERE event_ref_num IN :refs "
                "AND employee_id IS NOT NULL AND schedule_datetime IS NOT NULL").bindparams(
                    bindparam("refs", expanding=True)), {"refs": list(batch)}):
            day = ((datetime.fromisoformat(at) if isinstance(at, str) else at) - EPOCH).days
            if day >= today:
                rep_days.add((str(rep), day))
    # The Unstaffed events whose rule the clock changed: due dates it passed ("past due"), or brought within 24 hours
    # or within 3 days.
    refs_by_time: set[int] = set()
    for hours in (0, 24, 72):
        refs_by_time.update(int(ref) for ref in connection.execute(text(
            "SELECT project_ref_num FROM events WHERE condition = :unstaffed AND due_datetime >= :low "
            "AND due_datetime < :high").bindparams(bindparam("low", type_=DateTime()), bindparam("high", type_=DateTime())),
            {"unstaffed": UNSTAFFED, "low": previous.now + timedelta(hours=hours),
             "high": now + timedelta(hours=hours)}).scalars())
    # The pairs whose Supervisor-Unstaffed finding time may have changed: critical from 24 h before the CORE, and
    # worded otherwise once the Supervisor's rule time (at most 12 h from the CORE's start) has passed.
    first, last = (previous.now - _RULE_TIME_MARGIN).date(), (now + timedelta(hours=24)).date()
    keys.update((str(number), str(store)) for number, store in connection.execute(text(
        "SELECT event_number, store FROM dashboard_findings WHERE rule = 'core_supervisor_unstaffed' "
        "AND day >= :first AND day <= :last AND resolved_at IS NULL AND event_number IS NOT NULL "
        "AND store IS NOT NULL"), {"first": first, "last": last}))
    return Scope(previous.now, frozenset(keys), frozenset(changes.refs | refs_by_time), frozenset(rep_days),
                 frozenset(changes.reps), connection.dialect.name)


# What a run reads of an open finding (identity, then the tuple it keeps: id first). The key and roles too: a finding
# reported again with the same identity (rule and refs) may have moved to another pairing key or role (an event renamed
# or retyped), and an incremental run finds a pair's findings by the key stored with them.
OPEN_COLUMNS_AFTER_ID = ("severity, detail, day, first_seen, acknowledged_by, owner, due_by, event_number, store, "
                         "core_ref, supervisor_ref")
_OPEN_COLUMNS = f"identity, id, {OPEN_COLUMNS_AFTER_ID}"


def open_findings_in_scope(connection: Connection, scope: Scope, names: Iterable[str], now: datetime
                           ) -> dict[str, tuple]:
    """identity -> (id, OPEN_COLUMNS_AFTER_ID...) of the open findings an
    incremental run answers for: those of its scope among INCREMENTAL_RULES (exactly what the scoped rules would report
    again if they still held), and every open finding of the rules judged whole.

    A few statements whatever the scope's size (each a round trip on PostgreSQL): the pairing keys and the reps' days
    are one seek each (scope.seek_each), the events one IN list of identities, and the open findings of a rule are read
    from the partial index of open findings."""
    wanted = set(names)
    found: dict[str, tuple] = {}
    # SQLite would read "open" from the index on resolved_at (every open finding, 87,000 at 1M events, then filter the
    # rule) when its statistics were gathered before the findings were written, as the benchmark's are: told instead.
    open_findings = ("dashboard_findings INDEXED BY ix_dashboard_findings_open" if scope.dialect == "sqlite"
                     else "dashboard_findings")

    def read(query: str, parameters: dict, *lists: str | BindParameter, rules: Iterable[str] | None = None) -> None:
        """The findings `query` selects (its columns: _OPEN_COLUMNS, rule, resolved_at), kept when open and of
        `rules` (any, if None). A pairing key, event or rep's day has few findings in its history: they are read open
        or not and filtered here, so that each lookup is a seek on its own index ("open" or the rule in the SQL would
        have the planner walk every open finding, or every finding of the rule, instead)."""
        of_rules = None if rules is None else set(rules)
        statement = text(query).bindparams(*(bindparam(name, expanding=True) if isinstance(name, str) else name
                                             for name in lists))
        found.update((row[0], tuple(row[1:-2])) for row in connection.execute(statement, parameters)
                     if row[-1] is None and (of_rules is None or row[-2] in of_rules))

    def seek(probes: Iterable[tuple], matches: tuple[tuple[str, str], ...], rules: Iterable[str]) -> None:
        listed = sorted(probes)
        if listed:
            read(*seek_each(scope.dialect, "dashboard_findings", _READ_COLUMNS, listed, matches), rules=rules)

    # Every open finding of the rules judged whole, and those of the rules about bookings whose day is now the past
    # (they resolve): both from the partial index of open findings.
    whole = sorted(wanted - set(INCREMENTAL_RULES))
    if whole:
        read(f"SELECT {_READ_COLUMNS} FROM {open_findings} WHERE resolved_at IS NULL AND rule IN :rules",
             {"rules": whole}, "rules")
    pair_rules = sorted(wanted & set(PAIR_RULES))
    if pair_rules:
        seek(scope.keys, (("event_number", "VARCHAR"), ("store", "VARCHAR")), pair_rules)
    event_rules = sorted(wanted & set(EVENT_RULES))
    refs = sorted(scope.refs)
    by_identity, identity_binds = scope.any_of("identity", "identities", "VARCHAR")
    for batch in scope.in_batches(refs):
        identities = [f"{rule}:{ref}" for rule in event_rules for ref in batch]
        if identities:
            read(f"SELECT {_READ_COLUMNS} FROM dashboard_findings WHERE {by_identity}", {"identities": identities},
                 *identity_binds)
    booking_rules = sorted(wanted & set(BOOKING_RULES))
    if booking_rules:
        read(f"SELECT {_READ_COLUMNS} FROM {open_findings} WHERE resolved_at IS NULL AND rule IN :rules "
             "AND day < :today", {"rules": booking_rules, "today": now.date()}, "rules")
        seek(((rep, _as_date(day)) for rep, day in scope.rep_days), (("employee_id", "VARCHAR"), ("day", "DATE")),
             booking_rules)
        if scope.reps:
            read(f"SELECT {_READ_COLUMNS} FROM dashboard_findings WHERE employee_id IN :reps",
                 {"reps": sorted(scope.reps)}, "reps", rules=booking_rules)
    if "unreported_work" in wanted:
        # What leaves the 14 days (its first day and before), the scope's events (one ref each: the open ones of the
        # rule, a few thousand at most, are filtered in SQL) and its reps.
        unreported = f"SELECT {_READ_COLUMNS} FROM {open_findings} WHERE resolved_at IS NULL AND rule = 'unreported_work'"
        read(f"{unreported} AND day <= :first", {"first": (now - timedelta(days=UNREPORTED_DAYS)).date()})
        by_refs, refs_binds = scope.any_of("refs", "refs", "TEXT")
        for batch in scope.in_batches(refs):
            read(f"{unreported} AND {by_refs}", {"refs": [str(ref) for ref in batch]}, *refs_binds)
        if scope.reps:
            read(f"SELECT {_READ_COLUMNS} FROM dashboard_findings WHERE employee_id IN :reps",
                 {"reps": sorted(scope.reps)}, "reps", rules=("unreported_work",))
    return found


_READ_COLUMNS = f"{_OPEN_COLUMNS}, rule, resolved_at"


def _as_date(days: int) -> date:
    return (EPOCH + timedelta(days=days)).date()
