"""Synthetic field-service day: orders over a ~40 x 40 km city (Xi'an-ish), technicians from home bases."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from routing.problem import Job, Problem, Technician

SKILLS = ("water_heater", "air_conditioner", "washing_machine", "refrigerator", "kitchen", "tv")
# technicians come in a few trades (keeps peers that need one matrix per skill set tractable)
TRADES = (
    frozenset({"water_heater", "kitchen", "washing_machine"}),
    frozenset({"air_conditioner", "refrigerator"}),
    frozenset({"washing_machine", "tv", "refrigerator"}),
    frozenset({"air_conditioner", "water_heater", "kitchen"}),
    frozenset({"tv", "kitchen", "washing_machine", "refrigerator"}),
    frozenset(SKILLS),
)
LAT = (34.10, 34.45)
LON = (108.75, 109.15)
H = 3600


# staggered shifts of the validation days (``varied=True``): early, normal, late
SHIFTS = ((7 * H, 16 * H), (8 * H, 17 * H), (9 * H, 18 * H))


def generate(n_orders: int, n_techs: int, seed: int = 0, varied: bool = False) -> Problem:
    """A plan day with epoch t0 = 00:00: 08:00-17:00 shifts, 40 % of orders with a morning (08-12) or
    afternoon (13-17) window, 20-45 min service, due 24 h after creation (created over the last 24 h).

    ``varied`` (the held-back validation days, seeds >= 1001) staggers the shifts (07-16, 08-17, 09-18)
    and draws each technician's trade at random instead of in turn; seed 1 (the tuning day) keeps the
    original shape so its earlier figures stay comparable."""
    rng = np.random.default_rng(seed)
    techs = []
    for k in range(n_techs):
        home = (float(rng.uniform(*LAT)), float(rng.uniform(*LON)))
        shift = SHIFTS[int(rng.integers(len(SHIFTS)))] if varied else (8 * H, 17 * H)
        trade = TRADES[int(rng.integers(len(TRADES)))] if varied else TRADES[k % len(TRADES)]
        techs.append(
            Technician(
                id=k,
                start=home,
                end=home,
                shift_start=shift[0],
                shift_end=shift[1],
                skills=trade,
                max_jobs=14,
            )
        )
    jobs = []
    for i in range(n_orders):
        loc = (float(rng.uniform(*LAT)), float(rng.uniform(*LON)))
        r = rng.random()
        window = None
        if r < 0.2:
            window = (8 * H, 12 * H)
        elif r < 0.4:
            window = (13 * H, 17 * H)
        created = int(rng.uniform(-16 * H, 8 * H))  # queue at 08:00 holds the last 24 h of orders
        jobs.append(
            Job(
                id=i,
                location=loc,
                skill=SKILLS[int(rng.integers(len(SKILLS)))],
                service_s=int(rng.integers(20, 46)) * 60,
                window=window,
                due=created + 24 * H,
                priority="vip" if rng.random() < 0.03 else ("urgent" if rng.random() < 0.1 else "normal"),
            )
        )
    return Problem(techs, jobs)


def hard_due(problem: Problem, earliest_close: int = 10 * H) -> Problem:
    """The same day with every due time turned into the end of a hard window (PyVRP and VROOM know no
    soft due). An order already overdue (or due before 10:00) must be served by 10:00, and an appointment
    window is never cut shorter than one hour: otherwise the day would have orders nobody can reach."""
    jobs = []
    for j in problem.jobs:
        open_, close = j.window if j.window is not None else (0, 24 * H)
        if j.due is not None:
            close = min(close, max(j.due, earliest_close, open_ + H))
        jobs.append(replace(j, window=(open_, close), due=None))
    return replace(problem, jobs=tuple(jobs))
