"""Event timeline layer: one event's history — the operations and Crossmark steps that touched it, its audit entries
and data-quality findings — and where it stands now in our database and, read live, in Crossmark, side by side.

How the operations that touched an event are found, without reading whole tables (1,000,000 events, 100,000
operations and several times as many steps and audit entries):
- every operation that changed the event in our database left an audit entry naming it (`dashboard_audit.event_ref`,
  indexed): all `done` operations and every compensation that rewrote our row;
- an operation still holding the event — unfinished, needing attention — holds its lock (`dashboard_event_locks`, keyed
  by the event);
- the rest (refused requests, whose `events` are empty but whose `request` names the ref or CORE; compensated and
  resolved operations; an operation that relied on the event as the other half of a pair) are found among the latest
  `RECENT_OPERATIONS` operations, a range of the primary key whose `request` / `events` text mentions the ref, each
  confirmed by reading its JSON. Older ones of these are not listed; the timeline says so
  (`EventTimeline.older_operations_unsearched`).
`dashboard_operation_steps.event_ref` has no index, and an operation's steps only ever concern the events of its own
`events` list, so steps are read per operation found (`operation_id` is indexed), never searched by event.

Findings are looked up by their identity (unique index: rule + the refs involved, services/quality_checks.identity_of):
the event alone, the event with each other member of its pairing key (dashboard_pair_members), the whole key (duplicate
numbers) and the refs of each operation found — every shape a rule gives its refs. `core_ref` / `supervisor_ref` alone
would miss the findings about events of other types, and are not indexed.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import Connection, Engine, Row, Text, cast, func, or_, select

from services.domain import input_limits
from services.domain.event_rules import OTHER
from services.crossmark.client import CrossmarkClient, PlanningEvent
from services.errors import NotFound, OpsError
from services.actions.journal import (
    DONE, NEEDS_ATTENTION, RESOLVED, STATUSES, STEP_OK, STEP_SENT, OperationRecord, json_text, operation_record,
    read_json, status_label,
)
from services.quality.checks import identity_of
from services.actions.plan import ROLE_LABELS, ROLE_SINGLE, kind_label
from services.quality.rules import PEOPLE_RULES, RULES, Finding, rule_title
from services.store.tables import (
    AuditEntry, Employee, Event, Operation, OperationStep, PairLock, PairMember, QualityFinding, Schedule,
)

# How many of the latest operations are searched by their text for requests that name the event (refused ones above
# all): the per-call cost stays the same however long the journal grows. A quarter of a 100,000-operation year.
RECENT_OPERATIONS = 25_000
_IDENTITIES_PER_QUERY = 400  # well under every driver's parameter limit

KIND_OPERATION, KIND_STEP, KIND_AUDIT, KIND_FINDING = "operation", "step", "audit", "finding"
KIND_TITLES = {KIND_OPERATION: "Action", KIND_STEP: "Crossmark call", KIND_AUDIT: "Audit entry",
               KIND_FINDING: "Data quality"}
# An entry's status beyond the journal's (journal.status_label): a request recorded, a finding's state.
_ENTRY_STATUS_LABELS = {"requested": "Requested", "in_progress": "In progress", "open": "Open",
                        "acknowledged": "Acknowledged"}
CROSSMARK, CROSSMARK_SANDBOX = "Crossmark", "Crossmark (sandbox)"

# The roles as plan.ROLE_LABELS names them, but an event without a pair is "event" in the middle of a sentence.
_ROLE_LABELS = {**ROLE_LABELS, ROLE_SINGLE: "event"}
_STEP_PURPOSES = {"forward": "", "compensate": "undoing: ", "resolve": ""}


def _when(value: datetime | None) -> str:
    return f"{value:%a %b %d, %H:%M}" if value is not None else "—"


def entry_status_label(status: str | None) -> str:
    """A timeline entry's status as people read it."""
    return _ENTRY_STATUS_LABELS.get(status or "") or status_label(status)


def action_label(kind: str) -> str:
    """A journal kind ("schedule_supervisor") as people say it ("Schedule Supervisor"): services.actions.plan.KIND_LABELS."""
    return kind_label(kind)


# --- what the timeline holds ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counterpart:
    """Another CORE or Supervisor with the event's number at its store: its pair, or a duplicate."""

    ref: int
    event_type: str


