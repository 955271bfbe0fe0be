from routing.diff import Move, diff
from routing.problem import Plan, Stop, Unserved


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
    assert moves[2] == Move(2, "a", "a", 0, 150)  # same technician, new position
    assert moves[4] == Move(4, None, "b", 2, 400)
    assert 3 not in moves  # unchanged
    assert d.distance_saved_m == 1_000 and d.lateness_avoided_s == 900
    assert d.newly_served == [4] and d.newly_unserved == []


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
