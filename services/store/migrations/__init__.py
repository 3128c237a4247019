"""Migrations layer: Alembic scripts that create a new database or adopt an existing scheduler database."""
