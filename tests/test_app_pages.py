"""AppTest: every page in one matrix (each page once per database and role: an empty database, an adopted scheduler
database, the demo data with the sprint2 scenario and a journal), checking what every page must show (one title, the
browser tab's name, headings in order, the sidebar's database name and sync time, the sandbox warning, no
`python -m services` for anyone but admins) and, per page, the words and numbers people read (issue 18); then
navigation, filters, deep links and bad query parameters."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine, insert, text
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import HeadingBase

from dashboard.components import PAGE_FILES, PAGE_ROLES
from services.access.accounts import ADMIN, User
from services.demo.demo_data import seed_demo_data, seed_sprint2_scenario
from services.settings import load_settings
from services.store.database import display_url, make_engine, short_database_name
from tests.migrated_template import migrate_new_database
from services.store.tables import AuditEntry, CheckRun, Operation, OperationStep, QualityFinding
from tests.conftest import _months_back, private_database
from tests.legacy_scheduler import create_legacy_scheduler_database

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGES = {"overview": "../pages/overview.py", "calendar": "../pages/calendar.py", "day": "../pages/day.py",
         "type_counts": "../pages/type_counts.py", "unscheduled": "../pages/unscheduled.py",
         "data_quality": "../pages/data_quality.py", "operations": "../pages/operations.py",
         "audit": "../pages/audit.py", "admin": "../pages/admin.py",
         "operations_health": "../pages/operations_health.py", "timeline": "../pages/timeline.py",
         "bulk_actions": "../pages/bulk_actions.py"}
TITLES = {"overview": "This week", "type_counts": "Event type counts", "unscheduled": "Unscheduled events",
          "data_quality": "Data quality", "operations": "Operations", "audit": "Audit trail", "admin": "Admin",
          "operations_health": "Operations health", "timeline": "Event timeline", "bulk_actions": "Bulk actions"}
HEADING_LEVELS = {"title": 1, "header": 2, "subheader": 3}


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


def _all_markdown(app: AppTest) -> str:
    parts = [element.value for kind in ("markdown", "caption", "info", "warning", "error", "success", "text")
             for element in getattr(app, kind)]
    return "\n".join(str(part) for part in parts)


def _column_configs(table) -> dict:  # noqa: ANN001 - an AppTest Dataframe
    return json.loads(table.proto.columns or "{}")


def _whole(config: dict) -> bool:
    return config.get("type_config", {}).get("format") == "%d"


def _cells(frame) -> list[str]:  # noqa: ANN001 - a DataFrame
    return [str(value) for column in frame.columns for value in frame[column].tolist()]


@pytest.fixture
def empty_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    migrate_new_database(url)
    return url


@pytest.fixture
def sprint2_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'sprint2.db'}"
    migrate_new_database(url)
    engine = make_engine(url)
    seed_sprint2_scenario(engine, today=date.today())
    engine.dispose()
    return url


# --- the databases of the matrix -------------------------------------------------------------------------------------

STORE_KEY, STORE_NUMBER = "157384", 8135  # the sprint2 club: its location id and its store number
REP_ID, EMPLOYEE_ID, REP_NAME = "900005", "US157005", "Tom Alvarez"  # a sprint2 employee (a Club Supervisor)
PLACED = {"scheduled": True, "start": "2026-12-08T10:30:00", "employee_id": EMPLOYEE_ID, "rep_id": REP_ID,
          "scheduled_event_id": "99001"}
UNKNOWN_REP = {"scheduled": True, "start": "2026-12-08T12:30:00", "employee_id": None, "rep_id": "4711",
               "scheduled_event_id": "99002"}
SYNCED_AHEAD = timedelta(hours=3)  # last_synced later than now: Crossmark's clock ahead of ours


@dataclass(frozen=True)
class Database:
    """A database of the matrix: `kind` is empty, legacy (an adopted scheduler database) or demo (`make run`'s demo
    data, the sprint2 scenario, one operation needing attention with its step and audit entries, one open finding,
    and events synced SYNCED_AHEAD in the future)."""

    kind: str
    url: str
    engine: Engine
    today: date = field(default_factory=date.today)


def _journal(engine: Engine) -> None:
    """One Schedule Supervisor operation on CORE 606001 that needs attention: its Crossmark call (the rep by RepID),
    the request, a change from a rep no employee has, and a Supervisor placed where nothing was. JSON columns take
    the values; the audit message of a request is its JSON text, as the journal writes it."""
    now = datetime.now().replace(microsecond=0)
    request = {"core": 606001, "employee": EMPLOYEE_ID}
    with engine.begin() as connection:
        operation_id = connection.execute(insert(Operation).values(
            idempotency_key="pages-1", kind="schedule_supervisor", requested_by="op1", requested_at=now,
            status="needs_attention", message="Crossmark did not answer", request=request,
            events=[{"ref": 606001, "role": "core", "before": UNKNOWN_REP, "after": PLACED}],
            updated_at=now).returning(Operation.id)).scalar_one()
        connection.execute(insert(OperationStep).values(
            operation_id=operation_id, seq=1, event_ref=606001, role="core", action="schedule", purpose="forward",
            request={"Start": "2026-12-08T10:30:00", "RepID": REP_ID}, result=PLACED,
            status="ok", created_at=now))
        connection.execute(insert(AuditEntry), [
            {"at": now, "actor": "op1", "operation_id": operation_id, "event_ref": None,
             "action": "schedule_supervisor requested", "before": None, "after": None, "message": json.dumps(request)},
            {"at": now, "actor": "op1", "operation_id": operation_id, "event_ref": 606001,
             "action": "schedule_supervisor: core", "before": UNKNOWN_REP, "after": PLACED,
             "message": None},
            {"at": now, "actor": "op1", "operation_id": operation_id, "event_ref": 606002,
             "action": "schedule_supervisor: supervisor", "before": {"scheduled": False},
             "after": {**PLACED, "start": "2026-12-08T12:30:00"}, "message": None}])


def _finding(engine: Engine) -> None:
    """One open finding of a check run: CORE 606001 and its Supervisor on different dates."""
    now = datetime.now().replace(microsecond=0)
    with engine.begin() as connection:
        run_id = connection.execute(insert(CheckRun).values(
            started_at=now, finished_at=now, status="done", rules="pair_date_mismatch", triggered_by="test",
            findings=1).returning(CheckRun.id)).scalar_one()
        connection.execute(insert(QualityFinding), [{
            "identity": "test:pair", "rule": "pair_date_mismatch", "severity": "critical", "event_number": "606001",
            "store": STORE_KEY, "refs": "[606001, 606002]", "detail": "CORE and Supervisor on different dates",
            "core_ref": 606001, "supervisor_ref": 606002, "day": now.date(), "first_seen": now, "last_seen": now,
            "first_run_id": run_id, "last_run_id": run_id}])


def _synced_ahead(engine: Engine) -> None:
    ahead = datetime.now(load_settings({}).tz).replace(tzinfo=None, microsecond=0) + SYNCED_AHEAD
    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET last_synced = :at"), {"at": ahead})


@pytest.fixture(scope="module")
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One database per module for each `kind-backend` asked for (indirect parametrization)."""
    kind, backend = request.param.split("-")
    with private_database(backend, tmp_path_factory.mktemp(kind)) as url:
        if kind == "legacy":
            create_legacy_scheduler_database(url)
        migrate_new_database(url)
        engine = make_engine(url)
        today = date.today()
        if kind == "demo":  # as conftest's demo_database seeds it, then the journal, a finding and a sync
            seed_demo_data(engine, start=_months_back(today, 2), months=5, today=today)
            seed_sprint2_scenario(engine, today=today)
            _journal(engine)
            _finding(engine)
            _synced_ahead(engine)
        try:
            yield Database(kind, url, engine, today)
        finally:
            engine.dispose()


