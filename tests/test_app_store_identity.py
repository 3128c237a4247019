"""Issue 22, "Store identity": on a database where several locations share one store number and name (as every club
of some generated data reads "#8000 · Club"), the Store list's labels are unique, a choice holds the store's key across
reruns, page switches and a new store that comes to share its label, and every figure shown is that store's."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from dashboard.components import store_labels
from services.store.data_version import bump_data_version
from services.store.database import make_engine
from tests.migrated_template import migrate_new_database
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


def add_twin_clubs(engine: Engine) -> None:
    """Club n (1..3) of CLUBS, all "#8000 · Club", with n events scheduled today and n Unstaffed, and their rep."""
    with engine.begin() as connection:
        connection.execute(insert(Employee), [{"id": "R1", "name": "Rep One", "is_active": True,
                                               "job_title": "Juicer Barista", "external_id": "901"}])
    for count, club in enumerate(CLUBS, start=1):
        add_club(engine, club, 8000, "Club", count, 700000 + 100 * count)


@pytest.fixture(params=["sqlite", "postgresql"])
def twin_clubs(request: pytest.FixtureRequest, tmp_path):
    """The twin clubs (add_twin_clubs) and #8135, with 10 events scheduled today and 10 Unstaffed."""
    with private_database(request.param, tmp_path) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        add_twin_clubs(engine)
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


def test_twin_clubs_have_unique_labels_and_a_choice_keeps_its_club_across_reruns_and_pages(open_page, twin_clubs):
    url, _ = twin_clubs
    app = open_page(url, "day")
    store_list = _store_list(app)
    labels = [store_list.format_func(option) for option in store_list.options]
    assert labels == ["All stores", *LABELS, f"#8135 · {INDY_NAME}"]
    assert _figures(app, "day") == "16"

    _store_list(app).set_value(CLUBS[1]).run()  # the second "#8000 · Club"
    for _ in range(2):
        assert _store_list(app).value == CLUBS[1] and app.query_params["store"] == CLUBS[1]
        assert _figures(app, "day") == "2"
        app.run()
    for page in ("calendar", "unscheduled", "day"):
        app.switch_page(PAGES[page]).run()
        assert not app.exception, app.exception
        assert _store_list(app).value == CLUBS[1], page
        assert _figures(app, page) == "2", page
        assert app.query_params["store"] == CLUBS[1], page

    _store_list(app).set_value(CLUBS[2]).run()  # and the third, from the second
    assert _store_list(app).value == CLUBS[2] and _figures(app, "day") == "3"
    _store_list(app).set_value(CLUBS[0]).run()
    app.run()
    assert _store_list(app).value == CLUBS[0] and _figures(app, "day") == "1"


def test_a_chosen_store_stays_chosen_when_another_comes_to_share_its_label(open_page, twin_clubs):
    url, engine = twin_clubs
    app = open_page(url, "calendar")
    _store_list(app).set_value(INDY).run()
    assert _figures(app, "calendar") == "10" and _store_list(app).format_func(INDY) == f"#8135 · {INDY_NAME}"

    add_club(engine, "999001", 8135, INDY_NAME, 4, 720000)  # a sync brings a second "#8135 · Sam's Club ..."
    app.run()
    assert _store_list(app).value == INDY and app.query_params["store"] == INDY
    assert _store_list(app).format_func(INDY) == f"#8135 · {INDY_NAME} (loc {INDY})"
    assert _figures(app, "calendar") == "10"


def test_links_name_a_store_by_location_id_or_by_a_number_only_one_store_has(open_page, twin_clubs):
    url, _ = twin_clubs
    for link, store, figure in ((CLUBS[2], CLUBS[2], "3"), ("8135", INDY, "10"), ("#8135", INDY, "10")):
        app = open_page(url, "unscheduled", store=link)
        assert _store_list(app).value == store and app.query_params["store"] == store, link
        assert _figures(app, "unscheduled") == figure, link

    shared = open_page(url, "unscheduled", store="8000")  # three locations: the link cannot say which
    assert _store_list(shared).value == "" and "store" not in shared.query_params
    warning = " ".join(warning.value for warning in shared.warning)
    assert "Ignored `store=8000` in the link" in warning
    assert f"store number 8000 belongs to 3 locations ({', '.join(CLUBS)})" in warning
    assert "pick one in the Store list" in warning
    assert _figures(shared, "unscheduled") == "16"  # all stores


def _stores(*rows: tuple[str, int | None, str | None, str | None]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["store", "store_number", "store_name", "location_mvid"])


def test_store_labels_name_a_twin_by_its_location_id_and_stay_unique_whatever_the_names():
    assert store_labels(_stores(("8000", 8000, "Club", None), ("872246", 8000, "Club", "872246"),
                                ("157384", 8135, INDY_NAME, "157384"), ("555001", None, "Closed club", "555001"))) == {
        "8000": "#8000 · Club (no location id)", "872246": "#8000 · Club (loc 872246)",
        "157384": f"#8135 · {INDY_NAME}", "555001": "location 555001 · Closed club"}
    # a name written like a twin's label, and a store whose only text would read like the "All stores" option
    crafted = store_labels(_stores(("872246", 8000, "Club", "872246"), ("872247", 8000, "Club", "872247"),
                                   ("900001", 8000, "Club (loc 872246)", "900001")))
    assert crafted == {"872246": "#8000 · Club (loc 872246)", "872247": "#8000 · Club (loc 872247)",
                       "900001": "#8000 · Club (loc 872246) · 900001"}
    nameless = store_labels(_stores(("1", None, "All stores", None)))
    assert nameless == {"1": "All stores · 1"}


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
