"""Independent VRPTW checker: recomputes everything from the raw Solomon instance, not from a solver.

Times and distances are recomputed in floating point with the DIMACS truncation
(``floor(10 * d) / 10``); nothing from :mod:`routing.model` or the solvers is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.solomon import SolomonInstance


@dataclass
class CheckResult:
    """Verdict of :func:`check_solution`; ``errors`` is empty when feasible."""

    feasible: bool
    distance: float
    vehicles: int
    errors: list[str] = field(default_factory=list)


def _d(inst: SolomonInstance, a: int, b: int) -> float:
    (x1, y1), (x2, y2) = inst.xy[a], inst.xy[b]
    return math.floor(10 * math.hypot(x1 - x2, y1 - y2) + 1e-9) / 10


def check_solution(inst: SolomonInstance, routes: list[list[int]]) -> CheckResult:
    """Check customer routes (ids 1..n, depot excluded): each customer once, fleet size, capacity,
    time windows (waiting allowed) and return to the depot before its closing time."""
    errors: list[str] = []
    used = [r for r in routes if r]
    if len(used) > inst.vehicles:
        errors.append(f"{len(used)} routes > fleet {inst.vehicles}")
    seen: dict[int, int] = {}
    total = 0.0
    for k, r in enumerate(used):
        load = 0
        t = float(inst.ready[0])
        prev = 0
        for c in r:
            if not 1 <= c <= inst.n_customers:
                errors.append(f"route {k}: unknown customer {c}")
                continue
            seen[c] = seen.get(c, 0) + 1
            total += _d(inst, prev, c)
            t = max(t + _d(inst, prev, c), float(inst.ready[c]))
            if t > inst.due[c] + 1e-6:
                errors.append(f"route {k}: customer {c} starts {t:.1f} > due {inst.due[c]}")
            t += float(inst.service[c])
            load += int(inst.demand[c])
            prev = c
        total += _d(inst, prev, 0)
        if t + _d(inst, prev, 0) > inst.due[0] + 1e-6:
            errors.append(f"route {k}: back at depot {t + _d(inst, prev, 0):.1f} > {inst.due[0]}")
        if load > inst.capacity:
            errors.append(f"route {k}: load {load} > capacity {inst.capacity}")
    missing = [c for c in range(1, inst.n_customers + 1) if c not in seen]
    dup = [c for c, n in seen.items() if n > 1]
    if missing:
        errors.append(f"{len(missing)} customers not served, e.g. {missing[:5]}")
    if dup:
        errors.append(f"customers served twice: {dup[:5]}")
    return CheckResult(not errors, round(total, 1), len(used), errors)
