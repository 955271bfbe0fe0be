"""User text never runs as code: hostile payloads stored in every free-text field through the
real API and forms, then every page that shows them opened in Chromium.

Each payload would set `window.__xss` (or open a dialog) if it ran. A page passes when the flag
is unset, no dialog opened, no element the payloads would create exists in the DOM (so the test
does not lean on the Content-Security-Policy alone) and the payload text is shown as text.
"""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect

from tests.clock import local_today
from tests.conftest import PASSWORD, Auth
from tests.integration.helpers import order_body
from tests.security.conftest import jpeg

pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__xss=1</script>"
IMG = "<img src=x onerror=window.__xss=2>"
SVG = '"><svg onload=window.__xss=3>'
QUOTE = '\';window.__xss=4;//"-alert(5)-"'
PAYLOAD = f"{SCRIPT}{IMG}{SVG}"  # 92 characters: fits every 100-character field
SHORT = f"{IMG}{SVG}"[:64]  # checklist item keys (at most 64)
# What the payloads would put in the DOM if they were parsed as HTML.
INJECTED = """() => {
  const marks = [];
  for (const s of document.scripts) {
    if (s.type !== "application/json" && s.textContent.includes("__xss")) marks.push("script");
  }
  for (const el of document.querySelectorAll("[onerror], [onload], img[src='x']")) {
    const code = (el.getAttribute("onerror") || "") + (el.getAttribute("onload") || "");
    if (code.includes("__xss") || el.getAttribute("src") === "x") marks.push(el.tagName);
  }
  return marks;
}"""
SHOWN = """() => {
  const values = [...document.querySelectorAll("input, textarea")].map((el) => el.value);
  return document.body.innerText + "\\n" + values.join("\\n");
}"""


def api(client, method: str, path: str, headers: dict, body=None, status=(200, 201)):
    response = client.open(path, method=method, json=body, headers=headers)
    assert response.status_code in status, (method, path, response.get_json())
    return response.get_json()


def form_post(client, path: str, data: dict):
    html = client.get("/request").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    response = client.post(path, data={**data, "csrf_token": token})
    assert response.status_code in (200, 302), (path, response.status_code)


