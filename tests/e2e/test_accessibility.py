"""Journey 7: axe-core (from the npm registry, injected into the page) finds no serious or critical violation on the
Overview, Calendar, Day view, Unscheduled and Data quality pages, as an operator sees them (with action buttons)."""
from __future__ import annotations

import json

import pytest

from services.quality.checks import run_check
from services.settings import load_settings
from tests.e2e.conftest import ADMIN, DAY, OPERATOR

E2E_DEMO_EVENTS = 1200  # full pages: a month of counts, a busy day, many findings
BLOCKING = ("serious", "critical")

# (path, a text that is on the page once it has rendered)
PAGES = {
    "overview": ("/", "Busiest days"),
    "calendar": (f"/calendar?month={DAY:%Y-%m}", "Scheduled this month"),
    "day": (f"/day?date={DAY.isoformat()}", "ref 606001 ·"),
    "unscheduled": ("/unscheduled", "Unscheduled events"),
    "data_quality": ("/data_quality", "Open findings"),
}


@pytest.fixture(scope="module")
def checked(app):
    """A stored check run, so the Data quality page shows its findings table."""
    run_check(app.engine, load_settings({"SCHEDULER_DATABASE_URL": app.database_url}), triggered_by="e2e")
    return app


def _describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} — {violation['helpUrl']}")
        for node in violation["nodes"][:8]:
            lines.append(f"    {node['target']}\n        {node['html'][:160]}\n        {json.dumps(node['data'])[:300]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    ... and {len(violation['nodes']) - 8} more")
    return "\n".join(lines)


@pytest.mark.parametrize("page_key", list(PAGES))
def test_no_serious_or_critical_axe_violations(checked, dashboard, axe_source, page_key):
    path, rendered = PAGES[page_key]
    dashboard.sign_in(OPERATOR)
    if path != "/":
        dashboard.navigate(path)
    dashboard.see(rendered)
    if page_key == "calendar":
        dashboard.key("month_grid").locator("a.mg-cell").first.wait_for(state="attached")
    if page_key == "data_quality":
        dashboard.table("dq_table").locator("table").first.wait_for(state="attached")
    dashboard.wait_idle()

    violations = [v for v in dashboard.axe(axe_source) if v["impact"] in BLOCKING]
    assert violations == [], f"axe-core on {path}:\n{_describe(violations)}"


# Every page an admin can open (an admin sees them all), and a text that is on it once it has rendered.
EVERY_PAGE = {
    **PAGES,
    "type_counts": ("/type_counts", "Event type counts"),
    "operations": ("/operations", "Operations"),
    "audit": ("/audit", "Audit"),
    "timeline": ("/timeline", "Event timeline"),
    "operations_health": ("/operations_health", "Operations health"),
    "admin": ("/admin", "Admin"),
}


@pytest.mark.parametrize("page_key", list(EVERY_PAGE))
def test_headings_go_down_one_level_at_a_time(checked, dashboard, axe_source, page_key):
    """No page jumps from its title (h1) to an h3: axe's heading-order rule (a 'moderate' one, so the test above does
    not catch it) reports nothing on any page."""
    path, rendered = EVERY_PAGE[page_key]
    dashboard.sign_in(ADMIN)
    if path != "/":
        dashboard.navigate(path)
    dashboard.see(rendered)
    dashboard.wait_idle()
    violations = dashboard.axe(axe_source, {"runOnly": {"type": "rule", "values": ["heading-order"]}})
    assert violations == [], f"axe-core on {path}:\n{_describe(violations)}"
