"""The miss forecast's numeric core: the planned routes run forward over many seeds at once.

Plain data in (routing `Technician`s, one per technician-day, the open `Job`s and the planned
route of each vehicle), plain data out (each job's probability of missing its promise). Every
array carries the seeds as its first axis, so 50 seeds cost about what one does; the only
Python loop is over the position within a route (a day's route is a dozen stops).

The model (docs/simulation.md, "Today's miss forecast"):

- a technician-day starts at its shift start (today: now, from the last known position) and
  visits its route in the planned order; the drive to a stop is the travel model's time
  (haversine × detour at the technician's speed, as the planner's) × a lognormal factor of
  mean 1, the service time is the job's planned time (its category's) × a lognormal factor of
  mean 1; a visit waits for its appointment window to open; the day's break is taken before
  the first drive that starts after the break window opens;
- a visit that cannot begin before the shift ends is missed (it falls off the day: tomorrow's
  plan is not simulated, so this is the pessimistic reading); work under way (a technician on
  the way or on site) goes on from now whatever the shift says, its drive from the vehicle's
  start (today: the last known position) and its whole service time still to come;
- a job is missed when its visit ends after its due time (the 24-hour promise) or, with an
  appointment, when the technician arrives after the window closes;
- an order on no route (unassigned, or its technician off the horizon) is first given, at the
  planned (mean) times, to the vehicle with the skill and room that finishes it earliest in
  time (appended at the end of the route); with no such vehicle it is missed in every seed.

Common random numbers: the factors belong to the job (drawn for the sorted job ids from one
seed), not to the route position, so a what-if that moves one job meets the same traffic
and the same service times as the forecast it is compared with.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .geo import haversine_m, haversine_pairs_m
from .problem import Job, Technician

DEFAULT_SEEDS = 50
NEVER = math.inf


@dataclass(frozen=True)
class Noise:
    """The spread of the world around the plan: lognormal sigmas (mean-one factors)."""

    service_sigma: float = 0.35
    travel_sigma: float = 0.2


@dataclass(frozen=True)
class Outlook:
    """Each job's probability of missing its promise, and which promise it is."""

    p_miss: dict[Hashable, float]
    promise: dict[Hashable, str]  # "due" (the 24-hour promise) or "appointment"
    vehicle: dict[Hashable, Hashable | None]  # the route it was simulated on; None: no room anywhere
    routes: dict[Hashable, list[Hashable]] = field(default_factory=dict)  # as simulated (unassigned placed)


def mean_one_lognormal(z: np.ndarray, sigma: float) -> np.ndarray:
    """exp(mu + sigma·z) with mu = -sigma²/2: a lognormal factor whose mean is 1."""
    return np.exp(sigma * z - sigma * sigma / 2) if sigma > 0 else np.ones_like(z)


