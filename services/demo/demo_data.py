"""Demo data layer: deterministic, realistic clubs, employees, events and schedules with known anomalies, bulk-inserted.

Everything generated depends only on the arguments (`random.Random(seed)`, `start`, `months`, `today`, `rule`); the one
wall-clock read is `dashboard_data_version.changed_at`, which says when the data changed and is not demo data.

Anomalies (keys of `SeedReport.anomalies`). Each generated pair or event falls into at most one category, and normal
rows never match any of them, so a data-quality rule finds exactly the reported counts. Terms:

- *scheduled condition*: `condition` in `event_rules.SCHEDULED_CONDITIONS`.
- *key*: (`location_mvid`, leading 6-digit event number of `project_name`) of a Core or Supervisor event.
- *clean key*: a key with exactly one Core and exactly one Supervisor event.
- *T0*: `today` at 00:00.

`core_supervisor_unstaffed`     clean keys whose Core has a scheduled condition and whose Supervisor is 'Unstaffed'.
`core_without_supervisor`       Core events whose key has no Supervisor event.
`supervisor_without_core`       Supervisor events whose key has no Core event.
`supervisor_scheduled_core_not` clean keys whose Supervisor has a scheduled condition and whose Core has not.
`pair_date_mismatch`            clean keys whose Core and Supervisor both have a scheduled condition and whose (one)
                                schedules rows are on different dates.
`supervisor_time_off_rule`      clean keys as above on the same date, where the Supervisor's schedule_datetime differs
                                from `supervisor_start(core schedule_datetime, rule)`.
`duplicate_pair_number`         keys with two or more Core events or two or more Supervisor events.
`schedule_state_drift`          events where (scheduled condition), `is_scheduled` and (has a schedules row) are not
                                all equal.
`schedule_without_crossmark_id` schedules rows whose external_id IS NULL.
`unstaffed_past_due`            events with condition 'Unstaffed' and due_datetime < T0.
`unstaffed_due_24h`             events with condition 'Unstaffed' and T0 <= due_datetime < T0 + 24 h (due today).

Normal rows: every event's condition, is_scheduled and schedules row agree; a normal Core/Supervisor pair is either
both scheduled on the same date (Core on a real slot, Supervisor by the rule) or both in the same unscheduled
condition; 'Unstaffed' is only used for events due on or after T0 + 24 h (past windows are Expired or Canceled).
Anomalies whose window must lie before, on or after `today` are only injected when `today` falls inside the range
(with a few days' margin); otherwise they are skipped and reported as 0.
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection, Engine, func, select

from services.store.data_version import bump_data_version
from services.errors import DatabaseNotEmpty, InvalidInput
from services.domain.event_rules import (CORE, DEFAULT_DURATION_MINUTES, DIGITALS, FREEOSK, JUICER, OTHER, SUPERVISOR,
                                  CORE_SLOTS, SCHEDULED, UNSTAFFED, EventCondition, SupervisorRule,
                                  supervisor_start)
from services.store.database import begin_write
from services.store.scheduled_per_day import bulk_load
from services.store.schema_admin import require_current_schema
from services.domain.rep_rules import is_qualified
from services.domain.titles import SUPERVISOR_TITLES, JobTitle
from services.store.tables import Employee, Event, Schedule

MAX_EVENTS = 5_000_000
MAX_STORES = 500
MAX_MONTHS = 60
# Event numbers are six digits, so one store holds at most 900,000 of them; pairs use ~35% of the events.
MAX_EVENTS_PER_STORE = 2_000_000
BATCH_ROWS = 20_000
FIRST_REF_NUM = 1_000_001

_ANOMALY_RULES = ("core_supervisor_unstaffed", "core_without_supervisor", "supervisor_without_core",
                  "supervisor_scheduled_core_not", "pair_date_mismatch", "supervisor_time_off_rule",
                  "duplicate_pair_number", "schedule_state_drift", "schedule_without_crossmark_id",
                  "unstaffed_past_due", "unstaffed_due_24h")

# Rates per Core/Supervisor unit (a pair, or the lone event of an orphan) and per single-event unit (Juicer, Digitals,
# Freeosk, Other). A unit draws at most one category; the rest are normal.
_PAIR_ANOMALY_RATES = (
    ("core_supervisor_unstaffed", 0.06),  # the most common in real data
    ("core_without_supervisor", 0.015),
    ("supervisor_without_core", 0.01),
    ("supervisor_scheduled_core_not", 0.01),
    ("pair_date_mismatch", 0.015),
    ("supervisor_time_off_rule", 0.02),
    ("duplicate_pair_number", 0.008),
    ("unstaffed_past_due", 0.01),
    ("unstaffed_due_24h", 0.006),
)
_SINGLE_ANOMALY_RATES = (
    ("schedule_state_drift", 0.02),
    ("schedule_without_crossmark_id", 0.015),
    ("unstaffed_past_due", 0.02),
    ("unstaffed_due_24h", 0.01),
)
# Where the window of a category must lie relative to `today`.
# Where a category's window must lie (looked up with the category drawn, None when none was: "any").
_WINDOW_NEEDS: dict[str | None, str] = {
    "core_supervisor_unstaffed": "future", "supervisor_scheduled_core_not": "future", "unstaffed_past_due": "past",
    "unstaffed_due_24h": "today"}

# Unit weights: a pair unit yields two events, so these give ~35% Core, 35% Supervisor, 10/10/5/5% of the rest.
_UNIT_WEIGHTS = ((None, 0.35), (JUICER, 0.10), (DIGITALS, 0.10), (FREEOSK, 0.05), (OTHER, 0.05))
_UNIT_TOTAL = sum(weight for _, weight in _UNIT_WEIGHTS)

_CORE_SLOT_WEIGHTS = (0.2, 0.35, 0.25, 0.2)  # how often a CORE starts at each of event_rules.CORE_SLOTS
_JUICER_TIMES = (time(8, 0), time(8, 0), time(8, 0), time(7, 30), time(8, 30))
_MORNING_TIMES = (time(8, 30), time(9, 0), time(9, 30), time(10, 0), time(10, 15))
_OTHER_TIMES = (time(10, 0), time(12, 0), time(13, 0), time(14, 0))
# Minutes a mis-timed Supervisor is away from its rule time (never 0).
_OFF_RULE_DELTAS = (-90, -60, -30, 30, 45, 60, 90, 180)

_EVENT_COLUMNS = ("project_name", "project_ref_num", "location_mvid", "store_number", "store_name", "start_datetime",
                  "due_datetime", "estimated_time", "is_scheduled", "event_type", "condition", "external_id",
                  "last_synced", "sync_status")
_SCHEDULE_COLUMNS = ("event_ref_num", "employee_id", "schedule_datetime", "external_id", "last_synced", "sync_status")
_EMPLOYEE_COLUMNS = ("id", "name", "email", "phone", "is_active", "is_supervisor", "job_title", "external_id",
                     "created_at")

# Crossmark id ranges: demo and sprint2 rows never collide with each other.
_EVENT_EXTERNAL_BASE = 41_000_000
_SCHEDULE_EXTERNAL_BASE = 61_000_000
_EMPLOYEE_ID_RANGE = range(800_000, 900_000)      # "US8xxxxx"
_REP_ID_RANGE = range(100_000, 800_000)
_HIRE_ID_BASE = 900_000                            # "US9xxxxx": reps a busy club hires (see _Generator.assign)
_HIRE_REP_ID_BASE = 800_000
_STORE_NUMBER_RANGE = range(4_700, 9_000)
_MVID_RANGE = range(100_000, 1_000_000)

EVENT_SPECIALIST = JobTitle.EVENT_SPECIALIST
LEAD_EVENT_SPECIALIST = JobTitle.LEAD_EVENT_SPECIALIST
CLUB_SUPERVISOR = JobTitle.CLUB_SUPERVISOR
JUICER_BARISTA = JobTitle.JUICER_BARISTA
_SUPERVISOR_TITLES = frozenset(SUPERVISOR_TITLES)
# The title a club hires when nobody it employs may work an event type and is free (Supervisors never need one).
_HIRED_TITLE: dict[str, str] = {CORE: EVENT_SPECIALIST, OTHER: EVENT_SPECIALIST, JUICER: JUICER_BARISTA,
                                DIGITALS: LEAD_EVENT_SPECIALIST, FREEOSK: LEAD_EVENT_SPECIALIST}

_CITIES = (("Indianapolis", "IN"), ("Fishers", "IN"), ("Greenwood", "IN"), ("Carmel", "IN"), ("Fort Wayne", "IN"),
           ("Evansville", "IN"), ("Columbus", "OH"), ("Dayton", "OH"), ("Cincinnati", "OH"), ("Louisville", "KY"),
           ("Lexington", "KY"), ("Nashville", "TN"), ("Knoxville", "TN"), ("Chicago", "IL"), ("Naperville", "IL"),
           ("Springfield", "IL"), ("St. Louis", "MO"), ("Kansas City", "MO"), ("Des Moines", "IA"), ("Omaha", "NE"),
           ("Milwaukee", "WI"), ("Madison", "WI"), ("Grand Rapids", "MI"), ("Lansing", "MI"), ("Toledo", "OH"),
           ("Little Rock", "AR"), ("Memphis", "TN"), ("Birmingham", "AL"), ("Atlanta", "GA"), ("Charlotte", "NC"),
           ("Raleigh", "NC"), ("Richmond", "VA"), ("Pittsburgh", "PA"), ("Dallas", "TX"), ("Plano", "TX"),
           ("San Antonio", "TX"), ("Tulsa", "OK"), ("Wichita", "KS"), ("Denver", "CO"), ("Phoenix", "AZ"))
_FIRST_NAMES = ("James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "William", "Linda", "David", "Elizabeth",
                "Richard", "Barbara", "Joseph", "Susan", "Thomas", "Jessica", "Charles", "Sarah", "Daniel", "Karen",
                "Matthew", "Nancy", "Anthony", "Lisa", "Mark", "Betty", "Donald", "Sandra", "Steven", "Ashley",
                "Andrew", "Kimberly", "Kenneth", "Donna", "Joshua", "Carol", "Kevin", "Michelle", "Brian", "Emily")
_LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
               "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
               "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
               "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores")
# (brand, product) of CORE/Supervisor projects. Some are deliberately tricky for the classifier: "Corelle" and
# "Core Power" on a Supervisor, "Juicer" and "Digital" inside a CORE's product name.
_PRODUCTS = (
    ("Super Pretzel", "King Size Soft Pretzels"), ("Corelle", "Vitrelle 18-Piece Dinnerware Set"),
    ("Fairlife", "Core Power Elite Protein Shake"), ("Ninja", "Cold Press Juicer Pro"),
    ("Aura", "Carver Digital Photo Frame"), ("Member's Mark", "Rotisserie Chicken Salad"),
    ("Nature Valley", "Crunchy Granola Bars"), ("Kind", "Dark Chocolate Nuts and Sea Salt"),
    ("Tyson", "Any'tizers Buffalo Style Bites"), ("Hormel", "Natural Choice Deli Turkey"),
    ("Chobani", "Greek Yogurt Variety Pack"), ("Bare", "Baked Crunchy Apple Chips"),
    ("Bai", "Antioxidant Infusions Variety"), ("Jimmy Dean", "Breakfast Croissant Sandwiches"),
    ("Sargento", "Balanced Breaks Snack Trays"), ("Ghirardelli", "Dark Chocolate Squares"),
    ("Wonderful", "Pistachios No Shells"), ("Premier Protein", "Shake Chocolate 18 pk"),
    ("Celsius", "Sparkling Fitness Drink Variety"), ("Tillamook", "Medium Cheddar Cheese Loaf"),
    ("Eggo", "Homestyle Waffles 60 ct"), ("Blue Diamond", "Smokehouse Almonds"),
    ("Starbucks", "Pike Place Roast Whole Bean"), ("Dole", "Tropical Fruit Cups"),
    ("Quaker", "Chewy Granola Bar Variety"), ("Oscar Mayer", "Lunchables Turkey and Cheddar"),
)
_FREEOSK_BRANDS = ("Olay", "Quaker", "Pampers", "Nespresso", "Gillette", "Tide", "Bounty", "Cheerios")
_DIGITAL_NAMES = ("Digital Refresh Electronics Tech Table", "Digital Refresh TV Wall", "Digital Signage Update",
                  "Digital Refresh Mobile Accessories")
_OTHER_NAMES = ("Instant Savings Signage Audit", "Club Reset Survey", "Member Sampling Tasting Table",
                "Holiday Gift Card Display Setup", "Seasonal Pallet Build", "Demo Equipment Inspection")
_JUICER_FORMATS = ("{mm}-{dd} 8HR-ES1-JUICER-PRODUCTION-SPCLTY", "{mm}-{dd} 8HR-ES2-JUICER-PRODUCTION-SPCLTY",
                   "{mm}.{dd}-Fresh Juice Bar V2.7 Juicer Production Survey")


@dataclass(frozen=True)
class SeedReport:
    """What a seed wrote: row counts, anomaly counts by data-quality rule name, events per type and the date range."""

    events: int
    schedules: int
    employees: int
    anomalies: dict[str, int]
    event_types: dict[str, int] = field(default_factory=dict)
    stores: int = 0
    first_day: date | None = None
    end_day: date | None = None  # exclusive: rows lie in [first_day 00:00, end_day 00:00)


# --- validation -------------------------------------------------------------------------------------------------


def _require_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be a whole number, not {value!r}.", field=name, value=value)
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low:,} and {high:,}, not {value:,}.", field=name, value=value)
    return value


def _require_date(name: str, value: object) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD), not {value!r}.", field=name, value=value)
    return value


def _require_rule(rule: object, core_times: tuple[time, ...]) -> SupervisorRule:
    if not isinstance(rule, SupervisorRule) or rule.mode not in ("offset", "fixed"):
        raise InvalidInput(f"rule must be a SupervisorRule with mode 'offset' or 'fixed', not {rule!r}.", field="rule")
    probe = date(2000, 1, 3)
    for core_time in core_times:
        core_start = datetime.combine(probe, core_time)
        if supervisor_start(core_start, rule).date() != probe:
            raise InvalidInput(f"The supervisor rule ({rule.describe()}) puts the Supervisor of a {core_time:%H:%M} "
                               "CORE on another day; demo data needs it on the CORE's date.", field="rule")
    return rule


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (next_month - timedelta(days=1)).day))


def _insert_rows(connection: Connection, table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Bulk insert: COPY on PostgreSQL (same transaction, via the driver connection), executemany elsewhere."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        driver_connection = connection.connection.driver_connection
        assert driver_connection is not None  # None only once the connection is closed or invalidated
        with driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    connection.execute(table.insert(), [dict(zip(columns, row)) for row in rows])


# --- the generator ----------------------------------------------------------------------------------------------


@dataclass
class _Store:
    number: int
    mvid: str
    name: str
    core_staff: tuple[str, ...] = ()
    supervisor_staff: tuple[str, ...] = ()
    juicer_staff: tuple[str, ...] = ()
    leads: tuple[str, ...] = ()  # its Lead Event Specialists and Club Supervisor
    hired: dict[str, list[str]] = field(default_factory=dict)  # by title: reps hired while the demo filled its days
    next_pair_index: int = 0

    def next_event_number(self) -> str:
        # A permutation of 100000..999999 (7919 is coprime to 900000): unique per store, and the i-th project of
        # every store shares its number, as the same Crossmark project runs at many clubs.
        index = self.next_pair_index
        self.next_pair_index += 1
        return str(100_000 + (512_103 + index * 7_919) % 900_000)


class _Generator:
    def __init__(self, *, seed: int, first_day: date, end_day: date, today: date, rule: SupervisorRule) -> None:
        self.rng = random.Random(seed)
        self.rule = rule
        self.days = [first_day + timedelta(days=offset) for offset in range((end_day - first_day).days)]
        self.day_start = [datetime.combine(day, time(0, 0)) for day in self.days]
        self.day_due = [datetime.combine(day, time(23, 59)) for day in self.days]
        self.day_labels = [(f"{day.month:02d}", f"{day.day:02d}") for day in self.days]
        self.today_index = (today - first_day).days
        self.last_synced = datetime.combine(today, time(5, 30))
        self.next_ref = FIRST_REF_NUM
        self.next_schedule = 0
        self.events: list[tuple] = []
        self.schedules: list[tuple] = []
        self.event_types: Counter[str] = Counter()
        self.anomalies: Counter[str] = Counter({name: 0 for name in _ANOMALY_RULES})
        self.schedule_count = 0
        self.project_names: dict[str, tuple[str, str]] = {}
        self.titles: dict[str, str] = {}  # employee id -> job title
        # (employee id, day) -> (start, end, is a CORE) of the non-Supervisor events the rep holds that day
        self.booked: dict[tuple[str, date], list[tuple[datetime, datetime, bool]]] = {}
        self.hires: list[tuple] = []  # employees rows not inserted yet
        self.hired = 0
        self.hire_rng = random.Random(seed + 1)  # hires draw from their own stream: the rest is the same with or without
        self.first_created = datetime.combine(first_day - timedelta(days=30), time(9, 0))

    # stores and employees

    def make_stores(self, count: int) -> tuple[list[_Store], list[tuple]]:
        rng = self.rng
        numbers = rng.sample([n for n in _STORE_NUMBER_RANGE if n != 8135], count)
        mvids = rng.sample(_MVID_RANGE, count + 1)
        mvids = [m for m in mvids if m != 157_384][:count]  # 157384 is the sprint2 store
        staff_per_store = ((EVENT_SPECIALIST, 6, True), (LEAD_EVENT_SPECIALIST, 2, True), (CLUB_SUPERVISOR, 1, True),
                           (JUICER_BARISTA, 2, True), (EVENT_SPECIALIST, 1, False))
        per_store = sum(amount for _, amount, _ in staff_per_store)
        employee_ids = rng.sample(_EMPLOYEE_ID_RANGE, per_store * count)
        rep_ids = rng.sample(_REP_ID_RANGE, per_store * count)
        stores: list[_Store] = []
        employees: list[tuple] = []
        serial = 0
        for index in range(count):
            city, state = _CITIES[index % len(_CITIES)]
            store = _Store(number=numbers[index], mvid=str(mvids[index]),
                           name=f"Sam's Club #{numbers[index]} - {city}, {state}")
            by_title: dict[str, list[str]] = {}
            for title, amount, active in staff_per_store:
                for _ in range(amount):
                    employee_id = f"US{employee_ids[serial]}"
                    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
                    created = datetime.combine(self.days[0] - timedelta(days=rng.randint(30, 1500)), time(9, 0))
                    employees.append((employee_id, f"{first} {last}",
                                      f"{first.lower()}.{last.lower()}.{employee_ids[serial]}@demo-club.example",
                                      f"317-555-{rng.randint(0, 9999):04d}", active, title in _SUPERVISOR_TITLES,
                                      title, str(rep_ids[serial]), created))
                    serial += 1
                    self.titles[employee_id] = title
                    if active:
                        by_title.setdefault(title, []).append(employee_id)
            store.core_staff = tuple(by_title[EVENT_SPECIALIST] + by_title[LEAD_EVENT_SPECIALIST])
            # The Club Supervisor does most Supervisor events; Leads cover the rest.
            store.supervisor_staff = tuple(by_title[CLUB_SUPERVISOR] * 4 + by_title[LEAD_EVENT_SPECIALIST])
            store.juicer_staff = tuple(by_title[JUICER_BARISTA])
            store.leads = tuple(by_title[LEAD_EVENT_SPECIALIST] + by_title[CLUB_SUPERVISOR])
            stores.append(store)
        return stores, employees

    # windows and states

    def window(self, length: int, needs: str = "any") -> int | None:
        """First day index of a window of `length` days inside the range, placed as `needs` says, or None."""
        low, high = 0, len(self.days) - length
        t = self.today_index
        if needs == "future":    # due on or after today + 1 (23:59), so due >= T0 + 24 h
            low = max(low, t + 2 - length)
        elif needs == "past":    # due before T0
            high = min(high, t - length)
        elif needs == "today":   # due today at 23:59
            low = max(low, t + 1 - length)
            high = min(high, t + 1 - length)
        if low > high:
            return None
        return self.rng.randint(low, high)

    def any_window(self, length: int) -> int:
        """First day index of a window of `length` days anywhere in the range (the months of a demo hold any unit)."""
        first = self.window(length)
        if first is None:
            raise ValueError(f"The demo range of {len(self.days)} days cannot hold a {length}-day event.")
        return first

    def schedule_probability(self, first: int, length: int) -> float:
        last = first + length - 1
        if last < self.today_index:
            return 0.93
        if first <= self.today_index + 14:
            return 0.8
        return 0.55

    def scheduled_condition(self, day_index: int) -> str:
        draw = self.rng.random()
        if day_index < self.today_index:
            return EventCondition.SUBMITTED if draw < 0.95 else EventCondition.STAFFED
        if day_index == self.today_index:
            return EventCondition.IN_PROGRESS if draw < 0.4 else (SCHEDULED if draw < 0.8 else EventCondition.STAFFED)
        return SCHEDULED if draw < 0.85 else EventCondition.STAFFED

    def unscheduled_condition(self, first: int, length: int) -> str:
        """A normal unscheduled event: Unstaffed only when due on or after T0 + 24 h (never an unstaffed_* finding)."""
        last = first + length - 1
        if last < self.today_index:
            return EventCondition.EXPIRED if self.rng.random() < 0.75 else EventCondition.CANCELED
        if last == self.today_index:
            return EventCondition.CANCELED
        return UNSTAFFED if self.rng.random() < 0.92 else EventCondition.CANCELED

    # rows

    def add_event(self, store: _Store, name: str, event_type: str, first: int, length: int, condition: str,
                  is_scheduled: bool) -> int:
        ref = self.next_ref
        self.next_ref += 1
        self.events.append((name, ref, store.mvid, store.number, store.name, self.day_start[first],
                            self.day_due[first + length - 1], DEFAULT_DURATION_MINUTES[event_type], is_scheduled,
                            event_type, condition, str(_EVENT_EXTERNAL_BASE + ref - FIRST_REF_NUM), self.last_synced,
                            "synced"))
        self.event_types[event_type] += 1
        return ref

    def add_schedule(self, ref: int, employee_id: str, when: datetime, with_crossmark_id: bool = True) -> None:
        external_id = str(_SCHEDULE_EXTERNAL_BASE + self.next_schedule) if with_crossmark_id else None
        self.next_schedule += 1
        self.schedules.append((ref, employee_id, when, external_id, self.last_synced, "synced"))
        self.schedule_count += 1

    def add_state(self, store: _Store, name: str, event_type: str, first: int, length: int,
                  when: datetime | None, staff: tuple[str, ...], condition: str | None = None) -> None:
        """An event in a consistent state: scheduled at `when` (condition from its day) or unscheduled."""
        if when is None:
            self.add_event(store, name, event_type, first, length,
                           condition or self.unscheduled_condition(first, length), False)
            return
        day_index = (when.date() - self.days[0]).days
        ref = self.add_event(store, name, event_type, first, length, self.scheduled_condition(day_index), True)
        self.add_schedule(ref, self.assign(store, staff, event_type, when), when)

    # reps

    def assign(self, store: _Store, staff: tuple[str, ...], event_type: str, when: datetime) -> str:
        """The rep who works an event: the one drawn from `staff` when they may work its type and are free then, else
        the next of `staff` who may and are (the club's leads too for the events only leads may work), else one the
        club hired, else a new hire. So a demo of any size holds no double booking and no rep on an event their title
        may not work (rep_rules), and the draw from the main stream is the same as ever (the rest does not move)."""
        drawn = staff.index(self.rng.choice(staff))
        end = when + timedelta(minutes=DEFAULT_DURATION_MINUTES[event_type])
        hired_title = _HIRED_TITLE.get(event_type)
        leads = store.leads if hired_title == LEAD_EVENT_SPECIALIST else ()
        hired = tuple(store.hired.get(hired_title or CLUB_SUPERVISOR, ()))
        for employee_id in dict.fromkeys(staff[drawn:] + staff[:drawn] + leads + hired):
            if is_qualified(self.titles[employee_id], event_type) and self._free(employee_id, event_type, when, end):
                break
        else:
            employee_id = self._hire(store, hired_title or CLUB_SUPERVISOR)
        if event_type != SUPERVISOR:  # Supervisor events are exempt from overlaps (rep_rules)
            self.booked.setdefault((employee_id, when.date()), []).append((when, end, event_type == CORE))
        return employee_id

    def _free(self, employee_id: str, event_type: str, start: datetime, end: datetime) -> bool:
        if event_type == SUPERVISOR:
            return True
        return not any((event_type == CORE and core) or (other_start < end and start < other_end)
                       for other_start, other_end, core in self.booked.get((employee_id, start.date()), ()))

    def _hire(self, store: _Store, title: str) -> str:
        serial = self.hired
        self.hired += 1
        employee_id = f"US{_HIRE_ID_BASE + serial}"
        first, last = self.hire_rng.choice(_FIRST_NAMES), self.hire_rng.choice(_LAST_NAMES)
        self.hires.append((employee_id, f"{first} {last}",
                           f"{first.lower()}.{last.lower()}.{_HIRE_ID_BASE + serial}@demo-club.example",
                           f"317-555-{self.hire_rng.randint(0, 9999):04d}", True, title in _SUPERVISOR_TITLES, title,
                           str(_HIRE_REP_ID_BASE + serial), self.first_created))
        self.titles[employee_id] = title
        store.hired.setdefault(title, []).append(employee_id)
        return employee_id

    # names

    def pair_names(self, number: str) -> tuple[str, str]:
        names = self.project_names.get(number)
        if names is None:
            # The project (brand, product, format) follows from the number, so a number means one product everywhere.
            mixed = (int(number) * 2_654_435_761) & 0xFFFF_FFFF
            brand, product = _PRODUCTS[mixed % len(_PRODUCTS)]
            if (mixed >> 16) % 5 == 0:  # the older/test format
                names = (f"{number}-CORE-{brand} {product}", f"{number}-Supervisor-{brand} {product}")
            else:
                item = f"25{mixed % 10_000_000_000:010d}"  # the 12-digit number in parentheses: never the event number
                stem = f"{number}-{brand}-{product} ({item})  - V2-"
                names = (stem + "CORE", stem + "Supervisor")
            self.project_names[number] = names
        return names

    def single_name(self, event_type: str, first: int) -> str:
        mm, dd = self.day_labels[first]
        rng = self.rng
        if event_type == JUICER:
            return rng.choice(_JUICER_FORMATS).format(mm=mm, dd=dd)
        if event_type == DIGITALS:
            return f"{mm}.{dd}-{rng.choice(_DIGITAL_NAMES)}"
        if event_type == FREEOSK:
            return f"{mm}.{dd}-{rng.choice(_FREEOSK_BRANDS)} Sampling V2 - Freeosk"
        return f"{mm}.{dd}-{rng.choice(_OTHER_NAMES)}"

    # units

    def pick(self, rates: tuple[tuple[str, float], ...]) -> str | None:
        draw = self.rng.random()
        for name, rate in rates:
            if draw < rate:
                return name
            draw -= rate
        return None

    def core_time(self, day_index: int) -> datetime:
        slot = self.rng.choices(CORE_SLOTS, _CORE_SLOT_WEIGHTS)[0]
        return datetime.combine(self.days[day_index], slot)

    def pair_unit(self, store: _Store) -> int:
        """One CORE/Supervisor project at a store (a pair, an orphan or a duplicate); returns how many events."""
        rng = self.rng
        category = self.pick(_PAIR_ANOMALY_RATES)
        length = rng.randint(3, 7)
        first = self.window(length, _WINDOW_NEEDS.get(category, "any"))
        if first is None:  # `today` lies outside the range: this category cannot be placed
            category, first = None, self.any_window(length)
        core_name, supervisor_name = self.pair_names(store.next_event_number())
        any_day = first + rng.randrange(length)
        core_at = self.core_time(any_day)
        rule_at = supervisor_start(core_at, self.rule)
        scheduled = rng.random() < self.schedule_probability(first, length)

        def core(when: datetime | None, condition: str | None = None) -> None:
            self.add_state(store, core_name, CORE, first, length, when, store.core_staff, condition)

        def supervisor(when: datetime | None, condition: str | None = None) -> None:
            self.add_state(store, supervisor_name, SUPERVISOR, first, length, when, store.supervisor_staff, condition)

        if category is not None:
            self.anomalies[category] += 1
        if category is None or category == "duplicate_pair_number":
            unscheduled = None if scheduled else self.unscheduled_condition(first, length)
            core(core_at if scheduled else None, unscheduled)
            supervisor(rule_at if scheduled else None, unscheduled)
            if category is None:
                return 2
            if rng.random() < 0.5:  # a second CORE, e.g. a reissued project, on another slot the same day
                core(self.core_time(any_day) if scheduled else None, unscheduled)
            else:
                supervisor(rule_at if scheduled else None, unscheduled)
            return 3
        if category == "core_supervisor_unstaffed":
            core(core_at)
            supervisor(None, UNSTAFFED)
        elif category == "core_without_supervisor":
            core(core_at if scheduled else None)
            return 1
        elif category == "supervisor_without_core":
            supervisor(rule_at if scheduled else None)
            return 1
        elif category == "supervisor_scheduled_core_not":
            core(None, UNSTAFFED)
            supervisor(rule_at)
        elif category == "pair_date_mismatch":
            other_day = first + rng.choice([d for d in range(length) if first + d != any_day])
            core(core_at)
            supervisor(rule_at + timedelta(days=other_day - any_day))
        elif category == "supervisor_time_off_rule":
            deltas = [d for d in _OFF_RULE_DELTAS if (rule_at + timedelta(minutes=d)).date() == rule_at.date()]
            core(core_at)
            supervisor(rule_at + timedelta(minutes=rng.choice(deltas)))
        else:  # unstaffed_past_due / unstaffed_due_24h: both events Unstaffed, both counted
            core(None, UNSTAFFED)
            supervisor(None, UNSTAFFED)
            self.anomalies[category] += 1
        return 2

    def single_unit(self, store: _Store, event_type: str) -> None:
        rng = self.rng
        category = self.pick(_SINGLE_ANOMALY_RATES)
        length = rng.randint(1, 5) if event_type == OTHER else 1
        drift = rng.randrange(4) if category == "schedule_state_drift" else None
        needs = "future" if drift in (2, 3) else _WINDOW_NEEDS.get(category, "any")
        first = self.window(length, needs)
        if first is None:
            if drift is not None:
                drift, first = 0, self.any_window(length)
            else:
                category, first = None, self.any_window(length)
        name = self.single_name(event_type, first)
        day = first + rng.randrange(length)
        if event_type == JUICER:
            staff, at = store.juicer_staff, rng.choice(_JUICER_TIMES)
        else:
            staff, at = store.core_staff, rng.choice(_OTHER_TIMES if event_type == OTHER else _MORNING_TIMES)
        when = datetime.combine(self.days[day], at)
        if category is not None:
            self.anomalies[category] += 1
        if category is None:
            scheduled = rng.random() < self.schedule_probability(first, length)
            self.add_state(store, name, event_type, first, length, when if scheduled else None, staff)
        elif category == "schedule_without_crossmark_id":
            ref = self.add_event(store, name, event_type, first, length, self.scheduled_condition(day), True)
            self.add_schedule(ref, self.assign(store, staff, event_type, when), when, with_crossmark_id=False)
        elif category in ("unstaffed_past_due", "unstaffed_due_24h"):
            self.add_event(store, name, event_type, first, length, UNSTAFFED, False)
        elif drift == 0:    # Crossmark says scheduled and there is a schedule, but is_scheduled is false
            ref = self.add_event(store, name, event_type, first, length, self.scheduled_condition(day), False)
            self.add_schedule(ref, self.assign(store, staff, event_type, when), when)
        elif drift == 1:    # scheduled condition and flag, but the schedules row is missing
            self.add_event(store, name, event_type, first, length, self.scheduled_condition(day), True)
        elif drift == 2:    # Unstaffed, yet flagged scheduled
            self.add_event(store, name, event_type, first, length, UNSTAFFED, True)
        else:               # Unstaffed and not flagged, yet a schedules row exists
            ref = self.add_event(store, name, event_type, first, length, UNSTAFFED, False)
            self.add_schedule(ref, self.assign(store, staff, event_type, when), when)


# --- public API -------------------------------------------------------------------------------------------------


def seed_demo_data(engine: Engine, *, events: int = 3000, stores: int = 5, start: date, months: int = 4,
                   seed: int = 42, today: date, rule: SupervisorRule = SupervisorRule(),
                   progress: Callable[[int, int], None] | None = None) -> SeedReport:
    """Write `events` demo events (and their stores' employees and schedules) into an empty database, in one transaction.

    Windows lie in [start 00:00, start + months 00:00). Deterministic for the same arguments. Raises InvalidInput for
    bad arguments and DatabaseNotEmpty when the events table holds rows; either way nothing is written."""
    require_current_schema(engine)
    events = _require_int("events", events, 1, MAX_EVENTS)
    stores = _require_int("stores", stores, 1, MAX_STORES)
    months = _require_int("months", months, 1, MAX_MONTHS)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidInput(f"seed must be a whole number, not {seed!r}.", field="seed", value=seed)
    start = _require_date("start", start)
    today = _require_date("today", today)
    rule = _require_rule(rule, CORE_SLOTS)
    if events > stores * MAX_EVENTS_PER_STORE:
        raise InvalidInput(f"{events:,} events across {stores} store(s) is more than {MAX_EVENTS_PER_STORE:,} per "
                           "store, which 6-digit event numbers cannot hold; add stores.", field="events")
    try:
        end_day = _add_months(start, months)
    except (ValueError, OverflowError):
        raise InvalidInput(f"start {start} plus {months} months is not a valid date.", field="start") from None

    generator = _Generator(seed=seed, first_day=start, end_day=end_day, today=today, rule=rule)
    with begin_write(engine) as connection:
        existing = connection.execute(select(func.count()).select_from(Event.__table__)).scalar_one()
        if existing:
            raise DatabaseNotEmpty(f"{engine.url.render_as_string(hide_password=True)} already holds {existing:,} "
                                   "events; demo seed only writes into an empty database.", events=existing)
        with bulk_load(connection):  # the derived tables rebuilt and the data version bumped once, at the end
            store_list, employees = generator.make_stores(stores)
            _insert_rows(connection, Employee.__table__, _EMPLOYEE_COLUMNS, employees)

            rng = generator.rng
            remaining = events
            done = 0

            def flush() -> None:
                nonlocal done
                # Reps and events first: schedules reference them (PostgreSQL checks the foreign keys at once).
                _insert_rows(connection, Employee.__table__, _EMPLOYEE_COLUMNS, generator.hires)
                generator.hires.clear()
                _insert_rows(connection, Event.__table__, _EVENT_COLUMNS, generator.events)
                _insert_rows(connection, Schedule.__table__, _SCHEDULE_COLUMNS, generator.schedules)
                done += len(generator.events)
                generator.events.clear()
                generator.schedules.clear()
                if progress is not None:
                    progress(done, events)

            while remaining > 0:
                store = store_list[rng.randrange(stores)]
                draw = rng.random() * _UNIT_TOTAL
                unit_type: str | None = OTHER  # None: a CORE/Supervisor pair
                for candidate, weight in _UNIT_WEIGHTS:
                    if draw < weight:
                        unit_type = candidate
                        break
                    draw -= weight
                if unit_type is None and remaining < 3:  # a pair unit may need up to 3 events: end on singles
                    unit_type = (JUICER, DIGITALS, FREEOSK, OTHER)[rng.randrange(4)]
                if unit_type is None:
                    remaining -= generator.pair_unit(store)
                else:
                    generator.single_unit(store, unit_type)
                    remaining -= 1
                if len(generator.events) >= BATCH_ROWS:
                    flush()
            flush()

    return SeedReport(events=events, schedules=generator.schedule_count, employees=len(employees) + generator.hired,
                      anomalies=dict(generator.anomalies), event_types=dict(sorted(generator.event_types.items())),
                      stores=stores, first_day=start, end_day=end_day)


# The fixed acceptance scenario (issue 2, "--scenario sprint2").
_SPRINT2_STORE = _Store(number=8135, mvid="157384", name="Sam's Club #8135 - Indianapolis, IN")
_SPRINT2_EMPLOYEES = (  # id, name, title, RepID
    ("US157001", "Dana Whitfield", EVENT_SPECIALIST, "900001"),
    ("US157002", "Marcus Bell", EVENT_SPECIALIST, "900002"),
    ("US157003", "Priya Raman", EVENT_SPECIALIST, "900003"),
    ("US157004", "Laura Kim", LEAD_EVENT_SPECIALIST, "900004"),
    ("US157005", "Tom Alvarez", CLUB_SUPERVISOR, "900005"),
    ("US157006", "Jade Monroe", JUICER_BARISTA, "900006"),
)
_SPRINT2_CORE_TIME = time(10, 30)


def seed_sprint2_scenario(engine: Engine, *, today: date, rule: SupervisorRule = SupervisorRule()) -> SeedReport:
    """Write the sprint2 acceptance scenario (events 606001, 606002, 606999, 608001, 608002 at store 157384).

    CORE 606001 on today+7 at 10:30 with Supervisor 606002 by the rule; CORE 606999 alone (today+7 11:00); CORE 608001
    (today+7 11:30) with Supervisor 608002 Unstaffed. Windows today+4 00:00 .. today+11 23:59. Raises
    DatabaseNotEmpty (writing nothing) if any of these refs, or their Crossmark ids, already exist; the store's
    employees are added when missing."""
    require_current_schema(engine)
    today = _require_date("today", today)
    rule = _require_rule(rule, (_SPRINT2_CORE_TIME,))
    day = today + timedelta(days=7)
    window_start = datetime.combine(today + timedelta(days=4), time(0, 0))
    window_due = datetime.combine(today + timedelta(days=11), time(23, 59))
    synced = datetime.combine(today, time(5, 30))
    core_at = datetime.combine(day, _SPRINT2_CORE_TIME)
    # (ref, name, type, condition, scheduled at, employee)
    plan = (
        (606001, "606001-CORE-Super Pretzel King Size", CORE, SCHEDULED, core_at, "US157001"),
        (606002, "606001-Supervisor-Super Pretzel King Size", SUPERVISOR, SCHEDULED,
         supervisor_start(core_at, rule), "US157005"),
        (606999, "606999-CORE-Test Product Orphan", CORE, SCHEDULED, datetime.combine(day, time(11, 0)), "US157002"),
        (608001, "608001-CORE-Product With Unscheduled Supervisor", CORE, SCHEDULED,
         datetime.combine(day, time(11, 30)), "US157003"),
        (608002, "608001-Supervisor-Product With Unscheduled Supervisor", SUPERVISOR, UNSTAFFED, None, None),
    )
    store = _SPRINT2_STORE
    event_rows = [(name, ref, store.mvid, store.number, store.name, window_start, window_due,
                   DEFAULT_DURATION_MINUTES[event_type], at is not None, event_type, condition, f"3{ref}", synced,
                   "synced") for ref, name, event_type, condition, at, _ in plan]
    schedule_rows = [(ref, employee, at, f"5{ref}", synced, "synced")
                     for ref, _, _, _, at, employee in plan if at is not None]
    refs = [row[0] for row in plan]
    events_table, schedules_table, employees_table = Event.__table__, Schedule.__table__, Employee.__table__
    with begin_write(engine) as connection:
        taken = connection.execute(select(events_table.c.project_ref_num)
                                   .where(events_table.c.project_ref_num.in_(refs))
                                   .order_by(events_table.c.project_ref_num)).scalars().all()
        if taken:
            raise DatabaseNotEmpty(f"The database already holds event(s) {', '.join(map(str, taken))} of the sprint2 "
                                   "scenario; it only writes into a database without them.", refs=list(taken))
        clashes = connection.execute(select(func.count()).select_from(events_table).where(
            events_table.c.external_id.in_([row[11] for row in event_rows]))).scalar_one()
        clashes += connection.execute(select(func.count()).select_from(schedules_table).where(
            schedules_table.c.external_id.in_([row[3] for row in schedule_rows]))).scalar_one()
        if clashes:
            raise DatabaseNotEmpty("The database already holds rows with the Crossmark ids of the sprint2 scenario; "
                                   "nothing was written.")
        present = set(connection.execute(select(employees_table.c.id).where(
            employees_table.c.id.in_([row[0] for row in _SPRINT2_EMPLOYEES]))).scalars())
        created = datetime.combine(today - timedelta(days=400), time(9, 0))
        employees = [(employee_id, name, f"{name.lower().replace(' ', '.')}@demo-club.example", "317-555-0100",
                      True, title in _SUPERVISOR_TITLES, title, rep_id, created)
                     for employee_id, name, title, rep_id in _SPRINT2_EMPLOYEES if employee_id not in present]
        _insert_rows(connection, employees_table, _EMPLOYEE_COLUMNS, employees)
        _insert_rows(connection, events_table, _EVENT_COLUMNS, event_rows)
        _insert_rows(connection, schedules_table, _SCHEDULE_COLUMNS, schedule_rows)
        bump_data_version(connection)
    anomalies = {name: 0 for name in _ANOMALY_RULES}
    anomalies["core_without_supervisor"] = 1     # 606999
    anomalies["core_supervisor_unstaffed"] = 1   # 608001 / 608002
    return SeedReport(events=len(event_rows), schedules=len(schedule_rows), employees=len(employees),
                      anomalies=anomalies, event_types={CORE: 3, SUPERVISOR: 2}, stores=1,
                      first_day=window_start.date(), end_day=window_due.date() + timedelta(days=1))
