"""Read side: every figure the pages show equals an independent plain-SQL count, on SQLite and PostgreSQL."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from dashboard.charts import TYPE_LETTERS
from dashboard.month_grid import month_grid, month_grid_html
from services.errors import InvalidInput
from services.domain.event_rules import CORE, EVENT_TYPES
from services.domain.pairing import (
    SUPERVISOR_AMBIGUOUS, SUPERVISOR_MISSING, SUPERVISOR_SCHEDULED, SUPERVISOR_UNSTAFFED,
)
from services.reads.read_queries import (
    EventFilter, day_events_for_export, day_view, month_calendar, scheduled_per_day, type_counts,
    unscheduled_bucket_totals, unscheduled_buckets, unscheduled_events, week_overview,
)
from tests.month_grid_cells import parse_grid


def _day_expression(engine, column: str) -> str:
    return f"substr({column}, 1, 10)" if engine.dialect.name == "sqlite" else f"to_char({column}, 'YYYY-MM-DD')"


def _scheduled_by_sql(engine, first: date, last: date, types=None, store=None) -> dict[date, Counter]:
    day = _day_expression(engine, "s.schedule_datetime")
    sql = (f"SELECT {day}, e.event_type, COUNT(*) FROM schedules s JOIN events e ON e.project_ref_num = s.event_ref_num "
           "WHERE s.schedule_datetime >= :first AND s.schedule_datetime < :after")
    if types:
        sql += " AND e.event_type IN (" + ", ".join(f"'{t}'" for t in types) + ")"
    if store:
        sql += f" AND e.location_mvid = '{store}'"
    result: dict[date, Counter] = defaultdict(Counter)
    with engine.connect() as connection:
        for day_text, event_type, count in connection.execute(
                text(sql + " GROUP BY 1, 2"), {"first": datetime.combine(first, datetime.min.time()),
                                              "after": datetime.combine(last + timedelta(days=1), datetime.min.time())}):
            result[date.fromisoformat(day_text)][event_type] += count
    return result


def _unstaffed_due_by_sql(engine, first: date, last: date) -> Counter:
    day = _day_expression(engine, "due_datetime")
    with engine.connect() as connection:
        rows = connection.execute(text(
            f"SELECT {day}, COUNT(*) FROM events WHERE condition = 'Unstaffed' AND due_datetime >= :first "
            "AND due_datetime < :after GROUP BY 1"),
            {"first": datetime.combine(first, datetime.min.time()),
             "after": datetime.combine(last + timedelta(days=1), datetime.min.time())}).all()
    return Counter({date.fromisoformat(day_text): count for day_text, count in rows})


def _month_bounds(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def test_month_grid_equals_plain_sql_counts(demo_database):
    engine, today = demo_database.engine, demo_database.today
    first, last = _month_bounds(today)
    grid = month_grid(month_calendar(engine, today), today, today)
    expected = _scheduled_by_sql(engine, first, last)
    totals = {cell.day: cell.total for cell in grid.cells}
    assert len(totals) == (last - first).days + 1
    assert totals == {day: sum(expected[day].values()) for day in totals}
    assert sum(totals.values()) > 300  # the demo month is a busy one: the comparison is not vacuous

    shown = {date.fromisoformat(cell.day): cell for cell in parse_grid(month_grid_html(grid)).cells}
    assert set(shown) == set(totals)
    for day, cell in shown.items():
        letters = dict(re.findall(r"\b([CJSFDO])(\d+)\b", cell.texts.get("mg-types", "")))
        # a type with no event that day is left out of the cell (no zero counts printed)
        assert {t: int(letters.get(TYPE_LETTERS[t], 0)) for t in EVENT_TYPES} == \
            {t: expected[day][t] for t in EVENT_TYPES}
        assert int(cell.texts.get("mg-total", 0)) == sum(expected[day].values())
        assert not re.search(r"\b[CJSFDO]0\b", cell.texts.get("mg-types", "")), cell.texts

    unstaffed = _unstaffed_due_by_sql(engine, first, last)
    marks = {cell.day: cell.mark for cell in grid.cells if cell.mark}
    assert {cell.day: cell.unstaffed_due for cell in grid.cells if cell.unstaffed_due} == \
        {day: count for day, count in unstaffed.items() if count}
    assert sorted(marks) == sorted(day for day, count in unstaffed.items() if count)
    assert all(day >= today for day, mark in marks.items() if mark == "▲")
    assert all(day < today for day, mark in marks.items() if mark == "✕")


def test_filters_change_the_month_numbers(demo_database):
    engine, today = demo_database.engine, demo_database.today
    first, last = _month_bounds(today)
    everything = month_calendar(engine, today)
    cores = month_calendar(engine, today, EventFilter(event_types=("Core",)))
    assert cores["total"].sum() == everything["Core"].sum() > 0
    assert cores["Juicer"].sum() == 0
    store = "157384"  # the sprint2 club
    at_store = month_calendar(engine, today, EventFilter(store=store))
    expected = _scheduled_by_sql(engine, first, last, store=store)
    assert at_store["total"].sum() == sum(sum(c.values()) for c in expected.values())
    assert 0 < at_store["total"].sum() < everything["total"].sum()


def test_empty_month_is_all_zeros(demo_database):
    table = month_calendar(demo_database.engine, date(2001, 2, 1))
    assert len(table) == 28 and table["total"].sum() == 0 and table["unstaffed_due"].sum() == 0


def test_type_counts_roll_up_consistently(demo_database):
    engine, today = demo_database.engine, demo_database.today
    first, last = today - timedelta(days=40), today + timedelta(days=40)
    by_day = type_counts(engine, first, last, "day")
    for period in ("week", "month"):
        rolled = type_counts(engine, first, last, period)
        assert rolled.groupby(["event_type", "state"], observed=True)["count"].sum().to_dict() == \
            by_day.groupby(["event_type", "state"], observed=True)["count"].sum().to_dict()
    expected = _scheduled_by_sql(engine, first, last)
    scheduled = by_day[by_day["state"] == "Scheduled"]
    assert scheduled["count"].sum() == sum(sum(c.values()) for c in expected.values())
    weeks = type_counts(engine, first, last, "week")["period"].unique()
    assert all(week.weekday() == 0 for week in weeks)
    with pytest.raises(InvalidInput, match="period must be one of day, week, month"):
        type_counts(engine, first, last, "fortnight")
    with pytest.raises(InvalidInput, match="ends .* before it starts"):
        type_counts(engine, last, first, "day")


def test_unscheduled_buckets_match_sql_and_the_overview(demo_database):
    engine, today = demo_database.engine, demo_database.today
    now = datetime.combine(today, datetime.min.time()) + timedelta(hours=9, minutes=30)
    totals = unscheduled_bucket_totals(unscheduled_buckets(engine, now))
    edges = [now, datetime.combine(today + timedelta(days=1), datetime.min.time()),
             datetime.combine(today + timedelta(days=2), datetime.min.time()),
             datetime.combine(today + timedelta(days=3), datetime.min.time())]
    with engine.connect() as connection:
        def count(where: str, **params) -> int:
            return connection.execute(text(f"SELECT COUNT(*) FROM events WHERE condition = 'Unstaffed' AND {where}"),
                                      params).scalar_one()
        expected = [count("due_datetime < :a", a=edges[0])]
        expected += [count("due_datetime >= :a AND due_datetime < :b", a=lo, b=hi) for lo, hi in zip(edges, edges[1:])]
        expected.append(count("due_datetime >= :a", a=edges[-1]))
    assert list(totals) == expected
    assert totals["Past due"] > 0 and totals["Due today"] > 0
    assert week_overview(engine, now).urgency.to_dict() == totals.to_dict()

    past_due = unscheduled_events(engine, now, "Past due")
    assert len(past_due) == totals["Past due"] and set(past_due["bucket"]) == {"Past due"}
    assert list(past_due["due_datetime"]) == sorted(past_due["due_datetime"])
    cores = unscheduled_bucket_totals(unscheduled_buckets(engine, now, EventFilter(event_types=("Core",))))
    assert cores.sum() < totals.sum()
    # per bucket and type, for one club: Past due is its all-days total minus the days from today on
    with engine.connect() as connection:
        club = connection.execute(text(  # the club with the most Past due
            "SELECT coalesce(location_mvid, CAST(store_number AS TEXT)) FROM events WHERE condition = 'Unstaffed' "
            "AND due_datetime < :a GROUP BY 1 ORDER BY COUNT(*) DESC, 1 LIMIT 1"), {"a": edges[0]}).scalar_one()
        expected_by_type = {(bucket, event_type): count for bucket, event_type, count in connection.execute(text(
            "SELECT CASE WHEN due_datetime < :a THEN 'Past due' WHEN due_datetime < :b THEN 'Due today' "
            "WHEN due_datetime < :c THEN 'Due tomorrow' WHEN due_datetime < :d THEN 'Due within 3 days' "
            "ELSE 'Later' END, coalesce(event_type, 'Other'), COUNT(*) FROM events "
            "WHERE condition = 'Unstaffed' AND coalesce(location_mvid, CAST(store_number AS TEXT)) = :club "
            "GROUP BY 1, 2"), dict(zip("abcd", edges), club=club))}
    club_buckets = unscheduled_buckets(engine, now, EventFilter(store=club))
    assert {(row.bucket, row.event_type): row.count for row in club_buckets.itertuples()} == expected_by_type
    assert sum(count for (bucket, _), count in expected_by_type.items() if bucket == "Past due") > 0
    with pytest.raises(InvalidInput, match="Unknown urgency 'Soon'"):
        unscheduled_events(engine, now, "Soon")


def test_week_overview_counts_the_next_seven_days(demo_database):
    engine, today = demo_database.engine, demo_database.today
    overview = week_overview(engine, datetime.combine(today, datetime.min.time()))
    assert (overview.first_day, overview.last_day) == (today, today + timedelta(days=6))  # seven days, not eight
    expected = _scheduled_by_sql(engine, today, today + timedelta(days=6))
    per_type = overview.per_type.set_index("event_type")["scheduled"].to_dict()
    assert per_type == {t: sum(c[t] for c in expected.values()) for t in EVENT_TYPES}
    busiest = overview.busiest_days
    assert len(busiest) == 3 and busiest["scheduled"].iloc[0] == max(sum(c.values()) for c in expected.values())


def test_day_view_shows_each_cores_supervisor_state_for_sprint2(demo_database):
    engine, today = demo_database.engine, demo_database.today
    view = day_view(engine, today + timedelta(days=7), EventFilter(store="157384"))
    rows = view.scheduled.set_index("ref")
    assert set(rows.index) == {606001, 606002, 606999, 608001}
    assert rows.loc[606001, "supervisor_state"] == SUPERVISOR_SCHEDULED
    assert rows.loc[606001, "supervisor_ref"] == 606002
    assert rows.loc[606001, "supervisor_at"] == datetime.combine(today + timedelta(days=7), datetime.min.time()
                                                                 ).replace(hour=12, minute=30)
    assert rows.loc[606999, "supervisor_state"] == SUPERVISOR_MISSING
    assert rows.loc[608001, "supervisor_state"] == SUPERVISOR_UNSTAFFED and rows.loc[608001, "supervisor_ref"] == 608002
    assert rows.loc[606002, "supervisor_state"] is None  # only COREs carry a Supervisor state
    assert view.leads_on_duty  # the Supervisor's rep is a Club Supervisor or a lead


def test_day_view_flags_an_ambiguous_duplicate(engine):
    from services.demo.demo_data import seed_sprint2_scenario

    today = date.today()
    seed_sprint2_scenario(engine, today=today)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO events (project_name, project_ref_num, location_mvid, store_number, start_datetime, due_datetime,"
            " is_scheduled, event_type, condition) SELECT project_name, 606003, location_mvid, store_number,"
            " start_datetime, due_datetime, FALSE, event_type, 'Unstaffed' FROM events WHERE project_ref_num = 606002"))
    rows = day_view(engine, today + timedelta(days=7)).scheduled.set_index("ref")
    assert rows.loc[606001, "supervisor_state"] == SUPERVISOR_AMBIGUOUS
    assert rows.loc[608001, "supervisor_state"] == SUPERVISOR_UNSTAFFED


def test_reads_work_on_an_adopted_scheduler_database(database_url):
    from services.store.database import make_engine
    from services.store.schema_admin import upgrade_database
    from tests.legacy_scheduler import create_legacy_scheduler_database

    create_legacy_scheduler_database(database_url)
    upgrade_database(database_url, confirmed=True)
    engine = make_engine(database_url)
    try:
        view = day_view(engine, date(2026, 11, 23))
        rows = view.scheduled.set_index("ref")
        assert rows.loc[612103, "supervisor_state"] == SUPERVISOR_SCHEDULED
        assert rows.loc[612103, "supervisor_rep"] == "Dana Reyes"
        assert view.leads_on_duty == ["Dana Reyes"]
        table = month_calendar(engine, date(2026, 11, 1)).set_index("day")
        assert table.loc[date(2026, 11, 23), "total"] == 2 and table.loc[date(2026, 11, 24), "unstaffed_due"] == 1
    finally:
        engine.dispose()


def _counts(engine, sql: str) -> dict[tuple[str, ...], int]:
    """(day as YYYY-MM-DD, the other keys: store key and type, or type) -> count, from a query returning the keys then
    the count."""
    with engine.connect() as connection:
        return {(str(d)[:10], *keys): count for d, *keys, count in connection.execute(text(sql))}


def _aggregate_vs_join(engine) -> tuple[dict, dict]:
    day = _day_expression(engine, "s.schedule_datetime")
    joined = _counts(engine, f"SELECT {day}, coalesce(e.location_mvid, CAST(e.store_number AS TEXT), ''), "
                             "coalesce(e.event_type, 'Other'), COUNT(*) FROM schedules s "
                             "JOIN events e ON e.project_ref_num = s.event_ref_num GROUP BY 1, 2, 3")
    return joined, _counts(engine, "SELECT day, store, event_type, scheduled FROM dashboard_scheduled_per_day "
                                   "WHERE scheduled <> 0")


def test_scheduled_per_day_aggregate_stays_exact_whoever_writes(engine):
    """The triggers keep the pre-aggregate equal to the join, through raw SQL writes like the scheduler's own."""
    from services.demo.demo_data import seed_demo_data

    today = date.today()
    seed_demo_data(engine, events=400, stores=2, start=today.replace(day=1), months=1, today=today)
    joined, aggregate = _aggregate_vs_join(engine)
    assert joined == aggregate and sum(joined.values()) > 100

    with engine.begin() as connection:
        refs = [row[0] for row in connection.execute(text(
            "SELECT event_ref_num FROM schedules ORDER BY event_ref_num LIMIT 12"))]
        # move schedules to another day, delete some, re-type and re-home an event, delete an event, add new ones
        connection.execute(text("UPDATE schedules SET schedule_datetime = :when WHERE event_ref_num IN (:a, :b)"),
                           {"when": datetime.combine(today, datetime.min.time()).replace(hour=9, minute=45),
                            "a": refs[0], "b": refs[1]})
        connection.execute(text("DELETE FROM schedules WHERE event_ref_num IN (:a, :b)"), {"a": refs[2], "b": refs[3]})
        connection.execute(text("UPDATE events SET event_type = 'Juicer', location_mvid = '999999' "
                                "WHERE project_ref_num = :a"), {"a": refs[4]})
        connection.execute(text("UPDATE events SET location_mvid = NULL WHERE project_ref_num = :a"), {"a": refs[5]})
        connection.execute(text("DELETE FROM schedules WHERE event_ref_num = :a"), {"a": refs[6]})
        connection.execute(text("DELETE FROM events WHERE project_ref_num = :a"), {"a": refs[6]})
        connection.execute(text("UPDATE schedules SET event_ref_num = :b WHERE event_ref_num = :a"),
                           {"a": refs[7], "b": refs[8]})
        # a schedule whose event arrives later: SQLite databases (no foreign keys enforced) allow either order
        first_schedule_then_event = engine.dialect.name == "sqlite"
        if first_schedule_then_event:
            connection.execute(text("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                                    "SELECT 990001, employee_id, schedule_datetime FROM schedules WHERE event_ref_num = :b"),
                               {"b": refs[9]})
    joined, aggregate = _aggregate_vs_join(engine)
    assert joined == aggregate
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO events (project_name, project_ref_num, location_mvid, store_number, start_datetime, "
            "due_datetime, is_scheduled, event_type, condition) VALUES ('990001-CORE-Late Arrival', 990001, '424242', "
            "77, :start, :due, TRUE, 'Core', 'Scheduled')"),
            {"start": datetime.combine(today, datetime.min.time()), "due": datetime.combine(today, datetime.max.time())})
        if not first_schedule_then_event:
            connection.execute(text("INSERT INTO schedules (event_ref_num, employee_id, schedule_datetime) "
                                    "SELECT 990001, employee_id, schedule_datetime FROM schedules WHERE event_ref_num = :b"),
                               {"b": refs[9]})
    joined, aggregate = _aggregate_vs_join(engine)
    assert joined == aggregate
    assert any(store == "424242" for _, store, _ in aggregate) and any(store == "999999" for _, store, _ in aggregate)


