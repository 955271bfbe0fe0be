"""Logging in and out, rate limits, CSRF, safe redirects, bearer tokens and the interface language."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from core.accounts import User, issue_token
from core.db import utcnow
from tests.conftest import PASSWORD

TRANSLATIONS = Path(__file__).resolve().parents[2] / "web" / "translations" / "zh" / "LC_MESSAGES" / "messages.mo"
NEW_OUTLET = {"code": "E", "name": "East", "lat": 34.26, "lon": 109.05}


def fail_login(client, csrf_from, username: str = "dispatcher"):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": "wrong-pass-1", "csrf_token": token})


# --- browser sessions ---------------------------------------------------------------


def test_a_browser_logs_in_with_a_session_cookie_and_logs_out_with_csrf(client, auth, network, csrf_from):
    assert client.get("/orders").status_code == 302  # not yet logged in
    response = auth.login("dispatcher")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get_cookie("session") is not None
    page = client.get("/orders")
    assert page.status_code == 200 and "dispatcher" in page.get_data(as_text=True)
    logout = client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert logout.status_code == 302 and logout.headers["Location"] == "/login"
    after = client.get("/orders")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")


def test_logging_out_without_the_csrf_token_is_refused(client, auth, network):
    auth.login("dispatcher")
    assert client.post("/logout").status_code == 400
    assert client.get("/orders").status_code == 200  # still logged in


def test_a_wrong_password_shows_the_login_page_again_with_401(client, network, csrf_from):
    response = fail_login(client, csrf_from)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert "Wrong username or password." in html and 'name="username"' in html
    assert client.get("/orders").status_code == 302


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client, network, csrf_from):
    response = fail_login(client, csrf_from, username="nobody")
    assert response.status_code == 401 and "Wrong username or password." in response.get_data(as_text=True)


def test_a_deactivated_account_cannot_log_in_and_its_session_ends(client, auth, network, db_session):
    from core.accounts import update_user

    assert auth.login("manager").status_code == 302
    update_user(db_session, network.manager.id, {"active": False}, actor_id=network.admin.id)
    assert client.get("/orders").status_code == 302
    assert auth.login("manager").status_code == 401


def test_the_sixth_failed_login_within_a_minute_is_429(client, network, csrf_from):
    for _ in range(5):
        assert fail_login(client, csrf_from).status_code == 401
    assert fail_login(client, csrf_from).status_code == 429


def test_successful_logins_do_not_count_towards_the_limit(client, auth, network, csrf_from):
    for _ in range(4):
        assert fail_login(client, csrf_from).status_code == 401
    for _ in range(3):
        assert auth.login("dispatcher").status_code == 302
    assert fail_login(client, csrf_from).status_code == 401  # the fifth failure
    assert fail_login(client, csrf_from).status_code == 429


def test_failed_api_logins_are_limited_too(client, network):
    body = {"username": "dispatcher", "password": "wrong-pass-1"}
    codes = [client.post("/api/auth/login", json=body).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_page_and_api_logins_spend_one_budget_of_failed_attempts(client, network, csrf_from):
    """Five failures through the API, then the page: the sixth guess is refused, wherever
    it comes from (with a budget each, alternating gave an attacker ten a minute)."""
    body = {"username": "dispatcher", "password": "wrong-pass-1"}
    assert [client.post("/api/auth/login", json=body).status_code for _ in range(5)] == [401] * 5
    assert fail_login(client, csrf_from).status_code == 429


def test_failures_on_the_page_count_against_the_api_too(client, network, csrf_from):
    for _ in range(3):
        assert fail_login(client, csrf_from).status_code == 401
    body = {"username": "nobody", "password": "wrong-pass-1"}
    assert [client.post("/api/auth/login", json=body).status_code for _ in range(3)] == [401, 401, 429]


@pytest.fixture
def password_checks(monkeypatch) -> list[str]:
    """The hash method of every password check made (a spy: the real check still runs)."""
    from core import security

    seen: list[str] = []
    real = security.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        seen.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(security, "check_password_hash", spy)
    return seen


def test_an_unknown_username_costs_the_same_password_check_as_a_wrong_password(
    app, client, network, csrf_from, password_checks, db_session
):
    """Timing told which usernames exist (170 ms against 10 ms): an unknown name skipped the
    hash. Every failed login, whatever its reason, now checks one password with the method
    the stored hashes use."""
    from core.accounts import update_user

    app.config["LOGIN_LIMIT"] = "100 per minute"  # six failures here, all to be answered
    update_user(db_session, network.manager.id, {"active": False}, actor_id=network.admin.id)
    real_method = db_session.get(User, network.dispatcher.id).password_hash.split("$", 1)[0]
    db_session.rollback()
    for username in ("dispatcher", "nobody", "manager"):  # wrong password, unknown name, deactivated
        password_checks.clear()
        assert fail_login(client, csrf_from, username=username).status_code == 401
        assert password_checks == [real_method], username
        password_checks.clear()
        body = {"username": username, "password": "wrong-pass-1"}
        assert client.post("/api/auth/login", json=body).status_code == 401
        assert password_checks == [real_method], username


def test_a_page_form_posted_without_a_csrf_token_is_400(client, network):
    response = client.post("/login", data={"username": "dispatcher", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/orders").status_code == 302


def test_a_page_form_with_a_forged_csrf_token_is_400(client, network):
    client.get("/login")
    response = client.post("/login", data={"username": "dispatcher", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400


def stays_on_site(location: str) -> bool:
    """Whether a browser would stay on this site: browsers read '\\' as '/' and drop tabs and newlines."""
    seen_by_browser = location.replace("\\", "/").replace("\t", "").replace("\n", "").replace("\r", "")
    parts = urlsplit(seen_by_browser)
    return not parts.scheme and not parts.netloc and seen_by_browser.startswith("/")


def test_the_next_parameter_leads_to_a_page_on_this_site(client, network, csrf_from):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=/orders%3Fstatus%3Dnew", data={"username": "dispatcher", "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] == "/orders?status=new"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "/\t/evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "orders",
    ],
)
def test_the_next_parameter_never_redirects_off_site(client, network, csrf_from, target):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", query_string={"next": target},
        data={"username": "dispatcher", "password": PASSWORD, "csrf_token": token},
    )  # fmt: skip
    assert response.status_code == 302
    assert stays_on_site(response.headers["Location"]), response.headers["Location"]


def test_a_page_that_needs_login_sends_the_browser_back_after_logging_in(client, auth, network, csrf_from):
    bounce = client.get("/admin/technicians")
    assert bounce.status_code == 302
    login_url = bounce.headers["Location"]
    assert login_url.startswith("/login") and "next=" in login_url
    token = csrf_from(client.get(login_url).get_data(as_text=True))
    response = client.post(login_url, data={"username": "dispatcher", "password": PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/admin/technicians"


# --- API calls: session cookie versus bearer token ----------------------------------


def test_an_api_write_with_a_session_cookie_needs_the_csrf_header(client, auth, network, csrf_from, db_session):
    from technicians.models import Outlet

    auth.login("admin")
    refused = client.post("/api/outlets", json=NEW_OUTLET)
    assert refused.status_code == 400
    token = csrf_from(client.get("/orders").get_data(as_text=True))
    created = client.post("/api/outlets", json=NEW_OUTLET, headers={"X-CSRFToken": token})
    assert created.status_code == 201, created.get_json()
    assert [o.code for o in db_session.query(Outlet).filter_by(code="E")] == ["E"]


def test_an_api_read_with_a_session_cookie_needs_no_csrf(client, auth, network):
    auth.login("admin")
    response = client.get("/api/me")
    assert response.status_code == 200 and response.get_json()["username"] == "admin"


def test_an_api_write_with_a_bearer_token_needs_no_csrf(client, auth, network):
    headers = auth.token("admin")
    response = client.post("/api/outlets", json=NEW_OUTLET, headers=headers)
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(
    ("username", "role"),
    [("admin", "admin"), ("dispatcher", "dispatcher"), ("manager", "manager"), ("tech2", "technician")],
)
def test_api_me_describes_the_caller(client, auth, network, username, role):
    me = client.get("/api/me", headers=auth.token(username))
    assert me.status_code == 200
    body = me.get_json()
    assert body["username"] == username and body["role"] == role and body["active"]
    expected_tech = network.techs[1].id if role == "technician" else None
    assert body["technician_id"] == expected_tech


def test_the_login_answer_carries_the_user_and_expiry(client, network):
    response = client.post("/api/auth/login", json={"username": "tech1", "password": PASSWORD})
    body = response.get_json()
    assert response.status_code == 200 and body["token"] and body["expires_at"]
    assert body["user"]["role"] == "technician" and body["user"]["technician_id"] == network.techs[0].id


def test_a_south_dispatcher_me_names_its_outlet(client, auth, network):
    me = client.get("/api/me", headers=auth.token("south_dispatcher")).get_json()
    assert me["outlet_id"] == network.south.id


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Bearer ", "Basic ZGlzcGF0Y2hlcjp4", "garbage"])
def test_a_garbage_bearer_token_is_401(client, network, header):
    assert client.get("/api/me", headers={"Authorization": header}).status_code == 401


def test_an_expired_bearer_token_is_401(client, network, db_session):
    token, _expires = issue_token(db_session, network.dispatcher, now=utcnow() - timedelta(days=8))
    db_session.commit()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    fresh, _expires = issue_token(db_session, network.dispatcher)
    db_session.commit()
    assert client.get("/api/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_anonymous_api_calls_are_401_as_json(client, network):
    response = client.get("/api/me")
    assert response.status_code == 401 and response.get_json()["status"] == 401


# --- interface language -------------------------------------------------------------


def test_pages_are_english_by_default(client, network):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in html and "Log in" in html


def test_the_language_switch_makes_the_pages_chinese(client, auth, network, csrf_from, db_session):
    from core.accounts import User

    auth.login("dispatcher")
    token = csrf_from(client.get("/orders").get_data(as_text=True))
    switched = client.post("/lang/zh", data={"csrf_token": token, "next": "/orders"})
    assert switched.status_code == 302 and switched.headers["Location"] == "/orders"
    html = client.get("/orders").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    if TRANSLATIONS.exists():
        assert "工单" in html
    db_session.expire_all()
    assert db_session.get(User, network.dispatcher.id).locale == "zh"  # remembered for next time


def test_an_anonymous_visitor_can_switch_language_too(client, network, csrf_from):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert client.post("/lang/zh", data={"csrf_token": token}).status_code == 302
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    if TRANSLATIONS.exists():
        assert "登录" in html


def test_the_language_switch_needs_csrf(client, network):
    client.get("/login")
    assert client.post("/lang/zh").status_code == 400
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_the_language_switch_does_not_redirect_off_site(client, network, csrf_from):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/lang/en", data={"csrf_token": token, "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_an_unknown_language_changes_nothing(client, network, csrf_from):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    client.post("/lang/fr", data={"csrf_token": token})
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_a_browser_asking_for_chinese_gets_chinese(client, network):
    html = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    if TRANSLATIONS.exists():
        assert "登录" in html
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in english
