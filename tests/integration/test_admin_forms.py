"""Admin forms people can use: work days and skills as checkboxes, the home base found from an
address, a new account that starts least privileged, read-only technician pages for those who
may not edit, and a password change for everyone that ends their other sessions."""

from __future__ import annotations

import re

import pytest

from core.accounts import User
from core.audit import AuditEntry
from technicians.models import Technician
from tests.conftest import PASSWORD, Auth

NEW_PASSWORD = "brand-new-pass-7"


def html_of(response) -> str:
    return response.get_data(as_text=True)


def post_form(client, csrf_from, url: str, data: dict, page: str | None = None):
    """GET the page (for its CSRF token), then POST the form."""
    token = csrf_from(html_of(client.get(page or url)))
    return client.post(url, data={**data, "csrf_token": token})


def technician_form(outlet_id: int, **overrides) -> dict:
    return {
        "name": "Zhao Liu", "phone": "13912345678", "outlet_id": str(outlet_id), "user_id": "0",
        "skills": ["air_conditioner"], "home_lat": "34.21", "home_lon": "108.95",
        "shift_start": "08:00", "shift_end": "18:00", "work_days": ["1", "3", "5"], "daily_capacity": "6",
        "active": "y", **overrides,
    }  # fmt: skip


def checked(html: str, name: str) -> list[str]:
    """The values of the ticked checkboxes called `name`."""
    boxes = re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
    return [re.search(r'value="([^"]*)"', b).group(1) for b in boxes if "checked" in b]


def boxes(html: str, name: str) -> list[str]:
    return [
        re.search(r'value="([^"]*)"', b).group(1)
        for b in re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
        if 'type="checkbox"' in b
    ]


def field_error(html: str, name: str) -> str | None:
    match = re.search(rf'data-field="{name}">([^<]*)<', html)
    return match.group(1) if match else None


# --- a new account starts least privileged --------------------------------------------


def test_the_new_account_form_starts_with_the_technician_role(client, auth, network):
    auth.login("admin")
    html = html_of(client.get("/admin/users"))
    select = re.search(r'<select[^>]*name="role"[^>]*>(.*?)</select>', html, re.S).group(1)
    options = re.findall(r"<option([^>]*)>", select)
    assert [re.search(r'value="([^"]+)"', o).group(1) for o in options if "selected" in o] == ["technician"]
    # least privileged first, each named in words, not codes
    assert re.findall(r'value="([^"]+)"', select) == ["technician", "dispatcher", "manager", "admin"]
    assert ">Technician<" in select and ">Administrator<" in select


def test_the_role_choices_are_named_in_chinese_for_a_chinese_admin(client, auth, network, csrf_from):
    auth.login("admin")
    page = client.get("/admin/users")
    client.post("/lang/zh", data={"csrf_token": csrf_from(html_of(page))})
    select = re.search(r'<select[^>]*name="role"[^>]*>(.*?)</select>', html_of(client.get("/admin/users")), re.S)
    words = re.findall(r">([^<]+)</option>", select.group(1))
    assert words and all(re.search(r"[\u4e00-\u9fff]", w) for w in words), words


# --- work days and skills as checkboxes -------------------------------------------------


def test_work_days_and_skills_are_checkboxes_that_save_and_show_ticked(client, auth, network, csrf_from, db_session):
    auth.login("admin")
    blank = html_of(client.get("/admin/technicians/new"))
    assert boxes(blank, "work_days") == ["1", "2", "3", "4", "5", "6", "7"]
    assert checked(blank, "work_days") == ["1", "2", "3", "4", "5", "6"]  # Monday to Saturday by default
    assert boxes(blank, "skills") == ["air_conditioner", "washing_machine", "water_heater"]
    assert ">Mon<" in blank and ">Water heater<" in blank

    data = technician_form(network.south.id, skills=["air_conditioner", "water_heater"], work_days=["5", "1", "3"])
    response = post_form(client, csrf_from, "/admin/technicians/new", data)
    assert response.status_code == 302, html_of(response)
    tech = db_session.query(Technician).filter_by(name="Zhao Liu").one()
    assert tech.work_days == "135" and tech.skill_codes == ["air_conditioner", "water_heater"]
    tech_id, south_id = tech.id, network.south.id
    db_session.rollback()  # SQLite: a reading session holds the write lock until it ends

    page = html_of(client.get(f"/admin/technicians/{tech_id}"))
    assert checked(page, "work_days") == ["1", "3", "5"]
    assert checked(page, "skills") == ["air_conditioner", "water_heater"]
    assert re.search(r'name="phone"[^>]*value="139 1234 5678"', page)  # as people read it, not E.164
    listed = html_of(client.get(f"/admin/technicians?outlet_id={south_id}"))
    row = re.search(rf'<tr[^>]*><td><a href="/admin/technicians/{tech_id}">.*?</tr>', listed, re.S).group(0)
    assert "Air conditioner, Water heater" in row and "Mon Wed Fri" in row and "air_conditioner" not in row


