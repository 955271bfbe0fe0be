"""Solomon / Gehring-Homberger VRPTW text reader and its DIMACS-convention array model.

DIMACS convention: Euclidean distance truncated to one decimal, travel time = distance,
fleet at most the instance's vehicle number, distance-only objective. We work in integer
tenths: ``floor(10 * d)``; windows and service times are scaled by 10 as well.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.model import ArrayModel

SCALE = 10


@dataclass(frozen=True)
class SolomonInstance:
    """Raw instance data; row 0 is the depot."""

    name: str
    vehicles: int
    capacity: int
    xy: np.ndarray  # (n+1, 2)
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray

    @property
    def n_customers(self) -> int:
        return int(self.xy.shape[0] - 1)


def read_solomon(path: str | Path) -> SolomonInstance:
    """Parse a Solomon-format file (name line, VEHICLE section, CUSTOMER table)."""
    lines = [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]
    name = lines[0]
    i = next(k for k, ln in enumerate(lines) if ln.upper().startswith("VEHICLE"))
    vehicles, capacity = (int(x) for x in lines[i + 2].split()[:2])
    rows = []
    for ln in lines[i + 3 :]:
        parts = ln.split()
        if len(parts) >= 7 and all(p.lstrip("-").replace(".", "", 1).isdigit() for p in parts[:7]):
            rows.append([float(p) for p in parts[:7]])
    a = np.array(rows)
    if a.shape[0] == 0 or int(a[0, 0]) != 0:
        raise ValueError(f"{path}: no depot row found")
    return SolomonInstance(
        name=name,
        vehicles=vehicles,
        capacity=capacity,
        xy=a[:, 1:3],
        demand=a[:, 3].astype(np.int64),
        ready=a[:, 4].astype(np.int64),
        due=a[:, 5].astype(np.int64),
        service=a[:, 6].astype(np.int64),
    )


def distance_tenths(xy: np.ndarray) -> np.ndarray:
    """``floor(10 * euclid)`` as int64 (a tiny epsilon guards against 2.9999999 for exact 3.0)."""
    diff = xy[:, None, :] - xy[None, :, :]
    d = np.sqrt((diff**2).sum(axis=2))
    return np.floor(d * SCALE + 1e-9).astype(np.int64)


def to_model(inst: SolomonInstance, vehicles: int | None = None, drop_penalty: int = 10**9) -> ArrayModel:
    """ArrayModel in tenths; every customer droppable at ``drop_penalty`` so a solve never fails."""
    n1 = inst.xy.shape[0]
    V = vehicles or inst.vehicles
    d = distance_tenths(inst.xy)
    horizon = int(inst.due[0]) * SCALE
    return ArrayModel(
        dist=[d],
        time=[d],
        vehicle_profile=np.zeros(V, dtype=np.int64),
        service=inst.service * SCALE,
        tw_open=inst.ready * SCALE,
        tw_close=inst.due * SCALE,
        demand=inst.demand.copy(),
        capacity=np.full(V, inst.capacity, dtype=np.int64),
        starts=np.zeros(V, dtype=np.int64),
        ends=np.zeros(V, dtype=np.int64),
        shift_start=np.full(V, int(inst.ready[0]) * SCALE, dtype=np.int64),
        shift_end=np.full(V, horizon, dtype=np.int64),
        customers=np.arange(1, n1, dtype=np.int64),
        allowed=np.ones((n1, V), dtype=bool),
        penalty=np.full(n1, drop_penalty, dtype=np.int64),
        vehicle_group=np.zeros(V, dtype=np.int64),
        xy=inst.xy.astype(float),
    )


def read_bks(path: str | Path) -> dict[str, tuple[float, int | None]]:
    """``bks.csv`` -> {instance: (distance, vehicles or None)}."""
    out = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            veh = row.get("vehicles") or ""
            out[row["instance"]] = (float(row["distance"]), int(veh) if veh.strip() else None)
    return out
