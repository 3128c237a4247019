"""AppTest: a page's filters follow a link opened in the same session (issue 18, "state that stays in step").

Streamlit keeps a keyed widget's value for the whole session and ignores its default after the first run, so a page
that read `?store=` or `?bucket=` only as a default showed the old choice when a link asked for another one (the
Overview's "See them" links, a copied URL pasted into the open tab). Every filter now goes through
dashboard.query_state.bind: a followed link sets the widget, the person's choice goes into the URL on the same run.
"""
from __future__ import annotations

from datetime import date, timedelta

from tests.test_app_pages import open_page, sprint2_url  # noqa: F401 - fixtures: a page in AppTest, sprint2


def _follow(app, **query: str):  # noqa: ANN001, ANN202 - an AppTest
    """The person opens a link to the same page with these parameters, in the same session."""
    for key in list(app.query_params):
        del app.query_params[key]
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    return app


STORE_KEY, STORE_NUMBER = "157384", 8135  # the sprint2 club: its location id and its store number


def test_the_store_filter_follows_a_link_opened_later_in_the_session(open_page, sprint2_url):  # noqa: F811
    app = open_page(sprint2_url, "type_counts")
    store_list = app.selectbox(key="filter_store")
    assert store_list.value == "" and store_list.format_func(store_list.value) == "All stores"  # not "Choose an option"
    _follow(app, store=str(STORE_NUMBER))
    assert app.selectbox(key="filter_store").value == STORE_KEY  # the link wins over the widget's earlier value
    assert app.query_params["store"] == STORE_KEY
    app.selectbox(key="filter_store").select("").run()  # the person goes back to all stores
    assert "store" not in app.query_params
    _follow(app, store=STORE_KEY)
    assert app.selectbox(key="filter_store").value == STORE_KEY


def test_the_urgency_choice_follows_the_overviews_links(open_page, sprint2_url):  # noqa: F811
    app = open_page(sprint2_url, "unscheduled", bucket="Past due")
    assert app.button_group(key="unscheduled_bucket").value == "Past due"
    _follow(app, bucket="Due today")
    assert app.button_group(key="unscheduled_bucket").value == "Due today"
    assert app.query_params["bucket"] == "Due today"


def test_a_choice_goes_into_the_url_on_the_run_that_made_it(open_page, sprint2_url):  # noqa: F811
    app = open_page(sprint2_url, "unscheduled")
    app.button_group(key="unscheduled_bucket").set_value("Due tomorrow").run()
    assert app.query_params["bucket"] == "Due tomorrow"
    app.run()  # a rerun with that URL keeps the choice (it is our own write, not a followed link)
    assert app.button_group(key="unscheduled_bucket").value == "Due tomorrow"


def test_the_range_follows_a_link_that_changes_only_its_end(open_page, sprint2_url):  # noqa: F811
    start, end = date.today(), date.today() + timedelta(days=10)
    app = open_page(sprint2_url, "type_counts", **{"from": start.isoformat(), "to": end.isoformat()})
    assert tuple(app.date_input(key="counts_range").value) == (start, end)
    later = end + timedelta(days=20)
    _follow(app, **{"from": start.isoformat(), "to": later.isoformat()})
    assert tuple(app.date_input(key="counts_range").value) == (start, later)
    assert app.query_params["to"] == later.isoformat()
