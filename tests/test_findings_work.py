"""Findings as owned work (issue 21), tried from outside: assign, comment and show through the CLI (hostile text, bad
input that changes nothing, the rate limit), a finding's life over runs (resolved, reopened with its owner and history,
due-by and overdue), `check run --json`, escalation to a real local webhook (once, per occurrence, against flapping, in
one message, nothing lost when delivery fails, only the run's rules), migration 0018 on a database at 0017, time to fix
and the review's counts. On SQLite and PostgreSQL."""
from __future__ import annotations

from functools import partial

import json
import socket
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, inspect, insert, text

from services.access.accounts import SETUP, add_user, set_active
from services.cli.check import show_text
from services.demo.demo_data import seed_sprint2_scenario
from services.errors import ActionRefused, NotFound
from services.quality.checks import acknowledge, run_check
from services.quality.work import HistoryKind, WorkCounts, assign, comment, finding_record, time_to_fix, work_counts
from services.settings import load_settings
from services.store.database import make_engine
from services.store.tables import Event, FindingHistory
from tests.cli_runner import run_cli
from tests.test_json_columns import _migrate
from tests.test_notifications import webhook  # noqa: F401 - the local Slack webhook fixture

DAY = date(2025, 12, 2)  # a Tuesday, in the past: `check show` judges overdue by the clock
NOW = datetime(2025, 12, 2, 8, 0)
PASSWORD = "a-long-enough-password"
HOSTILE = ('<script>alert("x")</script> <b>bold</b> &amp;\n=HYPERLINK("http://evil.example","click")\n'
           "+1-2 @SUM(A1)\tand a tab")


# --- the world: events that make findings, people who work them -----------------------------------------------------


def add_event(engine: Engine, ref: int, *, due: datetime, condition: str) -> None:
    """An event of type Other at one store: Unstaffed (the Unstaffed rules judge it by its due date), or with a
    condition that says scheduled while it has no schedule (schedule_state_drift, a warning with no due date)."""
    with engine.begin() as connection:
        connection.execute(insert(Event.__table__).values(
            project_name=f"{ref}-Demo Tasting", project_ref_num=ref, location_mvid="157384", store_number=8184,
            start_datetime=due - timedelta(days=7), due_datetime=due, estimated_time=15, is_scheduled=False,
            event_type="Other", condition=condition, external_id=f"3{ref}"))


def set_condition(engine: Engine, ref: int, condition: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET condition = :condition WHERE project_ref_num = :ref"),
                           {"condition": condition, "ref": ref})


def drifting(engine: Engine, ref: int) -> None:
    """A finding that stays open however time passes, until `settle` (its rule stops reporting it)."""
    add_event(engine, ref, due=NOW + timedelta(days=60), condition="Scheduled")


def settle(engine: Engine, ref: int) -> None:
    set_condition(engine, ref, "Canceled")


def unsettle(engine: Engine, ref: int) -> None:
    set_condition(engine, ref, "Scheduled")


def people(engine: Engine) -> None:
    for name, role in (("alice", "operator"), ("bob", "operator"), ("vic", "viewer"), ("dora", "operator")):
        add_user(engine, name, role, PASSWORD, by=SETUP)
    set_active(engine, "dora", False, by=SETUP)


def finding_of(result, rule: str, ref: int):  # noqa: ANN001, ANN201 - CheckRunResult -> FindingView
    return next(f for f in result.findings if f.rule == rule and ref in f.refs)


def stored(engine: Engine, finding_id: int) -> dict:
    with engine.connect() as connection:
        row = connection.execute(text("SELECT * FROM dashboard_findings WHERE id = :id"), {"id": finding_id})
        return dict(row.mappings().one())


def moment(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]


def history(engine: Engine, finding_id: int) -> list[tuple[str, str | None, str | None]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT kind, actor, text FROM dashboard_finding_history WHERE finding_id = :id ORDER BY id"),
            {"id": finding_id})]


