"""Domain rules: type classification, event numbers, pairing keys, the supervisor time rule (table-driven)."""
from datetime import datetime, time

import pytest

from services.domain.event_rules import (
    CORE, DIGITALS, FREEOSK, JUICER, OTHER, SUPERVISOR, PairingKey, classify_event_type, default_duration_minutes,
    SupervisorRule, event_number, is_scheduled_condition, pairing_key, store_key, supervisor_start,
)

CLASSIFICATION = [
    # Real names from the Crossmark captures
    ("612103-Brand-Product Name (250821530146)  - V2-CORE", CORE),
    ("612103-Brand-Product Name (250821530146)  - V2-Supervisor", SUPERVISOR),
    ("09-30 8HR-ES1-JUICER-PRODUCTION-SPCLTY", JUICER),
    ("10.02 V2.7 Juicer Production Survey", JUICER),
    ("09.30-Digital Refresh Endcap Screens", DIGITALS),
    ("09.30-Kirkland Trail Mix V2 - Freeosk", FREEOSK),
    # The old/test format
    ("606001-CORE-Super Pretzel King Size", CORE),
    ("606001-Supervisor-Super Pretzel King Size", SUPERVISOR),
    # Lower case and odd spacing
    ("612103-brand-product (250821530146)  - v2-core", CORE),
    ("612103-brand-product (250821530146) - v2-supervisor", SUPERVISOR),
    ("  606001-core-super pretzel", CORE),
    # Tricky: "core" inside the product name of a Supervisor, and the short forms
    ("612340-Corelle-Dinnerware Set (250821530999)  - V2-Supervisor", SUPERVISOR),
    ("612340-Corelle-Dinnerware Set (250821530999)  - V2-CORE", CORE),
    ("606001-Supervisor-Corelle Plates", SUPERVISOR),
    ("612341-Brand-Hardcore Mints (250821531000)  - V2-SUPER", SUPERVISOR),
    ("612342-Brand-Product (250821531001)  - V2-SUPERVISO", SUPERVISOR),
    ("612343-Scoresby Snacks-Crackers (250821531002)  - V2-CORE", CORE),
    ("Digital Coupon Freeosk Sampling", DIGITALS),  # first rule that matches wins: Digital before Freeosk
    # Anything else
    ("Club Signage Audit", OTHER),
    ("612399-Pallet Program Reset (250821531003)", OTHER),
    ("", OTHER),
    (None, OTHER),
]


@pytest.mark.parametrize(("name", "expected"), CLASSIFICATION)
def test_classify_event_type(name, expected):
    assert classify_event_type(name) == expected


EVENT_NUMBERS = [
    ("612103-Brand-Product Name (250821530146)  - V2-CORE", "612103"),
    ("606001-CORE-Super Pretzel King Size", "606001"),
    ("  606001-Supervisor-Super Pretzel", "606001"),
    ("Brand-Product (250821530146)  - V2-CORE", None),  # never the 12-digit number in parentheses
    ("250821530146-Brand  - V2-CORE", None),  # 12 leading digits are not an event number
    ("6061234-CORE-Seven digits", None),
    ("60612-CORE-Five digits", None),
    ("09.30-Digital Refresh", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize(("name", "expected"), EVENT_NUMBERS)
def test_event_number(name, expected):
    assert event_number(name) == expected


@pytest.mark.parametrize(("location_mvid", "store_number", "expected"), [
    ("157384", 8135, "157384"), (" 157384 ", None, "157384"), (None, 8135, "8135"), ("", 8135, "8135"),
    (None, None, None),
])
def test_store_key_prefers_location_id(location_mvid, store_number, expected):
    assert store_key(location_mvid, store_number) == expected


def test_pairing_key_pairs_core_with_its_supervisor_at_the_same_store_only():
    core = pairing_key("612103-Brand-Product (250821530146)  - V2-CORE", "157384", 8135)
    supervisor = pairing_key("612103-Brand-Product (250821530146)  - V2-Supervisor", "157384", 8135)
    elsewhere = pairing_key("612103-Brand-Product (250821530146)  - V2-Supervisor", "157999", 8136)
    assert core == supervisor == PairingKey("612103", "157384")
    assert elsewhere != core
    assert pairing_key("09.30-Digital Refresh", "157384", 8135) is None
    assert pairing_key("612103-CORE-X", None, None) is None


@pytest.mark.parametrize(("rule", "core_start", "expected"), [
    (SupervisorRule(), datetime(2026, 3, 8, 10, 30), datetime(2026, 3, 8, 12, 30)),
    (SupervisorRule(offset_minutes=90), datetime(2026, 11, 23, 9, 45), datetime(2026, 11, 23, 11, 15)),
    (SupervisorRule(mode="fixed", fixed_time=time(12, 0)), datetime(2026, 11, 23, 11, 30), datetime(2026, 11, 23, 12, 0)),
    (SupervisorRule(mode="fixed", fixed_time=time(12, 0)), datetime(2026, 11, 23, 9, 45), datetime(2026, 11, 23, 12, 0)),
])
def test_supervisor_start_by_rule(rule, core_start, expected):
    assert supervisor_start(core_start, rule) == expected


@pytest.mark.parametrize(("event_type", "minutes"), [
    (CORE, 390), (SUPERVISOR, 5), (JUICER, 540), (DIGITALS, 15), (FREEOSK, 15), (OTHER, 15), ("Unknown", 15),
])
def test_default_durations(event_type, minutes):
    assert default_duration_minutes(event_type) == minutes


@pytest.mark.parametrize(("condition", "scheduled"), [
    ("Scheduled", True), ("Staffed", True), ("In Progress", True), ("Paused", True), ("Submitted", True),
    ("Unstaffed", False), ("Canceled", False), ("Expired", False), ("Reissued", False), (None, False),
])
def test_scheduled_conditions(condition, scheduled):
    assert is_scheduled_condition(condition) is scheduled
