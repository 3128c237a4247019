"""What an action will do, as data: a `Plan` names the events it changes (each with where it stands and where it is
taken), the other halves of pairs it relies on without changing them (guards), and warnings for the person acting.

Planners (services/actions/planners.py) make plans from facts; the executor (services/actions/executor.py) runs any
plan. Nothing here reads the database or Crossmark.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

from services.domain.rep_rules import RuleCheck


class PairRole(StrEnum):
    """What an event is in an operation: the CORE, its Supervisor, or an event without a pair."""
    CORE = "core"
    SUPERVISOR = "supervisor"
    SINGLE = "single"


class ActionKind(StrEnum):
    """An operation's kind, as stored in dashboard_operations.kind."""
    RESCHEDULE = "reschedule"
    UNSCHEDULE = "unschedule"
    SCHEDULE_SUPERVISOR = "schedule_supervisor"
    UNDO = "undo"
    STAFF = "staff"
    REASSIGN = "reassign"


ROLE_CORE, ROLE_SUPERVISOR, ROLE_SINGLE = PairRole.CORE, PairRole.SUPERVISOR, PairRole.SINGLE
RESCHEDULE, UNSCHEDULE = ActionKind.RESCHEDULE, ActionKind.UNSCHEDULE
SCHEDULE_SUPERVISOR, UNDO = ActionKind.SCHEDULE_SUPERVISOR, ActionKind.UNDO
STAFF, REASSIGN = ActionKind.STAFF, ActionKind.REASSIGN
# Operation kinds (and the other actions the journal and the audit trail name) as people read them.
KIND_LABELS = {RESCHEDULE: "Reschedule", UNSCHEDULE: "Unschedule", SCHEDULE_SUPERVISOR: "Schedule Supervisor",
               UNDO: "Undo", STAFF: "Staff", REASSIGN: "Reassign", "retry": "Retry", "mark_resolved": "Mark resolved", "reconcile": "Reconcile"}
# Keyed by str: PlannedEvent.role holds the text (a PairRole is a str, equal to it).
ROLE_LABELS: dict[str, str] = {ROLE_CORE: "CORE", ROLE_SUPERVISOR: "Supervisor", ROLE_SINGLE: "Event"}


def kind_label(kind: str | None) -> str:
    """An operation kind ("schedule_supervisor") as people say it ("Schedule Supervisor")."""
    return KIND_LABELS.get(kind or "", (kind or "").replace("_", " ").strip().capitalize() or "Action")


@dataclass(frozen=True)
class Placement:
    """Where an event stands: scheduled (when, with whom, under which Crossmark scheduled-event id) or not."""

    scheduled: bool
    start: datetime | None = None
    employee_id: str | None = None
    rep_id: str | None = None
    scheduled_event_id: str | None = None

    def same_placement(self, other: Placement) -> bool:
        """Same in the sense people care about: scheduled or not, same time, same rep."""
        if self.scheduled != other.scheduled:
            return False
        return not self.scheduled or (self.start == other.start and str(self.rep_id) == str(other.rep_id))

    def unchanged_from(self, expected: Placement) -> bool:
        """Same placement under the same Crossmark scheduled-event id: nothing at all happened to it."""
        return self.same_placement(expected) and (self.scheduled_event_id or None) == \
            (expected.scheduled_event_id or None)

    def to_json(self) -> dict[str, Any]:
        return {"scheduled": self.scheduled, "start": self.start.isoformat() if self.start else None,
                "employee_id": self.employee_id, "rep_id": self.rep_id, "scheduled_event_id": self.scheduled_event_id}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Placement:
        start = value.get("start")
        return cls(bool(value.get("scheduled")), datetime.fromisoformat(start) if start else None,
                   value.get("employee_id"), value.get("rep_id"), value.get("scheduled_event_id"))

    def describe(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M}" if self.scheduled and self.start else "unscheduled"


UNSCHEDULED = Placement(False)


@dataclass(frozen=True)
class PlannedEvent:
    """One event of an action: who it is in Crossmark, where it stands, and where the action takes it."""

    ref: int
    role: str
    name: str
    event_type: str
    mplan_id: str
    location_id: str
    duration: int
    window_start: datetime
    window_end: datetime
    before: Placement
    target: Placement
    rep_name: str | None = None  # the target's rep by name, when the action gives the event to someone (messages)

    @property
    def label(self) -> str:
        """"CORE 606001", "Supervisor 606002", "Event 7": how messages name it."""
        return f"{ROLE_LABELS.get(self.role, 'Event')} {self.ref}"

    def to_json(self, after: Placement | None = None) -> dict[str, Any]:
        return {"ref": self.ref, "role": self.role, "name": self.name, "event_type": self.event_type,
                "mplan_id": self.mplan_id, "location_id": self.location_id, "duration": self.duration,
                "window_start": self.window_start.isoformat(), "window_end": self.window_end.isoformat(),
                "before": self.before.to_json(), "target": self.target.to_json(),
                "after": after.to_json() if after else None, **({"rep_name": self.rep_name} if self.rep_name else {})}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> PlannedEvent:
        return cls(value["ref"], value["role"], value["name"], value["event_type"], value["mplan_id"],
                   value["location_id"], value["duration"], datetime.fromisoformat(value["window_start"]),
                   datetime.fromisoformat(value["window_end"]), Placement.from_json(value["before"]),
                   Placement.from_json(value["target"]), value.get("rep_name"))

    def reached_text(self, reached: Placement) -> str:
        """Where the event ended, in words: its time, and who holds it when the action gave it to someone else."""
        text = reached.describe()
        if reached.scheduled and self.rep_name and str(reached.rep_id) != str(self.before.rep_id):
            text += f" with {self.rep_name}"
        return text


@dataclass(frozen=True)
class Plan:
    """An action's plan: the events it changes, in the order Crossmark is written (a CORE before its Supervisor)."""

    events: tuple[PlannedEvent, ...]
    warnings: tuple[str, ...] = ()
    # The other half of a pair that the action relies on but does not change (a CORE's unscheduled Supervisor, the
    # CORE of a Supervisor being scheduled): locked like the events and checked unchanged at the local commit, so a
    # concurrent action on that half cannot split the pair.
    guards: Mapping[int, Placement] = field(default_factory=dict)
    # Every rep rule's result for each rep the plan gives an event to (staff, reassign): shown before confirming.
    checks: tuple[RuleCheck, ...] = ()

    def difference(self, later: Plan) -> str | None:
        """What differs between this plan (made before the locks) and the same plan made under them, in words;
        None when they agree. The executor acts only on a plan that did not move (no lost update)."""
        before = {event.ref: event for event in self.events}
        after = {event.ref: event for event in later.events}
        if set(before) != set(after):
            return (f"the action now involves events {', '.join(map(str, sorted(after)))} instead of "
                    f"{', '.join(map(str, sorted(before)))}")
        for ref, event in before.items():
            now = after[ref]
            if not now.before.unchanged_from(event.before) or not now.target.same_placement(event.target):
                return f"{event.label} is now {now.before.describe()} (it was {event.before.describe()})"
        for ref, expected in self.guards.items():
            now_guard = later.guards.get(ref)
            if now_guard is None or not now_guard.unchanged_from(expected):
                return f"event {ref}, the other half of the pair, is now " + (
                    now_guard.describe() if now_guard else "no longer part of the pair")
        if set(later.guards) - set(self.guards):
            return "the pair changed"
        return None
