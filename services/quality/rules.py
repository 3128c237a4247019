"""Data-quality rules layer: named, set-based SQL checks of events, schedules, the journal and Crossmark."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple, overload

from sqlalchemy import Connection, DateTime, Engine, bindparam, text

from services.errors import InvalidInput
from services.domain.event_rules import (
    CORE, SCHEDULED_CONDITIONS, SUPERVISOR, UNSTAFFED, SupervisorRule, event_number, store_key, supervisor_start,
)
from services.domain.severity import CRITICAL, INFO, WARNING
from services.actions.journal import NEEDS_ATTENTION, read_json
from services.quality.scope import Scope, seek_each
from services.store import pair_keys, state_drift
from services.store.pair_members import EPOCH, key_condition



class Finding(NamedTuple):  # a named tuple: a run at 1,000,000 events makes 82,000 of them, 4x faster than a dataclass
    """One offending event, pair or operation. `rule` + `refs` is its stable identity across runs."""

    rule: str
    severity: str  # a Severity
    event_number: str | None
    store: str | None
    core_ref: int | None
    supervisor_ref: int | None
    refs: tuple[int, ...]  # every event ref involved, sorted
    detail: str  # a sentence a person can act on
    day: date | None  # the date to open in the day view, when there is one
    employee_id: str | None = None  # the rep the finding is about (the rules about people)
    due: datetime | None = None  # the event's due date, when the rule reads it: the finding is due by then at the latest


@dataclass(frozen=True)
class Rule:
    name: str  # the id: stored with findings, used by the CLI and in exports
    title: str  # what people read on the pages ("Pair on different dates")
    severity: str  # the usual Severity; a finding may say otherwise (see the description)
    description: str
    needs_crossmark: bool = False
    sla: timedelta | None = None  # how long a finding may stay open; None: by its severity (SLA_BY_SEVERITY)
    # At most one finding, about the whole database (no events): its identity is the rule alone, so it stays the same
    # finding from run to run while the detail says what changed (stale_sync's age).
    one_finding: bool = False

    def due_within(self, severity: str) -> timedelta:
        """The rule's SLA for a finding of this severity (a finding may be more or less severe than the rule)."""
        return self.sla if self.sla is not None else SLA_BY_SEVERITY[severity]


# How long a finding may stay open before it is overdue, by severity, unless its rule says otherwise (Rule.sla) or the
# event it is about is due sooner (Finding.due).
SLA_BY_SEVERITY: dict[str, timedelta] = {CRITICAL: timedelta(days=1), WARNING: timedelta(days=3), INFO: timedelta(days=7)}


# Terms: an event is *scheduled* when it has a schedules row (dates and times are the schedule's), *Unstaffed* when its
# condition is 'Unstaffed'. CORE / Supervisor are events.event_type 'Core' / 'Supervisor', paired by
# event_rules.pairing_key (leading 6-digit number, store), computed in SQL and kept in dashboard_pair_members by
# triggers. Pairs of an ambiguous key (rule 7) are not judged by rules 1, 4, 5 and 6. These match the definitions of demo_data's injected anomalies exactly.
RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule("core_supervisor_unstaffed", "Supervisor Unstaffed for a scheduled CORE", WARNING,
         "CORE scheduled, its Supervisor Unstaffed (and not scheduled); critical when the CORE starts within 24 h "
         "(or already has)."),
    Rule("core_without_supervisor", "CORE without a Supervisor", WARNING,
         "CORE with no Supervisor of its number at its store (warning when the CORE is scheduled, info otherwise)."),
    Rule("supervisor_without_core", "Supervisor without a CORE",
         WARNING, "Supervisor with no CORE of its number at its store."),
    Rule("supervisor_scheduled_core_not", "Supervisor scheduled, CORE not",
         CRITICAL, "Supervisor scheduled while its CORE is not."),
    Rule("pair_date_mismatch", "Pair on different dates",
         CRITICAL, "CORE and Supervisor both scheduled, on different dates."),
    Rule("supervisor_time_off_rule", "Supervisor not at the rule time",
         INFO, "CORE and Supervisor on the same date, the Supervisor not at the rule time."),
    Rule("duplicate_pair_number", "Event number used twice at a store", WARNING,
         "Two or more COREs or two or more Supervisors share an event number at one store (pairing is ambiguous)."),
    Rule("unstaffed_past_due", "Unstaffed past due", CRITICAL, "Unstaffed event whose due date has passed."),
    Rule("unstaffed_due_24h", "Unstaffed, due within 24 hours",
         CRITICAL, "Unstaffed event due within the next 24 hours."),
    Rule("unstaffed_due_3d", "Unstaffed, due within 3 days", WARNING, "Unstaffed event due in 24 to 72 hours."),
    Rule("schedule_state_drift", "Schedule state disagrees",
         WARNING, "Condition, is_scheduled and the presence of a schedules row disagree."),
    Rule("schedule_without_crossmark_id", "Schedule without a Crossmark id", WARNING,
         "Schedule that cannot be unscheduled remotely: no Crossmark scheduled-event id, or not a numeric one "
         "(e.g. a legacy <mPlanID>_<storeID> id)."),
    Rule("operation_needs_attention", "Action needing attention",
         CRITICAL, "A paired action ended needing attention (see reconcile)."),
    Rule("crossmark_drift", "Differs from Crossmark", CRITICAL,
         "Our schedule (scheduled or not, time, scheduled-event id, rep) differs from Crossmark's planning list, for "
         "events in a window from today.", needs_crossmark=True),
    # The rules about people (services/quality/rep_findings.py), beside the pairing rules; "scheduled" as above, with a
    # scheduled condition. The first four look from the start of today on: past days are history, not work to fix.
    Rule("rep_double_booked", "Rep double-booked", CRITICAL,
         "A rep with more than one CORE on a day, or with events that overlap by their durations (Supervisor events "
         "exempt), from the start of today on: one finding per rep and day, listing the events."),
    Rule("rep_inactive_with_events", "Inactive rep holds events", CRITICAL,
         "An inactive or terminated rep holds a scheduled event from the start of today on: one finding per event."),
    Rule("rep_not_qualified", "Rep may not work the event type", CRITICAL,
         "A rep holds a scheduled event whose type their job title may not work (Supervisor, Freeosk, Digitals: Club "
         "Supervisor or Lead Event Specialist; Juicer: Club Supervisor or Juicer Barista), from the start of today on: "
         "one finding per event."),
    Rule("rep_time_off_conflict", "Rep scheduled on a day off", CRITICAL,
         "A scheduled event on a day its rep is on time off, marked unavailable or does not work that weekday (the "
         "scheduler's employee_time_off, employee_availability and employee_weekly_availability tables, when "
         "present), from the start of today on: one finding per event."),
    Rule("unreported_work", "Work not reported", WARNING,
         "An event scheduled in the last 14 days that has ended (its start plus its duration is past) and is not "
         "Submitted: one finding per event."),
    Rule("stale_sync", "Sync is stale", WARNING,
         "The newest events.last_synced is more than 24 hours old: one finding for the database, while it holds "
         "(none when no event records a sync time).", one_finding=True),
)}

