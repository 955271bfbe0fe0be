"""The HTML pages: the public request form, the hotline form, order pages and the admin pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from core.audit import AuditEntry
from dispatch.models import WorkOrder
from technicians.models import Outlet, Technician
from tests.clock import local_today
from tests.conftest import Auth
from tests.integration.helpers import create_order

REQUEST = {
    "name": "李四",
    "phone": "13800138000",
    "address": "西安市碑林区南大街 2 号",
    "product_category": "water_heater",
    "issue_category": "repair",
    "description": "no hot water",
    "lat": "34.25",
    "lon": "108.94",
}
HOTLINE = {
    "channel": "wechat",
    "priority": "urgent",
    "name": "王五",
    "phone": "13700137000",
    "address": "西安市新城区东五路 3 号",
    "lat": "34.27",
    "lon": "108.96",
    "product_category": "air_conditioner",
    "issue_category": "repair",
    "required_skill": "",
    "description": "not cooling",
}


@pytest.fixture
def api(app, network) -> dict[str, str]:
    """A dispatcher's bearer token on a client of its own (no session cookie, so no CSRF)."""
    return Auth(app.test_client()).token("dispatcher")


@pytest.fixture
def api_client(app):
    return app.test_client()


def html_of(response) -> str:
    return response.get_data(as_text=True)


def post_form(client, csrf_from, url: str, data: dict, page: str | None = None):
    """GET the page (for its CSRF token), then POST the form."""
    token = csrf_from(html_of(client.get(page or url)))
    return client.post(url, data={**data, "csrf_token": token})


# --- the public request form --------------------------------------------------------


def test_the_request_form_is_open_to_anyone_and_carries_a_csrf_token(client, network, csrf_from):
    response = client.get("/request")
    assert response.status_code == 200
    html = html_of(response)
    assert csrf_from(html) and 'name="phone"' in html and 'value="water_heater"' in html


def test_anonymous_visitors_are_sent_from_home_to_the_request_form(client, network):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/request"


def test_a_valid_request_creates_a_web_order_and_thanks_the_customer_with_its_number(
    client, network, csrf_from, db_session
):
    response = post_form(client, csrf_from, "/request", REQUEST)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/request/received/")
    thanks = client.get(location)
    assert thanks.status_code == 200
    order = db_session.query(WorkOrder).one()
    assert order.channel == "web" and order.status == "new" and order.contact_phone == "+8613800138000"
    assert location == f"/request/received/{order.number}"
    assert f'<p class="order-number" id="order-number">{order.number}</p>' in html_of(thanks)


@pytest.mark.parametrize("phone", ["12345", "not a phone"])
def test_a_bad_phone_shows_the_error_next_to_the_field_and_creates_nothing(
    client, network, csrf_from, db_session, phone
):
    response = post_form(client, csrf_from, "/request", {**REQUEST, "phone": phone})
    assert response.status_code == 400
    html = html_of(response)
    assert re.search(r'<p class="error" data-field="phone">[^<]*phone number[^<]*</p>', html), html
    assert f'value="{phone}"' in html  # what was typed stays on the form
    assert db_session.query(WorkOrder).count() == 0


def test_a_missing_name_is_refused_on_the_form(client, network, csrf_from, db_session):
    response = post_form(client, csrf_from, "/request", {**REQUEST, "name": ""})
    assert response.status_code == 400
    assert 'data-field="name"' in html_of(response)
    assert db_session.query(WorkOrder).count() == 0


def test_an_unknown_appliance_is_refused_on_the_form(client, network, csrf_from, db_session):
    response = post_form(client, csrf_from, "/request", {**REQUEST, "product_category": "spaceship"})
    assert response.status_code == 400
    assert 'data-field="product_category"' in html_of(response)
    assert db_session.query(WorkOrder).count() == 0


def test_a_request_posted_without_a_csrf_token_is_400_and_creates_nothing(client, network, db_session):
    assert client.post("/request", data=REQUEST).status_code == 400
    assert db_session.query(WorkOrder).count() == 0


def test_a_request_with_a_garbled_location_still_goes_through(client, network, csrf_from, db_session):
    response = post_form(client, csrf_from, "/request", {**REQUEST, "lat": "north", "lon": ""})
    assert response.status_code == 302
    assert db_session.query(WorkOrder).count() == 1


