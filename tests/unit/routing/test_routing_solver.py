from routing_testkit import H, at_km, tech

from routing.diff import diff
from routing.geo import travel_matrix
from routing.problem import Job, Problem, node_points
from routing.solver import solve


def job(jid, km, skill="tv", service_min=30, **kw) -> Job:
    return Job(id=jid, location=at_km(km), skill=skill, service_s=service_min * 60, **kw)


def order(plan, tid):
    return [s.job_id for s in plan.routes[tid]]


def reasons(plan):
    return {u.job_id: u.reason for u in plan.unserved}


def test_a_job_goes_to_the_technician_with_the_skill_even_if_another_is_closer(fast):
    techs = [tech("near", 0, skills=("tv",)), tech("far", 5, skills=("kitchen",))]
    plan = solve(Problem(techs, [job(1, 0.5, skill="kitchen")]), fast)
    assert order(plan, "far") == [1] and order(plan, "near") == []


def test_a_skill_nobody_has_is_unserved_with_reason_no_skill(fast):
    plan = solve(Problem([tech("a")], [job(1, 1, skill="pool")]), fast)
    assert reasons(plan) == {1: "no_skill"}
    assert plan.routes == {"a": []}


def test_work_that_does_not_fit_the_shift_is_dropped_not_a_failed_solve(fast):
    techs = [tech("a", shift=(8 * H, 9 * H))]
    jobs = [job(1, 1, service_min=40), job(2, 1.2, service_min=40), job(3, 1, service_min=120)]
    plan = solve(Problem(techs, jobs), fast)
    assert len(plan.routes["a"]) == 1
    assert plan.routes["a"][0].departure_s <= 9 * H
    r = reasons(plan)
    assert r[3] == "no_capacity_or_time"  # longer than the whole shift
    assert len(r) == 2


def test_appointment_windows_are_hard(fast):
    jobs = [job(1, 1, window=(10 * H, 11 * H)), job(2, 1.5)]
    plan = solve(Problem([tech("a")], jobs), fast)
    stop = {s.job_id: s for s in plan.routes["a"]}[1]
    assert 10 * H <= stop.start_s <= 11 * H
    assert stop.arrival_s <= stop.start_s


def test_a_window_before_the_shift_is_unserved_as_window_unreachable(fast):
    plan = solve(Problem([tech("a")], [job(1, 1, window=(6 * H, 7 * H))]), fast)
    assert reasons(plan) == {1: "window_unreachable"}


def test_max_jobs_caps_a_technician_and_the_rest_goes_to_the_other(fast):
    techs = [tech("a", 0, max_jobs=2), tech("b", 8, max_jobs=5)]
    jobs = [job(i, 0.2 * i) for i in range(1, 4)]
    plan = solve(Problem(techs, jobs), fast)
    assert len(plan.routes["a"]) == 2 and len(plan.routes["b"]) == 1
    assert plan.unserved == []


def test_max_jobs_with_one_technician_drops_the_normal_job_before_the_vip(fast):
    jobs = [job(1, 0.5), job(2, 6, priority="vip")]
    plan = solve(Problem([tech("a", max_jobs=1)], jobs), fast)
    assert order(plan, "a") == [2]
    assert reasons(plan) == {1: "no_capacity_or_time"}


def test_a_locked_job_stays_with_its_technician(fast):
    techs = [tech("near", 0), tech("far", 6)]
    plan = solve(Problem(techs, [job(1, 0.3, locked_to="far")]), fast)
    assert order(plan, "far") == [1]


def test_a_job_locked_to_an_unknown_technician_is_unserved(fast):
    plan = solve(Problem([tech("a")], [job(1, 0.3, locked_to="ghost")]), fast)
    assert reasons(plan) == {1: "no_skill"}


def test_a_started_job_is_first_even_when_another_order_would_be_shorter(fast):
    # current position 0 km, home 4 km: near(1 km) then started(3 km) would be 4 km; started first is 8 km
    techs = [tech("a", 0, end_km=4)]
    free = solve(Problem(techs, [job("near", 1), job("s", 3, locked_to="a")]), fast)
    assert order(free, "a") == ["near", "s"]
    plan = solve(Problem(techs, [job("near", 1), job("s", 3, locked_to="a", started=True)]), fast)
    assert order(plan, "a") == ["s", "near"]


