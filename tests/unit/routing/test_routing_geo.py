import json
import threading
import typing
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from routing.geo import haversine_m, osrm_table, road_matrices, travel_matrix


def test_one_degree_of_latitude_is_about_111_195_km():
    d = haversine_m([(34.0, 108.9)], [(35.0, 108.9)])
    assert d[0, 0] == pytest.approx(111_195, abs=1)


def test_equator_to_north_pole_is_a_quarter_meridian_of_about_10_007_km():
    assert haversine_m([(0.0, 108.9)], [(90.0, 0.0)])[0, 0] == pytest.approx(10_007_557, abs=5)


def test_road_matrix_applies_detour_and_speed_as_integers():
    dist, dur = road_matrices([(34.0, 108.9), (35.0, 108.9)], detour=1.3, speed_kmh=30)
    assert dist.dtype == np.int64 and dur.dtype == np.int64
    assert dist[0, 0] == 0 and dist[0, 1] == dist[1, 0]
    assert dist[0, 1] == round(111_195 * 1.3)
    assert dur[0, 1] == pytest.approx(111_195 * 1.3 / (30 / 3.6), abs=1)


class _FakeOSRM(BaseHTTPRequestHandler):
    seen: typing.ClassVar[list[str]] = []

    def do_GET(self):
        _FakeOSRM.seen.append(self.path)
        coords = self.path.split("/table/v1/driving/")[1].split("?")[0].split(";")
        n = len(coords)
        body = {
            "code": "Ok",
            "distances": [[0 if i == j else 1000 * abs(i - j) + 0.4 for j in range(n)] for i in range(n)],
            "durations": [[0 if i == j else 60 * abs(i - j) for j in range(n)] for i in range(n)],
        }
        body["durations"][0][n - 1] = None  # an unroutable pair
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def osrm_url():
    server = HTTPServer(("127.0.0.1", 0), _FakeOSRM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_osrm_adapter_asks_for_lon_lat_pairs_and_both_annotations(osrm_url):
    _FakeOSRM.seen.clear()
    m = osrm_table([(34.1, 108.8), (34.2, 108.9), (34.3, 109.0)], osrm_url)
    path = _FakeOSRM.seen[0]
    assert path.startswith("/table/v1/driving/108.800000,34.100000;108.900000,34.200000;109.000000,34.300000")
    assert "annotations=distance,duration" in path
    assert m.distance_m[0, 1] == 1000 and m.distance_m[0, 2] == 2000
    assert m.duration_s[1, 2] == 60


def test_osrm_adapter_turns_unroutable_pairs_into_a_huge_cost(osrm_url):
    m = travel_matrix([(34.1, 108.8), (34.2, 108.9)], osrm_url=osrm_url)
    assert m.duration_s[0, 1] >= 10**9


def test_travel_matrix_without_url_uses_haversine():
    m = travel_matrix([(34.0, 108.9), (35.0, 108.9)], detour=1.0, speed_kmh=60)
    assert m.distance_m[0, 1] == pytest.approx(111_195, abs=1)
