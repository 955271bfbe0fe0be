"""The service network over the API: outlets, technicians, skills, leave and accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.accounts import ApiToken, User
from core.audit import AuditEntry
from technicians.models import Outlet, Technician
from tests.clock import local_today

NEW_OUTLET = {"code": "E", "name": "East", "lat": 34.26, "lon": 109.05}


def new_technician(outlet_id: int, **overrides) -> dict:
    return {
        "outlet_id": outlet_id, "name": "Wang Wei", "phone": "13912345678", "home_lat": 34.25, "home_lon": 108.98,
        "shift_start": "08:00:00", "shift_end": "18:00:00", "work_days": "12345", "daily_capacity": 6,
        "skills": ["air_conditioner"], **overrides,
    }  # fmt: skip


@pytest.fixture
def admin(network, auth):
    return auth.token("admin")


@pytest.fixture
def dispatcher(network, auth):
    return auth.token("dispatcher")


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def field_errors(response) -> dict:
    assert response.status_code == 400, response.get_json()
    return response.get_json()["detail"]["json"]


# --- outlets ------------------------------------------------------------------------


def test_an_admin_opens_reads_changes_and_deactivates_an_outlet(client, admin, db_session):
    outlet = ok(client.post("/api/outlets", json=NEW_OUTLET, headers=admin), 201)
    assert outlet["code"] == "E" and outlet["active"] and outlet["speed_kmh"] == 30.0
    assert ok(client.get(f"/api/outlets/{outlet['id']}", headers=admin)) == outlet
    changed = ok(client.patch(f"/api/outlets/{outlet['id']}", json={"name": "East Side", "lat": 34.27}, headers=admin))
    assert changed["name"] == "East Side" and changed["lat"] == 34.27 and changed["lon"] == 109.05
    gone = ok(client.patch(f"/api/outlets/{outlet['id']}", json={"active": False}, headers=admin))
    assert gone["active"] is False
    assert db_session.get(Outlet, outlet["id"]).active is False


def test_outlet_history_records_who_changed_which_field_from_what_to_what(client, network, admin):
    outlet = ok(client.post("/api/outlets", json=NEW_OUTLET, headers=admin), 201)
    ok(client.patch(f"/api/outlets/{outlet['id']}", json={"name": "East Side", "speed_kmh": 25}, headers=admin))
    ok(client.patch(f"/api/outlets/{outlet['id']}", json={"name": "East Side"}, headers=admin))  # no change
    history = ok(client.get(f"/api/outlets/{outlet['id']}/history", headers=admin))["items"]
    assert [h["action"] for h in history] == ["create", "update"]
    assert all(h["actor_id"] == network.admin.id for h in history)
    assert history[0]["changes"]["code"] == [None, "E"]
    assert history[1]["changes"] == {"name": ["East", "East Side"], "speed_kmh": [30.0, 25.0]}


def test_a_manager_reads_outlet_history_but_a_dispatcher_may_not(client, auth, network):
    url = f"/api/outlets/{network.north.id}/history"
    assert client.get(url, headers=auth.token("manager")).status_code == 200
    assert client.get(url, headers=auth.token("dispatcher")).status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lat", 91.0),
        ("lat", "north"),
        ("lon", -181.0),
        ("code", "has space"),
        ("name", ""),
        ("speed_kmh", 2),
        ("detour_factor", 5),
    ],
)
def test_each_bad_outlet_field_is_a_400_naming_it(client, admin, db_session, field, value):
    errors = field_errors(client.post("/api/outlets", json={**NEW_OUTLET, field: value}, headers=admin))
    assert field in errors, errors
    assert db_session.query(Outlet).filter_by(code="E").count() == 0


def test_a_missing_outlet_field_is_a_400_naming_it(client, admin):
    body = {k: v for k, v in NEW_OUTLET.items() if k != "lon"}
    assert "lon" in field_errors(client.post("/api/outlets", json=body, headers=admin))


def test_a_bad_latitude_in_an_outlet_change_is_a_400(client, network, admin):
    errors = field_errors(client.patch(f"/api/outlets/{network.north.id}", json={"lat": 95}, headers=admin))
    assert "lat" in errors


def test_a_duplicate_outlet_code_is_a_409_naming_the_field(client, network, admin):
    response = client.post("/api/outlets", json={**NEW_OUTLET, "code": "N"}, headers=admin)
    assert response.status_code == 409
    assert response.get_json()["field"] == "code"
    renamed = client.patch(f"/api/outlets/{network.south.id}", json={"code": "N"}, headers=admin)
    assert renamed.status_code == 409


def test_an_unknown_outlet_is_a_404(client, admin):
    assert client.get("/api/outlets/9999", headers=admin).status_code == 404
    assert client.patch("/api/outlets/9999", json={"name": "x"}, headers=admin).status_code == 404
    assert client.get("/api/outlets/9999/history", headers=admin).status_code == 404


@pytest.mark.parametrize("username", ["dispatcher", "manager", "tech1"])
def test_only_an_admin_may_open_or_change_an_outlet(client, auth, network, username):
    headers = auth.token(username)
    assert client.post("/api/outlets", json=NEW_OUTLET, headers=headers).status_code == 403
    assert client.patch(f"/api/outlets/{network.north.id}", json={"name": "x"}, headers=headers).status_code == 403


def test_an_anonymous_caller_gets_401_from_the_network_api(client, network):
    assert client.get("/api/outlets").status_code == 401
    assert client.post("/api/outlets", json=NEW_OUTLET).status_code == 401
    assert client.get("/api/technicians").status_code == 401
    assert client.get("/api/users").status_code == 401


def test_a_technician_cannot_list_outlets(client, auth, network):
    assert client.get("/api/outlets", headers=auth.token("tech1")).status_code == 403


def test_outlet_lists_are_paged_with_meta(client, network, admin):
    for i in range(3):
        ok(client.post("/api/outlets", json={**NEW_OUTLET, "code": f"X{i}"}, headers=admin), 201)
    first = ok(client.get("/api/outlets?per_page=2", headers=admin))
    assert first["meta"] == {"page": 1, "per_page": 2, "total": 5, "pages": 3}
    assert [o["code"] for o in first["items"]] == ["N", "S"]
    last = ok(client.get("/api/outlets?per_page=2&page=3", headers=admin))
    assert [o["code"] for o in last["items"]] == ["X2"]
    beyond = ok(client.get("/api/outlets?per_page=2&page=9", headers=admin))
    assert beyond["items"] == [] and beyond["meta"]["total"] == 5


@pytest.mark.parametrize("query", ["page=0", "per_page=0", "per_page=201", "page=abc"])
def test_bad_paging_parameters_are_a_400(client, admin, query):
    assert client.get(f"/api/outlets?{query}", headers=admin).status_code == 400


# --- technicians --------------------------------------------------------------------


def test_an_admin_adds_reads_changes_and_deactivates_a_technician(client, network, admin, db_session):
    tech = ok(client.post("/api/technicians", json=new_technician(network.south.id), headers=admin), 201)
    assert tech["phone"] == "+8613912345678"
    assert tech["skills"] == ["air_conditioner"] and tech["work_days"] == "12345" and tech["daily_capacity"] == 6
    assert tech["shift_start"] == "08:00:00" and tech["shift_end"] == "18:00:00" and tech["active"]
    assert ok(client.get(f"/api/technicians/{tech['id']}", headers=admin)) == tech
    body = {"daily_capacity": 10, "skills": ["air_conditioner", "water_heater"], "shift_end": "20:00:00"}
    changed = ok(client.patch(f"/api/technicians/{tech['id']}", json=body, headers=admin))
    assert changed["daily_capacity"] == 10 and changed["skills"] == ["air_conditioner", "water_heater"]
    assert changed["shift_end"] == "20:00:00"
    gone = ok(client.patch(f"/api/technicians/{tech['id']}", json={"active": False}, headers=admin))
    assert gone["active"] is False
    assert db_session.get(Technician, tech["id"]).active is False


def test_defaults_apply_when_a_technician_is_added_with_the_minimum(client, network, admin):
    body = {k: v for k, v in new_technician(network.north.id).items() if k not in ("shift_start", "shift_end")}
    del body["work_days"], body["daily_capacity"]
    tech = ok(client.post("/api/technicians", json=body, headers=admin), 201)
    assert (tech["shift_start"], tech["shift_end"]) == ("08:00:00", "17:00:00")
    assert tech["work_days"] == "123456" and tech["daily_capacity"] == 8 and tech["user_id"] is None


def test_technician_history_records_who_changed_what(client, network, dispatcher):
    tech = network.techs[0]
    body = {"daily_capacity": 5, "work_days": "12345", "skills": ["air_conditioner", "water_heater"]}
    ok(client.patch(f"/api/technicians/{tech.id}", json=body, headers=dispatcher))
    history = ok(client.get(f"/api/technicians/{tech.id}/history", headers=dispatcher))["items"]
    assert [h["action"] for h in history] == ["create", "update"]
    assert history[0]["changes"] == {"name": [None, "Tech 1"], "skills": [None, ["water_heater"]]}
    update = history[1]
    assert update["actor_id"] == network.dispatcher.id
    assert update["changes"] == {
        "daily_capacity": [8, 5], "work_days": ["1234567", "12345"],
        "skills": [["water_heater"], ["air_conditioner", "water_heater"]],
    }  # fmt: skip


def test_a_shift_change_is_recorded_as_times(client, network, admin):
    tech = network.techs[0]
    ok(client.patch(f"/api/technicians/{tech.id}", json={"shift_start": "07:30:00"}, headers=admin))
    history = ok(client.get(f"/api/technicians/{tech.id}/history", headers=admin))["items"]
    assert history[-1]["changes"] == {"shift_start": ["00:00:00", "07:30:00"]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("home_lat", 91.0),
        ("home_lon", 200.0),
        ("home_lat", "south"),
        ("work_days", "89"),
        ("work_days", ""),
        ("daily_capacity", 0),
        ("daily_capacity", 31),
        ("phone", "12345"),
        ("phone", "not a phone"),
        ("skills", []),
        ("skills", ["spaceship"]),
        ("outlet_id", 9999),
        ("name", ""),
        ("shift_start", "25:00"),
    ],
)
def test_each_bad_technician_field_is_a_400_naming_it(client, network, admin, db_session, field, value):
    body = {**new_technician(network.south.id), field: value}
    assert field in field_errors(client.post("/api/technicians", json=body, headers=admin))
    assert db_session.query(Technician).filter_by(name="Wang Wei").count() == 0


def test_a_shift_ending_before_it_starts_is_a_400_on_shift_end(client, network, admin):
    body = new_technician(network.south.id, shift_start="18:00:00", shift_end="08:00:00")
    assert "shift_end" in field_errors(client.post("/api/technicians", json=body, headers=admin))
    # A change checks against the stored shift too: 00:00–23:59 cannot end at midnight.
    tech = network.techs[0]
    response = client.patch(f"/api/technicians/{tech.id}", json={"shift_end": "00:00:00"}, headers=admin)
    assert "shift_end" in field_errors(response)


def test_an_unknown_skill_is_named_in_the_error(client, network, admin):
    body = new_technician(network.south.id, skills=["water_heater", "teleporter"])
    errors = field_errors(client.post("/api/technicians", json=body, headers=admin))
    assert "teleporter" in errors["skills"][0]
    patch = client.patch(f"/api/technicians/{network.techs[0].id}", json={"skills": ["teleporter"]}, headers=admin)
    assert "skills" in field_errors(patch)


def test_an_unknown_outlet_is_named_in_a_technician_change(client, network, admin):
    response = client.patch(f"/api/technicians/{network.techs[0].id}", json={"outlet_id": 9999}, headers=admin)
    assert "outlet_id" in field_errors(response)


def test_a_technician_login_must_be_an_account_with_the_technician_role(client, network, admin):
    body = new_technician(network.south.id, user_id=network.manager.id)
    assert "user_id" in field_errors(client.post("/api/technicians", json=body, headers=admin))
    body = new_technician(network.south.id, user_id=9999)
    assert "user_id" in field_errors(client.post("/api/technicians", json=body, headers=admin))


def test_a_login_already_linked_to_another_technician_is_refused_not_a_crash(client, network, admin):
    taken = network.techs[0].user_id
    response = client.post("/api/technicians", json=new_technician(network.south.id, user_id=taken), headers=admin)
    assert "another technician" in field_errors(response)["user_id"][0]
    moved = client.patch(f"/api/technicians/{network.techs[1].id}", json={"user_id": taken}, headers=admin)
    assert "user_id" in field_errors(moved)
    # Keeping one's own login is no clash.
    same = client.patch(f"/api/technicians/{network.techs[0].id}", json={"user_id": taken, "name": "T1"}, headers=admin)
    assert ok(same)["name"] == "T1"


def test_an_unknown_technician_is_a_404(client, network, admin):
    assert client.get("/api/technicians/9999", headers=admin).status_code == 404
    assert client.patch("/api/technicians/9999", json={"name": "x"}, headers=admin).status_code == 404
    assert client.get("/api/technicians/9999/history", headers=admin).status_code == 404


def test_technician_lists_filter_by_outlet_skill_and_active_and_are_paged(client, network, admin):
    ok(client.patch(f"/api/technicians/{network.techs[2].id}", json={"active": False}, headers=admin))
    everyone = ok(client.get("/api/technicians?per_page=2", headers=admin))
    assert everyone["meta"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    assert [t["name"] for t in everyone["items"]] == ["Tech 1", "Tech 2"]
    south = ok(client.get(f"/api/technicians?outlet_id={network.south.id}", headers=admin))
    assert [t["name"] for t in south["items"]] == ["Tech 2", "Tech 3"]
    heaters = ok(client.get("/api/technicians?skill=water_heater", headers=admin))
    assert [t["name"] for t in heaters["items"]] == ["Tech 1", "Tech 2"]
    active = ok(client.get("/api/technicians?active=false", headers=admin))
    assert [t["name"] for t in active["items"]] == ["Tech 3"]


def test_a_dispatcher_tied_to_one_outlet_manages_only_its_technicians(client, auth, network, db_session):
    south = auth.token("south_dispatcher")
    refused = client.post("/api/technicians", json=new_technician(network.north.id), headers=south)
    assert refused.status_code == 403
    ok(client.post("/api/technicians", json=new_technician(network.south.id), headers=south), 201)
    north_tech = network.techs[0]
    assert (
        client.patch(f"/api/technicians/{north_tech.id}", json={"daily_capacity": 3}, headers=south).status_code == 403
    )
    # Nor may it move one of its own technicians to another outlet.
    moved = client.patch(f"/api/technicians/{network.techs[1].id}", json={"outlet_id": network.north.id}, headers=south)
    assert moved.status_code == 403
    leave = {"start_date": local_today().isoformat(), "end_date": local_today().isoformat()}
    assert client.post(f"/api/technicians/{north_tech.id}/leaves", json=leave, headers=south).status_code == 403
    added = db_session.query(Technician).filter_by(name="Wang Wei").all()
    assert [t.outlet_id for t in added] == [network.south.id]


def test_an_untied_dispatcher_adds_technicians_anywhere(client, network, dispatcher):
    ok(client.post("/api/technicians", json=new_technician(network.north.id), headers=dispatcher), 201)


@pytest.mark.parametrize("username", ["manager", "tech1"])
def test_managers_and_technicians_cannot_add_or_change_technicians(client, auth, network, username):
    headers = auth.token(username)
    assert client.post("/api/technicians", json=new_technician(network.south.id), headers=headers).status_code == 403
    response = client.patch(f"/api/technicians/{network.techs[0].id}", json={"daily_capacity": 3}, headers=headers)
    assert response.status_code == 403


# --- leave --------------------------------------------------------------------------


def test_a_dispatcher_records_and_removes_leave_and_both_are_in_the_history(client, network, dispatcher):
    tech = network.techs[1]
    start, end = local_today() + timedelta(days=3), local_today() + timedelta(days=5)
    body = {"start_date": start.isoformat(), "end_date": end.isoformat(), "reason": "wedding"}
    leave = ok(client.post(f"/api/technicians/{tech.id}/leaves", json=body, headers=dispatcher), 201)
    assert leave["start_date"] == start.isoformat() and leave["reason"] == "wedding"
    shown = ok(client.get(f"/api/technicians/{tech.id}", headers=dispatcher))
    assert [lv["id"] for lv in shown["leaves"]] == [leave["id"]]
    removed = client.delete(f"/api/technicians/{tech.id}/leaves/{leave['id']}", headers=dispatcher)
    assert removed.status_code == 204
    assert ok(client.get(f"/api/technicians/{tech.id}", headers=dispatcher))["leaves"] == []
    history = ok(client.get(f"/api/technicians/{tech.id}/history", headers=dispatcher))["items"]
    span = f"{start.isoformat()}..{end.isoformat()}"
    assert [(h["action"], h["changes"]["leave"]) for h in history[1:]] == [
        ("add_leave", [None, span]), ("remove_leave", [span, None])
    ]  # fmt: skip
    assert {h["actor_id"] for h in history[1:]} == {network.dispatcher.id}


def test_leave_ending_before_it_starts_is_a_400_on_end_date(client, network, dispatcher):
    today = local_today()
    body = {"start_date": today.isoformat(), "end_date": (today - timedelta(days=1)).isoformat()}
    response = client.post(f"/api/technicians/{network.techs[0].id}/leaves", json=body, headers=dispatcher)
    assert "end_date" in field_errors(response)


@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_leave_needs_both_dates(client, network, dispatcher, field):
    body = {"start_date": local_today().isoformat(), "end_date": local_today().isoformat()}
    del body[field]
    response = client.post(f"/api/technicians/{network.techs[0].id}/leaves", json=body, headers=dispatcher)
    assert field in field_errors(response)


def test_removing_someone_elses_leave_is_a_404(client, network, dispatcher):
    body = {"start_date": local_today().isoformat(), "end_date": local_today().isoformat()}
    leave = ok(client.post(f"/api/technicians/{network.techs[0].id}/leaves", json=body, headers=dispatcher), 201)
    response = client.delete(f"/api/technicians/{network.techs[1].id}/leaves/{leave['id']}", headers=dispatcher)
    assert response.status_code == 404


def test_a_manager_cannot_record_leave(client, auth, network):
    body = {"start_date": local_today().isoformat(), "end_date": local_today().isoformat()}
    response = client.post(f"/api/technicians/{network.techs[0].id}/leaves", json=body, headers=auth.token("manager"))
    assert response.status_code == 403


# --- skills -------------------------------------------------------------------------


def test_an_admin_adds_a_skill_that_everyone_then_sees(client, auth, network, admin):
    body = {"code": "refrigerator", "name_en": "Refrigerator", "name_zh": "冰箱"}
    ok(client.post("/api/skills", json=body, headers=admin), 201)
    codes = [s["code"] for s in ok(client.get("/api/skills", headers=auth.token("tech1")))["items"]]
    assert codes == ["air_conditioner", "refrigerator", "washing_machine", "water_heater"]
    again = client.post("/api/skills", json=body, headers=admin)
    assert again.status_code == 409


def test_a_bad_skill_code_is_a_400_and_only_admins_add_skills(client, network, admin, dispatcher):
    assert "code" in field_errors(client.post("/api/skills", json={"code": "Bad Code", "name_en": "x", "name_zh": "x"}, headers=admin))  # fmt: skip
    body = {"code": "oven", "name_en": "Oven", "name_zh": "烤箱"}
    assert client.post("/api/skills", json=body, headers=dispatcher).status_code == 403


# --- accounts -----------------------------------------------------------------------


def test_an_admin_creates_lists_and_changes_accounts(client, network, admin, db_session):
    body = {
        "username": "new.dispatcher",
        "password": "long-enough-1",
        "role": "dispatcher",
        "outlet_id": network.north.id,
    }
    user = ok(client.post("/api/users", json=body, headers=admin), 201)
    assert user["role"] == "dispatcher" and user["outlet_id"] == network.north.id
    assert user["display_name"] == "new.dispatcher" and user["active"]
    changed = ok(client.patch(f"/api/users/{user['id']}", json={"role": "manager", "outlet_id": None}, headers=admin))
    assert changed["role"] == "manager" and changed["outlet_id"] is None
    listed = ok(client.get("/api/users?per_page=3", headers=admin))
    assert listed["meta"] == {"page": 1, "per_page": 3, "total": 8, "pages": 3}
    assert [u["username"] for u in listed["items"]] == ["admin", "dispatcher", "manager"]
    entries = db_session.query(AuditEntry).filter_by(entity="user", entity_id=user["id"]).order_by(AuditEntry.id).all()
    assert [(e.action, e.actor_id) for e in entries] == [("create", network.admin.id), ("update", network.admin.id)]
    assert entries[1].changes == {"role": ["dispatcher", "manager"], "outlet_id": [network.north.id, None]}


@pytest.mark.parametrize("password", ["short1", "onlyletterslong", "12345678901"])
def test_a_weak_password_is_a_400_on_password(client, network, admin, db_session, password):
    body = {"username": "weak", "password": password, "role": "dispatcher"}
    assert "password" in field_errors(client.post("/api/users", json=body, headers=admin))
    assert db_session.query(User).filter_by(username="weak").count() == 0


def test_a_weak_new_password_is_refused_on_change_too(client, network, admin):
    response = client.patch(f"/api/users/{network.manager.id}", json={"password": "short"}, headers=admin)
    assert "password" in field_errors(response)


def test_a_duplicate_username_is_a_409(client, network, admin):
    body = {"username": "dispatcher", "password": "long-enough-1", "role": "dispatcher"}
    response = client.post("/api/users", json=body, headers=admin)
    assert response.status_code == 409 and response.get_json()["field"] == "username"


@pytest.mark.parametrize(("field", "value"), [("role", "superuser"), ("username", "has space")])
def test_each_bad_account_field_is_a_400_naming_it(client, network, admin, field, value):
    body = {"username": "someone", "password": "long-enough-1", "role": "dispatcher", field: value}
    assert field in field_errors(client.post("/api/users", json=body, headers=admin))


def test_an_account_tied_to_an_unknown_outlet_is_a_400_not_a_crash(client, network, admin):
    body = {"username": "someone", "password": "long-enough-1", "role": "dispatcher", "outlet_id": 9999}
    assert "outlet_id" in field_errors(client.post("/api/users", json=body, headers=admin))
    response = client.patch(f"/api/users/{network.dispatcher.id}", json={"outlet_id": 9999}, headers=admin)
    assert "outlet_id" in field_errors(response)


@pytest.mark.parametrize("username", ["dispatcher", "manager", "tech1"])
def test_only_admins_use_the_accounts_api(client, auth, network, username):
    headers = auth.token(username)
    assert client.get("/api/users", headers=headers).status_code == 403
    body = {"username": "someone", "password": "long-enough-1", "role": "admin"}
    assert client.post("/api/users", json=body, headers=headers).status_code == 403
    assert client.patch(f"/api/users/{network.admin.id}", json={"active": False}, headers=headers).status_code == 403


def test_a_deactivated_users_token_stops_working(client, auth, network, admin, db_session):
    headers = auth.token("dispatcher")
    assert client.get("/api/me", headers=headers).status_code == 200
    ok(client.patch(f"/api/users/{network.dispatcher.id}", json={"active": False}, headers=admin))
    assert client.get("/api/me", headers=headers).status_code == 401
    assert client.get("/api/outlets", headers=headers).status_code == 401
    refused = client.post("/api/auth/login", json={"username": "dispatcher", "password": "test-pass-123"})
    assert refused.status_code == 401
    assert db_session.query(ApiToken).filter_by(user_id=network.dispatcher.id).count() == 0


def test_a_password_change_revokes_old_tokens(client, auth, network, admin):
    headers = auth.token("manager")
    ok(client.patch(f"/api/users/{network.manager.id}", json={"password": "brand-new-pass-9"}, headers=admin))
    assert client.get("/api/me", headers=headers).status_code == 401
    assert client.get("/api/me", headers=auth.token("manager", "brand-new-pass-9")).status_code == 200


@pytest.mark.parametrize(("change", "field"), [({"active": False}, "active"), ({"role": "dispatcher"}, "role")])
def test_an_admin_cannot_deactivate_or_demote_their_own_account(client, network, admin, db_session, change, field):
    response = client.patch(f"/api/users/{network.admin.id}", json=change, headers=admin)
    assert response.status_code == 400
    assert field in response.get_json()["detail"]["json"], response.get_json()
    me = db_session.get(User, network.admin.id)
    assert (me.active, me.role) == (True, "admin")
    db_session.rollback()
    assert client.get("/api/me", headers=admin).status_code == 200  # nothing revoked either
    # Another admin may.
    second = ok(client.post("/api/users", json={"username": "admin2", "password": "long-enough-1", "role": "admin"},
                            headers=admin), 201)  # fmt: skip
    ok(client.patch(f"/api/users/{second['id']}", json=change, headers=admin))
