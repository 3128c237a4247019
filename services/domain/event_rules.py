"""Domain rules layer: how events are recognised, paired and timed. Pure functions, one place (DESIGN.md §1)."""
from __future__ import annotations

import re
from enum import StrEnum
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import NamedTuple

class EventType(StrEnum):
    """An event's type, as stored in events.event_type, in the order the pages list them."""
    CORE = "Core"
    JUICER = "Juicer"
    SUPERVISOR = "Supervisor"
    FREEOSK = "Freeosk"
    DIGITALS = "Digitals"
    OTHER = "Other"


CORE, JUICER, SUPERVISOR = EventType.CORE, EventType.JUICER, EventType.SUPERVISOR
FREEOSK, DIGITALS, OTHER = EventType.FREEOSK, EventType.DIGITALS, EventType.OTHER
EVENT_TYPES = tuple(EventType)

# Keyed by str: looked up with events.event_type's text (an EventType is a str, equal to it).
DEFAULT_DURATION_MINUTES: dict[str, int] = {CORE: 390, SUPERVISOR: 5, JUICER: 540, DIGITALS: 15, FREEOSK: 15, OTHER: 15}


class EventCondition(StrEnum):
    """An event's condition in Crossmark, as stored in events.condition (a StrEnum: equal to its text). Unstaffed is the
    only "needs scheduling" state; Canceled and Expired are neither scheduled nor work."""
    UNSTAFFED = "Unstaffed"
    SCHEDULED = "Scheduled"
    STAFFED = "Staffed"
    CANCELED = "Canceled"
    IN_PROGRESS = "In Progress"
    PAUSED = "Paused"
    REISSUED = "Reissued"
    EXPIRED = "Expired"
    SUBMITTED = "Submitted"


UNSTAFFED, SCHEDULED = EventCondition.UNSTAFFED, EventCondition.SCHEDULED
CONDITIONS = tuple(EventCondition)  # in this order in the planning list's condition filter (services/crossmark)
# Conditions under which an event has a rep and a schedules row, so is_scheduled must be true.
SCHEDULED_CONDITIONS = frozenset({EventCondition.SCHEDULED, EventCondition.STAFFED, EventCondition.IN_PROGRESS,
                                  EventCondition.PAUSED, EventCondition.SUBMITTED})

# The times of day a CORE starts (DESIGN.md §1): the demo data's slots, the Reschedule dialog's time buttons and the rep
# rules' Core-slot check.
CORE_SLOTS = (time(9, 45), time(10, 30), time(11, 0), time(11, 30))

# Checked in this order on each part of a name. Supervisor comes before Core because a Supervisor's product name may
# contain "core" (e.g. "Corelle"), while a CORE's name never says "supervisor".
_TYPE_TOKENS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (SUPERVISOR, ("SUPERVISOR", "V2-SUPER", "SUPERVISO")),
    (CORE, ("CORE",)),
    (JUICER, ("JUICER",)),
    (DIGITALS, ("DIGITAL",)),
    (FREEOSK, ("FREEOSK",)),
)
# "<name>  - V2-CORE", "<name> V2 - Freeosk": the part after the last spaced dash says what the event is.
_SUFFIX_SEPARATOR = re.compile(r"\s+-\s+")
# "606001-CORE-Super Pretzel", "606001-Supervisor-Super Pretzel": the old/test format names the type second.
_OLD_FORMAT_TYPE = re.compile(r"^\s*\d{6}-([A-Za-z0-9 ]+?)-")
# The event number: exactly six digits at the very start. The 12-digit number in parentheses never counts.
_EVENT_NUMBER = re.compile(r"^\s*(\d{6})(?!\d)")


def _type_in(text: str) -> str | None:
    upper = text.upper()
    for event_type, tokens in _TYPE_TOKENS:
        if any(token in upper for token in tokens):
            return event_type
    return None


def classify_event_type(project_name: str | None) -> str:
    """Event type of a Crossmark project name: the suffix first, then the old format's type field, then anywhere."""
    name = (project_name or "").strip()
    if not name:
        return OTHER
    parts = _SUFFIX_SEPARATOR.split(name)
    if len(parts) > 1 and (found := _type_in(parts[-1])):
        return found
    old_format = _OLD_FORMAT_TYPE.match(name)
    if old_format and (found := _type_in(old_format.group(1))):
        return found
    return _type_in(name) or OTHER


def event_number(project_name: str | None) -> str | None:
    """The leading 6-digit event number that pairs a CORE with its Supervisor, or None when the name has none."""
    match = _EVENT_NUMBER.match(project_name or "")
    return match.group(1) if match else None


class PairingKey(NamedTuple):
    event_number: str
    store: str


def store_key(location_mvid: str | None, store_number: int | None) -> str | None:
    """The store an event belongs to: Crossmark's location id, falling back to the store number."""
    if location_mvid is not None and str(location_mvid).strip():
        return str(location_mvid).strip()
    if store_number is not None:
        return str(store_number)
    return None


def pairing_key(project_name: str | None, location_mvid: str | None, store_number: int | None) -> PairingKey | None:
    """CORE and Supervisor pair when they share this key; None when the name has no event number or no store."""
    number = event_number(project_name)
    store = store_key(location_mvid, store_number)
    if number is None or store is None:
        return None
    return PairingKey(number, store)


@dataclass(frozen=True)
class SupervisorRule:
    """When a Supervisor is scheduled relative to its CORE: `offset` minutes after the CORE start, or a `fixed` time of day."""

    mode: str = "offset"
    offset_minutes: int = 120
    fixed_time: time = time(12, 0)

    def describe(self) -> str:
        if self.mode == "fixed":
            return f"fixed at {self.fixed_time:%H:%M}"
        return f"CORE start + {self.offset_minutes} min"


def supervisor_start(core_start: datetime, rule: SupervisorRule) -> datetime:
    """When a CORE starting at `core_start` wants its Supervisor: on the CORE's date, by the rule."""
    if rule.mode == "fixed":
        return datetime.combine(core_start.date(), rule.fixed_time)
    return core_start + timedelta(minutes=rule.offset_minutes)


def default_duration_minutes(event_type: str) -> int:
    return DEFAULT_DURATION_MINUTES.get(event_type, DEFAULT_DURATION_MINUTES[OTHER])


def is_scheduled_condition(condition: str | None) -> bool:
    return condition in SCHEDULED_CONDITIONS
