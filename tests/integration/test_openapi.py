"""The OpenAPI document covers every API route and is a valid OpenAPI 3 document."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate


@pytest.fixture
def spec(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_api_route_is_documented_with_its_methods(app, spec):
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint in ("openapi.spec", "pages.api_docs"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if (_openapi_path(rule.rule), method) not in documented:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_every_documented_operation_exists_in_the_app(app, spec):
    routes = {(_openapi_path(r.rule), m) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    for path, ops in spec["paths"].items():
        for method in ops:
            assert (path, method.upper()) in routes, f"{method} {path}"


def test_write_operations_document_their_request_body(spec):
    create = spec["paths"]["/api/orders"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = schema_ref.rsplit("/", 1)[-1]
    props = spec["components"]["schemas"][name]["properties"]
    assert {"name", "phone", "address", "product_category", "lat", "lon", "priority"} <= set(props)


def _walk(node):
    """Every dict in the document, depth first."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _types(schema: dict) -> set[str]:
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind}


def test_every_integer_in_the_document_states_bounds_the_database_can_store(spec):
    unbounded = [
        schema
        for schema in _walk(spec)
        if "integer" in _types(schema)
        and not (schema.get("minimum", -(2**63)) >= -(2**31) and schema.get("maximum", 2**63) <= 2**31 - 1)
    ]
    assert unbounded == []


def test_every_request_body_is_required_and_every_status_the_app_answers_is_documented(spec):
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            expected = {"400", "503"} | ({"401", "403"} if operation.get("security") else set())
            if "{" in path:
                expected.add("404")
            if "requestBody" in operation:
                expected.add("413")
                if operation["requestBody"].get("required") is not True:
                    missing.append(f"{method.upper()} {path}: body not required")
            missing += [f"{method.upper()} {path}: {code}" for code in sorted(expected - statuses)]
    assert missing == []


def test_phone_time_and_date_time_fields_state_their_formats(spec):
    schemas = spec["components"]["schemas"]
    phone = schemas["OrderIn"]["properties"]["phone"]
    assert re.search(phone["pattern"], "13800138000") and not re.search(phone["pattern"], "12345")
    opens = schemas["OutletIn"]["properties"]["opens_at"]
    assert re.search(opens["pattern"], "08:30") and not re.search(opens["pattern"], "0830")
    assert schemas["OrderIn"]["properties"]["appointment_start"]["format"] == "date-time"


@pytest.fixture
def dispatcher(network, auth):
    return auth.token("dispatcher")


@pytest.mark.parametrize(
    "field, value",
    [("in_warranty", 1), ("in_warranty", "yes"), ("lat", "34.3"), ("priority", 1)],
)
def test_the_api_refuses_values_of_the_wrong_json_type(client, dispatcher, db_session, field, value):
    from dispatch.models import WorkOrder
    from tests.integration.helpers import order_body

    response = client.post("/api/orders", json=order_body(**{field: value}), headers=dispatcher)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["detail"]["json"]
    assert db_session.query(WorkOrder).count() == 0


@pytest.mark.parametrize("version", [1.5, "1", True, 2**31])
def test_a_version_must_be_a_json_integer_within_32_bits(client, dispatcher, version):
    from tests.integration.helpers import create_order

    order = create_order(client, dispatcher)
    response = client.post(
        f"/api/orders/{order['id']}/priority", json={"priority": "vip", "version": version}, headers=dispatcher
    )
    assert response.status_code == 400, response.get_json()
    assert "version" in response.get_json()["detail"]["json"]


def test_an_operation_with_a_documented_body_refuses_a_request_without_one(client, auth, network):
    admin = auth.token("admin")
    response = client.patch(f"/api/outlets/{network.north.id}", headers=admin)
    assert response.status_code == 400, response.get_json()
    assert "body" in response.get_json()["detail"]["json"]