def test_the_sixth_request_within_a_minute_is_429(client, network, csrf_from, db_session):
    token = csrf_from(html_of(client.get("/request")))
    codes = [
        client.post("/request", data={**REQUEST, "phone": f"1380013800{i}", "csrf_token": token}).status_code
        for i in range(6)
    ]
    assert codes == [302] * 5 + [429]
    assert client.get("/request").status_code == 200  # reading the form is never limited
    assert db_session.query(WorkOrder).count() == 5


def test_bad_requests_count_towards_the_limit_too(app, client, network, csrf_from):
    app.config["PUBLIC_INTAKE_LIMIT"] = "2 per minute"
    token = csrf_from(html_of(client.get("/request")))
    codes = [client.post("/request", data={**REQUEST, "phone": "1", "csrf_token": token}).status_code for _ in range(3)]
    assert codes == [400, 400, 429]


# --- the hotline form ---------------------------------------------------------------


def test_a_dispatcher_takes_a_call_on_the_hotline_form(client, auth, network, csrf_from, db_session):
    auth.login("dispatcher")
    assert client.get("/hotline").status_code == 200
    response = post_form(client, csrf_from, "/hotline", HOTLINE)
    assert response.status_code == 302
    order = db_session.query(WorkOrder).one()
    assert response.headers["Location"] == f"/orders/{order.id}"
    assert order.channel == "wechat" and order.priority == "urgent"
    assert order.required_skill == "air_conditioner" and order.created_by_id == network.dispatcher.id


def test_a_hotline_order_with_a_bad_phone_stays_on_the_form(client, auth, network, csrf_from, db_session):
    auth.login("admin")
    response = post_form(client, csrf_from, "/hotline", {**HOTLINE, "phone": "12345"})
    assert response.status_code == 400
    assert 'data-field="phone"' in html_of(response)
    assert db_session.query(WorkOrder).count() == 0


@pytest.mark.parametrize("field", ["lat", "channel", "priority"])
def test_a_hotline_order_with_a_bad_field_stays_on_the_form(client, auth, network, csrf_from, db_session, field):
    auth.login("dispatcher")
    response = post_form(client, csrf_from, "/hotline", {**HOTLINE, field: "999"})
    assert response.status_code == 400
    assert db_session.query(WorkOrder).count() == 0


@pytest.mark.parametrize("username", ["tech1", "manager"])
def test_only_dispatchers_and_admins_use_the_hotline_form(client, auth, network, username):
    auth.login(username)
    assert client.get("/hotline").status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in_from_the_hotline_form(client, network):
    response = client.get("/hotline")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- order pages --------------------------------------------------------------------


def test_the_order_page_shows_its_history_and_the_moves_allowed(client, auth, network, api, api_client):
    order = create_order(api_client, api)
    auth.login("dispatcher")
    html = html_of(client.get(f"/orders/{order['id']}"))
    assert order["number"] in html
    events = re.search(r'<table class="list" id="events">.*?</table>', html, re.S).group(0)
    assert events.count("<tr><td>") == 1 and "<td>Created</td>" in events
    assert 'name="action" value="assign"' in html and 'name="action" value="cancel"' in html
    assert 'name="action" value="close"' not in html
    assert f'<option value="{network.techs[0].id}">' in html  # a water-heater technician to pick


def test_an_assign_through_the_order_page_lands(client, auth, network, csrf_from, api, api_client, db_session):
    order = create_order(api_client, api)
    auth.login("dispatcher")
    token = csrf_from(html_of(client.get(f"/orders/{order['id']}")))
    tech = network.techs[1]
    response = client.post(
        f"/orders/{order['id']}/transition",
        data={"csrf_token": token, "action": "assign", "version": order["version"], "technician_id": tech.id},
    )
    assert response.status_code == 302 and response.headers["Location"] == f"/orders/{order['id']}"
    page = html_of(client.get(response.headers["Location"]))
    assert "Done." in page and "<td>Assign</td>" in page and network.techs[1].name in page
    saved = db_session.get(WorkOrder, order["id"])
    assert saved.status == "assigned" and saved.technician_id == tech.id
    assert saved.version == order["version"] + 1


