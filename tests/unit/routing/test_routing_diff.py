from routing.diff import MIN_GAIN, Move, diff, improves
from routing.problem import Job, Plan, Stop, Unserved


def stop(j, eta):
    return Stop(j, eta, eta, eta + 600, 0)


def test_diff_lists_moved_new_and_dropped_jobs_with_new_positions_and_etas():
    old = Plan(
        {"a": [stop(1, 100), stop(2, 200)], "b": [stop(3, 100)]},
        [Unserved(4, "no_capacity_or_time")],
        total_distance_m=10_000,
        total_late_s=900,
        late_jobs=1,
    )
    new = Plan(
        {"a": [stop(2, 150)], "b": [stop(3, 100), stop(1, 300), stop(4, 400)]},
        [],
        total_distance_m=9_000,
        total_late_s=0,
        late_jobs=0,
    )
    d = diff(old, new)
    moves = {m.job_id: m for m in d.moves}
    assert moves[1] == Move(1, "a", "b", 1, 300)
    assert 2 not in moves  # same technician, new position: not a move
    assert moves[4] == Move(4, None, "b", 2, 400)
    assert 3 not in moves  # unchanged
    assert d.distance_saved_m == 1_000 and d.lateness_avoided_s == 900
    assert d.newly_served == [4] and d.newly_unserved == []
    assert d.resequenced == {} and d.late_jobs_avoided == 1


def test_diff_of_a_plan_with_itself_is_empty():
    p = Plan({"a": [stop(1, 100)]}, [], 5_000)
    d = diff(p, p)
    assert d.moves == [] and d.distance_saved_m == 0 and d.newly_served == [] and d.newly_unserved == []


def test_a_job_dropped_in_the_new_plan_is_newly_unserved_and_a_move_to_nobody():
    old = Plan({"a": [stop(1, 100)]}, [], 5_000)
    new = Plan({"a": []}, [Unserved(1, "no_capacity_or_time")], 0)
    d = diff(old, new)
    assert d.newly_unserved == [1]
    assert d.moves == [Move(1, "a", None, None, None)]


def test_a_technician_whose_own_visits_change_order_is_resequenced_not_moved():
    old = Plan({"a": [stop(1, 100), stop(2, 200), stop(3, 300)], "b": []}, [], 10_000)
    new = Plan({"a": [stop(2, 100), stop(1, 200)], "b": [stop(3, 100)]}, [], 9_000)
    d = diff(old, new)
    assert [m.job_id for m in d.moves] == [3]
    assert d.resequenced == {"a": [2, 1]}


def job(j, priority="normal"):
    return Job(j, (34.0, 108.0), "repair", 600, priority=priority)


def test_a_plan_is_better_only_when_it_gains_more_than_noise():
    jobs = {1: job(1), 2: job(2)}
    today = Plan({"a": [stop(1, 100), stop(2, 200)]}, [], 10_000)
    assert not improves(today, today, jobs)
    assert not improves(today, Plan(today.routes, [], 10_000 - MIN_GAIN + 1), jobs)
    assert improves(today, Plan(today.routes, [], 10_000 - MIN_GAIN), jobs)
    # Shorter but later: 1 km saved is not worth 60 s of lateness (6 km at 100 m per second).
    assert not improves(today, Plan(today.routes, [], 9_000, total_late_s=60, late_jobs=1), jobs)
    # Shorter by leaving an order out is never better.
    assert not improves(today, Plan({"a": [stop(1, 100)]}, [Unserved(2, "no_capacity_or_time")], 1_000), jobs)
    # Serving an order today's plan leaves out is, even at a cost in km.
    left = Plan({"a": [stop(1, 100)]}, [Unserved(2, "not_planned")], 5_000)
    assert improves(left, today, jobs)
