"""The browser's WGS-84 -> GCJ-02 / BD-09 conversion (web/static/map-crs.js) against prcoords,
the server's library, and the round trip a pick on a Chinese map takes back to WGS-84."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import prcoords
import pytest

from dispatch.geocoding import to_wgs84
from routing.geo import haversine_m
from tests.conftest import skip_or_fail

SCRIPT = Path(__file__).resolve().parents[2] / "web" / "static" / "map-crs.js"
POINTS = [(34.2610, 108.9423), (39.9087, 116.3975), (22.5431, 114.0579), (31.2304, 121.4737), (45.75, 126.63)]
OUTSIDE = [(51.5007, -0.1246), (48.8584, 2.2945)]


def run_js(crs: str, points: list[tuple[float, float]]) -> list[list[float]]:
    node = shutil.which("node")
    if node is None:
        skip_or_fail("node is not installed (make setup needs it for npm)")
    code = (
        f"const c = require({json.dumps(str(SCRIPT))}); const f = c.toDisplay({json.dumps(crs)});"
        f"console.log(JSON.stringify({json.dumps(points)}.map(p => f(p[0], p[1]))));"
    )
    out = subprocess.run([node, "-e", code], capture_output=True, text=True, check=True, timeout=30)
    return json.loads(out.stdout)


def test_gcj02_for_display_matches_prcoords_to_the_centimetre():
    for (lat, lon), shown in zip(POINTS, run_js("gcj02", POINTS), strict=True):
        expected = prcoords.wgs_gcj((lat, lon), True)
        assert float(haversine_m([tuple(shown)], [tuple(expected)])[0, 0]) < 0.01
        assert float(haversine_m([(lat, lon)], [tuple(shown)])[0, 0]) > 100, "GCJ-02 really is shifted"


def test_bd09_for_display_matches_prcoords():
    for (lat, lon), shown in zip(POINTS, run_js("bd09", POINTS), strict=True):
        expected = prcoords.wgs_bd((lat, lon), True)
        assert float(haversine_m([tuple(shown)], [tuple(expected)])[0, 0]) < 0.01


def test_wgs84_and_points_outside_china_are_left_alone():
    assert run_js("wgs84", POINTS) == [list(p) for p in POINTS]
    assert run_js("gcj02", OUTSIDE) == [list(p) for p in OUTSIDE]


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_a_pick_on_the_map_goes_back_to_the_same_wgs84_point_within_a_metre(crs):
    for (lat, lon), shown in zip(POINTS, run_js(crs, POINTS), strict=True):
        back = to_wgs84(shown[0], shown[1], crs)
        assert float(haversine_m([back], [(lat, lon)])[0, 0]) < 1.0
