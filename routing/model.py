"""Array form of a routing problem, shared by the OR-Tools model, the constructor and the benchmarks.

Node ids index the matrices. Each vehicle has a start and an end node (they may be the same depot).
A field-service :class:`~routing.problem.Problem` is converted with :func:`from_problem`; a Solomon
instance with :func:`bench.solomon.to_model`.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from .geo import road_matrices
from .problem import (
    DROP_PENALTY,
    LATE_COST_PER_S,
    Plan,
    Problem,
    Stop,
    Unserved,
    node_points,
    time_visits,
)

NO_DUE = 2**50  # "no due time" sentinel, far beyond any horizon
MANDATORY = -1  # penalty value for a node that may not be dropped


@dataclass
class ArrayModel:
    """A rich VRPTW in arrays. ``dist``/``time`` are per travel profile; ``time`` excludes service."""

    dist: list[np.ndarray]
    time: list[np.ndarray]
    vehicle_profile: np.ndarray  # (V,) index into dist/time
    service: np.ndarray  # (N,)
    tw_open: np.ndarray  # (N,) hard earliest service start
    tw_close: np.ndarray  # (N,) hard latest service start
    demand: np.ndarray  # (N,)
    capacity: np.ndarray  # (V,)
    starts: np.ndarray  # (V,) node ids
    ends: np.ndarray  # (V,) node ids
    shift_start: np.ndarray  # (V,)
    shift_end: np.ndarray  # (V,)
    customers: np.ndarray  # node ids that are visits
    allowed: np.ndarray  # (N, V) bool
    penalty: np.ndarray  # (N,) drop penalty, MANDATORY for must-serve
    due: np.ndarray = None  # (N,) soft due (NO_DUE if none)
    late_cost: int = LATE_COST_PER_S
    first: dict[int, int] = field(default_factory=dict)  # vehicle -> node forced first
    vehicle_group: np.ndarray | None = None  # vehicles with equal group are interchangeable
    xy: np.ndarray | None = None  # (N, 2) planar coordinates, only used to split large problems by area
    # the day's break per vehicle: window [open, close] and seconds (0: no break)
    break_open: np.ndarray | None = None  # (V,)
    break_close: np.ndarray | None = None  # (V,)
    break_s: np.ndarray | None = None  # (V,)

    def __post_init__(self) -> None:
        n = self.service.shape[0]
        if self.due is None:
            self.due = np.full(n, NO_DUE, dtype=np.int64)
        if self.vehicle_group is None:
            self.vehicle_group = np.arange(self.n_vehicles)
        if self.break_s is None:
            self.break_s = np.zeros(self.n_vehicles, dtype=np.int64)
            self.break_open = np.zeros(self.n_vehicles, dtype=np.int64)
            self.break_close = np.zeros(self.n_vehicles, dtype=np.int64)

    @property
    def has_breaks(self) -> bool:
        return bool(np.any(self.break_s > 0))

    @property
    def n_nodes(self) -> int:
        return int(self.service.shape[0])

    @property
    def n_vehicles(self) -> int:
        return int(self.starts.shape[0])

    @property
    def has_due(self) -> bool:
        return bool(np.any(self.due[self.customers] < NO_DUE))

    @property
    def horizon(self) -> int:
        return int(max(self.shift_end.max(), self.tw_close[self.customers].max(initial=0))) + 1


def schedule(m: ArrayModel, v: int, route: list[int]) -> list[tuple[int, int, int, int]]:
    """Earliest schedule of ``route`` (customer nodes) on vehicle ``v``:
    ``(arrival, start, departure, late)`` per customer, leaving the start node at its shift start."""
    p = int(m.vehicle_profile[v])
    t = m.time[p]
    prev = int(m.starts[v])
    dep = max(int(m.shift_start[v]), int(m.tw_open[prev]))
    if m.break_s[v] > 0:
        nodes = [prev, *route, int(m.ends[v])]
        legs = [int(t[a, b]) for a, b in itertools.pairwise(nodes)]
        spec = [(int(m.service[n]), int(m.tw_open[n]), int(m.tw_close[n]), int(m.due[n])) for n in route]
        brk = (int(m.break_open[v]), int(m.break_close[v]), int(m.break_s[v]))
        return time_visits(dep, legs, spec, int(m.shift_end[v]), brk)[0]
    out = []
    for node in route:
        arr = dep + int(t[prev, node])
        start = max(arr, int(m.tw_open[node]))
        late = max(0, start - int(m.due[node]))
        dep = start + int(m.service[node])
        out.append((arr, start, dep, late))
        prev = node
    return out


def route_distance(m: ArrayModel, v: int, route: list[int]) -> int:
    """Distance of ``route`` from the vehicle's start to its end node."""
    d = m.dist[int(m.vehicle_profile[v])]
    nodes = [int(m.starts[v]), *route, int(m.ends[v])]
    return int(sum(int(d[a, b]) for a, b in itertools.pairwise(nodes)))


@dataclass
class ProblemMapping:
    """How a Problem maps to an ArrayModel: node -> job index, vehicle -> technician."""

    job_of_node: dict[int, int]
    node_of_job: dict[Hashable, int]
    pre_unserved: list[Unserved]


