"""Journey 3: Data quality — run the checks now, the sprint2 orphan findings appear, Fix on 608001 schedules its
Supervisor, and the finding resolves on the next run."""
from __future__ import annotations

from datetime import datetime, time

from tests.e2e.conftest import DAY


def _is_unstaffed_608001(row: list[str]) -> bool:
    return "Supervisor Unstaffed for a scheduled CORE" in row and any("CORE 608001" in cell for cell in row)


def test_run_checks_fix_the_unstaffed_supervisor_and_the_finding_resolves(app, dashboard):
    dashboard.sign_in().navigate("/data_quality")
    dashboard.see("No check has run yet")
    dashboard.main.get_by_role("button", name="Run checks now").click()
    dashboard.see("Run 1:")
    dashboard.wait_idle()

    # the orphans of the sprint2 scenario: 608001's Unstaffed Supervisor and 606999 without one
    rows = dashboard.table_rows("dq_table", until=lambda rows: any(_is_unstaffed_608001(row) for row in rows))
    assert any(_is_unstaffed_608001(row) for row in rows), rows
    assert any("CORE without a Supervisor" in row and any("CORE 606999" in c for c in row) for row in rows), rows

    dashboard.select_table_row("dq_table", _is_unstaffed_608001)
    dashboard.see("Supervisor Unstaffed for a scheduled CORE (warning)")
    dashboard.main.get_by_role("button", name="Schedule the Supervisor at rule time").click()

    dialog = dashboard.dialog
    dashboard.see("Schedule the Supervisor", within=dialog)
    rule_time = datetime.combine(DAY, time(13, 30))  # CORE 608001 at 11:30 + 120 min
    dashboard.see(f"Supervisor 608002 will be {rule_time:%a %Y-%m-%d %H:%M}", within=dialog)
    assert app.db(608002) is None  # nothing happens before the confirm
    dialog.get_by_role("button", name="Schedule Supervisor").click()

    banner = dashboard.see("Done:")
    assert banner.inner_text().startswith("Operation ")
    dashboard.wait_idle()
    scheduled = app.db(608002)
    assert scheduled is not None and scheduled[0] == rule_time
    app.assert_agree(608001, 608002)
    assert [(o.kind, o.status) for o in app.operations()] == [("schedule_supervisor", "done")]

    dashboard.main.get_by_role("button", name="Run checks now").click()
    dashboard.see("Run 2:")
    dashboard.wait_idle()
    rows = dashboard.table_rows("dq_table", until=lambda rows: rows and not any(_is_unstaffed_608001(r) for r in rows))
    assert not any(_is_unstaffed_608001(row) for row in rows), rows
    assert any("CORE without a Supervisor" in row for row in rows), rows  # the other orphan is still open
    dashboard.see("1 resolved")
