"""Journey 2: unschedule a CORE with its Supervisor, after an explicit confirmation; afterwards the fake Crossmark holds
exactly what the Day view shows (and what our database holds)."""
from __future__ import annotations

import re
from playwright.sync_api import expect
from sqlalchemy import text

from tests.e2e.conftest import DAY, OPERATOR


def _cards_on_page(dashboard) -> dict[int, str]:
    """ref -> "HH:MM" for every event card on the Day view (the card's first line is "<Type> HH:MM · rep")."""
    texts = dashboard.main.locator('[data-testid="stMarkdownContainer"]').filter(
        has_text=re.compile(r"ref \d+ · #")).all_inner_texts()
    cards = {}
    for card in texts:
        start = re.search(r"\b(\d\d:\d\d) · ", card)
        ref = re.search(r"ref (\d+) · #", card)
        assert start and ref, card
        cards[int(ref.group(1))] = start.group(1)
    return cards


def _scheduled_on_crossmark(app) -> dict[int, str]:
    """ref -> "HH:MM" of the non-Supervisor events the fake Crossmark has scheduled on DAY (Supervisors are not
    drawn as cards: the Day view lists them in a collapsed table)."""
    with app.engine.connect() as connection:
        refs = dict(connection.execute(text(
            "SELECT external_id, project_ref_num FROM events WHERE event_type <> 'Supervisor'")).all())
    shown = {}
    for mplan_id, state in app.fake.simulator.scheduled_state().items():
        if state is not None and state[1].date() == DAY and mplan_id in refs:
            shown[int(refs[mplan_id])] = f"{state[1]:%H:%M}"
    return shown


def test_unschedule_needs_a_confirmation_and_crossmark_matches_the_page(app, dashboard):
    dashboard.sign_in(OPERATOR).navigate(f"/day?date={DAY.isoformat()}")
    dashboard.see(f"{DAY:%A, %B %d, %Y}", within=dashboard.main.get_by_role("heading", level=1))
    dashboard.wait_idle()
    assert _cards_on_page(dashboard) == _scheduled_on_crossmark(app) == \
        {606001: "10:30", 606999: "11:00", 608001: "11:30"}

    dashboard.key("btn_us_606001").get_by_role("button").click()
    dialog = dashboard.dialog
    dashboard.see("CORE 606001 will be unscheduled", within=dialog)
    dashboard.see("Supervisor 606002 will be unscheduled", within=dialog)
    confirm = dialog.get_by_role("button", name="Unschedule", exact=True)
    expect(confirm).to_be_disabled()  # not before the explicit confirmation
    dialog.get_by_text("Yes, unschedule").click()
    expect(confirm).to_be_enabled()
    assert app.db(606001) is not None and app.fake.writes_sent() == 0
    confirm.click()

    banner = dashboard.see(re.compile(r"Operation \d+: Done:"))
    assert "606001" in banner.inner_text() and "606002" in banner.inner_text()
    dashboard.wait_idle()
    expect(dashboard.key("btn_us_606001")).to_have_count(0)
    dashboard.see("Core · 2")

    # the page, Crossmark and our database tell the same story
    assert _cards_on_page(dashboard) == _scheduled_on_crossmark(app) == {606999: "11:00", 608001: "11:30"}
    assert app.remote(606001) is None and app.remote(606002) is None
    app.assert_agree()
    assert app.fake.writes_acted() == 2  # CORE and Supervisor, once each
    assert [(o.kind, o.status, o.requested_by) for o in app.operations()] == [("unschedule", "done", OPERATOR)]
    with app.engine.connect() as connection:
        conditions = dict(connection.execute(text(
            "SELECT project_ref_num, condition FROM events WHERE project_ref_num IN (606001, 606002)")).all())
    assert conditions == {606001: "Unstaffed", 606002: "Unstaffed"}
