"""Plain-data problem and plan types. Times are integer seconds relative to a caller-chosen epoch t0."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from .geo import LatLon, TravelMatrix

PRIORITIES = ("normal", "urgent", "vip")

# Drop penalties: far above any plausible route distance in metres (a day of driving < 1e6 m),
# and ordered vip > urgent > normal so the solver drops normal work first.
DROP_PENALTY = {"normal": 100_000_000, "urgent": 1_000_000_000, "vip": 10_000_000_000}
# Soft-due cost per second late (the objective is in metres): 100 m per second = 6 km per minute.
LATE_COST_PER_S = 100


@dataclass(frozen=True)
class Technician:
    """A technician: current position (start), home (end), shift [start, end] and skills.

    ``break_window`` (earliest start, latest end) and ``break_s``: the day's break, taken whole
    somewhere in the window between two visits (never during one); none when ``break_s`` is 0."""

    id: Hashable
    start: LatLon
    end: LatLon
    shift_start: int
    shift_end: int
    skills: frozenset[str]
    max_jobs: int
    speed_kmh: float = 30.0
    detour: float = 1.3
    break_window: tuple[int, int] | None = None
    break_s: int = 0

    @property
    def has_break(self) -> bool:
        return self.break_window is not None and self.break_s > 0


@dataclass(frozen=True)
class Job:
    """A service order. ``window`` is hard, ``due`` is soft (penalised per second late)."""

    id: Hashable
    location: LatLon
    skill: str
    service_s: int
    window: tuple[int, int] | None = None
    due: int | None = None
    priority: str = "normal"
    locked_to: Hashable | None = None
    started: bool = False

    def __post_init__(self) -> None:
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {PRIORITIES}, got {self.priority!r}")
        if self.started and self.locked_to is None:
            raise ValueError("a started job must be locked_to its technician")
        if self.window is not None and self.window[0] > self.window[1]:
            raise ValueError("window start after window end")


@dataclass(frozen=True)
class Problem:
    """Technicians and jobs. ``matrix`` (optional) is over :func:`node_points` order:
    jobs, then technician starts, then technician ends; otherwise it is built with haversine.
    ``late_cost_per_s`` prices lateness against distance (default 100 m per second = 6 km per minute)."""

    technicians: tuple[Technician, ...]
    jobs: tuple[Job, ...]
    matrix: TravelMatrix | None = None
    late_cost_per_s: int = LATE_COST_PER_S  # objective units (metres) per second past a job's due

    def __post_init__(self) -> None:
        object.__setattr__(self, "technicians", tuple(self.technicians))
        object.__setattr__(self, "jobs", tuple(self.jobs))


def node_points(problem: Problem) -> list[LatLon]:
    """The point order a caller-supplied ``Problem.matrix`` must follow."""
    return (
        [j.location for j in problem.jobs]
        + [t.start for t in problem.technicians]
        + [t.end for t in problem.technicians]
    )


@dataclass(frozen=True)
class Stop:
    """A visit: arrival, service start (after any wait), departure, and seconds past ``due``."""

    job_id: Hashable
    arrival_s: int
    start_s: int
    departure_s: int
    late_s: int = 0


@dataclass(frozen=True)
class Unserved:
    """A job left out of the plan and why: ``no_skill``, ``window_unreachable``, ``no_capacity_or_time``."""

    job_id: Hashable
    reason: str


@dataclass(frozen=True)
class Plan:
    """The solver's answer: an ordered route per technician (every technician has a key)."""

    routes: dict[Hashable, list[Stop]]
    unserved: list[Unserved] = field(default_factory=list)
    total_distance_m: int = 0
    total_late_s: int = 0
    late_jobs: int = 0


def time_visits(
    depart: int,
    legs: list[int],
    visits: list[tuple[int, int, int, int | None]],
    shift_end: int,
    brk: tuple[int, int, int] | None = None,
) -> tuple[list[tuple[int, int, int, int]], int, int | None]:
    """The earliest times of a route, with its break placed where it costs least.

    ``legs``: travel seconds start→visit 1, …, visit n→end (n + 1 of them); ``visits``: per
    visit (service seconds, window open, window close, due or None); ``brk``: (window open,
    window close, seconds) or None. Returns ``(arrival, start, departure, late)`` per visit,
    the arrival at the end, and the break's start (None: no break on this route).

    The break goes before one of the legs (the technician stops after a visit, or before
    leaving), starting at the earliest moment the window allows, so no visit ever overlaps
    it. Of the places the window allows, the one keeping every window and the shift, then
    with least lateness, then home earliest, wins. A route with no visits, one ending before
    the window opens, or one starting after its latest start has no break."""
    plain = _walk(depart, legs, visits, None)
    if brk is None or brk[2] <= 0 or not visits:
        return plain[0], plain[1], None
    b0, b1, dur = brk
    latest = b1 - dur
    if plain[1] <= b0 or depart > latest:
        return plain[0], plain[1], None
    best = None
    for pos in range(len(visits) + 1):
        times, end, start = _walk(depart, legs, visits, (pos, b0, latest, dur))
        if start is None:
            continue
        bad = sum(s > v[2] for (_, s, _, _), v in zip(times, visits, strict=True)) + (end > shift_end)
        key = (bad, sum(t[3] for t in times), end)
        if best is None or key < best[0]:
            best = (key, times, end, start)
    if best is None:  # the window is gone before the technician is free: no break today
        return plain[0], plain[1], None
    return best[1], best[2], best[3]


def _walk(depart, legs, visits, brk):
    clock, out, bstart = depart, [], None
    for i, (service, w_open, _close, due) in enumerate(visits):
        if brk is not None and brk[0] == i:
            bstart = max(clock, brk[1])
            if bstart > brk[2]:
                return out, clock, None
            clock = bstart + brk[3]
        arrival = clock + legs[i]
        start = max(arrival, w_open)
        late = max(0, start - due) if due is not None else 0
        clock = start + service
        out.append((arrival, start, clock, late))
    if brk is not None and brk[0] == len(visits):
        bstart = max(clock, brk[1])
        if bstart > brk[2]:
            return out, clock, None
        clock = bstart + brk[3]
    return out, clock + legs[len(visits)], bstart
