"""AppTest: the action forms on the Day view (preview, confirm, result with operation id, Undo), the Operations and
Audit pages, against a real database and the sandbox."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.actions.journal import Journal
from tests.migrated_template import migrate_new_database
from tests.test_app_pages import _texts, open_page  # noqa: F401 - the shared AppTest fixture

DAY = date.today() + timedelta(days=7)


@pytest.fixture
def sprint2(tmp_path):
    url = f"sqlite:///{tmp_path / 'sprint2.db'}"
    migrate_new_database(url)
    engine = make_engine(url)
    seed_sprint2_scenario(engine, today=date.today())
    yield url, engine
    engine.dispose()


def _schedule_of(engine, ref: int):  # noqa: ANN202
    with engine.connect() as connection:
        value = connection.execute(text("SELECT schedule_datetime FROM schedules WHERE event_ref_num = :r"),
                                   {"r": ref}).scalar_one_or_none()
    return value if value is None or isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _day(open_page, url: str, role: str = "operator"):  # noqa: ANN001, ANN202
    return open_page(url, "day", role=role, date=DAY.isoformat())


def test_reschedule_dialog_previews_confirms_and_undoes(open_page, sprint2):
    url, engine = sprint2
    app = _day(open_page, url)
    app.button(key="btn_rs_606001").click().run()
    app.segmented_control(key="rs_slot_606001").set_value("11:00").run()
    preview = [m for m in _texts(app.markdown) if "will be" in m]
    assert preview == [f"- CORE **606001** will be **{DAY:%a %Y-%m-%d} 11:00** (now {DAY:%Y-%m-%d} 10:30)",
                       f"- Supervisor **606002** will be **{DAY:%a %Y-%m-%d} 13:00** (now {DAY:%Y-%m-%d} 12:30)"]
    assert _schedule_of(engine, 606001).hour == 10  # nothing happens before the confirm
    app.button(key="rs_go_606001").click().run()
    assert not app.exception
    banner = _texts(app.success)[0]
    assert banner.startswith("Operation 1: Done: CORE 606001") and "Supervisor 606002" in banner
    assert (_schedule_of(engine, 606001).hour, _schedule_of(engine, 606002).hour) == (11, 13)
    assert any("Supervisor 606002 scheduled" in s and "13:00" in s for s in _texts(app.success))

    app.button(key="undo_last").click().run()
    assert _texts(app.success)[0].startswith("Operation 2: Done: CORE 606001")
    assert (_schedule_of(engine, 606001).hour, _schedule_of(engine, 606002).hour) == (10, 12)
    assert [r.status for r in Journal(engine).list()] == ["done", "done"]


def test_a_refused_preview_explains_and_offers_no_confirm(open_page, sprint2):
    url, engine = sprint2
    app = _day(open_page, url)
    app.button(key="btn_rs_606001").click().run()
    app.date_input(key="rs_day_606001").set_value(date.today() - timedelta(days=3)).run()
    app.segmented_control(key="rs_slot_606001").set_value("11:00").run()
    assert any("is in the past" in e for e in _texts(app.error))
    assert not [b for b in app.button if b.key == "rs_go_606001"]
    assert Journal(engine).list() == []


def test_a_viewer_sees_no_action_buttons(open_page, sprint2):
    url, engine = sprint2
    app = _day(open_page, url, role="viewer")
    assert not [b for b in app.button if (b.key or "").startswith("btn_")]
    operator = _day(open_page, url)
    assert {"btn_rs_606001", "btn_us_606001", "btn_ss_608001"} <= {b.key for b in operator.button}


def test_unschedule_needs_the_confirm_box_and_takes_the_supervisor(open_page, sprint2):
    url, engine = sprint2
    app = _day(open_page, url)
    app.button(key="btn_us_606001").click().run()
    go = next(b for b in app.button if b.key == "us_go_606001")
    assert go.disabled
    app.checkbox(key="us_ok_606001").check().run()
    app.button(key="us_go_606001").click().run()
    assert _texts(app.success)[0].startswith("Operation 1: Done: CORE 606001 → unscheduled; Supervisor 606002")
    assert _schedule_of(engine, 606001) is None and _schedule_of(engine, 606002) is None


def test_schedule_supervisor_from_the_core_card(open_page, sprint2):
    url, engine = sprint2
    app = _day(open_page, url)
    app.button(key="btn_ss_608001").click().run()
    assert app.selectbox(key="ss_emp_608001").value  # a suggestion is preselected
    app.button(key="ss_go_608001").click().run()
    assert _texts(app.success)[0].startswith("Operation 1: Done: Supervisor 608002")
    assert _schedule_of(engine, 608002) == datetime.combine(DAY, datetime.min.time()).replace(hour=13, minute=30)


def test_operations_and_audit_pages_show_the_journal(open_page, sprint2):
    url, engine = sprint2
    app = _day(open_page, url)
    app.button(key="btn_rs_606999").click().run()
    app.segmented_control(key="rs_slot_606999").set_value("09:45").run()
    app.button(key="rs_go_606999").click().run()
    operations = open_page(url, "operations")
    journal = operations.dataframe[0].value
    assert list(journal["status"]) == ["Done"] and list(journal["by"]) == ["test-operator"]  # in words (issue 18)
    audit = open_page(url, "audit").dataframe[0].value
    set_up = audit["actor"] == "host:setup"  # the test's accounts being added: account changes are audited too
    assert set(audit[set_up]["what"]) == {"User added"}
    assert 606999 in set(audit["event"].dropna().astype(int)) and set(audit[~set_up]["actor"]) == {"test-operator"}
