"""The board's order panel reads (GET /api/board/orders/<id>): product, model and fault in words,
the phone in national format with a tel: link, the SLA clocks, the history in sentences."""

from __future__ import annotations

from tests.integration.helpers import act, create_order


def test_the_panel_says_product_fault_phone_clocks_and_history_in_words(client, network, auth):
    headers = auth.token("dispatcher")
    order = create_order(client, headers, product_model="JSQ30-16", description="no hot water", issue_category="repair")
    assert act(client, headers, order, "assign", technician_id=network.techs[1].id).status_code == 200

    panel = client.get(f"/api/board/orders/{order['id']}", headers=headers)

    assert panel.status_code == 200, panel.get_json()
    body = panel.get_json()
    assert body["phone"] == "138 0013 8000" and body["tel"] == "tel:+8613800138000"
    assert body["model"] == "JSQ30-16" and body["fault"] == "Repair" and body["description"] == "no hot water"
    assert body["product"] and body["product"] != "water_heater"  # the skill's name, not its code
    assert "completion" in {c["clock"] for c in body["clocks"]}
    assert all(c["label"] and c["due_at"] for c in body["clocks"])
    newest = body["history"][0]  # newest first
    assert (newest["what"], newest["status"], newest["details"]) == (
        "Assign",
        "New → Assigned",
        ["Technician: Tech 2."],
    )
    assert "T" not in body["history"][-1]["at"]  # local time as people read it, not an ISO stamp

    zh = client.get(f"/api/board/orders/{order['id']}", headers={**headers, "Accept-Language": "zh-CN"}).get_json()
    assert zh["fault"] == "维修"
    assert all(c["label"] != body["clocks"][i]["label"] for i, c in enumerate(zh["clocks"]))


def test_a_manager_sees_the_phone_masked_and_no_call_link(client, network, auth):
    order = create_order(client, auth.token("dispatcher"))
    body = client.get(f"/api/board/orders/{order['id']}", headers=auth.token("manager")).get_json()
    assert "****" in body["phone"] and body["tel"] is None
