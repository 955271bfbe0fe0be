"""Decomposition by area for very large problems: solve angular sectors around the depot separately,
then polish the joined plan globally. Used by :func:`routing.solver.solve_model` above a size threshold."""

from __future__ import annotations

import math
import time

import numpy as np

from .model import ArrayModel, submodel


def sectors(m: ArrayModel, k: int) -> list[np.ndarray]:
    """Customers cut into ``k`` equal-count wedges by polar angle around the mean vehicle start."""
    cust = m.customers
    center = m.xy[m.starts].mean(axis=0)
    rel = m.xy[cust] - center
    ang = np.arctan2(rel[:, 1], rel[:, 0])
    order = cust[np.argsort(ang, kind="stable")]
    # rotate the cut to the widest angular gap so no cluster is split at -pi/pi
    a_sorted = np.sort(ang)
    gaps = np.diff(np.concatenate([a_sorted, a_sorted[:1] + 2 * np.pi]))
    shift = (int(np.argmax(gaps)) + 1) % len(order)
    order = np.roll(order, -shift)
    return [np.asarray(part) for part in np.array_split(order, k)]


def vehicles_for(m: ArrayModel, parts: list[np.ndarray]) -> list[np.ndarray]:
    """Split the fleet: vehicles sharing a depot in proportion to demand, others by nearest sector."""
    V = m.n_vehicles
    if len(set(m.starts.tolist())) == 1:
        dem = np.array([max(1, int(m.demand[p].sum())) for p in parts], dtype=float)
        counts = np.floor(V * dem / dem.sum()).astype(int)
        counts[np.argsort(-dem)[: V - counts.sum()]] += 1
        bounds = np.concatenate([[0], np.cumsum(counts)])
        return [np.arange(bounds[i], bounds[i + 1]) for i in range(len(parts))]
    centroids = np.array([m.xy[p].mean(axis=0) for p in parts])
    home = m.xy[m.starts]
    near = np.argmin(((home[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2), axis=1)
    return [np.flatnonzero(near == i) for i in range(len(parts))]


def solve_by_area(
    m: ArrayModel, time_limit_s: float, solve_fn, sector_size: int = 200, share: float = 0.6
) -> tuple[list[list[int]], dict]:
    """Solve sectors with ``solve_fn(sub, seconds)`` in ``share`` of the budget; return joined routes."""
    t0 = time.perf_counter()
    k = max(2, math.ceil(len(m.customers) / sector_size))
    parts = sectors(m, k)
    fleets = vehicles_for(m, parts)
    routes: list[list[int]] = [[] for _ in range(m.n_vehicles)]
    per = share * time_limit_s / k
    for part, fleet in zip(parts, fleets, strict=True):
        if len(part) == 0 or len(fleet) == 0:
            continue
        sub, old = submodel(m, part, fleet)
        sub_routes = solve_fn(sub, per)
        for nv, r in enumerate(sub_routes):
            routes[int(fleet[nv])] = [int(old[c]) for c in r]
    return routes, {"sectors": k, "sector_seconds": round(time.perf_counter() - t0, 2)}
