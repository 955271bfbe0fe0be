"""Complaints: the first responder owns them, they go up staff → outlet manager → region, their
four clocks warn and breach through the SLA sweep, and compensation follows the small-claim rule."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.db import utcnow
from dispatch.complaints import ComplaintPolicy
from dispatch.models import Compensation, Complaint, SlaClock, WorkOrder, WorkOrderEvent
from dispatch.sla.sweep import sweep
from tests.integration.helpers import act, create_order


@pytest.fixture
def dispatcher(network, auth):
    return auth.token("dispatcher")


@pytest.fixture
def manager(network, auth):
    return auth.token("manager")


def trail(client, headers, order_id: int) -> list[dict]:
    return client.get(f"/api/orders/{order_id}/events", headers=headers).get_json()["items"]


def open_complaint(client, headers, order: dict, summary: str = "the technician was rude") -> dict:
    response = client.post(f"/api/orders/{order['id']}/complaint", json={"summary": summary}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def field_errors(response, location: str = "json") -> dict:
    assert response.status_code == 400, response.get_json()
    return response.get_json()["detail"][location]


def complaint_of(client, headers, order: dict) -> dict:
    response = client.get(f"/api/orders/{order['id']}/complaint", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def public_complaint(app, phone: str = "13800138000") -> dict:
    """A complaint that came in with no staff member (a customer's own submission): what the
    public form's use case does with the public actor."""
    from core.accounts import Actor
    from dispatch.intake import OrderRequest, submit_order
    from tests.integration.helpers import order_body
    from web.extensions import db
    from web.wiring import intake_settings

    with app.test_request_context():
        req = OrderRequest(channel="web", **order_body(phone=phone, issue_category="complaint"))
        order, _ = submit_order(db.session, req, Actor.public(), intake_settings())
        out = {"id": order.id, "number": order.number, "created_at": order.created_at}
        db.session.rollback()
    return out


def clock_starts(db_session, order_id: int) -> dict[str, object]:
    rows = db_session.scalars(select(SlaClock).where(SlaClock.order_id == order_id, SlaClock.clock.like("cmp_%")))
    out = {c.clock: c.started_at for c in rows}
    db_session.rollback()
    return out


def test_a_complaint_taken_in_by_staff_is_open_from_intake_owned_by_whoever_took_it_in(
    client, dispatcher, manager, network, db_session
):
    dispatcher_id = network.dispatcher.id
    order = create_order(client, dispatcher, issue_category="complaint")
    complaint = complaint_of(client, manager, order)
    assert complaint["owner"]["id"] == dispatcher_id
    assert complaint["source"] == "intake" and complaint["level"] == "staff" and complaint["status"] == "open"
    assert complaint["opened_by_id"] == dispatcher_id
    created = db_session.get(WorkOrder, order["id"]).created_at
    db_session.rollback()
    # The four clocks run from intake, not from whenever someone looks at the complaint.
    assert clock_starts(db_session, order["id"]) == dict.fromkeys(
        ("cmp_contact", "cmp_plan", "cmp_agreement", "cmp_closure"), created
    )

    again = client.post(f"/api/orders/{order['id']}/complaint", json={}, headers=manager)
    assert again.status_code == 409
    opened = [e for e in trail(client, dispatcher, order["id"]) if e["kind"] == "complaint_opened"]
    assert len(opened) == 1 and opened[0]["data"]["owner_id"] == dispatcher_id
    assert opened[0]["actor_role"] == "dispatcher" and opened[0]["data"]["source"] == "intake"
    kinds = [e["kind"] for e in trail(client, dispatcher, order["id"])]
    assert kinds.index("created") < kinds.index("complaint_opened")


def test_a_complaint_taken_on_the_hotline_form_is_owned_by_the_dispatcher_on_the_phone(
    client, auth, network, csrf_from, db_session
):
    dispatcher_id, manager = network.dispatcher.id, auth.token("manager")
    auth.login("dispatcher")
    page = client.get("/hotline").get_data(as_text=True)
    form = {"channel": "hotline", "priority": "normal", "name": "王五", "phone": "13700137000",
            "address": "西安市新城区东五路 3 号", "lat": "34.27", "lon": "108.96", "product_category": "water_heater",
            "issue_category": "complaint", "required_skill": "", "description": "rude technician"}  # fmt: skip
    response = client.post("/hotline", data={**form, "csrf_token": csrf_from(page)})
    assert response.status_code == 302, response.get_data(as_text=True)
    order_id = int(response.headers["Location"].rsplit("/", 1)[1])
    complaint = complaint_of(client, manager, {"id": order_id})
    assert complaint["owner"]["id"] == dispatcher_id and complaint["source"] == "intake"
    created = db_session.get(WorkOrder, order_id).created_at
    db_session.rollback()
    assert set(clock_starts(db_session, order_id).values()) == {created}


def test_a_public_complaint_runs_its_clocks_from_intake_and_belongs_to_the_first_staff_member_who_takes_it(
    app, client, dispatcher, manager, network, db_session
):
    manager_id = network.manager.id
    order = public_complaint(app)
    # Nobody owns it yet, but the clocks are running since intake.
    assert client.get(f"/api/orders/{order['id']}/complaint", headers=manager).status_code == 404
    starts = clock_starts(db_session, order["id"])
    assert starts == dict.fromkeys(("cmp_contact", "cmp_plan", "cmp_agreement", "cmp_closure"), order["created_at"])
    sweep(db_session, order["created_at"] + timedelta(minutes=17))
    assert complaint_events(db_session, order["id"]) == [("sla_warning", "cmp_contact")]

    taken = open_complaint(client, manager, order, summary="leaks again")
    assert taken["owner"]["id"] == manager_id and taken["source"] == "intake"
    assert {c["clock"]: c["warned_at"] is not None for c in taken["clocks"]}["cmp_contact"] is True
    assert clock_starts(db_session, order["id"]) == starts, "taking it does not restart the clocks"
    assert client.post(f"/api/orders/{order['id']}/complaint", json={}, headers=dispatcher).status_code == 409
    opened = [e for e in trail(client, dispatcher, order["id"]) if e["kind"] == "complaint_opened"]
    assert [(e["actor_role"], e["data"]["owner_id"]) for e in opened] == [("manager", manager_id)]


def test_any_order_escalated_to_a_complaint_is_owned_by_whoever_escalates_it(client, dispatcher, manager, network):
    order = create_order(client, dispatcher)  # a repair
    complaint = open_complaint(client, manager, order)
    assert complaint["source"] == "escalated" and complaint["owner"]["id"] == network.manager.id
    assert client.get(f"/api/orders/{order['id']}/complaint", headers=dispatcher).get_json()["id"] == complaint["id"]
    assert client.get("/api/orders/999999/complaint", headers=dispatcher).status_code == 404


def test_ownership_moves_only_by_an_explicit_transfer_from_the_owner_or_a_manager(
    client, dispatcher, manager, network, auth, db_session
):
    order = create_order(client, dispatcher, issue_category="complaint")
    complaint_of(client, dispatcher, order)  # open since intake
    url = f"/api/orders/{order['id']}/complaint/transfers"
    other = auth.token("south_dispatcher")

    refused = client.post(url, json={"to_user_id": network.south_dispatcher.id, "reason": "mine now"}, headers=other)
    assert refused.status_code == 403
    assert field_errors(client.post(url, json={"to_user_id": network.manager.id}, headers=dispatcher)) == {
        "reason": ["Missing data for required field."]
    }
    tech_user = network.techs[0].user_id
    assert "to_user_id" in field_errors(
        client.post(url, json={"to_user_id": tech_user, "reason": "x"}, headers=dispatcher)
    )
    moved = client.post(url, json={"to_user_id": network.manager.id, "reason": "needs a refund"}, headers=dispatcher)
    assert moved.status_code == 200 and moved.get_json()["owner"]["id"] == network.manager.id
    # The manager may hand it on again, to someone who can see the order.
    back = client.post(url, json={"to_user_id": network.dispatcher.id, "reason": "refund done"}, headers=manager)
    assert back.get_json()["owner"]["id"] == network.dispatcher.id

    transfers = [e for e in trail(client, dispatcher, order["id"]) if e["kind"] == "complaint_transferred"]
    assert [(e["data"]["from_owner_id"], e["data"]["to_owner_id"], e["data"]["reason"]) for e in transfers] == [
        (network.dispatcher.id, network.manager.id, "needs a refund"),
        (network.manager.id, network.dispatcher.id, "refund done"),
    ]
    assert transfers[0]["actor_id"] == network.dispatcher.id


def test_escalation_climbs_staff_outlet_manager_region_with_who_when_and_why(client, dispatcher, network):
    order = create_order(client, dispatcher)
    open_complaint(client, dispatcher, order)
    url = f"/api/orders/{order['id']}/complaint/escalations"
    assert field_errors(client.post(url, json={"reason": ""}, headers=dispatcher)) == {
        "reason": ["Length must be between 1 and 2000."]
    }
    assert "level" in field_errors(client.post(url, json={"reason": "x", "level": "ceo"}, headers=dispatcher))

    up = client.post(url, json={"reason": "not solved in 3 days"}, headers=dispatcher).get_json()
    assert up["level"] == "outlet_manager"
    assert field_errors(client.post(url, json={"reason": "back", "level": "staff"}, headers=dispatcher)) == {
        "level": ["must be above the current level (outlet_manager)"]
    }
    assert client.post(url, json={"reason": "store manager stuck"}, headers=dispatcher).get_json()["level"] == "region"
    top = client.post(url, json={"reason": "more"}, headers=dispatcher)
    assert top.status_code == 409 and "highest" in top.get_json()["message"]

    steps = [e for e in trail(client, dispatcher, order["id"]) if e["kind"] == "complaint_escalated"]
    assert [(e["data"]["from"], e["data"]["to"], e["data"]["reason"]) for e in steps] == [
        ("staff", "outlet_manager", "not solved in 3 days"),
        ("outlet_manager", "region", "store manager stuck"),
    ]
    assert all(e["actor_id"] == network.dispatcher.id and e["at"] for e in steps)
    # The owner stays the owner.
    assert client.get(f"/api/orders/{order['id']}/complaint", headers=dispatcher).get_json()["owner"]["id"] == (
        network.dispatcher.id
    )


def complaint_events(db_session, order_id: int) -> list[tuple[str, str]]:
    rows = db_session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.order_id == order_id, WorkOrderEvent.kind.in_(["sla_warning", "sla_breach"]))
        .order_by(WorkOrderEvent.seq)
    )
    out = [(e.kind, e.data["clock"]) for e in rows if e.data["clock"].startswith("cmp_")]
    db_session.rollback()
    return out