ON_DEMO = pytest.mark.parametrize("database", ["demo-sqlite", "demo-postgresql"], indirect=True)


# --- the matrix ------------------------------------------------------------------------------------------------------

# Every kind of database on SQLite (what `make test` runs without TEST_DATABASE_URL), both roles on each backend: the
# demo and an empty database on SQLite as one role and on PostgreSQL as the other, an adopted scheduler database as an
# admin.
CELLS = [("empty-sqlite", "viewer"), ("legacy-sqlite", ADMIN), ("demo-sqlite", ADMIN), ("empty-postgresql", ADMIN),
         ("demo-postgresql", "viewer")]


def _query(database: Database, page: str) -> dict[str, str]:
    """The query a page opens with in the matrix: none, except on the demo, where the Day view opens on the sprint2
    club's busy day, Type counts by month over two months, and the timeline on CORE 606001."""
    if database.kind != "demo":
        return {}
    first = database.today.replace(day=1)
    return {"day": {"date": (database.today + timedelta(days=7)).isoformat(), "store": STORE_KEY},
            "type_counts": {"period": "month", "from": first.isoformat(), "to": (first + timedelta(days=40)).isoformat()},
            "timeline": {"ref": "606001"}}.get(page, {})


def _landing(page: str, role: str) -> str:
    """The page a role lands on: a page it may not open is not in its navigation, so it gets the default (Overview)."""
    return page if User("someone", role).may(PAGE_ROLES.get(page, "view")) else "overview"


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize(("database", "role"), CELLS, indirect=["database"], scope="module")  # one build each
def test_every_page_per_database_and_role(open_page, monkeypatch, database: Database, role: str, page: str):
    tab_titles: list[str] = []
    set_page_config = st.set_page_config

    def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if kwargs.get("page_title"):
            tab_titles.append(kwargs["page_title"])
        return set_page_config(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", recording)
    app = open_page(database.url, page, role=role, **_query(database, page))
    landed = _landing(page, role)

    titles = _texts(app.title)
    assert len(titles) == 1 and titles[0].strip()
    if landed in TITLES:
        assert titles[0] == TITLES[landed]
    assert tab_titles[-1] == f"{PAGE_FILES[landed][0]} · Field events"  # the browser tab names the page
    levels = [HEADING_LEVELS[node.type] for node in app.main if isinstance(node, HeadingBase)]
    assert levels and levels[0] == 1  # headings go down one level at a time
    assert all(level <= previous + 1 for previous, level in zip(levels, levels[1:])), levels

    assert any("SANDBOX" in warning for warning in _texts(app.sidebar.warning))
    named = [value for value in _texts(app.sidebar.text) if value.startswith("Database:")]
    if role == ADMIN:  # the full URL (its password hidden) for admins, the database's short name for everyone else
        assert named == [f"Database: {display_url(database.url)}"]
    else:
        assert named == [f"Database: {short_database_name(database.url)}"] and "://" not in named[0]
        assert "python -m services" not in _all_markdown(app)  # commands are for those who may run them
    synced = next(caption for caption in _texts(app.sidebar.caption) if caption.startswith("Data synced:"))
    if database.kind == "demo":  # synced "in the future" by Crossmark's clock: shown as now at the latest
        shown = datetime.strptime(synced.removeprefix("Data synced: ")[:18], "%b %d, %Y %H:%M")
        assert shown <= datetime.now(load_settings({}).tz).replace(tzinfo=None), synced

    check = PAGE_CHECKS.get((database.kind, landed))
    if check is not None:
        check(app, database, role)


# --- what a page shows on a database of the matrix -------------------------------------------------------------------


def _empty_calendar(app: AppTest, database: Database, role: str) -> None:
    assert _metrics(app)["Scheduled this month"] == "0"
    assert any("Nothing is scheduled or due" in info for info in _texts(app.info))


def _empty_data_quality(app: AppTest, database: Database, role: str) -> None:
    if role == "viewer":  # no check has run: a viewer is told who can run one
        assert "Ask an operator" in _all_markdown(app)


def _demo_audit(app: AppTest, database: Database, role: str) -> None:
    """JSON in words, refs as whole numbers, the store and the rep by name."""
    trail = app.dataframe[0].value
    assert not [cell for cell in _cells(trail) if cell.lstrip().startswith(("{", "["))]
    assert {"before", "after", "message"}.isdisjoint(trail.columns)
    assert any("not scheduled → scheduled" in cell for cell in trail["detail"])
    assert str(trail["event"].dtype) == "Int64" and 606001 in trail["event"].dropna().tolist()
    assert _whole(_column_configs(app.dataframe[0])["event"])
    change = trail[trail["event"] == 606001].iloc[0]
    assert change["store_number"] == STORE_NUMBER and "Sam's Club" in change["store_name"]
    assert f"with {REP_NAME}" in change["detail"] and REP_ID not in change["detail"]
    assert "(rep 4711)" in change["detail"]  # a rep no employee has: by the id
    requested = trail[trail["what"].str.startswith("Requested")].iloc[0]
    assert requested["what"] == f"Requested: Schedule Supervisor of CORE 606001 with {REP_NAME}"


def _demo_operations(app: AppTest, database: Database, role: str) -> None:
    """Kinds and statuses in words; the selected operation's steps without JSON, with the store and the rep by name."""
    assert any("Schedule Supervisor" in warning.value for warning in app.warning)
    journal = next(frame for frame in app.dataframe if frame.key == "ops_table").value
    assert journal["kind"].tolist() == ["Schedule Supervisor"] and journal["status"].tolist() == ["Needs attention"]
    assert app.selectbox(key="ops_status").options[1:] == ["Pending", "In progress", "Done", "Refused", "Rolled back",
                                                           "Needs attention", "Stuck", "Resolved"]
    app.session_state["ops_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception
    steps = app.dataframe[-1]
    table = steps.value
    assert not [cell for cell in _cells(table) if cell.lstrip().startswith(("{", "["))]
    assert table["status"].tolist() == ["OK"]
    assert "schedule at" in table["call"].iloc[0] and "Crossmark now has it scheduled" in table["result"].iloc[0]
    assert _whole(_column_configs(steps)["event"])
    assert table["store_number"].tolist() == [STORE_NUMBER] and "Sam's Club" in table["store_name"].iloc[0]
    assert table["call"].iloc[0].endswith(f"with {REP_NAME}") and f"with {REP_NAME}" in table["result"].iloc[0]


def _demo_data_quality(app: AppTest, database: Database, role: str) -> None:
    """Rules by their titles, in the filter, the table and the selected finding's panel."""
    rule_box = app.selectbox(key="dq_rule")
    assert "Pair on different dates" in rule_box.options and "pair_date_mismatch" not in rule_box.options
    table = next(frame for frame in app.dataframe if frame.key == "dq_table")
    assert "rule_title" in table.proto.column_order and "rule" not in table.proto.column_order
    assert table.value["rule_title"].tolist() == ["Pair on different dates"]
    assert _column_configs(table)["rule_title"]["label"] == "Rule"
    app.session_state["dq_table"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert not app.exception, app.exception
    assert any("Pair on different dates" in block.value for block in app.markdown)
    assert not any("pair\\_date\\_mismatch" in block.value or "pair_date_mismatch" in block.value
                   for block in app.markdown)


def _demo_day(app: AppTest, database: Database, role: str) -> None:
    with_refs = [frame for frame in app.dataframe if "Ref" in frame.value.columns]
    assert with_refs
    for frame in with_refs:  # refs as whole numbers, not 606,001
        assert _whole(_column_configs(frame)["Ref"])


def _demo_type_counts(app: AppTest, database: Database, role: str) -> None:
    months = app.dataframe[0].value["Month"].tolist()
    assert months and all(re.fullmatch(r"[A-Z][a-z]{2} \d{4}", month) for month in months)  # named months
    assert months[0] == f"{database.today.replace(day=1):%b %Y}"


def _demo_overview(app: AppTest, database: Database, role: str) -> None:
    last = database.today + timedelta(days=6)  # a seven-day week
    assert app.caption[0].value.startswith(f"{database.today:%A %b %d} – {last:%A %b %d, %Y}")


PAGE_CHECKS: dict[tuple[str, str], Callable[[AppTest, Database, str], None]] = {
    ("empty", "calendar"): _empty_calendar, ("empty", "data_quality"): _empty_data_quality,
    ("demo", "audit"): _demo_audit, ("demo", "operations"): _demo_operations,
    ("demo", "data_quality"): _demo_data_quality, ("demo", "day"): _demo_day,
    ("demo", "type_counts"): _demo_type_counts, ("demo", "overview"): _demo_overview,
}


def test_the_matrix_reaches_every_page_check_every_database_on_sqlite_and_both_roles_on_both_backends():
    reached = {(database.split("-")[0], _landing(page, role)) for database, role in CELLS for page in PAGES}
    assert set(PAGE_CHECKS) <= reached
    assert {database.split("-")[0] for database, _ in CELLS if database.endswith("-sqlite")} == {"empty", "legacy",
                                                                                                  "demo"}
    assert {(database.split("-")[1], role) for database, role in CELLS} == {
        (backend, role) for backend in ("sqlite", "postgresql") for role in (ADMIN, "viewer")}


# --- navigation, filters, deep links and bad parameters ---------------------------------------------------------------


@ON_DEMO
def test_calendar_counts_filters_and_month_navigation(open_page, database):
    today = database.today
    app = open_page(database.url, "calendar")
    assert _texts(app.title) == [f"{today:%B %Y}"]
    first = today.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    with database.engine.connect() as connection:
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


@ON_DEMO
def test_calendar_deep_link_and_bad_parameters(open_page, database):
    app = open_page(database.url, "calendar", month="2026-02", types="Core,Juicer", store="157384")
    assert _texts(app.title) == ["February 2026"]
    assert app.multiselect(key="filter_types").value == ["Core", "Juicer"]
    assert app.selectbox(key="filter_store").value == "157384"

    bad = open_page(database.url, "calendar", month="2025-13", types="Core,Bogus", store="no-such-store")
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


@ON_DEMO
def test_overview_tiles_agree_with_the_unscheduled_page(open_page, database):
    overview = _metrics(open_page(database.url, "overview"))
    unscheduled = open_page(database.url, "unscheduled")
    buckets = _metrics(unscheduled)
    for bucket in ("Past due", "Due today", "Due tomorrow", "Due within 3 days"):
        assert overview[bucket] == buckets[bucket]
    assert int(buckets["Past due"]) > 0

    unscheduled.multiselect(key="filter_types").set_value(["Juicer"]).run()
    assert _metrics(unscheduled)["Later"] != buckets["Later"]


@ON_DEMO
def test_unscheduled_bucket_deep_link_filters_the_table(open_page, database):
    app = open_page(database.url, "unscheduled", bucket="Past due")
    table = app.dataframe[0].value
    assert set(table["bucket"]) == {"Past due"}
    assert len(table) == int(_metrics(app)["Past due"])
    assert all(link.startswith("day?date=") for link in table["day"])
    bad = open_page(database.url, "unscheduled", bucket="Someday")
    assert any("Ignored `bucket=Someday`" in w for w in _texts(bad.warning))


@ON_DEMO
def test_type_counts_period_and_range(open_page, database):
    app = open_page(database.url, "type_counts", period="month", **{"from": "2026-09-01", "to": "2026-12-31"})
    assert app.query_params["period"] == "month"
    table = app.dataframe[0].value
    assert len(table) <= 4 and "Core scheduled" in table.columns
    bad = open_page(database.url, "type_counts", period="fortnight", **{"from": "2026-12-01", "to": "2026-01-01"})
    warnings = " ".join(_texts(bad.warning))
    assert "Ignored `period=fortnight`" in warnings and "the range ends before it starts" in warnings


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
    migrate_new_database(url)
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


def test_a_store_link_takes_the_store_number_or_the_location_id(open_page, sprint2_url):
    for link in (str(STORE_NUMBER), f"#{STORE_NUMBER}", STORE_KEY):
        app = open_page(sprint2_url, "type_counts", store=link)
        store = app.selectbox(key="filter_store")
        assert store.value == STORE_KEY, link
        assert not [warning.value for warning in app.warning if "store=" in warning.value]
        assert app.query_params["store"] == STORE_KEY  # the canonical key goes back into the link
        assert f"#{STORE_NUMBER} · Sam's Club" in store.options[1]  # the label typing the number in the list searches

    unknown = open_page(sprint2_url, "type_counts", store="9999")
    assert unknown.selectbox(key="filter_store").value == ""  # All stores
    assert any("Ignored `store=9999` in the link" in warning.value for warning in unknown.warning)
    assert "store" not in unknown.query_params


@pytest.mark.parametrize("role", [None, "viewer", "operator"])
def test_a_database_not_yet_upgraded_is_refused_and_only_an_admin_reads_the_command(tmp_path, monkeypatch, role):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    create_legacy_scheduler_database(url)  # a database the dashboard cannot use until it is upgraded
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", url)
    for acting_role, expected in ((role, "ask an administrator"), ("admin", "python -m services db upgrade")):
        st.cache_resource.clear()
        app = AppTest.from_file(APP, default_timeout=60)
        if acting_role is not None:  # a session signed in before the database stopped being usable
            app.session_state["acting_role"] = acting_role
        app.run()
        assert not app.exception
        banner = app.error[0].value
        assert expected in banner
        if acting_role != "admin":
            assert banner == "The database needs an upgrade; ask an administrator."
    st.cache_resource.clear()
