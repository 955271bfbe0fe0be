"""The policy lab at a month's size: 3,000 orders × 30 technicians under three policies.

    python -m bench.simulate [--days 30] [--orders-per-day 100] [--outlets 3] [--technicians 10]
                             [--policies baseline,instant,reoptimise] [--parallel 2] [--profile]
                             [--seed 1] [--time-limit 0.3] [--stall-steps 10] [--hindsight-s 5]

Prints the machine's load, each policy's wall time and the report (JSON) it produced; the
target (issue 21) is the whole month under three policies within 10 minutes on 2 cores.
With --parallel N the policies and the hindsight bound run in N processes, the longest first
(each has its own scratch database).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from dispatch.planning.day import DEFAULT_STALL_STEPS
from simulation.engine import simulate
from simulation.hindsight import hindsight
from simulation.lab import LabReport, LabRequest
from simulation.policies import parse
from simulation.scenario import Model, OutletSpec, generate

CITY = [("SIM-YT", "雁塔服务网点", 34.218, 108.952), ("SIM-WY", "未央服务网点", 34.330, 108.942),
        ("SIM-GX", "高新服务网点", 34.233, 108.883)]  # fmt: skip


def month_model(args: argparse.Namespace) -> Model:
    base = Model.load()
    outlets = tuple(
        OutletSpec(code, name, lat, lon, 6.0, args.technicians) for code, name, lat, lon in CITY[: args.outlets]
    )
    return replace(base, outlets=outlets, orders_per_day=args.orders_per_day, start=base.start.replace(day=2))


# What a job usually costs on this machine (docs/benchmarks.md, the month): a policy ≈ 70 ms of
# the product's code per order, re-planning every 15 minutes ≈ 120 ms; the hindsight bound its
# time limit a day. A pool of two given the longest first ends soonest.
PER_ORDER_S = {"baseline": 0.07, "instant": 0.075, "reoptimise": 0.12, "auto": 0.12}


def _one(job: tuple) -> tuple[str, float, object]:
    model, seed, days, policy, hindsight_s = job
    scenario = generate(model, seed, days)
    started = time.perf_counter()
    if policy is None:
        result = {"seed": seed, **hindsight(scenario, hindsight_s)}
        return "hindsight", time.perf_counter() - started, result
    result = simulate(scenario, policy)
    return policy.name, time.perf_counter() - started, result


def _estimate(job: tuple, orders: int) -> float:
    """The job's expected seconds, for ordering the pool (longest first)."""
    _model, _seed, days, policy, hindsight_s = job
    if policy is None:
        return hindsight_s * days
    return PER_ORDER_S.get(policy.kind, 0.12) * orders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--orders-per-day", type=float, default=100)
    parser.add_argument("--outlets", type=int, default=3)
    parser.add_argument("--technicians", type=int, default=10, help="per outlet")
    parser.add_argument("--policies", default="baseline,instant,reoptimise")
    parser.add_argument("--time-limit", type=float, default=0.3)
    parser.add_argument("--stall-steps", type=int, default=DEFAULT_STALL_STEPS, help="0: re-plans search to the limit")
    parser.add_argument("--hindsight-s", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile one process (forces --parallel 1)")
    args = parser.parse_args()
    model = month_model(args)
    policies = parse(args.policies, args.time_limit, args.stall_steps)
    scenario = generate(model, args.seed, args.days)
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}", file=sys.stderr)
    print(
        f"{len(scenario.orders)} orders, {len(scenario.technicians)} technicians, {args.days} days, "
        f"policies {args.policies}, parallel {args.parallel}",
        file=sys.stderr,
    )
    request = LabRequest(args.days, [args.seed], policies, model, args.hindsight_s)
    report = LabReport(request)
    started = time.perf_counter()
    seconds: dict[str, float] = {}

    # The hindsight bound is one more job of the pool (in parallel runs), not a tail after it.
    def longest_first(batch: list[tuple]) -> list[tuple]:
        return sorted(batch, key=lambda job: -_estimate(job, len(scenario.orders)))

    jobs = longest_first([(model, args.seed, args.days, p, args.hindsight_s) for p in policies])
    bound_job = (model, args.seed, args.days, None, args.hindsight_s)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        outcomes = [_one(j) for j in jobs]
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
        outcomes.append(_one(bound_job))
    elif args.parallel > 1:
        with ProcessPoolExecutor(args.parallel) as pool:
            outcomes = list(pool.map(_one, longest_first([*jobs, bound_job])))
    else:
        outcomes = [_one(j) for j in [*jobs, bound_job]]
    hindsight_s = 0.0
    for name, s, result in outcomes:
        seconds[name] = round(s, 1)
        print(f"{name}: {s:.1f} s", file=sys.stderr)
        if name == "hindsight":
            report.bounds.append(result)
            hindsight_s = s
        else:
            report.runs.append(result)
    policies_s = sum(s for name, s in seconds.items() if name != "hindsight")
    total = time.perf_counter() - started
    print(f"policies {policies_s:.1f} s of work, hindsight {hindsight_s:.1f} s, wall {total:.1f} s", file=sys.stderr)
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    out = report.as_dict()
    for p in out["policies"]:
        p.pop("runs", None)
    out["seconds"] = {"policies": seconds, "policies_work": round(policies_s, 1), "hindsight": round(hindsight_s, 1),
                      "total": round(total, 1), "orders": len(scenario.orders)}  # fmt: skip
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
