"""The policy lab (simulation/): the product's own use cases replayed on a simulated clock in a
scratch SQLite database, small scenarios so that the tests stay quick."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from simulation.engine import simulate
from simulation.lab import LabRequest, interval, run_lab
from simulation.policies import Policy, parse
from simulation.scenario import Draws, Model, Scenario, SimOrder, SimTechnician, generate, order_draws

# 1° of latitude on the routing model's sphere (routing/geo.py: R = 6,371,008.8 m), in km.
KM_PER_DEG = 2 * 3.141592653589793 * 6371.0088 / 360


def small_model(**changes) -> Model:
    return replace(Model.load(), **changes)


def test_the_same_seed_gives_identical_numbers_twice():
    model = small_model(orders_per_day=8)
    request = LabRequest(days=1, seeds=[3], policies=parse("baseline,instant"), model=model, hindsight_s=0.5)
    first = run_lab(request).as_dict()
    second = run_lab(request).as_dict()
    assert first["policies"][0]["runs"][0]["orders"] > 0
    assert first == second


def test_each_orders_draws_depend_on_the_seed_and_its_index_only():
    model = Model.load()
    assert order_draws(model, 5, 17, "repair") == order_draws(model, 5, 17, "repair")
    assert order_draws(model, 5, 17, "repair") != order_draws(model, 6, 17, "repair")
    # More days of orders leave the first days' orders and their fates as they were.
    short, long = generate(model, 5, 2), generate(model, 5, 4)
    assert long.orders[: len(short.orders)] == short.orders


def test_three_orders_give_the_hand_computed_figures():
    """One technician at the outlet, three orders due north 0.02° apart, an hour apart: each is
    done before the next arrives, so the route is home → 1 → 2 → 3 → home, 0.12° of latitude."""
    model = small_model(
        outlets=(replace(Model.load().outlets[0], technicians=1),),
        skills={"water_heater": 1.0},
        shift=(time(8, 30), time(17, 30)),
        work_days="1234567",
    )
    home = (34.2, 108.95)
    tech = SimTechnician("tech01", "SIM-YT", ("water_heater",), home, model.shift, "1234567", 10)
    start = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2026-03-02 00:00 in Xi'an
    draws = Draws(
        service_s=1800, travel_factor=1.0, part_needed=False, part_lead_s=0, second_service_s=0, not_home=False
    )
    orders = tuple(
        SimOrder(
            index=i, created=start + timedelta(hours=9 + i), outlet="SIM-YT", lat=home[0] + 0.02 * (i + 1),
            lon=home[1], skill="water_heater", category="repair", priority="normal", draws=draws,
        )
        for i in range(3)
    )  # fmt: skip
    scenario = Scenario(model, 1, start, 1, (tech,), orders)
    result = simulate(scenario, Policy("instant", "instant"))

    leg_km = 0.02 * KM_PER_DEG * 1.3  # detour 1.3
    drive_s = leg_km * 1000 / (30 / 3.6)  # 30 km/h
    assert result.figures["km"] == pytest.approx(6 * leg_km, abs=0.01)  # 1 + 1 + 1 out, 3 back
    assert result.kpis["completion_24h_rate"] == 1.0
    assert result.kpis["completed"] == 3
    assert result.figures["orders_per_technician"] == 3
    assert result.figures["lateness_mean_min"] == 0
    assert result.figures["overtime_hours"] == 0
    for i in range(3):
        assert result.per_order[i]["completed_hours"] == pytest.approx((drive_s + 1800) / 3600, abs=0.001)
    # busy: three drives and three repairs, over two nine-hour shifts (the day and the one after)
    assert result.figures["utilisation"] == pytest.approx((3 * drive_s + 3 * 1800) / (2 * 9 * 3600), abs=0.0001)


def test_on_the_default_outlet_replanning_keeps_the_promise_at_least_as_well_and_hindsight_drives_least():
    request = LabRequest(
        days=2, seeds=[1], policies=parse("baseline,reoptimise", time_limit_s=0.2), model=Model.load(), hindsight_s=2
    )
    report = run_lab(request).as_dict()
    by = {p["name"]: p["figures"] for p in report["policies"]}
    assert by["reoptimise"]["completion_24h_rate"]["mean"] >= by["baseline"]["completion_24h_rate"]["mean"]
    bound = report["hindsight"]["km"]["mean"]
    assert all(bound <= f["km"]["mean"] for f in by.values())
    assert report["hindsight"]["completion_24h_rate"]["mean"] >= by["baseline"]["completion_24h_rate"]["mean"]


def test_the_interval_is_the_t_interval_of_the_seeds_cut_to_what_the_figure_can_be():
    assert interval([1.0]) == {"mean": 1.0, "ci": None, "low": None, "high": None, "n": 1}
    # mean 2, s = 1, n = 3: 4.303 · 1 / √3 = 2.4843, inside [0, ∞) on the high side only
    half = round(4.303 / 3**0.5, 4)
    assert interval([1.0, 2.0, 3.0]) == {
        "mean": 2.0,
        "ci": half,
        "low": 0.0,
        "high": round(2 + 4.303 / 3**0.5, 4),
        "n": 3,
    }
    # a share of 0.5 and 0.0 over two seeds: t = 12.706, s = 0.3536, half-width 3.18: cut to 0 … 1
    share = interval([0.5, 0.0], rate=True)
    assert share["mean"] == 0.25 and share["ci"] == round(12.706 * 0.5 / 2**0.5 / 2**0.5, 4)
    assert (share["low"], share["high"]) == (0.0, 1.0)
    assert interval([0.5, 0.0])["high"] == round(0.25 + 12.706 * 0.5 / 2, 4)  # not a share: no ceiling


def test_policies_are_named_with_their_minutes_and_unknown_names_are_refused():
    a, b = parse("baseline60,reoptimise10")
    assert (a.kind, a.look_minutes, b.kind, b.every_minutes) == ("baseline", 60, "reoptimise", 10)
    with pytest.raises(ValueError, match="unknown policy 'random'"):
        parse("random")


def test_a_policys_re_plans_stop_early_as_the_product_is_configured_unless_it_says_otherwise(tmp_path):
    from dispatch.planning.day import DEFAULT_STALL_STEPS
    from simulation.engine import Simulation

    (product,) = parse("reoptimise")
    (searching,) = parse("reoptimise", stall_steps=0)
    assert product.stall_steps == DEFAULT_STALL_STEPS > 0 and searching.stall_steps == 0
    scenario = generate(Model.load(), 1, 1)
    for policy in (product, searching):
        (directory := tmp_path / str(policy.stall_steps)).mkdir()
        sim = Simulation(scenario, policy, directory)
        assert sim.planning.stall_steps == policy.stall_steps  # what propose hands the solver
        sim.database.dispose()
    with pytest.raises(ValueError, match="stall_steps"):
        parse("reoptimise", stall_steps=-1)
