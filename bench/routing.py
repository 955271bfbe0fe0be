"""Benchmark script (prints figures; not a test).

  python -m bench.routing --instances ../shared/benchmarks/vrptw/solomon --time-limit 5 30 \
      --solvers ortools,pyvrp,vroom,greedy [--names C101,R101] [--json]
  python -m bench.routing --generated 100 200 --seeds 1001 --time-limit 5 --solvers ortools,pyvrp,vroom --json
  python -m bench.routing --field 1000 100 --seed 1001 --time-limit 10 --solvers ortools,pyvrp,vroom [--hard-due]
  python -m bench.routing --insertion [--techs 200 --orders 2000 --queries 500]

``ortools`` is the product's solver exactly: ``SolverOptions()``, the options ``routing.solve`` uses, run
through the same ``solve_model`` (own regret construction, route-count probe where routes are long and
vehicles idle, a first OR-Tools descent of at most a tenth of the time, then numpy ruin & recreate steps,
every 20th of them an OR-Tools descent where routes are long and there are at most 150 customers).
Only its rows count as the product's figures; every other ``ortools-*`` name in VARIANTS is an ablation (a
different ``SolverOptions``) kept to reproduce the A/B tables in docs/routing.md; ``ortools-prev`` is the
product's solver before 2026-12-07's evening (an OR-Tools descent every 20th step, area split above 600),
``ortools-long0`` the one of that evening (numpy steps only, also where routes are long and customers few),
``ortools-td0`` names the product's solver as the 2026-12-08 tables ran it beside ``ortools-td3`` (every
3rd step on short routes followed by a descent of the routes it changed; the default then, off since).
``--generated`` runs the seeded Solomon-style instances of bench/instgen.py (seeds 1-999 for tuning,
1001 and up held back for reporting) against PyVRP long-budget references in bench/reference.json.
All solvers run on one instance back to back before the next instance, so a shared machine's load hits
all of them alike; each row carries cpu_s (process CPU seconds) next to the wall seconds, and load1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.check import check_solution
from bench.fieldgen import generate, hard_due
from bench.greedy import greedy_routes
from bench.instgen import HELD_BACK_FROM, instances, reference_values
from bench.solomon import read_bks, read_solomon, to_model
from routing.construct import RouteState, build_routes
from routing.insertion import InsertionIndex
from routing.model import NO_DUE, ArrayModel, from_problem, route_distance, schedule
from routing.solver import SolverOptions, solve_model

NO_RR = {"ruin_recreate": False, "decompose_above": None}
VARIANTS = {
    "ortools": SolverOptions(),  # defaults: own regret construction, first descent, numpy ruin & recreate
    "ortools-prev": SolverOptions(
        decompose_above=600, descent_every=20, first_descent_share=1.0, accept_per_customers=0, touched_descent_every=0
    ),  # the product's solver until 2026-12-07 (docs/routing.md, "Issue 22, second part")
    "ortools-long0": SolverOptions(
        descent_every_long=0, touched_descent_every=0
    ),  # the product's solver on 2026-12-07's evening: numpy steps only, long routes too ("third part")
    "ortools-td0": SolverOptions(touched_descent_every=0),  # = the product's solver (the fourth part's tables)
    "ortools-td3": SolverOptions(touched_descent_every=3),  # the fourth part's "ortools" rows: descent after a step
    "ortools-gls": SolverOptions(**NO_RR),  # own construction + GLS only
    "ortools-cheapest": SolverOptions(regret=False, **NO_RR),
    "ortools-pci": SolverOptions(first_solution="PARALLEL_CHEAPEST_INSERTION", **NO_RR),
    "ortools-savils": SolverOptions(first_solution="SAVINGS", iterated_local_search=True, **NO_RR),
    "ortools-ils": SolverOptions(iterated_local_search=True, **NO_RR),
    "ortools-ils-auto": SolverOptions(iterated_local_search=True, ils_auto_temperature=True, **NO_RR),
    "ortools-matrix": SolverOptions(matrix_callbacks=True, **NO_RR),
    "ortools-nb": SolverOptions(neighbors_ratio=0.05, min_neighbors=20, **NO_RR),
    "ortools-gls-lambda": SolverOptions(gls_lambda=0.3, **NO_RR),
    "ortools-tabu": SolverOptions(metaheuristic="TABU_SEARCH", **NO_RR),
    "ortools-pci-tabu": SolverOptions(
        first_solution="PARALLEL_CHEAPEST_INSERTION", metaheuristic="TABU_SEARCH", **NO_RR
    ),
    "ortools-area": SolverOptions(decompose_above=600, ruin_recreate=False),
    "ortools-area100": SolverOptions(decompose_above=600, sector_size=100, ruin_recreate=False),
    "ortools-rr": SolverOptions(decompose_above=None),
    "ortools-rr5": SolverOptions(decompose_above=None, descent_every=5),
    "ortools-rr20": SolverOptions(decompose_above=None, descent_every=20),
    "ortools-rr20-t005": SolverOptions(decompose_above=None, accept_threshold=0.005),
    "ortools-rr20-t02": SolverOptions(decompose_above=None, accept_threshold=0.02),
    "ortools-rr20-r15": SolverOptions(decompose_above=None, ruin_max=15),
    "ortools-rr20-r50": SolverOptions(decompose_above=None, ruin_max=50),
    "ortools-rr50": SolverOptions(decompose_above=None, descent_every=50),
    "ortools-rr20-matrix": SolverOptions(decompose_above=None, matrix_callbacks=True),
    "ortools-rr20-probe10": SolverOptions(decompose_above=None, fleet_probe_share=0.1),
    "ortools-rr20-probe35": SolverOptions(decompose_above=None, fleet_probe_share=0.35),
    "ortools-rr20-polish": SolverOptions(decompose_above=None, polish_share=0.03),
    "ortools-rr10": SolverOptions(decompose_above=None, descent_every=10),
    "ortools-rr10-polish": SolverOptions(decompose_above=None, descent_every=10, polish_share=0.03),
    "ortools-rr20-nofleet": SolverOptions(decompose_above=None, fleet_probe=()),  # the default before the probe
    "ortools-rr20-fleet246": SolverOptions(decompose_above=None, fleet_probe=(2, 4, 6)),
    "ortools-rr20-fleet369": SolverOptions(decompose_above=None, fleet_probe=(3, 6, 9)),
    "ortools-rr20-margin2": SolverOptions(decompose_above=None, fleet_probe_margin=0.02),
    "ortools-rr20-fleet-all": SolverOptions(decompose_above=None, fleet_probe_min_len=0.0),
    "ortools-mab": SolverOptions(multi_armed_bandit=True),  # OR-Tools' bandit operator choice
    "ortools-no-sector-probe": SolverOptions(sector_probe=False),  # the default before: no probe in the sectors
    "ortools-gran10": SolverOptions(recreate_neighbours=10),  # granular recreate: 10 nearest customers' routes
    "ortools-gran20": SolverOptions(recreate_neighbours=20),
    "ortools-rr-py": SolverOptions(decompose_above=None, descent_every=10**9),  # numpy ruin & recreate only
    "ortools-area-rr20": SolverOptions(decompose_above=600, descent_every=20),
    "ortools-rr-gls": SolverOptions(ruin_share=0.6, decompose_above=None),
    "ortools-rr-pci": SolverOptions(first_solution="PARALLEL_CHEAPEST_INSERTION", decompose_above=None),
    "ortools-area-rr": SolverOptions(decompose_above=600),
    "ortools-area-rr-gls": SolverOptions(decompose_above=600, ruin_share=0.6),
    # issue 22, second part (docs/routing.md): one change at a time from today's default
    "ortools-desc20": SolverOptions(descent_every=20),  # OR-Tools' descent every 20th step again
    "ortools-fd0": SolverOptions(first_descent_share=0.0),  # no first descent: straight from the construction
    "ortools-fd100": SolverOptions(first_descent_share=1.0),  # the first descent may take all the time
    "ortools-apc0": SolverOptions(accept_per_customers=0),  # threshold a share of the whole plan's cost
    "ortools-area600": SolverOptions(decompose_above=600),  # the area split above 600 customers again
}


def run_solver(name: str, m: ArrayModel, tl: float, seed: int) -> tuple[list[list[int]], float]:
    """Routes (customer nodes per vehicle) and wall seconds for one solver on one model."""
    t0 = time.perf_counter()
    if name == "greedy":
        routes, _ = greedy_routes(m)
        return routes, time.perf_counter() - t0
    if name == "construct":
        routes, _ = build_routes(m)
        return routes, time.perf_counter() - t0
    if name == "pyvrp":
        from bench.peers import solve_pyvrp

        return solve_pyvrp(m, tl, seed=seed)
    if name == "vroom":
        from bench.peers import solve_vroom

        return solve_vroom(m, tl)
    if name.startswith("ortools"):
        res = solve_model(m, tl, options=replace(VARIANTS[name], seed=seed))
        return res.routes, time.perf_counter() - t0
    raise ValueError(f"unknown solver {name}")


def _instance_sets(args: argparse.Namespace):
    """(name, instance, reference distance or None, reference kind) from directories and the generator."""
    for d in args.instances or []:
        d = Path(d)
        bks_path = d / "bks.csv" if (d / "bks.csv").exists() else d.parent / "bks.csv"
        bks = read_bks(bks_path) if bks_path.exists() else {}
        files = sorted(d.glob("*.txt"))
        if args.names:
            want = set(args.names.split(","))
            files = [f for f in files if f.stem in want]
        for f in files:
            yield f.stem, read_solomon(f), bks.get(f.stem, (None, None))[0], "bks"
    if args.generated:
        ref = reference_values()
        kinds = args.kinds.split(",") if args.kinds else None
        for inst in instances(args.generated, args.seeds, kinds):
            yield inst.name, inst, ref.get(inst.name), "pyvrp-long"


def bench_vrptw(args: argparse.Namespace) -> list[dict]:
    """All solvers on one instance back to back, then the next instance (a shared machine's load hits all)."""
    rows = []
    for name, inst, best, ref_kind in _instance_sets(args):
        m = to_model(inst)
        for tl in args.time_limit:
            for solver in args.solvers.split(","):
                if solver in ("greedy", "construct") and tl != args.time_limit[0]:
                    continue
                cpu0 = time.process_time()
                routes, secs = run_solver(solver, m, tl, args.seed)
                cpu = time.process_time() - cpu0
                chk = check_solution(inst, routes)
                row = {
                    "instance": name,
                    "solver": solver,
                    "time_limit": tl,
                    "vehicles": chk.vehicles,
                    "distance": chk.distance,
                    "bks": best,
                    "reference": ref_kind,  # bks.csv, or PyVRP with a long budget (bench/reference.json)
                    "gap_pct": round(100 * (chk.distance - best) / best, 2) if best else None,
                    "seconds": round(secs, 2),
                    "cpu_s": round(cpu, 2),  # on a shared machine far below "seconds"
                    "feasible": chk.feasible,
                    "served": len({c for r in routes for c in r}),
                    "customers": inst.n_customers,
                    "errors": chk.errors[:2],
                }
                rows.append(row)
                _emit(row, args)
    return rows


def field_metrics(m: ArrayModel, routes: list[list[int]], due: np.ndarray | None = None) -> dict:
    """km, late orders, late minutes, unserved and a feasibility re-check for field routes.
    Lateness is measured against ``due`` (default: the model's), also when the solver ignored it."""
    if due is not None:
        m = replace(m, due=due)
    km = sum(route_distance(m, v, r) for v, r in enumerate(routes) if r) / 1000
    late = late_s = 0
    feasible = True
    for v, r in enumerate(routes):
        if not r:
            continue
        st = RouteState(m, v, r)
        feasible &= st.feasible and st.load <= m.capacity[v] and bool(m.allowed[r, v].all())
        if v in m.first:
            feasible &= r[0] == m.first[v]
        for _, _, _, lt in schedule(m, v, r):
            late += lt > 0
            late_s += lt
    served = {c for r in routes for c in r}
    return {
        "km": round(km, 1),
        "late_orders": late,
        "late_minutes": round(late_s / 60),
        "unserved": int(len(m.customers) - len(served)),
        "feasible": bool(feasible),
    }


def bench_field(args: argparse.Namespace) -> list[dict]:
    n, k = args.field
    problem = generate(n, k, seed=args.seed, varied=args.varied or args.seed >= HELD_BACK_FROM)
    if args.hard_due:
        problem = hard_due(problem)
    t0 = time.perf_counter()
    if args.late_cost is not None:
        problem = replace(problem, late_cost_per_s=args.late_cost)
    m, mapping = from_problem(problem)
    build_s = time.perf_counter() - t0
    true_due = m.due.copy()
    if args.ignore_due:
        m.due[:] = NO_DUE
    rows = []
    for tl in args.time_limit:
        for solver in args.solvers.split(","):
            if solver in ("greedy", "construct") and tl != args.time_limit[0]:
                continue
            routes, secs = run_solver(solver, m, tl, args.seed)
            row = {
                "instance": f"field-{n}x{k}-s{args.seed}" + ("-hard" if args.hard_due else ""),
                "solver": solver,
                "time_limit": tl,
                "objective": "distance" if args.ignore_due or args.hard_due else f"distance+{m.late_cost}/s late",
                "pre_dropped": len(mapping.pre_unserved),
                "matrix_s": round(build_s, 2),
                **field_metrics(m, routes, true_due),
                "seconds": round(secs, 2),
            }
            rows.append(row)
            _emit(row, args)
    return rows


def bench_insertion(args: argparse.Namespace) -> list[dict]:
    from routing.problem import Plan, Stop

    problem = generate(args.orders, args.techs, seed=args.seed)
    m, mapping = from_problem(problem)
    routes, _ = build_routes(m)
    jobs = {j.id: j for j in problem.jobs}
    plan_routes = {}
    for v, t in enumerate(problem.technicians):
        plan_routes[t.id] = [
            Stop(problem.jobs[mapping.job_of_node[c]].id, a, s, d, lt)
            for c, (a, s, d, lt) in zip(routes[v], schedule(m, v, routes[v]), strict=True)
        ]
    plan = Plan(plan_routes)
    open_orders = sum(len(r) for r in plan_routes.values())
    new_jobs = [replace(j, id=("new", i)) for i, j in enumerate(generate(args.queries, 1, seed=args.seed + 99).jobs)]
    build, query, total = [], [], []
    found = 0
    for j in new_jobs:
        t0 = time.perf_counter()
        idx = InsertionIndex(problem.technicians, plan, jobs)
        t1 = time.perf_counter()
        res = idx.best(j)
        t2 = time.perf_counter()
        build.append(t1 - t0)
        query.append(t2 - t1)
        total.append(t2 - t0)
        found += hasattr(res, "tech_id")

    def pct(xs: list[float], q: float) -> float:
        return round(1000 * float(np.percentile(xs, q)), 2)

    row = {
        "technicians": args.techs,
        "open_orders": open_orders,
        "queries": len(new_jobs),
        "inserted": found,
        "build_p50_ms": pct(build, 50),
        "query_p50_ms": pct(query, 50),
        "query_p95_ms": pct(query, 95),
        "total_p50_ms": pct(total, 50),
        "total_p95_ms": pct(total, 95),
        "total_max_ms": pct(total, 100),
    }
    _emit(row, args)
    return [row]


def _emit(row: dict, args: argparse.Namespace) -> None:
    row["load1"] = round(os.getloadavg()[0], 2)  # the machine may be shared: record its load
    if args.json:
        print(json.dumps(row), flush=True)
    else:
        print("  ".join(f"{k}={v}" for k, v in row.items() if k != "errors" or v), flush=True)


def summarize(rows: list[dict]) -> None:
    """Mean gap per (solver, time limit) for VRPTW rows."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if "gap_pct" in r and r["gap_pct"] is not None:
            groups.setdefault((r["solver"], r["time_limit"]), []).append(r)
    for (solver, tl), rs in sorted(groups.items()):
        gaps = [r["gap_pct"] for r in rs]
        print(
            f"# {solver} @ {tl}s: n={len(rs)} mean gap {statistics.mean(gaps):.2f} % "
            f"median {statistics.median(gaps):.2f} % feasible {sum(r['feasible'] for r in rs)}/{len(rs)} "
            f"mean s {statistics.mean(r['seconds'] for r in rs):.1f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.routing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--instances", nargs="+", help="directories of Solomon-format .txt files")
    ap.add_argument("--names", help="comma-separated instance names to keep")
    ap.add_argument("--generated", nargs="+", type=int, metavar="N", help="generated Solomon-style sizes")
    ap.add_argument("--seeds", nargs="+", type=int, default=[1001], help="generator seeds (>= 1001: held back)")
    ap.add_argument("--kinds", help="generated kinds, comma-separated (default C1,R1,RC1,C2,R2,RC2)")
    ap.add_argument(
        "--hard-due",
        action="store_true",
        help="field: due times as hard windows (what PyVRP and VROOM can express; see fieldgen.hard_due)",
    )
    ap.add_argument("--field", nargs=2, type=int, metavar=("N_ORDERS", "M_TECHS"))
    ap.add_argument("--ignore-due", action="store_true", help="field: distance-only objective (no due penalty)")
    ap.add_argument("--late-cost", type=int, help="field: objective metres per second late (default 100)")
    ap.add_argument("--insertion", action="store_true")
    ap.add_argument("--techs", type=int, default=200)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--time-limit", nargs="+", type=float, default=[5.0])
    ap.add_argument("--solvers", default="ortools,pyvrp,vroom,greedy")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--varied",
        action="store_true",
        help="field: staggered shifts and trades at random (the held-back days' shape) on a tuning seed too",
    )
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    args = ap.parse_args(argv)
    rows: list[dict] = []
    if args.instances or args.generated:
        rows += bench_vrptw(args)
        summarize(rows)
    if args.field:
        rows += bench_field(args)
    if args.insertion:
        rows += bench_insertion(args)
    if not rows:
        ap.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
