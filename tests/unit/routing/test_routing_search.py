"""The search pieces behind the Solomon figures: route states, the fleet probe, the final polish."""

import numpy as np
import pytest

from bench.check import check_solution
from bench.solomon import SolomonInstance, to_model
from routing.construct import RouteState, build_routes
from routing.model import MANDATORY, NO_DUE
from routing.solver import SolverOptions, _far_seeds, _homogeneous, _probe_fleet, _py_cost, solve_model


def _wide_windows(n=30, seed=5) -> SolomonInstance:
    """A 2-series-like instance: one depot, wide windows, capacity for everyone in one route."""
    rng = np.random.default_rng(seed)
    ready = np.concatenate([[0], rng.integers(0, 400, n)])
    return SolomonInstance(
        name="WIDE",
        vehicles=8,
        capacity=1000,
        xy=np.vstack([[50, 50], rng.uniform(0, 100, size=(n, 2))]),
        demand=np.concatenate([[0], rng.integers(1, 10, n)]),
        ready=ready,
        due=np.concatenate([[3000], ready[1:] + 600]),
        service=np.concatenate([[0], np.full(n, 10)]),
    )


def _naive_state(m, v, route):
    """Earliest starts, latest starts and due slack computed the plain way, position by position."""
    t = m.time[int(m.vehicle_profile[v])]
    nodes = [int(m.starts[v]), *route, int(m.ends[v])]
    S = [max(int(m.shift_start[v]), int(m.tw_open[nodes[0]]))]
    wait = [0]
    for a, b in zip(nodes, nodes[1:], strict=False):
        arr = S[-1] + int(m.service[a]) + int(t[a, b])
        S.append(max(arr, int(m.tw_open[b])))
        wait.append(S[-1] - arr)
    L = [0] * len(nodes)
    L[-1] = min(int(m.shift_end[v]), int(m.tw_close[nodes[-1]]))
    for i in range(len(nodes) - 2, -1, -1):
        L[i] = min(int(m.tw_close[nodes[i]]), L[i + 1] - int(t[nodes[i], nodes[i + 1]]) - int(m.service[nodes[i]]))
    own = [NO_DUE if m.due[x] >= NO_DUE else max(int(m.due[x]) - s, 0) for x, s in zip(nodes, S, strict=True)]
    sd = own[:]
    for i in range(len(nodes) - 2, -1, -1):
        sd[i] = min(own[i], wait[i + 1] + sd[i + 1])
    return S, L, sd


@pytest.mark.parametrize("with_due", [False, True])
def test_route_state_matches_the_position_by_position_computation(with_due):
    m = to_model(_wide_windows())
    if with_due:
        m.due[m.customers] = m.tw_open[m.customers] + 50
    routes, _ = build_routes(m)
    for v, r in enumerate(routes):
        st = RouteState(m, v, r)
        S, L, sd = _naive_state(m, v, r)
        assert st.S.tolist() == S
        assert st.L.tolist() == L
        assert st.slack_due.tolist() == sd


def test_far_seeds_start_with_the_customer_farthest_from_the_depot_and_spread_out():
    m = to_model(_wide_windows())
    seeds = _far_seeds(m, 3)
    assert len(seeds) == m.n_vehicles
    firsts = [r[0] for r in seeds if r]
    assert len(firsts) == 3 == len(set(firsts))
    depot = int(m.starts[0])
    assert firsts[0] == int(m.customers[np.argmax(m.dist[0][depot, m.customers])])
    assert all(not r for r in seeds[3:])


def test_the_fleet_probe_keeps_the_cheapest_start_and_serves_everyone():
    inst = _wide_windows()
    m = to_model(inst)
    routes0, _ = build_routes(m)
    opts = SolverOptions(fleet_probe=(2, 4))
    import time

    routes, info = _probe_fleet(m, routes0, opts, time.perf_counter() + 0.3)
    k0 = sum(1 for r in routes0 if r)
    assert set(info["fleet_probe"]) == {str(k0), str(k0 + 2), str(k0 + 4)}
    assert _py_cost(m, routes) == min(info["fleet_probe"].values())
    chk = check_solution(inst, routes)
    assert chk.feasible, chk.errors


def test_only_one_interchangeable_fleet_from_one_depot_is_probed():
    m = to_model(_wide_windows())
    assert _homogeneous(m)
    m.vehicle_group = np.arange(m.n_vehicles)  # field technicians are not interchangeable
    assert not _homogeneous(m)


def test_the_default_solver_probes_route_counts_and_stays_feasible_and_on_time():
    import time

    inst = _wide_windows()
    t0 = time.perf_counter()
    res = solve_model(to_model(inst), 0.9)
    assert time.perf_counter() - t0 < 1.5
    assert "fleet_start" in res.stats
    chk = check_solution(inst, res.routes)
    assert chk.feasible, chk.errors


def test_the_final_polish_never_returns_worse_routes_than_the_loop_found():
    inst = _wide_windows()
    m = to_model(inst)
    res = solve_model(m, 0.6, options=SolverOptions(polish_share=0.2, fleet_probe=()))
    assert check_solution(inst, res.routes).feasible
    assert res.objective == _py_cost(m, res.routes)


def test_routes_that_lose_a_must_serve_customer_are_never_cheaper_than_complete_ones():
    m = to_model(_wide_windows())
    m.penalty[m.customers] = MANDATORY  # e.g. started jobs; Solomon customers are droppable at 1e9
    routes, _ = build_routes(m)
    lost = [r[1:] if i == 0 else r for i, r in enumerate(routes)]
    assert _py_cost(m, lost) > _py_cost(m, routes) + 10**14
