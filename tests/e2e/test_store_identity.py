"""Store identity (issue 22), in Chromium: of three clubs that all read "#8000 · Club", the one picked in the Store list
stays picked (its own label, its key in the address bar, its own figures) across reruns and from page to page."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DAY, OPERATOR
from tests.test_app_store_identity import CLUBS, LABELS, add_club, add_twin_clubs


@pytest.fixture(scope="module")
def twin_app(app):  # noqa: ANN001, ANN201 - the module's RunningApp
    add_twin_clubs(app.engine)
    return app


def _store_is(dashboard, label: str, club: str) -> None:  # noqa: ANN001 - a Dashboard
    expect(dashboard.key("filter_store").get_by_role("combobox")).to_have_value(label)
    dashboard.page.wait_for_url(re.compile(rf"[?&]store={club}(&|$)"))


def _figure(dashboard, label: str) -> str:  # noqa: ANN001 - a Dashboard
    metric = dashboard.main.locator('[data-testid="stMetric"]').filter(
        has=dashboard.page.get_by_text(label, exact=True))
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_the_second_of_three_twin_clubs_stays_chosen_across_reruns_and_pages(open_dashboard, twin_app):
    dashboard = open_dashboard().sign_in(OPERATOR).navigate("/day")
    dashboard.key("filter_store").get_by_role("combobox").click()
    options = dashboard.page.get_by_role("option").filter(has_text="#8000 · Club")
    expect(options).to_have_text(LABELS)
    options.nth(1).click()
    dashboard.wait_idle()
    _store_is(dashboard, LABELS[1], CLUBS[1])
    assert _figure(dashboard, "Scheduled") == "2"

    for button in ("day_next", "day_prev"):  # reruns
        dashboard.key(button).get_by_role("button").click()
        dashboard.wait_idle()
        _store_is(dashboard, LABELS[1], CLUBS[1])
    assert _figure(dashboard, "Scheduled") == "2"

    for title, figure in (("Calendar", "Scheduled this month"), ("Unscheduled", "Later"), ("Day view", "Scheduled")):
        dashboard.open_from_sidebar(title)
        _store_is(dashboard, LABELS[1], CLUBS[1])
        assert _figure(dashboard, figure) == "2", title


def test_a_chosen_club_stays_chosen_when_a_sync_brings_another_with_its_label(open_dashboard, twin_app):
    sprint2 = "#8135 · Sam's Club #8135 - Indianapolis, IN"  # the sprint2 club, location 157384
    dashboard = open_dashboard().sign_in(OPERATOR).navigate(f"/day?date={DAY.isoformat()}")
    dashboard.key("filter_store").get_by_role("combobox").click()
    dashboard.page.get_by_role("option", name=sprint2, exact=True).click()
    dashboard.wait_idle()
    _store_is(dashboard, sprint2, "157384")
    assert _figure(dashboard, "Scheduled") == "4"

    add_club(twin_app.engine, "999001", 8135, "Sam's Club #8135 - Indianapolis, IN", 3, 720000)
    dashboard.key("day_next").get_by_role("button").click()  # the next rerun reads the new store list
    dashboard.wait_idle()
    _store_is(dashboard, f"{sprint2} (loc 157384)", "157384")
    dashboard.key("day_prev").get_by_role("button").click()
    dashboard.wait_idle()
    assert _figure(dashboard, "Scheduled") == "4"
