"""Small builders shared by integration tests."""

from __future__ import annotations

VALID_ORDER = {
    "name": "张三",
    "phone": "13800138000",
    "address": "西安市雁塔区小寨东路 1 号",
    "product_category": "water_heater",
    "lat": 34.21,
    "lon": 108.95,
}


def order_body(**overrides) -> dict:
    return {**VALID_ORDER, **overrides}


def create_order(client, headers, **overrides) -> dict:
    response = client.post("/api/orders", json=order_body(**overrides), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def act(client, headers, order: dict, action: str, **extra):
    body = {"action": action, "version": order["version"], **extra}
    return client.post(f"/api/orders/{order['id']}/transitions", json=body, headers=headers)


def database_gone(*_args, **_kwargs):
    """Raise what SQLAlchemy raises when PostgreSQL is shut down under a connection (a restart)."""
    from sqlalchemy.exc import OperationalError

    raise OperationalError("SELECT", {}, Exception("terminating connection due to administrator command"))
