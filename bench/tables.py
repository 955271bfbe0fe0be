"""Markdown tables from ``python -m bench.routing --json`` output (one JSON object per line).

    python -m bench.tables run.jsonl [more.jsonl ...] [--reference bench/reference.json]

Rows of generated instances run before their reference existed get their gap from the reference file.

VRPTW rows: one summary row per (solver, time limit) — mean / median / max gap to the reference
(bks.csv or PyVRP's long-budget value), feasible and all-served counts, mean wall and CPU seconds,
1-minute load range — then one row per instance. Field rows: km, late orders, unserved per solver.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

NAMES = {
    "ortools": "OR-Tools (product: SolverOptions())",
    "ortools-prev": "previous product solver (ortools-prev)",
    "ortools-long0": "evening's solver, no descents (ortools-long0)",
    "ortools-td0": "solver before the descents after a step (ortools-td0)",
    "pyvrp": "PyVRP",
    "vroom": "VROOM expl. 5",
}


def _load(paths: list[str]) -> list[dict]:
    rows = []
    for p in paths:
        for line in Path(p).read_text().splitlines():
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def vrptw_tables(rows: list[dict]) -> str:
    rows = [r for r in rows if "gap_pct" in r]
    if not rows:
        return ""
    keys = list(dict.fromkeys((r["solver"], r["time_limit"]) for r in rows))
    out = [
        "| solver | budget | n | mean gap % | median | max | feasible | all served | mean s | mean CPU s | load1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for solver, tl in keys:
        rs = [r for r in rows if (r["solver"], r["time_limit"]) == (solver, tl) and r["gap_pct"] is not None]
        if not rs:
            continue
        gaps = [r["gap_pct"] for r in rs]
        allserved = sum(r["served"] == r.get("customers", r["served"]) for r in rs)
        loads = [r.get("load1", 0) for r in rs]
        out.append(
            f"| {NAMES.get(solver, solver)} | {tl:g} s | {len(rs)} | {statistics.mean(gaps):.2f} | "
            f"{statistics.median(gaps):.2f} | {max(gaps):.2f} | {sum(r['feasible'] for r in rs)}/{len(rs)} | "
            f"{allserved}/{len(rs)} | {statistics.mean(r['seconds'] for r in rs):.1f} | "
            f"{statistics.mean(r.get('cpu_s', 0) for r in rs):.1f} | {min(loads):.1f}–{max(loads):.1f} |"
        )
    insts = list(dict.fromkeys(r["instance"] for r in rows))
    out += ["", "| instance | reference | " + " | ".join(f"{NAMES.get(s, s)} {t:g} s" for s, t in keys) + " |"]
    out.append("|---|---|" + "---|" * len(keys))
    for i in insts:
        cells = []
        ref = next((r["bks"] for r in rows if r["instance"] == i), None)
        for s, t in keys:
            r = next((r for r in rows if (r["instance"], r["solver"], r["time_limit"]) == (i, s, t)), None)
            if r is None:
                cells.append("")
                continue
            gap = "" if r["gap_pct"] is None else f" / {r['gap_pct']:.2f} %"
            bad = "" if r["feasible"] and r["served"] == r.get("customers", r["served"]) else " ✗"
            cells.append(f"{r['distance']:.1f} / {r['vehicles']} v{gap}{bad}")
        out.append(f"| {i} | {ref if ref is not None else ''} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def field_tables(rows: list[dict]) -> str:
    rows = [r for r in rows if "km" in r]
    if not rows:
        return ""
    out = [
        "| instance | objective | solver | budget | km | × PyVRP km | late orders | late min | unserved | "
        "feasible | s | load1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        py = next(
            (
                x["km"]
                for x in rows
                if x["instance"] == r["instance"]
                and x["solver"] == "pyvrp"
                and x["time_limit"] == r["time_limit"]
                and x["objective"] == r["objective"]
            ),
            None,
        )
        ratio = f"{r['km'] / py:.3f}" if py else ""
        out.append(
            f"| {r['instance']} | {r['objective']} | {NAMES.get(r['solver'], r['solver'])} | {r['time_limit']:g} s | "
            f"{r['km']:,.1f} | {ratio} | {r['late_orders']} | {r['late_minutes']:,} | {r['unserved']} | "
            f"{'yes' if r['feasible'] else 'no'} | {r['seconds']} | {r.get('load1', '')} |"
        )
    return "\n".join(out)


def _fill_gaps(rows: list[dict], ref: dict[str, float]) -> None:
    for r in rows:
        if r.get("gap_pct") is None and r.get("instance") in ref:
            best = r["bks"] = ref[r["instance"]]
            r["gap_pct"] = round(100 * (r["distance"] - best) / best, 2)


def main(argv: list[str] | None = None) -> int:
    from bench.instgen import reference_values

    args = list(argv if argv is not None else sys.argv[1:])
    ref_path = None
    if "--reference" in args:
        i = args.index("--reference")
        ref_path = args[i + 1]
        del args[i : i + 2]
    rows = _load(args)
    _fill_gaps(rows, reference_values(ref_path) if ref_path else reference_values())
    for part in (vrptw_tables(rows), field_tables(rows)):
        if part:
            print(part + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