def test_a_stale_version_through_the_order_page_is_a_message_not_an_error(
    client, auth, network, csrf_from, api, api_client, db_session
):
    order = create_order(api_client, api)
    auth.login("dispatcher")
    token = csrf_from(html_of(client.get(f"/orders/{order['id']}")))
    data = {"csrf_token": token, "action": "assign", "version": order["version"], "technician_id": network.techs[1].id}
    assert client.post(f"/orders/{order['id']}/transition", data=data).status_code == 302
    stale = client.post(f"/orders/{order['id']}/transition", data={**data, "technician_id": network.techs[0].id})
    assert stale.status_code == 302
    page = client.get(stale.headers["Location"])
    assert page.status_code == 200
    assert re.search(r'<p class="flash error" role="status">[^<]+</p>', html_of(page))
    assert db_session.get(WorkOrder, order["id"]).technician_id == network.techs[1].id


def test_a_move_that_breaks_a_rule_is_a_message_too(client, auth, network, csrf_from, api, api_client, db_session):
    order = create_order(api_client, api)
    auth.login("dispatcher")
    token = csrf_from(html_of(client.get(f"/orders/{order['id']}")))
    data = {"csrf_token": token, "action": "assign", "version": order["version"], "technician_id": network.techs[2].id}
    response = client.post(f"/orders/{order['id']}/transition", data=data)  # washing machines only
    assert response.status_code == 302
    assert "lacks the skill" in html_of(client.get(response.headers["Location"]))
    assert db_session.get(WorkOrder, order["id"]).status == "new"


def test_a_transition_form_without_csrf_is_400(client, auth, network, api, api_client, db_session):
    order = create_order(api_client, api)
    auth.login("dispatcher")
    data = {"action": "assign", "version": order["version"], "technician_id": network.techs[1].id}
    assert client.post(f"/orders/{order['id']}/transition", data=data).status_code == 400
    assert db_session.get(WorkOrder, order["id"]).status == "new"


def test_the_order_list_pages_by_fifty(client, auth, network, api, api_client):
    numbers = [create_order(api_client, api)["number"] for _ in range(51)]
    auth.login("dispatcher")
    first = html_of(client.get("/orders"))
    assert first.count('<tr class="status-') == 50
    assert numbers[-1] in first and numbers[0] not in first  # newest first
    assert "Page 1 of 2" in first and "51 in all" in first
    second = html_of(client.get("/orders?page=2"))
    assert second.count('<tr class="status-') == 1 and numbers[0] in second
    assert html_of(client.get("/orders?page=abc")).count('<tr class="status-') == 50


def test_the_order_list_searches_by_number_phone_and_address(client, auth, network, api, api_client):
    first = create_order(api_client, api, phone="13911112222", address="西安市未央区凤城八路 8 号")
    second = create_order(api_client, api, phone="13933334444")
    auth.login("dispatcher")

    def listed(q: str) -> set[str]:
        html = html_of(client.get("/orders", query_string={"q": q}))
        return set(re.findall(r"WO-\d{8}-\d{4}", re.search(r"<tbody>.*</tbody>", html, re.S).group(0)))

    assert listed("1111") == {first["number"]}
    assert listed("凤城八路") == {first["number"]}
    assert listed(second["number"]) == {second["number"]}
    assert listed("%") == set()  # a LIKE wildcard is searched for, not obeyed
    assert "No orders match." in html_of(client.get("/orders?q=nothing-like-this"))


def test_a_technician_sees_only_their_own_orders(client, auth, network, api, api_client):
    mine = create_order(api_client, api)
    other = create_order(api_client, api, phone="13900139000")
    assigned = api_client.post(
        f"/api/orders/{mine['id']}/transitions",
        json={"action": "assign", "version": mine["version"], "technician_id": network.techs[1].id}, headers=api,
    )  # fmt: skip
    assert assigned.status_code == 200
    auth.login("tech2")
    html = html_of(client.get("/orders"))
    assert mine["number"] in html and other["number"] not in html
    assert client.get(f"/orders/{mine['id']}").status_code == 200
    assert client.get(f"/orders/{other['id']}").status_code == 404
    assert client.get("/orders/999999").status_code == 404


# --- admin pages --------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/outlets", "/admin/technicians", "/admin/users", "/admin/technicians/new"])
def test_admin_pages_render_for_an_admin(client, auth, network, url):
    auth.login("admin")
    assert client.get(url).status_code == 200


def test_detail_admin_pages_render_for_an_admin(client, auth, network):
    auth.login("admin")
    assert client.get(f"/admin/outlets/{network.north.id}").status_code == 200
    assert client.get(f"/admin/technicians/{network.techs[0].id}").status_code == 200
    assert client.get(f"/admin/users/{network.dispatcher.id}").status_code == 200
    assert client.get("/admin/outlets/9999").status_code == 404
    assert client.get("/admin/technicians/9999").status_code == 404
    assert client.get("/admin/users/9999").status_code == 404


