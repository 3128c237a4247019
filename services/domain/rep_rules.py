"""Who may work what, and when: the rules checked before a rep is given an event (staff, reassign, the suggestions,
batches), and that the data-quality rules about people share (DESIGN.md §1 "Reps": one module, two callers).

Pure: typed facts in, typed results out; nothing here reads the database (services/actions/facts.py loads the facts).
A hard rule refuses, always. A soft rule refuses unless the person gives a reason to override it; the reason is
recorded with the operation and in the audit trail.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from services.domain.event_rules import CORE, CORE_SLOTS, DIGITALS, FREEOSK, JUICER, SUPERVISOR
from services.domain.titles import SUPERVISOR_TITLES, JobTitle

class Strength(StrEnum):
    HARD = "hard"  # refused, no override
    SOFT = "soft"  # refused unless overridden with a reason


class RepRule(StrEnum):
    """The rules, with stable ids (CLI JSON, the operation record, the data-quality findings)."""
    ACTIVE = "rep_active"
    QUALIFIED = "rep_qualified"
    IN_WINDOW = "in_window"
    CROSSMARK_IDS = "crossmark_ids"
    ONE_CORE_A_DAY = "one_core_a_day"
    NO_OVERLAP = "no_overlap"
    AVAILABLE = "rep_available"
    CORE_SLOT = "core_slot"


RULE_STRENGTH = {RepRule.ACTIVE: Strength.HARD, RepRule.QUALIFIED: Strength.HARD, RepRule.IN_WINDOW: Strength.HARD,
                 RepRule.CROSSMARK_IDS: Strength.HARD, RepRule.ONE_CORE_A_DAY: Strength.SOFT,
                 RepRule.NO_OVERLAP: Strength.SOFT, RepRule.AVAILABLE: Strength.SOFT, RepRule.CORE_SLOT: Strength.SOFT}
RULE_TITLES = {RepRule.ACTIVE: "Rep is active", RepRule.QUALIFIED: "Rep may work this event type",
               RepRule.IN_WINDOW: "Inside the event's window, not in the past",
               RepRule.CROSSMARK_IDS: "Crossmark ids present", RepRule.ONE_CORE_A_DAY: "At most one CORE a day",
               RepRule.NO_OVERLAP: "No overlapping events", RepRule.AVAILABLE: "Rep available that day",
               RepRule.CORE_SLOT: "CORE at a Core time slot"}

# Who may work what, by job title (DESIGN.md §1); an event type not listed here may be worked by anyone.
QUALIFIED_TITLES: dict[str, tuple[JobTitle, ...]] = {
    SUPERVISOR: SUPERVISOR_TITLES, FREEOSK: SUPERVISOR_TITLES, DIGITALS: SUPERVISOR_TITLES,
    JUICER: (JobTitle.CLUB_SUPERVISOR, JobTitle.JUICER_BARISTA),
}


def is_qualified(job_title: str | None, event_type: str) -> bool:
    titles = QUALIFIED_TITLES.get(event_type)
    return titles is None or job_title in titles


@dataclass(frozen=True)
class Rep:
    """A rep as the rules see them (employees row)."""
    id: str
    name: str
    job_title: str | None
    active: bool
    rep_id: str | None  # employees.external_id: Crossmark's RepID


@dataclass(frozen=True)
class Booking:
    """One event a rep holds (scheduled), as the overlap and one-CORE rules see it."""
    ref: int
    name: str
    event_type: str
    start: datetime
    minutes: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class DayOff:
    """A day the rep is not to be scheduled, and why (time off, marked unavailable, not a working weekday)."""
    day: date
    reason: str


@dataclass(frozen=True)
class Assignment:
    """What is asked: this event, at this start, for this long."""
    ref: int
    event_type: str
    start: datetime
    minutes: int
    window_start: datetime
    window_end: datetime
    has_mplan_id: bool
    has_location_id: bool

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class RuleResult:
    rule: RepRule
    passed: bool
    message: str  # in words: what holds, or what is broken (with the conflicting event)
    conflicting_ref: int | None = None

    @property
    def strength(self) -> Strength:
        return RULE_STRENGTH[self.rule]

    @property
    def title(self) -> str:
        return RULE_TITLES[self.rule]

    def named(self) -> str:
        """The message with the rule it breaks: "At most one CORE a day (one_core_a_day): Dana ... ."."""
        return f"{self.title} ({self.rule}): {self.message}"


@dataclass(frozen=True)
class RuleCheck:
    """Every rule's result for one rep on one assignment."""
    rep: Rep
    results: tuple[RuleResult, ...]

    @property
    def hard_failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed and r.strength == Strength.HARD)

    @property
    def soft_failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed and r.strength == Strength.SOFT)

    @property
    def allowed(self) -> bool:
        """No rule broken at all (nothing to override)."""
        return not self.hard_failures and not self.soft_failures

    def refusal(self, override: str | None, how_to_override: str) -> str | None:
        """Why this assignment is refused (None: it may go ahead). Soft rules yield to a non-blank override reason;
        `how_to_override` says how, in the caller's words ("--override REASON", "the override box")."""
        if self.hard_failures:
            return " ".join(r.named() for r in self.hard_failures) + " This rule cannot be overridden."
        if self.soft_failures and not (override or "").strip():
            return (" ".join(r.named() for r in self.soft_failures) +
                    f" To go ahead anyway, give a reason with {how_to_override}.")
        return None

    def overridden(self, override: str | None) -> tuple[RuleResult, ...]:
        """The soft rules an override reason set aside (recorded with the operation)."""
        return self.soft_failures if (override or "").strip() and not self.hard_failures else ()


