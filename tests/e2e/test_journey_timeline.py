"""Journey: an event's timeline. A reschedule and a refusal of 606001 made with the CLI (same database, same fake
Crossmark); the operator opens 606001's card's Timeline link on the Day view: both sides read live and in agreement,
the history lists the action and the refusal; Crossmark moved behind our back shows as a disagreement after "Read
again"; the Operations page links the operation's events to their timelines; no serious axe-core violation; the page
fits a phone."""
from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect

from tests.e2e.conftest import DAY, OPERATOR


def test_timeline_from_a_day_view_card_live_agreement_then_disagreement(app, open_dashboard, axe_source):
    done = app.cli("reschedule", "--event", "606001", "--to", f"{DAY:%Y-%m-%d}T11:00", "--user", OPERATOR)
    assert done.returncode == 0, done.stdout + done.stderr
    refused = app.cli("reschedule", "--event", "606001", "--to", f"{DAY + timedelta(days=30):%Y-%m-%d}T11:00",
                      "--user", OPERATOR)
    assert refused.returncode == 1, refused.stdout + refused.stderr

    dashboard = open_dashboard(1440, 1000)
    dashboard.sign_in(OPERATOR).navigate(f"/day?date={DAY.isoformat()}")
    dashboard.see("ref 606001 ·")
    dashboard.wait_idle()
    dashboard.main.locator('a[href$="timeline?ref=606001"]').first.click()  # the card's Timeline link, in-session
    dashboard.page.wait_for_url(re.compile(r"/timeline\?ref=606001$"))
    dashboard.wait_idle()
    dashboard.see("606001-CORE-Super Pretzel King Size")
    dashboard.see("Our database and Crossmark agree.")
    history = dashboard.main.get_by_role("table", name="History of event 606001, oldest first")
    expect(history).to_be_visible()
    rows = [row.inner_text() for row in history.locator("tbody tr").all()]
    assert any(f"Action · operation 1 · Done · {OPERATOR}" in row for row in rows), rows
    assert any("Action · operation 2 · Refused" in row and "outside its window" in row for row in rows), rows
    assert any("Crossmark call · operation 1 · OK" in row for row in rows), rows
    assert dashboard.horizontal_overflow() == []
    blocking = [(v["id"], v["help"]) for v in dashboard.axe(axe_source) if v["impact"] in ("serious", "critical")]
    assert blocking == [], blocking

    simulator = app.fake.simulator
    event = simulator.events[app.mplan[606001]]
    with simulator._lock:  # noqa: SLF001
        length = event.end - event.start
        event.start = event.start - timedelta(minutes=30)
        event.end = event.start + length
    dashboard.main.get_by_role("button", name="Read again").click()
    dashboard.wait_idle()
    dashboard.see("Our database and Crossmark disagree: time.")
    expect(dashboard.main.get_by_text("(differs)").first).to_be_visible()

    # from the Operations page: the selected operation's events link to their timelines
    dashboard.navigate("/operations")
    dashboard.select_table_row("ops_table", lambda row: "Reschedule" in row and "Done" in row)
    dashboard.main.get_by_role("link", name="Timeline of event 606002").click()
    dashboard.page.wait_for_url(re.compile(r"/timeline\?ref=606002$"))
    dashboard.wait_idle()
    dashboard.see("606001-Supervisor-Super Pretzel King Size")
    dashboard.see("Our database and Crossmark agree.")
    expect(dashboard.key("timeline_ref_input").locator("input")).to_have_value("606002")  # the box follows the link


def test_timeline_fits_a_phone(app, open_dashboard):
    dashboard = open_dashboard(390, 844, is_mobile=True, has_touch=True)
    dashboard.sign_in(OPERATOR).navigate("/timeline?ref=608002")
    dashboard.see("608001-Supervisor-Product With Unscheduled Supervisor")
    dashboard.see("Our database and Crossmark agree.")
    dashboard.wait_idle()
    assert dashboard.horizontal_overflow() == []
    dashboard.assert_reachable(dashboard.key("timeline_ref_input").locator("input"))
    dashboard.assert_reachable(dashboard.main.get_by_role("button", name="Read again"))
    # to its CORE's timeline from this one: the page and its ref box follow
    dashboard.main.get_by_role("button", name="Timeline of Core 608001").click()
    dashboard.page.wait_for_url(re.compile(r"/timeline\?ref=608001$"))
    dashboard.wait_idle()
    dashboard.see("608001-CORE-Product With Unscheduled Supervisor")
    expect(dashboard.key("timeline_ref_input").locator("input")).to_have_value("608001")
