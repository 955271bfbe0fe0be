"""Benchmark peers on an ArrayModel: PyVRP and VROOM (pyvroom). Benchmark-only (requirements-bench.txt)."""

from __future__ import annotations

import time

import numpy as np

from routing.model import ArrayModel

FORBIDDEN = 10**8  # arc length into a client a vehicle may not serve (skills) for PyVRP


def _groups_of_allowed(m: ArrayModel) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Distinct allowed-vehicle patterns of customers and each vehicle's pattern membership."""
    cols = m.allowed[m.customers]  # (C, V)
    patterns: dict[bytes, int] = {}
    pat_of_cust = np.array([patterns.setdefault(row.tobytes(), len(patterns)) for row in cols], dtype=np.int64)
    return list(patterns), pat_of_cust


def solve_pyvrp(m: ArrayModel, time_limit_s: float, seed: int = 1) -> tuple[list[list[int]], float]:
    """PyVRP (HGS) with MaxRuntime; skills via one distance profile per vehicle skill set."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    t0 = time.perf_counter()
    V = m.n_vehicles
    depot_nodes = sorted(set(m.starts.tolist()) | set(m.ends.tolist()))
    cust = m.customers.tolist()
    perm = np.array(depot_nodes + cust, dtype=np.int64)
    didx = {n: i for i, n in enumerate(depot_nodes)}
    locations = [pyvrp.Location(x=0.0, y=0.0) for _ in perm]
    depots = [pyvrp.Depot(location=i) for i in range(len(depot_nodes))]
    clients = [
        pyvrp.Client(
            location=len(depot_nodes) + j,
            delivery=[int(m.demand[c])],
            service_duration=int(m.service[c]),
            tw_early=int(m.tw_open[c]),
            tw_late=int(m.tw_close[c]),
        )
        for j, c in enumerate(cust)
    ]
    # profile per (travel profile, allowed column) so skills are respected
    allowed_c = m.allowed[m.customers]
    keys: dict[tuple[int, bytes], int] = {}
    prof_of_v = [keys.setdefault((int(m.vehicle_profile[v]), allowed_c[:, v].tobytes()), len(keys)) for v in range(V)]
    dms, tms = [], []
    nd = len(depot_nodes)
    for (p, colbytes), _ in sorted(keys.items(), key=lambda kv: kv[1]):
        d = m.dist[p][np.ix_(perm, perm)].copy()
        col = np.frombuffer(colbytes, dtype=bool)
        d[:, nd:][:, ~col] = FORBIDDEN
        np.fill_diagonal(d, 0)
        dms.append(d)
        tms.append(m.time[p][np.ix_(perm, perm)])
    # identical vehicles share a type
    vt_key: dict[tuple, list[int]] = {}
    for v in range(V):
        k = (
            int(m.starts[v]),
            int(m.ends[v]),
            int(m.capacity[v]),
            int(m.shift_start[v]),
            int(m.shift_end[v]),
            prof_of_v[v],
        )
        vt_key.setdefault(k, []).append(v)
    vtypes, vt_vehicles = [], []
    for (s, e, cap, s0, s1, prof), vs in vt_key.items():
        vtypes.append(
            pyvrp.VehicleType(
                num_available=len(vs),
                capacity=[cap],
                start_depot=didx[s],
                end_depot=didx[e],
                tw_early=s0,
                tw_late=s1,
                profile=prof,
            )
        )
        vt_vehicles.append(vs)
    data = pyvrp.ProblemData(locations, clients, depots, vtypes, dms, tms)
    remaining = max(0.1, time_limit_s - (time.perf_counter() - t0))
    res = pyvrp.solve(data, stop=MaxRuntime(remaining), seed=seed, display=False)
    routes: list[list[int]] = [[] for _ in range(V)]
    used = {i: 0 for i in range(len(vtypes))}
    for r in res.best.routes():
        vt = r.vehicle_type()
        v = vt_vehicles[vt][used[vt]]
        used[vt] += 1
        routes[v] = [cust[a.idx] for a in r if a.is_client()]
    return routes, time.perf_counter() - t0


def solve_vroom(
    m: ArrayModel, time_limit_s: float, exploration_level: int = 5, threads: int = 1
) -> tuple[list[list[int]], float]:
    """VROOM with a distance cost matrix; its timeout bounds only the improvement phase (wall time returned)."""
    from datetime import timedelta

    import vroom

    t0 = time.perf_counter()
    V = m.n_vehicles
    inp = vroom.Input()
    p0 = int(m.vehicle_profile[0])
    if np.any(m.vehicle_profile != p0):
        raise NotImplementedError("VROOM adapter supports one travel profile")
    inp.set_durations_matrix("car", m.time[p0])
    inp.set_costs_matrix("car", m.dist[p0])
    patterns, pat_of_cust = _groups_of_allowed(m)
    allowed_c = m.allowed[m.customers]
    single = len(patterns) == 1 and allowed_c.all()
    vehicles = []
    for v in range(V):
        skills = None if single else {int(k) for k in range(len(patterns)) if allowed_c[pat_of_cust == k][0, v]}
        vehicles.append(
            vroom.Vehicle(
                v,
                start=int(m.starts[v]),
                end=int(m.ends[v]),
                capacity=[int(m.capacity[v])],
                skills=skills,
                time_window=vroom.TimeWindow(int(m.shift_start[v]), int(m.shift_end[v])),
            )
        )
    inp.add_vehicle(vehicles)
    jobs = []
    for i, c in enumerate(m.customers.tolist()):
        jobs.append(
            vroom.Job(
                c,
                location=c,
                default_service=int(m.service[c]),
                delivery=[int(m.demand[c])],
                skills=None if single else {int(pat_of_cust[i])},
                time_windows=[vroom.TimeWindow(int(m.tw_open[c]), int(m.tw_close[c]))],
            )
        )
    inp.add_job(jobs)
    sol = inp.solve(exploration_level=exploration_level, nb_threads=threads, timeout=timedelta(seconds=time_limit_s))
    routes: list[list[int]] = [[] for _ in range(V)]
    for r in sol.to_dict()["routes"]:
        routes[int(r["vehicle"])] = [int(s["id"]) for s in r["steps"] if s["type"] == "job"]
    return routes, time.perf_counter() - t0
