"""Notices outside the app: who gets them, the outbox, delivery at least once with retries,
and no duplicates, through fake local gateways (never the internet)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.accounts import Actor
from dispatch.models import Notification, WorkOrder
from dispatch.notify import NotifySettings, deliver, senders_from
from dispatch.services import transition
from dispatch.sweeps import sweep
from tests.fakes.gateway import FakeGateway, FakeSmtp
from tests.integration.test_sla import T0, c, intake_at


@pytest.fixture
def headers(network, auth, db_session):
    network.dispatcher.email, network.dispatcher.phone = "dispatcher@example.test", "+8613700000001"
    network.manager.email = "manager@example.test"
    db_session.commit()
    return auth.token("dispatcher")


def outbox(db_session) -> list[tuple[str, str, str]]:
    rows = [
        (n.kind, n.channel, n.recipient) for n in db_session.scalars(select(Notification).order_by(Notification.id))
    ]
    db_session.rollback()
    return rows


def test_a_warning_texts_the_technician_and_a_breach_tells_dispatch_and_the_manager(app, headers, network, db_session):
    settings = NotifySettings(sms_url="http://gw/sms", smtp_host="127.0.0.1", webhook_url="http://gw/hook")
    oid = intake_at(app, headers, T0)
    order = db_session.get(WorkOrder, oid)
    transition(
        db_session,
        oid,
        "assign",
        Actor(None, "dispatcher"),
        version=order.version,
        technician_id=network.techs[1].id,
        now=T0,
    )
    assert sweep(db_session, T0 + timedelta(minutes=25), settings) == c(1, 0)
    assert outbox(db_session) == [("sla_warning", "sms", "+8613900000002")]
    assert sweep(db_session, T0 + timedelta(minutes=31), settings) == c(0, 1)
    breach = [row for row in outbox(db_session) if row[0] == "sla_breach"]
    assert sorted(breach) == sorted([
        ("sla_breach", "email", "dispatcher@example.test"), ("sla_breach", "sms", "+8613700000001"),
        ("sla_breach", "email", "manager@example.test"), ("sla_breach", "webhook", "webhook"),
    ])  # fmt: skip
    sweep(db_session, T0 + timedelta(minutes=40), settings)
    assert len(outbox(db_session)) == 5, "nothing is queued twice"


def test_an_order_still_open_long_after_its_deadline_escalates_to_the_manager_once(app, headers, db_session):
    settings = NotifySettings(smtp_host="127.0.0.1", escalate_after=timedelta(hours=4))
    intake_at(app, headers, T0)
    assert sweep(db_session, T0 + timedelta(hours=27), settings) == c(2, 2, 0)
    assert sweep(db_session, T0 + timedelta(hours=28), settings) == c(0, 0, 1)
    assert sweep(db_session, T0 + timedelta(hours=40), settings) == c(0, 0, 0)
    escalations = [row for row in outbox(db_session) if row[0] == "sla_escalation"]
    assert escalations == [("sla_escalation", "email", "manager@example.test")]


def test_unconfigured_channels_queue_nothing(app, headers, db_session):
    intake_at(app, headers, T0)
    sweep(db_session, T0 + timedelta(days=2), NotifySettings())
    assert outbox(db_session) == []


def test_delivery_retries_a_failing_gateway_with_back_off_and_sends_once(app, headers, db_session):
    with FakeGateway(fail_first=2) as gateway:
        settings = NotifySettings(webhook_url=gateway.url)
        intake_at(app, headers, T0)
        sweep(db_session, T0 + timedelta(minutes=31), settings)  # contact breach → webhook
        senders = senders_from(settings)
        now = T0 + timedelta(minutes=31)
        assert deliver(db_session, senders, now) == {"sent": 0, "retry": 1, "failed": 0}
        assert deliver(db_session, senders, now + timedelta(seconds=30)) == {"sent": 0, "retry": 0, "failed": 0}
        assert deliver(db_session, senders, now + timedelta(minutes=1)) == {"sent": 0, "retry": 1, "failed": 0}
        assert deliver(db_session, senders, now + timedelta(minutes=4)) == {"sent": 1, "retry": 0, "failed": 0}
        assert deliver(db_session, senders, now + timedelta(hours=1)) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(gateway.received) == 1
    message = gateway.received[0]
    assert message["body"]["kind"] == "sla_breach" and "WO-" in message["body"]["text"]
    assert message["idempotency_key"] == message["body"]["dedup_key"]
    row = db_session.scalars(select(Notification)).one()
    assert (row.status, row.attempts) == ("sent", 3)
    db_session.rollback()


def test_a_gateway_that_never_answers_is_given_up_after_eight_attempts(app, headers, db_session):
    settings = NotifySettings(webhook_url="http://127.0.0.1:9/unreachable", timeout_s=0.5)
    intake_at(app, headers, T0)
    sweep(db_session, T0 + timedelta(minutes=31), settings)
    now = T0 + timedelta(minutes=31)
    for _ in range(8):
        deliver(db_session, senders_from(settings), now)
        now += timedelta(hours=2)
    row = db_session.scalars(select(Notification)).one()
    assert (row.status, row.attempts) == ("failed", 8) and row.last_error
    db_session.rollback()


def test_e_mail_goes_out_over_smtp(app, headers, db_session):
    with FakeSmtp() as smtp:
        settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=smtp.port, mail_from="sla@dispatch.test")
        intake_at(app, headers, T0)
        sweep(db_session, T0 + timedelta(minutes=31), settings)
        assert deliver(db_session, senders_from(settings), T0 + timedelta(minutes=31))["sent"] == 2
    assert sorted(m["to"][0] for m in smtp.messages) == ["dispatcher@example.test", "manager@example.test"]
    assert "sla@dispatch.test" in smtp.messages[0]["data"]


def test_an_admin_records_where_a_user_is_reached(client, auth, network):
    admin = auth.token("admin")
    response = client.patch(
        f"/api/users/{network.manager.id}", json={"email": "boss@example.test", "phone": "137 0000 0009"}, headers=admin
    )
    assert response.status_code == 200
    assert (response.get_json()["email"], response.get_json()["phone"]) == ("boss@example.test", "+8613700000009")
    bad = client.patch(
        f"/api/users/{network.manager.id}", json={"email": "not-an-address", "phone": "12"}, headers=admin
    )
    assert bad.status_code == 400 and set(bad.get_json()["detail"]["json"]) == {"email", "phone"}
