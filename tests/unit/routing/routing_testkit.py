"""Helpers for the routing tests: points along a meridian near Xi'an, so distances are easy to reason about."""

from __future__ import annotations

from routing.problem import Technician

H = 3600
LAT0, LON0 = 34.2, 108.9
KM_DEG = 1 / 111.195  # degrees of latitude per km (haversine, mean Earth radius)


def at_km(km: float) -> tuple[float, float]:
    """A point ``km`` north (negative: south) of the reference point."""
    return (LAT0 + km * KM_DEG, LON0)


def tech(tid, start_km=0.0, end_km=None, skills=("tv",), shift=(8 * H, 17 * H), max_jobs=10) -> Technician:
    return Technician(
        id=tid,
        start=at_km(start_km),
        end=at_km(start_km if end_km is None else end_km),
        shift_start=shift[0],
        shift_end=shift[1],
        skills=frozenset(skills),
        max_jobs=max_jobs,
    )
