"""Travel model: distance (m) and time (s) matrices from WGS-84 points.

Great-circle (haversine) distance times a road-detour factor at an average speed, vectorised
with numpy; or an OSRM-compatible ``table`` service when a base URL is given.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EARTH_RADIUS_M = 6_371_008.8
LatLon = tuple[float, float]


@dataclass(frozen=True)
class TravelMatrix:
    """Square integer matrices over a list of points: ``distance_m[i, j]`` and ``duration_s[i, j]``."""

    distance_m: np.ndarray
    duration_s: np.ndarray

    def __post_init__(self) -> None:
        if self.distance_m.shape != self.duration_s.shape or self.distance_m.ndim != 2:
            raise ValueError("distance and duration matrices must be square and of equal shape")


def haversine_m(points_a: Sequence[LatLon], points_b: Sequence[LatLon] | None = None) -> np.ndarray:
    """Great-circle distances in metres (float) between every point of ``a`` and every point of ``b``."""
    a = np.radians(np.asarray(points_a, dtype=float).reshape(-1, 2))
    b = a if points_b is None else np.radians(np.asarray(points_b, dtype=float).reshape(-1, 2))
    lat1, lon1 = a[:, 0:1], a[:, 1:2]
    lat2, lon2 = b[:, 0][None, :], b[:, 1][None, :]
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def haversine_pairs_m(points_a: Sequence[LatLon], points_b: Sequence[LatLon]) -> np.ndarray:
    """Great-circle distances in metres between ``a[i]`` and ``b[i]`` (element-wise)."""
    a = np.radians(np.asarray(points_a, dtype=float).reshape(-1, 2))
    b = np.radians(np.asarray(points_b, dtype=float).reshape(-1, 2))
    h = np.sin((b[:, 0] - a[:, 0]) / 2) ** 2 + np.cos(a[:, 0]) * np.cos(b[:, 0]) * np.sin((b[:, 1] - a[:, 1]) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def road_matrices(
    points_a: Sequence[LatLon],
    points_b: Sequence[LatLon] | None = None,
    detour: float = 1.3,
    speed_kmh: float = 30.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Road distance (m, int64) and travel time (s, int64): haversine × ``detour`` at ``speed_kmh``."""
    if speed_kmh <= 0 or detour <= 0:
        raise ValueError("speed_kmh and detour must be positive")
    road = haversine_m(points_a, points_b) * detour
    dist = np.rint(road).astype(np.int64)
    dur = np.rint(road / (speed_kmh / 3.6)).astype(np.int64)
    return dist, dur


def travel_matrix(
    points: Sequence[LatLon],
    detour: float = 1.3,
    speed_kmh: float = 30.0,
    osrm_url: str | None = None,
    timeout_s: float = 10.0,
) -> TravelMatrix:
    """Travel matrix over ``points``: the OSRM table service if ``osrm_url`` is given, else haversine."""
    if osrm_url:
        return osrm_table(points, osrm_url, timeout_s=timeout_s)
    dist, dur = road_matrices(points, None, detour=detour, speed_kmh=speed_kmh)
    return TravelMatrix(dist, dur)


def _http_get_json(url: str, timeout_s: float) -> dict:
    try:
        import requests  # type: ignore[import-untyped]
    except ImportError:  # urllib fallback: the app may not ship requests
        from urllib.request import urlopen

        with urlopen(url, timeout=timeout_s) as resp:
            return json.loads(resp.read().decode("utf-8"))
    resp = requests.get(url, timeout=timeout_s)
    resp.raise_for_status()
    return resp.json()


def osrm_table(points: Sequence[LatLon], base_url: str, timeout_s: float = 10.0) -> TravelMatrix:
    """Query ``GET {base}/table/v1/driving/{lon,lat;...}?annotations=distance,duration``.

    Missing entries (``null``, unroutable pairs) become a large value so the solver avoids them.
    """
    coords = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
    url = f"{base_url.rstrip('/')}/table/v1/driving/{coords}?annotations=distance,duration"
    data = _http_get_json(url, timeout_s)
    if data.get("code", "Ok") != "Ok":
        raise RuntimeError(f"OSRM table error: {data.get('code')}: {data.get('message', '')}")
    unreachable = 10**9

    def to_int(rows: list) -> np.ndarray:
        return np.array(
            [[unreachable if v is None else math.floor(float(v) + 0.5) for v in row] for row in rows],
            dtype=np.int64,
        )

    return TravelMatrix(to_int(data["distances"]), to_int(data["durations"]))
