import pytest

from bench.check import check_solution
from bench.solomon import distance_tenths, read_bks, read_solomon, to_model
from routing.construct import build_routes
from routing.solver import solve_model

TINY = """TINY

VEHICLE
NUMBER     CAPACITY
   2         10

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0        100          0
    1      3          4          6          0         50          5
    2      6          8          6         10         60          5
    3      0          1          3          0         20          1
"""


@pytest.fixture
def tiny(tmp_path):
    p = tmp_path / "TINY.txt"
    p.write_text(TINY)
    return read_solomon(p)


def test_the_reader_parses_fleet_depot_and_customers(tiny):
    assert (tiny.name, tiny.vehicles, tiny.capacity, tiny.n_customers) == ("TINY", 2, 10, 3)
    assert tiny.xy[2].tolist() == [6, 8] and tiny.ready[2] == 10 and tiny.due[0] == 100
    assert tiny.demand.tolist() == [0, 6, 6, 3] and tiny.service[1] == 5


def test_distances_are_truncated_to_one_decimal_in_tenths():
    d = distance_tenths(__import__("numpy").array([[0.0, 0.0], [1.0, 1.0], [3.0, 4.0]]))
    assert d[0, 1] == 14  # sqrt(2) = 1.414 -> 1.4
    assert d[0, 2] == 50


def test_capacity_forces_two_routes_and_the_checker_agrees(tiny):
    res = solve_model(to_model(tiny), 0.3)
    assert res.dropped == []
    chk = check_solution(tiny, res.routes)
    assert chk.feasible, chk.errors
    assert chk.vehicles == 2  # 6 + 6 > 10


def test_the_checker_recomputes_distance_from_the_raw_coordinates(tiny):
    chk = check_solution(tiny, [[3, 1], [2]])
    # 0-3: 1.0, 3-1: sqrt(9+9)=4.24 -> 4.2, 1-0: 5.0; 0-2: 10.0 twice
    assert chk.distance == pytest.approx(1.0 + 4.2 + 5.0 + 20.0)
    assert chk.feasible


def test_the_checker_catches_capacity_windows_missing_and_fleet(tiny):
    assert any("capacity" in e for e in check_solution(tiny, [[1, 2, 3]]).errors)
    late = check_solution(tiny, [[2, 3], [1]])  # 3 starts after 2's service: 10+5+10 > 20
    assert any("customer 3" in e for e in late.errors)
    assert any("not served" in e for e in check_solution(tiny, [[1]]).errors)
    assert any("fleet" in e for e in check_solution(tiny, [[1], [2], [3]]).errors)


def test_the_own_construction_is_feasible_for_the_checker(tiny):
    routes, unrouted = build_routes(to_model(tiny))
    assert unrouted == []
    assert check_solution(tiny, routes).feasible


def test_the_bks_file_is_read_with_optional_vehicle_counts(tmp_path):
    p = tmp_path / "bks.csv"
    p.write_text('instance,customers,vehicles,distance,source\nC101,100,10,827.3,"x"\nC1_2_1,200,,2698.6,"y"\n')
    assert read_bks(p) == {"C101": (827.3, 10), "C1_2_1": (2698.6, None)}


def _random_instance(n=40, seed=3):
    import numpy as np

    from bench.solomon import SolomonInstance

    rng = np.random.default_rng(seed)
    xy = np.vstack([[50, 50], rng.uniform(0, 100, size=(n, 2))])
    ready = np.concatenate([[0], rng.integers(0, 300, n)])
    return SolomonInstance(
        name="RND",
        vehicles=10,
        capacity=60,
        xy=xy,
        demand=np.concatenate([[0], rng.integers(1, 10, n)]),
        ready=ready,
        due=np.concatenate([[1000], ready[1:] + 200]),
        service=np.concatenate([[0], np.full(n, 10)]),
    )


def test_decomposition_by_area_serves_everyone_and_passes_the_checker():
    from routing.decompose import sectors
    from routing.solver import SolverOptions

    inst = _random_instance()
    m = to_model(inst)
    parts = sectors(m, 3)
    assert sorted(int(c) for p in parts for c in p) == list(range(1, 41))
    res = solve_model(m, 0.9, options=SolverOptions(decompose_above=20, sector_size=15))
    assert res.stats["sectors"] == 3
    chk = check_solution(inst, res.routes)
    assert chk.feasible, chk.errors
