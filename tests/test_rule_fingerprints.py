"""Fingerprints of the open findings (issue 22, migration 0025): a full data-quality run merges finding by finding only
the cells (rule, bucket) whose findings differ from what is open, and leaves the others alone; any other write to a
finding (by this app, by hand, by another program) makes the next full run merge its cell again, or its whole rule when
the finding has no bucket. On SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import Engine, text

from services.access.accounts import SETUP, add_user
from services.demo.demo_data import seed_demo_data
from services.quality.checks import acknowledge, run_check
from services.quality.fingerprints import BUCKETS, bucket_of, fingerprints_of
from services.quality.rules import RULES, Finding
from services.settings import load_settings
from tests.test_rep_bookings import _raw_writer  # another program: its own driver, raw SQL

TODAY = date.today()
NOW = datetime.combine(TODAY, time(9, 40))
SETTINGS = load_settings({})
JUDGED = set(RULES) - {"crossmark_drift"}  # no Crossmark configured


def _cells(engine: Engine) -> dict[tuple[str, int], int]:
    """(rule, bucket) -> the run that stored its fingerprint."""
    with engine.connect() as connection:
        return {(rule, int(bucket)): run_id for rule, bucket, run_id in connection.execute(text(
            "SELECT rule, bucket, run_id FROM dashboard_rule_fingerprints"))}


def _open(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        return {row[0]: tuple(row[1:]) for row in connection.execute(text(
            "SELECT identity, id, rule, severity, detail, CAST(day AS TEXT), event_number, store, core_ref, "
            "supervisor_ref, bucket, CAST(first_seen AS TEXT) FROM dashboard_findings WHERE resolved_at IS NULL"))}


def _seeded(engine: Engine) -> None:
    seed_demo_data(engine, events=1200, stores=3, start=TODAY - timedelta(days=20), months=2, today=TODAY)


def _bogus(rule: str, identity: str, bucket: int | None) -> tuple[str, dict]:
    return ("INSERT INTO dashboard_findings (identity, rule, severity, refs, detail, first_seen, last_seen, "
            "first_run_id, last_run_id, bucket) VALUES (:identity, :rule, 'warning', '', 'written by hand', :at, :at, "
            "1, 1, :bucket)", {"identity": identity, "rule": rule, "at": NOW, "bucket": bucket})


def test_a_full_run_that_finds_what_is_open_leaves_every_cell_alone_and_lists_it_all(engine):
    _seeded(engine)
    first = run_check(engine, SETTINGS, now=NOW)
    assert _cells(engine) == {(rule, bucket): first.run_id for rule in JUDGED for bucket in range(BUCKETS)}
    assert first.new > 50 and len({finding.rule for finding in first.findings}) >= 6
    # New findings are numbered in the rules' order, each rule's by refs, whatever order the queries found them in.
    order = list(RULES)
    by_id = sorted(first.findings, key=lambda view: view.id)
    assert by_id == sorted(first.findings, key=lambda view: (order.index(view.rule), view.refs, view.detail))
    before = _open(engine)
    assert all(row[-2] == bucket_of(identity) for identity, row in before.items())

    second = run_check(engine, SETTINGS, now=NOW)
    assert (second.new, second.resolved) == (0, 0)
    assert second.open_counts == first.open_counts
    assert _open(engine) == before
    # Left alone: nothing rewrote a fingerprint (nor any finding, whose triggers would have deleted it).
    assert set(_cells(engine).values()) == {first.run_id}
    # The listing still has every finding, as open as before (their rows read when it is asked for).
    assert [(view.id, view.rule, view.detail, view.first_seen, view.is_new) for view in second.findings] == \
        [(view.id, view.rule, view.detail, view.first_seen, False) for view in first.findings]


def test_a_write_to_a_finding_by_anyone_makes_the_next_full_run_repair_its_cell(engine):
    _seeded(engine)
    first = run_check(engine, SETTINGS, now=NOW)
    before = _open(engine)
    by_rule: dict[str, list[tuple[str, int]]] = {}
    for identity, row in sorted(before.items()):
        by_rule.setdefault(row[1], []).append((identity, row[0]))
    rules = sorted(rule for rule, rows in by_rule.items() if len(rows) >= 2)
    assert len(rules) >= 5
    rewritten, deleted, resolved, acknowledged, owned = (by_rule[rule][0] for rule in rules[:5])
    cell = {name: (before[identity][1], bucket_of(identity)) for name, (identity, _) in (
        ("rewritten", rewritten), ("deleted", deleted), ("resolved", resolved), ("acknowledged", acknowledged),
        ("owned", owned))}
    quiet_rule = next(rule for rule in sorted(JUDGED) if rule not in by_rule)  # the rule finds nothing here
    add_user(engine, "alice", "operator", "a-long-enough-password", by=SETUP)
    acknowledge(engine, acknowledged[1], "alice", "known", now=NOW)
    write, close = _raw_writer(engine)
    try:
        write("UPDATE dashboard_findings SET detail = 'edited by hand' WHERE id = :id", {"id": rewritten[1]})
        write("DELETE FROM dashboard_findings WHERE id = :id", {"id": deleted[1]})
        write("UPDATE dashboard_findings SET resolved_at = :at WHERE id = :id", {"at": NOW, "id": resolved[1]})
        write("UPDATE dashboard_findings SET owner = 'alice' WHERE id = :id", {"id": owned[1]})
        write(*_bogus(quiet_rule, f"{quiet_rule}:by-hand", bucket_of(f"{quiet_rule}:by-hand")))
    finally:
        close()
    stored = _cells(engine)
    forgotten = {cell["rewritten"], cell["deleted"], cell["resolved"], (quiet_rule, bucket_of(f"{quiet_rule}:by-hand"))}
    assert forgotten.isdisjoint(stored)  # the triggers forgot exactly those cells
    assert len(stored) == len(JUDGED) * BUCKETS - len(forgotten)
    assert stored[cell["acknowledged"]] == stored[cell["owned"]] == first.run_id  # people's columns do not count

    again = run_check(engine, SETTINGS, now=NOW)
    assert (again.new, again.resolved) == (2, 1)  # the deleted and resolved ones opened again; the bogus one resolved
    after = _open(engine)
    assert set(after) == set(before)
    assert after[rewritten[0]] == before[rewritten[0]]  # its detail as the rule says, the same finding
    assert {identity: row[1:-1] for identity, row in after.items()} == \
        {identity: row[1:-1] for identity, row in before.items()}  # every finding as a full run finds it
    assert _cells(engine) == {**stored, **{merged: again.run_id for merged in forgotten}}


def test_findings_without_a_bucket_make_the_next_full_run_merge_their_rule_whole_and_give_them_one(engine):
    """As after migration 0025 (the findings already there have none), or a finding written by another program."""
    _seeded(engine)
    first = run_check(engine, SETTINGS, now=NOW)
    before = _open(engine)
    rule = max(RULES, key=lambda name: sum(row[1] == name for row in before.values()))
    with engine.begin() as connection:
        connection.execute(text("UPDATE dashboard_findings SET bucket = NULL WHERE rule = :rule"), {"rule": rule})
        connection.execute(text(_bogus(rule, f"{rule}:by-hand", None)[0]), _bogus(rule, f"{rule}:by-hand", None)[1])
    assert not [cell for cell in _cells(engine) if cell[0] == rule]  # every cell of the rule forgotten
    again = run_check(engine, SETTINGS, now=NOW)
    assert (again.new, again.resolved) == (0, 1)
    assert _open(engine) == before  # buckets filled in, as the first run wrote them
    assert {cell: run for cell, run in _cells(engine).items() if cell[0] == rule} == \
        {(rule, bucket): again.run_id for bucket in range(BUCKETS)}
    assert again.open_counts == first.open_counts


def test_emptying_the_findings_forgets_their_fingerprints_and_the_next_run_finds_them_all_again(engine):
    """DELETE of every row (row by row on SQLite, one statement on PostgreSQL), and TRUNCATE on PostgreSQL."""
    _seeded(engine)
    first = run_check(engine, SETTINGS, now=NOW)
    full = {(row[1], bucket_of(identity)) for identity, row in _open(engine).items()}  # the cells holding findings
    empties = [("DELETE FROM dashboard_finding_history", "DELETE FROM dashboard_findings")]
    if engine.dialect.name == "postgresql":
        empties.append(("TRUNCATE dashboard_finding_history, dashboard_findings",))
    for empty in empties:
        with engine.begin() as connection:
            for statement in empty:
                connection.execute(text(statement))
        left = _cells(engine)
        if empty[0].startswith("TRUNCATE"):
            assert left == {}
        else:  # the cells that held findings are forgotten, the empty ones kept
            assert full and full.isdisjoint(left) and len(left) == len(JUDGED) * BUCKETS - len(full)
        again = run_check(engine, SETTINGS, now=NOW)
        assert again.new == first.new and again.open_counts == first.open_counts
        full = {(row[1], bucket_of(identity)) for identity, row in _open(engine).items()}


def test_a_fingerprint_changes_with_anything_a_run_would_rewrite_and_not_with_the_order_found():
    day = date(2026, 12, 3)
    rule = "pair_date_mismatch"
    finding = Finding(rule, "critical", "123456", "8000", 11, 12, (11, 12), "CORE 11 moved.", day)
    other = Finding(rule, "critical", "123457", "8000", 13, 14, (13, 14), "CORE 13 moved.", day)
    # Two identities of one bucket, so that both findings are in the same cell.
    first = "a"
    second = next(f"b{number}" for number in range(10_000) if bucket_of(f"b{number}") == bucket_of(first))
    cell = (rule, bucket_of(first))

    def of(findings: dict[str, Finding]):  # noqa: ANN202
        return fingerprints_of(findings, [rule]).cells[cell]

    base = of({first: finding, second: other})
    assert of({second: other, first: finding}) == base and base.findings == 2
    for changed in (finding._replace(severity="warning"), finding._replace(detail="CORE 11 moved again."),
                    finding._replace(day=day + timedelta(days=1)), finding._replace(day=None),
                    finding._replace(event_number=None), finding._replace(store="8001"),
                    finding._replace(core_ref=None), finding._replace(supervisor_ref=15)):
        assert of({first: changed, second: other}) != base
    assert of({first: finding}) != base
    # Separators inside names from Crossmark cannot make two different sets of findings read the same.
    assert of({first: finding._replace(store="80\x1f00"), second: other}) != \
        of({first: finding._replace(store="80"), second: other._replace(store="00")})
    everything = fingerprints_of({first: finding, second: other}, [rule, "stale_sync"])
    assert len(everything.cells) == 2 * BUCKETS and everything.buckets == {first: cell[1], second: cell[1]}
    assert sum(fingerprint.findings for fingerprint in everything.cells.values()) == 2
