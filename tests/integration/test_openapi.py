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
        if not rule.rule.startswith("/api/") or rule.endpoint.startswith("openapi."):
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
