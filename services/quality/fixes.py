"""The fix a data-quality finding offers, as data: which action, on which event, to where. One place for the page's
Fix button and the `batch fix` command.

Only pairing rules have a fix an action can make: a Supervisor scheduled while its CORE is not is unscheduled; a
scheduled CORE's Unstaffed Supervisor is staffed (the lead is chosen by the caller: a person, or the top
suggestion); a Supervisor off its CORE's date or off the rule time is moved to the rule time on the CORE's date.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select

from services.actions.plan import RESCHEDULE, SCHEDULE_SUPERVISOR, UNSCHEDULE, ActionKind
from services.domain.event_rules import SupervisorRule, supervisor_start
from services.quality.rules import run_rules
from services.store.tables import Event, Schedule

FIX_KINDS: dict[str, ActionKind] = {
    "supervisor_scheduled_core_not": UNSCHEDULE,
    "core_supervisor_unstaffed": SCHEDULE_SUPERVISOR,
    "pair_date_mismatch": RESCHEDULE,
    "supervisor_time_off_rule": RESCHEDULE,
}
FIXABLE_RULES = tuple(FIX_KINDS)


@dataclass(frozen=True)
class FindingFix:
    """What fixing one finding does: `kind` on event `ref` (for schedule-Supervisor, the CORE), to `start` when it
    moves something."""

    rule: str
    kind: ActionKind
    ref: int
    label: str
    start: datetime | None = None


def finding_fixes(connection: Connection, rule_name: str, supervisor_rule: SupervisorRule, now: datetime,
                  first: date | None = None, last: date | None = None) -> list[FindingFix]:
    """The fix of every current finding of `rule_name` (judged now), on days `first`..`last` when given; findings
    whose fix would act in the past are left out (the action would refuse them)."""
    kind = FIX_KINDS[rule_name]
    fixes = []
    for finding in run_rules(connection, now=now, rule=supervisor_rule, names=[rule_name]):
        if first is not None and last is not None and (finding.day is None or not first <= finding.day <= last):
            continue
        if kind == UNSCHEDULE and finding.supervisor_ref is not None:
            fixes.append(FindingFix(rule_name, kind, finding.supervisor_ref, finding.detail))
        elif kind == SCHEDULE_SUPERVISOR and finding.core_ref is not None:
            fixes.append(FindingFix(rule_name, kind, finding.core_ref, finding.detail))
        elif kind == RESCHEDULE and finding.core_ref is not None and finding.supervisor_ref is not None:
            core_start = _scheduled_at(connection, finding.core_ref)
            if core_start is None:
                continue
            at = supervisor_start(core_start, supervisor_rule)
            if at >= now:
                fixes.append(FindingFix(rule_name, kind, finding.supervisor_ref, finding.detail, at))
    return fixes


def _scheduled_at(connection: Connection, ref: int) -> datetime | None:
    return connection.execute(select(Schedule.schedule_datetime).join(Event, Event.project_ref_num ==
                                                                      Schedule.event_ref_num)
                              .where(Event.project_ref_num == ref).order_by(Schedule.id).limit(1)).scalar()