def test_the_complaint_clocks_warn_and_breach_through_the_sla_sweep(client, dispatcher, db_session):
    order = create_order(client, dispatcher, issue_category="complaint")
    complaint = complaint_of(client, dispatcher, order)
    clocks = {c["clock"]: c for c in complaint["clocks"]}
    assert set(clocks) == {"cmp_contact", "cmp_plan", "cmp_agreement", "cmp_closure"}
    start = db_session.get(SlaClock, (order["id"], "cmp_contact")).started_at
    db_session.rollback()
    limits = {"cmp_contact": 20, "cmp_plan": 24 * 60, "cmp_agreement": 5 * 24 * 60, "cmp_closure": 30 * 24 * 60}
    for name, minutes in limits.items():
        due = db_session.get(SlaClock, (order["id"], name)).due_at
        assert due - start == timedelta(minutes=minutes)
    db_session.rollback()

    sweep(db_session, start + timedelta(minutes=15))
    assert complaint_events(db_session, order["id"]) == []
    sweep(db_session, start + timedelta(minutes=17))  # 80 % of 20 minutes
    assert complaint_events(db_session, order["id"]) == [("sla_warning", "cmp_contact")]
    sweep(db_session, start + timedelta(minutes=21))
    sweep(db_session, start + timedelta(minutes=22))  # exactly once
    assert complaint_events(db_session, order["id"]) == [("sla_warning", "cmp_contact"), ("sla_breach", "cmp_contact")]


