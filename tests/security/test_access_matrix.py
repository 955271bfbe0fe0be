"""The access-control matrix: every route × every role against one explicit table.

Each route is called with real ids from the seeded world (`conftest.World`): the order in the
path is tech1's order in outlet North, the technician is tech1 (North), the proposal covers
North. So one table of *allowed roles* per route also states the object-level rules:
tech2 ("other_technician") and the South dispatcher ("other_outlet_dispatcher") are refused
North's order, and the customer's link opens only its own order.

A caller counts as *let through* when the answer is none of 401, 403, 404 and not a redirect
to the login page (writes are sent with a stale `version` or an invalid body, so a caller who
gets through sees 400 or 409 and nothing changes); *refused* is exactly one of those. A route
missing from the table fails the test: every new route must be classified here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.security.conftest import jpeg, logged_in_client

ROLES = (
    "anonymous", "customer", "technician", "other_technician", "other_outlet_dispatcher",
    "dispatcher", "manager", "admin",
)  # fmt: skip
USERNAME = {
    "anonymous": None, "customer": None, "technician": "tech1", "other_technician": "tech2",
    "other_outlet_dispatcher": "south_dispatcher", "dispatcher": "dispatcher", "manager": "manager", "admin": "admin",
}  # fmt: skip

EVERYONE = frozenset(ROLES)
LOGGED_IN = frozenset(ROLES) - {"anonymous", "customer"}
BOTH_TECHS = frozenset({"technician", "other_technician"})
ALL_STAFF = frozenset({"other_outlet_dispatcher", "dispatcher", "manager", "admin"})
# Who may see tech1's North order: tech1 and staff of North or of the whole city.
NORTH_VIEWERS = frozenset({"technician", "dispatcher", "manager", "admin"})
NORTH_STAFF = frozenset({"dispatcher", "manager", "admin"})
CUSTOMER = frozenset({"customer"})
TECH1 = frozenset({"technician"})
ADMIN = frozenset({"admin"})
STALE = 999_999  # a version no order has: a caller who gets through gets 409, nothing moves


@dataclass(frozen=True)
class Case:
    """Who is let through one route, and how to call it."""

    allowed: frozenset
    json: Any = None
    form: dict | None = None
    query: str = ""
    files: bool = False  # multipart upload of a real JPEG
    redirect_is_answer: bool = False  # a redirect to /login is this route's normal answer to everyone
    open_order: bool = False  # the path names tech1's open North order instead of the completed one
    why: str = ""
    fresh: Callable | None = field(default=None, compare=False)  # prepares per-call path ids


def _leave(world, app):
    """A new leave on tech1 for each call of a delete route."""
    from datetime import date

    from technicians.network import add_leave
    from web.extensions import db

    with app.app_context():
        session = db.new_session()
        try:
            leave = add_leave(session, world.tech_ids[0], date(2031, 1, 1), date(2031, 1, 2), "", actor_id=None)
            return {"leave_id": leave.id}
        finally:
            session.close()


def _lab_run(app):
    """One tiny policy-lab run of this app, started once and named by every call."""
    from simulation.lab import LabRequest
    from simulation.policies import parse
    from simulation.scenario import Model
    from web.lab_runs import lab_runs

    with app.app_context():
        runs = lab_runs()
        if not runs.recent():
            model = Model.load().with_knobs(technicians=1, orders_per_day=1)
            runs.start(LabRequest(1, [1], parse("baseline"), model, 0.2), None)
        return {"run_id": runs.recent()[0].id}


TRANSITION = {"action": "close", "version": STALE}
CASES: dict[tuple[str, str], Case] = {
    # --- public -------------------------------------------------------------------------------
    ("static", "GET"): Case(EVERYONE),
    ("openapi.spec", "GET"): Case(EVERYONE),
    ("pages.api_docs", "GET"): Case(EVERYONE),
    ("api.login", "POST"): Case(EVERYONE, json={}),
    ("pages.home", "GET"): Case(EVERYONE),
    ("pages.login", "GET"): Case(EVERYONE),
    ("pages.login", "POST"): Case(EVERYONE, form={}),
    ("pages.set_language", "POST"): Case(EVERYONE, form={}),
    ("pages.public_request", "GET"): Case(EVERYONE),
    ("pages.public_request", "POST"): Case(EVERYONE, form={}),
    ("pages.request_received", "GET"): Case(EVERYONE),
    # The request form asks for slots before the request exists (an invalid body: 400).
    ("api.draft_slots", "POST"): Case(EVERYONE, json={}),
    ("pages.tech_manifest", "GET"): Case(EVERYONE),
    ("pages.tech_service_worker", "GET"): Case(EVERYONE),
    ("healthz", "GET"): Case(EVERYONE),
    ("readyz", "GET"): Case(EVERYONE),
    # The test client calls from 127.0.0.1; from elsewhere /metrics needs METRICS_TOKEN (below).
    ("metrics", "GET"): Case(EVERYONE, why="loopback"),
    # Logging out answers every caller with a redirect to the login page; tests/integration/test_auth.py
    # shows it ends the session. Here it only has to exist and never fail.
    ("pages.logout", "POST"): Case(EVERYONE, form={}, redirect_is_answer=True),
    # The second login step: without a pending first step everyone is sent back to /login.
    ("pages.login_code", "GET"): Case(EVERYONE, redirect_is_answer=True),
    ("pages.login_code", "POST"): Case(EVERYONE, form={}, redirect_is_answer=True),
    # --- the customer's link (others are given a made-up token) ----------------------------------
    ("api.track", "GET"): Case(CUSTOMER),
    ("pages.track", "GET"): Case(CUSTOMER),
    ("pages.track_note", "POST"): Case(CUSTOMER, form={"note": ""}),
    ("pages.track_cancel", "POST"): Case(CUSTOMER, form={}),
    ("pages.track_survey", "POST"): Case(CUSTOMER, form={}),
    ("pages.track_reschedule", "POST"): Case(CUSTOMER, form={}),
    ("pages.track_slot", "POST"): Case(CUSTOMER, form={}),
    # --- anyone logged in -----------------------------------------------------------------------
    ("api.me", "GET"): Case(LOGGED_IN),
    ("pages.account_security", "GET"): Case(LOGGED_IN),
    ("pages.account_security", "POST"): Case(LOGGED_IN, form={}),
    ("pages.account_password", "GET"): Case(LOGGED_IN),
    ("pages.account_password", "POST"): Case(LOGGED_IN, form={}),
    ("api.events_feed", "GET"): Case(LOGGED_IN),
    ("api.list_orders", "GET"): Case(LOGGED_IN),
    ("api.list_skills", "GET"): Case(LOGGED_IN),
    ("pages.orders", "GET"): Case(LOGGED_IN),
    # --- tech1's North order --------------------------------------------------------------------
    ("api.get_order", "GET"): Case(NORTH_VIEWERS),
    ("api.order_events", "GET"): Case(NORTH_VIEWERS),
    ("api.order_sla", "GET"): Case(NORTH_VIEWERS),
    ("api.list_photos", "GET"): Case(NORTH_VIEWERS),
    ("api.view_photo", "GET"): Case(NORTH_VIEWERS),
    ("api.transition", "POST"): Case(NORTH_VIEWERS, json=TRANSITION),
    ("pages.order_detail", "GET"): Case(NORTH_VIEWERS),
    ("pages.order_transition", "POST"): Case(NORTH_VIEWERS, form={"action": "close", "version": str(STALE)}),
    ("api.original_photo", "GET"): Case(frozenset({"manager", "admin"})),
    ("api.order_authenticity", "GET"): Case(NORTH_STAFF),
    ("api.review_authenticity", "POST"): Case(NORTH_STAFF, json={"decision": "confirmed"}),
    ("api.record_callback", "POST"): Case(NORTH_STAFF, json={"version": STALE, "reached": True, "resolved": True}),
    ("api.set_priority", "POST"): Case(frozenset({"dispatcher", "admin"}), json={"priority": "vip", "version": STALE}),
    ("api.correct_order_location", "PATCH"): Case(
        frozenset({"dispatcher", "admin"}), json={"lat": 34.2, "lon": 108.9, "version": STALE}
    ),
    ("pages.order_location", "POST"): Case(
        frozenset({"dispatcher", "admin"}), form={"lat": "34.2", "lon": "108.9", "version": str(STALE)}
    ),
    ("api.geocode", "GET"): Case(frozenset({"dispatcher", "admin", "other_outlet_dispatcher"}), query="q=x"),
    ("api.suggestions", "GET"): Case(frozenset({"dispatcher", "admin"}), open_order=True),
    ("api.order_slots", "GET"): Case(frozenset({"dispatcher", "admin"}), open_order=True),
    # A start no slot has: a caller let through gets 409 with the fresh list, nothing is booked.
    ("api.book_slot", "POST"): Case(
        frozenset({"dispatcher", "admin"}), json={"start": "2031-01-01T00:00:00+08:00"}, open_order=True
    ),
    ("api.get_timeline", "GET"): Case(ALL_STAFF),  # each sees their own outlet's rows
    ("api.get_forecast", "GET"): Case(ALL_STAFF),  # each sees the forecast of the orders they may see
    # An empty what-if: a caller let through gets 400 naming the missing move, nothing is written.
    ("api.forecast_what_if", "POST"): Case(frozenset({"other_outlet_dispatcher", "dispatcher", "admin"}), json={}),
    # No start chosen: let through, the order page answers 400; nothing is booked.
    ("pages.order_slot", "POST"): Case(frozenset({"dispatcher", "admin"}), form={}),
    ("api.place", "POST"): Case(frozenset({"dispatcher", "admin"}), json={"technician_id": 1, "version": STALE}),
    ("api.pin", "POST"): Case(frozenset({"dispatcher", "admin"}), json={"pinned": True, "version": STALE}),
    ("api.reissue_link", "POST"): Case(frozenset({"dispatcher", "admin"})),
    ("pages.order_tracking_link", "POST"): Case(frozenset({"dispatcher", "admin"}), form={}),
    ("api.tech_action", "POST"): Case(TECH1, json={"action": "accept", "version": STALE}),
    ("api.tech_photo", "POST"): Case(TECH1, files=True),
    ("api.upload_photo", "POST"): Case(TECH1, files=True),
    ("api.completion_report", "POST"): Case(TECH1, json={}),
    ("api.tech_part_request", "POST"): Case(
        TECH1, json={"version": STALE, "part": "thermostat", "quantity": 1, "expected_on": "2099-01-01"}
    ),
    ("api.part_arrived", "POST"): Case(frozenset({"dispatcher", "admin"}), json={"version": STALE}),
    ("api.parts_waiting", "GET"): Case(ALL_STAFF),  # each sees the waiting orders of their scope
    ("api.tech_today", "GET"): Case(BOTH_TECHS),
    ("api.tech_position", "POST"): Case(BOTH_TECHS, json={}),
    # --- complaints on the North order (opened by the seed, with one compensation) ---------------
    ("api.get_complaint", "GET"): Case(NORTH_STAFF),
    ("api.open_complaint", "POST"): Case(NORTH_STAFF, json={}),
    ("pages.order_complaint", "POST"): Case(NORTH_STAFF, form={"step": "milestone", "milestone": "contacted"}),
    ("api.escalate_complaint", "POST"): Case(NORTH_STAFF, json={"reason": "x", "level": "staff"}),
    ("api.transfer_complaint", "POST"): Case(NORTH_STAFF, json={"to_user_id": 999_999, "reason": "x"}),
    ("api.complaint_milestone", "POST"): Case(NORTH_STAFF, json={"milestone": "contacted"}),
    ("api.add_compensation", "POST"): Case(NORTH_STAFF, json={"amount": "10.00", "reason": "x"}),
    ("api.approve_compensation", "POST"): Case(NORTH_STAFF),
    ("api.settle_compensation", "POST"): Case(NORTH_STAFF),
    ("api.list_complaints", "GET"): Case(ALL_STAFF),
    # --- the clerks' callback and review pages ------------------------------------------------
    ("pages.callbacks", "GET"): Case(ALL_STAFF),
    ("pages.callback_detail", "GET"): Case(NORTH_STAFF),
    ("pages.callback_record", "POST"): Case(NORTH_STAFF, form={}),
    ("pages.reviews", "GET"): Case(ALL_STAFF),
    ("pages.review_detail", "GET"): Case(NORTH_STAFF),
    ("pages.review_decide", "POST"): Case(NORTH_STAFF, form={}),
    ("pages.review_photo", "GET"): Case(NORTH_STAFF),
    ("pages.tech", "GET"): Case(BOTH_TECHS),
    # --- staff of any outlet (lists are scoped; see the scoping tests below) ----------------------
    ("api.board", "GET"): Case(ALL_STAFF),
    ("api.board_order_panel", "GET"): Case(NORTH_STAFF),  # the board's order panel: staff who see the order
    ("pages.board", "GET"): Case(ALL_STAFF),
    ("api.callback_queue", "GET"): Case(ALL_STAFF),
    ("api.review_queue", "GET"): Case(ALL_STAFF),
    ("api.get_kpi_weights", "GET"): Case(ALL_STAFF),
    ("api.kpi_table", "GET"): Case(ALL_STAFF, query="month=2026-11"),
    ("api.kpi_orders", "GET"): Case(ALL_STAFF, query="month=2026-11&kpi=completion_24h"),
    ("api.kpi_csv", "GET"): Case(ALL_STAFF, query="month=2026-11"),
    ("api.kpi_xlsx", "GET"): Case(ALL_STAFF, query="month=2026-11"),
    ("api.kpi_orders_csv", "GET"): Case(ALL_STAFF, query="month=2026-11&kpi=completion_24h"),
    ("api.kpi_orders_xlsx", "GET"): Case(ALL_STAFF, query="month=2026-11&kpi=completion_24h"),
    ("api.kpi_report_xlsx", "GET"): Case(ALL_STAFF, query="month=2026-11"),
    ("api.kpi_report_pdf", "GET"): Case(ALL_STAFF, query="month=2026-11"),
    ("api.kpi_risk_watch", "GET"): Case(ALL_STAFF, query="month=2026-11"),
    ("api.kpi_pictures", "GET"): Case(ALL_STAFF, query="month=2026-11"),
    ("api.get_kpi_risk_thresholds", "GET"): Case(ALL_STAFF),
    ("pages.kpi_page", "GET"): Case(ALL_STAFF),
    ("pages.kpi_orders_page", "GET"): Case(ALL_STAFF),
    ("pages.kpi_report_xlsx_page", "GET"): Case(ALL_STAFF, query="month=2026-11"),
    ("pages.kpi_report_pdf_page", "GET"): Case(ALL_STAFF, query="month=2026-11"),
    ("api.list_outlets", "GET"): Case(ALL_STAFF),
    ("api.get_outlet", "GET"): Case(ALL_STAFF),
    ("api.list_sla_rules", "GET"): Case(ALL_STAFF),
    # The roster is read across outlets (who works where); changing it is scoped (below).
    ("api.list_technicians", "GET"): Case(ALL_STAFF),
    ("api.get_technician", "GET"): Case(ALL_STAFF),
    ("api.technician_history", "GET"): Case(ALL_STAFF),
    ("pages.admin_technicians", "GET"): Case(ALL_STAFF),
    ("pages.admin_technician", "GET"): Case(ALL_STAFF),
    # A customer's name, phone and address are not shared across outlets: North's customer is
    # unknown to the South dispatcher.
    ("api.get_customer", "GET"): Case(NORTH_STAFF),
    ("api.find_customer", "GET"): Case(NORTH_STAFF, query="phone=13800138001"),
    ("pages.customer_page", "GET"): Case(NORTH_STAFF),
    # --- intake and planning --------------------------------------------------------------------
    ("api.create_order", "POST"): Case(frozenset({"other_outlet_dispatcher", "dispatcher", "admin"}), json={}),
    ("pages.hotline", "GET"): Case(frozenset({"other_outlet_dispatcher", "dispatcher", "admin"})),
    ("pages.hotline", "POST"): Case(frozenset({"other_outlet_dispatcher", "dispatcher", "admin"}), form={}),
    ("api.propose", "POST"): Case(
        frozenset({"other_outlet_dispatcher", "dispatcher", "admin"}), json={"time_limit_s": 0}
    ),
    ("api.get_proposal", "GET"): Case(NORTH_STAFF),
    ("api.apply", "POST"): Case(frozenset({"dispatcher", "admin"}), json={}),
    # --- the roster: tech1 belongs to North, so the South dispatcher may not change it --------------
    ("api.create_technician", "POST"): Case(frozenset({"other_outlet_dispatcher", "dispatcher", "admin"}), json={}),
    ("pages.admin_technician_new", "GET"): Case(frozenset({"other_outlet_dispatcher", "dispatcher", "admin"})),
    ("pages.admin_technician_new", "POST"): Case(
        frozenset({"other_outlet_dispatcher", "dispatcher", "admin"}), form={}
    ),
    ("api.update_technician", "PATCH"): Case(frozenset({"dispatcher", "admin"}), json={}),
    # An unknown reason: let through, a dispatcher of tech1's outlet gets 400 and nothing changes.
    ("api.drop_out", "POST"): Case(frozenset({"dispatcher", "admin"}), json={"reason": "none"}),
    ("pages.admin_drop_out", "POST"): Case(frozenset({"dispatcher", "admin"}), form={"reason": "none"}),
    ("pages.admin_technician", "POST"): Case(frozenset({"dispatcher", "admin"}), form={}),
    ("api.add_leave", "POST"): Case(
        frozenset({"dispatcher", "admin"}), json={"start_date": "2031-02-01", "end_date": "2031-02-02"}
    ),
    ("api.remove_leave", "DELETE"): Case(frozenset({"dispatcher", "admin"}), fresh=_leave),
    ("pages.admin_add_leave", "POST"): Case(frozenset({"dispatcher", "admin"}), form={}),
    ("pages.admin_remove_leave", "POST"): Case(frozenset({"dispatcher", "admin"}), form={}, fresh=_leave),
    # --- managers and admins --------------------------------------------------------------------
    ("api.close_kpi_month", "POST"): Case(frozenset({"manager", "admin"}), json={}),
    ("pages.kpi_close_page", "POST"): Case(frozenset({"manager", "admin"}), form={}),
    ("api.outlet_history", "GET"): Case(frozenset({"manager", "admin"})),
    # The policy lab: an empty body or form is a 400 for those let through (no run starts).
    ("pages.lab", "GET"): Case(frozenset({"manager", "admin"})),
    ("pages.lab", "POST"): Case(frozenset({"manager", "admin"}), form={}),
    ("pages.lab_run", "GET"): Case(frozenset({"manager", "admin"}), fresh=lambda world, app: _lab_run(app)),
    ("api.start_lab_run", "POST"): Case(frozenset({"manager", "admin"}), json={}),
    ("api.lab_run", "GET"): Case(frozenset({"manager", "admin"}), fresh=lambda world, app: _lab_run(app)),
    # --- admins only ----------------------------------------------------------------------------
    ("api.set_kpi_weights", "POST"): Case(ADMIN, json={}),
    ("api.set_kpi_risk_thresholds", "POST"): Case(ADMIN, json={}),
    ("api.create_skill", "POST"): Case(ADMIN, json={}),
    ("api.create_outlet", "POST"): Case(ADMIN, json={}),
    ("api.update_outlet", "PATCH"): Case(ADMIN, json={"name": ""}),
    ("api.create_sla_rule", "POST"): Case(ADMIN, json={}),
    ("api.update_sla_rule", "PATCH"): Case(ADMIN, json={"name": ""}),
    ("api.list_users", "GET"): Case(ADMIN),
    ("api.create_user", "POST"): Case(ADMIN, json={}),
    ("api.update_user", "PATCH"): Case(ADMIN, json={"display_name": "x" * 101}),
    ("pages.admin_outlets", "GET"): Case(ADMIN),
    ("pages.admin_outlets", "POST"): Case(ADMIN, form={}),
    ("pages.admin_outlet", "GET"): Case(ADMIN),
    ("pages.admin_outlet", "POST"): Case(ADMIN, form={}),
    ("pages.admin_users", "GET"): Case(ADMIN),
    ("pages.admin_users", "POST"): Case(ADMIN, form={}),
    ("pages.admin_user", "GET"): Case(ADMIN),
    ("pages.admin_user", "POST"): Case(ADMIN, form={}),
}

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def app_routes(app) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - IGNORED_METHODS
    }  # fmt: skip


def path_values(world, token: str) -> dict[str, Any]:
    return {
        "order_id": world.north_order["id"], "tech_id": world.tech_ids[0], "outlet_id": world.north_id,
        "customer_id": world.customer_id, "photo_id": world.photo_id, "proposal_id": world.proposal_id,
        "rule_id": world.rule_id, "user_id": world.tech_user_id, "leave_id": 0, "token": token,
        "number": world.north_order["number"], "code": "en", "filename": "app.css",
        "compensation_id": world.compensation_id,
    }  # fmt: skip


def build_path(rule, values: dict[str, Any]) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(values[name]), path)
    return path


def fresh_token(app, order_id: int) -> str:
    """A working link for the North order (other calls may have reissued it)."""
    from core.accounts import Actor
    from dispatch.customer import reissue_tracking_link
    from web.extensions import db

    with app.app_context():
        session = db.new_session()
        try:
            return reissue_tracking_link(session, order_id, Actor.system())[0]
        finally:
            session.close()


def refused(status: int, location: str, role: str, path: str) -> bool:
    if status in (401, 403, 404):
        return True
    return status == 302 and "/login" in location and not path.startswith("/logout")


def call(app, clients, role: str, rule, method: str, case: Case, world):
    client, csrf = clients[role]
    values = path_values(world, "made-up-token-" + "x" * 20)
    if "token" in rule.arguments and role == "customer":
        values["token"] = fresh_token(app, world.north_order["id"])
    if case.open_order:
        values["order_id"] = world.north_open["id"]
    if case.fresh is not None:
        values |= case.fresh(world, app)
    path = build_path(rule, values) + (f"?{case.query}" if case.query else "")
    headers = {"X-CSRFToken": csrf}
    kwargs: dict[str, Any] = {"headers": headers}
    if case.files:
        import io

        kwargs["data"] = {"photo": (io.BytesIO(jpeg(7)), "p.jpg", "image/jpeg")}
        kwargs["content_type"] = "multipart/form-data"
    elif case.form is not None:
        kwargs["data"] = {**case.form, "csrf_token": csrf}
    elif case.json is not None:
        kwargs["json"] = case.json
    response = client.open(path, method=method, **kwargs)
    response.close()
    if rule.endpoint == "pages.logout" and role in LOGGED_IN:
        clients[role] = logged_in_client(app, USERNAME[role])  # that session has ended
    return path, response


@pytest.fixture
def clients(app, world):
    return {role: logged_in_client(app, USERNAME[role]) for role in ROLES}


def test_every_route_is_classified_in_the_matrix(app):
    routes = app_routes(app)
    missing = sorted(routes - CASES.keys())
    stale = sorted(CASES.keys() - routes)
    assert not missing, f"routes nobody classified (add them to CASES with their allowed roles): {missing}"
    assert not stale, f"CASES names routes that no longer exist: {stale}"


def test_every_role_is_let_through_exactly_where_the_matrix_says(app, world, clients):
    rules = {(r.endpoint, m): r for r in app.url_map.iter_rules() for m in r.methods - IGNORED_METHODS}
    wrong = []
    for key in sorted(rules.keys() & CASES.keys()):
        rule, case = rules[key], CASES[key]
        for role in ROLES:
            path, response = call(app, clients, role, rule, key[1], case, world)
            assert response.status_code < 500, f"{role} {key[1]} {path} → {response.status_code}"
            if case.redirect_is_answer:
                continue
            is_refused = refused(response.status_code, response.headers.get("Location", ""), role, path)
            if is_refused == (role in case.allowed):
                want = "let through" if role in case.allowed else "refused"
                wrong.append(f"{key[1]} {path} as {role}: {response.status_code}, expected {want}")
    assert not wrong, "access matrix mismatches:\n" + "\n".join(wrong)


def test_refusals_say_401_to_strangers_and_403_or_404_to_the_wrong_role(app, world, clients):
    """Anonymous API callers get 401 (pages send them to the login page); a logged-in caller
    without the role gets 403, or 404 where the object is not theirs to know about."""
    rules = {(r.endpoint, m): r for r in app.url_map.iter_rules() for m in r.methods - IGNORED_METHODS}
    wrong = []
    for key, case in CASES.items():
        if key not in rules or "anonymous" in case.allowed or case.allowed == CUSTOMER or case.redirect_is_answer:
            continue
        path, response = call(app, clients, "anonymous", rules[key], key[1], case, world)
        if path.startswith("/api/"):
            ok = response.status_code == 401 and response.is_json
        else:
            ok = response.status_code == 302 and "/login" in response.headers["Location"]
        if not ok:
            wrong.append(f"{key[1]} {path}: {response.status_code}")
    assert not wrong, "anonymous callers answered wrongly:\n" + "\n".join(wrong)


def test_metrics_from_another_machine_need_the_metrics_token(app, world):
    client = app.test_client()
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=remote).status_code == 403
    app.config["METRICS_TOKEN"] = "m" * 32
    bad = {"Authorization": "Bearer " + "x" * 32}
    assert client.get("/metrics", environ_base=remote, headers=bad).status_code == 403
    good = {"Authorization": "Bearer " + "m" * 32}
    assert client.get("/metrics", environ_base=remote, headers=good).status_code == 200


# --- object-level scoping of lists ----------------------------------------------------------------


def _ids(client, path: str, headers=None) -> set[int]:
    body = client.get(path, headers=headers or {}).get_json()
    return {item.get("id", item.get("order_id")) for item in body["items"]}


def test_lists_show_each_caller_only_the_orders_they_may_see(app, world):
    from tests.conftest import Auth

    north, south, north_open = world.north_order["id"], world.south_order["id"], world.north_open["id"]
    norths = {north, north_open}
    expected = {
        "tech1": norths, "tech2": {south}, "south_dispatcher": {south},
        "dispatcher": norths | {south}, "manager": norths | {south}, "admin": norths | {south},
    }  # fmt: skip
    for username, ids in expected.items():
        client = app.test_client()
        headers = Auth(client).token(username)
        assert _ids(client, "/api/orders", headers) == ids, username
        feed = client.get("/api/events?after=0", headers=headers).get_json()["items"]
        assert {e["order_id"] for e in feed} == ids, username
        if username.startswith("tech"):
            today = client.get("/api/tech/today", headers=headers).get_json()["items"]
            assert {o["id"] for o in today} == ids, username
        else:
            board = client.get("/api/board", headers=headers).get_json()["orders"]
            assert {o["id"] for o in board} == ids, username
            customer = client.get(f"/api/customers/{world.customer_id}", headers=headers)
            if north in ids:
                assert {o["id"] for o in customer.get_json()["orders"]} == {north}, username
            else:
                assert customer.status_code == 404, username


def test_the_callback_and_review_queues_hold_only_the_callers_outlet(app, world, db_session):
    from datetime import timedelta

    from core.db import utcnow
    from dispatch.models import AuthenticityVerdict, WorkOrder
    from tests.conftest import Auth

    north = world.north_order["id"]
    db_session.get(WorkOrder, north).completed_at = utcnow() - timedelta(days=5)
    verdict = db_session.get(AuthenticityVerdict, north)
    verdict.status = "doubtful"
    db_session.commit()
    for username, ids in (("south_dispatcher", set()), ("dispatcher", {north})):
        client = app.test_client()
        headers = Auth(client).token(username)
        assert _ids(client, "/api/callbacks?after_days=0", headers) == ids, username
        assert _ids(client, "/api/reviews", headers) == ids, username


def test_a_customer_link_opens_its_own_order_and_nothing_else(app, world):
    from tests.conftest import Auth

    token = fresh_token(app, world.north_order["id"])
    client = app.test_client()
    assert client.get(f"/api/track/{token}").get_json()["number"] == world.north_order["number"]
    page = client.get(f"/t/{token}").get_data(as_text=True)
    assert world.north_order["number"] in page and world.south_order["number"] not in page
    # The link is no login: with it, the API still knows nobody.
    assert client.get(f"/api/orders/{world.north_order['id']}").status_code == 401
    assert client.get(f"/orders/{world.north_order['id']}").status_code == 302
    # And a staff session cannot be borrowed to read a different order through the link's pages.
    Auth(client).login("tech2")
    assert client.get(f"/orders/{world.north_order['id']}").status_code == 404


# --- Socket.IO ------------------------------------------------------------------------------------

ROOMS_OF = {
    "technician": lambda w: {f"technician:{w.tech_ids[0]}"},
    "other_technician": lambda w: {f"technician:{w.tech_ids[1]}"},
    "other_outlet_dispatcher": lambda w: {f"outlet:{w.south_id}", "unplaced"},
    "dispatcher": lambda w: {"dispatch"},
    "manager": lambda w: {"dispatch"},
    "admin": lambda w: {"dispatch"},
}


def _probe_all_rooms(socketio, world) -> list[str]:
    rooms = ["dispatch", "unplaced", f"outlet:{world.north_id}", f"outlet:{world.south_id}"]
    rooms += [f"technician:{t}" for t in world.tech_ids]
    for room in rooms:
        socketio.emit("probe", {"room": room}, to=room)
    return rooms


def _heard(sio) -> set[str]:
    return {m["args"][0]["room"] for m in sio.get_received() if m["name"] == "probe"}


def test_sockets_connect_only_logged_in_users_into_their_own_rooms(app, world):
    from web.extensions import socketio

    sockets = {}
    for role in ROLES:
        client, _ = logged_in_client(app, USERNAME[role])
        sockets[role] = socketio.test_client(app, flask_test_client=client)
    try:
        assert not sockets["anonymous"].is_connected()
        assert not sockets["customer"].is_connected()
        for sio in sockets.values():
            if sio.is_connected():
                # Asking to join someone else's rooms must change nothing.
                for room in ("dispatch", f"outlet:{world.north_id}", f"technician:{world.tech_ids[0]}"):
                    sio.emit("join", {"room": room})
                    sio.emit("join_room", room)
                sio.get_received()
        _probe_all_rooms(socketio, world)
        heard = {role: _heard(sio) for role, sio in sockets.items() if sio.is_connected()}
        assert heard == {role: rooms(world) for role, rooms in ROOMS_OF.items()}
    finally:
        for sio in sockets.values():
            if sio.is_connected():
                sio.disconnect()


def test_a_tracking_socket_needs_its_link_and_hears_only_its_own_order(app, world):
    from dispatch.models import WorkOrder
    from dispatch.tracking import room_for
    from web.extensions import db, socketio
    from web.realtime_tracking import NAMESPACE

    north_token = fresh_token(app, world.north_order["id"])
    south_token = fresh_token(app, world.south_order["id"])
    for bad in ({"token": "made-up-token-" + "x" * 20}, {"token": ""}, {"token": "x" * 5000}, None, {"token": 7}):
        sio = socketio.test_client(app, namespace=NAMESPACE, auth=bad)
        assert not sio.is_connected(NAMESPACE), bad
    north = socketio.test_client(app, namespace=NAMESPACE, auth={"token": north_token})
    south = socketio.test_client(app, namespace=NAMESPACE, auth={"token": south_token})
    try:
        assert north.is_connected(NAMESPACE) and south.is_connected(NAMESPACE)
        with app.app_context():
            session = db.new_session()
            rooms = {
                n: room_for(session.get(WorkOrder, world.__dict__[f"{n}_order"]["id"])) for n in ("north", "south")
            }
            session.close()
        for name, room in rooms.items():
            socketio.emit("tracking", {"room": name}, to=room, namespace=NAMESPACE)
        assert [m["args"][0]["room"] for m in north.get_received(NAMESPACE)] == ["north"]
        assert [m["args"][0]["room"] for m in south.get_received(NAMESPACE)] == ["south"]
    finally:
        north.disconnect(NAMESPACE)
        south.disconnect(NAMESPACE)