def _unstaffed_aggregate_vs_events(engine) -> tuple[dict, dict]:
    day = _day_expression(engine, "due_datetime")
    direct = _counts(engine, f"SELECT {day}, coalesce(location_mvid, CAST(store_number AS TEXT), ''), "
                             "coalesce(event_type, 'Other'), COUNT(*) FROM events "
                             "WHERE condition = 'Unstaffed' AND due_datetime IS NOT NULL GROUP BY 1, 2, 3")
    return direct, _counts(engine, "SELECT day, store, event_type, unstaffed FROM dashboard_unstaffed_per_day "
                                   "WHERE unstaffed <> 0")


def _unstaffed_all_stores_vs_events(engine) -> tuple[dict, dict]:
    day = _day_expression(engine, "due_datetime")
    direct = _counts(engine, f"SELECT {day}, coalesce(event_type, 'Other'), COUNT(*) FROM events "
                             "WHERE condition = 'Unstaffed' AND due_datetime IS NOT NULL GROUP BY 1, 2")
    return direct, _counts(engine, "SELECT day, event_type, unstaffed FROM dashboard_unstaffed_per_day_all_stores "
                                   "WHERE unstaffed <> 0")


def _unstaffed_totals_vs_events(engine) -> tuple[dict, dict]:
    with engine.connect() as connection:
        direct = {(store, event_type): count for store, event_type, count in connection.execute(text(
            "SELECT coalesce(location_mvid, CAST(store_number AS TEXT), ''), coalesce(event_type, 'Other'), COUNT(*) "
            "FROM events WHERE condition = 'Unstaffed' AND due_datetime IS NOT NULL GROUP BY 1, 2"))}
        totals = {(store, event_type): count for store, event_type, count in connection.execute(text(
            "SELECT store, event_type, unstaffed FROM dashboard_unstaffed_totals WHERE unstaffed <> 0"))}
    return direct, totals