PAIR_RULES = ("core_supervisor_unstaffed", "core_without_supervisor", "supervisor_without_core",
              "supervisor_scheduled_core_not", "pair_date_mismatch", "supervisor_time_off_rule",
              "duplicate_pair_number")
UNSTAFFED_RULES = ("unstaffed_past_due", "unstaffed_due_24h", "unstaffed_due_3d")
BOOKING_RULES = ("rep_double_booked", "rep_inactive_with_events", "rep_not_qualified")
# The rules whose findings are about a rep (Finding.employee_id set: the rep is part of their identity).
PEOPLE_RULES = (*BOOKING_RULES, "rep_time_off_conflict", "unreported_work")

_REFS_PER_QUERY = 1000
_KEYS_PER_QUERY = 300  # (number, store) keys per member lookup: 301 parameters at most


def rule_title(name: str | None) -> str:
    """A rule id as people read it; an id no longer defined (an old finding) in words."""
    rule = RULES.get(name or "")
    return rule.title if rule is not None else (name or "").replace("_", " ").capitalize()


# --- SQL per dialect ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sql:
    """The dialect-specific fragments of the rules' SQL, in one place (the pairing key's are in pair_members)."""

    dialect: str

    def not_digits(self, column: str) -> str:
        """True when the value is empty or holds anything but ASCII digits: a superset of what
        crossmark_client.unschedule refuses (it strips white space first; Python checks the few rows this returns)."""
        if self.dialect == "postgresql":
            return f"{column} !~ '^[0-9]+$'"
        return f"({column} = '' OR {column} GLOB '*[^0-9]*')"


def unusable_schedule_id_sql(dialect: str, column: str) -> str:
    """Rule 10's filter: no scheduled-event id, or not a plain number. Migration 0007 indexes exactly these schedules
    (a partial index with this same condition), so the rule reads a few thousand index entries, not every schedule."""
    return f"{column} IS NULL OR {_Sql(dialect).not_digits(column)}"


def _sql_for(connection: Connection) -> _Sql:
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise InvalidInput(f"Data-quality rules run on SQLite or PostgreSQL, not {dialect}.")
    return _Sql(dialect)


# --- running -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    connection: Connection
    sql: _Sql
    now: datetime
    rule: SupervisorRule
    wanted: frozenset[str]
    crossmark_client: Any
    drift_window_days: int
    scope: Scope | None = None  # an incremental run's: each rule judges only what it names (None: everything)