@pytest.mark.parametrize("username", ["dispatcher", "manager", "tech1"])
def test_only_admins_open_the_outlet_and_account_pages(client, auth, network, username):
    auth.login(username)
    assert client.get("/admin/outlets").status_code == 403
    assert client.get("/admin/users").status_code == 403
    assert client.get(f"/admin/users/{network.admin.id}").status_code == 403


def test_technicians_do_not_see_the_technician_pages(client, auth, network):
    auth.login("tech1")
    assert client.get("/admin/technicians").status_code == 403


def test_an_admin_opens_an_outlet_through_the_form_and_it_shows_in_history(
    client, auth, network, csrf_from, db_session
):
    auth.login("admin")
    data = {"code": "E", "name": "East", "area": "Xincheng", "lat": "34.26", "lon": "109.05",
            "speed_kmh": "28", "detour_factor": "1.4", "active": "y"}  # fmt: skip
    response = post_form(client, csrf_from, "/admin/outlets", data)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/outlets"
    outlet = db_session.query(Outlet).filter_by(code="E").one()
    assert (outlet.name, outlet.speed_kmh, outlet.detour_factor, outlet.active) == ("East", 28.0, 1.4, True)
    outlet_id = outlet.id
    db_session.rollback()  # SQLite: a reading session holds the write lock until it ends
    page = html_of(client.get(f"/admin/outlets/{outlet_id}"))
    assert "Created" in page and "Code set to E." in page
    # An edit through the outlet's own form is shown as a sentence: field, old and new value.
    edited = post_form(client, csrf_from, f"/admin/outlets/{outlet_id}", {**data, "name": "East Side"})
    assert edited.status_code == 302
    assert "Name changed from East to East Side." in html_of(client.get(f"/admin/outlets/{outlet_id}"))


def test_a_duplicate_outlet_code_on_the_form_is_shown_next_to_the_field(client, auth, network, csrf_from):
    auth.login("admin")
    data = {"code": "N", "name": "Again", "lat": "34.26", "lon": "109.05", "speed_kmh": "30", "detour_factor": "1.3"}
    response = post_form(client, csrf_from, "/admin/outlets", data)
    assert response.status_code == 200
    assert re.search(r'data-field="code">[^<]*taken', html_of(response))


def test_a_bad_latitude_on_the_outlet_form_is_refused(client, auth, network, csrf_from, db_session):
    auth.login("admin")
    data = {"code": "E", "name": "East", "lat": "95", "lon": "109.05", "speed_kmh": "30", "detour_factor": "1.3"}
    response = post_form(client, csrf_from, "/admin/outlets", data)
    assert 'data-field="lat"' in html_of(response)
    assert db_session.query(Outlet).filter_by(code="E").count() == 0


def technician_form(outlet_id: int, **overrides) -> dict:
    return {
        "name": "Zhao Liu", "phone": "13912345678", "outlet_id": str(outlet_id), "user_id": "0",
        "skills": ["air_conditioner", "washing_machine"], "home_lat": "34.21", "home_lon": "108.95",
        "shift_start": "08:00", "shift_end": "18:00", "work_days": list("12345"), "daily_capacity": "6", "active": "y",
        **overrides,
    }  # fmt: skip


def test_an_admin_adds_a_technician_and_leave_through_the_forms(client, auth, network, csrf_from, db_session):
    auth.login("admin")
    response = post_form(client, csrf_from, "/admin/technicians/new", technician_form(network.south.id))
    assert response.status_code == 302, html_of(response)
    tech = db_session.query(Technician).filter_by(name="Zhao Liu").one()
    assert response.headers["Location"] == f"/admin/technicians/{tech.id}"
    assert tech.skill_codes == ["air_conditioner", "washing_machine"] and tech.user_id is None
    assert tech.phone == "+8613912345678" and tech.work_days == "12345" and tech.daily_capacity == 6
    tech_id = tech.id
    db_session.rollback()  # SQLite: a reading session holds the write lock until it ends
    start, end = local_today() + timedelta(days=7), local_today() + timedelta(days=9)
    leave = post_form(
        client, csrf_from, f"/admin/technicians/{tech_id}/leaves",
        {"start_date": start.isoformat(), "end_date": end.isoformat(), "reason": "family"},
        page=f"/admin/technicians/{tech_id}",
    )  # fmt: skip
    assert leave.status_code == 302
    page = html_of(client.get(f"/admin/technicians/{tech_id}"))
    assert "Leave recorded." in page and f"{start.isoformat()} – {end.isoformat()} family" in page
    assert "Leave added" in page and "Leave from " in page and "Reason set to family." in page
    entries = db_session.query(AuditEntry).filter_by(entity="technician", entity_id=tech_id).order_by(AuditEntry.id)
    assert [(e.action, e.actor_id) for e in entries] == [("create", network.admin.id), ("add_leave", network.admin.id)]


