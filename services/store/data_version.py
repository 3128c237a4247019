"""Data-version layer: the stamp every write bumps, so cached reads in every process know they are stale."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update

from services.store.tables import DataVersion


def bump_data_version(connection: Connection) -> None:
    """Call inside the writing transaction: the bump commits (or rolls back) with the change it announces."""
    now = datetime.now().replace(microsecond=0)
    table = DataVersion.__table__
    result = connection.execute(update(table).where(table.c.id == 1).values(version=table.c.version + 1,
                                                                            changed_at=now))
    if result.rowcount == 0:
        connection.execute(table.insert().values(id=1, version=1, changed_at=now))