def run_rules(connection: Connection, *, now: datetime, rule: SupervisorRule, names: Iterable[str] | None = None,
              crossmark_client=None, drift_window_days: int = 14,  # noqa: ANN001 - a CrossmarkClient
              progress: Callable[[int, int, str], None] | None = None, scope: Scope | None = None,
              ordered: bool = True, beside: Engine | None = None) -> list[Finding]:
    """The findings of the named rules (default: all; crossmark_drift only when a Crossmark client is given), in
    RULES order, each rule's findings sorted by refs.

    `now` is naive local wall time (as the database stores). Rules that share a query (the seven pairing rules) run
    it once, so ask for several rules in one call rather than one call per rule. `progress(done, total, label)` is
    called before each query. Raises InvalidInput for unknown names, and for crossmark_drift named without a client.
    Run it in one transaction (one connection) for a consistent snapshot. With a `scope` (an incremental run), the rules
    of INCREMENTAL_RULES report only what they find among its keys; the others judge everything as always.
    `ordered=False`: in the order the rules' queries gave them (a data-quality run keys them by identity and sorts what
    it lists itself: sorting 87,000 findings at 1,000,000 events took a tenth of a second).

    `beside`: the engine of `connection`, to run the steps that are nearly all database work (_Step.database_bound) on
    a second connection at the same time. Each of its statements then reads what was committed when it began, as every
    statement on PostgreSQL's READ COMMITTED does anyway: no older than what `connection` saw when the caller began
    (a data-quality run reads its change log first: a write after that is logged and judged again by the next run)."""
    if not isinstance(now, datetime) or now.tzinfo is not None:
        raise InvalidInput(f"now must be a naive local datetime, not {now!r}.", field="now")
    if isinstance(drift_window_days, bool) or not isinstance(drift_window_days, int) \
            or not 0 <= drift_window_days <= 366:
        raise InvalidInput(f"drift_window_days must be a whole number from 0 to 366, not {drift_window_days!r}.",
                           field="drift_window_days")
    if names is None:
        wanted = {name for name, spec in RULES.items() if crossmark_client is not None or not spec.needs_crossmark}
    else:
        wanted = {names} if isinstance(names, str) else set(names)
        unknown = sorted(wanted - set(RULES))
        if unknown:
            raise InvalidInput(f"Unknown rule(s): {', '.join(unknown)}. Rules: {', '.join(RULES)}.", field="names")
        if crossmark_client is None and "crossmark_drift" in wanted:
            raise InvalidInput("crossmark_drift compares with Crossmark's planning list: it needs a Crossmark client "
                               "(configure CROSSMARK_BASE_URL, or pass the sandbox client).", field="names")
    context = _Context(connection, _sql_for(connection), now, rule, frozenset(wanted), crossmark_client,
                       drift_window_days, scope)
    if context.sql.dialect == "postgresql":
        # No JIT compilation for the rules' statements (until the caller's transaction ends): PostgreSQL estimates
        # their nested loops of seeks at thousands of rows each where they find a few, and above its cost thresholds it
        # compiled the statement of the rules about people for 2.8 s at 1,000,000 events to run it in 0.4 s.
        connection.execute(text("SET LOCAL jit = off"))

    steps = [step for step in _STEPS if wanted & set(step.rules)]
    findings: list[Finding] = []
    aside = [step for step in steps if step.database_bound] if beside is not None else []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rules-beside") as pool:  # a thread only when used
        started = pool.submit(_run_beside, beside, context, aside) if beside is not None and aside else None
        for index, step in enumerate(steps):
            if progress is not None:
                progress(index, len(steps), step.label)
            if step not in aside:
                findings.extend(step.run(context))
        if started is not None:
            findings.extend(started.result())
    if progress is not None:
        progress(len(steps), len(steps), "done")
    findings = [finding for finding in findings if finding.rule in wanted]
    if ordered:
        order = {name: index for index, name in enumerate(RULES)}
        findings.sort(key=lambda finding: (order[finding.rule], finding.refs, finding.detail))
    return findings


# --- rules 1-7: CORE / Supervisor pairing ---------------------------------------------------------------------------

# The pairing keys (number, store) come from dashboard_pair_keys: every key of dashboard_pair_members (every CORE and
# Supervisor with its pairing key and latest schedule) with its refs and schedules, kept by triggers
# (services/store/pair_keys.py). A key is *clean* when it has exactly one CORE and one Supervisor (min = max ref); only
# clean keys are judged by rules 1, 4, 5 and 6, since with duplicates (rule 7) it is ambiguous which events pair. Rules 2
# and 3 do not depend on pairing (there is nothing of the other type), so they are reported whatever the duplicates.
# Only the offending keys are read: those the triggers judged whatever the rule time (KIND_JUDGED), and the same-day
# pairs whose Supervisor is off the rule time, two ranges of an index on either side of it (KIND_SAME_DAY). Healthy keys,
# most of the 350,000 at 1,000,000 events, are not read at all.
_PAIR_COLUMNS = "pm.num, pm.store, pm.core_first, pm.core_last, pm.sup_first, pm.sup_last, pm.core_at, pm.sup_at"
_PAIR_QUERY = f"""
SELECT {_PAIR_COLUMNS} FROM {pair_keys.TABLE} pm WHERE pm.kind = {pair_keys.KIND_JUDGED}
UNION ALL
SELECT {_PAIR_COLUMNS} FROM {pair_keys.TABLE} pm WHERE pm.kind = {pair_keys.KIND_SAME_DAY} AND {{off_rule}}
"""
# An incremental run's keys: each a seek on the table's primary key (scope.seek_each), the kind judged on the few rows
# found. The kind is tested in a CASE outside the seeks, which no index serves: as a plain OR of ranges SQLite read the
# kind index instead (the 41,500 judged keys and more, 0.3 s) when a batch held hundreds of keys.
_KEY_COLUMNS = "num, store, core_first, core_last, sup_first, sup_last, core_at, sup_at, kind, gap, sup_time"
_PAIR_QUERY_OF_KEYS = f"""
SELECT {_PAIR_COLUMNS} FROM ({{found}}) pm
WHERE CASE WHEN pm.kind = {pair_keys.KIND_JUDGED} THEN 1
           WHEN pm.kind = {pair_keys.KIND_SAME_DAY} AND {{off_rule}} THEN 1 ELSE 0 END = 1
"""


def _off_rule_sql(rule: SupervisorRule) -> tuple[str, dict[str, int]]:
    """SQL that is true when a same-day Supervisor is not where the rule puts it for its CORE: its time of day (fixed
    rule) or its gap after the CORE (offset rule) on either side of the rule's, two ranges of an index of the keys."""
    if rule.mode == "fixed":
        fixed = rule.fixed_time
        seconds = fixed.hour * 3600 + fixed.minute * 60 + fixed.second
        column = "pm.sup_time"
    else:
        seconds, column = int(rule.offset_minutes) * 60, "pm.gap"
    return f"({column} < :rule_seconds OR {column} > :rule_seconds)", {"rule_seconds": seconds}


# Overloads (here and on _as_datetime): None gives None, a value gives a datetime. A value read from a row is Any, and
# so is the result then: whether the query can return NULL there (a NOT NULL column, a filter) is the query's to say.
@overload
def _at(seconds: None) -> None: ...
@overload
def _at(seconds: int) -> datetime: ...
def _at(seconds: int | None) -> datetime | None:
    return None if seconds is None else EPOCH + timedelta(seconds=int(seconds))


# str(datetime) is ISO with a space; slicing it is much cheaper than strftime over tens of thousands of findings.
def _when(moment: datetime | None) -> str:
    return str(moment)[:16] if moment is not None else "not scheduled"


