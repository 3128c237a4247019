"""Property test (hypothesis): random sequences of paired actions on the sprint2 scenario, each with random faults
injected on its Crossmark writes (and read-backs) by the local HTTP fake, checking invariants 1-4 after every action:

1. our database and Crossmark agree on every event, except the events of an operation marked needs_attention (which
   keeps its locks and says so);
2. a CORE and its Supervisor move together: a scheduled Supervisor always sits at the rule time of its scheduled CORE,
   and an action that did not finish done changed no placement anywhere;
3. every action leaves exactly one operation record (a resubmitted key none), with its steps and audit entries;
4. no write is sent twice: one request per recorded write step, at most one forward write per event, unknown outcomes
   read back; a resubmitted key sends nothing at all.
At the end, Retry on each needs_attention operation (Crossmark answering again) restores full agreement.
"""
from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tests.paired_world import DAY, REFS, TODAY, PairedWorld, at, fake_server, migrated, world  # noqa: F401 - fixtures

CORES = (606001, 606999, 608001)
DAYS = [DAY + timedelta(days=n) for n in range(-3, 5)] + [TODAY - timedelta(days=1), DAY + timedelta(days=5)]
SLOTS = ((9, 45), (10, 30), (11, 0), (11, 30))
FAULTS = ("5xx_before", "5xx_after", "timeout_before", "timeout_after", "ok0", "missing_id", "expired_session",
          "reset_before", "reset_after", "html_error", "slow_reply")

actions = st.one_of(
    st.tuples(st.just("reschedule"), st.sampled_from(CORES), st.sampled_from(DAYS), st.sampled_from(SLOTS)),
    st.tuples(st.just("unschedule"), st.sampled_from(CORES)),
    st.tuples(st.just("schedule_supervisor"), st.sampled_from((608001, 606001)),
              st.sampled_from(("US157005", "US157004", "US157002"))),
    st.tuples(st.just("undo"), st.integers(0, 7)),
    st.tuples(st.just("resubmit"), st.integers(0, 7)),
)
# per action: a fault (or none) on its 1st, 2nd, 3rd write; with True, the read-back after that write fails too
faults = st.lists(st.none() | st.tuples(st.sampled_from(FAULTS), st.booleans()), max_size=3)
steps = st.lists(st.tuples(actions, faults), min_size=1, max_size=6)


def hooks_for(injected: list) -> dict:
    hooks = {}
    for index, fault in enumerate(injected, start=1):
        if fault is not None:
            name, break_read_back = fault
            hooks[index] = [name, ("planning", "5xx_before", 3)] if break_read_back else [name]
    return hooks


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=steps)
# Found by this test: the CORE's compensation lands, its reply is lost and the read-back fails (needs attention);
# Retry then found the CORE back in place under a new Crossmark id but kept the old id in our row.
@example(sequence=[(("reschedule", 606001, DAY - timedelta(days=3), (9, 45)), []),
                   (("reschedule", 606001, DAY - timedelta(days=3), (10, 30)),
                    [None, ("5xx_before", False), ("5xx_after", True)])])
# Undoing a CORE's move after its Unstaffed Supervisor was scheduled by the rule would split the pair.
@example(sequence=[(("reschedule", 608001, DAY, (9, 45)), []), (("schedule_supervisor", 608001, "US157005"), []),
                   (("undo", 0), [])])
def test_random_actions_and_faults_keep_the_invariants(world: PairedWorld, sequence):
    world.restart()
    submitted: list[tuple] = []  # (call, key, first result)
    done: list[int] = []  # operations that finished done, for undo
    tainted: set[int] = set()  # events of needs_attention operations
    for number, ((kind, *arguments), injected) in enumerate(sequence):
        key = f"k{number}"
        if kind == "resubmit":
            if not submitted:
                continue
            call, old_key, first = submitted[arguments[0] % len(submitted)]
            requests, operations = len(world.fake.requests), world.operation_count()
            again = call(world.actions, old_key)
            assert (again.operation_id, again.status) == (first.operation_id, first.status)
            assert len(world.fake.requests) == requests and world.operation_count() == operations  # invariant 4
            continue
        call = make_call(kind, arguments, done)
        before = {ref: world.both(ref) for ref in REFS}
        operations = world.operation_count()
        world.arm(hooks_for(injected))
        result = call(world.actions, key)
        world.fake.clear_faults()  # what this action did not consume must not hit the next one
        submitted.append((call, key, result))
        event(f"{kind}: {result.status}")
        assert world.operation_count() == operations + 1  # invariant 3: exactly one record
        world.check(result, refs=tuple(ref for ref in REFS if ref not in tainted))  # invariants 1, 3, 4
        planned = {e["ref"] for e in world.operation(result.operation_id)["events"]}
        if result.status == "needs_attention":
            tainted |= planned
        if result.status == "done":
            done.append(result.operation_id)
            changed = {ref for ref in REFS if world.db(ref).placement != before[ref][0].placement}
            assert changed <= planned, (changed, planned)
        else:  # invariant 2: refused / compensated / needs attention moved nothing in our database ...
            assert all(world.db(ref).placement == before[ref][0].placement for ref in REFS)
            # ... nor, apart from what needs attention, in Crossmark
            assert all(world.remote(ref).placement == before[ref][1].placement for ref in REFS if ref not in tainted)
        world.pairs_together(exclude=tainted)
    # Crossmark answers again: Retry settles everything that needed attention
    world.fake.clear_faults()
    for operation_id in sorted(set(world.locks().values())):
        world.arm()
        retried = world.actions.retry(operation_id, "admin")
        assert retried.status in ("done", "compensated"), retried
        still_locked = set(world.locks())
        world.check(retried, refs=tuple(ref for ref in REFS if ref not in still_locked))
    assert world.locks() == {}
    world.agree()
    world.pairs_together()


def make_call(kind: str, arguments: list, done: list[int]):  # noqa: ANN201
    if kind == "reschedule":
        ref, day, (hour, minute) = arguments
        return lambda actions, key: actions.reschedule(ref, at(day, hour, minute), "prop", key=key)
    if kind == "unschedule":
        (ref,) = arguments
        return lambda actions, key: actions.unschedule(ref, "prop", key=key)
    if kind == "schedule_supervisor":
        core, employee = arguments
        return lambda actions, key: actions.schedule_supervisor(core, employee, "prop", key=key)
    operation_id = done[arguments[0] % len(done)] if done else 999_999
    return lambda actions, key: actions.undo(operation_id, "prop", key=key)
