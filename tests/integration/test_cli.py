"""The command-line tasks: create-user and seed-demo."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.accounts import User
from dispatch.models import WorkOrder, WorkOrderEvent


def test_create_user_makes_an_account_that_can_log_in(app, client):
    result = app.test_cli_runner().invoke(
        args=["create-user", "lin", "--role", "dispatcher", "--password", "a-good-pass-1"]
    )
    assert result.exit_code == 0, result.output
    assert "created dispatcher 'lin'" in result.output
    assert client.post("/api/auth/login", json={"username": "lin", "password": "a-good-pass-1"}).status_code == 200


def test_create_user_explains_a_weak_password(app):
    result = app.test_cli_runner().invoke(args=["create-user", "lin", "--role", "admin", "--password", "short"])
    assert result.exit_code != 0
    assert "password: must be at least 10 characters" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_seed_demo_builds_a_city_with_orders_in_every_status(app, db_session):
    result = app.test_cli_runner().invoke(args=["seed-demo", "--seed", "7"])
    assert result.exit_code == 0, result.output
    statuses = dict(db_session.execute(select(WorkOrder.status, func.count()).group_by(WorkOrder.status)).all())
    assert sum(statuses.values()) == 300
    assert set(statuses) >= {"new", "assigned", "accepted", "en_route", "on_site", "completed", "closed", "cancelled"}
    assert db_session.scalar(select(func.count()).select_from(User).where(User.role == "technician")) == 30
    # Every order carries its event trail, created through the real use cases.
    assert db_session.scalar(select(func.count(func.distinct(WorkOrderEvent.order_id)))) == 300
    db_session.rollback()  # end the read transaction (SQLite transactions take the write lock)
    again = app.test_cli_runner().invoke(args=["seed-demo", "--if-empty"])
    assert "left as it is" in again.output


def test_the_demo_plans_todays_routes_so_every_open_stop_of_a_working_technician_has_an_eta(app, db_session):
    from datetime import UTC, datetime

    from dispatch.demo import seed_demo
    from dispatch.models import RouteStop
    from technicians.models import Leave

    now = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Xi'an: every day shift is on
    seed_demo(db_session, orders=60, technicians=10, timezone=app.config["TIMEZONE"], now=now)
    on_leave = set(db_session.scalars(select(Leave.technician_id)))
    open_orders = set(
        db_session.scalars(
            select(WorkOrder.id).where(
                WorkOrder.status.in_(["assigned", "accepted", "en_route", "on_site", "returned"]),
                WorkOrder.technician_id.not_in(on_leave),
            )
        )
    )
    with_eta = set(db_session.scalars(select(RouteStop.order_id).where(RouteStop.eta.is_not(None))))
    db_session.rollback()
    assert open_orders and with_eta == open_orders


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_simulate_prints_the_report_as_json_and_leaves_the_database_alone(app, db_session):
    import json

    result = app.test_cli_runner().invoke(
        args=[
            "simulate",
            "--days",
            "1",
            "--policies",
            "baseline",
            "--orders-per-day",
            "5",
            "--hindsight-s",
            "0.3",
            "--json",
        ]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [p["name"] for p in report["policies"]] == ["baseline"]
    assert report["policies"][0]["figures"]["orders"]["mean"] >= 1
    assert report["hindsight"]["km"]["n"] == 1
    assert "simulating" in result.stderr or "baseline" in result.stderr  # the progress bar
    assert db_session.scalar(select(func.count()).select_from(WorkOrder)) == 0  # a scratch database ran it


def test_simulate_names_a_bad_option(app):
    result = app.test_cli_runner().invoke(args=["simulate", "--policies", "guesswork"])
    assert result.exit_code != 0
    assert "policies: unknown policy 'guesswork'" in result.output
