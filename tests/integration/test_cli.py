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
