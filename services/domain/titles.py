"""Job titles (employees.job_title) and which of them may work which events: defined once, here."""
from __future__ import annotations

from enum import StrEnum


class JobTitle(StrEnum):
    """A rep's job title as the scheduler stores it (a StrEnum: equal to its text)."""
    EVENT_SPECIALIST = "Event Specialist"
    LEAD_EVENT_SPECIALIST = "Lead Event Specialist"
    CLUB_SUPERVISOR = "Club Supervisor"
    JUICER_BARISTA = "Juicer Barista"


# Who may work a Supervisor event (and lead a CORE day at a club).
SUPERVISOR_TITLES = (JobTitle.CLUB_SUPERVISOR, JobTitle.LEAD_EVENT_SPECIALIST)
