"""Bad input never crashes and never grows the database (issue 15 §4): integers out of range, over-long names and notes,
NUL bytes and look-alike digits, through the CLI (main(argv) in process) and the services, on SQLite and PostgreSQL;
sign-in validates the name before writing and prunes old attempts; the server's message size is bounded."""
from __future__ import annotations

import ast
import time
import tomllib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from services.access.accounts import (
    ADMIN, FAILURE_WINDOW, OPERATOR, SETUP, ProviderIdentity, add_user, authenticate, sign_in_from_identity_provider,
)
from services.store.database import make_engine
from services.demo.demo_data import seed_sprint2_scenario
from services.errors import InvalidInput, LoginRefused
from services.quality.checks import run_check
from tests.migrated_template import migrate_new_database
from services.settings import load_settings
from services.store.tables import LoginAttempt
from tests.cli_runner import run_cli
from tests.conftest import private_database

# The new API (services/domain/input_limits.py, login-attempt pruning) is imported where it is used, so that on the code
# before this change every other test here runs and fails for what it checks, not for an import.
PASSWORD_MAX = 1024

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
DAY = date.today() + timedelta(days=7)
TO = f"{DAY.isoformat()}T11:00"
HUGE = "99999999999999999999"  # 20 digits: more than PostgreSQL's BIGINT, SQLite's INTEGER and Python's C long
JUST_OVER = "2147483648"  # INTEGER's maximum + 1: fits SQLite and BIGINT, not PostgreSQL's INTEGER columns
LONG_NAME = "x" * 300
TABLES = ("events", "schedules", "employees", "dashboard_operations", "dashboard_operation_steps", "dashboard_audit",
          "dashboard_event_locks", "dashboard_findings", "dashboard_users", "dashboard_login_attempts",
          "dashboard_check_runs")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The sprint2 scenario, an admin "olga", and one data-quality run (so findings exist), per backend."""
    with private_database(request.param, tmp_path_factory.mktemp("bad_input")) as url:
        migrate_new_database(url)
        engine = make_engine(url)
        seed_sprint2_scenario(engine, today=date.today())
        add_user(engine, "olga", ADMIN, PASSWORD, by=SETUP)
        run_check(engine, load_settings({}))
        try:
            yield url, engine
        finally:
            engine.dispose()


def state(engine) -> dict:  # noqa: ANN001
    """Every row count we own or the scheduler owns, the schedules themselves, and the findings' acknowledgements."""
    with engine.connect() as connection:
        counts = {table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one() for table in TABLES}
        schedules = connection.execute(text("SELECT event_ref_num, employee_id, schedule_datetime FROM schedules "
                                            "ORDER BY event_ref_num, id")).all()
        acknowledged = connection.execute(text("SELECT id, acknowledged_by, acknowledgement_note FROM "
                                               "dashboard_findings ORDER BY id")).all()
        users = connection.execute(text("SELECT username, role, is_active, password_hash FROM dashboard_users "
                                        "ORDER BY username")).all()
    return {"counts": counts, "schedules": [tuple(map(str, row)) for row in schedules],
            "acknowledged": [tuple(row) for row in acknowledged], "users": [tuple(row) for row in users]}


