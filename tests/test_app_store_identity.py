"""Issue 22, "Store identity": on a database where several locations share one store number and name (as every club
of some generated data reads "#8000 · Club"), the Store list's labels are unique, a choice holds the store's key across
reruns, page switches and a new store that comes to share its label, and every figure shown is that store's."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, insert

from services.store.data_version import bump_data_version
from services.store.database import make_engine
from services.store.schema_admin import upgrade_database
from services.store.tables import Employee, Event, Schedule
from tests.conftest import private_database
from tests.test_app_pages import PAGES, _metrics, open_page  # noqa: F401 - open_page is a fixture

CLUBS = ("872246", "872247", "872248")  # three locations that all read "#8000 · Club"
LABELS = [f"#8000 · Club (loc {club})" for club in CLUBS]
INDY, INDY_NAME = "157384", "Sam's Club Indianapolis"  # #8135: a store whose label no other shares
TODAY = date.today()


def add_club(engine: Engine, location: str, number: int, name: str, count: int, first_ref: int) -> None:
    """`count` Juicer events scheduled today at the store, and `count` Unstaffed Freeosk events due in ten days."""
    def event(ref: int, event_type: str, condition: str) -> dict:
        return {"project_name": f"{ref}-{event_type} table", "project_ref_num": ref, "location_mvid": location,
                "store_number": number, "store_name": name, "event_type": event_type, "condition": condition,
                "start_datetime": datetime.combine(TODAY - timedelta(days=5), time()),
                "due_datetime": datetime.combine(TODAY + timedelta(days=10), time(23, 59)), "estimated_time": 15,
                "is_scheduled": condition == "Scheduled", "external_id": f"3{ref}"}

    scheduled = [event(first_ref + index, "Juicer", "Scheduled") for index in range(count)]
    unstaffed = [event(first_ref + count + index, "Freeosk", "Unstaffed") for index in range(count)]
    with engine.begin() as connection:
        connection.execute(insert(Event), scheduled + unstaffed)
        connection.execute(insert(Schedule), [{"event_ref_num": row["project_ref_num"], "employee_id": "R1",
                                               "external_id": f"5{row['project_ref_num']}",
                                               "schedule_datetime": datetime.combine(TODAY, time(9))}
                                              for row in scheduled])
        bump_data_version(connection)


@pytest.fixture(params=["sqlite", "postgresql"])
def twin_clubs(request: pytest.FixtureRequest, tmp_path):
    """Club n (1..3) of CLUBS, all "#8000 · Club", has n events scheduled today and n Unstaffed; #8135 has 10 and 10."""
    with private_database(request.param, tmp_path) as url:
        upgrade_database(url)
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(insert(Employee), [{"id": "R1", "name": "Rep One", "is_active": True,
                                                   "job_title": "Juicer Barista", "external_id": "901"}])
        for count, club in enumerate(CLUBS, start=1):
            add_club(engine, club, 8000, "Club", count, 700000 + 100 * count)
        add_club(engine, INDY, 8135, INDY_NAME, 10, 710000)
        try:
            yield url, engine
        finally:
            engine.dispose()


def _store_list(app):  # noqa: ANN001, ANN202 - AppTest, its Store selectbox
    return app.selectbox(key="filter_store")


def _figures(app, page: str) -> str:  # noqa: ANN001 - AppTest
    """What the page says about the filtered events: scheduled today or this month, or Unstaffed due later."""
    return _metrics(app)[{"day": "Scheduled", "calendar": "Scheduled this month", "unscheduled": "Later"}[page]]


def test_the_type_filter_also_keeps_its_choice_across_pages(open_page, twin_clubs):
    url, _ = twin_clubs
    app = open_page(url, "calendar")
    app.multiselect(key="filter_types").set_value(["Freeosk"]).run()
    assert _figures(app, "calendar") == "0"  # the scheduled events are Juicers, the Unstaffed ones Freeosks
    for page, figure in (("type_counts", None), ("unscheduled", "16"), ("calendar", "0")):
        app.switch_page(PAGES[page]).run()
        assert not app.exception, app.exception
        assert app.multiselect(key="filter_types").value == ["Freeosk"], page
        assert app.query_params["types"] == "Freeosk", page
        assert figure is None or _figures(app, page) == figure, page
