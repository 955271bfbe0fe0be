"""The policy lab replaying a real period: the orders that came in, the technicians with their
skills, shifts and leave, read from the product's database (simulation/history.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.db import utcnow
from dispatch.models import WorkOrder
from simulation.history import period_scenario
from simulation.lab import run_lab
from simulation.request import LabOptionsError, lab_request
from simulation.scenario import Model
from technicians.models import Leave
from tests.integration.helpers import create_order


@pytest.fixture
def period(app, client, auth, network, db_session):
    """Four orders today (one without a position), and the washing-machine technician on leave."""
    dispatcher = auth.token("dispatcher")
    made = [
        create_order(client, dispatcher, phone=f"1380013800{i}", lat=34.20 + 0.01 * i, lon=108.95) for i in range(3)
    ]
    create_order(client, dispatcher, phone="13800138009", lat=None, lon=None, address="无法定位的地址")
    today = utcnow().astimezone(app.config["TIMEZONE"]).date()
    db_session.add(Leave(technician_id=network.techs[2].id, start_date=today, end_date=today + timedelta(days=1)))
    db_session.commit()
    return today, made


def test_a_real_period_is_read_with_its_orders_technicians_and_leave(app, network, db_session, period):
    today, made = period
    scenario = period_scenario(db_session, today, 1, Model.load())
    created = {db_session.get(WorkOrder, o["id"]).created_at for o in made}
    assert {o.created for o in scenario.orders} == created
    assert scenario.meta["left_out"] == 1  # the order nobody could place on a map
    assert [o.skill for o in scenario.orders] == ["water_heater"] * 3
    # The orders all came to the south outlet: its two technicians serve the replay, not the north's.
    by_key = {t.key: t for t in scenario.technicians}
    assert set(by_key) == {f"tech{network.techs[1].id}", f"tech{network.techs[2].id}"}
    on_leave = by_key[f"tech{network.techs[2].id}"]
    assert not on_leave.works_on(today) and not on_leave.works_on(today + timedelta(days=1))
    assert on_leave.works_on(today + timedelta(days=2))
    assert by_key[f"tech{network.techs[1].id}"].works_on(today)
    assert set(by_key[f"tech{network.techs[1].id}"].skills) == {"air_conditioner", "water_heater"}
    # The scratch network knows every skill the period needs or its people have.
    assert {"water_heater", "air_conditioner", "washing_machine"} <= set(scenario.model.skills)


def test_a_real_period_replays_the_same_under_the_same_seeds(app, db_session, period):
    today, _ = period
    # The bound solves 3 orders: a short limit keeps the test short (its figures are not checked here).
    options = {"from": today.isoformat(), "days": 1, "policies": "instant", "seeds": 2, "hindsight_s": 0.3}
    request = lab_request(options, db_session)
    first = run_lab(request).as_dict()
    assert first["source"]["source"] == "period" and first["source"]["orders"] == 3
    assert first["technicians"] == 2
    runs = first["policies"][0]["runs"]
    assert [r["orders"] for r in runs] == [3, 3]
    assert first == run_lab(request).as_dict()


def test_a_real_period_refuses_the_knobs_it_cannot_honour(app, db_session, period):
    today, _ = period
    with pytest.raises(LabOptionsError) as refused:
        lab_request({"from": today.isoformat(), "days": 1, "technicians": 4}, db_session)
    assert refused.value.field == "technicians"
    with pytest.raises(LabOptionsError) as empty:
        lab_request({"from": (today - timedelta(days=40)).isoformat(), "days": 1}, db_session)
    assert empty.value.field == "from" and "no order" in empty.value.message


def test_the_api_names_the_field_a_real_period_cannot_take(app, client, auth, period):
    today, _ = period
    manager = auth.token("manager")
    body = {"days": 1, "policies": ["instant"], "from": today.isoformat()}
    for bad, field in (
        ({**body, "orders_per_day": 5}, "orders_per_day"),
        ({**body, "from": (today - timedelta(days=40)).isoformat()}, "from"),
        ({**body, "from": "yesterday"}, "from"),
    ):
        response = client.post("/api/lab/runs", json=bad, headers=manager)
        assert response.status_code == 400, (bad, response.get_json())
        assert field in str(response.get_json()), response.get_json()
    started = client.post("/api/lab/runs", json=body, headers=manager)
    assert started.status_code == 202, started.get_json()
    run = app.extensions["lab_runs"].wait(started.get_json()["id"], 120)
    assert run.status == "done"
    assert run.as_dict()["report"]["source"]["orders"] == 3