class _Moment(NamedTuple):
    at: datetime
    text: str  # as _when writes it: "YYYY-MM-DD HH:MM"
    day: date


def _moment(at: datetime) -> _Moment:
    return _Moment(at, _when(at), at.date())


def _pair_findings(context: _Context) -> list[Finding]:
    rule = context.rule
    off_rule, parameters = _off_rule_sql(rule)
    if context.scope is None:
        rows = context.connection.execute(text(_PAIR_QUERY.format(off_rule=off_rule)), parameters).all()
    else:  # the keys of the scope only: one seek each (scope.seek_each)
        found, key_parameters = seek_each(context.sql.dialect, pair_keys.TABLE, _KEY_COLUMNS, sorted(context.scope.keys),
                                          (("num", "VARCHAR"), ("store", "TEXT")), "scope_")
        rows = context.connection.execute(text(_PAIR_QUERY_OF_KEYS.format(found=found, off_rule=off_rule)),
                                          {**parameters, **key_parameters}).all()

    wanted, rule_text, now = context.wanted, rule.describe(), context.now
    critical_before = now + timedelta(hours=24)
    findings: list[Finding] = []
    duplicated = []
    # Schedules fall on a few thousand distinct moments: each moment's datetime, text and date, and each CORE moment's
    # rule time for its Supervisor, are made once (48,600 pairs at 1,000,000 events).
    moments: dict[int, _Moment] = {}
    rule_times: dict[int, _Moment] = {}

    def moment(seconds: int) -> _Moment:
        made = moments.get(seconds)
        if made is None:
            made = moments[seconds] = _moment(_at(seconds))
        return made

    def rule_time(core_seconds: int, core_at: datetime) -> _Moment:
        made = rule_times.get(core_seconds)
        if made is None:
            made = rule_times[core_seconds] = _moment(supervisor_start(core_at, rule))
        return made

    for num, store, core_first, core_last, sup_first, sup_last, core_seconds, sup_seconds in rows:
        number, store = str(num), str(store)
        if core_first != core_last or sup_first != sup_last:  # duplicates: the events in detail, by a second query
            duplicated.append((number, store))
            continue
        if sup_first is None:  # one CORE, no Supervisor
            if "core_without_supervisor" in wanted:
                findings.append(_orphan_finding(number, store, int(core_first), CORE, _at(core_seconds), None))
            continue
        if core_first is None:  # one Supervisor, no CORE
            if "supervisor_without_core" in wanted:
                findings.append(_orphan_finding(number, store, int(sup_first), SUPERVISOR, _at(sup_seconds), None))
            continue
        core_ref, sup_ref = int(core_first), int(sup_first)
        pair = f"(event {number}, store {store})"
        if sup_seconds is None:
            if core_seconds is None:  # neither scheduled: the query reads no such key as judged
                continue
            # The CORE is scheduled and the Supervisor Unstaffed (the query says so).
            name = "core_supervisor_unstaffed"
            if name not in wanted:
                continue
            core_at, core_text, day = moment(core_seconds)
            wanted_at, wanted_text, _ = rule_time(core_seconds, core_at)
            # Critical from 24 h before the CORE on, including after it started: the Supervisor misses its slot.
            severity = CRITICAL if core_at < critical_before else WARNING
            if wanted_at >= now:
                detail = (f"CORE {core_ref} {pair} is scheduled {core_text} but its Supervisor {sup_ref} is "
                          f"Unstaffed: schedule the Supervisor at {wanted_text} ({rule_text}).")
            else:
                detail = (f"CORE {core_ref} {pair} was scheduled {core_text} but its Supervisor {sup_ref} is "
                          f"still Unstaffed and its rule time {wanted_text} has passed: check the pair in "
                          "Crossmark.")
        elif core_seconds is None:  # the Supervisor is scheduled
            name, severity = "supervisor_scheduled_core_not", CRITICAL
            if name not in wanted:
                continue
            _, sup_text, day = moment(sup_seconds)
            detail = (f"Supervisor {sup_ref} {pair} is scheduled {sup_text} but its CORE {core_ref} is not "
                      "scheduled: unschedule the Supervisor, or schedule the CORE first.")
        else:
            core_at, core_text, day = moment(core_seconds)
            _, sup_text, sup_day = moment(sup_seconds)
            _, wanted_text, _ = rule_time(core_seconds, core_at)
            if day != sup_day:
                name, severity = "pair_date_mismatch", CRITICAL
                detail = (f"CORE {core_ref} {pair} is scheduled {core_text} but its Supervisor {sup_ref} is on "
                          f"{sup_text}, another date: move the Supervisor to {wanted_text} ({rule_text}).")
            else:
                name, severity = "supervisor_time_off_rule", INFO
                detail = (f"Supervisor {sup_ref} {pair} is at {sup_text}; with CORE {core_ref} at "
                          f"{core_text[11:]} the rule ({rule_text}) puts it at {wanted_text[11:]}.")
            if name not in wanted:
                continue
        findings.append(Finding(name, severity, number, store, core_ref, sup_ref,
                                (core_ref, sup_ref) if core_ref < sup_ref else (sup_ref, core_ref), detail, day))
    if duplicated and wanted & {"core_without_supervisor", "supervisor_without_core", "duplicate_pair_number"}:
        findings.extend(_duplicated_key_findings(context, duplicated))
    return findings


