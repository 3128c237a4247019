"""The per-event timeline (issue 16 §5) on SQLite and PostgreSQL: real actions through PairedActions against the local
HTTP fake of Crossmark (tests/paired_world.py), the live read of Crossmark (agree, disagree, a failing read), findings
open and resolved, the bounded search of the journal, the CLI (`python -m services timeline`) and the page (AppTest)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import delete, select, text, update
from streamlit.testing.v1 import AppTest

from dashboard.markdown_text import plain
from services.crossmark.client import CrossmarkClient, make_crossmark_client
from services.crossmark.sandbox import PATH_PLANNING, simulator_from_database
from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.errors import InvalidInput, NotFound
from services.actions.paired_actions import PairedActions
from services.quality.checks import run_check
from services.settings import load_settings
from services.store.tables import CheckRun, QualityFinding, RunRuleCount, Schedule
from services.reads.timeline import event_timeline
from tests.cli_runner import run_cli
from tests.fake_crossmark import FAKE_PASSWORD, FAKE_TIMEZONE, FAKE_USERNAME
from tests.paired_world import DAY, TODAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")
PAGE = "../pages/timeline.py"


def _clear_findings(engine) -> None:  # noqa: ANN001
    """tests/paired_world.py resets the journal and the events per test, not the data-quality runs: do that here."""
    with engine.begin() as connection:
        for table in (RunRuleCount, QualityFinding, CheckRun):
            connection.execute(delete(table))


def _check(engine) -> None:  # noqa: ANN001
    run_check(engine, load_settings({}), rules=["core_supervisor_unstaffed", "core_without_supervisor"],
              triggered_by="test")


def _timeline(world: PairedWorld, ref: int, **options):  # noqa: ANN003, ANN202
    return event_timeline(world.engine, ref, client_factory=world.make_client, **options)


def _kinds(timeline) -> list[tuple]:  # noqa: ANN001
    return [(entry.kind, entry.operation_id, entry.status) for entry in timeline.entries]


# --- the service -----------------------------------------------------------------------------------------------------


def test_a_done_reschedule_a_refusal_and_their_audit_entries_in_time_order(world):
    done = world.actions.reschedule(606001, at(DAY + timedelta(days=1), 11), "alice")
    refused = world.actions.reschedule(606001, at(TODAY - timedelta(days=3), 10), "bob")
    assert (done.status, refused.status) == ("done", "refused"), (done.message, refused.message)

    timeline = _timeline(world, 606001)
    assert timeline.event.name == "606001-CORE-Super Pretzel King Size"
    assert [(other.ref, other.event_type) for other in timeline.event.counterparts] == [(606002, "Supervisor")]
    assert timeline.event.event_type == "Core" and timeline.event.mplan_id == world.mplan[606001]
    operations = [entry for entry in timeline.entries if entry.kind == "operation"]
    assert [(e.operation_id, e.status, e.who) for e in operations] == [(done.operation_id, "done", "alice"),
                                                                       (refused.operation_id, "refused", "bob")]
    assert operations[0].summary == f"Reschedule to {at(DAY + timedelta(days=1), 11):%a %b %d}, 11:00"
    assert "This event: scheduled" in operations[0].detail and "→ scheduled" in operations[0].detail
    assert "is in the past" in operations[1].detail
    # the done operation: requested, its one Crossmark call for this event, the local change, the final status
    mine = [(entry.kind, entry.status) for entry in timeline.entries if entry.operation_id == done.operation_id]
    assert mine == [("operation", "done"), ("audit", "requested"), ("step", "ok"), ("audit", None), ("audit", "done")]
    step = next(entry for entry in timeline.entries if entry.kind == "step")
    assert step.summary.startswith("Crossmark: schedule at") and "scheduled-event id" in step.detail
    change = next(e for e in timeline.entries if e.kind == "audit" and e.operation_id == done.operation_id
                  and e.status is None)
    assert change.summary == "Reschedule: CORE changed in our database" and " → " in change.detail
    assert [(e.kind, e.status) for e in timeline.entries if e.operation_id == refused.operation_id] == \
        [("operation", "refused"), ("audit", "refused")]
    assert [entry.at for entry in timeline.entries] == sorted(entry.at for entry in timeline.entries)

    # the Supervisor that followed: the same operation, its own step and change, not the CORE's
    supervisor = _timeline(world, 606002)
    assert [(e.kind, e.status) for e in supervisor.entries] == \
        [("operation", "done"), ("audit", "requested"), ("step", "ok"), ("audit", None), ("audit", "done")]
    assert supervisor.entries[0].summary.endswith("— Supervisor 606002 follows")
    assert all("13:00" in e.summary for e in supervisor.entries if e.kind == "step")
    # 606999 was not touched: no entries at all (the refusal named 606001, not it)
    assert _timeline(world, 606999).entries == ()


def test_agree_then_disagree_when_crossmark_moved_behind_our_back(world):
    result = world.actions.reschedule(606001, at(DAY, 11), "alice")
    assert result.status == "done", result.message
    timeline = _timeline(world, 606001)
    assert timeline.agree is True and timeline.differences == ()
    assert timeline.database.scheduled and timeline.database.start == at(DAY, 11)
    assert timeline.database.rep_id == timeline.crossmark.standing.rep_id
    assert timeline.crossmark.label == "Crossmark" and not timeline.crossmark.sandbox
    assert timeline.crossmark.standing.start == at(DAY, 11)
    assert timeline.crossmark.standing.rep_name  # Crossmark's name for the rep
    # someone moves the event in Crossmark only
    event = world.fake.simulator.events[world.mplan[606001]]
    with world.fake.simulator._lock:  # noqa: SLF001
        length = event.end - event.start
        event.start = at(DAY, 9, 45).replace(tzinfo=world.fake.simulator.tz)
        event.end = event.start + length
    moved = _timeline(world, 606001)
    assert moved.agree is False and moved.differences == ("time",)
    assert moved.crossmark.standing.start == at(DAY, 9, 45) and moved.database.start == at(DAY, 11)
    # ... or unschedules it there
    with world.fake.simulator._lock:  # noqa: SLF001
        event.scheduled_id, event.rep_id, event.start, event.end, event.condition = None, None, None, None, "Unstaffed"
    gone = _timeline(world, 606001)
    assert gone.agree is False and gone.differences == ("scheduled or not",)
    assert not gone.crossmark.standing.scheduled and gone.crossmark.standing.condition == "Unstaffed"


def test_a_failing_crossmark_read_is_reported_never_raised(world):
    world.actions.reschedule(606001, at(DAY, 11), "alice")
    world.fake.inject(PATH_PLANNING, "5xx_before", times=None)
    timeline = _timeline(world, 606001)
    world.fake.clear_faults()
    assert timeline.agree is None and timeline.crossmark.standing is None
    assert timeline.crossmark.problem.startswith("could not read Crossmark: ")
    assert "503" in timeline.crossmark.problem
    assert [e.kind for e in timeline.entries][:1] == ["operation"]  # the database half is all there
    assert timeline.database.start == at(DAY, 11)
    # Crossmark unreachable: the same, with its reason
    unreachable = event_timeline(world.engine, 606001, client_factory=lambda: CrossmarkClient(
        base_url="http://127.0.0.1:9", username=FAKE_USERNAME, password=FAKE_PASSWORD,
        timezone_name=FAKE_TIMEZONE, connect_timeout=0.5, retry_attempts=1))
    assert unreachable.agree is None and unreachable.crossmark.problem.startswith("could not read Crossmark: ")
    # not read at all
    assert event_timeline(world.engine, 606001, client_factory=None).crossmark.problem == "Crossmark was not read."


def test_findings_open_and_resolved_and_the_operation_that_relied_on_the_core(world):
    _clear_findings(world.engine)
    _check(world.engine)
    before = _timeline(world, 608001)
    findings = [e for e in before.entries if e.kind == "finding"]
    assert [(e.status, e.summary) for e in findings] == \
        [("open", "Data quality: Supervisor Unstaffed for a scheduled CORE (warning)")]
    assert "608002 is Unstaffed" in findings[0].detail
    assert [e.summary for e in _timeline(world, 608002).entries if e.kind == "finding"] == \
        ["Data quality: Supervisor Unstaffed for a scheduled CORE (warning)"]
    assert [e.summary for e in _timeline(world, 606999).entries] == \
        ["Data quality: CORE without a Supervisor (warning)"]

    candidate = world.actions.supervisor_candidates(608001)[0]
    employee = candidate.employee_id
    scheduled = world.actions.schedule_supervisor(608001, employee, "alice")
    assert scheduled.status == "done", scheduled.message
    _check(world.engine)
    core = _timeline(world, 608001)
    states = [(e.kind, e.status) for e in core.entries if e.kind == "finding"]
    assert states == [("finding", "resolved"), ("finding", "resolved")], core.entries
    assert core.entries[-1].summary == "Data quality: Supervisor Unstaffed for a scheduled CORE no longer found"
    # the CORE was not changed but the operation relied on it (locked and checked): it is on the CORE's timeline
    relied = [e for e in core.entries if e.kind == "operation"]
    assert [(e.operation_id, e.status) for e in relied] == [(scheduled.operation_id, "done")]
    assert relied[0].summary == f"Schedule Supervisor of CORE 608001 with {candidate.name} — relied on event " \
                                "608001, left as it was"  # the rep by name, as on the Audit page
    assert not [e for e in core.entries if e.kind == "step"]  # no Crossmark call touched the CORE
    supervisor = _timeline(world, 608002)
    assert [(e.kind, e.status) for e in supervisor.entries if e.operation_id == scheduled.operation_id] == \
        [("operation", "done"), ("audit", "requested"), ("step", "ok"), ("audit", None), ("audit", "done")]
    assert supervisor.agree is True and supervisor.database.scheduled
    named = [e.summary + " " + e.detail for e in supervisor.entries if e.operation_id == scheduled.operation_id]
    assert any(f"with {candidate.name}" in text for text in named if "schedule at" in text), named
    assert not [text for text in named if "(rep " in text or f"employee {employee}" in text], named


def test_a_compensated_action_and_a_refused_undo_of_it_are_found(world):
    world.arm({2: "ok0"})  # the Supervisor's write is refused: the CORE is moved back
    compensated = world.actions.reschedule(606001, at(DAY, 11), "alice")
    assert compensated.status == "compensated", compensated.message
    undo = world.actions.undo(compensated.operation_id, "alice")
    assert undo.status == "refused"
    timeline = _timeline(world, 606001)
    writes = [(e.summary.split(" at ")[0], e.status) for e in timeline.entries
              if e.kind == "step" and "schedule at" in e.summary]
    assert writes == [("Crossmark: schedule", "ok"), ("Crossmark: undoing: schedule", "ok")], timeline.entries
    operations = [(e.operation_id, e.status) for e in timeline.entries if e.kind == "operation"]
    assert operations == [(compensated.operation_id, "compensated"), (undo.operation_id, "refused")]
    assert timeline.agree is True and timeline.database.start == at(DAY, 10, 30)
    assert not timeline.older_operations_unsearched
    supervisor = _timeline(world, 606002)
    assert "failed" in [e.status for e in supervisor.entries if e.kind == "step"]
    assert [(e.operation_id, e.status) for e in supervisor.entries if e.kind == "operation"] == operations


def test_the_search_of_the_journal_by_text_is_bounded_to_the_latest_operations(world):
    refused = world.actions.reschedule(606001, at(TODAY - timedelta(days=3), 10), "alice")
    assert refused.status == "refused"
    assert [e.operation_id for e in _timeline(world, 606001).entries] == [refused.operation_id] * 2
    # three later operations about another event: a refusal (it changed nothing, so no audit entry names 606001) is
    # found by its text among the latest operations only, and the timeline says when older ones were not searched
    for _ in range(3):
        world.actions.reschedule(606999, at(TODAY - timedelta(days=3), 10), "carol")
    bounded = _timeline(world, 606001, recent_operations=3)
    assert bounded.entries == () and bounded.older_operations_unsearched
    assert _timeline(world, 606001, recent_operations=4).entries != ()
    # what changed the event is always found, through the audit entries that name it, however old
    done = world.actions.reschedule(606001, at(DAY, 11, 30), "alice")
    assert done.status == "done", done.message
    later = _timeline(world, 606001, recent_operations=0)
    assert [(e.operation_id, e.status) for e in later.entries if e.kind == "operation"] == [(done.operation_id, "done")]


def test_an_unfinished_operation_is_found_through_its_lock(world):
    world.actions.reschedule(606001, at(DAY, 11), "alice")
    record = world.actions.journal.start(key="crashed", kind="unschedule", actor="alice", now=datetime.now(),
                                         request={"ref": 606999}, events=[{"ref": 606999, "role": "core"}])
    # beyond the searched window, yet listed: it holds 606999's lock
    timeline = _timeline(world, 606999, recent_operations=0)
    assert [(e.operation_id, e.status) for e in timeline.entries if e.kind == "operation"] == [(record.id, "pending")]


def test_unknown_and_impossible_refs(world):
    with pytest.raises(NotFound, match="No event with ref 999999"):
        event_timeline(world.engine, 999999, client_factory=None)
    for bad in ("abc", "²", 0, 2**31, "99999999999999999999"):
        with pytest.raises(InvalidInput):
            event_timeline(world.engine, bad, client_factory=None)


def test_json_is_one_plain_object(world):
    world.actions.reschedule(606001, at(DAY, 11), "alice")
    value = json.loads(json.dumps(_timeline(world, 606001).to_json()))
    assert value["ref"] == 606001 and value["agree"] is True and value["event"]["store"]
    assert value["database"]["start"] == at(DAY, 11).isoformat()
    assert value["crossmark"]["label"] == "Crossmark" and value["crossmark"]["standing"]["scheduled"] is True
    assert {entry["kind"] for entry in value["entries"]} == {"operation", "audit", "step"}


def test_every_finding_of_a_demo_database_is_on_the_timeline_of_each_of_its_events(demo_database):
    """The findings are looked up by their identities; a rule whose refs take a shape the timeline does not derive
    would drop its findings silently. Every finding of a full check run must be on each of its events' timelines."""
    engine = demo_database.engine
    _clear_findings(engine)
    run_check(engine, load_settings({}), triggered_by="test")
    with engine.connect() as connection:
        rows = connection.execute(select(QualityFinding.id, QualityFinding.refs, QualityFinding.first_seen)).all()
    by_ref: dict[int, set[int]] = {}
    for finding_id, refs, _ in rows:
        for ref in filter(None, refs.split(",")):
            by_ref.setdefault(int(ref), set()).add(finding_id)
    assert len(rows) > 20 and len(by_ref) > 20  # the demo data injects anomalies of every kind
    for ref, expected in sorted(by_ref.items()):
        timeline = event_timeline(engine, ref, client_factory=None)
        assert len([e for e in timeline.entries if e.kind == "finding"]) == len(expected), ref