def test_a_milestone_stops_its_clock_and_the_earlier_ones(client, dispatcher, manager, auth, db_session):
    order = create_order(client, dispatcher, issue_category="complaint")
    complaint_of(client, dispatcher, order)  # open since intake
    url = f"/api/orders/{order['id']}/complaint/milestones"
    assert "milestone" in field_errors(client.post(url, json={"milestone": "solved"}, headers=dispatcher))
    # Someone who is neither the owner nor a manager may not record progress.
    assert client.post(url, json={"milestone": "contacted"}, headers=auth.token("south_dispatcher")).status_code == 403

    done = client.post(url, json={"milestone": "plan", "note": "replace the heater"}, headers=dispatcher)
    assert done.status_code == 200 and done.get_json()["plan_at"]
    assert client.post(url, json={"milestone": "contacted"}, headers=dispatcher).status_code == 409
    start = db_session.get(SlaClock, (order["id"], "cmp_contact")).started_at
    db_session.rollback()
    sweep(db_session, start + timedelta(days=2))
    assert complaint_events(db_session, order["id"]) == []  # contact and plan stopped; 5 days not near

    closed = client.post(url, json={"milestone": "closed"}, headers=manager).get_json()
    assert closed["status"] == "closed" and all(c["stopped_at"] for c in closed["clocks"])
    sweep(db_session, start + timedelta(days=40))
    assert complaint_events(db_session, order["id"]) == []
    assert client.post(url, json={"milestone": "closed"}, headers=manager).status_code == 409
    kinds = [(e["kind"], e["data"].get("milestone")) for e in trail(client, dispatcher, order["id"])]
    assert ("complaint_milestone", "plan") in kinds and ("complaint_milestone", "closed") in kinds


