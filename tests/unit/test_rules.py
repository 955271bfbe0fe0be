"""Small plain-Python rules: SLA policy, phone numbers, availability, passwords."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.phones import display_phone, mask_phone, normalize_phone
from core.security import password_problems
from dispatch.sla.policy import SlaPolicy, callback_deadline, intake_deadlines
from technicians.availability import can_take_work, on_leave, works_on

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_default_promise_is_24_hours():
    created = datetime(2026, 11, 24, 9, tzinfo=UTC)
    completion = next(
        d for d in intake_deadlines(SlaPolicy(), None, created, "normal", "repair") if d.clock == "completion"
    )
    assert completion.due_at == created + timedelta(hours=24)


def test_a_category_rule_beats_a_priority_rule_which_beats_the_default():
    policy = SlaPolicy(default_hours=24, priority_hours={"vip": 12}, category_hours={"installation": 72})
    assert policy.completion_hours("vip", "installation") == 72
    assert policy.completion_hours("vip", "repair") == 12
    assert policy.completion_hours("normal", "repair") == 24


def test_the_policy_is_read_from_configuration():
    policy = SlaPolicy.from_config({"SLA_COMPLETION_HOURS": "48", "SLA_PRIORITY_HOURS": {"urgent": 6}})
    assert policy.completion_hours("normal", "repair") == 48
    assert policy.completion_hours("urgent", "repair") == 6


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("13800138000", "+8613800138000"), ("138 0013 8000", "+8613800138000"), ("+86 138-0013-8000", "+8613800138000")],
)
def test_mainland_mobile_numbers_are_stored_as_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [("", "is required"), ("hello", "not a phone number"), ("1380013800", "not a valid"), ("02988888888", "mobile")],
)
def test_bad_phone_numbers_say_what_is_wrong(raw, message):
    with pytest.raises(ValueError, match=message):
        normalize_phone(raw)


def test_a_landline_is_accepted_when_mobile_is_not_required():
    assert normalize_phone("029 8888 8888", mobile_only=False) == "+862988888888"


def test_phone_numbers_display_and_mask_as_people_read_them():
    assert display_phone("+8613800138000") == "138 0013 8000"
    assert mask_phone("+8613800138000") == "138****8000"


@dataclass
class Leave:
    start_date: date
    end_date: date


@dataclass
class Tech:
    active: bool = True
    work_days: str = "12345"
    shift_start: time = time(8)
    shift_end: time = time(17)
    leaves: list = field(default_factory=list)


MONDAY = date(2026, 11, 23)


def test_a_technician_works_only_on_their_days_and_never_on_leave():
    tech = Tech(leaves=[Leave(MONDAY + timedelta(days=1), MONDAY + timedelta(days=2))])
    assert works_on(tech, MONDAY)
    assert not works_on(tech, MONDAY + timedelta(days=1))  # leave, first day
    assert not works_on(tech, MONDAY + timedelta(days=2))  # leave, last day (inclusive)
    assert works_on(tech, MONDAY + timedelta(days=3))
    assert not works_on(tech, MONDAY + timedelta(days=5))  # Saturday
    assert on_leave(tech, MONDAY + timedelta(days=1))


def test_an_inactive_technician_never_works():
    assert not works_on(Tech(active=False), MONDAY)


def test_work_is_offered_until_the_shift_ends_in_local_time():
    tech = Tech()
    assert can_take_work(tech, datetime(2026, 11, 23, 16, 59, tzinfo=SHANGHAI), SHANGHAI)
    assert not can_take_work(tech, datetime(2026, 11, 23, 17, 0, tzinfo=SHANGHAI), SHANGHAI)
    # 08:30 UTC is 16:30 in Shanghai: still within the shift.
    assert can_take_work(tech, datetime(2026, 11, 23, 8, 30, tzinfo=UTC), SHANGHAI)


def test_weak_passwords_are_explained():
    assert password_problems("short1") == ["must be at least 10 characters"]
    assert password_problems("onlyletterslong") == ["must mix letters with digits or symbols"]
    assert password_problems("good-pass-2026") == []


def test_a_paused_clock_counts_only_opening_hours():
    from dispatch.sla.policy import BusinessHours

    hours = BusinessHours(time(9), time(18), SHANGHAI)
    at = datetime(2026, 11, 23, 17, 0, tzinfo=SHANGHAI)
    assert hours.add(at, 30) == datetime(2026, 11, 23, 17, 30, tzinfo=SHANGHAI)
    assert hours.add(at, 120) == datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)  # 1 h today, 1 h tomorrow
    night = datetime(2026, 11, 23, 22, 0, tzinfo=SHANGHAI)
    assert hours.add(night, 60) == datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)  # waits for the morning
    assert hours.add(at, 24 * 60) == datetime(2026, 11, 26, 14, 0, tzinfo=SHANGHAI)  # 1 + 9 + 9 + 5 hours


def _signals(**overrides):
    from dispatch.authenticity import OrderSignals, PhotoSignals

    base = dict(
        address=(34.2100, 108.9500),
        checkin=(34.2101, 108.9501, 10.0),
        on_site_from=datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
        completed_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),
        photos=[
            PhotoSignals(
                1, "camera", datetime(2026, 11, 24, 2, 40, tzinfo=UTC), (34.2100, 108.9501), (34.21, 108.95, 15.0)
            )
        ],
        photos_required=1,
    )
    return OrderSignals(**{**base, **overrides})


def test_a_visit_with_matching_checkin_photo_time_and_place_is_verified():
    from dispatch.authenticity import assess

    assert assess(_signals()).status == "verified"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"checkin": None}, "doubtful", "no_checkin_location"),
        ({"checkin": (34.215, 108.950, 10.0)}, "doubtful", "checkin_far"),  # ~550 m away
        ({"checkin": (34.30, 108.95, 10.0)}, "failed", "checkin_far"),  # 10 km away
        ({"photos": []}, "failed", "no_photo"),
    ],
)
def test_each_order_signal_moves_the_verdict(change, status, code):
    from dispatch.authenticity import assess

    verdict = assess(_signals(**change))
    assert verdict.status == status
    assert code in [r["code"] for r in verdict.reasons]


@pytest.mark.parametrize(
    ("photo_change", "status", "code"),
    [
        ({"exact_copy_of_orders": [7]}, "failed", "photo_reused"),
        ({"near_copy_of_orders": [7]}, "doubtful", "photo_similar_to_other_order"),
        ({"gps": (34.30, 108.95)}, "failed", "photo_gps_far"),  # taken at home, 10 km away
        ({"taken_at": datetime(2026, 11, 20, 9, 0, tzinfo=UTC)}, "doubtful", "photo_time_outside_visit"),
        ({"device": (34.25, 108.95, 20.0)}, "doubtful", "uploaded_away_from_address"),
        ({"source": "gallery"}, "doubtful", "gallery_only"),
    ],
)
def test_each_photo_signal_moves_the_verdict(photo_change, status, code):
    from dataclasses import replace

    from dispatch.authenticity import assess

    base = _signals()
    verdict = assess(_signals(photos=[replace(base.photos[0], **photo_change)]))
    assert verdict.status == status
    assert code in [r["code"] for r in verdict.reasons]


def test_a_photo_without_exif_is_not_held_against_the_technician():
    from dataclasses import replace

    from dispatch.authenticity import assess

    base = _signals()
    assert assess(_signals(photos=[replace(base.photos[0], taken_at=None, gps=None)])).status == "verified"


def test_the_risk_watch_flags_low_figures_and_sharp_falls():
    from dispatch.kpis import risk_flags

    good = {"completion_24h_rate": 0.95, "satisfaction_rate": 0.9, "compliance_rate": 0.9, "authenticity_rate": 0.97}
    good["decided"] = 20  # enough decided orders to be judged (RISK_DEFAULTS min_orders)
    assert risk_flags(good) == []
    worse = good | {"completion_24h_rate": 0.7, "authenticity_rate": None}
    assert risk_flags(worse, good) == ["completion_24h_rate below 85%", "completion_24h_rate fell 25 points"]


def test_the_callback_clock_follows_the_configured_days_and_warning_ratio_where_no_rule_sets_them():
    completed = datetime(2026, 11, 24, 9, tzinfo=UTC)
    callback = callback_deadline(
        SlaPolicy.from_config({"SLA_CALLBACK_DAYS": 3, "SLA_WARN_RATIO": 0.5}), None, completed
    )
    assert callback is not None
    assert (callback.warn_at, callback.due_at) == (completed + timedelta(days=1.5), completed + timedelta(days=3))