@pytest.fixture
def hostile(live_server, live_network):
    """Payloads in every free-text field, written through the API and the customer's forms."""
    _, app = live_server
    app.config["TECH_CHECKLISTS"] = {"repair": [SHORT, "test_run"]}
    client = app.test_client()
    auth = Auth(client)
    admin, dispatcher, tech = auth.token("admin"), auth.token("dispatcher"), auth.token("tech1")
    tech1 = live_network["techs"][0]
    north = api(client, "GET", f"/api/technicians/{tech1}", admin)["outlet_id"]
    api(client, "PATCH", f"/api/outlets/{north}", admin, {"name": PAYLOAD})
    api(client, "PATCH", f"/api/technicians/{tech1}", admin, {"name": PAYLOAD})
    users = api(client, "GET", "/api/users?per_page=200", admin)["items"]
    for user in users:
        if user["username"] in ("dispatcher", "tech1"):
            api(client, "PATCH", f"/api/users/{user['id']}", admin, {"display_name": PAYLOAD})
    api(client, "POST", f"/api/technicians/{tech1}/leaves", admin,
        {"start_date": "2031-03-01", "end_date": "2031-03-02", "reason": PAYLOAD + QUOTE})  # fmt: skip

    def new_order(phone: str) -> dict:
        body = order_body(
            phone=phone, name=PAYLOAD, address=PAYLOAD + QUOTE, description=PAYLOAD + QUOTE,
            product_model=PAYLOAD, lat=34.33, lon=108.94,
        )  # fmt: skip
        return api(client, "POST", "/api/orders", dispatcher, body)

    def move(order: dict, headers: dict, action: str, **extra) -> dict:
        body = {"action": action, "version": order["version"], **extra}
        return api(client, "POST", f"/api/orders/{order['id']}/transitions", headers, body)

    # 1: done, reported, called back unresolved: returned for a second visit, with a complaint.
    done = new_order("13800138011")
    done = move(done, dispatcher, "assign", technician_id=tech1)
    for step in ("accept", "contact", "depart", "arrive"):
        done = move(done, tech, step)
    photo = client.post(
        f"/api/orders/{done['id']}/photos", headers=tech, content_type="multipart/form-data",
        data={"photo": (io.BytesIO(jpeg(3)), "p.jpg", "image/jpeg"), "lat": "34.33", "lon": "108.94"},
    )  # fmt: skip
    assert photo.status_code == 201, photo.get_json()
    report = {"checklist": [SHORT, "test_run"], "parts": [{"name": PAYLOAD, "qty": 1}], "fee": 10,
              "fee_note": PAYLOAD + QUOTE, "notes": PAYLOAD + QUOTE}  # fmt: skip
    api(client, "POST", f"/api/orders/{done['id']}/completion-report", tech, report)
    done = api(client, "GET", f"/api/orders/{done['id']}", tech)
    done = move(done, tech, "complete")
    api(client, "POST", f"/api/orders/{done['id']}/complaint", dispatcher, {"summary": PAYLOAD + QUOTE})
    api(client, "POST", f"/api/orders/{done['id']}/complaint/escalations", dispatcher, {"reason": PAYLOAD + QUOTE})
    api(client, "POST", f"/api/orders/{done['id']}/complaint/compensations", dispatcher,
        {"amount": "20.00", "reason": PAYLOAD + QUOTE})  # fmt: skip
    callback = {"version": done["version"], "reached": True, "resolved": False, "score": 2,
                "problems": ["other"], "note": PAYLOAD + QUOTE}  # fmt: skip
    returned = api(client, "POST", f"/api/orders/{done['id']}/callbacks", dispatcher, callback)
    # 2: rejected by the technician with a hostile reason.
    rejected = new_order("13800138012")
    rejected = move(rejected, dispatcher, "assign", technician_id=tech1)
    move(rejected, tech, "reject", reason=PAYLOAD + QUOTE)
    # 3: completed, with the customer's note and survey comment from the tracking page.
    surveyed = new_order("13800138013")
    link = surveyed["tracking_url"].split("/t/")[1]
    surveyed = move(surveyed, dispatcher, "assign", technician_id=tech1)
    for step in ("accept", "contact", "depart", "arrive", "complete"):
        surveyed = move(surveyed, tech, step)
    customer = app.test_client()
    form_post(customer, f"/t/{link}/note", {"note": PAYLOAD + QUOTE})
    form_post(customer, f"/t/{link}/survey", {"fixed": "yes", "score": "5", "comment": PAYLOAD + QUOTE})
    # 4: open and assigned, so the phone and the board show it as work to do.
    todo = new_order("13800138014")
    move(todo, dispatcher, "assign", technician_id=tech1)
    return {
        "orders": [returned["id"], rejected["id"], surveyed["id"], todo["id"]],
        "customer": returned["customer"]["id"], "tech": tech1, "outlet": north, "link": link,
        "users": [u["id"] for u in users if u["username"] in ("dispatcher", "tech1")],
    }  # fmt: skip


def open_as(browser, base: str, username: str | None):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.add_init_script("window.__xss = undefined;")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    if username is not None:
        page.goto(f"{base}/login")
        page.locator("input[name=username]").fill(username)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_load_state("networkidle")
    return context, page, dialogs


def assert_inert(page, dialogs: list[str], where: str, shown: bool = True) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(150)  # let an onerror/onload handler fire, if there were one
    assert page.evaluate("window.__xss") is None, f"a payload ran on {where}"
    assert dialogs == [], f"a dialog opened on {where}: {dialogs}"
    assert page.evaluate(INJECTED) == [], f"payload markup became DOM on {where}"
    if shown:
        text = page.evaluate(SHOWN)
        assert "<img src=x onerror=" in text or "<svg onload=" in text, f"the payload is not shown as text on {where}"