@dataclass(frozen=True)
class EventFacts:
    """The event as our database has it: what it is, where, and when it may be worked."""

    ref: int
    name: str
    event_type: str
    store_number: int | None
    store_name: str | None
    location_id: str | None  # the store's Crossmark id (events.location_mvid)
    window_start: datetime
    window_end: datetime
    condition: str | None
    mplan_id: str | None  # the event's Crossmark id (events.external_id)
    last_synced: datetime | None
    counterparts: tuple[Counterpart, ...]  # the other COREs / Supervisors with its event number at its store

    @property
    def store(self) -> str:
        """`#8135 · Store name` (the name alone when it holds the number), or the location id without a number."""
        number = f"#{self.store_number}" if self.store_number is not None else (self.location_id or "unknown store")
        if not self.store_name:
            return number
        return self.store_name if number in self.store_name else f"{number} · {self.store_name}"

    @property
    def window(self) -> str:
        return f"{_when(self.window_start)} – {_when(self.window_end)}"


@dataclass(frozen=True)
class Standing:
    """Where an event stands in one system: scheduled (when, with whom, under which Crossmark scheduled-event id) or
    not, and its condition there."""

    scheduled: bool
    start: datetime | None = None
    rep_id: str | None = None  # the rep's Crossmark id (employees.external_id, Crossmark's scheduleRepID)
    rep_name: str | None = None
    employee_id: str | None = None  # ours only
    scheduled_event_id: str | None = None
    condition: str | None = None

    def describe(self) -> str:
        if not self.scheduled:
            return "not scheduled"
        rep = self.rep_name or "unknown rep"
        return (f"scheduled {_when(self.start)} · {rep}" + (f" (rep {self.rep_id})" if self.rep_id else "")
                + (f" · scheduled-event id {self.scheduled_event_id}" if self.scheduled_event_id else ""))


@dataclass(frozen=True)
class CrossmarkReading:
    """The event as Crossmark has it, read live when the timeline was built; or why it could not be read."""

    label: str  # "Crossmark" or "Crossmark (sandbox)": the sandbox is always named
    sandbox: bool
    standing: Standing | None  # None: not read, or not in Crossmark's planning list
    problem: str | None  # why there is no standing, in a sentence


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # operation | step | audit | finding
    operation_id: int | None
    status: str | None  # the operation's or step's status, the audit entry's outcome, a finding's state
    who: str | None
    summary: str
    detail: str


@dataclass(frozen=True)
class EventTimeline:
    ref: int
    event: EventFacts
    database: Standing
    crossmark: CrossmarkReading
    agree: bool | None  # None: Crossmark could not be compared
    differences: tuple[str, ...]  # what differs when they do not agree: "scheduled or not", "time", "rep", ...
    entries: tuple[TimelineEntry, ...]  # oldest first
    older_operations_unsearched: bool  # the journal holds more than the latest RECENT_OPERATIONS (see the docstring)

    def to_json(self) -> dict:
        value = asdict(self)
        value["event"]["store"] = self.event.store
        return json.loads(json.dumps(value, default=lambda item: item.isoformat()))


# --- building it ----------------------------------------------------------------------------------------------------


def event_timeline(engine: Engine, ref: int | str, *, client_factory: Callable[[], CrossmarkClient] | None,
                   recent_operations: int = RECENT_OPERATIONS) -> EventTimeline:
    """The timeline of event `ref`: NotFound when there is no such event, InvalidInput for a ref that cannot be one.
    Crossmark is read through `client_factory` (None: not read); a failed read is reported in the result, never
    raised."""
    ref = input_limits.event_ref(ref)
    with engine.connect() as connection:
        facts = _event_facts(connection, ref)
        database = _database_standing(connection, ref, facts.condition)
        operations, older = _touching_operations(connection, ref, recent_operations)
        names = _names_of_reps(engine, operations)
        entries = [*_operation_entries(operations, ref, names),
                   *_step_entries(connection, ref, operations, names),
                   *_audit_entries(connection, ref, operations, names),
                   *_finding_entries(connection, ref, [member.ref for member in facts.counterparts], operations)]
    crossmark = read_crossmark(client_factory, facts)
    if crossmark.standing is not None and crossmark.standing.rep_id and not crossmark.standing.rep_name:
        crossmark = replace(crossmark, standing=replace(crossmark.standing,
                                                        rep_name=_rep_name(engine, crossmark.standing.rep_id)))
    agree, differences = compare(database, crossmark.standing)
    entries.sort(key=lambda item: item[0])
    return EventTimeline(ref, facts, database, crossmark, agree, differences,
                         tuple(entry for _, entry in entries), older)


