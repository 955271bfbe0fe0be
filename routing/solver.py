"""The OR-Tools model (the only module importing ortools), in the routing sample's order:
data, index manager, model, transit callbacks, arc costs, dimensions, search parameters, solve,
solution returned as data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from .construct import build_routes
from .model import (
    MANDATORY,
    NO_DUE,
    ArrayModel,
    from_problem,
    plan_from_routes,
    routes_from_plan,
)
from .problem import Plan, Problem


@dataclass(frozen=True)
class SolverOptions:
    """Tuning knobs; the defaults are what docs/routing.md measured best."""

    first_solution: str = "own"  # "own" (regret insertion handed over) or an OR-Tools strategy name
    regret: bool = True  # own construction: regret-2 (True) or cheapest insertion
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    iterated_local_search: bool = False  # OR-Tools ILS with SISR ruin & recreate
    matrix_callbacks: bool = False  # RegisterTransitMatrix instead of Python callbacks
    neighbors_ratio: float = 1.0  # < 1 limits local-search operators to the nearest neighbours
    min_neighbors: int = 1
    ils_auto_temperature: bool = False  # simulated-annealing temperatures derived from the instance
    gls_lambda: float | None = None  # guided local search lambda (OR-Tools default 0.1)
    log_search: bool = False


@dataclass
class SolveResult:
    """Raw result on the array model: routes are customer-node lists per vehicle."""

    routes: list[list[int]]
    dropped: list[int]
    objective: int
    seconds: float
    first_seconds: float = 0.0
    first_distance: int | None = None
    stats: dict = field(default_factory=dict)


def _params(opts: SolverOptions, time_limit_s: float) -> pywrapcp.DefaultRoutingSearchParameters:
    p = pywrapcp.DefaultRoutingSearchParameters()
    fs = "PARALLEL_CHEAPEST_INSERTION" if opts.first_solution == "own" else opts.first_solution
    p.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, fs)
    p.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, opts.metaheuristic)
    if opts.neighbors_ratio < 1.0:
        p.ls_operator_neighbors_ratio = opts.neighbors_ratio
        p.ls_operator_min_neighbors = opts.min_neighbors
    if opts.iterated_local_search:
        p.use_iterated_local_search = True
        rr = p.iterated_local_search_parameters.ruin_recreate_parameters
        del rr.ruin_strategies[:]
        sisr = rr.ruin_strategies.add().sisr
        sisr.max_removed_sequence_size = 10
        sisr.avg_num_removed_visits = 10
        sisr.bypass_factor = 0.01
        if opts.ils_auto_temperature:
            sa = p.iterated_local_search_parameters.reference_solution_acceptance_strategy.simulated_annealing
            sa.automatic_temperatures = True
    if opts.gls_lambda is not None:
        p.guided_local_search_lambda_coefficient = opts.gls_lambda
    p.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    p.log_search = opts.log_search
    return p


def solve_model(
    m: ArrayModel,
    time_limit_s: float = 5.0,
    initial_routes: list[list[int]] | None = None,
    options: SolverOptions | None = None,
) -> SolveResult:
    """Solve an :class:`ArrayModel` with OR-Tools within ``time_limit_s`` (construction included)."""
    opts = options or SolverOptions()
    t_begin = time.perf_counter()
    V = m.n_vehicles
    # data: plain nested lists index fastest in Python callbacks
    nprof = len(m.dist)
    dist_l = [d.tolist() for d in m.dist]
    tserv = [(t + m.service[:, None]).tolist() for t in m.time]  # travel plus service at the origin

    # index manager and model
    manager = pywrapcp.RoutingIndexManager(m.n_nodes, V, [int(s) for s in m.starts], [int(e) for e in m.ends])
    routing = pywrapcp.RoutingModel(manager)
    node_of = [manager.IndexToNode(i) for i in range(routing.Size() + V)]

    # transit callbacks
    dist_cb, time_cb = [], []
    for p in range(nprof):
        if opts.matrix_callbacks:
            dist_cb.append(routing.RegisterTransitMatrix(dist_l[p]))
            time_cb.append(routing.RegisterTransitMatrix(tserv[p]))
        else:
            dp, tp = dist_l[p], tserv[p]
            dist_cb.append(routing.RegisterTransitCallback(lambda i, j, dp=dp: dp[node_of[i]][node_of[j]]))
            time_cb.append(routing.RegisterTransitCallback(lambda i, j, tp=tp: tp[node_of[i]][node_of[j]]))

    # arc costs
    prof = [int(x) for x in m.vehicle_profile]
    if nprof == 1:
        routing.SetArcCostEvaluatorOfAllVehicles(dist_cb[0])
    else:
        for v in range(V):
            routing.SetArcCostEvaluatorOfVehicle(dist_cb[prof[v]], v)

    # dimensions: time (shift = vehicle window, hard appointment windows, soft due) and capacity
    horizon = m.horizon
    routing.AddDimensionWithVehicleTransits([time_cb[prof[v]] for v in range(V)], horizon, horizon, False, "Time")
    tdim = routing.GetDimensionOrDie("Time")
    for c in m.customers.tolist():
        idx = manager.NodeToIndex(c)
        tdim.CumulVar(idx).SetRange(int(m.tw_open[c]), int(m.tw_close[c]))
        if m.due[c] < NO_DUE:
            tdim.SetCumulVarSoftUpperBound(idx, int(m.due[c]), int(m.late_cost))
    for v in range(V):
        s0, s1 = int(m.shift_start[v]), int(m.shift_end[v])
        tdim.CumulVar(routing.Start(v)).SetRange(max(s0, int(m.tw_open[m.starts[v]])), s1)
        tdim.CumulVar(routing.End(v)).SetRange(s0, min(s1, int(m.tw_close[m.ends[v]])))
    demand = [int(x) for x in m.demand]
    if any(demand):
        dcb = routing.RegisterUnaryTransitVector(demand)
        routing.AddDimensionWithVehicleCapacity(dcb, 0, [int(c) for c in m.capacity], True, "Capacity")

    # skills/locks, drop penalties, started-first
    all_v = list(range(V))
    for c in m.customers.tolist():
        idx = manager.NodeToIndex(c)
        vs = [v for v in all_v if m.allowed[c, v]]
        optional = m.penalty[c] != MANDATORY
        if len(vs) < V:
            # SetAllowedVehiclesForIndex's absl::Span binding rejects Python lists in ortools 9.15;
            # restricting the vehicle variable is the equivalent (-1 = unperformed, if droppable).
            routing.VehicleVar(idx).SetValues(([-1] if optional else []) + vs)
        if optional:
            routing.AddDisjunction([idx], int(m.penalty[c]))
    for v, c in m.first.items():
        routing.solver().Add(routing.NextVar(routing.Start(v)) == manager.NodeToIndex(c))

    # search parameters
    params = _params(opts, time_limit_s)
    routing.CloseModelWithParameters(params)

    # first solution: own construction (seeded by the warm start) handed over as routes
    first_distance = None
    t_first = time.perf_counter()
    assignment = None
    if opts.first_solution == "own" or initial_routes:
        routes0, _ = build_routes(m, seed=initial_routes, regret=opts.regret)
        idx_routes = [[manager.NodeToIndex(c) for c in r] for r in routes0]
        assignment = routing.ReadAssignmentFromRoutes(idx_routes, True)
        if assignment is not None:
            first_distance = sum(
                int(m.dist[prof[v]][a, b])
                for v, r in enumerate(routes0)
                if r
                for a, b in zip([int(m.starts[v]), *r], [*r, int(m.ends[v])], strict=True)
            )
    first_s = time.perf_counter() - t_first
    remaining = max(0.05, time_limit_s - (time.perf_counter() - t_begin))
    params.time_limit.FromMilliseconds(int(remaining * 1000))

    # solve
    if assignment is not None:
        solution = routing.SolveFromAssignmentWithParameters(assignment, params)
    else:
        solution = routing.SolveWithParameters(params)
    if solution is None:
        return SolveResult([[] for _ in range(V)], m.customers.tolist(), -1, time.perf_counter() - t_begin, first_s)

    # solution as data
    routes = []
    for v in range(V):
        r, i = [], solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(i):
            r.append(manager.IndexToNode(i))
            i = solution.Value(routing.NextVar(i))
        routes.append(r)
    served = {c for r in routes for c in r}
    dropped = [c for c in m.customers.tolist() if c not in served]
    return SolveResult(
        routes,
        dropped,
        solution.ObjectiveValue(),
        time.perf_counter() - t_begin,
        first_s,
        first_distance,
        {"status": routing.status()},
    )


def solve(
    problem: Problem,
    time_limit_s: float = 5.0,
    initial: Plan | None = None,
    options: SolverOptions | None = None,
) -> Plan:
    """Plan the technicians' day: distance-minimal routes honouring skills, shifts, windows, max_jobs,
    locks and started jobs; late-against-due penalised per second; unservable jobs dropped with a reason.

    ``initial`` (a previous Plan) warm-starts the search; jobs not in it are inserted by the constructor.
    """
    m, mapping = from_problem(problem)
    if len(m.customers) == 0:
        return plan_from_routes(problem, m, mapping, [[] for _ in problem.technicians])
    seed = routes_from_plan(initial, problem, mapping) if initial is not None else None
    res = solve_model(m, time_limit_s=time_limit_s, initial_routes=seed, options=options)
    return plan_from_routes(problem, m, mapping, res.routes)