def compensations(db_session) -> int:
    n = db_session.scalar(select(func.count()).select_from(Compensation))
    db_session.rollback()
    return n


def test_a_dispatcher_approves_small_claims_at_once_and_a_manager_the_rest(client, dispatcher, manager, db_session):
    order = create_order(client, dispatcher, issue_category="complaint")
    complaint_of(client, dispatcher, order)  # open since intake
    url = f"/api/orders/{order['id']}/complaint/compensations"

    small = client.post(url, json={"amount": "200.00", "reason": "second visit", "paid_first": True, "approve": True},
                        headers=dispatcher)  # fmt: skip
    assert small.status_code == 201
    first = small.get_json()["compensations"][0]
    assert first["status"] == "approved" and first["amount"] == "200.00" and first["currency"] == "CNY"
    assert small.get_json()["small_claim_limit"] == "200"

    big = {"amount": "200.01", "reason": "broken floor", "paid_first": True}
    assert client.post(url, json={**big, "approve": True}, headers=dispatcher).status_code == 403
    assert compensations(db_session) == 1  # the refused one left nothing behind
    pending = client.post(url, json=big, headers=dispatcher).get_json()["compensations"][1]
    assert pending["status"] == "pending"
    assert client.post(f"/api/compensations/{pending['id']}/approval", headers=dispatcher).status_code == 403
    approved = client.post(f"/api/compensations/{pending['id']}/approval", headers=manager)
    assert approved.get_json()["compensations"][1]["status"] == "approved"
    assert client.post(f"/api/compensations/{pending['id']}/approval", headers=manager).status_code == 409

    settle = client.post(f"/api/compensations/{first['id']}/settlement", headers=dispatcher)
    assert settle.get_json()["compensations"][0]["settled_with_outlet"] is True
    assert client.post(f"/api/compensations/{first['id']}/settlement", headers=dispatcher).status_code == 409
    not_first = client.post(url, json={"amount": 50, "reason": "apology", "approve": True}, headers=manager)
    later = not_first.get_json()["compensations"][2]
    assert client.post(f"/api/compensations/{later['id']}/settlement", headers=dispatcher).status_code == 409

    steps = [(e["kind"], e["data"].get("amount")) for e in trail(client, dispatcher, order["id"])]
    assert ("compensation_added", "200.00") in steps and ("compensation_approved", "200.00") in steps
    assert ("compensation_approved", "200.01") in steps and ("compensation_settled", "200.00") in steps
    stored = db_session.scalar(select(Compensation).where(Compensation.id == pending["id"]))
    assert stored.amount == Decimal("200.01")
    db_session.rollback()