def compare(database: Standing, crossmark: Standing | None) -> tuple[bool | None, tuple[str, ...]]:
    """Agreement as invariant 1 and the crossmark_drift rule judge it: scheduled or not, and when scheduled the time,
    the rep and the scheduled-event id (which unscheduling needs)."""
    if crossmark is None:
        return None, ()
    if database.scheduled != crossmark.scheduled:
        return False, ("scheduled or not",)
    if not database.scheduled:
        return True, ()
    differences = []
    if database.start != crossmark.start:
        differences.append("time")
    if str(database.rep_id or "") != str(crossmark.rep_id or ""):
        differences.append("rep")
    if str(database.scheduled_event_id or "") != str(crossmark.scheduled_event_id or ""):
        differences.append("Crossmark scheduled-event id")
    return not differences, tuple(differences)


def read_crossmark(client_factory: Callable[[], CrossmarkClient] | None, facts: EventFacts) -> CrossmarkReading:
    """The event's standing in Crossmark, read the way the paired actions read an event back
    (PairedActions.remote_placement: the planning list over the event's window, filtered by its mPlanID)."""
    if client_factory is None:
        return CrossmarkReading(CROSSMARK, False, None, "Crossmark was not read.")
    if not facts.mplan_id:
        return CrossmarkReading(CROSSMARK, False, None, "The event has no Crossmark id (mPlanID) in our database, so "
                                "it cannot be looked up in Crossmark.")
    label, sandbox = CROSSMARK, False
    try:
        with client_factory() as client:
            sandbox = bool(client.is_sandbox)
            label = CROSSMARK_SANDBOX if sandbox else CROSSMARK
            records = client.planning_events(facts.window_start.date() - timedelta(days=1),
                                             facts.window_end.date() + timedelta(days=1), mplan_id=facts.mplan_id)
    except OpsError as failure:
        return CrossmarkReading(label, sandbox, None, f"could not read Crossmark: {failure}")
    record = next((r for r in records if r.mplan_id == facts.mplan_id), None)
    if record is None:
        return CrossmarkReading(label, sandbox, None, f"Crossmark's planning list has no event with mPlanID "
                                f"{facts.mplan_id} in its window.")
    return CrossmarkReading(label, sandbox, _remote_standing(record), None)


def _remote_standing(record: PlanningEvent) -> Standing:
    # Scheduled exactly when remote_placement says so: a schedule date and a scheduled-event id.
    if record.scheduled_at is None or not record.scheduled_event_id:
        return Standing(False, condition=record.condition)
    return Standing(True, record.scheduled_at, record.rep_id, ", ".join(record.staffed_reps) or None, None,
                    record.scheduled_event_id, record.condition)


# --- our database ---------------------------------------------------------------------------------------------------


def _event_facts(connection: Connection, ref: int) -> EventFacts:
    row = connection.execute(select(Event.project_name, Event.event_type, Event.store_number, Event.store_name,
                                    Event.location_mvid, Event.start_datetime, Event.due_datetime, Event.condition,
                                    Event.external_id, Event.last_synced)
                             .where(Event.project_ref_num == ref)).first()
    if row is None:
        raise NotFound(f"No event with ref {ref}.", ref=ref)
    return EventFacts(ref, row.project_name, row.event_type or OTHER, row.store_number, row.store_name,
                      row.location_mvid, row.start_datetime, row.due_datetime, row.condition,
                      str(row.external_id) if row.external_id else None, row.last_synced,
                      tuple(member for member in _pair_group(connection, ref) if member.ref != ref))


def _pair_group(connection: Connection, ref: int) -> list[Counterpart]:
    """Every CORE and Supervisor with the event's pairing key (itself included), in ref order, from the trigger-kept
    members table (two seeks: its key by ref, then the key's members)."""
    key = connection.execute(select(PairMember.num, PairMember.store).where(PairMember.ref == ref)).first()
    if key is None:
        return []
    return [Counterpart(member_ref, event_type) for member_ref, event_type in connection.execute(
        select(PairMember.ref, PairMember.event_type).where(PairMember.num == key.num, PairMember.store == key.store)
        .order_by(PairMember.ref))]


