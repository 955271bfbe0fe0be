import itertools

import numpy as np
from routing_testkit import H, at_km, tech

from routing.geo import road_matrices
from routing.insertion import Insertion, InsertionIndex, NoInsertion, best_insertion
from routing.problem import Job, Problem
from routing.solver import solve


def job(jid, km, skill="tv", service_min=30, **kw) -> Job:
    return Job(id=jid, location=at_km(km), skill=skill, service_s=service_min * 60, **kw)


def planned(techs, jobs, fast=0.3):
    return solve(Problem(techs, jobs), fast)


def test_a_new_job_between_two_stops_is_inserted_between_them():
    techs = [tech("a", 0, end_km=5)]
    jobs = [job(1, 2), job(2, 4)]
    plan = planned(techs, jobs)
    assert [s.job_id for s in plan.routes["a"]] == [1, 2]
    ins = best_insertion(techs, plan, {j.id: j for j in jobs}, job(9, 3))
    assert isinstance(ins, Insertion)
    assert (ins.tech_id, ins.position) == ("a", 1)
    assert ins.extra_distance_m <= 5  # on the way: no detour
    assert ins.late_s == 0


def test_the_cheapest_technician_with_the_skill_wins():
    techs = [tech("tv_far", 10, skills=("tv",)), tech("k_near", 0, skills=("kitchen",)), tech("tv_near", 1)]
    plan = planned(techs, [])
    ins = best_insertion(techs, plan, {}, job(9, 0.5))
    assert ins.tech_id == "tv_near"
    assert abs(ins.extra_distance_m - 2 * 500 * 1.3) <= 3


def test_no_technician_with_the_skill_gives_no_skill():
    techs = [tech("a")]
    assert best_insertion(techs, planned(techs, []), {}, job(9, 1, skill="pool")) == NoInsertion("no_skill")


def test_a_window_nobody_can_reach_gives_window_unreachable():
    techs = [tech("a")]
    res = best_insertion(techs, planned(techs, []), {}, job(9, 1, window=(6 * H, 7 * H)))
    assert res == NoInsertion("window_unreachable")


def test_a_full_route_gives_no_capacity_or_time():
    techs = [tech("a", max_jobs=1)]
    jobs = [job(1, 1)]
    plan = planned(techs, jobs)
    res = best_insertion(techs, plan, {1: jobs[0]}, job(9, 1.1))
    assert res == NoInsertion("no_capacity_or_time")


def test_an_insertion_that_would_push_a_later_window_past_its_end_is_refused():
    techs = [tech("a", 0)]
    jobs = [job(1, 1, window=(8 * H, 8 * H + 20 * 60))]  # must start by 08:20
    plan = planned(techs, jobs)
    res = InsertionIndex(techs, plan, {1: jobs[0]}).best(job(9, 0.5, service_min=45))
    assert res.position == 1  # before job 1 would push it past 08:20


def test_a_started_first_job_is_never_preceded():
    techs = [tech("a", 0)]
    jobs = [job(1, 5, locked_to="a", started=True)]
    plan = planned(techs, jobs)
    res = best_insertion(techs, plan, {1: jobs[0]}, job(9, 0.5))
    assert res.position == 1


def test_a_late_insertion_is_penalised_so_an_on_time_slot_wins():
    # a: stop at 0.2 km until 16:00; b free at 6 km. New job due 09:00 at 0.5 km: b is on time.
    techs = [tech("a", 0), tech("b", 6)]
    jobs = [job(1, 0.2, service_min=400, window=(8 * H, 8 * H + 600))]
    plan = planned(techs, jobs)
    res = best_insertion(techs, plan, {1: jobs[0]}, job(9, 0.5, due=9 * H))
    assert res.tech_id == "b" and res.late_s == 0


def _route_len(t, route):
    pts = [t.start] + [j.location for j in route] + [t.end]
    d, _ = road_matrices(pts, None, detour=t.detour, speed_kmh=t.speed_kmh)
    return int(sum(d[i, i + 1] for i in range(len(pts) - 1)))


def _feasible(t, route):
    pts = [t.start] + [j.location for j in route] + [t.end]
    _, tt = road_matrices(pts, None, detour=t.detour, speed_kmh=t.speed_kmh)
    dep = t.shift_start
    for i, j in enumerate(route, start=1):
        w0, w1 = j.window or (0, 10**12)
        start = max(dep + tt[i - 1, i], w0)
        if start > w1:
            return False
        dep = start + j.service_s
    return dep + tt[len(route), len(route) + 1] <= t.shift_end


def _brute_force(techs, plan, jobs, new):
    """Recompute every position's full schedule from scratch; the smallest feasible extra distance."""
    best = None
    for t in techs:
        route = [jobs[s.job_id] for s in plan.routes[t.id]]
        if len(route) >= t.max_jobs or new.skill not in t.skills:
            continue
        base = _route_len(t, route)
        for pos in range(len(route) + 1):
            cand = route[:pos] + [new] + route[pos:]
            if _feasible(t, cand):
                extra = _route_len(t, cand) - base
                best = extra if best is None else min(best, extra)
    return best


def test_the_chosen_slot_matches_a_brute_force_search_on_random_plans():
    rng = np.random.default_rng(7)
    checked = 0
    for trial in range(8):
        techs = [tech(f"t{k}", float(rng.uniform(-8, 8)), skills=("tv", "ac")[: 1 + k % 2]) for k in range(3)]
        jobs = [
            job(
                i,
                float(rng.uniform(-8, 8)),
                skill=("tv", "ac")[i % 2],
                service_min=int(rng.integers(20, 45)),
                window=(9 * H, 13 * H) if i % 3 == 0 else None,
            )
            for i in range(8)
        ]
        plan = planned(techs, jobs, 0.2)
        by_id = {j.id: j for j in jobs}
        for q in range(3):
            new = job(
                ("n", trial, q), float(rng.uniform(-8, 8)), skill="tv", window=(14 * H, 15 * H) if q == 2 else None
            )
            got = best_insertion(techs, plan, by_id, new)
            ref = _brute_force(techs, plan, by_id, new)
            if ref is None:
                assert isinstance(got, NoInsertion)
                continue
            assert isinstance(got, Insertion)
            t = next(x for x in techs if x.id == got.tech_id)
            stops = [by_id[s.job_id] for s in plan.routes[t.id]]
            cand = stops[: got.position] + [new] + stops[got.position :]
            assert _feasible(t, cand)
            assert abs(_route_len(t, cand) - _route_len(t, stops) - ref) <= 3
            assert abs(got.extra_distance_m - ref) <= 3
            checked += 1
    assert checked >= 15


def test_the_index_answers_many_queries_without_rebuilding():
    techs = [tech(f"t{k}", k) for k in range(5)]
    plan = planned(techs, [])
    idx = InsertionIndex(techs, plan, {})
    answers = [idx.best(job(i, i + 0.1)).tech_id for i in range(5)]
    assert answers == [f"t{k}" for k in range(5)]
    assert list(itertools.chain(*plan.routes.values())) == []