def test_leave_ending_before_it_starts_is_a_message_on_the_page(client, auth, network, csrf_from, db_session):
    auth.login("dispatcher")
    tech = network.techs[0]
    today = local_today()
    response = post_form(
        client, csrf_from, f"/admin/technicians/{tech.id}/leaves",
        {"start_date": today.isoformat(), "end_date": (today - timedelta(days=2)).isoformat()},
        page=f"/admin/technicians/{tech.id}",
    )  # fmt: skip
    assert response.status_code == 302
    assert "must not be before start_date" in html_of(client.get(f"/admin/technicians/{tech.id}"))
    assert db_session.get(Technician, tech.id).leaves == []


def test_a_technician_form_with_bad_fields_names_them(client, auth, network, csrf_from, db_session):
    auth.login("admin")
    bad = technician_form(network.south.id, shift_start="18:00", shift_end="08:00", phone="12345")
    response = post_form(client, csrf_from, "/admin/technicians/new", bad)
    html = html_of(response)
    assert response.status_code == 400
    for field in ("shift_end", "phone"):
        assert f'data-field="{field}"' in html, field
    assert db_session.query(Technician).filter_by(name="Zhao Liu").count() == 0


def test_a_south_dispatcher_cannot_add_leave_for_a_north_technician_through_the_form(
    client, auth, network, csrf_from, db_session
):
    auth.login("south_dispatcher")
    north = network.techs[0]
    response = post_form(
        client, csrf_from, f"/admin/technicians/{north.id}/leaves",
        {"start_date": local_today().isoformat(), "end_date": local_today().isoformat()},
        page=f"/admin/technicians/{north.id}",
    )  # fmt: skip
    assert response.status_code == 403
    assert db_session.get(Technician, north.id).leaves == []


def test_an_admin_creates_an_account_through_the_form(client, auth, network, csrf_from, db_session):
    from core.accounts import User

    auth.login("admin")
    data = {"username": "night.shift", "display_name": "Night", "role": "dispatcher",
            "outlet_id": str(network.north.id), "password": "long-enough-1"}  # fmt: skip
    response = post_form(client, csrf_from, "/admin/users", data)
    assert response.status_code == 302
    weak = post_form(client, csrf_from, "/admin/users", {**data, "username": "weak.one", "password": "short"})
    assert 'data-field="password"' in html_of(weak)
    taken = post_form(client, csrf_from, "/admin/users", {**data, "password": "long-enough-2"})
    assert re.search(r'data-field="username">[^<]*taken', html_of(taken))
    user = db_session.query(User).filter_by(username="night.shift").one()
    assert user.role == "dispatcher" and user.outlet_id == network.north.id
    assert db_session.query(User).filter_by(username="weak.one").count() == 0


def test_an_admin_cannot_switch_off_their_own_account_on_its_page(client, auth, network, csrf_from, db_session):
    from core.accounts import User

    auth.login("admin")
    me = f"/admin/users/{network.admin.id}"
    data = {"display_name": "Admin", "role": "admin", "outlet_id": "0"}  # the active box left unticked
    response = post_form(client, csrf_from, me, data)
    assert response.status_code == 400
    assert re.search(r'data-field="active">[^<]*own account', html_of(response)), html_of(response)
    demoted = post_form(client, csrf_from, me, {**data, "role": "technician", "active": "y"})
    assert demoted.status_code == 400 and re.search(r'data-field="role">[^<]*own role', html_of(demoted))
    user = db_session.get(User, network.admin.id)
    assert (user.active, user.role) == (True, "admin")
    db_session.rollback()
    assert client.get(me).status_code == 200  # still logged in, still an admin
