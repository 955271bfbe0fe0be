"""The OR-Tools model (the only module importing ortools), in the routing sample's order:
data, index manager, model, transit callbacks, arc costs, dimensions, search parameters, solve,
solution returned as data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from .construct import StateCache, build_routes
from .decompose import solve_by_area
from .model import (
    MANDATORY,
    NO_DUE,
    ArrayModel,
    from_problem,
    plan_from_routes,
    routes_from_plan,
    submodel,
)
from .problem import Plan, Problem

UNSERVED_MANDATORY = 10**15  # cost of leaving out a must-serve customer in the Python-side objective


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
    decompose_above: int | None = None  # split by area when there are more customers than this (off)
    decompose_share: float = 0.6  # share of the time limit spent on the sectors
    sector_size: int = 200
    ruin_recreate: bool = True  # own ILS: SISR-like ruin, regret recreate, OR-Tools descent, annealing acceptance
    ruin_share: float = 1.0  # share of the search time given to the ruin & recreate loop (rest: GLS first)
    ruin_max: int = 30  # most customers removed per ruin
    accept_threshold: float = 0.01  # record-to-record: accept up to this relative worsening (shrinks to 0)
    # > 0: the threshold is a share of this many customers' worth of cost, not of the whole plan's (a
    # step moves a few dozen customers whatever the size: 1 % of a 1,000-customer plan is a random walk)
    accept_per_customers: int = 200
    descent_every: int = 0  # > 0: OR-Tools' descent every k-th ruin & recreate step (0: numpy steps only)
    # ... and this k where routes are long (on average fleet_probe_min_len customers or more, Solomon's
    # 2-series) and customers few (up to descent_long_max_customers): with a few thousand steps in the
    # budget, a descent reorders long routes that string ruins rarely straighten out
    descent_every_long: int = 20
    descent_long_max_customers: int = 150
    ruin_fast_ls: bool = True  # neighbour-limited descent without the LNS operators inside the loop
    # > 0: the loop ends early once this many steps (at least one per ten customers: a step ruins a
    # dozen or two), and at least half of all its steps, found no better plan (a re-plan warm-started
    # from routes that are already good); 0: at the deadline
    stall_iterations: int = 0
    fleet_probe: tuple[int, ...] = (3, 6)  # also start from constructions seeded with this many more routes
    fleet_probe_share: float = 0.2  # share of the time limit spent choosing among those starts
    fleet_probe_margin: float = 0.0  # a start with more routes must be this much cheaper than the regret one
    fleet_probe_min_len: float = 12.0  # ... only when the construction's routes average this many customers
    polish_share: float = 0.0  # share of the loop's time kept for a last descent from the best routes
    multi_armed_bandit: bool = False  # OR-Tools picks its local-search operators by a multi-armed bandit
    sector_probe: bool = True  # the route-count probe also inside the decomposition's sectors (long routes)
    recreate_neighbours: int = 0  # > 0: a recreate offers only routes near the removed customers (granular)
    first_descent_share: float = 0.1  # most of the search time OR-Tools' first descent may take (loop on)
    # > 0: where routes are short (below fleet_probe_min_len customers on average), every k-th step is
    # followed by OR-Tools' descent on just the routes that step changed (their sub-model: those
    # routes' vehicles and customers), the local search after a perturbation that PyVRP's iterated
    # local search has, on OR-Tools' operators; at most touched_descent_max_s each. Long routes keep
    # their whole-plan descents (descent_every_long): a sub-model of long routes costs as much.
    touched_descent_every: int = 0  # off: see docs/routing.md, "Issue 22, fourth part" (3 was measured)
    touched_descent_max_s: float = 0.3
    seed: int = 1
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


# the descent on a step's routes: the own construction keeps the step's routes, then GREEDY_DESCENT
_TOUCHED_OPTIONS = SolverOptions(ruin_recreate=False, metaheuristic="GREEDY_DESCENT", fleet_probe=())


def _params(opts: SolverOptions, time_limit_s: float) -> pywrapcp.DefaultRoutingSearchParameters:
    p = pywrapcp.DefaultRoutingSearchParameters()
    fs = "PARALLEL_CHEAPEST_INSERTION" if opts.first_solution in ("own", "own_off") else opts.first_solution
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
    if opts.multi_armed_bandit:
        p.use_multi_armed_bandit_concatenate_operators = True
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
    if m.has_breaks:
        # The numpy construction, the area split and the ruin & recreate loop time routes
        # without breaks: with breaks OR-Tools builds and searches on its own.
        opts = replace(opts, first_solution="own_off", decompose_above=None, ruin_recreate=False, fleet_probe=())
        initial_routes = None
    if (
        opts.decompose_above is not None
        and len(m.customers) > opts.decompose_above
        and m.xy is not None
        and initial_routes is None
    ):
        sub_opts = replace(opts, decompose_above=None, fleet_probe=())
        sector_opts = replace(opts, decompose_above=None) if opts.sector_probe else sub_opts
        seed, info = solve_by_area(
            m,
            time_limit_s,
            lambda sub, t: solve_model(sub, t, options=sector_opts).routes,
            sector_size=opts.sector_size,
            share=opts.decompose_share,
        )
        remaining = max(0.1, time_limit_s - (time.perf_counter() - t_begin))
        res = solve_model(m, remaining, initial_routes=seed, options=sub_opts)
        res.seconds = time.perf_counter() - t_begin
        res.stats.update(info)
        return res
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

    if m.has_breaks:
        _add_breaks(m, routing, manager, tdim)

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
    probe: dict = {}
    if opts.first_solution == "own" or initial_routes:
        routes0, _ = build_routes(m, seed=initial_routes, regret=opts.regret)
        if _probe_wanted(m, routes0, opts) and initial_routes is None:
            share = opts.fleet_probe_share * max(0.0, time_limit_s - (time.perf_counter() - t_begin))
            routes0, probe = _probe_fleet(m, routes0, opts, time.perf_counter() + share)
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
    rr = opts.ruin_recreate and len(m.customers) >= 10
    if rr:
        gls_s = (1 - opts.ruin_share) * remaining
        params.time_limit.FromMilliseconds(max(1, int(gls_s * 1000)))
        if gls_s < 0.05:  # no GLS phase: just descend to the first local optimum
            params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
            params.time_limit.FromMilliseconds(max(1, int(opts.first_descent_share * remaining * 1000)))
    if rr and assignment is not None and opts.first_descent_share <= 0:
        solution = assignment
    elif assignment is not None:
        solution = routing.SolveFromAssignmentWithParameters(assignment, params)
    else:
        solution = routing.SolveWithParameters(params)
    if solution is None and assignment is not None:  # out of time before the search accepted anything
        solution = assignment
    if solution is None:
        return SolveResult([[] for _ in range(V)], m.customers.tolist(), -1, time.perf_counter() - t_begin, first_s)
    routes = _extract(routing, manager, solution, V)
    objective = solution.ObjectiveValue()
    stats: dict = {"status": routing.status(), **probe}
    if rr:
        routes, objective, stats["ils"] = _ruin_recreate(
            m, routing, manager, params, opts, routes, objective, t_begin + time_limit_s
        )
    served = {c for r in routes for c in r}
    dropped = [c for c in m.customers.tolist() if c not in served]
    return SolveResult(routes, dropped, objective, time.perf_counter() - t_begin, first_s, first_distance, stats)


def _add_breaks(m: ArrayModel, routing, manager, tdim) -> None:
    """Each vehicle's break as an OR-Tools break interval: a fixed duration starting within its
    window, never overlapping a visit's service (the node visit transits)."""
    solver = routing.solver()
    visit = [int(m.service[manager.IndexToNode(i)]) for i in range(routing.Size())]
    for v in range(m.n_vehicles):
        dur = int(m.break_s[v])
        b0, latest = max(int(m.break_open[v]), int(m.shift_start[v])), int(m.break_close[v]) - dur
        if dur <= 0 or latest < b0:
            continue  # no break, or its window is over before the day starts
        interval = solver.FixedDurationIntervalVar(b0, latest, dur, False, f"break {v}")
        tdim.SetBreakIntervalsOfVehicle([interval], v, visit)


