"""AppTest (issue 21): the weekly review on the Data quality page — run the checks, the Unassigned view, assign, comment,
fix, the next run resolves the finding and its history says so; the views' counts; a viewer sees no work buttons."""
from __future__ import annotations

from sqlalchemy import func, select

from dashboard.markdown_text import plain
from services.quality.work import finding_record
from services.store.tables import CheckRun, FindingHistory
from tests.test_app_actions import sprint2  # noqa: F401 - the shared fixture
from tests.test_app_pages import _texts, open_page, signed_in_as  # noqa: F401 - open_page is a fixture

HOSTILE_COMMENT = "Rep **swapped** <img src=x onerror=alert(1)> =HYPERLINK(\"http://x\")"


def _table(app):  # noqa: ANN001, ANN202 - AppTest, the findings listing
    return next(frame for frame in app.dataframe if frame.key == "dq_table").value


def _select(app, position: int):  # noqa: ANN001, ANN202
    app.session_state["dq_table"] = {"selection": {"rows": [position], "columns": [], "cells": []}}
    return app.run()


def _view_labels(app) -> list[str]:  # noqa: ANN001
    return list(app.segmented_control(key="dq_queue").options)  # as shown: "Unassigned (2)"


def test_review_flow_from_unassigned_to_resolved(open_page, sprint2):
    url, engine = sprint2
    operator = signed_in_as(url, "operator")
    app = open_page(url, "data_quality", role="operator")
    app.button(key="run_checks").click().run()
    assert not app.exception
    assert _view_labels(app) == ["All open (2)", "My findings (0)", "Unassigned (2)", "Overdue (0)"]

    app.segmented_control(key="dq_queue").set_value("unassigned").run()
    listed = _table(app)
    assert set(listed["owner"]) == {"Unassigned"} and len(listed) == 2
    position = list(listed["rule"]).index("core_supervisor_unstaffed")
    finding_id = int(listed["id"].iloc[position])
    _select(app, position)
    app.selectbox(key=f"dq_owner_{finding_id}").set_value(operator).run()
    app.button(key=f"dq_assign_{finding_id}").click().run()
    assert not app.exception and not app.error
    assert [toast.value for toast in app.toast if toast.value.startswith(f"Assigned to {plain(operator)}")]
    assert finding_id not in set(_table(app)["id"])  # it left the Unassigned view
    assert _view_labels(app) == ["All open (2)", "My findings (1)", "Unassigned (1)", "Overdue (0)"]

    app.segmented_control(key="dq_queue").set_value("mine").run()
    assert list(_table(app)["id"]) == [finding_id]
    _select(app, 0)
    app.text_area(key=f"dq_comment_{finding_id}").input(HOSTILE_COMMENT)
    app.button(key=f"dq_comment_add_{finding_id}").click().run()
    assert not app.exception and not app.error
    record = finding_record(engine, finding_id)
    assert [comment.text for comment in record.comments] == [HOSTILE_COMMENT]  # stored exactly as typed
    history = "\n".join(_texts(app.markdown))
    assert plain(HOSTILE_COMMENT) in history  # shown as text: markdown and HTML escaped
    assert "**swapped**" not in history.replace(plain("**swapped**"), "")

    fix = next(button for button in app.button if (button.key or "").startswith("fix_"))
    fix.click().run()
    app.button(key="ss_go_608001").click().run()
    assert not app.exception
    app.button(key="run_checks").click().run()
    assert not app.exception
    assert _view_labels(app) == ["All open (1)", "My findings (0)", "Unassigned (1)", "Overdue (0)"]
    assert any("1 resolved" in text for text in _texts(app.caption) + [p.text for p in app.get("progress")])
    with engine.connect() as connection:  # the page's run re-judged only what the fix changed
        runs = connection.execute(select(CheckRun.incremental).order_by(CheckRun.id)).scalars().all()
    assert runs == [False, True]

    resolved = finding_record(engine, finding_id)
    assert resolved.resolved_at is not None and resolved.owner == operator
    assert [entry.kind.value for entry in resolved.history] == ["assigned", "commented", "resolved"]


def test_a_viewer_sees_the_queue_but_no_assign_or_comment(open_page, sprint2):
    url, engine = sprint2
    app = open_page(url, "data_quality", role="operator")
    app.button(key="run_checks").click().run()
    viewer_app = open_page(url, "data_quality", role="viewer")
    _select(viewer_app, 0)
    assert not viewer_app.exception
    keys = {widget.key or "" for widget in [*viewer_app.button, *viewer_app.selectbox, *viewer_app.text_area]}
    assert not [key for key in keys if key.startswith(("dq_assign_", "dq_owner_", "dq_comment"))]
    assert any("First seen" in text for text in _texts(viewer_app.markdown))  # the history is there to read
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(FindingHistory)).scalar() == 0
