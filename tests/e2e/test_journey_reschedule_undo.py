"""Journey 1: an operator signs in → the Calendar shows the month with the per-day counts SQL gives → a click on the
day opens the Day view → reschedule CORE 606001 through the dialog (the preview names Supervisor 606002) → confirm →
the banner gives the operation id → the Supervisor shows its new time → the operation is in the journal → Undo puts
both back, in our database and in Crossmark."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from sqlalchemy import text

from tests.e2e.conftest import DAY, OPERATOR

E2E_DEMO_EVENTS = 1200  # a month with real counts on most days, around the sprint2 scenario
TYPE_LETTERS = {"C": "Core", "J": "Juicer", "S": "Supervisor", "F": "Freeosk", "D": "Digitals", "O": "Other"}


def _scheduled_per_day_sql(engine, month: date) -> dict[date, dict[str, int]]:
    """Scheduled events per day and type, straight from the scheduler's tables (not the dashboard's aggregate)."""
    following = (month + timedelta(days=32)).replace(day=1)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT date(s.schedule_datetime), coalesce(e.event_type, 'Other'), COUNT(*) FROM schedules s "
            "JOIN events e ON e.project_ref_num = s.event_ref_num "
            "WHERE s.schedule_datetime >= :first AND s.schedule_datetime < :following GROUP BY 1, 2"),
            {"first": datetime.combine(month, time()), "following": datetime.combine(following, time())}).all()
    counts: dict[date, dict[str, int]] = {}
    for day, event_type, count in rows:
        counts.setdefault(date.fromisoformat(str(day)), {})[event_type] = int(count)
    return counts


def _calendar_cells(dashboard) -> dict[int, tuple[int, dict[str, int]]]:
    """Day of month -> (total, per type) as the month grid's cells print them ("29", "4", "C3 S1")."""
    dashboard.page.locator(".st-key-month_grid a.mg-cell").first.wait_for()
    cells = dashboard.page.evaluate(
        """() => Array.from(document.querySelectorAll('.st-key-month_grid a.mg-cell'))
                 .map(a => ['.mg-day b', '.mg-total', '.mg-types']
                      .map(part => a.querySelector(part)?.textContent.trim() ?? ''))""")
    parsed = {}
    for day, total, letters in cells:
        per_type = {TYPE_LETTERS[item[0]]: int(item[1:]) for item in letters.split()}
        parsed[int(day)] = (int(total or 0), per_type)
    return parsed


def _card(dashboard, ref: int):
    """The Day view card of one event (the innermost block holding its "ref N ·" line)."""
    return dashboard.main.locator('[data-testid="stVerticalBlock"]').filter(has_text=f"ref {ref} ·").last


def test_calendar_day_reschedule_with_supervisor_journal_and_undo(app, dashboard):
    month = DAY.replace(day=1)
    dashboard.sign_in(OPERATOR)

    # Calendar: the month, and every day's count and per-type split as SQL counts them
    dashboard.open_from_sidebar("Calendar")
    if date.today().replace(day=1) != month:  # the sprint2 day is next month
        dashboard.main.get_by_role("button", name="Next ▶").click()
    dashboard.see(f"{month:%B %Y}", within=dashboard.main.get_by_role("heading", level=1))
    dashboard.wait_idle()
    expected = _scheduled_per_day_sql(app.engine, month)
    cells = _calendar_cells(dashboard)
    last_day = ((month + timedelta(days=32)).replace(day=1) - timedelta(days=1)).day
    assert sorted(cells) == list(range(1, last_day + 1))
    for day_of_month, (total, per_type) in cells.items():
        sql = expected.get(month.replace(day=day_of_month), {})
        assert total == sum(sql.values()), f"{month:%Y-%m}-{day_of_month:02d}: page {total}, SQL {sql}"
        assert {k: v for k, v in per_type.items() if v} == sql, f"day {day_of_month}: page {per_type}, SQL {sql}"
    assert sum(sum(day.values()) for day in expected.values()) > 50, "the demo data should fill the month"
    metric = dashboard.main.locator('[data-testid="stMetric"]').filter(has_text="Scheduled this month")
    assert metric.locator('[data-testid="stMetricValue"]').inner_text().replace(",", "") == \
        str(sum(sum(day.values()) for day in expected.values()))

    # a click on the day's cell opens the Day view (a new page load: the session, signed in, carries on)
    dashboard.key("month_grid").locator(f'a.mg-cell[data-day="{DAY.isoformat()}"]').click()
    dashboard.see(f"{DAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))
    dashboard.page.wait_for_url(re.compile(rf"/day\?date={DAY.isoformat()}"))
    dashboard.wait_idle()
    dashboard.see(f"Supervisor 606002 scheduled: Tom Alvarez, {DAY:%a %b %d}, 12:30", within=_card(dashboard, 606001))

    # reschedule the CORE to 11:00 through the dialog; the preview names its Supervisor
    dashboard.key("btn_rs_606001").get_by_role("button").click()
    dialog = dashboard.dialog
    dashboard.see("Reschedule", within=dialog)
    dialog.get_by_role("radio", name="11:00").click()
    dashboard.see(f"CORE 606001 will be {DAY:%a %Y-%m-%d} 11:00", within=dialog)
    dashboard.see(f"Supervisor 606002 will be {DAY:%a %Y-%m-%d} 13:00", within=dialog)
    assert app.db(606001)[0].time() == time(10, 30)  # nothing happens before the confirm
    dialog.get_by_role("button", name="Confirm reschedule").click()

    banner = dashboard.see(re.compile(r"Operation \d+: Done: CORE 606001"))
    operation_id = int(re.search(r"Operation (\d+)", banner.inner_text()).group(1))
    dashboard.wait_idle()
    assert app.db(606001)[0] == datetime.combine(DAY, time(11, 0))
    assert app.db(606002)[0] == datetime.combine(DAY, time(13, 0))
    app.assert_agree(606001, 606002)
    card = _card(dashboard, 606001)
    dashboard.see("11:00", within=card)
    dashboard.see(f"Supervisor 606002 scheduled: Tom Alvarez, {DAY:%a %b %d}, 13:00", within=card)

    # the journal has it
    dashboard.open_from_sidebar("Operations")
    dashboard.see("Journal")

    def journalled(row: list[str]) -> bool:
        return str(operation_id) in row and "Reschedule" in row and "Done" in row and OPERATOR in row

    rows = dashboard.table_rows("ops_table", until=lambda rows: any(journalled(row) for row in rows))
    assert any(journalled(row) for row in rows), rows

    # Undo (offered with the result for 5 minutes) restores both events on both sides
    dashboard.main.get_by_role("button", name=f"Undo operation {operation_id}").click()
    dashboard.see(f"Operation {operation_id + 1}: Done:")
    dashboard.wait_idle()
    assert app.db(606001)[0] == datetime.combine(DAY, time(10, 30))
    assert app.db(606002)[0] == datetime.combine(DAY, time(12, 30))
    app.assert_agree()
    assert [(o.id, o.kind, o.status, o.undo_of) for o in app.operations()] == \
        [(operation_id + 1, "undo", "done", operation_id), (operation_id, "reschedule", "done", None)]
    dashboard.open_from_sidebar("Day view")
    dashboard.see(f"Supervisor 606002 scheduled: Tom Alvarez, {DAY:%a %b %d}, 12:30", within=_card(dashboard, 606001))