def audit_actions(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT actor, action, message FROM dashboard_audit ORDER BY id"))]


def state(engine: Engine) -> tuple:
    """Everything assigning and commenting could change: the findings' owners, the history, the audit trail."""
    with engine.connect() as connection:
        return (connection.execute(text("SELECT id, owner, assigned_at FROM dashboard_findings ORDER BY id")).all(),
                connection.execute(text("SELECT * FROM dashboard_finding_history ORDER BY id")).all(),
                connection.execute(text("SELECT count(*) FROM dashboard_audit")).scalar_one())


# --- assign, comment, show through the CLI ---------------------------------------------------------------------------


def test_assign_comment_and_show_through_the_cli(engine, database_url):
    drifting(engine, 700001)
    people(engine)
    found = finding_of(run_check(engine, load_settings({}), now=NOW), "schedule_state_drift", 700001)
    db = ("--db", database_url)

    assigned = run_cli("check", "assign", *db, "--finding", str(found.id), "--to", " bob ", "--user", "alice")
    assert assigned.returncode == 0, assigned.stderr
    assert assigned.stdout.strip() == f"Finding {found.id} assigned to bob."
    commented = run_cli("check", "comment", *db, "--finding", str(found.id), "--text", HOSTILE, "--user", "bob")
    assert commented.returncode == 0, commented.stderr
    again = run_cli("check", "assign", *db, "--finding", str(found.id), "--to", "alice", "--user", "bob")
    assert again.returncode == 0, again.stderr

    row = stored(engine, found.id)
    assert row["owner"] == "alice" and row["assigned_at"] is not None
    assert history(engine, found.id) == [("assigned", "alice", "Assigned to bob."), ("commented", "bob", HOSTILE),
                                         ("assigned", "bob", "Assigned to alice (was bob).")]
    assert [(actor, action) for actor, action, _ in audit_actions(engine)[-3:]] == [
        ("alice", "assign requested"), ("bob", "comment requested"), ("bob", "assign requested")]

    shown = run_cli("check", "show", *db, str(found.id), "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert {key: record[key] for key in ("id", "rule", "severity", "refs", "state", "owner", "first_seen", "due_by",
                                         "resolved_at")} == {
        "id": found.id, "rule": "schedule_state_drift", "severity": "warning", "refs": [700001], "state": "open",
        "owner": "alice", "first_seen": NOW.isoformat(), "due_by": (NOW + timedelta(days=3)).isoformat(),
        "resolved_at": None}
    assert record["overdue"] is True  # `show` judges by the clock: NOW + 3 days is long past
    assert [(c["by"], c["text"]) for c in record["comments"]] == [("bob", HOSTILE)]
    assert [(h["kind"], h["by"], h["text"]) for h in record["history"]] == history(engine, found.id)

    plain = run_cli("check", "show", *db, str(found.id))
    assert plain.returncode == 0, plain.stderr
    assert "OPEN, OVERDUE" in plain.stdout and "Owner: alice" in plain.stdout
    assert f"bob: {HOSTILE}" in plain.stdout  # the text as typed, not interpreted


@pytest.mark.parametrize(("arguments", "exit_code", "message"), [
    (("assign", "--finding", "999", "--to", "bob", "--user", "alice"), 1, "No finding 999."),
    (("comment", "--finding", "999", "--text", "hello", "--user", "alice"), 1, "No finding 999."),
    (("assign", "--finding", "{id}", "--to", "nobody", "--user", "alice"), 1, "'nobody' is not a user"),
    (("assign", "--finding", "{id}", "--to", "dora", "--user", "alice"), 1, "The account 'dora' is disabled."),
    (("assign", "--finding", "{id}", "--to", "bob", "--user", "vic"), 1,
     "vic is a viewer; assign needs the operator role"),
    (("comment", "--finding", "{id}", "--text", "looks fine", "--user", "vic"), 1,
     "vic is a viewer; comment needs the operator role"),
    (("comment", "--finding", "{id}", "--text", "hi", "--user", "dora"), 1, "The account 'dora' is disabled."),
    (("assign", "--finding", "{id}", "--to", "bob"), 2, "the following arguments are required: --user"),
    (("comment", "--finding", "{id}", "--text", "hi"), 2, "the following arguments are required: --user"),
    (("comment", "--finding", "{id}", "--text", "   \n\t ", "--user", "alice"), 1, "A comment needs some text."),
    (("comment", "--finding", "{id}", "--text", "a\x00b", "--user", "alice"), 2, "contains a NUL byte"),
    (("comment", "--finding", "{id}", "--text", "x" * 5000, "--user", "alice"), 2,
     "has 5,000 characters; at most 1000 fit"),
    (("comment", "--finding", "{id}", "--text", "bell\x07", "--user", "alice"), 2, "control character"),
    (("assign", "--finding", "{id}", "--to", "<b>bob</b>", "--user", "alice"), 2, "is not a valid user name"),
    (("assign", "--finding", "{id}", "--to", "=cmd|' /C calc'!A0", "--user", "alice"), 2, "is not a valid user name"),
    (("assign", "--finding", "abc", "--to", "bob", "--user", "alice"), 2, "A finding id must be a whole number"),
    (("assign", "--finding", "0", "--to", "bob", "--user", "alice"), 2, "out of range"),
    (("assign", "--finding", "{id}", "--to", "bob", "--user", "<script>"), 2, "is not a valid user name"),
    (("assign", "--finding", "{resolved}", "--to", "bob", "--user", "alice"), 1,
     "is resolved: there is nothing to assign"),
    (("assign", "--finding", "{owned}", "--to", "bob", "--user", "alice"), 1, "is already assigned to bob"),
    (("show", "999"), 1, "No finding 999."),
])
def test_bad_input_gets_a_clear_message_and_changes_nothing(engine, database_url, arguments, exit_code, message):
    for ref in (700001, 700002, 700003):
        drifting(engine, ref)
    people(engine)
    first = run_check(engine, load_settings({}), now=NOW)
    settle(engine, 700002)
    run_check(engine, load_settings({}), now=NOW + timedelta(hours=1))
    ids = {"id": finding_of(first, "schedule_state_drift", 700001).id,
           "resolved": finding_of(first, "schedule_state_drift", 700002).id,
           "owned": finding_of(first, "schedule_state_drift", 700003).id}
    assign(engine, ids["owned"], "bob", "alice", now=NOW + timedelta(hours=2))
    before = state(engine)
    result = run_cli("check", arguments[0], "--db", database_url,
                     *(argument.format(**ids) for argument in arguments[1:]))
    assert (result.returncode, result.stdout) == (exit_code, "")
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr) < 600  # one clear line, not the 5,000 characters back
    assert state(engine) == before


