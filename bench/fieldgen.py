"""Synthetic field-service day: orders over a ~40 x 40 km city (Xi'an-ish), technicians from home bases."""

from __future__ import annotations

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


def generate(n_orders: int, n_techs: int, seed: int = 0) -> Problem:
    """A plan day with epoch t0 = 00:00: 08:00-17:00 shifts, 40 % of orders with a morning (08-12) or
    afternoon (13-17) window, 20-45 min service, due 24 h after creation (created over the last 24 h)."""
    rng = np.random.default_rng(seed)
    techs = []
    for k in range(n_techs):
        home = (float(rng.uniform(*LAT)), float(rng.uniform(*LON)))
        techs.append(
            Technician(
                id=k,
                start=home,
                end=home,
                shift_start=8 * H,
                shift_end=17 * H,
                skills=TRADES[k % len(TRADES)],
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