def test_a_dispatcher_cannot_split_a_large_claim_into_small_approvals(client, dispatcher, manager, db_session):
    order = create_order(client, dispatcher, issue_category="complaint")
    complaint_of(client, dispatcher, order)
    url = f"/api/orders/{order['id']}/complaint/compensations"

    def add(amount: str, headers, approve: bool = True):
        return client.post(url, json={"amount": amount, "reason": "split", "approve": approve}, headers=headers)

    assert add("120", dispatcher).status_code == 201
    assert add("80", dispatcher).status_code == 201  # ¥200 in all: still the dispatcher's to approve
    refused = add("200", dispatcher)
    assert refused.status_code == 403
    message = refused.get_json()["message"]
    assert "¥200.00" in message and "small-claim limit of ¥200" in message, message
    assert compensations(db_session) == 2  # the refused one left nothing behind

    # Recorded as pending and approved one by one: the same sum, the same answer.
    pending = add("0.01", dispatcher, approve=False).get_json()["compensations"][2]
    approval = f"/api/compensations/{pending['id']}/approval"
    chinese = client.post(approval, headers={**dispatcher, "Accept-Language": "zh-CN"})
    assert chinese.status_code == 403 and "¥200.00" in chinese.get_json()["message"]
    assert "小额" in chinese.get_json()["message"], chinese.get_json()["message"]
    assert client.post(approval, headers=manager).status_code == 200

    # What a manager approves is a manager's decision: it does not use up the dispatchers' limit.
    big = add("900", manager)
    assert big.status_code == 201
    approved = [c for c in big.get_json()["compensations"] if c["status"] == "approved"]
    assert sum(Decimal(c["amount"]) for c in approved) == Decimal("1100.01")
    assert add("0.01", dispatcher).status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "0", "reason": "x"}, "amount"),
        ({"amount": "-5", "reason": "x"}, "amount"),
        ({"amount": "abc", "reason": "x"}, "amount"),
        ({"amount": "1.234", "reason": "x"}, "amount"),
        ({"amount": "100000.01", "reason": "x"}, "amount"),
        ({"amount": "NaN", "reason": "x"}, "amount"),
        ({"amount": "10"}, "reason"),
        ({"amount": "10", "reason": "   "}, "reason"),
        ({"amount": "10", "reason": "x", "paid_first": "maybe"}, "paid_first"),
    ],
)
def test_bad_compensation_input_is_a_400_naming_the_field(client, dispatcher, db_session, body, field):
    order = create_order(client, dispatcher, issue_category="complaint")
    complaint_of(client, dispatcher, order)  # open since intake
    response = client.post(f"/api/orders/{order['id']}/complaint/compensations", json=body, headers=dispatcher)
    assert field in field_errors(response)
    assert compensations(db_session) == 0


def test_the_list_is_paged_filtered_and_scoped_to_the_callers_outlet(client, dispatcher, manager, network, auth):
    north = create_order(client, dispatcher, phone="13900000001")
    act(client, dispatcher, north, "assign", technician_id=network.techs[0].id)
    south = create_order(client, dispatcher, phone="13900000002")
    act(client, dispatcher, south, "assign", technician_id=network.techs[1].id)
    for order in (north, south):
        open_complaint(client, dispatcher, order)
    client.post(f"/api/orders/{south['id']}/complaint/escalations", json={"reason": "slow"}, headers=dispatcher)

    everything = client.get("/api/complaints?per_page=1", headers=manager).get_json()
    assert everything["meta"]["total"] == 2 and len(everything["items"]) == 1
    numbers = {c["order_number"] for c in client.get("/api/complaints", headers=manager).get_json()["items"]}
    assert numbers == {north["number"], south["number"]}
    theirs = client.get("/api/complaints", headers=auth.token("south_dispatcher")).get_json()["items"]
    assert [c["order_number"] for c in theirs] == [south["number"]]
    assert client.get(f"/api/orders/{north['id']}/complaint", headers=auth.token("south_dispatcher")).status_code == 404
    up = client.get("/api/complaints?level=outlet_manager", headers=manager).get_json()["items"]
    assert [c["order_number"] for c in up] == [south["number"]]
    by_outlet = client.get(f"/api/complaints?outlet_id={network.north.id}", headers=manager).get_json()["items"]
    assert [c["order_number"] for c in by_outlet] == [north["number"]]
    assert client.get("/api/complaints?status=closed", headers=manager).get_json()["meta"]["total"] == 0
    assert "level" in field_errors(client.get("/api/complaints?level=boss", headers=manager), "query")