def test_unstaffed_per_day_aggregate_stays_exact_whoever_writes(engine):
    """Unstaffed per due day, the all-days totals per club and type (migration 0009) and the per day totals of all
    stores (migration 0022): staffing, un-staffing, moving the due date, re-typing, re-homing, deleting, inserting."""
    from services.demo.demo_data import seed_demo_data

    today = date.today()
    seed_demo_data(engine, events=400, stores=2, start=today.replace(day=1), months=1, today=today)
    direct, aggregate = _unstaffed_aggregate_vs_events(engine)
    assert direct == aggregate and sum(direct.values()) > 20
    direct_totals, totals = _unstaffed_totals_vs_events(engine)
    assert direct_totals == totals and sum(totals.values()) == sum(direct.values())
    direct_all, all_stores = _unstaffed_all_stores_vs_events(engine)
    assert direct_all == all_stores and sum(all_stores.values()) == sum(direct.values())
    with engine.begin() as connection:
        unstaffed = [row[0] for row in connection.execute(text(
            "SELECT project_ref_num FROM events WHERE condition = 'Unstaffed' ORDER BY project_ref_num LIMIT 6"))]
        staffed = [row[0] for row in connection.execute(text(
            "SELECT project_ref_num FROM events WHERE condition = 'Scheduled' ORDER BY project_ref_num LIMIT 2"))]
        connection.execute(text("UPDATE events SET condition = 'Scheduled' WHERE project_ref_num = :a"),
                           {"a": unstaffed[0]})
        connection.execute(text("UPDATE events SET condition = 'Unstaffed' WHERE project_ref_num = :a"),
                           {"a": staffed[0]})
        connection.execute(text("UPDATE events SET due_datetime = :due WHERE project_ref_num = :a"),
                           {"a": unstaffed[1], "due": datetime.combine(today + timedelta(days=40), time(17))})
        connection.execute(text("UPDATE events SET event_type = NULL, location_mvid = '777777' "
                                "WHERE project_ref_num = :a"), {"a": unstaffed[2]})
        connection.execute(text("UPDATE events SET condition = 'Canceled' WHERE project_ref_num = :a"),
                           {"a": unstaffed[3]})
        connection.execute(text("DELETE FROM events WHERE project_ref_num = :a"), {"a": unstaffed[4]})
        connection.execute(text(
            "INSERT INTO events (project_name, project_ref_num, location_mvid, store_number, start_datetime, "
            "due_datetime, is_scheduled, event_type, condition) VALUES ('990002-Juicer-Late', 990002, NULL, 88, "
            ":start, :due, FALSE, 'Juicer', 'Unstaffed')"),
            {"start": datetime.combine(today, time()), "due": datetime.combine(today, time(23, 59))})
    direct, aggregate = _unstaffed_aggregate_vs_events(engine)
    assert direct == aggregate
    direct_totals, totals = _unstaffed_totals_vs_events(engine)
    assert direct_totals == totals
    direct_all, all_stores = _unstaffed_all_stores_vs_events(engine)
    assert direct_all == all_stores
    assert any(store == "777777" and event_type == "Other" for _, store, event_type in aggregate)
    assert any(store == "88" and event_type == "Juicer" for _, store, event_type in aggregate)


