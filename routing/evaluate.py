"""Times for routes that already exist (the plan as the database holds it).

Walks each route with the same travel model as the solver (great-circle distance × detour at
the technician's speed) but only along the route, so it costs O(stops), not a full matrix:
the instant path evaluates the whole city's current routes on every new order.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from .geo import haversine_pairs_m
from .problem import Job, Plan, Stop, Technician, Unserved, time_visits


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
        stops, distance = time_route(tech, jobs, routes.get(tech.id, ()))
        plan[tech.id] = stops
        total_d += distance
        for stop in stops:
            total_late += stop.late_s
            late_jobs += stop.late_s > 0
            placed.add(stop.job_id)
    unserved = [Unserved(j, "not_planned") for j in jobs if j not in placed]
    return Plan(plan, unserved, total_d, total_late, late_jobs)


def time_route(tech: Technician, jobs: Mapping[Hashable, Job], route: Sequence[Hashable]) -> tuple[list[Stop], int]:
    """One technician's route timed from the start of their shift: the stops, and metres."""
    visits = [jobs[j] for j in route if j in jobs]
    if not visits:
        return [], 0
    points = [tech.start] + [j.location for j in visits] + [tech.end]
    legs = haversine_pairs_m(points[:-1], points[1:]) * tech.detour
    speed = tech.speed_kmh / 3.6
    if tech.has_break:
        return _time_with_break(tech, visits, [round(float(leg) / speed) for leg in legs]), int(np.rint(legs).sum())
    clock = tech.shift_start
    stops = []
    for job, leg in zip(visits, legs[:-1], strict=False):
        arrival = clock + round(float(leg) / speed)
        start = max(arrival, job.window[0]) if job.window else arrival
        late = max(0, start - job.due) if job.due is not None else 0
        clock = start + job.service_s
        stops.append(Stop(job.id, arrival, start, clock, late))
    return stops, int(np.rint(legs).sum())


def _time_with_break(tech: Technician, visits: Sequence[Job], legs_s: list[int]) -> list[Stop]:
    """The route's times with the technician's break placed (routing.problem.time_visits)."""
    spec = [(j.service_s, *(j.window or (0, 2**50)), j.due) for j in visits]
    times, _end, _break = time_visits(
        tech.shift_start, legs_s, spec, tech.shift_end, (*tech.break_window, tech.break_s)
    )
    return [Stop(j.id, *t) for j, t in zip(visits, times, strict=True)]
