"""The database: connection, tables, migrations, the trigger-kept derived tables, data version, backups."""
