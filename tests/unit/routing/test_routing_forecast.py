"""The miss forecast's numeric core (routing/forecast.py) on hand-made days."""

from __future__ import annotations

import pytest

from routing import Job, Technician
from routing.forecast import Noise, forecast, place_unrouted, travel_s

HOME = (34.20, 108.95)
NEAR = (34.21, 108.95)  # about 1.1 km north: 3 min at 30 km/h with the 1.3 detour
FAR = (34.65, 108.95)  # about 50 km north: 2 h 10 min
NONE = Noise(service_sigma=0.0, travel_sigma=0.0)


def tech(tid=1, skills=("ac",), shift_end=8 * 3600, max_jobs=10, start=HOME, **kw) -> Technician:
    return Technician(
        id=tid, start=start, end=start, shift_start=0, shift_end=shift_end, skills=frozenset(skills),
        max_jobs=max_jobs, **kw,
    )  # fmt: skip


def test_without_noise_the_figures_are_the_hand_computed_ones():
    t = tech()
    drive = float(travel_s(t, [HOME], [NEAR])[0])
    assert drive == pytest.approx(1.1132e3 * 1.3 / (30 / 3.6), rel=2e-3)  # 0.01° of latitude ≈ 1.112 km
    jobs = {
        1: Job(1, NEAR, "ac", 1800, due=round(drive + 1800) + 1),  # just in time
        2: Job(2, NEAR, "ac", 1800, due=round(drive + 3600) - 1),  # a second too late
        3: Job(3, NEAR, "ac", 600, window=(7200, 9000), due=20_000),  # waits for its window
    }
    out = forecast([t], jobs, {1: [1, 2, 3]}, NONE, seeds=3)
    assert out.p_miss == {1: 0.0, 2: 1.0, 3: 0.0}
    assert out.promise == {1: "due", 2: "due", 3: "appointment"}


def test_a_visit_that_cannot_begin_before_the_shift_ends_is_missed():
    jobs = {1: Job(1, FAR, "ac", 1800, due=10**6)}
    assert forecast([tech(shift_end=3600)], jobs, {1: [1]}, NONE).p_miss == {1: 1.0}
    assert forecast([tech(shift_end=4 * 3600)], jobs, {1: [1]}, NONE).p_miss == {1: 0.0}


def test_arriving_after_the_appointment_closes_is_a_miss():
    jobs = {1: Job(1, FAR, "ac", 600, window=(0, 3600), due=10**6)}
    assert forecast([tech()], jobs, {1: [1]}, NONE).p_miss == {1: 1.0}


def test_the_break_delays_the_visits_after_it():
    t = tech(break_window=(0, 3600), break_s=3600)
    jobs = {1: Job(1, NEAR, "ac", 600, due=3600)}
    assert forecast([tech()], jobs, {1: [1]}, NONE).p_miss == {1: 0.0}
    assert forecast([t], jobs, {1: [1]}, NONE).p_miss == {1: 1.0}


def test_an_unrouted_order_goes_where_there_is_room_or_is_missed():
    a, b = tech(1, ("ac",)), tech(2, ("wm",))
    jobs = {1: Job(1, NEAR, "ac", 1800, due=7200), 2: Job(2, NEAR, "heater", 1800, due=7200)}
    routes, no_room = place_unrouted([a, b], jobs, {1: [], 2: []})
    assert routes == {1: [1], 2: []} and no_room == {2}
    out = forecast([a, b], jobs, {}, NONE)
    assert out.p_miss == {1: 0.0, 2: 1.0} and out.vehicle == {1: 1, 2: None}
    full = tech(1, ("ac",), max_jobs=0)
    assert forecast([full], jobs, {}, NONE).p_miss[1] == 1.0  # no free slot


def test_the_same_seed_gives_the_same_numbers_and_noise_spreads_them():
    jobs = {i: Job(i, (34.2 + 0.03 * i, 108.95), "ac", 2700, due=2700 * i + 1200) for i in range(1, 8)}
    routes = {1: list(jobs)}
    first = forecast([tech()], jobs, routes, Noise(), seeds=200, seed=3)
    assert forecast([tech()], jobs, routes, Noise(), seeds=200, seed=3).p_miss == first.p_miss
    assert any(0 < p < 1 for p in first.p_miss.values())  # the spread makes some uncertain
    assert list(first.p_miss.values()) != list(
        forecast([tech()], jobs, routes, Noise(), seeds=200, seed=4).p_miss.values()
    )


def test_seeds_must_be_positive():
    with pytest.raises(ValueError):
        forecast([tech()], {}, {}, seeds=0)


def test_work_under_way_goes_on_after_the_shift_has_ended():
    ended = Technician(
        id=1, start=HOME, end=HOME, shift_start=0, shift_end=0, skills=frozenset({"ac"}), max_jobs=10
    )  # fmt: skip
    on_site = {1: Job(1, NEAR, "ac", 1800, due=3600, locked_to=1, started=True)}
    assert forecast([ended], on_site, {1: [1]}, NONE).p_miss == {1: 0.0}
    waiting = {1: Job(1, NEAR, "ac", 1800, due=3600)}
    assert forecast([ended], waiting, {1: [1]}, NONE).p_miss == {1: 1.0}
    tomorrow = Technician(
        id=(1, 1), start=HOME, end=HOME, shift_start=50_000, shift_end=80_000, skills=frozenset({"ac"}), max_jobs=10
    )  # fmt: skip
    after = {
        1: Job(1, NEAR, "ac", 1800, due=3600, locked_to=(1, 1), started=True),
        2: Job(2, NEAR, "ac", 600, due=10**6),
    }
    out = forecast([tomorrow], after, {(1, 1): [1, 2]}, NONE)
    assert out.p_miss == {1: 0.0, 2: 0.0}  # under way now; the next visit waits for the shift


def test_with_nobody_on_duty_every_order_is_missed():
    jobs = {1: Job(1, NEAR, "ac", 600, due=10**6)}
    out = forecast([], jobs, {}, NONE)
    assert out.p_miss == {1: 1.0} and out.vehicle == {1: None}
