"""What the Staff and Reassign dialogs (dashboard/actions_ui.py) show besides the widgets: the ranked suggestions as a
small table, each rep's verdict in words, the rules a choice breaks, the time a form starts from, and the other half
of the pair a staffing takes along. No widgets here: the dialogs draw them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine

from services.actions.facts import EventFacts, load_event_and_pair
from services.actions.suggestions import Suggestion, Suggestions, default_start
from services.domain.event_rules import SupervisorRule, supervisor_start
from services.domain.pairing import SUPERVISOR_UNSTAFFED
from services.domain.rep_rules import RuleCheck, RuleResult, Strength
from services.errors import InvalidInput

VERDICT_OK = "OK"
VERDICT_OVERRIDE = "Needs an override"  # only soft rules broken: a reason in the override box lets it go ahead
VERDICT_REFUSED = "Not allowed"  # a hard rule broken: no override


def verdict(check: RuleCheck) -> str:
    if check.hard_failures:
        return VERDICT_REFUSED
    return VERDICT_OVERRIDE if check.soft_failures else VERDICT_OK


def suggestions_table(suggestions: Suggestions) -> pd.DataFrame:
    """The ranked reps, best first: name, job title, verdict and why they rank there (no internal ids)."""
    return pd.DataFrame({
        "Rep": [s.rep.name for s in suggestions.ranked],
        "Job title": [s.rep.job_title or "—" for s in suggestions.ranked],
        "Verdict": [verdict(s.check) for s in suggestions.ranked],
        "Why": ["; ".join(s.reasons) for s in suggestions.ranked],
    }, columns=["Rep", "Job title", "Verdict", "Why"])


def top_allowed(ranked: Sequence[Suggestion]) -> int:
    """The position of the first rep who breaks no rule (the ranking puts them first), else 0: the closest one."""
    return next((position for position, suggestion in enumerate(ranked) if suggestion.allowed), 0)


def rep_choice_label(suggestion: Suggestion) -> str:
    """A rep in the rep list: name, job title and verdict (plain text: a select box shows it as typed)."""
    return f"{suggestion.rep.name} — {suggestion.rep.job_title or 'no job title'} · {verdict(suggestion.check)}"


def broken_rules(check: RuleCheck) -> tuple[RuleResult, ...]:
    """The rules a rep's choice breaks, the hard ones (no override) first."""
    return (*check.hard_failures, *check.soft_failures)


def rule_line(result: RuleResult, *, marked: bool = True) -> str:
    """One rule's result in words, after ✓ or ✗ when `marked` (plain text; the caller escapes it for Markdown)."""
    mark = ("✓ " if result.passed else "✗ ") if marked else ""
    if result.passed:
        return f"{mark}{result.title}: {result.message}"
    how = "cannot be overridden" if result.strength == Strength.HARD else "can be overridden with a reason"
    return f"{mark}{result.title} ({how}): {result.message}"


@dataclass(frozen=True)
class StaffingPair:
    """The other half of the pair staffing an event takes along or depends on."""

    unstaffed_supervisor: EventFacts | None = None  # a CORE's Unstaffed Supervisor: staffed with it, at the rule time
    core: EventFacts | None = None  # a Supervisor's one CORE: the Supervisor works on its date, at the rule time


def staffing_pair(engine: Engine, ref: int) -> StaffingPair:
    with engine.connect() as connection:
        facts = load_event_and_pair(connection, ref)
    pair = facts.supervisor
    if pair is not None and pair.state == SUPERVISOR_UNSTAFFED and pair.supervisor is not None:
        return StaffingPair(unstaffed_supervisor=pair.supervisor)
    return StaffingPair(core=facts.core)


def staff_start(event: EventFacts, pair: StaffingPair, now: datetime, rule: SupervisorRule) -> datetime | None:
    """The time the Staff form starts from: a Supervisor's rule time beside its scheduled CORE; otherwise the first
    Core time slot still ahead in the window (None: no slot is left; the person picks another time)."""
    core = pair.core
    if core is not None and core.placement.scheduled and core.placement.start is not None:
        return supervisor_start(core.placement.start, rule)
    try:
        return default_start(event, now)
    except InvalidInput:
        return None
