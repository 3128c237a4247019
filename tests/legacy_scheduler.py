"""An existing scheduler database as teams have it (their DDL, their rows), for adoption tests on SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import create_engine, text

# The older scheduler's DDL: no sales_tools_url / parent_event_ref_num yet, an employees table without created_at.
LEGACY_DDL = (
    """CREATE TABLE employees (
        id VARCHAR(50) PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(120), phone VARCHAR(20),
        is_active BOOLEAN, is_supervisor BOOLEAN, job_title VARCHAR(50), external_id VARCHAR(100) UNIQUE)""",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY, project_name TEXT NOT NULL, project_ref_num INTEGER NOT NULL UNIQUE,
        location_mvid TEXT, store_number INTEGER, store_name TEXT, start_datetime TIMESTAMP NOT NULL,
        due_datetime TIMESTAMP NOT NULL, estimated_time INTEGER, is_scheduled BOOLEAN, event_type VARCHAR(20),
        condition VARCHAR(20), external_id VARCHAR(100) UNIQUE, last_synced TIMESTAMP, sync_status VARCHAR(20))""",
    """CREATE TABLE schedules (
        id INTEGER PRIMARY KEY, event_ref_num INTEGER NOT NULL REFERENCES events(project_ref_num),
        employee_id VARCHAR(50) NOT NULL REFERENCES employees(id), schedule_datetime TIMESTAMP NOT NULL,
        external_id VARCHAR(100) UNIQUE, last_synced TIMESTAMP, sync_status VARCHAR(20))""",
)

LEGACY_ROWS = (
    """INSERT INTO employees (id, name, is_active, is_supervisor, job_title, external_id) VALUES
        ('US100001', 'Dana Reyes', TRUE, TRUE, 'Club Supervisor', '152052'),
        ('US100002', 'Sam Ortiz', TRUE, FALSE, 'Event Specialist', '152053')""",
    """INSERT INTO events (id, project_name, project_ref_num, location_mvid, store_number, store_name, start_datetime,
        due_datetime, estimated_time, is_scheduled, event_type, condition, external_id) VALUES
        (1, '612103-Brand-Product Name (250821530146)  - V2-CORE', 612103, '157384', 8135, 'Club 8135',
         '2026-11-20 00:00:00', '2026-11-26 23:59:00', 390, TRUE, 'Core', 'Scheduled', '31785976'),
        (2, '612103-Brand-Product Name (250821530146)  - V2-Supervisor', 612104, '157384', 8135, 'Club 8135',
         '2026-11-20 00:00:00', '2026-11-26 23:59:00', 5, TRUE, 'Supervisor', 'Scheduled', '31785977'),
        (3, '09-30 8HR-ES1-JUICER-PRODUCTION-SPCLTY', 612200, '157384', 8135, 'Club 8135',
         '2026-11-24 00:00:00', '2026-11-24 23:59:00', 540, FALSE, 'Juicer', 'Unstaffed', '31785990')""",
    """INSERT INTO schedules (id, event_ref_num, employee_id, schedule_datetime, external_id) VALUES
        (1, 612103, 'US100002', '2026-11-23 10:30:00', '43898785'),
        (2, 612104, 'US100001', '2026-11-23 12:30:00', '43898786')""",
)

LEGACY_COUNTS = {"employees": 2, "events": 3, "schedules": 2}


def create_legacy_scheduler_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in LEGACY_DDL + LEGACY_ROWS:
            connection.execute(text(statement))
    engine.dispose()


def row_snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of the scheduler's tables (their own columns only), to prove adoption changed none."""
    engine = create_engine(url)
    columns = {"employees": "id, name, is_active, is_supervisor, job_title, external_id",
               "events": "id, project_name, project_ref_num, location_mvid, store_number, store_name, start_datetime, "
                         "due_datetime, estimated_time, is_scheduled, event_type, condition, external_id",
               "schedules": "id, event_ref_num, employee_id, schedule_datetime, external_id"}
    with engine.connect() as connection:
        snapshot = {table: [tuple(row) for row in connection.execute(text(f"SELECT {cols} FROM {table} ORDER BY 1"))]
                    for table, cols in columns.items()}
    engine.dispose()
    return snapshot