def check_assignment(assignment: Assignment, rep: Rep, bookings: Iterable[Booking], day_off: DayOff | None,
                     now: datetime, *, core_slots: Sequence[time] = CORE_SLOTS, time_kept: bool = False) -> RuleCheck:
    """Every rule for `rep` working `assignment`. `bookings`: the rep's other scheduled events around that day (the
    assigned event itself and events the same action moves must not be among them); `day_off`: the day's unavailability,
    if any; `time_kept`: the event keeps the time it has (a reassign), so its time slot is not this action's choice."""
    results = [_active(rep), _qualified(rep, assignment), _in_window(assignment, now), _ids(rep, assignment)]
    others = [b for b in bookings if b.ref != assignment.ref]
    results.append(_one_core(rep, assignment, others))
    results.append(_no_overlap(rep, assignment, others))
    results.append(_available(rep, assignment, day_off))
    results.append(RuleResult(RepRule.CORE_SLOT, True, "The time does not change.") if time_kept
                   else _core_slot(assignment, core_slots))
    return RuleCheck(rep, tuple(results))


def _active(rep: Rep) -> RuleResult:
    if rep.active:
        return RuleResult(RepRule.ACTIVE, True, f"{rep.name} is active.")
    return RuleResult(RepRule.ACTIVE, False, f"{rep.name} is inactive or terminated and may not be scheduled.")


def _qualified(rep: Rep, assignment: Assignment) -> RuleResult:
    if is_qualified(rep.job_title, assignment.event_type):
        return RuleResult(RepRule.QUALIFIED, True, f"{rep.name} may work a {assignment.event_type} event.")
    titles = " or ".join(QUALIFIED_TITLES[assignment.event_type])
    return RuleResult(RepRule.QUALIFIED, False,
                      f"{rep.name} ({rep.job_title or 'no job title'}) may not work event {assignment.ref}: a "
                      f"{assignment.event_type} event needs a {titles}.")


def _in_window(assignment: Assignment, now: datetime) -> RuleResult:
    at = f"{assignment.start:%Y-%m-%d %H:%M}"
    if assignment.start < now:
        return RuleResult(RepRule.IN_WINDOW, False, f"Event {assignment.ref} at {at} is in the past.")
    if not assignment.window_start <= assignment.start <= assignment.window_end:
        return RuleResult(RepRule.IN_WINDOW, False,
                          f"Event {assignment.ref} at {at} is outside its window "
                          f"{assignment.window_start:%Y-%m-%d %H:%M} – {assignment.window_end:%Y-%m-%d %H:%M}.")
    return RuleResult(RepRule.IN_WINDOW, True, f"{at} is inside event {assignment.ref}'s window.")


def _ids(rep: Rep, assignment: Assignment) -> RuleResult:
    missing = [what for what, present in (("the event's mPlanID", assignment.has_mplan_id),
                                          ("the store's LocationID", assignment.has_location_id),
                                          (f"{rep.name}'s Crossmark RepID", bool(rep.rep_id))) if not present]
    if missing:
        return RuleResult(RepRule.CROSSMARK_IDS, False,
                          f"Event {assignment.ref} cannot be sent to Crossmark: {', '.join(missing)} missing.")
    return RuleResult(RepRule.CROSSMARK_IDS, True, "Crossmark has every id it needs.")


def _one_core(rep: Rep, assignment: Assignment, others: list[Booking]) -> RuleResult:
    if assignment.event_type == CORE:
        day = assignment.start.date()
        for other in sorted(others, key=lambda b: b.start):
            if other.event_type == CORE and other.start.date() == day:
                return RuleResult(RepRule.ONE_CORE_A_DAY, False,
                                  f"{rep.name} already works CORE {other.ref} ({other.name}) at "
                                  f"{other.start:%H:%M} on {day:%Y-%m-%d}; a rep works at most one CORE a day.",
                                  other.ref)
    return RuleResult(RepRule.ONE_CORE_A_DAY, True, f"{rep.name} has no other CORE that day.")


def _no_overlap(rep: Rep, assignment: Assignment, others: list[Booking]) -> RuleResult:
    # Supervisor events (5 minutes) are exempt: a Club Supervisor does many around noon.
    if assignment.event_type != SUPERVISOR:
        for other in sorted(others, key=lambda b: b.start):
            if other.event_type != SUPERVISOR and other.start < assignment.end and assignment.start < other.end:
                return RuleResult(RepRule.NO_OVERLAP, False,
                                  f"{rep.name}'s event {other.ref} ({other.name}, {other.start:%H:%M}–"
                                  f"{other.end:%H:%M}) overlaps {assignment.start:%H:%M}–{assignment.end:%H:%M} on "
                                  f"{assignment.start:%Y-%m-%d}.", other.ref)
    return RuleResult(RepRule.NO_OVERLAP, True, f"{rep.name} has nothing else at that time.")


def _available(rep: Rep, assignment: Assignment, day_off: DayOff | None) -> RuleResult:
    if day_off is not None and day_off.day == assignment.start.date():
        return RuleResult(RepRule.AVAILABLE, False,
                          f"{rep.name} is not available on {day_off.day:%Y-%m-%d} ({day_off.reason}).")
    return RuleResult(RepRule.AVAILABLE, True, f"{rep.name} is not marked off that day.")


def _core_slot(assignment: Assignment, core_slots: Sequence[time]) -> RuleResult:
    slots = ", ".join(f"{slot:%H:%M}" for slot in core_slots)
    if assignment.event_type == CORE and assignment.start.time() not in core_slots:
        return RuleResult(RepRule.CORE_SLOT, False,
                          f"CORE {assignment.ref} at {assignment.start:%H:%M} is not at a Core time slot ({slots}).")
    return RuleResult(RepRule.CORE_SLOT, True, "At a Core time slot." if assignment.event_type == CORE
                      else "Not a CORE: any time.")