def test_a_day_over_the_listing_limit_gives_the_counts_per_club(engine):
    from services.demo.demo_data import seed_demo_data

    today = date.today()
    seed_demo_data(engine, events=1500, stores=3, start=today.replace(day=1), months=1, today=today)
    busiest = scheduled_per_day(engine, today.replace(day=1), today.replace(day=28)).groupby("day")["count"].sum()
    day = busiest.idxmax()
    listed = day_view(engine, day)
    assert listed.listed and len(listed.scheduled) == listed.scheduled_total == busiest.max()
    summary = day_view(engine, day, limit=10)
    assert not summary.listed and summary.scheduled.empty and summary.unstaffed_due.empty
    assert summary.scheduled_by_type == listed.scheduled_by_type
    assert summary.scheduled_by_type == listed.scheduled["event_type"].value_counts().to_dict()
    assert summary.unstaffed_due_total == len(listed.unstaffed_due)
    per_club = listed.scheduled.assign(store=listed.scheduled["location_mvid"]).groupby(["store", "event_type"]).size()
    from_aggregate = summary.per_store.set_index(["store", "event_type"])["scheduled"]
    assert from_aggregate[from_aggregate > 0].sort_index().to_dict() == per_club.sort_index().to_dict()
    exported = day_events_for_export(engine, day)
    assert len(exported) == summary.scheduled_total and "supervisor_state" in exported.columns