def _database_standing(connection: Connection, ref: int, condition: str | None) -> Standing:
    # The event's first schedule row, as the paired actions read it (_db_placement).
    row = connection.execute(
        select(Schedule.schedule_datetime, Schedule.employee_id, Schedule.external_id, Employee.external_id,
               Employee.name)
        .outerjoin(Employee, Employee.id == Schedule.employee_id)
        .where(Schedule.event_ref_num == ref).order_by(Schedule.id)).first()
    if row is None:
        return Standing(False, condition=condition)
    return Standing(True, row[0], str(row[3]) if row[3] is not None else None, row[4], row[1],
                    str(row[2]) if row[2] is not None else None, condition)


def _rep_name(engine: Engine, rep_id: str) -> str | None:
    """Our name for a Crossmark rep id, when Crossmark's reply named no one (employees.external_id is unique)."""
    if len(rep_id) > 100:  # longer than the column: no employee has it
        return None
    with engine.connect() as connection:
        return connection.execute(select(Employee.name).where(Employee.external_id == rep_id)).scalar_one_or_none()


def _role_in(operation: OperationRecord, ref: int) -> str | None:
    """How the operation concerns event `ref`: its role among the operation's events (core, supervisor, single),
    "guard" (the other half of a pair it relied on), "asked" (named by a request that planned nothing), or None."""
    for event in operation.events:
        if event.get("ref") == ref:
            return str(event.get("role") or "single")
    if str(ref) in (operation.request.get("guards") or {}):
        return "guard"
    if ref in (operation.request.get("ref"), operation.request.get("core")):
        return "asked"
    return None


def _touching_operations(connection: Connection, ref: int, recent: int) -> tuple[list[OperationRecord], bool]:
    """The operations that touched event `ref`, oldest first, and whether older operations went unsearched (see the
    module docstring for where each kind is found and why the search is bounded)."""
    known = {operation_id for operation_id in connection.execute(select(AuditEntry.operation_id).where(
        AuditEntry.event_ref == ref, AuditEntry.operation_id.is_not(None)).distinct()).scalars()
        if operation_id is not None}  # (as the query says: the test narrows the nullable column's type)
    known |= set(connection.execute(select(PairLock.operation_id).where(PairLock.event_ref == ref)).scalars())
    newest = connection.execute(select(func.max(Operation.id))).scalar() or 0
    floor = max(newest - recent, 0)
    mention = f"%{ref}%"  # the ref is digits only: nothing in it is a LIKE wildcard
    found: dict[int, OperationRecord] = {}
    for row in connection.execute(select(Operation).where(
            Operation.id > floor,
            or_(cast(Operation.request, Text).like(mention), cast(Operation.events, Text).like(mention),
                Operation.undo_of.is_not(None)))
            .order_by(Operation.id)):
        operation = operation_record(row)
        # An undo (refused ones included, whose events are empty) of an operation that touched the event touches it.
        if _role_in(operation, ref) is not None or operation.id in known or operation.undo_of in known | set(found):
            found[operation.id] = operation
    older = sorted(known - set(found))
    for start in range(0, len(older), _IDENTITIES_PER_QUERY):
        for row in connection.execute(select(Operation).where(
                Operation.id.in_(older[start:start + _IDENTITIES_PER_QUERY]))):
            found[row.id] = operation_record(row)
    return sorted(found.values(), key=lambda operation: operation.id), floor > 0


# --- the entries ----------------------------------------------------------------------------------------------------

# Entries that share a second are ordered as they happened: operation by operation, the request, its Crossmark calls,
# then what it recorded; findings last.
_RANK_OPERATION, _RANK_REQUESTED, _RANK_STEP, _RANK_AUDIT, _RANK_FINDING = range(5)
_NO_OPERATION = input_limits.INT_MAX + 1
_Sortable = tuple[tuple[datetime, int, int, int], TimelineEntry]