def test_technicians_do_not_handle_complaints(client, dispatcher, network, auth, db_session):
    order = create_order(client, dispatcher)
    act(client, dispatcher, order, "assign", technician_id=network.techs[0].id)
    tech = auth.token("tech1")
    assert client.post(f"/api/orders/{order['id']}/complaint", json={}, headers=tech).status_code == 403
    assert client.get("/api/complaints", headers=tech).status_code == 403
    assert db_session.scalar(select(func.count()).select_from(Complaint)) == 0
    db_session.rollback()


def test_the_limits_come_from_configuration():
    policy = ComplaintPolicy.from_config(
        {"COMPLAINT_CLOCK_MINUTES": {"contact": 10}, "COMPENSATION_SMALL_CLAIM_LIMIT": "500"}
    )
    assert policy.contact_minutes == 10 and policy.plan_minutes == 1440
    assert policy.small_claim_limit == Decimal("500")


def test_the_order_page_shows_the_complaint_panel_and_its_forms_work(app, client, auth, network, csrf_from):
    headers = auth.token("dispatcher")
    order = public_complaint(app)  # nobody has taken it yet
    auth.login("dispatcher")
    page = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert 'id="complaint-untaken"' in page and 'id="complaint-open"' in page
    url = f"/orders/{order['id']}/complaint"

    def post(**form):
        token = csrf_from(client.get(f"/orders/{order['id']}").get_data(as_text=True))
        response = client.post(url, data={"csrf_token": token, **form}, follow_redirects=True)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    assert client.post(url, data={"step": "open"}).status_code == 400  # no CSRF token
    page = post(step="open", summary="water everywhere")
    assert 'id="complaint-owner">dispatcher<' in page and 'id="complaint-clocks"' in page
    assert "Contact the customer" in page and "Everything finished" in page
    page = post(step="compensation", amount="150", reason="second visit", paid_first="1", approve="1")
    assert "¥150.00" in page and "Mark settled with the outlet" in page
    page = post(step="compensation", amount="500", reason="new heater")
    assert "waiting for approval" in page
    comp_id = client.get(f"/api/orders/{order['id']}/complaint", headers=headers).get_json()["compensations"][1]["id"]
    page = post(step="approve", compensation_id=str(comp_id))
    assert "small-claim limit" in page and "waiting for approval" in page
    page = post(step="compensation", amount="abc", reason="x")
    assert "amount:" in page
    page = post(step="escalate", reason="three days and nothing")
    assert 'id="complaint-level">Outlet manager<' in page
    page = post(step="milestone", milestone="contacted", note="called")
    assert "Customer contacted" in page


