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
    """A technician: current position (start), home (end), shift [start, end] and skills."""

    id: Hashable
    start: LatLon
    end: LatLon
    shift_start: int
    shift_end: int
    skills: frozenset[str]
    max_jobs: int
    speed_kmh: float = 30.0
    detour: float = 1.3


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
