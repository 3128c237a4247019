"""Who could work an event at a time, best first, each with the reasons for their rank and every rule's result.

From our own data (services/actions/rep_facts.py, set-based); Crossmark's own list of qualified reps, when it could be
read, removes those it does not qualify (the caller asks; a failure there never blocks, the suggestion says so).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection

from services.actions.facts import EventFacts
from services.actions.rep_facts import RepDay, qualified_reps, rep_days, store_visits
from services.domain.event_rules import CORE_SLOTS
from services.domain.rep_rules import Assignment, Rep, RuleCheck, check_assignment
from services.errors import InvalidInput

FAMILIAR_SINCE = timedelta(days=90)  # "knows the store": events held there in this long


class CrossmarkCheck(StrEnum):
    QUALIFIED = "qualified"  # Crossmark lists the rep as qualified for this event
    NOT_CHECKED = "not_checked"  # Crossmark's list could not be read (or there is no Crossmark): our data only


CROSSMARK_CHECK_LABELS = {CrossmarkCheck.QUALIFIED: "qualified in Crossmark",
                          CrossmarkCheck.NOT_CHECKED: "not checked with Crossmark"}


@dataclass(frozen=True)
class Suggestion:
    rep: Rep
    check: RuleCheck
    reasons: tuple[str, ...]  # why they rank where they do, in words
    store_visits: int
    crossmark: CrossmarkCheck

    @property
    def allowed(self) -> bool:
        """No rule broken: can be given the event without an override."""
        return self.check.allowed

    def to_json(self) -> dict[str, object]:
        return {"employee_id": self.rep.id, "name": self.rep.name, "job_title": self.rep.job_title,
                "rep_id": self.rep.rep_id, "allowed": self.allowed, "reasons": list(self.reasons),
                "store_visits": self.store_visits, "crossmark": str(self.crossmark),
                "rules": [{"rule": str(result.rule), "title": result.title, "strength": str(result.strength),
                           "passed": result.passed, "message": result.message,
                           "conflicting_event": result.conflicting_ref} for result in self.check.results]}


@dataclass(frozen=True)
class Suggestions:
    """The answer to "who could work this event at this time"."""
    event: EventFacts
    start: datetime
    ranked: tuple[Suggestion, ...]
    crossmark_note: str | None  # why Crossmark's own list was not used (None: it was)

    def to_json(self) -> dict[str, object]:
        return {"event": self.event.ref, "event_name": self.event.name, "event_type": self.event.event_type,
                "at": self.start.isoformat(timespec="minutes"),
                "crossmark": self.crossmark_note or "checked: only reps Crossmark qualifies are listed",
                "suggestions": [suggestion.to_json() for suggestion in self.ranked]}


def default_start(event: EventFacts, now: datetime) -> datetime:
    """When to judge reps for an event no time was given for: its current time, else the first Core slot still ahead
    inside its window (the times events start in real use)."""
    if event.placement.scheduled and event.placement.start is not None:
        return event.placement.start
    day = max(event.window_start.date(), now.date())
    while day <= event.window_end.date():
        for slot in CORE_SLOTS:
            at = datetime.combine(day, slot)
            if now <= at and event.window_start <= at <= event.window_end:
                return at
        day += timedelta(days=1)
    raise InvalidInput(f"Event {event.ref}'s window ({event.window_start:%Y-%m-%d} – {event.window_end:%Y-%m-%d}) "
                       "has no Core time slot left; give a time with --at.")


def assignment_for(event: EventFacts, start: datetime) -> Assignment:
    return Assignment(event.ref, event.event_type, start, event.duration, event.window_start, event.window_end,
                      bool(event.mplan_id), bool(event.location_id))


def judge(connection: Connection, event: EventFacts, start: datetime, reps: list[Rep], now: datetime,
          moving: Collection[int] = ()) -> dict[str, tuple[RepDay, RuleCheck]]:
    """Every rule for each rep working `event` at `start`; `moving`: other events the same action moves (their old
    bookings do not count against the rep)."""
    days = rep_days(connection, reps, start.date())
    assignment = assignment_for(event, start)
    judged = {}
    for rep in reps:
        day = days[rep.id]
        bookings = [booking for booking in day.bookings if booking.ref not in moving]
        judged[rep.id] = (day, check_assignment(assignment, rep, bookings, day.day_off, now))
    return judged


def suggest_reps(connection: Connection, event: EventFacts, start: datetime, now: datetime, *,
                 exclude: Collection[str] = (), crossmark_rep_ids: Collection[str] | None = None,
                 moving: Collection[int] = ()) -> list[Suggestion]:
    """Qualified, active reps with a Crossmark RepID for `event` at `start`, best first: no rule broken before any
    override is needed, then those who know the store, then the least busy that day. `crossmark_rep_ids`: the RepIDs
    Crossmark qualifies (None: not checked)."""
    reps = [rep for rep in qualified_reps(connection, event.event_type) if rep.id not in exclude
            and (crossmark_rep_ids is None or rep.rep_id in crossmark_rep_ids)]
    judged = judge(connection, event, start, reps, now, moving)
    visits = store_visits(connection, [rep.id for rep in reps], event.location_id, event.store_number,
                          now - FAMILIAR_SINCE)
    checked = CrossmarkCheck.NOT_CHECKED if crossmark_rep_ids is None else CrossmarkCheck.QUALIFIED
    suggestions = []
    for rep in reps:
        day, check = judged[rep.id]
        suggestions.append(Suggestion(rep, check, _reasons(day, check, visits.get(rep.id, 0), start),
                                      visits.get(rep.id, 0), checked))

    def rank(suggestion: Suggestion) -> tuple[int, int, int, int, str, str]:
        same_day = sum(1 for b in _days_bookings(judged[suggestion.rep.id][0], start))
        return (len(suggestion.check.hard_failures), len(suggestion.check.soft_failures), -suggestion.store_visits,
                same_day, suggestion.rep.name, suggestion.rep.id)

    return sorted(suggestions, key=rank)


def _days_bookings(day: RepDay, start: datetime) -> list:
    return [booking for booking in day.bookings if booking.start.date() == start.date()]


def _reasons(day: RepDay, check: RuleCheck, visits: int, start: datetime) -> tuple[str, ...]:
    reasons = []
    if check.hard_failures or check.soft_failures:
        reasons.append("breaks: " + ", ".join(result.title.lower() for result in
                                                  (*check.hard_failures, *check.soft_failures)))
    if visits:
        reasons.append(f"worked {visits} event{'s' if visits != 1 else ''} at this store in the last "
                       f"{FAMILIAR_SINCE.days} days")
    same_day = _days_bookings(day, start)
    reasons.append(f"{len(same_day)} other event{'s' if len(same_day) != 1 else ''} that day" if same_day
                   else "nothing else that day")
    return tuple(reasons)