def test_one_clubs_day_is_the_days_events_of_that_store_key(engine):
    """The one-club Day view (read from the store-keyed schedules of migration 0008) lists exactly the day's events
    whose store key is the club's, for a club known by location id and one known only by its store number, with a type
    filter too."""
    from services.demo.demo_data import seed_demo_data

    today = date.today()
    seed_demo_data(engine, events=600, stores=3, start=today.replace(day=1), months=1, today=today)
    busiest = scheduled_per_day(engine, today.replace(day=1), today.replace(day=28)).groupby("day")["count"].sum()
    day = busiest.idxmax()
    with engine.begin() as connection:  # one club loses its location ids: it is known by its store number alone
        number_only = connection.execute(text("SELECT min(location_mvid) FROM events")).scalar_one()
        store_number = connection.execute(text("UPDATE events SET location_mvid = NULL WHERE location_mvid = :store "
                                               "RETURNING store_number"), {"store": number_only}).first()[0]
    whole_day = day_view(engine, day, limit=None).scheduled
    keys = whole_day["location_mvid"].where(whole_day["location_mvid"].notna(), whole_day["store_number"].astype(str))
    clubs = sorted(set(keys))
    assert str(store_number) in clubs and len(clubs) == 3
    for club in clubs:
        listed = day_view(engine, day, EventFilter(store=club), limit=None).scheduled
        assert sorted(listed["ref"]) == sorted(whole_day.loc[keys == club, "ref"]) and len(listed) > 0
        cores = day_view(engine, day, EventFilter(event_types=(CORE,), store=club), limit=None).scheduled
        assert sorted(cores["ref"]) == sorted(whole_day.loc[(keys == club) & (whole_day["event_type"] == CORE), "ref"])
        # a CORE of the club known by number alone still finds its Supervisor (NaN must not become the store "nan")
        states = listed.loc[listed["event_type"] == CORE, "supervisor_state"]
        assert (states != SUPERVISOR_MISSING).sum() >= len(states) // 2 > 0
    assert day_view(engine, day, EventFilter(store="no-such-club")).scheduled.empty