def _rep_text(names: Mapping[str, str] | None, *ids: Any) -> str:
    """`" with Jane Doe"` for the first of `ids` (Crossmark's rep id, our employee id) that `names` knows (see
    read_queries.employee_names); `" (rep 4711)"` by the first id when no one has it (or no names were read)."""
    known = next((names[str(value)] for value in ids if names and value not in (None, "") and str(value) in names),
                 None)
    if known:
        return f" with {known}"
    rep_id = next((value for value in ids if value not in (None, "")), None)
    return f" (rep {rep_id})" if rep_id is not None else ""


def people_in(*recorded: Any) -> set[str]:
    """Every employee / rep id that journal or audit JSON (placements, requests, Crossmark calls) names, for
    read_queries.employee_names."""
    ids: set[str] = set()
    for value in recorded:
        value = read_json(value, {}) if isinstance(value, str) else value
        if isinstance(value, dict):
            ids |= {str(value[key]) for key in ("employee_id", "rep_id", "employee", "RepID")
                    if value.get(key) not in (None, "")}
    return ids


def _placement_text(value: Any, names: Mapping[str, str] | None = None) -> str:
    """A placement recorded as JSON (services.actions.plan.Placement.to_json) as a person reads it; the rep by name when
    `names` has them."""
    if not isinstance(value, dict):
        return str(value) if value not in (None, "") else ""
    if not value.get("scheduled"):
        return "not scheduled"
    try:
        start = datetime.fromisoformat(str(value.get("start")))
    except ValueError:
        start = None
    text = f"scheduled {_when(start)}"
    text += _rep_text(names, value.get("rep_id"), value.get("employee_id") if names is not None else None)
    if value.get("scheduled_event_id"):
        text += f", scheduled-event id {value['scheduled_event_id']}"
    return text


def _request_text(kind: str, request: dict, ref: int | None, names: Mapping[str, str] | None = None) -> str:
    """What was asked, in words: "Reschedule to Tue 2025-10-07 11:00", "Schedule Supervisor of CORE 608001 with
    employee US157005", "Undo of operation 12"."""
    text = action_label(kind)
    subject = request.get("ref", request.get("core"))
    if kind == "schedule_supervisor":
        text += f" of CORE {subject}" if subject is not None else ""
        if request.get("employee"):
            known = (names or {}).get(str(request["employee"]))
            text += f" with {known}" if known else f" with employee {request['employee']}"
        return text
    if kind == "undo" and request.get("operation") is not None:
        return f"{text} of operation {request['operation']}"
    if subject is not None and subject != ref:
        text += f" of event {subject}"
    if request.get("to"):
        try:
            text += f" to {_when(datetime.fromisoformat(str(request['to'])))}"
        except ValueError:
            text += f" to {request['to']}"
    return text


def _names_of_reps(engine: Engine, operations: list[OperationRecord]) -> dict[str, str]:
    """Our names of the reps the operations name (their requests and placements; their Crossmark calls and audit
    entries name the same reps), read once for the whole timeline."""
    from services.reads.read_queries import employee_names

    ids = people_in(*(operation.request for operation in operations),
                    *(event.get(key) for operation in operations for event in operation.events
                      for key in ("before", "after", "target")))
    return employee_names(engine, ids) if ids else {}


def _operation_entries(operations: list[OperationRecord], ref: int,
                       names: Mapping[str, str] | None = None) -> list[_Sortable]:
    entries = []
    for operation in operations:
        role = _role_in(operation, ref)
        summary = _request_text(operation.kind, operation.request, ref, names)
        if role == "guard":
            summary += f" — relied on event {ref}, left as it was"
        elif role == "supervisor" and operation.request.get("ref") not in (None, ref):
            summary += f" — Supervisor {ref} follows"
        mine = next((event for event in operation.events if event.get("ref") == ref), None)
        detail = operation.message or ""
        if mine is not None and operation.status in (DONE, RESOLVED, NEEDS_ATTENTION):
            reached = mine.get("after") or mine.get("target")
            change = f"{_placement_text(mine.get('before'), names)} → {_placement_text(reached, names)}"
            detail = f"This event: {change}. {detail}".strip()
        entry = TimelineEntry(operation.requested_at, KIND_OPERATION, operation.id, operation.status,
                              operation.requested_by, summary, detail)
        entries.append(((operation.requested_at, operation.id, _RANK_OPERATION, operation.id), entry))
    return entries


