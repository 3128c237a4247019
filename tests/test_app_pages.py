"""AppTest: every page on the demo database, an empty one, the sprint2 scenario and an adopted scheduler database;
navigation, filters, deep links and bad query parameters."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.store.schema_admin import upgrade_database
from tests.legacy_scheduler import create_legacy_scheduler_database

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = {"overview": "../pages/overview.py", "calendar": "../pages/calendar.py", "day": "../pages/day.py",
         "type_counts": "../pages/type_counts.py", "unscheduled": "../pages/unscheduled.py",
         "data_quality": "../pages/data_quality.py", "operations": "../pages/operations.py",
         "audit": "../pages/audit.py", "admin": "../pages/admin.py",
         "operations_health": "../pages/operations_health.py", "timeline": "../pages/timeline.py"}
TITLES = {"overview": "This week", "type_counts": "Event type counts", "unscheduled": "Unscheduled events",
          "data_quality": "Data quality", "operations": "Operations", "audit": "Audit trail", "admin": "Admin",
          "operations_health": "Operations health", "timeline": "Event timeline"}


TEST_PASSWORD = "a-long-test-password"


def signed_in_as(url: str, role: str) -> str:
    """An account of `role` in the database at `url` (created once); its name is what the session signs in as."""
    from services.access.accounts import SETUP, add_user, list_users

    engine = make_engine(url)
    try:
        name = f"test-{role}"
        if name not in {user["username"] for user in list_users(engine)}:
            add_user(engine, name, role, TEST_PASSWORD, by=SETUP)
    finally:
        engine.dispose()
    return name


@pytest.fixture
def open_page(monkeypatch):
    def open_(url: str, page: str, role: str | None = "admin", **query: str) -> AppTest:
        monkeypatch.setenv("SCHEDULER_DATABASE_URL", url)
        monkeypatch.delenv("CROSSMARK_BASE_URL", raising=False)
        st.cache_resource.clear()
        st.cache_data.clear()
        app = AppTest.from_file(APP, default_timeout=60)
        if role is not None:  # a signed-in session, as the sign-in form leaves it
            app.session_state["auth"] = {"username": signed_in_as(url, role), "last_seen": datetime.now()}
        for key, value in query.items():
            app.query_params[key] = value
        if page != "overview":
            app.switch_page(PAGES[page])
        app.run()
        assert not app.exception, app.exception
        return app

    yield open_
    st.cache_resource.clear()


def _metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def _texts(elements) -> list[str]:  # noqa: ANN001
    return [element.value for element in elements]


@pytest.fixture
def empty_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade_database(url)
    return url


@pytest.fixture
def sprint2_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'sprint2.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    seed_sprint2_scenario(engine, today=date.today())
    engine.dispose()
    return url


@pytest.fixture
def legacy_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    create_legacy_scheduler_database(url)
    upgrade_database(url)
    return url


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("database", ["empty", "sprint2", "legacy"])
def test_every_page_renders_on_every_kind_of_database(open_page, page, database, request):
    url = request.getfixturevalue(f"{database}_url")
    app = open_page(url, page)
    titles = _texts(app.title)
    assert len(titles) == 1 and titles[0].strip()
    if page in TITLES:
        assert titles[0] == TITLES[page]
    assert any("SANDBOX" in warning for warning in _texts(app.sidebar.warning))


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_on_the_demo_database(open_page, demo_database, page):
    app = open_page(demo_database.url, page)
    assert _texts(app.title)


def test_empty_month_shows_zeros_and_a_friendly_note(open_page, empty_url):
    app = open_page(empty_url, "calendar")
    assert _metrics(app)["Scheduled this month"] == "0"
    assert any("Nothing is scheduled or due" in info for info in _texts(app.info))


def test_calendar_counts_filters_and_month_navigation(open_page, demo_database):
    today = demo_database.today
    app = open_page(demo_database.url, "calendar")
    assert _texts(app.title) == [f"{today:%B %Y}"]
    first = today.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    with demo_database.engine.connect() as connection:
        expected = connection.execute(text(
            "SELECT COUNT(*) FROM schedules WHERE schedule_datetime >= :a AND schedule_datetime < :b"),
            {"a": first, "b": after}).scalar_one()
    everything = int(_metrics(app)["Scheduled this month"].replace(",", ""))
    assert everything == expected

    app.multiselect(key="filter_types").set_value(["Core"]).run()
    cores = int(_metrics(app)["Scheduled this month"].replace(",", ""))
    assert 0 < cores < everything
    assert app.query_params["types"] == "Core"

    app.selectbox(key="filter_store").set_value("157384").run()
    assert int(_metrics(app)["Scheduled this month"].replace(",", "")) < cores
    assert app.query_params["store"] == "157384"

    app.button(key="month_next").click().run()
    following = (first + timedelta(days=32)).replace(day=1)
    assert _texts(app.title) == [f"{following:%B %Y}"]
    assert app.query_params["month"] == f"{following:%Y-%m}"
    app.button(key="month_today").click().run()
    assert _texts(app.title) == [f"{today:%B %Y}"]


def test_calendar_deep_link_and_bad_parameters(open_page, demo_database):
    app = open_page(demo_database.url, "calendar", month="2026-02", types="Core,Juicer", store="157384")
    assert _texts(app.title) == ["February 2026"]
    assert app.multiselect(key="filter_types").value == ["Core", "Juicer"]
    assert app.selectbox(key="filter_store").value == "157384"

    bad = open_page(demo_database.url, "calendar", month="2025-13", types="Core,Bogus", store="no-such-store")
    warnings = " ".join(_texts(bad.warning))
    assert "Ignored `month=2025-13`" in warnings and "Showing the current month" in warnings
    assert "unknown type(s) Bogus" in warnings and "Ignored `store=no-such-store`" in warnings
    assert _texts(bad.title) == [f"{date.today():%B %Y}"]
    assert bad.multiselect(key="filter_types").value == ["Core"]


def test_day_view_deep_link_shows_supervisor_states(open_page, sprint2_url):
    day = date.today() + timedelta(days=7)
    app = open_page(sprint2_url, "day", date=day.isoformat())
    assert _texts(app.title) == [f"{day:%A, %B %d, %Y}"]
    assert _metrics(app)["Scheduled"] == "4"
    assert any("Supervisor 606002 scheduled" in s and "12:30" in s for s in _texts(app.success))
    assert any("Supervisor 608002 is Unstaffed" in w for w in _texts(app.warning))
    assert any("No Supervisor event" in i for i in _texts(app.info))
    markdown = " ".join(_texts(app.markdown))
    assert markdown.index("Core") < markdown.index("Supervisor")  # Supervisors come last, in an expander
    assert [e.label for e in app.expander] == ["Supervisor · 1"]

    app.button(key="day_next").click().run()
    assert _texts(app.title) == [f"{day + timedelta(days=1):%A, %B %d, %Y}"]
    assert app.query_params["date"] == (day + timedelta(days=1)).isoformat()
    bad = open_page(sprint2_url, "day", date="2026-02-30")
    assert any("Ignored `date=2026-02-30`" in w for w in _texts(bad.warning))
    assert _texts(bad.title) == [f"{date.today():%A, %B %d, %Y}"]


def test_overview_tiles_agree_with_the_unscheduled_page(open_page, demo_database):
    overview = _metrics(open_page(demo_database.url, "overview"))
    unscheduled = open_page(demo_database.url, "unscheduled")
    buckets = _metrics(unscheduled)
    for bucket in ("Past due", "Due today", "Due tomorrow", "Due within 3 days"):
        assert overview[bucket] == buckets[bucket]
    assert int(buckets["Past due"]) > 0

    unscheduled.multiselect(key="filter_types").set_value(["Juicer"]).run()
    assert _metrics(unscheduled)["Later"] != buckets["Later"]


def test_unscheduled_bucket_deep_link_filters_the_table(open_page, demo_database):
    app = open_page(demo_database.url, "unscheduled", bucket="Past due")
    table = app.dataframe[0].value
    assert set(table["bucket"]) == {"Past due"}
    assert len(table) == int(_metrics(app)["Past due"])
    assert all(link.startswith("day?date=") for link in table["day"])
    bad = open_page(demo_database.url, "unscheduled", bucket="Someday")
    assert any("Ignored `bucket=Someday`" in w for w in _texts(bad.warning))


def test_type_counts_period_and_range(open_page, demo_database):
    app = open_page(demo_database.url, "type_counts", period="month", **{"from": "2026-09-01", "to": "2026-12-31"})
    assert app.query_params["period"] == "month"
    table = app.dataframe[0].value
    assert len(table) <= 4 and "Core scheduled" in table.columns
    bad = open_page(demo_database.url, "type_counts", period="fortnight", **{"from": "2026-12-01", "to": "2026-01-01"})
    warnings = " ".join(_texts(bad.warning))
    assert "Ignored `period=fortnight`" in warnings and "the range ends before it starts" in warnings


def test_app_refuses_a_database_not_yet_upgraded(open_page, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    create_legacy_scheduler_database(url)
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", url)
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception
    assert app.error[0].value == "The database needs an upgrade; ask an administrator."  # the command: admins only


def test_calendar_opens_the_chosen_day(open_page, sprint2_url):
    app = open_page(sprint2_url, "calendar")
    day = date.today() + timedelta(days=7)
    app.date_input(key="calendar_day_picker").set_value(day).run()
    app.button(key="open_day").click().run()
    assert not app.exception
    assert _texts(app.title) == [f"{day:%A, %B %d, %Y}"]
    assert _metrics(app)["Scheduled"] == "4"


def test_a_national_day_over_the_listing_limit_shows_the_clubs_and_a_club_shows_its_cards(open_page, tmp_path):
    from services.demo.demo_data import seed_demo_data
    from services.reads.read_queries import DAY_VIEW_LIMIT, scheduled_per_day

    url = f"sqlite:///{tmp_path / 'national.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    today = date.today()
    seed_demo_data(engine, events=16_000, stores=6, start=today.replace(day=1), months=1, today=today)
    per_day = scheduled_per_day(engine, today.replace(day=1), today.replace(day=28)).groupby("day")["count"].sum()
    day = per_day.idxmax()
    assert per_day.max() > DAY_VIEW_LIMIT
    with engine.connect() as connection:
        club = connection.execute(text("SELECT location_mvid FROM events ORDER BY project_ref_num LIMIT 1")).scalar_one()
    engine.dispose()

    app = open_page(url, "day", date=day.isoformat())
    assert _metrics(app)["Scheduled"] == f"{per_day.max():,}"
    assert any("too many to list one by one" in info.value for info in app.info)
    clubs = app.dataframe[0].value
    assert len(clubs) == 6 and clubs["Scheduled"].sum() == per_day.max()
    assert not [b for b in app.button if (b.key or "").startswith("btn_rs_")]  # no cards, no actions

    app = open_page(url, "day", date=day.isoformat(), store=club)
    assert not any("too many" in info.value for info in app.info)
    scheduled_at_club = int(clubs.loc[clubs["Location"] == club, "Scheduled"].iloc[0])
    assert int(_metrics(app)["Scheduled"].replace(",", "")) == scheduled_at_club
    # a club-day this busy opens as the table (one line per event), not as dozens of cards
    assert scheduled_at_club > 30 and app.segmented_control(key="day_layout").value == "Table"
    assert scheduled_at_club in {len(frame.value) for frame in app.dataframe}
    assert "view" not in app.query_params  # the day's own choice: the link names no layout
    app = open_page(url, "day", date=day.isoformat(), store=club, view="cards")
    assert [b for b in app.button if (b.key or "").startswith(("btn_rs_", "btn_us_"))]  # the club's cards with actions
    assert app.query_params["view"] == "cards"
