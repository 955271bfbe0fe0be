"""Numbers and dates typed by people (issue 23, item 10): only ASCII digits make a number,
within bounds, and a date near the calendar's end is refused — a 400 naming the field, never
a 500 and never a number read in another script. One parser: core/numbers.py."""

from __future__ import annotations

import threading
import time

import pyotp
import pytest
from sqlalchemy import select, text, update

from core.accounts import User
from dispatch.models import KpiSnapshot, Survey, WorkOrder
from tests.conftest import PASSWORD, Auth
from tests.integration.helpers import act, create_order, order_body

# '²' is isdigit() and int() refuses it; '５' (full width) and '٥' (Arabic-Indic) are
# isdigit() and int() quietly reads them as 5.
NOT_ASCII = ["²", "５", "٥"]


@pytest.fixture
def dispatcher(network, auth) -> dict:
    return auth.token("dispatcher")


def completed(client, auth, network, dispatcher) -> dict:
    """An order walked to completed by tech2, with its tracking token."""
    order = create_order(client, dispatcher)
    token = order["tracking_url"].rsplit("/t/", 1)[1]
    tech = auth.token("tech2")
    order = act(client, dispatcher, order, "assign", technician_id=network.techs[1].id).get_json()
    for step in ("accept", "depart", "arrive", "complete"):
        order = act(client, tech, order, step).get_json()
    assert order["status"] == "completed"
    return {**order, "token": token}


# --- KPI months -------------------------------------------------------------------------------

BAD_MONTHS = ["2026-0²", "0000-01", "9999-12", "10000-01", "2026-١٢", "２０２６-11", "2026-11\n"]


@pytest.mark.parametrize("path", ["/kpis", "/kpis/orders"])
def test_a_kpi_page_asked_for_a_month_outside_the_rule_is_a_400_page_naming_month(client, auth, network, path):
    auth.login("manager")
    for month in BAD_MONTHS:
        response = client.get(path, query_string={"month": month})
        html = response.get_data(as_text=True)
        assert response.status_code == 400, month
        assert "month: use YYYY-MM (years 1900-2199)" in html, month
    assert client.get(path, query_string={"month": "2199-12"}).status_code == 200
    assert client.get(path).status_code == 200  # no month: this month