def travel_s(tech: Technician, a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> np.ndarray:
    """The travel model's time (s) from a[i] to b[i] for this technician (as routing.geo's)."""
    if not len(a):
        return np.zeros(0)
    return haversine_pairs_m(a, b) * tech.detour / (tech.speed_kmh / 3.6)


def place_unrouted(
    technicians: Sequence[Technician], jobs: Mapping[Hashable, Job], routes: Mapping[Hashable, list[Hashable]]
) -> tuple[dict[Hashable, list[Hashable]], set[Hashable]]:
    """The routes with every job on none appended where it fits best at the planned times
    (earliest finish among the vehicles with the skill, a free slot, and time before the shift
    ends, the due time and the window's end); returns the routes and the jobs with no room."""
    routes = {t.id: list(routes.get(t.id, ())) for t in technicians}
    routed = {j for r in routes.values() for j in r}
    waiting = sorted((j for j in jobs if j not in routed), key=lambda j: (_due(jobs[j]), repr(j)))
    if not waiting:
        return routes, set()
    # Each vehicle's end of route at the planned times: where it is, when, how many stops.
    here = np.zeros((len(technicians), 2))
    clock = np.zeros(len(technicians))
    count = np.zeros(len(technicians))
    for v, t in enumerate(technicians):
        at, clock[v] = t.start, float(t.shift_start)
        route = [jobs[j] for j in routes[t.id]]
        drives = (
            travel_s(t, [at, *(job.location for job in route[:-1])], [job.location for job in route]) if route else []
        )
        for job, drive in zip(route, drives, strict=True):
            clock[v] = max(clock[v] + drive, float(job.window[0]) if job.window else 0.0) + job.service_s
            at = job.location
        here[v], count[v] = at, len(route)
    seconds_per_m = np.array([t.detour / (t.speed_kmh / 3.6) for t in technicians])
    shift_end = np.array([t.shift_end for t in technicians], dtype=float)
    room = np.array([t.max_jobs for t in technicians], dtype=float)
    skilled = {
        skill: np.array([skill in t.skills for t in technicians], dtype=bool)
        for skill in {jobs[j].skill for j in waiting}
    }
    no_room: set[Hashable] = set()
    for jid in waiting:  # by due time: the most pressing first, each where it ends earliest
        job = jobs[jid]
        arrive = clock + haversine_m(here, [job.location])[:, 0] * seconds_per_m
        begin = np.maximum(arrive, float(job.window[0]) if job.window else 0.0)
        end = begin + job.service_s
        fits = skilled[job.skill] & (count < room) & (begin <= shift_end) & (end <= _due(job))
        if job.window:
            fits &= arrive <= job.window[1]
        if not fits.any():
            no_room.add(jid)
            continue
        v = int(np.argmin(np.where(fits, end, NEVER)))
        routes[technicians[v].id].append(jid)
        here[v], clock[v], count[v] = job.location, end[v], count[v] + 1
    return routes, no_room


def _due(job: Job) -> float:
    return NEVER if job.due is None else float(job.due)


def forecast(
    technicians: Sequence[Technician],
    jobs: Mapping[Hashable, Job],
    routes: Mapping[Hashable, list[Hashable]],
    noise: Noise = Noise(),
    seeds: int = DEFAULT_SEEDS,
    seed: int = 0,
) -> Outlook:
    """Simulate every vehicle's route over `seeds` worlds; times are seconds from now."""
    if seeds < 1:
        raise ValueError("seeds must be at least 1")
    placed, no_room = place_unrouted(technicians, jobs, routes)
    ids = sorted(jobs, key=repr)
    column = {j: i for i, j in enumerate(ids)}
    rng = np.random.default_rng(seed)
    service = np.array([jobs[j].service_s for j in ids], dtype=float) * mean_one_lognormal(
        rng.standard_normal((seeds, len(ids))), noise.service_sigma
    )
    factor = mean_one_lognormal(rng.standard_normal((seeds, len(ids))), noise.travel_sigma)
    missed = np.zeros((seeds, len(ids)), dtype=bool)
    missed[:, [column[j] for j in no_room]] = True
    vehicles = [t for t in technicians if placed[t.id]]
    if vehicles:
        _simulate(vehicles, jobs, placed, column, service, factor, missed)
    share = missed.mean(axis=0)
    where = {j: v for v, r in placed.items() for j in r}
    return Outlook(
        p_miss={j: float(share[column[j]]) for j in ids},
        promise={j: "appointment" if jobs[j].window else "due" for j in ids},
        vehicle={j: where.get(j) for j in ids},
        routes=placed,
    )


def _simulate(
    vehicles: list[Technician],
    jobs: Mapping[Hashable, Job],
    routes: Mapping[Hashable, list[Hashable]],
    column: Mapping[Hashable, int],
    service: np.ndarray,
    factor: np.ndarray,
    missed: np.ndarray,
) -> None:
    """All vehicles step by step along their routes, every seed at once (arrays seeds × vehicles)."""
    n_v, depth = len(vehicles), max(len(routes[t.id]) for t in vehicles)
    col = np.full((n_v, depth), -1, dtype=np.int64)
    base = np.zeros((n_v, depth))
    opens, closes, due = np.zeros((n_v, depth)), np.full((n_v, depth), NEVER), np.full((n_v, depth), NEVER)
    started = np.zeros((n_v, depth), dtype=bool)
    for v, t in enumerate(vehicles):
        route = [jobs[j] for j in routes[t.id]]
        points = [job.location for job in route]
        base[v, : len(route)] = travel_s(t, [t.start, *points[:-1]], points)
        for k, job in enumerate(route):
            col[v, k] = column[job.id]
            due[v, k] = _due(job)
            started[v, k] = job.started
            if job.window:
                opens[v, k], closes[v, k] = job.window
    shift_start = np.array([t.shift_start for t in vehicles], dtype=float)
    shift_end = np.array([t.shift_end for t in vehicles], dtype=float)
    pause_at = np.array([t.break_window[0] if t.has_break else NEVER for t in vehicles], dtype=float)
    pause_s = np.array([t.break_s if t.has_break else 0 for t in vehicles], dtype=float)
    seeds = service.shape[0]
    # Work under way goes on now, whatever the shift says (the visit has begun, or the drive).
    clock = np.tile(np.where(started[:, 0], 0.0, shift_start), (seeds, 1))
    paused = np.zeros((seeds, n_v), dtype=bool)
    for k in range(depth):
        present = col[:, k] >= 0
        c = np.where(present, col[:, k], 0)
        pause = ~paused & (clock >= pause_at)
        clock = clock + np.where(pause, pause_s, 0.0)
        paused |= pause
        arrive = clock + base[:, k] * factor[:, c]
        begin = np.maximum(arrive, np.where(started[:, k], opens[:, k], np.maximum(opens[:, k], shift_start)))
        done = started[:, k] | (begin <= shift_end)
        finish = begin + service[:, c]
        miss = ~done | (finish > due[:, k]) | (arrive > closes[:, k])
        missed[:, c[present]] = miss[:, present]
        clock = np.where(present & done, finish, clock)
