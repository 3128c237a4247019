"""Pairing rules: how a CORE's Supervisor stands (same event number, same store), decided from the candidates alone.
The queries that find the candidates are in services/reads/pairing.py."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Iterable, Mapping

from services.domain.event_rules import CORE, SUPERVISOR, UNSTAFFED, PairingKey


class SupervisorState(StrEnum):
    """How a CORE's Supervisor stands; the day view colours them and the actions decide by them."""
    SCHEDULED = "scheduled"
    UNSTAFFED = "unstaffed"
    MISSING = "missing"
    AMBIGUOUS = "ambiguous"
    INACTIVE = "inactive"  # Canceled, Expired, ...: exists but is neither scheduled nor work to do


SUPERVISOR_SCHEDULED, SUPERVISOR_UNSTAFFED = SupervisorState.SCHEDULED, SupervisorState.UNSTAFFED
SUPERVISOR_MISSING, SUPERVISOR_AMBIGUOUS = SupervisorState.MISSING, SupervisorState.AMBIGUOUS
SUPERVISOR_INACTIVE = SupervisorState.INACTIVE


@dataclass(frozen=True)
class PairedEvent:
    ref: int
    project_name: str
    event_type: str
    condition: str | None
    scheduled_at: datetime | None
    rep_name: str | None
    rep_id: str | None


@dataclass(frozen=True)
class SupervisorMatch:
    state: str
    supervisor: PairedEvent | None = None
    cores_with_number: int = 1
    supervisors_with_number: int = 0


def match_supervisors(wanted: Mapping[int, PairingKey | None], candidates: Iterable[tuple[PairingKey, PairedEvent]]
                      ) -> dict[int, SupervisorMatch]:
    """For each CORE in `wanted` (ref -> its pairing key, None when it has none): its Supervisor's state among the
    `candidates` (each CORE and Supervisor with its key). One Supervisor and one CORE of the key make a pair; more of
    either is ambiguous."""
    by_key: dict[PairingKey, dict[str, dict[int, PairedEvent]]] = defaultdict(lambda: {CORE: {}, SUPERVISOR: {}})
    for candidate_key, event in candidates:
        by_key[candidate_key][event.event_type][event.ref] = event
    matches: dict[int, SupervisorMatch] = {}
    for ref, key in wanted.items():
        group = by_key.get(key) if key is not None else None
        supervisors = list(group[SUPERVISOR].values()) if group else []
        core_count = max(len(group[CORE]), 1) if group else 1
        if not supervisors:
            matches[ref] = SupervisorMatch(SUPERVISOR_MISSING, None, core_count, 0)
        elif len(supervisors) > 1 or core_count > 1:
            matches[ref] = SupervisorMatch(SUPERVISOR_AMBIGUOUS, None, core_count, len(supervisors))
        else:
            supervisor = supervisors[0]
            if supervisor.scheduled_at is not None:
                state = SUPERVISOR_SCHEDULED
            elif supervisor.condition == UNSTAFFED:
                state = SUPERVISOR_UNSTAFFED
            else:
                state = SUPERVISOR_INACTIVE
            matches[ref] = SupervisorMatch(state, supervisor, core_count, 1)
    return matches


def only_core(key: PairingKey, candidates: Iterable[tuple[PairingKey, PairedEvent]]) -> int | None:
    """The ref of the one CORE of `key` among the candidates, or None (none, or more than one)."""
    cores = {event.ref for candidate_key, event in candidates if event.event_type == CORE and candidate_key == key}
    return next(iter(cores)) if len(cores) == 1 else None