def _extract(routing, manager, solution, V: int) -> list[list[int]]:
    routes = []
    for v in range(V):
        r, i = [], solution.Value(routing.NextVar(routing.Start(v)))
        while not routing.IsEnd(i):
            r.append(manager.IndexToNode(i))
            i = solution.Value(routing.NextVar(i))
        routes.append(r)
    return routes


def _ruin(m: ArrayModel, routes: list[list[int]], rng: np.random.Generator, max_remove: int) -> list[list[int]]:
    """SISR-like ruin: strings cut from the routes nearest to a random seed customer."""
    where = {c: v for v, r in enumerate(routes) for c in r}
    served = np.array(sorted(where), dtype=np.int64)
    if served.size == 0:
        return routes
    seed = int(rng.choice(served))
    d = m.dist[0][seed, served]
    k_total = int(rng.integers(5, max(6, min(max_remove, served.size // 4) + 1)))
    removed: set[int] = set()
    touched: set[int] = set()
    for c in served[np.argsort(d, kind="stable")].tolist():
        if len(removed) >= k_total:
            break
        v = where[c]
        if v in touched:
            continue
        touched.add(v)
        r = routes[v]
        length = int(rng.integers(1, min(len(r), 10) + 1))
        pos = r.index(c)
        start = max(0, min(pos - int(rng.integers(0, length)), len(r) - length))
        removed.update(r[start : start + length])
    return [[c for c in r if c not in removed] for r in routes]


def _neighbours(m: ArrayModel, k: int) -> np.ndarray | None:
    """The ``k`` nearest customers of every customer node (first travel profile; -1 rows elsewhere)."""
    cust = m.customers
    k = min(k, len(cust) - 1)
    if k <= 0:
        return None
    d = m.dist[0][np.ix_(cust, cust)].astype(float)
    np.fill_diagonal(d, np.inf)
    out = np.full((m.n_nodes, k), -1, dtype=np.int64)
    out[cust] = cust[np.argpartition(d, k - 1, axis=1)[:, :k]]
    return out


def _compete(m: ArrayModel, before: list[list[int]], after: list[list[int]], nb: np.ndarray | None):
    """Granular recreate: the routes a ruin cut, and the routes holding a near neighbour of a removed
    customer, may take the removed customers back; far routes are left as they were (never a good place)."""
    if nb is None:
        return None
    mask = np.array([len(a) != len(b) for a, b in zip(after, before, strict=True)], dtype=bool)
    where = np.full(m.n_nodes, -1, dtype=np.int64)
    for v, r in enumerate(after):
        where[r] = v
    removed = [c for v, r in enumerate(before) if mask[v] for c in r if where[c] < 0]
    if removed:
        near = where[nb[removed].ravel()]
        mask[near[near >= 0]] = True
    return mask


def _py_cost(m: ArrayModel, routes: list[list[int]], cache: StateCache | None = None) -> int:
    """The model's objective recomputed in Python: distance, lateness cost, drop penalties."""
    cache = cache or StateCache(m)
    cost = 0
    served = set()
    for v, r in enumerate(routes):
        if not r:
            continue
        cost += cache.cost(v, r)
        served.update(r)
    for c in m.customers.tolist():
        if c not in served:
            # a must-serve customer left out makes the routes unusable: price it above any drop
            cost += int(m.penalty[c]) if m.penalty[c] != MANDATORY else UNSERVED_MANDATORY
    return cost


def _spare_vehicles(m: ArrayModel, routes: list[list[int]]) -> int:
    """Vehicles with nothing to do (and no started job): the only room a route-count probe has."""
    return sum(1 for v, r in enumerate(routes) if not r and v not in m.first)


def _long_routes(routes: list[list[int]], opts: SolverOptions) -> bool:
    """Routes average ``fleet_probe_min_len`` customers or more (wide windows: Solomon's 2-series)."""
    k = sum(1 for r in routes if r)
    return k > 0 and sum(len(r) for r in routes) / k >= opts.fleet_probe_min_len


def _probe_wanted(m: ArrayModel, routes0: list[list[int]], opts: SolverOptions) -> bool:
    """Probe route counts for long routes (wide windows, e.g. Solomon's 2-series) when vehicles are idle.

    Any fleet: one depot (Solomon) or technicians from their own homes; a day with every technician
    busy has nothing to probe. On short routes (the 1-series: 5-10 customers a route) the probe only
    costs search time (measured: +1.15 points of mean gap at 5 s over 10 instances), so it is skipped there."""
    return (
        opts.ruin_recreate
        and bool(opts.fleet_probe)
        and _long_routes(routes0, opts)
        and _spare_vehicles(m, routes0) > 0
    )


def _far_seeds(m: ArrayModel, k: int) -> list[list[int]]:
    """``k`` one-customer routes on the customers farthest from every vehicle start and from each other,
    each on the free vehicle (allowed to serve it, no started job) whose start is nearest to it.

    With one depot and one fleet this is farthest-first from the depot on vehicles 0, 1, 2, ..."""
    d = m.dist[0]
    cust = m.customers
    seeds: list[list[int]] = [[] for _ in range(m.n_vehicles)]
    free = [v for v in range(m.n_vehicles) if v not in m.first]
    gap = d[np.unique(m.starts)][:, cust].min(axis=0).astype(float)
    for _ in range(min(k, len(cust), len(free))):
        i = int(np.argmax(gap))
        c = int(cust[i])
        able = [v for v in free if m.allowed[c, v]]
        if able:
            v = min(able, key=lambda v: (int(m.dist[int(m.vehicle_profile[v])][m.starts[v], c]), v))
            seeds[v] = [c]
            free.remove(v)
        gap = np.minimum(gap, d[c, cust])
        gap[i] = -1.0
    return seeds


def _probe_fleet(m: ArrayModel, routes0: list[list[int]], opts: SolverOptions, deadline: float):
    """Start from the regret construction and from constructions seeded with more routes (farthest
    customers first), give each the same short numpy ruin & recreate, and keep the best.

    Regret insertion rarely opens a route once the others are long, and the ruin & recreate loop rarely
    changes the route count, so on wide-window instances (Solomon's 2-series) it stays in the fleet size
    the construction happened to pick, typically 1-3 routes fewer than the distance-best solutions use.
    """
    k0 = sum(1 for r in routes0 if r)
    starts = [(k0, routes0)]
    for extra in opts.fleet_probe:
        k = k0 + extra
        if extra <= _spare_vehicles(m, routes0):
            starts.append((k, build_routes(m, seed=_far_seeds(m, k), regret=opts.regret)[0]))
    step = _Step(m, opts)
    t0 = time.perf_counter()
    threshold = _threshold(m, opts)
    slot = max(0.0, deadline - t0) / len(starts)
    results = []
    for i, (k, routes) in enumerate(starts):
        cur = best = routes
        cur_obj = best_obj = _py_cost(m, routes, step.cache)
        end = t0 + (i + 1) * slot
        begin = time.perf_counter()
        while (now := time.perf_counter()) < end:
            cand, obj = step(cur)
            frac = max(0.0, (end - now) / max(1e-3, end - begin))
            if obj < cur_obj or obj < best_obj * (1 + threshold * frac):
                cur, cur_obj = cand, obj
                if obj < best_obj:
                    best, best_obj = cand, obj
        results.append((best_obj, k, best))
    # more routes must win clearly: on C2 instances a 1 % lead after the probe led into a worse basin
    base = results[0][0] * (1 - opts.fleet_probe_margin)
    best_obj, k, best = min(results, key=lambda x: x[0] if x[1] != k0 else min(x[0], base))
    return best, {"fleet_probe": {str(r[1]): int(r[0]) for r in results}, "fleet_start": k}


class _Step:
    """One ruin & recreate step: a SISR-like ruin around a random customer, a regret recreate, the
    candidate's objective. Keeps the search's route states and costs (most routes survive a step)."""

    def __init__(self, m: ArrayModel, opts: SolverOptions) -> None:
        self.m, self.opts = m, opts
        self.rng = np.random.default_rng(opts.seed)
        self.nb = _neighbours(m, opts.recreate_neighbours) if opts.recreate_neighbours else None
        self.cache = StateCache(m)

    def __call__(self, cur: list[list[int]]) -> tuple[list[list[int]], int]:
        m = self.m
        ruined = _ruin(m, cur, self.rng, self.opts.ruin_max)
        compete = _compete(m, cur, ruined, self.nb)
        cand, _ = build_routes(m, seed=ruined, regret=True, compete=compete, cache=self.cache)
        return cand, _py_cost(m, cand, self.cache)


def _descend_touched(
    m: ArrayModel, before: list[list[int]], after: list[list[int]], limit_s: float
) -> list[list[int]] | None:
    """``after`` with the routes that differ from ``before`` run through OR-Tools' descent on their own
    sub-model (their vehicles and customers, nothing else); None when no route changed or the
    descent could not keep every customer. The other routes are returned as they were."""
    vs = [v for v, (a, b) in enumerate(zip(before, after, strict=True)) if a != b and b]
    if not vs or limit_s < 0.005:
        return None
    customers = np.array([c for v in vs for c in after[v]], dtype=np.int64)
    sub, old = submodel(m, customers, np.array(vs, dtype=np.int64))
    new_of = {int(o): i for i, o in enumerate(old.tolist())}
    res = solve_model(
        sub,
        limit_s,
        initial_routes=[[new_of[c] for c in after[v]] for v in vs],
        options=_TOUCHED_OPTIONS,
    )
    if res.dropped or res.objective < 0:
        return None
    out = list(after)
    for i, v in enumerate(vs):
        out[v] = [int(old[c]) for c in res.routes[i]]
    return out


def _threshold(m: ArrayModel, opts: SolverOptions) -> float:
    """Record-to-record threshold as a share of the best plan's cost (before shrinking to zero)."""
    n = len(m.customers)
    if opts.accept_per_customers > 0 and n > opts.accept_per_customers:
        return opts.accept_threshold * opts.accept_per_customers / n
    return opts.accept_threshold


def _stall_steps(m: ArrayModel, opts: SolverOptions) -> int:
    """Steps without a better plan that end the search (0: never): at least one per ten customers,
    so a large plan's search is not cut before its steps have been round the whole of it."""
    return max(opts.stall_iterations, len(m.customers) // 10) if opts.stall_iterations > 0 else 0


def _descent_every(m: ArrayModel, routes: list[list[int]], opts: SolverOptions) -> int:
    """Every how many steps the loop runs an OR-Tools descent (0: never): ``descent_every_long`` where
    the routes it starts from are long and the customers few, ``descent_every`` elsewhere."""
    few = len(m.customers) <= opts.descent_long_max_customers
    if opts.descent_every_long > 0 and few and _long_routes(routes, opts):
        return opts.descent_every_long
    return opts.descent_every


def _touched_every(routes: list[list[int]], opts: SolverOptions) -> int:
    """Every how many steps the routes a step changed get their own descent (0: never): on short
    routes only (tuning seeds: the 1-series about a quarter of a point better, the 2-series not;
    docs/routing.md, "Issue 22, fourth part", also for the held-back check that did not show it)."""
    return 0 if _long_routes(routes, opts) else opts.touched_descent_every


def _stalled(iterations: int, last_best: int, stall: int) -> bool:
    """PyVRP's "no improvement" stop, scale-free: `stall` steps and half of all steps without a
    better plan (a long search that still improves now and then goes on)."""
    idle = iterations - last_best
    return stall > 0 and idle >= stall and idle * 2 >= iterations


def _ruin_recreate(m, routing, manager, params, opts, routes, objective, deadline):
    """Iterated local search driven from Python on the closed model: ruin, regret-recreate, descend, accept."""
    step = _Step(m, opts)
    ls = pywrapcp.DefaultRoutingSearchParameters()
    ls.CopyFrom(params)
    ls.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    if opts.ruin_fast_ls:
        ls.ls_operator_neighbors_ratio = 0.2
        ls.ls_operator_min_neighbors = 10
        ops = ls.local_search_operators
        off = optional_boolean_pb2.BOOL_FALSE
        for name in (
            "use_global_cheapest_insertion_path_lns",
            "use_local_cheapest_insertion_path_lns",
            "use_relocate_path_global_cheapest_insertion_insert_unperformed",
            "use_global_cheapest_insertion_visit_types_lns",
            "use_local_cheapest_insertion_visit_types_lns",
            "use_relocate_expensive_chain",
            "use_lin_kernighan",
        ):
            setattr(ops, name, off)
    best, best_obj = routes, objective
    cur, cur_obj = routes, objective
    t_start = time.perf_counter()
    # keep a little time for a last descent from the best routes (they may come from a numpy step)
    reserve = opts.polish_share * max(0.0, deadline - t_start) if opts.polish_share > 0 else 0.0
    loop_end = deadline - reserve
    span = max(1e-3, loop_end - t_start)
    it = last_best_it = 0
    best_descended = True  # the routes handed in come out of OR-Tools' search
    prof = [0.0, 0.0, 0.0, 0, 0.0, 0]  # recreate s, read s, descent s, descents, touched s, touched descents
    best_obj = cur_obj = _py_cost(m, routes, step.cache)
    threshold = _threshold(m, opts)
    stall = _stall_steps(m, opts)
    every = _descent_every(m, routes, opts)
    touched_every = _touched_every(routes, opts)

    def descend(cand: list[list[int]], limit_s: float) -> list[list[int]] | None:
        t2 = time.perf_counter()
        a = routing.ReadAssignmentFromRoutes([[manager.NodeToIndex(c) for c in r] for r in cand], True)
        t3 = time.perf_counter()
        prof[1] += t3 - t2
        if a is None:
            return None
        ls.time_limit.FromMilliseconds(max(1, int(limit_s * 1000)))
        sol = routing.SolveFromAssignmentWithParameters(a, ls)
        prof[2] += time.perf_counter() - t3
        prof[3] += 1
        return None if sol is None else _extract(routing, manager, sol, len(routes))

    while True:
        left = loop_end - time.perf_counter()
        if left < 0.02 or _stalled(it, last_best_it, stall):
            break
        it += 1
        t1 = time.perf_counter()
        cand, obj = step(cur)
        prof[0] += time.perf_counter() - t1
        descended = every > 0 and it % every == 0
        if descended:
            cand = descend(cand, min(left, 1.0))
            if cand is None:
                continue
            obj = _py_cost(m, cand, step.cache)
        elif touched_every > 0 and it % touched_every == 0:
            t2 = time.perf_counter()
            tidied = _descend_touched(m, cur, cand, min(left, opts.touched_descent_max_s))
            prof[4] += time.perf_counter() - t2
            if tidied is not None:
                prof[5] += 1
                tidied_obj = _py_cost(m, tidied, step.cache)
                if tidied_obj <= obj:
                    cand, obj = tidied, tidied_obj
        # record-to-record acceptance, threshold shrinking to zero at the deadline
        frac = max(0.0, (loop_end - time.perf_counter()) / span)
        if obj < cur_obj or obj < best_obj * (1 + threshold * frac):
            cur, cur_obj = cand, obj
            if obj < best_obj:
                best, best_obj, best_descended, last_best_it = cand, obj, descended, it
    polished = False
    if reserve > 0 and not best_descended and deadline - time.perf_counter() > 0.01:
        cand = descend(best, deadline - time.perf_counter())
        if cand is not None:
            obj = _py_cost(m, cand, step.cache)
            if obj < best_obj:
                best, best_obj, polished = cand, obj, True
    return (
        best,
        best_obj,
        {
            "iterations": it,
            "last_best_iteration": last_best_it,
            "polished": polished,
            "recreate_s": round(prof[0], 2),
            "read_s": round(prof[1], 2),
            "descent_s": round(prof[2], 2),
            "descents": prof[3],
            "touched_s": round(prof[4], 2),
            "touched_descents": prof[5],
        },
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
    t0 = time.perf_counter()
    m, mapping = from_problem(problem)
    if len(m.customers) == 0:
        return plan_from_routes(problem, m, mapping, [[] for _ in problem.technicians])
    seed = routes_from_plan(initial, problem, mapping) if initial is not None else None
    left = max(0.05, time_limit_s - (time.perf_counter() - t0))  # the matrix counts against the budget
    res = solve_model(m, time_limit_s=left, initial_routes=seed, options=options)
    return plan_from_routes(problem, m, mapping, res.routes)