def test_the_checks_catch_a_payload_that_does_run(browser):
    """The control: the same checks fail on a page that renders the payloads as HTML."""
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        for markup in (SCRIPT, IMG, SVG):
            page.evaluate("window.__xss = undefined")
            page.set_content(f"<body><p>{markup}</p></body>")
            with pytest.raises(AssertionError):
                assert_inert(page, dialogs, "the control page", shown=False)
        page.evaluate("window.__xss = undefined")
        page.set_content("<body><p>plain</p></body>")
        with pytest.raises(AssertionError, match="not shown as text"):
            assert_inert(page, dialogs, "the control page")
    finally:
        context.close()


def test_no_stored_payload_runs_on_any_page(browser, live_server, hostile):
    base, _ = live_server
    returned, rejected, surveyed, todo = hostile["orders"]
    month = local_today().strftime("%Y-%m")
    visits = {
        "dispatcher": [
            "/orders", "/orders?q=script", *[f"/orders/{o}" for o in hostile["orders"]],
            f"/customers/{hostile['customer']}", f"/kpis?month={month}",
            f"/kpis/orders?month={month}&kpi=completion_24h", f"/kpis/orders?month={month}&kpi=satisfaction",
            "/callbacks", f"/callbacks/{returned}", f"/callbacks/{surveyed}", "/reviews", f"/reviews/{returned}",
            "/admin/technicians", f"/admin/technicians/{hostile['tech']}",
        ],
        "admin": [
            "/admin/outlets", f"/admin/outlets/{hostile['outlet']}", "/admin/users",
            *[f"/admin/users/{u}" for u in hostile["users"]],
        ],
    }  # fmt: skip
    # Pages that may legitimately show none of the payloads (lists of numbers, empty queues).
    quiet = {f"/kpis?month={month}", "/reviews", f"/reviews/{returned}", "/callbacks"}
    for username, paths in visits.items():
        context, page, dialogs = open_as(browser, base, username)
        try:
            for path in paths:
                response = page.goto(base + path)
                assert response.status < 400 or path.startswith("/reviews/"), (path, response.status)
                assert_inert(page, dialogs, path, shown=path not in quiet and response.status < 400)
        finally:
            context.close()


def test_no_stored_payload_runs_on_the_board_its_panel_or_its_map(browser, live_server, hostile):
    base, _ = live_server
    context, page, dialogs = open_as(browser, base, "dispatcher")
    try:
        page.goto(f"{base}/board")
        expect(page.locator("#connection")).to_have_attribute("data-state", "live")
        for queue in ("unassigned", "in_progress", "awaiting_callback", "returned"):
            page.locator(f'.queue-tab[data-queue="{queue}"]').click()
            for item in page.locator("#queue-list li[data-order-id]").all():
                item.click()
                expect(page.locator("#order-panel")).to_be_visible()
                assert_inert(page, dialogs, f"the board's panel ({queue})")
        for marker in page.locator("#board-map .order-marker, #board-map path.tech-marker").all():
            marker.hover(force=True)
            assert_inert(page, dialogs, "a map tooltip", shown=False)
        assert_inert(page, dialogs, "the board")
    finally:
        context.close()


def test_no_stored_payload_runs_on_the_phone_or_the_tracking_page(browser, live_server, hostile):
    base, _ = live_server
    context, page, dialogs = open_as(browser, base, "tech1")
    try:
        page.goto(f"{base}/tech")
        page.wait_for_load_state("networkidle")
        assert_inert(page, dialogs, "the phone's list")
        for order_id in hostile["orders"]:
            page.goto(f"{base}/tech#order-{order_id}")
            assert_inert(page, dialogs, f"the phone's order {order_id}", shown=False)
    finally:
        context.close()
    context, page, dialogs = open_as(browser, base, None)
    try:
        page.goto(f"{base}/t/{hostile['link']}")
        assert_inert(page, dialogs, "the tracking page", shown=False)
    finally:
        context.close()
