"""The validation generators: Solomon-style instances and field days nobody tuned on."""

import numpy as np
import pytest

from bench.check import check_solution
from bench.fieldgen import generate, hard_due
from bench.instgen import KINDS, generate_vrptw, parse_name, read_back, write_solomon
from bench.solomon import distance_tenths, read_solomon, to_model

H = 3600


@pytest.mark.parametrize("kind", KINDS)
def test_every_customer_can_be_served_alone_within_its_window_and_back_before_the_depot_closes(kind):
    inst = generate_vrptw(kind, 100, 1001)
    d = distance_tenths(inst.xy)[0, 1:] / 10  # the DIMACS travel time, truncated
    arrive = np.maximum(d, inst.ready[1:])
    assert (inst.ready[1:] <= inst.due[1:]).all()
    assert (d <= inst.due[1:]).all()
    assert (arrive + inst.service[1:] + d <= inst.due[0]).all()
    assert inst.n_customers == 100 and inst.vehicles == 25


def test_the_same_name_always_gives_the_same_instance_and_other_seeds_differ():
    a, b, c = generate_vrptw("RC2", 200, 1001), generate_vrptw("RC2", 200, 1001), generate_vrptw("RC2", 200, 1002)
    assert a.name == "RC2_200_s1001" and parse_name(a.name) == ("RC2", 200, 1001)
    assert (a.xy == b.xy).all() and (a.due == b.due).all()
    assert not (a.xy == c.xy).all()


def test_long_horizons_give_long_routes_and_short_ones_short_routes():
    from routing.construct import build_routes

    def mean_len(kind):
        routes, _ = build_routes(to_model(generate_vrptw(kind, 100, 1001)))
        used = [r for r in routes if r]
        return sum(map(len, used)) / len(used)

    assert mean_len("R1") < 12 <= mean_len("R2")


def test_a_written_instance_reads_back_identically_and_passes_the_checker(tmp_path):
    inst = generate_vrptw("C1", 100, 1001)
    write_solomon(inst, tmp_path / "x.txt")
    back = read_solomon(tmp_path / "x.txt")
    assert read_back(inst, back)
    routes = [[c] for c in range(1, 26)]
    assert check_solution(back, routes + [[]] * (back.vehicles - len(routes))).errors  # 75 missing: caught


def test_hard_due_ends_each_window_at_the_due_but_never_before_ten_nor_within_an_hour_of_its_opening():
    day = generate(300, 30, seed=1001, varied=True)
    hard = hard_due(day)
    assert all(j.due is None for j in hard.jobs)
    for soft, j in zip(day.jobs, hard.jobs, strict=True):
        open_, close = j.window
        old_close = soft.window[1] if soft.window else 24 * H
        assert open_ == (soft.window[0] if soft.window else 0)
        assert close <= old_close
        assert close == old_close or close == max(soft.due, 10 * H, open_ + H)
        assert close >= min(old_close, 10 * H) and close - open_ >= min(H, old_close - open_)


def test_validation_days_stagger_shifts_and_the_tuning_day_keeps_its_shape():
    assert {(t.shift_start, t.shift_end) for t in generate(50, 30, seed=1).technicians} == {(8 * H, 17 * H)}
    assert len({(t.shift_start, t.shift_end) for t in generate(50, 30, seed=1001, varied=True).technicians}) == 3
