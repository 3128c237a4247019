"""Issue 18 in Chromium: a selected finding stays selected when a filter changes the listing under it (it moved to
another row), or is cleared when a filter hides it — the panel never names another finding."""
from __future__ import annotations

E2E_DEMO_EVENTS = 400  # a few dozen findings of every severity at three stores


def _choose(dashboard, key: str, option: str) -> None:  # noqa: ANN001 - the harness's Dashboard
    dashboard.key(key).get_by_role("combobox").click()
    dashboard.page.get_by_role("option", name=option, exact=True).click()
    dashboard.wait_idle()


def _panel_headings(dashboard) -> list[str]:  # noqa: ANN001
    """The selected finding's heading line ("<rule> (<severity>) — <detail>"), if any is shown."""
    return [text for text in dashboard.main.locator('[data-testid="stMarkdownContainer"]').all_inner_texts()
            if ") — " in text]


def test_a_selected_finding_follows_a_filter_change_or_is_cleared(app, dashboard):
    dashboard.sign_in().navigate("/data_quality")
    dashboard.main.get_by_role("button", name="Run checks now").click()
    dashboard.see("Run 1:")
    dashboard.wait_idle()

    rows = dashboard.table_rows("dq_table", until=lambda rows: len({row[1] for row in rows[:8]}) > 1)
    # the first finding of another rule than the first row's, in view without scrolling the grid: filtering to its
    # rule moves it up
    position = next(index for index, row in enumerate(rows) if row[1] != rows[0][1])
    assert position < 8, rows
    rule = rows[position][1]
    picked = dashboard.select_table_row("dq_table", lambda row: row == rows[position])
    detail = picked[3]  # Severity, Rule, Day, Detail
    dashboard.see(detail[:40], within=dashboard.main.locator('[data-testid="stMarkdownContainer"]'))
    assert len(_panel_headings(dashboard)) == 1

    _choose(dashboard, "dq_rule", rule)
    rows = dashboard.table_rows("dq_table", until=lambda rows: rows and all(row[1] == rule for row in rows))
    assert rows.index(picked) != position, rows  # it moved to another row
    headings = _panel_headings(dashboard)
    assert len(headings) == 1 and detail.rstrip("…") in headings[0], headings

    other = "info" if picked[0].lower() != "info" else "critical"  # a severity the picked finding does not have
    _choose(dashboard, "dq_sev", other.capitalize())
    dashboard.wait_idle()
    assert _panel_headings(dashboard) == []
    assert dashboard.main.get_by_role("button", name="Acknowledge").count() == 0