def assert_one_clean_line(result, *phrases: str) -> None:  # noqa: ANN001
    assert result.returncode in (1, 2), (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "DataError" not in result.stderr
    assert "OverflowError" not in result.stderr and "NumericValueOutOfRange" not in result.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


# --- the CLI: every command that takes an id, a name, a key or a note ------------------------------------------------

CLI_CASES = {
    "reschedule-huge-event": (["reschedule", "--event", HUGE, "--to", TO, "--user", "olga"], "out of range"),
    "reschedule-event-over-int32": (["reschedule", "--event", JUST_OVER, "--to", TO, "--user", "olga"], "2147483647"),
    "reschedule-superscript-two": (["reschedule", "--event", "²", "--to", TO, "--user", "olga"], "digits 0-9"),
    "reschedule-arabic-digits": (["reschedule", "--event", "٦٠٦٠٠١", "--to", TO, "--user", "olga"], "digits 0-9"),
    "reschedule-year-1": (["reschedule", "--event", "606001", "--to", "0001-01-01T10:00", "--user", "olga"],
                          "1900-2199"),
    "unschedule-huge-event": (["unschedule", "--event", HUGE, "--user", "olga"], "out of range"),
    "unschedule-event-over-int32": (["unschedule", "--event", JUST_OVER, "--user", "olga"], "out of range"),
    "supervisor-huge-core": (["schedule-supervisor", "--core", HUGE, "--employee", "US157005", "--user", "olga"],
                             "out of range"),
    "supervisor-long-employee": (["schedule-supervisor", "--core", "608001", "--employee", "E" * 51, "--user", "olga"],
                                 "at most 50"),
    "undo-huge-operation": (["undo", "--operation", HUGE, "--user", "olga"], "out of range"),
    "undo-operation-over-int32": (["undo", "--operation", JUST_OVER, "--user", "olga"], "out of range"),
    "ack-huge-finding": (["check", "ack", "--finding", HUGE, "--user", "olga", "--note", "ok"], "out of range"),
    "ack-finding-over-int32": (["check", "ack", "--finding", JUST_OVER, "--user", "olga", "--note", "ok"],
                               "out of range"),
    "ack-long-note": (["check", "ack", "--finding", "1", "--user", "olga", "--note", "n" * 1001], "at most 1000"),
    "ack-control-character-note": (["check", "ack", "--finding", "1", "--user", "olga", "--note", "ok\x1b[31m"],
                                   "control character"),
    "operations-huge-limit": (["operations", "--limit", HUGE], "out of range"),
    "reconcile-huge-age": (["reconcile", "--older-than", HUGE], "out of range"),
    "long-user": (["unschedule", "--event", "606001", "--user", LONG_NAME], "not a valid user name"),
    "users-disable-long-name": (["users", "disable", LONG_NAME], "not a valid user name"),
    "users-add-long-name": (["users", "add", LONG_NAME, "--role", "viewer"], "not a valid user name"),
    "demo-seed-year-1": (["demo", "seed", "--today", "0001-01-15"], "1900-2199"),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_cli_refuses_bad_input_in_one_line_and_changes_nothing(world, case):
    url, engine = world
    args, phrase = CLI_CASES[case]
    before = state(engine)
    result = run_cli(*args, "--db", url, stdin=PASSWORD + "\n")
    assert_one_clean_line(result, phrase)
    assert state(engine) == before


@pytest.mark.parametrize("key", ["k" * 101, "   "], ids=["over-long", "blank"])
def test_a_bad_key_is_a_recorded_refusal_that_changes_no_event(world, key):
    """Issue 16 §4: a blank or over-long --key is refused with one clear line (exit 1), and the refusal is recorded
    (invariant 3: every attempted action leaves one operation record); no event moves and nothing is sent."""
    url, engine = world
    before = state(engine)
    recorded = "SELECT status, requested_by, message FROM dashboard_operations ORDER BY id"
    with engine.connect() as connection:
        earlier = connection.execute(text(recorded)).all()
    result = run_cli("unschedule", "--event", "606001", "--user", "olga", "--key", key, "--db", url)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "The idempotency key must be 1 to 100 characters" in result.stdout and "Traceback" not in result.stderr
    assert state(engine)["schedules"] == before["schedules"]
    with engine.connect() as connection:
        new = connection.execute(text(recorded)).all()[len(earlier):]
    assert [(row.status, row.requested_by) for row in new] == [("refused", "olga")]
    assert "idempotency key must be 1 to 100 characters" in new[0].message


def test_a_refused_value_is_repeated_short_and_on_one_line(world):
    url, _ = world
    result = run_cli("unschedule", "--event", "606001", "--user", "line one\nline two " * 500, "--db", url)
    assert_one_clean_line(result, "not a valid user name", "(8,999 characters)")
    assert len(result.stderr) < 400


@pytest.mark.parametrize("password, phrase", [("correct horse\x00battery", "NUL byte"),
                                               ("p" * (PASSWORD_MAX + 1), "at most 1024")])
def test_users_add_refuses_a_password_that_cannot_be_typed_again(world, password, phrase):
    url, engine = world
    before = state(engine)
    result = run_cli("users", "add", "nadia", "--role", "viewer", "--db", url, stdin=password + "\n")
    assert_one_clean_line(result, phrase)
    assert state(engine) == before


def test_a_huge_password_on_standard_input_is_not_read_whole(world):
    url, engine = world
    before = state(engine)
    result = run_cli("users", "passwd", "olga", "--db", url, stdin="p" * 5_000_000 + "\n")
    assert_one_clean_line(result, "at most 1024")
    assert state(engine) == before


def test_file_paths_the_operating_system_cannot_take_are_refused_in_one_line(world, tmp_path):
    url, engine = world
    before = state(engine)
    too_long = str(tmp_path / ("x" * 300))
    for args in (["db", "status", "--db", too_long], ["db", "status", "--db", f"sqlite:///{too_long}"],
                 ["backup", "--out", too_long, "--db", url], ["restore", too_long, "--yes", "--db", url]):
        assert_one_clean_line(run_cli(*args), "too long for a file path")
    assert state(engine) == before and not any(tmp_path.iterdir())


def test_good_values_at_the_limits_still_work(world):
    url, engine = world
    listed = run_cli("operations", "--limit", "100000", "--db", url)
    assert listed.returncode == 0, listed.stderr
    unknown = run_cli("unschedule", "--event", "2147483647", "--user", "olga", "--json", "--db", url)
    assert unknown.returncode == 1 and "No event with ref 2147483647" in unknown.stdout  # refused, and recorded
    assert "Traceback" not in unknown.stderr


@pytest.mark.parametrize("args", [["reschedule", "--event", "x"], ["db"], ["nothing"], ["demo", "seed", "--stores", "0"]])
def test_usage_errors_are_one_line_that_says_where_the_usage_is(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert_one_clean_line(result, "usage:", "--help")


# --- the services --------------------------------------------------------------------------------------------------


def attempts(engine) -> int:  # noqa: ANN001
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(LoginAttempt)).scalar_one()


@pytest.mark.parametrize("name", ["olga\x00", "\x00", "x" * 10_000, "", "   ", "o", "olga smith", "ol\nga",
                                  "<script>", "ölga"])
def test_sign_in_refuses_a_name_no_account_can_have_before_writing_anything(world, name):
    _, engine = world
    before = state(engine)
    with pytest.raises(InvalidInput, match="not a valid user name") as refusal:
        authenticate(engine, name, PASSWORD)
    assert len(str(refusal.value)) < 200 and "\n" not in str(refusal.value)
    assert state(engine) == before


@pytest.mark.parametrize("password, phrase", [("x\x00y", "NUL byte"), ("p" * 100_000, "at most 1024")])
def test_sign_in_refuses_a_password_no_account_can_have_before_writing_anything(world, password, phrase):
    _, engine = world
    before = attempts(engine)
    with pytest.raises(InvalidInput, match=phrase):
        authenticate(engine, "olga", password)
    assert attempts(engine) == before


def test_identity_provider_names_are_checked_too(world):
    _, engine = world
    before = state(engine)
    issuer = "https://idp.example.com/"
    for identity in (ProviderIdentity(issuer, "a\x00b"), ProviderIdentity(issuer, "y" * 256),
                     ProviderIdentity("i" * 501, "sub"), ProviderIdentity("line\nbreak", "sub")):
        with pytest.raises(InvalidInput):
            sign_in_from_identity_provider(engine, identity, OPERATOR)
    assert state(engine) == before


def test_new_passwords_with_a_nul_byte_or_too_long_are_refused(world):
    _, engine = world
    before = state(engine)
    for password in ("long enough\x00but not", "p" * (PASSWORD_MAX + 1)):
        with pytest.raises(InvalidInput):
            add_user(engine, "petra", OPERATOR, password, by=SETUP)
    assert state(engine) == before


def test_sign_in_prunes_attempts_whose_window_is_over_and_keeps_each_latest_success(engine):
    """A spray of names an hour ago leaves nothing behind once its window is over; the lockout still holds."""
    from services.access.accounts import PRUNE_BATCH

    add_user(engine, "alice", OPERATOR, PASSWORD, by=SETUP)
    add_user(engine, "bob", OPERATOR, PASSWORD, by=SETUP)
    now = datetime(2026, 11, 22, 9, 0)
    old = now - timedelta(hours=1)
    rows = [{"username": f"guess{index}", "at": old, "succeeded": False} for index in range(2 * PRUNE_BATCH + 500)]
    rows += [{"username": "alice", "at": old - timedelta(days=3), "succeeded": True},
             {"username": "alice", "at": old - timedelta(days=2), "succeeded": True},
             {"username": "bob", "at": old - timedelta(days=1), "succeeded": True}]
    with engine.begin() as connection:
        connection.execute(insert(LoginAttempt), rows)
    assert attempts(engine) == len(rows)

    started = time.monotonic()
    with pytest.raises(LoginRefused, match="Wrong user name or password"):
        authenticate(engine, "alice", "not the password", now)
    assert attempts(engine) == len(rows) + 1 - PRUNE_BATCH  # one batch per sign-in: bounded work
    for minute in range(1, 4):
        with pytest.raises(LoginRefused):
            authenticate(engine, "alice", "not the password", now + timedelta(minutes=minute))
    assert time.monotonic() - started < 30
    with engine.connect() as connection:
        left = connection.execute(select(LoginAttempt.username, LoginAttempt.succeeded, LoginAttempt.at)
                                  .order_by(LoginAttempt.id)).all()
    # The window's four failures, alice's latest success, bob's only success: nothing else.
    assert sorted((row.username, bool(row.succeeded)) for row in left) == \
        sorted([("alice", False)] * 4 + [("alice", True), ("bob", True)])
    assert {row.at for row in left if row.succeeded} == {old - timedelta(days=2), old - timedelta(days=1)}

    # The cool-down is unchanged: a fifth failure inside the window locks alice out, even with the right password.
    with pytest.raises(LoginRefused, match="Wrong user name or password"):
        authenticate(engine, "alice", "not the password", now + timedelta(minutes=4))
    with pytest.raises(LoginRefused, match="Too many failed sign-ins"):
        authenticate(engine, "alice", PASSWORD, now + timedelta(minutes=5))
    assert authenticate(engine, "alice", PASSWORD, now + timedelta(minutes=20)).username == "alice"
    assert authenticate(engine, "bob", PASSWORD, now + timedelta(minutes=21)).username == "bob"
    with engine.connect() as connection:
        left = connection.execute(select(LoginAttempt.username, LoginAttempt.succeeded)).all()
    # alice's failures are over their window (older than 15 minutes at 09:21): only the two latest successes stay.
    assert sorted((row.username, bool(row.succeeded)) for row in left) == [("alice", True), ("bob", True)]


def test_pruning_keeps_attempts_the_cool_down_still_counts(engine):
    from services.access.accounts import prune_login_attempts

    now = datetime(2026, 11, 22, 9, 0)
    with engine.begin() as connection:
        connection.execute(insert(LoginAttempt), [
            {"username": "carol", "at": now - FAILURE_WINDOW + timedelta(seconds=1), "succeeded": False},
            {"username": "carol", "at": now - FAILURE_WINDOW - timedelta(seconds=1), "succeeded": False}])
    with engine.begin() as connection:
        assert prune_login_attempts(connection, now) == 1
    assert attempts(engine) == 1


@pytest.mark.parametrize("text_value, expected", [("1", 1), (" 606001 ", 606001), ("2147483647", 2147483647),
                                                  ("000000000000000000000042", 42)])
def test_whole_numbers_that_fit(text_value, expected):
    from services.domain import input_limits

    assert input_limits.event_ref(text_value) == expected


@pytest.mark.parametrize("value", ["²", "١٢", "１２", "1_000", "+5", "-5", "0", "1.0", "1e3", "", " ", "12a",
                                   "2147483648", HUGE, "9" * 100_000, 0, -1, 2 ** 31, True, None, 3.0])
def test_whole_numbers_that_do_not_fit_are_one_clear_refusal(value):
    from services.domain import input_limits

    started = time.monotonic()
    with pytest.raises(InvalidInput) as refusal:
        input_limits.event_ref(value)
    message = str(refusal.value)
    assert message.startswith("An event ref must be") and len(message) < 200 and "\n" not in message
    assert time.monotonic() - started < 1


def test_text_limits():
    from services.domain import input_limits

    assert input_limits.PASSWORD_MAX == PASSWORD_MAX
    assert input_limits.single_line("  olga ", "Who", 100) == "olga"
    assert input_limits.note(" two\nlines\tok ") == "two\nlines\tok"
    for check in (lambda: input_limits.single_line("a\x00b", "Who", 100),
                  lambda: input_limits.note("a\x00b"),
                  lambda: input_limits.single_line("a\nb", "Who", 100),
                  lambda: input_limits.single_line("y" * 101, "Who", 100),
                  lambda: input_limits.note("n" * 1001),
                  lambda: input_limits.idempotency_key(""),
                  lambda: input_limits.employee_id("E" * 51)):
        with pytest.raises(InvalidInput):
            check()


# --- the server and the pages' inputs ------------------------------------------------------------------------------


def test_the_server_bounds_its_websocket_messages():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    from streamlit import config as streamlit_config

    assert "server.maxMessageSize" in streamlit_config.get_config_options()  # a real option, not a silently ignored key
    assert 10 <= config["server"]["maxMessageSize"] <= 25  # megabytes; Streamlit's default is 200


def _text_inputs_without_max_chars(path: Path) -> list[str]:
    missing = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("text_input", "text_area", "chat_input")
                and not any(keyword.arg == "max_chars" for keyword in node.keywords)):
            missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return missing


def test_every_text_input_of_the_app_has_max_chars():
    files = sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "dashboard").glob("*.py"))
    assert [missing for path in files for missing in _text_inputs_without_max_chars(path)] == []