# --- the CLI --------------------------------------------------------------------------------------------------------


@pytest.fixture
def sprint2_db(engine, database_url):  # noqa: ANN001, ANN201
    """The sprint2 scenario with one done reschedule and one refusal of 606001 (sandbox actions)."""
    seed_sprint2_scenario(engine, today=TODAY)
    settings = load_settings({})
    simulator = simulator_from_database(engine, settings.crossmark_timezone)
    actions = PairedActions(engine, lambda: make_crossmark_client(settings, simulator=simulator))
    done = actions.reschedule(606001, at(DAY, 11), "alice")
    refused = actions.reschedule(606001, at(DAY + timedelta(days=30), 11), "bob")
    assert (done.status, refused.status) == ("done", "refused")
    return database_url, done.operation_id, refused.operation_id


def test_cli_timeline_in_words_and_as_json_on_the_sandbox(sprint2_db):
    url, done, refused = sprint2_db
    result = run_cli("timeline", "--db", url, "--event", "606001")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Crossmark: SANDBOX (in-process stand-in; nothing is sent to Crossmark)"
    assert lines[1] == "Event 606001: 606001-CORE-Super Pretzel King Size"
    assert lines[2].endswith("· same number and store: Supervisor 606002")
    database, crossmark = lines[3], lines[4]
    assert database.startswith("Database           : scheduled") and crossmark.startswith("Crossmark (sandbox): ")
    assert f"scheduled {at(DAY, 11):%a %b %d}, 11:00" in database and crossmark.endswith("(agree)")
    entries = [line for line in lines if line.startswith("  20")]
    assert any(f"op {done}" in line and " done " in line and "alice" in line for line in entries), entries
    assert any(f"op {refused}" in line and "refused" in line and "outside its window" in line for line in entries)
    assert any(" step " in line and "Crossmark: schedule at" in line for line in entries)

    as_json = run_cli("timeline", "--db", url, "--event", "606001", "--json")
    assert as_json.returncode == 0, as_json.stderr
    value = json.loads(as_json.stdout)
    assert value["agree"] is True and value["crossmark_target"] == "sandbox"
    assert value["crossmark"]["label"] == "Crossmark (sandbox)" and value["crossmark"]["sandbox"] is True
    assert [(e["operation_id"], e["status"]) for e in value["entries"] if e["kind"] == "operation"] == \
        [(done, "done"), (refused, "refused")]


