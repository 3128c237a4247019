"""Issue 21 in Chromium: the weekly review as a person runs it — run the checks, open the Unassigned view, take the
finding about 608001's Unstaffed Supervisor, say what is being done, fix it; the next run resolves it, its history
says so, and the weekly digest counts it as resolved."""
from __future__ import annotations

import json
import re

from tests.e2e.conftest import OPERATOR


def _is_unstaffed_608001(row: list[str]) -> bool:
    return "Supervisor Unstaffed for a scheduled CORE" in row and any("CORE 608001" in cell for cell in row)


COMMENT = "Called the club: <b>Dana</b> covers it =1+1"


def test_review_flow_unassigned_assign_comment_fix_resolved_and_counted(app, dashboard):
    dashboard.sign_in().navigate("/data_quality")
    dashboard.main.get_by_role("button", name="Run checks now").click()
    dashboard.see("Run 1:")
    dashboard.wait_idle()

    # Every finding is new and nobody's yet: the Unassigned view lists them all, My findings none.
    dashboard.main.get_by_role("radio", name=re.compile(r"^My findings \(0\)")).click()
    dashboard.wait_idle()
    dashboard.see("Nothing assigned to you is open")
    dashboard.main.get_by_role("radio", name=re.compile(r"^Unassigned \(\d+\)")).click()
    dashboard.wait_idle()
    assert "view=unassigned" in dashboard.page.url
    dashboard.select_table_row("dq_table", _is_unstaffed_608001)
    dashboard.see("Supervisor Unstaffed for a scheduled CORE (Warning)")
    dashboard.see("Owner: Unassigned")

    owner_box = dashboard.main.locator('[class*="st-key-dq_owner_"]').first.get_by_role("combobox")
    owner_box.click()
    owner_box.fill(OPERATOR)  # typed, as a person narrows a long list of people
    dashboard.page.get_by_role("option", name=OPERATOR, exact=True).click()
    dashboard.wait_idle()
    dashboard.main.get_by_role("button", name="Assign").click()
    dashboard.wait_idle()
    dashboard.see(f"Assigned to {OPERATOR}", within=dashboard.page.locator("body"))

    # Assigned, it leaves the Unassigned view and is in My findings.
    rows = dashboard.table_rows("dq_table", until=lambda rows: not any(_is_unstaffed_608001(r) for r in rows))
    assert not any(_is_unstaffed_608001(row) for row in rows), rows
    dashboard.main.get_by_role("radio", name=re.compile(r"^My findings \(1\)")).click()
    dashboard.wait_idle()
    dashboard.select_table_row("dq_table", _is_unstaffed_608001)
    dashboard.main.get_by_label("Comment").fill(COMMENT)
    dashboard.main.get_by_role("button", name="Add comment").click()
    dashboard.wait_idle()
    dashboard.see(COMMENT)  # as the text typed, not markup and not a formula
    assert not dashboard.main.locator("b", has_text="Dana").count()

    dashboard.main.get_by_role("button", name="Schedule the Supervisor at rule time").click()
    dashboard.dialog.get_by_role("button", name="Schedule Supervisor").click()
    dashboard.see("Done:")
    dashboard.wait_idle()

    dashboard.main.get_by_role("button", name="Run checks now").click()
    dashboard.see("Run 2:")
    dashboard.wait_idle()
    dashboard.see("1 resolved")
    dashboard.see("Nothing assigned to you is open")

    shown = json.loads(app.cli("check", "show", "1", "--json").stdout)
    assert shown["state"] == "resolved" and shown["owner"] == OPERATOR
    assert [entry["kind"] for entry in shown["history"]] == ["assigned", "commented", "resolved"]
    assert shown["comments"][0]["text"] == COMMENT

    # The weekly digest counts it: resolved this week, no longer open.
    weekly = json.loads(app.cli("digest", "weekly", "--json").stdout)
    unstaffed = next(row for row in weekly["rules"] if row["rule"] == "core_supervisor_unstaffed")
    assert unstaffed["this_week"]["resolved"] == 1 and unstaffed["this_week"]["open"] == 0