def from_problem(problem: Problem) -> tuple[ArrayModel, ProblemMapping]:
    """Convert a field-service Problem: jobs that no technician can possibly serve are pre-dropped with a reason."""
    techs, jobs = problem.technicians, problem.jobs
    nj, nt = len(jobs), len(techs)
    # travel profiles: one per (speed, detour) unless the caller supplied a matrix
    if problem.matrix is not None:
        pts = node_points(problem)
        start_pt = np.arange(nj, nj + nt, dtype=np.int64)
        end_pt = np.arange(nj + nt, nj + 2 * nt, dtype=np.int64)
        full_d = [np.asarray(problem.matrix.distance_m, dtype=np.int64)]
        full_t = [np.asarray(problem.matrix.duration_s, dtype=np.int64)]
        prof_of_tech = np.zeros(nt, dtype=np.int64)
    else:
        # A depot (a technician's start or home) is one point however many vehicles share it: a
        # horizon has a vehicle per technician-day, all but today's leaving from the same home,
        # so the matrix grows with the technicians, not with the days.
        depot: dict[tuple[float, float], int] = {}
        start_pt = np.array([nj + depot.setdefault(tuple(t.start), len(depot)) for t in techs], dtype=np.int64)
        end_pt = np.array([nj + depot.setdefault(tuple(t.end), len(depot)) for t in techs], dtype=np.int64)
        pts = [j.location for j in jobs] + list(depot)
        keys: dict[tuple[float, float], int] = {}
        prof_of_tech = np.array([keys.setdefault((t.speed_kmh, t.detour), len(keys)) for t in techs], dtype=np.int64)
        full_d, full_t = [], []
        for speed, detour in keys:
            d, tt = road_matrices(pts, None, detour=detour, speed_kmh=speed)
            full_d.append(d)
            full_t.append(tt)
    tech_index = {t.id: k for k, t in enumerate(techs)}
    horizon = max([t.shift_end for t in techs] + [j.window[1] for j in jobs if j.window] + [0]) + 1

    # which technicians may serve each job at all (skills, lock) and can reach it within shift/window
    pre_unserved: list[Unserved] = []
    keep: list[int] = []
    allowed_rows: list[np.ndarray] = []
    ks = np.arange(nt)
    to_job = np.stack([full_t[prof_of_tech[k]][start_pt[k], :nj] for k in ks]) if nj else np.zeros((nt, 0))
    from_job = np.stack([full_t[prof_of_tech[k]][:nj, end_pt[k]] for k in ks]) if nj else np.zeros((nt, 0))
    shift0 = np.array([t.shift_start for t in techs], dtype=np.int64)
    shift1 = np.array([t.shift_end for t in techs], dtype=np.int64)
    for ji, job in enumerate(jobs):
        skilled = np.array([job.skill in t.skills for t in techs], dtype=bool)
        if job.locked_to is not None:
            lock = np.zeros(nt, dtype=bool)
            if job.locked_to in tech_index:
                lock[tech_index[job.locked_to]] = True
            skilled &= lock
        if not skilled.any():
            pre_unserved.append(Unserved(job.id, "no_skill"))
            continue
        w0, w1 = job.window if job.window else (0, horizon)
        start = np.maximum(w0, shift0 + to_job[:, ji])
        reach = skilled & (start <= w1) & (start + job.service_s + from_job[:, ji] <= shift1)
        if not reach.any():
            reason = "window_unreachable" if job.window else "no_capacity_or_time"
            pre_unserved.append(Unserved(job.id, reason))
            continue
        keep.append(ji)
        allowed_rows.append(reach)

    # node layout: kept jobs 0..n-1, then the depots (starts and ends, each point once)
    n = len(keep)
    depots, depot_node = np.unique(np.concatenate([start_pt, end_pt]), return_inverse=True)
    sel = np.concatenate([np.array(keep, dtype=np.int64), depots])
    dist = [d[np.ix_(sel, sel)] for d in full_d]
    time = [t[np.ix_(sel, sel)] for t in full_t]
    N = len(sel)
    service = np.zeros(N, dtype=np.int64)
    tw_open = np.zeros(N, dtype=np.int64)
    tw_close = np.full(N, horizon, dtype=np.int64)
    due = np.full(N, NO_DUE, dtype=np.int64)
    penalty = np.full(N, MANDATORY, dtype=np.int64)
    allowed = np.ones((N, nt), dtype=bool)
    first: dict[int, int] = {}
    for node, ji in enumerate(keep):
        job = jobs[ji]
        service[node] = job.service_s
        if job.window:
            tw_open[node], tw_close[node] = job.window
        if job.due is not None:
            due[node] = job.due
        allowed[node] = allowed_rows[node]
        if job.started:
            first[tech_index[job.locked_to]] = node
        else:
            penalty[node] = DROP_PENALTY[job.priority]
    demand = np.zeros(N, dtype=np.int64)
    demand[:n] = 1
    m = ArrayModel(
        dist=dist,
        time=time,
        vehicle_profile=prof_of_tech,
        service=service,
        tw_open=tw_open,
        tw_close=tw_close,
        demand=demand,
        capacity=np.array([t.max_jobs for t in techs], dtype=np.int64),
        starts=n + depot_node[:nt].astype(np.int64),
        ends=n + depot_node[nt:].astype(np.int64),
        shift_start=np.array([t.shift_start for t in techs], dtype=np.int64),
        shift_end=np.array([t.shift_end for t in techs], dtype=np.int64),
        customers=np.arange(n, dtype=np.int64),
        allowed=allowed,
        penalty=penalty,
        due=due,
        late_cost=problem.late_cost_per_s,
        first=first,
        xy=_planar([pts[i] for i in sel]),
        break_open=np.array([t.break_window[0] if t.has_break else 0 for t in techs], dtype=np.int64),
        break_close=np.array([t.break_window[1] if t.has_break else 0 for t in techs], dtype=np.int64),
        break_s=np.array([t.break_s if t.has_break else 0 for t in techs], dtype=np.int64),
    )
    mapping = ProblemMapping(
        job_of_node={node: ji for node, ji in enumerate(keep)},
        node_of_job={jobs[ji].id: node for node, ji in enumerate(keep)},
        pre_unserved=pre_unserved,
    )
    return m, mapping


