"""Issue 22, "Cold pages": what a page's rerun asks the database. A warm rerun of the Calendar, the Day view or the
Unscheduled page asks for the data version once and checks the signed-in account, nothing else (the switches, the
Store list and every page read come from the cache, keyed by the data version); and reading the version once per run
loses no write: a change by another program, a switch flipped by an admin, or a write made during the run itself shows
to the reads after it."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, event, insert, text
from streamlit.testing.v1 import AppTest

from services.access.switches import MAINTENANCE, set_switch
from services.demo.demo_data import seed_sprint2_scenario
from services.store.database import make_engine, shared_engine
from tests.migrated_template import migrate_new_database
from services.store.tables import Event
from tests.conftest import private_database
from tests.test_app_pages import PAGES, open_page, signed_in_as  # noqa: F401 - open_page is a fixture

TODAY = date.today()
VERSION_READ = "SELECT dashboard_data_version.version FROM dashboard_data_version"  # read_queries.data_version


@pytest.fixture(params=["sqlite", "postgresql"])
def sprint2(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[str, Engine]]:
    with private_database(request.param, tmp_path) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        seed_sprint2_scenario(engine, today=TODAY)
        try:
            yield url, engine
        finally:
            engine.dispose()


@contextmanager
def statements_on(engine: Engine) -> Iterator[list[str]]:
    """The statements the app sends through `engine` meanwhile (transaction control left out)."""
    sent: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"):
            sent.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _sidebar_events(app: AppTest) -> int:
    line = next(caption.value for caption in app.sidebar.caption if " events · " in caption.value)
    return int(line.split(" events")[0].replace(",", ""))


def _add_event(engine: Engine, ref: int) -> None:
    """One Unstaffed event, written as the scheduler app writes (no data-version bump of ours: the triggers' job)."""
    with engine.begin() as connection:
        connection.execute(insert(Event).values(
            project_name=f"{ref}-Juicer table", project_ref_num=ref, location_mvid="157384", store_number=8135,
            store_name="Sam's Club Indianapolis", event_type="Juicer", condition="Unstaffed",
            start_datetime=datetime.combine(TODAY, time()), estimated_time=15, is_scheduled=False,
            due_datetime=datetime.combine(TODAY + timedelta(days=10), time(23, 59)), external_id=f"3{ref}"))


@pytest.mark.parametrize("page", ["calendar", "day", "unscheduled"])
def test_a_warm_rerun_asks_only_for_the_data_version_and_the_signed_in_account(open_page, sprint2, page,
                                                                             monkeypatch):
    url, _ = sprint2
    # Time-relative reads are keyed by the minute: a rerun in the next minute would read them again.
    minute = datetime.now().replace(second=0, microsecond=0)
    monkeypatch.setattr("dashboard.reads.now_minute", lambda: minute)
    app = open_page(url, page, role="operator")
    with statements_on(shared_engine(url)) as sent:  # the app's own engine (dashboard/wiring.get_engine)
        app.run()
    assert not app.exception, app.exception
    assert len(sent) == 2, sent  # before: the version once per read (3-5), the switches, the account
    assert sum(statement.startswith(VERSION_READ) for statement in sent) == 1, sent
    assert sum("dashboard_users" in statement for statement in sent) == 1, sent


def test_a_write_by_another_program_and_a_switch_show_at_the_next_rerun_of_the_same_session(open_page, sprint2):
    url, engine = sprint2
    app = open_page(url, "calendar", role="operator")
    events = _sidebar_events(app)
    assert not any("Maintenance mode" in warning.value for warning in app.warning)

    _add_event(engine, 990001)
    app.run()
    assert _sidebar_events(app) == events + 1

    set_switch(engine, MAINTENANCE, True, signed_in_as(url, "admin"))
    app.run()
    assert any("Maintenance mode" in warning.value for warning in app.warning)
    set_switch(engine, MAINTENANCE, False, signed_in_as(url, "admin"))
    app.run()
    assert not any("Maintenance mode" in warning.value for warning in app.warning)


def _reads_around_a_write() -> None:
    """A run that reads, writes through the app's engine, and reads again (as a page acting inline would)."""
    from datetime import date, datetime, time, timedelta

    import streamlit as st
    from sqlalchemy import text

    from dashboard import reads
    from dashboard.wiring import get_engine
    from services.store.database import begin_write

    reads.begin_run()
    before = reads.summary().events
    with begin_write(get_engine()) as connection:  # the events triggers bump the data version
        connection.execute(text(
            "INSERT INTO events (project_name, project_ref_num, location_mvid, store_number, store_name, event_type, "
            "condition, start_datetime, due_datetime, estimated_time, is_scheduled, external_id) VALUES "
            "('990002-Juicer table', 990002, '157384', 8135, 'Club', 'Juicer', 'Unstaffed', :start, :due, 15, false, "
            "'3990002')"), {"start": datetime.combine(date.today(), time()),
                            "due": datetime.combine(date.today() + timedelta(days=10), time(23, 59))})
    st.write(f"{before} then {reads.summary().events}")


def _first_run(function, url: str, monkeypatch) -> AppTest:  # noqa: ANN001 - a page function, pytest's monkeypatch
    """`function` as a page on the database at `url`, run once from empty caches."""
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", url)
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_function(function, default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def test_a_write_made_during_a_run_shows_to_the_reads_after_it(monkeypatch, sprint2):
    url, _ = sprint2
    import streamlit as st

    app = _first_run(_reads_around_a_write, url, monkeypatch)
    before, after = (int(part) for part in app.markdown[0].value.split(" then "))
    assert after == before + 1
    st.cache_resource.clear()


def test_the_same_run_reads_the_data_version_once(monkeypatch, sprint2):
    """Three reads in one run, one version read (it was one per read)."""
    url, _ = sprint2
    app = _first_run(_three_reads, url, monkeypatch)
    with statements_on(shared_engine(url)) as sent:
        app.run()
    assert len(sent) == 1 and sent[0].startswith(VERSION_READ), sent  # the three reads: cache hits of this version
    with shared_engine(url).begin() as connection:
        connection.execute(text("UPDATE dashboard_data_version SET version = version + 1"))
    with statements_on(shared_engine(url)) as sent:
        app.run()
    assert sum(statement.startswith(VERSION_READ) for statement in sent) == 1, sent
    assert len(sent) > 1, sent  # a new version: the version, then the reads again
    # the store list and the Store filter's choices made from it: the stores are read once per version, not twice
    assert sum("WITH RECURSIVE location" in statement for statement in sent) == 1, sent


def _three_reads() -> None:
    from dashboard import reads

    reads.begin_run()
    reads.summary()
    reads.stores()
    reads.store_choices()
