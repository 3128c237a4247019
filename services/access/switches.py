"""Switches layer: admin switches stored in the database and audited, read fresh by every process on every rerun."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, insert, inspect, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError

from services.access.accounts import require_permission
from services.store.data_version import bump_data_version
from services.errors import InvalidInput
from services.store.database import begin_write
from services.store.tables import AuditEntry, Switch

MAINTENANCE = "maintenance_mode"  # every action refused, with a banner: for deployments
WRITES_OFF = "crossmark_writes_off"  # kill switch: reads go on, actions refused
SUPERVISOR_FOLLOW = "supervisor_follow"  # a CORE's scheduled Supervisor moves with it
DEFAULTS = {MAINTENANCE: False, WRITES_OFF: False, SUPERVISOR_FOLLOW: True}
LABELS = {MAINTENANCE: "Maintenance mode (all actions refused)",
          WRITES_OFF: "Crossmark writes off (kill switch)",
          SUPERVISOR_FOLLOW: "Supervisor follows its CORE automatically"}


def current_switches(engine: Engine) -> dict[str, bool]:
    with engine.connect() as connection:
        return switches_on(connection)


def switches_on(connection: Connection) -> dict[str, bool]:
    """The switches read on the caller's connection (the executor reads them where it reads the plan's facts: one
    connection, so on PostgreSQL one pool checkout and its round trips fewer per plan)."""
    values = dict(DEFAULTS)
    # Read, and take a missing table (a database not yet upgraded) as "all defaults": asking the catalogue first
    # cost PostgreSQL a round trip on every plan and every page run.
    try:
        rows = connection.execute(select(Switch.name, Switch.enabled)).all()
    except (OperationalError, ProgrammingError):
        connection.rollback()  # PostgreSQL refuses every statement of a failed transaction
        if inspect(connection).has_table(Switch.__tablename__):
            raise
        return values
    for name, enabled in rows:
        if name in values:
            values[name] = bool(enabled)
    return values


def last_changes(engine: Engine) -> dict[str, tuple[str | None, datetime | None]]:
    """Who last changed each switch and when (switches never changed are absent)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(Switch.__tablename__):
            return {}
        rows = connection.execute(select(Switch.name, Switch.changed_by, Switch.changed_at)).all()
    return {name: (changed_by, changed_at) for name, changed_by, changed_at in rows}


def set_switch(engine: Engine, name: str, enabled: bool, actor: str) -> None:
    if name not in DEFAULTS:
        raise InvalidInput(f"Unknown switch {name!r}; switches are {', '.join(DEFAULTS)}.")
    require_permission(engine, actor, "switches")
    now = datetime.now().replace(microsecond=0)
    with begin_write(engine) as connection:
        before = connection.execute(select(Switch.enabled).where(Switch.name == name)).scalar_one_or_none()
        if before is None:
            connection.execute(insert(Switch).values(name=name, enabled=enabled, changed_by=actor, changed_at=now))
        else:
            connection.execute(update(Switch).where(Switch.name == name)
                               .values(enabled=enabled, changed_by=actor, changed_at=now))
        connection.execute(insert(AuditEntry).values(
            at=now, actor=actor, action=f"switch {name}", before=str(DEFAULTS[name] if before is None else before),
            after=str(enabled), message=f"{LABELS[name]}: {'on' if enabled else 'off'}"))
        bump_data_version(connection)