def test_the_rate_limit_counts_assignments_and_comments(engine, database_url):
    drifting(engine, 700001)
    people(engine)
    found = finding_of(run_check(engine, load_settings({}), now=NOW), "schedule_state_drift", 700001)
    db, limit = ("--db", database_url), {"ACTIONS_PER_MINUTE": "2"}
    assert run_cli("check", "assign", *db, "--finding", str(found.id), "--to", "bob", "--user", "alice",
                   env=limit).returncode == 0
    assert run_cli("check", "comment", *db, "--finding", str(found.id), "--text", "first", "--user", "alice",
                   env=limit).returncode == 0
    before = history(engine, found.id)
    for third in (("comment", "--text", "second"), ("assign", "--to", "alice")):
        refused = run_cli("check", third[0], *db, "--finding", str(found.id), *third[1:], "--user", "alice",
                          env=limit)
        assert refused.returncode == 1
        assert "alice has made 2 change(s) in the last minute (the limit is 2" in refused.stderr
    assert history(engine, found.id) == before and stored(engine, found.id)["owner"] == "bob"
    assert [action for actor, action, _ in audit_actions(engine) if actor == "alice"] == [
        "assign requested", "comment requested", "comment refused", "assign refused"]
    # Another account has its own minute.
    assert run_cli("check", "comment", *db, "--finding", str(found.id), "--text", "mine", "--user", "bob",
                   env=limit).returncode == 0


# --- a finding's life over runs ----------------------------------------------------------------------------------------


def test_resolves_and_reopens_keeping_owner_comments_and_history(engine):
    drifting(engine, 700001)
    people(engine)
    settings = load_settings({})
    found = finding_of(run_check(engine, settings, now=NOW), "schedule_state_drift", 700001)
    assert found.due_by == NOW + timedelta(days=3) == moment(stored(engine, found.id)["due_by"])
    assign(engine, found.id, "bob", "alice", now=NOW + timedelta(minutes=5))
    comment(engine, found.id, "Sync it from Crossmark", "bob", now=NOW + timedelta(minutes=6))

    settle(engine, 700001)
    resolving = run_check(engine, settings, now=NOW + timedelta(hours=2), triggered_by="cron")
    assert resolving.resolved == 1 and not [f for f in resolving.findings if 700001 in f.refs]
    record = finding_record(engine, found.id)
    assert record.state == "resolved" and record.resolved_at == NOW + timedelta(hours=2)
    assert record.history[-1].kind == HistoryKind.RESOLVED and record.history[-1].actor is None
    assert f"run {resolving.run_id}" in (record.history[-1].text or "")
    assert ("cron", "finding resolved") in [(actor, action) for actor, action, _ in audit_actions(engine)]
    assert f"finding {found.id} (Schedule state disagrees) resolved by run {resolving.run_id}" in [
        message for _, action, message in audit_actions(engine) if action == "finding resolved"]
    assert not record.overdue(NOW + timedelta(days=30))  # resolved is never overdue
    with pytest.raises(ActionRefused, match="is resolved"):
        assign(engine, found.id, "alice", "bob", now=NOW + timedelta(hours=3))
    comment(engine, found.id, "Fixed by a sync", "bob", now=NOW + timedelta(hours=3))  # still allowed

    unsettle(engine, 700001)
    reopened_at = NOW + timedelta(days=1)
    reopening = run_check(engine, settings, now=reopened_at)
    view = finding_of(reopening, "schedule_state_drift", 700001)
    assert view.id == found.id and view.is_new and view.owner == "bob" and not view.acknowledged
    record = finding_record(engine, found.id)
    assert record.state == "open" and record.owner == "bob" and record.assigned_at == NOW + timedelta(minutes=5)
    assert record.first_seen == NOW and record.occurrence_seen == reopened_at
    assert [(entry.kind.value, entry.actor) for entry in record.history] == [
        ("assigned", "alice"), ("commented", "bob"), ("resolved", None), ("commented", "bob"), ("reopened", None)]
    assert [c.text for c in record.comments] == ["Sync it from Crossmark", "Fixed by a sync"]
    assert "it was first seen 2025-12-02 08:00 and resolved 2025-12-02 10:00" in (record.history[-1].text or "")


