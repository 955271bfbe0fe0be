"""Browser logins live on the server: logout, a password change or a deactivation ends them
everywhere (their sockets too); two-factor sign-in for admins and managers; limits that hold
across workers."""

from __future__ import annotations

import time
import uuid

import pyotp

from tests.conftest import PASSWORD, Auth, skip_or_fail


def _code(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


# --- server-side sessions ---------------------------------------------------------------


def test_a_logged_out_cookie_is_worthless_even_when_replayed(app, client, auth, network, csrf_from):
    auth.login("dispatcher")
    stolen = _session_cookie(client)
    page = client.get("/orders")
    client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})

    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/api/me").status_code == 401
    assert thief.get("/orders").status_code == 302


def test_each_login_gets_a_new_session_and_forgets_what_came_before(app, client, auth, network):
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    auth.login("dispatcher")
    first = _session_cookie(client)
    with client.session_transaction() as s:
        assert "planted" not in s
        first_sid = s["_sid"]
    auth.login("dispatcher")
    with client.session_transaction() as s:
        assert s["_sid"] != first_sid
    assert _session_cookie(client) != first


def test_a_password_change_ends_every_browser_session_of_that_user(app, client, auth, network, db_session):
    from core.accounts import update_user

    auth.login("dispatcher")
    other_browser = app.test_client()
    Auth(other_browser).login("dispatcher")
    update_user(db_session, network.dispatcher.id, {"password": "a-new-pass-2026"}, actor_id=network.admin.id)
    assert client.get("/api/me").status_code == 401
    assert other_browser.get("/api/me").status_code == 401


def test_logging_out_in_one_browser_leaves_the_other_logged_in(app, client, auth, network, csrf_from):
    auth.login("dispatcher")
    laptop = app.test_client()
    Auth(laptop).login("dispatcher")
    page = client.get("/orders")
    client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert laptop.get("/api/me").status_code == 200


def test_a_session_idle_too_long_ends(app, client, auth, network, db_session):
    from sqlalchemy import update

    from core.accounts import SESSION_IDLE, LoginSession
    from core.db import utcnow

    auth.login("dispatcher")
    assert client.get("/api/me").status_code == 200
    db_session.execute(update(LoginSession).values(last_seen_at=utcnow() - SESSION_IDLE * 1.1))
    db_session.commit()
    assert client.get("/api/me").status_code == 401


def test_logout_drops_that_logins_sockets_within_five_seconds(app, client, auth, network, csrf_from):
    from web.extensions import socketio

    auth.login("dispatcher")
    board = socketio.test_client(app, flask_test_client=client)
    other = app.test_client()
    Auth(other).login("manager")
    other_board = socketio.test_client(app, flask_test_client=other)
    assert board.is_connected() and other_board.is_connected()

    page = client.get("/orders")
    client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    deadline = time.monotonic() + 5
    while board.is_connected() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not board.is_connected(), "the logged-out board's socket is still open after 5 s"
    assert other_board.is_connected()
    other_board.disconnect()


def test_a_socket_cannot_connect_with_a_logged_out_cookie(app, client, auth, network, csrf_from):
    from web.extensions import socketio

    auth.login("dispatcher")
    stolen = _session_cookie(client)
    page = client.get("/orders")
    client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert not socketio.test_client(app, flask_test_client=thief).is_connected()


# --- rate limits across workers -------------------------------------------------------------


def test_failed_logins_are_counted_across_workers_sharing_redis(app_config, network, csrf_from):
    """Two app instances (two workers) with one Redis: five failures spread over both, and
    the sixth is refused on either."""
    import redis

    from web import create_app

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        skip_or_fail("no Redis at 127.0.0.1:6379")
    # Counters of this test only (tests run in parallel, and for both databases).
    prefix = f"test-{uuid.uuid4().hex}"
    config = {**app_config, "RATELIMIT_STORAGE_URI": url, "RATELIMIT_KEY_PREFIX": prefix}
    workers = [create_app(config) for _ in range(2)]
    try:
        clients = [w.test_client() for w in workers]

        def fail(c):
            token = csrf_from(c.get("/login").get_data(as_text=True))
            return c.post("/login", data={"username": "manager", "password": "wrong-pass-1", "csrf_token": token})

        codes = [fail(clients[i % 2]).status_code for i in range(5)]
        assert codes == [401] * 5
        assert fail(clients[1]).status_code == 429
        assert fail(clients[0]).status_code == 429
    finally:
        server = redis.Redis.from_url(url)
        server.delete(*server.keys(f"*{prefix}*") or ["-"])
        for w in workers:
            w.extensions["database"].dispose()


# --- two-factor sign-in ------------------------------------------------------------------


