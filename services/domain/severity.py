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
SEVERITY_ORDER = {severity: rank for rank, severity in enumerate(SEVERITIES)}  # critical 0, warning 1, info 2
