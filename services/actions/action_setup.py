"""Action wiring layer: the paired actions as the settings configure them (rule, permission check and rate limit,
retry policy, stuck alerts), for the pages, the CLI and the server's retry loop alike."""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Engine

from services.access.accounts import authorizer
from services.crossmark.client import CrossmarkClient
from services.actions.journal import OperationRecord
from services.ops.logging_setup import log_event
from services.quality.notifications import compose_stuck, deliver
from services.actions.paired_actions import PairedActions
from services.actions.retry_policy import policy_from_settings
from services.settings import Settings


def stuck_alert(settings: Settings) -> Callable[[OperationRecord], None]:
    """Tell people once, by the channels the check notifications use, that an operation is stuck."""

    def alert(record: OperationRecord) -> None:
        delivery = deliver(compose_stuck(record, settings.dashboard_url), settings)
        log_event("services.actions", "stuck alert", operation_id=record.id, delivery=delivery.summary())

    return alert


def paired_actions(settings: Settings, engine: Engine, client_factory: Callable[[], CrossmarkClient]) -> PairedActions:
    return PairedActions(engine, client_factory, rule=settings.supervisor_rule,
                         authorize=authorizer(engine, settings.actions_per_minute),
                         retry_policy=policy_from_settings(settings.retry_first_seconds, settings.retry_max_seconds,
                                                           settings.retry_min_attempts, settings.retry_min_hours),
                         alert_stuck=stuck_alert(settings))