def test_a_chinese_user_reads_the_month_rule_in_chinese(client, auth, network):
    auth.login("manager")
    response = client.get("/kpis?month=2026-0²", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 400
    assert "请用 YYYY-MM 格式（1900–2199 年），例如 2026-11" in response.get_data(as_text=True)


def test_the_kpi_api_refuses_months_in_other_digits_or_with_a_trailing_newline(client, auth, network):
    manager = auth.token("manager")
    for month in ["20٢٦-11", "2026-1١", "2026-11\n"]:
        response = client.get("/api/kpis", query_string={"month": month}, headers=manager)
        assert response.status_code == 400, month
        assert "month" in response.get_json()["detail"]["query"], month
        closing = client.post("/api/kpis/close", json={"month": month}, headers=manager)
        assert closing.status_code == 400, month
    assert client.get("/api/kpis?month=2026-11", headers=manager).status_code == 200


def wait_until_a_query_waits_for_a_lock(app, timeout_s: float = 10) -> None:
    waiting_query = (
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with app.extensions["database"].engine.connect() as probe:
            if probe.scalar(text(waiting_query)):
                return
        time.sleep(0.05)
    raise AssertionError("the close never waited for the uncommitted row")


def test_a_month_closed_by_someone_else_while_this_close_was_writing_is_409(app, client, auth, network, db_session):
    """Two closes at once: both find the month open, both write its rows, and the later one
    meets UNIQUE (month, by, key). Here the earlier close is a transaction holding the row
    uncommitted, so the request's insert waits for it, deterministically."""
    manager = auth.token("manager")
    db_session.add(KpiSnapshot(month="2031-03", by="all", key=0, figures={"orders": 0}, weights_version=None))
    db_session.flush()  # the row is written but not committed: the request does not see it yet
    postgres = db_session.get_bind().dialect.name == "postgresql"
    results: list = []

    def close() -> None:
        with app.test_client() as other:
            results.append(other.post("/api/kpis/close", json={"month": "2031-03", "confirm": True}, headers=manager))

    worker = threading.Thread(target=close)
    worker.start()
    if postgres:
        wait_until_a_query_waits_for_a_lock(app)
    else:
        time.sleep(0.3)  # SQLite: the request waits for our write transaction to end
    db_session.commit()
    worker.join(timeout=30)
    assert [r.status_code for r in results] == [409], [r.get_json() for r in results]
    assert "closed already" in results[0].get_json()["message"]
    assert db_session.scalars(select(KpiSnapshot.month)).all() == ["2031-03"]
    db_session.rollback()


def test_four_closes_of_one_month_at_once_give_one_201_and_409s(app, network, auth):
    manager = auth.token("manager")
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def close() -> None:
        with app.test_client() as other:
            barrier.wait()
            codes.append(
                other.post("/api/kpis/close", json={"month": "2031-04", "confirm": True}, headers=manager).status_code
            )

    workers = [threading.Thread(target=close) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert sorted(codes) == [201, 409, 409, 409]


# --- versions, scores and codes on forms --------------------------------------------------------


def test_an_order_form_with_a_version_in_other_digits_is_a_400_page_naming_version(
    client, auth, network, dispatcher, csrf_from, db_session
):
    order = create_order(client, dispatcher)
    auth.login("dispatcher")
    page = client.get(f"/orders/{order['id']}").get_data(as_text=True)
    for version in [*NOT_ASCII, "9" * 30, "0"]:
        form = {"csrf_token": csrf_from(page), "action": "cancel", "version": version, "reason": "duplicate"}
        response = client.post(f"/orders/{order['id']}/transition", data=form)
        assert response.status_code == 400, version
        assert "version: must be a whole number from 1 to 2147483647" in response.get_data(as_text=True), version
    assert db_session.get(WorkOrder, order["id"]).status == "new"
    db_session.rollback()


def test_a_callback_form_with_a_version_in_other_digits_is_a_400_saying_reload(
    client, auth, network, dispatcher, csrf_from, db_session
):
    order = completed(client, auth, network, dispatcher)
    auth.login("manager")
    page = client.get(f"/callbacks/{order['id']}").get_data(as_text=True)
    for version in NOT_ASCII:
        form = {"csrf_token": csrf_from(page), "version": version, "reached": "yes", "resolved": "yes", "score": "5"}
        response = client.post(f"/callbacks/{order['id']}", data=form)
        assert response.status_code == 400, version
        assert "The form is out of date: reload the page." in response.get_data(as_text=True), version
    assert db_session.get(WorkOrder, order["id"]).status == "completed"
    db_session.rollback()


def test_a_survey_score_in_other_digits_is_refused_not_read_as_a_number(
    app, client, auth, network, dispatcher, csrf_from, db_session
):
    order = completed(client, auth, network, dispatcher)
    customer = app.test_client()
    page = customer.get(f"/t/{order['token']}").get_data(as_text=True)
    for score in NOT_ASCII:
        form = {"csrf_token": csrf_from(page), "fixed": "yes", "score": score}
        response = customer.post(f"/t/{order['token']}/survey", data=form)
        assert response.status_code == 302, score
        assert "must be 1 to 5" in customer.get(response.location).get_data(as_text=True), score
    assert db_session.scalars(select(Survey)).all() == []
    db_session.rollback()


@pytest.fixture
def two_factor_manager(network, db_session) -> str:
    secret = pyotp.random_base32()
    db_session.execute(update(User).where(User.id == network.manager.id).values(totp_secret=secret))
    db_session.commit()
    return secret


def _in_other_digits(code: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(d)) for d in code)


def test_a_one_time_code_in_full_width_or_arabic_indic_digits_is_refused_cleanly(
    app, client, network, two_factor_manager, csrf_from
):
    """The right code, spelled in other digits: hmac.compare_digest raised TypeError on it."""
    for zero in ("０", "٠"):
        code = _in_other_digits(pyotp.TOTP(two_factor_manager).now(), zero)
        api = client.post("/api/auth/login", json={"username": "manager", "password": PASSWORD, "otp": code})
        assert api.status_code == 401, zero
        browser = app.test_client()
        assert Auth(browser).login("manager").location.endswith("/login/code")
        page = browser.get("/login/code").get_data(as_text=True)
        response = browser.post("/login/code", data={"csrf_token": csrf_from(page), "code": code})
        assert response.status_code == 401, zero
        assert "The code does not match" in response.get_data(as_text=True)


# --- appointment times near the calendar's end --------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31T22:00:00-08:00", "9999-12-31T23:00:00-08:00"),  # in UTC: year 10000
        ("9999-12-31T20:00:00+08:00", "9999-12-31T22:00:00+08:00"),
        ("2100-01-01T10:00:00+08:00", "2100-01-01T12:00:00+08:00"),
    ],
)
def test_an_api_appointment_near_the_calendars_end_is_400_naming_the_field(client, dispatcher, start, end):
    response = client.post(
        "/api/orders", json=order_body(appointment_start=start, appointment_end=end), headers=dispatcher
    )
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["detail"]["json"] == {"appointment_start": ["must be in the years 2000 to 2099"]}


def test_a_hotline_appointment_in_year_9999_is_400_naming_the_field(client, auth, network, csrf_from, db_session):
    auth.login("dispatcher")
    page = client.get("/hotline").get_data(as_text=True)
    form = {
        "csrf_token": csrf_from(page), "channel": "hotline", "priority": "normal", "name": "王五",
        "phone": "13700137000", "address": "西安市新城区东五路 3 号", "lat": "34.27", "lon": "108.96",
        "product_category": "water_heater", "issue_category": "repair", "required_skill": "",
        "appointment_start": "9999-12-31T20:00", "appointment_end": "9999-12-31T22:00",
    }  # fmt: skip
    response = client.post("/hotline", data=form)
    assert response.status_code == 400
    assert "must be in the years 2000 to 2099" in response.get_data(as_text=True)
    assert db_session.scalars(select(WorkOrder)).all() == []
    db_session.rollback()
