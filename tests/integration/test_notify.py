"""Notices outside the app: who gets them, the outbox, delivery at least once with retries,
and no duplicates, through fake local gateways (never the internet)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.accounts import Actor
from dispatch.models import Notification, WorkOrder
from dispatch.moves import transition
from dispatch.notify import NotifySettings, deliver, senders_from
from dispatch.sla.sweep import sweep
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


# --- complaint clocks: the owner hears, then each level the complaint has reached ----------


def complaint_at(app, when, actor: Actor) -> int:
    """A complaint order taken in at `when` by `actor` (a staff member owns it from intake)."""
    from dispatch.intake import OrderRequest, submit_order
    from tests.integration.helpers import order_body
    from web.extensions import db
    from web.wiring import intake_settings

    with app.test_request_context():
        req = OrderRequest(channel="hotline", **order_body(issue_category="complaint"))
        order, _ = submit_order(db.session, req, actor, intake_settings(), now=when)
        oid = order.id
        db.session.rollback()
        return oid


def test_a_complaint_clock_warns_its_owner_by_name_and_local_due_time_not_the_technician(
    app, headers, network, db_session
):
    dispatcher_id, tech_id = network.dispatcher.id, network.techs[1].id
    db_session.rollback()
    with FakeGateway(fail_first=1) as gateway:
        settings = NotifySettings(sms_url=gateway.url, webhook_url=gateway.url)
        oid = complaint_at(app, T0, Actor(dispatcher_id, "dispatcher"))
        order = db_session.get(WorkOrder, oid)
        number = order.number
        transition(db_session, oid, "assign", Actor(None, "dispatcher"), version=order.version,
                   technician_id=tech_id, now=T0)  # fmt: skip
        assert sweep(db_session, T0 + timedelta(minutes=17), settings) == c(1, 0)  # 80 % of 20 minutes
        assert outbox(db_session) == [("sla_warning", "sms", "+8613700000001")], "the owner, not the technician"
        assert sweep(db_session, T0 + timedelta(minutes=18), settings) == c(0, 0)

        now = T0 + timedelta(minutes=17)
        sms = senders_from(settings)
        assert deliver(db_session, sms, now) == {"sent": 0, "retry": 1, "failed": 0}  # the gateway fails once
        assert deliver(db_session, sms, now + timedelta(minutes=1)) == {"sent": 1, "retry": 0, "failed": 0}
        assert deliver(db_session, sms, now + timedelta(hours=1))["sent"] == 0
        [message] = gateway.received
        text = message["body"]["text"]
        # 02:20 UTC is 10:20 in Xi'an; the clock's name, not its code.
        assert number in text and "Contact the customer" in text and "2026-11-24 10:20" in text
        assert "cmp_contact" not in text and "Owner: dispatcher" in text
        assert message["idempotency_key"] == message["body"]["dedup_key"]

        assert sweep(db_session, T0 + timedelta(minutes=21), settings) == c(0, 1)
        breach = sorted(row for row in outbox(db_session) if row[0] == "sla_breach")
        assert breach == [("sla_breach", "sms", "+8613700000001"), ("sla_breach", "webhook", "webhook")]
        sweep(db_session, T0 + timedelta(minutes=25), settings)  # the order's own contact clock warns now
        assert not [r for r in outbox(db_session) if r[0] == "sla_breach" and r not in breach], "nothing twice"


def test_an_escalated_complaint_also_tells_the_outlet_manager_and_then_the_region(app, headers, network, db_session):
    from core.accounts import create_user
    from dispatch.complaints import escalate

    south = create_user(db_session, "south_manager", "test-pass-123", "manager", outlet_id=network.south.id)
    south.email = "south.manager@example.test"
    network.south_dispatcher.email = "south.dispatcher@example.test"
    dispatcher_id = network.dispatcher.id
    db_session.commit()
    settings = NotifySettings(smtp_host="127.0.0.1")
    oid = complaint_at(app, T0, Actor(dispatcher_id, "dispatcher"))  # a south order
    me = Actor(dispatcher_id, "dispatcher")
    escalate(db_session, oid, me, reason="customer is furious", now=T0 + timedelta(minutes=1))
    sweep(db_session, T0 + timedelta(minutes=17), settings)
    assert sorted(r[2] for r in outbox(db_session)) == ["dispatcher@example.test", "south.manager@example.test"]

    escalate(db_session, oid, me, reason="store manager stuck", now=T0 + timedelta(minutes=18))
    sweep(db_session, T0 + timedelta(minutes=21), settings)
    breach = sorted(r[2] for r in outbox(db_session) if r[0] == "sla_breach")
    assert breach == ["dispatcher@example.test", "manager@example.test", "south.manager@example.test"]


def test_a_complaint_nobody_has_taken_tells_the_outlets_staff_until_someone_takes_it(app, headers, network, db_session):
    from dispatch.complaints import ComplaintPolicy, open_complaint

    network.south_dispatcher.email = "south.dispatcher@example.test"
    manager_id = network.manager.id
    db_session.commit()
    settings = NotifySettings(smtp_host="127.0.0.1")
    oid = complaint_at(app, T0, Actor.public())
    sweep(db_session, T0 + timedelta(minutes=17), settings)
    assert sorted(r[2] for r in outbox(db_session)) == [
        "dispatcher@example.test", "manager@example.test", "south.dispatcher@example.test",
    ]  # fmt: skip
    body = db_session.scalars(select(Notification.body)).first()
    db_session.rollback()
    assert "nobody has taken it yet" in body

    open_complaint(db_session, oid, Actor(manager_id, "manager"), ComplaintPolicy(), now=T0 + timedelta(minutes=18))
    sweep(db_session, T0 + timedelta(minutes=21), settings)
    assert [r[2] for r in outbox(db_session) if r[0] == "sla_breach"] == ["manager@example.test"]


def test_each_recipient_reads_a_complaint_notice_in_their_own_language(app, headers, network, db_session, tmp_path):
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from dispatch.complaints import escalate
    from dispatch.notify import COMPLAINT_TEXT, LEVEL_LABELS, NOBODY, render

    catalog = Catalog(locale="zh")
    catalog.add("Contact the customer", "联系客户")
    catalog.add("Region", "大区")
    catalog.add(
        COMPLAINT_TEXT["sla_warning"][1],
        "投诉工单 %(number)s：“%(clock)s”将于 %(due)s 到期。负责人：%(owner)s；级别：%(level)s。",
    )
    catalog.add(COMPLAINT_TEXT["sla_breach"][1], "投诉 %(numbr)s 已超时")  # a translator's typo
    (tmp_path / "zh" / "LC_MESSAGES").mkdir(parents=True)
    with open(tmp_path / "zh" / "LC_MESSAGES" / "messages.mo", "wb") as mo:
        write_mo(mo, catalog)
    network.dispatcher.locale, network.manager.locale = "zh", "en"
    dispatcher_id = network.dispatcher.id
    db_session.commit()
    settings = NotifySettings(smtp_host="127.0.0.1", translations_dir=str(tmp_path))
    oid = complaint_at(app, T0, Actor(dispatcher_id, "dispatcher"))
    escalate(db_session, oid, Actor(dispatcher_id, "dispatcher"), reason="x", level="region", now=T0)
    sweep(db_session, T0 + timedelta(minutes=17), settings)
    bodies = {n.recipient: n.body for n in db_session.scalars(select(Notification))}
    db_session.rollback()
    assert bodies["dispatcher@example.test"].startswith("投诉工单 WO-") and "“联系客户”将于 2026-11-24 10:20" in bodies[
        "dispatcher@example.test"
    ] and "级别：大区" in bodies["dispatcher@example.test"]  # fmt: skip
    assert bodies["manager@example.test"].startswith("Complaint on order WO-") and "联系客户" not in bodies[
        "manager@example.test"
    ]  # fmt: skip
    # Someone who chose no language reads both, Chinese first.
    both = render(settings, None, COMPLAINT_TEXT["sla_warning"][1], {"clock": "Contact the customer",
                  "level": LEVEL_LABELS["staff"], "owner": NOBODY}, {"number": "WO-1", "due": "10:20"})  # fmt: skip
    assert both.startswith("投诉工单 WO-1：“联系客户”") and " / Complaint on order WO-1: “Contact the customer”" in both
    # A translation whose placeholders do not fit falls back to English instead of stopping the sweep.
    breach = render(settings, "zh", COMPLAINT_TEXT["sla_breach"][1], {"clock": "Agreement", "level": "Staff"},
                    {"number": "WO-2", "due": "10:20", "owner": "li"})  # fmt: skip
    assert breach.startswith("Complaint on order WO-2: “Agreement” was due at 10:20")
