"""The hindsight bound: each day's orders all known at its start (with their true service
times and drives), solved offline by the product's solver (`routing.solve`) with a long time
limit. No policy that learns of orders as they arrive should beat it on km or on the
24-hour rate; it says how much room a better policy could still find.

Each order belongs to the first day a technician could serve it (created before that day's
last shift ends); it may not be served before it exists (a hard window from its creation),
and its 24 hours are the soft deadline the solver already prices. A follow-up visit for a part
is a job of the day the part arrives. Failed visits (customer out) are not repeated: hindsight
knows when the door would open. Being a heuristic solution of a relaxation, it is an estimate
of the bound, not a proof; docs/simulation.md says how to read it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import numpy as np

from routing import Job, Problem, Technician, TravelMatrix, node_points, road_matrices, solve
from simulation.engine import DETOUR, SPEED_KMH
from simulation.scenario import Scenario, SimOrder


@dataclass(frozen=True)
class Visit:
    id: str
    order: SimOrder
    released: datetime  # not before the order exists (or its part has come)
    service_s: int


def hindsight(scenario: Scenario, time_limit_s: float = 5.0) -> dict[str, float | None]:
    model, tz = scenario.model, scenario.model.timezone
    days = (scenario.finish - scenario.start).days
    local0 = scenario.start.astimezone(tz).date()
    day_starts = [datetime.combine(local0 + timedelta(days=d), time(0), tzinfo=tz) for d in range(days)]
    last_end = max(t.shift[1] for t in scenario.technicians)

    def day_of(when: datetime) -> int | None:
        for d, start in enumerate(day_starts):
            if when < datetime.combine(start.date(), last_end, tzinfo=tz):
                return d
        return None

    by_day: dict[int, list[Visit]] = defaultdict(list)
    for o in scenario.orders:
        visits = [Visit(f"{o.index}a", o, o.created, o.draws.service_s)]
        if o.draws.part_needed:
            # The part comes a lead time after the order at the earliest.
            ready = o.created + timedelta(seconds=o.draws.part_lead_s)
            visits.append(Visit(f"{o.index}b", o, ready, o.draws.second_service_s))
        for v in visits:
            d = day_of(v.released)
            if d is not None:
                by_day[d].append(v)
    km = 0.0
    finished: dict[str, datetime] = {}
    carried: list[Visit] = []
    for d, t0 in enumerate(day_starts):
        # What the previous day could not fit (filed too late in it) is known at this day's start.
        visits, carried = carried + by_day.get(d, []), []
        techs = tuple(
            Technician(
                id=t.key, start=t.home, end=t.home,
                shift_start=int((datetime.combine(t0.date(), t.shift[0], tzinfo=tz) - t0).total_seconds()),
                shift_end=int((datetime.combine(t0.date(), t.shift[1], tzinfo=tz) - t0).total_seconds()),
                skills=frozenset(t.skills), max_jobs=t.daily_capacity, speed_kmh=SPEED_KMH, detour=DETOUR,
            )
            for t in scenario.technicians
            if t.works_on(t0.date())
        )  # fmt: skip
        if not visits or not techs:
            carried = visits
            continue
        jobs = tuple(
            Job(
                id=v.id, location=(v.order.lat, v.order.lon), skill=v.order.skill, service_s=v.service_s,
                window=(max(0, int((v.released - t0).total_seconds())), 3 * 86400),
                due=max(0, int((v.order.created + timedelta(hours=model.promise_hours) - t0).total_seconds())),
                priority=v.order.priority,
            )
            for v in visits
        )  # fmt: skip
        problem = Problem(techs, jobs)
        points = node_points(problem)
        dist, dur = road_matrices(points, None, detour=DETOUR, speed_kmh=SPEED_KMH)
        # The true drive to each customer (the world's noise on it), known in hindsight.
        factor = np.ones(len(points))
        factor[: len(visits)] = [v.order.draws.travel_factor for v in visits]
        dur = np.rint(dur * factor[None, :]).astype(np.int64)
        plan = solve(Problem(techs, jobs, TravelMatrix(dist, dur)), time_limit_s=time_limit_s)
        km += plan.total_distance_m / 1000
        for stops in plan.routes.values():
            for stop in stops:
                finished[stop.job_id] = t0 + timedelta(seconds=stop.departure_s)
        unserved = {u.job_id for u in plan.unserved}
        carried = [v for v in visits if v.id in unserved]
    within = counted = 0
    for o in scenario.orders:
        if o.created >= scenario.end:
            continue
        counted += 1
        last = finished.get(f"{o.index}b" if o.draws.part_needed else f"{o.index}a")
        if last is not None and f"{o.index}a" in finished and last - o.created <= timedelta(hours=24):
            within += 1
    return {"km": round(km, 2), "completion_24h_rate": round(within / counted, 4) if counted else None}