def _orphan_finding(number: str, store: str, ref: int, event_type: str, at: datetime | None,
                    condition: str | None) -> Finding:
    """core_without_supervisor / supervisor_without_core for one event of a key that lacks the other type."""
    state = (f"scheduled {_when(at)}" if at is not None
             else "not scheduled" + (f" ({condition})" if condition else ""))
    if event_type == CORE:
        return Finding("core_without_supervisor", WARNING if at is not None else INFO, number, store, ref, None, (ref,),
                       f"CORE {ref} (event {number}, store {store}) has no Supervisor with its number at its store; it "
                       f"is {state}" + (" and will move alone" if at is not None else "")
                       + ". Check the Supervisor event in Crossmark.", at.date() if at is not None else None)
    return Finding("supervisor_without_core", WARNING, number, store, None, ref, (ref,),
                   f"Supervisor {ref} (event {number}, store {store}) has no CORE with its number at its store; it is "
                   f"{state}. Check the CORE event in Crossmark.", at.date() if at is not None else None)


def _duplicated_key_findings(context: _Context, keys: list[tuple[str, str]]) -> list[Finding]:
    """Keys with two or more COREs or Supervisors: their members, then their events in detail (queries on these keys
    and refs only, rather than listing the refs of all 350,000 keys at 1,000,000 events in the grouping pass for the
    few thousand that need them)."""
    if context.scope is None:  # every duplicated key: one statement from the pairing keys
        refs_of, events = _duplicated_members(context)
        refs_of = {key: refs_of.get(key, []) for key in keys}
    else:
        refs_of = _member_refs(context.connection, keys)
        events = _events_by_ref(context.connection, [ref for refs in refs_of.values() for ref in refs])
    findings: list[Finding] = []
    for (number, store), refs in refs_of.items():
        cores = [events[ref] for ref in refs if ref in events and events[ref]["event_type"] == CORE]
        supervisors = [events[ref] for ref in refs if ref in events and events[ref]["event_type"] == SUPERVISOR]
        # Nothing of the other type is not ambiguous: each event is an orphan as well as a duplicate.
        for orphan in (cores if not supervisors else supervisors if not cores else []):
            findings.append(_orphan_finding(number, store, orphan["ref"], orphan["event_type"], orphan["scheduled_at"],
                                            orphan["condition"]))
        scheduled = sorted(event["scheduled_at"] for event in cores + supervisors if event["scheduled_at"])

        def listing(items: list[dict]) -> str:
            return ", ".join(f"{item['ref']} ({_when(item['scheduled_at'])})" for item in items) or "none"

        findings.append(Finding(
            "duplicate_pair_number", WARNING, number, store,
            cores[0]["ref"] if len(cores) == 1 else None, supervisors[0]["ref"] if len(supervisors) == 1 else None,
            tuple(sorted(event["ref"] for event in cores + supervisors)),
            f"Event number {number} at store {store} has {len(cores)} CORE(s) [{listing(cores)}] and "
            f"{len(supervisors)} Supervisor(s) [{listing(supervisors)}]: pairing is ambiguous, so paired actions are "
            "refused; remove or fix the duplicate in Crossmark.", scheduled[0].date() if scheduled else None))
    return findings


# The members of every duplicated key with their events, from the judged keys' range of dashboard_pair_keys: each key a
# seek of the members' index, each member a seek of events (about 2,800 keys and 8,500 events at 1,000,000 events).
# SQLite is held to that order by CROSS JOIN, PostgreSQL by a LATERAL subquery it cannot flatten (OFFSET 0): it
# expected 17,000 duplicated keys where there are 2,800, and hashed all 700,000 members for them. This replaced batches
# of 300 keys and 1,000 refs: 0.5 s of a full run on PostgreSQL.
_DUPLICATED_MEMBERS = """
SELECT m.num, m.store, e.project_ref_num AS ref, e.event_type, e.condition,
       (SELECT min(s.schedule_datetime) FROM schedules s WHERE s.event_ref_num = e.project_ref_num) AS scheduled_at
FROM {keys} k
{members} ON e.project_ref_num = m.ref
WHERE k.kind = {judged} AND (k.core_first <> k.core_last OR k.sup_first <> k.sup_last)
ORDER BY m.ref
"""
_MEMBERS_OF_KEY = {
    "sqlite": "CROSS JOIN dashboard_pair_members m ON m.num = k.num AND m.store = k.store CROSS JOIN events e",
    "postgresql": "CROSS JOIN LATERAL (SELECT m.num, m.store, m.ref FROM dashboard_pair_members m "
                  "WHERE m.num = k.num AND m.store = k.store OFFSET 0) m JOIN events e",
}


def _duplicated_members(context: _Context) -> tuple[dict[tuple[str, str], list[int]], dict[int, dict]]:
    """(event number, store) -> the refs of its members in ref order, and ref -> its event, for every key with two or
    more COREs or Supervisors."""
    refs_of: dict[tuple[str, str], list[int]] = defaultdict(list)
    events: dict[int, dict] = {}
    query = _DUPLICATED_MEMBERS.format(keys=pair_keys.TABLE, judged=pair_keys.KIND_JUDGED,
                                       members=_MEMBERS_OF_KEY[context.sql.dialect])
    for number, store, ref, event_type, condition, scheduled_at in context.connection.execute(text(query)):
        refs_of[(str(number), str(store))].append(int(ref))
        events[int(ref)] = {"ref": int(ref), "event_type": event_type, "condition": condition,
                            "scheduled_at": _as_datetime(scheduled_at)}
    return refs_of, events


