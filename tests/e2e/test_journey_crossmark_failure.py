"""Journey 4: Crossmark refuses the Supervisor step of a paired reschedule → the CORE's move is driven back, the page
says the action was undone and nothing changed, and the journal shows the compensation."""
from __future__ import annotations

import re
from datetime import datetime, time

from tests.e2e.conftest import DAY, OPERATOR


def test_a_failed_supervisor_step_is_compensated_and_said_so(app, dashboard):
    dashboard.sign_in(OPERATOR).navigate(f"/day?date={DAY.isoformat()}")
    dashboard.see(f"{DAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))
    dashboard.wait_idle()
    before = {ref: app.db(ref) for ref in (606001, 606002)}
    app.assert_agree()

    dashboard.key("btn_rs_606001").get_by_role("button").click()
    dialog = dashboard.dialog
    dialog.get_by_role("radio", name="11:00").click()
    dashboard.see(f"Supervisor 606002 will be {DAY:%a %Y-%m-%d} 13:00", within=dialog)
    # the first write (the CORE) goes through; the second (its Supervisor) gets Crossmark's "ok: 0"
    app.fake.fail_write(2, "ok0")
    dialog.get_by_role("button", name="Confirm reschedule").click()

    banner = dashboard.see(re.compile(r"Operation \d+: Supervisor 606002 could not be changed in Crossmark"))
    message = banner.inner_text()
    assert "Undone: nothing changed in Crossmark or in our database." in message, message
    operation_id = int(re.search(r"Operation (\d+)", message).group(1))
    dashboard.wait_idle()

    # nothing changed: the page, our database and Crossmark still have 10:30 / 12:30
    card = dashboard.main.locator('[data-testid="stVerticalBlock"]').filter(has_text="ref 606001 ·").last
    dashboard.see("10:30", within=card)
    dashboard.see(f"Supervisor 606002 scheduled: Tom Alvarez, {DAY:%a %b %d}, 12:30", within=card)
    assert {ref: app.db(ref) for ref in (606001, 606002)} == before
    assert before[606001][0] == datetime.combine(DAY, time(10, 30))
    app.assert_agree()
    # CORE forward, Supervisor refused (not acted), CORE back: three writes, two carried out
    assert (app.fake.writes_sent(), app.fake.writes_acted()) == (3, 2)

    # the journal shows the compensation
    [operation] = app.operations()
    assert (operation.id, operation.kind, operation.status) == (operation_id, "reschedule", "compensated")
    dashboard.open_from_sidebar("Operations")
    dashboard.see("Journal")

    def journalled(row: list[str]) -> bool:
        return str(operation_id) in row and "Rolled back" in row and OPERATOR in row

    rows = dashboard.table_rows("ops_table", until=lambda rows: any(journalled(row) for row in rows))
    assert any(journalled(row) for row in rows), rows
    dashboard.select_table_row("ops_table", lambda row: str(operation_id) in row)
    dashboard.see(f"Operation {operation_id}: steps")
    dashboard.wait_idle()
    steps = dashboard.table_rows(dashboard.main.locator('[data-testid="stElementContainer"]').filter(
        has=dashboard.page.locator('[data-testid="stDataFrame"]')).nth(1), until=lambda rows: len(rows) >= 4)
    # the compensation reads the CORE back first: it undoes only what is still where this operation put it
    # in words (issue 18): the event, what was asked of Crossmark (forward, forward, read back, undoing) and its status
    shown = [(row[2], row[3], row[4]) for row in steps]
    on = f"{DAY:%a %b %d},"
    expected = [("606001", f"Crossmark: schedule at {on} 11:00", "OK"),
                ("606002", f"Crossmark: schedule at {on} 13:00", "Failed"),
                ("606001", "Crossmark: read the event back", "OK"),
                ("606001", f"Crossmark: undoing: schedule at {on} 10:30", "OK")]
    assert len(shown) == len(expected) and all(
        event == want_event and call.startswith(want_call) and status == want_status
        for (event, call, status), (want_event, want_call, want_status) in zip(shown, expected)), steps