def test_two_people_opening_the_same_complaint_at_once_get_one_owner(app, client, dispatcher, manager, network):
    """The first commit owns it; the other gets a 409, never a second record or a 500."""
    import threading

    from core.accounts import Actor
    from core.errors import Conflict
    from dispatch import complaints
    from web.extensions import db

    order = create_order(client, dispatcher)
    people = [Actor(network.dispatcher.id, "dispatcher"), Actor(network.manager.id, "manager")]
    start, results = threading.Barrier(2), []

    def open_as(actor):
        session = db.new_session()
        try:
            start.wait()
            complaints.open_complaint(session, order["id"], actor, ComplaintPolicy())
            results.append("opened")
        except Conflict:
            results.append("conflict")
        finally:
            session.close()

    threads = [threading.Thread(target=open_as, args=(a,)) for a in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["conflict", "opened"]
    listed = client.get("/api/complaints", headers=manager).get_json()
    assert listed["meta"]["total"] == 1
    opened = [e for e in trail(client, dispatcher, order["id"]) if e["kind"] == "complaint_opened"]
    assert len(opened) == 1 and opened[0]["data"]["owner_id"] == listed["items"][0]["owner"]["id"]


def test_a_large_paid_first_claim_a_manager_approves_asks_the_outlet_to_settle_and_settling_closes_the_loop(
    app, client, dispatcher, manager, network, db_session
):
    from core.accounts import create_user
    from dispatch.models import Notification
    from dispatch.notify import NotifySettings, deliver, senders_from
    from tests.fakes.gateway import FakeGateway

    manager_id = network.manager.id
    south_manager = create_user(db_session, "south_manager", "test-pass-123", "manager", outlet_id=network.south.id)
    south_manager.email, south_manager.phone = "south.manager@example.test", "+8613700000005"
    network.south_dispatcher.phone = "+8613700000006"
    network.dispatcher.email = "dispatcher@example.test"  # works for every outlet: not the outlet's to settle
    db_session.commit()

    def settlement_outbox() -> list[tuple[str, str]]:
        rows = db_session.scalars(select(Notification).where(Notification.kind == "compensation_settlement"))
        out = sorted((n.channel, n.recipient) for n in rows)
        db_session.rollback()
        return out

    with FakeGateway() as gateway:
        app.extensions["complaint_policy"] = ComplaintPolicy(
            notify=NotifySettings(sms_url=gateway.url, webhook_url=gateway.url, smtp_host="127.0.0.1")
        )
        order = create_order(client, dispatcher, issue_category="complaint")  # the south outlet's order
        url = f"/api/orders/{order['id']}/complaint/compensations"
        # At or under the limit, or not paid first: nothing to ask of the outlet.
        client.post(
            url, json={"amount": "200", "reason": "visit", "paid_first": True, "approve": True}, headers=manager
        )
        client.post(url, json={"amount": "900", "reason": "heater", "approve": True}, headers=manager)
        assert settlement_outbox() == []

        big = client.post(url, json={"amount": "1500.50", "reason": "flooded floor", "paid_first": True},
                          headers=dispatcher).get_json()["compensations"][2]  # fmt: skip
        assert settlement_outbox() == [], "a pending claim asks nothing yet"
        assert client.post(f"/api/compensations/{big['id']}/approval", headers=manager).status_code == 200
        expected = [("email", "south.manager@example.test"), ("sms", "+8613700000005"), ("sms", "+8613700000006"),
                    ("webhook", "webhook")]  # fmt: skip
        assert settlement_outbox() == expected
        assert client.post(f"/api/compensations/{big['id']}/approval", headers=manager).status_code == 409
        assert settlement_outbox() == expected, "no second request"

        sms_and_hook = {"sms": senders_from(NotifySettings(sms_url=gateway.url))["sms"],
                        "webhook": senders_from(NotifySettings(webhook_url=gateway.url))["webhook"]}  # fmt: skip
        assert deliver(db_session, sms_and_hook, utcnow() + timedelta(seconds=1))["sent"] == 3
        texts = [m["body"]["text"] for m in gateway.received if m["body"]["kind"] == "compensation_settlement"]
        assert len(texts) == 3 and all("¥1500.50" in t and order["number"] in t and "manager" in t for t in texts)
    app.extensions.pop("complaint_policy")

    events = trail(client, dispatcher, order["id"])
    [request] = [e for e in events if e["kind"] == "settlement_requested"]
    assert request["data"]["compensation_id"] == big["id"] and request["data"]["amount"] == "1500.50"
    assert request["data"]["notified"] == [f"{c}:{r}" for c, r in expected]
    assert request["actor_id"] == manager_id

    settled = client.post(f"/api/compensations/{big['id']}/settlement", headers=dispatcher)
    assert settled.status_code == 200 and settled.get_json()["compensations"][2]["settled_with_outlet"] is True
    [done] = [e for e in trail(client, dispatcher, order["id"]) if e["kind"] == "compensation_settled"]
    assert done["data"]["compensation_id"] == big["id"] and done["data"]["settles_request_seq"] == request["seq"]
    # The small paid-first claim is settled in the routine run: no request, nothing to close.
    small_id = settled.get_json()["compensations"][0]["id"]
    again = client.post(f"/api/compensations/{small_id}/settlement", headers=dispatcher)
    assert again.status_code == 200
    closing = [e for e in trail(client, dispatcher, order["id"]) if e["kind"] == "compensation_settled"]
    assert [e["data"]["settles_request_seq"] for e in closing] == [request["seq"], None]