def step_summary(action: str, purpose: str, request: dict, names: Mapping[str, str] | None = None) -> str:
    prefix = "Crossmark: " + _STEP_PURPOSES.get(purpose, f"{purpose}: ")
    if action == "schedule":
        try:
            start = _when(datetime.fromisoformat(str(request.get("Start"))))
        except ValueError:
            start = str(request.get("Start"))
        return prefix + f"schedule at {start}" + _rep_text(names, request.get("RepID"))
    if action == "unschedule":
        return prefix + "unschedule" + (f" (scheduled-event id {request['id']})" if request.get("id") else "")
    if action == "read_back":
        return prefix + "read the event back"
    return prefix + action.replace("_", " ")


def step_detail(status: str, result: dict, names: Mapping[str, str] | None = None) -> str:
    if result.get("error"):
        return str(result["error"])
    if "scheduled" in result:
        return ("Crossmark now has it " if status == STEP_OK else "") + _placement_text(result, names)
    if status == STEP_SENT:
        return "Sent; no reply recorded yet."
    return ""


def _step_entries(connection: Connection, ref: int, operations: list[OperationRecord],
                  names: Mapping[str, str] | None = None) -> list[_Sortable]:
    ids = [operation.id for operation in operations]
    entries = []
    for start in range(0, len(ids), _IDENTITIES_PER_QUERY):
        for row in connection.execute(select(OperationStep.id, OperationStep.operation_id, OperationStep.action,
                                             OperationStep.purpose, OperationStep.request, OperationStep.result,
                                             OperationStep.status, OperationStep.created_at)
                                      .where(OperationStep.operation_id.in_(ids[start:start + _IDENTITIES_PER_QUERY]),
                                             OperationStep.event_ref == ref)):
            entry = TimelineEntry(row.created_at, KIND_STEP, row.operation_id, row.status, None,
                                  step_summary(row.action, row.purpose, read_json(row.request, {}), names),
                                  step_detail(row.status, read_json(row.result, {}), names))
            entries.append(((row.created_at, row.operation_id, _RANK_STEP, row.id), entry))
    return entries


def audit_text(action: str, before: str | None, after: str | None, message: str | None,
               ref: int | None, names: Mapping[str, str] | None = None) -> tuple[str, str | None, str]:
    """(summary, status, detail) of one audit entry, with what it recorded as JSON put into words (the Audit page
    and the timeline); `ref` is the event the entry is read for, None for none in particular; reps by name when
    `names` has them."""
    kind, _, rest = action.partition(": ")
    if rest:  # "<kind>: <role>" (the local change of one event) or "<kind>: <role> restored" (a compensation)
        role, _, restored = rest.partition(" ")
        what = "restored in our database" if restored == "restored" else "changed in our database"
        summary = f"{action_label(kind)}: {_ROLE_LABELS.get(role, role)} {what}"
        change = (f"{_placement_text(read_json(before, {}) or before, names)} → "
                  f"{_placement_text(read_json(after, {}) or after, names)}")
        return summary, None, (change + (f". {message}" if message else ""))
    if action.endswith(" requested"):
        asked = action[:-len(" requested")]
        request = read_json(message, {})
        if request or (message or "").startswith("{"):
            return f"Requested: {_request_text(asked, request, ref, names)}", "requested", ""
        return f"Requested: {action_label(asked)}", "requested", message or ""
    if action.endswith(" refused"):
        return f"{action_label(action[:-len(' refused')])} refused", "refused", message or ""
    if action in STATUSES:
        return f"Operation ended: {status_label(action).lower()}", action, message or ""
    detail = message or " → ".join(part for part in (before, after) if part)
    return action_label(action), None, detail