def _enable_totp(client, csrf_from) -> str:
    page = client.get("/account/security")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html
    secret = html.split('data-testid="totp-secret">', 1)[1].split("<", 1)[0]
    response = client.post(
        "/account/security", data={"on-code": _code(secret), "on-submit": "1", "on-csrf_token": csrf_from(html)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return secret


def _csrf_prefixed(html: str, prefix: str) -> str:
    import re

    return re.search(rf'id="{prefix}-csrf_token" name="{prefix}-csrf_token" type="hidden" value="([^"]+)"', html)[1]


def test_a_manager_turns_on_two_factor_and_then_needs_a_code_to_log_in(app, client, auth, network, csrf_from):
    auth.login("manager")
    secret = _enable_totp(client, csrf_from)

    browser = app.test_client()
    step_one = Auth(browser).login("manager")
    assert step_one.status_code == 302 and step_one.headers["Location"] == "/login/code"
    assert browser.get("/api/me").status_code == 401  # the password alone is not a login

    page = browser.get("/login/code")
    wrong = browser.post("/login/code", data={"code": "000000", "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert wrong.status_code == 401
    page = browser.get("/login/code")
    code = _code(secret, 1)  # the next step's code (the enabling code has been spent)
    right = browser.post("/login/code", data={"code": code, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert right.status_code == 302
    assert browser.get("/api/me").get_json()["username"] == "manager"

    # the same code cannot be used twice
    again = app.test_client()
    Auth(again).login("manager")
    page = again.get("/login/code")
    replay = again.post("/login/code", data={"code": code, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert replay.status_code == 401


def test_the_api_login_of_a_two_factor_account_needs_the_code(app, client, auth, network, csrf_from):
    auth.login("admin")
    secret = _enable_totp(client, csrf_from)
    api = app.test_client()
    body = {"username": "admin", "password": PASSWORD}
    assert api.post("/api/auth/login", json=body).status_code == 401
    assert api.post("/api/auth/login", json={**body, "otp": "12345"}).status_code == 400  # names the field
    assert api.post("/api/auth/login", json={**body, "otp": _code(secret, 1)}).status_code == 200


def test_a_wrong_enabling_code_names_the_field_and_changes_nothing(app, client, auth, network, csrf_from, db_session):
    from core.accounts import User

    auth.login("manager")
    html = client.get("/account/security").get_data(as_text=True)
    response = client.post(
        "/account/security", data={"on-code": "000000", "on-submit": "1", "on-csrf_token": csrf_from(html)}
    )
    assert response.status_code == 400
    assert 'data-field="on-code"' in response.get_data(as_text=True)
    db_session.rollback()
    assert db_session.get(User, network.manager.id).totp_secret is None


def test_turning_two_factor_off_needs_password_and_code(app, client, auth, network, csrf_from, db_session):
    from core.accounts import User

    auth.login("manager")
    secret = _enable_totp(client, csrf_from)
    html = client.get("/account/security").get_data(as_text=True)
    token = _csrf_prefixed(html, "off")
    bad = client.post(
        "/account/security",
        data={"off-password": "not-it-123", "off-code": _code(secret, 1), "off-submit": "1", "off-csrf_token": token},
    )
    assert bad.status_code == 400 and 'data-field="off-password"' in bad.get_data(as_text=True)
    good = client.post(
        "/account/security",
        data={"off-password": PASSWORD, "off-code": _code(secret, 1), "off-submit": "1", "off-csrf_token": token},
    )
    assert good.status_code == 302
    db_session.rollback()
    assert db_session.get(User, network.manager.id).totp_secret is None


def test_two_factor_is_not_offered_to_technicians(client, auth, network):
    auth.login("tech1")
    html = client.get("/account/security").get_data(as_text=True)
    assert "<svg" not in html and "offered to administrators and managers" in html


def test_logins_still_work_when_the_rate_limit_store_is_down(app_config, network, csrf_from):
    """Redis gone (nothing listens on port 1): limits count in memory meanwhile; no 500."""
    from web import create_app

    app = create_app({**app_config, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"})
    try:
        client = app.test_client()
        assert Auth(client).login("dispatcher").status_code == 302
        codes = []
        for _ in range(6):
            token = csrf_from(client.get("/login").get_data(as_text=True))
            codes.append(
                client.post(
                    "/login", data={"username": "x", "password": "wrong-pass-1", "csrf_token": token}
                ).status_code
            )
        assert codes == [401] * 5 + [429]
    finally:
        app.extensions["database"].dispose()


def test_a_database_that_is_down_gets_503_with_retry_after(app_config):
    from web import create_app

    app = create_app({**app_config, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nothing"})
    try:
        response = app.test_client().get("/api/track/" + "x" * 32)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "try again" in response.get_json()["message"]
        # A signed-in caller: choosing the answer's language asks the database for the user
        # again, inside the error handler; that must not turn the 503 into a 500.
        response = app.test_client().get("/api/orders", headers={"Authorization": "Bearer " + "x" * 43})
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    finally:
        app.extensions["database"].dispose()


def test_logout_tells_the_browser_to_forget_what_the_site_stored(client, auth, network, csrf_from):
    """A shared phone: the service worker's copies of the technician's page and list, the saved
    list and the offline queue must not outlive the login (docs/security.md)."""
    auth.login("tech1")
    page = client.get("/tech")
    response = client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'


def test_the_phone_apps_personal_answers_name_their_user_for_the_service_worker(client, auth, network):
    auth.login("tech1")
    for url in ("/tech", "/api/tech/today"):
        assert client.get(url).headers["X-Tech-User"] == str(network.techs[0].user_id), url
