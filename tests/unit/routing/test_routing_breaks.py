"""The day's break in the routing model, on a small instance checked by hand.

One technician, three one-hour visits, ten minutes between any two points (start/home included),
a 30-minute break to be started between 02:00 and 03:00 after the shift starts (window 7200..12600 s).
By hand: visits at 600–4200 and 4800–8400; the break fits only in the gap after the second visit
(8400–10200: the first gap ends before the window opens, and starting it later than 8400 only
delays the third visit); the third visit starts at 10200 + 600 = 10800, home at 15000.
Without the break the day ends at 13200.
"""

from __future__ import annotations

import numpy as np

from routing import InsertionIndex, Job, Problem, Technician, TravelMatrix, solve
from routing.evaluate import evaluate
from routing.problem import time_visits

HOME = (31.2, 121.4)
POINTS = [(31.21, 121.41), (31.22, 121.42), (31.23, 121.43)]
BREAK = dict(break_window=(7200, 12600), break_s=1800)


def _matrix(n_jobs: int) -> TravelMatrix:
    n = n_jobs + 2
    duration = np.full((n, n), 600, dtype=np.int64)
    np.fill_diagonal(duration, 0)
    return TravelMatrix(distance_m=duration * 10, duration_s=duration)


def _tech(shift_end: int, **brk) -> Technician:
    return Technician("t", HOME, HOME, 0, shift_end, frozenset({"ac"}), 8, **brk)


def _jobs() -> list[Job]:
    return [Job(f"j{i}", p, "ac", 3600) for i, p in enumerate(POINTS)]


def _overlaps(stop, start: int, dur: int) -> bool:
    return stop.start_s < start + dur and start < stop.departure_s


def test_the_break_goes_in_the_only_gap_the_window_allows():
    times, home, brk = time_visits(0, [600] * 4, [(3600, 0, 10**9, None)] * 3, 20000, (7200, 12600, 1800))
    assert [t[1] for t in times] == [600, 4800, 10800]
    assert brk == 8400 and home == 15000


def test_a_day_that_ends_before_the_window_has_no_break():
    times, home, brk = time_visits(0, [600, 600], [(3600, 0, 10**9, None)], 20000, (7200, 12600, 1800))
    assert brk is None and home == 4800


def test_the_solver_places_the_break_and_no_visit_overlaps_it():
    plan = solve(Problem((_tech(20000, **BREAK),), tuple(_jobs()), matrix=_matrix(3)), time_limit_s=1)
    stops = plan.routes["t"]
    assert len(stops) == 3 and not plan.unserved
    assert [s.start_s for s in stops] == [600, 4800, 10800]
    assert not any(_overlaps(s, 8400, 1800) for s in stops)


def test_the_break_costs_a_visit_when_the_shift_is_too_short_for_both():
    # Home by 14000: without the break all three fit (home at 13200), with it one must go.
    without = solve(Problem((_tech(14000),), tuple(_jobs()), matrix=_matrix(3)), time_limit_s=1)
    assert len(without.routes["t"]) == 3
    with_break = solve(Problem((_tech(14000, **BREAK),), tuple(_jobs()), matrix=_matrix(3)), time_limit_s=1)
    assert len(with_break.routes["t"]) == 2 and len(with_break.unserved) == 1


def test_instant_insertion_never_puts_an_eta_inside_the_break():
    # Haversine travel here (about 4 minutes a leg); two visits planned, a third inserted.
    tech = _tech(30000, **BREAK)
    jobs = {j.id: j for j in _jobs()}
    current = evaluate([tech], {k: jobs[k] for k in ("j0", "j1")}, {"t": ["j0", "j1"]})
    found = InsertionIndex([tech], current, jobs).best(jobs["j2"])
    assert found.tech_id == "t"
    route = ["j0", "j1"]
    route.insert(found.position, "j2")
    timed = evaluate([tech], jobs, {"t": route}).routes["t"]
    assert found.arrival_s == next(s.arrival_s for s in timed if s.job_id == "j2")
    # the break: 30 minutes starting in the window, in a gap between visits
    gaps = [(a.departure_s, b.arrival_s) for a, b in zip(timed, timed[1:], strict=False)]
    assert any(max(lo, 7200) + 1800 <= hi and max(lo, 7200) <= 10800 for lo, hi in gaps)
    # and without the break the third visit would have come 30 minutes sooner or not at all later
    plain = evaluate([_tech(30000)], jobs, {"t": route}).routes["t"]
    assert timed[-1].arrival_s >= plain[-1].arrival_s
