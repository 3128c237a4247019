"""Alembic environment: always run on a connection handed over by services.store.schema_admin (never from alembic.ini)."""
from alembic import context

from services.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