def test_an_acknowledgement_stays_in_the_history_after_reopening(engine):
    drifting(engine, 700001)
    people(engine)
    settings = load_settings({})
    found = finding_of(run_check(engine, settings, now=NOW), "schedule_state_drift", 700001)
    acknowledge(engine, found.id, "bob", "Known: the feed is late", now=NOW + timedelta(minutes=7))
    assert history(engine, found.id) == [("acknowledged", "bob", "Known: the feed is late")]
    settle(engine, 700001)
    run_check(engine, settings, now=NOW + timedelta(hours=2))
    unsettle(engine, 700001)
    run_check(engine, settings, now=NOW + timedelta(days=1))
    record = finding_record(engine, found.id)
    assert record.acknowledged_by is None  # the new occurrence is not acknowledged; the old acknowledgement is history
    assert [(entry.kind.value, entry.actor, entry.at) for entry in record.history] == [
        ("acknowledged", "bob", NOW + timedelta(minutes=7)), ("resolved", None, NOW + timedelta(hours=2)),
        ("reopened", None, NOW + timedelta(days=1))]


def test_a_reopened_finding_is_due_by_its_own_occurrence(engine):
    drifting(engine, 700001)
    settings = load_settings({})
    found = finding_of(run_check(engine, settings, now=NOW), "schedule_state_drift", 700001)
    settle(engine, 700001)
    run_check(engine, settings, now=NOW + timedelta(hours=2))
    unsettle(engine, 700001)
    reopened_at = NOW + timedelta(days=5)  # the first occurrence's due-by passed two days ago
    view = finding_of(run_check(engine, settings, now=reopened_at), "schedule_state_drift", 700001)
    record = finding_record(engine, found.id)
    assert record.due_by == reopened_at + timedelta(days=3) == view.due_by
    assert not record.overdue(reopened_at + timedelta(hours=1))
    assert work_counts(engine, None, reopened_at + timedelta(hours=1)).overdue == 0
    assert not record.overdue(reopened_at + timedelta(days=3))  # due *by*: overdue only after
    assert record.overdue(reopened_at + timedelta(days=3, seconds=1))


def test_overdue_flips_when_the_clock_passes_due_by(engine):
    drifting(engine, 700001)
    settings = load_settings({})
    found = finding_of(run_check(engine, settings, now=NOW), "schedule_state_drift", 700001)
    due = NOW + timedelta(days=3)
    assert work_counts(engine, None, due).overdue == 0
    assert work_counts(engine, None, due + timedelta(seconds=1)).overdue == 1
    later = finding_of(run_check(engine, settings, now=due + timedelta(hours=1)), "schedule_state_drift", 700001)
    assert later.id == found.id and later.due_by == due and not later.is_new  # seeing it again does not move it
    assert moment(stored(engine, found.id)["due_by"]) == due


def test_an_unstaffed_finding_is_due_by_the_events_due_date(engine):
    add_event(engine, 700001, due=NOW + timedelta(hours=10), condition="Unstaffed")
    add_event(engine, 700002, due=NOW + timedelta(hours=60), condition="Unstaffed")
    result = run_check(engine, load_settings({}), now=NOW)
    soon, later = (finding_of(result, rule, ref) for rule, ref in (("unstaffed_due_24h", 700001),
                                                                   ("unstaffed_due_3d", 700002)))
    assert (soon.severity, later.severity) == ("critical", "warning")
    # min(first seen + SLA, the event's due date): 10 h < 1 day; 60 h < 3 days.
    assert moment(stored(engine, soon.id)["due_by"]) == NOW + timedelta(hours=10)
    assert moment(stored(engine, later.id)["due_by"]) == NOW + timedelta(hours=60)


def test_check_run_json_carries_the_work(engine, database_url):
    drifting(engine, 700001)
    people(engine)
    db = ("--db", database_url)
    first = run_cli("check", "run", *db, "--json")
    assert first.returncode == 0, first.stderr
    found = next(f for f in json.loads(first.stdout)["findings"] if f["refs"] == [700001])
    assert (found["owner"], found["comments"], found["new"]) == (None, [], True)
    for step in (("assign", "--to", "bob"), ("comment", "--text", HOSTILE), ("comment", "--text", "second")):
        assert run_cli("check", step[0], *db, "--finding", str(found["id"]), *step[1:], "--user", "alice").returncode == 0
    second = run_cli("check", "run", *db, "--json")
    assert second.returncode == 0, second.stderr
    again = next(f for f in json.loads(second.stdout)["findings"] if f["refs"] == [700001])
    assert {key: again[key] for key in ("id", "rule", "severity", "refs", "owner", "due_by", "new")} == {
        "id": found["id"], "rule": "schedule_state_drift", "severity": "warning", "refs": [700001], "owner": "bob",
        "due_by": found["due_by"], "new": False}
    assert datetime.fromisoformat(again["due_by"]) == datetime.fromisoformat(found["first_seen"]) + timedelta(days=3)
    assert [(c["by"], c["text"]) for c in again["comments"]] == [("alice", HOSTILE), ("alice", "second")]