def _audit_entries(connection: Connection, ref: int, operations: list[OperationRecord],
                   names: Mapping[str, str] | None = None) -> list[_Sortable]:
    """The event's own entries, and its operations' entries about no one event (requested, refused, final status,
    reconcile and retry attempts); their entries about other events are left to those events' timelines."""
    columns = (AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.operation_id, AuditEntry.action,
               AuditEntry.before, AuditEntry.after, AuditEntry.message)
    rows = {row.id: row for row in connection.execute(select(*columns).where(AuditEntry.event_ref == ref))}
    ids = [operation.id for operation in operations]
    for start in range(0, len(ids), _IDENTITIES_PER_QUERY):
        for row in connection.execute(select(*columns).where(
                AuditEntry.operation_id.in_(ids[start:start + _IDENTITIES_PER_QUERY]), AuditEntry.event_ref.is_(None))):
            rows[row.id] = row
    entries = []
    for row in rows.values():
        summary, status, detail = audit_text(row.action, json_text(row.before), json_text(row.after), row.message, ref,
                                             names)
        rank = _RANK_REQUESTED if status == "requested" else _RANK_AUDIT
        entries.append(((row.at, row.operation_id or _NO_OPERATION, rank, row.id),
                        TimelineEntry(row.at, KIND_AUDIT, row.operation_id, status, row.actor, summary, detail)))
    return entries


def _finding_identities(ref: int, group: Iterable[int], operations: list[OperationRecord]) -> set[str]:
    """Every identity a finding about event `ref` can have: each rule with the event alone, with each other member of
    its pairing key, with the whole key, and with the refs of each operation that touched it."""
    members = sorted(set(group) | {ref})
    ref_sets = {(ref,), tuple(members)}
    ref_sets |= {tuple(sorted((ref, other))) for other in members if other != ref}
    for operation in operations:
        refs = tuple(sorted({event["ref"] for event in operation.events if isinstance(event.get("ref"), int)}))
        if ref in refs:
            ref_sets.add(refs)
    return {identity_of(Finding(rule, "", None, None, None, None, refs, "", None))
            for rule in RULES for refs in ref_sets}


def _findings_of(connection: Connection, ref: int, paired: list[int], operations: list[OperationRecord]
                 ) -> list[Row]:
    """The findings about event `ref`: by the identities a finding about it can have (index seeks), and the findings
    about reps (whose refs are a rep's events of a day, and whose identity names the rep) by their refs among the rules
    about people's findings only (the rule index)."""
    columns = (QualityFinding.id, QualityFinding.rule, QualityFinding.severity, QualityFinding.detail,
               QualityFinding.first_seen, QualityFinding.resolved_at, QualityFinding.acknowledged_by,
               QualityFinding.acknowledged_at, QualityFinding.acknowledgement_note)
    identities = sorted(_finding_identities(ref, paired, operations))
    found: dict[int, Row] = {}
    for start in range(0, len(identities), _IDENTITIES_PER_QUERY):
        found.update((row.id, row) for row in connection.execute(select(*columns).where(
            QualityFinding.identity.in_(identities[start:start + _IDENTITIES_PER_QUERY]))))
    text_ref = str(ref)
    found.update((row.id, row) for row in connection.execute(select(*columns).where(
        QualityFinding.rule.in_(PEOPLE_RULES),
        or_(QualityFinding.refs == text_ref, QualityFinding.refs.like(f"{text_ref},%"),
            QualityFinding.refs.like(f"%,{text_ref}"), QualityFinding.refs.like(f"%,{text_ref},%")))))
    return sorted(found.values(), key=lambda row: row.id)


def _finding_entries(connection: Connection, ref: int, paired: list[int],
                     operations: list[OperationRecord]) -> list[_Sortable]:
    entries = []
    for row in _findings_of(connection, ref, paired, operations):
        title = f"Data quality: {rule_title(row.rule)} ({row.severity})"
        state = "resolved" if row.resolved_at else "acknowledged" if row.acknowledged_at else "open"
        detail = row.detail
        if row.acknowledged_at:
            detail += f" Acknowledged by {row.acknowledged_by} {_when(row.acknowledged_at)}" + (
                f": {row.acknowledgement_note}" if row.acknowledgement_note else ".")
        entries.append(((row.first_seen, _NO_OPERATION, _RANK_FINDING, row.id),
                        TimelineEntry(row.first_seen, KIND_FINDING, None, state, None, title, detail)))
        if row.resolved_at:
            entries.append(((row.resolved_at, _NO_OPERATION, _RANK_FINDING, row.id), TimelineEntry(
                row.resolved_at, KIND_FINDING, None, "resolved", None,
                f"Data quality: {rule_title(row.rule)} no longer found",
                f"A check run no longer reports it (first seen {_when(row.first_seen)}).")))
    return entries