def test_core_needing_supervisor_finds_the_scheduled_core(engine):
    from services.demo.demo_data import seed_sprint2_scenario
    from services.reads.read_queries import core_needing_supervisor

    seed_sprint2_scenario(engine, today=date.today())
    assert core_needing_supervisor(engine, 608002)["ref"] == 608001
    assert core_needing_supervisor(engine, 606002)["ref"] == 606001
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM schedules WHERE event_ref_num = 608001"))
    assert core_needing_supervisor(engine, 608002) is None  # its CORE is not scheduled
    assert core_needing_supervisor(engine, 606999) is None  # a CORE is nobody's Supervisor


def test_stores_lists_every_store_with_events_whether_or_not_it_has_a_location_id(engine):
    """The store filter's list (found by one seek per location id) equals a GROUP BY over every event that has a store
    (a location id or a number), with the location id of each store that has one."""
    from services.demo.demo_data import seed_demo_data
    from services.reads.read_queries import stores

    today = date.today()
    seed_demo_data(engine, events=600, stores=4, start=today.replace(day=1), months=1, today=today)
    with engine.begin() as connection:  # an old row without a location id, a store with only a Canceled event, and
        connection.execute(text(  # a row with neither a location id nor a number: no store to filter by
            "INSERT INTO events (project_name, project_ref_num, location_mvid, store_number, store_name, start_datetime,"
            " due_datetime, is_scheduled, event_type, condition) VALUES "
            "('990003-Juicer-Old', 990003, NULL, 8123, 'Old club', :start, :due, FALSE, 'Juicer', 'Unstaffed'), "
            "('990004-CORE-Gone', 990004, '555001', 8124, 'Closed club', :start, :due, FALSE, 'Core', 'Canceled'), "
            "('990005-Other-Nowhere', 990005, NULL, NULL, 'Nowhere', :start, :due, FALSE, 'Other', 'Unstaffed')"),
            {"start": datetime.combine(today, time()), "due": datetime.combine(today, time(23, 59))})
        expected = {tuple(row) for row in connection.execute(text(
            "SELECT coalesce(location_mvid, CAST(store_number AS TEXT)), MAX(store_number), MAX(store_name), "
            "MAX(location_mvid) FROM events WHERE coalesce(location_mvid, CAST(store_number AS TEXT)) IS NOT NULL "
            "GROUP BY 1"))}
    listed = stores(engine)
    assert {tuple(None if pd.isna(value) else value for value in row)
            for row in listed.itertuples(index=False)} == expected and len(expected) == 6
    assert list(listed["store_number"]) == sorted(listed["store_number"])
