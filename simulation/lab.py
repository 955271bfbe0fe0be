"""The policy lab: every policy over the same scenarios (one per seed), the hindsight bound
beside them, and the report — each figure's mean with a 95 % confidence interval over the
seeds (mean ± t·s/√n)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulation.engine import RunResult, simulate
from simulation.hindsight import hindsight
from simulation.history import reseed
from simulation.policies import Policy
from simulation.scenario import Model, Scenario, generate

# Student's t, two-sided 95 %, by degrees of freedom (1 … 30; beyond, the normal 1.96).
T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
       2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
       2.045, 2.042)  # fmt: skip

FIGURES = (
    "completion_24h_rate", "satisfaction_rate", "compliance_rate", "authenticity_rate", "lateness_mean_min",
    "lateness_p95_min", "km", "overtime_hours", "utilisation", "orders_per_technician", "unassigned_at_day_end",
    "failed_visits", "orders",
)  # fmt: skip


# The figures that are shares (0 … 1); every figure is a count, a distance, a time or a share, never negative.
RATES = frozenset({"completion_24h_rate", "compliance_rate", "authenticity_rate", "satisfaction_rate", "utilisation"})


def interval(values: list[float], *, rate: bool = False) -> dict[str, float | int | None]:
    """Mean, half-width of the 95 % interval (None for one value), n, and the interval itself
    (`low`, `high`) cut to what the figure can be: from 0, and to 1 for a share. With few seeds
    t·s/√n is wide (t = 12.7 for two), and "25 % ± 318" reads as nonsense where "0–100 %" does not."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    if n == 0:
        return {"mean": None, "ci": None, "low": None, "high": None, "n": 0}
    mean = sum(xs) / n
    if n == 1:
        return {"mean": round(mean, 4), "ci": None, "low": None, "high": None, "n": 1}
    s = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    t = T95[n - 2] if n - 1 <= len(T95) else 1.96
    half = t * s / math.sqrt(n)
    high = mean + half
    return {
        "mean": round(mean, 4),
        "ci": round(half, 4),
        "low": round(max(0.0, mean - half), 4),
        "high": round(min(1.0, high) if rate else high, 4),
        "n": n,
    }


@dataclass
class LabRequest:
    days: int
    seeds: list[int]
    policies: list[Policy]
    model: Model
    hindsight_s: float = 5.0
    period: Scenario | None = None  # a real period (simulation.history), replayed under every seed


@dataclass
class LabReport:
    request: LabRequest
    runs: list[RunResult] = field(default_factory=list)
    bounds: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        r = self.request
        policies = []
        for p in r.policies:
            mine = [x for x in self.runs if x.policy == p.name]
            merged = [{**x.figures, **x.kpis} for x in mine]
            policies.append(
                {
                    "name": p.name, "kind": p.kind, "look_minutes": p.look_minutes, "every_minutes": p.every_minutes,
                    "figures": {f: interval([m.get(f) for m in merged], rate=f in RATES) for f in FIGURES},
                    "runs": [{"seed": x.seed, **x.kpis, **x.figures} for x in mine],
                }
            )  # fmt: skip
        return {
            "days": r.days,
            "seeds": r.seeds,
            "start": r.model.start.isoformat(),
            "technicians": len(r.period.technicians) if r.period else sum(o.technicians for o in r.model.outlets),
            "source": dict(r.period.meta, orders=len(r.period.orders)) if r.period else {"source": "generated"},
            "horizon_days": r.model.horizon_days,
            "orders_per_day": r.model.orders_per_day,
            "promise_hours": r.model.promise_hours,
            "policies": policies,
            "hindsight": {
                "km": interval([b["km"] for b in self.bounds]),
                "completion_24h_rate": interval([b["completion_24h_rate"] for b in self.bounds], rate=True),
                "runs": self.bounds,
                "time_limit_s": r.hindsight_s,
            },
        }


def run_lab(request: LabRequest, progress: Callable[[float, dict[str, Any]], None] | None = None) -> LabReport:
    """Each seed's scenario under every policy, then its hindsight bound. `progress(share, step)`
    with step {"policy": name or "hindsight", "seed": seed}."""
    progress = progress or (lambda _s, _w: None)
    report = LabReport(request)
    steps = len(request.seeds) * (len(request.policies) + 1)
    done = 0
    for seed in request.seeds:
        scenario: Scenario = (
            reseed(request.period, seed) if request.period else generate(request.model, seed, request.days)
        )
        for policy in request.policies:
            label = {"policy": policy.name, "seed": seed}
            base = done

            def tick(share: float, base: int = base, label: dict = label) -> None:
                progress((base + share) / steps, label)

            report.runs.append(simulate(scenario, policy, tick))
            done += 1
        progress(done / steps, {"policy": "hindsight", "seed": seed})
        report.bounds.append({"seed": seed, **hindsight(scenario, request.hindsight_s)})
        done += 1
        progress(done / steps, {"policy": "hindsight", "seed": seed})
    return report