def test_saving_the_formatted_phone_back_keeps_it_in_e164(client, auth, network, csrf_from, db_session):
    auth.login("admin")
    tech = network.techs[0]
    data = technician_form(network.north.id, name=tech.name, phone="139 0000 0001", skills=["water_heater"])
    response = post_form(client, csrf_from, f"/admin/technicians/{tech.id}", data)
    assert response.status_code == 302
    db_session.expire_all()
    assert db_session.get(Technician, tech.id).phone == "+8613900000001"


def test_the_account_list_names_outlets_not_their_ids(client, auth, network):
    auth.login("admin")
    html = html_of(client.get("/admin/users"))
    row = re.search(r"<tr[^>]*><td><a[^>]*>south_dispatcher</a>.*?</tr>", html, re.S).group(0)
    assert "S South" in row


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"work_days": []}, "work_days"),
        ({"work_days": ["1", "8"]}, "work_days"),
        ({"skills": []}, "skills"),
        ({"skills": ["plumbing"]}, "skills"),
    ],
)
def test_no_tick_or_a_forged_value_is_a_400_naming_the_field_and_stores_nothing(
    client, auth, network, csrf_from, db_session, overrides, field
):
    auth.login("admin")
    response = post_form(client, csrf_from, "/admin/technicians/new", technician_form(network.south.id, **overrides))
    assert response.status_code == 400
    assert field_error(html_of(response), field), html_of(response)
    assert db_session.query(Technician).filter_by(name="Zhao Liu").count() == 0


def test_unticking_every_work_day_of_a_technician_is_a_400_and_keeps_their_days(
    client, auth, network, csrf_from, db_session
):
    auth.login("admin")
    tech = network.techs[0]
    url = f"/admin/technicians/{tech.id}"
    data = technician_form(network.north.id, name=tech.name, work_days=[], skills=["water_heater"])
    response = post_form(client, csrf_from, url, data)
    assert response.status_code == 400 and field_error(html_of(response), "work_days")
    db_session.expire_all()
    assert db_session.get(Technician, tech.id).work_days == "1234567"


# --- the home base from an address --------------------------------------------------------


def test_find_on_the_map_fills_the_home_from_the_geocoder_without_saving(
    app, client, auth, network, csrf_from, db_session
):
    from tests.fakes.geo_server import FakeGeoServer

    auth.login("admin")
    address = "西安市雁塔区小寨东路 1 号"
    with FakeGeoServer({address: (34.2245, 108.9475)}) as server:
        app.config.update(GEOCODER_PROVIDER="nominatim", GEOCODER_URL=server.url, GEOCODER_TIMEOUT=2)
        app.extensions.pop("intake_settings", None)
        data = technician_form(network.south.id, home_lat="", home_lon="", home_address=address, locate="1")
        found = post_form(client, csrf_from, "/admin/technicians/new", data)
        missing = post_form(
            client, csrf_from, "/admin/technicians/new", {**data, "home_address": "nowhere street 99"}
        )  # fmt: skip
    html = html_of(found)
    assert found.status_code == 200
    assert re.search(r'name="home_lat"[^>]*value="34.2245"', html) and re.search(
        r'name="home_lon"[^>]*value="108.9475"', html
    )
    assert db_session.query(Technician).filter_by(name="Zhao Liu").count() == 0  # found, not saved
    assert missing.status_code == 400 and "pick the home on the map" in field_error(html_of(missing), "home_address")


def test_the_address_search_is_offered_only_when_a_geocoder_is_configured(app, client, auth, network):
    auth.login("admin")
    assert 'name="home_address"' not in html_of(client.get("/admin/technicians/new"))
    html = html_of(client.get("/admin/technicians/new"))
    assert 'id="home-map"' in html and 'id="home-map-data"' in html and "/static/home-map.js" in html
    app.config.update(GEOCODER_PROVIDER="nominatim")
    assert 'name="home_address"' in html_of(client.get("/admin/technicians/new"))


