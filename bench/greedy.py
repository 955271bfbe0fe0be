"""Baseline: today's manual dispatch, nearest available technician, appending at the route's end."""

from __future__ import annotations

from routing.construct import RouteState
from routing.model import ArrayModel


def greedy_routes(m: ArrayModel, order: list[int] | None = None) -> tuple[list[list[int]], list[int]]:
    """Take customers in ``order`` (default: by window opening, then due); give each to the vehicle whose
    current last stop is nearest and that can still append it feasibly (empty vehicles of a group count once)."""
    V = m.n_vehicles
    routes: list[list[int]] = [[] for _ in range(V)]
    for v, c in m.first.items():
        routes[v] = [c]
    placed = {c for r in routes for c in r}
    cust = [c for c in m.customers.tolist() if c not in placed]
    if order is None:
        cust.sort(key=lambda c: (int(m.tw_open[c]), int(m.due[c]), c))
    else:
        cust = [c for c in order if c not in placed]
    states = [RouteState(m, v, routes[v]) for v in range(V)]
    unrouted = []
    for c in cust:
        best, best_v = None, -1
        opened_groups: set[int] = set()
        for v in range(V):
            if not m.allowed[c, v] or states[v].load + m.demand[c] > m.capacity[v]:
                continue
            if not routes[v]:
                g = int(m.vehicle_group[v])
                if g in opened_groups:
                    continue
                opened_groups.add(g)
            st = states[v]
            p = int(m.vehicle_profile[v])
            last = int(st.nodes[-2])
            end = int(st.nodes[-1])
            arr = st.S[-2] + m.service[last] + m.time[p][last, c]
            s = max(arr, m.tw_open[c])
            if s > m.tw_close[c] or s + m.service[c] + m.time[p][c, end] > st.L[-1]:
                continue
            d = int(m.dist[p][last, c])
            if best is None or d < best:
                best, best_v = d, v
        if best_v < 0:
            unrouted.append(c)
            continue
        routes[best_v].append(c)
        states[best_v] = RouteState(m, best_v, routes[best_v])
    return routes, unrouted
