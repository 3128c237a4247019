"""Rule fingerprints (issue 22, migration 0024): a full data-quality run leaves alone the rules whose findings are exactly
their open ones, and repairs the rest; any other write to a rule's findings (by this app, by hand, by another program)
makes the next full run merge that rule finding by finding again. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, text

from services.access.accounts import SETUP, add_user
from services.demo.demo_data import seed_demo_data
from services.quality.checks import acknowledge, run_check
from services.quality.fingerprints import fingerprints_of
from services.quality.rules import RULES, Finding
from services.settings import load_settings
from tests.test_rep_bookings import _raw_writer  # another program: its own driver, raw SQL

TODAY = date.today()
NOW = datetime.combine(TODAY, time(9, 40))
SETTINGS = load_settings({})


def _fingerprint_runs(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(text("SELECT rule, run_id FROM dashboard_rule_fingerprints")).all())


def _open(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in connection.execute(text(
            "SELECT identity, id, rule, severity, detail, CAST(day AS TEXT), event_number, store, core_ref, "
            "supervisor_ref, CAST(first_seen AS TEXT) FROM dashboard_findings WHERE resolved_at IS NULL"))}


def _seeded(engine: Engine) -> None:
    seed_demo_data(engine, events=1200, stores=3, start=TODAY - timedelta(days=20), months=2, today=TODAY)


def test_a_full_run_that_finds_what_is_open_leaves_each_rule_alone_and_lists_it_all(engine):
    _seeded(engine)
    first = run_check(engine, SETTINGS, now=NOW)
    judged = set(RULES) - {"crossmark_drift"}  # no Crossmark configured
    assert _fingerprint_runs(engine) == {rule: first.run_id for rule in judged}
    assert first.new > 50 and len({finding.rule for finding in first.findings}) >= 6
    before = _open(engine)

    second = run_check(engine, SETTINGS, now=NOW)
    assert (second.new, second.resolved) == (0, 0)
    assert second.open_counts == first.open_counts
    assert _open(engine) == before
    # Left alone: nothing rewrote the fingerprints (nor any finding, whose triggers would have deleted them).
    assert _fingerprint_runs(engine) == {rule: first.run_id for rule in judged}
    # The listing still has every finding, as open as before (their rows read when it is asked for).
    assert [(view.id, view.rule, view.detail, view.first_seen, view.is_new) for view in second.findings] == \
        [(view.id, view.rule, view.detail, view.first_seen, False) for view in first.findings]


def test_a_write_to_a_rules_findings_by_anyone_makes_the_next_full_run_repair_that_rule(engine):
    _seeded(engine)
    first = run_check(engine, SETTINGS, now=NOW)
    before = _open(engine)
    by_rule: dict[str, list[tuple[str, int]]] = {}
    for identity, row in sorted(before.items()):
        by_rule.setdefault(row[1], []).append((identity, row[0]))
    rules = sorted(rule for rule, rows in by_rule.items() if len(rows) >= 2)
    assert len(rules) >= 5
    rewritten, deleted, resolved, acknowledged, untouched = rules[:5]
    add_user(engine, "alice", "operator", "a-long-enough-password", by=SETUP)
    acknowledge(engine, by_rule[acknowledged][0][1], "alice", "known", now=NOW)
    write, close = _raw_writer(engine)
    try:
        write("UPDATE dashboard_findings SET detail = 'edited by hand' WHERE id = :id", {"id": by_rule[rewritten][0][1]})
        write("DELETE FROM dashboard_findings WHERE id = :id", {"id": by_rule[deleted][0][1]})
        write("UPDATE dashboard_findings SET resolved_at = :at WHERE id = :id",
              {"at": NOW, "id": by_rule[resolved][0][1]})
        write("UPDATE dashboard_findings SET owner = 'alice' WHERE id = :id", {"id": by_rule[untouched][0][1]})
    finally:
        close()
    stored = _fingerprint_runs(engine)
    assert {rewritten, deleted, resolved}.isdisjoint(stored)  # the triggers forgot them
    assert stored[acknowledged] == stored[untouched] == first.run_id  # people's columns are not what a run compares

    again = run_check(engine, SETTINGS, now=NOW)
    assert (again.new, again.resolved) == (2, 0)  # the deleted one and the resolved one, opened again
    after = _open(engine)
    assert set(after) == set(before)
    repaired = by_rule[rewritten][0][0]
    assert after[repaired] == before[repaired]  # its detail as the rule says, the same finding
    assert {identity: row[1:-1] for identity, row in after.items()} == \
        {identity: row[1:-1] for identity, row in before.items()}  # every rule's findings as a full run finds them
    assert _fingerprint_runs(engine) == {**stored, rewritten: again.run_id, deleted: again.run_id,
                                         resolved: again.run_id}


def test_emptying_the_findings_forgets_the_fingerprints_and_the_next_run_finds_them_all_again(engine):
    """DELETE of every row (row by row on SQLite, one statement on PostgreSQL), and TRUNCATE on PostgreSQL."""
    _seeded(engine)
    first = run_check(engine, SETTINGS, now=NOW)
    found = {finding.rule for finding in first.findings}
    empties = [("DELETE FROM dashboard_finding_history", "DELETE FROM dashboard_findings")]
    if engine.dialect.name == "postgresql":
        empties.append(("TRUNCATE dashboard_finding_history, dashboard_findings",))
    for empty in empties:
        with engine.begin() as connection:
            for statement in empty:
                connection.execute(text(statement))
        left = _fingerprint_runs(engine)
        if empty[0].startswith("TRUNCATE"):
            assert left == {}
        else:  # a rule without findings lost none
            assert found and found.isdisjoint(left)
        again = run_check(engine, SETTINGS, now=NOW)
        assert again.new == first.new and again.open_counts == first.open_counts


def test_a_fingerprint_changes_with_anything_a_run_would_rewrite_and_not_with_the_order_found():
    day = date(2026, 12, 3)
    finding = Finding("pair_date_mismatch", "critical", "123456", "8000", 11, 12, (11, 12), "CORE 11 moved.", day)
    other = Finding("pair_date_mismatch", "critical", "123457", "8000", 13, 14, (13, 14), "CORE 13 moved.", day)
    base = fingerprints_of({"a": finding, "b": other}, ["pair_date_mismatch"])["pair_date_mismatch"]
    assert fingerprints_of({"b": other, "a": finding}, ["pair_date_mismatch"])["pair_date_mismatch"] == base
    assert base.findings == 2
    for changed in (finding._replace(severity="warning"), finding._replace(detail="CORE 11 moved again."),
                    finding._replace(day=day + timedelta(days=1)), finding._replace(day=None),
                    finding._replace(event_number=None), finding._replace(store="8001"),
                    finding._replace(core_ref=None), finding._replace(supervisor_ref=15)):
        assert fingerprints_of({"a": changed, "b": other}, ["pair_date_mismatch"])["pair_date_mismatch"] != base
    assert fingerprints_of({"a": finding}, ["pair_date_mismatch"])["pair_date_mismatch"] != base
    assert fingerprints_of({"a2": finding, "b": other}, ["pair_date_mismatch"])["pair_date_mismatch"] != base
    # Separators inside names from Crossmark cannot make two different sets of findings read the same.
    split = {"a": finding._replace(store="80\x1f00"), "b": other}
    joined = {"a": finding._replace(store="80"), "b": other._replace(store="00")}
    assert fingerprints_of(split, ["pair_date_mismatch"]) != fingerprints_of(joined, ["pair_date_mismatch"])
    assert fingerprints_of({}, ["stale_sync"])["stale_sync"].findings == 0