def _planar(points: list) -> np.ndarray:
    """Equirectangular projection in km (good enough to cut a city into sectors)."""
    a = np.asarray(points, dtype=float).reshape(-1, 2)
    lat0 = np.radians(a[:, 0].mean()) if len(a) else 0.0
    return np.column_stack([a[:, 1] * 111.32 * np.cos(lat0), a[:, 0] * 110.57])


def submodel(m: ArrayModel, customers: np.ndarray, vehicles: np.ndarray) -> tuple[ArrayModel, np.ndarray]:
    """The restriction of ``m`` to some customers and vehicles; returns it and new-node -> old-node ids."""
    depots = np.unique(np.concatenate([m.starts[vehicles], m.ends[vehicles]]))
    old = np.concatenate([depots, np.asarray(customers, dtype=np.int64)])
    new_of = {int(o): i for i, o in enumerate(old)}
    first = {}
    for nv, v in enumerate(vehicles.tolist()):
        if v in m.first and m.first[v] in new_of:
            first[nv] = new_of[m.first[v]]
    sub = ArrayModel(
        dist=[d[np.ix_(old, old)] for d in m.dist],
        time=[t[np.ix_(old, old)] for t in m.time],
        vehicle_profile=m.vehicle_profile[vehicles],
        service=m.service[old],
        tw_open=m.tw_open[old],
        tw_close=m.tw_close[old],
        demand=m.demand[old],
        capacity=m.capacity[vehicles],
        starts=np.array([new_of[int(x)] for x in m.starts[vehicles]], dtype=np.int64),
        ends=np.array([new_of[int(x)] for x in m.ends[vehicles]], dtype=np.int64),
        shift_start=m.shift_start[vehicles],
        shift_end=m.shift_end[vehicles],
        customers=np.arange(len(depots), len(old), dtype=np.int64),
        allowed=m.allowed[np.ix_(old, vehicles)],
        penalty=m.penalty[old],
        due=m.due[old],
        late_cost=m.late_cost,
        first=first,
        vehicle_group=m.vehicle_group[vehicles],
        xy=None if m.xy is None else m.xy[old],
        break_open=m.break_open[vehicles],
        break_close=m.break_close[vehicles],
        break_s=m.break_s[vehicles],
    )
    return sub, old


def routes_from_plan(plan: Plan, problem: Problem, mapping: ProblemMapping) -> list[list[int]]:
    """Node routes (per vehicle, in technician order) from a Plan; unknown jobs are skipped."""
    out = []
    for t in problem.technicians:
        stops = plan.routes.get(t.id, [])
        out.append([mapping.node_of_job[s.job_id] for s in stops if s.job_id in mapping.node_of_job])
    return out


def plan_from_routes(problem: Problem, m: ArrayModel, mapping: ProblemMapping, routes: list[list[int]]) -> Plan:
    """Build the Plan (earliest schedule, distance, lateness, reasons) from node routes."""
    jobs = problem.jobs
    plan_routes: dict[Hashable, list[Stop]] = {}
    total_d = total_late = late_jobs = 0
    served: set[int] = set()
    for v, tech in enumerate(problem.technicians):
        route = routes[v] if v < len(routes) else []
        stops = []
        for node, (arr, start, dep, late) in zip(route, schedule(m, v, route), strict=True):
            stops.append(Stop(jobs[mapping.job_of_node[node]].id, arr, start, dep, late))
            total_late += late
            late_jobs += late > 0
            served.add(node)
        if route:
            total_d += route_distance(m, v, route)
        plan_routes[tech.id] = stops
    unserved = list(mapping.pre_unserved)
    for node, ji in mapping.job_of_node.items():
        if node not in served:
            unserved.append(Unserved(jobs[ji].id, "no_capacity_or_time"))
    return Plan(plan_routes, unserved, total_d, total_late, late_jobs)