def _member_refs(connection: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
    """(event number, store) -> the refs of its CORE and Supervisor members, in ref order."""
    refs_of: dict[tuple[str, str], list[int]] = {key: [] for key in keys}
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        condition, parameters = key_condition(keys[start:start + _KEYS_PER_QUERY], alias="m")
        for number, store, ref in connection.execute(text(
                f"SELECT m.num, m.store, m.ref FROM dashboard_pair_members m WHERE {condition} ORDER BY m.ref"),
                parameters):
            refs_of[(str(number), str(store))].append(int(ref))
    return refs_of


def _events_by_ref(connection: Connection, refs: list[int]) -> dict[int, dict]:
    query = text("""
        SELECT e.project_ref_num AS ref, e.event_type, e.condition, min(s.schedule_datetime) AS scheduled_at
        FROM events e LEFT JOIN schedules s ON s.event_ref_num = e.project_ref_num
        WHERE e.project_ref_num IN :refs
        GROUP BY e.project_ref_num, e.event_type, e.condition
    """).bindparams(bindparam("refs", expanding=True))
    events: dict[int, dict] = {}
    for start in range(0, len(refs), _REFS_PER_QUERY):
        for row in connection.execute(query, {"refs": refs[start:start + _REFS_PER_QUERY]}).mappings():
            event = dict(row)
            event["scheduled_at"] = _as_datetime(event["scheduled_at"])
            events[int(event["ref"])] = event
    return events


@overload
def _as_datetime(value: None) -> None: ...
@overload
def _as_datetime(value: datetime | str) -> datetime: ...
def _as_datetime(value: object) -> datetime | None:
    """A timestamp from a text() query: SQLite hands back the stored text, PostgreSQL a datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# --- rule 8: Unstaffed by due date ----------------------------------------------------------------------------------


def _unstaffed_findings(context: _Context) -> list[Finding]:
    now, wanted = context.now, context.wanted
    in_24h, in_72h = now + timedelta(hours=24), now + timedelta(hours=72)
    # The narrowest due range that covers the wanted rules: a range scan of ix_dashboard_events_unstaffed_due.
    lower = None if "unstaffed_past_due" in wanted else (now if "unstaffed_due_24h" in wanted else in_24h)
    upper = in_72h if "unstaffed_due_3d" in wanted else (in_24h if "unstaffed_due_24h" in wanted else now)
    base = f"""
        SELECT CASE WHEN e.due_datetime < :now THEN 'unstaffed_past_due'
                    WHEN e.due_datetime < :in_24h THEN 'unstaffed_due_24h'
                    ELSE 'unstaffed_due_3d' END AS rule,
               e.project_ref_num AS ref, e.project_name, e.event_type, e.location_mvid, e.store_number,
               e.start_datetime, e.due_datetime
        FROM events e
        WHERE e.condition = :unstaffed AND e.due_datetime < :upper
              {'' if lower is None else 'AND e.due_datetime >= :lower'} {{extra}}
    """
    dates = _datetime_params("now", "in_24h", "upper", *(() if lower is None else ("lower",)))
    parameters = {"now": now, "in_24h": in_24h, "upper": upper, "unstaffed": UNSTAFFED}
    if lower is not None:
        parameters["lower"] = lower
    # An incremental run: the scope's events (the clock's moves over the due dates are among them: incremental.plan).
    rows = _rows_in_scope(context, base, "e.project_ref_num", parameters, *dates)
    findings = []
    for name, ref, project_name, event_type, location_mvid, store_number, _, due in rows:
        if name not in wanted:
            continue
        due = _as_datetime(due)
        store = store_key(location_mvid, store_number)
        label = _event_label(event_type, ref, project_name, store)
        if name == "unstaffed_past_due":
            # No "N days ago" here: the text would change with every run while nothing else does. No colon right
            # after the time either: "23:59:" reads as an emoji code to Markdown, which the pages then break up.
            detail = (f"{label} is Unstaffed and was due {_when(due)}, so it can no longer be scheduled: check it "
                      "in Crossmark (expire or reissue).")
        else:
            detail = f"{label} is Unstaffed and due {_when(due)}; schedule it before its window closes."
        findings.append(_event_finding(name, RULES[name].severity, ref, event_type, project_name, store, detail,
                                       due.date(), due=due))
    return findings


def _datetime_params(*names: str) -> list:
    return [bindparam(name, type_=DateTime()) for name in names]


def _rows_in_scope(context: _Context, query: str, ref_column: str, parameters: dict, *binds: Any) -> Sequence[Any]:
    """The rows of `query` (its `{extra}` is where a condition on `ref_column` goes): all of them, or in an incremental
    run those of the scope's events, a list of refs at a time."""
    if context.scope is None:
        # all(): the driver's fetchall, one call, rather than a fetch per row (23,000 Unstaffed rows at 1M)
        return context.connection.execute(text(query.format(extra="")).bindparams(*binds), parameters).all()
    condition, ref_binds = context.scope.any_of(ref_column, "refs", "INTEGER")
    by_ref = text(query.format(extra=f"AND {condition}")).bindparams(*binds, *ref_binds)
    rows: list = []
    for refs in context.scope.in_batches(sorted(context.scope.refs)):
        rows += context.connection.execute(by_ref, {**parameters, "refs": list(refs)}).all()
    return rows


def _ago(delta: timedelta) -> str:
    hours = max(int(delta.total_seconds() // 3600), 0)
    return f"{hours // 24} day(s) {hours % 24} h" if hours >= 24 else f"{hours} h"


_KINDS: dict[str | None, str] = {CORE: "CORE", SUPERVISOR: "Supervisor"}  # looked up by events.event_type


def _event_label(event_type: str | None, ref: int, project_name: str | None, store: str | None) -> str:
    return f"{_KINDS.get(event_type, event_type or 'Event')} {ref} ({project_name or 'no name'}) at store {store or '?'}"


def _event_finding(rule: str, severity: str, ref: int, event_type: str | None, project_name: str | None,
                   store: str | None, detail: str, day: date | None, due: datetime | None = None, *,
                   employee_id: str | None = None) -> Finding:
    """A finding about one event; its number by the Python pairing rule (on offending rows only). `due`: the event's
    due date, when the finding cannot wait longer than that; `employee_id`: the rep it is about (the rules about
    people)."""
    return Finding(rule, severity, event_number(project_name), store, ref if event_type == CORE else None,
                   ref if event_type == SUPERVISOR else None, (int(ref),), detail, day, employee_id, due)


# --- rule 9: condition / is_scheduled / schedules row ---------------------------------------------------------------


def _state_drift_findings(context: _Context) -> list[Finding]:
    # The events dashboard_state_drift holds (kept by triggers: services/store/state_drift.py), each judged again here on
    # the base tables (an index seek): a few thousand at 1,000,000 events instead of every event. CROSS JOIN: SQLite
    # reads the held refs first, whatever its statistics say (PostgreSQL plans that order by itself).
    query = f"""
        SELECT e.project_ref_num AS ref, e.project_name, e.event_type, e.location_mvid, e.store_number, e.condition,
               CASE WHEN e.is_scheduled THEN 1 ELSE 0 END AS flag,
               (SELECT min(s.schedule_datetime) FROM schedules s WHERE s.event_ref_num = e.project_ref_num) AS at,
               e.start_datetime, e.due_datetime
        FROM {state_drift.TABLE} d CROSS JOIN events e
        WHERE e.project_ref_num = d.ref AND {state_drift.drift_sql("e")} {{extra}}
    """
    findings = []
    for row in _rows_in_scope(context, query, "d.ref", {}):
        at = _as_datetime(row.at)
        says = "scheduled" if row.condition in SCHEDULED_CONDITIONS else "not scheduled"
        store = store_key(row.location_mvid, row.store_number)
        detail = (f"{_event_label(row.event_type, row.ref, row.project_name, store)}: its condition "
                  f"'{row.condition or 'none'}' says {says}, is_scheduled is {'true' if row.flag else 'false'}, and "
                  + (f"a schedules row exists ({_when(at)})" if at is not None else "there is no schedules row")
                  + ": they must agree; sync its dates from Crossmark to repair it.")
        day = at.date() if at is not None else _as_datetime(row.start_datetime).date()
        findings.append(_event_finding("schedule_state_drift", WARNING, row.ref, row.event_type, row.project_name,
                                       store, detail, day))
    return findings


# --- rule 10: schedules Crossmark cannot unschedule -----------------------------------------------------------------


def _schedule_id_findings(context: _Context) -> list[Finding]:
    sql = context.sql
    query = f"""
        SELECT s.event_ref_num AS ref, s.external_id, s.schedule_datetime AS at, e.project_name, e.event_type,
               e.location_mvid, e.store_number
        FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num
        WHERE ({unusable_schedule_id_sql(sql.dialect, 's.external_id')}) {{extra}}
    """
    by_ref: dict[int, list] = defaultdict(list)
    for row in _rows_in_scope(context, query, "s.event_ref_num", {}):
        if row.external_id is None or not str(row.external_id).strip().isdigit():  # as crossmark_client.unschedule
            by_ref[int(row.ref)].append(row)
    findings = []
    for ref, rows in by_ref.items():
        first = rows[0]
        ids = ", ".join("none" if row.external_id is None else repr(row.external_id) for row in rows)
        at = min(_as_datetime(row.at) for row in rows)
        store = store_key(first.location_mvid, first.store_number)
        detail = (f"{_event_label(first.event_type, ref, first.project_name, store)} is scheduled {_when(at)} with "
                  f"scheduled-event id {ids}: it cannot be unscheduled or moved remotely until a sync stores "
                  "Crossmark's numeric id.")
        findings.append(_event_finding("schedule_without_crossmark_id", WARNING, ref, first.event_type,
                                       first.project_name, store, detail, at.date()))
    return findings


# --- rule 11: the journal ------------------------------------------------------------------------------------------


def _operation_findings(context: _Context) -> list[Finding]:
    query = text("""
        SELECT id, kind, requested_by, requested_at, message, events FROM dashboard_operations
        WHERE status = :status ORDER BY id
    """)
    findings = []
    for row in context.connection.execute(query, {"status": NEEDS_ATTENTION}):
        # JSON: a list from PostgreSQL's JSONB, the stored text from SQLite (read_json takes both).
        events = [event for event in read_json(row.events, [])
                  if isinstance(event, dict) and isinstance(event.get("ref"), int)]
        refs = tuple(sorted({event["ref"] for event in events}))
        roles = {event.get("role"): event["ref"] for event in events}
        starts = []
        for event in events:
            for placement in (event.get("target"), event.get("before")):
                if isinstance(placement, dict) and placement.get("start"):
                    try:
                        starts.append(datetime.fromisoformat(str(placement["start"])))
                    except ValueError:
                        pass
        requested_at = _as_datetime(row.requested_at)
        detail = (f"Operation {row.id} ({row.kind}, by {row.requested_by} at {_when(requested_at)}"
                  + (f", events {', '.join(map(str, refs))}" if refs else "")
                  + f") needs attention: {row.message or 'no message'} Run `python -m services reconcile`, or fix "
                  "Crossmark and mark it resolved.")
        findings.append(Finding("operation_needs_attention", CRITICAL, None, None, roles.get("core"),
                                roles.get("supervisor"), refs, detail, min(starts).date() if starts else None))
    return findings


# --- rule 12: Crossmark's planning list -----------------------------------------------------------------------------


def _crossmark_findings(context: _Context) -> list[Finding]:
    first = context.now.date()
    last = first + timedelta(days=context.drift_window_days)
    query = text("""
        SELECT e.project_ref_num AS ref, e.project_name, e.event_type, e.location_mvid, e.store_number,
               e.external_id AS mplan_id, s.schedule_datetime AS at, s.external_id AS scheduled_id,
               p.external_id AS rep_id
        FROM events e
        LEFT JOIN schedules s ON s.event_ref_num = e.project_ref_num
        LEFT JOIN employees p ON p.id = s.employee_id
        WHERE e.external_id IS NOT NULL AND e.external_id <> ''
          AND e.start_datetime < :window_end AND e.due_datetime >= :window_start
        ORDER BY e.project_ref_num, s.schedule_datetime
    """).bindparams(*_datetime_params("window_start", "window_end"))
    ours: dict[int, list] = defaultdict(list)
    for row in context.connection.execute(query, {"window_start": datetime.combine(first, time.min),
                                                  "window_end": datetime.combine(last + timedelta(days=1), time.min)}):
        ours[int(row.ref)].append(row)
    # All network I/O after the read: the planning list of the same window, by mPlanID.
    planning = {record.mplan_id: record for record in context.crossmark_client.planning_events(first, last)}

    findings = []
    for ref, rows in ours.items():
        row = rows[0]
        store = store_key(row.location_mvid, row.store_number)
        label = _event_label(row.event_type, ref, row.project_name, store) + f" (mPlan {row.mplan_id})"
        scheduled_rows = [r for r in rows if r.at is not None]
        our_at = _as_datetime(scheduled_rows[0].at) if scheduled_rows else None
        record = planning.get(str(row.mplan_id))
        problem = None
        if record is None:
            if our_at is not None:
                problem = (f"Crossmark does not list it in {first}..{last}, but our database has it scheduled "
                           f"{_when(our_at)}")
        else:
            their_at = record.scheduled_at if record.condition in SCHEDULED_CONDITIONS else None
            if len(scheduled_rows) > 1:
                problem = f"our database holds {len(scheduled_rows)} schedules rows for it"
            elif (our_at is None) != (their_at is None):
                problem = (f"Crossmark has it {_crossmark_state(record)}, our database has it "
                           + (f"scheduled {_when(our_at)}" if our_at is not None else "unscheduled"))
            elif our_at is not None and their_at is not None:
                ours_row, differences = scheduled_rows[0], []
                if our_at.replace(microsecond=0) != their_at.replace(microsecond=0):
                    differences.append(f"time {_when(their_at)} in Crossmark, {_when(our_at)} here")
                our_id = str(ours_row.scheduled_id or "").strip() or None
                if our_id != (record.scheduled_event_id or None):
                    differences.append(f"scheduled-event id {record.scheduled_event_id or 'none'} in Crossmark, "
                                       f"{our_id or 'none'} here")
                our_rep = str(ours_row.rep_id or "").strip() or None
                if our_rep is not None and record.rep_id and our_rep != record.rep_id:
                    differences.append(f"rep {record.rep_id} in Crossmark, {our_rep} here")
                if differences:
                    problem = "; ".join(differences)
        if problem is None:
            continue
        their_day = record.scheduled_at.date() if record is not None and record.scheduled_at else None
        findings.append(_event_finding(
            "crossmark_drift", CRITICAL, ref, row.event_type, row.project_name, store,
            f"{label}: {problem}. Sync {first}..{last} from Crossmark (or reconcile) so both agree.",
            our_at.date() if our_at is not None else their_day))
    return findings


def _crossmark_state(record) -> str:  # noqa: ANN001 - a PlanningEvent
    if record.scheduled_at is not None and record.condition in SCHEDULED_CONDITIONS:
        return (f"scheduled {_when(record.scheduled_at)} (rep {record.rep_id or '?'}, id "
                f"{record.scheduled_event_id or '?'})")
    return f"not scheduled ({record.condition or 'no condition'})"


class _Step(NamedTuple):
    label: str  # what progress() is told
    rules: tuple[str, ...]  # the rules it answers
    run: Callable[[_Context], list[Finding]]
    # Nearly all database work and few findings: with a second connection (run_rules' `beside`), run while the others
    # make their findings in Python.
    database_bound: bool = False


def _run_beside(engine: Engine, context: _Context, steps: list[_Step]) -> list[Finding]:
    """Steps one after the other on one connection of their own (one transaction), in a thread of its own: SQLite's and
    psycopg's waits on the database release Python's lock, so the database works while the main thread builds
    findings."""
    findings: list[Finding] = []
    with engine.connect() as connection:
        if context.sql.dialect == "postgresql":
            connection.execute(text("SET LOCAL jit = off"))  # as run_rules' own connection (see there)
        for step in steps:
            findings.extend(step.run(replace(context, connection=connection)))
    return findings


# One query each, or a few.
_STEPS: tuple[_Step, ...] = (
    _Step("CORE / Supervisor pairs", PAIR_RULES, _pair_findings),
    _Step("Unstaffed events by due date", UNSTAFFED_RULES, _unstaffed_findings),
    _Step("schedule state", ("schedule_state_drift",), _state_drift_findings, database_bound=True),
    _Step("schedule ids", ("schedule_without_crossmark_id",), _schedule_id_findings, database_bound=True),
    _Step("operations needing attention", ("operation_needs_attention",), _operation_findings),
    _Step("Crossmark planning list", ("crossmark_drift",), _crossmark_findings),
    # At 1,000,000 events about 0.4 s of window functions over the crowded rep-days, and a handful of findings.
    _Step("reps' bookings from today", BOOKING_RULES, lambda context: _people().booking_findings(context),
          database_bound=True),
    _Step("reps' days off", ("rep_time_off_conflict",), lambda context: _people().time_off_findings(context)),
    _Step("unreported work", ("unreported_work",), lambda context: _people().unreported_findings(context),
          database_bound=True),
    _Step("last sync", ("stale_sync",), lambda context: _people().stale_sync_findings(context)),
)


def _people():  # noqa: ANN202 - the module services.quality.rep_findings
    """The rules about people build on this module (Finding, the context, the labels), so they are imported when they
    first run rather than when this module loads: either module may then be imported first."""
    from services.quality import rep_findings
    return rep_findings
