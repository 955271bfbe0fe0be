"""Seeded Solomon-style VRPTW instances for validation: a set the solver was never tuned on.

    python -m bench.instgen --sizes 100 200 --seeds 1001 --out /tmp/val          # write .txt files
    python -m bench.instgen --sizes 100 --seeds 1001 --reference 30 \\
        --write bench/reference.json                                             # PyVRP reference values

Kinds follow Solomon's families: ``C`` (customers in clusters), ``R`` (uniform), ``RC`` (half each);
horizon ``1`` (short: about 5-10 customers a route) or ``2`` (long: 25-50 a route). Sizes 100, 200,
1,000 (any n works). Names read ``R2_200_s1001``: kind, horizon, customers, seed.

Seed ranges (docs/benchmarks.md): seeds 1-999 are for tuning, 1001 and up are held back for reporting.
Everything about an instance (kind, horizon, window widths, share of customers with a window, cluster
count) is drawn from its seed and its name, so the same name always gives the same instance.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from bench.solomon import SolomonInstance, to_model

KINDS = ("C1", "R1", "RC1", "C2", "R2", "RC2")
TUNE_SEEDS = range(1, 1000)
HELD_BACK_FROM = 1001


def name_of(kind: str, n: int, seed: int) -> str:
    return f"{kind}_{n}_s{seed}"


def generate_vrptw(kind: str, n: int, seed: int) -> SolomonInstance:
    """A feasible-by-construction Solomon-style instance (every customer reachable alone within its window)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    family, long_horizon = kind[:-1], kind[-1] == "2"
    rng = np.random.default_rng([seed, zlib.crc32(f"{kind}/{n}".encode())])
    side = 100.0 * math.sqrt(n / 100)  # constant customer density: 100 -> 100, 200 -> 141, 1000 -> 316
    depot = np.array([side / 2, side / 2]) + rng.uniform(-0.15, 0.15, 2) * side
    xy = np.empty((n, 2))
    clustered = n if family == "C" else (n // 2 if family == "RC" else 0)
    if clustered:
        k = max(3, int(rng.integers(n // 12, n // 8 + 1)))
        centres = rng.uniform(0.1 * side, 0.9 * side, size=(k, 2))
        which = rng.integers(0, k, clustered)
        xy[:clustered] = centres[which] + rng.normal(0, 0.03 * side, size=(clustered, 2))
    xy[clustered:] = rng.uniform(0, side, size=(n - clustered, 2))
    xy = np.clip(np.round(xy), 0, math.ceil(side))
    rng.shuffle(xy)
    xy = np.vstack([np.round(depot), xy])
    service = 90 if family == "C" else 10
    if long_horizon:
        horizon = int(10 * side + (30 * service if family == "C" else 0))
        capacity = 700 if family == "C" else 1000
        base_width = 120.0 * side / 100
    else:
        horizon = int(2.3 * side + (10 * service if family == "C" else 0))
        capacity = 200
        base_width = 20.0 * side / 100
    # Solomon's variants: a share of customers with a window (25-100 %) and a width factor per instance
    share = float(rng.choice([0.25, 0.5, 0.75, 1.0]))
    width = base_width * float(rng.choice([0.5, 1.0, 2.0, 4.0]))
    d = np.sqrt(((xy[1:] - xy[0]) ** 2).sum(axis=1))
    earliest = np.ceil(d).astype(np.int64)
    latest = np.floor(horizon - d - service).astype(np.int64)
    centre = rng.uniform(earliest, np.maximum(earliest, latest))
    w = width * rng.uniform(0.5, 1.5, n)
    ready = np.maximum(earliest, np.floor(centre - w / 2)).astype(np.int64)
    due = np.minimum(latest, np.ceil(centre + w / 2)).astype(np.int64)
    loose = rng.random(n) >= share
    ready[loose], due[loose] = 0, latest[loose]
    ready = np.minimum(ready, due)
    demand = rng.integers(1, 5, n) * 10 if family == "C" else rng.integers(1, 42, n)
    return SolomonInstance(
        name=name_of(kind, n, seed),
        vehicles=max(2, n // 4),
        capacity=capacity,
        xy=xy,
        demand=np.concatenate([[0], demand]).astype(np.int64),
        ready=np.concatenate([[0], ready]),
        due=np.concatenate([[horizon], due]),
        service=np.concatenate([[0], np.full(n, service)]).astype(np.int64),
    )


def parse_name(name: str) -> tuple[str, int, int]:
    kind, n, s = name.split("_")
    return kind, int(n), int(s.lstrip("s"))


def instances(sizes: list[int], seeds: list[int], kinds: list[str] | None = None) -> list[SolomonInstance]:
    return [generate_vrptw(k, n, s) for n in sizes for s in seeds for k in (kinds or KINDS)]


def write_solomon(inst: SolomonInstance, path: Path) -> None:
    """Solomon text format, readable by bench.solomon.read_solomon and the peers' readers."""
    lines = [inst.name, "", "VEHICLE", "NUMBER     CAPACITY", f"  {inst.vehicles}  {inst.capacity}", "", "CUSTOMER"]
    lines.append("CUST NO.  XCOORD.    YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE TIME")
    for i in range(inst.xy.shape[0]):
        x, y = (int(v) for v in inst.xy[i])
        lines.append(
            f"{i:5d} {x:8d} {y:8d} {inst.demand[i]:8d} {inst.ready[i]:10d} {inst.due[i]:10d} {inst.service[i]:8d}"
        )
    path.write_text("\n".join(lines) + "\n")


def reference(inst: SolomonInstance, seconds: float, seed: int = 1) -> dict:
    """PyVRP with a long budget (checked by bench/check.py): the value the validation gaps are taken to."""
    from bench.check import check_solution
    from bench.peers import solve_pyvrp

    routes, secs = solve_pyvrp(to_model(inst), seconds, seed=seed)
    chk = check_solution(inst, routes)
    return {
        "distance": chk.distance,
        "vehicles": chk.vehicles,
        "feasible": chk.feasible,
        "served": len({c for r in routes for c in r}),
        "pyvrp_s": round(secs, 1),
        "load1": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.instgen", description=__doc__)
    ap.add_argument("--sizes", nargs="+", type=int, default=[100])
    ap.add_argument("--seeds", nargs="+", type=int, default=[HELD_BACK_FROM])
    ap.add_argument("--kinds", help="comma-separated subset of " + ",".join(KINDS))
    ap.add_argument("--out", help="directory to write the .txt instances to")
    ap.add_argument("--reference", type=float, help="PyVRP seconds per instance for the reference values")
    ap.add_argument("--write", default="bench/reference.json", help="reference JSON to merge into")
    args = ap.parse_args(argv)
    kinds = args.kinds.split(",") if args.kinds else None
    insts = instances(args.sizes, args.seeds, kinds)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for inst in insts:
            write_solomon(inst, out / f"{inst.name}.txt")
    if args.reference:
        path = Path(args.write)
        ref = json.loads(path.read_text()) if path.exists() else {"instances": {}}
        cmd = "python -m bench.instgen " + " ".join(argv if argv is not None else sys.argv[1:])
        for inst in insts:
            row = {**reference(inst, args.reference), "command": cmd, "date": time.strftime("%Y-%m-%d")}
            ref["instances"][inst.name] = row
            print(json.dumps({"instance": inst.name, **row}), flush=True)
            path.write_text(json.dumps(ref, indent=1, sort_keys=True) + "\n")
    if not args.out and not args.reference:
        for inst in insts:
            print(inst.name, inst.n_customers, inst.vehicles, inst.capacity, int(inst.due[0]))
    return 0


def reference_values(path: str | Path = Path(__file__).with_name("reference.json")) -> dict[str, float]:
    """{instance name: PyVRP long-budget distance} from the committed JSON (empty if absent)."""
    p = Path(path)
    if not p.exists():
        return {}
    return {k: float(v["distance"]) for k, v in json.loads(p.read_text())["instances"].items() if v["feasible"]}


if __name__ == "__main__":
    sys.exit(main())


def read_back(inst: SolomonInstance, other: SolomonInstance) -> bool:
    """True if ``other`` (e.g. read from a written file) holds the same data as ``inst``."""
    return (
        inst.vehicles == other.vehicles
        and inst.capacity == other.capacity
        and all(
            np.array_equal(getattr(inst, f), getattr(other, f)) for f in ("xy", "demand", "ready", "due", "service")
        )
    )