# --- escalation ----------------------------------------------------------------------------------------------------------
# Sprint2's CORE 606001 and its Supervisor 606002 (today + 7): moving the Supervisor a day makes pair_date_mismatch, a
# critical finding with no due date of its own (due a day after it opens); moving it back resolves it.

SUPERVISOR_AT = datetime.combine(DAY + timedelta(days=7), datetime.min.time()).replace(hour=12, minute=30)


def split_pair(engine: Engine) -> None:
    _move_supervisor(engine, SUPERVISOR_AT + timedelta(days=1))


def join_pair(engine: Engine) -> None:
    _move_supervisor(engine, SUPERVISOR_AT)


def _move_supervisor(engine: Engine, at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE schedules SET schedule_datetime = :at WHERE event_ref_num = 606002"), {"at": at})


@pytest.fixture
def escalating(engine, webhook):  # noqa: F811
    """(engine, run(at, **settings) -> (result, messages posted by that run)), the pair split from the start."""
    url, received, _ = webhook
    seed_sprint2_scenario(engine, today=DAY)
    split_pair(engine)

    def run(at: datetime, rules: list[str] | None = None, **environment: str):  # noqa: ANN202
        settings = load_settings({"SLACK_WEBHOOK_URL": url, **environment})
        already = len(received)
        result = run_check(engine, settings, now=at, notify=True, rules=rules)
        return result, [message["text"] for message in received[already:]]

    return engine, run


def test_a_new_critical_finding_is_notified_once(escalating):
    engine, run = escalating
    first, messages = run(NOW)
    mismatch = finding_of(first, "pair_date_mismatch", 606001)
    assert len(messages) == 1 and "1 new finding(s) in data-quality run" in messages[0]
    assert "pair_date_mismatch" in messages[0] and "core_without_supervisor" not in messages[0]  # a warning
    assert first.notification == "1 new finding(s): sent by slack"
    assert moment(stored(engine, mismatch.id)["notified_at"]) == NOW
    second, messages = run(NOW + timedelta(hours=1))
    assert messages == [] and second.notification.startswith("nothing to notify")


def test_an_overdue_finding_is_notified_once_per_occurrence(escalating):
    engine, every_rule = escalating
    # The pair rule alone: the scenario's warnings go overdue too, after three days, and would join the messages.
    run = partial(every_rule, rules=["pair_date_mismatch"])
    mismatch = finding_of(run(NOW)[0], "pair_date_mismatch", 606001)
    people(engine)
    assign(engine, mismatch.id, "bob", "alice", now=NOW + timedelta(hours=1))
    assert run(NOW + timedelta(hours=23))[1] == []  # due by NOW + 1 day
    late, messages = run(NOW + timedelta(hours=25))
    assert len(messages) == 1 and "1 finding(s) overdue" in messages[0] and "[owner: bob]" in messages[0]
    assert "new finding" not in messages[0] and late.notification == "1 overdue finding(s): sent by slack"
    assert moment(stored(engine, mismatch.id)["overdue_notified_at"]) == NOW + timedelta(hours=25)
    assert run(NOW + timedelta(hours=30))[1] == [] and run(NOW + timedelta(days=2))[1] == []

    join_pair(engine)
    run(NOW + timedelta(days=2, hours=1))
    split_pair(engine)  # a new occurrence, well after the suppression window: new again, due a day later
    reopened_at = NOW + timedelta(days=3)
    _, messages = run(reopened_at)
    assert len(messages) == 1 and "1 new finding(s)" in messages[0] and "overdue" not in messages[0]
    assert run(reopened_at + timedelta(hours=23))[1] == []
    _, messages = run(reopened_at + timedelta(hours=25))
    assert len(messages) == 1 and "1 finding(s) overdue" in messages[0]


def test_an_overdue_warning_is_escalated_whatever_the_notify_severity(escalating):
    engine, run = escalating
    first, messages = run(NOW)  # NOTIFY_MIN_SEVERITY critical (the default): the new warning is not announced
    orphan = finding_of(first, "core_without_supervisor", 606999)
    assert orphan.severity == "warning" and "core_without_supervisor" not in messages[0]
    _, messages = run(NOW + timedelta(days=3))  # the critical mismatch is overdue by now; the warning not yet
    assert not [message for message in messages if "core_without_supervisor" in message]
    late, messages = run(NOW + timedelta(days=3, hours=1))  # due three days after it was first seen
    assert len(messages) == 1 and "finding(s) overdue" in messages[0] and "core_without_supervisor" in messages[0]
    assert moment(stored(engine, orphan.id)["overdue_notified_at"]) == NOW + timedelta(days=3, hours=1)
    assert run(NOW + timedelta(days=3, hours=2))[1] == []  # once


def test_a_flapping_finding_is_not_notified_again_within_the_window(escalating):
    engine, run = escalating
    assert len(run(NOW)[1]) == 1
    for hours in (1, 3):  # resolves, and reopens within NOTIFY_SUPPRESS_HOURS (24)
        join_pair(engine)
        run(NOW + timedelta(hours=hours))
        split_pair(engine)
        reopened, messages = run(NOW + timedelta(hours=hours + 1))
        assert reopened.new == 1 and messages == []
    assert run(NOW + timedelta(hours=12))[1] == []  # still open, still quiet
    join_pair(engine)
    run(NOW + timedelta(hours=13))
    split_pair(engine)
    _, messages = run(NOW + timedelta(hours=25))  # reopens after the window
    assert len(messages) == 1 and "1 new finding(s)" in messages[0]
    # A shorter window lets it through sooner.
    join_pair(engine)
    run(NOW + timedelta(hours=26), NOTIFY_SUPPRESS_HOURS="1")
    split_pair(engine)
    assert len(run(NOW + timedelta(hours=28), NOTIFY_SUPPRESS_HOURS="1")[1]) == 1


def test_new_and_overdue_findings_go_in_one_message(escalating):
    engine, run = escalating
    mismatch = finding_of(run(NOW)[0], "pair_date_mismatch", 606001)
    later = NOW + timedelta(hours=25)
    add_event(engine, 700001, due=later + timedelta(hours=10), condition="Unstaffed")
    result, messages = run(later)
    assert len(messages) == 1
    assert "1 new finding(s) in data-quality run" in messages[0] and "700001" in messages[0]
    assert "1 finding(s) overdue" in messages[0] and "[owner: nobody]" in messages[0]
    assert messages[0].index("new finding(s) in") < messages[0].index("finding(s) overdue")
    assert result.notification == "1 new and 1 overdue finding(s): sent by slack"
    unstaffed = finding_of(result, "unstaffed_due_24h", 700001)
    assert moment(stored(engine, unstaffed.id)["notified_at"]) == later
    assert moment(stored(engine, mismatch.id)["overdue_notified_at"]) == later


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_failed_delivery_marks_nothing_and_the_next_run_sends(escalating):
    engine, run = escalating
    closed = f"http://127.0.0.1:{_closed_port()}/hook"
    failed, messages = run(NOW, SLACK_WEBHOOK_URL=closed)
    mismatch = finding_of(failed, "pair_date_mismatch", 606001)
    assert messages == [] and failed.notification == "1 new finding(s): FAILED slack: connection failed"
    assert stored(engine, mismatch.id)["notified_at"] is None
    again, messages = run(NOW + timedelta(hours=1), SLACK_WEBHOOK_URL=closed)
    assert messages == [] and stored(engine, mismatch.id)["notified_at"] is None
    sent, messages = run(NOW + timedelta(hours=2))
    assert len(messages) == 1 and "pair_date_mismatch" in messages[0]
    assert moment(stored(engine, mismatch.id)["notified_at"]) == NOW + timedelta(hours=2)
    assert run(NOW + timedelta(hours=3))[1] == []
    # Overdue, likewise: a failed delivery leaves it to the next run.
    assert run(NOW + timedelta(hours=25), SLACK_WEBHOOK_URL=closed)[1] == []
    assert stored(engine, mismatch.id)["overdue_notified_at"] is None
    _, messages = run(NOW + timedelta(hours=26))
    assert len(messages) == 1 and "1 finding(s) overdue" in messages[0]


def test_a_finding_first_seen_without_notify_stays_unannounced(escalating):
    """Only runs that notify announce what they find new: a run from the page (no --notify) does not leave its new
    findings for the next cron run to announce as new."""
    engine, run = escalating
    quiet = run_check(engine, load_settings({}), now=NOW)
    assert quiet.notification is None
    assert run(NOW + timedelta(hours=1))[1] == []


def test_a_run_of_some_rules_escalates_only_their_overdue_findings(escalating):
    engine, run = escalating
    add_event(engine, 700001, due=NOW + timedelta(days=60), condition="Scheduled")  # a drift warning
    warnings = {"NOTIFY_MIN_SEVERITY": "warning"}
    first, messages = run(NOW, **warnings)
    drift = finding_of(first, "schedule_state_drift", 700001)
    assert len(messages) == 1 and "schedule_state_drift" in messages[0]
    mismatch = finding_of(first, "pair_date_mismatch", 606001)
    overdue_at = NOW + timedelta(days=4)  # both past due (a day, three days)
    _, messages = run(overdue_at, rules=["pair_date_mismatch"], **warnings)
    assert len(messages) == 1 and "pair_date_mismatch" in messages[0] and "schedule_state_drift" not in messages[0]
    assert stored(engine, drift.id)["overdue_notified_at"] is None
    assert moment(stored(engine, mismatch.id)["overdue_notified_at"]) == overdue_at
    _, messages = run(overdue_at + timedelta(hours=1), **warnings)
    assert len(messages) == 1 and "schedule_state_drift" in messages[0] and "pair_date_mismatch" not in messages[0]


# --- migration 0018 ---------------------------------------------------------------------------------------------------

OLD = datetime(2026, 11, 2, 9, 0)
# id, severity, first_seen, resolved_at, acknowledged_by, acknowledged_at, note
AT_0017 = ((1, "critical", OLD, OLD + timedelta(days=2, hours=12), None, None, None),
           (2, "warning", OLD + timedelta(days=1), None, "alice", OLD + timedelta(days=1, hours=1), "<b>known</b>"),
           (3, "info", OLD + timedelta(days=2), None, None, None, None),
           (4, "warning", OLD + timedelta(days=3), OLD + timedelta(days=4), "bob", OLD + timedelta(days=3, hours=2),
            "=1+1"))


@pytest.fixture
def at_0017(database_url: str):
    engine = make_engine(database_url, must_exist=False)
    _migrate(engine, "upgrade", "0017")
    with engine.begin() as connection:
        for finding_id, severity, first_seen, resolved_at, by, at, note in AT_0017:
            connection.execute(text(
                "INSERT INTO dashboard_findings (id, identity, rule, severity, refs, detail, first_seen, last_seen, "
                "first_run_id, last_run_id, resolved_at, acknowledged_by, acknowledged_at, acknowledgement_note) "
                "VALUES (:id, :identity, 'schedule_state_drift', :severity, :refs, 'drift', :first_seen, :first_seen, "
                "1, 1, :resolved_at, :by, :at, :note)"),
                {"id": finding_id, "identity": f"schedule_state_drift:{700000 + finding_id}", "severity": severity,
                 "refs": str(700000 + finding_id), "first_seen": first_seen, "resolved_at": resolved_at, "by": by,
                 "at": at, "note": note})
    yield engine
    engine.dispose()


def _backfilled(engine: Engine) -> tuple[dict, list]:
    with engine.connect() as connection:
        due = {row.id: moment(row.due_by) for row in connection.execute(text(
            "SELECT id, due_by FROM dashboard_findings ORDER BY id"))}
        entries = [(row.finding_id, moment(row.at), row.kind, row.actor, row.text, moment(row.opened_at))
                   for row in connection.execute(text(
                       "SELECT finding_id, at, kind, actor, text, opened_at FROM dashboard_finding_history "
                       "ORDER BY finding_id, kind"))]
    return due, entries


def test_migration_0018_backfills_history_and_due_by_and_goes_down_and_up(at_0017: Engine):
    engine = at_0017
    _migrate(engine, "upgrade", "head")
    expected_due = {1: OLD + timedelta(days=1), 2: OLD + timedelta(days=4), 3: OLD + timedelta(days=9),
                    4: OLD + timedelta(days=6)}
    expected_history = [
        (1, OLD + timedelta(days=2, hours=12), "resolved", None, "Its rule no longer reports it.", OLD),
        (2, OLD + timedelta(days=1, hours=1), "acknowledged", "alice", "<b>known</b>", None),
        (4, OLD + timedelta(days=3, hours=2), "acknowledged", "bob", "=1+1", None),
        (4, OLD + timedelta(days=4), "resolved", None, "Its rule no longer reports it.", OLD + timedelta(days=3))]
    assert _backfilled(engine) == (expected_due, expected_history)
    # The backfilled resolutions count in time to fix: 2.5 days and 1 day, both in the week of Monday 2 November.
    assert [(w.week, w.resolved, w.median_days) for w in time_to_fix(engine, today=date(2026, 11, 12))] == [
        (date(2026, 11, 2), 2, 1.75)]

    _migrate(engine, "downgrade", "0017")
    inspector = inspect(engine)
    assert not inspector.has_table("dashboard_finding_history")
    assert not {"due_by", "owner", "notified_at"} & {c["name"] for c in inspector.get_columns("dashboard_findings")}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM dashboard_findings")).scalar_one() == 4
    _migrate(engine, "upgrade", "head")
    assert _backfilled(engine) == (expected_due, expected_history)


def test_show_tells_a_backfilled_history_in_the_order_it_happened(at_0017: Engine):
    """The backfill writes every resolution before every acknowledgement; `show` tells them as they happened."""
    _migrate(at_0017, "upgrade", "head")
    assert [(entry.at, entry.kind) for entry in finding_record(at_0017, 4).history] == [
        (OLD + timedelta(days=3, hours=2), HistoryKind.ACKNOWLEDGED), (OLD + timedelta(days=4), HistoryKind.RESOLVED)]
    assert "acknowledged" in show_text(finding_record(at_0017, 4), NOW).splitlines()[-2]


# --- what the review reads -----------------------------------------------------------------------------------------


def _resolved(engine: Engine, finding_id: int, opened: datetime, at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(insert(FindingHistory).values(finding_id=finding_id, at=at, kind="resolved", actor=None,
                                                         text="Its rule no longer reports it.", opened_at=opened))


def test_time_to_fix_is_the_median_per_week(engine):
    sunday, monday = datetime(2026, 11, 29, 23, 0), datetime(2026, 11, 30, 0, 0)
    # Week of Monday 23 November, three fixes: 1.5, 0.25 and 4 days -> the median is 1.5.
    for finding_id, (opened, at) in enumerate([(sunday - timedelta(days=1.5), sunday),
                                               (datetime(2026, 11, 23, 6, 0), datetime(2026, 11, 23, 12, 0)),
                                               (datetime(2026, 11, 20, 9, 0), datetime(2026, 11, 24, 9, 0))], 1):
        _resolved(engine, finding_id, opened, at)
    # Week of Monday 30 November, four fixes: 3, 1, 7 and 2 days -> the median is (2 + 3) / 2.
    for finding_id, (opened, at) in enumerate([(monday - timedelta(days=3), monday),
                                               (datetime(2026, 11, 30, 9, 0), datetime(2026, 12, 1, 9, 0)),
                                               (datetime(2026, 11, 29, 9, 0), datetime(2026, 12, 6, 9, 0)),
                                               (datetime(2026, 12, 2, 9, 0), datetime(2026, 12, 4, 9, 0))], 10):
        _resolved(engine, finding_id, opened, at)
    with engine.begin() as connection:  # what does not count: too old, not a resolution, no first seen
        connection.execute(insert(FindingHistory), [
            {"finding_id": 20, "at": datetime(2026, 9, 1, 9, 0), "kind": "resolved", "actor": None, "text": None,
             "opened_at": datetime(2026, 8, 1, 9, 0)},
            {"finding_id": 21, "at": datetime(2026, 12, 1, 9, 0), "kind": "reopened", "actor": None, "text": None,
             "opened_at": datetime(2026, 1, 1, 9, 0)},
            {"finding_id": 22, "at": datetime(2026, 12, 1, 9, 0), "kind": "resolved", "actor": None, "text": None,
             "opened_at": None}])
    weeks = time_to_fix(engine, weeks=4, today=date(2026, 12, 6))
    assert [(w.week, w.resolved, w.median_days) for w in weeks] == [(date(2026, 11, 23), 3, 1.5),
                                                                     (date(2026, 11, 30), 4, 2.5)]
    assert time_to_fix(engine, weeks=1, today=date(2026, 12, 6)) == weeks[1:]


def test_time_to_fix_counts_what_runs_resolve(engine):
    drifting(engine, 700001)
    drifting(engine, 700002)
    settings = load_settings({})
    run_check(engine, settings, now=NOW)  # Tuesday 2 December 2025
    settle(engine, 700001)
    run_check(engine, settings, now=NOW + timedelta(days=1))
    settle(engine, 700002)
    run_check(engine, settings, now=NOW + timedelta(days=2))
    weeks = time_to_fix(engine, today=DAY + timedelta(days=5))
    assert [(w.week, w.resolved, w.median_days) for w in weeks] == [(date(2025, 12, 1), 2, 1.5)]


def test_work_counts_open_mine_unassigned_overdue(engine):
    people(engine)
    for ref in (700001, 700002, 700004):
        drifting(engine, ref)
    first = run_check(engine, load_settings({}), now=NOW)
    a, b, d = (finding_of(first, "schedule_state_drift", ref).id for ref in (700001, 700002, 700004))
    assign(engine, d, "alice", "bob", now=NOW + timedelta(hours=1))
    settle(engine, 700004)  # resolved, owned by alice and past its due-by: counted nowhere
    drifting(engine, 700003)
    drifting(engine, 700005)
    second = run_check(engine, load_settings({}), now=NOW + timedelta(days=2))
    c, e = (finding_of(second, "schedule_state_drift", ref).id for ref in (700003, 700005))
    assign(engine, a, "alice", "bob", now=NOW + timedelta(days=2, hours=1))
    assign(engine, c, "alice", "bob", now=NOW + timedelta(days=2, hours=1))
    assign(engine, b, "bob", "alice", now=NOW + timedelta(days=2, hours=1))
    at = NOW + timedelta(days=4)  # a and b were due by NOW + 3 days; c and e by NOW + 5 days
    assert work_counts(engine, "alice", at) == WorkCounts(open=4, mine=2, unassigned=1, overdue=2)
    assert work_counts(engine, "bob", at) == WorkCounts(open=4, mine=1, unassigned=1, overdue=2)
    assert work_counts(engine, None, at) == WorkCounts(open=4, mine=0, unassigned=1, overdue=2)
    assert work_counts(engine, "alice", NOW + timedelta(days=6)) == WorkCounts(open=4, mine=2, unassigned=1, overdue=4)
    assert stored(engine, e)["owner"] is None


def test_work_on_an_unknown_finding_is_refused(engine):
    people(engine)
    with pytest.raises(NotFound, match="No finding 42"):
        finding_record(engine, 42)
    with pytest.raises(NotFound, match="No finding 42"):
        comment(engine, 42, "hello", "alice")
