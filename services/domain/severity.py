"""How serious a data-quality finding is: its severity, and their order (the most serious first)."""
from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """A finding's severity, as stored in dashboard_findings.severity (a StrEnum: equal to its text)."""
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


CRITICAL, WARNING, INFO = Severity.CRITICAL, Severity.WARNING, Severity.INFO
SEVERITIES = tuple(Severity)  # the most serious first
# critical 0, warning 1, info 2; keyed by str: the stored text is looked up (a Severity is a str, equal to it).
SEVERITY_ORDER: dict[str, int] = {severity: rank for rank, severity in enumerate(SEVERITIES)}
