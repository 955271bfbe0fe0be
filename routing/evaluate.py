"""Times for routes that already exist (the plan as the database holds it).

Walks each route with the same travel model as the solver (great-circle distance × detour at
the technician's speed) but only along the route, so it costs O(stops), not a full matrix:
the instant path evaluates the whole city's current routes on every new order.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from .geo import haversine_pairs_m
from .problem import Job, Plan, Stop, Technician, Unserved


def evaluate(
    technicians: Sequence[Technician], jobs: Mapping[Hashable, Job], routes: Mapping[Hashable, Sequence[Hashable]]
) -> Plan:
    """The earliest schedule of the given job order per technician, as a Plan.

    Jobs in `jobs` that are on no route come back as unserved (`not_planned`); job ids on a
    route that `jobs` does not know are skipped.
    """
    plan: dict[Hashable, list[Stop]] = {}
    total_d = total_late = late_jobs = 0
    placed: set[Hashable] = set()
    for tech in technicians:
        route = [jobs[j] for j in routes.get(tech.id, ()) if j in jobs]
        points = [tech.start] + [j.location for j in route] + [tech.end]
        legs = haversine_pairs_m(points[:-1], points[1:]) * tech.detour
        speed = tech.speed_kmh / 3.6
        clock = tech.shift_start
        stops = []
        for job, leg in zip(route, legs[:-1], strict=False):
            arrival = clock + round(float(leg) / speed)
            start = max(arrival, job.window[0]) if job.window else arrival
            late = max(0, start - job.due) if job.due is not None else 0
            clock = start + job.service_s
            stops.append(Stop(job.id, arrival, start, clock, late))
            total_late += late
            late_jobs += late > 0
            placed.add(job.id)
        if route:
            total_d += int(np.rint(legs).sum())
        plan[tech.id] = stops
    unserved = [Unserved(j, "not_planned") for j in jobs if j not in placed]
    return Plan(plan, unserved, total_d, total_late, late_jobs)