# --- read-only views ------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["manager", "south_dispatcher"])
def test_who_may_not_edit_sees_the_technician_as_text_and_cannot_post(
    client, auth, network, csrf_from, db_session, username
):
    auth.login(username)
    tech = network.techs[0]  # North
    response = client.get(f"/admin/technicians/{tech.id}")
    html = html_of(response)
    assert response.status_code == 200
    main = html.split("<main>", 1)[1]
    assert not re.search(r"<(input|select|textarea)\b(?![^>]*type=\"hidden\")", main), main
    assert "Save" not in main and 'id="home-map"' not in main and "home-map.js" not in html
    facts = re.search(r'<dl class="facts" data-testid="technician-facts">(.*?)</dl>', html, re.S).group(1)
    assert tech.name in facts and "Water heater" in facts and "Mon Tue Wed Thu Fri Sat Sun" in facts
    assert "139 0000 0001" in facts and "+86" not in facts  # as people read it, not E.164
    data = technician_form(network.north.id, name="Changed")
    refused = client.post(f"/admin/technicians/{tech.id}", data={**data, "csrf_token": csrf_from(html)})
    assert refused.status_code == 403
    db_session.expire_all()
    assert db_session.get(Technician, tech.id).name == tech.name


def test_the_dispatcher_of_the_outlet_still_gets_the_form(client, auth, network):
    auth.login("dispatcher")
    html = html_of(client.get(f"/admin/technicians/{network.techs[0].id}"))
    assert 'name="home_lat"' in html and 'name="work_days"' in html and "technician-facts" not in html


# --- changing one's own password ------------------------------------------------------------


@pytest.mark.parametrize("username", ["admin", "dispatcher", "manager", "tech1"])
def test_a_password_change_keeps_this_browser_and_ends_every_other_session_and_token(
    app, client, auth, network, csrf_from, db_session, username
):
    auth.login(username)
    laptop = app.test_client()
    Auth(laptop).login(username)
    token = Auth(app.test_client()).token(username)
    api = app.test_client()
    assert api.get("/api/me", headers=token).status_code == 200

    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    response = post_form(client, csrf_from, "/account/password", data)
    assert response.status_code == 302 and response.headers["Location"] == "/account/password"

    assert client.get("/api/me").status_code == 200  # this browser stays
    assert laptop.get("/api/me").status_code == 401  # the other one is out
    assert api.get("/api/me", headers=token).status_code == 401  # and so is the API token
    assert "Your password is changed" in html_of(client.get("/account/password"))
    assert Auth(app.test_client()).login(username).status_code == 401  # the old password is gone
    assert Auth(app.test_client()).login(username, NEW_PASSWORD).status_code == 302
    user = db_session.query(User).filter_by(username=username).one()
    entry = db_session.query(AuditEntry).filter_by(entity="user", entity_id=user.id).order_by(AuditEntry.id.desc())[0]
    assert (entry.actor_id, entry.changes) == (user.id, {"password": ["***", "***"]})


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"current_password": "not-my-pass-1"}, "current_password", "is not your current password"),
        ({"new_password_again": "something-else-2"}, "new_password_again", "The two new passwords differ."),
        ({"new_password": "short", "new_password_again": "short"}, "new_password", "at least 10 characters"),
        ({"new_password": PASSWORD, "new_password_again": PASSWORD}, "new_password", "must differ"),
        ({"current_password": ""}, "current_password", ""),
    ],
)
def test_a_bad_password_change_is_a_400_naming_the_field_and_changes_nothing(
    app, client, auth, network, csrf_from, fields, field, message
):
    auth.login("dispatcher")
    laptop = app.test_client()
    Auth(laptop).login("dispatcher")
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD} | fields
    response = post_form(client, csrf_from, "/account/password", data)
    assert response.status_code == 400
    error = field_error(html_of(response), field)
    assert error is not None and message in error, html_of(response)
    assert laptop.get("/api/me").status_code == 200  # nothing ended
    assert Auth(app.test_client()).login("dispatcher").status_code == 302  # the password holds


def test_the_password_form_speaks_chinese(client, auth, network, csrf_from):
    auth.login("manager")
    client.post("/lang/zh", data={"csrf_token": csrf_from(html_of(client.get("/account/password")))})
    data = {"current_password": "not-my-pass-1", "new_password": NEW_PASSWORD, "new_password_again": "other-pass-3"}
    html = html_of(post_form(client, csrf_from, "/account/password", data))
    assert "修改密码" in html
    assert re.search(r"[\u4e00-\u9fff]", field_error(html, "new_password_again"))


def test_wrong_current_passwords_spend_the_failed_login_budget(app, client, auth, network, csrf_from):
    auth.login("dispatcher")
    data = {"current_password": "not-my-pass-1", "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    token = csrf_from(html_of(client.get("/account/password")))
    statuses = [client.post("/account/password", data={**data, "csrf_token": token}).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429]
    # one budget with the login page: the next failed login from this address is refused too
    assert Auth(app.test_client()).login("dispatcher", "wrong-pass-9").status_code == 429