def test_a_due_time_makes_the_solver_prefer_on_time_over_shorter(fast):
    # start 0 km, home +4 km; b at -1 km, a at +3 km. Shortest: b then a. a is due 08:10.
    techs = [tech("t", 0, end_km=4)]
    plain = solve(Problem(techs, [job("a", 3), job("b", -1)]), fast)
    assert order(plain, "t") == ["b", "a"]
    plan = solve(Problem(techs, [job("a", 3, due=8 * H + 600), job("b", -1)]), fast)
    assert order(plan, "t") == ["a", "b"]
    assert plan.late_jobs == 0 and plan.total_late_s == 0


def test_unavoidable_lateness_is_reported_per_stop(fast):
    plan = solve(Problem([tech("t")], [job("a", 3, due=8 * H)]), fast)
    stop = plan.routes["t"][0]
    assert stop.late_s == stop.start_s - 8 * H > 0
    assert plan.late_jobs == 1 and plan.total_late_s == stop.late_s


def test_distance_is_reported_in_metres_for_a_round_trip(fast):
    plan = solve(Problem([tech("t")], [job("a", 2)]), fast)
    assert abs(plan.total_distance_m - 2 * 2000 * 1.3) <= 2


def test_a_caller_supplied_matrix_is_used_instead_of_haversine(fast):
    techs, jobs = [tech("t")], [job("a", 2)]
    pts = node_points(Problem(techs, jobs))
    m = travel_matrix(pts, detour=2.0, speed_kmh=30)
    plan = solve(Problem(techs, jobs, matrix=m), fast)
    assert abs(plan.total_distance_m - 2 * 2000 * 2.0) <= 2


def test_warm_start_from_a_previous_plan_keeps_it_and_adds_the_new_job(fast):
    techs = [tech("a", 0), tech("b", 10)]
    jobs = [job(i, i) for i in range(1, 6)]
    first = solve(Problem(techs, jobs), fast)
    more = [*jobs, job(9, 9.5)]
    second = solve(Problem(techs, more), fast, initial=first)
    assert second.unserved == []
    d = diff(first, second)
    assert d.newly_served == [9]
    assert second.total_distance_m <= first.total_distance_m + 2 * 1300 * 1.0 + 5000


def test_a_problem_without_jobs_returns_empty_routes(fast):
    plan = solve(Problem([tech("a")], []), fast)
    assert plan.routes == {"a": []} and plan.unserved == []


def test_a_tiny_time_limit_still_returns_every_servable_job():
    techs = [tech("a", 0), tech("b", 5)]
    jobs = [job(i, 0.7 * i) for i in range(12)]
    plan = solve(Problem(techs, jobs), 0.01)
    served = [s.job_id for stops in plan.routes.values() for s in stops]
    assert sorted(served) == list(range(12)) and plan.unserved == []


def test_vip_outranks_urgent_outranks_normal_when_only_one_fits(fast):
    for kinds, winner in ((("normal", "urgent"), 1), (("urgent", "vip"), 1), (("vip", "normal"), 0)):
        jobs = [job(i, 1 + 3 * i, priority=p) for i, p in enumerate(kinds)]
        plan = solve(Problem([tech("a", max_jobs=1)], jobs), fast)
        assert order(plan, "a") == [winner]


def test_vehicles_leaving_from_one_home_share_its_node():
    """A horizon has a vehicle per technician-day, all but today's from the technician's home:
    the matrices grow with the homes, not with the days."""
    from routing import Job, Problem, Technician
    from routing.model import from_problem

    home, other = (34.20, 108.90), (34.30, 108.95)
    techs = [
        Technician(id=(1, d), start=home, end=home, shift_start=d * 86400, shift_end=d * 86400 + 28800,
                   skills=frozenset({"a"}), max_jobs=5)
        for d in range(3)
    ] + [Technician(id=2, start=other, end=home, shift_start=0, shift_end=28800, skills=frozenset({"a"}), max_jobs=5)]  # fmt: skip
    jobs = [Job(id=i, location=(34.25, 108.92 + i / 100), skill="a", service_s=1800) for i in range(4)]
    m, _ = from_problem(Problem(techs, jobs))
    assert m.n_nodes == 4 + 2  # the jobs, then the two points the vehicles leave from or return to
    assert len(set(m.starts.tolist())) == 2 and len(set(m.ends.tolist())) == 1
    assert m.dist[0][m.starts[3], m.ends[3]] > 0 and m.dist[0][m.starts[0], m.ends[0]] == 0