def test_cli_timeline_unknown_and_bad_refs(sprint2_db):
    url, _, _ = sprint2_db
    missing = run_cli("timeline", "--db", url, "--event", "999999")
    assert (missing.returncode, missing.stdout, missing.stderr) == (1, "", "error: No event with ref 999999.\n")
    for bad in ("abc", "2147483648", "-1"):
        refused = run_cli("timeline", "--db", url, "--event", bad)
        assert refused.returncode == 2 and len(refused.stderr.splitlines()) == 1, refused.stderr
        assert "Traceback" not in refused.stderr


def test_cli_timeline_reads_the_configured_crossmark_live_and_says_when_it_cannot(sprint2_db, fake_crossmark):
    url, _, _ = sprint2_db
    engine = make_engine(url)
    try:
        simulator = simulator_from_database(engine, "America/Indiana/Indianapolis")
    finally:
        engine.dispose()
    fake_crossmark.simulator = simulator
    env = {"CROSSMARK_BASE_URL": fake_crossmark.url, "CROSSMARK_USERNAME": "ops@example.com",
           "CROSSMARK_PASSWORD": "crossmark-pw", "CROSSMARK_READ_TIMEOUT": "2"}
    result = run_cli("timeline", "--db", url, "--event", "606002", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"Crossmark: {fake_crossmark.url}"
    crossmark = result.stdout.splitlines()[4]
    assert crossmark.startswith("Crossmark: scheduled") and crossmark.endswith("(agree)")
    assert f"{at(DAY, 13):%a %b %d}, 13:00" in crossmark
    assert any(request.path == PATH_PLANNING for request in fake_crossmark.requests)

    event = simulator.events["3606002"]
    with simulator._lock:  # noqa: SLF001
        event.start = event.start + timedelta(minutes=30)
    moved = run_cli("timeline", "--db", url, "--event", "606002", env=env)
    assert "(DISAGREE: time)" in moved.stdout, moved.stdout

    fake_crossmark.inject(PATH_PLANNING, "5xx_before", times=None)
    failing = run_cli("timeline", "--db", url, "--event", "606002", "--json", env=env)
    assert failing.returncode == 0, failing.stderr
    value = json.loads(failing.stdout)
    assert value["agree"] is None and value["crossmark"]["problem"].startswith("could not read Crossmark: ")
    assert value["crossmark_target"] == fake_crossmark.url
    words = run_cli("timeline", "--db", url, "--event", "606002", env=env)
    assert "could not read Crossmark: " in words.stdout and "(not compared)" in words.stdout


# --- the page -------------------------------------------------------------------------------------------------------


@pytest.fixture
def open_timeline(monkeypatch):  # noqa: ANN001, ANN201
    from tests.test_app_pages import signed_in_as

    def open_(url: str, role: str = "viewer", **query: str) -> AppTest:
        monkeypatch.setenv("SCHEDULER_DATABASE_URL", url)
        monkeypatch.delenv("CROSSMARK_BASE_URL", raising=False)
        st.cache_resource.clear()
        st.cache_data.clear()
        app = AppTest.from_file(APP, default_timeout=60)
        app.session_state["auth"] = {"username": signed_in_as(url, role), "last_seen": datetime.now()}
        for key, value in query.items():
            app.query_params[key] = value
        app.switch_page(PAGE)
        app.run()
        assert not app.exception, app.exception
        return app

    yield open_
    st.cache_resource.clear()


def _texts(elements) -> list[str]:  # noqa: ANN001
    return [element.value for element in elements]


def test_page_shows_both_sides_and_the_history(sprint2_db, open_timeline):
    url, done, refused = sprint2_db
    app = open_timeline(url, ref="606001")
    assert _texts(app.title) == ["Event timeline"]
    assert _texts(app.header)[0] == "606001-CORE-Super Pretzel King Size"
    assert _texts(app.success) == [plain("Our database and Crossmark (sandbox) agree.")]  # shown as "(sandbox)"
    markdown = " ".join(_texts(app.markdown))
    assert "**Our database**" in markdown and f"**{plain('Crossmark (sandbox)')}, read just now**" in markdown
    assert f"When: **{at(DAY, 11):%a %b %d}, 11:00**" in markdown
    assert any("SANDBOX" in caption for caption in _texts(app.caption))
    history = app.table[0].value
    assert list(history.columns) == ["When", "Entry", "Details"]
    actions = [entry for entry in history["Entry"] if entry.startswith("Action")]
    assert actions == [f"Action · operation {done} · Done · alice", f"Action · operation {refused} · Refused · bob"]
    assert {entry.split(" · ")[0] for entry in history["Entry"]} == {"Action", "Audit entry", "Crossmark call"}
    assert f"**Reschedule to {at(DAY, 11):%a %b %d}, 11:00** — This event: scheduled" in history["Details"][0]
    assert not history["Details"].str.contains('{"').any()  # no raw JSON
    assert app.text_input(key="timeline_ref_input").value == "606001"


def test_page_typing_a_ref_a_bad_ref_an_unknown_ref_and_no_ref(sprint2_db, open_timeline):
    url, _, _ = sprint2_db
    app = open_timeline(url)
    assert _texts(app.info) and "Type an event ref" in app.info[0].value and not app.table
    app.text_input(key="timeline_ref_input").input("606002").run()
    assert not app.exception and _texts(app.header)[0] == "606001-Supervisor-Super Pretzel King Size"
    assert app.query_params["ref"] == ["606002"] or app.query_params["ref"] == "606002"
    app.button(key="timeline_show_606001").click().run()  # to its CORE, from the counterpart's button
    assert not app.exception and _texts(app.header)[0] == "606001-CORE-Super Pretzel King Size"
    assert app.text_input(key="timeline_ref_input").value == "606001"
    app.query_params["ref"] = "606999"  # a link followed to this page, or the browser's back / forward
    app.run()
    assert _texts(app.header)[0] == "606999-CORE-Test Product Orphan"
    assert app.text_input(key="timeline_ref_input").value == "606999"
    app.text_input(key="timeline_ref_input").input("12x").run()
    assert any("must be a whole number" in error for error in _texts(app.error))
    bad_link = open_timeline(url, ref="abc")
    assert any("ref=abc" in warning for warning in _texts(bad_link.warning))
    unknown = open_timeline(url, ref="999999")
    assert any("no event with ref 999999" in warning for warning in _texts(unknown.warning))


def test_page_disagreement_and_untrusted_names(sprint2_db, open_timeline):
    url, _, _ = sprint2_db
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE events SET project_name = :name WHERE project_ref_num = 606999"),
                               {"name": "606999-CORE-**bold** [link](https://evil.example) <b>x</b>"})
    finally:
        engine.dispose()
    app = open_timeline(url, ref="606999")  # the app's sandbox is built from the database now
    assert plain("**bold** [link](https://evil.example) <b>x</b>") in _texts(app.header)[0]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:  # our database moves; the sandbox, built at the first run, does not
            connection.execute(update(Schedule).where(Schedule.event_ref_num == 606999)
                               .values(schedule_datetime=at(DAY, 9, 45)))
    finally:
        engine.dispose()
    app.run()
    assert not app.exception
    assert _texts(app.error) == [plain("Our database and Crossmark (sandbox) disagree: time.")]
    assert any(":red[**" in text for text in _texts(app.markdown))


def test_day_view_cards_and_the_audit_trail_link_to_the_timeline(sprint2_db, open_timeline):
    url, _, _ = sprint2_db
    app = open_timeline(url)
    app.switch_page("../pages/day.py")
    app.query_params["date"] = DAY.isoformat()
    app.run()
    assert not app.exception
    links = {link.proto.query_string: link.proto.label for link in app.get("page_link")
             if link.proto.page == "timeline"}
    assert links == {"ref=606001": "Timeline", "ref=606999": "Timeline", "ref=608001": "Timeline"}
    app.switch_page("../pages/audit.py")
    app.run()
    app.text_input(key="audit_event").input("606001").run()
    assert not app.exception
    assert [(link.proto.label, link.proto.query_string) for link in app.get("page_link")
            if link.proto.page == "timeline"] == [("Timeline of event 606001", "ref=606001")]
    trail = app.dataframe[0].value
    assert set(trail["timeline"]) == {"timeline?ref=606001"}
